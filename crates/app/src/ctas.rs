//! Calls to action: open one by hand, work it (status, snooze, owner, due date, tasks,
//! comments), close it with an outcome; the CTA configuration (types, reasons, playbooks,
//! signal thresholds). Each change, its audit entry and its event (`cta.opened`,
//! `cta.updated`, `cta.closed`) commit together. The daily signals that open CTAs are in
//! [`crate::signals`].

use crate::access::Actor;
use crate::accounts::visible_account;
use crate::AppError;
use chrono::{NaiveDate, Utc};
use kizuna_domain::ctas::{add_business_days, planned_tasks, shift_due, CtaConfig, CtaStatus, Outcome, Priority, Source, SETTING};
use kizuna_domain::Role;
use kizuna_store::{Accounts, Cta, CtaComment, CtaPage, CtaQuery, CtaTask, Ctas, NewEvent, Tx, UnitOfWork, Usage};
use serde::{Deserialize, Serialize};

/// A CTA that cannot be opened or changed as asked (400), or is not there (404).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CtaError {
    #[error("no CTA {0:?}")]
    NotFound(String),
    #[error("CTA type {0:?} is not configured")]
    UnknownType(String),
    #[error("CTA type {0:?} has no reason {1:?}")]
    UnknownReason(String, String),
    #[error("account {account:?} already has an open CTA of this type and reason: {cta_id}")]
    AlreadyOpen { account: String, cta_id: String },
    #[error("snoozing needs a date after today and a reason")]
    SnoozeNeedsDate,
    #[error("closing needs an outcome: success, lost or not_needed")]
    CloseNeedsOutcome,
    #[error("{field}: {value:?} is not valid; expected {expected}")]
    Field { field: &'static str, value: String, expected: String },
    #[error("no task {0} on this CTA")]
    NoTask(i64),
    #[error("{0} is too long")]
    TooLong(&'static str),
    /// The CTA changed after the copy the change was made to was read (409): the change is not
    /// written over the other one.
    #[error("CTA {cta_id} was changed at {at} after the copy this change was made to (revision {revision}); read it again and make the change there")]
    Changed { cta_id: String, at: String, revision: i64 },
}

/// [`CtaError::Changed`] for the CTA as it is now.
fn changed_since(now: &Cta, revision: i64) -> AppError {
    let at = now.updated_at.with_timezone(&kizuna_domain::time::zone()).format("%Y-%m-%d %H:%M:%S").to_string();
    CtaError::Changed { cta_id: now.cta_id.clone(), at, revision }.into()
}

/// A CTA opened by hand.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCta {
    pub account_id: String,
    #[serde(rename = "type")]
    pub cta_type: String,
    pub reason: String,
    /// Defaults to the reason's label.
    pub title: Option<String>,
    /// low, medium, high or critical (default: the reason's).
    pub priority: Option<String>,
    /// Defaults to the account's owner.
    pub owner_email: Option<String>,
    /// YYYY-MM-DD (default: the reason's business days from today).
    pub due_on: Option<String>,
}

/// A change to a CTA. Only the fields given change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CtaChange {
    /// open, in_progress, snoozed (with `snoozed_until` and `snooze_reason`) or closed (with
    /// `outcome`).
    pub status: Option<String>,
    pub snoozed_until: Option<String>,
    pub snooze_reason: Option<String>,
    /// success, lost or not_needed.
    pub outcome: Option<String>,
    pub close_note: Option<String>,
    pub title: Option<String>,
    pub priority: Option<String>,
    pub owner_email: Option<String>,
    /// With `owner_email`: the tasks the previous owner had (or nobody had) go to the new one.
    #[serde(default)]
    pub move_tasks: bool,
    pub due_on: Option<String>,
    /// With `due_on`: open tasks move by as many business days as the CTA.
    #[serde(default)]
    pub shift_tasks: bool,
    /// Tasks to mark done (`true`) or open again (`false`).
    #[serde(default)]
    pub tasks: Vec<TaskChange>,
    /// The CTA's `revision` this change was made to: when it has changed since, the change is
    /// refused (409) instead of undoing the other one. Without it the change applies to the
    /// CTA as it is.
    pub revision: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskChange {
    pub task_id: i64,
    pub done: bool,
}

/// A CTA with its comment thread.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CtaDetail {
    #[serde(flatten)]
    pub cta: Cta,
    pub comments: Vec<CtaComment>,
}

/// The configuration as saved, or the default.
pub async fn config(store: &(impl Usage + ?Sized)) -> Result<CtaConfig, AppError> {
    match store.setting(SETTING).await? {
        Some(text) => CtaConfig::parse(&text).map_err(|e| AppError::Config(format!("CTA configuration: {e}"))),
        None => Ok(CtaConfig::default_config()),
    }
}

