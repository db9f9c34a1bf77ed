//! Health scores over the store: gathering each account's inputs as they were on a day, scoring
//! and keeping the history, explaining one account, backtesting a scorecard against churn, and
//! calibrating a logistic model on usage metrics. Shared by `kizuna score ...` and the API.

use crate::access::Actor;
use crate::usage::{definitions, usage_table};
use crate::{ParamError, Params, AppError};
use chrono::{Datelike, Duration, Months, NaiveDate};
use kizuna_domain::health::logistic::{self, Prepared};
use kizuna_domain::health::backtest::GroupRate;
use kizuna_domain::health::score::Change;
use kizuna_domain::health::{self as domain, backtest, Band, Score, Scorecard, Scorecards};
use serde::Serialize;
use kizuna_domain::usage::metrics::Definitions;
use kizuna_store::{Accounts, Health, HealthRow, Revenue, UnitOfWork, Usage};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Days a kept score keeps its explanation (inputs, raw values, points): enough to say what
/// changed against any recent score. Older scores keep their score, band and grade only, so the
/// history grows by a few bytes per account and day rather than about a kilobyte.
pub const KEEP_EXPLANATIONS_DAYS: i64 = 90;

/// The setting under which scorecards saved through the CLI or API are kept.
pub const SETTING: &str = "health_scorecards";

/// Saved scorecards, or the default set.
pub async fn scorecards(store: &(impl Usage + ?Sized)) -> Result<Scorecards, AppError> {
    match store.setting(SETTING).await? {
        Some(text) => Scorecards::parse(&text).map_err(|e| ParamError::new("scorecards", SETTING, &e.to_string()).into()),
        None => Ok(Scorecards::default_set()),
    }
}

/// One paying account's inputs on a day.
#[derive(Debug, Clone, Default)]
pub struct AccountState {
    pub segment: Option<String>,
    pub stage: Option<String>,
    pub tenure_days: i64,
    pub mrr_cents: i64,
    pub inputs: HashMap<String, Option<f64>>,
}

/// Each account's next renewal after `at`: the earliest of its running annual (or longer)
/// contracts' (signals, home, renewals and scoring all read it so).
pub(crate) fn next_renewals(terms: Vec<kizuna_store::ContractTerm>, at: NaiveDate) -> HashMap<String, NaiveDate> {
    let mut next: HashMap<String, NaiveDate> = HashMap::new();
    for t in terms {
        let d = next_renewal(t.start_date, t.end_date, t.bill_period_months, at);
        next.entry(t.account_id).and_modify(|x| *x = (*x).min(d)).or_insert(d);
    }
    next
}

/// The next renewal after `at` of a contract billed every `months` months.
fn next_renewal(start: NaiveDate, end: Option<NaiveDate>, months: i32, at: NaiveDate) -> NaiveDate {
    if let Some(end) = end {
        return end;
    }
    let mut k = 1;
    loop {
        let d = start + Months::new((months * k) as u32);
        if d > at {
            return d;
        }
        k += 1;
    }
}

