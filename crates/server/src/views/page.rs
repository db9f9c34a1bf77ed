//! What every signed-in page shares: the language, the user and what the user may do (for the
//! navigation), and the CSRF token for forms. Handlers pass only their own context.

use super::csrf;
use crate::auth::Principal;
use crate::i18n::{locale, t};
use crate::{ApiError, AppState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use kizuna_domain::access::Permission;
use std::collections::HashMap;

pub struct Page {
    pub lang: &'static str,
    pub me: Option<Principal>,
    csrf_token: String,
    set_csrf: Option<String>,
    set_lang: bool,
    /// This page in the other language, its filters kept (a link relative to the path).
    lang_href: String,
}

impl Page {
    pub fn new(headers: &HeaderMap, q: &HashMap<String, String>, me: Option<Principal>) -> Self {
        let (csrf_token, set_csrf) = csrf::token(headers);
        let lang = locale(headers, q);
        let mut params: Vec<(&String, &String)> = q.iter().filter(|(k, v)| *k != "lang" && !v.is_empty()).collect();
        params.sort();
        let mut lang_href: String = params.iter().map(|(k, v)| format!("{}={}&", super::urlencode(k), super::urlencode(v))).collect();
        lang_href = format!("?{lang_href}lang={}", if lang == "ja" { "en" } else { "ja" });
        Page { lang, me, csrf_token, set_csrf, set_lang: q.contains_key("lang"), lang_href }
    }

    pub fn t(&self, key: &str) -> String {
        t(key, self.lang)
    }

    pub fn render(&self, state: &AppState, template: &str, ctx: minijinja::Value) -> Result<Response, ApiError> {
        self.render_status(state, template, ctx, StatusCode::OK)
    }

    pub fn render_status(&self, state: &AppState, template: &str, ctx: minijinja::Value, status: StatusCode) -> Result<Response, ApiError> {
        let me = self.me.as_ref().map(|m| {
            minijinja::context! {
                name => m.name, actor => m.id, role => m.role.as_str(), role_label => t(&format!("role.{}", m.role), self.lang),
            }
        });
        let can = |p| self.me.as_ref().is_some_and(|m| m.can(p));
        let base = minijinja::context! {
            lang => self.lang,
            other_lang => if self.lang == "ja" { "en" } else { "ja" },
            lang_href => self.lang_href,
            me,
            can_portfolio => can(Permission::ReadPortfolio),
            can_write => can(Permission::WriteActivities),
            can_plans => can(Permission::EditPlans),
            can_audit => can(Permission::ReadAudit),
            can_admin => can(Permission::Admin),
            csrf_token => self.csrf_token,
            csrf_field => csrf::FIELD,
        };
        let html = state.templates.get_template(template)?.render(minijinja::context! { ..ctx, ..base })?;
        let mut resp = (status, Html(html)).into_response();
        let headers = resp.headers_mut();
        if let Some(c) = &self.set_csrf {
            headers.append(header::SET_COOKIE, HeaderValue::from_str(c).expect("ASCII cookie"));
        }
        if self.set_lang {
            let c = format!("kizuna_lang={}; Path=/; Max-Age=31536000; SameSite=Lax", self.lang);
            headers.append(header::SET_COOKIE, HeaderValue::from_str(&c).expect("ASCII cookie"));
        }
        Ok(resp)
    }
}