/// The configuration's text as saved, or the default's.
pub async fn config_text(store: &(impl Usage + ?Sized)) -> Result<String, AppError> {
    Ok(store.setting(SETTING).await?.unwrap_or_else(|| kizuna_domain::ctas::DEFAULT.to_string()))
}

/// Checks and saves the configuration (TOML), audited.
pub async fn save_config(store: &(impl UnitOfWork + ?Sized), actor: &Actor, body: &str) -> Result<CtaConfig, AppError> {
    let config = CtaConfig::parse(body).map_err(AppError::Playbooks)?;
    let mut tx = store.begin().await?;
    tx.save_setting(SETTING, body).await?;
    let detail = serde_json::json!({ "types": config.types.len(), "playbooks": config.playbooks.len() });
    actor.audit(&mut *tx, "playbooks.save", None, detail).await?;
    tx.commit().await?;
    Ok(config)
}

/// A page of CTAs; a partner's actor sees its accounts' only.
pub async fn list(store: &(impl Ctas + ?Sized), actor: &Actor, mut q: CtaQuery) -> Result<CtaPage, AppError> {
    if let Some(p) = actor.scope() {
        q.partner_id = Some(p);
    }
    let mut page = store.ctas(&q).await?;
    let today = crate::today();
    page.ctas.iter_mut().for_each(|c| read_on(c, today));
    Ok(page)
}

/// A CTA still open shows its evidence's day counts as of today (see [`evidence_on`]).
pub(crate) fn read_on(cta: &mut Cta, today: NaiveDate) {
    if cta.status != CtaStatus::Closed {
        cta.evidence = kizuna_domain::ctas::evidence_on(&cta.evidence, today);
    }
}

/// The CTA if the actor may see its account.
pub async fn visible(store: &(impl Ctas + Accounts + ?Sized), actor: &Actor, cta_id: &str) -> Result<Cta, AppError> {
    let not_found = || AppError::Cta(CtaError::NotFound(cta_id.to_string()));
    let cta = store.cta(cta_id).await?.ok_or_else(not_found)?;
    if actor.scope().is_some() {
        visible_account(store, actor, &cta.account_id, crate::today()).await.map_err(|_| not_found())?;
    }
    Ok(cta)
}

pub async fn detail(store: &(impl Ctas + Accounts + ?Sized), actor: &Actor, cta_id: &str) -> Result<CtaDetail, AppError> {
    let mut cta = visible(store, actor, cta_id).await?;
    read_on(&mut cta, crate::today());
    // A partner reads the comments shared with it, never the team's internal ones.
    let partner = actor.scope().is_some();
    let comments = store.cta_comments(&cta.account_id, &cta.cta_id).await?.into_iter().filter(|c| !(partner && c.internal)).collect();
    Ok(CtaDetail { cta, comments })
}

fn field<T>(field: &'static str, value: &str, parsed: Option<T>, expected: &str) -> Result<T, AppError> {
    parsed.ok_or_else(|| AppError::Cta(CtaError::Field { field, value: value.to_string(), expected: expected.to_string() }))
}

fn date(name: &'static str, value: &str) -> Result<NaiveDate, AppError> {
    field(name, value, value.trim().parse::<NaiveDate>().ok(), "a date (YYYY-MM-DD)")
}

fn priority(value: &str) -> Result<Priority, AppError> {
    field("priority", value, Priority::parse(value), "low, medium, high or critical")
}

fn text(name: &'static str, value: &str, max: usize) -> Result<String, AppError> {
    let v = value.trim();
    if v.chars().count() > max {
        return Err(CtaError::TooLong(name).into());
    }
    Ok(v.to_string())
}

/// A new CTA of `cta_type`/`reason` on `account`, with the playbook's tasks (the CTA's
/// owner does the CSM's tasks; the others wait for someone with their role).
pub(crate) fn new_cta(config: &CtaConfig, account: &Owned, cta_type: &str, reason: &str, opened: NaiveDate, source: Source) -> Result<Cta, AppError> {
    config.cta_type(cta_type).ok_or_else(|| CtaError::UnknownType(cta_type.to_string()))?;
    let r = config.reason(cta_type, reason).ok_or_else(|| CtaError::UnknownReason(cta_type.to_string(), reason.to_string()))?;
    let now = Utc::now();
    let owner = account.owner_email.clone();
    let tasks = planned_tasks(config, cta_type, reason, opened)
        .into_iter()
        .zip(1..)
        .map(|(t, task_id)| CtaTask {
            task_id,
            title: t.title,
            description: t.description,
            owner_email: if t.owner_role == Role::Csm { owner.clone() } else { None },
            owner_role: t.owner_role.as_str().to_string(),
            due_on: Some(t.due_on),
            done: false,
            done_at: None,
            done_by: None,
        })
        .collect();
    Ok(Cta {
        cta_id: kizuna_store::ctas::new_cta_id(),
        account_id: account.account_id.clone(),
        account_name: account.name.clone(),
        cta_type: cta_type.to_string(),
        reason: reason.to_string(),
        title: r.label_en.clone(),
        priority: r.priority,
        status: CtaStatus::Open,
        owner_email: owner,
        due_on: Some(add_business_days(opened, r.due_days)),
        snoozed_until: None,
        snooze_reason: None,
        source,
        evidence: serde_json::json!({}),
        signal_key: reason.to_string(),
        scope: String::new(),
        created_by: None,
        created_at: now,
        updated_at: now,
        revision: now.timestamp_millis(),
        closed_at: None,
        outcome: None,
        close_note: None,
        tasks,
    })
}

