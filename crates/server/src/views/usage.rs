//! The usage configuration (`/admin/usage`): each usage metric with its labels and how it is
//! computed, and where SDK group traits go on accounts, in the reader's language; CS Ops,
//! managers and admins edit the TOML, checked, with a refusal said in the reader's language.

use super::admin::check_csrf;
use super::Page;
use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kizuna_app::App;
use kizuna_domain::access::Permission;
use kizuna_domain::usage::metrics::{Definitions, Kind, MetricDef};
use kizuna_domain::usage::traits::{Target, TraitRule};
use std::collections::HashMap;

#[derive(serde::Serialize)]
struct MetricRow {
    name: String,
    label: String,
    how: String,
}

#[derive(serde::Serialize)]
struct TraitRow {
    name: String,
    to: String,
    overwrite: String,
}

/// How a metric is computed, naming the metrics it reads by their labels.
fn how(m: &MetricDef, labels: &HashMap<&str, &str>, page: &Page) -> String {
    let metric = |n: &str| labels.get(n).map(|l| l.to_string()).unwrap_or_else(|| n.to_string());
    let fill = |key: &str, args: &[(&str, String)]| args.iter().fold(page.t(key), |t, (k, v)| t.replace(&format!("%{{{k}}}"), v));
    match &m.kind {
        Kind::Count { event, days } => fill("um.kind.count", &[("event", event.clone()), ("days", days.to_string())]),
        Kind::Sum { event, days } => fill("um.kind.sum", &[("event", event.clone()), ("days", days.to_string())]),
        Kind::ActiveUsers { event: Some(e), days } => fill("um.kind.active_users", &[("event", e.clone()), ("days", days.to_string())]),
        Kind::ActiveUsers { event: None, days } => fill("um.kind.active_users_any", &[("days", days.to_string())]),
        Kind::ActiveDays { event: Some(e), days } => fill("um.kind.active_days", &[("event", e.clone()), ("days", days.to_string())]),
        Kind::ActiveDays { event: None, days } => fill("um.kind.active_days_any", &[("days", days.to_string())]),
        Kind::DaysSince { event } => fill("um.kind.days_since", &[("event", event.clone())]),
        Kind::Ratio { numerator, denominator } => fill("um.kind.ratio", &[("numerator", metric(numerator)), ("denominator", metric(denominator))]),
        Kind::Change { of } => fill("um.kind.change", &[("of", metric(of))]),
        Kind::TenureScaled { of } => fill("um.kind.tenure_scaled", &[("of", metric(of))]),
    }
}

/// Where a trait goes, in the reader's language.
fn target(rule: &TraitRule, page: &Page) -> String {
    match Target::parse(&rule.to) {
        Some(Target::Name) => page.t("col.name"),
        Some(Target::Segment) => page.t("col.segment"),
        Some(Target::LifecycleStage) => page.t("col.stage"),
        Some(Target::Attribute(a)) => format!("{}: {a}", page.t("health.attribute")),
        Some(Target::Drop) => page.t("um.drop"),
        None => rule.to.clone(),
    }
}

fn rows(defs: &Definitions, page: &Page) -> (Vec<MetricRow>, Vec<TraitRow>) {
    let labels: HashMap<&str, &str> = defs.metrics.iter().map(|m| (m.name.as_str(), m.label_in(page.lang))).collect();
    let metrics = defs.metrics.iter().map(|m| MetricRow { name: m.name.clone(), label: m.label_in(page.lang).to_string(), how: how(m, &labels, page) }).collect();
    let traits = defs
        .traits
        .iter()
        .map(|r| TraitRow { name: r.name.clone(), to: target(r, page), overwrite: page.t(if r.overwrite { "um.overwrite" } else { "um.fill" }) })
        .collect();
    (metrics, traits)
}

#[allow(clippy::too_many_arguments)]
async fn render(state: &AppState, page: &Page, me: &Principal, app: &App<'_>, text: &str, error: Option<String>, notice: Option<String>, status: StatusCode) -> Result<Response, ApiError> {
    let (metrics, traits) = rows(&app.usage_definitions().await?, page);
    page.render_status(
        state,
        "usage.html",
        minijinja::context! { text, error, notice, metrics, traits, can_edit => me.can(Permission::EditPlans) },
        status,
    )
}

/// `GET /admin/usage`.
pub async fn page(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let page = Page::new(&headers, &q, Some(me.clone()));
    let app = App::new(state.store.as_ref(), &me);
    let text = app.usage_definitions_text().await?;
    render(&state, &page, &me, &app, &text, None, q.get("saved").map(|_| page.t("um.saved")), StatusCode::OK).await
}

/// `POST /admin/usage`: save the edited usage configuration.
pub async fn save(State(state): State<AppState>, me: Principal, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Result<Response, ApiError> {
    check_csrf(&headers, &f)?;
    let page = Page::new(&headers, &HashMap::new(), Some(me.clone()));
    let text = f.get("definitions").cloned().unwrap_or_default().replace("\r\n", "\n");
    let app = App::new(state.store.as_ref(), &me);
    match app.save_usage_definitions(&text).await {
        Ok(_) => Ok(Redirect::to("/admin/usage?saved=1").into_response()),
        Err(e @ kizuna_app::AppError::Usage(_)) => {
            let error = super::refusal(e, page.lang);
            render(&state, &page, &me, &app, &text, Some(error), None, StatusCode::BAD_REQUEST).await
        }
        Err(e) => Err(e.into()),
    }
}
