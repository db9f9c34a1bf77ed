//! Reports: retention by a dimension for a period, MRR movements by month, the cohort heatmap,
//! and ARR by a dimension. Each runs the same report as `kizuna metrics` and the API, and links
//! to its CSV.

use super::charts::{grouped_bars, heat, heat_text};
use super::format::{count, date, month, pct, yen};
use super::{label, urlencode, Page};
use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Months;
use kizuna_app::{Report, ReportOutput, RetentionReport};
use kizuna_domain::metrics::arr::ArrRow;
use kizuna_domain::metrics::cohorts::CohortTable;
use kizuna_domain::metrics::movements::MonthMovements;
use kizuna_domain::metrics::retention::Retention;
use kizuna_domain::metrics::Month;
use serde::Serialize;
use std::collections::HashMap;

pub const REPORTS: &[&str] = &["retention", "mrr", "cohorts", "arr"];

pub async fn index() -> Redirect {
    Redirect::to("/reports/retention")
}

/// A dimension's label prefix for group names (`segment.smb` → 中堅・中小).
fn prefix(by: &str) -> &'static str {
    match by {
        "segment" => "segment",
        "touch_model" => "touch",
        _ => "none",
    }
}

pub async fn page(
    State(state): State<AppState>,
    me: Principal,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(mut q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if !REPORTS.contains(&name.as_str()) {
        return Err(ApiError::NotFound(format!("report {name:?}")));
    }
    let page = Page::new(&headers, &q, Some(me.clone()));
    let lang = page.lang;
    let today = kizuna_app::today();
    let this_month = Month::of(today);
    let year_ago = Month::of(this_month.first_day() - Months::new(12));
    let mut defaults: Vec<(&str, String)> = match name.as_str() {
        "retention" => vec![("from", year_ago.first_day().to_string()), ("to", this_month.first_day().to_string()), ("by", "segment".into())],
        "mrr" => vec![("from", Month::of(this_month.first_day() - Months::new(11)).to_string()), ("to", this_month.to_string())],
        "cohorts" => vec![("period", "month".into()), ("measure", "logos".into()), ("at", today.to_string())],
        _ => vec![("at", today.to_string()), ("by", "segment".into())],
    };
    for (k, v) in defaults.drain(..) {
        q.entry(k.to_string()).or_insert(v);
    }
    q.retain(|k, _| k != "lang");
    let report = Report::parse(&name).expect("listed report");
    let value = kizuna_app::App::new(state.store.as_ref(), &me).report(report, &q).await?;
    let by = q.get("by").cloned().unwrap_or_default();
    let group = |g: Option<&str>| label(prefix(&by), g.unwrap_or("all"), lang);
    let body = match value {
        ReportOutput::Retention(RetentionReport::One(r)) => retention(&[r], &page, &group),
        ReportOutput::Retention(RetentionReport::Groups(rows)) => retention(&rows, &page, &group),
        ReportOutput::Mrr(rows) => mrr(&rows, &page),
        ReportOutput::Cohorts(table) => cohorts(&table),
        ReportOutput::Arr(rows) => arr(&rows, &page, &group),
        ReportOutput::Ltv(_) | ReportOutput::Churn(_) => return Err(ApiError::NotFound(format!("report {name:?}"))),
    };
    let mut csv_query: Vec<String> = q.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect();
    csv_query.sort();
    let heading = match report {
        Report::Retention => {
            let day = |k: &str| q.get(k).and_then(|v| v.parse().ok()).unwrap_or(today);
            page.t("report.retention_period").replace("%{from}", &date(day("from"), lang)).replace("%{to}", &date(day("to"), lang))
        }
        _ => String::new(),
    };
    page.render(
        &state,
        "reports.html",
        minijinja::context! {
            report => name, reports => REPORTS, body, heading,
            csv => format!("/api/v1/metrics/{name}?{}&format=csv", csv_query.join("&")),
            f => q,
        },
    )
    .map(IntoResponse::into_response)
}

/// A report page's body: a chart (SVG, already rendered) and rows formatted for the page.
#[derive(Serialize)]
struct Body<R: Serialize> {
    #[serde(skip_serializing_if = "Option::is_none")]
    chart: Option<String>,
    rows: Vec<R>,
    /// Column headings of the cohort triangle (ages); empty for the other reports.
    ages: Vec<usize>,
}

#[derive(Serialize)]
struct RetentionRow {
    group: String,
    accounts_start: String,
    accounts_churned: String,
    logo_churn: String,
    mrr_start: String,
    nrr: String,
    grr: String,
    monthly_logo_churn: String,
}

/// One month of MRR movements, formatted: the reports' MRR table and the dashboard's.
#[derive(Serialize)]
pub(super) struct MrrRow {
    month: String,
    partial: bool,
    starting: String,
    new: String,
    expansion: String,
    reactivation: String,
    contraction: String,
    churn: String,
    ending: String,
    net: String,
    quick_ratio: String,
    customers_end: String,
}

#[derive(Serialize)]
struct CohortView {
    cohort: String,
    size: String,
    cells: Vec<Cell>,
}

/// One heatmap cell: its text and colours.
#[derive(Serialize)]
struct Cell {
    text: String,
    bg: String,
    fg: String,
    title: String,
}

#[derive(Serialize)]
struct ArrView {
    group: String,
    accounts: String,
    mrr: String,
    arr: String,
    arpa: String,
    share: String,
}

fn body<R: Serialize>(chart: Option<String>, rows: Vec<R>, ages: Vec<usize>) -> minijinja::Value {
    minijinja::Value::from_serialize(Body { chart, rows, ages })
}

fn retention(rows: &[Retention], page: &Page, group: &dyn Fn(Option<&str>) -> String) -> minijinja::Value {
    let chart = grouped_bars(
        &page.t("report.retention_chart"),
        &[page.t("dash.nrr"), page.t("dash.grr")],
        &rows.iter().map(|r| (group(r.group.as_deref()), vec![r.nrr.unwrap_or(0.0) * 100.0, r.grr.unwrap_or(0.0) * 100.0])).collect::<Vec<_>>(),
        &|x| format!("{x:.1}%"),
    );
    let rows = rows
        .iter()
        .map(|r| RetentionRow {
            group: group(r.group.as_deref()),
            accounts_start: count(r.accounts_start),
            accounts_churned: count(r.accounts_churned),
            logo_churn: pct(r.logo_churn_rate),
            mrr_start: yen(r.mrr_start),
            nrr: pct(r.nrr),
            grr: pct(r.grr),
            monthly_logo_churn: pct(r.monthly_logo_churn_rate),
        })
        .collect();
    body(Some(chart), rows, vec![])
}

/// A month's movements in the page's money format, under the label `month`.
pub(super) fn mrr_row(m: &MonthMovements, month: String) -> MrrRow {
    MrrRow {
        month,
        partial: m.partial,
        starting: yen(m.starting_mrr),
        new: yen(m.new),
        expansion: yen(m.expansion),
        reactivation: yen(m.reactivation),
        contraction: yen(m.contraction),
        churn: yen(m.churn),
        ending: yen(m.ending_mrr),
        net: yen(m.net_change),
        quick_ratio: m.quick_ratio.map(|x| format!("{x:.2}")).unwrap_or_else(|| "—".into()),
        customers_end: count(m.customers_end),
    }
}

fn mrr(rows: &[MonthMovements], page: &Page) -> minijinja::Value {
    let rows = rows.iter().map(|m| mrr_row(m, Month::parse(&m.month).map(|x| month(x.first_day(), page.lang)).unwrap_or_default())).collect();
    body::<MrrRow>(None, rows, vec![])
}

fn cohorts(table: &CohortTable) -> minijinja::Value {
    let width = table.cohorts.iter().map(|r| r.percentages.len()).max().unwrap_or(0);
    let cell = |p: &Option<f64>| match p {
        Some(x) => Cell { text: format!("{:.0}%", x * 100.0), bg: heat(*x), fg: heat_text(*x).to_string(), title: format!("{:.1}%", x * 100.0) },
        None => Cell { text: String::new(), bg: "#f7f8fa".into(), fg: "#1f2933".into(), title: String::new() },
    };
    let rows = table
        .cohorts
        .iter()
        .map(|r| CohortView { cohort: r.cohort.clone(), size: count(r.size), cells: r.percentages.iter().map(cell).collect() })
        .collect();
    body::<CohortView>(None, rows, (0..width).collect())
}

fn arr(rows: &[ArrRow], page: &Page, group: &dyn Fn(Option<&str>) -> String) -> minijinja::Value {
    let chart = grouped_bars(
        &page.t("report.arr_chart"),
        &[page.t("col.arr")],
        &rows.iter().filter(|r| r.group != "all").map(|r| (group(Some(&r.group)), vec![r.arr])).collect::<Vec<_>>(),
        &|x| yen(x),
    );
    let rows = rows
        .iter()
        .map(|r| ArrView {
            group: group(Some(&r.group)),
            accounts: count(r.accounts_active),
            mrr: yen(r.mrr),
            arr: yen(r.arr),
            arpa: r.arpa.map(yen).unwrap_or_else(|| "—".into()),
            share: pct(r.share),
        })
        .collect();
    body(Some(chart), rows, vec![])
}
