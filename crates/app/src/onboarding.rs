//! Onboarding: the plan templates CS Ops edits (the `onboarding_templates` setting), the plans
//! they start (by hand, or by themselves when a subscription to the product starts), ticking
//! tasks (staff, partners, and the customer on the shared plan), the daily run that completes
//! tasks from data and moves completed accounts on in the journey, the completion-rate report
//! and the churn comparison of on-time and late onboarding. Rules: `kizuna_domain::onboarding`.

use crate::access::Actor;
use crate::accounts::visible_account;
use crate::{AppError, ParamError};
use chrono::{Duration, NaiveDate, Utc};
use kizuna_domain::journey::{StageChange, StageSource};
use kizuna_domain::onboarding::{self as rules, Comparison, CohortRow, DoneBy, Facts, Kpis, Plan, PlanFact, PlanStatus, RunPlan, Side, Templates, Verdict};
use kizuna_domain::ActivityKind;
use kizuna_store::{Accounts, Health, NewEvent, Onboarding, PlanQuery, Revenue, UnitOfWork, Usage};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

pub use kizuna_domain::onboarding::SETTING;
/// The key that signs shared plan links (random, made on first use, never shown).
pub const LINK_SECRET: &str = "shared_link_secret";

/// An onboarding request that cannot be done (400), or a plan that is not there (404).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OnboardingError {
    #[error("no onboarding plan {0:?}")]
    NotFound(String),
    #[error("plan {plan:?} has no task {task:?}")]
    NoTask { plan: String, task: String },
    #[error("task {task:?} waits for {waiting_on:?} to be done first")]
    Blocked { task: String, waiting_on: String },
    #[error("no onboarding template {0:?}")]
    NoTemplate(String),
    #[error("{0}")]
    Template(#[from] rules::TemplateError),
    #[error("the link is not valid")]
    LinkInvalid,
    #[error("the link expired on {0}")]
    LinkExpired(NaiveDate),
    #[error("plan {0:?} is cancelled")]
    Cancelled(String),
}

/// The templates as saved (none until CS Ops saves some).
pub async fn templates(store: &(impl Usage + ?Sized)) -> Result<Templates, AppError> {
    match store.setting(SETTING).await? {
        Some(text) => serde_json::from_str(&text).map_err(|e| AppError::Config(format!("onboarding templates setting: {e}"))),
        None => Ok(Templates::default()),
    }
}

/// What saving templates did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SavedTemplates {
    pub templates: Templates,
    /// Running plans moved to their template's new version (only when asked).
    pub plans_updated: u64,
}

/// Saves edited templates (checked, versioned, audited). Running plans keep the version they
/// started with unless `reapply` asks to move them to the new one (what was done stays done).
pub async fn save_templates(store: &(impl Usage + Onboarding + UnitOfWork + ?Sized), actor: &Actor, edited: Templates, reapply: bool) -> Result<SavedTemplates, AppError> {
    edited.check().map_err(OnboardingError::from)?;
    let before = templates(store).await?;
    let today = crate::today();
    let saved = rules::versioned(&before, edited, today);
    let text = serde_json::to_string(&saved).map_err(|e| AppError::Config(e.to_string()))?;
    let changed: HashMap<&str, u32> = saved.templates.iter().map(|t| (t.template_id.as_str(), t.version)).collect();
    let mut moved = Vec::new();
    if reapply {
        for plan in store.running_plans().await? {
            let Some(t) = saved.get(&plan.template_id) else { continue };
            if changed.get(t.template_id.as_str()).is_some_and(|v| *v != plan.template_version) {
                let mut next = rules::reapply(&plan, t);
                rules::refresh(&mut next, today);
                moved.push(next);
            }
        }
    }
    let mut tx = store.begin().await?;
    tx.save_setting(SETTING, &text).await?;
    for p in &moved {
        tx.save_plan(p).await?;
    }
    let ids: Vec<(&str, u32)> = saved.templates.iter().map(|t| (t.template_id.as_str(), t.version)).collect();
    actor.audit(&mut *tx, "onboarding.templates", None, serde_json::json!({ "templates": ids, "plans_updated": moved.len() })).await?;
    tx.commit().await?;
    Ok(SavedTemplates { templates: saved, plans_updated: moved.len() as u64 })
}

/// A page of plans.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlanList {
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub plans: Vec<Plan>,
}

/// Plans, newest first; a partner's actor sees its accounts' only.
pub async fn plans(store: &(impl Onboarding + ?Sized), actor: &Actor, mut q: PlanQuery, page: u32) -> Result<PlanList, AppError> {
    q.partner_id = actor.scope();
    let per_page = q.limit.clamp(1, 500);
    q.limit = per_page;
    q.offset = (page.max(1) - 1).saturating_mul(per_page);
    let total = store.count_plans(&q).await?;
    Ok(PlanList { total, page: page.max(1), per_page, plans: store.plans(&q).await? })
}

