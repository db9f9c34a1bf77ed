//! `kizuna-bench score` and `kizuna-bench calibrate`: scoring many accounts with a 20-measure
//! scorecard, and fitting the calibration model on a large observation table.

use chrono::NaiveDate;
use kizuna_app::health;
use kizuna_domain::health::Scorecards;
use kizuna_domain::usage::metrics::Definitions;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::process::ExitCode;
use std::time::Instant;

/// 15 usage metrics: with the 5 built-in inputs, a 20-measure scorecard.
const METRICS: &str = r#"
[[metric]]
name = "logins_7d"
kind = "count"
event = "login"
days = 7
[[metric]]
name = "logins_28d"
kind = "count"
event = "login"
days = 28
[[metric]]
name = "logins_90d"
kind = "count"
event = "login"
days = 90
[[metric]]
name = "reports_7d"
kind = "count"
event = "report_created"
days = 7
[[metric]]
name = "reports_28d"
kind = "count"
event = "report_created"
days = 28
[[metric]]
name = "reports_90d"
kind = "count"
event = "report_created"
days = 90
[[metric]]
name = "exports_28d"
kind = "count"
event = "export"
days = 28
[[metric]]
name = "exports_90d"
kind = "count"
event = "export"
days = 90
[[metric]]
name = "users_7d"
kind = "active_users"
days = 7
[[metric]]
name = "users_28d"
kind = "active_users"
days = 28
[[metric]]
name = "active_days_28d"
kind = "active_days"
days = 28
[[metric]]
name = "days_since_login"
kind = "days_since"
event = "login"
[[metric]]
name = "days_since_report"
kind = "days_since"
event = "report_created"
[[metric]]
name = "reports_per_user"
kind = "ratio"
numerator = "reports_28d"
denominator = "users_28d"
[[metric]]
name = "logins_change"
kind = "change"
of = "logins_28d"
"#;

fn scorecards(defs: &Definitions) -> Scorecards {
    let mut text = String::from("[bands]\nred_below = 50\ngreen_from = 75\n[grades]\na = 80\nb = 65\nc = 50\nd = 35\n[onboarding]\nevent = \"setup_step\"\nsteps = 5\nwithin_days = 120\n[[scorecard]]\nname = \"default\"\n[[scorecard.group]]\nname = \"usage\"\nweight = 70\n");
    for m in &defs.metrics {
        let lower = m.name.starts_with("days_since");
        text.push_str(&format!(
            "[[scorecard.group.measure]]\ninput = \"usage.{}\"\nweight = 1\ndirection = \"{}\"\nrange = [0, 20]\n",
            m.name,
            if lower { "lower" } else { "higher" }
        ));
    }
    text.push_str("[[scorecard.group]]\nname = \"other\"\nweight = 30\n");
    for (input, dir) in [("onboarding", "higher"), ("support_tickets_90d", "lower"), ("days_since_csm_touch", "lower"), ("days_to_renewal", "higher"), ("mrr_change_90d", "higher")] {
        text.push_str(&format!("[[scorecard.group.measure]]\ninput = \"{input}\"\nweight = 1\ndirection = \"{dir}\"\nrange = [0, 90]\n"));
    }
    Scorecards::parse(&text).expect("the bench scorecard parses")
}

/// Loads the accounts and events of `kizuna-bench usage-metrics` (unless `no_load`), saves 15 usage
/// metrics and a 20-measure scorecard, then times gathering the inputs, scoring (pure) and a
/// whole `score run` (gather, score, keep).
pub async fn score(db: &str, accounts: u64, per_account: u64, no_load: bool, repeat: usize) -> anyhow::Result<ExitCode> {
    if !no_load {
        crate::usage::usage_metrics(db, accounts, per_account, false, 1).await?;
    }
    let store = crate::open(db).await?;
    let defs = Definitions::parse(METRICS)?;
    let cards = scorecards(&defs);
    let mut tx = store.begin().await?;
    tx.save_setting(kizuna_app::usage::SETTING, METRICS).await?;
    tx.save_setting(health::SETTING, &cards.to_toml()).await?;
    tx.commit().await?;
    let measures: usize = cards.scorecards[0].groups.iter().map(|g| g.measures.len()).sum();
    let at = NaiveDate::from_ymd_opt(2026, 11, 24).expect("valid date");
    let (mut gather, mut scoring, mut whole) = (vec![], vec![], vec![]);
    let mut n = 0;
    for _ in 0..repeat {
        let t = Instant::now();
        let states = health::gather(store.as_ref(), &cards, &defs, at, None).await?;
        gather.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        n = health::score_states(&cards, &states, None).len();
        scoring.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        health::run(store.as_ref(), at).await?;
        whole.push(t.elapsed().as_secs_f64());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    println!(
        "bench score: engine={} accounts={n} measures={measures} scoring_seconds={:.3} gather_inputs_seconds={:.3} score_run_seconds={:.3} (medians of {repeat})",
        store.engine(),
        median(&mut scoring),
        median(&mut gather),
        median(&mut whole)
    );
    Ok(ExitCode::SUCCESS)
}

/// A synthetic observation table of `rows` × `metrics` (half of the metrics fat-tailed counts,
/// half symmetric; churn from a logistic model on a few of them), then times the calibration
/// fit: transforms, 5-fold cross-validation by account and the final fit.
pub fn calibrate(rows: usize, metrics: usize) -> anyhow::Result<ExitCode> {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let names: Vec<String> = (0..metrics).map(|m| format!("m{m}")).collect();
    let mut columns: Vec<Vec<Option<f64>>> = vec![Vec::with_capacity(rows); metrics];
    let mut churned = Vec::with_capacity(rows);
    let mut accounts = Vec::with_capacity(rows);
    for r in 0..rows {
        let mut z = -3.0;
        for (m, col) in columns.iter_mut().enumerate() {
            let v = if m % 2 == 0 { (-(rng.gen::<f64>().max(1e-12)).ln() * 20.0).floor() } else { rng.gen::<f64>() * 2.0 - 1.0 };
            if m < 4 {
                z += if m % 2 == 0 { -0.05 * (v - 20.0) } else { -1.0 * v };
            }
            col.push(if rng.gen_bool(0.01) { None } else { Some(v) });
        }
        churned.push(rng.gen_bool(1.0 / (1.0 + (-z as f64).exp())));
        accounts.push(format!("A{:06}", r % (rows / 5).max(1)));
    }
    let o = health::Observations { metrics: names, accounts, columns, churned };
    let t = Instant::now();
    let (model, oof) = health::fit_observations(&o, 1.0);
    let secs = t.elapsed().as_secs_f64();
    let auc = kizuna_domain::health::backtest::auc(&oof, &o.churned).unwrap_or(f64::NAN);
    println!(
        "bench calibrate: observations={rows} metrics={metrics} seconds={secs:.2} cv_auc={auc:.3} newton_iterations={} churn_rate={:.3}",
        model.fit.iterations,
        o.churned.iter().filter(|c| **c).count() as f64 / rows as f64
    );
    Ok(ExitCode::SUCCESS)
}
