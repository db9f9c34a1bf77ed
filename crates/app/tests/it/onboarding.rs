//! Onboarding on both engines, with hand-computed figures: plans start by themselves from new
//! subscriptions, tasks complete from usage on the day the thresholds were reached (Golden
//! Week skipped in due days), a plan with nothing done goes `stuck`, a completed plan moves
//! the account's stage, the KPI report's completion rate in period, late plans open
//! onboarding CTAs, the health measure reads plan progress, the shared link shows only the
//! customer's tasks and refuses tampered and expired tokens, and the impact comparison.

use chrono::Duration;
use kizuna_app::onboarding::{self, OnboardingError, TaskChange};
use kizuna_app::requests::{OnboardingImpactRequest, OnboardingReportRequest};
use kizuna_app::{Actor, App, AppError};
use kizuna_domain::health::Scorecards;
use kizuna_domain::onboarding::{DoneBy, PlanStatus, Templates, Verdict};
use kizuna_domain::usage::metrics::Definitions;
use kizuna_domain::{AccountRow, Role};
use kizuna_store::both_engines;
use kizuna_store::testing::{date, subscription, usage_event, TestDb};
use kizuna_store::PlanQuery;

const TEMPLATES: &str = r#"{"templates":[{
  "template_id": "core-std", "name": "Core 導入", "product": "core",
  "value_milestone": "first_report", "stuck_after_days": 14, "auto_start_from": "2026-04-01",
  "phases": [
    {"phase_id": "setup", "name": "初期設定", "name_en": "Setup", "tasks": [
      {"task_id": "kickoff", "title": "キックオフ", "side": "vendor", "due_days": 2},
      {"task_id": "invite", "title": "ユーザー招待", "side": "customer", "setup": true, "due_days": 5,
       "criterion": {"kind": "event", "event": "user_invited", "min_count": 2, "min_users": 2, "within_days": 30}}
    ]},
    {"phase_id": "use", "name": "利用開始", "tasks": [
      {"task_id": "first_report", "title": "最初のレポート", "side": "customer", "due_days": 3, "due_from": "phase",
       "criterion": {"kind": "event", "event": "report_created"}}
    ]}
  ]}]}"#;

fn account(id: &str) -> AccountRow {
    AccountRow { account_id: id.into(), name: Some(format!("{id} 株式会社")), segment: Some("smb".into()), owner_email: Some("csm@x.jp".into()), lifecycle_stage: Some("onboarding".into()), ..Default::default() }
}

fn admin() -> Actor {
    Actor { id: "ops@x.jp".into(), name: "Ops".into(), role: Role::Admin, partner_id: None, via_key: false }
}

async fn plan_of(db: &TestDb, account: &str) -> kizuna_domain::onboarding::Plan {
    let q = PlanQuery { account_id: Some(account.into()), limit: 10, ..Default::default() };
    db.store.plans(&q).await.unwrap().into_iter().next().expect("a plan")
}

