//! Usage metrics for every active account at a date (the observation table later features
//! train on), and usage anomaly alerts. Shared by `kizuna metrics usage`, `kizuna alerts usage`
//! and the API.

use crate::AppError;
use chrono::{Duration, NaiveDate};
use kizuna_domain::usage::alerts::{weekly_drop, BASELINE_WEEKS};
use kizuna_domain::usage::metrics::{evaluate, AccountInputs, Definitions, Kind, WindowFigures};
use kizuna_store::{Usage, UsageFigure, UsageWindow};
use serde::Serialize;
use serde_json::{json, Map};

/// One account's usage metrics on a day (`metrics usage`, `GET /api/v1/usage/metrics`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UsageRow {
    pub account_id: String,
    pub at: NaiveDate,
    pub tenure_days: i64,
    /// Every defined metric by its name, in definition order (null where it has no value).
    #[serde(flatten)]
    #[schema(value_type = std::collections::HashMap<String, Option<f64>>)]
    pub metrics: Map<String, serde_json::Value>,
}

/// A weekly usage drop (`alerts usage`, `GET /api/v1/usage/alerts`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UsageAlert {
    pub account_id: String,
    pub event: String,
    pub at: NaiveDate,
    pub last_week: f64,
    pub baseline_median: f64,
    pub baseline_mad: f64,
    pub drop: f64,
    pub robust_z: Option<f64>,
}
use std::collections::{BTreeMap, HashMap};

/// The setting under which definitions saved through the CLI or API are kept.
pub const SETTING: &str = "usage_metrics";

/// Saved definitions, or the default set.
pub async fn definitions(store: &(impl Usage + ?Sized)) -> Result<Definitions, AppError> {
    match store.setting(SETTING).await? {
        Some(text) => Definitions::parse(&text).map_err(|e| crate::ParamError::new("definitions", SETTING, &e.to_string()).into()),
        None => Ok(Definitions::default_set()),
    }
}

/// What one windowed metric reads: a total of the rollup, or distinct users (another table).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Query {
    Total(UsageWindow),
    Users { event: Option<String>, days: u32 },
}

fn query_of(kind: &Kind) -> Option<Query> {
    let (event, days) = kind.window()?;
    let event = event.map(str::to_string);
    let total = |figure| Some(Query::Total(UsageWindow { figure, event: event.clone(), days }));
    match kind {
        Kind::Count { .. } => total(UsageFigure::Events),
        Kind::Sum { .. } => total(UsageFigure::ValueSum),
        Kind::ActiveDays { .. } => total(UsageFigure::ActiveDays),
        Kind::ActiveUsers { .. } => Some(Query::Users { event: event.clone(), days }),
        _ => None,
    }
}

/// The figure as `evaluate` reads it for the metric's kind.
fn window_figures(kind: &Kind, value: f64) -> WindowFigures {
    let mut f = WindowFigures::default();
    match kind {
        Kind::Count { .. } => f.events = value,
        Kind::Sum { .. } => f.value_sum = value,
        Kind::ActiveUsers { .. } => f.active_users = value,
        _ => f.active_days = value,
    }
    f
}

/// Every metric of every account paying on `at` (or just `account`), by account id: tenure in
/// days and the metrics in definition order.
pub type UsageTable = BTreeMap<String, (i64, Vec<(String, Option<f64>)>)>;

/// The distinct queries the metrics need, each once, split so the passes can run side by side:
/// sums and counts of the rollup, its days with events (a DISTINCT per account, as costly as
/// the sums), distinct users, and the last day of each `days_since` event.
struct Plan {
    sums: Vec<UsageWindow>,
    days: Vec<UsageWindow>,
    users: Vec<(Option<String>, u32)>,
    last_events: Vec<String>,
}

impl Plan {
    fn new(defs: &Definitions) -> Self {
        let mut queries: Vec<Query> = defs.metrics.iter().filter_map(|m| query_of(&m.kind)).collect();
        queries.sort();
        queries.dedup();
        let (mut sums, mut days, mut users) = (vec![], vec![], vec![]);
        for q in queries {
            match q {
                Query::Total(w) if w.figure == UsageFigure::ActiveDays => days.push(w),
                Query::Total(w) => sums.push(w),
                Query::Users { event, days } => users.push((event, days)),
            }
        }
        let mut last_events: Vec<String> =
            defs.metrics.iter().filter_map(|m| if let Kind::DaysSince { event } = &m.kind { Some(event.clone()) } else { None }).collect();
        last_events.sort();
        last_events.dedup();
        Plan { sums, days, users, last_events }
    }

    /// Where metric `m`'s window is found: (result set: 0 sums, 1 days, 2 users; column).
    fn place(&self, kind: &Kind) -> Option<(usize, usize)> {
        match query_of(kind)? {
            Query::Total(w) if w.figure == UsageFigure::ActiveDays => Some((1, self.days.iter().position(|d| *d == w)?)),
            Query::Total(w) => Some((0, self.sums.iter().position(|d| *d == w)?)),
            Query::Users { event, days } => Some((2, self.users.iter().position(|u| u.0 == event && u.1 == days)?)),
        }
    }
}

