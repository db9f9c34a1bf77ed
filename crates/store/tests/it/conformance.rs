//! The store conformance suite: the same cases on SQLite and PostgreSQL.

use kizuna_domain::*;
use kizuna_store::testing::TestDb;
use kizuna_store::{both_engines, AccountQuery, AccountSort};

use kizuna_store::testing::{date as d, subscription};

fn sub(account: &str, product: &str, start: &str, end: Option<&str>, mrr: i64) -> SubscriptionRow {
    subscription(account, product, start, end, mrr)
}

fn account(id: &str, name: &str, segment: &str, touch: TouchModel) -> AccountRow {
    AccountRow {
        account_id: id.into(),
        name: Some(name.into()),
        segment: Some(segment.into()),
        touch_model: Some(touch),
        owner_email: Some("sato@kizuna.example".into()),
        ..Default::default()
    }
}

async fn upsert_keeps_unsent_fields_and_merges_attributes(db: TestDb) {
    let mut a = account("A1", "株式会社テスト", "enterprise", TouchModel::High);
    a.attributes.insert("plan".into(), "gold".into());
    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(tx.upsert_accounts(&[a]).await.unwrap(), 1);
    tx.commit().await.unwrap();

    let mut update = AccountRow { account_id: "A1".into(), ..Default::default() };
    update.attributes.insert("region".into(), "関東".into());
    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(tx.upsert_accounts(&[update]).await.unwrap(), 0);
    tx.commit().await.unwrap();

    let got = db.store.get_account("A1", d("2024-01-01")).await.unwrap().unwrap();
    assert_eq!(got.name, "株式会社テスト");
    assert_eq!(got.touch_model, Some(TouchModel::High));
    assert_eq!(got.attributes, serde_json::json!({"plan": "gold", "region": "関東"}));
}

/// A partner key's new accounts are bound to it, and an account that exists (created by an
/// import after the key's check) is left as it is and reported, never taken over.
async fn partner_accounts_are_created_never_taken(db: TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[AccountRow { partner_id: Some("P-2".into()), ..account("A1", "他社の顧客", "smb", TouchModel::Tech) }, account("A2", "直販", "smb", TouchModel::Tech)])
        .await
        .unwrap();
    tx.upsert_accounts(&[AccountRow { account_id: "A3".into(), partner_id: Some("P-1".into()), ..Default::default() }]).await.unwrap();
    tx.commit().await.unwrap();
    let ids: Vec<String> = ["A2", "A1", "N1", "A3", "N1"].iter().map(|s| s.to_string()).collect();
    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(tx.create_partner_accounts("P-1", &ids).await.unwrap(), (1, vec!["A1".to_string(), "A2".to_string()]));
    tx.commit().await.unwrap();
    let partner = |id: &'static str| {
        let store = &db.store;
        async move { store.get_account(id, d("2024-01-01")).await.unwrap().unwrap().partner_id }
    };
    assert_eq!(partner("N1").await.as_deref(), Some("P-1"));
    assert_eq!(partner("A1").await.as_deref(), Some("P-2"));
    assert_eq!(partner("A2").await, None);
    assert_eq!(partner("A3").await.as_deref(), Some("P-1"));
}

/// A subscription re-imported from a file with fewer columns keeps what the file left empty
/// (an annual contract stays annual), while its mrr and end come from the new row.
async fn reimported_subscription_keeps_empty_cells(db: TestDb) {
    let mut annual = sub("A1", "core", "2024-01-01", Some("2025-01-01"), 1000);
    (annual.bill_period_months, annual.quantity, annual.units, annual.discount) = (Some(12), Some(20.0), Some("seats".into()), Some(0.1));
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_subscriptions(&[annual]).await.unwrap();
    let renewed = SubscriptionRow { bill_period_months: None, ..sub("A1", "core", "2024-01-01", None, 1200) };
    tx.upsert_subscriptions(&[renewed]).await.unwrap();
    tx.commit().await.unwrap();
    let got = db.store.subscriptions("A1").await.unwrap();
    assert_eq!(got.len(), 1);
    let s = &got[0];
    assert_eq!((s.end_date, s.mrr, s.bill_period_months, s.quantity, s.units.as_deref(), s.discount), (None, 1200.0, Some(12), Some(20.0), Some("seats"), Some(0.1)));
}

