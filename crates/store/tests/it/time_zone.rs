//! Usage days in the business time zone (default Asia/Tokyo), on both engines: an event counts
//! on its local day, and a database filed in another zone is filed again when opened.

use kizuna_domain::usage::{UsageEvent, UsageMessage};
use kizuna_store::testing::{date, TestDb};
use kizuna_store::{both_engines, USAGE_ZONE_SETTING};

fn event(id: &str, user: &str, account: Option<&str>, t: &str) -> UsageMessage {
    UsageMessage::Event(UsageEvent {
        message_id: id.into(),
        user_id: Some(user.into()),
        account_id: account.map(str::to_string),
        event_type: "login".into(),
        at: chrono::DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&chrono::Utc),
        value: None,
        properties: serde_json::json!({}),
    })
}

async fn days(db: &TestDb) -> Vec<(String, u64, u64)> {
    let rows = db.store.usage_daily("T1", date("2026-12-01"), date("2026-12-31")).await.unwrap();
    rows.into_iter().map(|r| (r.day.to_string(), r.events, r.users)).collect()
}

async fn an_event_at_23_30_utc_counts_on_the_next_tokyo_day(db: TestDb) {
    let group = |user: &str| UsageMessage::Group { user_id: user.into(), account_id: "T1".into(), traits: serde_json::json!({}), at: chrono::Utc::now() };
    db.store
        .ingest(&[
            event("e1", "u1", Some("T1"), "2026-12-05T23:30:00Z"), // 08:30 on 12-06 in Tokyo
            event("e2", "u1", Some("T1"), "2026-12-05T14:59:59Z"), // 23:59:59 on 12-05
            event("e3", "u2", None, "2026-12-06T15:00:00Z"),        // 00:00 on 12-07, attributed by a later group
        ])
        .await
        .unwrap();
    db.store.ingest(&[group("u2")]).await.unwrap();
    assert_eq!(days(&db).await, vec![("2026-12-05".into(), 1, 1), ("2026-12-06".into(), 1, 1), ("2026-12-07".into(), 1, 1)]);
    assert_eq!(db.store.setting(USAGE_ZONE_SETTING).await.unwrap().as_deref(), Some("Asia/Tokyo"));

    // Filed again by UTC day: e1 and e2 fall on 12-05, e3 on 12-06.
    assert_eq!(db.store.refile_usage_days(chrono_tz::UTC).await.unwrap(), 3);
    assert_eq!(days(&db).await, vec![("2026-12-05".into(), 2, 1), ("2026-12-06".into(), 1, 1)]);
    assert_eq!(db.store.setting(USAGE_ZONE_SETTING).await.unwrap().as_deref(), Some("UTC"));

    // Opening the database with the business zone files it back: never mixed.
    let reopened = kizuna_store::open(&db.url).await.unwrap();
    let rows = reopened.usage_daily("T1", date("2026-12-01"), date("2026-12-31")).await.unwrap();
    let got: Vec<(String, u64)> = rows.into_iter().map(|r| (r.day.to_string(), r.events)).collect();
    assert_eq!(got, vec![("2026-12-05".into(), 1), ("2026-12-06".into(), 1), ("2026-12-07".into(), 1)]);
    assert_eq!(reopened.setting(USAGE_ZONE_SETTING).await.unwrap().as_deref(), Some("Asia/Tokyo"));
    // Events themselves were not touched: each is stored once.
    assert!(reopened.usage_message_counts().await.unwrap().iter().all(|(_, n)| *n == 1));
}

both_engines!(an_event_at_23_30_utc_counts_on_the_next_tokyo_day);