/// The account a CTA is opened on: its id, name and owner.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Owned {
    pub account_id: String,
    pub name: String,
    pub owner_email: Option<String>,
}

impl From<&kizuna_domain::Account> for Owned {
    fn from(a: &kizuna_domain::Account) -> Self {
        Owned { account_id: a.account_id.clone(), name: a.name.clone(), owner_email: a.owner_email.clone() }
    }
}

/// What the event and audit entry of a CTA carry.
pub(crate) fn summary(c: &Cta) -> serde_json::Value {
    serde_json::json!({
        "cta_id": c.cta_id, "type": c.cta_type, "reason": c.reason, "status": c.status.as_str(),
        "priority": c.priority.as_str(), "owner_email": c.owner_email, "due_on": c.due_on, "source": c.source.as_str(),
    })
}

/// A line on the account's timeline for a change to one of its CTAs (both languages, as the
/// timeline's other system notes; its id starts `cta-log-`, which is never CSM contact).
/// `internal`: the line is the team's only (an internal comment's), not the account's partner's.
pub(crate) fn timeline_entry(cta: &Cta, actor_id: &str, ja: &str, en: &str, internal: bool) -> kizuna_domain::ActivityRow {
    let at = Utc::now();
    kizuna_domain::ActivityRow {
        account_id: cta.account_id.clone(),
        activity_id: format!("cta-log-{}-{}", cta.cta_id, at.timestamp_nanos_opt().unwrap_or_default()),
        kind: kizuna_domain::ActivityKind::Note,
        occurred_at: at,
        author_email: actor_id.contains('@').then(|| actor_id.to_string()),
        subject: Some(format!("CTA {ja} / CTA {en}: {}", cta.title).chars().take(200).collect()),
        body: None,
        attendees: None,
        next_steps: None,
        internal,
    }
}

/// What a change did, for the timeline: (Japanese, English); None when nothing a reader follows
/// changed (a task ticked is on the CTA).
fn change_words(cta: &Cta, changed: &[&str]) -> Option<(String, String)> {
    let mut ja = Vec::new();
    let mut en = Vec::new();
    if changed.contains(&"status") || changed.contains(&"snoozed_until") || changed.contains(&"outcome") {
        let (j, e) = match cta.status {
            CtaStatus::Open => ("再開".to_string(), "reopened".to_string()),
            CtaStatus::InProgress => ("対応開始".to_string(), "started".to_string()),
            CtaStatus::Snoozed => {
                let d = cta.snoozed_until.map(|d| d.to_string()).unwrap_or_default();
                (format!("{d}まで保留"), format!("snoozed until {d}"))
            }
            CtaStatus::Closed => {
                let o = cta.outcome.map(|o| o.as_str()).unwrap_or_default();
                let oj = match cta.outcome {
                    Some(Outcome::Success) => "成功",
                    Some(Outcome::Lost) => "失注",
                    Some(Outcome::NotNeeded) => "対応不要",
                    None => "",
                };
                (format!("完了（{oj}）"), format!("closed ({o})"))
            }
        };
        ja.push(j);
        en.push(e);
    }
    if changed.contains(&"owner_email") {
        let o = cta.owner_email.clone().unwrap_or_else(|| "—".into());
        ja.push(format!("担当を{o}に変更"));
        en.push(format!("owner now {o}"));
    }
    if changed.contains(&"due_on") {
        let d = cta.due_on.map(|d| d.to_string()).unwrap_or_default();
        ja.push(format!("期日を{d}に変更"));
        en.push(format!("due {d}"));
    }
    (!ja.is_empty()).then(|| (ja.join("、"), en.join(", ")))
}