async fn abutting_periods_collapse_into_one_change(db: TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    let created = tx
        .upsert_subscriptions(&[
            sub("A1", "core", "2024-01-01", Some("2024-02-01"), 1000),
            sub("A1", "core", "2024-02-01", Some("2024-03-01"), 1000),
            sub("A1", "core", "2024-03-01", Some("2024-04-01"), 1500),
            sub("A1", "free", "2024-01-01", None, 0),
        ])
        .await
        .unwrap();
    assert_eq!(created, 1);
    tx.commit().await.unwrap();

    let changes: Vec<(String, i64)> =
        db.store.mrr_changes().await.unwrap().into_iter().map(|c| (c.day.to_string(), c.delta_cents)).collect();
    assert_eq!(
        changes,
        vec![("2024-01-01".into(), 100_000), ("2024-03-01".into(), 50_000), ("2024-04-01".into(), -150_000)]
    );
    assert_eq!(db.store.get_account("A1", d("2024-03-15")).await.unwrap().unwrap().mrr, 1500.0);
    assert_eq!(db.store.get_account("A1", d("2024-04-01")).await.unwrap().unwrap().mrr, 0.0);
}

async fn dropped_transaction_leaves_nothing(db: TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_subscriptions(&[sub("A1", "core", "2024-01-01", None, 1000)]).await.unwrap();
    drop(tx);
    assert_eq!(db.store.counts().await.unwrap(), Default::default());
}

async fn reimport_is_idempotent(db: TestDb) {
    let rows = [sub("A1", "core", "2024-01-01", None, 1000), sub("A2", "core", "2024-01-01", None, 2000)];
    for _ in 0..2 {
        let mut tx = db.store.begin().await.unwrap();
        tx.upsert_subscriptions(&rows).await.unwrap();
        tx.commit().await.unwrap();
    }
    let c = db.store.counts().await.unwrap();
    assert_eq!((c.accounts, c.subscriptions, c.products), (2, 2, 1));
    assert_eq!(db.store.mrr_changes().await.unwrap().len(), 2);
}

async fn list_filters_sorts_and_pages(db: TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[
        account("A1", "Alpha", "enterprise", TouchModel::High),
        account("A2", "Beta 株式会社", "smb", TouchModel::Tech),
        account("A3", "Gamma", "smb", TouchModel::Tech),
    ])
    .await
    .unwrap();
    tx.upsert_subscriptions(&[sub("A2", "core", "2024-01-01", None, 500), sub("A3", "core", "2024-01-01", None, 900)])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut q = AccountQuery::new(d("2024-06-01"));
    q.segment = Some("smb".into());
    q.sort = AccountSort::Mrr;
    q.descending = true;
    let page = db.store.list_accounts(&q).await.unwrap();
    assert_eq!(page.total, 2);
    let ids: Vec<_> = page.accounts.iter().map(|a| (a.account_id.as_str(), a.mrr)).collect();
    assert_eq!(ids, vec![("A3", 900.0), ("A2", 500.0)]);

    let mut q = AccountQuery::new(d("2024-06-01"));
    q.search = Some("株式".into());
    assert_eq!(db.store.list_accounts(&q).await.unwrap().accounts[0].account_id, "A2");

    let mut q = AccountQuery::new(d("2024-06-01"));
    q.per_page = 2;
    q.page = 2;
    let page = db.store.list_accounts(&q).await.unwrap();
    assert_eq!((page.total, page.accounts.len()), (3, 1));
    assert_eq!(page.accounts[0].account_id, "A3");
}


