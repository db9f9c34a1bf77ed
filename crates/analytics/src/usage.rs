//! Usage metrics for every active account at a date (the observation table later features
//! train on), and usage anomaly alerts. Shared by `kizuna metrics usage`, `kizuna alerts usage`
//! and the API.

use crate::ReportError;
use chrono::{Duration, NaiveDate};
use kizuna_domain::usage::alerts::{weekly_drop, BASELINE_WEEKS};
use kizuna_domain::usage::metrics::{evaluate, AccountInputs, Definitions, Kind, WindowFigures};
use kizuna_store::{Store, StoreError, UsageTotals};
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

/// Per account: (figures in the window, figures in the window before).
type Figures = HashMap<String, (WindowFigures, WindowFigures)>;

/// What one windowed metric reads: totals (count, sum, active days) or distinct users.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Query {
    users: bool,
    event: Option<String>,
    days: u32,
}

async fn run(store: &dyn Store, q: &Query, at: NaiveDate, account: Option<&str>) -> Result<Figures, StoreError> {
    let d = Duration::days(q.days as i64);
    let (before, from) = (at - d - d + Duration::days(1), at - d + Duration::days(1));
    if q.users {
        let rows = store.usage_active_users(q.event.as_deref(), before, from, at, account).await?;
        let users = |n: u64| WindowFigures { active_users: n as f64, ..Default::default() };
        return Ok(rows.into_iter().map(|(a, now, was)| (a, (users(now), users(was)))).collect());
    }
    let rows = store.usage_totals(q.event.as_deref(), before, from, at, account).await?;
    let figures = |t: &UsageTotals| WindowFigures { events: t.events as f64, value_sum: t.value_sum, active_days: t.active_days as f64, active_users: 0.0 };
    Ok(rows.into_iter().map(|(a, now, was)| (a, (figures(&now), figures(&was)))).collect())
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
    // Each distinct query once, all of them at the same time (count, sum and active days of
    // one event and window share a query).
    let query_of = |k: &Kind| {
        k.window().map(|(event, days)| Query { users: matches!(k, Kind::ActiveUsers { .. }), event: event.map(str::to_string), days })
    };
    let mut queries: Vec<Query> = defs.metrics.iter().filter_map(|m| query_of(&m.kind)).collect();
    queries.sort_by_key(|q| (q.users, q.event.clone(), q.days));
    queries.dedup();
    // Totals of every window in one pass over the rollup; distinct users per query (a second
    // table), all at the same time.
    let (user_queries, total_queries): (Vec<&Query>, Vec<&Query>) = queries.iter().partition(|q| q.users);
    let windows: Vec<(Option<String>, u32)> = total_queries.iter().map(|q| (q.event.clone(), q.days)).collect();
    let totals = async {
        let rows = store.usage_windows(&windows, at, account).await?;
        let figures = |t: &kizuna_store::UsageTotals| WindowFigures { events: t.events as f64, value_sum: t.value_sum, active_days: t.active_days as f64, active_users: 0.0 };
        let mut per_query: Vec<Figures> = vec![Figures::new(); total_queries.len()];
        for (a, per) in rows {
            for (i, (now, was)) in per.iter().enumerate() {
                per_query[i].insert(a.clone(), (figures(now), figures(was)));
            }
        }
        Ok::<_, StoreError>(per_query)
    };
    let (totals, users) = futures::future::try_join(totals, futures::future::try_join_all(user_queries.iter().map(|q| run(store, q, at, account)))).await?;
    let mut figures: HashMap<&Query, Figures> = total_queries.iter().copied().zip(totals).collect();
    figures.extend(user_queries.iter().copied().zip(users));
    let lasts = futures::future::try_join_all(defs.metrics.iter().filter_map(|m| match &m.kind {
        Kind::DaysSince { event } => Some(async move { store.usage_last_day(event, at, account).await.map(|rows| (m.name.clone(), rows)) }),
        _ => None,
    }))
    .await?;
    for m in &defs.metrics {
        if let Some(q) = query_of(&m.kind) {
            let f = &figures[&q];
            for (id, input) in inputs.iter_mut() {
                input.windows.insert(m.name.clone(), f.get(id).copied().unwrap_or_default());
            }
        }
    }
    for (name, rows) in lasts {
        let last: HashMap<String, NaiveDate> = rows.into_iter().collect();
        for (id, input) in inputs.iter_mut() {
            input.days_since.insert(name.clone(), last.get(id).map(|d| (at - *d).num_days()));
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
