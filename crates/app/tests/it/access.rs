//! Permissions are checked once, in `kizuna_app::App`: every use case refuses an actor whose
//! role does not allow it, an API key that would write, and a partner outside its accounts,
//! whichever edge (CLI, API, page) calls it.

use kizuna_app::accounts::NewActivity;
use kizuna_app::requests::{AccountListRequest, AuditRequest, RangeRequest};
use kizuna_app::users::{NewUser, UserChange, UserError};
use kizuna_app::{Actor, App, AppError, Denied, Report};
use kizuna_domain::access::KeyKind;
use kizuna_domain::{AccountRow, Role};
use kizuna_store::both_engines;
use kizuna_store::testing::{date, subscription, TestDb};

const PASSWORD: &str = "vermilion-otter-climbs-47-ladders";

fn actor(id: &str, role: Role, partner: Option<&str>, via_key: bool) -> Actor {
    Actor { id: id.into(), name: id.into(), role, partner_id: partner.map(str::to_string), via_key }
}

/// A1 belongs to partner P1, B1 to P2; both pay from 2024-01-01. Users: a CSM, a manager and
/// a partner user of P1.
async fn seed(db: &TestDb) {
    let acc = |id: &str, partner: &str| AccountRow { account_id: id.into(), partner_id: Some(partner.into()), ..Default::default() };
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[acc("A1", "P1"), acc("B1", "P2")]).await.unwrap();
    tx.upsert_subscriptions(&[subscription("A1", "core", "2024-01-01", None, 100_000), subscription("B1", "core", "2024-01-01", None, 50_000)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let operator = Actor::operator();
    let app = App::new(db.store.as_ref(), &operator);
    for (email, role, partner) in [("csm@x.jp", Role::Csm, None), ("mgr@x.jp", Role::Manager, None), ("p1@x.jp", Role::Partner, Some("P1"))] {
        let u = NewUser { email: email.into(), name: None, role, team_id: None, partner_id: partner.map(str::to_string), password: PASSWORD.into() };
        app.create_user(u).await.unwrap();
    }
}

fn denied<T: std::fmt::Debug>(r: Result<T, AppError>) -> Denied {
    match r {
        Err(AppError::Denied(d)) => d,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn activity() -> NewActivity {
    NewActivity { kind: "note".into(), subject: Some("Kick-off".into()), body: None, occurred_at: Some("2024-02-01".into()), attendees: None, next_steps: None, visibility: None }
}

async fn roles_keys_and_partners_are_checked_in_the_use_cases(db: TestDb) {
    seed(&db).await;
    let store = db.store.as_ref();
    let range = RangeRequest { from: Some("2024-01-01".into()), to: Some("2024-03-31".into()), at: Some("2024-06-30".into()), ..Default::default() };
    let all = AccountListRequest { on: Some("2024-02-01".into()), ..Default::default() };

    // A viewer reads figures and accounts, and changes nothing.
    let viewer = actor("v@x.jp", Role::Viewer, None, false);
    let app = App::new(store, &viewer);
    assert!(app.report(Report::Retention, &range).await.is_ok());
    assert_eq!(app.accounts(&all).await.unwrap().total, 2);
    assert_eq!(denied(app.add_activity("A1", activity()).await), Denied::Role(Role::Viewer));
    assert_eq!(denied(app.save_scenario("fy", kizuna_domain::planning::scenario::EXAMPLE).await), Denied::Role(Role::Viewer));
    assert_eq!(denied(app.score(date("2024-06-30")).await), Denied::Role(Role::Viewer));
    assert_eq!(denied(app.audit_log(&AuditRequest::default()).await), Denied::Role(Role::Viewer));
    assert_eq!(denied(app.keys().await), Denied::Role(Role::Viewer));

    // A key stands for a role but only reads.
    let key = actor("key:abcd1234", Role::Csm, None, true);
    let app = App::new(store, &key);
    assert!(app.account("A1", date("2024-02-01"), 50).await.is_ok());
    assert_eq!(denied(app.add_activity("A1", activity()).await), Denied::KeyReadOnly);

    // A partner sees its own accounts only; the others do not exist for it.
    let partner = actor("p1@x.jp", Role::Partner, Some("P1"), false);
    let app = App::new(store, &partner);
    let page = app.accounts(&all).await.unwrap();
    assert_eq!(page.accounts.iter().map(|a| a.account.account_id.as_str()).collect::<Vec<_>>(), vec!["A1"]);
    let other_partner = AccountListRequest { partner: Some("P2".into()), ..all.clone() };
    assert_eq!(app.accounts(&other_partner).await.unwrap().accounts[0].account.account_id, "A1", "the partner filter cannot widen the scope");
    assert!(matches!(app.account("B1", date("2024-02-01"), 50).await, Err(AppError::AccountNotFound(id)) if id == "B1"));
    assert!(matches!(app.add_activity("B1", activity()).await, Err(AppError::AccountNotFound(_))));
    assert!(matches!(app.explain("B1", date("2024-02-01")).await, Err(AppError::AccountNotFound(_))));
    assert!(matches!(app.usage_metrics(date("2024-02-01"), Some("B1")).await, Err(AppError::AccountNotFound(_))));
    assert_eq!(denied(app.usage_metrics(date("2024-02-01"), None).await), Denied::Role(Role::Partner));
    assert_eq!(denied(app.report(Report::Retention, &range).await), Denied::Role(Role::Partner));
    assert_eq!(app.export_accounts(&all, serde_json::json!({})).await.unwrap().len(), 1);
    let (owners, partners) = app.filter_choices().await.unwrap();
    let owners: Vec<String> = owners.into_iter().map(|(email, _)| email).collect();
    assert_eq!((owners, partners.len()), (vec!["p1@x.jp".to_string()], 0), "a partner sees its own users, never the staff's addresses");
    let row = app.add_activity("A1", activity()).await.unwrap();
    assert_eq!(row.author_email.as_deref(), Some("p1@x.jp"));
    let logged: Vec<_> = store.events_after(0, 100).await.unwrap().into_iter().filter(|e| e.kind == "activity.logged").collect();
    assert_eq!(logged.len(), 1, "the refused attempts raised nothing");
    assert_eq!((logged[0].account_id.as_deref(), logged[0].payload["activity_id"].as_str()), (Some("A1"), Some(row.activity_id.as_str())));

    // Internally, the owner filter offers CSMs and managers.
    let csm = actor("csm@x.jp", Role::Csm, None, false);
    let (owners, _) = App::new(store, &csm).filter_choices().await.unwrap();
    let owners: Vec<String> = owners.into_iter().map(|(email, _)| email).collect();
    assert_eq!(owners, vec!["csm@x.jp".to_string(), "mgr@x.jp".to_string()]);

    // An admin's changes are checked and audited by the use case itself.
    let admin = actor("admin@x.jp", Role::Admin, None, false);
    let app = App::new(store, &admin);
    // Runs that record a day refuse a day to come (it would hold the daily job back).
    let tomorrow = kizuna_app::today() + chrono::Duration::days(1);
    assert!(matches!(app.score(tomorrow).await, Err(AppError::Param(p)) if p.name == "at"));
    assert!(matches!(app.run_signals(tomorrow).await, Err(AppError::Param(_))));
    assert!(matches!(app.run_onboarding(tomorrow).await, Err(AppError::Param(_))));
    let (secret, k) = app.create_key(KeyKind::Read, None, Some("P1".into())).await.unwrap();
    assert!(secret.starts_with("kz_read_"));
    assert!(matches!(app.revoke_key("nope").await, Err(AppError::NoKey(id)) if id == "nope"));
    app.revoke_key(&k.key_id).await.unwrap();
    let to_partner = UserChange { email: "csm@x.jp".into(), role: Some((Role::Partner, None)), password: None };
    assert!(matches!(app.change_user(to_partner).await, Err(AppError::User(UserError::PartnerNeeded))));
    let demote = UserChange { email: "admin@x.jp".into(), role: Some((Role::Csm, None)), password: None };
    assert!(matches!(app.change_user(demote).await, Err(AppError::User(UserError::SelfDemote))));
    assert!(matches!(app.set_user_active("ADMIN@x.jp", false).await, Err(AppError::User(UserError::SelfDeactivate))));
    assert_eq!(app.set_user_active("mgr@x.jp", false).await.unwrap(), Some(0));
    let log = app.audit_log(&AuditRequest { per_page: Some("5".into()), ..Default::default() }).await.unwrap();
    let seen: Vec<(&str, &str, Option<&str>)> = log.entries.iter().map(|e| (e.actor.as_str(), e.action.as_str(), e.target.as_deref())).collect();
    assert_eq!(
        seen,
        vec![
            ("admin@x.jp", "user.deactivate", Some("mgr@x.jp")),
            ("admin@x.jp", "key.revoke", Some(k.key_id.as_str())),
            ("admin@x.jp", "key.create", Some(k.key_id.as_str())),
            ("p1@x.jp", "activity.create", Some("A1")),
            ("p1@x.jp", "accounts.export", None),
        ]
    );
    assert_eq!((log.total, log.per_page), (8, 5));
}

both_engines!(roles_keys_and_partners_are_checked_in_the_use_cases);
