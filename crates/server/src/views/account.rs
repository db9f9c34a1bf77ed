//! Account 360: profile and custom attributes, subscriptions and MRR by month, contacts, the
//! activity timeline (add a note, log a meeting) and churn records.

use super::charts::columns;
use super::format::{date, datetime, money, month, yen};
use super::{csrf, label, urlencode, Page};
use kizuna_app::accounts::NewActivity;
use kizuna_app::App;
use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kizuna_domain::metrics::Month;
use kizuna_domain::portfolio::monthly_mrr;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

pub async fn page(
    State(state): State<AppState>,
    me: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    render(&state, me, &headers, &id, &q, None, StatusCode::OK).await
}

pub(crate) async fn render(
    state: &AppState,
    me: Principal,
    headers: &HeaderMap,
    id: &str,
    q: &HashMap<String, String>,
    error: Option<crate::Msg>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let today = kizuna_domain::time::today();
    let me_partner = me.role == kizuna_domain::Role::Partner;
    let app = App::new(state.store.as_ref(), &me);
    let detail = app.account(id, today, 100).await?;
    let (account, subs) = (detail.account, detail.subscriptions);
    let page = Page::new(headers, q, Some(me.clone()));
    let lang = page.lang;
    let journey = app.journey().await?;
    let stage_label = |s: &str| super::stage_label(&journey, s, lang);
    let stage_history: Vec<StageView> = detail
        .stage_history
        .iter()
        .map(|h| StageView {
            on: date(h.changed_on, lang),
            stage: h.stage.as_deref().map(stage_label).unwrap_or_else(|| "—".into()),
            source_id: h.source.as_str(),
            source: page.t(&format!("stage_source.{}", h.source.as_str())),
            by: h.changed_by.clone().unwrap_or_default(),
            note: h.note.clone().unwrap_or_default(),
        })
        .collect();
    let stages: Vec<(String, String)> = journey.stages.iter().map(|s| (s.name.clone(), journey.label(&s.name, lang).to_string())).collect();
    let plans: Vec<_> = detail
        .onboarding_plans
        .iter()
        .map(|p| {
            let done = p.tasks.iter().filter(|t| t.done_on.is_some()).count();
            minijinja::context! {
                href => format!("/onboarding/plans/{}", urlencode(&p.plan_id)), name => p.name, status => p.status,
                status_label => label("plan_status", p.status.as_str(), lang), due => date(p.due_on, lang), done, total => p.tasks.len(),
            }
        })
        .collect();
    let templates: Vec<(String, String)> = app.onboarding_templates().await?.templates.iter().map(|t| (t.template_id.clone(), t.name.clone())).collect();
    let currency = subs.first().map(|s| s.currency.clone()).unwrap_or_else(|| "JPY".into());
    let now = Month::of(today);
    let history = monthly_mrr(&subs, Month::of(now.first_day() - chrono::Months::new(23)), now);
    let chart = columns(
        &page.t("account.mrr_chart"),
        &history.iter().map(|(m, v)| (month(m.first_day(), lang), *v)).collect::<Vec<_>>(),
        &|v| money(v, &currency),
    );
    let attributes: Vec<(String, String)> = account
        .attributes
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
        .collect();
    let subscriptions = contracts(&subs, today, lang);
    let contacts: Vec<ContactView> = detail
        .contacts
        .into_iter()
        .map(|c| ContactView {
            role: c.role.map(|r| label("contact_role", r.as_str(), lang)),
            last_active: c.last_active.map(|d| date(d, lang)).unwrap_or_default(),
            email: c.email,
            name: c.name,
            title: c.title,
            phone: c.phone,
        })
        .collect();
    let activities: Vec<ActivityView> = detail
        .activities
        .into_iter()
        .map(|a| ActivityView {
            kind: label("activity", a.kind.as_str(), lang),
            kind_id: a.kind.as_str(),
            at: datetime(a.occurred_at, lang),
            author: a.author_email,
            subject: a.subject.map(|s| kizuna_app::timeline::subject_in(&a.activity_id, &s, lang == "ja")),
            body: a.body,
            attendees: a.attendees,
            next_steps: a.next_steps,
            internal: a.internal,
        })
        .collect();
    let churn: Vec<ChurnView> = detail
        .churn_records
        .into_iter()
        .map(|c| ChurnView {
            on: date(c.churned_on, lang),
            reason: label("reason", c.reason.as_str(), lang),
            avoidable: page.t(if c.avoidable { "account.avoidable" } else { "account.unavoidable" }),
            mrr_lost: c.mrr_lost.map(|m| money(m, &currency)),
            note: c.note,
        })
        .collect();
    let profile: Vec<(String, String)> = vec![
        (page.t("col.account_id"), account.account_id.clone()),
        (page.t("col.segment"), account.segment.as_deref().map(|s| label("segment", s, lang)).unwrap_or_default()),
        (page.t("col.touch_model"), account.touch_model.map(|t| label("touch", t.as_str(), lang)).unwrap_or_default()),
        (page.t("col.owner"), account.owner_email.clone().unwrap_or_default()),
        (page.t("col.partner"), account.partner_id.clone().unwrap_or_default()),
        (page.t("col.stage"), account.lifecycle_stage.as_deref().map(stage_label).unwrap_or_default()),
        (page.t("col.mrr"), money(account.mrr, &currency)),
        (page.t("col.arr"), money(account.mrr * 12.0, &currency)),
        (page.t("account.customer_since"), account.created_at.map(|t| date(kizuna_domain::time::local_day(t), lang)).unwrap_or_default()),
    ];
    let s = app.account_summary(account.clone(), today).await?;
    let summary = minijinja::context! {
        mrr => money(account.mrr, &currency), arr => money(s.arr, &currency),
        renewal => s.renewal_date.map(|d| date(d, lang)), days_left => s.days_to_renewal,
        owner => s.owner_name.clone().or_else(|| account.owner_email.clone()),
        last_contact => s.last_contact_at.map(|t| date(kizuna_domain::time::local_day(t), lang)),
        days_since_active => s.days_since_active, open_ctas => s.open_ctas,
        change => s.health_change.map(|c| format!("{c:+.1}")),
    };
    let history_rows: Vec<(String, String)> = history.iter().rev().take(12).map(|(m, v)| (month(m.first_day(), lang), yen(*v))).collect();
    let usage = usage_panel(app, &page, id, today).await?;
    let health = super::health::panel(app, &page, id, today).await?;
    let ctas = super::ctas::account_panel(app, &page, id).await?;
    page.render_status(
        state,
        "account.html",
        minijinja::context! {
            account => AccountHead { id: account.account_id.clone(), name: account.name.clone() },
            action => format!("/accounts/{}/activities", urlencode(&account.account_id)),
            profile, attributes, subscriptions, chart, history_rows, contacts, activities, churn, summary, me_partner,
            error => error.map(|m| m.render(lang)), usage, health, ctas,
            today => today.to_string(),
            stage_history, stages, current_stage => account.lifecycle_stage.clone(),
            stage_action => format!("/accounts/{}/stage", urlencode(&account.account_id)),
            plans, templates, plan_action => format!("/accounts/{}/onboarding", urlencode(&account.account_id)),
        },
        status,
    )
}

