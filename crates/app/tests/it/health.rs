//! Health scores end to end on both engines: inputs as they were on a day, scores and their
//! explanation, history and trend, backtest, calibration and forecast, against hand-computed
//! figures.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use kizuna_app::health::{backtest, calibrate, explain, forecast, run, SETTING};
use kizuna_app::Params;
use kizuna_domain::usage::UsageMessage;
use kizuna_domain::{AccountRow, ActivityKind, ActivityRow, ChurnReason, ChurnRow};
use kizuna_store::both_engines;
use kizuna_store::testing::{date, subscription, usage_event as event, TestDb};
use std::collections::HashMap;

const CARDS: &str = r#"
[bands]
red_below = 50
green_from = 75
[grades]
a = 80
b = 65
c = 50
d = 35
[onboarding]
event = "setup_step"
steps = 5
within_days = 120
[[scorecard]]
name = "default"
[[scorecard.group]]
name = "usage"
weight = 50
[[scorecard.group.measure]]
input = "usage.logins_28d"
weight = 1
direction = "higher"
range = [0, 28]
[[scorecard.group]]
name = "other"
weight = 50
[[scorecard.group.measure]]
input = "onboarding"
weight = 1
direction = "higher"
range = [0, 100]
[[scorecard.group.measure]]
input = "days_since_csm_touch"
weight = 1
direction = "lower"
range = [0, 100]
[[scorecard.group.measure]]
input = "support_tickets_90d"
weight = 1
direction = "lower"
thresholds = [1, 3]
[[scorecard.group.measure]]
input = "days_to_renewal"
weight = 1
direction = "higher"
range = [0, 70]
[[scorecard.group.measure]]
input = "mrr_change_90d"
weight = 1
direction = "higher"
range = [-0.5, 0.5]
[[scorecard.group.measure]]
input = "attribute.nps"
weight = 1
direction = "higher"
range = [-100, 100]
"#;

fn activity(account: &str, id: &str, kind: ActivityKind, day: &str) -> ActivityRow {
    ActivityRow { account_id: account.into(), activity_id: id.into(), kind, occurred_at: Utc.from_utc_datetime(&date(day).and_hms_opt(10, 0, 0).unwrap()), author_email: None, subject: None, body: None, attendees: None, next_steps: None, internal: false }
}

/// A: enterprise, annual contract renewing 2026-12-01, NPS 40, logs in daily since 2026-10-28.
/// B: new on 2026-11-10, 3 of 5 setup steps, 5 logins. C: churns on 2026-12-10, silent.
async fn seed(db: &TestDb) {
    let mut attrs = serde_json::Map::new();
    attrs.insert("nps".into(), 40.into());
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[
        AccountRow { account_id: "A".into(), segment: Some("enterprise".into()), lifecycle_stage: Some("adoption".into()), attributes: attrs, ..Default::default() },
        AccountRow { account_id: "B".into(), segment: Some("smb".into()), ..Default::default() },
        AccountRow { account_id: "C".into(), segment: Some("smb".into()), lifecycle_stage: Some("churned".into()), ..Default::default() },
    ])
    .await
    .unwrap();
    let annual = kizuna_domain::SubscriptionRow { bill_period_months: Some(12), ..subscription("A", "core", "2025-12-01", Some("2026-12-01"), 100000) };
    tx.upsert_subscriptions(&[annual, subscription("B", "core", "2026-11-10", None, 50000), subscription("C", "core", "2026-01-01", Some("2026-12-10"), 30000)]).await.unwrap();
    tx.upsert_activities(&[
        activity("A", "a1", ActivityKind::Meeting, "2026-11-04"),
        activity("A", "a2", ActivityKind::SupportTicket, "2026-10-01"),
        activity("A", "a3", ActivityKind::SupportTicket, "2026-11-01"),
        activity("A", "a4", ActivityKind::SupportTicket, "2026-06-01"),
        activity("C", "c1", ActivityKind::Call, "2026-05-01"),
    ])
    .await
    .unwrap();
    tx.upsert_churn_records(&[ChurnRow { account_id: "C".into(), churned_on: date("2026-12-10"), reason: ChurnReason::LowUsage, avoidable: true, mrr_lost_cents: Some(3_000_000), note: None }])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.store.begin().await.unwrap();
    tx.save_setting(SETTING, CARDS).await.unwrap();
    tx.commit().await.unwrap();
    let at = date("2026-11-24");
    let mut m: Vec<UsageMessage> = (0..28).map(|i| event(format!("a{i}"), "A", if i % 2 == 0 { "a1" } else { "a2" }, "login", at - Duration::days(i))).collect();
    m.extend((0..5).map(|i| event(format!("b{i}"), "B", "b1", "login", date("2026-11-12") + Duration::days(i))));
    m.extend((1..=3).map(|i| event(format!("bs{i}"), "B", "b1", "setup_step", date("2026-11-10") + Duration::days(i))));
    db.store.ingest(&m).await.unwrap();
}

