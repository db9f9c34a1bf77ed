//! The planning page: a scenario's capacity, budget and maturity, optionally side by side with a
//! second scenario. Scenarios are edited on `/plan/edit` (TOML), the CLI or the API.

use super::charts::grouped_bars;
use crate::auth::Principal;
use crate::i18n::t;
use kizuna_domain::access::Permission;
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
use serde_json::{json, Value};
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
            let whole = group_thousands(x.trunc().abs() as u64);
            let frac = format!("{:.*}", decimals, x.abs().fract());
            format!("{}{whole}{}", if x < 0.0 { "-" } else { "" }, &frac[1..])
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

fn capacity_view(r: &CapacityResult, lang: &str) -> Value {
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
    let closers: Vec<String> = r
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
    json!({
        "figures": [
            [t("cap.hours", lang), num(Some(p.hours_per_month), 1)],
            [t("cap.bottom_up", lang), whole(Some(p.bottom_up_csms))],
            [t("cap.top_down", lang), whole(p.top_down_csms)],
            [t("cap.gap", lang), dash(p.gap)],
            [t("cap.cs_ops", lang), whole(Some(p.cs_ops))],
            [format!("{} ({})", t("cap.leads_exp", lang), r.inputs.span_experienced_lead), whole(Some(p.leads_experienced))],
            [format!("{} ({})", t("cap.leads_new", lang), r.inputs.span_new_lead), whole(Some(p.leads_new))],
            [t("cap.accounts_per_csm", lang), num(p.accounts_per_csm, 1)],
            [t("cap.arr_per_csm", lang), yen(p.arr_per_csm)],
            [t("cap.current_short", lang), dash(p.current_team_short_by)],
        ],
        "book_source": t(if r.book_source == "live" { "cap.book_live" } else { "cap.book_scenario" }, lang),
        "slices": slices.iter().map(|s| json!({
            "label": label(s), "accounts": whole(Some(s.accounts as f64)), "arr": yen(Some(s.arr)),
            "bottom_up": num(Some(s.bottom_up_fte), 2), "top_down": num(s.top_down_fte_by_arr, 2),
        })).collect::<Vec<_>>(),
        "chart": chart,
        "closers": closers,
    })
}

fn hiring_view(r: &HiringResult, lang: &str) -> Value {
    let chart = grouped_bars(
        &t("hire.chart", lang),
        &[t("hire.required", lang), t("hire.headcount", lang)],
        &r.months.iter().map(|m| (m.label.clone(), vec![m.plan.required_fte, m.plan.headcount as f64])).collect::<Vec<_>>(),
        &|v| format!("{v:.1}"),
    );
    let when = |label: &Option<String>| label.clone().unwrap_or_else(|| t("hire.never", lang));
    let hires: Vec<String> = r
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
    json!({
        "figures": [
            [t("hire.total", lang), whole(Some(r.total_hires))],
            [t("hire.current_short", lang), when(&r.first_month_current_team_short_label)],
            [t("hire.high_only_short", lang), when(&r.first_month_high_touch_only_short_label)],
        ],
        "chart": chart,
        "hires": hires,
        "paths": r.mix_paths.iter().map(|p| json!({
            "mix": format!("{} / {} / {}", pct(Some(p.mix.high)), pct(Some(p.mix.hybrid)), pct(Some(p.mix.tech))),
            "needed": whole(Some(p.csms_needed_at_end)),
            "short": p.first_month_current_team_short.map(|m| {
                r.months.get(m as usize).map(|x| x.label.clone()).unwrap_or_default()
            }).unwrap_or_else(|| t("hire.never", lang)),
        })).collect::<Vec<_>>(),
    })
}

fn budget_view(r: &BudgetResult, lang: &str) -> Value {
    let b = &r.plan;
    let strategy = |s: &str| t(&format!("strategy.{s}"), lang);
    let chart = grouped_bars(
        &t("bud.strategies", lang),
        &[t("bud.sm", lang), t("bud.cogs", lang)],
        &b.strategies.iter().map(|s| (strategy(s.strategy), vec![s.sales_marketing, s.cogs])).collect::<Vec<_>>(),
        &|v| format_money((v * 100.0).round() as i64, "JPY"),
    );
    json!({
        "figures": [
            [t("bud.people", lang), yen(Some(b.people_cost))],
            [t("bud.tools", lang), yen(Some(b.tools))],
            [t("bud.programs", lang), yen(Some(b.programs))],
            [t("bud.total", lang), yen(Some(b.total))],
        ],
        "strategies": b.strategies.iter().map(|s| json!({
            "name": strategy(s.strategy), "sm": yen(Some(s.sales_marketing)), "cogs": yen(Some(s.cogs)),
        })).collect::<Vec<_>>(),
        "chart": chart,
        "sm_split": b.sales_marketing_split.iter().map(|c| json!({
            "name": t(&format!("sm.{}", c.category), lang),
            "amount": yen(Some(c.amount)), "share": pct(Some(c.share)), "best": pct(Some(c.best_practice_share)),
            "diff": format!("{:+.1}", c.difference_points),
        })).collect::<Vec<_>>(),
        "roi": b.roi.as_ref().map(|roi| json!({
            "lines": [
                [t("roi.retained", lang), yen(Some(roi.retained_arr_attributable))],
                [t("roi.expansion", lang), yen(Some(roi.expansion_arr_attributable))],
                [t("roi.value", lang), pct(Some(roi.roi))],
            ],
            "assumptions": t("roi.assumptions", lang)
                .replace("%{arr}", &yen(Some(roi.arr))).replace("%{nrr}", &pct(Some(roi.nrr))).replace("%{grr}", &pct(Some(roi.grr)))
                .replace("%{baseline}", &pct(Some(roi.baseline_grr))).replace("%{attribution}", &pct(Some(roi.expansion_attribution))),
        })),
    })
}

