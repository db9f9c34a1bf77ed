//! The account list: search, filters, sortable columns, paging, and CSV export of the view.
//! A partner user's list (and export) holds only its partner's accounts, whatever the URL says.

use super::format::yen;
use super::{label, urlencode, Page};
use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use kizuna_app::App;
use kizuna_domain::money::group_thousands;
use serde::Serialize;
use std::collections::HashMap;

#[derive(Serialize)]
struct Row {
    account_id: String,
    href: String,
    name: String,
    segment: String,
    touch_model: String,
    owner: String,
    partner: String,
    stage: String,
    mrr: String,
    health: Option<super::health::Badge>,
}

const SORTABLE: &[&str] = &["account_id", "name", "segment", "touch_model", "owner", "partner", "stage", "mrr", "health"];
pub const STAGES: &[&str] = &["onboarding", "adoption", "expansion", "renewal", "churned"];

/// This page's URL with some parameters replaced (and the page reset unless given).
fn link(q: &HashMap<String, String>, set: &[(&str, String)]) -> String {
    let mut params: Vec<(String, String)> = q
        .iter()
        .filter(|(k, v)| !v.is_empty() && *k != "page" && *k != "lang" && !set.iter().any(|(s, _)| s == k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    params.extend(set.iter().map(|(k, v)| (k.to_string(), v.clone())));
    params.sort();
    let encoded: Vec<String> = params.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect();
    format!("/accounts?{}", encoded.join("&"))
}

pub async fn page(
    State(state): State<AppState>,
    me: Principal,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let app = App::new(state.store.as_ref(), &me);
    let result = app.accounts(&q).await?;
    let (owners, partners) = app.filter_choices().await?;
    let page = Page::new(&headers, &q, Some(me.clone()));
    let lang = page.lang;
    let rows: Vec<Row> = result
        .accounts
        .iter()
        .map(|a| Row {
            account_id: a.account_id.clone(),
            href: format!("/accounts/{}", urlencode(&a.account_id)),
            name: a.name.clone(),
            segment: a.segment.as_deref().map(|s| label("segment", s, lang)).unwrap_or_default(),
            touch_model: a.touch_model.map(|t| label("touch", t.as_str(), lang)).unwrap_or_default(),
            owner: a.owner_email.clone().unwrap_or_default(),
            partner: a.partner_id.clone().unwrap_or_default(),
            stage: a.lifecycle_stage.as_deref().map(|s| label("lifecycle", s, lang)).unwrap_or_default(),
            mrr: yen(a.mrr),
            health: super::health::Badge::of(a.health_score, a.health_band.as_deref(), a.health_previous, &page),
        })
        .collect();
    let pages = result.total.div_ceil(result.per_page as u64).max(1);
    let (sort, order) = (q.get("sort").cloned().unwrap_or_else(|| "account_id".into()), q.get("order").cloned().unwrap_or_default());
    let columns: Vec<minijinja::Value> = SORTABLE
        .iter()
        .map(|c| {
            let active = sort == *c;
            let next_order = if active && order != "desc" { "desc" } else { "asc" };
            minijinja::context! {
                name => *c, title => page.t(&format!("col.{c}")), href => link(&q, &[("sort", c.to_string()), ("order", next_order.to_string())]),
                sorted => active.then(|| if order == "desc" { "descending" } else { "ascending" }), num => *c == "mrr" || *c == "health",
            }
        })
        .collect();
    let mut export_params = q.clone();
    export_params.remove("page");
    let export = link(&export_params, &[]).replacen("/accounts?", "/accounts.csv?", 1);
    let f = |k: &str| q.get(k).cloned().unwrap_or_default();
    page.render(
        &state,
        "accounts.html",
        minijinja::context! {
            rows, columns, owners, partners, stages => STAGES, export,
            total => group_thousands(result.total),
            page => result.page,
            pages,
            prev => (result.page > 1).then(|| link(&q, &[("page", (result.page - 1).to_string())])),
            next => ((result.page as u64) < pages).then(|| link(&q, &[("page", (result.page + 1).to_string())])),
            f_q => f("q"), f_segment => f("segment"), f_touch => f("touch_model"), f_owner => f("owner"),
            f_partner => f("partner"), f_stage => f("stage"), f_health => f("health"), f_sort => sort, f_order => order,
        },
    )
}

/// `GET /accounts.csv?...`: every account of the current view (all pages), as CSV.
pub async fn export(
    State(state): State<AppState>,
    me: Principal,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| ApiError::Internal(format!("CSV: {e}"));
    out.write_record(["account_id", "name", "segment", "touch_model", "owner_email", "partner_id", "lifecycle_stage", "mrr", "health_score", "health_band"]).map_err(csv_err)?;
    let accounts = App::new(state.store.as_ref(), &me).export_accounts(&q, serde_json::json!(q)).await?;
    for a in &accounts {
        // Text cells as a spreadsheet may safely open them; the figures stay numbers.
        let text = |v: &str| kizuna_app::safe_text(v).into_owned();
        out.write_record([
            text(&a.account_id),
            text(&a.name),
            text(a.segment.as_deref().unwrap_or("")),
            a.touch_model.map(|t| t.as_str()).unwrap_or("").to_string(),
            text(a.owner_email.as_deref().unwrap_or("")),
            text(a.partner_id.as_deref().unwrap_or("")),
            text(a.lifecycle_stage.as_deref().unwrap_or("")),
            a.mrr.to_string(),
            a.health_score.map(|s| s.to_string()).unwrap_or_default(),
            text(a.health_band.as_deref().unwrap_or("")),
        ])
        .map_err(csv_err)?;
    }
    let body = out.into_inner().map_err(|e| ApiError::Internal(format!("CSV: {e}")))?;
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8"), (header::CONTENT_DISPOSITION, "attachment; filename=\"accounts.csv\"")],
        body,
    )
        .into_response())
}
