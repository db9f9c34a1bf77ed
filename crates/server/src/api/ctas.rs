//! CTAs: `GET/POST /api/v1/ctas`, `GET/PATCH /api/v1/ctas/{id}`,
//! `POST /api/v1/ctas/{id}/comments`, `GET/PUT /api/v1/playbooks` and
//! `POST /api/v1/signals/run`: parse, call the use case ([`kizuna_app::App`], which checks
//! permissions and a partner's scope), render.

use super::doc::ErrorBody;
use crate::auth::Principal;
use crate::params::{ApiQuery, Params};
use crate::{ApiError, AppState};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kizuna_app::ctas::{CtaChange, CtaDetail, NewCta};
use kizuna_app::requests::{CtaListRequest, SignalsRequest};
use kizuna_app::signals::SignalsSummary;
use kizuna_app::App;
use kizuna_domain::ctas::CtaConfig;
use kizuna_store::{Cta, CtaComment, CtaPage};
use serde::Deserialize;

/// A body that is not the JSON asked for, in the API's error shape.
pub(super) fn json_body<T>(body: Result<Json<T>, JsonRejection>, what: &str) -> Result<T, ApiError> {
    body.map(|Json(v)| v).map_err(|e| match e {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedEncoding(format!("send the {what} as JSON (Content-Type: application/json)")),
        other => ApiError::BadRequest(format!("the {what} is not the JSON expected: {}", other.body_text())),
    })
}

/// CTAs, soonest due first (default: open, in progress and snoozed); a partner sees only its
/// accounts' CTAs.
#[utoipa::path(get, path = "/api/v1/ctas", tag = "ctas", params(CtaListRequest),
    responses((status = 200, body = CtaPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<CtaListRequest>) -> Result<Json<CtaPage>, ApiError> {
    Ok(Json(App::new(state.store.as_ref(), &me).ctas(&q).await?))
}

/// Open a CTA by hand: it gets its playbook's tasks.
#[utoipa::path(post, path = "/api/v1/ctas", tag = "ctas", request_body = NewCta,
    responses((status = 201, body = Cta), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 415, description = "Not sent as JSON", body = ErrorBody)),
    security(("session" = [])))]
pub async fn create(State(state): State<AppState>, me: Principal, body: Result<Json<NewCta>, JsonRejection>) -> Result<(StatusCode, Json<Cta>), ApiError> {
    let n = json_body(body, "CTA")?;
    Ok((StatusCode::CREATED, Json(App::new(state.store.as_ref(), &me).create_cta(n).await?)))
}

/// A CTA with its tasks and comment thread.
#[utoipa::path(get, path = "/api/v1/ctas/{id}", tag = "ctas", params(("id" = String, Path, description = "The CTA id")),
    responses((status = 200, body = CtaDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn show(State(state): State<AppState>, me: Principal, Path(id): Path<String>) -> Result<Json<CtaDetail>, ApiError> {
    Ok(Json(App::new(state.store.as_ref(), &me).cta(&id).await?))
}

/// Change a CTA: status (snoozed with a date and reason, closed with an outcome), priority,
/// owner (`move_tasks`), due date (`shift_tasks`), tasks done or not. With `revision` (as read),
/// a CTA changed since is not written over: 409, read it again.
#[utoipa::path(patch, path = "/api/v1/ctas/{id}", tag = "ctas", params(("id" = String, Path, description = "The CTA id")), request_body = CtaChange,
    responses((status = 200, body = Cta), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "Changed since the revision the change was made to", body = ErrorBody),
              (status = 415, description = "Not sent as JSON", body = ErrorBody)),
    security(("session" = [])))]
pub async fn update(State(state): State<AppState>, me: Principal, Path(id): Path<String>, body: Result<Json<CtaChange>, JsonRejection>) -> Result<Json<Cta>, ApiError> {
    let change = json_body(body, "change")?;
    Ok(Json(App::new(state.store.as_ref(), &me).update_cta(&id, change).await?))
}

