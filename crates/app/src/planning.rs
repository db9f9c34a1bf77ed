//! Planning reports: a scenario's assumptions, with live data from the store where the scenario
//! leaves inputs out (the book of accounts and ARR, NRR/GRR for ROI, KPI values for maturity).

use crate::load;
use chrono::NaiveDate;
use kizuna_domain::metrics::retention;
use kizuna_domain::metrics::Month;
use kizuna_domain::planning::funnel::FunnelReport;
use kizuna_domain::planning::{budget, capacity, hiring, maturity, Scenario, ScenarioError};
use kizuna_domain::TouchModel;
use kizuna_store::{Accounts, Planning, Revenue, StoreError};
use serde::Serialize;
use serde_json::{json, Value};

/// One plan's answer: which plan, the scenario, the date of the live data, and the result.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlanOutput {
    /// capacity, hiring, budget, maturity or funnel.
    pub plan: String,
    pub scenario: String,
    pub at: NaiveDate,
    pub result: PlanResult,
}

/// One of the five plans' results (which one: `plan`). In the document it is `anyOf`, not
/// `oneOf`: objects may carry more fields than a schema names, so a result could match several.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum PlanResult {
    Capacity(CapacityResult),
    Hiring(HiringResult),
    Budget(BudgetResult),
    Maturity(MaturityResult),
    Funnel(FunnelResult),
}

impl utoipa::PartialSchema for PlanResult {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AnyOfBuilder, Ref};
        let any_of = AnyOfBuilder::new()
            .item(Ref::from_schema_name("CapacityResult"))
            .item(Ref::from_schema_name("HiringResult"))
            .item(Ref::from_schema_name("BudgetResult"))
            .item(Ref::from_schema_name("MaturityResult"))
            .item(Ref::from_schema_name("FunnelResult"))
            .build();
        utoipa::openapi::schema::Schema::AnyOf(any_of).into()
    }
}

impl utoipa::ToSchema for PlanResult {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        use utoipa::ToSchema;
        fn add<T: ToSchema>(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
            schemas.push((T::name().into_owned(), T::schema()));
            T::schemas(schemas);
        }
        add::<CapacityResult>(schemas);
        add::<HiringResult>(schemas);
        add::<BudgetResult>(schemas);
        add::<MaturityResult>(schemas);
        add::<FunnelResult>(schemas);
    }
}

/// The capacity plan, the inputs it ran on, and where the book of accounts came from.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CapacityResult {
    #[serde(flatten)]
    pub plan: capacity::CapacityPlan,
    /// `live` (from the accounts on the date) or `scenario`.
    pub book_source: String,
    pub accounts_without_touch_model_counted_as_hybrid: u64,
    pub inputs: capacity::CapacityInputs,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BudgetResult {
    #[serde(flatten)]
    pub plan: budget::BudgetPlan,
    pub inputs: budget::BudgetInputs,
}

/// A maturity question with the scenario's answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Question {
    pub id: String,
    pub stage: maturity::Stage,
    pub en: String,
    pub ja: String,
    pub answer: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MaturityResult {
    #[serde(flatten)]
    pub assessment: maturity::Assessment,
    pub questions: Vec<Question>,
}

/// The sBG LTV of the accounts of one touch tier.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TierLtv {
    pub touch_model: String,
    pub accounts_active: usize,
    pub arpa_per_month: Option<f64>,
    pub del_months: Option<f64>,
    pub ltv: Option<f64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LtvAssumptions {
    pub period: String,
    pub annual_discount_rate: f64,
    pub margin: f64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FunnelResult {
    #[serde(flatten)]
    pub report: FunnelReport,
    pub ltv_by_touch_model: Vec<TierLtv>,
    pub ltv_assumptions: LtvAssumptions,
}

/// A month of the hiring plan, with its calendar label.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HiringMonth {
    #[serde(flatten)]
    pub plan: hiring::MonthPlan,
    pub label: String,
}

/// A hire, with calendar labels; a requisition due before the plan starts has no label and
/// says how many months before.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HiringHire {
    #[serde(flatten)]
    pub hire: hiring::Hire,
    pub start_label: String,
    pub requisition_label: Option<String>,
    pub requisition_months_before_start: i64,
}

