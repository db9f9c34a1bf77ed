use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Bench {}

pub async fn run(_db: &str, bench: Bench) -> anyhow::Result<ExitCode> {
    match bench {}
}
