//! The outbox on both engines: an event exists exactly when the change that raised it was
//! committed; consumers read in order from their position; a consumer reading while others
//! write never skips an event.

use chrono::Utc;
use kizuna_store::both_engines;
use kizuna_store::testing::{subscription, TestDb};
use kizuna_store::NewEvent;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn event(n: usize) -> NewEvent<'static> {
    NewEvent { kind: "activity.logged", account_id: Some("A1"), payload: serde_json::json!({ "n": n }) }
}

async fn events_commit_with_their_change_and_are_read_in_order(db: TestDb) {
    let s = db.store.as_ref();
    let mut tx = s.begin().await.unwrap();
    tx.emit(event(0)).await.unwrap();
    drop(tx);
    assert!(s.events_after(0, 10).await.unwrap().is_empty(), "rolled back: no event");

    let mut tx = s.begin().await.unwrap();
    tx.upsert_subscriptions(&[subscription("B2", "core", "2026-01-01", None, 10_000), subscription("A1", "core", "2026-01-01", None, 5_000)])
        .await
        .unwrap();
    tx.emit(event(1)).await.unwrap();
    tx.commit().await.unwrap();
    let all = s.events_after(0, 10).await.unwrap();
    let created: Vec<(Option<&str>, Option<&str>)> =
        all.iter().filter(|e| e.kind == "account.created").map(|e| (e.account_id.as_deref(), e.payload["source"].as_str())).collect();
    assert_eq!(created, vec![(Some("A1"), Some("import")), (Some("B2"), Some("import"))], "the accounts the subscriptions named were created");
    let got: Vec<_> = all.into_iter().filter(|e| e.kind != "account.created").collect();
    let seen: Vec<(&str, Option<&str>)> = got.iter().map(|e| (e.kind.as_str(), e.account_id.as_deref())).collect();
    assert_eq!(
        seen,
        vec![("activity.logged", Some("A1")), ("subscription.changed", Some("A1")), ("subscription.changed", Some("B2"))],
        "the emitted event, then one per account whose subscriptions were written"
    );
    assert!(got.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(got[0].payload["n"], 1);

    assert_eq!(s.consumer_position("mailer").await.unwrap(), 0);
    s.advance_consumer("mailer", got[1].seq, Utc::now()).await.unwrap();
    assert_eq!(s.events_after(s.consumer_position("mailer").await.unwrap(), 10).await.unwrap().len(), 1);
    s.advance_consumer("mailer", got[0].seq, Utc::now()).await.unwrap();
    assert_eq!(s.consumer_position("mailer").await.unwrap(), got[1].seq, "a position never goes back");
    assert_eq!(s.events_after(got[2].seq, 10).await.unwrap(), vec![]);

    // A transaction that writes no subscription emits nothing by itself.
    let mut tx = s.begin().await.unwrap();
    tx.upsert_contacts(&[]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.events_after(got[2].seq, 10).await.unwrap(), vec![]);
}

/// Writers commit events while a consumer reads after its position: it sees every event once.
/// (On PostgreSQL without the outbox lock, a sequence number taken early but committed late was
/// skipped by a consumer already past it.)
async fn a_consumer_reading_during_writes_skips_nothing(db: TestDb) {
    let store = db.store.clone();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, done) = (store.clone(), done.clone());
        tokio::spawn(async move {
            let (mut position, mut seen) = (0i64, vec![]);
            loop {
                let finished = done.load(Ordering::SeqCst);
                let batch = store.events_after(position, 50).await.unwrap();
                if let Some(last) = batch.last() {
                    position = last.seq;
                }
                let empty = batch.is_empty();
                seen.extend(batch.into_iter().map(|e| e.payload["n"].as_u64().unwrap()));
                if finished && empty {
                    return seen;
                }
            }
        })
    };
    let mut writers = vec![];
    for w in 0..6 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..20 {
                let mut tx = store.begin().await.unwrap();
                tx.emit(event(w * 100 + i)).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis((w as u64 * 7 + i as u64 * 3) % 5)).await;
                tx.commit().await.unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let mut seen = reader.await.unwrap();
    let n = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!((n, seen.len()), (120, 120), "every event seen once");
}

/// The events of `kind` after `seq`: (account, payload).
async fn of_kind(s: &dyn kizuna_store::Store, kind: &str, seq: i64) -> Vec<(String, serde_json::Value)> {
    let all = s.events_after(seq, 1000).await.unwrap();
    all.into_iter().filter(|e| e.kind == kind).map(|e| (e.account_id.unwrap_or_default(), e.payload)).collect()
}

async fn last_seq(s: &dyn kizuna_store::Store) -> i64 {
    s.events_after(0, 10_000).await.unwrap().last().map_or(0, |e| e.seq)
}