/// Writes a new CTA, its audit entry, its timeline line and `cta.opened` in the transaction;
/// false, writing nothing, when its twin (account, type, reason, scope) is open already.
pub(crate) async fn open_in(tx: &mut dyn Tx, actor_id: &str, cta: &Cta) -> Result<bool, AppError> {
    if !tx.insert_cta(cta).await? {
        return Ok(false);
    }
    tx.upsert_activities(&[timeline_entry(cta, actor_id, "起票", "opened", false)]).await?;
    let entry = kizuna_store::AuditEntry { actor: actor_id, action: "cta.open", target: Some(&cta.cta_id), detail: summary(cta) };
    tx.audit(entry).await?;
    tx.emit(NewEvent { kind: "cta.opened", account_id: Some(&cta.account_id), payload: summary(cta) }).await?;
    Ok(true)
}

/// Opens a CTA by hand.
pub async fn create(store: &(impl Ctas + Accounts + Usage + UnitOfWork + ?Sized), actor: &Actor, n: NewCta) -> Result<Cta, AppError> {
    let today = crate::today();
    let account = visible_account(store, actor, n.account_id.trim(), today).await?;
    let config = config(store).await?;
    let mut cta = new_cta(&config, &Owned::from(&account), n.cta_type.trim(), n.reason.trim(), today, Source::Manual)?;
    if let Some(existing) = open_twin(store, &cta).await? {
        return Err(CtaError::AlreadyOpen { account: account.account_id, cta_id: existing }.into());
    }
    if let Some(t) = n.title.as_deref().filter(|t| !t.trim().is_empty()) {
        cta.title = text("title", t, 200)?;
    }
    if let Some(p) = &n.priority {
        cta.priority = priority(p)?;
    }
    if let Some(o) = n.owner_email.as_deref().filter(|o| !o.trim().is_empty()) {
        cta.owner_email = Some(text("owner_email", &o.to_lowercase(), 254)?);
        for t in cta.tasks.iter_mut().filter(|t| t.owner_role == Role::Csm.as_str()) {
            t.owner_email = cta.owner_email.clone();
        }
    }
    if let Some(d) = &n.due_on {
        cta.due_on = Some(date("due_on", d)?);
    }
    cta.created_by = Some(actor.id.clone());
    let mut tx = store.begin().await?;
    if !open_in(&mut *tx, &actor.id, &cta).await? {
        // Someone opened the same one a moment ago (after the check above): say which.
        drop(tx);
        return Err(already_open(store, &cta).await);
    }
    tx.commit().await?;
    Ok(cta)
}

/// The other CTA of this one's account, type, reason and scope that is not closed, if any
/// (one may be open at a time).
async fn open_twin(store: &(impl Ctas + ?Sized), cta: &Cta) -> Result<Option<String>, AppError> {
    let open = CtaQuery { account_id: Some(cta.account_id.clone()), cta_type: Some(cta.cta_type.clone()), statuses: not_closed(), page: 1, per_page: 500, ..Default::default() };
    Ok(store.ctas(&open).await?.ctas.into_iter().find(|c| c.reason == cta.reason && c.scope == cta.scope && c.cta_id != cta.cta_id).map(|c| c.cta_id))
}

/// The error for a CTA another one already holds open (found after a unique index said so).
async fn already_open(store: &(impl Ctas + ?Sized), cta: &Cta) -> AppError {
    match open_twin(store, cta).await {
        Ok(other) => CtaError::AlreadyOpen { account: cta.account_id.clone(), cta_id: other.unwrap_or_default() }.into(),
        Err(e) => e,
    }
}

pub(crate) fn not_closed() -> Vec<CtaStatus> {
    vec![CtaStatus::Open, CtaStatus::InProgress, CtaStatus::Snoozed]
}

