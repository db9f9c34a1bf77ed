//! CTAs end to end on both engines: opened by hand with the playbook's tasks, worked (snooze,
//! tasks, comments, owner and due date), closed with an outcome, each change audited and raised
//! as an event; partners see only their accounts' CTAs; the daily signals open each CTA once,
//! keep a closed renewal closed and wake a snoozed CTA on its date.

use kizuna_app::ctas::{CtaChange, CtaError, NewCta, TaskChange};
use kizuna_app::signals::run_daily;
use kizuna_app::{Actor, App, AppError, Denied};
use kizuna_domain::ctas::{CtaStatus, Outcome, Source};
use kizuna_domain::{AccountRow, Role, TouchModel};
use kizuna_store::both_engines;
use kizuna_store::testing::{date, subscription, TestDb};
use kizuna_store::{HealthRow, Store};
use std::collections::HashMap;

fn actor(id: &str, role: Role, partner: Option<&str>) -> Actor {
    Actor { id: id.into(), name: id.into(), role, partner_id: partner.map(Into::into), via_key: false }
}

async fn seed(db: &TestDb) {
    let account = |id: &str, touch: TouchModel, partner: &str| AccountRow {
        account_id: id.into(),
        name: Some(format!("{id} 株式会社")),
        touch_model: Some(touch),
        owner_email: Some("csm@kizuna.example".into()),
        partner_id: Some(partner.into()),
        ..Default::default()
    };
    let mut annual = subscription("A1", "core", "2026-01-01", Some("2027-01-01"), 100_000);
    annual.bill_period_months = Some(12);
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[account("A1", TouchModel::High, "P1"), account("A2", TouchModel::Tech, "P2")]).await.unwrap();
    tx.upsert_subscriptions(&[annual, subscription("A2", "core", "2026-06-01", None, 30_000)]).await.unwrap();
    tx.commit().await.unwrap();
}