/// One plan the actor may see (else: not found).
pub async fn plan(store: &(impl Onboarding + Accounts + ?Sized), actor: &Actor, plan_id: &str) -> Result<Plan, AppError> {
    let plan = store.plan(plan_id).await?.ok_or_else(|| OnboardingError::NotFound(plan_id.to_string()))?;
    // A plan on an account the actor may not see does not exist for them.
    visible_account(store, actor, &plan.account_id, crate::today()).await.map_err(|_| OnboardingError::NotFound(plan_id.to_string()))?;
    Ok(plan)
}

/// A plan started by hand.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlan {
    pub account_id: String,
    pub template_id: String,
    /// YYYY-MM-DD (default today, never later).
    pub started_on: Option<String>,
}

pub async fn start_plan(store: &(impl Accounts + Usage + Onboarding + UnitOfWork + ?Sized), actor: &Actor, n: NewPlan) -> Result<Plan, AppError> {
    let today = crate::today();
    let account = visible_account(store, actor, &n.account_id, today).await?;
    let all = templates(store).await?;
    let template = all.get(&n.template_id).ok_or_else(|| OnboardingError::NoTemplate(n.template_id.clone()))?;
    let start = match n.started_on.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => today,
        Some(v) => v.parse::<NaiveDate>().map_err(|_| ParamError::new("started_on", v, "is not a date (YYYY-MM-DD)"))?,
    };
    if start > today {
        return Err(ParamError::new("started_on", &start.to_string(), "is after today: a plan starts on a day that has come").into());
    }
    if (today - start).num_days() > 3660 {
        return Err(ParamError::new("started_on", &start.to_string(), "is more than 10 years before today").into());
    }
    let mut plan = rules::instantiate(template, kizuna_store::onboarding::new_plan_id(), &account.account_id, start, account.owner_email.clone());
    plan.account_name = account.name.clone();
    rules::refresh(&mut plan, today);
    let mut tx = store.begin().await?;
    tx.save_plan(&plan).await?;
    let detail = serde_json::json!({ "plan_id": plan.plan_id, "template_id": plan.template_id, "started_on": start });
    actor.audit(&mut *tx, "onboarding.plan_start", Some(&plan.account_id), detail.clone()).await?;
    tx.emit(NewEvent { kind: "onboarding.plan_started", account_id: Some(&plan.account_id), payload: detail }).await?;
    tx.commit().await?;
    Ok(plan)
}

/// Ticking or unticking a task.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OnboardingTaskChange)]
pub struct TaskChange {
    pub done: bool,
    /// YYYY-MM-DD the task was done (default today, never later nor before the plan's start).
    pub done_on: Option<String>,
}

/// Who ticks: staff (or a partner) signed in, or the customer through the shared link.
enum Ticker<'a> {
    Staff(&'a Actor),
    Customer(&'a str),
}

fn check_tick(plan: &Plan, task_id: &str, change: &TaskChange, today: NaiveDate) -> Result<NaiveDate, AppError> {
    if plan.status == PlanStatus::Cancelled {
        return Err(OnboardingError::Cancelled(plan.plan_id.clone()).into());
    }
    let task = plan.tasks.iter().find(|t| t.task_id == task_id).ok_or_else(|| OnboardingError::NoTask { plan: plan.plan_id.clone(), task: task_id.to_string() })?;
    let day = match change.done_on.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => today,
        Some(v) => v.parse::<NaiveDate>().map_err(|_| ParamError::new("done_on", v, "is not a date (YYYY-MM-DD)"))?,
    };
    if day > today || day < plan.started_on {
        return Err(ParamError::new("done_on", &day.to_string(), &format!("must be from the plan's start ({}) to today", plan.started_on)).into());
    }
    if change.done {
        if let Some(d) = task.depends_on.iter().find(|d| plan.tasks.iter().any(|t| &t.task_id == *d && t.done_on.is_none())) {
            return Err(OnboardingError::Blocked { task: task_id.to_string(), waiting_on: d.clone() }.into());
        }
    }
    Ok(day)
}

