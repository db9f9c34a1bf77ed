//! Usage metrics for every active account at a date (the observation table later features
//! train on), and usage anomaly alerts. Shared by `kizuna metrics usage`, `kizuna alerts usage`
//! and the API.

use crate::ReportError;
use chrono::{Duration, NaiveDate};
use kizuna_domain::usage::alerts::{weekly_drop, BASELINE_WEEKS};
use kizuna_domain::usage::metrics::{evaluate, AccountInputs, Definitions, Kind, WindowFigures};
use kizuna_store::{Store, StoreError, UsageFigure, UsageWindow};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

/// The setting under which definitions saved through the CLI or API are kept.
pub const SETTING: &str = "usage_metrics";

/// Saved definitions, or the default set.
pub async fn definitions(store: &dyn Store) -> Result<Definitions, ReportError> {
    match store.setting(SETTING).await? {
        Some(text) => Definitions::parse(&text).map_err(|e| crate::ParamError::new("definitions", SETTING, &e.to_string()).into()),
        None => Ok(Definitions::default_set()),
    }
}

/// Per account: (the figure in the window, in the window before).
type Figures = HashMap<String, (f64, f64)>;

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

/// Rows of per-account figures, one pair per query, turned into one map per query.
fn per_query(rows: Vec<(String, Vec<(f64, f64)>)>, queries: usize) -> Vec<Figures> {
    let mut out: Vec<Figures> = vec![Figures::new(); queries];
    for (a, per) in rows {
        for (i, pair) in per.into_iter().enumerate() {
            out[i].insert(a.clone(), pair);
        }
    }
    out
}

/// Every metric of every account paying on `at` (or just `account`), by account id: tenure in
/// days and the metrics in definition order.
pub type UsageTable = BTreeMap<String, (i64, Vec<(String, Option<f64>)>)>;

pub async fn usage_table(store: &dyn Store, defs: &Definitions, at: NaiveDate, account: Option<&str>) -> Result<UsageTable, ReportError> {
    let mut accounts = store.active_accounts(at).await?;
    if let Some(a) = account {
        accounts.retain(|(id, _)| id == a);
        if accounts.is_empty() {
            return Ok(UsageTable::new());
        }
    }
    let mut inputs: BTreeMap<String, AccountInputs> = accounts
        .iter()
        .map(|(id, first)| (id.clone(), AccountInputs { tenure_days: (at - *first).num_days() + 1, ..Default::default() }))
        .collect();
    // Each distinct query once: every total in one pass over the rollup; distinct users and
    // last days as their own queries, all at the same time (on SQLite each holds a core).
    let mut queries: Vec<Query> = defs.metrics.iter().filter_map(|m| query_of(&m.kind)).collect();
    queries.sort();
    queries.dedup();
    let windows: Vec<UsageWindow> = queries.iter().filter_map(|q| if let Query::Total(w) = q { Some(w.clone()) } else { None }).collect();
    let user_windows: Vec<(Option<String>, u32)> = queries.iter().filter_map(|q| if let Query::Users { event, days } = q { Some((event.clone(), *days)) } else { None }).collect();
    let mut last_events: Vec<String> = defs.metrics.iter().filter_map(|m| if let Kind::DaysSince { event } = &m.kind { Some(event.clone()) } else { None }).collect();
    last_events.sort();
    last_events.dedup();
    let users = async { Ok(per_query(store.usage_window_users(&user_windows, at, account).await?, user_windows.len())) };
    let totals = async { Ok::<_, StoreError>(per_query(store.usage_windows(&windows, at, account).await?, windows.len())) };
    let (totals, users, lasts) = futures::future::try_join3(totals, users, store.usage_last_days(&last_events, at, account)).await?;
    let mut figures: HashMap<Query, Figures> = windows.into_iter().map(Query::Total).zip(totals).collect();
    figures.extend(user_windows.into_iter().map(|(event, days)| Query::Users { event, days }).zip(users));
    let lasts: HashMap<String, Vec<Option<NaiveDate>>> = lasts.into_iter().collect();
    for m in &defs.metrics {
        if let Some(q) = query_of(&m.kind) {
            let f = &figures[&q];
            for (id, input) in inputs.iter_mut() {
                let (now, was) = f.get(id).copied().unwrap_or_default();
                input.windows.insert(m.name.clone(), (window_figures(&m.kind, now), window_figures(&m.kind, was)));
            }
        }
    }
    for m in &defs.metrics {
        if let Kind::DaysSince { event } = &m.kind {
            let i = last_events.iter().position(|e| e == event).expect("every days_since event is queried");
            for (id, input) in inputs.iter_mut() {
                let last = lasts.get(id).and_then(|days| days[i]);
                input.days_since.insert(m.name.clone(), last.map(|d| (at - d).num_days()));
            }
        }
    }
    Ok(inputs.into_iter().map(|(id, input)| {
        let values = evaluate(defs, &input);
        (id, (input.tenure_days, values))
    }).collect())
}

/// One row per account paying on `at` (or just `account`): `account_id`, `at`, `tenure_days`,
/// then every metric by name (null where it has no value).
pub async fn usage_metrics(store: &dyn Store, defs: &Definitions, at: NaiveDate, account: Option<&str>) -> Result<Value, ReportError> {
    let table = usage_table(store, defs, at, account).await?;
    let rows: Vec<Value> = table
        .into_iter()
        .map(|(id, (tenure, values))| {
            let mut row = Map::new();
            row.insert("account_id".into(), json!(id));
            row.insert("at".into(), json!(at));
            row.insert("tenure_days".into(), json!(tenure));
            for (name, v) in values {
                row.insert(name, json!(v));
            }
            Value::Object(row)
        })
        .collect();
    Ok(Value::Array(rows))
}

/// Accounts whose weekly count of an event (each `count` metric's event) fell far below their
/// own previous 8 weeks (see `kizuna_domain::usage::alerts`), worst first.
pub async fn usage_alerts(store: &dyn Store, defs: &Definitions, at: NaiveDate) -> Result<Value, ReportError> {
    let mut events: Vec<&str> = defs.metrics.iter().filter_map(|m| match &m.kind { Kind::Count { event, .. } => Some(event.as_str()), _ => None }).collect();
    events.sort_unstable();
    events.dedup();
    let active: std::collections::HashSet<String> = store.active_accounts(at).await?.into_iter().map(|a| a.0).collect();
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
                alerts.push(json!({
                    "account_id": account, "event": event, "at": at, "last_week": d.last_week,
                    "baseline_median": d.baseline_median, "baseline_mad": d.baseline_mad, "drop": d.drop, "robust_z": d.robust_z,
                }));
            }
        }
    }
    alerts.sort_by(|a, b| b["drop"].as_f64().unwrap_or(0.0).total_cmp(&a["drop"].as_f64().unwrap_or(0.0)));
    Ok(Value::Array(alerts))
}