async fn plans_start_complete_and_report(db: TestDb) {
    let s = db.store.as_ref();
    let mut tx = s.begin().await.unwrap();
    tx.upsert_accounts(&[account("A1"), account("A2"), account("A3"), account("A4")]).await.unwrap();
    tx.upsert_subscriptions(&[
        subscription("A1", "core", "2026-04-30", None, 50_000),
        subscription("A2", "core", "2026-04-30", None, 50_000),
        subscription("A3", "core", "2026-03-02", None, 50_000), // before auto_start_from
        subscription("A4", "other", "2026-05-01", None, 50_000), // no template
    ])
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let ev = |n: u32, a: &str, u: &str, kind: &str, day: &str| usage_event(format!("e{n}"), a, u, kind, date(day));
    s.ingest(&[
        ev(1, "A1", "u1", "user_invited", "2026-05-02"),
        ev(2, "A1", "u1", "user_invited", "2026-05-04"), // 2 events, 1 user: not yet
        ev(3, "A1", "u2", "user_invited", "2026-05-06"), // 2 users: done on 5/6
        ev(4, "A1", "u2", "report_created", "2026-05-14"),
        ev(5, "A2", "u9", "report_created", "2026-04-29"), // before its start
    ])
    .await
    .unwrap();

    let ops = admin();
    let app = App::new(s, &ops);
    let templates: Templates = serde_json::from_str(TEMPLATES).unwrap();
    let saved = app.save_onboarding_templates(templates, false).await.unwrap();
    assert_eq!(saved.templates.templates[0].version, 1);

    let run = onboarding::run(s, date("2026-05-20")).await.unwrap();
    assert_eq!((run.started, run.tasks_done, run.behind, run.stuck, run.completed), (2, 2, 1, 1, 0), "{run:?}");
    let a1 = plan_of(&db, "A1").await;
    // Start Thu 4/30; Golden Week 5/2–5/6: kick-off due 5/7, invite 5/12, the report 5/15.
    let due: Vec<_> = a1.tasks.iter().map(|t| (t.task_id.as_str(), t.due_on)).collect();
    assert_eq!(due, vec![("kickoff", date("2026-05-07")), ("invite", date("2026-05-12")), ("first_report", date("2026-05-15"))]);
    assert_eq!(a1.due_on, date("2026-05-15"));
    assert_eq!((a1.tasks[1].done_on, a1.tasks[1].done_how), (Some(date("2026-05-06")), Some(DoneBy::Data)));
    assert_eq!(a1.tasks[2].done_on, Some(date("2026-05-14")));
    assert_eq!((a1.status, a1.first_value_at), (PlanStatus::Behind, Some(date("2026-05-14"))), "kick-off late, progress 6 days ago");
    let a2 = plan_of(&db, "A2").await;
    assert_eq!(a2.status, PlanStatus::Stuck, "nothing done in the 20 days since the start");
    assert!(s.plans(&PlanQuery { account_id: Some("A3".into()), limit: 10, ..Default::default() }).await.unwrap().is_empty());
    assert_eq!(onboarding::run(s, date("2026-05-20")).await.unwrap().started, 0, "a second run starts nothing");

    // The health measure reads the plan: 2 of 3 required tasks done for A1, none for A2.
    let states = kizuna_app::health::gather(s, &Scorecards::default_set(), &Definitions::default_set(), date("2026-05-20"), None).await.unwrap();
    assert_eq!(states["A2"].inputs["onboarding"], Some(0.0));
    let a1_measure = states["A1"].inputs["onboarding"].unwrap();
    assert!((a1_measure - 200.0 / 3.0).abs() < 1e-9, "{a1_measure}");

    // Kick-off ticked (done on 5/1): the plan completes on its last task's day, 5/14, on time,
    // and the account moves to adoption from that day.
    let csm = Actor { id: "csm@x.jp".into(), name: "CSM".into(), role: Role::Csm, partner_id: None, via_key: false };
    let capp = App::new(s, &csm);
    let done = capp.set_onboarding_task(&a1.plan_id, "kickoff", TaskChange { done: true, done_on: Some("2026-05-01".into()) }).await.unwrap();
    assert_eq!((done.status, done.completed_on), (PlanStatus::Completed, Some(date("2026-05-14"))));
    let history = s.stage_history("A1").await.unwrap();
    let by_plan: Vec<_> = history.iter().filter(|c| c.source == kizuna_domain::journey::StageSource::Plan).map(|c| (c.stage.as_deref(), c.changed_on)).collect();
    assert_eq!(by_plan, vec![(Some("adoption"), date("2026-05-14"))]);
    let blocked = capp.set_onboarding_task(&a2.plan_id, "nope", TaskChange { done: true, done_on: None }).await;
    assert!(matches!(blocked, Err(AppError::Onboarding(OnboardingError::NoTask { .. }))), "{blocked:?}");
    let early = capp.set_onboarding_task(&a2.plan_id, "kickoff", TaskChange { done: true, done_on: Some("2026-04-01".into()) }).await;
    assert!(matches!(early, Err(AppError::Param(_))), "before the plan's start: {early:?}");
    capp.set_onboarding_task(&a2.plan_id, "kickoff", TaskChange { done: true, done_on: Some("2026-06-01".into()) }).await.unwrap();

    // May: both plans due 5/15, A1 on time, A2 not: 1 / 2. A2 is stuck on 5/31 (its kick-off
    // was done on 6/1, after the range).
    let q = OnboardingReportRequest { from: Some("2026-05-01".into()), to: Some("2026-05-31".into()), by: Some("product".into()), at: Some("2026-12-01".into()), format: None };
    let r = app.onboarding_report(&q).await.unwrap();
    let k = &r.total;
    assert_eq!((k.started, k.completed, k.completed_on_time, k.due_in_period, k.completed_in_due_period, k.stuck), (0, 1, 1, 2, 1, 1), "{k:?}");
    assert_eq!(k.completion_rate_in_period, Some(0.5));
    assert_eq!((k.median_days_to_complete, k.median_days_to_first_value), (Some(14.0), Some(14.0)));
    assert_eq!(r.groups.len(), 1);
    assert_eq!(r.groups[0].group, "core");
    // A2 passes to another CSM after onboarding: its plan stays with the one who ran it.
    let mut moved = account("A2");
    moved.owner_email = Some("next@x.jp".into());
    let mut tx = s.begin().await.unwrap();
    tx.upsert_accounts(&[moved]).await.unwrap();
    tx.commit().await.unwrap();
    let by_owner = OnboardingReportRequest { from: Some("2026-05-01".into()), to: Some("2026-05-31".into()), by: Some("owner".into()), at: Some("2026-12-01".into()), format: None };
    let owners: Vec<(String, u64)> = app.onboarding_report(&by_owner).await.unwrap().groups.into_iter().map(|g| (g.group, g.due_in_period)).collect();
    assert_eq!(owners, vec![("csm@x.jp".to_string(), 2)]);
    // A run for a past day (a backfill on 5/20, with a report A2 made on 5/18 arriving late)
    // completes the report and keeps what the rows say of tasks done since: A2's kick-off,
    // done 6/1, is still its last progress below.
    s.ingest(&[ev(40, "A2", "u9", "report_created", "2026-05-18")]).await.unwrap();
    let backfill = onboarding::run(s, date("2026-05-20")).await.unwrap();
    assert_eq!(backfill.tasks_done, 1);
    // June: every task done by then (kick-off 6/1), so the plans' rows answer: A2 still late
    // (invite, first report) and nothing done for 29 days, stuck; A1 completed.
    let june = OnboardingReportRequest { from: Some("2026-06-01".into()), to: Some("2026-06-30".into()), at: Some("2026-12-01".into()), ..Default::default() };
    let r = app.onboarding_report(&june).await.unwrap();
    assert_eq!((r.total.stuck, r.total.completed, r.total.due_in_period), (1, 0, 0), "{:?}", r.total);
    let june_2 = OnboardingReportRequest { from: Some("2026-06-01".into()), to: Some("2026-06-10".into()), at: Some("2026-12-01".into()), ..Default::default() };
    assert_eq!(app.onboarding_report(&june_2).await.unwrap().total.stuck, 0, "9 days after the kick-off: behind, not stuck");
    let april = OnboardingReportRequest { from: Some("2026-04-01".into()), to: Some("2026-04-30".into()), at: Some("2026-12-01".into()), ..Default::default() };
    let r = app.onboarding_report(&april).await.unwrap();
    assert_eq!((r.total.started, r.total.due_in_period, r.total.completion_rate_in_period), (2, 0, None));
    assert_eq!((r.cohorts[0].cohort.as_str(), r.cohorts[0].started), ("2026-04", 2));

    // Late plans are signals: A2 behind (stuck) and its setup task (invite) not done.
    let config = kizuna_domain::ctas::CtaConfig::default_config();
    let plans = s.late_plans(date("2026-05-20")).await.unwrap();
    let late: Vec<(&str, Vec<&str>)> = plans.iter().map(|p| (p.account_id.as_str(), p.tasks.iter().map(|t| t.task_id.as_str()).collect())).collect();
    // A1 completed; A2 with its late tasks only: kick-off (done 6/1, after 5/20) and invite
    // (due 5/12); the first report was done on 5/18 (the backfill above).
    assert_eq!(late, vec![("A2", vec!["kickoff", "invite"])]);
    let signals = kizuna_app::signals::onboarding_signals(&plans, &config, date("2026-05-20"));
    let found: Vec<(&str, &str, &str)> = signals.iter().map(|x| (x.account_id.as_str(), x.reason, x.key.as_str())).collect();
    let key = |k: &str| format!("{k}:{}", a2.plan_id);
    assert_eq!(found, vec![("A2", "behind_plan", key("plan").as_str()), ("A2", "setup_late", key("setup").as_str())]);
    assert_eq!(signals[1].evidence["late_tasks"][0]["task_id"], "invite");
}

