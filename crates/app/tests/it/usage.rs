//! Usage metrics and alerts end to end on both engines, against hand-computed figures.

use chrono::Duration;
use kizuna_app::usage::{usage_alerts, usage_metrics};
use kizuna_domain::usage::metrics::Definitions;
use kizuna_domain::usage::{UsageEvent, UsageMessage};
use kizuna_store::both_engines;
use kizuna_store::testing::{date, subscription, usage_event as event, TestDb};
use serde_json::Value;

async fn seed(db: &TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_subscriptions(&[subscription("A", "core", "2026-01-01", None, 100000), subscription("B", "core", "2026-11-10", None, 50000)]).await.unwrap();
    tx.commit().await.unwrap();
    let at = date("2026-11-24");
    let mut m = Vec::new();
    for i in 0..28 {
        m.push(event(format!("a-login-{i}"), "A", "a1", "login", at - Duration::days(i)));
    }
    for i in (28..56).step_by(2) {
        m.push(event(format!("a-login-{i}"), "A", "a1", "login", at - Duration::days(i)));
    }
    for (i, (user, back)) in [("a1", 1), ("a1", 1), ("a2", 5), ("a2", 5), ("a1", 9), ("a2", 9)].iter().enumerate() {
        m.push(event(format!("a-report-{i}"), "A", user, "report_created", at - Duration::days(*back)));
    }
    for i in 0..5 {
        m.push(event(format!("b-report-{i}"), "B", "b1", "report_created", date("2026-11-20")));
    }
    m.push(event("b-login".into(), "B", "b1", "login", date("2026-11-21")));
    m.push(event("c-login".into(), "C", "c1", "login", date("2026-11-21")));
    db.store.ingest(&m).await.unwrap();
}

async fn metrics_for_every_paying_account(db: TestDb) {
    seed(&db).await;
    let v = serde_json::to_value(usage_metrics(db.store.as_ref(), &Definitions::default_set(), date("2026-11-24"), None).await.unwrap()).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.iter().map(|r| r["account_id"].as_str().unwrap()).collect::<Vec<_>>(), ["A", "B"], "C pays nothing");
    let a = &rows[0];
    assert_eq!((a["logins_28d"].as_f64(), a["logins_change"].as_f64()), (Some(28.0), Some(1.0)), "28 against 14");
    assert_eq!((a["core_actions_28d"].as_f64(), a["active_users_28d"].as_f64(), a["active_days_28d"].as_f64()), (Some(6.0), Some(2.0), Some(28.0)));
    assert_eq!((a["core_actions_per_user"].as_f64(), a["days_since_login"].as_f64(), a["core_actions_28d_scaled"].as_f64()), (Some(3.0), Some(0.0), Some(6.0)));
    let b = &rows[1];
    assert_eq!(b["tenure_days"], 15, "paying since Nov 10");
    assert_eq!((b["logins_28d"].as_f64(), b["logins_change"].clone(), b["days_since_login"].as_f64()), (Some(1.0), Value::Null, Some(3.0)));
    assert!((b["core_actions_28d_scaled"].as_f64().unwrap() - 5.0 * 28.0 / 15.0).abs() < 1e-9);
    let one = serde_json::to_value(usage_metrics(db.store.as_ref(), &Definitions::default_set(), date("2026-11-24"), Some("B")).await.unwrap()).unwrap();
    assert_eq!(one.as_array().unwrap().len(), 1);
}

/// The collapse of `alerts_find_a_collapse`: account A's exports, 10 a week for 8 weeks, then 1.
async fn seed_collapse(db: &TestDb, at: chrono::NaiveDate) {
    let mut m = Vec::new();
    for week in 0..8 {
        for k in 0..10 {
            m.push(event(format!("a-exp-{week}-{k}"), "A", "a1", "export", at - Duration::days(7 + week * 7 + k % 7)));
        }
    }
    m.push(event("a-exp-last".into(), "A", "a1", "export", at - Duration::days(2)));
    for k in 0..12 {
        m.push(event(format!("b-exp-{k}"), "B", "b1", "export", at - Duration::days(k % 7)));
    }
    db.store.ingest(&m).await.unwrap();
}

const EXPORTS: &str = "[[metric]]\nname = \"exports_7d\"\nkind = \"count\"\nevent = \"export\"\ndays = 7\n";

async fn alerts_find_a_collapse(db: TestDb) {
    seed(&db).await;
    let at = date("2026-11-24");
    seed_collapse(&db, at).await;
    let defs = Definitions::parse(EXPORTS).unwrap();
    let v = serde_json::to_value(usage_alerts(db.store.as_ref(), &defs, at).await.unwrap()).unwrap();
    let alerts = v.as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{v}");
    assert_eq!((alerts[0]["account_id"].as_str(), alerts[0]["event"].as_str()), (Some("A"), Some("export")));
    assert_eq!((alerts[0]["baseline_median"].as_f64(), alerts[0]["last_week"].as_f64(), alerts[0]["drop"].as_f64()), (Some(10.0), Some(1.0), Some(0.9)));
}

