//! `kizuna metrics ...`: the same reports and JSON as `GET /api/v1/metrics/...`. Each subcommand
//! turns its flags into the report's request (`kizuna_app::requests`), which the API reads from
//! the query string; the app checks both the same way.

use kizuna_app::requests::{ArrRequest, CohortRequest, LtvRequest, MonthRangeRequest, RangeRequest};
use kizuna_app::{render, Format, Lookup, Report, AppError};
use kizuna_domain::usage::metrics::Definitions;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Output {
    /// Output format.
    #[arg(long, default_value = "json", value_parser = ["json", "csv", "table"])]
    format: String,
}

#[derive(clap::Args)]
pub struct Breakdown {
    /// Break down by segment, touch_model, product, partner or owner (adds a "group" key;
    /// the whole company comes first as group "all").
    #[arg(long)]
    by: Option<String>,
}

#[derive(clap::Args)]
pub struct DateRange {
    /// First day of the range (YYYY-MM-DD).
    #[arg(long)]
    from: String,
    /// Last day of the range (YYYY-MM-DD).
    #[arg(long)]
    to: String,
}

#[derive(clap::Args)]
pub struct At {
    /// Observation date (YYYY-MM-DD); default today.
    #[arg(long)]
    at: Option<String>,
}

#[derive(clap::Subcommand)]
pub enum Metric {
    /// Logo and MRR retention over a date range: churn rates, NRR, GRR, monthly and annual rates.
    Retention {
        #[command(flatten)]
        range: DateRange,
        #[command(flatten)]
        by: Breakdown,
        #[command(flatten)]
        at: At,
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
        #[command(flatten)]
        by: Breakdown,
        #[command(flatten)]
        at: At,
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
        #[command(flatten)]
        at: At,
        #[command(flatten)]
        output: Output,
    },
    /// Retention projection and LTV with the shifted-beta-geometric model (Fader & Hardie 2007).
    Ltv {
        /// Period of the model: month, quarter or year.
        #[arg(long, default_value = "month")]
        period: String,
        /// Annual discount rate (converted to the period).
        #[arg(long, default_value = "0.1")]
        discount_rate: String,
        /// Gross margin applied to revenue per period.
        #[arg(long, default_value = "1.0")]
        margin: String,
        /// Renewals already made by the customer whose residual lifetime (DERL) is reported.
        #[arg(long, default_value = "1")]
        renewals: String,
        #[command(flatten)]
        by: Breakdown,
        #[command(flatten)]
        at: At,
        #[command(flatten)]
        output: Output,
    },
    /// ARR, active accounts and ARPA at a date, by segment (or another breakdown).
    Arr {
        #[command(flatten)]
        at: At,
        #[command(flatten)]
        by: Breakdown,
        #[command(flatten)]
        output: Output,
    },
    /// Every usage metric for every account paying on --at (or one --account): the observation
    /// table. Definitions: --definitions FILE, else the saved ones, else the defaults
    /// (`kizuna metrics usage-definitions` prints them).
    Usage {
        /// Observation date (YYYY-MM-DD); default today.
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        account: Option<String>,
        /// A TOML file of metric definitions, for this run only.
        #[arg(long)]
        definitions: Option<std::path::PathBuf>,
        #[command(flatten)]
        output: Output,
    },
    /// Print the usage metric definitions in force (TOML); with --save FILE, check and save new ones.
    UsageDefinitions {
        #[arg(long)]
        save: Option<std::path::PathBuf>,
    },
    /// Churned accounts and MRR lost, avoidable vs unavoidable and per reason, by segment
    /// (or touch_model, partner, owner).
    Churn {
        #[command(flatten)]
        range: DateRange,
        #[command(flatten)]
        by: Breakdown,
        #[command(flatten)]
        at: At,
        #[command(flatten)]
        output: Output,
    },
}

