//! Usage over HTTP: `GET /api/v1/usage/metrics?at=&account=&format=csv` (the observation table),
//! `GET|PUT /api/v1/usage/definitions` (TOML), `GET /api/v1/alerts/usage?at=`.

use super::respond;
use crate::auth::Principal;
use crate::params::Params;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use super::doc::{AtQuery, ErrorBody, FormatQuery};
use crate::params::ApiQuery;
use kizuna_app::usage::{UsageAlert, UsageRow};
use kizuna_app::App;
use serde::Serialize;

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// The day, YYYY-MM-DD (default today).
    #[param(format = Date)]
    at: Option<String>,
    /// Only this account (a partner may ask for its own accounts only).
    account: Option<String>,
    /// `json` (default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    format: Option<String>,
}
kizuna_app::lookup!(UsageQuery { at, account, format });

/// The names of the metrics saved.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SavedMetrics {
    pub saved: Vec<String>,
}

/// Every metric for every paying account; a partner may ask for one of its own accounts only.
#[utoipa::path(get, path = "/api/v1/usage/metrics", tag = "usage", params(UsageQuery),
    responses((status = 200, description = "JSON, or CSV with format=csv", content((Vec<UsageRow> = "application/json"), (String = "text/csv"))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn metrics(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<UsageQuery>) -> Result<Response, ApiError> {
    let p = Params(&q);
    let at = p.date("at")?.unwrap_or_else(kizuna_app::today);
    let account = p.text("account");
    respond(App::new(state.store.as_ref(), &me).usage_metrics(at, account.as_deref()).await?, q.format.as_deref())
}

/// Accounts whose weekly count of an event fell far below their own previous 8 weeks, worst first.
#[utoipa::path(get, path = "/api/v1/alerts/usage", tag = "usage", params(AtQuery, FormatQuery),
    responses((status = 200, description = "JSON, or CSV with format=csv", content((Vec<UsageAlert> = "application/json"), (String = "text/csv"))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn alerts(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<UsageQuery>) -> Result<Response, ApiError> {
    let at = Params(&q).date("at")?.unwrap_or_else(kizuna_app::today);
    respond(App::new(state.store.as_ref(), &me).usage_alerts(at).await?, q.format.as_deref())
}

/// The usage metric definitions (TOML), saved or the default set.
#[utoipa::path(get, path = "/api/v1/usage/definitions", tag = "usage",
    responses((status = 200, description = "Definitions (TOML, docs/usage.md)", content_type = "application/toml", body = String),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn get_definitions(State(state): State<AppState>, me: Principal) -> Result<Response, ApiError> {
    let text = App::new(state.store.as_ref(), &me).usage_definitions_text().await?;
    Ok(([(header::CONTENT_TYPE, "application/toml; charset=utf-8")], text).into_response())
}

/// Checked before it is saved: a bad definition is refused with the metric named.
#[utoipa::path(put, path = "/api/v1/usage/definitions", tag = "usage",
    request_body(content = String, description = "Definitions (TOML)", content_type = "text/plain"),
    responses((status = 200, body = SavedMetrics), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("session" = [])))]
pub async fn put_definitions(State(state): State<AppState>, me: Principal, body: String) -> Result<Json<SavedMetrics>, ApiError> {
    let saved = App::new(state.store.as_ref(), &me).save_usage_definitions(&body).await?;
    Ok(Json(SavedMetrics { saved }))
}