pub async fn usage_table(store: &(impl Usage + ?Sized), defs: &Definitions, at: NaiveDate, account: Option<&str>) -> Result<UsageTable, AppError> {
    let plan = Plan::new(defs);
    // Every pass at the same time (on SQLite each holds a core).
    let (accounts, sums, days, users, lasts) = futures::try_join!(
        store.active_accounts(at, account),
        store.usage_windows(&plan.sums, at, account),
        store.usage_windows(&plan.days, at, account),
        store.usage_window_users(&plan.users, at, account),
        store.usage_last_days(&plan.last_events, at, account),
    )?;
    let index: HashMap<&str, usize> = accounts.iter().enumerate().map(|(i, (id, _))| (id.as_str(), i)).collect();
    let mut inputs: Vec<AccountInputs> = accounts.iter().map(|(_, first)| AccountInputs::new(defs, (at - *first).num_days() + 1)).collect();
    // Per result set, the metrics it feeds: (metric position, column, kind).
    let mut feeds: [Vec<(usize, usize, &Kind)>; 3] = Default::default();
    for (i, m) in defs.metrics.iter().enumerate() {
        if let Some((set, column)) = plan.place(&m.kind) {
            feeds[set].push((i, column, &m.kind));
        }
    }
    for (set, rows) in [sums, days, users].into_iter().enumerate() {
        for (id, figures) in rows {
            let Some(&k) = index.get(id.as_str()) else { continue };
            for &(i, column, kind) in &feeds[set] {
                let (now, was) = figures[column];
                inputs[k].windows[i] = (window_figures(kind, now), window_figures(kind, was));
            }
        }
    }
    let since: Vec<(usize, usize)> = defs
        .metrics
        .iter()
        .enumerate()
        .filter_map(|(i, m)| if let Kind::DaysSince { event } = &m.kind { Some((i, plan.last_events.iter().position(|e| e == event)?)) } else { None })
        .collect();
    for (id, last) in lasts {
        let Some(&k) = index.get(id.as_str()) else { continue };
        for &(i, column) in &since {
            inputs[k].days_since[i] = last[column].map(|d| (at - d).num_days());
        }
    }
    Ok(accounts
        .into_iter()
        .zip(inputs)
        .map(|((id, _), input)| {
            let values = evaluate(defs, &input);
            (id, (input.tenure_days, values))
        })
        .collect())
}

/// One row per account paying on `at` (or just `account`): `account_id`, `at`, `tenure_days`,
/// then every metric by name (null where it has no value).
pub async fn usage_metrics(store: &(impl Usage + ?Sized), defs: &Definitions, at: NaiveDate, account: Option<&str>) -> Result<Vec<UsageRow>, AppError> {
    let table = usage_table(store, defs, at, account).await?;
    Ok(table
        .into_iter()
        .map(|(account_id, (tenure_days, values))| UsageRow {
            account_id,
            at,
            tenure_days,
            metrics: values.into_iter().map(|(name, v)| (name, json!(v))).collect(),
        })
        .collect())
}

/// Accounts whose weekly count of an event (each `count` metric's event) fell far below their
/// own previous 8 weeks (see `kizuna_domain::usage::alerts`), worst first.
pub async fn usage_alerts(store: &(impl Usage + ?Sized), defs: &Definitions, at: NaiveDate) -> Result<Vec<UsageAlert>, AppError> {
    let mut events: Vec<&str> = defs.metrics.iter().filter_map(|m| match &m.kind { Kind::Count { event, .. } => Some(event.as_str()), _ => None }).collect();
    events.sort_unstable();
    events.dedup();
    let active: std::collections::HashSet<String> = store.active_accounts(at, None).await?.into_iter().map(|a| a.0).collect();
    let weeks = BASELINE_WEEKS + 1;
    let from = at - Duration::days(7 * weeks as i64 - 1);
    let mut alerts = Vec::new();
    for event in events {
        let mut series: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for (account, day, n) in store.usage_day_counts(event, from, at).await? {
            let week = ((day - from).num_days() / 7) as usize;
            series.entry(account).or_insert_with(|| vec![0.0; weeks])[week] += n as f64;
        }
        for (account, counts) in series {
            if !active.contains(&account) {
                continue;
            }
            if let Some(d) = weekly_drop(&counts) {
                alerts.push(UsageAlert {
                    account_id: account,
                    event: event.to_string(),
                    at,
                    last_week: d.last_week,
                    baseline_median: d.baseline_median,
                    baseline_mad: d.baseline_mad,
                    drop: d.drop,
                    robust_z: d.robust_z,
                });
            }
        }
    }
    alerts.sort_by(|a, b| b.drop.total_cmp(&a.drop));
    Ok(alerts)
}
