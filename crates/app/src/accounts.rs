//! Accounts as a CSM works them: the list (filtered, sorted, paged), one account with what
//! belongs to it, and notes, meetings and calls logged on its timeline. A partner's actor only
//! ever sees its partner's accounts: others are "not found", exactly as if they did not exist.

use crate::access::Actor;
use crate::{AppError, Lookup, Params};
use chrono::{NaiveDate, Utc};
use kizuna_domain::{Account, Activity, ActivityKind, ActivityRow, ChurnRecord, Contact, Subscription, TouchModel};
use kizuna_store::{AccountQuery, AccountSort, Accounts, AuditEntry, NewEvent, Revenue, UnitOfWork};
use serde::{Deserialize, Serialize};

/// An account with what belongs to it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountDetail {
    pub account: Account,
    pub subscriptions: Vec<Subscription>,
    pub contacts: Vec<Contact>,
    /// The latest ones (50 over the API).
    pub activities: Vec<Activity>,
    pub churn_records: Vec<ChurnRecord>,
}

/// A note, meeting, call, e-mail or QBR to add to an account's timeline.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewActivity {
    /// note, meeting, call, email or qbr.
    pub kind: String,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// RFC 3339 or YYYY-MM-DD; now when absent.
    #[serde(default)]
    pub occurred_at: Option<String>,
}

/// Why an activity cannot be logged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActivityError {
    /// Not a kind people log by hand (support tickets come from imports).
    #[error("kind {0:?} is not one of: note, meeting, call, email, qbr")]
    Kind(String),
    #[error("an activity needs a subject or a body")]
    Empty,
    #[error("the subject is at most 200 characters and the body at most 20,000")]
    TooLong,
    #[error("occurred_at {0:?} is not a date (YYYY-MM-DD) or an RFC 3339 time")]
    Time(String),
}

/// The list's filters, sort and page, from the request's fields: `page`, `per_page` (1–1000),
/// `segment`, `touch_model`, `owner`, `partner`, `stage`, `health` (red, yellow, green), `q`,
/// `sort`, `order` (asc, desc) and `on` (the day the MRR is read on).
pub fn account_query(q: &dyn Lookup) -> Result<AccountQuery, AppError> {
    let p = Params(q);
    let on = p.date("on")?.unwrap_or_else(crate::today);
    let mut query = AccountQuery::new(on);
    query.segment = p.text("segment").map(|s| s.to_lowercase());
    query.touch_model = p.choice("touch_model", |s| s.parse::<TouchModel>().ok(), "high, hybrid, tech")?;
    query.owner_email = p.text("owner").map(|s| s.to_lowercase());
    query.partner_id = p.text("partner").map(str::to_string);
    query.lifecycle_stage = p.text("stage").map(|s| s.to_lowercase());
    query.health_band =
        p.choice("health", |s| kizuna_domain::health::Band::parse(s).map(|b| b.as_str().to_string()), "red, yellow, green")?;
    query.search = p.text("q").map(str::to_string);
    query.sort = p.choice("sort", AccountSort::parse, AccountSort::NAMES)?.unwrap_or(AccountSort::AccountId);
    query.descending =
        p.choice("order", |s| match s { "asc" => Some(false), "desc" => Some(true), _ => None }, "asc, desc")?.unwrap_or(false);
    query.page = p.number("page", 1, u32::MAX)?.unwrap_or(1);
    query.per_page = p.number("per_page", 1, 1000)?.unwrap_or(50);
    Ok(query)
}

/// The query with the actor's scope forced on it.
pub fn scoped_query(q: &dyn Lookup, actor: &Actor) -> Result<AccountQuery, AppError> {
    let mut query = account_query(q)?;
    if let Some(partner) = actor.scope() {
        query.partner_id = Some(partner);
    }
    Ok(query)
}

/// The account if it exists and the actor may see it; otherwise not found, either way.
pub async fn visible_account(store: &(impl Accounts + ?Sized), actor: &Actor, id: &str, on: NaiveDate) -> Result<Account, AppError> {
    match store.get_account(id, on).await? {
        Some(account) if actor.sees(&account) => Ok(account),
        _ => Err(AppError::AccountNotFound(id.to_string())),
    }
}

