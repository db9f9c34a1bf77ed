//! The account list for daily work, on both engines: search that folds widths and spaces
//! through the trigram index, active and churned accounts as of a day, unscored accounts last
//! whichever way health sorts, what the list shows beside each account, and saved views.

use kizuna_domain::*;
use kizuna_store::testing::{date as d, subscription, usage_event, TestDb};
use kizuna_store::{both_engines, AccountQuery, AccountSort, AccountStatus, HealthRow, SavedView};

fn named(id: &str, name: Option<&str>) -> AccountRow {
    AccountRow { account_id: id.into(), name: name.map(Into::into), ..Default::default() }
}

async fn ids(db: &TestDb, q: &AccountQuery) -> Vec<String> {
    db.store.list_accounts(q).await.unwrap().accounts.into_iter().map(|a| a.account_id).collect()
}

fn search(text: &str) -> AccountQuery {
    let mut q = AccountQuery::new(d("2026-06-01"));
    q.search = Some(text.into());
    q
}

async fn search_folds_widths_and_spaces(db: TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[
        named("A1", Some("株式会社 ヤマダ商事")),
        named("A2", Some("ＡＢＣ　Ｔｒａｄｉｎｇ")),
        named("A3", Some("100% Design")),
        named("A4", Some("山田工業")),
    ])
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // An account created by usage has only its id.
    let mut tx = db.store.begin().await.unwrap();
    tx.ingest_usage(&[usage_event("m1".into(), "usr-XYZ-9", "u1", "login", d("2026-05-01"))]).await.unwrap();
    tx.commit().await.unwrap();

    for (typed, expected) in [
        ("ﾔﾏﾀﾞ", vec!["A1"]),                 // half-width katakana finds full-width
        ("株式会社ヤマダ", vec!["A1"]),       // no space finds the name with one
        ("ヤマダ 商事", vec!["A1"]),          // a space typed where the name has none
        ("abc trading", vec!["A2"]),          // full-width letters and an ideographic space
        ("ＡＢＣ", vec!["A2"]),
        ("xyz-9", vec!["usr-XYZ-9"]),         // by id, with no name
        ("山田", vec!["A4"]),                 // two characters: read without the index
        ("0%", vec!["A3"]),                   // a % typed is a %, not a wildcard
        ("%", vec!["A3"]),
        ("_", vec![]),
        ("商事山田", vec![]),
    ] {
        assert_eq!(ids(&db, &search(typed)).await, expected, "search {typed:?}");
    }

    // Renamed: the old name is gone from the index, the new one found.
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[named("A1", Some("ヤマト運輸"))]).await.unwrap();
    tx.commit().await.unwrap();
    assert!(ids(&db, &search("ヤマダ商事")).await.is_empty());
    assert_eq!(ids(&db, &search("ﾔﾏﾄ")).await, vec!["A1"]);
    // A row without a name keeps the key it has.
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[named("A1", None)]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ids(&db, &search("ヤマト運輸")).await, vec!["A1"]);
}

async fn active_and_churned_as_of_a_day(db: TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[named("A1", Some("Paying")), named("A2", Some("Churned")), named("A3", Some("Prospect")), named("A4", Some("Ends later"))])
        .await
        .unwrap();
    tx.upsert_subscriptions(&[
        subscription("A1", "core", "2025-01-01", None, 1000),
        subscription("A2", "core", "2025-01-01", Some("2026-03-01"), 1000),
        subscription("A4", "core", "2025-01-01", Some("2026-09-01"), 1000),
    ])
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let on = |day: &str, status| {
        let mut q = AccountQuery::new(d(day));
        q.status = status;
        q
    };
    assert_eq!(ids(&db, &on("2026-06-01", AccountStatus::Active)).await, vec!["A1", "A3", "A4"], "a future end is not churn yet");
    assert_eq!(ids(&db, &on("2026-06-01", AccountStatus::Churned)).await, vec!["A2"]);
    assert_eq!(ids(&db, &on("2026-06-01", AccountStatus::All)).await, vec!["A1", "A2", "A3", "A4"]);
    assert_eq!(ids(&db, &on("2026-10-01", AccountStatus::Churned)).await, vec!["A2", "A4"]);
    assert_eq!(ids(&db, &on("2026-02-01", AccountStatus::Churned)).await, Vec::<String>::new(), "before its end A2 was paying");
    assert_eq!(db.store.list_accounts(&on("2026-06-01", AccountStatus::Active)).await.unwrap().total, 3);
}

/// Accounts that stop paying, come back, and stop again: the list reads one stop from its
/// indexed day, and sums the changes of an account that came back.
async fn churn_follows_comebacks_and_reimports(db: TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[named("B1", Some("Came back")), named("B2", Some("Left twice")), named("B3", Some("Left once"))]).await.unwrap();
    tx.upsert_subscriptions(&[
        subscription("B1", "core", "2025-01-01", Some("2025-06-01"), 1000),
        subscription("B1", "core", "2025-09-01", None, 1000),
        subscription("B2", "core", "2025-01-01", Some("2025-03-01"), 1000),
        subscription("B2", "core", "2025-05-01", Some("2025-08-01"), 1000),
        subscription("B3", "core", "2025-01-01", Some("2026-03-01"), 1000),
    ])
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let churned = |day: &str| {
        let mut q = AccountQuery::new(d(day));
        q.status = AccountStatus::Churned;
        q
    };
    assert_eq!(ids(&db, &churned("2024-12-01")).await, Vec::<String>::new(), "before anyone paid");
    assert_eq!(ids(&db, &churned("2025-04-01")).await, vec!["B2"], "B2's first stop");
    assert_eq!(ids(&db, &churned("2025-06-15")).await, vec!["B1"], "B2 is back, B1 stopped");
    assert_eq!(ids(&db, &churned("2025-10-01")).await, vec!["B2"], "B1 is back, B2 stopped again");
    assert_eq!(ids(&db, &churned("2026-06-01")).await, vec!["B2", "B3"]);
    // B3 comes back in a later import: it is active from its new start, churned before it.
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_subscriptions(&[subscription("B3", "core", "2026-05-01", None, 2000)]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ids(&db, &churned("2026-06-01")).await, vec!["B2"]);
    assert_eq!(ids(&db, &churned("2026-04-01")).await, vec!["B2", "B3"]);
    let mut active = AccountQuery::new(d("2026-06-01"));
    active.status = AccountStatus::Active;
    assert_eq!(db.store.list_accounts(&active).await.unwrap().total, 2);
}