async fn users_sessions_keys_and_audit(db: TestDb) {
    use kizuna_store::{ApiKey, AuditEntry};
    let s = &db.store;
    let user = StaffRow { email: "sato@kizuna.example".into(), name: "佐藤".into(), role: Role::Csm, team_id: None, partner_id: None };
    // A user and its audit entry in a transaction that is dropped: neither is written.
    let mut tx = s.begin().await.unwrap();
    assert!(tx.create_user(&user, "hash-0").await.unwrap());
    tx.audit(AuditEntry { actor: "admin@x", action: "user.create", target: Some(&user.email), detail: serde_json::json!({}) }).await.unwrap();
    drop(tx);
    assert!(s.user_with_hash(&user.email).await.unwrap().is_none());
    assert_eq!(s.audit_log(None, 1, 10).await.unwrap().0, 0);

    let mut tx = s.begin().await.unwrap();
    assert!(tx.create_user(&user, "hash-1").await.unwrap());
    assert!(!tx.create_user(&user, "hash-2").await.unwrap(), "an existing e-mail is not overwritten");
    tx.commit().await.unwrap();
    let (u, hash) = s.user_with_hash("  SATO@kizuna.example ").await.unwrap().unwrap();
    assert_eq!((u.role.as_str(), hash.as_deref()), ("csm", Some("hash-1")));
    let mut tx = s.begin().await.unwrap();
    assert!(tx.set_password("sato@kizuna.example", "hash-3").await.unwrap());
    assert!(tx.set_role("sato@kizuna.example", Role::Partner, Some("P-1")).await.unwrap());
    assert!(!tx.set_role("nobody@kizuna.example", Role::Admin, None).await.unwrap());
    tx.commit().await.unwrap();
    let (u, hash) = s.user_with_hash("sato@kizuna.example").await.unwrap().unwrap();
    assert_eq!((u.role.as_str(), u.partner_id.as_deref(), hash.as_deref()), ("partner", Some("P-1"), Some("hash-3")));

    assert!(s.session_insert("s1", "{}", 100).await.unwrap());
    assert!(!s.session_insert("s1", "{\"x\":1}", 100).await.unwrap(), "ids never collide");
    s.session_save("s1", "{\"y\":2}", 200).await.unwrap();
    assert_eq!(s.session_load("s1", 150).await.unwrap().as_deref(), Some("{\"y\":2}"));
    assert_eq!(s.session_load("s1", 200).await.unwrap(), None, "expired");
    assert!(s.session_insert("s2", "{}", 50).await.unwrap());
    assert_eq!(s.sessions_delete_expired(60).await.unwrap(), 1);
    s.session_delete("s1").await.unwrap();
    assert_eq!(s.session_load("s1", 0).await.unwrap(), None);

    let now = chrono::Utc::now();
    let key = ApiKey {
        key_id: "ab12cd34".into(),
        kind: "read".into(),
        label: "BI".into(),
        partner_id: Some("P-1".into()),
        created_by: "admin@kizuna.example".into(),
        created_at: now,
        revoked_at: None,
        last_used_at: None,
    };
    let mut tx = s.begin().await.unwrap();
    tx.create_api_key(&key, "h-secret").await.unwrap();
    tx.commit().await.unwrap();
    let got = s.api_key_by_hash("h-secret").await.unwrap().unwrap();
    assert_eq!((got.key_id.as_str(), got.partner_id.as_deref(), got.revoked_at), ("ab12cd34", Some("P-1"), None));
    assert!(s.api_key_by_hash("other").await.unwrap().is_none());
    s.touch_api_key("ab12cd34", now).await.unwrap();
    let mut tx = s.begin().await.unwrap();
    assert!(tx.revoke_api_key("ab12cd34", now).await.unwrap());
    assert!(!tx.revoke_api_key("ab12cd34", now).await.unwrap(), "already revoked");
    tx.commit().await.unwrap();
    let keys = s.api_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].revoked_at.is_some() && keys[0].last_used_at.is_some());

    for i in 0..3 {
        let actor = if i == 1 { "b@x" } else { "a@x" };
        s.audit(AuditEntry { actor, action: "note.create", target: Some("A1"), detail: serde_json::json!({ "i": i }) }).await.unwrap();
    }
    let (total, page) = s.audit_log(None, 1, 2).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(page.iter().map(|e| e.detail["i"].as_i64().unwrap()).collect::<Vec<_>>(), [2, 1], "newest first");
    let (total, page) = s.audit_log(Some("a@x"), 2, 1).await.unwrap();
    assert_eq!((total, page[0].detail["i"].as_i64()), (2, Some(0)));
}

