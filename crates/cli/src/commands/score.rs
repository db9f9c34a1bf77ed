//! `kizuna score ...`: health scores (run, explain, backtest, calibrate, forecast) and the
//! scorecards they use.

use kizuna_app::health::Explanation;
use kizuna_app::requests::{BacktestRequest, CalibrateRequest};
use kizuna_app::{render_rows, Format, AppError};
use std::process::ExitCode;

#[derive(clap::Args, Clone)]
pub struct Replay {
    /// First observation date (YYYY-MM-DD).
    #[arg(long)]
    from: String,
    /// Last observation date (YYYY-MM-DD).
    #[arg(long)]
    to: String,
    /// Days between observation dates: 7d, 2w, 14.
    #[arg(long, default_value = "7d")]
    every: String,
    /// An observation is labelled churned when the account churns within this many days after it.
    #[arg(long, default_value = "28d")]
    horizon: String,
}

#[derive(clap::Args, Clone)]
pub struct Model {
    #[command(flatten)]
    replay: Replay,
    /// Usage metrics to fit on, comma-separated (default: every defined usage metric).
    #[arg(long)]
    metrics: Option<String>,
    /// L2 penalty λ (the objective is Σ log-loss + λ/2 Σ w²; scikit-learn's C = 1/λ).
    #[arg(long, default_value = "1")]
    l2: String,
    /// Give each account's churn probability as of this date (default today).
    #[arg(long)]
    at: Option<String>,
}

#[derive(clap::Args, Clone)]
pub struct Output {
    /// Output format: json (the API's answer), csv (the report's rows) or table.
    #[arg(long, default_value = "json", value_parser = ["json", "csv", "table"])]
    format: String,
}

