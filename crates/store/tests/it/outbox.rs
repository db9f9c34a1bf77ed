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
    let got = s.events_after(0, 10).await.unwrap();
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

both_engines!(events_commit_with_their_change_and_are_read_in_order, a_consumer_reading_during_writes_skips_nothing);
