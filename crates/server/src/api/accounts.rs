//! `GET /api/v1/accounts` (paged, filtered, sorted), `GET /api/v1/accounts/{id}`, and
//! `POST /api/v1/accounts/{id}/activities`. A partner's principal only ever sees its partner's
//! accounts: others answer 404, exactly as if they did not exist.

use crate::auth::Principal;
use crate::params::Params;
use crate::{ApiError, AppState, Msg};
use crate::params::ApiQuery;
use axum::extract::{Path, State};
use axum::Json;
use chrono::{NaiveDate, Utc};
use kizuna_domain::access::Permission;
use kizuna_domain::{Account, ActivityKind, ActivityRow, TouchModel};
use kizuna_store::{AccountPage, AccountQuery, AccountSort, Store};
use super::doc::ErrorBody;
use kizuna_domain::{Activity, ChurnRecord, Contact, Subscription};
use serde::{Deserialize, Serialize};

/// The account list's filters, sort and page (the API; the page reads the same names).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page, from 1.
    #[param(value_type = Option<u32>, minimum = 1)]
    page: Option<String>,
    /// Accounts per page, 1 to 1000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    per_page: Option<String>,
    segment: Option<String>,
    /// high, hybrid or tech.
    #[param(pattern = "^(high|hybrid|tech)$")]
    touch_model: Option<String>,
    /// The owner's e-mail.
    owner: Option<String>,
    partner: Option<String>,
    /// Lifecycle stage.
    stage: Option<String>,
    /// red, yellow or green.
    #[param(pattern = "^(red|yellow|green)$")]
    health: Option<String>,
    /// Search in id and name (NFKC-normalised).
    q: Option<String>,
    /// account_id, name, segment, touch_model, owner, partner, stage, mrr or health.
    sort: Option<String>,
    /// asc or desc.
    #[param(pattern = "^(asc|desc)$")]
    order: Option<String>,
    /// Date of the MRR shown, YYYY-MM-DD (default today).
    #[param(format = Date)]
    on: Option<String>,
}
kizuna_app::lookup!(ListQuery { page, per_page, segment, touch_model, owner, partner, stage, health, q, sort, order, on });

/// The day an account's MRR is read on.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OnQuery {
    /// Date of the MRR shown, YYYY-MM-DD (default today).
    #[param(format = Date)]
    on: Option<String>,
}
kizuna_app::lookup!(OnQuery { on });

/// An account with what belongs to it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountDetail {
    pub account: Account,
    pub subscriptions: Vec<Subscription>,
    pub contacts: Vec<Contact>,
    /// The latest 50.
    pub activities: Vec<Activity>,
    pub churn_records: Vec<ChurnRecord>,
}

/// The activity created.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedActivity {
    pub activity_id: String,
    pub account_id: String,
}

/// Parameters: `page`, `per_page` (1–1000), `segment`, `touch_model`, `owner`, `partner`, `stage`,
/// `health` (red, yellow, green), `q`, `sort` (account_id, name, segment, touch_model, owner,
/// partner, stage, mrr, health), `order`
/// (asc, desc), `on` (date of MRR).
pub fn account_query(q: &dyn kizuna_app::Lookup) -> Result<AccountQuery, ApiError> {
    let p = Params(q);
    let on = p.date("on")?.unwrap_or_else(|| kizuna_domain::time::today());
    let mut query = AccountQuery::new(on);
    query.segment = p.text("segment").map(|s| s.to_lowercase());
    query.touch_model = p.choice("touch_model", |s| s.parse::<TouchModel>().ok(), "high, hybrid, tech")?;
    query.owner_email = p.text("owner").map(|s| s.to_lowercase());
    query.partner_id = p.text("partner");
    query.lifecycle_stage = p.text("stage").map(|s| s.to_lowercase());
    query.health_band = p
        .choice("health", |s| kizuna_domain::health::Band::parse(s).map(|b| b.as_str().to_string()), "red, yellow, green")?;
    query.search = p.text("q");
    query.sort = p.choice("sort", AccountSort::parse, AccountSort::NAMES)?.unwrap_or(AccountSort::AccountId);
    query.descending = p.choice("order", |s| match s { "asc" => Some(false), "desc" => Some(true), _ => None }, "asc, desc")?
        .unwrap_or(false);
    query.page = p.number("page", 1, u32::MAX)?.unwrap_or(1);
    query.per_page = p.number("per_page", 1, 1000)?.unwrap_or(50);
    Ok(query)
}

/// The query with the principal's scope forced on it.
pub fn scoped_query(q: &dyn kizuna_app::Lookup, me: &Principal) -> Result<AccountQuery, ApiError> {
    let mut query = account_query(q)?;
    if let Some(partner) = me.scope() {
        query.partner_id = Some(partner);
    }
    Ok(query)
}

