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
use kizuna_analytics::health;
use kizuna_domain::access::Permission;
use kizuna_domain::health::Scorecards;
use serde_json::Value;
use std::collections::HashMap;

/// `GET /api/v1/accounts/{id}/health?at=`: the score computed now for `at` (default today),
/// measure by measure, against the previous kept score, with the kept history.
pub async fn account(State(state): State<AppState>, me: Principal, Path(id): Path<String>, Query(q): Query<HashMap<String, String>>) -> Result<Json<Value>, ApiError> {
    me.require(Permission::ReadAccounts)?;
    let at = Params(&q).date("at")?.unwrap_or_else(kizuna_analytics::today);
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
    let at = Params(&q).date("at")?.unwrap_or_else(kizuna_analytics::today);
    let v = health::run(state.store.as_ref(), at).await?;
    me.audit(state.store.as_ref(), "health.run", None, serde_json::json!({ "at": at, "accounts": v["accounts"] })).await?;
    Ok(Json(v))
}

pub async fn backtest(State(state): State<AppState>, me: Principal, Query(q): Query<HashMap<String, String>>) -> Result<Json<Value>, ApiError> {
    me.require(Permission::ReadPortfolio)?;
    Ok(Json(health::backtest(state.store.as_ref(), &kizuna_analytics::Params(&q)).await?))
}

/// `GET` reports; `POST` with `save=NAME` also saves the proposed scorecard.
pub async fn calibrate(State(state): State<AppState>, me: Principal, Query(q): Query<HashMap<String, String>>) -> Result<Json<Value>, ApiError> {
    me.require(Permission::ReadPortfolio)?;
    if q.contains_key("save") {
        return Err(ApiError::BadRequest("save: use POST /api/v1/health/calibrate to save the proposed scorecard".into()));
    }
    Ok(Json(health::calibrate(state.store.as_ref(), &kizuna_analytics::Params(&q)).await?))
}

pub async fn calibrate_and_save(State(state): State<AppState>, me: Principal, Query(q): Query<HashMap<String, String>>) -> Result<Json<Value>, ApiError> {
    me.require(Permission::EditPlans)?;
    let v = health::calibrate(state.store.as_ref(), &kizuna_analytics::Params(&q)).await?;
    if v["saved"] == Value::Bool(true) {
        me.audit(state.store.as_ref(), "scorecards.calibrate", q.get("save").map(String::as_str), serde_json::json!({ "auc": v["cross_validation"]["auc"] })).await?;
    }
    Ok(Json(v))
}

pub async fn forecast(State(state): State<AppState>, me: Principal, Query(q): Query<HashMap<String, String>>) -> Result<Json<Value>, ApiError> {
    me.require(Permission::ReadPortfolio)?;
    Ok(Json(health::forecast(state.store.as_ref(), &kizuna_analytics::Params(&q)).await?))
}