async fn tick(store: &(impl Accounts + Usage + Onboarding + UnitOfWork + ?Sized), mut plan: Plan, task_id: &str, change: TaskChange, by: Ticker<'_>) -> Result<Plan, AppError> {
    let today = crate::today();
    let day = check_tick(&plan, task_id, &change, today)?;
    let was = plan.status;
    let task = plan.tasks.iter_mut().find(|t| t.task_id == task_id).expect("checked");
    let (who, how) = match &by {
        Ticker::Staff(a) => (a.id.clone(), DoneBy::Staff),
        Ticker::Customer(c) => (c.to_string(), DoneBy::Customer),
    };
    if change.done {
        (task.done_on, task.done_by, task.done_how) = (Some(day), Some(who.clone()), Some(how));
    } else {
        (task.done_on, task.done_by, task.done_how) = (None, None, None);
    }
    let title = task.title.clone();
    rules::refresh(&mut plan, today);
    let journey = crate::journey::journey(store).await?;
    let stage = stage_move(store, &journey, &plan, was).await?;
    let detail = serde_json::json!({ "plan_id": plan.plan_id, "task_id": task_id, "done": change.done, "done_on": change.done.then_some(day), "by": how.as_str(), "status": plan.status });
    let mut tx = store.begin().await?;
    tx.save_plan(&plan).await?;
    match by {
        Ticker::Staff(a) => a.audit(&mut *tx, "onboarding.task", Some(&plan.account_id), detail.clone()).await?,
        Ticker::Customer(c) => {
            tx.audit(kizuna_store::AuditEntry { actor: &format!("customer:{c}"), action: "onboarding.task", target: Some(&plan.account_id), detail: detail.clone() }).await?;
            let subject = format!("{} {}: {title}", if change.done { "顧客がタスクを完了 / Customer completed" } else { "顧客がタスクを未完了に戻した / Customer reopened" }, plan.name);
            tx.upsert_activities(&[timeline_note(&plan.account_id, &format!("plan-tick-{}-{task_id}-{}", plan.plan_id, Utc::now().timestamp_millis()), &subject, Some(c))]).await?;
        }
    }
    tx.emit(NewEvent { kind: "onboarding.task_changed", account_id: Some(&plan.account_id), payload: detail }).await?;
    if let Some(change) = &stage {
        tx.record_stage(change).await?;
    }
    if was != PlanStatus::Completed && plan.status == PlanStatus::Completed {
        tx.emit(NewEvent { kind: "onboarding.plan_completed", account_id: Some(&plan.account_id), payload: serde_json::json!({ "plan_id": plan.plan_id, "completed_on": plan.completed_on }) }).await?;
    }
    tx.commit().await?;
    Ok(plan)
}

/// A note on the account's timeline (shared: the customer's own doing).
fn timeline_note(account_id: &str, id: &str, subject: &str, by: Option<&str>) -> kizuna_domain::ActivityRow {
    kizuna_domain::ActivityRow {
        account_id: account_id.to_string(),
        activity_id: id.to_string(),
        kind: ActivityKind::Note,
        occurred_at: Utc::now(),
        author_email: by.map(str::to_string),
        subject: Some(subject.chars().take(200).collect()),
        body: None,
        attendees: None,
        next_steps: None,
        internal: false,
    }
}

/// Staff (or a partner, on its accounts) tick or untick a task.
pub async fn set_task(store: &(impl Accounts + Onboarding + UnitOfWork + Usage + ?Sized), actor: &Actor, plan_id: &str, task_id: &str, change: TaskChange) -> Result<Plan, AppError> {
    let p = plan(store, actor, plan_id).await?;
    tick(store, p, task_id, change, Ticker::Staff(actor)).await
}

/// The stage change a plan's completion calls for: to the template's next stage, when the
/// account is not already there or further on in the journey.
async fn stage_move(store: &(impl Accounts + ?Sized), journey: &kizuna_domain::journey::Journey, plan: &Plan, was: PlanStatus) -> Result<Option<StageChange>, AppError> {
    if was == PlanStatus::Completed || plan.status != PlanStatus::Completed {
        return Ok(None);
    }
    let Some(to) = plan.completes_to_stage.as_deref() else { return Ok(None) };
    let history = store.stage_history(&plan.account_id).await?;
    let now = kizuna_domain::journey::stage_on(&history, crate::today().max(plan.completed_on.unwrap_or(plan.started_on)));
    let pos = |s: &str| journey.stages.iter().position(|d| d.name == s);
    let further = match (now.and_then(pos), pos(to)) {
        (Some(a), Some(b)) => a >= b,
        _ => now == Some(to),
    };
    if further {
        return Ok(None);
    }
    Ok(Some(StageChange {
        account_id: plan.account_id.clone(),
        change_id: 0,
        changed_on: plan.completed_on.unwrap_or(plan.started_on),
        stage: Some(to.to_string()),
        source: StageSource::Plan,
        changed_by: None,
        note: Some(format!("{} ({})", plan.name, plan.plan_id)),
    }))
}

/// What a daily run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = OnboardingRun)]
pub struct RunSummary {
    pub at: Option<NaiveDate>,
    /// Plans started by new subscriptions.
    pub started: u64,
    /// Tasks the data completed.
    pub tasks_done: u64,
    pub completed: u64,
    /// Accounts moved to the next stage by a completed plan.
    pub stage_moves: u64,
    /// Running plans by status after the run.
    pub on_track: u64,
    pub behind: u64,
    pub stuck: u64,
}