fn lookup(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn kinds_after(store: &dyn Store, seq: i64) -> Vec<String> {
    store.events_after(seq, 1000).await.unwrap().into_iter().filter(|e| e.kind.starts_with("cta.")).map(|e| e.kind).collect()
}

async fn ctas_are_opened_worked_and_closed(db: TestDb) {
    seed(&db).await;
    let s = db.store.as_ref();
    let csm = actor("csm@kizuna.example", Role::Csm, None);
    let app = App::new(s, &csm);
    let new = || NewCta { account_id: "A1".into(), cta_type: "risk".into(), reason: "other".into(), title: Some("競合の提案あり".into()), ..Default::default() };
    let cta = app.create_cta(new()).await.unwrap();
    assert_eq!((cta.status, cta.source, cta.owner_email.as_deref()), (CtaStatus::Open, Source::Manual, Some("csm@kizuna.example")));
    assert_eq!(cta.tasks.len(), 2, "the risk playbook: {:?}", cta.tasks);
    assert!(matches!(app.create_cta(new()).await, Err(AppError::Cta(CtaError::AlreadyOpen { .. }))), "one open per account, type and reason");
    let unknown = NewCta { reason: "nope".into(), ..new() };
    assert!(matches!(app.create_cta(unknown).await, Err(AppError::Cta(CtaError::UnknownReason(..)))));

    let id = cta.cta_id.as_str();
    let snooze = CtaChange { status: Some("snoozed".into()), snoozed_until: Some("2099-01-05".into()), snooze_reason: Some("担当者が休暇中".into()), ..Default::default() };
    let snoozed = app.update_cta(id, snooze).await.unwrap();
    assert_eq!((snoozed.status, snoozed.snooze_reason.as_deref()), (CtaStatus::Snoozed, Some("担当者が休暇中")));
    let done = CtaChange { status: Some("in_progress".into()), tasks: vec![TaskChange { task_id: 1, done: true }], ..Default::default() };
    let worked = app.update_cta(id, done).await.unwrap();
    assert!(worked.tasks[0].done && worked.tasks[0].done_by.as_deref() == Some("csm@kizuna.example"));
    assert_eq!(worked.snoozed_until, None, "back in progress: no snooze");
    app.comment_cta(id, "先方と電話。来週デモ。\n次回: 12/10", None).await.unwrap();
    app.comment_cta(id, "代理店と共有: 来週デモ", Some("shared")).await.unwrap();
    let close = CtaChange { status: Some("closed".into()), outcome: Some("success".into()), close_note: Some("解約回避".into()), ..Default::default() };
    let closed = app.update_cta(id, close).await.unwrap();
    assert_eq!((closed.status, closed.outcome), (CtaStatus::Closed, Some(Outcome::Success)));

    let detail = app.cta(id).await.unwrap();
    assert_eq!(detail.comments.len(), 2);
    assert_eq!((detail.comments[0].internal, detail.comments[1].internal), (true, false), "staff's comments are internal unless shared");
    assert_eq!(detail.comments[0].body, "先方と電話。来週デモ。\n次回: 12/10", "line breaks kept");
    assert_eq!((detail.cta.status, detail.cta.tasks.len()), (CtaStatus::Closed, 2));
    assert_eq!(app.ctas(&lookup(&[])).await.unwrap().total, 0, "closed ones are not active");
    assert_eq!(app.ctas(&lookup(&[("status", "closed"), ("owner", "me")])).await.unwrap().total, 1);
    let again = app.create_cta(new()).await.unwrap();
    assert_ne!(again.cta_id, cta.cta_id, "closed: a new one may open");

    // Each change is on the account's timeline (opened, snoozed, started, a comment, closed,
    // opened again), and none of it is contact with the customer.
    let timeline: Vec<String> = s.activities("A1", 50, true).await.unwrap().into_iter().filter(|a| a.activity_id.starts_with("cta-log-")).filter_map(|a| a.subject).collect();
    assert_eq!(timeline.len(), 7, "{timeline:?}");
    assert!(timeline.iter().any(|t| t.contains("closed (success)") && t.contains("完了（成功）")), "{timeline:?}");
    assert!(timeline.iter().any(|t| t.contains("snoozed until 2099-01-05")), "{timeline:?}");
    let shared = s.activities("A1", 50, false).await.unwrap().into_iter().filter(|a| a.activity_id.starts_with("cta-log-")).count();
    assert_eq!(shared, 6, "the internal comment's line is the team's only; the shared one's is the partner's too");
    let today = kizuna_app::today();
    let touch = s.activity_summary(today, today, Some("A1")).await.unwrap();
    assert!(touch.iter().all(|t| t.last_touch.is_none()), "Kizuna's own lines are not contact: {touch:?}");

    let (_, log) = s.audit_log(None, 1, 50).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).filter(|a| a.starts_with("cta.")).collect();
    assert_eq!(actions, ["cta.open", "cta.update", "cta.comment", "cta.comment", "cta.update", "cta.update", "cta.open"], "newest first");
    assert_eq!(kinds_after(s, 0).await, ["cta.opened", "cta.updated", "cta.updated", "cta.closed", "cta.opened"]);

    // A partner sees its own accounts' CTAs only; a viewer may not work them.
    let p2 = actor("p2@partner.example", Role::Partner, Some("P2"));
    assert_eq!(App::new(s, &p2).ctas(&lookup(&[("status", "all")])).await.unwrap().total, 0);
    assert!(matches!(App::new(s, &p2).cta(id).await, Err(AppError::Cta(CtaError::NotFound(_)))));
    let p1 = actor("p1@partner.example", Role::Partner, Some("P1"));
    assert_eq!(App::new(s, &p1).ctas(&lookup(&[("status", "all")])).await.unwrap().total, 2);
    let seen: Vec<String> = App::new(s, &p1).cta(id).await.unwrap().comments.into_iter().map(|c| c.body).collect();
    assert_eq!(seen, ["代理店と共有: 来週デモ"], "a partner reads only what is shared with it");
    let reply = App::new(s, &p1).comment_cta(id, "承知しました", None).await.unwrap();
    assert!(!reply.internal, "a partner's comment is shared");
    assert!(App::new(s, &p1).comment_cta(id, "x", Some("internal")).await.is_err(), "a partner cannot hide a comment from itself");
    let viewer = actor("v@kizuna.example", Role::Viewer, None);
    assert!(matches!(App::new(s, &viewer).create_cta(new()).await, Err(AppError::Denied(Denied::Role(Role::Viewer)))));
    assert!(matches!(App::new(s, &csm).save_playbooks(kizuna_domain::ctas::DEFAULT).await, Err(AppError::Denied(_))), "CS Ops edits playbooks");
    let ops = actor("ops@kizuna.example", Role::CsOps, None);
    App::new(s, &ops).save_playbooks(kizuna_domain::ctas::DEFAULT).await.unwrap();
}

