//! The account list for daily work: active accounts by default, search, filters, sortable
//! columns, what a CSM looks at first beside each account (ARR, renewal, last contact and
//! login, health change, open CTAs), saved views, paging, and CSV export of the view.
//! A partner user's list (and export) holds only its partner's accounts, whatever the URL says.

use super::format::{date, yen};
use super::{csrf, label, urlencode, Page};
use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use kizuna_app::accounts::NewView;
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
    owner: String,
    partner: String,
    stage: String,
    arr: String,
    renewal: Option<String>,
    renewal_days: Option<i64>,
    last_contact: Option<String>,
    days_since_active: Option<i64>,
    health: Option<super::health::Badge>,
    health_change: Option<String>,
    open_ctas: u64,
}

/// The columns in order: (name, sortable).
const COLUMNS: &[(&str, bool)] = &[
    ("name", true),
    ("segment", true),
    ("owner", true),
    ("partner", true),
    ("stage", true),
    ("arr", true),
    ("renewal", false),
    ("last_contact", false),
    ("days_since_login", false),
    ("health", true),
    ("health_change", false),
    ("open_ctas", false),
];
const STATUSES: &[&str] = &["active", "churned", "all"];

/// The list's parameters with the page's defaults: active accounts unless asked otherwise.
fn with_defaults(mut q: HashMap<String, String>) -> HashMap<String, String> {
    q.entry("status".into()).or_insert_with(|| "active".into());
    if q.get("sort").map(String::as_str) == Some("arr") {
        q.insert("sort".into(), "mrr".into());
    }
    q
}

/// The query string of the view with some parameters replaced, as saved views keep it.
fn view_query(q: &HashMap<String, String>, set: &[(&str, String)]) -> String {
    let kept = q.iter().filter(|(k, _)| !set.iter().any(|(s, _)| s == k)).map(|(k, v)| (k.as_str(), v.as_str()));
    kizuna_app::accounts::view_query(kept.chain(set.iter().map(|(k, v)| (*k, v.as_str()))))
}

/// This page's URL with some parameters replaced (and the page reset unless given).
fn link(q: &HashMap<String, String>, set: &[(&str, String)]) -> String {
    let view = view_query(q, set);
    match set.iter().find(|(k, _)| *k == "page") {
        Some((_, page)) if view.is_empty() => format!("/accounts?page={}", urlencode(page)),
        Some((_, page)) => format!("/accounts?{view}&page={}", urlencode(page)),
        None => format!("/accounts?{view}"),
    }
}

pub async fn page(
    State(state): State<AppState>,
    me: Principal,
    headers: HeaderMap,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let q = with_defaults(raw.clone());
    let app = App::new(state.store.as_ref(), &me);
    let result = app.accounts(&q).await?;
    let (owners, partners) = app.filter_choices().await?;
    let views = app.saved_views().await?;
    let journey = app.journey().await?;
    let page = Page::new(&headers, &raw, Some(me.clone()));
    let lang = page.lang;
    let rows: Vec<Row> = result
        .accounts
        .iter()
        .map(|item| {
            let a = &item.account;
            Row {
                account_id: a.account_id.clone(),
                href: format!("/accounts/{}", urlencode(&a.account_id)),
                name: a.name.clone(),
                segment: a.segment.as_deref().map(|s| label("segment", s, lang)).unwrap_or_default(),
                owner: item.owner_name.clone().or_else(|| a.owner_email.clone()).unwrap_or_default(),
                partner: item.partner_name.clone().or_else(|| a.partner_id.clone()).unwrap_or_default(),
                stage: a.lifecycle_stage.as_deref().map(|s| super::stage_label(&journey, s, lang)).unwrap_or_default(),
                arr: yen(item.arr),
                renewal: item.renewal_date.map(|d| date(d, lang)),
                renewal_days: item.days_to_renewal,
                last_contact: item.last_contact_at.map(|t| date(kizuna_domain::time::local_day(t), lang)),
                days_since_active: item.days_since_active,
                health: super::health::Badge::of(a.health_score, a.health_band.as_deref(), a.health_previous, &page),
                health_change: item.health_change.map(|c| format!("{c:+.1}")),
                open_ctas: item.open_ctas,
            }
        })
        .collect();
    let pages = result.total.div_ceil(result.per_page as u64).max(1);
    let sort = q.get("sort").cloned().unwrap_or_else(|| "account_id".into());
    let order = q.get("order").cloned().unwrap_or_default();
    let columns: Vec<minijinja::Value> = COLUMNS
        .iter()
        .filter(|(c, _)| *c != "partner" || !partners.is_empty())
        .map(|(c, sortable)| {
            let key = if *c == "arr" { "mrr" } else { c };
            let active = sort == key;
            let next_order = if active && order != "desc" { "desc" } else { "asc" };
            minijinja::context! {
                name => key, title => page.t(&format!("col.{c}")),
                href => sortable.then(|| link(&q, &[("sort", key.to_string()), ("order", next_order.to_string())])),
                sorted => active.then(|| if order == "desc" { "descending" } else { "ascending" }),
                num => matches!(*c, "arr" | "health" | "health_change" | "open_ctas" | "days_since_login"),
            }
        })
        .collect();
    let owners: Vec<(String, String)> = owners.into_iter().map(|(email, name)| (email.clone(), if name.is_empty() { email } else { name })).collect();
    let views: Vec<minijinja::Value> = views
        .iter()
        .map(|v| minijinja::context! { id => v.view_id, name => v.name, href => format!("/accounts?{}", v.query), current => v.query == view_query(&raw, &[]) })
        .collect();
    let export = format!("/accounts.csv?{}", view_query(&q, &[]));
    let f = |k: &str| q.get(k).cloned().unwrap_or_default();
    page.render(
        &state,
        "accounts.html",
        minijinja::context! {
            rows, columns, owners, partners, stages => super::stage_choices(&journey, lang), statuses => STATUSES, export, views,
            view_query => view_query(&raw, &[]),
            total => group_thousands(result.total),
            page => result.page,
            pages,
            filtered => ["q", "segment", "touch_model", "owner", "partner", "stage", "health"].iter().any(|k| !f(k).is_empty()) || f("status") != "active",
            prev => (result.page > 1).then(|| link(&q, &[("page", (result.page - 1).to_string())])),
            next => ((result.page as u64) < pages).then(|| link(&q, &[("page", (result.page + 1).to_string())])),
            f_q => f("q"), f_segment => f("segment"), f_touch => f("touch_model"), f_owner => f("owner"),
            f_partner => f("partner"), f_stage => f("stage"), f_health => f("health"), f_status => f("status"), f_sort => sort, f_order => order,
        },
    )
}