/// Applies a change to a CTA (pure: checked against `today`); the names of what changed.
pub fn apply(cta: &mut Cta, c: &CtaChange, actor_id: &str, today: NaiveDate) -> Result<Vec<&'static str>, AppError> {
    if let Some(r) = c.revision.filter(|r| *r != cta.revision) {
        return Err(changed_since(cta, r));
    }
    let mut changed = Vec::new();
    let now = Utc::now();
    if let Some(t) = c.title.as_deref().filter(|t| !t.trim().is_empty()) {
        cta.title = text("title", t, 200)?;
        changed.push("title");
    }
    if let Some(p) = &c.priority {
        cta.priority = priority(p)?;
        changed.push("priority");
    }
    if let Some(o) = &c.owner_email {
        let new = Some(o.trim().to_lowercase()).filter(|o| !o.is_empty());
        if c.move_tasks {
            // The CSM's tasks: unassigned ones for the CSM role, and those the old owner held (an
            // unowned CTA has none: its manager and CS Ops tasks stay where they are).
            let old = cta.owner_email.clone();
            for t in cta.tasks.iter_mut().filter(|t| !t.done && (t.owner_email.is_none() && t.owner_role == Role::Csm.as_str() || old.is_some() && t.owner_email == old)) {
                t.owner_email = new.clone();
            }
        }
        cta.owner_email = new;
        changed.push("owner_email");
    }
    if let Some(d) = &c.due_on {
        let to = date("due_on", d)?;
        if c.shift_tasks {
            if let Some(from) = cta.due_on {
                for t in cta.tasks.iter_mut().filter(|t| !t.done) {
                    t.due_on = t.due_on.map(|due| shift_due(due, from, to));
                }
            }
        }
        cta.due_on = Some(to);
        changed.push("due_on");
    }
    for tc in &c.tasks {
        let t = cta.tasks.iter_mut().find(|t| t.task_id == tc.task_id).ok_or(CtaError::NoTask(tc.task_id))?;
        if t.done != tc.done {
            t.done = tc.done;
            (t.done_at, t.done_by) = if tc.done { (Some(now), Some(actor_id.to_string())) } else { (None, None) };
            changed.push("tasks");
        }
    }
    let status = c.status.as_deref().map(|s| field("status", s, CtaStatus::parse(s), "open, in_progress, snoozed or closed")).transpose()?;
    // A snooze date or an outcome only means something with its status: never dropped unread.
    if c.snoozed_until.is_some() && status != Some(CtaStatus::Snoozed) {
        return Err(CtaError::Field { field: "snoozed_until", value: c.snoozed_until.clone().unwrap_or_default(), expected: "status snoozed with it".into() }.into());
    }
    if c.outcome.is_some() && status != Some(CtaStatus::Closed) {
        return Err(CtaError::Field { field: "outcome", value: c.outcome.clone().unwrap_or_default(), expected: "status closed with it".into() }.into());
    }
    if let Some(status) = status {
        match status {
            CtaStatus::Snoozed => {
                let until = c.snoozed_until.as_deref().map(|d| date("snoozed_until", d)).transpose()?;
                let reason = c.snooze_reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
                let (Some(until), Some(reason)) = (until.filter(|u| *u > today), reason) else { return Err(CtaError::SnoozeNeedsDate.into()) };
                let reason = Some(text("snooze_reason", reason, 500)?);
                if cta.snoozed_until != Some(until) || cta.snooze_reason != reason {
                    changed.push("snoozed_until");
                }
                cta.snoozed_until = Some(until);
                cta.snooze_reason = reason;
                // A closed CTA put aside is no longer closed: it keeps no outcome.
                cta.closed_at = None;
                cta.outcome = None;
                cta.close_note = None;
            }
            CtaStatus::Closed => {
                let o = c.outcome.as_deref().ok_or(CtaError::CloseNeedsOutcome)?;
                let outcome = Some(field("outcome", o, Outcome::parse(o), "success, lost or not_needed")?);
                let note = c.close_note.as_deref().map(|n| text("close_note", n, 2000)).transpose()?.filter(|n| !n.is_empty());
                if cta.status == CtaStatus::Closed && (cta.outcome != outcome || cta.close_note != note) {
                    changed.push("outcome");
                }
                cta.outcome = outcome;
                cta.close_note = note;
                if cta.status != CtaStatus::Closed {
                    cta.closed_at = Some(now);
                }
                cta.snoozed_until = None;
                cta.snooze_reason = None;
            }
            CtaStatus::Open | CtaStatus::InProgress => {
                cta.snoozed_until = None;
                cta.snooze_reason = None;
                cta.closed_at = None;
                cta.outcome = None;
                cta.close_note = None;
            }
        }
        if status != cta.status {
            cta.status = status;
            changed.push("status");
        }
    }
    cta.touch(now);
    Ok(changed)
}

