//! The portfolio dashboard: ARR, MRR, NRR, GRR and logo churn for a period, the MRR movements
//! by month, breakdowns by segment and touch model, and the touch-model mix against 20/60/20.

use super::charts::{diverging_columns, grouped_bars};
use super::format::{count, month, pct, yen};
use super::{label, Page};
use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use kizuna_domain::access::Permission;
use kizuna_domain::metrics::Month;
use serde_json::{json, Value};
use std::collections::HashMap;

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn breakdown(rows: &Value, prefix: &str, lang: &str) -> Vec<Value> {
    rows.as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            json!({
                "group": label(prefix, r["group"].as_str().unwrap_or(""), lang),
                "accounts": count(r["accounts"].as_u64().unwrap_or(0)),
                "arr": yen(f(&r["arr"]).unwrap_or(0.0)),
                "nrr": pct(f(&r["nrr"])),
                "grr": pct(f(&r["grr"])),
                "logo_churn": pct(f(&r["logo_churn_rate"])),
            })
        })
        .collect()
}

pub async fn page(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    me.require(Permission::ReadPortfolio)?;
    let page = Page::new(&headers, &q, Some(me));
    let lang = page.lang;
    let d = kizuna_app::dashboard::dashboard(state.store.as_ref(), &kizuna_app::Params(&q), kizuna_app::today()).await?;
    let months: Vec<Value> = d["months"].as_array().cloned().unwrap_or_default();
    let at = d["at"].as_str().and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()).unwrap_or_else(kizuna_app::today);
    let month_label = |m: &Value| {
        m["month"].as_str().and_then(Month::parse).map(|m| month(m.first_day(), lang)).unwrap_or_default()
    };
    let labels: Vec<String> = months.iter().map(|m| m["month"].as_str().unwrap_or("").chars().skip(2).collect()).collect();
    let series = |key: &str| (page.t(&format!("mrr.{key}")), months.iter().map(|m| f(&m[key]).unwrap_or(0.0)).collect::<Vec<_>>());
    let chart = diverging_columns(
        &page.t("dash.movements_chart"),
        &labels,
        &[series("new"), series("expansion"), series("reactivation")],
        &[series("contraction"), series("churn")],
        &|v| yen(v),
    );
    let table: Vec<Value> = months
        .iter()
        .map(|m| {
            let label = if m["partial"].as_bool() == Some(true) {
                page.t("dash.month_to_date").replace("%{month}", &month_label(m)).replace("%{day}", &super::format::date(at, lang))
            } else {
                month_label(m)
            };
            json!({
                "month": label,
                "partial": m["partial"],
                "starting": yen(f(&m["starting_mrr"]).unwrap_or(0.0)),
                "new": yen(f(&m["new"]).unwrap_or(0.0)),
                "expansion": yen(f(&m["expansion"]).unwrap_or(0.0)),
                "reactivation": yen(f(&m["reactivation"]).unwrap_or(0.0)),
                "contraction": yen(f(&m["contraction"]).unwrap_or(0.0)),
                "churn": yen(f(&m["churn"]).unwrap_or(0.0)),
                "ending": yen(f(&m["ending_mrr"]).unwrap_or(0.0)),
            })
        })
        .collect();
    let mix_rows: Vec<Value> = d["touch_mix"].as_array().cloned().unwrap_or_default();
    let mix_chart = grouped_bars(
        &page.t("dash.mix_chart"),
        &[page.t("dash.actual"), page.t("dash.target")],
        &mix_rows
            .iter()
            .filter(|r| !r["target_share"].is_null())
            .map(|r| (label("touch", r["touch_model"].as_str().unwrap_or(""), lang), vec![f(&r["account_share"]).unwrap_or(0.0) * 100.0, f(&r["target_share"]).unwrap_or(0.0) * 100.0]))
            .collect::<Vec<_>>(),
        &|v| format!("{v:.1}%"),
    );
    let mix: Vec<Value> = mix_rows
        .iter()
        .map(|r| {
            json!({
                "touch": label("touch", r["touch_model"].as_str().unwrap_or(""), lang),
                "accounts": count(r["accounts"].as_u64().unwrap_or(0)),
                "share": pct(f(&r["account_share"])),
                "target": pct(f(&r["target_share"])),
                "gap": f(&r["gap"]).map(|g| format!("{:+.1}", g * 100.0)).unwrap_or_else(|| "—".into()),
                "mrr_share": pct(f(&r["mrr_share"])),
            })
        })
        .collect();
    let kpis = json!([
        { "id": "arr", "label": page.t("dash.arr"), "value": yen(f(&d["arr"]).unwrap_or(0.0)) },
        { "id": "mrr", "label": page.t("dash.mrr"), "value": yen(f(&d["mrr"]).unwrap_or(0.0)) },
        { "id": "nrr", "label": page.t("dash.nrr"), "value": pct(f(&d["nrr"])) },
        { "id": "grr", "label": page.t("dash.grr"), "value": pct(f(&d["grr"])) },
        { "id": "logo_churn", "label": page.t("dash.logo_churn"), "value": pct(f(&d["logo_churn_rate"])) },
        { "id": "accounts", "label": page.t("dash.accounts"), "value": count(d["active_accounts"].as_u64().unwrap_or(0)) },
    ]);
    let period = page
        .t("dash.period")
        .replace("%{from}", &super::format::date(d["start"].as_str().and_then(|s| s.parse().ok()).unwrap_or_default(), lang))
        .replace("%{to}", &super::format::date(d["end"].as_str().and_then(|s| s.parse().ok()).unwrap_or_default(), lang));
    page.render(
        &state,
        "dashboard.html",
        minijinja::context! {
            kpis, chart, table, mix, mix_chart, period,
            as_of_note => page.t("dash.as_of_note").replace("%{day}", &super::format::date(at, lang)),
            by_segment => breakdown(&d["by_segment"], "segment", lang),
            by_touch => breakdown(&d["by_touch_model"], "touch", lang),
            f_from => d["from"].as_str().unwrap_or(""), f_to => d["to"].as_str().unwrap_or(""),
            churned => count(d["accounts_churned"].as_u64().unwrap_or(0)), started => count(d["accounts_start"].as_u64().unwrap_or(0)),
        },
    )
}
