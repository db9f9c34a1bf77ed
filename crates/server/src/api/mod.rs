//! JSON API, version 1. Every route needs a signed-in session or an API key
//! (`Authorization: Bearer KEY`); what it may see follows the role, as in the pages.

mod accounts;
mod ingest;
mod metrics;
mod plan;
mod scores;
mod usage;

use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use kizuna_app::{render, Format};
use kizuna_domain::access::Permission;
use std::collections::HashMap;

pub use accounts::{add_activity, scoped_query, visible_account, NewActivity};

pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/me", get(me))
        .route("/api/v1/accounts", get(accounts::list))
        .route("/api/v1/accounts/{id}", get(accounts::show))
        .route("/api/v1/accounts/{id}/activities", post(accounts::create_activity))
        .route("/api/v1/accounts/{id}/health", get(scores::account))
        .route("/api/v1/health/scorecards", get(scores::get_scorecards).put(scores::put_scorecards))
        .route("/api/v1/plan/scenarios", get(plan::list))
        .route("/api/v1/plan/scenarios/{name}", get(plan::get).put(plan::put))
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/usage/definitions", get(usage::get_definitions).put(usage::put_definitions))
        .merge(expensive(state))
        .merge(ingest::routes())
}

/// Routes that compute over the whole portfolio: a few at once per caller, with a time limit
/// (`limits`).
fn expensive(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/dashboard", get(dashboard))
        .route("/api/v1/health/run", post(scores::run))
        .route("/api/v1/health/backtest", get(scores::backtest))
        .route("/api/v1/health/calibrate", get(scores::calibrate).post(scores::calibrate_and_save))
        .route("/api/v1/health/forecast", get(scores::forecast))
        .route("/api/v1/metrics/{report}", get(metrics::report))
        .route("/api/v1/plan/{kind}", get(plan::report))
        .route("/api/v1/usage/metrics", get(usage::metrics))
        .route("/api/v1/alerts/usage", get(usage::alerts))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::limits::bounded))
}

/// A report as JSON, or as CSV with `format=csv`.
pub(crate) fn respond(v: serde_json::Value, q: &HashMap<String, String>) -> Result<Response, ApiError> {
    Ok(match q.get("format").map(String::as_str) {
        None | Some("json") => Json(v).into_response(),
        Some("csv") => ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], render(&v, Format::Csv)).into_response(),
        Some(other) => return Err(ApiError::BadRequest(format!("format {other:?} is not one of: json, csv"))),
    })
}

/// `GET /healthz`: 200 when the database answers. Needs no sign-in. `degraded` (still 200: the
/// server reads and answers), with the reason, while the database cannot be written: it is
/// read-only (a read-only SQLite file, a PostgreSQL standby), its disk is full (SQLite: under
/// 1 MiB free on the file's file system), or usage writes fail because it
/// cannot take them (with since when; `ok` again after the next write that succeeds).
pub async fn health(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    state.store.ping().await?;
    let engine = state.store.engine();
    if let Some(reason) = state.store.read_only().await? {
        tracing::warn!("health: degraded: {reason}");
        return Ok(Json(serde_json::json!({ "status": "degraded", "engine": engine, "reason": reason })));
    }
    Ok(Json(match state.ingestor.degraded() {
        None => serde_json::json!({ "status": "ok", "engine": engine }),
        Some(d) => serde_json::json!({ "status": "degraded", "engine": engine, "reason": d.reason, "since": d.since }),
    }))
}

/// `GET /api/v1/me`: who the request is made as.
async fn me(me: Principal) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "actor": me.actor, "name": me.name, "role": me.role.as_str(), "partner_id": me.partner_id, "via_key": me.via_key,
    }))
}

/// `GET /api/v1/dashboard?from=YYYY-MM&to=YYYY-MM`: the portfolio dashboard's figures.
async fn dashboard(State(state): State<AppState>, me: Principal, Query(q): Query<HashMap<String, String>>) -> Result<Json<serde_json::Value>, ApiError> {
    me.require(Permission::ReadPortfolio)?;
    let p = kizuna_app::Params(&q);
    Ok(Json(kizuna_app::dashboard::dashboard(state.store.as_ref(), &p, kizuna_app::today()).await?))
}

/// `GET /api/v1/audit?page=&per_page=&actor=`: the audit log, newest first.
async fn audit(State(state): State<AppState>, me: Principal, Query(q): Query<HashMap<String, String>>) -> Result<Json<serde_json::Value>, ApiError> {
    me.require(Permission::ReadAudit)?;
    let p = crate::params::Params(&q);
    let page = p.number("page", 1, u32::MAX)?.unwrap_or(1);
    let per_page = p.number("per_page", 1, 1000)?.unwrap_or(100);
    let (total, entries) = state.store.audit_log(p.text("actor").as_deref(), page, per_page).await?;
    Ok(Json(serde_json::json!({ "total": total, "page": page, "per_page": per_page, "entries": entries })))
}
