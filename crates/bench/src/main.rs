//! `kizuna-bench`: reproducible performance measurements on generated data, kept out of the
//! product binary. Results and the commands that produce them are in docs/benchmarks.md.
//!
//! Build it with `cargo build --release -p kizuna-bench` (or `--workspace`); a plain
//! `cargo build --release` builds only the product binary, `kizuna`.

mod health;
mod onboarding;
mod subscriptions;
mod usage;

/// The product's allocator (see crates/cli/src/main.rs), so that the benchmarks measure what
/// `kizuna` does: mimalloc for Rust and, through its `override` feature, the bundled SQLite.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "kizuna-bench",
    version,
    about = "Kizuna's performance benchmarks: they generate their own data (see docs/benchmarks.md)"
)]
struct Cli {
    /// Database URL: sqlite://PATH (created if missing) or postgres://USER@HOST:PORT/DB.
    #[arg(long, global = true, env = "KIZUNA_DATABASE_URL", default_value = kizuna_store::DEFAULT_DATABASE_URL)]
    database: String,

    /// The business time zone (IANA name): it decides "today", the day a usage event counts
    /// in, report day boundaries and the times shown. Changing it re-files stored usage by day.
    #[arg(long, global = true, env = "KIZUNA_TIME_ZONE", default_value = "Asia/Tokyo", value_parser = parse_zone)]
    time_zone: chrono_tz::Tz,

    #[command(subcommand)]
    command: Bench,
}

#[derive(Subcommand)]
enum Bench {
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
        #[arg(long, value_enum, default_value_t = usage::MessageIds::Uuid)]
        message_ids: usage::MessageIds,
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
    /// ACCOUNTS accounts, each with a running 20-task onboarding plan, and EVENTS usage events
    /// per account on one day: time the day's onboarding run and the KPI report over two years.
    Onboarding {
        #[arg(long, default_value_t = 100_000)]
        accounts: u64,
        #[arg(long, default_value_t = 5)]
        events: u64,
        #[arg(long)]
        no_load: bool,
        /// Write the data and stop (copy the file to time runs on the same data).
        #[arg(long)]
        load_only: bool,
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

fn parse_zone(s: &str) -> Result<chrono_tz::Tz, String> {
    kizuna_domain::time::parse_zone(s).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    kizuna_domain::time::set_zone(cli.time_zone);
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(run(&cli.database, cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", kizuna_store::error_text(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn run(db: &str, bench: Bench) -> anyhow::Result<ExitCode> {
    match bench {
        Bench::Import { rows, csv } => subscriptions::import(db, rows, csv).await,
        Bench::Metrics { accounts, months, no_load, repeat } => subscriptions::metrics(db, accounts, months, no_load, repeat).await,
        Bench::Score { accounts, per_account, no_load, repeat } => health::score(db, accounts, per_account, no_load, repeat).await,
        Bench::Calibrate { rows, metrics } => health::calibrate(rows, metrics),
        Bench::ImportEvents { events } => usage::import_events(db, events).await,
        Bench::Ingest { seconds, connections, batch, message_ids, gzip } => usage::ingest(db, seconds, connections, batch, message_ids, gzip).await,
        Bench::Onboarding { accounts, events, no_load, load_only } => onboarding::onboarding(db, accounts, events, no_load, load_only).await,
        Bench::UsageMetrics { accounts, per_account, no_load, repeat } => usage::usage_metrics(db, accounts, per_account, no_load, repeat).await,
    }
}

/// Open (and migrate) the database, naming it in any error (as `kizuna` does).
async fn open(url: &str) -> anyhow::Result<Arc<dyn kizuna_store::Store>> {
    Ok(kizuna_store::open_named(url).await?)
}

/// [`open`] with the database to itself, as `kizuna import` opens it ([`kizuna_store::open_alone`]).
async fn open_alone(url: &str) -> anyhow::Result<Arc<dyn kizuna_store::Store>> {
    Ok(kizuna_store::open_alone_named(url).await?)
}

/// Peak resident memory of this process (Linux), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::{CommandFactory, Parser};

    /// Every benchmark keeps its subcommand and the global options it had under `kizuna bench`.
    #[test]
    fn every_benchmark_has_help_and_the_global_options() {
        Cli::command().debug_assert();
        for c in [&[][..], &["import"], &["metrics"], &["ingest"], &["import-events"], &["score"], &["calibrate"], &["usage-metrics"], &["onboarding"]] {
            let mut args = vec!["kizuna-bench"];
            args.extend_from_slice(c);
            args.push("--help");
            let help = match Cli::try_parse_from(&args) {
                Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => e.to_string(),
                _ => panic!("{c:?} --help shows the help"),
            };
            assert!(help.contains("Usage: kizuna-bench"), "{c:?}: {help}");
            assert!(help.contains("--database") && help.contains("--time-zone"), "{c:?} lists the global options: {help}");
        }
        let cli = Cli::try_parse_from(["kizuna-bench", "--database", "sqlite:///tmp/x.db", "--time-zone", "UTC", "import", "--rows", "10"]).unwrap();
        assert_eq!((cli.database.as_str(), cli.time_zone), ("sqlite:///tmp/x.db", chrono_tz::UTC));
        assert!(matches!(cli.command, super::Bench::Import { rows: 10, csv: None }));
    }
}