/// The usage panel: events per day over the last 70 days (chart and numbers on hover) and every
/// usage metric today; None when the account has sent no usage.
async fn usage_panel(app: App<'_>, page: &Page, id: &str, today: chrono::NaiveDate) -> Result<Option<UsagePanel>, ApiError> {
    let from = today - chrono::Duration::days(69);
    let daily = app.usage_daily(id, from, today).await?;
    if daily.is_empty() {
        return Ok(None);
    }
    let mut per_day: std::collections::BTreeMap<chrono::NaiveDate, f64> = (0..70).map(|i| (from + chrono::Duration::days(i), 0.0)).collect();
    let mut per_type: std::collections::BTreeMap<&str, u64> = Default::default();
    for d in &daily {
        *per_day.entry(d.day).or_default() += d.events as f64;
        *per_type.entry(d.event_type.as_str()).or_default() += d.events;
    }
    let chart = columns(
        &page.t("usage.chart"),
        &per_day.iter().map(|(d, n)| (date(*d, page.lang), *n)).collect::<Vec<_>>(),
        &|v| super::format::count(v as u64),
    );
    let defs = app.usage_definitions().await?;
    let table = app.usage_metrics(today, Some(id)).await?;
    let metrics: Vec<(String, String)> = match table.first() {
        Some(row) => defs
            .metrics
            .iter()
            .map(|m| {
                let v = row.metrics.get(&m.name).and_then(Value::as_f64);
                let shown = match (&m.kind, v) {
                    (_, None) => "—".to_string(),
                    (kizuna_domain::usage::metrics::Kind::Change { .. }, Some(x)) => format!("{:+.1}%", x * 100.0),
                    (_, Some(x)) if x.fract() == 0.0 => super::format::count(x as u64),
                    (_, Some(x)) => format!("{x:.2}"),
                };
                (m.label_in(page.lang).to_string(), shown)
            })
            .collect(),
        None => vec![],
    };
    let types = per_type.iter().map(|(t, n)| (t.to_string(), super::format::count(*n))).collect();
    Ok(Some(UsagePanel { chart, metrics, types }))
}

