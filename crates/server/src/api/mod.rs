//! JSON API, version 1. Every route needs a signed-in session or an API key
//! (`Authorization: Bearer KEY`); what it may see follows the role, as in the pages. Each handler
//! carries its `#[utoipa::path]`, so the document (`GET /api/v1/openapi.json`) is built from the
//! same routes the server answers (`doc.rs`).

mod accounts;
mod ctas;
pub mod doc;
mod ingest;
mod metrics;
mod onboarding;
mod plan;
mod scores;
mod usage;

use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use crate::params::ApiQuery;
use doc::{ApiDoc, ErrorBody};
use kizuna_app::requests::DashboardRequest;
use kizuna_app::dashboard::Dashboard;
use kizuna_app::{render, Format};
use kizuna_app::requests::{AuditRequest, JobsRequest};
use kizuna_app::{App, AuditPage};
use serde::Serialize;
use std::sync::OnceLock;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use ingest::segment_error;

/// Every `/api/v1` and `/v1` route, with the limits on expensive work.
pub fn routes(state: &AppState) -> Router<AppState> {
    let expensive = expensive().route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::limits::bounded));
    let (router, _) = cheap().merge(expensive).merge(ingest::routes()).split_for_parts();
    router
}

/// The API document: every route of [`routes`], its parameters, bodies, answers and security.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = cheap().merge(expensive()).merge(ingest::routes()).split_for_parts();
    // Applied once every route is in: it adds the edge layer's answers to each operation.
    utoipa::Modify::modify(&doc::EdgeErrors, &mut doc);
    doc
}

/// The document as JSON text, built once.
pub fn openapi_json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| openapi().to_pretty_json().expect("the API document serialises"))
}

fn cheap() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(document))
        .routes(routes!(me))
        .routes(routes!(accounts::list))
        .routes(routes!(accounts::show))
        .routes(routes!(accounts::views, accounts::save_view))
        .routes(routes!(accounts::delete_view))
        .routes(routes!(accounts::create_activity))
        .routes(routes!(accounts::set_stage))
        .routes(routes!(accounts::journey, accounts::save_journey))
        .routes(routes!(accounts::journey_stages))
        .routes(routes!(scores::account))
        .routes(routes!(scores::get_scorecards, scores::put_scorecards))
        .routes(routes!(plan::list))
        .routes(routes!(plan::get, plan::put))
        .routes(routes!(audit))
        .routes(routes!(jobs))
        .routes(routes!(ctas::list, ctas::create))
        .routes(routes!(ctas::show, ctas::update))
        .routes(routes!(ctas::comment))
        .routes(routes!(ctas::get_playbooks, ctas::put_playbooks))
        .routes(routes!(ctas::set_call))
        .routes(routes!(usage::get_definitions, usage::put_definitions))
        .routes(routes!(onboarding::get_templates, onboarding::put_templates))
        .routes(routes!(onboarding::list_plans, onboarding::start_plan))
        .routes(routes!(onboarding::show_plan))
        .routes(routes!(onboarding::set_task))
        .routes(routes!(onboarding::share))
}

/// Routes that compute over the whole portfolio: a few at once per caller, with a time limit
/// (`limits`).
fn expensive() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(dashboard))
        .routes(routes!(scores::run))
        .routes(routes!(scores::backtest))
        .routes(routes!(scores::calibrate, scores::calibrate_and_save))
        .routes(routes!(scores::forecast))
        .routes(routes!(metrics::retention))
        .routes(routes!(metrics::mrr))
        .routes(routes!(metrics::cohorts))
        .routes(routes!(metrics::ltv))
        .routes(routes!(metrics::arr))
        .routes(routes!(metrics::churn))
        .routes(routes!(plan::report))
        .routes(routes!(usage::metrics))
        .routes(routes!(usage::alerts))
        .routes(routes!(ctas::run_signals))
        .routes(routes!(home))
        .routes(routes!(ctas::renewals))
        .routes(routes!(onboarding::report))
        .routes(routes!(onboarding::impact))
        .routes(routes!(onboarding::run))
}

