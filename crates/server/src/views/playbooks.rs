//! The CTA configuration editor (`/admin/playbooks`): each playbook's tasks as a table in the
//! reader's language (title, due in business days, who does it), and the configuration's TOML
//! (types, reasons, playbooks, signal thresholds) to edit. CS Ops and admins save it, checked,
//! with a refusal said in the reader's language; everyone else reads.

use super::admin::check_csrf;
use super::ctas::{reason_label, type_label};
use super::Page;
use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kizuna_app::App;
use kizuna_domain::access::Permission;
use kizuna_domain::ctas::CtaConfig;
use std::collections::HashMap;

/// One task of a playbook, ready to show.
#[derive(serde::Serialize)]
struct TaskRow {
    title: String,
    description: Option<String>,
    due_days: u32,
    owner: String,
}

/// One playbook: the CTAs it is applied to, and its tasks.
#[derive(serde::Serialize)]
struct PlaybookRow {
    cta_type: String,
    reason: String,
    tasks: Vec<TaskRow>,
}

fn rows(config: &CtaConfig, page: &Page) -> Vec<PlaybookRow> {
    config
        .playbooks
        .iter()
        .map(|p| PlaybookRow {
            cta_type: type_label(config, &p.cta_type, page.lang),
            reason: p.reason.as_deref().map(|r| reason_label(config, &p.cta_type, r, page.lang)).unwrap_or_else(|| page.t("pb.any_reason")),
            tasks: p
                .tasks
                .iter()
                .map(|t| TaskRow { title: t.title.clone(), description: t.description.clone(), due_days: t.due_days, owner: page.t(&format!("role.{}", t.owner_role)) })
                .collect(),
        })
        .collect()
}

/// The tables show `saved` (what CTAs get now); the box shows `text`, which after a refusal is
/// the refused text, kept to be mended.
#[allow(clippy::too_many_arguments)]
fn render(state: &AppState, page: &Page, me: &Principal, saved: &CtaConfig, text: &str, error: Option<String>, notice: Option<String>, status: StatusCode) -> Result<Response, ApiError> {
    page.render_status(
        state,
        "playbooks.html",
        minijinja::context! { text, error, notice, playbooks => rows(saved, page), can_edit => me.can(Permission::EditPlaybooks) },
        status,
    )
}

/// `GET /admin/playbooks`.
pub async fn page(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let page = Page::new(&headers, &q, Some(me.clone()));
    let app = App::new(state.store.as_ref(), &me);
    let (saved, text) = (app.playbooks().await?, app.playbooks_text().await?);
    render(&state, &page, &me, &saved, &text, None, q.get("saved").map(|_| page.t("pb.saved")), StatusCode::OK)
}

/// `POST /admin/playbooks`: save the edited configuration.
pub async fn save(State(state): State<AppState>, me: Principal, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Result<Response, ApiError> {
    check_csrf(&headers, &f)?;
    let page = Page::new(&headers, &HashMap::new(), Some(me.clone()));
    let text = f.get("config").cloned().unwrap_or_default();
    let app = App::new(state.store.as_ref(), &me);
    match app.save_playbooks(&text).await {
        Ok(_) => Ok(Redirect::to("/admin/playbooks?saved=1").into_response()),
        Err(e @ kizuna_app::AppError::Playbooks(_)) => {
            let error = super::refusal(e, page.lang);
            render(&state, &page, &me, &app.playbooks().await?, &text, Some(error), None, StatusCode::BAD_REQUEST)
        }
        Err(e) => Err(e.into()),
    }
}
