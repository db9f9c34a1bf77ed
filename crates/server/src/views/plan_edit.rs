//! Edit a planning scenario in the browser: the TOML in a text area, checked before it is saved
//! (errors name the key and line, and the text is kept), protected against CSRF. Saving needs
//! a role that may edit plans (admin, CS ops, manager) and is audited.

use super::{csrf, Page};
use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kizuna_app::planning::PlanError;
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
    let app = kizuna_app::App::new(state.store.as_ref(), &me);
    let name = q.get("name").cloned().unwrap_or_default();
    let saved = match name.as_str() {
        "" => app.scenarios().await.map(|_| None)?,
        n => app.scenario_text(n).await?,
    };
    let body = saved.unwrap_or_else(|| kizuna_domain::planning::scenario::EXAMPLE.to_string());
    let page = Page::new(&headers, &q, Some(me));
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
    match kizuna_app::App::new(state.store.as_ref(), &me).save_scenario(&name, &body).await {
        Ok(()) => render(&state, &page, edit(Some(page.t("edit.saved").replace("%{name}", &name)), None), StatusCode::OK),
        Err(kizuna_app::AppError::Denied(_)) => render(&state, &page, edit(None, Some(page.t("edit.forbidden"))), StatusCode::FORBIDDEN),
        // A refused name or scenario, said in the reader's language; the text stays to be mended.
        Err(e @ kizuna_app::AppError::Plan(PlanError::Name(_) | PlanError::Scenario(_))) => {
            let why = super::refusal(e, page.lang);
            render(&state, &page, edit(None, Some(page.t("edit.error").replace("%{error}", &why))), StatusCode::BAD_REQUEST)
        }
        Err(e) => Err(e.into()),
    }
}
