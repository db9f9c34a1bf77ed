//! `kizuna migrate --to postgres://...`: copy this SQLite database into an empty PostgreSQL
//! database (every table: accounts, revenue, users, keys, sessions, scores, usage, audit), then
//! check both sides hold the same rows and give the same revenue figures before saying so.

use anyhow::{bail, Context};
use kizuna_app::{Params, Report};
use kizuna_store::redact_url;
use std::collections::HashMap;
use std::process::ExitCode;

pub async fn run(db: &str, to: &str) -> anyhow::Result<ExitCode> {
    if !db.starts_with("sqlite:") {
        bail!("--database {} is not SQLite: migrate copies a SQLite database into PostgreSQL", redact_url(db));
    }
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        bail!("--to {} is not a PostgreSQL URL (postgres://USER@HOST:PORT/DB)", redact_url(to));
    }
    let (from_counts, to_counts) = kizuna_store::migrate::sqlite_to_postgres(db, to)
        .await
        .with_context(|| format!("copying {} into {}", redact_url(db), redact_url(to)))?;
    for (table, n) in &from_counts {
        let copied = to_counts.get(table).copied().unwrap_or(0);
        if copied != *n {
            bail!("table {table}: {n} rows in SQLite but {copied} in PostgreSQL: the copy is not whole; do not switch over");
        }
    }
    let (source, target) = (super::open(db).await?, super::open(to).await?);
    for (name, params) in figures() {
        let report = Report::parse(name).expect("a known report");
        let p: HashMap<String, String> = params.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let (a, b) = (report.run(source.as_ref(), &Params(&p)).await?, report.run(target.as_ref(), &Params(&p)).await?);
        // Compared as JSON text, as a client would read them.
        if serde_json::to_string(&a)? != serde_json::to_string(&b)? {
            bail!("the {name} figures differ between SQLite and PostgreSQL ({p:?}): do not switch over");
        }
    }
    let rows: u64 = to_counts.values().sum();
    println!("copied {} tables ({rows} rows) from {} into {}; row counts and revenue figures (MRR movements, ARR, retention) match", to_counts.len(), redact_url(db), redact_url(to));
    for (table, n) in &to_counts {
        println!("  {table:<24} {n}");
    }
    println!("switch over by setting KIZUNA_DATABASE_URL (or --database) to the PostgreSQL URL");
    Ok(ExitCode::SUCCESS)
}

/// The revenue reports compared on both sides: ten years of monthly MRR movements, ARR by
/// segment today, and last year's retention.
fn figures() -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    let today = kizuna_app::today();
    let month = |d: chrono::NaiveDate| d.format("%Y-%m").to_string();
    let ten_years_ago = today - chrono::Duration::days(3650);
    let year_ago = today - chrono::Duration::days(365);
    vec![
        ("mrr", vec![("from", month(ten_years_ago)), ("to", month(today))]),
        ("arr", vec![("at", today.to_string()), ("by", "segment".into())]),
        ("retention", vec![("from", year_ago.to_string()), ("to", today.to_string())]),
    ]
}
