//! `kizuna metrics ...`: the same reports and JSON as `GET /api/v1/metrics/...`.

use kizuna_analytics::{render, Format, Params, Report, ReportError};
use std::collections::HashMap;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Output {
    /// Output format.
    #[arg(long, default_value = "json", value_parser = ["json", "csv", "table"])]
    format: String,
}

#[derive(clap::Subcommand)]
pub enum Metric {
    /// Logo and MRR retention over a date range: churn rates, NRR, GRR, monthly and annual rates.
    Retention {
        /// First day of the range (YYYY-MM-DD).
        #[arg(long)]
        from: String,
        /// Last day of the range (YYYY-MM-DD).
        #[arg(long)]
        to: String,
        /// Break down by segment, touch_model, product, partner or owner (adds a "group" key).
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Monthly MRR movements (new, expansion, contraction, churn, reactivation) and quick ratio.
    Mrr {
        /// First month (YYYY-MM).
        #[arg(long)]
        from: String,
        /// Last month (YYYY-MM).
        #[arg(long)]
        to: String,
        /// Break down by segment, touch_model, product, partner or owner.
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Retention triangle by start period (the period of each account's first MRR).
    Cohorts {
        /// Cohort period: month, quarter or year.
        #[arg(long, default_value = "month")]
        period: String,
        /// What to count: logos (accounts) or mrr.
        #[arg(long, default_value = "logos")]
        measure: String,
        /// Measure up to this date (YYYY-MM-DD); default today.
        #[arg(long)]
        at: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Retention projection and LTV with the shifted-beta-geometric model (Fader & Hardie 2007).
    Ltv {
        /// Period of the model: month, quarter or year.
        #[arg(long, default_value = "month")]
        period: String,
        /// Break down by segment, touch_model, product, partner or owner.
        #[arg(long)]
        by: Option<String>,
        /// Annual discount rate (converted to the period).
        #[arg(long, default_value = "0.1")]
        discount_rate: String,
        /// Gross margin applied to revenue per period.
        #[arg(long, default_value = "1.0")]
        margin: String,
        /// Renewals already made by the customer whose residual lifetime (DERL) is reported.
        #[arg(long, default_value = "1")]
        renewals: String,
        /// Observation date (YYYY-MM-DD); default today.
        #[arg(long)]
        at: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// ARR, active accounts and ARPA at a date, by segment (or another breakdown).
    Arr {
        /// Date (YYYY-MM-DD); default today.
        #[arg(long)]
        at: Option<String>,
        /// Breakdown (default segment).
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Churned accounts and MRR lost, avoidable vs unavoidable and per reason, by segment.
    Churn {
        /// First day (YYYY-MM-DD).
        #[arg(long)]
        from: String,
        /// Last day (YYYY-MM-DD).
        #[arg(long)]
        to: String,
        /// Breakdown: segment (default), touch_model, partner or owner.
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        output: Output,
    },
}

pub async fn run(db: &str, metric: Metric) -> anyhow::Result<ExitCode> {
    let mut p: HashMap<String, String> = HashMap::new();
    let mut set = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            p.insert(k.to_string(), v);
        }
    };
    let (report, output) = match metric {
        Metric::Retention { from, to, by, output } => {
            set("from", Some(from));
            set("to", Some(to));
            set("by", by);
            (Report::Retention, output)
        }
        Metric::Mrr { from, to, by, output } => {
            set("from", Some(from));
            set("to", Some(to));
            set("by", by);
            (Report::Mrr, output)
        }
        Metric::Cohorts { period, measure, at, output } => {
            set("period", Some(period));
            set("measure", Some(measure));
            set("at", at);
            (Report::Cohorts, output)
        }
        Metric::Ltv { period, by, discount_rate, margin, renewals, at, output } => {
            set("period", Some(period));
            set("by", by);
            set("discount_rate", Some(discount_rate));
            set("margin", Some(margin));
            set("renewals", Some(renewals));
            set("at", at);
            (Report::Ltv, output)
        }
        Metric::Arr { at, by, output } => {
            set("at", at);
            set("by", by);
            (Report::Arr, output)
        }
        Metric::Churn { from, to, by, output } => {
            set("from", Some(from));
            set("to", Some(to));
            set("by", by);
            (Report::Churn, output)
        }
    };
    let store = super::open(db).await?;
    match report.run(store.as_ref(), &Params(&p)).await {
        Ok(v) => {
            let format = Format::parse(&output.format).expect("clap checked the format");
            print!("{}", render(&v, format));
            Ok(ExitCode::SUCCESS)
        }
        Err(ReportError::Param(e)) => {
            eprintln!("error: --{} {:?} {}", e.name.replace('_', "-"), e.value, e.problem);
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}
