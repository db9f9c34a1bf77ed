//! Onboarding: `GET/PUT /api/v1/onboarding/templates`, `GET/POST /api/v1/onboarding/plans`,
//! `GET /api/v1/onboarding/plans/{id}`, `PATCH /api/v1/onboarding/plans/{id}/tasks/{task_id}`,
//! `POST /api/v1/onboarding/plans/{id}/share`, `GET /api/v1/onboarding/report`,
//! `GET /api/v1/onboarding/impact` and `POST /api/v1/onboarding/run`: parse, call the use case
//! ([`kizuna_app::App`], which checks permissions and a partner's scope), render.

use super::ctas::json_body;
use super::doc::ErrorBody;
use crate::auth::Principal;
use crate::params::{ApiQuery, Params};
use crate::{ApiError, AppState};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use kizuna_app::onboarding::{Impact, NewPlan, OnboardingReport, PlanList, RunSummary, SavedTemplates, SharedLink, TaskChange};
use kizuna_app::requests::{OnboardingImpactRequest, OnboardingPlansRequest, OnboardingReportRequest, SignalsRequest};
use kizuna_app::App;
use kizuna_domain::onboarding::{Plan, Templates};
use serde::Deserialize;

/// The onboarding plan templates (phases, tasks, criteria, thresholds).
#[utoipa::path(get, path = "/api/v1/onboarding/templates", tag = "onboarding",
    responses((status = 200, body = Templates), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn get_templates(State(state): State<AppState>, me: Principal) -> Result<Json<Templates>, ApiError> {
    Ok(Json(App::new(state.store.as_ref(), &me).onboarding_templates().await?))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SaveTemplatesQuery {
    /// `true`: move running plans to their template's new version (what was done stays done).
    #[param(pattern = "^(true|false)$")]
    pub reapply: Option<String>,
}

/// Replace the templates (checked first: an error names the template, the task and why).
/// A changed template gets a new version; running plans keep theirs unless `reapply=true`.
#[utoipa::path(put, path = "/api/v1/onboarding/templates", tag = "onboarding", params(SaveTemplatesQuery), request_body = Templates,
    responses((status = 200, body = SavedTemplates), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 415, description = "Not sent as JSON", body = ErrorBody)),
    security(("session" = [])))]
pub async fn put_templates(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<SaveTemplatesQuery>, body: Result<Json<Templates>, JsonRejection>) -> Result<Json<SavedTemplates>, ApiError> {
    let t = json_body(body, "templates")?;
    let reapply = match q.reapply.as_deref().map(str::trim) {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(ApiError::BadRequest(format!("reapply {other:?} is not true or false"))),
    };
    Ok(Json(App::new(state.store.as_ref(), &me).save_onboarding_templates(t, reapply).await?))
}

/// Plans, newest first (`account`, `status`, `owner`); a partner sees only its accounts'.
#[utoipa::path(get, path = "/api/v1/onboarding/plans", tag = "onboarding", params(OnboardingPlansRequest),
    responses((status = 200, description = "JSON, or CSV with format=csv", content((PlanList = "application/json"), (String = "text/csv"))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_plans(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<OnboardingPlansRequest>) -> Result<Response, ApiError> {
    let list = App::new(state.store.as_ref(), &me).onboarding_plans(&q).await?;
    if q.format.as_deref() == Some("csv") {
        let rows: Vec<serde_json::Value> = list.plans.iter().map(kizuna_app::onboarding::plan_row).collect();
        return super::respond(rows, Some("csv"));
    }
    super::respond(list, q.format.as_deref())
}

/// Start a plan by hand (plans also start by themselves when a subscription to the product starts).
#[utoipa::path(post, path = "/api/v1/onboarding/plans", tag = "onboarding", request_body = NewPlan,
    responses((status = 201, body = Plan), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 415, description = "Not sent as JSON", body = ErrorBody)),
    security(("session" = [])))]
pub async fn start_plan(State(state): State<AppState>, me: Principal, body: Result<Json<NewPlan>, JsonRejection>) -> Result<(StatusCode, Json<Plan>), ApiError> {
    let n = json_body(body, "plan")?;
    Ok((StatusCode::CREATED, Json(App::new(state.store.as_ref(), &me).start_onboarding_plan(n).await?)))
}

