//! Accounts as a CSM works them: the list (filtered, sorted, paged), one account with what
//! belongs to it, and notes, meetings and calls logged on its timeline. A partner's actor only
//! ever sees its partner's accounts: others are "not found", exactly as if they did not exist.

use crate::access::Actor;
use crate::{AppError, Lookup, Params};
use chrono::{NaiveDate, Utc};
use kizuna_domain::{Account, Activity, ActivityKind, ActivityRow, ChurnRecord, Contact, Subscription, TouchModel};
use kizuna_store::{AccountQuery, AccountSort, AccountStatus, Accounts, Access, AuditEntry, NewEvent, Revenue, SavedView, UnitOfWork};
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
    /// Every change of the account's lifecycle stage, newest first, with its day and source.
    pub stage_history: Vec<kizuna_domain::journey::StageChange>,
    /// Its onboarding plans, newest first, with their tasks.
    pub onboarding_plans: Vec<kizuna_domain::onboarding::Plan>,
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
    /// Who took part (a meeting's or call's attendees).
    #[serde(default)]
    pub attendees: Option<String>,
    /// What was agreed to do next.
    #[serde(default)]
    pub next_steps: Option<String>,
    /// `internal` (the vendor's team only; the default for staff) or `shared` (the account's
    /// partner sees it too; always so for a partner's own entries).
    #[serde(default)]
    pub visibility: Option<String>,
}

/// Why an activity cannot be logged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActivityError {
    /// Not a kind people log by hand (support tickets come from imports).
    #[error("kind {0:?} is not one of: note, meeting, call, email, qbr")]
    Kind(String),
    #[error("an activity needs a subject or a body")]
    Empty,
    #[error("the subject is at most 200 characters, attendees at most 1,000, and the body and next steps at most 20,000")]
    TooLong,
    /// Not internal or shared, or internal from a partner (whose entries its partner sees).
    #[error("visibility {0:?} is not one of: internal, shared (a partner's entries are shared)")]
    Visibility(String),
    #[error("occurred_at {0:?} is not a date (YYYY-MM-DD) or an RFC 3339 time")]
    Time(String),
}

/// The list's filters, sort and page, from the request's fields: `page`, `per_page` (1–1000),
/// `segment`, `touch_model`, `owner`, `partner`, `stage`, `health` (red, yellow, green), `q`,
/// `status` (active, churned, all; all when absent), `sort`, `order` (asc, desc) and `on` (the
/// day the MRR is read on).
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
    query.status = p.choice("status", AccountStatus::parse, AccountStatus::NAMES)?.unwrap_or(AccountStatus::All);
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

/// An account as the list shows it for daily work: the account, and beside it what a CSM
/// looks at first (ARR, the next renewal, the last contact and login, the health change, open
/// CTAs) with its owner and partner by name.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountListItem {
    #[serde(flatten)]
    pub account: Account,
    /// MRR × 12 on the list's day, in currency units.
    pub arr: f64,
    /// The next renewal of a running annual (or longer) contract after the list's day.
    pub renewal_date: Option<NaiveDate>,
    pub days_to_renewal: Option<i64>,
    /// The latest logged activity other than a support ticket, up to the list's day.
    #[serde(serialize_with = "kizuna_domain::time::serde_local_opt")]
    pub last_contact_at: Option<chrono::DateTime<Utc>>,
    /// The latest day any of the account's users used the product, and days since then.
    pub last_active_on: Option<NaiveDate>,
    pub days_since_active: Option<i64>,
    /// The latest score minus the one before it (one decimal).
    pub health_change: Option<f64>,
    pub open_ctas: u64,
    pub owner_name: Option<String>,
    pub partner_name: Option<String>,
}

/// A page of the list for daily work.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountList {
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub accounts: Vec<AccountListItem>,
}

/// The page of accounts `query` selects, with what the list shows beside each one, read for
/// the page's accounts only.
pub async fn work_list(store: &(impl Accounts + Access + ?Sized), query: &AccountQuery) -> Result<AccountList, AppError> {
    let page = store.list_accounts(query).await?;
    let accounts = items(store, page.accounts, query.on).await?;
    Ok(AccountList { total: page.total, page: page.page, per_page: page.per_page, accounts })
}

