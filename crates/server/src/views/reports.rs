//! Reports: retention by a dimension for a period, MRR movements by month, the cohort heatmap,
//! and ARR by a dimension. Each runs the same report as `kizuna metrics` and the API, and links
//! to its CSV.

use super::charts::{grouped_bars, heat, heat_text};
use super::format::{count, date, month, pct, yen};
use super::{label, urlencode, Page};
use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
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
        // The twelve months before this one, measured as the dashboard does: from the day
        // before the first month's 1st (a contract ending on that 1st is churn in the range,
        // not part of the base) to the last month's last day.
        "retention" => vec![
            ("from", (year_ago.first_day() - chrono::Duration::days(1)).to_string()),
            ("to", (this_month.first_day() - chrono::Duration::days(1)).to_string()),
            ("by", "segment".into()),
        ],
        "mrr" => vec![("from", Month::of(this_month.first_day() - Months::new(11)).to_string()), ("to", this_month.to_string())],
        "cohorts" => vec![("period", "month".into()), ("measure", "logos".into()), ("at", today.to_string())],
        _ => vec![("at", today.to_string()), ("by", "segment".into())],
    };
    for (k, v) in defaults.drain(..) {
        q.entry(k.to_string()).or_insert(v);
    }
    q.retain(|k, _| k != "lang");
    let excel = q.remove("format").is_some_and(|f| f == "csv");
    let report = Report::parse(&name).expect("listed report");
    let value = kizuna_app::App::new(state.store.as_ref(), &me).report(report, &q).await?;
    let by = q.get("by").cloned().unwrap_or_default();
    let group = |g: Option<&str>| label(prefix(&by), g.unwrap_or("all"), lang);
    if excel {
        return excel_csv(&name, &value, lang, &group);
    }
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
            csv => format!("/reports/{name}?{}&format=csv", csv_query.join("&")),
            f => q,
        },
    )
    .map(IntoResponse::into_response)
}

/// The report as CSV for Excel: a UTF-8 byte order mark, column names in the reader's language
/// and groups named as on the page; every figure as the API's CSV has it (plain numbers).
fn excel_csv(name: &str, value: &ReportOutput, lang: &str, group: &dyn Fn(Option<&str>) -> String) -> Result<Response, ApiError> {
    let csv_err = |e: csv::Error| ApiError::Internal(format!("CSV: {e}"));
    if let ReportOutput::Cohorts(table) = value {
        return cohorts_csv(name, table, lang);
    }
    let plain = kizuna_app::render(value, kizuna_app::Format::Csv);
    let mut rows = csv::ReaderBuilder::new().has_headers(false).from_reader(plain.as_bytes()).into_records();
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    if let Some(heads) = rows.next() {
        let heads = heads.map_err(csv_err)?;
        out.write_record(heads.iter().map(|h| label("csvcol", h, lang))).map_err(csv_err)?;
        for row in rows {
            let row = row.map_err(csv_err)?;
            let cells = row.iter().zip(heads.iter()).map(|(v, h)| match h {
                "group" if v == "all" => crate::i18n::t("report.all", lang),
                "group" => kizuna_app::safe_text(&group(Some(v))).into_owned(),
                // Yen as Excel shows them: whole, like the page (the API's CSV keeps the exact value).
                h if kizuna_app::MONEY.contains(&h) => v.parse::<f64>().map(|f| format!("{f:.0}")).unwrap_or_else(|_| v.to_string()),
                _ => v.to_string(),
            });
            out.write_record(cells).map_err(csv_err)?;
        }
    }
    csv_file(name, out)
}

/// The cohort triangle as Excel shows it: a row per cohort, a column per age holding the share
/// of the cohort's start (as on the page); an age the cohort has not reached is empty.
fn cohorts_csv(name: &str, table: &CohortTable, lang: &str) -> Result<Response, ApiError> {
    let csv_err = |e: csv::Error| ApiError::Internal(format!("CSV: {e}"));
    let ages = table.cohorts.iter().map(|c| c.percentages.len()).max().unwrap_or(0);
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let mut heads = vec![label("csvcol", "cohort", lang), label("csvcol", "size", lang), label("csvcol", "base", lang)];
    heads.extend((0..ages).map(|a| crate::i18n::t("csvcol.age", lang).replace("%{age}", &a.to_string())));
    out.write_record(&heads).map_err(csv_err)?;
    for c in &table.cohorts {
        let mut row = vec![c.cohort.clone(), c.size.to_string(), c.base.to_string()];
        row.extend((0..ages).map(|a| c.percentages.get(a).copied().flatten().map(|p| p.to_string()).unwrap_or_default()));
        out.write_record(&row).map_err(csv_err)?;
    }
    csv_file(name, out)
}

fn csv_file(name: &str, out: csv::Writer<Vec<u8>>) -> Result<Response, ApiError> {
    let body = out.into_inner().map_err(|e| ApiError::Internal(format!("CSV: {e}")))?;
    let disposition = format!("attachment; filename=\"{name}.csv\"");
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, disposition)], body).into_response())
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
