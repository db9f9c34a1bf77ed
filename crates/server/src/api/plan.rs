//! Planning over HTTP: `GET /api/v1/plan/{capacity|budget|maturity}?scenario=NAME&at=DATE`
//! (same JSON as `kizuna plan ...`; `format=csv` for the rows), and saved scenarios:
//! `GET /api/v1/plan/scenarios`, `GET|PUT /api/v1/plan/scenarios/{name}` (TOML text).

use crate::auth::Principal;
use crate::params::{ApiQuery, Params};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kizuna_app::planning::{self, PlanKind};
use kizuna_app::{App, ScenarioEntry};
use kizuna_app::{render, Format};
use super::doc::ErrorBody;
use kizuna_app::planning::PlanOutput;
use serde::Serialize;

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanQuery {
    /// A saved scenario (default: the shipped example, with the book from live data).
    scenario: Option<String>,
    /// The date of the live data, YYYY-MM-DD (default today).
    #[param(format = Date)]
    at: Option<String>,
    /// `json` (default) or `csv` (the plan's rows).
    #[param(pattern = "^(json|csv)$")]
    format: Option<String>,
}
kizuna_app::lookup!(PlanQuery { scenario, at, format });

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SavedScenario {
    pub saved: String,
}


/// Run one plan on a scenario, with live data where the scenario leaves inputs out.
#[utoipa::path(get, path = "/api/v1/plan/{kind}", tag = "planning",
    params(("kind" = String, Path, pattern = "^(capacity|hiring|budget|maturity|funnel)$", description = "capacity, hiring, budget, maturity or funnel"), PlanQuery),
    responses((status = 200, description = "JSON, or CSV with format=csv", content((PlanOutput = "application/json"), (String = "text/csv"))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn report(
    State(state): State<AppState>,
    me: Principal,
    Path(kind): Path<String>,
    ApiQuery(q): ApiQuery<PlanQuery>,
) -> Result<Response, ApiError> {
    let kind = PlanKind::parse(&kind).ok_or_else(|| ApiError::NotFound(format!("plan {kind:?}")))?;
    let p = Params(&q);
    let at = p.date("at")?.unwrap_or_else(kizuna_app::today);
    let app = App::new(state.store.as_ref(), &me);
    let scenario = app.scenario(p.text("scenario").as_deref()).await?;
    let value = app.plan(kind, &scenario, at).await?;
    Ok(match q.format.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        None | Some("json") => Json(value).into_response(),
        Some("csv") => {
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], render(&planning::rows(kind, &value), Format::Csv)).into_response()
        }
        Some(other) => return Err(ApiError::BadRequest(format!("format {other:?} is not one of: json, csv"))),
    })
}

/// The saved scenarios.
#[utoipa::path(get, path = "/api/v1/plan/scenarios", tag = "planning",
    responses((status = 200, body = Vec<ScenarioEntry>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list(State(state): State<AppState>, me: Principal) -> Result<Json<Vec<ScenarioEntry>>, ApiError> {
    Ok(Json(App::new(state.store.as_ref(), &me).scenarios().await?))
}

/// A saved scenario (TOML).
#[utoipa::path(get, path = "/api/v1/plan/scenarios/{name}", tag = "planning", params(("name" = String, Path, description = "The scenario's name")),
    responses((status = 200, description = "The scenario (TOML, docs/scenario.example.toml)", content_type = "application/toml", body = String),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn get(State(state): State<AppState>, me: Principal, Path(name): Path<String>) -> Result<Response, ApiError> {
    let body = App::new(state.store.as_ref(), &me).scenario_text(&name).await?.ok_or_else(|| ApiError::NotFound(format!("scenario {name:?}")))?;
    Ok(([(header::CONTENT_TYPE, "application/toml; charset=utf-8")], body).into_response())
}

/// Validate and save; a scenario that does not parse is refused with the key and line named.
#[utoipa::path(put, path = "/api/v1/plan/scenarios/{name}", tag = "planning", params(("name" = String, Path, description = "The scenario's name, 1 to 100 characters")),
    request_body(content = String, description = "The scenario (TOML)", content_type = "text/plain"),
    responses((status = 200, body = SavedScenario), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("session" = [])))]
pub async fn put(State(state): State<AppState>, me: Principal, Path(name): Path<String>, body: String) -> Result<Json<SavedScenario>, ApiError> {
    App::new(state.store.as_ref(), &me).save_scenario(&name, &body).await?;
    Ok(Json(SavedScenario { saved: name }))
}
