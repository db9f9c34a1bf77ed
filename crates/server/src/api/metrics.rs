//! `GET /api/v1/metrics/{retention|mrr|cohorts|ltv|arr|churn}`: the same parameters (query string)
//! and JSON as `kizuna metrics ...`. `format=csv` returns CSV instead.

use super::doc::ErrorBody;
use crate::params::ApiQuery;
use kizuna_app::requests::{ArrRequest, CohortRequest, LtvRequest, MonthRangeRequest, RangeRequest};
use kizuna_app::Lookup;
use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::response::Response;
use kizuna_app::{ChurnRow, Report, RetentionReport};
use kizuna_domain::metrics::arr::ArrRow;
use kizuna_domain::metrics::cohorts::CohortTable;
use kizuna_domain::metrics::ltv::LtvReport;
use kizuna_domain::metrics::movements::MonthMovements;

async fn run(state: AppState, me: Principal, report: Report, q: &dyn Lookup) -> Result<Response, ApiError> {
    let out = kizuna_app::App::new(state.store.as_ref(), &me).report(report, q).await?;
    super::respond(out, q.lookup("format"))
}

/// Logo and MRR retention over a date range: one object, or with `by` one per group.
#[utoipa::path(get, path = "/api/v1/metrics/retention", tag = "metrics", params(RangeRequest),
    responses((status = 200, description = "JSON, or CSV with format=csv", content((RetentionReport = "application/json"), (String = "text/csv"))),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn retention(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<RangeRequest>) -> Result<Response, ApiError> {
    run(state, me, Report::Retention, &q).await
}

/// MRR movements by month, as of `at`: later months are left out, the as-of month is `partial`.
#[utoipa::path(get, path = "/api/v1/metrics/mrr", tag = "metrics", params(MonthRangeRequest),
    responses((status = 200, description = "JSON, or CSV with format=csv", content((Vec<MonthMovements> = "application/json"), (String = "text/csv"))),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn mrr(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<MonthRangeRequest>) -> Result<Response, ApiError> {
    run(state, me, Report::Mrr, &q).await
}

/// The retention triangle by start period.
#[utoipa::path(get, path = "/api/v1/metrics/cohorts", tag = "metrics", params(CohortRequest),
    responses((status = 200, description = "JSON, or CSV with format=csv", content((CohortTable = "application/json"), (String = "text/csv"))),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn cohorts(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<CohortRequest>) -> Result<Response, ApiError> {
    run(state, me, Report::Cohorts, &q).await
}

/// sBG retention projection and LTV per group ("all" first).
#[utoipa::path(get, path = "/api/v1/metrics/ltv", tag = "metrics", params(LtvRequest),
    responses((status = 200, description = "JSON, or CSV with format=csv", content((Vec<LtvReport> = "application/json"), (String = "text/csv"))),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn ltv(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<LtvRequest>) -> Result<Response, ApiError> {
    run(state, me, Report::Ltv, &q).await
}

/// ARR, active accounts and ARPA on a date, per group (segment by default; "all" first).
#[utoipa::path(get, path = "/api/v1/metrics/arr", tag = "metrics", params(ArrRequest),
    responses((status = 200, description = "JSON, or CSV with format=csv", content((Vec<ArrRow> = "application/json"), (String = "text/csv"))),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn arr(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<ArrRequest>) -> Result<Response, ApiError> {
    run(state, me, Report::Arr, &q).await
}

/// Churned accounts and MRR lost, avoidable or not, per group.
#[utoipa::path(get, path = "/api/v1/metrics/churn", tag = "metrics", params(RangeRequest),
    responses((status = 200, description = "JSON, or CSV with format=csv", content((Vec<ChurnRow> = "application/json"), (String = "text/csv"))),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn churn(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<RangeRequest>) -> Result<Response, ApiError> {
    run(state, me, Report::Churn, &q).await
}