/// Every input of every account paying on `at` (or just `account`), as it was on `at`.
/// The lifecycle stage is the one the account had on `at` (its stage history; see
/// `kizuna_domain::journey::stage_on`); a churned stage is ignored, since an account paying on
/// `at` was not churned then.
pub async fn gather(store: &(impl Health + Usage + ?Sized), cards: &Scorecards, defs: &Definitions, at: NaiveDate, account: Option<&str>) -> Result<BTreeMap<String, AccountState>, AppError> {
    let wanted: HashSet<&str> = cards.inputs().into_iter().collect();
    let onboarding = &cards.onboarding;
    let setup = async {
        if !wanted.contains("onboarding") {
            return Ok(vec![]);
        }
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
        store.usage_totals(Some(&onboarding.event), epoch, epoch + Duration::days(1), at, account).await
    };
    // Independent reads, all at the same time.
    let (table, profiles, activity, terms, mrr_now, mrr_before, setup, stages, plans, tickets_known) = futures::try_join!(
        async { usage_table(store, defs, at, account).await },
        async { Ok(store.account_profiles(account).await?) },
        async { Ok(store.activity_summary(at, at - Duration::days(89), account).await?) },
        async { Ok(store.contract_terms(at, account).await?) },
        async { Ok(store.mrr_on(at, account).await?) },
        async { Ok(store.mrr_on(at - Duration::days(90), account).await?) },
        async { Ok::<_, AppError>(setup.await?) },
        async { Ok(store.stage_changes(account).await?) },
        async {
            if wanted.contains("onboarding") { Ok(store.plan_progress(at, account).await?) } else { Ok(vec![]) }
        },
        async {
            if wanted.contains("support_tickets_90d") { Ok(store.any_support_ticket().await?) } else { Ok(false) }
        },
    )?;
    let plans: HashMap<String, (i64, i64)> = plans.into_iter().map(|(a, required, done)| (a, (required, done))).collect();
    let mut history: HashMap<String, Vec<kizuna_domain::journey::StageChange>> = HashMap::new();
    for c in stages {
        history.entry(c.account_id.clone()).or_default().push(c);
    }
    let profiles: HashMap<String, kizuna_store::AccountProfile> = profiles.into_iter().map(|p| (p.account_id.clone(), p)).collect();
    let activity: HashMap<String, kizuna_store::ActivitySummary> = activity.into_iter().map(|a| (a.account_id.clone(), a)).collect();
    let renewal = next_renewals(terms, at);
    let mrr_now: HashMap<String, i64> = mrr_now.into_iter().collect();
    let mrr_before: HashMap<String, i64> = mrr_before.into_iter().collect();
    let setup: HashMap<String, u64> = setup.into_iter().map(|(a, now, _)| (a, now.events)).collect();
    let mut out = BTreeMap::new();
    for (id, (tenure, metrics)) in table {
        let profile = profiles.get(&id);
        let mut inputs: HashMap<String, Option<f64>> = metrics.into_iter().map(|(k, v)| (format!("usage.{k}"), v)).collect();
        let steps = onboarding.steps as f64;
        let done = setup.get(&id).copied().unwrap_or(0) as f64;
        // An onboarding plan, when the account has one: its share of required tasks done by
        // `at`, while new or while the plan is not complete; else the setup event's steps.
        let measure = match plans.get(&id) {
            Some(&(required, done_tasks)) if required > 0 => {
                (tenure <= onboarding.within_days || done_tasks < required).then(|| 100.0 * done_tasks as f64 / required as f64)
            }
            _ => (tenure <= onboarding.within_days).then(|| 100.0 * done.min(steps) / steps),
        };
        inputs.insert("onboarding".into(), measure);
        let act = activity.get(&id);
        // No ticket ever imported: the measure is unknown (its weight goes to the others), not a
        // perfect 100 for every account.
        inputs.insert("support_tickets_90d".into(), tickets_known.then(|| act.map(|a| a.support_tickets).unwrap_or(0) as f64));
        // Never touched counts as untouched since becoming a customer, not as unknown: the days
        // since the first paid day (tenure counts that day as the first).
        let touch = act.and_then(|a| a.last_touch).map(|d| (at - d).num_days()).unwrap_or(tenure - 1);
        inputs.insert("days_since_csm_touch".into(), Some(touch as f64));
        inputs.insert("days_to_renewal".into(), renewal.get(&id).map(|d| (*d - at).num_days() as f64));
        let (now, before) = (mrr_now.get(&id).copied().unwrap_or(0), mrr_before.get(&id).copied().unwrap_or(0));
        inputs.insert("mrr_change_90d".into(), (before > 0).then(|| (now - before) as f64 / before as f64));
        for name in wanted.iter().filter_map(|w| w.strip_prefix("attribute.")) {
            let v = profile.and_then(|p| p.attributes.get(name)).and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())));
            inputs.insert(format!("attribute.{name}"), v);
        }
        let stage = match history.get(&id) {
            Some(changes) => kizuna_domain::journey::stage_on(changes, at).map(str::to_string),
            None => profile.and_then(|p| p.lifecycle_stage.clone()),
        }
        .filter(|s| s != "churned");
        out.insert(id, AccountState { segment: profile.and_then(|p| p.segment.clone()), stage, tenure_days: tenure, mrr_cents: now, inputs });
    }
    Ok(out)
}

/// Score each account with its scorecard (or `only`, when given). Pure: no IO.
pub fn score_states<'a>(cards: &Scorecards, states: &'a BTreeMap<String, AccountState>, only: Option<&Scorecard>) -> Vec<(&'a String, Score)> {
    states
        .iter()
        .map(|(id, s)| {
            let card = only.unwrap_or_else(|| cards.for_account(s.segment.as_deref(), s.stage.as_deref()));
            (id, domain::score(cards, card, &s.inputs))
        })
        .collect()
}