impl Metric {
    /// The report, its request straight from the flags, and the output format.
    fn into_parts(self) -> (Report, Box<dyn Lookup>, Output) {
        match self {
            Metric::Retention { range, by, at, output } => {
                (Report::Retention, Box::new(RangeRequest { from: Some(range.from), to: Some(range.to), by: by.by, at: at.at, ..Default::default() }), output)
            }
            Metric::Mrr { from, to, by, at, output } => {
                (Report::Mrr, Box::new(MonthRangeRequest { from: Some(from), to: Some(to), by: by.by, at: at.at, ..Default::default() }), output)
            }
            Metric::Cohorts { period, measure, at, output } => {
                (Report::Cohorts, Box::new(CohortRequest { period: Some(period), measure: Some(measure), at: at.at, format: None }), output)
            }
            Metric::Ltv { period, discount_rate, margin, renewals, by, at, output } => (
                Report::Ltv,
                Box::new(LtvRequest {
                    period: Some(period),
                    discount_rate: Some(discount_rate),
                    margin: Some(margin),
                    renewals: Some(renewals),
                    by: by.by,
                    at: at.at,
                    format: None,
                }),
                output,
            ),
            Metric::Arr { at, by, output } => (Report::Arr, Box::new(ArrRequest { by: by.by, at: at.at, format: None }), output),
            Metric::Churn { range, by, at, output } => {
                (Report::Churn, Box::new(RangeRequest { from: Some(range.from), to: Some(range.to), by: by.by, at: at.at, ..Default::default() }), output)
            }
            Metric::Usage { .. } | Metric::UsageDefinitions { .. } => unreachable!("handled by run"),
        }
    }
}

/// `--at`, or today.
pub fn at_or_today(at: Option<String>) -> anyhow::Result<chrono::NaiveDate> {
    match at {
        None => Ok(kizuna_app::today()),
        Some(v) => kizuna_domain::fields::parse_date("at", &v).map_err(|e| anyhow::anyhow!("--{e}")),
    }
}

/// Definitions from a file, else saved, else the defaults.
pub async fn usage_definitions(store: &dyn kizuna_store::Store, file: Option<std::path::PathBuf>) -> anyhow::Result<Definitions> {
    match file {
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Definitions::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
        }
        None => Ok(kizuna_app::usage::definitions(store).await?),
    }
}

pub async fn run(db: &str, metric: Metric) -> anyhow::Result<ExitCode> {
    match metric {
        Metric::Usage { at, account, definitions, output } => {
            let store = super::open(db).await?;
            let operator = kizuna_app::Actor::operator();
            let at = at_or_today(at)?;
            let v = match definitions {
                // Definitions tried from a file, not saved: the use case reads the saved ones.
                Some(file) => {
                    let defs = usage_definitions(store.as_ref(), Some(file)).await?;
                    kizuna_app::usage::usage_metrics(store.as_ref(), &defs, at, account.as_deref()).await?
                }
                None => kizuna_app::App::new(store.as_ref(), &operator).usage_metrics(at, account.as_deref()).await?,
            };
            super::emit(&render(&v, Format::parse(&output.format).expect("clap checked the format")))?;
            return Ok(ExitCode::SUCCESS);
        }
        Metric::UsageDefinitions { save } => {
            let store = super::open(db).await?;
            let operator = kizuna_app::Actor::operator();
            let app = kizuna_app::App::new(store.as_ref(), &operator);
            if let Some(path) = save {
                let text = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                app.save_usage_definitions(&text).await.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                eprintln!("saved the usage metric definitions from {}", path.display());
            } else {
                print!("{}", app.usage_definitions_text().await?);
            }
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let (report, request, output) = metric.into_parts();
    let store = super::open(db).await?;
    let operator = kizuna_app::Actor::operator();
    match kizuna_app::App::new(store.as_ref(), &operator).report(report, request.as_ref()).await {
        Ok(v) => {
            let format = Format::parse(&output.format).expect("clap checked the format");
            super::emit(&render(&v, format))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(AppError::Param(e)) => {
            eprintln!("error: --{} {:?} {}", e.name.replace('_', "-"), e.value, e.problem);
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}
