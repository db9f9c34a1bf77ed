//! The CTA list's order on both engines: due day first (undated last), then priority, age and
//! id, for one status or several, across pages.

use chrono::{TimeZone, Utc};
use kizuna_domain::ctas::{CtaStatus, Priority, Source};
use kizuna_domain::AccountRow;
use kizuna_store::testing::{date, TestDb};
use kizuna_store::{both_engines, Cta, CtaQuery};

fn cta(id: &str, status: CtaStatus, due: Option<&str>, priority: Priority) -> Cta {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    Cta {
        cta_id: id.into(),
        account_id: "A1".into(),
        account_name: String::new(),
        cta_type: "risk".into(),
        reason: format!("r-{id}"),
        title: id.into(),
        priority,
        status,
        owner_email: Some("csm@x.jp".into()),
        due_on: due.map(date),
        snoozed_until: (status == CtaStatus::Snoozed).then(|| date("2026-12-20")),
        snooze_reason: None,
        source: Source::Manual,
        evidence: serde_json::json!({}),
        signal_key: String::new(),
        scope: String::new(),
        created_by: None,
        created_at: at,
        updated_at: at,
        revision: at.timestamp_millis(),
        closed_at: (status == CtaStatus::Closed).then_some(at),
        outcome: None,
        close_note: None,
        tasks: vec![],
    }
}

async fn ids(db: &TestDb, statuses: Vec<CtaStatus>, page: u32, per_page: u32) -> (u64, Vec<String>) {
    let q = CtaQuery { statuses, owner_email: Some("csm@x.jp".into()), page, per_page, ..Default::default() };
    let p = db.store.ctas(&q).await.unwrap();
    (p.total, p.ctas.into_iter().map(|c| c.cta_id).collect())
}

async fn the_list_keeps_its_order_over_statuses_and_pages(db: TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[AccountRow { account_id: "A1".into(), ..Default::default() }]).await.unwrap();
    for c in [
        cta("c1", CtaStatus::Open, Some("2026-12-10"), Priority::High),
        cta("c2", CtaStatus::InProgress, Some("2026-12-05"), Priority::Low),
        cta("c3", CtaStatus::Snoozed, Some("2026-12-10"), Priority::Critical),
        cta("c4", CtaStatus::Open, None, Priority::High),
        cta("c5", CtaStatus::Closed, Some("2026-12-01"), Priority::High),
        cta("c6", CtaStatus::Open, Some("2026-12-05"), Priority::Medium),
        cta("c7", CtaStatus::InProgress, None, Priority::Low),
    ] {
        assert!(tx.insert_cta(&c).await.unwrap());
    }
    // A twin of an open one (same account, type, reason, scope) is not written, and the
    // transaction goes on (PostgreSQL would abort it on a unique violation).
    let twin = Cta { reason: "r-c1".into(), ..cta("c1-twin", CtaStatus::Open, None, Priority::Low) };
    assert!(!tx.insert_cta(&twin).await.unwrap());
    tx.commit().await.unwrap();
    assert!(db.store.cta("c1-twin").await.unwrap().is_none());
    let active = || vec![CtaStatus::Open, CtaStatus::InProgress, CtaStatus::Snoozed];
    // 12-05: c6 (medium) before c2 (low); 12-10: c3 (critical) before c1 (high); undated last.
    assert_eq!(ids(&db, active(), 1, 50).await, (6, vec!["c6", "c2", "c3", "c1", "c4", "c7"].into_iter().map(String::from).collect()));
    assert_eq!(ids(&db, active(), 1, 4).await.1, vec!["c6", "c2", "c3", "c1"]);
    assert_eq!(ids(&db, active(), 2, 4).await.1, vec!["c4", "c7"]);
    assert_eq!(ids(&db, active(), 3, 4).await.1, Vec::<String>::new());
    assert_eq!(ids(&db, vec![CtaStatus::Open], 1, 2).await, (3, vec!["c6".to_string(), "c1".to_string()]));
    assert_eq!(ids(&db, vec![], 1, 50).await.1, vec!["c5", "c6", "c2", "c3", "c1", "c4", "c7"], "every status");
}

both_engines!(the_list_keeps_its_order_over_statuses_and_pages);