/// `score run`: how many accounts were scored on `at`, by band and by grade.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunSummary {
    pub at: NaiveDate,
    pub accounts: usize,
    pub bands: BTreeMap<String, u64>,
    pub grades: BTreeMap<String, u64>,
    pub explanations_cleared: u64,
    pub no_longer_paying: u64,
}

/// A measure that cost the score points.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Drag {
    pub input: String,
    pub points_lost: f64,
}

/// A kept score: its day, score, band and grade.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KeptScore {
    pub at: NaiveDate,
    pub score: Option<f64>,
    pub band: Option<String>,
    pub grade: Option<String>,
}

/// `score explain` / `GET /api/v1/accounts/{id}/health`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Explanation {
    pub account_id: String,
    pub at: NaiveDate,
    pub scorecard: String,
    pub score: Option<f64>,
    pub band: Option<Band>,
    pub grade: Option<char>,
    /// Every measure: raw value, points, weight.
    pub explanation: Score,
    /// The (up to) three measures that cost the most points.
    pub drags: Vec<Drag>,
    /// Set when measures had no data.
    pub note: Option<String>,
    pub previous: Option<KeptScore>,
    pub score_change: Option<f64>,
    /// `up`, `down`, `flat` or `new`.
    pub trend: String,
    /// The kept scores up to `at`, one per ISO week (the week's latest), for up to 52 weeks,
    /// newest first.
    pub history: Vec<KeptScore>,
    /// Measure by measure, against the previous kept score.
    pub changes: Vec<Change>,
}

/// One observation date of a backtest.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DateCount {
    pub at: NaiveDate,
    pub observations: u64,
    pub churned: u64,
}

/// Churn rate per band and per grade.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Calibration {
    pub bands: Vec<GroupRate>,
    pub grades: Vec<GroupRate>,
}

/// `score backtest`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Backtest {
    pub scorecard: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub requested_to: NaiveDate,
    pub at: NaiveDate,
    pub every_days: u32,
    pub horizon_days: u32,
    pub observations: usize,
    pub churned: usize,
    /// None without observations.
    pub churn_rate: Option<f64>,
    pub auc: Option<f64>,
    pub top_decile_lift: Option<f64>,
    pub calibration: Calibration,
    pub unscored: u64,
    pub dates: Vec<DateCount>,
}

/// Out-of-fold quality of the calibration model.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CrossValidation {
    pub folds: u32,
    pub by: String,
    pub auc: Option<f64>,
    pub top_decile_lift: Option<f64>,
}

/// One metric of the calibration model.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Coefficient {
    pub metric: String,
    pub transform: String,
    pub missing: u64,
    pub mean: f64,
    pub sd: f64,
    pub coefficient: f64,
    pub odds_ratio_per_sd: f64,
    pub correlation_with_churn: f64,
    pub in_proposal: bool,
}

/// An account's churn probability (and MRR, in currency units, where given).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountRisk {
    pub account_id: String,
    pub churn_probability: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mrr: Option<f64>,
}

/// `score calibrate`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CalibrationReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub requested_to: NaiveDate,
    pub every_days: u32,
    pub horizon_days: u32,
    pub l2: f64,
    pub observations: usize,
    pub churned: usize,
    pub churn_rate: f64,
    pub cross_validation: CrossValidation,
    pub intercept: f64,
    pub coefficients: Vec<Coefficient>,
    pub proposed_scorecard: Scorecard,
    pub proposed_scorecard_toml: String,
    pub saved: bool,
    pub at: NaiveDate,
    pub accounts: Vec<AccountRisk>,
}

/// The history the forecast model was fitted on.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ModelWindow {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub requested_to: NaiveDate,
    pub every_days: u32,
}

/// Churns the model expected out of fold over the fitted history, against churns that happened.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryCheck {
    pub observations: usize,
    pub churned: usize,
    pub expected_out_of_fold: f64,
}

/// `score forecast`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Forecast {
    pub at: NaiveDate,
    pub horizon_days: u32,
    pub accounts: usize,
    pub expected_churns: f64,
    /// 90% interval of the number of churns: [low, high].
    pub interval_90: [u64; 2],
    pub expected_mrr_lost: f64,
    pub model: ModelWindow,
    pub history_check: HistoryCheck,
    pub riskiest: Vec<AccountRisk>,
}