fn health(account: &str, day: &str, score: f64, band: &str) -> HealthRow {
    HealthRow {
        account_id: account.into(),
        scored_on: date(day),
        scorecard: "default".into(),
        score: Some(score),
        band: Some(band.into()),
        grade: None,
        previous_score: None,
        detail: r#"{"drags": [["usage.logins_28d", 12.5]]}"#.into(),
    }
}

async fn signals_open_each_cta_once(db: TestDb) {
    seed(&db).await;
    let s = db.store.as_ref();
    let at = date("2026-12-04");
    // Scores kept for each day the signals run, so they read these and do not score themselves.
    s.save_health(&[health("A1", "2026-11-26", 80.0, "green"), health("A2", "2026-11-26", 90.0, "green")]).await.unwrap();
    for day in ["2026-12-04", "2026-12-05", "2026-12-07"] {
        s.save_health(&[health("A1", day, 30.0, "red"), health("A2", day, 90.0, "green")]).await.unwrap();
    }
    let first = run_daily(s, at).await.unwrap();
    assert_eq!(first.scored, 0, "the day was scored already");
    let opened: Vec<(String, String)> = {
        let page = s.ctas(&kizuna_store::CtaQuery { page: 1, per_page: 100, ..Default::default() }).await.unwrap();
        page.ctas.into_iter().map(|c| (c.account_id, c.reason)).collect()
    };
    assert_eq!(first.opened, 3, "{first:?}");
    for reason in ["health_red", "upcoming_renewal", "no_contact"] {
        assert!(opened.contains(&("A1".to_string(), reason.to_string())), "{reason} in {opened:?}");
    }
    assert!(!opened.iter().any(|(a, _)| a == "A2"), "A2 is tech touch, green and monthly: {opened:?}");
    let page = s.ctas(&kizuna_store::CtaQuery { cta_type: Some("renewal".into()), page: 1, per_page: 10, ..Default::default() }).await.unwrap();
    let renewal = &page.ctas[0];
    assert_eq!((renewal.signal_key.as_str(), renewal.evidence["arr"].as_f64(), renewal.evidence["days_left"].as_i64()), ("renewal:2027-01-01", Some(1_200_000.0), Some(28)));
    assert_eq!(renewal.source, Source::Signal);
    let red = s.ctas(&kizuna_store::CtaQuery { cta_type: Some("risk".into()), page: 1, per_page: 10, ..Default::default() }).await.unwrap();
    let red = red.ctas.into_iter().find(|c| c.reason == "health_red").unwrap();
    assert_eq!((red.evidence["score"].as_f64(), red.evidence["previous_score"].as_f64()), (Some(30.0), Some(80.0)));
    assert_eq!(red.evidence["drags"][0][0], "usage.logins_28d", "the measure that cost most");

    let second = run_daily(s, at).await.unwrap();
    assert_eq!((second.opened, second.updated), (0, 0), "twice: nothing new {second:?}");
    // The next day finds the same: a day fewer to the renewal, a day more without contact, the
    // same red score scored again. Nothing is rewritten, audited or raised again.
    let seq = s.events_after(0, 10_000).await.unwrap().last().map(|e| e.seq).unwrap_or(0);
    let next_day = run_daily(s, at + chrono::Duration::days(1)).await.unwrap();
    assert_eq!((next_day.opened, next_day.updated), (0, 0), "{next_day:?}");
    assert!(kinds_after(s, seq).await.is_empty());

    // The renewal closed stays closed; the red one snoozed wakes on its date.
    let ops = Actor::operator();
    let app = App::new(s, &ops);
    let close = CtaChange { status: Some("closed".into()), outcome: Some("not_needed".into()), ..Default::default() };
    app.update_cta(&renewal.cta_id, close).await.unwrap();
    let snooze = CtaChange { status: Some("snoozed".into()), snoozed_until: Some("2099-12-07".into()), snooze_reason: Some("QBR予定".into()), ..Default::default() };
    app.update_cta(&red.cta_id, snooze).await.unwrap();
    let third = run_daily(s, at + chrono::Duration::days(1)).await.unwrap();
    assert_eq!((third.opened, third.reopened, third.skipped), (0, 0, 1), "{third:?}");
    assert_eq!(s.cta(&red.cta_id).await.unwrap().unwrap().status, CtaStatus::Snoozed);
    let mut woken = s.cta(&red.cta_id).await.unwrap().unwrap();
    woken.snoozed_until = Some(at + chrono::Duration::days(3));
    woken.touch(chrono::Utc::now());
    let mut tx = s.begin().await.unwrap();
    assert!(tx.update_cta(&woken).await.unwrap());
    tx.commit().await.unwrap();
    let fourth = run_daily(s, at + chrono::Duration::days(3)).await.unwrap();
    assert_eq!((fourth.opened, fourth.reopened), (0, 1), "{fourth:?}");
    assert_eq!(s.cta(&red.cta_id).await.unwrap().unwrap().status, CtaStatus::Open);
    let (_, log) = s.audit_log(Some(kizuna_app::signals::ACTOR), 1, 50).await.unwrap();
    assert!(log.iter().filter(|e| e.action == "cta.open").count() == 3, "{log:?}");
}