/// Changes a CTA; the change, its audit entry and its event commit together.
pub async fn update(store: &(impl Ctas + Accounts + UnitOfWork + ?Sized), actor: &Actor, cta_id: &str, change: CtaChange) -> Result<Cta, AppError> {
    let mut cta = visible(store, actor, cta_id).await?;
    let was = cta.status;
    let changed = apply(&mut cta, &change, &actor.id, crate::today())?;
    if was == CtaStatus::Closed && cta.status != CtaStatus::Closed {
        if let Some(other) = open_twin(store, &cta).await? {
            return Err(CtaError::AlreadyOpen { account: cta.account_id, cta_id: other }.into());
        }
    }
    let mut tx = store.begin().await?;
    match tx.update_cta(&cta).await {
        Ok(true) => cta.revision = cta.updated_at.timestamp_millis(),
        // Changed (or deleted) by someone else between the read above and this write.
        Ok(false) => {
            drop(tx);
            return Err(match store.cta(cta_id).await? {
                Some(now) => changed_since(&now, cta.revision),
                None => CtaError::NotFound(cta_id.to_string()).into(),
            });
        }
        Err(e) if e.is_unique_violation() => {
            drop(tx);
            return Err(already_open(store, &cta).await);
        }
        Err(e) => return Err(e.into()),
    }
    let mut detail = summary(&cta);
    detail["changed"] = serde_json::json!(changed);
    actor.audit(&mut *tx, "cta.update", Some(&cta.cta_id), detail.clone()).await?;
    if let Some((ja, en)) = change_words(&cta, &changed) {
        tx.upsert_activities(&[timeline_entry(&cta, &actor.id, &ja, &en, false)]).await?;
    }
    let kind = if cta.status == CtaStatus::Closed && was != CtaStatus::Closed { "cta.closed" } else { "cta.updated" };
    if cta.status == CtaStatus::Closed {
        detail["outcome"] = serde_json::json!(cta.outcome.map(|o| o.as_str()));
    }
    tx.emit(NewEvent { kind, account_id: Some(&cta.account_id), payload: detail }).await?;
    tx.commit().await?;
    Ok(cta)
}