/// The previous kept score of an account: (day, score, band, grade).
type Previous = (NaiveDate, Option<f64>, Option<String>, Option<String>);

fn drag_list(s: &Score) -> Vec<Drag> {
    domain::drags(s, 3).iter().map(|m| Drag { input: m.input.clone(), points_lost: m.points_lost }).collect()
}

fn score_change(s: &Score, previous: Option<&Previous>) -> Option<f64> {
    previous.and_then(|p| Some(((s.score? - p.1?) * 100.0).round() / 100.0))
}

/// What is kept daily per account: the compact measures (see `Score::compact`), the drags and
/// the move since the previous score.
fn kept_detail(s: &Score, previous: Option<&Previous>) -> String {
    json!({
        "measures": s.compact(),
        "drags": domain::drags(s, 3).iter().map(|m| json!([m.input, m.points_lost])).collect::<Vec<_>>(),
        "previous": previous.map(|p| p.0),
        "score_change": score_change(s, previous),
        "trend": domain::trend(previous.and_then(|p| p.1), s.score),
    })
    .to_string()
}

fn row_of(id: &str, at: NaiveDate, s: &Score, previous: Option<&Previous>) -> HealthRow {
    HealthRow {
        account_id: id.to_string(),
        scored_on: at,
        scorecard: s.scorecard.clone(),
        score: s.score,
        band: s.band.map(|b| b.as_str().to_string()),
        grade: s.grade.map(|g| g.to_string()),
        previous_score: previous.and_then(|p| p.1),
        detail: kept_detail(s, previous),
    }
}

/// The daily scoring job (`health.daily_score`): score every account on `today` unless that was
/// done already (a restart, or scores kept by `kizuna score run`). How many accounts were
/// scored, if it ran.
pub async fn score_if_due(store: &(impl Health + Usage + ?Sized), today: NaiveDate) -> Result<Option<u64>, AppError> {
    if store.last_health_day().await?.is_some_and(|d| d >= today) {
        return Ok(None);
    }
    let v = run(store, today).await?;
    Ok(Some(v.accounts as u64))
}

/// `score run`: score every account paying on `at`, keep the scores, and count them by band
/// and grade.
pub async fn run(store: &(impl Health + Usage + ?Sized), at: NaiveDate) -> Result<RunSummary, AppError> {
    let cards = scorecards(store).await?;
    let defs = definitions(store).await?;
    let states = gather(store, &cards, &defs, at, None).await?;
    let previous: HashMap<String, Previous> = store.health_scores_before(at).await?.into_iter().map(|(a, d, s, b, g)| (a, (d, s, b, g))).collect();
    let mut bands: BTreeMap<String, u64> = BTreeMap::new();
    let mut grades: BTreeMap<String, u64> = BTreeMap::new();
    let mut rows = Vec::with_capacity(states.len());
    for (id, state) in &states {
        let s = domain::score(&cards, cards.for_account(state.segment.as_deref(), state.stage.as_deref()), &state.inputs);
        *bands.entry(s.band.map(Band::as_str).unwrap_or("none").to_string()).or_default() += 1;
        *grades.entry(s.grade.unwrap_or('-').to_string()).or_default() += 1;
        rows.push(row_of(id, at, &s, previous.get(id)));
    }
    drop(states);
    store.save_health(&rows).await?;
    let cleared = store.clear_health_detail(at - Duration::days(KEEP_EXPLANATIONS_DAYS)).await?;
    // Every account paying on `at` now has a current score from `at` or later; the others
    // stopped paying.
    let dropped = store.drop_stale_current(at).await?;
    Ok(RunSummary { at, accounts: rows.len(), bands, grades, explanations_cleared: cleared, no_longer_paying: dropped })
}

