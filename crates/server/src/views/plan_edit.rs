//! Edit a planning scenario in the browser: the TOML in a text area, checked before it is saved
//! (errors name the key and line, and the text is kept), protected against CSRF. Saving needs
//! a role that may edit plans (admin, CS ops, manager) and is audited.

use super::{csrf, Page};
use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kizuna_domain::access::Permission;
use kizuna_domain::planning::Scenario;
use std::collections::HashMap;

struct Edit {
    name: String,
    body: String,
    message: Option<String>,
    error: Option<String>,
}

fn render(state: &AppState, page: &Page, e: Edit, status: StatusCode) -> Result<Response, ApiError> {
    page.render_status(
        state,
        "plan_edit.html",
        minijinja::context! { name => e.name, body => e.body, message => e.message, error => e.error },
        status,
    )
}

pub async fn form(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    me.require(Permission::ReadPortfolio)?;
    let page = Page::new(&headers, &q, Some(me));
    let name = q.get("name").cloned().unwrap_or_default();
    let body = match name.as_str() {
        "" => kizuna_domain::planning::scenario::EXAMPLE.to_string(),
        n => state.store.scenario(n).await?.unwrap_or_else(|| kizuna_domain::planning::scenario::EXAMPLE.to_string()),
    };
    render(&state, &page, Edit { name, body, message: None, error: None }, StatusCode::OK)
}

pub async fn save(
    State(state): State<AppState>,
    me: Principal,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let page = Page::new(&headers, &q, Some(me.clone()));
    let name = f.get("name").map(|s| s.trim().to_string()).unwrap_or_default();
    let body = f.get("body").cloned().unwrap_or_default().replace("\r\n", "\n");
    let edit = |message, error| Edit { name: name.clone(), body: body.clone(), message, error };
    if !csrf::verify(&headers, f.get(csrf::FIELD).map(String::as_str)) {
        return render(&state, &page, edit(None, Some(page.t("edit.csrf"))), StatusCode::FORBIDDEN);
    }
    if !me.can(Permission::EditPlans) {
        return render(&state, &page, edit(None, Some(page.t("edit.forbidden"))), StatusCode::FORBIDDEN);
    }
    if name.is_empty() || name.chars().count() > 100 {
        let e = format!("name {name:?} must be 1 to 100 characters");
        return render(&state, &page, edit(None, Some(page.t("edit.error").replace("%{error}", &e))), StatusCode::BAD_REQUEST);
    }
    if let Err(e) = Scenario::parse(&body) {
        let msg = page.t("edit.error").replace("%{error}", &e.to_string());
        return render(&state, &page, edit(None, Some(msg)), StatusCode::BAD_REQUEST);
    }
    state.store.save_scenario(&name, &body).await?;
    me.audit(state.store.as_ref(), "scenario.save", Some(&name), serde_json::json!({ "bytes": body.len() })).await?;
    render(&state, &page, edit(Some(page.t("edit.saved").replace("%{name}", &name)), None), StatusCode::OK)
}
