//! Health scores over HTTP: an account's explained score, the scorecards (TOML), scoring on
//! demand, backtest, calibration and forecast. Portfolio-wide calls need portfolio rights;
//! changing scorecards or running scores needs the right to edit configuration.

use super::visible_account;
use crate::auth::Principal;
use crate::params::Params;
use crate::{ApiError, AppState, Msg};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use super::doc::{AtQuery, ErrorBody};
use crate::params::ApiQuery;
use kizuna_app::requests::{BacktestRequest, CalibrateRequest};
use kizuna_app::Lookup;
use kizuna_app::health::{self, Backtest, CalibrationReport, Explanation, Forecast, RunSummary};
use kizuna_domain::access::Permission;
use kizuna_domain::health::Scorecards;
use serde::Serialize;

/// The names of the scorecards saved.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SavedScorecards {
    pub saved: Vec<String>,
}

/// `GET /api/v1/accounts/{id}/health?at=`: the score computed now for `at` (default today),
/// measure by measure, against the previous kept score, with the kept history.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/health", tag = "accounts",
    params(("id" = String, Path, description = "The account id"), AtQuery),
    responses((status = 200, body = Explanation), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, description = "No such account, or it was not paying on `at`", body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn account(State(state): State<AppState>, me: Principal, Path(id): Path<String>, ApiQuery(q): ApiQuery<AtQuery>) -> Result<Json<Explanation>, ApiError> {
    me.require(Permission::ReadAccounts)?;
    let at = Params(&q).date("at")?.unwrap_or_else(kizuna_app::today);
    visible_account(state.store.as_ref(), &me, &id, at).await?;
    let v = health::explain(state.store.as_ref(), &id, at).await?;
    v.map(Json).ok_or_else(|| ApiError::Missing(Msg::new("err.not_paying").arg("id", &id).arg("at", &at.to_string())))
}

/// The scorecards (TOML), saved or the default set.
#[utoipa::path(get, path = "/api/v1/health/scorecards", tag = "health",
    responses((status = 200, description = "Scorecards (TOML, docs/health.md)", content_type = "application/toml", body = String),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn get_scorecards(State(state): State<AppState>, me: Principal) -> Result<Response, ApiError> {
    me.require(Permission::ReadPortfolio)?;
    let text = state.store.setting(health::SETTING).await?.unwrap_or_else(|| kizuna_domain::health::scorecard::DEFAULT.to_string());
    Ok(([(header::CONTENT_TYPE, "application/toml; charset=utf-8")], text).into_response())
}

/// Checked before it is saved: a bad scorecard is refused with the scorecard and measure named.
#[utoipa::path(put, path = "/api/v1/health/scorecards", tag = "health",
    request_body(content = String, description = "Scorecards (TOML)", content_type = "text/plain"),
    responses((status = 200, body = SavedScorecards), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("session" = [])))]
pub async fn put_scorecards(State(state): State<AppState>, me: Principal, body: String) -> Result<Json<SavedScorecards>, ApiError> {
    me.require(Permission::EditPlans)?;
    let cards = Scorecards::parse(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    state.store.save_setting(health::SETTING, &body).await?;
    let names: Vec<String> = cards.scorecards.iter().map(|c| c.name.clone()).collect();
    me.audit(state.store.as_ref(), "scorecards.save", None, serde_json::json!({ "scorecards": names })).await?;
    Ok(Json(SavedScorecards { saved: names }))
}

/// `POST /api/v1/health/run?at=`: score every paying account now and keep the scores.
#[utoipa::path(post, path = "/api/v1/health/run", tag = "health", params(AtQuery),
    responses((status = 200, body = RunSummary), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("session" = [])))]
pub async fn run(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<AtQuery>) -> Result<Json<RunSummary>, ApiError> {
    me.require(Permission::EditPlans)?;
    let at = Params(&q).date("at")?.unwrap_or_else(kizuna_app::today);
    let v = health::run(state.store.as_ref(), at).await?;
    me.audit(state.store.as_ref(), "health.run", None, serde_json::json!({ "at": at, "accounts": v.accounts })).await?;
    Ok(Json(v))
}

/// Observation dates a request over HTTP may ask for (the command line allows 520): two years
/// of weeks.
pub const API_MAX_OBSERVATIONS: i64 = 104;

/// Refuses a backtest, calibration or forecast window with more observation dates than
/// [`API_MAX_OBSERVATIONS`], naming the window and the limit. Other mistakes are left to the report.
fn bounded_window(q: &dyn Lookup) -> Result<(), ApiError> {
    let p = kizuna_app::Params(q);
    let (Ok((from, to)), Ok(every)) = (p.date_range("from", "to"), p.days("every", 7)) else { return Ok(()) };
    let dates = (to - from).num_days() / i64::from(every.max(1)) + 1;
    if dates > API_MAX_OBSERVATIONS {
        return Err(ApiError::BadRequest(format!(
            "from {from} to {to} every {every}d gives {dates} observation dates; the API allows at most {API_MAX_OBSERVATIONS} \
             (a shorter window or a larger every, or `kizuna score` on the command line)"
        )));
    }
    Ok(())
}

/// Replay a scorecard at each observation date: AUC, lift and churn rate per band and grade.
#[utoipa::path(get, path = "/api/v1/health/backtest", tag = "health", params(BacktestRequest),
    responses((status = 200, body = Backtest), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn backtest(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<BacktestRequest>) -> Result<Json<Backtest>, ApiError> {
    me.require(Permission::ReadPortfolio)?;
    bounded_window(&q)?;
    Ok(Json(health::backtest(state.store.as_ref(), &kizuna_app::Params(&q)).await?))
}

/// `GET` reports; `POST` with `save=NAME` also saves the proposed scorecard.
#[utoipa::path(get, path = "/api/v1/health/calibrate", tag = "health", params(CalibrateRequest),
    responses((status = 200, body = CalibrationReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn calibrate(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<CalibrateRequest>) -> Result<Json<CalibrationReport>, ApiError> {
    me.require(Permission::ReadPortfolio)?;
    if q.save.is_some() {
        return Err(ApiError::BadRequest("save: use POST /api/v1/health/calibrate to save the proposed scorecard".into()));
    }
    bounded_window(&q)?;
    Ok(Json(health::calibrate(state.store.as_ref(), &kizuna_app::Params(&q)).await?))
}

/// Calibrate and, with `save=NAME`, save the proposed scorecard.
#[utoipa::path(post, path = "/api/v1/health/calibrate", tag = "health", params(CalibrateRequest),
    responses((status = 200, body = CalibrationReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("session" = [])))]
pub async fn calibrate_and_save(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<CalibrateRequest>) -> Result<Json<CalibrationReport>, ApiError> {
    me.require(Permission::EditPlans)?;
    bounded_window(&q)?;
    let v = health::calibrate(state.store.as_ref(), &kizuna_app::Params(&q)).await?;
    if v.saved {
        me.audit(state.store.as_ref(), "scorecards.calibrate", q.save.as_deref(), serde_json::json!({ "auc": v.cross_validation.auc })).await?;
    }
    Ok(Json(v))
}

/// Expected churns within the horizon among accounts paying on `at`, from the calibrated model.
#[utoipa::path(get, path = "/api/v1/health/forecast", tag = "health", params(CalibrateRequest),
    responses((status = 200, body = Forecast), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn forecast(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<CalibrateRequest>) -> Result<Json<Forecast>, ApiError> {
    me.require(Permission::ReadPortfolio)?;
    bounded_window(&q)?;
    Ok(Json(health::forecast(state.store.as_ref(), &kizuna_app::Params(&q)).await?))
}