/// `score explain` / `GET /api/v1/accounts/{id}/health`: the account's score on `at`, computed
/// now, measure by measure, against its previous kept score, with its history. None when the
/// account was not paying on `at`.
pub async fn explain(store: &(impl Health + Usage + ?Sized), account: &str, at: NaiveDate) -> Result<Option<Explanation>, AppError> {
    let cards = scorecards(store).await?;
    let defs = definitions(store).await?;
    let states = gather(store, &cards, &defs, at, Some(account)).await?;
    let Some((id, s)) = score_states(&cards, &states, None).into_iter().next() else { return Ok(None) };
    let previous = store.health_before(at, Some(account)).await?.into_iter().next();
    let before: Option<Score> = previous.as_ref().and_then(|p| Score::from_compact(&p.detail_json()["measures"]));
    let changes = before.as_ref().map(|b| domain::changes(b, &s)).unwrap_or_default();
    let previous: Option<Previous> = previous.map(|p| (p.scored_on, p.score, p.band, p.grade));
    // The year up to `at`, one point per ISO week (its latest score): daily runs keep a score a
    // day, and the chart shows a year, not the last 52 days.
    let mut weeks = HashSet::new();
    let history = store
        .health_history(account, at, 400)
        .await?
        .into_iter()
        .filter(|h| weeks.insert(h.scored_on.iso_week()))
        .take(52)
        .map(|h| KeptScore { at: h.scored_on, score: h.score, band: h.band, grade: h.grade })
        .collect();
    Ok(Some(Explanation {
        account_id: id.clone(),
        at,
        scorecard: s.scorecard.clone(),
        score: s.score,
        band: s.band,
        grade: s.grade,
        drags: drag_list(&s),
        note: (!s.missing.is_empty()).then(|| format!("{} of {} measures had no data; their weight was spread over the others", s.missing.len(), s.measures.len())),
        previous: previous.as_ref().map(|p| KeptScore { at: p.0, score: p.1, band: p.2.clone(), grade: p.3.clone() }),
        score_change: score_change(&s, previous.as_ref()),
        trend: domain::trend(previous.as_ref().and_then(|p| p.1), s.score).to_string(),
        history,
        changes,
        explanation: s,
    }))
}

/// Observation dates `from, from + every, …` up to `to`.
fn dates(from: NaiveDate, to: NaiveDate, every: u32) -> Vec<NaiveDate> {
    let mut out = vec![];
    let mut d = from;
    while d <= to {
        out.push(d);
        d += Duration::days(every as i64);
    }
    out
}

/// Accounts that churned in `(at, at + horizon]`: their MRR fell from above 0 to 0 then
/// (churns from the revenue data, [`crate::revenue_churns`]; churn records add only reasons).
fn churned_within(churns: &[(String, NaiveDate)], at: NaiveDate, horizon: u32) -> HashSet<&str> {
    let end = at + Duration::days(horizon as i64);
    churns.iter().filter(|(_, d)| *d > at && *d <= end).map(|(a, _)| a.as_str()).collect()
}

struct Window {
    from: NaiveDate,
    to: NaiveDate,
    /// The `to` asked for; `to` is cut so that every horizon ends by the as-of date.
    requested_to: NaiveDate,
    every: u32,
    horizon: u32,
    /// Churn on or before this day is known; later churn has not happened yet.
    as_of: NaiveDate,
}

/// Observation dates and horizon, as of `at` (default today): an observation is labelled only
/// when its whole horizon has passed, so `to` is cut to `at − horizon`.
fn window(p: &Params<'_>) -> Result<Window, AppError> {
    let (from, requested_to) = p.date_range("from", "to")?;
    let (every, horizon) = (p.days("every", 7)?, p.days("horizon", 28)?);
    let as_of = p.as_of()?;
    let last = as_of - Duration::days(horizon as i64);
    if from > last {
        return Err(ParamError::new("from", &from.to_string(), &format!("is later than the as-of date {as_of} minus the {horizon}-day horizon ({last}): whether those accounts churn has not happened yet")).into());
    }
    let to = requested_to.min(last);
    if dates(from, to, every).len() > 520 {
        return Err(ParamError::new("every", &format!("{every}d"), "gives more than 520 observation dates between from and to").into());
    }
    Ok(Window { from, to, requested_to, every, horizon, as_of })
}

