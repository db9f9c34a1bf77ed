//! Server-rendered pages. Templates are compiled into the binary; no CDN, no build step.
//! Every page but sign-in needs a signed-in user ([`Principal`](crate::auth::Principal)).

mod account;
mod accounts;
mod admin;
mod charts;
pub(crate) mod csrf;
mod ctas;
mod dashboard;
mod health;
mod home;
mod journey;
pub(crate) mod format;
mod login;
mod onboarding;
mod page;
mod plan;
mod plan_edit;
mod playbooks;
mod renewals;
mod reports;
mod scorecards;
mod usage;

use crate::error::ErrorMessage;
use crate::i18n::{locale, t};
use crate::AppState;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::Environment;
use std::collections::HashMap;

pub use page::Page;

pub fn routes(state: AppState) -> Router<AppState> {
    // Pages that compute over the whole book run within the same bounds as the API's reports
    // (a few at once per caller and in all, and a time limit), said as a page in the reader's
    // language.
    let expensive = Router::new()
        .route("/", get(login::landing))
        .route("/dashboard", get(dashboard::page))
        .route("/accounts.csv", get(accounts::export))
        .route("/home", get(home::page))
        .route("/renewals", get(renewals::page))
        .route("/reports/{name}", get(reports::page))
        .route("/plan", get(plan::page))
        .route("/onboarding", get(onboarding::page))
        .route_layer(middleware::from_fn_with_state(state.clone(), crate::limits::bounded));
    Router::new()
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/accounts", get(accounts::page))
        .route("/accounts/views", post(accounts::save_view))
        .route("/accounts/views/delete", post(accounts::delete_view))
        .route("/accounts/{id}", get(account::page))
        .route("/accounts/{id}/activities", post(account::add_activity_form))
        .route("/accounts/{id}/stage", post(account::set_stage_form))
        .route("/accounts/{id}/ctas", post(ctas::create))
        .route("/renewals/call", post(renewals::set_call))
        .route("/ctas", get(ctas::list))
        .route("/ctas/{id}", get(ctas::show).post(ctas::act))
        .route("/reports", get(reports::index))
        .route("/plan/edit", get(plan_edit::form).post(plan_edit::save))
        .route("/admin/users", get(admin::users).post(admin::create_user))
        .route("/admin/users/update", post(admin::update_user))
        .route("/admin/users/deactivate", post(admin::deactivate_user))
        .route("/admin/keys", get(admin::keys).post(admin::create_key))
        .route("/admin/keys/revoke", post(admin::revoke_key))
        .route("/admin/audit", get(admin::audit))
        .route("/admin/jobs", get(admin::jobs))
        .route("/admin/onboarding", get(onboarding::templates).post(onboarding::save_templates))
        .route("/admin/playbooks", get(playbooks::page).post(playbooks::save))
        .route("/admin/journey", get(journey::page).post(journey::save))
        .route("/admin/scorecards", get(scorecards::page).post(scorecards::save))
        .route("/admin/usage", get(usage::page).post(usage::save))
        .route("/onboarding/plans/{id}", get(onboarding::plan).post(onboarding::tick))
        .route("/onboarding/plans/{id}/share", post(onboarding::share))
        .route("/accounts/{id}/onboarding", post(onboarding::start))
        .route("/shared/plans/{token}", get(onboarding::shared).post(onboarding::shared_tick))
        .merge(expensive)
        .layer(middleware::from_fn_with_state(state, html_errors))
}

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../templates/layout.html")),
    ("error.html", include_str!("../../templates/error.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("dashboard.html", include_str!("../../templates/dashboard.html")),
    ("accounts.html", include_str!("../../templates/accounts.html")),
    ("health_badge.html", include_str!("../../templates/health_badge.html")),
    ("account.html", include_str!("../../templates/account.html")),
    ("reports.html", include_str!("../../templates/reports.html")),
    ("plan.html", include_str!("../../templates/plan.html")),
    ("plan_edit.html", include_str!("../../templates/plan_edit.html")),
    ("admin_users.html", include_str!("../../templates/admin_users.html")),
    ("admin_keys.html", include_str!("../../templates/admin_keys.html")),
    ("admin_audit.html", include_str!("../../templates/admin_audit.html")),
    ("admin_jobs.html", include_str!("../../templates/admin_jobs.html")),
    ("ctas.html", include_str!("../../templates/ctas.html")),
    ("cta.html", include_str!("../../templates/cta.html")),
    ("home.html", include_str!("../../templates/home.html")),
    ("renewals.html", include_str!("../../templates/renewals.html")),
    ("onboarding.html", include_str!("../../templates/onboarding.html")),
    ("onboarding_plan.html", include_str!("../../templates/onboarding_plan.html")),
    ("onboarding_templates.html", include_str!("../../templates/onboarding_templates.html")),
    ("playbooks.html", include_str!("../../templates/playbooks.html")),
    ("journey.html", include_str!("../../templates/journey.html")),
    ("scorecards.html", include_str!("../../templates/scorecards.html")),
    ("usage.html", include_str!("../../templates/usage.html")),
    ("shared_plan.html", include_str!("../../templates/shared_plan.html")),
];

pub fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        env.add_template(name, source).unwrap_or_else(|e| panic!("template {name}: {e}"));
    }
    env.add_function("t", translate);
    env.add_filter("count", count_filter);
    env
}