async fn list_filters_by_stage(db: TestDb) {
    let mut a = account("A1", "一", "smb", TouchModel::Tech);
    a.lifecycle_stage = Some("onboarding".into());
    let mut b = account("A2", "二", "smb", TouchModel::Tech);
    b.lifecycle_stage = Some("adoption".into());
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[a, b]).await.unwrap();
    tx.commit().await.unwrap();
    let mut q = AccountQuery::new(d("2024-01-01"));
    q.lifecycle_stage = Some("adoption".into());
    let page = db.store.list_accounts(&q).await.unwrap();
    assert_eq!((page.total, page.accounts[0].account_id.as_str()), (1, "A2"));
    let mut q = AccountQuery::new(d("2024-01-01"));
    q.sort = AccountSort::Stage;
    let page = db.store.list_accounts(&q).await.unwrap();
    assert_eq!(page.accounts[0].account_id, "A2", "adoption sorts before onboarding");
    let names = db.store.account_names(&["A1".into(), "A2".into(), "NOPE".into()]).await.unwrap();
    assert_eq!((names["A1"].as_str(), names["A2"].as_str(), names.get("NOPE")), ("一", "二", None));
}

async fn usage_is_attributed_deduplicated_and_rolled_up(db: TestDb) {
    use kizuna_domain::usage::{UsageEvent, UsageMessage};
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&chrono::Utc);
    let event = |id: &str, user: &str, account: Option<&str>, kind: &str, t: &str, value: Option<f64>| {
        UsageMessage::Event(UsageEvent {
            message_id: id.into(),
            user_id: Some(user.into()),
            account_id: account.map(str::to_string),
            event_type: kind.into(),
            at: at(t),
            value,
            properties: serde_json::json!({}),
        })
    };
    let batch = vec![
        UsageMessage::Identify { user_id: "u1".into(), anonymous_id: None, traits: serde_json::json!({"name": "佐藤"}), at: at("2026-11-01T00:00:00Z") },
        event("e1", "u1", None, "login", "2026-11-01T09:00:00Z", None),
        event("e2", "u2", None, "login", "2026-11-01T09:30:00Z", None),
        UsageMessage::Group { user_id: "u1".into(), account_id: "C1".into(), traits: serde_json::json!({}), at: at("2026-11-01T10:00:00Z") },
        event("e3", "u1", None, "report_created", "2026-11-01T11:00:00Z", Some(2.5)),
        event("e4", "u3", Some("C1"), "login", "2026-11-01T12:00:00Z", None),
        event("e5", "u3", Some("C1"), "report_created", "2026-11-02T12:00:00Z", Some(1.0)),
        event("e3", "u1", None, "report_created", "2026-11-01T11:00:00Z", Some(2.5)),
    ];
    let s = db.store.ingest(&batch).await.unwrap();
    assert_eq!((s.events, s.duplicates, s.unattributed, s.attributed, s.identifies, s.groups), (5, 1, 2, 1, 1, 1));
    let day = |d: &str| kizuna_store::testing::date(d);
    let rows = db.store.usage_daily("C1", day("2026-11-01"), day("2026-11-30")).await.unwrap();
    let got: Vec<(String, &str, u64, f64, u64)> = rows.iter().map(|r| (r.day.to_string(), r.event_type.as_str(), r.events, r.value_sum, r.users)).collect();
    assert_eq!(
        got,
        vec![
            ("2026-11-01".into(), "login", 2, 0.0, 2),
            ("2026-11-01".into(), "report_created", 1, 2.5, 1),
            ("2026-11-02".into(), "report_created", 1, 1.0, 1),
        ],
        "e1 attributed by the group, e2 waits for u2's group"
    );
    // A retried batch changes nothing; u2's group later attributes e2.
    let again = db.store.ingest(&batch).await.unwrap();
    assert_eq!((again.events, again.duplicates), (0, 6));
    let later = db.store.ingest(&[UsageMessage::Group { user_id: "u2".into(), account_id: "C1".into(), traits: serde_json::json!({}), at: at("2026-11-03T00:00:00Z") }]).await.unwrap();
    assert_eq!(later.attributed, 1);
    let rows = db.store.usage_daily("C1", day("2026-11-01"), day("2026-11-01")).await.unwrap();
    assert_eq!((rows[0].events, rows[0].users), (3, 3));
    // One message sent waiting for its user's group and again with its account: when the user is
    // grouped, the attributed copy stays and the waiting one is a duplicate.
    let e6 = |account| event("e6", "u4", account, "login", "2026-11-04T09:00:00Z", None);
    assert_eq!(db.store.ingest(&[e6(None)]).await.unwrap().unattributed, 1);
    assert_eq!(db.store.ingest(&[e6(Some("C1"))]).await.unwrap().events, 1);
    let group_u4 = UsageMessage::Group { user_id: "u4".into(), account_id: "C1".into(), traits: serde_json::json!({}), at: at("2026-11-05T00:00:00Z") };
    let grouped = db.store.ingest(&[group_u4]).await.unwrap();
    assert_eq!((grouped.attributed, grouped.duplicates), (0, 1));
    let rows = db.store.usage_daily("C1", day("2026-11-04"), day("2026-11-04")).await.unwrap();
    assert_eq!((rows[0].events, rows[0].users), (1, 1), "counted once");
    assert_eq!(db.store.ingest(&[e6(None)]).await.unwrap().duplicates, 1, "u4 is grouped now: a retry finds C1's copy");
    assert!(db.store.usage_message_counts().await.unwrap().iter().all(|(_, n)| *n == 1));
    assert_eq!(db.store.usage_message_counts().await.unwrap().len(), 6);
    assert!(db.store.get_account("C1", day("2026-11-01")).await.unwrap().is_some(), "accounts named by usage exist");
}

