//! `GET /api/v1/metrics/{retention|mrr|cohorts|ltv|arr|churn}`: the same parameters (query string)
//! and JSON as `kizuna metrics ...`. `format=csv` returns CSV instead.

use crate::auth::Principal;
use crate::{ApiError, AppState};
use kizuna_domain::access::Permission;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kizuna_analytics::{render, Format, Params, Report};
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
    Ok(match q.get("format").map(String::as_str) {
        None | Some("json") => Json(value).into_response(),
        Some("csv") => ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], render(&value, Format::Csv)).into_response(),
        Some(other) => return Err(ApiError::BadRequest(format!("format {other:?} is not one of: json, csv"))),
    })
}
