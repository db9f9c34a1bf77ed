//! `GET /api/v1/metrics/{retention|mrr|cohorts|ltv|arr|churn}`: the same parameters (query string)
//! and JSON as `kizuna metrics ...`. `format=csv` returns CSV instead.

use crate::auth::Principal;
use crate::{ApiError, AppState};
use kizuna_domain::access::Permission;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use kizuna_app::{Params, Report};
use std::collections::HashMap;

pub async fn report(
    State(state): State<AppState>,
    me: Principal,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    me.require(Permission::ReadPortfolio)?;
    let report = Report::parse(&name).ok_or_else(|| ApiError::NotFound(format!("report {name:?}")))?;
    let value = report.run(state.store.as_ref(), &Params(&q)).await?;
    super::respond(value, &q)
}
