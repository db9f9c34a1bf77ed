//! `kizuna`: the one binary. Each subcommand lives in `commands/`.

mod commands;
mod settings;

/// mimalloc for Rust and, through its `override` feature, for the bundled SQLite too: glibc's
/// allocator kept trimming and regrowing its heaps under ingestion and usage queries (a third
/// of an import's time was in malloc and free).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "kizuna",
    version,
    about = "Kizuna (絆): self-hosted customer success platform",
    long_about = "Kizuna (絆): a self-hosted customer success platform for B2B SaaS.\n\n\
        Everything lives in one database: an embedded SQLite file by default (sqlite://kizuna.db in \
        the working directory), or PostgreSQL (postgres://USER@HOST:PORT/DB). Migrations run \
        automatically when the database is opened."
)]
struct Cli {
    /// A config file (TOML) with any of: database, time_zone, listen, secure_cookies,
    /// backup_dir, backup_every, backup_keep. Flags and environment variables win over it.
    #[arg(long, global = true, env = "KIZUNA_CONFIG")]
    config: Option<std::path::PathBuf>,

    /// Database URL: sqlite://PATH (created if missing) or postgres://USER@HOST:PORT/DB
    /// [default: sqlite://kizuna.db].
    #[arg(long, global = true, env = "KIZUNA_DATABASE_URL")]
    database: Option<String>,

    /// The business time zone (IANA name): it decides "today", the day a usage event counts
    /// in, report day boundaries and the times shown. Changing it re-files stored usage by day
    /// [default: Asia/Tokyo].
    #[arg(long, global = true, env = "KIZUNA_TIME_ZONE", value_parser = parse_zone)]
    time_zone: Option<chrono_tz::Tz>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the HTTP server (web pages and the JSON API under /api/v1).
    Serve(commands::serve::Args),
    /// Import a CSV file (streamed; all-or-nothing; safe to re-run).
    #[command(subcommand)]
    Import(commands::import::Kind),
    /// Write a realistic demo company (Japanese B2B SaaS, ~2,000 accounts over 3 years) into an
    /// empty database; with --serve, then start the server (also when the demo is already there).
    Demo(commands::demo::Args),
    /// Revenue and retention figures (retention, MRR movements, cohorts, LTV, ARR, churn) and
    /// usage metrics.
    #[command(subcommand)]
    Metrics(commands::metrics::Metric),
    /// Health scores: run, explain, backtest, calibrate, forecast; the scorecards.
    #[command(subcommand)]
    Score(commands::score::Score),
    /// Alerts: usage anomalies.
    #[command(subcommand)]
    Alerts(commands::alerts::Alerts),
    /// Planning: team capacity, budget, maturity, from a scenario and live data.
    #[command(subcommand)]
    Plan(commands::plan::Plan),
    /// Staff users who sign in to the web application (roles: admin, cs_ops, manager, csm,
    /// viewer, partner).
    #[command(subcommand)]
    Users(commands::users::Users),
    /// API keys for the REST API (read) and for sending usage events (write).
    #[command(subcommand)]
    Keys(commands::keys::Keys),
    /// Durable jobs: daily health scoring, the session sweep, scheduled backups (each run,
    /// its attempts and status).
    #[command(subcommand)]
    Jobs(commands::jobs::Jobs),
    /// Calls to action: list, open, change and close them; run the daily signals that open
    /// them; read or save the playbooks.
    #[command(subcommand)]
    Ctas(commands::ctas::Ctas),
    /// Onboarding: templates per product, plans, the completion-rate report, what onboarding
    /// does to churn, and the day's run.
    #[command(subcommand)]
    Onboarding(commands::onboarding::Onboarding),
    /// Journey stages: the list (with active accounts per stage), saving an edited list, and
    /// setting an account's stage.
    #[command(subcommand)]
    Journey(commands::journey::Journey),
    /// Print the API document (OpenAPI 3.1, JSON): every /api/v1 and /v1 route, as the server
    /// serves it at /api/v1/openapi.json. Needs no database.
    Openapi,
    /// Back up the database to FILE while the server runs (SQLite: a complete database file;
    /// PostgreSQL: a pg_dump archive). FILE must not exist yet.
    Backup {
        file: std::path::PathBuf,
    },
    /// Restore a backup FILE into the database, which must be empty (a new SQLite file or a
    /// PostgreSQL database without tables); the schema is then brought up to this version.
    Restore {
        file: std::path::PathBuf,
    },
    /// Copy this SQLite database into an empty PostgreSQL database (every table), then check
    /// that row counts and revenue figures match on both before reporting success.
    Migrate {
        /// The PostgreSQL database to copy into: postgres://USER@HOST:PORT/DB (empty).
        #[arg(long)]
        to: String,
    },
}

fn parse_zone(s: &str) -> Result<chrono_tz::Tz, String> {
    kizuna_domain::time::parse_zone(s).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut given = settings::Given {
        config: cli.config.clone(),
        database: cli.database.clone(),
        time_zone: cli.time_zone.map(|z| z.name().to_string()),
        ..Default::default()
    };
    match &cli.command {
        Command::Serve(a) => a.fill(&mut given),
        // `demo --serve` takes the cookie setting from the environment or the config file.
        Command::Demo(_) => given.secure_cookies = std::env::var("KIZUNA_SECURE_COOKIES").ok().and_then(|v| settings::parse_bool(&v).ok()),
        _ => {}
    }
    let settings = match settings::Settings::load(given) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    kizuna_domain::time::set_zone(settings.time_zone);
    let default_level = if matches!(cli.command, Command::Serve(_)) { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default_level.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(run(cli, settings)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", kizuna_store::error_text(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, settings: settings::Settings) -> anyhow::Result<ExitCode> {
    let db = settings.database.clone();
    match cli.command {
        Command::Serve(_) => commands::serve::run(&settings).await,
        Command::Import(kind) => commands::import::run(&db, kind).await,
        Command::Demo(args) => commands::demo::run(&db, args, settings.secure_cookies).await,
        Command::Metrics(metric) => commands::metrics::run(&db, metric).await,
        Command::Plan(plan) => commands::plan::run(&db, plan).await,
        Command::Alerts(c) => commands::alerts::run(&db, c).await,
        Command::Score(c) => commands::score::run(&db, c).await,
        Command::Users(c) => commands::users::run(&db, c).await,
        Command::Keys(c) => commands::keys::run(&db, c).await,
        Command::Jobs(c) => commands::jobs::run(&db, c).await,
        Command::Ctas(c) => commands::ctas::run(&db, c).await,
        Command::Onboarding(c) => commands::onboarding::run(&db, c).await,
        Command::Journey(c) => commands::journey::run(&db, c).await,
        Command::Openapi => {
            println!("{}", kizuna_server::openapi_json());
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { file } => commands::backup::run_backup(&db, &file).await,
        Command::Restore { file } => commands::backup::run_restore(&db, &file).await,
        Command::Migrate { to } => commands::migrate::run(&db, &to).await,
    }
}