fn kpi_value(v: Option<&KpiValue>, lang: &str) -> String {
    match v {
        None => t("mat.not_measured", lang),
        Some(KpiValue::BySegment(o)) => o.iter().map(|(k, v)| format!("{}: {}", segment_name(k, lang), yen(Some(*v)))).collect::<Vec<_>>().join(", "),
        Some(KpiValue::Team { accounts_per_csm, arr_per_csm }) => format!("{} / {}", num(Some(*accounts_per_csm), 1), yen(*arr_per_csm)),
        Some(KpiValue::Rate(x)) => pct(Some(*x)),
    }
}

fn maturity_view(r: &MaturityResult, lang: &str) -> Value {
    let text = |id: &str| {
        r.questions.iter().find(|q| q.id == id).map(|q| if lang == "ja" { q.ja.clone() } else { q.en.clone() }).unwrap_or_else(|| id.to_string())
    };
    let a = &r.assessment;
    let stage = |s: &Stage| t(&format!("stage.{}", s.as_str()), lang);
    json!({
        "stage": stage(&a.stage),
        "missing": a.missing_practices.iter().map(|m| text(m)).collect::<Vec<_>>(),
        "goals": a.goals.iter().map(|g| json!({
            "name": t(&format!("goal.{}", g.goal), lang),
            "stage": stage(&g.stage),
            "kpis": g.kpis.iter().map(|k| json!({"name": t(&format!("kpi.{}", k.kpi), lang), "value": kpi_value(k.value.as_ref(), lang)})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

const STAGES: [&str; 6] = ["lead", "meeting", "opportunity", "won", "onboarded", "renewed"];

fn funnel_view(r: &FunnelResult, lang: &str) -> Value {
    let total = &r.report.total;
    let reached = |m: &MonthFunnel, s: &str| m.reached.get(s).copied().unwrap_or(0);
    let ltv: Vec<Value> = r
        .ltv_by_touch_model
        .iter()
        .map(|l| {
            let tier = l.touch_model.as_str();
            json!({
                "tier": if tier == "all" { t("accounts.any", lang) } else { t(&format!("touch.{tier}"), lang) },
                "accounts": whole(Some(l.accounts_active as f64)), "arpa": yen(l.arpa_per_month),
                "del": num(l.del_months, 1), "ltv": yen(l.ltv),
            })
        })
        .collect();
    if reached(total, "lead") == 0 && reached(total, "won") == 0 {
        return json!({ "empty": true, "ltv": ltv });
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
    json!({
        "source": t("funnel.source", lang).replace("%{source}", &t(&format!("funnel.{}", r.report.source), lang)),
        "chart": chart,
        "stages": STAGES.iter().map(|s| stage_name(s)).collect::<Vec<_>>(),
        "months": shown.map(|m| json!({
            "month": m.month,
            "reached": STAGES.iter().map(|s| whole(Some(reached(m, s) as f64))).collect::<Vec<_>>(),
            "conversion": (1..6).map(|i| pct(m.conversion.get(&step(i)).copied().flatten())).collect::<Vec<_>>(),
            "lags": (1..6).map(|i| num(m.median_lag_days.get(&step(i)).copied().flatten(), 1)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "lags": r.report.lags.iter().map(|l| json!({
            "step": format!("{} → {}", stage_name(l.from.as_str()), stage_name(l.to.as_str())),
            "median": num(l.median_days, 1), "mean": num(l.mean_days, 1), "leads": whole(Some(l.leads as f64)),
        })).collect::<Vec<_>>(),
        "ltv": ltv,
    })
}

fn result_view(r: &PlanResult, lang: &str) -> Value {
    match r {
        PlanResult::Capacity(r) => capacity_view(r, lang),
        PlanResult::Hiring(r) => hiring_view(r, lang),
        PlanResult::Budget(r) => budget_view(r, lang),
        PlanResult::Maturity(r) => maturity_view(r, lang),
        PlanResult::Funnel(r) => funnel_view(r, lang),
    }
}

async fn column(state: &AppState, name: Option<&str>, at: chrono::NaiveDate, lang: &str) -> Result<Value, ApiError> {
    let scenario = planning::saved_or_default(state.store.as_ref(), name).await?;
    let mut col = json!({ "name": name.map(str::to_string).unwrap_or_else(|| t("plan.default", lang)) });
    for kind in [PlanKind::Capacity, PlanKind::Hiring, PlanKind::Budget, PlanKind::Maturity] {
        let view = match planning::run(state.store.as_ref(), kind, &scenario, at).await {
            Ok(v) => result_view(&v.result, lang),
            Err(planning::PlanError::MissingSection(_)) => Value::Null,
            Err(e) => return Err(e.into()),
        };
        if let Some(col) = col.as_object_mut() {
            col.insert(kind.name().into(), view);
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
    me.require(Permission::ReadPortfolio)?;
    let page = super::Page::new(&headers, &q, Some(me));
    let lang = page.lang;
    let p = Params(&q);
    let at = p.date("at")?.unwrap_or_else(kizuna_app::today);
    let (name, compare) = (p.text("scenario"), p.text("compare"));
    let mut columns = vec![column(&state, name.as_deref(), at, lang).await?];
    if let Some(c) = &compare {
        let c = (c != "default").then_some(c.as_str());
        columns.push(column(&state, c, at, lang).await?);
    }
    let saved: Vec<String> = state.store.scenarios().await?.into_iter().map(|s| s.0).collect();
    let scenario = planning::default_scenario();
    let funnel = planning::run(state.store.as_ref(), PlanKind::Funnel, &scenario, at).await?;
    let funnel = result_view(&funnel.result, lang);
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
