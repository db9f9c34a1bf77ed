//! The daily signals (`signals.daily`, `kizuna ctas run-signals`): what changed in the book
//! that someone should act on, found once a day after the scores are in, and the CTAs they
//! open. Usage anomalies are recorded once per drop (`usage.anomaly`); then each signal opens
//! a CTA, or updates the one already open for the same account, type and reason (its evidence,
//! and its status when a snooze has run out). A signal whose CTA was closed is not opened again
//! for the same finding (a renewal's date, an anomaly's day) nor, for the others, within the
//! cooldown. Running twice opens nothing new.

use crate::ctas::{config, new_cta, open_in, summary, Owned};
use crate::usage::{definitions, usage_alerts};
use crate::AppError;
use chrono::{Duration, NaiveDate, Utc};
use kizuna_domain::ctas::{CtaConfig, CtaStatus, Source, CHURN_RISK, HEALTH_DROP, HEALTH_RED, NO_CONTACT, ONBOARDING_BEHIND, RENEWAL, SETUP_LATE, USAGE_DROP};
use kizuna_store::{Accounts, AuditEntry, Ctas, Health, NewEvent, Onboarding, Revenue, SignalCta, UnitOfWork, Usage, UsageAnomaly};
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};

/// Who the audit log says opened a signal's CTA.
pub const ACTOR: &str = "signals";

/// What a run found and did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SignalsSummary {
    pub at: NaiveDate,
    /// Accounts scored first (0 when the day's scores were already in).
    pub scored: u64,
    /// Usage anomalies on `at` (an event's week far below its baseline).
    pub anomalies_found: usize,
    /// Of those, the ones not recorded in the 7 days before: each raised `usage.anomaly`.
    pub anomalies_new: usize,
    /// Accounts in the churn forecast refreshed by this run (it is refitted weekly, when a
    /// churn-probability threshold is set); none when it was not refreshed.
    pub forecast_refreshed: Option<usize>,
    /// Signals found, by reason.
    pub signals: BTreeMap<String, usize>,
    /// CTAs opened.
    pub opened: usize,
    /// Open CTAs whose evidence the signal updated (snoozed ones whose date had come are
    /// open again: counted in `reopened` too).
    pub updated: usize,
    pub reopened: usize,
    /// Snoozed CTAs whose date had come, open again (those a signal reopened are in `reopened`).
    pub woken: usize,
    /// Signals that opened nothing: their CTA was closed (for the same finding, or recently),
    /// or someone opened the same one by hand while the run was looking.
    pub skipped: usize,
    /// The onboarding day, run first (plans started, tasks completed from data).
    pub onboarding: crate::onboarding::RunSummary,
}

/// One finding: a CTA of this type and reason should be open on the account.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub account_id: String,
    pub cta_type: &'static str,
    pub reason: &'static str,
    /// The same key on the next run means the same finding.
    pub key: String,
    /// What the CTA is about within the account, type and reason (see `Cta::scope`): an
    /// onboarding plan's id, else empty.
    pub scope: String,
    pub evidence: serde_json::Value,
}

/// What to do with a signal, given the account's CTAs of the same type.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Open,
    /// Update this CTA's evidence (and key); `reopen` when its snooze has run out.
    Update { cta_id: String, reopen: bool },
    Skip,
}