/// The churn-risk signal reads the stored forecast (refitted weekly); the renewals centre shows
/// its probability; a history with no churn in it fits no model and keeps the stored forecast.
async fn churn_risk_from_the_forecast(db: TestDb) {
    seed(&db).await;
    let s = db.store.as_ref();
    let at = date("2026-12-04");
    let forecast = |account: &str, p: f64| kizuna_store::ChurnForecast { account_id: account.into(), forecast_on: date("2026-12-02"), horizon_days: 90, probability: p };
    let mut tx = s.begin().await.unwrap();
    tx.replace_churn_forecasts(&[forecast("A1", 0.7234), forecast("A2", 0.19)]).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(kizuna_app::health::refresh_churn_forecast(s, at, 90).await.unwrap(), None, "no churn in the history: no model");
    assert_eq!(s.churn_forecasts().await.unwrap().len(), 2, "the stored forecast is kept");
    let first = run_daily(s, at).await.unwrap();
    assert_eq!((first.forecast_refreshed, first.signals.get("churn_risk")), (None, Some(&1)), "{first:?}");
    let risk = s.ctas(&kizuna_store::CtaQuery { cta_type: Some("risk".into()), page: 1, per_page: 10, ..Default::default() }).await.unwrap();
    let churn = risk.ctas.iter().find(|c| c.reason == "churn_risk").expect("a churn-risk CTA");
    assert_eq!((churn.account_id.as_str(), churn.evidence["probability"].as_f64(), churn.evidence["threshold"].as_f64()), ("A1", Some(0.7234), Some(0.2)));
    assert_eq!(run_daily(s, at).await.unwrap().opened, 0, "twice: nothing new");

    let ops = Actor::operator();
    let renewals = App::new(s, &ops).renewals(&lookup(&[("from", "2026-12-01"), ("to", "2027-03-01")])).await.unwrap();
    assert_eq!(renewals.renewals[0].churn_probability, Some(0.723), "three decimals");
}

