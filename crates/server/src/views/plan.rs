//! The planning page: a scenario's capacity, budget and maturity, optionally side by side with a
//! second scenario. Scenarios are edited on `/plan/edit` (TOML), the CLI or the API.

use super::charts::grouped_bars;
use crate::auth::Principal;
use crate::i18n::t;
use kizuna_app::App;
use crate::params::Params;
use crate::{ApiError, AppState};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use kizuna_app::planning::{self, BudgetResult, CapacityResult, FunnelResult, HiringResult, MaturityResult, PlanKind, PlanResult};
use kizuna_domain::planning::capacity::SliceResult;
use kizuna_domain::planning::funnel::MonthFunnel;
use kizuna_domain::planning::maturity::{KpiValue, Stage};
use kizuna_domain::money::{format_money, group_thousands};
use serde::Serialize;
use std::collections::HashMap;

fn yen(v: Option<f64>) -> String {
    v.map(|x| format_money((x * 100.0).round() as i64, "JPY")).unwrap_or_default()
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}%", x * 100.0)).unwrap_or_else(|| "—".into())
}

fn num(v: Option<f64>, decimals: usize) -> String {
    match v {
        Some(x) if decimals == 0 => group_thousands(x.round().max(0.0) as u64),
        Some(x) => {
            // Round the whole value first, so 1,949.96 carries into 1,950.0.
            let fixed = format!("{:.*}", decimals, x.abs());
            let (int, frac) = fixed.split_once('.').unwrap_or((&fixed, ""));
            let whole = group_thousands(int.parse().unwrap_or(0));
            let sign = if x < 0.0 && fixed.bytes().any(|b| (b'1'..=b'9').contains(&b)) { "-" } else { "" };
            format!("{sign}{whole}.{frac}")
        }
        None => "—".into(),
    }
}

fn whole<T: Into<f64>>(v: Option<T>) -> String {
    num(v.map(Into::into), 0)
}

/// A known segment's name in the page language; a user-defined one as it is.
fn segment_name(segment: &str, lang: &str) -> String {
    let key = format!("segment.{segment}");
    let text = t(&key, lang);
    if text.ends_with(&key) { segment.to_string() } else { text }
}

/// A figure: its label and its formatted value.
type Figure = (String, String);

#[derive(Serialize)]
struct CapacityView {
    figures: Vec<Figure>,
    book_source: String,
    slices: Vec<SliceView>,
    chart: String,
    closers: Vec<String>,
}

#[derive(Serialize)]
struct SliceView {
    label: String,
    accounts: String,
    arr: String,
    bottom_up: String,
    top_down: String,
}

#[derive(Serialize)]
struct HiringView {
    figures: Vec<Figure>,
    chart: String,
    hires: Vec<String>,
    paths: Vec<PathView>,
}

#[derive(Serialize)]
struct PathView {
    mix: String,
    needed: String,
    short: String,
}

#[derive(Serialize)]
struct BudgetView {
    figures: Vec<Figure>,
    strategies: Vec<StrategyView>,
    chart: String,
    sm_split: Vec<SmView>,
    roi: Option<RoiView>,
}

#[derive(Serialize)]
struct StrategyView {
    name: String,
    sm: String,
    cogs: String,
}

#[derive(Serialize)]
struct SmView {
    name: String,
    amount: String,
    share: String,
    best: String,
    diff: String,
}

#[derive(Serialize)]
struct RoiView {
    lines: Vec<Figure>,
    assumptions: String,
}

#[derive(Serialize)]
struct MaturityView {
    stage: String,
    missing: Vec<String>,
    goals: Vec<GoalView>,
}

#[derive(Serialize)]
struct GoalView {
    name: String,
    stage: String,
    kpis: Vec<KpiView>,
}