/// The day's onboarding work, as of `at`: start the plans of new subscriptions, complete tasks
/// from data, refresh each running plan's status, and move completed accounts on. Running
/// plans are read in part ([`RunPlan`]: their open data tasks and the others' progress) and
/// written in batches; new plans are written whole.
pub async fn run(store: &(impl Accounts + Health + Usage + Onboarding + UnitOfWork + ?Sized), at: NaiveDate) -> Result<RunSummary, AppError> {
    let all = templates(store).await?;
    let mut summary = RunSummary { at: Some(at), ..Default::default() };
    let mut plans = store.run_plans(at).await?;
    let mut new: Vec<Plan> = new_plans(store, &all, at).await?;
    summary.started = new.len() as u64;
    plans.extend(new.iter().map(|p| RunPlan::of(p, at)));
    if plans.is_empty() {
        return Ok(summary);
    }
    let first_new = plans.len() - new.len();
    let facts = facts_of(store, &plans, at).await?;
    let journey = crate::journey::journey(store).await?;
    let empty = Facts::default();
    // (plan, tasks done, completed by this run, its row changed)
    let mut changed: Vec<(usize, Vec<(String, NaiveDate)>, bool, bool)> = Vec::new();
    let mut stages = Vec::new();
    for (i, run) in plans.iter_mut().enumerate() {
        let before = (run.plan.status, run.plan.completed_on, run.plan.first_value_at);
        let done = rules::advance(run, facts.get(&run.plan.account_id).unwrap_or(&empty), at);
        let plan = &run.plan;
        summary.tasks_done += done.len() as u64;
        match plan.status {
            PlanStatus::OnTrack => summary.on_track += 1,
            PlanStatus::Behind => summary.behind += 1,
            PlanStatus::Stuck => summary.stuck += 1,
            PlanStatus::Completed => summary.completed += 1,
            PlanStatus::Cancelled => {}
        }
        if let Some(change) = stage_move(store, &journey, plan, before.0).await? {
            stages.push(change);
        }
        let completed = before.0 != PlanStatus::Completed && plan.status == PlanStatus::Completed;
        let row_changed = before != (plan.status, plan.completed_on, plan.first_value_at);
        if !done.is_empty() || row_changed || i >= first_new {
            changed.push((i, done, completed, row_changed));
        }
    }
    summary.stage_moves = stages.len() as u64;
    // New plans are written whole, with what the data did to them.
    for (i, done, ..) in changed.iter().filter(|c| c.0 >= first_new) {
        let plan = &mut new[i - first_new];
        for (id, day) in done {
            if let Some(t) = plan.tasks.iter_mut().find(|t| &t.task_id == id) {
                (t.done_on, t.done_by, t.done_how) = (Some(*day), None, Some(DoneBy::Data));
            }
        }
        rules::refresh(plan, at);
    }
    for chunk in changed.chunks(20_000) {
        let mut tx = store.begin().await?;
        let mut events = Vec::new();
        let mut advanced = Vec::new();
        for (i, done, completed, row_changed) in chunk {
            let (plan, new_plan) = if *i >= first_new { (&new[i - first_new], true) } else { (&plans[*i].plan, false) };
            if new_plan {
                tx.save_plan(plan).await?;
                let payload = serde_json::json!({ "plan_id": plan.plan_id, "template_id": plan.template_id, "started_on": plan.started_on });
                events.push(NewEvent { kind: "onboarding.plan_started", account_id: Some(&plan.account_id), payload });
            } else {
                advanced.push(kizuna_store::onboarding::Advanced { plan, done, plan_changed: *row_changed, all: plans[*i].all_time(done) });
            }
            if !done.is_empty() {
                let tasks: Vec<&str> = done.iter().map(|d| d.0.as_str()).collect();
                events.push(NewEvent { kind: "onboarding.tasks_done", account_id: Some(&plan.account_id), payload: serde_json::json!({ "plan_id": plan.plan_id, "tasks": tasks }) });
            }
            if *completed {
                events.push(NewEvent { kind: "onboarding.plan_completed", account_id: Some(&plan.account_id), payload: serde_json::json!({ "plan_id": plan.plan_id, "completed_on": plan.completed_on }) });
            }
        }
        tx.advance_plans(&advanced).await?;
        tx.emit_many(&events).await?;
        tx.commit().await?;
    }
    if !stages.is_empty() {
        let mut tx = store.begin().await?;
        for s in &stages {
            tx.record_stage(s).await?;
            let payload = serde_json::json!({ "to": s.stage, "changed_on": s.changed_on, "source": "plan", "note": s.note });
            tx.emit(NewEvent { kind: "account.stage_changed", account_id: Some(&s.account_id), payload }).await?;
        }
        tx.commit().await?;
    }
    Ok(summary)
}

/// Plans for first subscriptions to a product with a template, started from the template's
/// `auto_start_from` up to `at`, where the account has no plan for the product yet.
async fn new_plans(store: &(impl Accounts + Onboarding + ?Sized), all: &Templates, at: NaiveDate) -> Result<Vec<Plan>, AppError> {
    let Some(first) = all.templates.iter().filter_map(|t| t.auto_start_from).min() else { return Ok(vec![]) };
    if first > at {
        return Ok(vec![]);
    }
    let have: HashSet<(String, String)> = store.plan_products().await?.into_iter().collect();
    let starts: Vec<(String, String, NaiveDate)> = store.subscription_starts(first, at).await?.into_iter().filter(|(a, p, _)| !have.contains(&(a.clone(), p.clone()))).collect();
    if starts.is_empty() {
        return Ok(vec![]);
    }
    let dims: HashMap<String, kizuna_domain::AccountDims> = store.account_dims().await?.into_iter().map(|d| (d.account_id.clone(), d)).collect();
    let mut out = Vec::new();
    for (account, product, start) in starts {
        let d = dims.get(&account);
        let touch = d.and_then(|d| d.touch_model).map(|m| m.as_str());
        let Some(t) = all.for_account(&product, d.and_then(|d| d.segment.as_deref()), touch) else { continue };
        if t.auto_start_from.is_none_or(|from| start < from) {
            continue;
        }
        out.push(rules::instantiate(t, kizuna_store::onboarding::new_plan_id(), &account, start, d.and_then(|d| d.owner_email.clone())));
    }
    Ok(out)
}