fn measure<'a>(v: &'a serde_json::Value, input: &str) -> &'a serde_json::Value {
    v["explanation"]["measures"].as_array().unwrap().iter().find(|m| m["input"] == input).unwrap_or_else(|| panic!("{input} in {v}"))
}

async fn scores_explain_every_measure(db: TestDb) {
    seed(&db).await;
    let store = db.store.as_ref();
    let at = date("2026-11-24");
    let a = serde_json::to_value(explain(store, "A", at).await.unwrap().unwrap()).unwrap();
    // usage 28/28 → 100; other: touch 20 d → 80, 2 tickets → 50, renewal in 7 d → 10,
    // MRR flat → 50, NPS 40 → 70, onboarding n/a (359 days a customer): 52. (100 + 52) / 2 = 76
    assert_eq!((a["score"].as_f64(), a["band"].as_str(), a["grade"].as_str()), (Some(76.0), Some("green"), Some("B")), "{a}");
    for (input, raw, score) in [("days_since_csm_touch", 20.0, 80.0), ("support_tickets_90d", 2.0, 50.0), ("days_to_renewal", 7.0, 10.0), ("mrr_change_90d", 0.0, 50.0), ("attribute.nps", 40.0, 70.0)] {
        assert_eq!((measure(&a, input)["raw"].as_f64(), measure(&a, input)["score"].as_f64()), (Some(raw), Some(score)), "{input}");
    }
    assert!(measure(&a, "onboarding")["raw"].is_null());
    assert_eq!(a["explanation"]["missing"], serde_json::json!(["onboarding"]));
    assert_eq!(a["drags"][0]["input"], "days_to_renewal", "90 of 100 lost at 1/10 weight = 9 points");
    assert_eq!(a["drags"][0]["points_lost"].as_f64(), Some(9.0));
    let b = serde_json::to_value(explain(store, "B", at).await.unwrap().unwrap()).unwrap();
    // 5/28 → 17.86; onboarding 3/5 → 60, touch: never, a customer since 14 days before `at`
    // (tenure 15, counting that day) → 14 days → 86, no tickets → 100: (17.86 + 82) / 2 = 49.93
    assert_eq!((b["score"].as_f64(), b["band"].as_str(), b["grade"].as_str()), (Some(49.93), Some("red"), Some("D")), "{b}");
    assert_eq!(measure(&b, "days_since_csm_touch")["raw"].as_f64(), Some(14.0));
    assert_eq!(measure(&b, "onboarding")["raw"].as_f64(), Some(60.0));
    assert_eq!(b["explanation"]["missing"], serde_json::json!(["days_to_renewal", "mrr_change_90d", "attribute.nps"]));
    assert!(b["note"].as_str().unwrap().starts_with("3 of 7 measures had no data"));
    let c = serde_json::to_value(explain(store, "C", at).await.unwrap().unwrap()).unwrap();
    assert_eq!((c["score"].as_f64(), c["grade"].as_str()), (Some(25.0), Some("E")), "logins 0, other (0 + 100 + 50) / 3");
    assert!(explain(store, "nobody", at).await.unwrap().is_none());
    assert!(explain(store, "C", date("2026-12-20")).await.unwrap().is_none(), "no longer paying");
}

