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
use kizuna_app::{Params, Report};
use kizuna_domain::access::Permission;
use kizuna_domain::metrics::Month;
use serde_json::{json, Value};
use std::collections::HashMap;

pub const REPORTS: &[&str] = &["retention", "mrr", "cohorts", "arr"];

pub async fn index() -> Redirect {
    Redirect::to("/reports/retention")
}

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
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
    me.require(Permission::ReadPortfolio)?;
    if !REPORTS.contains(&name.as_str()) {
        return Err(ApiError::NotFound(format!("report {name:?}")));
    }
    let page = Page::new(&headers, &q, Some(me));
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
    let value = report.run(state.store.as_ref(), &Params(&q)).await?;
    let by = q.get("by").cloned().unwrap_or_default();
    let group = |v: &Value| label(prefix(&by), v.as_str().unwrap_or("all"), lang);
    let body = match report {
        Report::Retention => retention(&value, &page, &group),
        Report::Mrr => mrr(&value, &page),
        Report::Cohorts => cohorts(&value, lang),
        _ => arr(&value, &page, &group),
    };
    let mut csv_query: Vec<String> = q.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect();
    csv_query.sort();
    let heading = match report {
        Report::Retention => page.t("report.retention_period").replace("%{from}", &date(q["from"].parse().unwrap_or(today), lang)).replace("%{to}", &date(q["to"].parse().unwrap_or(today), lang)),
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

fn retention(v: &Value, page: &Page, group: &dyn Fn(&Value) -> String) -> Value {
    let rows: Vec<Value> = v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]);
    let chart = grouped_bars(
        &page.t("report.retention_chart"),
        &[page.t("dash.nrr"), page.t("dash.grr")],
        &rows.iter().map(|r| (group(&r["group"]), vec![f(&r["nrr"]).unwrap_or(0.0) * 100.0, f(&r["grr"]).unwrap_or(0.0) * 100.0])).collect::<Vec<_>>(),
        &|x| format!("{x:.1}%"),
    );
    json!({
        "chart": chart,
        "rows": rows.iter().map(|r| json!({
            "group": group(&r["group"]), "accounts_start": count(r["accounts_start"].as_u64().unwrap_or(0)),
            "accounts_churned": count(r["accounts_churned"].as_u64().unwrap_or(0)), "logo_churn": pct(f(&r["logo_churn_rate"])),
            "mrr_start": yen(f(&r["mrr_start"]).unwrap_or(0.0)), "nrr": pct(f(&r["nrr"])), "grr": pct(f(&r["grr"])),
            "monthly_logo_churn": pct(f(&r["monthly_logo_churn_rate"])),
        })).collect::<Vec<_>>(),
    })
}

fn mrr(v: &Value, page: &Page) -> Value {
    let rows: Vec<Value> = v.as_array().cloned().unwrap_or_default();
    json!({
        "rows": rows.iter().map(|m| json!({
            "month": m["month"].as_str().and_then(Month::parse).map(|x| month(x.first_day(), page.lang)).unwrap_or_default(),
            "starting": yen(f(&m["starting_mrr"]).unwrap_or(0.0)), "new": yen(f(&m["new"]).unwrap_or(0.0)),
            "expansion": yen(f(&m["expansion"]).unwrap_or(0.0)), "reactivation": yen(f(&m["reactivation"]).unwrap_or(0.0)),
            "contraction": yen(f(&m["contraction"]).unwrap_or(0.0)), "churn": yen(f(&m["churn"]).unwrap_or(0.0)),
            "ending": yen(f(&m["ending_mrr"]).unwrap_or(0.0)), "net": yen(f(&m["net_change"]).unwrap_or(0.0)),
            "quick_ratio": f(&m["quick_ratio"]).map(|x| format!("{x:.2}")).unwrap_or_else(|| "—".into()),
            "customers_end": count(m["customers_end"].as_u64().unwrap_or(0)),
        })).collect::<Vec<_>>(),
    })
}

fn cohorts(v: &Value, _lang: &str) -> Value {
    let rows: Vec<Value> = v["cohorts"].as_array().cloned().unwrap_or_default();
    let width = rows.iter().map(|r| r["percentages"].as_array().map_or(0, Vec::len)).max().unwrap_or(0);
    json!({
        "ages": (0..width).collect::<Vec<_>>(),
        "rows": rows.iter().map(|r| json!({
            "cohort": r["cohort"], "size": count(r["size"].as_u64().unwrap_or(0)),
            "cells": r["percentages"].as_array().into_iter().flatten().map(|p| match p.as_f64() {
                Some(x) => json!({ "text": format!("{:.0}%", x * 100.0), "bg": heat(x), "fg": heat_text(x), "title": format!("{:.1}%", x * 100.0) }),
                None => json!({ "text": "", "bg": "#f7f8fa", "fg": "#1f2933", "title": "" }),
            }).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn arr(v: &Value, page: &Page, group: &dyn Fn(&Value) -> String) -> Value {
    let rows: Vec<Value> = v.as_array().cloned().unwrap_or_default();
    let chart = grouped_bars(
        &page.t("report.arr_chart"),
        &[page.t("col.arr")],
        &rows.iter().filter(|r| r["group"] != "all").map(|r| (group(&r["group"]), vec![f(&r["arr"]).unwrap_or(0.0)])).collect::<Vec<_>>(),
        &|x| yen(x),
    );
    json!({
        "chart": chart,
        "rows": rows.iter().map(|r| json!({
            "group": group(&r["group"]), "accounts": count(r["accounts_active"].as_u64().unwrap_or(0)), "mrr": yen(f(&r["mrr"]).unwrap_or(0.0)),
            "arr": yen(f(&r["arr"]).unwrap_or(0.0)), "arpa": f(&r["arpa"]).map(yen).unwrap_or_else(|| "—".into()), "share": pct(f(&r["share"])),
        })).collect::<Vec<_>>(),
    })
}