/// A plan with its tasks.
#[utoipa::path(get, path = "/api/v1/onboarding/plans/{id}", tag = "onboarding", params(("id" = String, Path, description = "The plan id")),
    responses((status = 200, body = Plan), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn show_plan(State(state): State<AppState>, me: Principal, Path(id): Path<String>) -> Result<Json<Plan>, ApiError> {
    Ok(Json(App::new(state.store.as_ref(), &me).onboarding_plan(&id).await?))
}

/// Tick a task done (on `done_on`, default today) or not done. A task waits for the tasks it
/// depends on.
#[utoipa::path(patch, path = "/api/v1/onboarding/plans/{id}/tasks/{task_id}", tag = "onboarding",
    params(("id" = String, Path, description = "The plan id"), ("task_id" = String, Path, description = "The task id")), request_body = TaskChange,
    responses((status = 200, body = Plan), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 415, description = "Not sent as JSON", body = ErrorBody)),
    security(("session" = [])))]
pub async fn set_task(State(state): State<AppState>, me: Principal, Path((id, task_id)): Path<(String, String)>, body: Result<Json<TaskChange>, JsonRejection>) -> Result<Json<Plan>, ApiError> {
    let c = json_body(body, "change")?;
    Ok(Json(App::new(state.store.as_ref(), &me).set_onboarding_task(&id, &task_id, c).await?))
}

/// How long a shared link opens.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// 1 to 90 (default 30).
    pub days: Option<u32>,
}

/// A signed link to the plan's customer side (no sign-in; customer-side tasks only), valid
/// for `days` days.
#[utoipa::path(post, path = "/api/v1/onboarding/plans/{id}/share", tag = "onboarding", params(("id" = String, Path, description = "The plan id")),
    request_body = ShareRequest,
    responses((status = 201, body = SharedLink), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 415, description = "Not sent as JSON", body = ErrorBody)),
    security(("session" = [])))]
pub async fn share(State(state): State<AppState>, me: Principal, Path(id): Path<String>, body: Result<Json<ShareRequest>, JsonRejection>) -> Result<(StatusCode, Json<SharedLink>), ApiError> {
    let r = json_body(body, "request")?;
    Ok((StatusCode::CREATED, Json(App::new(state.store.as_ref(), &me).share_onboarding_plan(&id, r.days.unwrap_or(30)).await?)))
}

/// The onboarding KPIs over a range: plans started, completed (on time), the completion rate
/// in period, median days to complete and to first value, stuck plans; groups (`by`) and start
/// month cohorts.
#[utoipa::path(get, path = "/api/v1/onboarding/report", tag = "onboarding", params(OnboardingReportRequest),
    responses((status = 200, description = "JSON, or CSV with format=csv", content((OnboardingReport = "application/json"), (String = "text/csv"))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn report(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<OnboardingReportRequest>) -> Result<Response, ApiError> {
    let r = App::new(state.store.as_ref(), &me).onboarding_report(&q).await?;
    if q.format.as_deref() == Some("csv") {
        return super::respond(kizuna_app::onboarding::report_rows(&r), Some("csv"));
    }
    super::respond(r, q.format.as_deref())
}

/// Churn within the horizon (default 180 days) after the due day, of accounts whose onboarding
/// completed on time and of those whose did not, overall and by segment, with 95% intervals and
/// a verdict that says when the data is too thin.
#[utoipa::path(get, path = "/api/v1/onboarding/impact", tag = "onboarding", params(OnboardingImpactRequest),
    responses((status = 200, description = "JSON, or CSV with format=csv", content((Impact = "application/json"), (String = "text/csv"))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn impact(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<OnboardingImpactRequest>) -> Result<Response, ApiError> {
    let i = App::new(state.store.as_ref(), &me).onboarding_impact(&q).await?;
    if q.format.as_deref() == Some("csv") {
        return super::respond(kizuna_app::onboarding::impact_rows(&i), Some("csv"));
    }
    super::respond(i, q.format.as_deref())
}

/// Run the onboarding day now, as of `at` (the daily job does it before the signals): plans
/// start for new subscriptions, tasks complete from data, statuses refresh.
#[utoipa::path(post, path = "/api/v1/onboarding/run", tag = "onboarding", params(SignalsRequest),
    responses((status = 200, body = RunSummary), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("session" = [])))]
pub async fn run(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<SignalsRequest>) -> Result<Json<RunSummary>, ApiError> {
    let at = Params(&q).date("at")?.unwrap_or_else(kizuna_app::today);
    Ok(Json(App::new(state.store.as_ref(), &me).run_onboarding(at).await?))
}