async fn shared_links_show_the_customer_side_only(db: TestDb) {
    let s = db.store.as_ref();
    let today = kizuna_app::today();
    let mut tx = s.begin().await.unwrap();
    tx.upsert_accounts(&[account("A1")]).await.unwrap();
    tx.upsert_subscriptions(&[subscription("A1", "core", &(today - Duration::days(3)).to_string(), None, 50_000)]).await.unwrap();
    tx.commit().await.unwrap();
    let ops = admin();
    let app = App::new(s, &ops);
    app.save_onboarding_templates(serde_json::from_str(TEMPLATES).unwrap(), false).await.unwrap();
    let plan = app.start_onboarding_plan(onboarding::NewPlan { account_id: "A1".into(), template_id: "core-std".into(), started_on: None }).await.unwrap();
    let link = app.share_onboarding_plan(&plan.plan_id, 7).await.unwrap();
    assert_eq!(link.expires_on, today + Duration::days(7));
    let shared = onboarding::shared_plan(s, &link.token).await.unwrap();
    let ids: Vec<&str> = shared.tasks.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, vec!["invite", "first_report"], "the vendor's kick-off is not shown");
    let ticked = onboarding::shared_tick(s, &link.token, "invite", true, "山田 花子").await.unwrap();
    assert_eq!((ticked.done, ticked.total), (1, 2));
    let stored = s.plan(&plan.plan_id).await.unwrap().unwrap();
    assert_eq!((stored.tasks[1].done_how, stored.tasks[1].done_by.as_deref()), (Some(DoneBy::Customer), Some("山田 花子")));
    let vendor = onboarding::shared_tick(s, &link.token, "kickoff", true, "x").await;
    assert!(matches!(vendor, Err(AppError::Onboarding(OnboardingError::NoTask { .. }))), "a vendor task through the link: {vendor:?}");
    let timeline = s.activities("A1", 10, false).await.unwrap();
    assert!(timeline.iter().any(|a| a.subject.as_deref().is_some_and(|t| t.contains("共有プランを閲覧"))), "the visit is on the timeline");
    assert!(timeline.iter().any(|a| a.subject.as_deref().is_some_and(|t| t.contains("ユーザー招待"))), "so is the tick");
    // Neither is contact by the CSM: health's touch, the renewals' last contact, no_contact.
    let summary = s.activity_summary(today, today, Some("A1")).await.unwrap();
    assert!(summary.iter().all(|a| a.last_touch.is_none()), "{summary:?}");
    assert!(s.renewal_facts(&["A1".to_string()], today).await.unwrap().last_contact.is_empty());

    let mut tampered = link.token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert!(matches!(onboarding::shared_plan(s, &tampered).await, Err(AppError::Onboarding(OnboardingError::LinkInvalid))));
    let other_plan = link.token.replacen(&plan.plan_id, "plan-0000000000000000", 1);
    assert!(matches!(onboarding::shared_plan(s, &other_plan).await, Err(AppError::Onboarding(OnboardingError::LinkInvalid))), "the id is signed");
    let key = s.setting(onboarding::LINK_SECRET).await.unwrap().unwrap();
    let expired = onboarding::link_token(key.as_bytes(), &plan.plan_id, today - Duration::days(1));
    assert!(matches!(onboarding::shared_plan(s, &expired).await, Err(AppError::Onboarding(OnboardingError::LinkExpired(_)))));
    let last_day = onboarding::link_token(key.as_bytes(), &plan.plan_id, today);
    assert!(onboarding::shared_plan(s, &last_day).await.is_ok(), "it opens through its last day");
}

