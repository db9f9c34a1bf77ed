//! The portfolio dashboard: ARR, MRR, NRR, GRR and logo churn for a period, the MRR movements
//! by month, breakdowns by segment and touch model, and the touch-model mix against 20/60/20.

use super::charts::{diverging_columns, grouped_bars};
use super::format::{count, month, pct, yen};
use super::{label, Page};
use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use kizuna_domain::metrics::Month;
use super::reports::MrrRow;
use kizuna_app::dashboard::GroupRow;
use kizuna_domain::metrics::movements::MonthMovements;
use serde::Serialize;
use std::collections::HashMap;

/// What the dashboard template shows: every figure already formatted in the page language.
#[derive(Serialize)]
struct DashboardView {
    kpis: Vec<KpiCard>,
    chart: String,
    table: Vec<MrrRow>,
    mix: Vec<MixView>,
    mix_chart: String,
    period: String,
    as_of_note: String,
    by_segment: Vec<BreakdownRow>,
    by_touch: Vec<BreakdownRow>,
    f_from: String,
    f_to: String,
    churned: String,
    started: String,
}

#[derive(Serialize)]
struct KpiCard {
    id: &'static str,
    label: String,
    value: String,
}

#[derive(Serialize)]
struct BreakdownRow {
    group: String,
    accounts: String,
    arr: String,
    nrr: String,
    grr: String,
    logo_churn: String,
}

#[derive(Serialize)]
struct MixView {
    touch: String,
    accounts: String,
    share: String,
    target: String,
    gap: String,
    mrr_share: String,
}

fn breakdown(rows: &[GroupRow], prefix: &str, lang: &str) -> Vec<BreakdownRow> {
    rows.iter()
        .map(|r| BreakdownRow {
            group: label(prefix, &r.group, lang),
            accounts: count(r.accounts),
            arr: yen(r.arr),
            nrr: pct(r.nrr),
            grr: pct(r.grr),
            logo_churn: pct(r.logo_churn_rate),
        })
        .collect()
}

pub async fn page(State(state): State<AppState>, me: Principal, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let d = kizuna_app::App::new(state.store.as_ref(), &me).dashboard(&q, kizuna_app::today()).await?;
    // LayerX's leading indicator beside the revenue figures: the 90 days' plans due up to the
    // day the cards beside it are on (the period's last day, or the as-of day if sooner), as of
    // the page's as-of day.
    let window: HashMap<String, String> = [
        ("from".to_string(), (d.end - chrono::Duration::days(89)).to_string()),
        ("to".to_string(), d.end.to_string()),
        ("at".to_string(), d.at.to_string()),
    ]
    .into();
    let onboarding = kizuna_app::App::new(state.store.as_ref(), &me).onboarding_report(&window).await?;
    let page = Page::new(&headers, &q, Some(me));
    let lang = page.lang;
    let at = d.at;
    let month_label = |m: &MonthMovements| Month::parse(&m.month).map(|m| month(m.first_day(), lang)).unwrap_or_default();
    let labels: Vec<String> = d.months.iter().map(|m| m.month.chars().skip(2).collect()).collect();
    type Pick = fn(&MonthMovements) -> f64;
    let series = |key: &str, pick: Pick| (page.t(&format!("mrr.{key}")), d.months.iter().map(pick).collect::<Vec<_>>());
    let chart = diverging_columns(
        &page.t("dash.movements_chart"),
        &labels,
        &[series("new", |m| m.new), series("expansion", |m| m.expansion), series("reactivation", |m| m.reactivation)],
        &[series("contraction", |m| m.contraction), series("churn", |m| m.churn)],
        &|v| yen(v),
    );
    let table = d
        .months
        .iter()
        .map(|m| {
            let label = if m.partial {
                page.t("dash.month_to_date").replace("%{month}", &month_label(m)).replace("%{day}", &super::format::date(at, lang))
            } else {
                month_label(m)
            };
            super::reports::mrr_row(m, label)
        })
        .collect();
    let mix_chart = grouped_bars(
        &page.t("dash.mix_chart"),
        &[page.t("dash.actual"), page.t("dash.target")],
        &d.touch_mix
            .iter()
            .filter_map(|r| r.target_share.map(|target| (label("touch", &r.touch_model, lang), vec![r.account_share * 100.0, target * 100.0])))
            .collect::<Vec<_>>(),
        &|v| format!("{v:.1}%"),
    );
    let mix = d
        .touch_mix
        .iter()
        .map(|r| MixView {
            touch: label("touch", &r.touch_model, lang),
            accounts: count(r.accounts),
            share: pct(Some(r.account_share)),
            target: pct(r.target_share),
            gap: r.gap.map(|g| format!("{:+.1}", g * 100.0)).unwrap_or_else(|| "—".into()),
            mrr_share: pct(Some(r.mrr_share)),
        })
        .collect();
    let kpi = |id: &'static str, value: String| KpiCard { id, label: page.t(&format!("dash.{id}")), value };
    let kpis = vec![
        kpi("arr", yen(d.arr)),
        kpi("mrr", yen(d.mrr)),
        kpi("nrr", pct(d.nrr)),
        kpi("grr", pct(d.grr)),
        kpi("logo_churn", pct(d.logo_churn_rate)),
        kpi("accounts", count(d.active_accounts)),
        kpi("onboarding", pct(onboarding.total.completion_rate_in_period)),
    ];
    let view = DashboardView {
        kpis,
        chart,
        table,
        mix,
        mix_chart,
        period: page.t("dash.period").replace("%{from}", &super::format::date(d.start, lang)).replace("%{to}", &super::format::date(d.end, lang)),
        as_of_note: page.t("dash.as_of_note").replace("%{day}", &super::format::date(at, lang)),
        by_segment: breakdown(&d.by_segment, "segment", lang),
        by_touch: breakdown(&d.by_touch_model, "touch", lang),
        f_from: d.from.to_string(),
        f_to: d.to.to_string(),
        churned: count(d.accounts_churned),
        started: count(d.accounts_start),
    };
    page.render(&state, "dashboard.html", minijinja::Value::from_serialize(&view))
}
