//! `GET /api/v1/accounts` (paged, filtered, sorted) and `GET /api/v1/accounts/{id}`.

use crate::params::Params;
use crate::{ApiError, AppState};
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{NaiveDate, Utc};
use kizuna_domain::TouchModel;
use kizuna_store::{AccountPage, AccountQuery, AccountSort};
use std::collections::HashMap;

/// Parameters: `page`, `per_page` (1–1000), `segment`, `touch_model`, `owner`, `partner`, `q`,
/// `sort` (account_id, name, segment, touch_model, owner, mrr), `order` (asc, desc), `on` (date of MRR).
pub fn account_query(q: &HashMap<String, String>) -> Result<AccountQuery, ApiError> {
    let p = Params(q);
    let on = p.date("on")?.unwrap_or_else(|| Utc::now().date_naive());
    let mut query = AccountQuery::new(on);
    query.segment = p.text("segment").map(|s| s.to_lowercase());
    query.touch_model = p.choice("touch_model", |s| s.parse::<TouchModel>().ok(), "high, hybrid, tech")?;
    query.owner_email = p.text("owner").map(|s| s.to_lowercase());
    query.partner_id = p.text("partner");
    query.search = p.text("q");
    query.sort = p
        .choice("sort", AccountSort::parse, "account_id, name, segment, touch_model, owner, mrr")?
        .unwrap_or(AccountSort::AccountId);
    query.descending = p.choice("order", |s| match s { "asc" => Some(false), "desc" => Some(true), _ => None }, "asc, desc")?
        .unwrap_or(false);
    query.page = p.number("page", 1, u32::MAX)?.unwrap_or(1);
    query.per_page = p.number("per_page", 1, 1000)?.unwrap_or(50);
    Ok(query)
}

pub async fn list(State(state): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Result<Json<AccountPage>, ApiError> {
    let query = account_query(&q)?;
    Ok(Json(state.store.list_accounts(&query).await?))
}

/// The account with its subscriptions, contacts, latest 50 activities and churn records.
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let on: NaiveDate = Params(&q).date("on")?.unwrap_or_else(|| Utc::now().date_naive());
    let store = &state.store;
    let account = store.get_account(&id, on).await?.ok_or_else(|| ApiError::NotFound(format!("account {id:?}")))?;
    Ok(Json(serde_json::json!({
        "account": account,
        "subscriptions": store.subscriptions(&id).await?,
        "contacts": store.contacts(&id).await?,
        "activities": store.activities(&id, 50).await?,
        "churn_records": store.churn_records(&id).await?,
    })))
}