/// The browser's flow: pages before sign-in under an anonymous id, then an identify carrying
/// both ids, then the group: the anonymous pages go to the account too. An alias after the
/// user is grouped moves the old id's events at once; a later event of a linked id lands there.
async fn anonymous_ids_follow_their_user(db: TestDb) {
    use kizuna_domain::usage::{UsageEvent, UsageMessage};
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&chrono::Utc);
    let page = |id: &str, user: &str, t: &str| {
        UsageMessage::Event(UsageEvent { message_id: id.into(), user_id: Some(user.into()), account_id: None, event_type: "page".into(), at: at(t), value: None, properties: serde_json::json!({}) })
    };
    let first = vec![
        page("p1", "anon-1", "2026-11-01T09:00:00Z"),
        page("p2", "anon-1", "2026-11-01T09:01:00Z"),
        UsageMessage::Identify { user_id: "u1".into(), anonymous_id: Some("anon-1".into()), traits: serde_json::json!({}), at: at("2026-11-01T09:02:00Z") },
    ];
    let s = db.store.ingest(&first).await.unwrap();
    assert_eq!((s.unattributed, s.aliases), (2, 1), "nobody is grouped yet");
    let group = UsageMessage::Group { user_id: "u1".into(), account_id: "C1".into(), traits: serde_json::json!({}), at: at("2026-11-01T09:03:00Z") };
    let s = db.store.ingest(&[group]).await.unwrap();
    assert_eq!(s.attributed, 2, "the anonymous pages follow their user");
    assert_eq!(db.store.usage_user_account("anon-1").await.unwrap().as_deref(), Some("C1"));
    // Already grouped: an alias attributes the old id's waiting events at once.
    let s = db.store.ingest(&[page("p3", "old-7", "2026-11-02T09:00:00Z"), UsageMessage::Alias { previous_id: "old-7".into(), user_id: "u1".into(), at: at("2026-11-02T09:05:00Z") }]).await.unwrap();
    assert_eq!((s.unattributed, s.attributed, s.aliases), (1, 1, 1));
    assert_eq!(db.store.ingest(&[page("p4", "anon-1", "2026-11-02T10:00:00Z")]).await.unwrap().unattributed, 0, "a linked id's later event has its account");
    let day = kizuna_store::testing::date;
    let rows = db.store.usage_daily("C1", day("2026-11-01"), day("2026-11-02")).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.events).sum::<u64>(), 4);
}

