//! `kizuna jobs ...`: the durable jobs the servers run on their own (daily health scoring, the
//! session sweep, scheduled backups): list each run, or run what is due now.

use kizuna_app::{render, Actor, App, Format};
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Jobs {
    /// Jobs, the latest scheduled first: job_id, kind, scheduled_for, node, attempts, status
    /// (queued, running, done, failed, dead), error, started_at, finished_at.
    List {
        /// Only jobs with this status: queued, running, done, failed or dead.
        #[arg(long, value_parser = ["queued", "running", "done", "failed", "dead"])]
        status: Option<String>,
        /// At most this many (1 to 10000).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
        #[arg(long, default_value = "table", value_parser = ["json", "csv", "table"])]
        format: String,
    },
    /// Queue what the schedules want now and run every due job once, in this process (as node
    /// `cli:PID`), then print each attempt. A server does this every 30 seconds by itself.
    Run,
}

pub async fn run(db: &str, cmd: Jobs) -> anyhow::Result<ExitCode> {
    let store = super::open(db).await?;
    match cmd {
        Jobs::List { status, limit, format } => {
            let operator = Actor::operator();
            let jobs = App::new(store.as_ref(), &operator).jobs(status.as_deref(), limit).await?;
            let format = Format::parse(&format).expect("clap checked the format");
            if format == Format::Json {
                super::emit(&render(&jobs, format))?;
            } else {
                let rows: Vec<serde_json::Value> = jobs.iter().map(row).collect();
                super::emit(&render(&rows, format))?;
            }
        }
        Jobs::Run => {
            let runner = kizuna_app::jobs::Runner { node: format!("cli:{}", std::process::id()), backups: None };
            let attempts = kizuna_app::jobs::run_due(store.as_ref(), &runner, chrono::Utc::now()).await?;
            for a in &attempts {
                let end = match &a.end {
                    kizuna_store::JobEnd::Done => "done".to_string(),
                    kizuna_store::JobEnd::Retry { error, at } => format!("failed (retry at {}): {error}", kizuna_domain::time::local(*at).format("%Y-%m-%d %H:%M:%S")),
                    kizuna_store::JobEnd::Dead { error } => format!("dead: {error}"),
                };
                println!("{}\t{}\t{}\tattempt {}\t{end}", a.job.job_id, a.job.kind, a.job.key, a.job.attempts);
            }
            eprintln!("{} job(s) run", attempts.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A job as a CSV or table row: the payload as JSON text (one cell).
fn row(j: &kizuna_store::JobRecord) -> serde_json::Value {
    let t = |d: Option<chrono::DateTime<chrono::Utc>>| d.map(kizuna_domain::time::rfc3339);
    serde_json::json!({
        "job_id": j.job_id,
        "kind": j.kind,
        "key": j.key,
        "scheduled_for": kizuna_domain::time::rfc3339(j.scheduled_for),
        "node": j.node,
        "attempts": j.attempts,
        "max_attempts": j.max_attempts,
        "status": j.status,
        "error": j.error,
        "started_at": t(j.started_at),
        "finished_at": t(j.finished_at),
        "payload": j.payload.to_string(),
    })
}