async fn unscored_accounts_sort_last_both_ways(db: TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[named("A1", None), named("A2", None), named("A3", None)]).await.unwrap();
    tx.commit().await.unwrap();
    let row = |a: &str, score: f64| HealthRow {
        account_id: a.into(),
        scored_on: d("2026-05-01"),
        scorecard: "default".into(),
        score: Some(score),
        band: Some("green".into()),
        grade: None,
        previous_score: None,
        detail: "{}".into(),
    };
    db.store.save_health(&[row("A1", 40.0), row("A3", 80.0)]).await.unwrap();
    let mut q = AccountQuery::new(d("2026-06-01"));
    q.sort = AccountSort::Health;
    assert_eq!(ids(&db, &q).await, vec!["A1", "A3", "A2"]);
    q.descending = true;
    assert_eq!(ids(&db, &q).await, vec!["A3", "A1", "A2"]);
}

async fn glances_of_a_page(db: TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[named("A1", None), named("A2", None)]).await.unwrap();
    let mut annual = subscription("A1", "core", "2025-07-01", None, 1000);
    annual.bill_period_months = Some(12);
    tx.upsert_subscriptions(&[annual]).await.unwrap();
    let note = |id: &str, kind: ActivityKind, at: &str| ActivityRow {
        attendees: None,
        next_steps: None,
        internal: false,
        account_id: "A1".into(),
        activity_id: id.into(),
        kind,
        occurred_at: kizuna_domain::time::start_of_day(d(at)),
        author_email: None,
        subject: Some("x".into()),
        body: None,
    };
    tx.upsert_activities(&[
        note("n1", ActivityKind::Meeting, "2026-05-20"),
        note("n2", ActivityKind::SupportTicket, "2026-05-28"),
        note("n3", ActivityKind::Call, "2026-07-01"),
    ])
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // An integration's nightly sync, sent without a user, is nobody's login.
    let sync = |id: &str, account: &str| {
        let mut m = usage_event(id.into(), account, "", "api_sync", d("2026-05-30"));
        if let kizuna_domain::usage::UsageMessage::Event(e) = &mut m {
            e.user_id = None;
        }
        m
    };
    let mut tx = db.store.begin().await.unwrap();
    tx.ingest_usage(&[
        usage_event("e1".into(), "A1", "u1", "login", d("2026-05-25")),
        usage_event("e2".into(), "A1", "u1", "login", d("2026-06-10")),
        sync("s1", "A1"),
        sync("s2", "A2"),
    ])
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let g = db.store.account_glances(&["A1".into(), "A2".into()], d("2026-06-01")).await.unwrap();
    assert_eq!(g.terms.len(), 1);
    assert_eq!(g.last_contact.get("A1").map(|t| kizuna_domain::time::local_day(*t)), Some(d("2026-05-20")), "not the ticket, not the future call");
    assert_eq!(g.last_active.get("A1"), Some(&d("2026-05-25")), "not a day after the list's, nor the sync's day");
    assert!(!g.last_active.contains_key("A2") && !g.last_contact.contains_key("A2"));
    assert!(g.open_ctas.is_empty());
}

async fn saved_views_are_per_user(db: TestDb) {
    let view = |user: &str, id: &str, name: &str| SavedView {
        view_id: id.into(),
        user_email: user.into(),
        name: name.into(),
        query: "health=red&status=active".into(),
        created_at: 1,
    };
    let mut tx = db.store.begin().await.unwrap();
    tx.save_view(&view("a@x", "v1", "赤の顧客")).await.unwrap();
    tx.save_view(&view("b@x", "v2", "Mine")).await.unwrap();
    tx.save_view(&view("a@x", "v1", "赤い顧客")).await.unwrap();
    tx.commit().await.unwrap();
    let names: Vec<String> = db.store.saved_views("a@x").await.unwrap().into_iter().map(|v| v.name).collect();
    assert_eq!(names, vec!["赤い顧客"]);
    let mut tx = db.store.begin().await.unwrap();
    assert!(!tx.delete_view("a@x", "v2").await.unwrap(), "another user's view is not deleted");
    assert!(tx.delete_view("b@x", "v2").await.unwrap());
    tx.commit().await.unwrap();
    assert!(db.store.saved_views("b@x").await.unwrap().is_empty());
}

both_engines!(
    search_folds_widths_and_spaces,
    active_and_churned_as_of_a_day,
    churn_follows_comebacks_and_reimports,
    unscored_accounts_sort_last_both_ways,
    glances_of_a_page,
    saved_views_are_per_user,
);
