//! The account list page (the full web UI is built on this layout).

use crate::api::account_query;
use crate::i18n::locale;
use crate::{ApiError, AppState};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse};
use kizuna_domain::money::{format_money, group_thousands};
use serde::Serialize;
use std::collections::HashMap;

#[derive(Serialize)]
struct Row {
    account_id: String,
    name: String,
    segment: String,
    touch_model: String,
    owner: String,
    partner: String,
    stage: String,
    mrr: String,
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    let lang = locale(&headers, &q);
    let query = account_query(&q)?;
    let page = state.store.list_accounts(&query).await?;
    let label = |prefix: &str, v: &Option<String>| match v {
        Some(v) => {
            let key = format!("{prefix}.{v}");
            let text = crate::i18n::t(&key, lang);
            if text == key || text.ends_with(&key) { v.clone() } else { text }
        }
        None => String::new(),
    };
    let rows: Vec<Row> = page
        .accounts
        .iter()
        .map(|a| Row {
            account_id: a.account_id.clone(),
            name: a.name.clone(),
            segment: label("segment", &a.segment),
            touch_model: label("touch", &a.touch_model.map(|t| t.as_str().to_string())),
            owner: a.owner_email.clone().unwrap_or_default(),
            partner: a.partner_id.clone().unwrap_or_default(),
            stage: label("lifecycle", &a.lifecycle_stage),
            mrr: format_money((a.mrr * 100.0).round() as i64, "JPY"),
        })
        .collect();
    let pages = page.total.div_ceil(page.per_page as u64).max(1);
    let link = |to: u64| {
        let mut params: Vec<(String, String)> = q.iter().filter(|(k, _)| *k != "page").map(|(k, v)| (k.clone(), v.clone())).collect();
        params.sort();
        params.push(("page".into(), to.to_string()));
        let encoded: Vec<String> = params.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect();
        format!("/accounts?{}", encoded.join("&"))
    };
    let other = if lang == "ja" { "en" } else { "ja" };
    let html = state.templates.get_template("accounts.html")?.render(minijinja::context! {
        lang,
        other_lang => other,
        rows,
        total => group_thousands(page.total),
        page => page.page,
        pages,
        prev => (page.page > 1).then(|| link(page.page as u64 - 1)),
        next => ((page.page as u64) < pages).then(|| link(page.page as u64 + 1)),
        f_q => q.get("q").cloned().unwrap_or_default(),
        f_segment => q.get("segment").cloned().unwrap_or_default(),
        f_touch => q.get("touch_model").cloned().unwrap_or_default(),
        f_owner => q.get("owner").cloned().unwrap_or_default(),
    })?;
    let cookie = format!("kizuna_lang={lang}; Path=/; Max-Age=31536000; SameSite=Lax");
    Ok(([(header::SET_COOKIE, cookie)], Html(html)))
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