/// Decides what a signal does, from the CTAs of its account and type (any status, closed
/// ones from the last days only). Pure.
pub fn decide(signal: &Signal, existing: &[&SignalCta], at: NaiveDate, cooldown_days: u32) -> Action {
    let same_reason: Vec<&SignalCta> = existing.iter().copied().filter(|c| c.reason == signal.reason && c.scope == signal.scope).collect();
    if let Some(c) = same_reason.iter().find(|c| c.status != CtaStatus::Closed) {
        let reopen = c.status == CtaStatus::Snoozed && c.snoozed_until.is_none_or(|u| u <= at);
        return Action::Update { cta_id: c.cta_id.clone(), reopen };
    }
    // A renewal or a usage drop is one finding (its date, its day): closed, it stays closed.
    // The others (a state: red, no contact) wait out the cooldown after a CTA was closed.
    // So is a plan's lateness: closed, it stays closed for that plan.
    let keyed_by_finding = signal.cta_type == RENEWAL.0 || signal.reason == USAGE_DROP.1 || signal.cta_type == ONBOARDING_BEHIND.0;
    let closed = if keyed_by_finding {
        same_reason.iter().any(|c| c.signal_key == signal.key)
    } else {
        let cooldown = kizuna_domain::time::start_of_day(at - Duration::days(cooldown_days as i64));
        same_reason.iter().any(|c| c.closed_at.is_some_and(|t| t >= cooldown))
    };
    if closed { Action::Skip } else { Action::Open }
}

/// Runs the day's signals as of `at`: scores the day first if that was not done, records the
/// usage anomalies, then opens or updates the CTAs the signals call for.
pub async fn run_daily(store: &(impl Accounts + Health + Revenue + Usage + Ctas + Onboarding + UnitOfWork + ?Sized), at: NaiveDate) -> Result<SignalsSummary, AppError> {
    // Plans first: the day's scores read their progress, and late plans are signals.
    let onboarding = crate::onboarding::run(store, at).await?;
    let scored = crate::health::score_if_due(store, at).await?.unwrap_or(0);
    let (found, new) = record_anomalies(store, at).await?;
    let config = config(store).await?;
    let forecast_refreshed = refresh_forecast_if_due(store, &config, at).await?;
    let plans = store.late_plans(at).await?;
    let signals = find(store, &config, &plans, at).await?;
    let mut summary = SignalsSummary {
        at,
        scored,
        anomalies_found: found,
        anomalies_new: new,
        forecast_refreshed,
        signals: BTreeMap::new(),
        opened: 0,
        updated: 0,
        reopened: 0,
        woken: 0,
        skipped: 0,
        onboarding,
    };
    for s in &signals {
        *summary.signals.entry(s.reason.to_string()).or_default() += 1;
    }
    act(store, &config, &signals, at, &mut summary).await?;
    summary.woken = wake_snoozed(store, at).await?;
    Ok(summary)
}

/// Snoozed CTAs whose date has come are open again, whatever opened them (a signal that has
/// stopped firing, or a CSM): "snoozed until" is a promise to come back. The date is a day of
/// the calendar, not of the data: the run for yesterday (the daily job, just after midnight)
/// wakes what was snoozed until today.
async fn wake_snoozed(store: &(impl Ctas + UnitOfWork + ?Sized), at: NaiveDate) -> Result<usize, AppError> {
    let at = at.max(kizuna_domain::time::today());
    let mut due = Vec::new();
    let mut q = kizuna_store::CtaQuery { statuses: vec![CtaStatus::Snoozed], page: 1, per_page: 500, ..Default::default() };
    loop {
        let page = store.ctas(&q).await?;
        let last = page.ctas.len() < q.per_page as usize;
        due.extend(page.ctas.into_iter().filter(|c| c.snoozed_until.is_none_or(|d| d <= at)));
        if last {
            break;
        }
        q.page += 1;
    }
    if due.is_empty() {
        return Ok(0);
    }
    let mut tx = store.begin().await?;
    let mut woken = 0;
    for mut cta in due.iter().cloned() {
        let until = cta.snoozed_until;
        cta.status = CtaStatus::Open;
        cta.snoozed_until = None;
        cta.snooze_reason = None;
        cta.touch(Utc::now());
        // Changed by someone since it was read: theirs stands.
        if !tx.update_cta(&cta).await? {
            continue;
        }
        let mut detail = summary(&cta);
        detail["changed"] = json!(["status"]);
        detail["snoozed_until"] = json!(until);
        tx.audit(AuditEntry { actor: ACTOR, action: "cta.update", target: Some(&cta.cta_id), detail: detail.clone() }).await?;
        tx.emit(NewEvent { kind: "cta.updated", account_id: Some(&cta.account_id), payload: detail }).await?;
        woken += 1;
    }
    tx.commit().await?;
    Ok(woken)
}