/// 25 accounts onboarded on time (2 churned within 180 days of the due day), 25 late (12
/// churned), one late account that churned after the horizon, one that churned before its
/// plan's due day (cancelled), and one plan due too recently to know.
async fn impact_compares_churn_after_on_time_and_late_onboarding(db: TestDb) {
    let s = db.store.as_ref();
    let templates: Templates = serde_json::from_str(TEMPLATES).unwrap();
    let t = &templates.templates[0];
    let (mut accounts, mut subs, mut plans) = (vec![], vec![], vec![]);
    let start = date("2025-06-02");
    for i in 0..52 {
        let id = format!("B{i:02}");
        accounts.push(account(&id));
        let on_time = i < 25;
        let churned = if on_time { i < 2 } else { (25..37).contains(&i) };
        let (start, end) = if i == 51 { (date("2026-11-02"), None) } else { (start, churned.then(|| "2025-10-01".to_string())) };
        let end = if i == 50 { Some("2026-04-01".to_string()) } else { end }; // after the horizon
        subs.push(subscription(&id, "core", &start.to_string(), end.as_deref(), 50_000));
        let mut p = kizuna_domain::onboarding::instantiate(t, format!("plan-{i:02}"), &id, start, None);
        let finish = if on_time { p.due_on } else { p.due_on + Duration::days(10) };
        for task in &mut p.tasks {
            task.done_on = Some(finish);
        }
        kizuna_domain::onboarding::refresh(&mut p, date("2026-12-01"));
        plans.push(p);
    }
    // A customer that left during onboarding (MRR 0 on 6/10, its plan due 6/12) and whose plan
    // was cancelled: late, and churned.
    accounts.push(account("B52"));
    subs.push(subscription("B52", "core", "2025-06-02", Some("2025-06-10"), 50_000));
    let mut left = kizuna_domain::onboarding::instantiate(t, "plan-52".into(), "B52", start, None);
    assert_eq!(left.due_on, date("2025-06-12"));
    left.tasks[0].done_on = Some(date("2025-06-03")); // the kick-off, 1 of 3 required
    left.status = PlanStatus::Cancelled;
    kizuna_domain::onboarding::refresh(&mut left, date("2026-12-01"));
    plans.push(left);
    let mut tx = s.begin().await.unwrap();
    tx.upsert_accounts(&accounts).await.unwrap();
    tx.upsert_subscriptions(&subs).await.unwrap();
    for p in &plans {
        tx.save_plan(p).await.unwrap();
    }
    tx.commit().await.unwrap();
    // The home's late list asks for the soonest due first: the first of all, not of the newest.
    let key = |p: &kizuna_domain::onboarding::Plan| (p.due_on, p.account_id.clone(), p.plan_id.clone());
    let mut dues: Vec<_> = plans.iter().map(key).collect();
    dues.sort();
    let soonest = s.plans(&PlanQuery { soonest_due: true, limit: 3, ..Default::default() }).await.unwrap();
    assert_eq!(soonest.iter().map(key).collect::<Vec<_>>(), dues[..3].to_vec());
    let ops = admin();
    let app = App::new(s, &ops);
    let q = OnboardingImpactRequest { from: Some("2025-01-01".into()), to: Some("2026-12-01".into()), horizon: Some("180d".into()), at: Some("2026-12-01".into()), format: None };
    let i = app.onboarding_impact(&q).await.unwrap();
    assert_eq!(i.not_yet_observed, 1, "due in November 2026: 180 days have not passed");
    let all = &i.all;
    assert_eq!((all.on_time.accounts, all.on_time.churned, all.late.accounts, all.late.churned), (25, 2, 27, 13));
    assert!((all.difference.unwrap() - (13.0 / 27.0 - 2.0 / 25.0)).abs() < 1e-12);
    assert_eq!(all.verdict, Verdict::LateChurnsMore, "{all:?}");
    let (lo, hi) = kizuna_domain::onboarding::difference_interval(13, 27, 2, 25).unwrap();
    assert_eq!((all.difference_low, all.difference_high), (Some(lo), Some(hi)));
    assert_eq!(i.segments.len(), 1);
    let short = OnboardingImpactRequest { to: Some("2025-05-31".into()), ..q };
    assert_eq!(app.onboarding_impact(&short).await.unwrap().all.verdict, Verdict::TooThin, "no plan was due by July 2025");
    // Scored as of a day before it left, B52 keeps the progress it had then: its plan being
    // cancelled afterwards is the outcome, not an input.
    let states = kizuna_app::health::gather(s, &Scorecards::default_set(), &Definitions::default_set(), date("2025-06-05"), Some("B52")).await.unwrap();
    let progress = states["B52"].inputs["onboarding"].unwrap();
    assert!((progress - 100.0 / 3.0).abs() < 1e-9, "{progress}");
    assert_eq!(s.plan_progress(date("2025-06-05"), Some("B52")).await.unwrap(), vec![("B52".to_string(), 3, 1)]);
    assert!(s.plan_progress(kizuna_app::today(), Some("B52")).await.unwrap().is_empty(), "cancelled (saved) by today: no longer counted");
}

