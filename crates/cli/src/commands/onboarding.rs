//! `kizuna onboarding ...`: the onboarding templates (print, or save from a file), the plans,
//! the completion-rate report, the churn comparison of on-time and late onboarding, and the
//! day's run (start plans, complete tasks from data). The same use cases as the API and the
//! pages, as the operator (`cli`).

use kizuna_app::{render, Actor, App, Format};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Onboarding {
    /// Print the templates (JSON), or save them from FILE after checking them.
    Templates {
        #[arg(long)]
        save: Option<PathBuf>,
        /// With --save: move running plans to their template's new version.
        #[arg(long)]
        reapply: bool,
    },
    /// Plans, newest first: plan_id, account_id, template_id, product, status, started_on,
    /// due_on, completed_on, first_value_at, tasks done of all.
    Plans {
        #[arg(long)]
        account: Option<String>,
        /// on_track, behind, stuck, completed, cancelled, running or all.
        #[arg(long, default_value = "all", value_parser = ["on_track", "behind", "stuck", "completed", "cancelled", "running", "all"])]
        status: String,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: u32,
        #[arg(long, default_value = "table", value_parser = ["json", "csv", "table"])]
        format: String,
    },
    /// The onboarding KPIs over [--from, --to]: plans started, completed, completed on time,
    /// completion_rate_in_period, median days to complete and to first value, stuck; by group.
    Report {
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        #[arg(long, value_parser = ["product", "segment", "touch_model", "owner", "partner", "cohort"])]
        by: Option<String>,
        /// The as-of day (default today): nothing after it is counted.
        #[arg(long)]
        at: Option<String>,
        #[arg(long, default_value = "table", value_parser = ["json", "csv", "table"])]
        format: String,
    },
    /// Churn within --horizon after the due day of plans completed on time and of the others,
    /// overall and by segment, with 95% intervals.
    Impact {
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        /// Days, as `180d` or `180`.
        #[arg(long, default_value = "180d")]
        horizon: String,
        #[arg(long)]
        at: Option<String>,
        #[arg(long, default_value = "table", value_parser = ["json", "csv", "table"])]
        format: String,
    },
    /// Run the onboarding day now (the daily job does it): start plans for new subscriptions,
    /// complete tasks from data, refresh statuses, move completed accounts on.
    Run {
        #[arg(long)]
        at: Option<String>,
        #[arg(long, default_value = "table", value_parser = ["json", "csv", "table"])]
        format: String,
    },
}

fn query(pairs: &[(&str, Option<String>)]) -> HashMap<String, String> {
    pairs.iter().filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v))).collect()
}

pub async fn run(db: &str, cmd: Onboarding) -> anyhow::Result<ExitCode> {
    let store = super::open(db).await?;
    let operator = Actor::operator();
    let app = App::new(store.as_ref(), &operator);
    match cmd {
        Onboarding::Templates { save: None, .. } => super::emit(&(serde_json::to_string_pretty(&app.onboarding_templates().await?)? + "\n"))?,
        Onboarding::Templates { save: Some(file), reapply } => {
            let text = std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
            let parsed = serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: not the templates JSON expected: {e}", file.display()))?;
            let saved = app.save_onboarding_templates(parsed, reapply).await.map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            eprintln!("saved {} template(s) from {}; {} running plan(s) moved to the new version", saved.templates.templates.len(), file.display(), saved.plans_updated);
        }
        Onboarding::Plans { account, status, owner, limit, format } => {
            let q = query(&[("account", account), ("status", Some(status)), ("owner", owner), ("per_page", Some(limit.to_string()))]);
            let list = app.onboarding_plans(&q).await?;
            let format = Format::parse(&format).expect("clap checked the format");
            if format == Format::Json {
                super::emit(&render(&list.plans, format))?;
            } else {
                let rows: Vec<serde_json::Value> = list.plans.iter().map(kizuna_app::onboarding::plan_row).collect();
                super::emit(&render(&rows, format))?;
            }
        }
        Onboarding::Report { from, to, by, at, format } => {
            let r = app.onboarding_report(&query(&[("from", from), ("to", to), ("by", by), ("at", at)])).await?;
            let format = Format::parse(&format).expect("clap checked the format");
            if format == Format::Json {
                super::emit(&render(&r, format))?;
            } else {
                super::emit(&render(&kizuna_app::onboarding::report_rows(&r), format))?;
                if format == Format::Table && !r.cohorts.is_empty() {
                    super::emit(&format!("\ncohorts (start month), counted up to {}:\n", r.to))?;
                    super::emit(&render(&r.cohorts, format))?;
                }
            }
        }
        Onboarding::Impact { from, to, horizon, at, format } => {
            let i = app.onboarding_impact(&query(&[("from", from), ("to", to), ("horizon", Some(horizon)), ("at", at)])).await?;
            let format = Format::parse(&format).expect("clap checked the format");
            if format == Format::Json {
                super::emit(&render(&i, format))?;
            } else {
                super::emit(&render(&kizuna_app::onboarding::impact_rows(&i), format))?;
                if format == Format::Table {
                    super::emit(&format!("\n{}\n({} plan(s) due too recently to know were left out)\n", kizuna_app::onboarding::verdict_text(i.all.verdict, "en"), i.not_yet_observed))?;
                }
            }
        }
        Onboarding::Run { at, format } => {
            let at = match at {
                Some(d) => kizuna_app::Params(&HashMap::from([("at".to_string(), d)])).date("at")?.expect("given"),
                None => kizuna_app::today(),
            };
            let v = app.run_onboarding(at).await?;
            let format = Format::parse(&format).expect("clap checked the format");
            super::emit(&render(&v, format))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