/// A report as JSON, or as CSV with `format=csv`.
pub(crate) fn respond<T: Serialize>(v: T, format: Option<&str>) -> Result<Response, ApiError> {
    Ok(match format.map(str::trim).filter(|f| !f.is_empty()) {
        None | Some("json") => Json(v).into_response(),
        Some("csv") => {
            let v = serde_json::to_value(v).map_err(|e| ApiError::Internal(e.to_string()))?;
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], render(&v, Format::Csv)).into_response()
        }
        Some(other) => return Err(ApiError::BadRequest(format!("format {other:?} is not one of: json, csv"))),
    })
}

/// `GET /api/v1/openapi.json`: this document. Needs no sign-in.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "admin", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
async fn document() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json()).into_response()
}

/// `GET /healthz`: 200 when the database answers. Needs no sign-in. `degraded` (still 200: the
/// server reads and answers), with the reason, while the database cannot be written: it is
/// read-only (a read-only SQLite file, a PostgreSQL standby), its disk is full (SQLite: under
/// 1 MiB free on the file's file system, or on the temporary directory where its large sorts
/// and index builds spill), or usage writes fail because it
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

/// Who a request is made as.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The user's e-mail, or `key:<id>` for an API key.
    pub actor: String,
    pub name: String,
    /// admin, cs_ops, manager, csm, viewer or partner.
    pub role: String,
    pub partner_id: Option<String>,
    pub via_key: bool,
}

/// `GET /api/v1/me`: who the request is made as.
#[utoipa::path(get, path = "/api/v1/me", tag = "admin",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
async fn me(me: Principal) -> Json<Me> {
    Json(Me { actor: me.id, name: me.name, role: me.role.as_str().to_string(), partner_id: me.partner_id, via_key: me.via_key })
}

/// `GET /api/v1/dashboard?from=YYYY-MM&to=YYYY-MM`: the portfolio dashboard's figures.
#[utoipa::path(get, path = "/api/v1/dashboard", tag = "metrics", params(DashboardRequest),
    responses((status = 200, body = Dashboard), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
async fn dashboard(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<DashboardRequest>) -> Result<Json<Dashboard>, ApiError> {
    Ok(Json(App::new(state.store.as_ref(), &me).dashboard(&q, kizuna_app::today()).await?))
}

/// `GET /api/v1/home?owner=&at=`: what needs attention today, for one book (a CSM's own by
/// default) or the team's with a line per CSM.
#[utoipa::path(get, path = "/api/v1/home", tag = "ctas", params(kizuna_app::requests::HomeRequest),
    responses((status = 200, body = kizuna_app::home::Home), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
async fn home(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<kizuna_app::requests::HomeRequest>) -> Result<Json<kizuna_app::home::Home>, ApiError> {
    Ok(Json(App::new(state.store.as_ref(), &me).home(&q).await?))
}

/// `GET /api/v1/audit?page=&per_page=&actor=`: the audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "admin", params(AuditRequest),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
async fn audit(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<AuditRequest>) -> Result<Json<AuditPage>, ApiError> {
    Ok(Json(App::new(state.store.as_ref(), &me).audit_log(&q).await?))
}

/// `GET /api/v1/jobs?status=&limit=`: the durable jobs (daily scoring, session sweep, backups),
/// the latest scheduled first, with their attempts, node, status and last error.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "admin", params(JobsRequest),
    responses((status = 200, body = Vec<kizuna_store::JobRecord>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
async fn jobs(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<JobsRequest>) -> Result<Json<Vec<kizuna_store::JobRecord>>, ApiError> {
    let p = crate::params::Params(&q);
    let limit = p.number("limit", 1, 10_000)?.unwrap_or(100);
    Ok(Json(App::new(state.store.as_ref(), &me).jobs(p.text("status"), limit).await?))
}