/// Subscriptions as contracts: one line per product, its billing periods folded beneath it
/// (a monthly plan imported from billing has a row per month).
fn contracts(subs: &[kizuna_domain::Subscription], today: chrono::NaiveDate, lang: &str) -> Vec<ContractView> {
    let mut by_product: Vec<(String, Vec<&kizuna_domain::Subscription>)> = Vec::new();
    for s in subs {
        match by_product.iter_mut().find(|(p, _)| *p == s.product) {
            Some((_, periods)) => periods.push(s),
            None => by_product.push((s.product.clone(), vec![s])),
        }
    }
    by_product
        .into_iter()
        .map(|(_, mut periods)| {
            periods.sort_by_key(|s| s.start_date);
            let running = |s: &kizuna_domain::Subscription| s.start_date <= today && s.end_date.is_none_or(|e| today < e);
            let current = periods.iter().rev().find(|s| running(s)).or(periods.last()).copied().expect("a product has a period");
            let first = periods.first().expect("a product has a period").start_date;
            let last_end = if periods.iter().any(|s| s.end_date.is_none()) { None } else { periods.iter().filter_map(|s| s.end_date).max() };
            let period = |s: &kizuna_domain::Subscription| SubscriptionView {
                product: s.product.clone(),
                start: date(s.start_date, lang),
                end: s.end_date.map(|d| date(d, lang)).unwrap_or_default(),
                mrr: money(s.mrr, &s.currency),
                quantity: s.quantity.map(quantity),
                units: s.units.clone(),
                active: running(s),
            };
            let line = SubscriptionView {
                start: date(first, lang),
                end: last_end.map(|d| date(d, lang)).unwrap_or_default(),
                active: periods.iter().any(|s| running(s)),
                ..period(current)
            };
            ContractView { line, periods: periods.iter().rev().map(|s| period(s)).collect() }
        })
        .collect()
}

/// `1,291` for whole quantities, `12.5` otherwise.
fn quantity(q: f64) -> String {
    if q.fract() == 0.0 && q >= 0.0 { super::format::count(q as u64) } else { format!("{q}") }
}

/// The note / meeting form. On success, back to the account (post/redirect/get); on a mistake,
/// the page again with the message and a 400.
pub async fn add_activity_form(
    State(state): State<AppState>,
    me: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if !csrf::verify(&headers, f.get(csrf::FIELD).map(String::as_str)) {
        return Err(ApiError::Denied(crate::Msg::new("edit.csrf")));
    }
    let a = NewActivity {
        kind: f.get("kind").cloned().unwrap_or_default(),
        subject: f.get("subject").cloned(),
        body: f.get("body").cloned(),
        occurred_at: f.get("occurred_on").cloned(),
        attendees: f.get("attendees").cloned(),
        next_steps: f.get("next_steps").cloned(),
        visibility: f.get("visibility").cloned(),
    };
    match App::new(state.store.as_ref(), &me).add_activity(&id, a).await.map_err(ApiError::from) {
        Ok(_) => Ok(Redirect::to(&format!("/accounts/{}#timeline", urlencode(&id))).into_response()),
        Err(ApiError::Invalid(msg)) => render(&state, me, &headers, &id, &q, Some(msg), StatusCode::BAD_REQUEST).await,
        Err(e) => Err(e),
    }
}

/// Sets the account's stage from the page's form (a manual change, kept in its history).
pub async fn set_stage_form(
    State(state): State<AppState>,
    me: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if !csrf::verify(&headers, f.get(csrf::FIELD).map(String::as_str)) {
        return Err(ApiError::Denied(crate::Msg::new("edit.csrf")));
    }
    let s = kizuna_app::journey::NewStage { stage: f.get("stage").cloned(), changed_on: f.get("changed_on").cloned(), note: f.get("note").cloned() };
    match App::new(state.store.as_ref(), &me).set_stage(&id, s).await.map_err(ApiError::from) {
        Ok(_) => Ok(Redirect::to(&format!("/accounts/{}#stage", urlencode(&id))).into_response()),
        Err(ApiError::Invalid(msg)) => render(&state, me, &headers, &id, &q, Some(msg), StatusCode::BAD_REQUEST).await,
        Err(e) => Err(e),
    }
}

/// A change of the account's stage, formatted.
#[derive(Serialize)]
struct StageView {
    on: String,
    stage: String,
    source_id: &'static str,
    source: String,
    by: String,
    note: String,
}

/// The page's view models: every value formatted in the page language.
#[derive(Serialize)]
struct AccountHead {
    id: String,
    name: String,
}

#[derive(Serialize)]
struct ContractView {
    /// The contract's line: its first start, its last end, the running (or last) period's
    /// MRR and quantity, running or not.
    #[serde(flatten)]
    line: SubscriptionView,
    /// Newest first.
    periods: Vec<SubscriptionView>,
}

#[derive(Serialize)]
struct SubscriptionView {
    product: String,
    start: String,
    end: String,
    mrr: String,
    quantity: Option<String>,
    units: Option<String>,
    active: bool,
}

#[derive(Serialize)]
struct ContactView {
    email: String,
    name: Option<String>,
    role: Option<String>,
    title: Option<String>,
    phone: Option<String>,
    last_active: String,
}

#[derive(Serialize)]
struct ActivityView {
    kind: String,
    kind_id: &'static str,
    at: String,
    author: Option<String>,
    subject: Option<String>,
    body: Option<String>,
    attendees: Option<String>,
    next_steps: Option<String>,
    internal: bool,
}

#[derive(Serialize)]
struct ChurnView {
    on: String,
    reason: String,
    avoidable: String,
    mrr_lost: Option<String>,
    note: Option<String>,
}

/// Usage on the account page: events per day, the metrics by name, events by type.
#[derive(Serialize)]
struct UsagePanel {
    chart: String,
    metrics: Vec<(String, String)>,
    types: Vec<(String, String)>,
}