/// How old the stored churn forecast may be before the daily run refits it.
const FORECAST_EVERY_DAYS: i64 = 7;

/// Refits the churn forecast when a churn-probability threshold is set and the stored one is
/// a week old (or from a later day, after a replay of the past): how many accounts it holds.
async fn refresh_forecast_if_due(store: &(impl Accounts + Health + Revenue + Usage + UnitOfWork + ?Sized), config: &CtaConfig, at: NaiveDate) -> Result<Option<usize>, AppError> {
    if config.signals.churn_probability.is_none() {
        return Ok(None);
    }
    let last = store.churn_forecasts().await?.first().map(|f| f.forecast_on);
    if last.is_some_and(|d| d <= at && (at - d).num_days() < FORECAST_EVERY_DAYS) {
        return Ok(None);
    }
    crate::health::refresh_churn_forecast(store, at, config.signals.churn_horizon_days).await
}

/// Records today's usage anomalies (each drop once, raising `usage.anomaly`): (found, new).
async fn record_anomalies(store: &(impl Usage + UnitOfWork + ?Sized), at: NaiveDate) -> Result<(usize, usize), AppError> {
    let defs = definitions(store).await?;
    let alerts = usage_alerts(store, &defs, at).await?;
    let mut tx = store.begin().await?;
    let mut new = 0;
    for a in &alerts {
        let anomaly = UsageAnomaly {
            account_id: a.account_id.clone(),
            event: a.event.clone(),
            day: a.at,
            last_week: a.last_week,
            baseline_median: a.baseline_median,
            drop: a.drop,
            robust_z: a.robust_z,
            last_day: Some(a.at),
        };
        new += usize::from(tx.record_usage_anomaly(&anomaly).await?);
    }
    tx.commit().await?;
    Ok((alerts.len(), new))
}

