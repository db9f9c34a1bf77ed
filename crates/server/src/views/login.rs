//! Sign-in, sign-out and where each role lands.

use super::{csrf, Page};
use crate::auth::{AuthSession, Credentials, Principal};
use crate::{ApiError, AppState};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kizuna_domain::Role;
use kizuna_store::AuditEntry;
use std::collections::HashMap;

/// A CSM lands on their own book, a partner on its accounts, everyone else on the dashboard.
pub async fn landing(me: Principal) -> Redirect {
    Redirect::to(&match me.role {
        Role::Csm => format!("/accounts?owner={}", super::urlencode(&me.actor)),
        Role::Partner => "/accounts".to_string(),
        _ => "/dashboard".to_string(),
    })
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

pub async fn submit(
    State(state): State<AppState>,
    mut auth: AuthSession,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let page = Page::new(&headers, &q, None);
    let next = safe_next(f.get("next"));
    let email = f.get("email").map(|e| e.trim().to_lowercase()).unwrap_or_default();
    if !csrf::verify(&headers, f.get(csrf::FIELD).map(String::as_str)) {
        return render(&state, &page, &next, &email, Some(page.t("edit.csrf")), StatusCode::FORBIDDEN);
    }
    let creds = Credentials { email: email.clone(), password: f.get("password").cloned().unwrap_or_default() };
    let user = auth.authenticate(creds).await.map_err(|e| ApiError::Internal(format!("sign-in failed: {e}")))?;
    let Some(user) = user else {
        state.store.audit(AuditEntry { actor: &email, action: "sign_in.failed", target: None, detail: serde_json::json!({}) }).await?;
        return render(&state, &page, &next, &email, Some(page.t("login.failed")), StatusCode::UNAUTHORIZED);
    };
    auth.login(&user).await.map_err(|e| ApiError::Internal(format!("sign-in failed: {e}")))?;
    state.store.audit(AuditEntry { actor: &user.email, action: "sign_in", target: None, detail: serde_json::json!({}) }).await?;
    Ok(Redirect::to(&next).into_response())
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
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some(&"/accounts?x=1".to_string())), "/accounts?x=1");
        assert_eq!(safe_next(Some(&"//evil.example/".to_string())), "/");
        assert_eq!(safe_next(Some(&"https://evil.example/".to_string())), "/");
        assert_eq!(safe_next(Some(&"/\\evil.example".to_string())), "/");
        assert_eq!(safe_next(None), "/");
    }
}