/// `{{ n|count }}`: a whole count with thousands separators (`1,234`); anything else as it is.
fn count_filter(v: minijinja::Value) -> String {
    match i64::try_from(v.clone()) {
        Ok(n) if n < 0 => format!("-{}", format::count(n.unsigned_abs())),
        Ok(n) => format::count(n as u64),
        Err(_) => v.to_string(),
    }
}

/// `{{ t("key") }}` in templates, in the page's `lang`; keyword arguments fill `%{name}`.
fn translate(state: &minijinja::State, key: &str, kwargs: minijinja::value::Kwargs) -> Result<String, minijinja::Error> {
    let lang = state.lookup("lang").and_then(|v| v.as_str().map(str::to_string)).unwrap_or_else(|| "ja".into());
    let mut text = t(key, &lang);
    for name in kwargs.args() {
        let v: minijinja::Value = kwargs.get(name)?;
        text = text.replace(&format!("%{{{name}}}"), &v.to_string());
    }
    kwargs.assert_all_used()?;
    Ok(text)
}

/// Errors from page handlers (JSON from [`ApiError`](crate::ApiError)) become an HTML page in
/// the reader's language, with the same status.
async fn html_errors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let query: HashMap<String, String> =
        req.uri().query().map(|q| url_pairs(q).collect()).unwrap_or_default();
    let lang = locale(req.headers(), &query);
    let resp = next.run(req).await;
    let Some(ErrorMessage(english)) = resp.extensions().get::<ErrorMessage>().cloned() else { return resp };
    let message = resp.extensions().get::<crate::Msg>().map(|m| m.render(lang)).unwrap_or(english);
    let status = resp.status();
    let title = t(&format!("error.{}", status.as_u16()), lang);
    let html = state.templates.get_template("error.html").and_then(|tpl| {
        tpl.render(minijinja::context! { lang, other_lang => if lang == "ja" { "en" } else { "ja" }, title, message, status => status.as_u16() })
    });
    match html {
        Ok(html) => (status, axum::response::Html(html)).into_response(),
        Err(e) => {
            tracing::error!("error page: {e}");
            resp
        }
    }
}

fn url_pairs(q: &str) -> impl Iterator<Item = (String, String)> + '_ {
    q.split('&').map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (k.to_string(), v.to_string())
    })
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What a refused edit says to the reader: the error's message in the page's language.
pub(crate) fn refusal(e: kizuna_app::AppError, lang: &str) -> String {
    match crate::ApiError::from(e) {
        crate::ApiError::Invalid(m) => m.render(lang),
        other => other.to_string(),
    }
}

/// A stage's label in the page language: the journey's (the admin's list), or for a stage off
/// the list (an older import's `churned`) the built-in one, else the name itself.
pub fn stage_label(journey: &kizuna_domain::journey::Journey, stage: &str, lang: &str) -> String {
    match journey.stage(stage) {
        Some(_) => journey.label(stage, lang).to_string(),
        None => label("lifecycle", stage, lang),
    }
}

/// The stages a list filters by: the journey's, in order, then `churned` (what imports record
/// for a lost customer) when the journey has no such stage.
pub fn stage_choices(journey: &kizuna_domain::journey::Journey, lang: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = journey.stages.iter().map(|s| (s.name.clone(), stage_label(journey, &s.name, lang))).collect();
    if journey.stage("churned").is_none() {
        out.push(("churned".into(), stage_label(journey, "churned", lang)));
    }
    out
}

/// A label in the page language for a known value (`segment.smb`), else the value as it is.
pub fn label(prefix: &str, value: &str, lang: &str) -> String {
    let key = format!("{prefix}.{value}");
    let text = t(&key, lang);
    if text == key || text.ends_with(&key) { value.to_string() } else { text }
}
