//! Health scores over HTTP: an account's explained score, the scorecards (TOML), scoring on
//! demand, backtest, calibration and forecast. Portfolio-wide calls need portfolio rights;
//! changing scorecards or running scores needs the right to edit configuration.

use super::visible_account;
use crate::auth::Principal;
use crate::params::Params;
use crate::{ApiError, AppState, Msg};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kizuna_app::health;
use kizuna_domain::access::Permission;
use kizuna_domain::health::Scorecards;
use serde_json::Value;
use std::collections::HashMap;

/// `GET /api/v1/accounts/{id}/health?at=`: the score computed now for `at` (default today),
/// measure by measure, against the previous kept score, with the kept history.
pub async fn account(State(state): State<AppState>, me: Principal, Path(id): Path<String>, Query(q): Query<HashMap<String, String>>) -> Result<Json<Value>, ApiError> {
    me.require(Permission::ReadAccounts)?;
    let at = Params(&q).date("at")?.unwrap_or_else(kizuna_app::today);
    visible_account(state.store.as_ref(), &me, &id, at).await?;
    let v = health::explain(state.store.as_ref(), &id, at).await?;
    v.map(Json).ok_or_else(|| ApiError::Missing(Msg::new("err.not_paying").arg("id", &id).arg("at", &at.to_string())))
}

pub async fn get_scorecards(State(state): State<AppState>, me: Principal) -> Result<Response, ApiError> {
    me.require(Permission::ReadPortfolio)?;
    let text = state.store.setting(health::SETTING).await?.unwrap_or_else(|| kizuna_domain::health::scorecard::DEFAULT.to_string());
    Ok(([(header::CONTENT_TYPE, "application/toml; charset=utf-8")], text).into_response())
}

/// Checked before it is saved: a bad scorecard is refused with the scorecard and measure named.
pub async fn put_scorecards(State(state): State<AppState>, me: Principal, body: String) -> Result<Json<Value>, ApiError> {
    me.require(Permission::EditPlans)?;
    let cards = Scorecards::parse(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    state.store.save_setting(health::SETTING, &body).await?;
    let names: Vec<&str> = cards.scorecards.iter().map(|c| c.name.as_str()).collect();
    me.audit(state.store.as_ref(), "scorecards.save", None, serde_json::json!({ "scorecards": names })).await?;
    Ok(Json(serde_json::json!({ "saved": names })))
}

/// `POST /api/v1/health/run?at=`: score every paying account now and keep the scores.
pub async fn run(State(state): State<AppState>, me: Principal, Query(q): Query<HashMap<String, String>>) -> Result<Json<Value>, ApiError> {
    me.require(Permission::EditPlans)?;
    let at = Params(&q).date("at")?.unwrap_or_else(kizuna_app::today);
    let v = health::run(state.store.as_ref(), at).await?;
    me.audit(state.store.as_ref(), "health.run", None, serde_json::json!({ "at": at, "accounts": v["accounts"] })).await?;
    Ok(Json(v))
}

/// Observation dates a request over HTTP may ask for (the command line allows 520): two years
/// of weeks.
pub const API_MAX_OBSERVATIONS: i64 = 104;

/// Refuses a backtest, calibration or forecast window with more observation dates than
/// [`API_MAX_OBSERVATIONS`], naming the window and the limit. Other mistakes are left to the report.
fn bounded_window(q: &HashMap<String, String>) -> Result<(), ApiError> {
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

pub async fn backtest(State(state): State<AppState>, me: Principal, Query(q): Query<HashMap<String, String>>) -> Result<Json<Value>, ApiError> {
    me.require(Permission::ReadPortfolio)?;
    bounded_window(&q)?;
    Ok(Json(health::backtest(state.store.as_ref(), &kizuna_app::Params(&q)).await?))
}

/// `GET` reports; `POST` with `save=NAME` also saves the proposed scorecard.
pub async fn calibrate(State(state): State<AppState>, me: Principal, Query(q): Query<HashMap<String, String>>) -> Result<Json<Value>, ApiError> {
    me.require(Permission::ReadPortfolio)?;
    if q.contains_key("save") {
        return Err(ApiError::BadRequest("save: use POST /api/v1/health/calibrate to save the proposed scorecard".into()));
    }
    bounded_window(&q)?;
    Ok(Json(health::calibrate(state.store.as_ref(), &kizuna_app::Params(&q)).await?))
}

pub async fn calibrate_and_save(State(state): State<AppState>, me: Principal, Query(q): Query<HashMap<String, String>>) -> Result<Json<Value>, ApiError> {
    me.require(Permission::EditPlans)?;
    bounded_window(&q)?;
    let v = health::calibrate(state.store.as_ref(), &kizuna_app::Params(&q)).await?;
    if v["saved"] == Value::Bool(true) {
        me.audit(state.store.as_ref(), "scorecards.calibrate", q.get("save").map(String::as_str), serde_json::json!({ "auc": v["cross_validation"]["auc"] })).await?;
    }
    Ok(Json(v))
}

pub async fn forecast(State(state): State<AppState>, me: Principal, Query(q): Query<HashMap<String, String>>) -> Result<Json<Value>, ApiError> {
    me.require(Permission::ReadPortfolio)?;
    bounded_window(&q)?;
    Ok(Json(health::forecast(state.store.as_ref(), &kizuna_app::Params(&q)).await?))
}