async fn history_trend_and_changes(db: TestDb) {
    seed(&db).await;
    let store = db.store.as_ref();
    let first = serde_json::to_value(run(store, date("2026-11-17")).await.unwrap()).unwrap();
    assert_eq!(first["accounts"], 3);
    let second = serde_json::to_value(run(store, date("2026-11-24")).await.unwrap()).unwrap();
    assert_eq!(second["bands"], serde_json::json!({ "green": 1, "red": 2 }));
    // On 11-17 A had 21 logins (75) and touch 13 d → 87, renewal 14 d → 20:
    // other (87 + 50 + 20 + 50 + 70) / 5 = 55.4, overall 65.2
    let history = store.health_history("A", date("2027-12-31"), 10).await.unwrap();
    assert_eq!(history.iter().map(|h| (h.scored_on, h.score)).collect::<Vec<_>>(), vec![(date("2026-11-24"), Some(76.0)), (date("2026-11-17"), Some(65.2))]);
    let kept = &history[0].detail_json();
    assert_eq!((kept["trend"].as_str(), kept["score_change"].as_f64()), (Some("up"), Some(10.8)));
    let explained = serde_json::to_value(explain(store, "A", date("2026-11-24")).await.unwrap().unwrap()).unwrap();
    assert_eq!(explained["changes"][0]["input"], "usage.logins_28d", "{explained}");
    assert_eq!(explained["changes"][0]["delta"].as_f64(), Some(12.5), "37.5 → 50 points");
    assert_eq!(explained["changes"][0]["raw_before"].as_f64(), Some(21.0));
    let current: HashMap<String, (Option<f64>, Option<String>, Option<f64>)> = store.health_current().await.unwrap().into_iter().map(|(a, s, b, p)| (a, (s, b, p))).collect();
    assert_eq!(current["A"], (Some(76.0), Some("green".into()), Some(65.2)));
    // Re-scoring an older day keeps the current row.
    run(store, date("2026-11-10")).await.unwrap();
    assert_eq!(store.health_current().await.unwrap().iter().find(|r| r.0 == "A").unwrap().1, Some(76.0));
    let live = serde_json::to_value(explain(store, "A", date("2026-11-24")).await.unwrap().unwrap()).unwrap();
    assert_eq!(live["previous"]["at"], "2026-11-17");
    assert_eq!(live["history"].as_array().unwrap().len(), 3);
    // One point per ISO week: Monday 11-23's score is not shown beside Tuesday 11-24's, and
    // as of 11-17 the later ones are not shown at all.
    run(store, date("2026-11-23")).await.unwrap();
    let days = |v: &serde_json::Value| v["history"].as_array().unwrap().iter().map(|h| h["at"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let weekly = serde_json::to_value(explain(store, "A", date("2026-11-24")).await.unwrap().unwrap()).unwrap();
    assert_eq!(days(&weekly), vec!["2026-11-24", "2026-11-17", "2026-11-10"]);
    let past = serde_json::to_value(explain(store, "A", date("2026-11-17")).await.unwrap().unwrap()).unwrap();
    assert_eq!(days(&past), vec!["2026-11-17", "2026-11-10"]);
    // A run keeps explanations for 90 days: on 2027-02-20 those of 11-10 and 11-17 go, their
    // scores stay; 11-24 (88 days back) keeps its own.
    let later = serde_json::to_value(run(store, date("2027-02-20")).await.unwrap()).unwrap();
    assert_eq!(later["explanations_cleared"], 6, "3 accounts × 2 days: {later}");
    let kept: HashMap<NaiveDate, (Option<f64>, serde_json::Value)> = store.health_history("A", date("2027-12-31"), 10).await.unwrap().into_iter().map(|h| (h.scored_on, (h.score, h.detail_json()))).collect();
    assert_eq!(kept[&date("2026-11-17")], (Some(65.2), serde_json::json!({})));
    assert!(kept[&date("2026-11-24")].1["measures"].is_object(), "{:?}", kept[&date("2026-11-24")]);
    // A's contract ended on 12-01 and C's on 12-10: only B pays on 2027-02-20. A and C keep
    // their history but no longer have a current score.
    let current: Vec<String> = store.health_current().await.unwrap().into_iter().map(|r| r.0).collect();
    assert_eq!((later["accounts"].as_u64(), later["no_longer_paying"].as_u64(), current), (Some(1), Some(2), vec!["B".to_string()]), "{later}");
    assert!(!store.health_history("C", date("2027-12-31"), 10).await.unwrap().is_empty());
}

async fn backtest_ranks_the_churner(db: TestDb) {
    seed(&db).await;
    // A renews its annual contract on 2026-12-01; C's contract ends on 12-10 and is not renewed.
    let mut tx = db.store.begin().await.unwrap();
    let renewal = kizuna_domain::SubscriptionRow { bill_period_months: Some(12), ..subscription("A", "core", "2026-12-01", Some("2027-12-01"), 100000) };
    tx.upsert_subscriptions(&[renewal]).await.unwrap();
    tx.commit().await.unwrap();
    // Labels come from the revenue data as of `at`: C's MRR falls to 0 on 12-10.
    let q: HashMap<String, String> = [("from", "2026-11-24"), ("to", "2026-11-24"), ("every", "7d"), ("horizon", "28d"), ("at", "2026-12-31")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let v = serde_json::to_value(backtest(db.store.as_ref(), &Params(&q)).await.unwrap()).unwrap();
    assert_eq!((v["observations"].as_u64(), v["churned"].as_u64()), (Some(3), Some(1)), "{v}");
    assert_eq!((v["auc"].as_f64(), v["top_decile_lift"].as_f64()), (Some(1.0), Some(3.0)), "C has the lowest score; top tenth = 1 of 3");
    assert_eq!(v["calibration"]["bands"][0], serde_json::json!({ "group": "red", "observations": 2, "churned": 1, "churn_rate": 0.5 }));
    let mut short = q.clone();
    short.insert("horizon".into(), "7d".into());
    let v = serde_json::to_value(backtest(db.store.as_ref(), &Params(&short)).await.unwrap()).unwrap();
    assert_eq!((v["churned"].as_u64(), v["auc"].clone()), (Some(0), serde_json::Value::Null), "C churns 16 days later");
    let mut bad = q.clone();
    bad.insert("scorecard".into(), "nope".into());
    assert_eq!(backtest(db.store.as_ref(), &Params(&bad)).await.unwrap_err().to_string(), "scorecard \"nope\" is not a scorecard (known: default)");
    bad.insert("every".into(), "soon".into());
    assert!(backtest(db.store.as_ref(), &Params(&bad)).await.unwrap_err().to_string().starts_with("every \"soon\" is not a number of days"));
    // As of 12-09, C's end on 12-10 is scheduled, not churn, and 11-24 + 28 days has not passed.
    let mut early = q.clone();
    early.insert("at".into(), "2026-12-09".into());
    let err = backtest(db.store.as_ref(), &Params(&early)).await.unwrap_err().to_string();
    assert!(err.starts_with("from \"2026-11-24\" is later than the as-of date 2026-12-09 minus the 28-day horizon (2026-11-11)"), "{err}");
    early.insert("horizon".into(), "14d".into());
    early.insert("to".into(), "2026-12-31".into());
    let v = serde_json::to_value(backtest(db.store.as_ref(), &Params(&early)).await.unwrap()).unwrap();
    assert_eq!((v["churned"].as_u64(), v["to"].as_str(), v["requested_to"].as_str()), (Some(0), Some("2026-11-25"), Some("2026-12-31")), "{v}");
}

/// 40 accounts: account i logs in i % 20 times in the four weeks before each observation; those
/// with fewer than 6 logins churn within the horizon, save two that stay, and two heavy users churn.
/// Only subscriptions and usage events are imported: no churn-reason file. Churn is read from
/// the subscriptions (MRR falls to 0 on 12-15), as of 2026-12-22 (the last horizon's end).
async fn calibration_finds_logins_and_forecasts(db: TestDb) {
    let ids: Vec<String> = (0..40).map(|i| format!("K{i:02}")).collect();
    let churner = |i: usize| (i % 20 < 6 && i != 3 && i != 24) || i == 17 || i == 38;
    let mut tx = db.store.begin().await.unwrap();
    let subs: Vec<_> = ids.iter().enumerate().map(|(i, id)| subscription(id, "core", "2025-01-01", if churner(i) { Some("2026-12-15") } else { None }, 10000)).collect();
    tx.upsert_subscriptions(&subs).await.unwrap();
    tx.commit().await.unwrap();
    let mut m = vec![];
    for (i, id) in ids.iter().enumerate() {
        for k in 0..(i % 20) {
            for week in 0..6 {
                m.push(event(format!("{id}-{k}-{week}"), id, "u", "login", date("2026-11-24") - Duration::days((k * 28 / 20 + week * 7) as i64 % 56)));
            }
        }
    }
    db.store.ingest(&m).await.unwrap();
    let q: HashMap<String, String> =
        [("from", "2026-11-17"), ("to", "2026-11-24"), ("every", "7d"), ("horizon", "28d"), ("metrics", "logins_28d,active_days_28d"), ("at", "2026-12-22")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let v = serde_json::to_value(calibrate(db.store.as_ref(), &Params(&q), &kizuna_app::Actor::operator()).await.unwrap()).unwrap();
    assert_eq!((v["observations"].as_u64(), v["churned"].as_u64()), (Some(80), Some(24)), "12 churners × 2 dates: {v}");
    let logins = &v["coefficients"][0];
    assert_eq!(logins["metric"], "logins_28d");
    assert!(logins["coefficient"].as_f64().unwrap() < -0.5, "more logins, less churn: {logins}");
    assert!(v["cross_validation"]["auc"].as_f64().unwrap() > 0.75, "{}", v["cross_validation"]);
    let probs: Vec<f64> = v["accounts"].as_array().unwrap().iter().map(|a| a["churn_probability"].as_f64().unwrap()).collect();
    assert_eq!(probs.len(), 28, "the 12 churners stopped paying on 12-15");
    assert!(v["proposed_scorecard_toml"].as_str().unwrap().contains("input = \"usage.logins_28d\""));
    let f = serde_json::to_value(forecast(db.store.as_ref(), &Params(&q)).await.unwrap()).unwrap();
    let expected: f64 = probs.iter().sum();
    assert!((f["expected_churns"].as_f64().unwrap() - (expected * 100.0).round() / 100.0).abs() < 1e-9, "{f}");
    let (lo, hi) = (f["interval_90"][0].as_f64().unwrap(), f["interval_90"][1].as_f64().unwrap());
    assert!(lo <= expected && expected <= hi, "{lo} ≤ {expected} ≤ {hi}");
    let check = &f["history_check"];
    assert_eq!((check["observations"].as_u64(), check["churned"].as_u64()), (Some(80), Some(24)), "{check}");
    let oof = check["expected_out_of_fold"].as_f64().unwrap();
    assert!((oof - 24.0).abs() < 8.0, "out of fold the model expects about the 24 churns that happened: {check}");
    let mut save = q.clone();
    save.insert("save".into(), "from_usage".into());
    calibrate(db.store.as_ref(), &Params(&save), &kizuna_app::Actor::operator()).await.unwrap();
    let (_, log) = db.store.audit_log(None, 1, 10).await.unwrap();
    assert!(log.iter().any(|e| e.action == "scorecards.calibrate" && e.target.as_deref() == Some("from_usage")), "saved with its audit entry: {log:?}");
    let cards = kizuna_app::health::scorecards(db.store.as_ref()).await.unwrap();
    assert!(cards.named("from_usage").is_some() && cards.named("default").is_some());
    let mut bad = q.clone();
    bad.insert("metrics".into(), "logins_28d,nps".into());
    assert!(calibrate(db.store.as_ref(), &Params(&bad), &kizuna_app::Actor::operator()).await.unwrap_err().to_string().starts_with("metrics \"nps\" is not a usage metric"));
}

/// The demo company's default scorecard finds real signal: usage fades before churn there.
async fn demo_default_scorecard_has_signal(db: TestDb) {
    let until = date("2026-06-30");
    let mut opts = kizuna_demo::Options::new(3, until);
    opts.accounts = 400;
    kizuna_demo::write(db.store.as_ref(), &kizuna_demo::generate(&opts)).await.unwrap();
    let (from, to) = ((until - Duration::days(92)).to_string(), (until - Duration::days(28)).to_string());
    let q: HashMap<String, String> = [("from", from.as_str()), ("to", to.as_str()), ("every", "7d"), ("horizon", "28d")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let v = serde_json::to_value(backtest(db.store.as_ref(), &Params(&q)).await.unwrap()).unwrap();
    let auc = v["auc"].as_f64().unwrap();
    assert!(v["churned"].as_u64().unwrap() >= 10, "{v}");
    assert!(auc > 0.75, "AUC {auc}: {v}");
    let red = &v["calibration"]["bands"][0];
    let green = &v["calibration"]["bands"][2];
    assert!(red["churn_rate"].as_f64().unwrap() > 5.0 * green["churn_rate"].as_f64().unwrap(), "red churns far more often than green: {v}");
}

both_engines!(demo_default_scorecard_has_signal, scores_explain_every_measure, history_trend_and_changes, backtest_ranks_the_churner, calibration_finds_logins_and_forecasts);