/// What the list shows beside each of these accounts on `on` (the account page's summary
/// strip shows the same for one).
pub async fn items(store: &(impl Accounts + Access + ?Sized), accounts: Vec<Account>, on: NaiveDate) -> Result<Vec<AccountListItem>, AppError> {
    let query = AccountQuery::new(on);
    let ids: Vec<String> = accounts.iter().map(|a| a.account_id.clone()).collect();
    let glances = store.account_glances(&ids, query.on).await?;
    let renewals = crate::health::next_renewals(glances.terms, query.on);
    let people: std::collections::HashMap<String, String> =
        store.staff_users().await?.into_iter().filter(|u| !u.name.is_empty()).map(|u| (u.email, u.name)).collect();
    let partners: std::collections::HashMap<String, String> = store.partners().await?.into_iter().collect();
    Ok(accounts
        .into_iter()
        .map(|account| {
            let id = &account.account_id;
            let renewal_date = renewals.get(id).copied();
            let last_active_on = glances.last_active.get(id).copied();
            AccountListItem {
                arr: account.mrr * 12.0,
                days_to_renewal: renewal_date.map(|d| (d - query.on).num_days()),
                renewal_date,
                last_contact_at: glances.last_contact.get(id).copied(),
                days_since_active: last_active_on.map(|d| (query.on - d).num_days()),
                last_active_on,
                health_change: match (account.health_score, account.health_previous) {
                    (Some(now), Some(before)) => Some(((now - before) * 10.0).round() / 10.0),
                    _ => None,
                },
                open_ctas: glances.open_ctas.get(id).copied().unwrap_or(0),
                owner_name: account.owner_email.as_ref().and_then(|e| people.get(e).cloned()),
                partner_name: account.partner_id.as_ref().and_then(|p| partners.get(p).cloned()),
                account,
            }
        })
        .collect())
}

/// A view to save: its name and the list's query string.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewView {
    pub name: String,
    /// The account list's query string (`health=red&owner=...`); `page` and `lang` are dropped.
    pub query: String,
}

/// Why a view cannot be saved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ViewError {
    #[error("a view needs a name of 1 to 100 characters")]
    Name,
    #[error("the query is at most 2,000 characters")]
    TooLong,
    #[error("query: {0}")]
    Query(String),
    #[error("no saved view {0:?}")]
    NotFound(String),
}

/// The view checked: a name, and a query the list accepts, kept without `page` and `lang` so
/// opening it starts on the first page in the reader's language.
pub fn check_view(v: &NewView) -> Result<(String, String), ViewError> {
    let name = v.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ViewError::Name);
    }
    if v.query.len() > 2000 {
        return Err(ViewError::TooLong);
    }
    let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(v.query.trim_start_matches('?')).unwrap_or_default();
    let map: std::collections::HashMap<String, String> = pairs.iter().filter(|(_, v)| !v.is_empty()).cloned().collect();
    account_query(&map).map_err(|e| ViewError::Query(e.to_string()))?;
    Ok((name.to_string(), view_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))))
}

/// A list's query string as views keep it and the page links it: without `page`, `lang` and
/// empty values, sorted, form-encoded; so one view is one string, however it was reached.
pub fn view_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut kept: Vec<(&str, &str)> = pairs.into_iter().filter(|(k, v)| *k != "page" && *k != "lang" && !v.is_empty()).collect();
    kept.sort();
    serde_urlencoded::to_string(&kept).unwrap_or_default()
}

/// Saves a view of the account list for the actor; audited.
pub async fn save_view(store: &(impl UnitOfWork + ?Sized), actor: &Actor, v: NewView) -> Result<SavedView, AppError> {
    let (name, query) = check_view(&v).map_err(AppError::View)?;
    let view = SavedView {
        view_id: format!("v{:08x}", rand::random::<u32>()),
        user_email: actor.id.clone(),
        name,
        query,
        created_at: Utc::now().timestamp_millis(),
    };
    let mut tx = store.begin().await?;
    tx.save_view(&view).await?;
    tx.audit(AuditEntry { actor: &actor.id, action: "view.save", target: None, detail: serde_json::json!({ "view_id": view.view_id, "name": view.name, "query": view.query }) }).await?;
    tx.commit().await?;
    Ok(view)
}

/// Deletes one of the actor's views; not found when it has no such view.
pub async fn delete_view(store: &(impl UnitOfWork + ?Sized), actor: &Actor, view_id: &str) -> Result<(), AppError> {
    let mut tx = store.begin().await?;
    if !tx.delete_view(&actor.id, view_id).await? {
        return Err(AppError::View(ViewError::NotFound(view_id.to_string())));
    }
    tx.audit(AuditEntry { actor: &actor.id, action: "view.delete", target: None, detail: serde_json::json!({ "view_id": view_id }) }).await?;
    tx.commit().await?;
    Ok(())
}

/// The account if it exists and the actor may see it; otherwise not found, either way.
pub async fn visible_account(store: &(impl Accounts + ?Sized), actor: &Actor, id: &str, on: NaiveDate) -> Result<Account, AppError> {
    match store.get_account(id, on).await? {
        Some(account) if actor.sees(&account) => Ok(account),
        _ => Err(AppError::AccountNotFound(id.to_string())),
    }
}

/// The account with its subscriptions, contacts, `latest` activities and churn records.
pub async fn detail(store: &(impl Accounts + Revenue + kizuna_store::Onboarding + ?Sized), actor: &Actor, id: &str, on: NaiveDate, latest: u32) -> Result<AccountDetail, AppError> {
    let account = visible_account(store, actor, id, on).await?;
    Ok(AccountDetail {
        account,
        subscriptions: store.subscriptions(id).await?,
        contacts: store.contacts(id).await?,
        activities: store.activities(id, latest, actor.scope().is_none()).await?,
        churn_records: store.churn_records(id).await?,
        stage_history: store.stage_history(id).await?,
        onboarding_plans: store.plans(&kizuna_store::PlanQuery { account_id: Some(id.to_string()), limit: 50, ..Default::default() }).await?,
    })
}