/// A group commit writes several requests' events in shared inserts; each request still gets
/// its own counts, and a group in a later request attributes an earlier request's waiting event.
async fn group_commit_counts_each_request(db: TestDb) {
    use kizuna_domain::usage::UsageMessage;
    use kizuna_store::testing::{date, usage_event};
    let day = date("2026-11-02");
    let unattributed = |id: &str| {
        let mut m = usage_event(id.into(), "", "w1", "login", day);
        if let UsageMessage::Event(e) = &mut m {
            e.account_id = None;
        }
        m
    };
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-03T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let first = vec![usage_event("g1".into(), "G1", "a", "login", day), usage_event("g2".into(), "G1", "b", "login", day), unattributed("g3")];
    let second = vec![
        usage_event("g1".into(), "G1", "a", "login", day),
        usage_event("g4".into(), "G1", "a", "export", day),
        UsageMessage::Group { user_id: "w1".into(), account_id: "G1".into(), traits: serde_json::json!({}), at },
    ];
    let third = vec![usage_event("g5".into(), "G2", "c", "login", day), usage_event("g5".into(), "G2", "c", "login", day)];
    let got = db.store.ingest_many(&[first, second, third]).await.unwrap();
    let counts: Vec<_> = got.iter().map(|s| (s.events, s.duplicates, s.unattributed, s.attributed, s.groups)).collect();
    assert_eq!(counts, vec![(3, 0, 1, 0, 0), (1, 1, 0, 1, 1), (1, 1, 0, 0, 0)], "g1 again and g5 twice are duplicates of their own request");
    let rows = db.store.usage_daily("G1", day, day).await.unwrap();
    let got: Vec<_> = rows.iter().map(|r| (r.event_type.as_str(), r.events, r.users)).collect();
    assert_eq!(got, vec![("export", 1, 1), ("login", 3, 3)], "g1, g2 and the attributed g3; users a, b, w1");
}

/// A group commit first writes as if no event had been stored before; an event that was makes
/// it start again counting which, and only that one is a duplicate.
async fn group_commit_finds_events_stored_before(db: TestDb) {
    use kizuna_store::testing::{date, usage_event};
    let day = date("2026-11-02");
    let ev = |id: &str, user: &str| usage_event(id.into(), "R1", user, "login", day);
    let stored = db.store.ingest(&[ev("r1", "a"), ev("r2", "b")]).await.unwrap();
    assert_eq!((stored.events, stored.duplicates), (2, 0));
    let got = db.store.ingest_many(&[vec![ev("r3", "c")], vec![ev("r4", "d"), ev("r2", "b")], vec![ev("r5", "e")]]).await.unwrap();
    let counts: Vec<_> = got.iter().map(|s| (s.events, s.duplicates)).collect();
    assert_eq!(counts, vec![(1, 0), (1, 1), (1, 0)], "r2 was stored by the earlier commit");
    let after = db.store.ingest_many(&[vec![ev("r6", "f")]]).await.unwrap();
    assert_eq!((after[0].events, after[0].duplicates), (1, 0), "the next commit writes as before");
    let rows = db.store.usage_daily("R1", day, day).await.unwrap();
    let got: Vec<_> = rows.iter().map(|r| (r.events, r.users)).collect();
    assert_eq!(got, vec![(6, 6)], "r1..r6 once each, users a..f");
    let counts = db.store.usage_message_counts().await.unwrap();
    assert!(counts.iter().all(|(_, n)| *n == 1), "{counts:?}");
}