#[derive(clap::Subcommand)]
pub enum Score {
    /// Score every paying account and keep the scores (the server also does this daily).
    Run {
        /// Scoring date (YYYY-MM-DD), default today.
        #[arg(long)]
        at: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Why an account's score is what it is: each measure's raw value, score, weight and
    /// contribution, the biggest drags and what changed since the previous score.
    Explain {
        account_id: String,
        #[arg(long)]
        at: Option<String>,
        /// Output format (csv: one row per measure).
        #[arg(long, default_value = "table", value_parser = ["json", "csv", "table"])]
        format: String,
    },
    /// Replay a scorecard over history: AUC, top-decile lift and churn rate per band and grade
    /// (JSON).
    Backtest {
        /// Scorecard name (default: "default").
        #[arg(long, default_value = "default")]
        scorecard: String,
        #[command(flatten)]
        replay: Replay,
        #[command(flatten)]
        output: Output,
    },
    /// Fit an L2-regularised logistic regression on usage metrics: cross-validated AUC and lift,
    /// coefficients, a proposed scorecard and each account's churn probability (JSON).
    Calibrate {
        #[command(flatten)]
        model: Model,
        /// Save the proposed scorecard under this name.
        #[arg(long)]
        save: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Expected churns within the horizon with a 90% interval, from the calibrated model (JSON).
    Forecast {
        #[command(flatten)]
        model: Model,
        #[command(flatten)]
        output: Output,
    },
    /// Print the scorecards in use (TOML), or save them from a file with --save.
    Scorecards {
        /// A TOML file of scorecards (as printed) to check and save in place of the current ones
        #[arg(long, value_name = "FILE")]
        save: Option<std::path::PathBuf>,
    },
}

/// The backtest request, straight from the flags.
fn backtest_request(r: Replay, scorecard: String) -> BacktestRequest {
    BacktestRequest { from: Some(r.from), to: Some(r.to), every: Some(r.every), horizon: Some(r.horizon), scorecard: Some(scorecard), at: None }
}

/// The calibration (and forecast) request, straight from the flags.
fn calibrate_request(m: Model, save: Option<String>) -> CalibrateRequest {
    let r = m.replay;
    CalibrateRequest {
        from: Some(r.from),
        to: Some(r.to),
        every: Some(r.every),
        horizon: Some(r.horizon),
        metrics: m.metrics,
        l2: Some(m.l2),
        name: None,
        save,
        at: m.at,
    }
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    super::emit(&format!("{}\n", serde_json::to_string_pretty(v)?))
}

/// Parameter errors name the flag and exit 2, like the other report commands. CSV and table
/// show the report's `rows` array (a table with the summary fields above it).
fn report<T: serde::Serialize>(r: Result<T, AppError>, output: &Output, rows: &str) -> anyhow::Result<ExitCode> {
    match r {
        Ok(v) => {
            super::emit(&render_rows(&v, Format::parse(&output.format).expect("clap checked the format"), rows))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(AppError::Param(e)) => {
            eprintln!("error: --{} {:?} {}", e.name.replace('_', "-"), e.value, e.problem);
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn run(db: &str, cmd: Score) -> anyhow::Result<ExitCode> {
    let store = super::open(db).await?;
    let operator = kizuna_app::Actor::operator();
    let app = kizuna_app::App::new(store.as_ref(), &operator);
    match cmd {
        Score::Run { at, output } => {
            let at = super::metrics::at_or_today(at)?;
            report(app.score(at).await, &output, "")
        }
        Score::Explain { account_id, at, format } => {
            let at = super::metrics::at_or_today(at)?;
            let found = match app.explain(&account_id, at).await {
                Err(AppError::AccountNotFound(_)) => None,
                other => other?,
            };
            let Some(v) = found else {
                eprintln!("error: account {account_id:?} is not a paying account on {at}");
                return Ok(ExitCode::from(2));
            };
            if format == "json" {
                print_json(&v)?;
            } else if format == "csv" {
                super::emit(&kizuna_app::render(&v.explanation.measures, Format::Csv))?;
            } else {
                super::emit(&explain_text(&v))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Score::Backtest { scorecard, replay, output } => {
            report(app.backtest(&backtest_request(replay, scorecard)).await, &output, "dates")
        }
        Score::Calibrate { model, save, output } => {
            report(app.calibrate(&calibrate_request(model, save)).await, &output, "coefficients")
        }
        Score::Forecast { model, output } => report(app.forecast(&calibrate_request(model, None)).await, &output, "riskiest"),
        Score::Scorecards { save } => {
            if let Some(path) = save {
                let text = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                app.save_scorecards(&text).await.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                eprintln!("saved the scorecards from {}", path.display());
            } else {
                print!("{}", app.scorecards_text().await?);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.fract() == 0.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.2}"),
        None => "—".into(),
    }
}

/// A plain-text explanation for the terminal.
fn explain_text(v: &Explanation) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{}  {}  scorecard {}\nscore {}  band {}  grade {}  trend {}\n",
        v.account_id,
        v.at,
        v.scorecard,
        num(v.score),
        v.band.map(|b| b.as_str()).unwrap_or("—"),
        v.grade.map(String::from).unwrap_or_else(|| "—".into()),
        v.trend,
    ));
    if let Some(p) = &v.previous {
        out.push_str(&format!("previous {} on {} (change {})\n", num(p.score), p.at, num(v.score_change)));
    }
    if let Some(note) = &v.note {
        out.push_str(&format!("note: {note}\n"));
    }
    out.push_str(&format!("\n{:<14} {:<32} {:>10} {:>6} {:>7} {:>12}\n", "group", "measure", "raw", "score", "weight", "contribution"));
    for m in &v.explanation.measures {
        out.push_str(&format!(
            "{:<14} {:<32} {:>10} {:>6} {:>6.1}% {:>12}\n",
            m.group,
            m.input,
            num(m.raw),
            num(m.score),
            m.effective_weight * 100.0,
            if m.score.is_none() { "missing".to_string() } else { num(Some(m.contribution)) },
        ));
    }
    let drags: Vec<String> = v.drags.iter().map(|d| format!("{} (−{})", d.input, num(Some(d.points_lost)))).collect();
    if !drags.is_empty() {
        out.push_str(&format!("\nbiggest drags: {}\n", drags.join(", ")));
    }
    let changes: Vec<String> =
        v.changes.iter().take(5).map(|c| format!("{} {} → {} ({:+.2})", c.input, num(c.raw_before), num(c.raw_now), c.delta)).collect();
    if !changes.is_empty() {
        out.push_str(&format!("since last score: {}\n", changes.join("; ")));
    }
    out
}