/// `POST /accounts/views`: save the current filters under a name; back to the view.
pub async fn save_view(State(state): State<AppState>, me: Principal, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Result<Response, ApiError> {
    if !csrf::verify(&headers, f.get(csrf::FIELD).map(String::as_str)) {
        return Err(ApiError::Denied(crate::Msg::new("edit.csrf")));
    }
    let v = NewView { name: f.get("name").cloned().unwrap_or_default(), query: f.get("query").cloned().unwrap_or_default() };
    let view = App::new(state.store.as_ref(), &me).save_view(v).await?;
    Ok(Redirect::to(&format!("/accounts?{}", view.query)).into_response())
}

/// `POST /accounts/views/delete`: delete one of the user's views; back to the list.
pub async fn delete_view(State(state): State<AppState>, me: Principal, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Result<Response, ApiError> {
    if !csrf::verify(&headers, f.get(csrf::FIELD).map(String::as_str)) {
        return Err(ApiError::Denied(crate::Msg::new("edit.csrf")));
    }
    App::new(state.store.as_ref(), &me).delete_view(f.get("view_id").map(String::as_str).unwrap_or("")).await?;
    Ok(Redirect::to("/accounts").into_response())
}

/// `GET /accounts.csv?...`: every account of the current view (all pages), as CSV for Excel:
/// a UTF-8 byte order mark, headers in the reader's language, figures as plain numbers.
pub async fn export(
    State(state): State<AppState>,
    me: Principal,
    headers: HeaderMap,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let q = with_defaults(raw.clone());
    let page = Page::new(&headers, &raw, None);
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let csv_err = |e: csv::Error| ApiError::Internal(format!("CSV: {e}"));
    let heads = ["account_id", "name", "segment", "touch_model", "owner", "partner", "stage", "mrr", "arr", "health", "health_band"];
    out.write_record(heads.iter().map(|h| page.t(&format!("csv.{h}")))).map_err(csv_err)?;
    let app = App::new(state.store.as_ref(), &me);
    let accounts = app.export_accounts(&q, serde_json::json!(raw)).await?;
    let journey = app.journey().await?;
    let lang = page.lang;
    for a in &accounts {
        // Text cells as a spreadsheet may safely open them; the figures stay numbers.
        let text = |v: &str| kizuna_app::safe_text(v).into_owned();
        out.write_record([
            text(&a.account_id),
            text(&a.name),
            text(&a.segment.as_deref().map(|s| label("segment", s, lang)).unwrap_or_default()),
            a.touch_model.map(|t| label("touch", t.as_str(), lang)).unwrap_or_default(),
            text(a.owner_email.as_deref().unwrap_or("")),
            text(a.partner_id.as_deref().unwrap_or("")),
            text(&a.lifecycle_stage.as_deref().map(|s| super::stage_label(&journey, s, lang)).unwrap_or_default()),
            format!("{:.0}", a.mrr),
            format!("{:.0}", a.mrr * 12.0),
            a.health_score.map(super::format::score).unwrap_or_default(),
            a.health_band.as_deref().map(|b| label("band", b, lang)).unwrap_or_default(),
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