/// A request larger than one round of inserts (and than the event types whose text the rollup
/// shares): several rounds of pipelined inserts, repeats across them recognised, the rollup
/// added up over all of them.
async fn large_request_is_written_in_rounds(db: TestDb) {
    use kizuna_domain::usage::UsageMessage;
    use kizuna_store::testing::{date, usage_event};
    let (first, second) = (date("2026-11-01"), date("2026-11-02"));
    let messages: Vec<UsageMessage> = (0..33_000u32)
        .map(|n| {
            // Every thousandth event repeats the one 600 before it (same account: 600 % 3 == 0).
            let id = if n % 1000 == 999 { n - 600 } else { n };
            let day = if n % 2 == 0 { first } else { second };
            usage_event(format!("big-{id}"), &format!("L{}", n % 3), &format!("u{}", n % 11), &format!("k{}", n % 70), day)
        })
        .collect();
    let got = db.store.ingest(&messages).await.unwrap();
    assert_eq!((got.events, got.duplicates), (32_967, 33), "n = 999, 1999, ..., 32999 repeat earlier events");
    let rows = db.store.usage_daily("L0", first, second).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.events).sum::<u64>(), 10_989, "11,000 events of L0, 11 of them repeats (n = 999 + 3000k)");
    let k0 = rows.iter().find(|r| r.day == first && r.event_type == "k0").unwrap();
    // n = 0, 210, ..., 32970: 158 events by users u(n % 11) = u(k % 11) for k = 0..=157, all 11.
    assert_eq!((k0.events, k0.users), (158, 11));
    let counts = db.store.usage_message_counts().await.unwrap();
    assert_eq!(counts.len(), 32_967);
    assert!(counts.iter().all(|(_, n)| *n == 1));
}

both_engines!(
    usage_is_attributed_deduplicated_and_rolled_up,
    anonymous_ids_follow_their_user,
    large_request_is_written_in_rounds,
    group_commit_counts_each_request,
    group_commit_finds_events_stored_before,
    users_sessions_keys_and_audit,
    list_filters_by_stage,
    upsert_keeps_unsent_fields_and_merges_attributes,
    partner_accounts_are_created_never_taken,
    abutting_periods_collapse_into_one_change,
    reimported_subscription_keeps_empty_cells,
    dropped_transaction_leaves_nothing,
    reimport_is_idempotent,
    list_filters_sorts_and_pages,
);

/// Imports 5,000 events of 50 accounts in one bulk transaction.
async fn bulk_import(store: &dyn kizuna_store::Store, tag: &str) {
    use kizuna_store::testing::usage_event;
    let events: Vec<_> = (0..5000).map(|n| usage_event(format!("{tag}-{n}"), &format!("A{}", n % 50), "u1", "login", d("2026-11-01"))).collect();
    let mut tx = store.begin().await.unwrap();
    tx.ingest_usage(&events).await.unwrap();
    tx.commit().await.unwrap();
}

async fn journal_mode(url: &str) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut conn).await.unwrap()
}

/// SQLite only: a store opened alone writes a bulk transaction through a rollback journal (the
/// WAL gets no page) and leaves the file in WAL mode; while another connection has the file
/// open, it keeps the WAL. Either way the rows are all there.
#[tokio::test]
async fn sqlite_store_opened_alone_writes_bulk_transactions_without_the_wal() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("alone.db").display());
    let wal_size = || std::fs::metadata(dir.path().join("alone.db-wal")).map(|m| m.len()).unwrap_or(0);

    let store = kizuna_store::open_alone(&url).await.unwrap();
    bulk_import(store.as_ref(), "a").await;
    assert_eq!(wal_size(), 0, "pages went through the rollback journal");
    let rows = store.usage_daily("A7", d("2026-11-01"), d("2026-11-01")).await.unwrap();
    assert_eq!((rows.len(), rows[0].events, rows[0].users), (1, 100, 1));
    drop(store);
    assert_eq!(journal_mode(&url).await, "wal", "the file is back in WAL mode");

    let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts").fetch_one(&mut other).await.unwrap();
    let store = kizuna_store::open_alone(&url).await.unwrap();
    bulk_import(store.as_ref(), "b").await;
    assert!(wal_size() > 0, "another connection had the file open: the WAL stays");
    let rows = store.usage_daily("A7", d("2026-11-01"), d("2026-11-01")).await.unwrap();
    assert_eq!(rows[0].events, 200);
    other.close().await.unwrap();
}