/// The account with its subscriptions, contacts, `latest` activities and churn records.
pub async fn detail(store: &(impl Accounts + Revenue + ?Sized), actor: &Actor, id: &str, on: NaiveDate, latest: u32) -> Result<AccountDetail, AppError> {
    let account = visible_account(store, actor, id, on).await?;
    Ok(AccountDetail {
        account,
        subscriptions: store.subscriptions(id).await?,
        contacts: store.contacts(id).await?,
        activities: store.activities(id, latest).await?,
        churn_records: store.churn_records(id).await?,
    })
}

/// The activity checked: a kind people log, a subject or a body within bounds, a time.
pub fn check_activity(account_id: &str, a: NewActivity, author: Option<String>) -> Result<ActivityRow, ActivityError> {
    let kind: ActivityKind = a.kind.parse().map_err(|_| ActivityError::Kind(a.kind.clone()))?;
    if kind == ActivityKind::SupportTicket {
        return Err(ActivityError::Kind(a.kind));
    }
    let clean = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let (subject, body) = (clean(a.subject), clean(a.body));
    if subject.is_none() && body.is_none() {
        return Err(ActivityError::Empty);
    }
    if subject.as_ref().is_some_and(|s| s.chars().count() > 200) || body.as_ref().is_some_and(|b| b.chars().count() > 20_000) {
        return Err(ActivityError::TooLong);
    }
    let occurred_at = match clean(a.occurred_at) {
        None => Utc::now(),
        Some(v) => kizuna_domain::fields::parse_timestamp("occurred_at", &v).map_err(|_| ActivityError::Time(v))?,
    };
    Ok(ActivityRow {
        account_id: account_id.to_string(),
        activity_id: format!("web-{}-{:08x}", Utc::now().format("%Y%m%d%H%M%S%3f"), rand::random::<u32>()),
        kind,
        occurred_at,
        author_email: author,
        subject,
        body,
    })
}

/// Logs the activity on the account's timeline, by `actor`, and audits it.
pub async fn add_activity(store: &(impl Accounts + UnitOfWork + ?Sized), actor: &Actor, id: &str, a: NewActivity) -> Result<ActivityRow, AppError> {
    visible_account(store, actor, id, crate::today()).await?;
    let row = check_activity(id, a, (!actor.via_key).then(|| actor.id.clone()))?;
    // The activity and its audit entry in one transaction: both or neither.
    let detail = serde_json::json!({ "activity_id": row.activity_id, "kind": row.kind.as_str() });
    let mut tx = store.begin().await?;
    tx.upsert_activities(std::slice::from_ref(&row)).await?;
    tx.audit(AuditEntry { actor: &actor.id, action: "activity.create", target: Some(id), detail }).await?;
    let payload = serde_json::json!({ "activity_id": row.activity_id, "kind": row.kind.as_str(), "author": row.author_email, "occurred_at": row.occurred_at });
    tx.emit(NewEvent { kind: "activity.logged", account_id: Some(id), payload }).await?;
    tx.commit().await?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(kind: &str, subject: Option<&str>, body: Option<&str>, at: Option<&str>) -> NewActivity {
        NewActivity { kind: kind.into(), subject: subject.map(Into::into), body: body.map(Into::into), occurred_at: at.map(Into::into) }
    }

    #[test]
    fn activities_are_checked_before_they_are_written() {
        let row = check_activity("A1", activity("meeting", Some(" QBR "), None, Some("2026-03-01")), Some("c@x.jp".into())).unwrap();
        assert_eq!((row.kind, row.subject.as_deref(), row.body), (ActivityKind::Meeting, Some("QBR"), None));
        assert_eq!(row.occurred_at, kizuna_domain::time::start_of_day(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()), "a date is its first moment, business time");
        assert_eq!(row.author_email.as_deref(), Some("c@x.jp"));
        assert!(row.activity_id.starts_with("web-"));
        assert_eq!(check_activity("A1", activity("lunch", Some("x"), None, None), None), Err(ActivityError::Kind("lunch".into())));
        assert_eq!(check_activity("A1", activity("support_ticket", Some("x"), None, None), None), Err(ActivityError::Kind("support_ticket".into())));
        assert_eq!(check_activity("A1", activity("note", Some("  "), Some(""), None), None), Err(ActivityError::Empty));
        assert_eq!(check_activity("A1", activity("note", Some(&"あ".repeat(201)), None, None), None), Err(ActivityError::TooLong));
        assert!(check_activity("A1", activity("note", Some(&"あ".repeat(200)), None, None), None).is_ok(), "200 characters, not bytes");
        assert_eq!(check_activity("A1", activity("note", Some("x"), None, Some("yesterday")), None), Err(ActivityError::Time("yesterday".into())));
    }
}