/// Every kind of window at once (several lengths, sums of values, days and users of one event):
/// they are read in one pass over the rollup, so each column must land on its own metric.
async fn windows_of_every_kind_and_length(db: TestDb) {
    seed(&db).await;
    let at = date("2026-11-24");
    let paid = |id: &str, back: i64, value: f64| match event(id.into(), "A", "a1", "invoice_paid", at - Duration::days(back)) {
        UsageMessage::Event(e) => UsageMessage::Event(UsageEvent { value: Some(value), ..e }),
        other => other,
    };
    db.store.ingest(&[paid("p1", 2, 10.0), paid("p2", 3, 20.0), paid("p3", 10, 40.0), paid("p4", 60, 80.0), paid("p5", 200, 1000.0)]).await.unwrap();
    let metric = |name: &str, body: &str| format!("[[metric]]\nname = \"{name}\"\n{body}\n");
    let text = [
        metric("paid_7d", "kind = \"sum\"\nevent = \"invoice_paid\"\ndays = 7"),
        metric("paid_90d", "kind = \"sum\"\nevent = \"invoice_paid\"\ndays = 90"),
        metric("paid_change", "kind = \"change\"\nof = \"paid_7d\""),
        metric("login_days_7d", "kind = \"active_days\"\nevent = \"login\"\ndays = 7"),
        metric("report_users_7d", "kind = \"active_users\"\nevent = \"report_created\"\ndays = 7"),
        metric("days_7d", "kind = \"active_days\"\ndays = 7"),
        metric("logins_90d", "kind = \"count\"\nevent = \"login\"\ndays = 90"),
        metric("paid_count_90d", "kind = \"count\"\nevent = \"invoice_paid\"\ndays = 90"),
        metric("login_users_90d", "kind = \"active_users\"\nevent = \"login\"\ndays = 90"),
        metric("days_since_paid", "kind = \"days_since\"\nevent = \"invoice_paid\""),
        metric("days_since_login", "kind = \"days_since\"\nevent = \"login\""),
    ]
    .concat();
    let defs = Definitions::parse(&text).unwrap();
    let v = serde_json::to_value(usage_metrics(db.store.as_ref(), &defs, at, Some("A")).await.unwrap()).unwrap();
    let a = &v[0];
    let names = ["paid_7d", "paid_90d", "paid_change", "login_days_7d", "report_users_7d", "days_7d", "logins_90d", "paid_count_90d", "login_users_90d", "days_since_paid", "days_since_login"];
    let got: Vec<Option<f64>> = names.iter().map(|k| a[*k].as_f64()).collect();
    // 10 + 20 this week; 40 the week before (-25%); 80 two months ago; 1000 is older than 90 days.
    // Logins: every day for 28 days and every other day for the 28 before (14).
    assert_eq!(got, [Some(30.0), Some(150.0), Some(-0.25), Some(7.0), Some(2.0), Some(7.0), Some(42.0), Some(4.0), Some(1.0), Some(2.0), Some(0.0)], "{a}");
}

/// The daily signals score the day first, then record the collapse once and raise one
/// `usage.anomaly`; the next day's run finds the same drop and raises nothing new.
async fn daily_signals_record_a_collapse_once(db: TestDb) {
    seed(&db).await;
    let at = date("2026-11-24");
    seed_collapse(&db, at).await;
    let mut tx = db.store.begin().await.unwrap();
    tx.save_setting(kizuna_app::usage::SETTING, EXPORTS).await.unwrap();
    tx.commit().await.unwrap();
    let first = kizuna_app::signals::run_daily(db.store.as_ref(), at).await.unwrap();
    assert_eq!((first.scored, first.anomalies_found, first.anomalies_new), (2, 1, 1), "{first:?}");
    assert_eq!(db.store.last_health_day().await.unwrap(), Some(at));
    let next = kizuna_app::signals::run_daily(db.store.as_ref(), at + Duration::days(1)).await.unwrap();
    assert_eq!((next.anomalies_found, next.anomalies_new), (1, 0), "the same drop: {next:?}");
    let events: Vec<_> = db.store.events_after(0, 1000).await.unwrap().into_iter().filter(|e| e.kind == "usage.anomaly").collect();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].account_id.as_deref(), events[0].payload["drop"].as_f64()), (Some("A"), Some(0.9)));
    assert_eq!(db.store.usage_anomalies(at, at, None).await.unwrap().len(), 1);
}

both_engines!(metrics_for_every_paying_account, alerts_find_a_collapse, windows_of_every_kind_and_length, daily_signals_record_a_collapse_once);