/// Adds a comment to the CTA's thread, audited.
/// `visibility`: `internal` (the team only; the default for staff) or `shared` (the account's
/// partner reads it; a partner's own comments are always shared).
pub async fn comment(store: &(impl Ctas + Accounts + UnitOfWork + ?Sized), actor: &Actor, cta_id: &str, body: &str, visibility: Option<&str>) -> Result<CtaComment, AppError> {
    let cta = visible(store, actor, cta_id).await?;
    let partner = actor.scope().is_some();
    let internal = match (visibility.map(str::trim).filter(|v| !v.is_empty()).map(str::to_ascii_lowercase).as_deref(), partner) {
        (None, partner) => !partner,
        (Some("shared"), _) => false,
        (Some("internal"), false) => true,
        (Some(other), _) => return Err(CtaError::Field { field: "visibility", value: other.to_string(), expected: if partner { "shared".into() } else { "internal or shared".into() } }.into()),
    };
    let body = body.trim();
    if body.is_empty() {
        return Err(CtaError::Field { field: "body", value: String::new(), expected: "a comment (1 to 10,000 characters)".into() }.into());
    }
    let body = text("body", body, 10_000)?;
    let at = Utc::now();
    let mut tx = store.begin().await?;
    let comment_id = tx.add_cta_comment(&cta.account_id, &cta.cta_id, &actor.id, &body, at, internal).await?;
    actor.audit(&mut *tx, "cta.comment", Some(&cta.cta_id), serde_json::json!({ "comment_id": comment_id, "internal": internal })).await?;
    tx.upsert_activities(&[timeline_entry(&cta, &actor.id, "にコメント", "commented", internal)]).await?;
    tx.commit().await?;
    Ok(CtaComment { comment_id, author: actor.id.clone(), body, at, internal })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cta() -> Cta {
        let config = CtaConfig::default_config();
        let account = Owned { account_id: "A1".into(), name: "一".into(), owner_email: Some("csm@x.jp".into()) };
        new_cta(&config, &account, "risk", "health_red", "2026-12-04".parse().unwrap(), Source::Signal).unwrap()
    }

    #[test]
    fn a_new_cta_gets_its_playbook() {
        let c = cta();
        assert_eq!((c.priority, c.status, c.due_on), (Priority::High, CtaStatus::Open, Some("2026-12-08".parse().unwrap())), "2 business days after a Friday");
        assert_eq!(c.tasks.len(), 3);
        assert_eq!(c.tasks[0].owner_email.as_deref(), Some("csm@x.jp"));
        assert_eq!((c.tasks[2].owner_role.as_str(), c.tasks[2].owner_email.as_deref()), ("manager", None), "the manager's task waits for one");
    }

    #[test]
    fn a_change_moves_the_revision_and_one_to_an_older_copy_is_refused() {
        let today: NaiveDate = "2026-12-04".parse().unwrap();
        let mut c = cta();
        let read = c.revision;
        let change = CtaChange { priority: Some("low".into()), revision: Some(read), ..Default::default() };
        apply(&mut c, &change, "csm@x.jp", today).unwrap();
        assert!(c.updated_at.timestamp_millis() > read, "even within the same millisecond");
        assert_eq!(c.revision, read, "kept until the write lands");
        let mut newer = c.clone();
        newer.revision = read + 5;
        let before = newer.clone();
        let close = CtaChange { status: Some("closed".into()), outcome: Some("lost".into()), revision: Some(read), ..Default::default() };
        match apply(&mut newer, &close, "csm@x.jp", today) {
            Err(AppError::Cta(CtaError::Changed { revision, .. })) => assert_eq!(revision, read),
            other => panic!("{other:?}"),
        }
        assert_eq!(newer, before, "nothing applied");
    }

    #[test]
    fn snoozing_and_closing_need_their_fields() {
        let today: NaiveDate = "2026-12-04".parse().unwrap();
        let mut c = cta();
        let snooze = CtaChange { status: Some("snoozed".into()), snoozed_until: Some("2026-12-04".into()), snooze_reason: Some("waiting".into()), ..Default::default() };
        assert!(matches!(apply(&mut c, &snooze, "me", today), Err(AppError::Cta(CtaError::SnoozeNeedsDate))), "not today");
        let snooze = CtaChange { snoozed_until: Some("2026-12-10".into()), ..snooze };
        assert_eq!(apply(&mut c, &snooze, "me", today).unwrap(), vec!["snoozed_until", "status"]);
        let later = CtaChange { snoozed_until: Some("2026-12-11".into()), ..snooze.clone() };
        assert_eq!(apply(&mut c, &later, "me", today).unwrap(), vec!["snoozed_until"], "a new date is a change, audited as one");
        assert_eq!((c.status, c.snoozed_until), (CtaStatus::Snoozed, Some("2026-12-11".parse().unwrap())));
        let close = CtaChange { status: Some("closed".into()), ..Default::default() };
        assert!(matches!(apply(&mut c, &close, "me", today), Err(AppError::Cta(CtaError::CloseNeedsOutcome))));
        let close = CtaChange { outcome: Some("success".into()), ..close };
        apply(&mut c, &close, "me", today).unwrap();
        assert_eq!((c.status, c.outcome), (CtaStatus::Closed, Some(Outcome::Success)));
        assert!(c.closed_at.is_some());
        assert_eq!((c.snoozed_until, c.snooze_reason.as_deref()), (None, None), "a closed CTA is no longer snoozed");
        // Put aside again: it is no longer closed, and keeps no outcome.
        apply(&mut c, &later, "me", today).unwrap();
        assert_eq!((c.status, c.outcome, c.closed_at), (CtaStatus::Snoozed, None, None));
        // A date or an outcome without its status is refused, not dropped.
        let date_only = CtaChange { snoozed_until: Some("2026-12-20".into()), ..Default::default() };
        assert!(matches!(apply(&mut c, &date_only, "me", today), Err(AppError::Cta(CtaError::Field { field: "snoozed_until", .. }))));
        let outcome_only = CtaChange { outcome: Some("lost".into()), ..Default::default() };
        assert!(matches!(apply(&mut c, &outcome_only, "me", today), Err(AppError::Cta(CtaError::Field { field: "outcome", .. }))));
        let bad = CtaChange { status: Some("done".into()), ..Default::default() };
        assert!(matches!(apply(&mut c, &bad, "me", today), Err(AppError::Cta(CtaError::Field { field: "status", .. }))));
    }

    #[test]
    fn moving_the_due_date_and_owner_moves_open_tasks() {
        let today: NaiveDate = "2026-12-04".parse().unwrap();
        let mut c = cta();
        let first = c.tasks[0].due_on;
        apply(&mut c, &CtaChange { tasks: vec![TaskChange { task_id: 1, done: true }], ..Default::default() }, "me", today).unwrap();
        let second = c.tasks[1].due_on.unwrap();
        let change = CtaChange { due_on: Some("2026-12-10".into()), shift_tasks: true, owner_email: Some("New@x.jp".into()), move_tasks: true, ..Default::default() };
        apply(&mut c, &change, "me", today).unwrap();
        assert_eq!(c.tasks[0].due_on, first, "a done task stays");
        assert_eq!(c.tasks[1].due_on, Some(shift_due(second, "2026-12-08".parse().unwrap(), "2026-12-10".parse().unwrap())));
        assert_eq!(c.tasks[1].owner_email.as_deref(), Some("new@x.jp"));
        assert_eq!(c.tasks[0].owner_email.as_deref(), Some("csm@x.jp"), "a done task keeps who did it");
        assert_eq!(c.tasks[2].owner_email, None, "the manager's task is not the CSM's");
        assert!(matches!(apply(&mut c, &CtaChange { tasks: vec![TaskChange { task_id: 9, done: true }], ..Default::default() }, "me", today), Err(AppError::Cta(CtaError::NoTask(9)))));
        // An unowned CTA given to a CSM: the CSM's tasks follow, the manager's does not.
        let mut c = cta();
        c.owner_email = None;
        c.tasks[0].owner_email = None;
        apply(&mut c, &CtaChange { owner_email: Some("csm2@x.jp".into()), move_tasks: true, ..Default::default() }, "me", today).unwrap();
        assert_eq!(c.tasks[0].owner_email.as_deref(), Some("csm2@x.jp"));
        assert_eq!((c.tasks[2].owner_role.as_str(), c.tasks[2].owner_email.as_deref()), ("manager", None));
    }
}

