//! Edit a planning scenario in the browser: the TOML in a text area, checked before it is saved
//! (errors name the key and line, and the text is kept), protected against CSRF.

use super::csrf;
use crate::i18n::{locale, t};
use crate::{ApiError, AppState};
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use kizuna_domain::planning::Scenario;
use std::collections::HashMap;

struct Page<'a> {
    name: String,
    body: String,
    message: Option<String>,
    error: Option<String>,
    lang: &'a str,
}

fn render(state: &AppState, headers: &HeaderMap, p: Page<'_>, status: StatusCode) -> Result<Response, ApiError> {
    let (token, set_cookie) = csrf::token(headers);
    let html = state.templates.get_template("plan_edit.html")?.render(minijinja::context! {
        lang => p.lang,
        other_lang => if p.lang == "ja" { "en" } else { "ja" },
        name => p.name,
        body => p.body,
        message => p.message,
        error => p.error,
        csrf_token => token,
        csrf_field => csrf::FIELD,
    })?;
    let mut resp = (status, Html(html)).into_response();
    if let Some(c) = set_cookie {
        resp.headers_mut().append(header::SET_COOKIE, c.parse().expect("ASCII cookie"));
    }
    Ok(resp)
}

pub async fn form(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let lang = locale(&headers, &q);
    let name = q.get("name").cloned().unwrap_or_default();
    let body = match name.as_str() {
        "" => kizuna_domain::planning::scenario::EXAMPLE.to_string(),
        n => state.store.scenario(n).await?.unwrap_or_else(|| kizuna_domain::planning::scenario::EXAMPLE.to_string()),
    };
    render(&state, &headers, Page { name, body, message: None, error: None, lang }, StatusCode::OK)
}

pub async fn save(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let lang = locale(&headers, &q);
    let name = f.get("name").map(|s| s.trim().to_string()).unwrap_or_default();
    let body = f.get("body").cloned().unwrap_or_default().replace("\r\n", "\n");
    let page = |message, error| Page { name: name.clone(), body: body.clone(), message, error, lang };
    if !csrf::verify(&headers, f.get(csrf::FIELD).map(String::as_str)) {
        return render(&state, &headers, page(None, Some(t("edit.csrf", lang))), StatusCode::FORBIDDEN);
    }
    if name.is_empty() || name.chars().count() > 100 {
        let e = format!("name {name:?} must be 1 to 100 characters");
        return render(&state, &headers, page(None, Some(t("edit.error", lang).replace("%{error}", &e))), StatusCode::BAD_REQUEST);
    }
    if let Err(e) = Scenario::parse(&body) {
        let msg = t("edit.error", lang).replace("%{error}", &e.to_string());
        return render(&state, &headers, page(None, Some(msg)), StatusCode::BAD_REQUEST);
    }
    state.store.save_scenario(&name, &body).await?;
    render(&state, &headers, page(Some(t("edit.saved", lang).replace("%{name}", &name)), None), StatusCode::OK)
}