/// The account if it exists and the principal may see it; otherwise 404 either way.
pub async fn visible_account(store: &dyn Store, me: &Principal, id: &str, on: NaiveDate) -> Result<Account, ApiError> {
    let not_found = || ApiError::Missing(Msg::new("err.account_not_found").arg("id", id));
    let account = store.get_account(id, on).await?.ok_or_else(not_found)?;
    match me.scope() {
        Some(p) if account.partner_id.as_deref() != Some(p.as_str()) => Err(not_found()),
        _ => Ok(account),
    }
}

/// Accounts, paged, filtered and sorted; a partner sees only its own.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", params(ListQuery),
    responses((status = 200, body = AccountPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list(State(state): State<AppState>, me: Principal, ApiQuery(q): ApiQuery<ListQuery>) -> Result<Json<AccountPage>, ApiError> {
    me.require(Permission::ReadAccounts)?;
    let query = scoped_query(&q, &me)?;
    Ok(Json(state.store.list_accounts(&query).await?))
}

/// The account with its subscriptions, contacts, latest 50 activities and churn records.
#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = String, Path, description = "The account id"), OnQuery),
    responses((status = 200, body = AccountDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn show(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<OnQuery>,
) -> Result<Json<AccountDetail>, ApiError> {
    me.require(Permission::ReadAccounts)?;
    let on: NaiveDate = Params(&q).date("on")?.unwrap_or_else(|| kizuna_domain::time::today());
    let store = state.store.as_ref();
    let account = visible_account(store, &me, &id, on).await?;
    Ok(Json(AccountDetail {
        account,
        subscriptions: store.subscriptions(&id).await?,
        contacts: store.contacts(&id).await?,
        activities: store.activities(&id, 50).await?,
        churn_records: store.churn_records(&id).await?,
    }))
}

/// A note, meeting, call, e-mail or QBR to add to an account's timeline.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewActivity {
    pub kind: String,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// RFC 3339 or YYYY-MM-DD; now when absent.
    #[serde(default)]
    pub occurred_at: Option<String>,
}

/// Checks and writes a new activity by `me`; shared by the API and the account page.
pub async fn add_activity(store: &dyn Store, me: &Principal, id: &str, a: NewActivity) -> Result<ActivityRow, ApiError> {
    me.require(Permission::WriteActivities)?;
    visible_account(store, me, id, kizuna_domain::time::today()).await?;
    let bad_kind = || ApiError::Invalid(Msg::new("err.activity_kind").arg("value", &a.kind));
    let kind: ActivityKind = a.kind.parse().map_err(|_| bad_kind())?;
    if kind == ActivityKind::SupportTicket {
        return Err(bad_kind());
    }
    let clean = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let (subject, body) = (clean(a.subject), clean(a.body));
    if subject.is_none() && body.is_none() {
        return Err(ApiError::Invalid(Msg::new("err.activity_empty")));
    }
    if subject.as_ref().is_some_and(|s| s.chars().count() > 200) || body.as_ref().is_some_and(|b| b.chars().count() > 20_000) {
        return Err(ApiError::Invalid(Msg::new("err.activity_long")));
    }
    let occurred_at = match clean(a.occurred_at) {
        None => Utc::now(),
        Some(v) => kizuna_domain::fields::parse_timestamp("occurred_at", &v)
            .map_err(|_| ApiError::Invalid(Msg::new("err.timestamp").arg("field", "occurred_at").arg("value", &v)))?,
    };
    let row = ActivityRow {
        account_id: id.to_string(),
        activity_id: format!("web-{}-{:08x}", Utc::now().format("%Y%m%d%H%M%S%3f"), rand::random::<u32>()),
        kind,
        occurred_at,
        author_email: (!me.via_key).then(|| me.actor.clone()),
        subject,
        body,
    };
    let mut tx = store.begin().await?;
    tx.upsert_activities(std::slice::from_ref(&row)).await?;
    tx.commit().await?;
    let detail = serde_json::json!({ "activity_id": row.activity_id, "kind": kind.as_str() });
    me.audit(store, "activity.create", Some(id), detail).await?;
    Ok(row)
}

/// Add a note, meeting, call, e-mail or QBR to the account's timeline.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/activities", tag = "accounts", params(("id" = String, Path, description = "The account id")),
    request_body = NewActivity,
    responses((status = 201, body = CreatedActivity), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 415, description = "Not sent as JSON", body = ErrorBody)),
    security(("session" = [])))]
pub async fn create_activity(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<String>,
    body: Result<Json<NewActivity>, axum::extract::rejection::JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<CreatedActivity>), ApiError> {
    use axum::extract::rejection::JsonRejection;
    // A body that is not the JSON asked for is answered in the API's error shape, not axum's text.
    let Json(a) = body.map_err(|e| match e {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedEncoding("send the activity as JSON (Content-Type: application/json)".into()),
        other => ApiError::BadRequest(format!("the activity is not the JSON expected: {}", other.body_text())),
    })?;
    let row = add_activity(state.store.as_ref(), &me, &id, a).await?;
    Ok((axum::http::StatusCode::CREATED, Json(CreatedActivity { activity_id: row.activity_id, account_id: row.account_id })))
}