/// The home and the renewals centre read a CSM's book only, as of the day asked for: the score
/// then (not a later one) and a week before, MRR on the day, the last contact (not a support
/// ticket) and open risk CTAs. Figures computed by hand; the team's view adds the other book.
async fn home_and_renewals_of_a_book(db: TestDb) {
    seed(&db).await;
    let s = db.store.as_ref();
    let mut b1 = subscription("B1", "core", "2026-02-01", Some("2027-02-01"), 50_000);
    b1.bill_period_months = Some(12);
    let other = AccountRow { account_id: "B1".into(), name: Some("B1 商事".into()), owner_email: Some("ito@kizuna.example".into()), ..Default::default() };
    let score = |a: &str, day: &str, score: f64, band: &str| HealthRow {
        account_id: a.into(),
        scored_on: date(day),
        scorecard: "default".into(),
        score: Some(score),
        band: Some(band.into()),
        grade: None,
        previous_score: None,
        detail: r#"{"drags":[["usage",12.5]]}"#.into(),
    };
    let touch = |id: &str, kind: kizuna_domain::ActivityKind, day: &str| kizuna_domain::ActivityRow {
        account_id: "A1".into(),
        activity_id: id.into(),
        kind,
        occurred_at: kizuna_domain::time::start_of_day(date(day)) + chrono::Duration::hours(3),
        author_email: None,
        subject: None,
        body: None,
        attendees: None,
        next_steps: None,
        internal: false,
    };
    let mut tx = s.begin().await.unwrap();
    tx.upsert_accounts(&[other]).await.unwrap();
    tx.upsert_subscriptions(&[b1]).await.unwrap();
    tx.upsert_activities(&[touch("m1", kizuna_domain::ActivityKind::Meeting, "2026-12-01"), touch("t1", kizuna_domain::ActivityKind::SupportTicket, "2026-12-03")]).await.unwrap();
    tx.commit().await.unwrap();
    // A day's scores at a time, as the daily job saves them.
    s.save_health(&[score("A1", "2026-11-27", 80.0, "green"), score("B1", "2026-11-27", 90.0, "green")]).await.unwrap();
    s.save_health(&[score("A1", "2026-12-04", 40.0, "red"), score("A2", "2026-12-04", 70.0, "yellow"), score("B1", "2026-12-04", 20.0, "red")]).await.unwrap();
    s.save_health(&[score("A1", "2026-12-10", 60.0, "yellow")]).await.unwrap();
    let csm = actor("csm@kizuna.example", Role::Csm, None);
    let app = App::new(s, &csm);
    app.create_cta(NewCta { account_id: "A1".into(), cta_type: "risk".into(), reason: "other".into(), ..Default::default() }).await.unwrap();

    let home = app.home(&lookup(&[("at", "2026-12-04")])).await.unwrap();
    assert_eq!(home.owner.as_deref(), Some("csm@kizuna.example"));
    assert_eq!((home.health_mix.red, home.health_mix.yellow, home.health_mix.green), (1, 1, 0), "A1 red and A2 yellow on the day, not A1's later score");
    assert_eq!((home.arr, home.arr_at_risk), (1_560_000.0, 1_200_000.0), "(100,000 + 30,000) × 12, and A1's");
    let drops: Vec<_> = home.health_drops.iter().map(|d| (d.account_id.as_str(), d.drop, d.top_drag.as_deref())).collect();
    assert_eq!(drops, vec![("A1", 40.0, Some("usage"))], "80 → 40 in the week; A2 had no score a week before; B1 is not in the book");
    assert_eq!((home.renewals_90.accounts, home.renewals_90.arr), (1, 1_200_000.0), "A1 renews on 2027-01-01");
    // Six days later the latest score is the current one: 60 against 80 a week before.
    let later = app.home(&lookup(&[("at", "2026-12-10")])).await.unwrap();
    assert_eq!((later.health_mix.red, later.health_mix.yellow), (0, 2), "{:?}", later.health_mix);
    assert_eq!(later.health_drops.iter().map(|d| (d.account_id.as_str(), d.drop)).collect::<Vec<_>>(), vec![("A1", 20.0)]);

    let window = [("from", "2026-12-01"), ("to", "2027-03-01"), ("at", "2026-12-04")];
    let mine = app.renewals(&lookup(&window)).await.unwrap();
    let row = |r: &kizuna_app::renewals::Renewal| (r.account_id.clone(), r.arr, r.health_score, r.health_trend, r.open_risk_ctas, r.last_contact_at);
    assert_eq!(mine.renewals.iter().map(row).collect::<Vec<_>>(), vec![("A1".into(), 1_200_000.0, Some(40.0), Some(-40.0), 1, Some(date("2026-12-01")))]);
    let manager = actor("lead@kizuna.example", Role::Manager, None);
    let team = App::new(s, &manager).renewals(&lookup(&window)).await.unwrap();
    assert_eq!(team.renewals.iter().map(row).collect::<Vec<_>>(), vec![
        ("A1".into(), 1_200_000.0, Some(40.0), Some(-40.0), 1, Some(date("2026-12-01"))),
        ("B1".into(), 600_000.0, Some(20.0), Some(-70.0), 0, None),
    ]);
    assert_eq!(team.arr, 1_800_000.0);

    // The team's home: a line per CSM, counted by the database; a snoozed CTA is open but never
    // overdue (it is put aside until its date).
    let lead = App::new(s, &manager);
    let b1_cta = lead
        .create_cta(NewCta { account_id: "B1".into(), cta_type: "risk".into(), reason: "other".into(), due_on: Some("2026-12-09".into()), ..Default::default() })
        .await
        .unwrap();
    let snooze = CtaChange { status: Some("snoozed".into()), snoozed_until: Some("2099-01-01".into()), snooze_reason: Some("年度末".into()), ..Default::default() };
    lead.update_cta(&b1_cta.cta_id, snooze).await.unwrap();
    let a1 = app.ctas(&lookup(&[])).await.unwrap().ctas.into_iter().find(|c| c.account_id == "A1").unwrap();
    app.update_cta(&a1.cta_id, CtaChange { due_on: Some("2026-12-08".into()), ..Default::default() }).await.unwrap();
    let home = lead.home(&lookup(&[("at", "2026-12-20")])).await.unwrap();
    let lines: Vec<(&str, u64, u64)> = home.per_owner.iter().map(|l| (l.owner_email.as_str(), l.ctas_open, l.ctas_overdue)).collect();
    assert!(lines.contains(&("csm@kizuna.example", 1, 1)) && lines.contains(&("ito@kizuna.example", 1, 0)), "{lines:?}");
    assert_eq!((home.ctas_open_total, home.ctas_overdue), (2, 1));
}