/// Two late plans on one account (two products) open a CTA each: one per plan and reason.
async fn two_late_plans_open_a_cta_each(db: TestDb) {
    let s = db.store.as_ref();
    let mut tx = s.begin().await.unwrap();
    tx.upsert_accounts(&[account("B1")]).await.unwrap();
    tx.upsert_subscriptions(&[subscription("B1", "core", "2026-04-30", None, 50_000), subscription("B1", "extra", "2026-04-30", None, 20_000)]).await.unwrap();
    tx.commit().await.unwrap();
    let mut templates: serde_json::Value = serde_json::from_str(TEMPLATES).unwrap();
    let mut extra = templates["templates"][0].clone();
    extra["template_id"] = "extra-std".into();
    extra["product"] = "extra".into();
    templates["templates"].as_array_mut().unwrap().push(extra);
    let ops = admin();
    let app = App::new(s, &ops);
    app.save_onboarding_templates(serde_json::from_value(templates).unwrap(), false).await.unwrap();
    let at = date("2026-05-20");
    let first = kizuna_app::signals::run_daily(s, at).await.unwrap();
    assert_eq!(first.onboarding.started, 2);
    let plans = s.late_plans(at).await.unwrap();
    assert_eq!(plans.len(), 2, "both plans are late on 5/20");
    let q = kizuna_store::CtaQuery { account_id: Some("B1".into()), cta_type: Some("onboarding".into()), page: 1, per_page: 50, ..Default::default() };
    let ctas = s.ctas(&q).await.unwrap().ctas;
    let mut found: Vec<(String, String)> = ctas.iter().map(|c| (c.reason.clone(), c.scope.clone())).collect();
    found.sort();
    let mut want: Vec<(String, String)> = plans.iter().flat_map(|p| [("behind_plan".to_string(), p.plan_id.clone()), ("setup_late".to_string(), p.plan_id.clone())]).collect();
    want.sort();
    assert_eq!(found, want, "a behind_plan and a setup_late CTA for each plan");
    for c in &ctas {
        assert_eq!(c.evidence["plan_id"], c.scope.as_str(), "the evidence names the CTA's plan");
    }
    let second = kizuna_app::signals::run_daily(s, at).await.unwrap();
    assert_eq!(second.opened, 0, "the next run finds each plan's CTA");
    // Closed, a plan's CTA stays closed for that plan; the other plan's stays open.
    let closed = ctas.iter().find(|c| c.reason == "behind_plan").unwrap();
    let change = kizuna_app::ctas::CtaChange { status: Some("closed".into()), outcome: Some("not_needed".into()), ..Default::default() };
    kizuna_app::ctas::update(s, &ops, &closed.cta_id, change).await.unwrap();
    let third = kizuna_app::signals::run_daily(s, at + Duration::days(1)).await.unwrap();
    assert_eq!(third.opened, 0);
    let open: Vec<String> = s.ctas(&q).await.unwrap().ctas.into_iter().filter(|c| c.reason == "behind_plan" && c.status != kizuna_domain::ctas::CtaStatus::Closed).map(|c| c.scope).collect();
    assert_eq!(open.len(), 1);
    assert_ne!(open[0], closed.scope);
    // However long the plan stays late: a year on (past every window of closed CTAs the run
    // reads), its CTA is still closed and no other opens for it.
    kizuna_app::signals::run_daily(s, date("2027-05-20")).await.unwrap();
    let again = s.ctas(&q).await.unwrap().ctas.into_iter().filter(|c| c.reason == "behind_plan" && c.scope == closed.scope).count();
    assert_eq!(again, 1, "the closed one only");
}

both_engines!(plans_start_complete_and_report, shared_links_show_the_customer_side_only, impact_compares_churn_after_on_time_and_late_onboarding, two_late_plans_open_a_cta_each);