/// A comment for a CTA's thread.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    /// 1 to 10,000 characters; line breaks are kept.
    pub body: String,
    /// `internal` (the team only; staff's default) or `shared` (the account's partner reads it;
    /// a partner's comments are always shared).
    #[serde(default)]
    pub visibility: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/ctas/{id}/comments", tag = "ctas", params(("id" = String, Path, description = "The CTA id")), request_body = NewComment,
    responses((status = 201, body = CtaComment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 415, description = "Not sent as JSON", body = ErrorBody)),
    security(("session" = [])))]
pub async fn comment(State(state): State<AppState>, me: Principal, Path(id): Path<String>, body: Result<Json<NewComment>, JsonRejection>) -> Result<(StatusCode, Json<CtaComment>), ApiError> {
    let c = json_body(body, "comment")?;
    Ok((StatusCode::CREATED, Json(App::new(state.store.as_ref(), &me).comment_cta(&id, &c.body, c.visibility.as_deref()).await?)))
}

/// The CTA configuration: types and reasons with their labels, playbooks, signal thresholds.
/// As JSON, or the TOML text with `Accept: application/toml`.
#[utoipa::path(get, path = "/api/v1/playbooks", tag = "ctas",
    responses((status = 200, body = CtaConfig, description = "JSON; TOML with Accept: application/toml"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn get_playbooks(State(state): State<AppState>, me: Principal, headers: axum::http::HeaderMap) -> Result<Response, ApiError> {
    let app = App::new(state.store.as_ref(), &me);
    let toml = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("toml"));
    if toml {
        let text = app.playbooks_text().await?;
        return Ok(([(header::CONTENT_TYPE, "application/toml; charset=utf-8")], text).into_response());
    }
    Ok(Json(app.playbooks().await?).into_response())
}

/// Replace the CTA configuration (TOML); checked before it is saved, the error naming the type,
/// reason or playbook.
#[utoipa::path(put, path = "/api/v1/playbooks", tag = "ctas",
    request_body(content = String, description = "The CTA configuration (TOML)", content_type = "text/plain"),
    responses((status = 200, body = CtaConfig), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("session" = [])))]
pub async fn put_playbooks(State(state): State<AppState>, me: Principal, body: String) -> Result<Json<CtaConfig>, ApiError> {
    Ok(Json(App::new(state.store.as_ref(), &me).save_playbooks(&body).await?))
}

/// Run the daily signals now, as of `at`: each opens a CTA once (the daily job does this).
#[utoipa::path(post, path = "/api/v1/signals/run", tag = "ctas", params(SignalsRequest),
    responses((status = 200, body = SignalsSummary), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("session" = [])))]
pub async fn run_signals(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<SignalsRequest>) -> Result<Json<SignalsSummary>, ApiError> {
    let at = Params(&q).date("at")?.unwrap_or_else(kizuna_app::today);
    Ok(Json(App::new(state.store.as_ref(), &me).run_signals(at).await?))
}

/// Upcoming renewals (`from`, `to`, `owner`): ARR, health and trend, open risk CTAs, last
/// contact, the forecast call; totals by month and by call.
#[utoipa::path(get, path = "/api/v1/renewals", tag = "ctas", params(kizuna_app::requests::RenewalsRequest),
    responses((status = 200, body = kizuna_app::renewals::Renewals), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn renewals(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<kizuna_app::requests::RenewalsRequest>) -> Result<Json<kizuna_app::renewals::Renewals>, ApiError> {
    Ok(Json(App::new(state.store.as_ref(), &me).renewals(&q).await?))
}

/// Set the forecast call on an account's renewal: likely, at_risk, will_churn or upsell.
#[utoipa::path(put, path = "/api/v1/renewals/{account_id}/call", tag = "ctas", params(("account_id" = String, Path, description = "The account id")),
    request_body = kizuna_app::renewals::NewCall,
    responses((status = 200, body = kizuna_store::RenewalCall), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 415, description = "Not sent as JSON", body = ErrorBody)),
    security(("session" = [])))]
pub async fn set_call(
    State(state): State<AppState>,
    me: Principal,
    Path(account_id): Path<String>,
    body: Result<Json<kizuna_app::renewals::NewCall>, JsonRejection>,
) -> Result<Json<kizuna_store::RenewalCall>, ApiError> {
    let c = json_body(body, "call")?;
    Ok(Json(App::new(state.store.as_ref(), &me).set_renewal_call(&account_id, c).await?))
}