/// A drop of exactly the threshold (15 points) opens its CTA, though 65.10 − 50.10 is
/// 14.999999999999993 in binary.
async fn a_drop_of_exactly_the_threshold_opens_its_cta(db: TestDb) {
    seed(&db).await;
    let s = db.store.as_ref();
    let at = date("2026-12-04");
    s.save_health(&[health("A1", "2026-11-26", 65.10, "green"), health("A2", "2026-11-26", 90.0, "green")]).await.unwrap();
    s.save_health(&[health("A1", "2026-12-04", 50.10, "yellow"), health("A2", "2026-12-04", 80.0, "green")]).await.unwrap();
    run_daily(s, at).await.unwrap();
    let page = s.ctas(&kizuna_store::CtaQuery { page: 1, per_page: 100, ..Default::default() }).await.unwrap();
    let drops: Vec<&str> = page.ctas.iter().filter(|c| c.reason == "health_drop").map(|c| c.account_id.as_str()).collect();
    assert_eq!(drops, ["A1"], "A2 fell 10: {:?}", page.ctas.iter().map(|c| (&c.account_id, &c.reason)).collect::<Vec<_>>());
}

/// A snoozed CTA comes back on its date, also one no signal would reopen (opened by hand).
async fn a_snoozed_cta_wakes_on_its_date(db: TestDb) {
    seed(&db).await;
    let s = db.store.as_ref();
    let csm = actor("csm@kizuna.example", Role::Csm, None);
    let app = App::new(s, &csm);
    let cta = app.create_cta(NewCta { account_id: "A1".into(), cta_type: "risk".into(), reason: "other".into(), ..Default::default() }).await.unwrap();
    let until = kizuna_app::today() + chrono::Duration::days(3);
    let snooze = CtaChange { status: Some("snoozed".into()), snoozed_until: Some(until.to_string()), snooze_reason: Some("決算期".into()), ..Default::default() };
    app.update_cta(&cta.cta_id, snooze).await.unwrap();
    let before = run_daily(s, until - chrono::Duration::days(1)).await.unwrap();
    assert_eq!(before.woken, 0);
    assert_eq!(s.cta(&cta.cta_id).await.unwrap().unwrap().status, CtaStatus::Snoozed, "not before its date");
    let on = run_daily(s, until).await.unwrap();
    assert_eq!(on.woken, 1, "{on:?}");
    let woken = s.cta(&cta.cta_id).await.unwrap().unwrap();
    assert_eq!((woken.status, woken.snoozed_until, woken.snooze_reason), (CtaStatus::Open, None, None));
    assert_eq!(run_daily(s, until).await.unwrap().woken, 0, "twice: nothing more");
    let (_, log) = s.audit_log(Some(kizuna_app::signals::ACTOR), 1, 50).await.unwrap();
    assert!(log.iter().any(|e| e.action == "cta.update" && e.target.as_deref() == Some(cta.cta_id.as_str())), "{log:?}");
}

