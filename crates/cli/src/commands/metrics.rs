use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Metric {}

pub async fn run(_db: &str, metric: Metric) -> anyhow::Result<ExitCode> {
    match metric {}
}
