//! CTA pages: `/ctas` (my work, or the team's, soonest due first, with filters) and
//! `/ctas/{id}` (why it was opened, its tasks, its thread, and the forms that work it: start,
//! snooze, close with an outcome, move the due date or the owner, tick tasks, comment), and the
//! form on the account page that opens one. Each form posts to the same use cases as the API.

use super::format::{date, datetime};
use super::{csrf, urlencode, Page};
use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kizuna_app::ctas::{CtaChange, NewCta, TaskChange};
use kizuna_app::App;
use kizuna_domain::access::Permission;
use kizuna_domain::ctas::CtaConfig;
use kizuna_store::Cta;
use serde::Serialize;
use std::collections::HashMap;

type FormData = HashMap<String, String>;

fn field(f: &FormData, name: &str) -> Option<String> {
    f.get(name).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// A type's or reason's label in the page's language (its name when the configuration has none).
pub(super) fn type_label(config: &CtaConfig, cta_type: &str, lang: &str) -> String {
    config.cta_type(cta_type).map(|t| if lang == "ja" { t.label_ja.clone() } else { t.label_en.clone() }).unwrap_or_else(|| cta_type.to_string())
}

pub(super) fn reason_label(config: &CtaConfig, cta_type: &str, reason: &str, lang: &str) -> String {
    config.reason(cta_type, reason).map(|r| if lang == "ja" { r.label_ja.clone() } else { r.label_en.clone() }).unwrap_or_else(|| reason.to_string())
}

/// The CTA's title; one that is still its reason's label is shown in the reader's language.
fn shown_title(c: &Cta, config: &CtaConfig, lang: &str) -> String {
    match config.reason(&c.cta_type, &c.reason) {
        Some(r) if c.title == r.label_en || c.title == r.label_ja => reason_label(config, &c.cta_type, &c.reason, lang),
        _ => c.title.clone(),
    }
}

/// A CTA as the pages show it: every value formatted in the page language.
#[derive(Serialize)]
struct CtaView {
    id: String,
    href: String,
    account_id: String,
    account_name: String,
    account_href: String,
    type_label: String,
    reason_label: String,
    title: String,
    priority: &'static str,
    priority_label: String,
    status: &'static str,
    status_label: String,
    owner: String,
    due: String,
    due_on: String,
    overdue: bool,
    snoozed_until: String,
    snooze_reason: String,
    source_label: String,
    outcome_label: String,
    close_note: String,
    tasks_done: usize,
    tasks_total: usize,
    created: String,
}

fn view(c: &Cta, config: &CtaConfig, page: &Page, today: chrono::NaiveDate) -> CtaView {
    let lang = page.lang;
    CtaView {
        id: c.cta_id.clone(),
        href: format!("/ctas/{}", urlencode(&c.cta_id)),
        account_id: c.account_id.clone(),
        account_name: c.account_name.clone(),
        account_href: format!("/accounts/{}", urlencode(&c.account_id)),
        type_label: type_label(config, &c.cta_type, lang),
        reason_label: reason_label(config, &c.cta_type, &c.reason, lang),
        title: shown_title(c, config, lang),
        priority: c.priority.as_str(),
        priority_label: super::label("cta_priority", c.priority.as_str(), lang),
        status: c.status.as_str(),
        status_label: super::label("cta_status", c.status.as_str(), lang),
        owner: c.owner_email.clone().unwrap_or_default(),
        due: c.due_on.map(|d| date(d, lang)).unwrap_or_default(),
        due_on: c.due_on.map(|d| d.to_string()).unwrap_or_default(),
        overdue: matches!(c.status, kizuna_domain::ctas::CtaStatus::Open | kizuna_domain::ctas::CtaStatus::InProgress) && c.due_on.is_some_and(|d| d < today),
        snoozed_until: c.snoozed_until.map(|d| date(d, lang)).unwrap_or_default(),
        snooze_reason: c.snooze_reason.clone().unwrap_or_default(),
        source_label: super::label("cta_source", c.source.as_str(), lang),
        outcome_label: c.outcome.map(|o| super::label("cta_outcome", o.as_str(), lang)).unwrap_or_default(),
        close_note: c.close_note.clone().unwrap_or_default(),
        tasks_done: c.tasks.iter().filter(|t| t.done).count(),
        tasks_total: c.tasks.len(),
        created: datetime(c.created_at, lang),
    }
}

/// `GET /ctas?status=&owner=&type=`: CTAs soonest due first. A CSM starts on their own open
/// ones; a manager on the team's.
pub async fn list(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<FormData>) -> Result<Response, ApiError> {
    let page = Page::new(&headers, &q, Some(me.clone()));
    let app = App::new(state.store.as_ref(), &me);
    let config = app.playbooks().await?;
    let status = field(&q, "status").unwrap_or_else(|| "active".into());
    let default_owner = if me.role == kizuna_domain::Role::Csm { "me" } else { "" };
    let owner = q.get("owner").map(|o| o.trim().to_string()).unwrap_or_else(|| default_owner.into());
    let cta_type = field(&q, "type").unwrap_or_default();
    let mut query: FormData = [("status".to_string(), status.clone()), ("per_page".to_string(), "200".to_string())].into();
    if !owner.is_empty() {
        query.insert("owner".into(), owner.clone());
    }
    if !cta_type.is_empty() {
        query.insert("type".into(), cta_type.clone());
    }
    let today = kizuna_app::today();
    let result = app.ctas(&query).await?;
    let ctas: Vec<CtaView> = result.ctas.iter().map(|c| view(c, &config, &page, today)).collect();
    let statuses: Vec<(&str, String)> = ["active", "open", "in_progress", "snoozed", "closed", "all"].iter().map(|s| (*s, super::label("cta_filter", s, page.lang))).collect();
    let types: Vec<(String, String)> = config.types.iter().map(|t| (t.name.clone(), type_label(&config, &t.name, page.lang))).collect();
    page.render(
        &state,
        "ctas.html",
        minijinja::context! {
            ctas, total => result.total, statuses, types, f_status => status, f_owner => owner, f_type => cta_type,
        },
    )
}

/// `GET /ctas/{id}`.
pub async fn show(State(state): State<AppState>, me: Principal, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<FormData>) -> Result<Response, ApiError> {
    render(&state, me, &headers, &id, &q, None, StatusCode::OK).await
}

async fn render(state: &AppState, me: Principal, headers: &HeaderMap, id: &str, q: &FormData, error: Option<crate::Msg>, status: StatusCode) -> Result<Response, ApiError> {
    let page = Page::new(headers, q, Some(me.clone()));
    let lang = page.lang;
    let app = App::new(state.store.as_ref(), &me);
    let config = app.playbooks().await?;
    let detail = app.cta(id).await?;
    let today = kizuna_app::today();
    let cta = view(&detail.cta, &config, &page, today);
    let tasks: Vec<_> = detail
        .cta
        .tasks
        .iter()
        .map(|t| {
            minijinja::context! {
                id => t.task_id, title => t.title, description => t.description, done => t.done,
                owner => t.owner_email.clone().unwrap_or_else(|| super::label("role", &t.owner_role, lang)),
                due => t.due_on.map(|d| date(d, lang)).unwrap_or_default(),
                overdue => !t.done && t.due_on.is_some_and(|d| d < today),
                done_by => t.done_by, done_at => t.done_at.map(|d| datetime(d, lang)),
            }
        })
        .collect();
    let comments: Vec<_> = detail
        .comments
        .iter()
        .map(|c| minijinja::context! { author => c.author, at => datetime(c.at, lang), body => c.body, internal => c.internal })
        .collect();
    let evidence = evidence_rows(&detail.cta.evidence, &page);
    let outcomes: Vec<(&str, String)> = kizuna_domain::ctas::Outcome::ALL.iter().map(|o| (o.as_str(), super::label("cta_outcome", o.as_str(), lang))).collect();
    let can_work = me.can(Permission::WriteActivities);
    page.render_status(
        state,
        "cta.html",
        minijinja::context! {
            cta, tasks, comments, evidence, outcomes, can_work, action => format!("/ctas/{}", urlencode(id)), me_partner => me.role == kizuna_domain::Role::Partner,
            revision => detail.cta.revision.to_string(),
            error => error.map(|m| m.render(lang)), tomorrow => (today + chrono::Duration::days(1)).to_string(),
        },
        status,
    )
}

/// The evidence as (label, value) rows: known figures by name in the page language, the rest
/// as they are.
fn evidence_rows(evidence: &serde_json::Value, page: &Page) -> Vec<(String, String)> {
    let Some(map) = evidence.as_object() else { return vec![] };
    map.iter()
        .filter(|(k, v)| !v.is_null() && k.as_str() != "arr_cents")
        .map(|(k, v)| {
            let value = match (k.as_str(), v) {
                ("drags", serde_json::Value::Array(items)) => items
                    .iter()
                    .filter_map(|d| Some(format!("{} (−{:.1})", d.get(0)?.as_str()?, d.get(1)?.as_f64()?)))
                    .collect::<Vec<_>>()
                    .join(", "),
                ("arr", v) => v.as_f64().map(|a| super::format::money(a, "JPY")).unwrap_or_default(),
                ("drop", v) if v.as_f64().is_some_and(|d| d <= 1.0) && evidence.get("event").is_some() => format!("{:.0}%", v.as_f64().unwrap_or(0.0) * 100.0),
                (_, serde_json::Value::Number(n)) => n.as_f64().map(|f| if f.fract() == 0.0 { format!("{f:.0}") } else { format!("{f:.1}") }).unwrap_or_default(),
                (_, serde_json::Value::String(s)) => s.parse::<chrono::NaiveDate>().map(|d| date(d, page.lang)).unwrap_or_else(|_| s.clone()),
                (_, other) => other.to_string(),
            };
            (super::label("evidence", k, page.lang), value)
        })
        .collect()
}

/// `POST /ctas/{id}`: one of the page's forms (`do`: start, snooze, close, reopen, task,
/// comment, due, owner). Back to the CTA on success; the page with the message on a mistake.
pub async fn act(State(state): State<AppState>, me: Principal, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<FormData>, Form(f): Form<FormData>) -> Result<Response, ApiError> {
    if !csrf::verify(&headers, f.get(csrf::FIELD).map(String::as_str)) {
        return Err(ApiError::Denied(crate::Msg::new("edit.csrf")));
    }
    let app = App::new(state.store.as_ref(), &me);
    let change = |status: &str| CtaChange { status: Some(status.into()), ..Default::default() };
    let result = match field(&f, "do").as_deref() {
        Some("comment") => app.comment_cta(&id, f.get("body").map(String::as_str).unwrap_or(""), f.get("visibility").map(String::as_str)).await.map(drop),
        Some(action) => {
            let c = match action {
                "start" => change("in_progress"),
                "reopen" => change("open"),
                "snooze" => CtaChange { snoozed_until: field(&f, "snoozed_until"), snooze_reason: field(&f, "snooze_reason"), ..change("snoozed") },
                "close" => CtaChange { outcome: field(&f, "outcome"), close_note: field(&f, "close_note"), ..change("closed") },
                "task" => {
                    let task_id = field(&f, "task_id").and_then(|t| t.parse().ok()).unwrap_or(0);
                    CtaChange { tasks: vec![TaskChange { task_id, done: f.get("done").is_some_and(|d| d == "true") }], ..Default::default() }
                }
                "due" => CtaChange { due_on: Some(f.get("due_on").cloned().unwrap_or_default()), shift_tasks: f.contains_key("shift_tasks"), ..Default::default() },
                "owner" => CtaChange { owner_email: Some(f.get("owner_email").cloned().unwrap_or_default()), move_tasks: f.contains_key("move_tasks"), ..Default::default() },
                other => return Err(ApiError::BadRequest(format!("do {other:?} is not one of: start, reopen, snooze, close, task, due, owner, comment"))),
            };
            // The revision the page showed: a change to an older copy is refused, not written.
            let revision = field(&f, "revision").and_then(|r| r.parse().ok());
            app.update_cta(&id, CtaChange { revision, ..c }).await.map(drop)
        }
        None => return Err(ApiError::BadRequest("the form names no action (do)".into())),
    };
    match result.map_err(ApiError::from) {
        Ok(()) => Ok(Redirect::to(&format!("/ctas/{}", urlencode(&id))).into_response()),
        Err(ApiError::Invalid(msg)) => render(&state, me, &headers, &id, &q, Some(msg), StatusCode::BAD_REQUEST).await,
        // Someone changed it since this page was read: the page as it is now, saying so.
        Err(ApiError::Conflict(msg)) => render(&state, me, &headers, &id, &q, Some(msg), StatusCode::CONFLICT).await,
        Err(e) => Err(e),
    }
}

/// `POST /accounts/{id}/ctas`: open a CTA from the account page (`kind` is `type/reason`).
pub async fn create(
    State(state): State<AppState>,
    me: Principal,
    headers: HeaderMap,
    Path(account): Path<String>,
    Query(q): Query<FormData>,
    Form(f): Form<FormData>,
) -> Result<Response, ApiError> {
    if !csrf::verify(&headers, f.get(csrf::FIELD).map(String::as_str)) {
        return Err(ApiError::Denied(crate::Msg::new("edit.csrf")));
    }
    let (cta_type, reason) = field(&f, "kind").and_then(|k| k.split_once('/').map(|(t, r)| (t.to_string(), r.to_string()))).unwrap_or_default();
    let n = NewCta { account_id: account.clone(), cta_type, reason, title: field(&f, "title"), due_on: field(&f, "due_on"), ..Default::default() };
    match App::new(state.store.as_ref(), &me).create_cta(n).await.map_err(ApiError::from) {
        Ok(cta) => Ok(Redirect::to(&format!("/ctas/{}", urlencode(&cta.cta_id))).into_response()),
        Err(ApiError::Invalid(msg)) => super::account::render(&state, me, &headers, &account, &q, Some(msg), StatusCode::BAD_REQUEST).await,
        Err(e) => Err(e),
    }
}

/// The account page's CTA panel: its CTAs not closed, and what can be opened.
#[derive(Serialize)]
pub struct AccountCtas {
    ctas: Vec<CtaView>,
    kinds: Vec<(String, String)>,
    action: String,
}

pub async fn account_panel(app: App<'_>, page: &Page, account: &str) -> Result<AccountCtas, ApiError> {
    let config = app.playbooks().await?;
    let q: FormData = [("account".to_string(), account.to_string()), ("status".to_string(), "active".to_string())].into();
    let today = kizuna_app::today();
    let ctas = app.ctas(&q).await?.ctas.iter().map(|c| view(c, &config, page, today)).collect();
    let kinds = config
        .types
        .iter()
        .flat_map(|t| t.reasons.iter().map(move |r| (t, r)))
        .map(|(t, r)| (format!("{}/{}", t.name, r.name), format!("{} — {}", type_label(&config, &t.name, page.lang), reason_label(&config, &t.name, &r.name, page.lang))))
        .collect();
    Ok(AccountCtas { ctas, kinds, action: format!("/accounts/{}/ctas", urlencode(account)) })
}