#[derive(Serialize)]
struct KpiView {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct FunnelView {
    empty: bool,
    ltv: Vec<TierView>,
    source: String,
    chart: String,
    stages: Vec<String>,
    months: Vec<FunnelMonthView>,
    lags: Vec<LagView>,
}

#[derive(Serialize)]
struct TierView {
    tier: String,
    accounts: String,
    arpa: String,
    del: String,
    ltv: String,
}

#[derive(Serialize)]
struct FunnelMonthView {
    month: String,
    reached: Vec<String>,
    conversion: Vec<String>,
    lags: Vec<String>,
}

#[derive(Serialize)]
struct LagView {
    step: String,
    median: String,
    mean: String,
    leads: String,
}

/// One scenario's column: each plan it has a section for.
#[derive(Serialize, Default)]
struct Column {
    name: String,
    capacity: Option<CapacityView>,
    hiring: Option<HiringView>,
    budget: Option<BudgetView>,
    maturity: Option<MaturityView>,
}

fn capacity_view(r: &CapacityResult, lang: &str) -> CapacityView {
    let label = |s: &SliceResult| format!("{} / {}", segment_name(&s.segment, lang), t(&format!("touch.{}", s.touch_model), lang));
    let slices = &r.plan.slices;
    let chart = grouped_bars(
        &t("cap.chart", lang),
        &[t("col.bottom_up_fte", lang), t("col.top_down_fte", lang)],
        &slices
            .iter()
            .map(|s| (label(s), vec![s.bottom_up_fte, s.top_down_fte_by_arr.or(s.top_down_fte_by_accounts).unwrap_or(0.0)]))
            .collect::<Vec<_>>(),
        &|v| format!("{v:.1}"),
    );
    let closers = r
        .plan
        .gap_closers
        .iter()
        .map(|c| {
            let show = |v: f64| match c.assumption {
                "automation_factor" => pct(Some(v)),
                "arr_per_csm" => yen(Some(v)),
                _ => num(Some(v), 1),
            };
            t("cap.closer_line", lang)
                .replace("%{assumption}", &t(&format!("closer.{}", c.assumption), lang))
                .replace("%{current}", &show(c.current))
                .replace("%{required}", &show(c.required))
        })
        .collect();
    let p = &r.plan;
    let dash = |v: Option<i64>| v.map(|g| g.to_string()).unwrap_or_else(|| "—".into());
    CapacityView {
        figures: vec![
            (t("cap.hours", lang), num(Some(p.hours_per_month), 1)),
            (t("cap.bottom_up", lang), whole(Some(p.bottom_up_csms))),
            (t("cap.top_down", lang), whole(p.top_down_csms)),
            (t("cap.gap", lang), dash(p.gap)),
            (t("cap.cs_ops", lang), whole(Some(p.cs_ops))),
            (format!("{} ({})", t("cap.leads_exp", lang), r.inputs.span_experienced_lead), whole(Some(p.leads_experienced))),
            (format!("{} ({})", t("cap.leads_new", lang), r.inputs.span_new_lead), whole(Some(p.leads_new))),
            (t("cap.accounts_per_csm", lang), num(p.accounts_per_csm, 1)),
            (t("cap.arr_per_csm", lang), yen(p.arr_per_csm)),
            (t("cap.current_short", lang), dash(p.current_team_short_by)),
        ],
        book_source: t(if r.book_source == "live" { "cap.book_live" } else { "cap.book_scenario" }, lang),
        slices: slices
            .iter()
            .map(|s| SliceView {
                label: label(s),
                accounts: whole(Some(s.accounts as f64)),
                arr: yen(Some(s.arr)),
                bottom_up: num(Some(s.bottom_up_fte), 2),
                top_down: num(s.top_down_fte_by_arr, 2),
            })
            .collect(),
        chart,
        closers,
    }
}

fn hiring_view(r: &HiringResult, lang: &str) -> HiringView {
    let chart = grouped_bars(
        &t("hire.chart", lang),
        &[t("hire.required", lang), t("hire.headcount", lang)],
        &r.months.iter().map(|m| (m.label.clone(), vec![m.plan.required_fte, m.plan.headcount as f64])).collect::<Vec<_>>(),
        &|v| format!("{v:.1}"),
    );
    let when = |label: &Option<String>| label.clone().unwrap_or_else(|| t("hire.never", lang));
    let hires = r
        .hires
        .iter()
        .map(|h| {
            let line = t("hire.line", lang)
                .replace("%{count}", &h.hire.count.to_string())
                .replace("%{start}", &h.start_label)
                .replace("%{req}", &match &h.requisition_label {
                    Some(l) => l.clone(),
                    None => t("hire.before_start", lang)
                        .replace("%{n}", &h.requisition_months_before_start.to_string())
                        .replace("%{start}", &r.resolved.start_month),
                });
            if h.hire.late { format!("{line} — {}", t("hire.late", lang)) } else { line }
        })
        .collect();
    HiringView {
        figures: vec![
            (t("hire.total", lang), whole(Some(r.total_hires))),
            (t("hire.current_short", lang), when(&r.first_month_current_team_short_label)),
            (t("hire.high_only_short", lang), when(&r.first_month_high_touch_only_short_label)),
        ],
        chart,
        hires,
        paths: r
            .mix_paths
            .iter()
            .map(|p| PathView {
                mix: format!("{} / {} / {}", pct(Some(p.mix.high)), pct(Some(p.mix.hybrid)), pct(Some(p.mix.tech))),
                needed: whole(Some(p.csms_needed_at_end)),
                short: p
                    .first_month_current_team_short
                    .map(|m| r.months.get(m as usize).map(|x| x.label.clone()).unwrap_or_default())
                    .unwrap_or_else(|| t("hire.never", lang)),
            })
            .collect(),
    }
}

fn budget_view(r: &BudgetResult, lang: &str) -> BudgetView {
    let b = &r.plan;
    let strategy = |s: &str| t(&format!("strategy.{s}"), lang);
    let chart = grouped_bars(
        &t("bud.strategies", lang),
        &[t("bud.sm", lang), t("bud.cogs", lang)],
        &b.strategies.iter().map(|s| (strategy(s.strategy), vec![s.sales_marketing, s.cogs])).collect::<Vec<_>>(),
        &|v| format_money((v * 100.0).round() as i64, "JPY"),
    );
    BudgetView {
        figures: vec![
            (t("bud.people", lang), yen(Some(b.people_cost))),
            (t("bud.tools", lang), yen(Some(b.tools))),
            (t("bud.programs", lang), yen(Some(b.programs))),
            (t("bud.total", lang), yen(Some(b.total))),
        ],
        strategies: b
            .strategies
            .iter()
            .map(|s| StrategyView { name: strategy(s.strategy), sm: yen(Some(s.sales_marketing)), cogs: yen(Some(s.cogs)) })
            .collect(),
        chart,
        sm_split: b
            .sales_marketing_split
            .iter()
            .map(|c| SmView {
                name: t(&format!("sm.{}", c.category), lang),
                amount: yen(Some(c.amount)),
                share: pct(Some(c.share)),
                best: pct(Some(c.best_practice_share)),
                diff: format!("{:+.1}", c.difference_points),
            })
            .collect(),
        roi: b.roi.as_ref().map(|roi| RoiView {
            lines: vec![
                (t("roi.retained", lang), yen(Some(roi.retained_arr_attributable))),
                (t("roi.expansion", lang), yen(Some(roi.expansion_arr_attributable))),
                (t("roi.value", lang), pct(Some(roi.roi))),
            ],
            assumptions: t("roi.assumptions", lang)
                .replace("%{arr}", &yen(Some(roi.arr)))
                .replace("%{nrr}", &pct(Some(roi.nrr)))
                .replace("%{grr}", &pct(Some(roi.grr)))
                .replace("%{baseline}", &pct(Some(roi.baseline_grr)))
                .replace("%{attribution}", &pct(Some(roi.expansion_attribution))),
        }),
    }
}

fn kpi_value(v: Option<&KpiValue>, lang: &str) -> String {
    match v {
        None => t("mat.not_measured", lang),
        Some(KpiValue::BySegment(o)) => o.iter().map(|(k, v)| format!("{}: {}", segment_name(k, lang), yen(Some(*v)))).collect::<Vec<_>>().join(", "),
        Some(KpiValue::Team { accounts_per_csm, arr_per_csm }) => format!("{} / {}", num(Some(*accounts_per_csm), 1), yen(*arr_per_csm)),
        Some(KpiValue::Rate(x)) => pct(Some(*x)),
    }
}

fn maturity_view(r: &MaturityResult, lang: &str) -> MaturityView {
    let text = |id: &str| {
        r.questions.iter().find(|q| q.id == id).map(|q| if lang == "ja" { q.ja.clone() } else { q.en.clone() }).unwrap_or_else(|| id.to_string())
    };
    let a = &r.assessment;
    let stage = |s: &Stage| t(&format!("stage.{}", s.as_str()), lang);
    MaturityView {
        stage: stage(&a.stage),
        missing: a.missing_practices.iter().map(|m| text(m)).collect(),
        goals: a
            .goals
            .iter()
            .map(|g| GoalView {
                name: t(&format!("goal.{}", g.goal), lang),
                stage: stage(&g.stage),
                kpis: g.kpis.iter().map(|k| KpiView { name: t(&format!("kpi.{}", k.kpi), lang), value: kpi_value(k.value.as_ref(), lang) }).collect(),
            })
            .collect(),
    }
}

const STAGES: [&str; 6] = ["lead", "meeting", "opportunity", "won", "onboarded", "renewed"];

fn funnel_view(r: &FunnelResult, lang: &str) -> FunnelView {
    let total = &r.report.total;
    let reached = |m: &MonthFunnel, s: &str| m.reached.get(s).copied().unwrap_or(0);
    let ltv = r
        .ltv_by_touch_model
        .iter()
        .map(|l| {
            let tier = l.touch_model.as_str();
            TierView {
                tier: if tier == "all" { t("accounts.any", lang) } else { t(&format!("touch.{tier}"), lang) },
                accounts: whole(Some(l.accounts_active as f64)),
                arpa: yen(l.arpa_per_month),
                del: num(l.del_months, 1),
                ltv: yen(l.ltv),
            }
        })
        .collect();
    let empty = FunnelView { empty: true, ltv, source: String::new(), chart: String::new(), stages: vec![], months: vec![], lags: vec![] };
    if reached(total, "lead") == 0 && reached(total, "won") == 0 {
        return empty;
    }
    let stage_name = |s: &str| t(&format!("stage.{s}"), lang);
    let chart = grouped_bars(
        &t("funnel.chart", lang),
        &[t("funnel.reached", lang)],
        &STAGES.iter().map(|s| (stage_name(s), vec![reached(total, s) as f64])).collect::<Vec<_>>(),
        &|v| group_thousands(v as u64),
    );
    let step = |i: usize| format!("{}_to_{}", STAGES[i - 1], STAGES[i]);
    let shown = r.report.months.iter().rev().take(12).rev().chain(std::iter::once(total));
    FunnelView {
        empty: false,
        source: t("funnel.source", lang).replace("%{source}", &t(&format!("funnel.{}", r.report.source), lang)),
        chart,
        stages: STAGES.iter().map(|s| stage_name(s)).collect(),
        months: shown
            .map(|m| FunnelMonthView {
                month: m.month.clone(),
                reached: STAGES.iter().map(|s| whole(Some(reached(m, s) as f64))).collect(),
                conversion: (1..6).map(|i| pct(m.conversion.get(&step(i)).copied().flatten())).collect(),
                lags: (1..6).map(|i| num(m.median_lag_days.get(&step(i)).copied().flatten(), 1)).collect(),
            })
            .collect(),
        lags: r
            .report
            .lags
            .iter()
            .map(|l| LagView {
                step: format!("{} → {}", stage_name(l.from.as_str()), stage_name(l.to.as_str())),
                median: num(l.median_days, 1),
                mean: num(l.mean_days, 1),
                leads: whole(Some(l.leads as f64)),
            })
            .collect(),
        ..empty
    }
}

async fn column(app: App<'_>, name: Option<&str>, at: chrono::NaiveDate, lang: &str) -> Result<Column, ApiError> {
    let scenario = app.scenario(name).await?;
    let mut col = Column { name: name.map(str::to_string).unwrap_or_else(|| t("plan.default", lang)), ..Default::default() };
    for kind in [PlanKind::Capacity, PlanKind::Hiring, PlanKind::Budget, PlanKind::Maturity] {
        match app.plan(kind, &scenario, at).await {
            Ok(v) => match &v.result {
                PlanResult::Capacity(r) => col.capacity = Some(capacity_view(r, lang)),
                PlanResult::Hiring(r) => col.hiring = Some(hiring_view(r, lang)),
                PlanResult::Budget(r) => col.budget = Some(budget_view(r, lang)),
                PlanResult::Maturity(r) => col.maturity = Some(maturity_view(r, lang)),
                PlanResult::Funnel(_) => {}
            },
            Err(kizuna_app::AppError::Plan(planning::PlanError::MissingSection(_))) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(col)
}

pub async fn page(
    State(state): State<AppState>,
    me: Principal,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let app = App::new(state.store.as_ref(), &me);
    let page = super::Page::new(&headers, &q, Some(me.clone()));
    let lang = page.lang;
    let p = Params(&q);
    let at = p.date("at")?.unwrap_or_else(kizuna_app::today);
    let (name, compare) = (p.text("scenario"), p.text("compare"));
    let mut columns = vec![column(app, name.as_deref(), at, lang).await?];
    if let Some(c) = &compare {
        let c = (*c != "default").then_some(*c);
        columns.push(column(app, c, at, lang).await?);
    }
    let saved: Vec<String> = app.scenarios().await?.into_iter().map(|s| s.name).collect();
    let scenario = planning::default_scenario();
    let funnel = match app.plan(PlanKind::Funnel, &scenario, at).await?.result {
        PlanResult::Funnel(r) => Some(funnel_view(&r, lang)),
        _ => None,
    };
    page.render(
        &state,
        "plan.html",
        minijinja::context! {
            columns,
            funnel,
            saved,
            f_scenario => name.unwrap_or_default(),
            f_compare => compare.unwrap_or_default(),
            f_at => at.to_string(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn numbers_round_as_a_whole() {
        assert_eq!(num(Some(1949.96), 1), "1,950.0");
        assert_eq!(num(Some(5.997), 2), "6.00");
        assert_eq!(num(Some(-1234.56), 1), "-1,234.6");
        assert_eq!(num(Some(-0.04), 1), "0.0");
        assert_eq!(num(Some(16.25), 2), "16.25");
        assert_eq!(num(Some(1949.6), 0), "1,950");
        assert_eq!(num(None, 1), "—");
    }
}
