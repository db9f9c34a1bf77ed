//! `kizuna bench ...`: reproducible performance measurements on generated data.
//! Results and the commands that produce them are in docs/benchmarks.md.

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

#[derive(clap::Subcommand)]
pub enum Bench {
    /// Generate a subscriptions CSV of about ROWS rows (monthly periods), import it, and report
    /// rows/s and peak memory. Run twice with different --rows to see memory stay flat.
    Import {
        /// Rows to generate.
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        /// Keep the CSV here instead of a temporary file.
        #[arg(long)]
        csv: Option<PathBuf>,
    },
    /// Load ACCOUNTS accounts × MONTHS monthly subscription periods (via the CSV importer), then
    /// time `metrics retention` over several ranges and `metrics mrr` over all months.
    Metrics {
        #[arg(long, default_value_t = 100_000)]
        accounts: u64,
        #[arg(long, default_value_t = 60)]
        months: u32,
        /// Skip loading (the database already holds the generated data).
        #[arg(long)]
        no_load: bool,
        /// Timed repetitions of each query (the median is reported).
        #[arg(long, default_value_t = 5)]
        repeat: usize,
    },
    /// Usage ingestion over HTTP: the server in this process, a load generator posting Segment
    /// batches over CONNECTIONS connections for SECONDS; events/s and batch latency.
    Ingest {
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[arg(long, default_value_t = 32)]
        connections: usize,
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Message ids as Segment's libraries make them (random UUIDs, each stored in a random
        /// place), or a counter per sender (stored next to the sender's previous ones).
        #[arg(long, value_enum, default_value_t = super::bench_usage::MessageIds::Uuid)]
        message_ids: super::bench_usage::MessageIds,
        /// Send each batch gzipped (`Content-Encoding: gzip`), as RudderStack's SDKs do.
        #[arg(long)]
        gzip: bool,
    },
    /// Generate a usage events CSV of EVENTS rows, import it, and time the database's own bulk
    /// loader on the same file (sqlite3 .import / psql \copy) for the ratio.
    ImportEvents {
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
    },
    /// Load the usage-metrics data, then score every account with a 20-measure scorecard:
    /// pure scoring, gathering the inputs, and a whole `score run`.
    Score {
        #[arg(long, default_value_t = 100_000)]
        accounts: u64,
        #[arg(long, default_value_t = 20)]
        per_account: u64,
        #[arg(long)]
        no_load: bool,
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
    /// Fit the calibration model (transforms, 5-fold cross-validation, final fit) on a
    /// synthetic observation table of ROWS × METRICS.
    Calibrate {
        #[arg(long, default_value_t = 500_000)]
        rows: usize,
        #[arg(long, default_value_t = 20)]
        metrics: usize,
    },
    /// Load ACCOUNTS paying accounts with PER_ACCOUNT usage events each, then time computing
    /// every default usage metric for all of them at one date.
    UsageMetrics {
        #[arg(long, default_value_t = 100_000)]
        accounts: u64,
        #[arg(long, default_value_t = 20)]
        per_account: u64,
        #[arg(long)]
        no_load: bool,
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
}

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

/// Peak resident memory of this process (Linux), in MiB.
pub(crate) fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub async fn run(db: &str, bench: Bench) -> anyhow::Result<ExitCode> {
    match bench {
        Bench::Import { rows, csv } => import(db, rows, csv).await,
        Bench::Metrics { accounts, months, no_load, repeat } => metrics(db, accounts, months, no_load, repeat).await,
        Bench::Score { accounts, per_account, no_load, repeat } => super::bench_health::score(db, accounts, per_account, no_load, repeat).await,
        Bench::Calibrate { rows, metrics } => super::bench_health::calibrate(rows, metrics),
        Bench::ImportEvents { events } => super::bench_usage::import_events(db, events).await,
        Bench::Ingest { seconds, connections, batch, message_ids, gzip } => super::bench_usage::ingest(db, seconds, connections, batch, message_ids, gzip).await,
        Bench::UsageMetrics { accounts, per_account, no_load, repeat } => {
            super::bench_usage::usage_metrics(db, accounts, per_account, no_load, repeat).await
        }
    }
}

async fn import(db: &str, rows: u64, csv: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let path = csv.unwrap_or_else(|| dir.path().join("subscriptions.csv"));
    let written = write_subscriptions(&path, rows / 20 + 1, 60, Some(rows))?;
    let size = std::fs::metadata(&path)?.len();
    let rss_before = peak_rss_mib().unwrap_or(0.0);
    let store = super::open_alone(db).await?;
    let started = Instant::now();
    let summary = import_file(store.as_ref(), ImportKind::Subscriptions, &path, &NoProgress).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "bench import: engine={} rows={written} file_mib={:.1} seconds={secs:.2} rows_per_sec={:.0} peak_rss_mib={:.1} (before import {:.1})",
        store.engine(),
        size as f64 / 1048576.0,
        summary.rows as f64 / secs,
        peak_rss_mib().unwrap_or(0.0),
        rss_before
    );
    Ok(ExitCode::SUCCESS)
}

async fn metrics(db: &str, accounts: u64, months: u32, no_load: bool, repeat: usize) -> anyhow::Result<ExitCode> {
    let store = super::open(db).await?;
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
            peak_rss_mib().unwrap_or(0.0)
        );
    }
    Ok(ExitCode::SUCCESS)
}
