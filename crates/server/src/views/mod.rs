//! Server-rendered pages. Templates are compiled into the binary; no CDN, no build step.

mod accounts;
mod charts;
mod csrf;
mod plan;
mod plan_edit;

use crate::AppState;
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use minijinja::{Environment, State};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/accounts") }))
        .route("/accounts", get(accounts::page))
        .route("/plan", get(plan::page))
        .route("/plan/edit", get(plan_edit::form).post(plan_edit::save))
}

pub fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    env.add_template("layout.html", include_str!("../../templates/layout.html")).expect("layout.html");
    env.add_template("accounts.html", include_str!("../../templates/accounts.html")).expect("accounts.html");
    env.add_template("plan.html", include_str!("../../templates/plan.html")).expect("plan.html");
    env.add_template("plan_edit.html", include_str!("../../templates/plan_edit.html")).expect("plan_edit.html");
    env.add_function("t", translate);
    env
}

/// `{{ t("key") }}` in templates, in the page's `lang`; `count`, `page`, `pages` fill `%{...}`.
fn translate(state: &State, key: &str, kwargs: minijinja::value::Kwargs) -> Result<String, minijinja::Error> {
    let lang = state.lookup("lang").and_then(|v| v.as_str().map(str::to_string)).unwrap_or_else(|| "ja".into());
    let mut text = crate::i18n::t(key, &lang);
    for name in ["count", "page", "pages"] {
        if let Some(v) = kwargs.get::<Option<minijinja::Value>>(name)? {
            text = text.replace(&format!("%{{{name}}}"), &v.to_string());
        }
    }
    kwargs.assert_all_used()?;
    Ok(text)
}
