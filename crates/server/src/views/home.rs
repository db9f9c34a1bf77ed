//! The home (`/` for CSMs and managers, `/home` for anyone): what needs attention today and
//! why, from the same use case as `GET /api/v1/home`.

use super::format::{date, money, score};
use super::{label, urlencode, Page};
use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use kizuna_app::App;
use std::collections::HashMap;

pub async fn page(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let page = Page::new(&headers, &q, Some(me.clone()));
    let lang = page.lang;
    let app = App::new(state.store.as_ref(), &me);
    let home = app.home(&q).await?;
    let config = app.playbooks().await?;
    // The measure that moved, by its name in the reader's language (usage metrics by their label).
    let usage: HashMap<String, String> = app.usage_definitions().await?.metrics.iter().map(|m| (m.name.clone(), m.label_in(lang).to_string())).collect();
    let yen = |v: f64| money(v, "JPY");
    let account = |id: &str| format!("/accounts/{}", urlencode(id));
    let ctas: Vec<_> = home
        .ctas_due
        .iter()
        .map(|c| {
            let reason = config.reason(&c.cta_type, &c.reason).map(|r| if lang == "ja" { r.label_ja.clone() } else { r.label_en.clone() }).unwrap_or_else(|| c.reason.clone());
            minijinja::context! {
                href => format!("/ctas/{}", urlencode(&c.cta_id)), title => if config.reason(&c.cta_type, &c.reason).is_some_and(|r| r.label_en == c.title || r.label_ja == c.title) { reason.clone() } else { c.title.clone() },
                reason, account => c.account_name, account_href => account(&c.account_id), due => c.due_on.map(|d| date(d, lang)).unwrap_or_default(),
                overdue => c.due_on.is_some_and(|d| d < home.at), priority => c.priority.as_str(), priority_label => label("cta_priority", c.priority.as_str(), lang),
                owner => c.owner_email, evidence => evidence_line(&c.evidence, lang),
            }
        })
        .collect();
    let alerts: Vec<_> = home
        .alerts
        .iter()
        .map(|a| minijinja::context! { account => a.name, href => account(&a.account_id), event => a.event, day => date(a.day, lang), last_week => super::format::number(a.last_week), baseline => super::format::number(a.baseline_median), drop => format!("{:.0}%", a.drop * 100.0) })
        .collect();
    let renewals: Vec<_> = home
        .renewals
        .iter()
        .map(|r| {
            minijinja::context! {
                account => r.name, href => account(&r.account_id), date => date(r.renewal_date, lang), days => r.days_left, arr => yen(r.arr),
                band => r.health_band, score => r.health_score.map(score), owner => r.owner_email,
            }
        })
        .collect();
    let drops: Vec<_> = home
        .health_drops
        .iter()
        .map(|d| {
            minijinja::context! {
                account => d.name, href => account(&d.account_id), score => score(d.score), previous => score(d.previous_score),
                drop => format!("{:.1}", d.drop), band => d.band, drag => d.top_drag.as_deref().map(|k| super::health::measure_label(k, &page, &usage)), drag_points => d.top_drag_points.map(|p| format!("{p:.1}")),
            }
        })
        .collect();
    let owners: Vec<_> = home
        .per_owner
        .iter()
        .map(|o| {
            minijinja::context! {
                owner => o.owner_email, accounts => o.accounts, arr => yen(o.arr), red => o.red, at_risk => yen(o.arr_at_risk), open => o.ctas_open, overdue => o.ctas_overdue,
                href => format!("/?owner={}", urlencode(&o.owner_email)),
            }
        })
        .collect();
    let mix = &home.health_mix;
    page.render(
        &state,
        "home.html",
        minijinja::context! {
            at => date(home.at, lang), mine => home.owner.is_some(), owner => home.owner,
            due_total => home.ctas_due_total, overdue => home.ctas_overdue, open_total => home.ctas_open_total, ctas, alerts, renewals, drops, owners,
            r90 => minijinja::context! { accounts => home.renewals_90.accounts, arr => yen(home.renewals_90.arr) },
            r180 => minijinja::context! { accounts => home.renewals_180.accounts, arr => yen(home.renewals_180.arr) },
            mix => minijinja::context! { red => mix.red, yellow => mix.yellow, green => mix.green, unscored => mix.unscored },
            arr => yen(home.arr), at_risk => yen(home.arr_at_risk),
            onb_rate => super::format::pct(home.onboarding.completion_rate_in_period), onb_due => home.onboarding.due, onb_on_time => home.onboarding.completed_on_time,
            onb_behind_total => home.onboarding.behind_total,
            onb_behind => home.onboarding.behind.iter().map(|p| minijinja::context! {
                href => format!("/onboarding/plans/{}", urlencode(&p.plan_id)), name => p.name, account => p.account_name, account_href => account(&p.account_id),
                status => p.status, status_label => label("plan_status", p.status.as_str(), lang), due => date(p.due_on, lang),
                late => kizuna_domain::onboarding::late_tasks(p, home.at).len(),
            }).collect::<Vec<_>>(),
        },
    )
}

/// A signal's evidence in a few words: the score drop, the usage drop, the renewal.
fn evidence_line(e: &serde_json::Value, lang: &str) -> String {
    let ja = lang == "ja";
    if let (Some(s), Some(p)) = (e["score"].as_f64(), e["previous_score"].as_f64()) {
        let (p, s) = (score(p), score(s));
        return if ja { format!("ヘルス {p} → {s}") } else { format!("health {p} → {s}") };
    }
    if let Some(s) = e["score"].as_f64() {
        let s = score(s);
        return if ja { format!("ヘルス {s}") } else { format!("health {s}") };
    }
    if let (Some(ev), Some(d)) = (e["event"].as_str(), e["drop"].as_f64()) {
        return format!("{ev} −{:.0}%", d * 100.0);
    }
    if let Some(days) = e["days_left"].as_i64() {
        return if ja { format!("更新まで {days} 日") } else { format!("{days} days to renewal") };
    }
    if let Some(late) = e["late_tasks"].as_array() {
        let names: Vec<&str> = late.iter().filter_map(|t| t["title"].as_str()).collect();
        return if ja { format!("{}（遅れ {} 件）: {}", e["plan"].as_str().unwrap_or(""), late.len(), names.join("、")) } else { format!("{} ({} late): {}", e["plan"].as_str().unwrap_or(""), late.len(), names.join(", ")) };
    }
    if let Some(days) = e["days"].as_i64() {
        return if ja { format!("接点なし {days} 日") } else { format!("{days} days without contact") };
    }
    String::new()
}
