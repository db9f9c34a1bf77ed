//! One transaction for a change and its audit entry (issue 24): both land or neither does.

use chrono::{TimeZone, Utc};
use kizuna_domain::{ActivityKind, ActivityRow};
use kizuna_store::both_engines;
use kizuna_store::testing::{subscription, TestDb};
use kizuna_store::AuditEntry;

fn note(id: &str) -> ActivityRow {
    ActivityRow {
        account_id: "A1".into(),
        activity_id: id.into(),
        kind: ActivityKind::Note,
        occurred_at: Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
        author_email: Some("csm@x.jp".into()),
        subject: Some("Kick-off".into()),
        body: None,
        attendees: None,
        next_steps: None,
        internal: true,
    }
}

async fn a_change_and_its_audit_entry_commit_together(db: TestDb) {
    let s = db.store.as_ref();
    let mut tx = s.begin().await.unwrap();
    tx.upsert_subscriptions(&[subscription("A1", "core", "2026-01-01", None, 10_000)]).await.unwrap();
    tx.commit().await.unwrap();
    let entry = |id: &'static str| AuditEntry { actor: "csm@x.jp", action: "activity.create", target: Some("A1"), detail: serde_json::json!({ "activity_id": id }) };

    let mut tx = s.begin().await.unwrap();
    tx.upsert_activities(&[note("n1")]).await.unwrap();
    tx.audit(entry("n1")).await.unwrap();
    drop(tx);
    assert!(s.activities("A1", 10, true).await.unwrap().is_empty(), "dropped: no activity");
    assert_eq!(s.audit_log(None, 1, 10).await.unwrap().0, 0, "and no audit entry");

    let mut tx = s.begin().await.unwrap();
    tx.upsert_activities(&[note("n2")]).await.unwrap();
    tx.audit(entry("n2")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.activities("A1", 10, true).await.unwrap().len(), 1);
    let (total, log) = s.audit_log(None, 1, 10).await.unwrap();
    assert_eq!((total, log[0].detail["activity_id"].as_str()), (1, Some("n2")));
    // A commit that wrote no subscription leaves the MRR as it was.
    let mrr = s.mrr_on(kizuna_store::testing::date("2026-06-01"), Some("A1")).await.unwrap();
    assert_eq!(mrr.len(), 1, "{mrr:?}");
}

both_engines!(a_change_and_its_audit_entry_commit_together);
