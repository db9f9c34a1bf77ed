//! Health scores over HTTP: an account's explained score, the scorecards (TOML), scoring on
//! demand, backtest, calibration and forecast. Portfolio-wide calls need portfolio rights;
//! changing scorecards or running scores needs the right to edit configuration.

use crate::auth::Principal;
use crate::params::Params;
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use super::doc::{AtQuery, ErrorBody};
use crate::params::ApiQuery;
use kizuna_app::requests::{BacktestRequest, CalibrateRequest};
use kizuna_app::Lookup;
use kizuna_app::App;
use kizuna_app::health::{Backtest, CalibrationReport, Explanation, Forecast, RunSummary};
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
    let at = Params(&q).date("at")?.unwrap_or_else(kizuna_app::today);
    let v = App::new(state.store.as_ref(), &me).explain(&id, at).await?;
    Ok(Json(v.ok_or(kizuna_app::AppError::NotPaying { id, at })?))
}

/// The scorecards (TOML), saved or the default set.
#[utoipa::path(get, path = "/api/v1/health/scorecards", tag = "health",
    responses((status = 200, description = "Scorecards (TOML, docs/health.md)", content_type = "application/toml", body = String),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn get_scorecards(State(state): State<AppState>, me: Principal) -> Result<Response, ApiError> {
    let text = App::new(state.store.as_ref(), &me).scorecards_text().await?;
    Ok(([(header::CONTENT_TYPE, "application/toml; charset=utf-8")], text).into_response())
}

/// Checked before it is saved: a bad scorecard is refused with the scorecard and measure named.
#[utoipa::path(put, path = "/api/v1/health/scorecards", tag = "health",
    request_body(content = String, description = "Scorecards (TOML)", content_type = "text/plain"),
    responses((status = 200, body = SavedScorecards), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("session" = [])))]
pub async fn put_scorecards(State(state): State<AppState>, me: Principal, body: String) -> Result<Json<SavedScorecards>, ApiError> {
    let saved = App::new(state.store.as_ref(), &me).save_scorecards(&body).await?;
    Ok(Json(SavedScorecards { saved }))
}

/// `POST /api/v1/health/run?at=`: score every paying account now and keep the scores.
#[utoipa::path(post, path = "/api/v1/health/run", tag = "health", params(AtQuery),
    responses((status = 200, body = RunSummary), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("session" = [])))]
pub async fn run(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<AtQuery>) -> Result<Json<RunSummary>, ApiError> {
    let at = Params(&q).date("at")?.unwrap_or_else(kizuna_app::today);
    Ok(Json(App::new(state.store.as_ref(), &me).score(at).await?))
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
    bounded_window(&q)?;
    Ok(Json(App::new(state.store.as_ref(), &me).backtest(&q).await?))
}

/// `GET` reports; `POST` with `save=NAME` also saves the proposed scorecard.
#[utoipa::path(get, path = "/api/v1/health/calibrate", tag = "health", params(CalibrateRequest),
    responses((status = 200, body = CalibrationReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn calibrate(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<CalibrateRequest>) -> Result<Json<CalibrationReport>, ApiError> {
    if q.save.is_some() {
        return Err(ApiError::BadRequest("save: use POST /api/v1/health/calibrate to save the proposed scorecard".into()));
    }
    bounded_window(&q)?;
    Ok(Json(App::new(state.store.as_ref(), &me).calibrate(&q).await?))
}

/// Calibrate and, with `save=NAME`, save the proposed scorecard.
#[utoipa::path(post, path = "/api/v1/health/calibrate", tag = "health", params(CalibrateRequest),
    responses((status = 200, body = CalibrationReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("session" = [])))]
pub async fn calibrate_and_save(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<CalibrateRequest>) -> Result<Json<CalibrationReport>, ApiError> {
    bounded_window(&q)?;
    Ok(Json(App::new(state.store.as_ref(), &me).calibrate_to_save(&q).await?))
}

/// Expected churns within the horizon among accounts paying on `at`, from the calibrated model.
#[utoipa::path(get, path = "/api/v1/health/forecast", tag = "health", params(CalibrateRequest),
    responses((status = 200, body = Forecast), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn forecast(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<CalibrateRequest>) -> Result<Json<Forecast>, ApiError> {
    bounded_window(&q)?;
    Ok(Json(App::new(state.store.as_ref(), &me).forecast(&q).await?))
}
