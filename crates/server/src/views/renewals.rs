//! The renewals centre (`/renewals`): upcoming renewals with ARR, health and trend, open risk
//! CTAs, last contact and the forecast call a CSM sets; totals by month and by call.

use super::format::{date, money};
use super::{csrf, label, urlencode, Page};
use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use kizuna_app::renewals::{NewCall, CALLS};
use kizuna_app::App;
use std::collections::HashMap;

pub async fn page(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let page = Page::new(&headers, &q, Some(me.clone()));
    let lang = page.lang;
    let v = App::new(state.store.as_ref(), &me).renewals(&q).await?;
    let yen = |x: f64| money(x, "JPY");
    let calls: Vec<(&str, String)> = CALLS.iter().map(|c| (*c, label("forecast_call", c, lang))).collect();
    let rows: Vec<_> = v
        .renewals
        .iter()
        .map(|r| {
            minijinja::context! {
                account_id => r.account_id, account => r.name, href => format!("/accounts/{}", urlencode(&r.account_id)), owner => r.owner_email,
                date => date(r.renewal_date, lang), renewal_date => r.renewal_date.to_string(), days => r.days_left, arr => yen(r.arr),
                band => r.health_band, score => r.health_score.map(super::format::score), trend => r.health_trend.map(|t| format!("{t:+.1}")),
                risk => r.open_risk_ctas, churn => r.churn_probability.map(|p| format!("{:.1}%", p * 100.0)), last_contact => r.last_contact_at.map(|d| date(d, lang)), call => r.forecast_call,
            }
        })
        .collect();
    let months: Vec<_> = v
        .months
        .iter()
        .map(|m| {
            let by: Vec<(String, String)> = m.by_call.iter().map(|(c, a)| (label("forecast_call", c, lang), yen(*a))).collect();
            let shown = kizuna_domain::metrics::Month::parse(&m.month).map(|d| super::format::month(d.first_day(), lang)).unwrap_or_else(|| m.month.clone());
            minijinja::context! { month => shown, accounts => m.accounts, arr => yen(m.arr), by }
        })
        .collect();
    let totals: Vec<(String, String)> = v.by_call.iter().map(|(c, a)| (label("forecast_call", c, lang), yen(*a))).collect();
    page.render(
        &state,
        "renewals.html",
        minijinja::context! {
            rows, months, totals, calls, arr => yen(v.arr), from => v.from.to_string(), to => v.to.to_string(),
            owner => q.get("owner").cloned().unwrap_or_else(|| if me.role == kizuna_domain::Role::Csm { "me".into() } else { String::new() }),
            list_from => q.get("from").cloned(), list_to => q.get("to").cloned(),
        },
    )
}

/// `POST /renewals/call`: the call chosen on a row; back to the list.
pub async fn set_call(State(state): State<AppState>, me: Principal, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Result<Response, ApiError> {
    if !csrf::verify(&headers, f.get(csrf::FIELD).map(String::as_str)) {
        return Err(ApiError::Denied(crate::Msg::new("edit.csrf")));
    }
    let account = f.get("account_id").cloned().unwrap_or_default();
    let c = NewCall {
        renewal_date: f.get("renewal_date").cloned().unwrap_or_default(),
        forecast_call: f.get("forecast_call").cloned().unwrap_or_default(),
        note: f.get("note").cloned(),
    };
    App::new(state.store.as_ref(), &me).set_renewal_call(&account, c).await?;
    // Back to the list as it was filtered (whose book, which dates), at the row.
    let kept: Vec<String> = ["owner", "from", "to"]
        .iter()
        .filter_map(|k| f.get(&format!("list_{k}")).map(|v| format!("{k}={}", urlencode(v))))
        .collect();
    let query = if kept.is_empty() { String::new() } else { format!("?{}", kept.join("&")) };
    Ok(Redirect::to(&format!("/renewals{query}#{}", urlencode(&account))).into_response())
}