/// `score backtest`: replay a scorecard at each observation date and check how well the score
/// ranked the accounts that churned within the horizon.
pub async fn backtest(store: &(impl Accounts + Health + Revenue + Usage + ?Sized), p: &Params<'_>) -> Result<Backtest, AppError> {
    let w = window(p)?;
    let cards = scorecards(store).await?;
    let name = p.text("scorecard").unwrap_or("default");
    let Some(card) = cards.named(name) else {
        let known: Vec<&str> = cards.scorecards.iter().map(|c| c.name.as_str()).collect();
        return Err(ParamError::new("scorecard", name, &format!("is not a scorecard (known: {})", known.join(", "))).into());
    };
    let defs = definitions(store).await?;
    let churns = crate::revenue_churns(store, w.as_of).await?;
    let (mut risk, mut label, mut bands, mut grades) = (vec![], vec![], vec![], vec![]);
    let mut per_date = vec![];
    let mut unscored = 0u64;
    for at in dates(w.from, w.to, w.every) {
        let states = gather(store, &cards, &defs, at, None).await?;
        let churned = churned_within(&churns, at, w.horizon);
        let (mut n, mut c) = (0u64, 0u64);
        for (id, s) in score_states(&cards, &states, Some(card)) {
            let Some(score) = s.score else {
                unscored += 1;
                continue;
            };
            let y = churned.contains(id.as_str());
            risk.push(100.0 - score);
            label.push(y);
            bands.push((s.band.map(Band::as_str).unwrap_or("none").to_string(), y));
            grades.push((s.grade.map(String::from).unwrap_or_default(), y));
            n += 1;
            c += y as u64;
        }
        per_date.push(DateCount { at, observations: n, churned: c });
    }
    let churned = label.iter().filter(|c| **c).count();
    Ok(Backtest {
        scorecard: name.to_string(),
        from: w.from,
        to: w.to,
        requested_to: w.requested_to,
        at: w.as_of,
        every_days: w.every,
        horizon_days: w.horizon,
        observations: label.len(),
        churned,
        churn_rate: (!label.is_empty()).then(|| churned as f64 / label.len() as f64),
        auc: backtest::auc(&risk, &label),
        top_decile_lift: backtest::top_decile_lift(&risk, &label),
        calibration: Calibration {
            bands: backtest::rates(&["red", "yellow", "green"], &bands),
            grades: backtest::rates(&["A", "B", "C", "D", "E"], &grades),
        },
        unscored,
        dates: per_date,
    })
}

/// The observation table: one row per account and observation date, its usage metrics then
/// (`metrics`, in order) and whether it churned within the horizon.
pub struct Observations {
    pub metrics: Vec<String>,
    pub accounts: Vec<String>,
    pub columns: Vec<Vec<Option<f64>>>,
    pub churned: Vec<bool>,
}

/// Churn is read from the revenue data as of `as_of`.
pub async fn observations(store: &(impl Accounts + Revenue + Usage + ?Sized), defs: &Definitions, metrics: &[String], from: NaiveDate, to: NaiveDate, every: u32, horizon: u32, as_of: NaiveDate) -> Result<Observations, AppError> {
    let churns = crate::revenue_churns(store, as_of).await?;
    let mut o = Observations { metrics: metrics.to_vec(), accounts: vec![], columns: vec![vec![]; metrics.len()], churned: vec![] };
    for at in dates(from, to, every) {
        let table = usage_table(store, defs, at, None).await?;
        let churned = churned_within(&churns, at, horizon);
        for (id, (_, values)) in table {
            let by_name: HashMap<String, Option<f64>> = values.into_iter().collect();
            for (c, m) in metrics.iter().enumerate() {
                o.columns[c].push(by_name.get(m).copied().flatten());
            }
            o.churned.push(churned.contains(id.as_str()));
            o.accounts.push(id);
        }
    }
    Ok(o)
}

/// What `calibrate` fits: prepared metrics, the standardised matrix and the model.
pub struct Model {
    pub prepared: Vec<Prepared>,
    pub fit: logistic::Fit,
    /// Each metric's own correlation with churn.
    pub univariate: Vec<f64>,
}

impl Model {
    pub fn probability(&self, values: &[Option<f64>]) -> f64 {
        let row: Vec<f64> = self.prepared.iter().zip(values).map(|(p, v)| p.apply(*v)).collect();
        self.fit.probability(&row)
    }
}

/// Prepare, cross-validate (5 folds by account) and fit on everything. Returns the model and
/// the out-of-fold probabilities.
pub fn fit_observations(o: &Observations, l2: f64) -> (Model, Vec<f64>) {
    let prepared: Vec<Prepared> = o.metrics.iter().zip(&o.columns).map(|(m, c)| logistic::prepare(m, c)).collect();
    let n = o.churned.len();
    let x = logistic::matrix(&prepared, &o.columns, n);
    let folds: Vec<usize> = o.accounts.iter().map(|a| logistic::fold_of(a, 5)).collect();
    let oof = logistic::cross_validate(&o.metrics, &o.columns, &o.churned, &folds, 5, l2);
    let fit = logistic::fit(&x, prepared.len(), &o.churned, l2, None);
    let univariate = (0..prepared.len()).map(|c| logistic::correlation(&x, prepared.len(), c, &o.churned)).collect();
    (Model { prepared, fit, univariate }, oof)
}