/// The activity checked: a kind people log, a subject or a body within bounds, a time.
pub fn check_activity(account_id: &str, a: NewActivity, author: Option<String>, partner: bool) -> Result<ActivityRow, ActivityError> {
    let kind: ActivityKind = a.kind.parse().map_err(|_| ActivityError::Kind(a.kind.clone()))?;
    if kind == ActivityKind::SupportTicket {
        return Err(ActivityError::Kind(a.kind));
    }
    let clean = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let (subject, body, attendees, next_steps) = (clean(a.subject), clean(a.body), clean(a.attendees), clean(a.next_steps));
    if subject.is_none() && body.is_none() {
        return Err(ActivityError::Empty);
    }
    let longer = |v: &Option<String>, n: usize| v.as_ref().is_some_and(|s| s.chars().count() > n);
    if longer(&subject, 200) || longer(&body, 20_000) || longer(&attendees, 1_000) || longer(&next_steps, 20_000) {
        return Err(ActivityError::TooLong);
    }
    let internal = match (clean(a.visibility).map(|v| v.to_ascii_lowercase()).as_deref(), partner) {
        (None, partner) => !partner,
        (Some("shared"), _) => false,
        (Some("internal"), false) => true,
        (Some(other), _) => return Err(ActivityError::Visibility(other.to_string())),
    };
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
        attendees,
        next_steps,
        internal,
    })
}

/// Logs the activity on the account's timeline, by `actor`, and audits it.
pub async fn add_activity(store: &(impl Accounts + UnitOfWork + ?Sized), actor: &Actor, id: &str, a: NewActivity) -> Result<ActivityRow, AppError> {
    visible_account(store, actor, id, crate::today()).await?;
    let row = check_activity(id, a, (!actor.via_key).then(|| actor.id.clone()), actor.scope().is_some())?;
    // The activity and its audit entry in one transaction: both or neither.
    let detail = serde_json::json!({ "activity_id": row.activity_id, "kind": row.kind.as_str(), "internal": row.internal });
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
        NewActivity { kind: kind.into(), subject: subject.map(Into::into), body: body.map(Into::into), occurred_at: at.map(Into::into), attendees: None, next_steps: None, visibility: None }
    }

    #[test]
    fn activities_are_checked_before_they_are_written() {
        let row = check_activity("A1", activity("meeting", Some(" QBR "), None, Some("2026-03-01")), Some("c@x.jp".into()), false).unwrap();
        assert_eq!((row.kind, row.subject.as_deref(), row.body), (ActivityKind::Meeting, Some("QBR"), None));
        assert_eq!(row.occurred_at, kizuna_domain::time::start_of_day(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()), "a date is its first moment, business time");
        assert_eq!(row.author_email.as_deref(), Some("c@x.jp"));
        assert!(row.activity_id.starts_with("web-"));
        assert_eq!(check_activity("A1", activity("lunch", Some("x"), None, None), None, false), Err(ActivityError::Kind("lunch".into())));
        assert_eq!(check_activity("A1", activity("support_ticket", Some("x"), None, None), None, false), Err(ActivityError::Kind("support_ticket".into())));
        assert_eq!(check_activity("A1", activity("note", Some("  "), Some(""), None), None, false), Err(ActivityError::Empty));
        assert_eq!(check_activity("A1", activity("note", Some(&"あ".repeat(201)), None, None), None, false), Err(ActivityError::TooLong));
        assert!(check_activity("A1", activity("note", Some(&"あ".repeat(200)), None, None), None, false).is_ok(), "200 characters, not bytes");
        assert_eq!(check_activity("A1", activity("note", Some("x"), None, Some("yesterday")), None, false), Err(ActivityError::Time("yesterday".into())));
    }

    #[test]
    fn staff_entries_are_internal_unless_shared_and_a_partners_are_shared() {
        let with = |visibility: Option<&str>| NewActivity { visibility: visibility.map(Into::into), ..activity("note", Some("x"), None, None) };
        assert!(check_activity("A1", with(None), None, false).unwrap().internal, "staff: internal by default");
        assert!(!check_activity("A1", with(Some("Shared")), None, false).unwrap().internal);
        assert!(!check_activity("A1", with(None), None, true).unwrap().internal, "a partner's own entry is shared");
        assert_eq!(check_activity("A1", with(Some("internal")), None, true), Err(ActivityError::Visibility("internal".into())));
        assert_eq!(check_activity("A1", with(Some("secret")), None, false), Err(ActivityError::Visibility("secret".into())));
        let meeting = NewActivity { attendees: Some(" 山田様、佐藤 ".into()), next_steps: Some("見積送付".into()), ..activity("meeting", Some("定例"), None, None) };
        let row = check_activity("A1", meeting, None, false).unwrap();
        assert_eq!((row.attendees.as_deref(), row.next_steps.as_deref()), (Some("山田様、佐藤"), Some("見積送付")));
        let long = NewActivity { attendees: Some("a".repeat(1001)), ..activity("call", Some("x"), None, None) };
        assert_eq!(check_activity("A1", long, None, false), Err(ActivityError::TooLong));
    }
}