/// What the data says about each account with a plan, for the criteria its open tasks have.
async fn facts_of(store: &(impl Accounts + Health + Usage + Onboarding + ?Sized), plans: &[RunPlan], at: NaiveDate) -> Result<HashMap<String, Facts>, AppError> {
    use kizuna_domain::onboarding::Criterion;
    let mut out: HashMap<String, Facts> = HashMap::new();
    let (mut event_accounts, mut events, mut from) = (Vec::new(), HashSet::new(), at);
    // Users by day are read only for events whose criteria count them.
    let mut user_events = HashSet::new();
    let (mut metric, mut attribute, mut contacts) = (false, false, Vec::new());
    for run in plans {
        let p = &run.plan;
        for c in run.open.iter().map(|t| &t.criterion) {
            match c {
                Criterion::Event { event, min_users, .. } => {
                    event_accounts.push(p.account_id.clone());
                    events.insert(event.clone());
                    if *min_users > 1 {
                        user_events.insert(event.clone());
                    }
                    from = from.min(p.started_on);
                }
                Criterion::Metric { .. } => metric = true,
                Criterion::Attribute { .. } => attribute = true,
                Criterion::ContactRole { .. } => contacts.push(p.account_id.clone()),
                Criterion::Manual => {}
            }
        }
    }
    event_accounts.sort();
    event_accounts.dedup();
    let events: Vec<String> = events.into_iter().collect();
    let user_events: Vec<String> = user_events.into_iter().collect();
    for (account, event, day, user, n) in store.event_days(&event_accounts, &events, &user_events, from, at).await? {
        out.entry(account).or_default().events.entry(event).or_default().push((day, user, n));
    }
    if metric {
        let defs = crate::usage::definitions(store).await?;
        for (account, (_, metrics)) in crate::usage::usage_table(store, &defs, at, None).await? {
            let f = out.entry(account).or_default();
            f.metrics = metrics.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect();
        }
    }
    if attribute {
        let wanted: HashSet<&str> = plans.iter().map(|p| p.plan.account_id.as_str()).collect();
        for p in store.account_profiles(None).await? {
            if !wanted.contains(p.account_id.as_str()) {
                continue;
            }
            let f = out.entry(p.account_id.clone()).or_default();
            if let Some(m) = p.attributes.as_object() {
                f.attributes.extend(m.iter().filter(|(_, v)| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty())).map(|(k, _)| k.clone()));
            }
            if p.segment.is_some() {
                f.attributes.insert("segment".into());
            }
            if p.lifecycle_stage.is_some() {
                f.attributes.insert("lifecycle_stage".into());
            }
        }
        // The other columns a criterion may name.
        for d in store.account_dims().await? {
            if !wanted.contains(d.account_id.as_str()) {
                continue;
            }
            let f = out.entry(d.account_id.clone()).or_default();
            for (name, set) in [("touch_model", d.touch_model.is_some()), ("owner_email", d.owner_email.is_some()), ("partner_id", d.partner_id.is_some())] {
                if set {
                    f.attributes.insert(name.into());
                }
            }
        }
    }
    contacts.sort();
    contacts.dedup();
    for account in contacts {
        let roles: HashSet<String> = store.contacts(&account).await?.into_iter().filter_map(|c| c.role.map(|r| rules::role_key(r.as_str()))).collect();
        out.entry(account).or_default().contact_roles = roles;
    }
    Ok(out)
}

/// How the report groups plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportBy {
    Product,
    Segment,
    TouchModel,
    Owner,
    Partner,
    Cohort,
}