/// The usage metrics to calibrate on: `metrics` (comma-separated names) or every defined one.
fn metric_names(p: &Params<'_>, defs: &Definitions) -> Result<Vec<String>, AppError> {
    let all: Vec<String> = defs.metrics.iter().map(|m| m.name.clone()).collect();
    let Some(list) = p.text("metrics") else { return Ok(all) };
    let names: Vec<String> = list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    for n in &names {
        if !all.contains(n) {
            return Err(ParamError::new("metrics", n, &format!("is not a usage metric (defined: {})", all.join(", "))).into());
        }
    }
    Ok(names)
}

async fn calibrated(store: &(impl Accounts + Revenue + Usage + ?Sized), p: &Params<'_>) -> Result<(Window, Definitions, Observations, Model, Vec<f64>, f64), AppError> {
    let w = window(p)?;
    let l2 = p.fraction("l2", 1.0, 0.0001, 10_000.0)?;
    let defs = definitions(store).await?;
    let metrics = metric_names(p, &defs)?;
    let o = observations(store, &defs, &metrics, w.from, w.to, w.every, w.horizon, w.as_of).await?;
    if o.churned.iter().all(|c| *c) || !o.churned.iter().any(|c| *c) {
        return Err(ParamError::new("from", &w.from.to_string(), &format!("to {}: the observations need both accounts that churned within the horizon and accounts that did not ({} observations, {} churned)", w.to, o.churned.len(), o.churned.iter().filter(|c| **c).count())).into());
    }
    let (model, oof) = fit_observations(&o, l2);
    Ok((w, defs, o, model, oof, l2))
}

/// Each paying account's churn probability on `at`, highest first, with its MRR (cents).
async fn probabilities(store: &(impl Health + Usage + ?Sized), defs: &Definitions, model: &Model, at: NaiveDate) -> Result<Vec<(String, f64, i64)>, AppError> {
    let table = usage_table(store, defs, at, None).await?;
    let mrr: HashMap<String, i64> = store.mrr_on(at, None).await?.into_iter().collect();
    let mut out: Vec<(String, f64, i64)> = table
        .into_iter()
        .map(|(id, (_, values))| {
            let by_name: HashMap<String, Option<f64>> = values.into_iter().collect();
            let v: Vec<Option<f64>> = model.prepared.iter().map(|p| by_name.get(&p.metric).copied().flatten()).collect();
            let m = mrr.get(&id).copied().unwrap_or(0);
            (id, model.probability(&v), m)
        })
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}

/// `score calibrate`: fit the model, report cross-validated AUC and lift, the coefficients and
/// a proposed scorecard; each account's churn probability on `at` (default `to` + horizon, or
/// today if earlier). With `save`, the proposal is saved under that name, audited as `actor`'s.
pub async fn calibrate(store: &(impl Accounts + Health + Revenue + Usage + UnitOfWork + ?Sized), p: &Params<'_>, actor: &Actor) -> Result<CalibrationReport, AppError> {
    let (w, defs, o, model, oof, l2) = calibrated(store, p).await?;
    let at = p.date_or_today("at")?;
    let name = p.text("save").or(p.text("name")).unwrap_or("calibrated");
    let proposal = domain::propose(name, &model.prepared, &model.fit.coef, &model.univariate, &o.columns);
    let mut cards = scorecards(store).await?;
    cards.put(proposal.clone());
    let proposal_toml = Scorecards::parse(&cards.to_toml()).map(|_| proposal.to_toml()).map_err(|e| ParamError::new("save", name, &e.to_string()))?;
    let cross_validation = CrossValidation { folds: 5, by: "account".into(), auc: backtest::auc(&oof, &o.churned), top_decile_lift: backtest::top_decile_lift(&oof, &o.churned) };
    if let Some(save) = p.text("save") {
        let mut tx = store.begin().await?;
        tx.save_setting(SETTING, &cards.to_toml()).await?;
        actor.audit(&mut *tx, "scorecards.calibrate", Some(save), serde_json::json!({ "auc": cross_validation.auc })).await?;
        tx.commit().await?;
    }
    let probs = probabilities(store, &defs, &model, at).await?;
    let churned = o.churned.iter().filter(|c| **c).count();
    let coefficients = model
        .prepared
        .iter()
        .zip(&model.fit.coef)
        .zip(&model.univariate)
        .map(|((p, c), u)| Coefficient {
            metric: p.metric.clone(),
            transform: p.transform.to_string(),
            missing: p.missing,
            mean: p.mean,
            sd: p.sd,
            coefficient: *c,
            odds_ratio_per_sd: c.exp(),
            correlation_with_churn: *u,
            in_proposal: proposal.groups[0].measures.iter().any(|m| m.input == format!("usage.{}", p.metric)),
        })
        .collect();
    Ok(CalibrationReport {
        from: w.from,
        to: w.to,
        requested_to: w.requested_to,
        every_days: w.every,
        horizon_days: w.horizon,
        l2,
        observations: o.churned.len(),
        churned,
        churn_rate: churned as f64 / o.churned.len() as f64,
        cross_validation,
        intercept: model.fit.intercept,
        coefficients,
        proposed_scorecard: proposal,
        proposed_scorecard_toml: proposal_toml,
        saved: p.text("save").is_some(),
        at,
        accounts: probs.into_iter().map(|(account_id, churn_probability, _)| AccountRisk { account_id, churn_probability, mrr: None }).collect(),
    })
}

