//! Sign-in, sign-out and where each role lands.

use super::{csrf, Page};
use crate::auth::{AuthSession, Credentials, Principal};
use crate::{ApiError, AppState};
use crate::throttle::Locked;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kizuna_domain::Role;
use kizuna_store::AuditEntry;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// A CSM lands on their own book, a partner on its accounts, everyone else on the dashboard.
pub async fn landing(
    state: axum::extract::State<crate::AppState>,
    me: Principal,
    headers: axum::http::HeaderMap,
    q: axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<axum::response::Response, crate::ApiError> {
    use axum::response::IntoResponse;
    match me.role {
        // CSMs and managers live on the home: what needs attention today and why.
        Role::Csm | Role::Manager => super::home::page(state, me, headers, q).await,
        Role::Partner => Ok(Redirect::to("/accounts").into_response()),
        _ => Ok(Redirect::to("/dashboard").into_response()),
    }
}

/// Only a path on this site (not `//evil.example`), so sign-in cannot redirect elsewhere.
fn safe_next(next: Option<&String>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => n.clone(),
        _ => "/".into(),
    }
}

fn render(state: &AppState, page: &Page, next: &str, email: &str, error: Option<String>, status: StatusCode) -> Result<Response, ApiError> {
    page.render_status(state, "login.html", minijinja::context! { next, email, error }, status)
}

pub async fn form(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let page = Page::new(&headers, &q, None);
    render(&state, &page, &safe_next(q.get("next")), "", None, StatusCode::OK)
}

/// The most of a typed e-mail address kept in the audit log (an address has at most 254).
const AUDIT_EMAIL_CHARS: usize = 254;

/// `text` cut to `max` characters, with `…` when something was cut.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// The client's address (the TCP peer; a proxy in front is one address for all).
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())))
    }
}

pub async fn submit(
    State(state): State<AppState>,
    mut auth: AuthSession,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let page = Page::new(&headers, &q, None);
    let next = safe_next(f.get("next"));
    let email = f.get("email").map(|e| e.trim().to_lowercase()).unwrap_or_default();
    let shown = bounded(&email, AUDIT_EMAIL_CHARS);
    if !csrf::verify(&headers, f.get(csrf::FIELD).map(String::as_str)) {
        return render(&state, &page, &next, &shown, Some(page.t("edit.csrf")), StatusCode::FORBIDDEN);
    }
    // The throttle keys on the address cut to its longest possible length: a 250 KB "address"
    // must not become a 250 KB key.
    if let Err(locked) = state.sign_in.check(&shown, addr) {
        return refuse_locked(&state, &page, &next, &shown, locked);
    }
    let password = f.get("password").cloned().unwrap_or_default();
    // A longer address cannot exist; it fails as a wrong password does, without a lookup.
    let user = if email.chars().count() > AUDIT_EMAIL_CHARS {
        None
    } else {
        let creds = Credentials { email: email.clone(), password };
        auth.authenticate(creds).await.map_err(|e| ApiError::Internal(format!("sign-in failed: {e}")))?
    };
    let Some(user) = user else {
        return sign_in_failed(&state, &page, &next, &shown, addr).await;
    };
    state.sign_in.succeeded(&shown);
    // A new session id on every sign-in, also over a session that was signed in already (a
    // planted cookie must not become the victim's session); axum-login cycles only the first.
    auth.session.cycle_id().await.map_err(|e| ApiError::Internal(format!("sign-in failed: {e}")))?;
    auth.login(&user).await.map_err(|e| ApiError::Internal(format!("sign-in failed: {e}")))?;
    state.store.audit(AuditEntry { actor: &user.email, action: "sign_in", target: None, detail: serde_json::json!({}) }).await?;
    Ok(Redirect::to(&next).into_response())
}

/// Records a failure (in the audit log with the address cut to its longest possible length)
/// and answers 401, or 429 when this failure started a lock.
async fn sign_in_failed(state: &AppState, page: &Page, next: &str, shown: &str, addr: Option<IpAddr>) -> Result<Response, ApiError> {
    let failure = state.sign_in.failed(shown, addr);
    let address = addr.map(|a| a.to_string());
    let detail = serde_json::json!({ "address": address, "failures_in_a_row": failure.failures });
    state.store.audit(AuditEntry { actor: shown, action: "sign_in.failed", target: None, detail }).await?;
    if let Some(locked) = failure.locked {
        let detail = serde_json::json!({ "scope": locked.scope.as_str(), "address": address, "seconds": locked.retry_after.as_secs() });
        state.store.audit(AuditEntry { actor: shown, action: "sign_in.locked", target: None, detail }).await?;
        return refuse_locked(state, page, next, shown, locked);
    }
    render(state, page, next, shown, Some(page.t("login.failed")), StatusCode::UNAUTHORIZED)
}

/// 429 with `Retry-After`, and the sign-in page saying how long to wait.
fn refuse_locked(state: &AppState, page: &Page, next: &str, shown: &str, locked: Locked) -> Result<Response, ApiError> {
    let secs = locked.retry_after.as_secs().max(1);
    let minutes = secs.div_ceil(60);
    let message = page.t(&format!("login.locked_{}", locked.scope.as_str())).replace("%{minutes}", &minutes.to_string());
    let mut resp = render(state, page, next, shown, Some(message), StatusCode::TOO_MANY_REQUESTS)?;
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    Ok(resp)
}

pub async fn logout(
    State(state): State<AppState>,
    mut auth: AuthSession,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if !csrf::verify(&headers, f.get(csrf::FIELD).map(String::as_str)) {
        return Err(ApiError::Denied(crate::Msg::new("edit.csrf")));
    }
    if let Some(user) = auth.logout().await.map_err(|e| ApiError::Internal(format!("sign-out failed: {e}")))? {
        state.store.audit(AuditEntry { actor: &user.email, action: "sign_out", target: None, detail: serde_json::json!({}) }).await?;
    }
    Ok(Redirect::to("/login").into_response())
}

#[cfg(test)]
mod tests {
    use super::{bounded, safe_next};

    #[test]
    fn bounded_text_is_cut_on_characters() {
        assert_eq!(bounded("さくら", 2), "さく…");
        assert_eq!(bounded("abc", 3), "abc");
        assert_eq!(bounded(&"x".repeat(500_010), 254).chars().count(), 255);
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some(&"/accounts?x=1".to_string())), "/accounts?x=1");
        assert_eq!(safe_next(Some(&"//evil.example/".to_string())), "/");
        assert_eq!(safe_next(Some(&"https://evil.example/".to_string())), "/");
        assert_eq!(safe_next(Some(&"/\\evil.example".to_string())), "/");
        assert_eq!(safe_next(None), "/");
    }
}