/// The daily job runs just after midnight for the day just ended: what it opens is opened
/// today, due counted from today, not backdated to yesterday as a backfill would be.
async fn the_nightly_run_opens_ctas_today(db: TestDb) {
    seed(&db).await;
    let s = db.store.as_ref();
    let today = kizuna_app::today();
    let yesterday = today - chrono::Duration::days(1);
    let day = |d: chrono::NaiveDate| d.to_string();
    s.save_health(&[health("A2", &day(yesterday - chrono::Duration::days(8)), 85.0, "green")]).await.unwrap();
    s.save_health(&[health("A2", &day(yesterday), 25.0, "red")]).await.unwrap();
    run_daily(s, yesterday).await.unwrap();
    let page = s.ctas(&kizuna_store::CtaQuery { account_id: Some("A2".into()), page: 1, per_page: 10, ..Default::default() }).await.unwrap();
    let red = page.ctas.iter().find(|c| c.reason == "health_red").expect("opened");
    assert!(red.created_at >= kizuna_domain::time::start_of_day(today), "opened today: {}", red.created_at);
    assert!(red.due_on.is_some_and(|d| d > today), "due counted from today: {:?}", red.due_on);
}

/// Two people change one CTA from the copies they read: the second change, made to the older
/// copy, is refused (409) and writes nothing, so the first is not silently undone; made to the
/// CTA as it is now, it applies. A write whose copy went stale between read and write (the
/// store's own check) writes nothing either.
async fn a_change_to_an_older_copy_is_refused(db: TestDb) {
    seed(&db).await;
    let s = db.store.as_ref();
    let (a, b) = (actor("csm@kizuna.example", Role::Csm, None), actor("lead@kizuna.example", Role::Manager, None));
    let opened = App::new(s, &a).create_cta(NewCta { account_id: "A1".into(), cta_type: "risk".into(), reason: "other".into(), ..Default::default() }).await.unwrap();
    let id = opened.cta_id.as_str();
    let read = App::new(s, &b).cta(id).await.unwrap().cta;
    assert_eq!(read.revision, opened.revision);
    let close = CtaChange { status: Some("closed".into()), outcome: Some("not_needed".into()), revision: Some(read.revision), ..Default::default() };
    let closed = App::new(s, &b).update_cta(id, close).await.unwrap();
    assert!(closed.revision > read.revision, "a write moves the revision: {} → {}", read.revision, closed.revision);
    assert_eq!(App::new(s, &b).cta(id).await.unwrap().cta.revision, closed.revision, "the revision returned is the one stored");

    let start = CtaChange { status: Some("in_progress".into()), revision: Some(opened.revision), ..Default::default() };
    match App::new(s, &a).update_cta(id, start.clone()).await {
        Err(AppError::Cta(CtaError::Changed { cta_id, revision, .. })) => assert_eq!((cta_id.as_str(), revision), (id, opened.revision)),
        other => panic!("a change to the older copy: {other:?}"),
    }
    assert_eq!(App::new(s, &a).cta(id).await.unwrap().cta.status, CtaStatus::Closed, "the close stands");
    let again = App::new(s, &a).update_cta(id, CtaChange { revision: Some(closed.revision), ..start }).await.unwrap();
    assert_eq!(again.status, CtaStatus::InProgress, "made to the CTA as it is, it applies");

    // The store refuses a write made to a revision that is no longer stored.
    let mut stale = again.clone();
    stale.title = "古い内容".into();
    stale.revision = closed.revision;
    stale.touch(chrono::Utc::now());
    let mut tx = s.begin().await.unwrap();
    assert!(!tx.update_cta(&stale).await.unwrap(), "changed since: not written");
    tx.commit().await.unwrap();
    assert_ne!(s.cta(id).await.unwrap().unwrap().title, "古い内容");
}

both_engines!(
    a_change_to_an_older_copy_is_refused,
    the_nightly_run_opens_ctas_today,
    ctas_are_opened_worked_and_closed,
    signals_open_each_cta_once,
    churn_risk_from_the_forecast,
    home_and_renewals_of_a_book,
    a_drop_of_exactly_the_threshold_opens_its_cta,
    a_snoozed_cta_wakes_on_its_date
);