impl ReportBy {
    pub const ALL: [ReportBy; 6] = [ReportBy::Product, ReportBy::Segment, ReportBy::TouchModel, ReportBy::Owner, ReportBy::Partner, ReportBy::Cohort];
    pub fn as_str(self) -> &'static str {
        match self {
            ReportBy::Product => "product",
            ReportBy::Segment => "segment",
            ReportBy::TouchModel => "touch_model",
            ReportBy::Owner => "owner",
            ReportBy::Partner => "partner",
            ReportBy::Cohort => "cohort",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// The onboarding KPI report (`kizuna onboarding report`, `/api/v1/onboarding/report`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OnboardingReport {
    pub from: NaiveDate,
    /// The range's end as asked.
    pub requested_to: NaiveDate,
    /// The range's end as counted: cut at the as-of day (nothing later has happened).
    pub to: NaiveDate,
    pub at: NaiveDate,
    pub by: Option<ReportBy>,
    pub total: Kpis,
    /// One per group, largest first (with `by`).
    pub groups: Vec<Kpis>,
    /// Plans by start month.
    pub cohorts: Vec<CohortRow>,
}

pub async fn report(store: &(impl Onboarding + Accounts + ?Sized), actor: &Actor, from: NaiveDate, to: NaiveDate, by: Option<ReportBy>, at: NaiveDate) -> Result<OnboardingReport, AppError> {
    let end = to.min(at);
    let scope = actor.scope();
    let names: HashMap<String, String> = if by == Some(ReportBy::Partner) { store.partners().await?.into_iter().collect() } else { HashMap::new() };
    let facts: Vec<PlanFact> = store
        .plan_facts(end)
        .await?
        .into_iter()
        .filter(|r| scope.is_none() || r.partner_id == scope)
        .map(|r| {
            let late = r.late_tasks > 0 && r.completed_on.is_none_or(|c| c > end);
            let progress = r.last_done_on.unwrap_or(r.started_on).max(r.started_on);
            let group = match by {
                None => None,
                Some(ReportBy::Product) => Some(r.product.clone()),
                Some(ReportBy::Segment) => r.segment.clone(),
                Some(ReportBy::TouchModel) => r.touch_model.clone(),
                Some(ReportBy::Owner) => r.owner_email.clone(),
                Some(ReportBy::Partner) => r.partner_id.as_ref().map(|p| names.get(p).cloned().unwrap_or_else(|| p.clone())),
                Some(ReportBy::Cohort) => Some(r.started_on.format("%Y-%m").to_string()),
            };
            PlanFact {
                stuck: late && (end - progress).num_days() >= r.stuck_after_days as i64,
                cancelled: r.status == "cancelled",
                plan_id: r.plan_id,
                account_id: r.account_id,
                started_on: r.started_on,
                due_on: r.due_on,
                completed_on: r.completed_on.filter(|c| *c <= end),
                first_value_at: r.first_value_at.filter(|c| *c <= end),
                group,
            }
        })
        .collect();
    let all: Vec<&PlanFact> = facts.iter().collect();
    let mut groups: BTreeMap<String, Vec<&PlanFact>> = BTreeMap::new();
    if by.is_some() {
        for f in &facts {
            groups.entry(f.group.clone().unwrap_or_else(|| "(none)".into())).or_default().push(f);
        }
    }
    let mut groups: Vec<Kpis> = groups.iter().map(|(g, ps)| rules::kpis(g, ps, from, end)).filter(|k| k.started + k.due_in_period + k.completed + k.stuck > 0).collect();
    if by == Some(ReportBy::Cohort) {
        groups.sort_by(|a, b| a.group.cmp(&b.group));
    } else {
        groups.sort_by(|a, b| (b.due_in_period + b.started).cmp(&(a.due_in_period + a.started)).then_with(|| a.group.cmp(&b.group)));
    }
    Ok(OnboardingReport { from, requested_to: to, to: end, at, by, total: rules::kpis("all", &all, from, end), groups, cohorts: rules::cohorts(&facts, from, end) })
}

/// The churn comparison of on-time and late onboarding (`kizuna onboarding impact`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Impact {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub horizon_days: u32,
    pub at: NaiveDate,
    /// Plans due in [from, to] were compared; those whose horizon had not ended by `at` were
    /// left out (their churn is not known yet): how many.
    pub not_yet_observed: u64,
    pub all: Comparison,
    /// By the account's segment.
    pub segments: Vec<Comparison>,
}

pub async fn impact(store: &(impl Onboarding + Accounts + Revenue + ?Sized), actor: &Actor, from: NaiveDate, to: NaiveDate, horizon: u32, at: NaiveDate) -> Result<Impact, AppError> {
    let scope = actor.scope();
    let churns = crate::revenue_churns(store, at).await?;
    let mut churn_days: HashMap<String, Vec<NaiveDate>> = HashMap::new();
    for (a, d) in churns {
        churn_days.entry(a).or_default().push(d);
    }
    let horizon_d = Duration::days(horizon as i64);
    let mut rows = Vec::new();
    let mut not_yet = 0u64;
    // One row per account: its first plan due in the range.
    let mut seen = HashSet::new();
    let mut facts = store.plan_facts(at).await?;
    facts.sort_by(|a, b| (a.due_on, &a.plan_id).cmp(&(b.due_on, &b.plan_id)));
    for r in facts {
        // A cancelled plan counts as not completed on time: a customer that left before
        // finishing onboarding is the case the comparison is about.
        if r.due_on < from || r.due_on > to || (scope.is_some() && r.partner_id != scope) {
            continue;
        }
        if r.due_on + horizon_d > at {
            not_yet += 1;
            continue;
        }
        if !seen.insert(r.account_id.clone()) {
            continue;
        }
        // Churn from the plan's start: a customer that left during onboarding (before its due
        // day) churned, and is the case that matters most.
        let churned = churn_days.get(&r.account_id).is_some_and(|ds| ds.iter().any(|d| *d > r.started_on && *d <= r.due_on + horizon_d));
        rows.push(rules::ImpactRow { on_time: r.completed_on.is_some_and(|c| c <= r.due_on), churned, account_id: r.account_id, segment: r.segment });
    }
    let refs: Vec<&rules::ImpactRow> = rows.iter().collect();
    let mut by_segment: BTreeMap<String, Vec<&rules::ImpactRow>> = BTreeMap::new();
    for r in &rows {
        by_segment.entry(r.segment.clone().unwrap_or_else(|| "(none)".into())).or_default().push(r);
    }
    Ok(Impact {
        from,
        to,
        horizon_days: horizon,
        at,
        not_yet_observed: not_yet,
        all: rules::compare("all", &refs),
        segments: by_segment.iter().map(|(s, rs)| rules::compare(s, rs)).collect(),
    })
}

