//! Onboarding pages: the report (`/onboarding`: the completion-rate KPI with its cohorts and
//! groups, the churn comparison, the plans), a plan (`/onboarding/plans/{id}`: its phases and
//! tasks to tick, a link to share), the templates editor (`/admin/onboarding`), and the shared
//! plan the customer opens without signing in (`/shared/plans/{token}`).

use super::charts::columns;
use super::format::{count, date, pct};
use super::admin::check_csrf;
use super::{label, urlencode, Page};
use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kizuna_app::onboarding::{verdict_text, NewPlan, TaskChange};
use kizuna_app::App;
use kizuna_domain::onboarding::{Comparison, Kpis, Plan, PlanTask};
use std::collections::HashMap;

fn days(v: Option<f64>, lang: &str) -> String {
    match v {
        None => "—".into(),
        Some(d) if lang == "ja" => format!("{d:.1} 日"),
        Some(d) => format!("{d:.1} days"),
    }
}

fn kpi_row(k: &Kpis, lang: &str) -> minijinja::Value {
    minijinja::context! {
        group => k.group, started => count(k.started), completed => count(k.completed), on_time => count(k.completed_on_time),
        due => count(k.due_in_period), due_done => count(k.completed_in_due_period), rate => pct(k.completion_rate_in_period),
        to_complete => days(k.median_days_to_complete, lang), to_value => days(k.median_days_to_first_value, lang), stuck => count(k.stuck),
    }
}

fn comparison(c: &Comparison, lang: &str) -> minijinja::Value {
    let ci = |lo: Option<f64>, hi: Option<f64>| match (lo, hi) {
        (Some(l), Some(h)) => format!("{} – {}", pct(Some(l)), pct(Some(h))),
        _ => "—".into(),
    };
    let signed = |v: Option<f64>| v.map(|d| format!("{:+.1} pt", d * 100.0)).unwrap_or_else(|| "—".into());
    minijinja::context! {
        group => c.group, verdict => c.verdict, verdict_text => verdict_text(c.verdict, lang),
        on_n => count(c.on_time.accounts), on_churned => count(c.on_time.churned), on_rate => pct(c.on_time.churn_rate), on_ci => ci(c.on_time.ci_low, c.on_time.ci_high),
        late_n => count(c.late.accounts), late_churned => count(c.late.churned), late_rate => pct(c.late.churn_rate), late_ci => ci(c.late.ci_low, c.late.ci_high),
        diff => signed(c.difference), diff_ci => match (c.difference_low, c.difference_high) { (Some(l), Some(h)) => format!("{} – {}", signed(Some(l)), signed(Some(h))), _ => "—".into() },
    }
}

fn plan_line(p: &Plan, lang: &str) -> minijinja::Value {
    let done = p.tasks.iter().filter(|t| t.done_on.is_some()).count();
    minijinja::context! {
        href => format!("/onboarding/plans/{}", urlencode(&p.plan_id)), name => p.name, account => p.account_name,
        account_href => format!("/accounts/{}", urlencode(&p.account_id)), status => p.status, status_label => label("plan_status", p.status.as_str(), lang),
        started => date(p.started_on, lang), due => date(p.due_on, lang), completed => p.completed_on.map(|d| date(d, lang)), done, total => p.tasks.len(), owner => p.owner_email,
    }
}

