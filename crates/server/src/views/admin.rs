//! Administration: users and roles, API keys, and the audit log. Every change is audited.

use super::format::datetime;
use super::{csrf, Page};
use crate::auth::Principal;
use crate::{ApiError, AppState, Msg};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kizuna_domain::access::{hash_new_password, KeyKind, PasswordError, Permission, MIN_PASSWORD_CHARS, MIN_PASSWORD_SCORE};
use kizuna_domain::Role;
use serde_json::json;
use std::collections::HashMap;

type FormData = HashMap<String, String>;

fn check_csrf(headers: &HeaderMap, f: &FormData) -> Result<(), ApiError> {
    if csrf::verify(headers, f.get(csrf::FIELD).map(String::as_str)) {
        Ok(())
    } else {
        Err(ApiError::Denied(crate::Msg::new("edit.csrf")))
    }
}

/// A password an admin chose for `email` (named `name`), checked by the password policy.
fn password_hash(password: &str, email: &str, name: Option<&str>) -> Result<String, ApiError> {
    hash_new_password(password, &[email, name.unwrap_or("")]).map_err(password_error)
}

fn password_error(e: PasswordError) -> ApiError {
    match e {
        PasswordError::TooShort(n) => ApiError::Invalid(Msg::new("err.password_short").arg("count", n).arg("min", MIN_PASSWORD_CHARS)),
        PasswordError::Blank => ApiError::Invalid(Msg::new("err.password_blank")),
        PasswordError::Weak(score) => ApiError::Invalid(Msg::new("err.password_weak").arg("score", score).arg("min", MIN_PASSWORD_SCORE)),
        other => ApiError::Internal(other.to_string()),
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

/// A partner user must name its partner; other roles must not.
fn partner_field(f: &FormData, role: Role) -> Result<Option<String>, ApiError> {
    match (role, field(f, "partner_id")) {
        (Role::Partner, None) => Err(ApiError::Invalid(Msg::new("err.partner_required"))),
        (Role::Partner, p) => Ok(p),
        (_, _) => Ok(None),
    }
}

async fn users_page(state: &AppState, me: Principal, headers: &HeaderMap, q: &FormData, notice: Option<String>, error: Option<Msg>, status: StatusCode) -> Result<Response, ApiError> {
    let page = Page::new(headers, q, Some(me));
    let error = error.map(|m| m.render(page.lang));
    let users: Vec<UserView> = state
        .store
        .staff_users()
        .await?
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
    let partners = state.store.partners().await?;
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
    me.require(Permission::Admin)?;
    users_page(&state, me, &headers, &q, None, None, StatusCode::OK).await
}

pub async fn create_user(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<FormData>, Form(f): Form<FormData>) -> Result<Response, ApiError> {
    me.require(Permission::Admin)?;
    check_csrf(&headers, &f)?;
    let result = async {
        let email = bounded_field(&f, "email", 254)?.unwrap_or_default();
        let name = bounded_field(&f, "name", 200)?;
        let team_id = bounded_field(&f, "team_id", 100)?;
        let partner_id = bounded_field(&f, "partner_id", 100)?;
        let role = role_field(&f)?;
        let password = f.get("password").cloned().unwrap_or_default();
        let new = kizuna_app::users::NewUser { email, name, role, team_id, partner_id, password };
        let row = kizuna_app::users::create_user(state.store.as_ref(), &me.actor, new).await.map_err(user_error)?;
        Ok(row.email)
    }
    .await;
    users_outcome(&state, me, &headers, &q, result).await
}

/// What the admin page says when a user cannot be created.
fn user_error(e: kizuna_app::users::UserError) -> ApiError {
    use kizuna_app::users::UserError;
    match e {
        UserError::Email(_) => ApiError::Invalid(Msg::new("err.email")),
        UserError::PartnerNeeded => ApiError::Invalid(Msg::new("err.partner_required")),
        UserError::Password(p) => password_error(p),
        UserError::Exists(email) => ApiError::Invalid(Msg::new("err.user_exists").arg("email", &email)),
        UserError::Store(s) => ApiError::Store(s),
    }
}

/// Change a user's role (and partner) and, when given, reset the password.
pub async fn update_user(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<FormData>, Form(f): Form<FormData>) -> Result<Response, ApiError> {
    me.require(Permission::Admin)?;
    check_csrf(&headers, &f)?;
    let result = async {
        let email = field(&f, "email").unwrap_or_default();
        let role = role_field(&f)?;
        let partner_id = partner_field(&f, role)?;
        if email == me.actor && role != Role::Admin {
            return Err(ApiError::Invalid(Msg::new("err.self_demote")));
        }
        if !state.store.set_role(&email, role, partner_id.as_deref()).await? {
            return Err(ApiError::Invalid(Msg::new("err.no_user").arg("email", &email)));
        }
        let password = f.get("password").filter(|p| !p.is_empty());
        if let Some(p) = password {
            let hash = password_hash(p, &email, None)?;
            state.store.set_password(&email, &hash).await?;
        }
        let detail = json!({ "role": role.as_str(), "partner_id": partner_id, "password_reset": password.is_some() });
        me.audit(state.store.as_ref(), "user.update", Some(&email), detail).await?;
        Ok(email)
    }
    .await;
    users_outcome(&state, me, &headers, &q, result).await
}

/// `POST /admin/users/deactivate` with `email` (and `reactivate=1` to undo): a deactivated user
/// cannot sign in, their sessions end at their next request, and the API keys they created are
/// revoked.
pub async fn deactivate_user(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<FormData>, Form(f): Form<FormData>) -> Result<Response, ApiError> {
    me.require(Permission::Admin)?;
    check_csrf(&headers, &f)?;
    let result = async {
        let email = field(&f, "email").map(|e| e.to_lowercase()).unwrap_or_default();
        if email == me.actor {
            return Err(ApiError::Invalid(Msg::new("err.self_deactivate")));
        }
        let no_user = || ApiError::Invalid(Msg::new("err.no_user").arg("email", &email));
        if field(&f, "reactivate").is_some() {
            if !state.store.reactivate_user(&email).await? {
                return Err(no_user());
            }
            me.audit(state.store.as_ref(), "user.reactivate", Some(&email), json!({})).await?;
        } else {
            let keys = state.store.deactivate_user(&email, chrono::Utc::now()).await?.ok_or_else(no_user)?;
            me.audit(state.store.as_ref(), "user.deactivate", Some(&email), json!({ "keys_revoked": keys })).await?;
        }
        Ok(email)
    }
    .await;
    users_outcome(&state, me, &headers, &q, result).await
}

async fn keys_page(state: &AppState, me: Principal, headers: &HeaderMap, q: &FormData, secret: Option<String>, error: Option<Msg>, status: StatusCode) -> Result<Response, ApiError> {
    let page = Page::new(headers, q, Some(me));
    let error = error.map(|m| m.render(page.lang));
    let keys: Vec<KeyView> = state
        .store
        .api_keys()
        .await?
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
    let partners = state.store.partners().await?;
    page.render_status(state, "admin_keys.html", minijinja::context! { keys, partners, secret, error }, status)
}

pub async fn keys(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<FormData>) -> Result<Response, ApiError> {
    me.require(Permission::Admin)?;
    keys_page(&state, me, &headers, &q, None, None, StatusCode::OK).await
}

/// Create a key; its secret is shown this once and never again.
pub async fn create_key(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<FormData>, Form(f): Form<FormData>) -> Result<Response, ApiError> {
    me.require(Permission::Admin)?;
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
    let key = crate::auth::create_api_key(state.store.as_ref(), &me.actor, kind, label, partner).await?;
    me.audit(state.store.as_ref(), "key.create", Some(&key.1.key_id), json!({ "kind": kind.as_str(), "partner_id": key.1.partner_id })).await?;
    keys_page(&state, me, &headers, &q, Some(key.0), None, StatusCode::OK).await
}

pub async fn revoke_key(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<FormData>, Form(f): Form<FormData>) -> Result<Response, ApiError> {
    me.require(Permission::Admin)?;
    check_csrf(&headers, &f)?;
    let id = field(&f, "key_id").unwrap_or_default();
    if !state.store.revoke_api_key(&id, chrono::Utc::now()).await? {
        let e = Msg::new("err.no_key").arg("id", &id);
        return keys_page(&state, me, &headers, &q, None, Some(e), StatusCode::BAD_REQUEST).await;
    }
    me.audit(state.store.as_ref(), "key.revoke", Some(&id), json!({})).await?;
    keys_page(&state, me, &headers, &q, None, None, StatusCode::OK).await
}

pub async fn audit(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<FormData>) -> Result<Response, ApiError> {
    me.require(Permission::ReadAudit)?;
    let p = crate::params::Params(&q);
    let page_no = p.number("page", 1, u32::MAX)?.unwrap_or(1);
    let actor = p.text("actor");
    let (total, entries) = state.store.audit_log(actor.as_deref(), page_no, 100).await?;
    let page = Page::new(&headers, &q, Some(me));
    let entries: Vec<AuditView> = entries
        .into_iter()
        .map(|e| AuditView { at: datetime(e.at, page.lang), actor: e.actor, action: e.action, target: e.target, detail: e.detail.to_string() })
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
    target: Option<String>,
    detail: String,
}