/// Every signal on `at` for accounts paying then.
async fn find(store: &(impl Accounts + Health + Usage + ?Sized), config: &CtaConfig, plans: &[kizuna_domain::onboarding::Plan], at: NaiveDate) -> Result<Vec<Signal>, AppError> {
    let t = &config.signals;
    let paying: HashMap<String, NaiveDate> = store.active_accounts(at, None).await?.into_iter().collect();
    let mut out = Vec::new();

    // Health: red now and not a week before; or down by the threshold in a week.
    let now: HashMap<String, (NaiveDate, Option<f64>, Option<String>)> =
        store.health_scores_before(at + Duration::days(1)).await?.into_iter().map(|(a, d, s, b, _)| (a, (d, s, b))).collect();
    let week_ago: HashMap<String, (NaiveDate, Option<f64>, Option<String>)> =
        store.health_scores_before(at - Duration::days(6)).await?.into_iter().map(|(a, d, s, b, _)| (a, (d, s, b))).collect();
    for (account, (day, score, band)) in &now {
        if !paying.contains_key(account) || *day < at - Duration::days(6) {
            continue;
        }
        let before = week_ago.get(account);
        let (before_score, before_band) = (before.and_then(|b| b.1), before.and_then(|b| b.2.clone()));
        let evidence = |drop: Option<f64>| json!({ "score": score, "band": band, "scored_on": day, "previous_score": before_score, "previous_band": before_band, "previous_scored_on": before.map(|b| b.0), "drop": drop });
        if band.as_deref() == Some("red") && before_band.as_deref() != Some("red") {
            out.push(Signal { account_id: account.clone(), cta_type: HEALTH_RED.0, reason: HEALTH_RED.1, key: HEALTH_RED.1.into(), evidence: evidence(None), scope: String::new() });
        } else if let (Some(s), Some(b)) = (score, before_score) {
            // Scores are kept to two decimals: 65.10 − 50.10 is 14.999… in binary, and a drop of
            // exactly the threshold must open the CTA.
            if ((b - s) * 100.0).round() >= (t.health_drop_points * 100.0).round() {
                out.push(Signal { account_id: account.clone(), cta_type: HEALTH_DROP.0, reason: HEALTH_DROP.1, key: HEALTH_DROP.1.into(), evidence: evidence(Some(b - s)), scope: String::new() });
            }
        }
    }

    // Usage: the anomalies of the last 7 days, one signal per account, shown and keyed by its
    // largest drop (the others listed with it).
    let mut drops: BTreeMap<String, Vec<UsageAnomaly>> = BTreeMap::new();
    for a in store.usage_anomalies(at - Duration::days(6), at, None).await? {
        if paying.contains_key(&a.account_id) {
            drops.entry(a.account_id.clone()).or_default().push(a);
        }
    }
    for (account, mut list) in drops {
        list.sort_by(|x, y| y.drop.total_cmp(&x.drop).then_with(|| y.day.cmp(&x.day)).then_with(|| x.event.cmp(&y.event)));
        let a = &list[0];
        let key = format!("{}:{}:{}", USAGE_DROP.1, a.event, a.day);
        let mut evidence = json!({ "event": a.event, "day": a.day, "last_week": a.last_week, "baseline_median": a.baseline_median, "drop": a.drop, "robust_z": a.robust_z });
        if list.len() > 1 {
            evidence["also"] = json!(list[1..].iter().map(|o| json!({ "event": o.event, "day": o.day, "drop": o.drop })).collect::<Vec<_>>());
        }
        out.push(Signal { account_id: account, cta_type: USAGE_DROP.0, reason: USAGE_DROP.1, key, evidence, scope: String::new() });
    }

    // Renewals within the window, keyed by their date, with the ARR up for renewal.
    let mrr: HashMap<String, i64> = store.mrr_on(at, None).await?.into_iter().collect();
    for (account, day) in crate::health::next_renewals(store.contract_terms(at, None).await?, at) {
        let days = (day - at).num_days();
        if days < 0 || days > t.renewal_days as i64 {
            continue;
        }
        let arr_cents = mrr.get(&account).copied().unwrap_or(0) * 12;
        let evidence = json!({ "renewal_date": day, "days_left": days, "arr": kizuna_domain::money::to_units(arr_cents), "arr_cents": arr_cents });
        out.push(Signal { account_id: account, cta_type: RENEWAL.0, reason: RENEWAL.1, key: format!("renewal:{day}"), evidence, scope: String::new() });
    }

    // A churn probability at or above the threshold in a forecast of the last five weeks.
    if let Some(threshold) = t.churn_probability {
        for f in store.churn_forecasts().await? {
            let fresh = f.forecast_on <= at && (at - f.forecast_on).num_days() < 35;
            if fresh && f.probability >= threshold && paying.contains_key(&f.account_id) {
                let evidence = json!({ "probability": f.probability, "threshold": threshold, "horizon_days": f.horizon_days, "forecast_on": f.forecast_on });
                out.push(Signal { account_id: f.account_id, cta_type: CHURN_RISK.0, reason: CHURN_RISK.1, key: CHURN_RISK.1.into(), evidence, scope: String::new() });
            }
        }
    }

    // No CSM contact for too long on the touch models that expect it.
    let touch: HashMap<String, String> = store
        .account_dims()
        .await?
        .into_iter()
        .filter_map(|d| d.touch_model.map(|m| (d.account_id, m.as_str().to_string())))
        .collect();
    let since = at - Duration::days(t.no_contact_days as i64);
    let last: HashMap<String, Option<NaiveDate>> = store.activity_summary(at, at, None).await?.into_iter().map(|s| (s.account_id, s.last_touch)).collect();
    for (account, start) in &paying {
        let Some(model) = touch.get(account) else { continue };
        if !t.no_contact_touch_models.iter().any(|m| m.parse::<kizuna_domain::TouchModel>().ok().map(|m| m.as_str()) == Some(model.as_str())) {
            continue;
        }
        let last_touch = last.get(account).copied().flatten();
        // A new customer is given the same time before it counts as neglected.
        let reference = last_touch.unwrap_or(*start);
        if reference <= since {
            let evidence = json!({ "last_contact_on": last_touch, "days": (at - reference).num_days(), "paying_since": start });
            out.push(Signal { account_id: account.clone(), cta_type: NO_CONTACT.0, reason: NO_CONTACT.1, key: NO_CONTACT.1.into(), evidence, scope: String::new() });
        }
    }
    out.extend(onboarding_signals(plans, config, at));
    out.sort_by(|a, b| (&a.account_id, a.reason, &a.key).cmp(&(&b.account_id, b.reason, &b.key)));
    Ok(out)
}