/// `GET /onboarding`: the KPI report (`from`, `to`, `by`, `at`), the churn comparison and the
/// plans (`status`, `page`).
pub async fn page(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let page = Page::new(&headers, &q, Some(me.clone()));
    let lang = page.lang;
    let app = App::new(state.store.as_ref(), &me);
    let report = app.onboarding_report(&q).await?;
    let mut impact_q: HashMap<String, String> = HashMap::new();
    if let Some(at) = q.get("at") {
        impact_q.insert("at".into(), at.clone());
    }
    let impact = app.onboarding_impact(&impact_q).await?;
    let mut plan_q = q.clone();
    plan_q.remove("by");
    plan_q.remove("from");
    plan_q.remove("to");
    plan_q.remove("at");
    plan_q.entry("status".into()).or_insert_with(|| "running".into());
    let plans = app.onboarding_plans(&plan_q).await?;
    let chart_points: Vec<(String, f64)> = report.cohorts.iter().filter_map(|c| c.on_time_rate.map(|r| (c.cohort.clone(), r * 100.0))).collect();
    let chart = (!chart_points.is_empty()).then(|| columns(&page.t("onb.chart_on_time"), &chart_points, &|v| format!("{v:.0}%")));
    let cohorts: Vec<_> = report
        .cohorts
        .iter()
        .map(|c| minijinja::context! { cohort => c.cohort, started => count(c.started), completed => count(c.completed), on_time => count(c.completed_on_time), rate => pct(c.on_time_rate), running => count(c.still_running) })
        .collect();
    let bys: Vec<(&str, String)> = kizuna_app::onboarding::ReportBy::ALL.iter().map(|b| (b.as_str(), label("onb.by", b.as_str(), lang))).collect();
    let statuses: Vec<(&str, String)> = ["running", "on_track", "behind", "stuck", "completed", "cancelled", "all"].iter().map(|s| (*s, label("plan_status", s, lang))).collect();
    let pages = plans.total.div_ceil(plans.per_page as u64).max(1);
    let status = plan_q.get("status").cloned().unwrap_or_default();
    let page_href = |n: u32| format!("/onboarding?status={}&page={n}", urlencode(&status));
    page.render(
        &state,
        "onboarding.html",
        minijinja::context! {
            total => kpi_row(&report.total, lang), groups => report.groups.iter().map(|k| kpi_row(k, lang)).collect::<Vec<_>>(), cohorts, chart,
            from => report.from.to_string(), to => report.requested_to.to_string(), counted_to => date(report.to, lang), at => q.get("at").cloned().unwrap_or_default(),
            by => report.by.map(|b| b.as_str()), bys, by_label => report.by.map(|b| label("onb.by", b.as_str(), lang)),
            impact_all => comparison(&impact.all, lang), impact_segments => impact.segments.iter().map(|c| comparison(c, lang)).collect::<Vec<_>>(),
            impact_from => date(impact.from, lang), impact_to => date(impact.to, lang), horizon => impact.horizon_days, not_observed => impact.not_yet_observed,
            plans => plans.plans.iter().map(|p| plan_line(p, lang)).collect::<Vec<_>>(), plans_total => count(plans.total), status, statuses,
            page_no => plans.page, pages, prev => (plans.page > 1).then(|| page_href(plans.page - 1)), next => ((plans.page as u64) < pages).then(|| page_href(plans.page + 1)),
            can_edit => me.can(kizuna_domain::access::Permission::EditPlaybooks),
        },
    )
}

fn task_line(t: &PlanTask, lang: &str, today: chrono::NaiveDate) -> minijinja::Value {
    let title = if lang == "en" { t.title_en.clone().unwrap_or_else(|| t.title.clone()) } else { t.title.clone() };
    minijinja::context! {
        id => t.task_id, title, description => t.description, side => t.side, side_label => label("task_side", t.side.as_str(), lang), required => t.required, setup => t.setup,
        due => date(t.due_on, lang), late => t.done_on.is_none() && t.due_on < today, done => t.done_on.map(|d| date(d, lang)),
        done_how => t.done_how.map(|h| label("done_how", h.as_str(), lang)), done_by => t.done_by, criterion => criterion_text(t, lang),
        depends => t.depends_on.join(", "),
    }
}

/// A task's completion rule in words.
fn criterion_text(t: &PlanTask, lang: &str) -> String {
    use kizuna_domain::onboarding::Criterion::*;
    let ja = lang == "ja";
    match &t.criterion {
        Manual => label("criterion", "manual", lang),
        Event { event, min_count, min_users, within_days } => {
            let window = match (*within_days, ja) {
                (0, _) => String::new(),
                (d, true) => format!("（開始から {d} 日以内）"),
                (d, false) => format!(" within {d} days of the start"),
            };
            if ja { format!("{event} を {min_count} 回以上・{min_users} 人以上{window}") } else { format!("{event} at least {min_count}× by {min_users}+ users{window}") }
        }
        Metric { metric, min } => format!("{metric} ≥ {min}"),
        Attribute { name } => if ja { format!("属性 {name} が入力済み") } else { format!("attribute {name} is set") },
        ContactRole { role } => if ja { format!("役割 {} の連絡先がいる", label("contact_role", role, lang)) } else { format!("a contact with role {}", label("contact_role", role, lang)) },
    }
}