/// One line of a plan list as CSV or a table (CLI and API alike): the plan without its tasks.
pub fn plan_row(p: &Plan) -> serde_json::Value {
    let done = p.tasks.iter().filter(|t| t.done_on.is_some()).count();
    serde_json::json!({
        "plan_id": p.plan_id, "account_id": p.account_id, "account_name": p.account_name, "template_id": p.template_id,
        "product": p.product, "status": p.status, "started_on": p.started_on, "due_on": p.due_on, "completed_on": p.completed_on,
        "first_value_at": p.first_value_at, "tasks_done": done, "tasks": p.tasks.len(), "owner_email": p.owner_email,
    })
}

/// The report's lines as CSV or a table: the whole set (`all`) first, then each group.
pub fn report_rows(r: &OnboardingReport) -> Vec<Kpis> {
    std::iter::once(&r.total).chain(r.groups.iter()).cloned().collect()
}

/// The impact comparison's lines as CSV or a table: `all`, then each segment, one column per
/// figure, and the plans left out (the same on every line).
pub fn impact_rows(i: &Impact) -> Vec<serde_json::Value> {
    std::iter::once(&i.all)
        .chain(i.segments.iter())
        .map(|c| {
            serde_json::json!({
                "group": c.group, "on_time_accounts": c.on_time.accounts, "on_time_churned": c.on_time.churned, "on_time_churn_rate": c.on_time.churn_rate,
                "on_time_ci_low": c.on_time.ci_low, "on_time_ci_high": c.on_time.ci_high, "late_accounts": c.late.accounts, "late_churned": c.late.churned,
                "late_churn_rate": c.late.churn_rate, "late_ci_low": c.late.ci_low, "late_ci_high": c.late.ci_high, "difference": c.difference,
                "difference_low": c.difference_low, "difference_high": c.difference_high, "verdict": c.verdict, "not_yet_observed": i.not_yet_observed,
            })
        })
        .collect()
}

/// What the verdict says, in the reader's language.
pub fn verdict_text(v: Verdict, lang: &str) -> &'static str {
    match (v, lang == "ja") {
        (Verdict::TooThin, true) => "データが少なく、差があるとは言えません（各群20社以上・解約5件以上が必要）。",
        (Verdict::TooThin, false) => "Too little data to tell (each group needs 20 accounts and 5 churned in all).",
        (Verdict::LateChurnsMore, true) => "期限内にオンボーディングを完了しなかった顧客の方が解約率が高く、その差は95%信頼区間で0を含みません。",
        (Verdict::LateChurnsMore, false) => "Accounts whose onboarding was late churned more, and the 95% interval of the difference excludes zero.",
        (Verdict::OnTimeChurnsMore, true) => "期限内に完了した顧客の方が解約率が高く、その差は95%信頼区間で0を含みません。",
        (Verdict::OnTimeChurnsMore, false) => "Accounts whose onboarding was on time churned more, and the 95% interval excludes zero.",
        (Verdict::NoClearDifference, true) => "差の95%信頼区間が0を含むため、明確な差はありません。",
        (Verdict::NoClearDifference, false) => "No clear difference: the 95% interval of the difference includes zero.",
    }
}

// Shared plan links (`kizuna_domain::links`), signed with a key kept in the database.

/// A link to hand to the customer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SharedLink {
    /// The path under the server's address: `/shared/plans/{token}`.
    pub path: String,
    pub token: String,
    /// The last day the link opens.
    pub expires_on: NaiveDate,
}

async fn link_key(store: &(impl Usage + UnitOfWork + ?Sized), create: bool) -> Result<Option<Vec<u8>>, AppError> {
    if let Some(k) = store.setting(LINK_SECRET).await? {
        return Ok(Some(k.into_bytes()));
    }
    if !create {
        return Ok(None);
    }
    let key: String = (0..4).map(|_| format!("{:016x}", rand::random::<u64>())).collect();
    let mut tx = store.begin().await?;
    tx.save_setting(LINK_SECRET, &key).await?;
    tx.commit().await?;
    // Another request may have saved one first: the stored one wins.
    Ok(store.setting(LINK_SECRET).await?.map(String::into_bytes))
}

