//! `kizuna-bench import` and `kizuna-bench metrics`: importing a large generated subscriptions CSV,
//! and the revenue reports over it.

use chrono::{Months, NaiveDate};
use kizuna_app::{Params, Report};
use kizuna_import::{import_file, ImportKind, NoProgress};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// First month of the generated history.
fn origin() -> NaiveDate {
    NaiveDate::from_ymd_opt(2020, 1, 1).expect("valid date")
}

/// Monthly periods for `accounts` accounts over `months` months: each starts in the first
/// quarter, pays a price that sometimes steps up or down, and churns with 0.3% a month (so
/// 100,000 accounts × 60 months give about 5.7 million rows).
fn write_subscriptions(path: &Path, accounts: u64, months: u32, max_rows: Option<u64>) -> anyhow::Result<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(out, "account_id,product,start_date,end_date,mrr,quantity,units,bill_period_months,discount,currency")?;
    let mut rows = 0;
    for a in 0..accounts {
        let first = rng.gen_range(0..3.min(months));
        let mut mrr: u64 = rng.gen_range(10..500) * 1000;
        let product = ["expense", "invoice", "workflow"][(a % 3) as usize];
        for m in first..months {
            if max_rows.is_some_and(|max| rows >= max) {
                return Ok(rows);
            }
            let start = origin() + Months::new(m);
            writeln!(out, "A{a:07},{product},{start},{},{mrr},,,1,,JPY", start + Months::new(1))?;
            rows += 1;
            let roll: f64 = rng.gen();
            if roll < 0.003 {
                break;
            } else if roll < 0.023 {
                mrr = mrr * 11 / 10;
            } else if roll < 0.033 {
                mrr = mrr * 9 / 10;
            }
        }
    }
    out.flush()?;
    Ok(rows)
}

pub async fn import(db: &str, rows: u64, csv: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let path = csv.unwrap_or_else(|| dir.path().join("subscriptions.csv"));
    let written = write_subscriptions(&path, rows / 20 + 1, 60, Some(rows))?;
    let size = std::fs::metadata(&path)?.len();
    let rss_before = crate::peak_rss_mib().unwrap_or(0.0);
    let store = crate::open_alone(db).await?;
    let started = Instant::now();
    let summary = import_file(store.as_ref(), ImportKind::Subscriptions, &path, &NoProgress).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "bench import: engine={} rows={written} file_mib={:.1} seconds={secs:.2} rows_per_sec={:.0} peak_rss_mib={:.1} (before import {:.1})",
        store.engine(),
        size as f64 / 1048576.0,
        summary.rows as f64 / secs,
        crate::peak_rss_mib().unwrap_or(0.0),
        rss_before
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn metrics(db: &str, accounts: u64, months: u32, no_load: bool, repeat: usize) -> anyhow::Result<ExitCode> {
    let store = crate::open(db).await?;
    if !no_load {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("subscriptions.csv");
        let rows = write_subscriptions(&path, accounts, months, None)?;
        let started = Instant::now();
        import_file(store.as_ref(), ImportKind::Subscriptions, &path, &NoProgress).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        println!("loaded {rows} subscription rows in {:.1} s", started.elapsed().as_secs_f64());
    }
    let last = origin() + Months::new(months);
    let end_month = kizuna_domain::metrics::Month::of(last.pred_opt().expect("a day before"));
    let cases: Vec<(&str, Report, Vec<(&str, String)>)> = vec![
        ("retention first year", Report::Retention, vec![("from", origin().to_string()), ("to", (origin() + Months::new(12)).to_string())]),
        ("retention whole range", Report::Retention, vec![("from", origin().to_string()), ("to", last.to_string())]),
        ("retention last quarter by segment", Report::Retention, vec![("from", (last - Months::new(3)).to_string()), ("to", last.to_string()), ("by", "segment".into())]),
        (
            "mrr all months",
            Report::Mrr,
            vec![("from", "2020-01".into()), ("to", end_month.to_string())],
        ),
    ];
    for (name, report, params) in cases {
        let map: HashMap<String, String> = params.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let mut times = vec![];
        for _ in 0..repeat.max(1) {
            let started = Instant::now();
            report.run(store.as_ref(), &Params(&map)).await?;
            times.push(started.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        println!(
            "bench metrics: engine={} accounts={accounts} months={months} query=\"{name}\" median_seconds={:.3} min={:.3} max={:.3} peak_rss_mib={:.0}",
            store.engine(),
            times[times.len() / 2],
            times[0],
            times[times.len() - 1],
            crate::peak_rss_mib().unwrap_or(0.0)
        );
    }
    Ok(ExitCode::SUCCESS)
}