/// A team's month of CTA work for the demo company, as of `until`: the daily signals of each
/// of the last five weeks, then the owners work what they opened (by a fixed rule, so the same
/// demo gives the same month): some closed with each outcome, some in progress with a task done
/// and a comment, some snoozed, upsell CTAs opened by hand on large healthy accounts, and the
/// forecast calls on the coming renewals. How many CTAs there are.
pub async fn demo_month(store: &dyn kizuna_store::Store, until: NaiveDate) -> Result<u64, AppError> {
    for week in (0..=4).rev() {
        crate::signals::run_daily(store, until - chrono::Duration::days(7 * week)).await?;
    }
    let all = CtaQuery { statuses: not_closed(), page: 1, per_page: 500, ..Default::default() };
    let mut open = store.ctas(&all).await?.ctas;
    open.sort_by(|a, b| (&a.account_id, &a.reason).cmp(&(&b.account_id, &b.reason)));
    let owner = |c: &Cta| Actor { id: c.owner_email.clone().unwrap_or_else(|| "cli".into()), name: String::new(), role: Role::Csm, partner_id: None, via_key: false };
    let notes = ["先方の担当者に電話。来週の定例で利用状況を確認する。", "Sent the usage summary; the sponsor will reply after their budget review.", "管理者向けの再トレーニングを提案済み。"];
    for (i, c) in open.iter().enumerate() {
        let actor = owner(c);
        let change = match i % 6 {
            0 => CtaChange { status: Some("closed".into()), outcome: Some("success".into()), close_note: Some("定例で合意。利用が戻った。".into()), tasks: done_first(c), ..Default::default() },
            1 => CtaChange { status: Some("closed".into()), outcome: Some(if i % 4 == 1 { "lost" } else { "not_needed" }.into()), ..Default::default() },
            2 | 3 => CtaChange { status: Some("in_progress".into()), tasks: done_first(c), ..Default::default() },
            4 => CtaChange { status: Some("snoozed".into()), snoozed_until: Some((until + chrono::Duration::days(10)).to_string()), snooze_reason: Some("先方の決算期明けに再開".into()), ..Default::default() },
            _ => continue,
        };
        apply_for_demo(store, &actor, c, change, until).await?;
        if i % 6 != 1 {
            comment(store, &actor, &c.cta_id, notes[i % notes.len()], None).await?;
        }
    }
    let mut q = kizuna_store::AccountQuery::new(until);
    q.sort = kizuna_store::AccountSort::Mrr;
    q.descending = true;
    q.health_band = Some("green".into());
    q.per_page = 5;
    for a in store.list_accounts(&q).await?.accounts {
        let actor = Actor { id: a.owner_email.clone().unwrap_or_else(|| "cli".into()), name: String::new(), role: Role::Csm, partner_id: None, via_key: false };
        let n = NewCta { account_id: a.account_id.clone(), cta_type: "opportunity".into(), reason: "upsell".into(), title: Some("追加ライセンスの提案 / Propose more seats".into()), ..Default::default() };
        if let Ok(cta) = create(store, &actor, n).await {
            comment(store, &actor, &cta.cta_id, "利用部門が拡大中。次回QBRで提案する。", None).await?;
        }
    }
    // And the calls the owners set on their coming renewals.
    crate::renewals::demo_calls(store, until).await?;
    Ok(store.ctas(&CtaQuery { page: 1, per_page: 1, ..Default::default() }).await?.total)
}

fn done_first(c: &Cta) -> Vec<TaskChange> {
    c.tasks.first().map(|t| TaskChange { task_id: t.task_id, done: true }).into_iter().collect()
}

/// [`update`] as of the demo's day (a snooze is checked against it, not the real today).
async fn apply_for_demo(store: &dyn kizuna_store::Store, actor: &Actor, c: &Cta, change: CtaChange, until: NaiveDate) -> Result<(), AppError> {
    let mut cta = c.clone();
    let changed = apply(&mut cta, &change, &actor.id, until)?;
    let mut tx = store.begin().await?;
    tx.update_cta(&cta).await?;
    let mut detail = summary(&cta);
    detail["changed"] = serde_json::json!(changed);
    actor.audit(&mut *tx, "cta.update", Some(&cta.cta_id), detail.clone()).await?;
    let kind = if cta.status == CtaStatus::Closed { "cta.closed" } else { "cta.updated" };
    tx.emit(NewEvent { kind, account_id: Some(&cta.account_id), payload: detail }).await?;
    tx.commit().await?;
    Ok(())
}
