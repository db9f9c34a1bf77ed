//! `kizuna alerts usage --at DATE`: accounts whose usage fell far below their own recent history.

use kizuna_app::{render, Format};
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Alerts {
    /// Accounts whose weekly count of an event (each `count` usage metric's event) fell at least
    /// 50% and 3 robust standard deviations below its previous 8 weeks (median and MAD), worst first.
    Usage {
        /// Observation date (YYYY-MM-DD); the last week ends on it. Default today.
        #[arg(long)]
        at: Option<String>,
        /// A TOML file of metric definitions, for this run only.
        #[arg(long)]
        definitions: Option<std::path::PathBuf>,
        /// Output format.
        #[arg(long, default_value = "table", value_parser = ["json", "csv", "table"])]
        format: String,
    },
}

pub async fn run(db: &str, cmd: Alerts) -> anyhow::Result<ExitCode> {
    let Alerts::Usage { at, definitions, format } = cmd;
    let store = super::open(db).await?;
    let defs = super::metrics::usage_definitions(store.as_ref(), definitions).await?;
    let v = kizuna_app::usage::usage_alerts(store.as_ref(), &defs, super::metrics::at_or_today(at)?).await?;
    super::emit(&render(&v, Format::parse(&format).expect("clap checked the format")))?;
    Ok(ExitCode::SUCCESS)
}
