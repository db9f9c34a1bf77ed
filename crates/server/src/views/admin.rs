//! Administration: users and roles, API keys, and the audit log. Every change is audited.

use super::format::datetime;
use super::{csrf, Page};
use crate::auth::Principal;
use crate::{ApiError, AppState, Msg};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kizuna_app::requests::AuditRequest;
use kizuna_app::users::{NewUser, UserChange};
use kizuna_app::App;
use kizuna_domain::access::KeyKind;
use kizuna_domain::Role;
use std::collections::HashMap;

type FormData = HashMap<String, String>;

pub(super) fn check_csrf(headers: &HeaderMap, f: &FormData) -> Result<(), ApiError> {
    if csrf::verify(headers, f.get(csrf::FIELD).map(String::as_str)) {
        Ok(())
    } else {
        Err(ApiError::Denied(crate::Msg::new("edit.csrf")))
    }
}

fn field(f: &FormData, name: &str) -> Option<String> {
    f.get(name).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// A free-text field of at most `max` characters, without control characters.
fn bounded_field(f: &FormData, name: &'static str, max: usize) -> Result<Option<String>, ApiError> {
    let Some(v) = field(f, name) else { return Ok(None) };
    let n = v.chars().count();
    if n > max {
        return Err(ApiError::Invalid(Msg::new("err.field_long").arg("field", name).arg("count", n).arg("max", max)));
    }
    if v.chars().any(char::is_control) {
        return Err(ApiError::Invalid(Msg::new("err.field_control").arg("field", name)));
    }
    Ok(Some(v))
}

fn role_field(f: &FormData) -> Result<Role, ApiError> {
    let raw = field(f, "role").unwrap_or_default();
    raw.parse().map_err(|_| ApiError::Invalid(Msg::new("err.role").arg("value", &raw)))
}

async fn users_page(state: &AppState, me: Principal, headers: &HeaderMap, q: &FormData, notice: Option<String>, error: Option<Msg>, status: StatusCode) -> Result<Response, ApiError> {
    let app = App::new(state.store.as_ref(), &me);
    let (users, partners) = (app.users().await?, app.partners().await?);
    let page = Page::new(headers, q, Some(me.clone()));
    let error = error.map(|m| m.render(page.lang));
    let users: Vec<UserView> = users
        .into_iter()
        .map(|u| UserView {
            role_label: page.t(&format!("role.{}", u.role)),
            role: u.role.to_string(),
            email: u.email,
            name: u.name,
            team: u.team_id,
            partner: u.partner_id,
            deactivated: u.deactivated_at.map(|t| datetime(t, page.lang)),
        })
        .collect();
    let roles: Vec<(String, String)> = Role::ALL.iter().map(|r| (r.as_str().to_string(), page.t(&format!("role.{r}")))).collect();
    page.render_status(state, "admin_users.html", minijinja::context! { users, roles, partners, notice, error }, status)
}

/// The users page after a change: the notice, or the mistake with a 400.
async fn users_outcome(state: &AppState, me: Principal, headers: &HeaderMap, q: &FormData, result: Result<String, ApiError>) -> Result<Response, ApiError> {
    match result {
        Ok(email) => users_page(state, me, headers, q, Some(email), None, StatusCode::OK).await,
        Err(ApiError::Invalid(e)) => users_page(state, me, headers, q, None, Some(e), StatusCode::BAD_REQUEST).await,
        Err(e) => Err(e),
    }
}

pub async fn users(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<FormData>) -> Result<Response, ApiError> {
    users_page(&state, me, &headers, &q, None, None, StatusCode::OK).await
}

pub async fn create_user(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<FormData>, Form(f): Form<FormData>) -> Result<Response, ApiError> {
    check_csrf(&headers, &f)?;
    let result = async {
        let email = bounded_field(&f, "email", 254)?.unwrap_or_default();
        let name = bounded_field(&f, "name", 200)?;
        let team_id = bounded_field(&f, "team_id", 100)?;
        let partner_id = bounded_field(&f, "partner_id", 100)?;
        let role = role_field(&f)?;
        let password = f.get("password").cloned().unwrap_or_default();
        let new = NewUser { email, name, role, team_id, partner_id, password };
        Ok(App::new(state.store.as_ref(), &me).create_user(new).await?.email)
    }
    .await;
    users_outcome(&state, me, &headers, &q, result).await
}

/// Change a user's role (and partner) and, when given, reset the password.
pub async fn update_user(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<FormData>, Form(f): Form<FormData>) -> Result<Response, ApiError> {
    check_csrf(&headers, &f)?;
    let result = async {
        let change = UserChange {
            email: field(&f, "email").unwrap_or_default(),
            role: Some((role_field(&f)?, field(&f, "partner_id"))),
            password: f.get("password").filter(|p| !p.is_empty()).cloned(),
        };
        Ok(App::new(state.store.as_ref(), &me).change_user(change).await?)
    }
    .await;
    users_outcome(&state, me, &headers, &q, result).await
}

/// `POST /admin/users/deactivate` with `email` (and `reactivate=1` to undo): a deactivated user
/// cannot sign in, their sessions end at their next request, and the API keys they created are
/// revoked.
pub async fn deactivate_user(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<FormData>, Form(f): Form<FormData>) -> Result<Response, ApiError> {
    check_csrf(&headers, &f)?;
    let result = async {
        let email = field(&f, "email").unwrap_or_default();
        App::new(state.store.as_ref(), &me).set_user_active(&email, field(&f, "reactivate").is_some()).await?;
        Ok(email.to_lowercase())
    }
    .await;
    users_outcome(&state, me, &headers, &q, result).await
}

async fn keys_page(state: &AppState, me: Principal, headers: &HeaderMap, q: &FormData, secret: Option<String>, error: Option<Msg>, status: StatusCode) -> Result<Response, ApiError> {
    let app = App::new(state.store.as_ref(), &me);
    let (keys, partners) = (app.keys().await?, app.partners().await?);
    let page = Page::new(headers, q, Some(me.clone()));
    let error = error.map(|m| m.render(page.lang));
    let keys: Vec<KeyView> = keys
        .into_iter()
        .map(|k| KeyView {
            created_at: datetime(k.created_at, page.lang),
            revoked: k.revoked_at.map(|t| datetime(t, page.lang)),
            last_used: k.last_used_at.map(|t| datetime(t, page.lang)),
            key_id: k.key_id,
            kind: k.kind,
            label: k.label,
            partner: k.partner_id,
            created_by: k.created_by,
        })
        .collect();
    page.render_status(state, "admin_keys.html", minijinja::context! { keys, partners, secret, error }, status)
}

pub async fn keys(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<FormData>) -> Result<Response, ApiError> {
    keys_page(&state, me, &headers, &q, None, None, StatusCode::OK).await
}

/// Create a key; its secret is shown this once and never again.
pub async fn create_key(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<FormData>, Form(f): Form<FormData>) -> Result<Response, ApiError> {
    check_csrf(&headers, &f)?;
    let kind_raw = field(&f, "kind").unwrap_or_default();
    let Some(kind) = KeyKind::parse(&kind_raw) else {
        let e = Msg::new("err.key_kind").arg("value", &kind_raw);
        return keys_page(&state, me, &headers, &q, None, Some(e), StatusCode::BAD_REQUEST).await;
    };
    let (label, partner) = match (bounded_field(&f, "label", 200), bounded_field(&f, "partner_id", 100)) {
        (Ok(l), Ok(p)) => (l, p),
        (Err(ApiError::Invalid(e)), _) | (_, Err(ApiError::Invalid(e))) => return keys_page(&state, me, &headers, &q, None, Some(e), StatusCode::BAD_REQUEST).await,
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let (secret, _) = App::new(state.store.as_ref(), &me).create_key(kind, label, partner).await?;
    keys_page(&state, me, &headers, &q, Some(secret), None, StatusCode::OK).await
}

pub async fn revoke_key(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<FormData>, Form(f): Form<FormData>) -> Result<Response, ApiError> {
    check_csrf(&headers, &f)?;
    let id = field(&f, "key_id").unwrap_or_default();
    match App::new(state.store.as_ref(), &me).revoke_key(&id).await.map_err(ApiError::from) {
        Ok(()) => keys_page(&state, me, &headers, &q, None, None, StatusCode::OK).await,
        Err(ApiError::Invalid(e)) => keys_page(&state, me, &headers, &q, None, Some(e), StatusCode::BAD_REQUEST).await,
        Err(e) => Err(e),
    }
}

pub async fn audit(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<FormData>) -> Result<Response, ApiError> {
    let request = AuditRequest { page: q.get("page").cloned(), per_page: None, actor: q.get("actor").cloned() };
    let log = App::new(state.store.as_ref(), &me).audit_log(&request).await?;
    let (total, page_no, actor) = (log.total, log.page, crate::params::Params(&request).text("actor").map(str::to_string));
    let page = Page::new(&headers, &q, Some(me));
    let entries: Vec<AuditView> = log
        .entries
        .into_iter()
        .map(|e| AuditView {
            at: datetime(e.at, page.lang),
            actor: e.actor,
            action_label: super::label("audit_action", &e.action, page.lang),
            action: e.action,
            target: e.target,
            detail: e.detail.to_string(),
        })
        .collect();
    let pages = total.div_ceil(100).max(1);
    let link = |n: u64| format!("/admin/audit?page={n}{}", actor.as_ref().map(|a| format!("&actor={}", super::urlencode(a))).unwrap_or_default());
    page.render(
        &state,
        "admin_audit.html",
        minijinja::context! {
            entries, total, page => page_no, pages, f_actor => actor.clone().unwrap_or_default(),
            prev => (page_no > 1).then(|| link(page_no as u64 - 1)), next => ((page_no as u64) < pages).then(|| link(page_no as u64 + 1)),
        },
    )
}

/// `GET /admin/jobs?status=`: the durable jobs, latest scheduled first (the 200 latest).
pub async fn jobs(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<FormData>) -> Result<Response, ApiError> {
    let status = field(&q, "status");
    let jobs = App::new(state.store.as_ref(), &me).jobs(status.as_deref(), 200).await?;
    let page = Page::new(&headers, &q, Some(me));
    let lang = page.lang;
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| datetime(t, lang));
    let jobs: Vec<JobView> = jobs
        .into_iter()
        .map(|j| JobView {
            scheduled_for: datetime(j.scheduled_for, lang),
            kind: super::label("job_kind", &j.kind, lang),
            status_label: super::label("job_status", &j.status, lang),
            attempts: format!("{}/{}", j.attempts, j.max_attempts),
            started: when(j.started_at),
            finished: when(j.finished_at),
            job_id: j.job_id,
            key: j.key,
            status: j.status,
            node: j.node,
            error: j.error,
        })
        .collect();
    let statuses: Vec<(&str, String)> =
        kizuna_domain::jobs::JobStatus::ALL.iter().map(|s| (s.as_str(), super::label("job_status", s.as_str(), lang))).collect();
    page.render(&state, "admin_jobs.html", minijinja::context! { jobs, statuses, f_status => status.unwrap_or_default() })
}

/// A job as the jobs page lists it.
#[derive(serde::Serialize)]
struct JobView {
    job_id: String,
    key: String,
    scheduled_for: String,
    kind: String,
    status: String,
    status_label: String,
    attempts: String,
    node: Option<String>,
    started: Option<String>,
    finished: Option<String>,
    error: Option<String>,
}

/// A staff user as the users page lists it.
#[derive(serde::Serialize)]
struct UserView {
    email: String,
    name: String,
    role: String,
    role_label: String,
    team: Option<String>,
    partner: Option<String>,
    deactivated: Option<String>,
}

/// An API key as the keys page lists it (never its secret).
#[derive(serde::Serialize)]
struct KeyView {
    key_id: String,
    kind: String,
    label: String,
    partner: Option<String>,
    created_by: String,
    created_at: String,
    revoked: Option<String>,
    last_used: Option<String>,
}

/// An audit log entry as the audit page lists it.
#[derive(serde::Serialize)]
struct AuditView {
    at: String,
    actor: String,
    action: String,
    action_label: String,
    target: Option<String>,
    detail: String,
}