/// Refits the churn model on the year of history before `at` (observations every 28 days,
/// outcomes `horizon` days later, all already happened) and stores every paying account's
/// churn probability on `at`. None when the history cannot fit a model (no churn in it yet,
/// or no account that stayed): the stored forecast is then left as it was.
pub async fn refresh_churn_forecast(store: &(impl Accounts + Health + Revenue + Usage + UnitOfWork + ?Sized), at: NaiveDate, horizon: u32) -> Result<Option<usize>, AppError> {
    let to = at - Duration::days(horizon as i64);
    let q: HashMap<String, String> = [
        ("from", (to - Duration::days(364)).to_string()),
        ("to", to.to_string()),
        ("every", "28d".to_string()),
        ("horizon", format!("{horizon}d")),
        ("at", at.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let (_, defs, _, model, _, _) = match calibrated(store, &Params(&q)).await {
        Ok(fit) => fit,
        Err(AppError::Param(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let rows: Vec<kizuna_store::ChurnForecast> = probabilities(store, &defs, &model, at)
        .await?
        .into_iter()
        .map(|(account_id, probability, _)| kizuna_store::ChurnForecast { account_id, forecast_on: at, horizon_days: horizon as i32, probability })
        .collect();
    let mut tx = store.begin().await?;
    tx.replace_churn_forecasts(&rows).await?;
    tx.commit().await?;
    Ok(Some(rows.len()))
}

/// `score forecast`: expected churns among accounts paying on `at` within the horizon, with a
/// 90% interval, and the MRR at risk, from the calibrated model.
pub async fn forecast(store: &(impl Accounts + Health + Revenue + Usage + ?Sized), p: &Params<'_>) -> Result<Forecast, AppError> {
    let (w, defs, o, model, oof, _) = calibrated(store, p).await?;
    let at = p.date_or_today("at")?;
    let probs = probabilities(store, &defs, &model, at).await?;
    let ps: Vec<f64> = probs.iter().map(|x| x.1).collect();
    let (expected, low, high) = logistic::forecast(&ps);
    let at_risk: f64 = probs.iter().map(|(_, pr, m)| pr * *m as f64 / 100.0).sum();
    Ok(Forecast {
        at,
        horizon_days: w.horizon,
        accounts: probs.len(),
        expected_churns: (expected * 100.0).round() / 100.0,
        interval_90: [low, high],
        expected_mrr_lost: at_risk.round(),
        model: ModelWindow { from: w.from, to: w.to, requested_to: w.requested_to, every_days: w.every },
        // How far to trust the sum: over the fitted history, churns the model expected for
        // accounts it had not seen (out of fold) against churns that happened.
        history_check: HistoryCheck {
            observations: o.churned.len(),
            churned: o.churned.iter().filter(|c| **c).count(),
            expected_out_of_fold: (oof.iter().sum::<f64>() * 100.0).round() / 100.0,
        },
        riskiest: probs
            .into_iter()
            .take(20)
            .map(|(account_id, churn_probability, m)| AccountRisk { account_id, churn_probability, mrr: Some(m as f64 / 100.0) })
            .collect(),
    })
}