/// Usage naming an unknown account creates it and says so; an account an import created
/// before raises nothing.
async fn accounts_created_by_usage_raise_account_created(db: TestDb) {
    use kizuna_store::testing::usage_event;
    let s = db.store.as_ref();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
    let mut tx = s.begin().await.unwrap();
    tx.upsert_subscriptions(&[subscription("K1", "core", "2026-01-01", None, 10_000)]).await.unwrap();
    tx.commit().await.unwrap();
    let seq = last_seq(s).await;
    s.ingest(&[usage_event("m1".into(), "K1", "u1", "login", day), usage_event("m2".into(), "N1", "u2", "login", day)]).await.unwrap();
    s.ingest(&[usage_event("m3".into(), "N1", "u2", "login", day)]).await.unwrap();
    assert_eq!(of_kind(s, "account.created", seq).await, vec![("N1".to_string(), serde_json::json!({ "source": "usage" }))]);
}

/// A score that changes the account's current band raises `health.band_changed` with the
/// bands and scores; the same band again, or an older day scored again, raises nothing and
/// gives no account a current score.
async fn a_band_change_raises_its_event(db: TestDb) {
    use kizuna_store::HealthRow;
    let s = db.store.as_ref();
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let row = |d: u32, score: f64, band: &str, previous: Option<f64>| HealthRow {
        account_id: "H1".into(),
        scored_on: day(d),
        scorecard: "default".into(),
        score: Some(score),
        band: Some(band.into()),
        grade: None,
        previous_score: previous,
        detail: "{}".into(),
    };
    s.save_health(&[row(1, 80.0, "green", None)]).await.unwrap();
    s.save_health(&[row(2, 78.0, "green", Some(80.0))]).await.unwrap();
    s.save_health(&[row(3, 35.5, "red", Some(78.0))]).await.unwrap();
    s.save_health(&[row(2, 50.0, "yellow", Some(80.0))]).await.unwrap();
    // A backfill of a day before the latest scored: H2 (no current score, say it stopped
    // paying since) is kept in history only, with no current score and no event.
    s.save_health(&[HealthRow { account_id: "H2".into(), ..row(1, 20.0, "red", None) }]).await.unwrap();
    let current: Vec<String> = s.health_current().await.unwrap().into_iter().map(|c| c.0).collect();
    assert_eq!(current, vec!["H1".to_string()]);
    assert_eq!(s.health_history("H2", day(30), 5).await.unwrap().len(), 1, "kept in history");
    let got = of_kind(s, "health.band_changed", 0).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!((got[0].1["from"].clone(), got[0].1["to"].clone()), (serde_json::Value::Null, serde_json::json!("green")));
    assert_eq!(
        got[1].1,
        serde_json::json!({ "from": "green", "to": "red", "score": 35.5, "previous_score": 78.0, "scored_on": "2026-11-03", "scorecard": "default" })
    );
}

/// One usage drop is one anomaly and one `usage.anomaly`, however many days and weeks it lasts;
/// a drop found again more than 6 days after it was last found is another. Dropped with its
/// transaction, it is neither.
async fn a_usage_anomaly_is_recorded_once_per_drop(db: TestDb) {
    use kizuna_store::UsageAnomaly;
    let s = db.store.as_ref();
    let anomaly = |d: u32| UsageAnomaly {
        account_id: "U1".into(),
        event: "report_viewed".into(),
        day: chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap(),
        last_week: 2.0,
        baseline_median: 40.0,
        drop: 0.95,
        robust_z: Some(-4.5),
        last_day: Some(chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap()),
    };
    let mut tx = s.begin().await.unwrap();
    assert!(tx.record_usage_anomaly(&anomaly(1)).await.unwrap());
    drop(tx);
    assert!(of_kind(s, "usage.anomaly", 0).await.is_empty());
    let mut tx = s.begin().await.unwrap();
    let recorded: Vec<bool> = {
        let mut v = vec![];
        for d in [1, 4, 7, 8, 14, 20, 28] {
            v.push(tx.record_usage_anomaly(&anomaly(d)).await.unwrap());
        }
        v
    };
    tx.commit().await.unwrap();
    assert_eq!(recorded, vec![true, false, false, false, false, false, true], "one drop found until the 20th; the 28th, 8 days later, is another");
    let events = of_kind(s, "usage.anomaly", 0).await;
    assert_eq!(events.len(), 2);
    assert_eq!((events[0].0.as_str(), events[0].1["event"].as_str(), events[0].1["day"].as_str()), ("U1", Some("report_viewed"), Some("2026-11-01")));
    let d = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let stored = s.usage_anomalies(d(1), d(30), Some("U1")).await.unwrap();
    assert_eq!(stored.iter().map(|a| a.day).collect::<Vec<_>>(), vec![d(28), d(1)], "newest first");
    assert_eq!(stored[1], UsageAnomaly { last_day: Some(d(20)), ..anomaly(1) }, "the first day's figures, found until the 20th");
    assert_eq!(s.usage_anomalies(d(10), d(12), Some("U1")).await.unwrap().len(), 1, "still going on the 10th");
    assert!(s.usage_anomalies(d(21), d(27), Some("U1")).await.unwrap().is_empty(), "over after the 20th");
    assert!(s.usage_anomalies(d(1), d(30), Some("other")).await.unwrap().is_empty());
}

both_engines!(
    events_commit_with_their_change_and_are_read_in_order,
    a_consumer_reading_during_writes_skips_nothing,
    accounts_created_by_usage_raise_account_created,
    a_band_change_raises_its_event,
    a_usage_anomaly_is_recorded_once_per_drop
);
