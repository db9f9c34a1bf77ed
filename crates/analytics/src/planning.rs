//! Planning reports: a scenario's assumptions, with live data from the store where the scenario
//! leaves inputs out (the book of accounts and ARR, NRR/GRR for ROI, KPI values for maturity).

use crate::{load, to_json};
use chrono::{Duration, NaiveDate};
use kizuna_domain::metrics::retention;
use kizuna_domain::planning::{budget, capacity, maturity, Scenario, ScenarioError};
use kizuna_domain::TouchModel;
use kizuna_store::{Store, StoreError};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanKind {
    Capacity,
    Budget,
    Maturity,
}

impl PlanKind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "capacity" => PlanKind::Capacity,
            "budget" => PlanKind::Budget,
            "maturity" => PlanKind::Maturity,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            PlanKind::Capacity => "capacity",
            PlanKind::Budget => "budget",
            PlanKind::Maturity => "maturity",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("scenario: {0}")]
    Scenario(#[from] ScenarioError),
    #[error("no saved scenario named {0:?} (kizuna plan list shows them)")]
    NotFound(String),
    #[error("the scenario has no [{0}] table; see docs/scenario.example.toml")]
    MissingSection(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The default scenario: the example's assumptions, with the book taken from live data.
pub fn default_scenario() -> Scenario {
    let mut s = Scenario::parse(kizuna_domain::planning::scenario::EXAMPLE).expect("the shipped example is valid");
    if let Some(c) = s.capacity.as_mut() {
        c.book.clear();
    }
    s.name = Some("default".into());
    s
}

/// A saved scenario by name, or the default one when `name` is None.
pub async fn saved_or_default(store: &dyn Store, name: Option<&str>) -> Result<Scenario, PlanError> {
    match name {
        None => Ok(default_scenario()),
        Some(n) => {
            let body = store.scenario(n).await?.ok_or_else(|| PlanError::NotFound(n.to_string()))?;
            Ok(Scenario::parse(&body)?)
        }
    }
}

/// Active accounts and their MRR at `at`, per (segment, touch model). Accounts without a touch
/// model count as hybrid (the model most accounts are on), and the output says how many.
async fn live_book(store: &dyn Store, at: NaiveDate) -> Result<(Vec<capacity::BookSlice>, u64), StoreError> {
    let units = load(store, None).await?;
    let dims = store.account_dims().await?;
    let dims: BTreeMap<&str, _> = dims.iter().map(|d| (d.account_id.as_str(), d)).collect();
    let mut book: BTreeMap<(String, TouchModel), (u64, i64)> = BTreeMap::new();
    let mut unassigned = 0;
    for u in &units.accounts {
        let mrr = u.timeline.mrr_at(at);
        if mrr <= 0 {
            continue;
        }
        let d = dims.get(u.account_id.as_str());
        let segment = d.and_then(|d| d.segment.clone()).unwrap_or_else(|| "(none)".into());
        let touch = d.and_then(|d| d.touch_model).unwrap_or_else(|| {
            unassigned += 1;
            TouchModel::Hybrid
        });
        let e = book.entry((segment, touch)).or_default();
        e.0 += 1;
        e.1 += mrr;
    }
    let rows: Vec<(String, TouchModel, u64, i64)> = book.into_iter().map(|((s, t), (n, m))| (s, t, n, m)).collect();
    Ok((capacity::book_from_live(&rows), unassigned))
}

/// ARR at `at`, and NRR / GRR / churn over the 12 months before it.
async fn live_revenue(store: &dyn Store, at: NaiveDate) -> Result<retention::Retention, StoreError> {
    let from = at - Duration::days(365);
    let sums = store.retention_sums(from, at, None).await?.into_iter().next().unwrap_or_default();
    Ok(retention::from_sums(&sums, from, at))
}

async fn live_kpis(store: &dyn Store, at: NaiveDate) -> Result<maturity::LiveKpis, StoreError> {
    let r = live_revenue(store, at).await?;
    let units = load(store, Some(kizuna_domain::metrics::GroupBy::Segment)).await?;
    let arr = kizuna_domain::metrics::arr::arr(&units.groups(), at);
    let dims = store.account_dims().await?;
    let active: HashSet<&str> =
        units.accounts.iter().filter(|u| u.timeline.mrr_at(at) > 0).map(|u| u.account_id.as_str()).collect();
    let owners: HashSet<&str> =
        dims.iter().filter(|d| active.contains(d.account_id.as_str())).filter_map(|d| d.owner_email.as_deref()).collect();
    let total_arr = arr.first().map_or(0.0, |a| a.arr);
    Ok(maturity::LiveKpis {
        nrr: r.nrr,
        logo_churn_rate: r.logo_churn_rate,
        revenue_churn_rate: r.mrr_churn_rate,
        arr_by_segment: arr.iter().skip(1).map(|a| (a.group.clone(), a.arr)).collect(),
        accounts_per_csm: (!owners.is_empty()).then(|| active.len() as f64 / owners.len() as f64),
        arr_per_csm: (!owners.is_empty()).then(|| total_arr / owners.len() as f64),
    })
}

/// Run one plan. The JSON carries the scenario name, the date of the live data and which inputs
/// came from live data.
pub async fn run(store: &dyn Store, kind: PlanKind, scenario: &Scenario, at: NaiveDate) -> Result<Value, PlanError> {
    let name = scenario.name.clone().unwrap_or_default();
    let result = match kind {
        PlanKind::Capacity => {
            let mut inputs = scenario.capacity.clone().ok_or(PlanError::MissingSection("capacity"))?;
            let live = inputs.book.is_empty();
            let mut unassigned = 0;
            if live {
                (inputs.book, unassigned) = live_book(store, at).await?;
            }
            let mut v = to_json(capacity::plan(&inputs));
            v["book_source"] = json!(if live { "live" } else { "scenario" });
            v["accounts_without_touch_model_counted_as_hybrid"] = json!(unassigned);
            v["inputs"] = to_json(&inputs);
            v
        }
        PlanKind::Budget => {
            let inputs = scenario.budget.clone().ok_or(PlanError::MissingSection("budget"))?;
            let r = live_revenue(store, at).await?;
            let arr = crate::to_units_arr(store, at).await?;
            let live = budget::LiveRevenue { arr: Some(arr), nrr: r.nrr, grr: r.grr };
            let mut v = to_json(budget::plan(&inputs, live));
            v["inputs"] = to_json(&inputs);
            v
        }
        PlanKind::Maturity => {
            let inputs = scenario.maturity.clone().ok_or(PlanError::MissingSection("maturity"))?;
            let kpis = live_kpis(store, at).await?;
            let mut v = to_json(maturity::assess(&inputs, &kpis));
            v["questions"] = json!(maturity::QUESTIONS
                .iter()
                .map(|q| json!({"id": q.0, "stage": q.1, "en": q.2, "ja": q.3, "answer": inputs.answers.get(q.0).copied().unwrap_or(false)}))
                .collect::<Vec<_>>());
            v
        }
    };
    Ok(json!({ "plan": kind.name(), "scenario": name, "at": at, "result": result }))
}

/// Rows for CSV and table output: the part of each plan a spreadsheet would list.
pub fn rows(kind: PlanKind, v: &Value) -> Value {
    let r = &v["result"];
    match kind {
        PlanKind::Capacity => {
            let mut rows: Vec<Value> = r["slices"].as_array().cloned().unwrap_or_default();
            rows.push(json!({
                "segment": "total", "touch_model": "", "accounts": r["accounts"], "arr": r["arr"],
                "hours_per_month": r["hours_per_month"], "bottom_up_fte": r["bottom_up_fte"],
                "top_down_fte_by_arr": r["top_down_csms_by_arr"], "top_down_fte_by_accounts": r["top_down_csms_by_accounts"],
            }));
            rows.push(json!({
                "segment": "headcount", "touch_model": "",
                "accounts": format!("bottom-up CSMs {} / top-down {} / gap {}", r["bottom_up_csms"], r["top_down_csms"], r["gap"]),
                "arr": format!("CS Ops {} / leads {} (span {}) or {} (span {})", r["cs_ops"], r["leads_experienced"], r["inputs"]["span_experienced_lead"], r["leads_new"], r["inputs"]["span_new_lead"]),
            }));
            Value::Array(rows)
        }
        PlanKind::Budget => r["strategies"].clone(),
        PlanKind::Maturity => Value::Array(
            r["goals"]
                .as_array()
                .map(|goals| {
                    goals
                        .iter()
                        .flat_map(|g| {
                            g["kpis"].as_array().cloned().unwrap_or_default().into_iter().map(move |k| {
                                json!({"stage": g["stage"], "goal": g["goal"], "kpi": k["kpi"], "value": k["value"]})
                            })
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
    }
}