/// What the hiring plan ran on, live data filled in.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HiringResolved {
    pub start_month: String,
    pub starting_accounts: f64,
    pub monthly_churn_rate: f64,
    pub mix_path: Vec<hiring::MixStep>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HiringResult {
    pub months: Vec<HiringMonth>,
    pub hires: Vec<HiringHire>,
    pub total_hires: u32,
    pub first_month_current_team_short: Option<u32>,
    pub first_month_current_team_short_label: Option<String>,
    pub first_month_high_touch_only_short: Option<u32>,
    pub first_month_high_touch_only_short_label: Option<String>,
    pub mix_paths: Vec<hiring::PathResult>,
    pub resolved: HiringResolved,
}
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanKind {
    Capacity,
    Hiring,
    Budget,
    Maturity,
    Funnel,
}

impl PlanKind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "capacity" => PlanKind::Capacity,
            "hiring" => PlanKind::Hiring,
            "budget" => PlanKind::Budget,
            "maturity" => PlanKind::Maturity,
            "funnel" => PlanKind::Funnel,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            PlanKind::Capacity => "capacity",
            PlanKind::Hiring => "hiring",
            PlanKind::Budget => "budget",
            PlanKind::Maturity => "maturity",
            PlanKind::Funnel => "funnel",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("scenario: {0}")]
    Scenario(#[from] ScenarioError),
    #[error("no saved scenario named {0:?} (kizuna plan list shows them)")]
    NotFound(String),
    /// A name to save a scenario under that is blank or longer than 100 characters.
    #[error("scenario name {0:?} must be 1 to 100 characters")]
    Name(String),
    #[error("the scenario has no [{0}] table; see docs/scenario.example.toml")]
    MissingSection(&'static str),
    #[error(transparent)]
    Param(#[from] crate::ParamError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The default scenario: the example's assumptions, with everything that has a live default
/// taken from live data (the book, the current team; the hiring plan's start, accounts, churn
/// and touch mix), as a scenario that leaves them out would.
pub fn default_scenario() -> Scenario {
    let mut s = Scenario::parse(kizuna_domain::planning::scenario::EXAMPLE).expect("the shipped example is valid");
    if let Some(c) = s.capacity.as_mut() {
        c.book.clear();
        c.current_csms = None;
    }
    if let Some(h) = s.hiring.as_mut() {
        h.start_month = None;
        h.starting_accounts = None;
        h.monthly_churn_rate = None;
        h.mix_path.clear();
    }
    s.name = Some("default".into());
    s
}

/// A saved scenario by name, or the default one when `name` is None.
pub async fn saved_or_default(store: &(impl Planning + ?Sized), name: Option<&str>) -> Result<Scenario, PlanError> {
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
async fn live_book(store: &(impl Accounts + Revenue + ?Sized), at: NaiveDate) -> Result<(Vec<capacity::BookSlice>, u64), StoreError> {
    let units = load(store, None, at).await?;
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
async fn live_revenue(store: &(impl Revenue + ?Sized), at: NaiveDate) -> Result<retention::Retention, StoreError> {
    // The day before the year (churn dated the year's first day is in it): 2023-12-31 for 2024-12-31.
    let from = year_before(at);
    let sums = store.retention_sums(from, at, None).await?.into_iter().next().unwrap_or_default();
    Ok(retention::from_sums(&sums, from, at))
}

/// The same day a year before (Feb 29 → Feb 28): where 12 months of GRR/NRR up to `at` start.
fn year_before(at: NaiveDate) -> NaiveDate {
    at.checked_sub_months(chrono::Months::new(12)).unwrap_or(NaiveDate::MIN)
}

/// The CSMs on `at`: the people owning at least one active account.
async fn live_csms(store: &(impl Accounts + Revenue + ?Sized), at: NaiveDate) -> Result<u32, StoreError> {
    let units = load(store, None, at).await?;
    let active: HashSet<&str> = units.accounts.iter().filter(|u| u.timeline.mrr_at(at) > 0).map(|u| u.account_id.as_str()).collect();
    let dims = store.account_dims().await?;
    let owners: HashSet<&str> = dims.iter().filter(|d| active.contains(d.account_id.as_str())).filter_map(|d| d.owner_email.as_deref()).collect();
    Ok(owners.len() as u32)
}

async fn live_kpis(store: &(impl Accounts + Revenue + ?Sized), at: NaiveDate) -> Result<maturity::LiveKpis, StoreError> {
    let r = live_revenue(store, at).await?;
    let units = load(store, Some(kizuna_domain::metrics::GroupBy::Segment), at).await?;
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
pub async fn run(store: &(impl Accounts + Planning + Revenue + ?Sized), kind: PlanKind, scenario: &Scenario, at: NaiveDate) -> Result<PlanOutput, PlanError> {
    crate::check_as_of("at", at)?;
    let name = scenario.name.clone().unwrap_or_default();
    let result = match kind {
        PlanKind::Capacity => {
            let mut inputs = scenario.capacity.clone().ok_or(PlanError::MissingSection("capacity"))?;
            let live = inputs.book.is_empty();
            let mut unassigned = 0;
            if live {
                (inputs.book, unassigned) = live_book(store, at).await?;
            }
            if inputs.current_csms.is_none() {
                inputs.current_csms = Some(live_csms(store, at).await?);
            }
            PlanResult::Capacity(CapacityResult {
                plan: capacity::plan(&inputs),
                book_source: if live { "live" } else { "scenario" }.into(),
                accounts_without_touch_model_counted_as_hybrid: unassigned,
                inputs,
            })
        }
        PlanKind::Hiring => PlanResult::Hiring(hiring_plan(store, scenario, at).await?),
        PlanKind::Funnel => PlanResult::Funnel(funnel_report(store, at).await?),
        PlanKind::Budget => {
            let inputs = scenario.budget.clone().ok_or(PlanError::MissingSection("budget"))?;
            let r = live_revenue(store, at).await?;
            // ARR at the start of the 12 months GRR and NRR are measured over: the base they
            // apply to (ARR at `at` would also count the year's new customers).
            let arr = crate::to_units_arr(store, year_before(at)).await?;
            let live = budget::LiveRevenue { arr: Some(arr), nrr: r.nrr, grr: r.grr };
            PlanResult::Budget(BudgetResult { plan: budget::plan(&inputs, live), inputs })
        }
        PlanKind::Maturity => {
            let inputs = scenario.maturity.clone().ok_or(PlanError::MissingSection("maturity"))?;
            let kpis = live_kpis(store, at).await?;
            let questions = maturity::QUESTIONS
                .iter()
                .map(|q| Question { id: q.0.into(), stage: q.1, en: q.2.into(), ja: q.3.into(), answer: inputs.answers.get(q.0).copied().unwrap_or(false) })
                .collect();
            PlanResult::Maturity(MaturityResult { assessment: maturity::assess(&inputs, &kpis), questions })
        }
    };
    Ok(PlanOutput { plan: kind.name().into(), scenario: name, at, result })
}

/// Funnel conversion and lag (records if any were imported, else counts) and, per touch tier,
/// the sBG LTV of the accounts the funnel feeds (seed 004: LTV differs by tier).
async fn funnel_report(store: &(impl Accounts + Planning + Revenue + ?Sized), at: NaiveDate) -> Result<FunnelResult, PlanError> {
    use kizuna_domain::planning::funnel;
    // Only what had happened by `at`: a stage reached later is not reached yet.
    let leads: Vec<funnel::FunnelLead> = store
        .funnel_leads()
        .await?
        .into_iter()
        .map(|mut l| {
            for d in l.dates.iter_mut().filter(|d| d.is_some_and(|d| d > at)) {
                *d = None;
            }
            l
        })
        .filter(|l| l.dates.iter().any(Option::is_some))
        .collect();
    let report = if leads.is_empty() {
        let counts: Vec<_> = store.funnel_counts().await?.into_iter().filter(|c| c.month <= Month::of(at)).collect();
        funnel::from_counts(&counts)
    } else {
        funnel::from_records(&leads)
    };
    let units = load(store, Some(kizuna_domain::metrics::GroupBy::TouchModel), at).await?;
    let params = kizuna_domain::metrics::ltv::LtvParams {
        period: kizuna_domain::metrics::cohorts::PeriodKind::Month,
        as_of: at,
        annual_discount_rate: 0.1,
        margin: 1.0,
        renewals: 1,
    };
    let ltv_by_touch_model = units
        .groups()
        .into_iter()
        .map(|(g, members)| {
            let r = kizuna_domain::metrics::ltv::ltv(&g, &members, params);
            TierLtv {
                accounts_active: members.iter().filter(|u| u.timeline.mrr_at(at) > 0).count(),
                touch_model: g,
                arpa_per_month: r.arpa_per_period,
                del_months: r.del,
                ltv: r.ltv,
            }
        })
        .collect();
    Ok(FunnelResult {
        report,
        ltv_by_touch_model,
        ltv_assumptions: LtvAssumptions { period: "month".into(), annual_discount_rate: 0.1, margin: 1.0 },
    })
}

async fn hiring_plan(store: &(impl Accounts + Revenue + ?Sized), scenario: &Scenario, at: NaiveDate) -> Result<HiringResult, PlanError> {
    let h = scenario.hiring.clone().ok_or(PlanError::MissingSection("hiring"))?;
    let mut c = scenario.capacity.clone().ok_or(PlanError::MissingSection("capacity"))?;
    if c.current_csms.is_none() {
        c.current_csms = Some(live_csms(store, at).await?);
    }
    let needs_book = h.starting_accounts.is_none() || h.mix_path.is_empty();
    let (book, _) = if needs_book { live_book(store, at).await? } else { (vec![], 0) };
    let live_accounts: f64 = book.iter().map(|b| b.accounts as f64).sum();
    let start = h.starting_accounts.unwrap_or(live_accounts);
    let churn = match h.monthly_churn_rate {
        Some(c) => c,
        None => live_revenue(store, at).await?.monthly_logo_churn_rate.unwrap_or(0.0),
    };
    let path = if h.mix_path.is_empty() {
        let share = |t: TouchModel| {
            let n: f64 = book.iter().filter(|b| b.touch_model == t).map(|b| b.accounts as f64).sum();
            if live_accounts > 0.0 { n / live_accounts } else { 0.0 }
        };
        let hybrid = if live_accounts > 0.0 { share(TouchModel::Hybrid) } else { 1.0 };
        vec![hiring::MixStep { from_month: 0, high: share(TouchModel::High), hybrid, tech: share(TouchModel::Tech) }]
    } else {
        h.mix_path.clone()
    };
    let first = h.start_month.as_deref().and_then(Month::parse).unwrap_or_else(|| Month::of(at).next());
    let label = |t: i64| if t >= 0 { first.plus(t as u32).to_string() } else { format!("{} (before the plan)", first.plus(0)) };
    let plan = hiring::plan(&h, &c, start, churn, &path);
    Ok(HiringResult {
        months: plan.months.into_iter().map(|m| HiringMonth { label: label(m.month as i64), plan: m }).collect(),
        hires: plan
            .hires
            .into_iter()
            .map(|x| {
                let req = x.requisition_month;
                HiringHire {
                    start_label: label(x.start_month as i64),
                    // Before the plan starts: the label is null and the page says how many months before.
                    requisition_label: (req >= 0).then(|| first.plus(req as u32).to_string()),
                    requisition_months_before_start: (-req).max(0),
                    hire: x,
                }
            })
            .collect(),
        total_hires: plan.total_hires,
        first_month_current_team_short: plan.first_month_current_team_short,
        first_month_current_team_short_label: plan.first_month_current_team_short.map(|t| label(t as i64)),
        first_month_high_touch_only_short: plan.first_month_high_touch_only_short,
        first_month_high_touch_only_short_label: plan.first_month_high_touch_only_short.map(|t| label(t as i64)),
        mix_paths: plan.mix_paths,
        resolved: HiringResolved { start_month: first.to_string(), starting_accounts: start, monthly_churn_rate: churn, mix_path: path },
    })
}

/// Rows for CSV and table output: the part of each plan a spreadsheet would list.
pub fn rows(kind: PlanKind, out: &PlanOutput) -> Value {
    let v = serde_json::to_value(out).expect("plans serialise");
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
        PlanKind::Hiring => Value::Array(
            r["months"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| json!({
                    "month": m["label"], "accounts": m["accounts"], "high": m["mix"]["high"], "hybrid": m["mix"]["hybrid"],
                    "tech": m["mix"]["tech"], "required_fte": m["required_fte"], "required_csms": m["required_csms"],
                    "headcount": m["headcount"], "capacity_fte": m["capacity_fte"], "shortfall_fte": m["shortfall_fte"], "hires_starting": m["hires_starting"],
                    "requisitions_opening": m["requisitions_opening"], "cs_ops": m["cs_ops"], "leads": m["leads"],
                }))
                .collect(),
        ),
        PlanKind::Funnel => Value::Array(
            r["months"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(std::iter::once(&r["total"]))
                .map(|m| {
                    // Columns in funnel order, not the maps' alphabetical order.
                    const STAGES: [&str; 6] = ["lead", "meeting", "opportunity", "won", "onboarded", "renewed"];
                    let steps: Vec<String> = (1..6).map(|i| format!("{}_to_{}", STAGES[i - 1], STAGES[i])).collect();
                    let mut row = serde_json::Map::new();
                    row.insert("month".into(), m["month"].clone());
                    for st in STAGES {
                        row.insert(st.into(), m["reached"][st].clone());
                    }
                    for k in &steps {
                        row.insert(k.clone(), m["conversion"][k].clone());
                    }
                    row.insert("lead_to_won".into(), m["lead_to_won"].clone());
                    for k in &steps {
                        row.insert(format!("median_days_{k}"), m["median_lag_days"][k].clone());
                    }
                    Value::Object(row)
                })
                .collect(),
        ),
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