/// Tasks grouped by their phase, in order.
fn phases(tasks: &[PlanTask], lang: &str) -> Vec<minijinja::Value> {
    let today = kizuna_app::today();
    let mut out: Vec<(String, Vec<minijinja::Value>)> = Vec::new();
    for t in tasks {
        let name = if lang == "en" { t.phase_name.rsplit(" / ").next().unwrap_or(&t.phase_name).to_string() } else { t.phase_name.split(" / ").next().unwrap_or(&t.phase_name).to_string() };
        match out.last_mut() {
            Some((n, tasks)) if *n == name => tasks.push(task_line(t, lang, today)),
            _ => out.push((name, vec![task_line(t, lang, today)])),
        }
    }
    out.into_iter().map(|(name, tasks)| minijinja::context! { name, tasks }).collect()
}

/// `GET /onboarding/plans/{id}`: the plan's phases and tasks, ticked here.
pub async fn plan(State(state): State<AppState>, me: Principal, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let page = Page::new(&headers, &q, Some(me.clone()));
    let lang = page.lang;
    let p = App::new(state.store.as_ref(), &me).onboarding_plan(&id).await?;
    let done = p.tasks.iter().filter(|t| t.done_on.is_some()).count();
    let shared = q.get("shared").filter(|t| t.len() < 300).map(|token| format!("/shared/plans/{token}"));
    page.render(
        &state,
        "onboarding_plan.html",
        minijinja::context! {
            plan => plan_line(&p, lang), plan_id => p.plan_id, phases => phases(&p.tasks, lang), done, total => p.tasks.len(),
            first_value => p.first_value_at.map(|d| date(d, lang)), template => format!("{} v{}", p.template_id, p.template_version),
            shared, today => kizuna_app::today().to_string(), error => q.get("error"),
        },
    )
}

/// `POST /onboarding/plans/{id}`: tick (`done=1`, `done_on`) or untick a task; back to the plan.
pub async fn tick(State(state): State<AppState>, me: Principal, headers: HeaderMap, Path(id): Path<String>, Form(f): Form<HashMap<String, String>>) -> Result<Response, ApiError> {
    check_csrf(&headers, &f)?;
    let task = f.get("task_id").cloned().unwrap_or_default();
    let change = TaskChange { done: f.get("done").is_some_and(|v| v == "1"), done_on: f.get("done_on").cloned() };
    App::new(state.store.as_ref(), &me).set_onboarding_task(&id, &task, change).await?;
    Ok(Redirect::to(&format!("/onboarding/plans/{}#task-{}", urlencode(&id), urlencode(&task))).into_response())
}

/// `POST /onboarding/plans/{id}/share`: a link for the customer (`days`), shown on the plan.
pub async fn share(State(state): State<AppState>, me: Principal, headers: HeaderMap, Path(id): Path<String>, Form(f): Form<HashMap<String, String>>) -> Result<Response, ApiError> {
    check_csrf(&headers, &f)?;
    let days = f.get("days").and_then(|d| d.trim().parse().ok()).unwrap_or(30);
    let link = App::new(state.store.as_ref(), &me).share_onboarding_plan(&id, days).await?;
    Ok(Redirect::to(&format!("/onboarding/plans/{}?shared={}#share", urlencode(&id), urlencode(&link.token))).into_response())
}

/// `POST /accounts/{id}/onboarding`: start a plan from a template; to the new plan.
pub async fn start(State(state): State<AppState>, me: Principal, headers: HeaderMap, Path(id): Path<String>, Form(f): Form<HashMap<String, String>>) -> Result<Response, ApiError> {
    check_csrf(&headers, &f)?;
    let n = NewPlan { account_id: id, template_id: f.get("template_id").cloned().unwrap_or_default(), started_on: f.get("started_on").cloned() };
    let p = App::new(state.store.as_ref(), &me).start_onboarding_plan(n).await?;
    Ok(Redirect::to(&format!("/onboarding/plans/{}", urlencode(&p.plan_id))).into_response())
}