/// Running plans that are behind or stuck on `at` (their status as the day's run left it: a
/// required task late), and plans with a setup task not done by its due day: one signal per
/// plan and reason, scoped and keyed by the plan (an account with two late plans gets a CTA
/// for each), with the late tasks as evidence. The plans need only their late tasks
/// ([`Onboarding::late_plans`]). A reason the configuration no longer has opens nothing.
pub fn onboarding_signals(plans: &[kizuna_domain::onboarding::Plan], config: &CtaConfig, at: NaiveDate) -> Vec<Signal> {
    use kizuna_domain::onboarding::{late_tasks, PlanStatus};
    let mut out = Vec::new();
    for p in plans.iter().filter(|p| p.started_on <= at) {
        let status = p.status;
        let task_json = |t: &kizuna_domain::onboarding::PlanTask| json!({ "task_id": t.task_id, "title": t.title, "due_on": t.due_on, "side": t.side });
        let evidence = |late: Vec<serde_json::Value>| json!({ "plan_id": p.plan_id, "plan": p.name, "status": status, "started_on": p.started_on, "due_on": p.due_on, "late_tasks": late });
        if matches!(status, PlanStatus::Behind | PlanStatus::Stuck) && config.reason(ONBOARDING_BEHIND.0, ONBOARDING_BEHIND.1).is_some() {
            let late: Vec<serde_json::Value> = late_tasks(p, at).into_iter().map(task_json).collect();
            let key = format!("plan:{}", p.plan_id);
            out.push(Signal { account_id: p.account_id.clone(), cta_type: ONBOARDING_BEHIND.0, reason: ONBOARDING_BEHIND.1, key, scope: p.plan_id.clone(), evidence: evidence(late) });
        }
        let setup: Vec<serde_json::Value> = p.tasks.iter().filter(|t| t.setup && t.due_on < at && t.done_on.is_none_or(|d| d > at)).map(task_json).collect();
        if status.is_running() && !setup.is_empty() && config.reason(SETUP_LATE.0, SETUP_LATE.1).is_some() {
            let key = format!("setup:{}", p.plan_id);
            out.push(Signal { account_id: p.account_id.clone(), cta_type: SETUP_LATE.0, reason: SETUP_LATE.1, key, scope: p.plan_id.clone(), evidence: evidence(setup) });
        }
    }
    out
}

/// The measures that cost each of these accounts the most points, from its latest explanation
/// (kept with the score): one query per account for a few, one for the whole book for many.
async fn drags_of(store: &(impl Health + ?Sized), accounts: &[&str], at: NaiveDate) -> Result<HashMap<String, serde_json::Value>, AppError> {
    let day = at + Duration::days(1);
    let rows = if accounts.len() > 200 {
        let wanted: std::collections::HashSet<&str> = accounts.iter().copied().collect();
        store.health_before(day, None).await?.into_iter().filter(|r| wanted.contains(r.account_id.as_str())).collect()
    } else {
        let mut rows = Vec::new();
        for a in accounts {
            rows.extend(store.health_before(day, Some(a)).await?);
        }
        rows
    };
    Ok(rows.into_iter().map(|r| (r.account_id.clone(), r.detail_json()["drags"].clone())).collect())
}