/// The token of a link to `plan_id` that opens until `expires_on`, signed with `key`.
pub fn link_token(key: &[u8], plan_id: &str, expires_on: NaiveDate) -> String {
    kizuna_domain::links::token(key, plan_id, expires_on)
}

/// Makes a link to the plan's customer side, valid for `days` days (1 to 90).
pub async fn share(store: &(impl Accounts + Usage + Onboarding + UnitOfWork + ?Sized), actor: &Actor, plan_id: &str, days: u32) -> Result<SharedLink, AppError> {
    let p = plan(store, actor, plan_id).await?;
    if !(1..=90).contains(&days) {
        return Err(ParamError::new("days", &days.to_string(), "is not a whole number from 1 to 90").into());
    }
    let key = link_key(store, true).await?.expect("created");
    let expires_on = crate::today() + Duration::days(days as i64);
    let token = link_token(&key, &p.plan_id, expires_on);
    let mut tx = store.begin().await?;
    actor.audit(&mut *tx, "onboarding.share", Some(&p.account_id), serde_json::json!({ "plan_id": p.plan_id, "expires_on": expires_on })).await?;
    tx.commit().await?;
    Ok(SharedLink { path: format!("/shared/plans/{token}"), token, expires_on })
}

/// The plan a link opens, when it is genuine and not expired.
async fn plan_of_link(store: &(impl Usage + Onboarding + UnitOfWork + ?Sized), token: &str) -> Result<Plan, AppError> {
    let key = link_key(store, false).await?.ok_or(OnboardingError::LinkInvalid)?;
    let (id, expires) = kizuna_domain::links::read(&key, token).ok_or(OnboardingError::LinkInvalid)?;
    if crate::today() > expires {
        return Err(OnboardingError::LinkExpired(expires).into());
    }
    store.plan(id).await?.ok_or_else(|| OnboardingError::LinkInvalid.into())
}

/// The customer's side of a plan: its customer-side tasks only.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SharedPlan {
    pub plan_id: String,
    pub account_name: String,
    pub name: String,
    pub started_on: NaiveDate,
    pub due_on: NaiveDate,
    pub status: PlanStatus,
    pub expires_on: NaiveDate,
    pub tasks: Vec<rules::PlanTask>,
    /// Customer-side tasks done, of all customer-side tasks.
    pub done: usize,
    pub total: usize,
}

fn customer_side(plan: Plan, expires_on: NaiveDate) -> SharedPlan {
    let tasks: Vec<rules::PlanTask> = plan.tasks.into_iter().filter(|t| t.side == Side::Customer).map(|t| rules::PlanTask { done_by: None, ..t }).collect();
    SharedPlan {
        done: tasks.iter().filter(|t| t.done_on.is_some()).count(),
        total: tasks.len(),
        plan_id: plan.plan_id,
        account_name: plan.account_name,
        name: plan.name,
        started_on: plan.started_on,
        due_on: plan.due_on,
        status: plan.status,
        expires_on,
        tasks,
    }
}

fn expiry(token: &str) -> NaiveDate {
    token.split('.').nth(1).and_then(|e| NaiveDate::parse_from_str(e, "%Y%m%d").ok()).unwrap_or_default()
}

/// Opens the shared plan (the visit is on the account's timeline, once a day).
pub async fn shared_plan(store: &(impl Accounts + Usage + Onboarding + UnitOfWork + ?Sized), token: &str) -> Result<SharedPlan, AppError> {
    let plan = plan_of_link(store, token).await?;
    let today = crate::today();
    let mut tx = store.begin().await?;
    let subject = format!("顧客が共有プランを閲覧 / Customer viewed the shared plan: {}", plan.name);
    tx.upsert_activities(&[timeline_note(&plan.account_id, &format!("plan-visit-{}-{today}", plan.plan_id), &subject, None)]).await?;
    tx.commit().await?;
    Ok(customer_side(plan, expiry(token)))
}

/// The customer ticks (or unticks) one of its tasks on the shared plan; `who` is the name or
/// e-mail they give. Vendor-side tasks cannot be reached through a link.
pub async fn shared_tick(store: &(impl Accounts + Usage + Onboarding + UnitOfWork + ?Sized), token: &str, task_id: &str, done: bool, who: &str) -> Result<SharedPlan, AppError> {
    let plan = plan_of_link(store, token).await?;
    if !plan.tasks.iter().any(|t| t.task_id == task_id && t.side == Side::Customer) {
        return Err(OnboardingError::NoTask { plan: plan.plan_id.clone(), task: task_id.to_string() }.into());
    }
    let who: String = who.trim().chars().take(100).collect();
    let who = if who.is_empty() { "customer".to_string() } else { who };
    let plan = tick(store, plan, task_id, TaskChange { done, done_on: None }, Ticker::Customer(&who)).await?;
    Ok(customer_side(plan, expiry(token)))
}
