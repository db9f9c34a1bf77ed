//! `GET /api/v1/accounts` (paged, filtered, sorted), `GET /api/v1/accounts/{id}`, and
//! `POST /api/v1/accounts/{id}/activities`, `PUT /api/v1/accounts/{id}/stage` and
//! `GET/PUT /api/v1/journey`: parse, call the use case ([`kizuna_app::App`],
//! which checks permissions and a partner's scope), render.

use crate::auth::Principal;
use crate::params::{ApiQuery, Params};
use crate::{ApiError, AppState};
use super::doc::ErrorBody;
use axum::extract::{Path, State};
use axum::Json;
use kizuna_app::accounts::{AccountDetail, AccountList, NewActivity, NewView};
use kizuna_app::requests::{AccountListRequest, OnRequest};
use kizuna_app::journey::{NewStage, StageCount};
use kizuna_app::App;
use kizuna_domain::journey::{Journey, StageChange};
use kizuna_store::SavedView;
use serde::Serialize;

/// The activity created.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedActivity {
    pub activity_id: String,
    pub account_id: String,
}

/// Accounts, paged, filtered and sorted, each with its ARR, next renewal, last contact and
/// login, health change and open CTAs; a partner sees only its own.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", params(AccountListRequest),
    responses((status = 200, body = AccountList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<AccountListRequest>) -> Result<Json<AccountList>, ApiError> {
    Ok(Json(App::new(state.store.as_ref(), &me).accounts(&q).await?))
}

/// The signed-in user's saved views of the account list.
#[utoipa::path(get, path = "/api/v1/account-views", tag = "accounts",
    responses((status = 200, body = Vec<SavedView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn views(State(state): State<AppState>, me: Principal) -> Result<Json<Vec<SavedView>>, ApiError> {
    Ok(Json(App::new(state.store.as_ref(), &me).saved_views().await?))
}

/// Save a view of the account list: a name and the list's query string.
#[utoipa::path(post, path = "/api/v1/account-views", tag = "accounts", request_body = NewView,
    responses((status = 201, body = SavedView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 415, description = "Not sent as JSON", body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn save_view(
    State(state): State<AppState>,
    me: Principal,
    body: Result<Json<NewView>, axum::extract::rejection::JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<SavedView>), ApiError> {
    let v = super::ctas::json_body(body, "view")?;
    let view = App::new(state.store.as_ref(), &me).save_view(v).await?;
    Ok((axum::http::StatusCode::CREATED, Json(view)))
}

/// Delete one of the signed-in user's saved views.
#[utoipa::path(delete, path = "/api/v1/account-views/{id}", tag = "accounts", params(("id" = String, Path, description = "The view id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn delete_view(State(state): State<AppState>, me: Principal, Path(id): Path<String>) -> Result<axum::http::StatusCode, ApiError> {
    App::new(state.store.as_ref(), &me).delete_view(&id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The account with its subscriptions, contacts, latest 50 activities and churn records.
#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = String, Path, description = "The account id"), OnRequest),
    responses((status = 200, body = AccountDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn show(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<OnRequest>,
) -> Result<Json<AccountDetail>, ApiError> {
    let on = Params(&q).date("on")?.unwrap_or_else(kizuna_app::today);
    Ok(Json(App::new(state.store.as_ref(), &me).account(&id, on, 50).await?))
}

/// Add a note, meeting, call, e-mail or QBR to the account's timeline.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/activities", tag = "accounts", params(("id" = String, Path, description = "The account id")),
    request_body = NewActivity,
    responses((status = 201, body = CreatedActivity), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 415, description = "Not sent as JSON", body = ErrorBody)),
    security(("session" = [])))]
pub async fn create_activity(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<String>,
    body: Result<Json<NewActivity>, axum::extract::rejection::JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<CreatedActivity>), ApiError> {
    let a = json_body(body, "activity")?;
    let row = App::new(state.store.as_ref(), &me).add_activity(&id, a).await?;
    Ok((axum::http::StatusCode::CREATED, Json(CreatedActivity { activity_id: row.activity_id, account_id: row.account_id })))
}

/// A JSON body, or an error in the API's error shape (not axum's text) when it is not the JSON
/// asked for.
fn json_body<T>(body: Result<Json<T>, axum::extract::rejection::JsonRejection>, what: &str) -> Result<T, ApiError> {
    use axum::extract::rejection::JsonRejection;
    body.map(|Json(v)| v).map_err(|e| match e {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedEncoding(format!("send the {what} as JSON (Content-Type: application/json)")),
        other => ApiError::BadRequest(format!("the {what} is not the JSON expected: {}", other.body_text())),
    })
}

/// Set the account's lifecycle stage from a day (today by default): a manual change, kept in
/// the account's stage history with the day, who made it and a note.
#[utoipa::path(put, path = "/api/v1/accounts/{id}/stage", tag = "accounts", params(("id" = String, Path, description = "The account id")),
    request_body = NewStage,
    responses((status = 200, body = StageChange), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 415, description = "Not sent as JSON", body = ErrorBody)),
    security(("session" = [])))]
pub async fn set_stage(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<String>,
    body: Result<Json<NewStage>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<StageChange>, ApiError> {
    let s = json_body(body, "stage")?;
    Ok(Json(App::new(state.store.as_ref(), &me).set_stage(&id, s).await?))
}

/// The journey's stages, in order, with their labels.
#[utoipa::path(get, path = "/api/v1/journey", tag = "accounts",
    responses((status = 200, body = Journey), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn journey(State(state): State<AppState>, me: Principal) -> Result<Json<Journey>, ApiError> {
    Ok(Json(App::new(state.store.as_ref(), &me).journey().await?))
}

/// The journey's stages in order, each with its active accounts on `on` (default today); a
/// partner counts only its own accounts.
#[utoipa::path(get, path = "/api/v1/journey/stages", tag = "accounts", params(OnRequest),
    responses((status = 200, body = Vec<StageCount>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn journey_stages(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<OnRequest>) -> Result<Json<Vec<StageCount>>, ApiError> {
    let on = Params(&q).date("on")?.unwrap_or_else(kizuna_app::today);
    Ok(Json(App::new(state.store.as_ref(), &me).journey_stages(on).await?))
}

/// Replace the journey's stages (CS Ops and admins). Stages already on accounts stay.
#[utoipa::path(put, path = "/api/v1/journey", tag = "accounts", request_body = Journey,
    responses((status = 200, body = Journey), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 415, description = "Not sent as JSON", body = ErrorBody)),
    security(("session" = [])))]
pub async fn save_journey(
    State(state): State<AppState>,
    me: Principal,
    body: Result<Json<Journey>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Journey>, ApiError> {
    let j = json_body(body, "journey")?;
    Ok(Json(App::new(state.store.as_ref(), &me).save_journey(j).await?))
}