/// Opens or updates the CTAs the signals call for, in one transaction.
async fn act(store: &(impl Accounts + Health + Ctas + UnitOfWork + ?Sized), config: &CtaConfig, signals: &[Signal], at: NaiveDate, summary: &mut SignalsSummary) -> Result<(), AppError> {
    let t = &config.signals;
    let window = t.cooldown_days.max(t.renewal_days + 31) as i64;
    let known = store.signal_ctas(kizuna_domain::time::start_of_day(at - Duration::days(window))).await?;
    let mut by_account: HashMap<(String, String), Vec<SignalCta>> = HashMap::new();
    for c in known {
        by_account.entry((c.account_id.clone(), c.cta_type.clone())).or_default().push(c);
    }
    let owners: HashMap<String, Option<String>> = store.account_dims().await?.into_iter().map(|d| (d.account_id, d.owner_email)).collect();
    // Decide first, without writing: most signals find what their CTA already says.
    let mut planned: Vec<(&Signal, Action)> = Vec::new();
    for s in signals {
        let key = (s.account_id.clone(), s.cta_type.to_string());
        let existing: Vec<&SignalCta> = by_account.get(&key).map(|v| v.iter().collect()).unwrap_or_default();
        let action = decide(s, &existing, at, t.cooldown_days);
        match &action {
            Action::Skip => summary.skipped += 1,
            Action::Update { cta_id, reopen: false } => {
                let same = existing.iter().find(|c| &c.cta_id == cta_id).is_some_and(|c| c.signal_key == s.key && kizuna_domain::ctas::same_finding(&c.evidence, &s.evidence));
                if !same {
                    planned.push((s, action));
                }
            }
            Action::Open => {
                // A later signal of this run for the same account and type sees it.
                by_account.entry(key).or_default().push(SignalCta {
                    account_id: s.account_id.clone(),
                    cta_id: String::new(),
                    cta_type: s.cta_type.to_string(),
                    reason: s.reason.to_string(),
                    signal_key: s.key.clone(),
                    scope: s.scope.clone(),
                    status: CtaStatus::Open,
                    snoozed_until: None,
                    closed_at: None,
                    evidence: s.evidence.clone(),
                });
                planned.push((s, action));
            }
            Action::Update { .. } => planned.push((s, action)),
        }
    }
    let health: Vec<&str> = planned.iter().filter(|(s, _)| s.reason == HEALTH_RED.1 || s.reason == HEALTH_DROP.1).map(|(s, _)| s.account_id.as_str()).collect();
    let drags = drags_of(store, &health, at).await?;
    let evidence_of = |s: &Signal| {
        let mut e = s.evidence.clone();
        if let Some(d) = drags.get(&s.account_id) {
            e["drags"] = d.clone();
        }
        e
    };
    // The daily job runs for the day just ended, just after midnight: its CTAs open today, and
    // their due days count from today. A backfill opens them on its own day.
    let today = kizuna_domain::time::today();
    let opened_on = if at.succ_opt() == Some(today) { today } else { at };
    let mut tx = store.begin().await?;
    for (s, action) in planned {
        match action {
            Action::Skip => {}
            Action::Open => {
                let owned = Owned { account_id: s.account_id.clone(), name: s.account_id.clone(), owner_email: owners.get(&s.account_id).cloned().flatten() };
                let mut cta = new_cta(config, &owned, s.cta_type, s.reason, opened_on, Source::Signal)?;
                cta.signal_key = s.key.clone();
                cta.scope = s.scope.clone();
                cta.evidence = evidence_of(s);
                // A run for an earlier day (a backfill, the demo's month) dates the CTA that morning.
                if opened_on < kizuna_domain::time::today() {
                    cta.created_at = kizuna_domain::time::start_of_day(at) + Duration::hours(9);
                    cta.updated_at = cta.created_at;
                }
                if s.cta_type == RENEWAL.0 {
                    if let Some(day) = s.evidence["renewal_date"].as_str().and_then(|d| d.parse::<NaiveDate>().ok()) {
                        cta.due_on = Some(cta.due_on.map_or(day, |d| d.min(day)));
                    }
                }
                // Opened by hand since the run looked: that one stands, and the next run finds it.
                if !open_in(&mut *tx, ACTOR, &cta).await? {
                    summary.skipped += 1;
                    continue;
                }
                summary.opened += 1;
            }
            Action::Update { cta_id, reopen } => {
                let Some(mut cta) = store.cta(&cta_id).await? else { continue };
                // Read again just now: one a CSM closed or woke since the run looked is theirs.
                if (reopen && cta.status != CtaStatus::Snoozed) || cta.status == CtaStatus::Closed {
                    continue;
                }
                if s.cta_type == RENEWAL.0 && cta.signal_key != s.key {
                    next_renewal(config, &mut cta, s, opened_on)?;
                }
                cta.evidence = evidence_of(s);
                cta.signal_key = s.key.clone();
                if reopen {
                    cta.status = CtaStatus::Open;
                    cta.snoozed_until = None;
                    cta.snooze_reason = None;
                }
                cta.touch(Utc::now());
                // Changed by someone since it was read just now: theirs stands.
                if !tx.update_cta(&cta).await? {
                    continue;
                }
                summary.reopened += usize::from(reopen);
                let mut detail = summary_of(&cta, reopen);
                tx.audit(AuditEntry { actor: ACTOR, action: "cta.update", target: Some(&cta.cta_id), detail: detail.clone() }).await?;
                if reopen {
                    tx.upsert_activities(&[crate::ctas::timeline_entry(&cta, ACTOR, "を再開（シグナル）", "reopened by its signal", false)]).await?;
                }
                detail["evidence"] = cta.evidence.clone();
                tx.emit(NewEvent { kind: "cta.updated", account_id: Some(&cta.account_id), payload: detail }).await?;
                summary.updated += 1;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A renewal CTA still open when the next renewal comes into the window is that renewal's now:
/// due by it, with the playbook's tasks for it (the done ones kept, the open ones replaced).
fn next_renewal(config: &CtaConfig, cta: &mut kizuna_store::Cta, s: &Signal, opened_on: NaiveDate) -> Result<(), AppError> {
    let owned = Owned { account_id: cta.account_id.clone(), name: cta.account_name.clone(), owner_email: cta.owner_email.clone() };
    let fresh = new_cta(config, &owned, &cta.cta_type, &cta.reason, opened_on, Source::Signal)?;
    let day = s.evidence["renewal_date"].as_str().and_then(|d| d.parse::<NaiveDate>().ok());
    cta.due_on = match (fresh.due_on, day) {
        (Some(d), Some(r)) => Some(d.min(r)),
        (d, r) => d.or(r),
    };
    cta.tasks.retain(|t| t.done);
    let next = cta.tasks.iter().map(|t| t.task_id).max().unwrap_or(0);
    cta.tasks.extend(fresh.tasks.into_iter().map(|mut t| {
        t.task_id += next;
        t
    }));
    Ok(())
}

fn summary_of(cta: &kizuna_store::Cta, reopened: bool) -> serde_json::Value {
    let mut v = summary(cta);
    v["changed"] = if reopened { json!(["evidence", "status"]) } else { json!(["evidence"]) };
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(reason: &'static str, key: &str) -> Signal {
        let cta_type = if reason == RENEWAL.1 { RENEWAL.0 } else { "risk" };
        Signal { account_id: "A1".into(), cta_type, reason, key: key.into(), evidence: json!({}), scope: String::new() }
    }

    fn cta(reason: &str, key: &str, status: CtaStatus, snoozed_until: Option<&str>, closed: Option<&str>) -> SignalCta {
        SignalCta {
            account_id: "A1".into(),
            cta_id: format!("cta-{reason}-{key}"),
            cta_type: if reason == RENEWAL.1 { RENEWAL.0.into() } else { "risk".into() },
            reason: reason.into(),
            signal_key: key.into(),
            scope: String::new(),
            status,
            snoozed_until: snoozed_until.map(|d| d.parse().unwrap()),
            closed_at: closed.map(|d| kizuna_domain::time::start_of_day(d.parse().unwrap())),
            evidence: json!({}),
        }
    }

    #[test]
    fn a_signal_updates_the_open_cta_and_respects_closed_and_snoozed_ones() {
        let at: NaiveDate = "2026-12-04".parse().unwrap();
        let red = signal("health_red", "health_red");
        assert_eq!(decide(&red, &[], at, 14), Action::Open);
        let open = cta("health_red", "health_red", CtaStatus::Open, None, None);
        assert_eq!(decide(&red, &[&open], at, 14), Action::Update { cta_id: open.cta_id.clone(), reopen: false });
        let snoozed = cta("health_red", "health_red", CtaStatus::Snoozed, Some("2026-12-10"), None);
        assert_eq!(decide(&red, &[&snoozed], at, 14), Action::Update { cta_id: snoozed.cta_id.clone(), reopen: false }, "not before its date");
        let woke = cta("health_red", "health_red", CtaStatus::Snoozed, Some("2026-12-04"), None);
        assert_eq!(decide(&red, &[&woke], at, 14), Action::Update { cta_id: woke.cta_id.clone(), reopen: true });
        let closed = cta("health_red", "health_red", CtaStatus::Closed, None, Some("2026-11-25"));
        assert_eq!(decide(&red, &[&closed], at, 14), Action::Skip, "closed within the cooldown");
        let other_reason = cta("usage_drop", "usage_drop:x:2026-12-01", CtaStatus::Open, None, None);
        assert_eq!(decide(&red, &[&other_reason], at, 14), Action::Open, "another reason is another CTA");
    }

    #[test]
    fn a_renewal_closed_stays_closed_and_the_next_renewal_opens() {
        let at: NaiveDate = "2026-12-04".parse().unwrap();
        let closed = cta("upcoming_renewal", "renewal:2027-01-31", CtaStatus::Closed, None, Some("2026-12-03"));
        assert_eq!(decide(&signal("upcoming_renewal", "renewal:2027-01-31"), &[&closed], at, 14), Action::Skip);
        assert_eq!(decide(&signal("upcoming_renewal", "renewal:2028-01-31"), &[&closed], at, 14), Action::Open, "the next year's renewal");
        let drop = cta("usage_drop", "usage_drop:export:2026-11-20", CtaStatus::Closed, None, Some("2026-12-01"));
        assert_eq!(decide(&signal("usage_drop", "usage_drop:export:2026-12-03"), &[&drop], at, 14), Action::Open, "a new drop");
        let drop_same = signal("usage_drop", "usage_drop:export:2026-11-20");
        assert_eq!(decide(&drop_same, &[&drop], at, 14), Action::Skip);
        let long_ago = cta("no_contact", "no_contact", CtaStatus::Closed, None, Some("2026-10-01"));
        let nc = signal("no_contact", "no_contact");
        assert_eq!(decide(&nc, &[&long_ago], at, 14), Action::Open, "closed before the cooldown");
        let lately = cta("no_contact", "no_contact", CtaStatus::Closed, None, Some("2026-11-25"));
        assert_eq!(decide(&nc, &[&lately], at, 14), Action::Skip, "closed within the cooldown");
    }
}