/// `GET /admin/onboarding`: the templates as JSON to edit (CS Ops saves).
pub async fn templates(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let page = Page::new(&headers, &q, Some(me.clone()));
    let t = App::new(state.store.as_ref(), &me).onboarding_templates().await?;
    let text = serde_json::to_string_pretty(&t).map_err(|e| ApiError::Internal(e.to_string()))?;
    render_templates(&state, &page, &me, &text, None, q.get("saved").map(|_| page.t("onb.saved")), StatusCode::OK)
}

fn render_templates(state: &AppState, page: &Page, me: &Principal, text: &str, error: Option<String>, notice: Option<String>, status: StatusCode) -> Result<Response, ApiError> {
    let list: Vec<_> = serde_json::from_str::<kizuna_domain::onboarding::Templates>(text)
        .map(|t| t.templates.iter().map(|t| minijinja::context! { id => t.template_id, name => t.name, product => t.product, version => t.version, tasks => t.tasks().count(), from => t.auto_start_from.map(|d| date(d, page.lang)) }).collect())
        .unwrap_or_default();
    page.render_status(
        state,
        "onboarding_templates.html",
        minijinja::context! { text, error, notice, list, can_edit => me.can(kizuna_domain::access::Permission::EditPlaybooks) },
        status,
    )
}

/// `POST /admin/onboarding`: save the edited templates (`reapply` moves running plans).
pub async fn save_templates(State(state): State<AppState>, me: Principal, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Result<Response, ApiError> {
    check_csrf(&headers, &f)?;
    let page = Page::new(&headers, &HashMap::new(), Some(me.clone()));
    let text = f.get("templates").cloned().unwrap_or_default();
    let parsed = match serde_json::from_str::<kizuna_domain::onboarding::Templates>(&text) {
        Ok(t) => t,
        Err(e) => {
            let error = format!("{} {e}", page.t("onb.not_json"));
            return render_templates(&state, &page, &me, &text, Some(error), None, StatusCode::BAD_REQUEST);
        }
    };
    match App::new(state.store.as_ref(), &me).save_onboarding_templates(parsed, f.get("reapply").is_some_and(|v| v == "1")).await {
        Ok(_) => Ok(Redirect::to("/admin/onboarding?saved=1").into_response()),
        Err(e @ kizuna_app::AppError::Onboarding(_)) => {
            render_templates(&state, &page, &me, &text, Some(super::refusal(e, page.lang)), None, StatusCode::BAD_REQUEST)
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /shared/plans/{token}`: the customer's side of a plan, without signing in.
pub async fn shared(State(state): State<AppState>, headers: HeaderMap, Path(token): Path<String>, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let page = Page::new(&headers, &q, None);
    let lang = page.lang;
    let s = kizuna_app::onboarding::shared_plan(state.store.as_ref(), &token).await?;
    let mut resp = page.render(
        &state,
        "shared_plan.html",
        minijinja::context! {
            account => s.account_name, name => s.name, due => date(s.due_on, lang), expires => date(s.expires_on, lang), done => s.done, total => s.total,
            phases => phases(&s.tasks, lang), action => format!("/shared/plans/{}", urlencode(&token)),
        },
    )?;
    // The token is the key to the page: never sent on to another site.
    resp.headers_mut().insert(axum::http::header::REFERRER_POLICY, axum::http::HeaderValue::from_static("no-referrer"));
    Ok(resp)
}

/// `POST /shared/plans/{token}`: the customer ticks one of its tasks (with their name).
pub async fn shared_tick(State(state): State<AppState>, headers: HeaderMap, Path(token): Path<String>, Form(f): Form<HashMap<String, String>>) -> Result<Response, ApiError> {
    check_csrf(&headers, &f)?;
    let task = f.get("task_id").cloned().unwrap_or_default();
    let done = f.get("done").is_some_and(|v| v == "1");
    kizuna_app::onboarding::shared_tick(state.store.as_ref(), &token, &task, done, f.get("name").map(String::as_str).unwrap_or("")).await?;
    let lang = f.get("lang").filter(|l| *l == "en" || *l == "ja").map(|l| format!("?lang={l}")).unwrap_or_default();
    Ok(Redirect::to(&format!("/shared/plans/{}{lang}#task-{}", urlencode(&token), urlencode(&task))).into_response())
}
