//! JSON API, version 1.

mod accounts;
mod metrics;
mod plan;

use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

pub use accounts::account_query;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/accounts", get(accounts::list))
        .route("/api/v1/accounts/{id}", get(accounts::show))
        .route("/api/v1/metrics/{report}", get(metrics::report))
        .route("/api/v1/plan/scenarios", get(plan::list))
        .route("/api/v1/plan/scenarios/{name}", get(plan::get).put(plan::put))
        .route("/api/v1/plan/{kind}", get(plan::report))
}

/// `GET /healthz`: 200 when the database answers.
pub async fn health(State(state): State<AppState>) -> Result<Json<serde_json::Value>, crate::ApiError> {
    state.store.ping().await?;
    Ok(Json(serde_json::json!({ "status": "ok", "engine": state.store.engine() })))
}
