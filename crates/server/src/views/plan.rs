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
use kizuna_app::planning::{self, PlanKind};
use kizuna_domain::money::{format_money, group_thousands};
use serde_json::{json, Value};
use std::collections::HashMap;

fn yen(v: &Value) -> String {
    v.as_f64().map(|x| format_money((x * 100.0).round() as i64, "JPY")).unwrap_or_default()
}

fn pct(v: &Value) -> String {
    v.as_f64().map(|x| format!("{:.1}%", x * 100.0)).unwrap_or_else(|| "—".into())
}

fn num(v: &Value, decimals: usize) -> String {
    match v.as_f64() {
        Some(x) if decimals == 0 => group_thousands(x.round().max(0.0) as u64),
        Some(x) => {
            let whole = group_thousands(x.trunc().abs() as u64);
            let frac = format!("{:.*}", decimals, x.abs().fract());
            format!("{}{whole}{}", if x < 0.0 { "-" } else { "" }, &frac[1..])
        }
        None => "—".into(),
    }
}

/// A known segment's name in the page language; a user-defined one as it is.
fn segment_name(segment: &str, lang: &str) -> String {
    let key = format!("segment.{segment}");
    let text = t(&key, lang);
    if text.ends_with(&key) { segment.to_string() } else { text }
}

fn capacity_view(r: &Value, lang: &str) -> Value {
    let label = |s: &Value| format!("{} / {}", segment_name(s["segment"].as_str().unwrap_or(""), lang), t(&format!("touch.{}", s["touch_model"].as_str().unwrap_or("")), lang));
    let slices = r["slices"].as_array().cloned().unwrap_or_default();
    let chart = grouped_bars(
        &t("cap.chart", lang),
        &[t("col.bottom_up_fte", lang), t("col.top_down_fte", lang)],
        &slices
            .iter()
            .map(|s| (label(s), vec![s["bottom_up_fte"].as_f64().unwrap_or(0.0), s["top_down_fte_by_arr"].as_f64().or(s["top_down_fte_by_accounts"].as_f64()).unwrap_or(0.0)]))
            .collect::<Vec<_>>(),
        &|v| format!("{v:.1}"),
    );
    let closers: Vec<String> = r["gap_closers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let a = c["assumption"].as_str().unwrap_or("");
            let show = |v: &Value| match a {
                "automation_factor" => pct(v),
                "arr_per_csm" => yen(v),
                _ => num(v, 1),
            };
            t("cap.closer_line", lang)
                .replace("%{assumption}", &t(&format!("closer.{a}"), lang))
                .replace("%{current}", &show(&c["current"]))
                .replace("%{required}", &show(&c["required"]))
        })
        .collect();
    json!({
        "figures": [
            [t("cap.hours", lang), num(&r["hours_per_month"], 1)],
            [t("cap.bottom_up", lang), num(&r["bottom_up_csms"], 0)],
            [t("cap.top_down", lang), num(&r["top_down_csms"], 0)],
            [t("cap.gap", lang), r["gap"].as_i64().map(|g| g.to_string()).unwrap_or_else(|| "—".into())],
            [t("cap.cs_ops", lang), num(&r["cs_ops"], 0)],
            [format!("{} ({})", t("cap.leads_exp", lang), r["inputs"]["span_experienced_lead"]), num(&r["leads_experienced"], 0)],
            [format!("{} ({})", t("cap.leads_new", lang), r["inputs"]["span_new_lead"]), num(&r["leads_new"], 0)],
            [t("cap.accounts_per_csm", lang), num(&r["accounts_per_csm"], 1)],
            [t("cap.arr_per_csm", lang), yen(&r["arr_per_csm"])],
            [t("cap.current_short", lang), r["current_team_short_by"].as_i64().map(|g| g.to_string()).unwrap_or_else(|| "—".into())],
        ],
        "book_source": t(if r["book_source"] == "live" { "cap.book_live" } else { "cap.book_scenario" }, lang),
        "slices": slices.iter().map(|s| json!({
            "label": label(s), "accounts": num(&s["accounts"], 0), "arr": yen(&s["arr"]),
            "bottom_up": num(&s["bottom_up_fte"], 2), "top_down": num(&s["top_down_fte_by_arr"], 2),
        })).collect::<Vec<_>>(),
        "chart": chart,
        "closers": closers,
    })
}

fn hiring_view(r: &Value, lang: &str) -> Value {
    let months = r["months"].as_array().cloned().unwrap_or_default();
    let chart = grouped_bars(
        &t("hire.chart", lang),
        &[t("hire.required", lang), t("hire.headcount", lang)],
        &months
            .iter()
            .map(|m| (m["label"].as_str().unwrap_or("").to_string(), vec![m["required_fte"].as_f64().unwrap_or(0.0), m["headcount"].as_f64().unwrap_or(0.0)]))
            .collect::<Vec<_>>(),
        &|v| format!("{v:.1}"),
    );
    let when = |key: &str| r[format!("{key}_label")].as_str().map(str::to_string).unwrap_or_else(|| t("hire.never", lang));
    let hires: Vec<String> = r["hires"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            let line = t("hire.line", lang)
                .replace("%{count}", &h["count"].to_string())
                .replace("%{start}", h["start_label"].as_str().unwrap_or(""))
                .replace("%{req}", &match h["requisition_label"].as_str() {
                    Some(l) => l.to_string(),
                    None => t("hire.before_start", lang)
                        .replace("%{n}", &h["requisition_months_before_start"].to_string())
                        .replace("%{start}", r["resolved"]["start_month"].as_str().unwrap_or("")),
                });
            if h["late"] == true { format!("{line} — {}", t("hire.late", lang)) } else { line }
        })
        .collect();
    json!({
        "figures": [
            [t("hire.total", lang), num(&r["total_hires"], 0)],
            [t("hire.current_short", lang), when("first_month_current_team_short")],
            [t("hire.high_only_short", lang), when("first_month_high_touch_only_short")],
        ],
        "chart": chart,
        "hires": hires,
        "paths": r["mix_paths"].as_array().into_iter().flatten().map(|p| json!({
            "mix": format!("{} / {} / {}", pct(&p["mix"]["high"]), pct(&p["mix"]["hybrid"]), pct(&p["mix"]["tech"])),
            "needed": num(&p["csms_needed_at_end"], 0),
            "short": p["first_month_current_team_short"].as_u64().map(|m| {
                months.get(m as usize).and_then(|x| x["label"].as_str()).unwrap_or("").to_string()
            }).unwrap_or_else(|| t("hire.never", lang)),
        })).collect::<Vec<_>>(),
    })
}

fn budget_view(r: &Value, lang: &str) -> Value {
    let strategies = r["strategies"].as_array().cloned().unwrap_or_default();
    let chart = grouped_bars(
        &t("bud.strategies", lang),
        &[t("bud.sm", lang), t("bud.cogs", lang)],
        &strategies
            .iter()
            .map(|s| {
                let name = t(&format!("strategy.{}", s["strategy"].as_str().unwrap_or("")), lang);
                (name, vec![s["sales_marketing"].as_f64().unwrap_or(0.0), s["cogs"].as_f64().unwrap_or(0.0)])
            })
            .collect::<Vec<_>>(),
        &|v| format_money((v * 100.0).round() as i64, "JPY"),
    );
    let roi = &r["roi"];
    json!({
        "figures": [
            [t("bud.people", lang), yen(&r["people_cost"])],
            [t("bud.tools", lang), yen(&r["tools"])],
            [t("bud.programs", lang), yen(&r["programs"])],
            [t("bud.total", lang), yen(&r["total"])],
        ],
        "strategies": strategies.iter().map(|s| json!({
            "name": t(&format!("strategy.{}", s["strategy"].as_str().unwrap_or("")), lang),
            "sm": yen(&s["sales_marketing"]), "cogs": yen(&s["cogs"]),
        })).collect::<Vec<_>>(),
        "chart": chart,
        "sm_split": r["sales_marketing_split"].as_array().into_iter().flatten().map(|c| json!({
            "name": t(&format!("sm.{}", c["category"].as_str().unwrap_or("")), lang),
            "amount": yen(&c["amount"]), "share": pct(&c["share"]), "best": pct(&c["best_practice_share"]),
            "diff": format!("{:+.1}", c["difference_points"].as_f64().unwrap_or(0.0)),
        })).collect::<Vec<_>>(),
        "roi": if roi.is_null() { Value::Null } else { json!({
            "lines": [
                [t("roi.retained", lang), yen(&roi["retained_arr_attributable"])],
                [t("roi.expansion", lang), yen(&roi["expansion_arr_attributable"])],
                [t("roi.value", lang), pct(&roi["roi"])],
            ],
            "assumptions": t("roi.assumptions", lang)
                .replace("%{arr}", &yen(&roi["arr"])).replace("%{nrr}", &pct(&roi["nrr"])).replace("%{grr}", &pct(&roi["grr"]))
                .replace("%{baseline}", &pct(&roi["baseline_grr"])).replace("%{attribution}", &pct(&roi["expansion_attribution"])),
        })},
    })
}

fn kpi_value(kpi: &str, v: &Value, lang: &str) -> String {
    match (kpi, v) {
        (_, Value::Null) => t("mat.not_measured", lang),
        ("arr_by_segment", Value::Object(o)) => o.iter().map(|(k, v)| format!("{}: {}", segment_name(k, lang), yen(v))).collect::<Vec<_>>().join(", "),
        ("team_performance", v) => format!("{} / {}", num(&v["accounts_per_csm"], 1), yen(&v["arr_per_csm"])),
        ("nrr", v) | (_, v) if v.is_number() => pct(v),
        (_, v) => v.to_string(),
    }
}

fn maturity_view(r: &Value, lang: &str) -> Value {
    let questions = r["questions"].as_array().cloned().unwrap_or_default();
    let text = |id: &str| questions.iter().find(|q| q["id"] == id).and_then(|q| q[lang].as_str()).unwrap_or(id).to_string();
    json!({
        "stage": t(&format!("stage.{}", r["stage"].as_str().unwrap_or("")), lang),
        "missing": r["missing_practices"].as_array().into_iter().flatten().map(|m| text(m.as_str().unwrap_or(""))).collect::<Vec<_>>(),
        "goals": r["goals"].as_array().into_iter().flatten().map(|g| json!({
            "name": t(&format!("goal.{}", g["goal"].as_str().unwrap_or("")), lang),
            "stage": t(&format!("stage.{}", g["stage"].as_str().unwrap_or("")), lang),
            "kpis": g["kpis"].as_array().into_iter().flatten().map(|k| {
                let id = k["kpi"].as_str().unwrap_or("");
                json!({"name": t(&format!("kpi.{id}"), lang), "value": kpi_value(id, &k["value"], lang)})
            }).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

const STAGES: [&str; 6] = ["lead", "meeting", "opportunity", "won", "onboarded", "renewed"];

fn funnel_view(r: &Value, lang: &str) -> Value {
    let total = &r["total"];
    let ltv: Vec<Value> = r["ltv_by_touch_model"].as_array().into_iter().flatten().map(|l| {
        let tier = l["touch_model"].as_str().unwrap_or("");
        json!({
            "tier": if tier == "all" { t("accounts.any", lang) } else { t(&format!("touch.{tier}"), lang) },
            "accounts": num(&l["accounts_active"], 0), "arpa": yen(&l["arpa_per_month"]),
            "del": num(&l["del_months"], 1), "ltv": yen(&l["ltv"]),
        })
    }).collect();
    if total["reached"]["lead"].as_u64().unwrap_or(0) == 0 && total["reached"]["won"].as_u64().unwrap_or(0) == 0 {
        return json!({ "empty": true, "ltv": ltv });
    }
    let stage_name = |s: &str| t(&format!("stage.{s}"), lang);
    let chart = grouped_bars(
        &t("funnel.chart", lang),
        &[t("funnel.reached", lang)],
        &STAGES.iter().map(|s| (stage_name(s), vec![total["reached"][*s].as_f64().unwrap_or(0.0)])).collect::<Vec<_>>(),
        &|v| group_thousands(v as u64),
    );
    let months: Vec<Value> = r["months"].as_array().cloned().unwrap_or_default();
    let shown = months.iter().rev().take(12).rev().chain(std::iter::once(total));
    json!({
        "source": t("funnel.source", lang).replace("%{source}", &t(&format!("funnel.{}", r["source"].as_str().unwrap_or("records")), lang)),
        "chart": chart,
        "stages": STAGES.iter().map(|s| stage_name(s)).collect::<Vec<_>>(),
        "months": shown.map(|m| json!({
            "month": m["month"],
            "reached": STAGES.iter().map(|s| num(&m["reached"][*s], 0)).collect::<Vec<_>>(),
            "conversion": (1..6).map(|i| pct(&m["conversion"][format!("{}_to_{}", STAGES[i - 1], STAGES[i])])).collect::<Vec<_>>(),
            "lags": (1..6).map(|i| num(&m["median_lag_days"][format!("{}_to_{}", STAGES[i - 1], STAGES[i])], 1)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "lags": r["lags"].as_array().into_iter().flatten().map(|l| json!({
            "step": format!("{} → {}", stage_name(l["from"].as_str().unwrap_or("")), stage_name(l["to"].as_str().unwrap_or(""))),
            "median": num(&l["median_days"], 1), "mean": num(&l["mean_days"], 1), "leads": num(&l["leads"], 0),
        })).collect::<Vec<_>>(),
        "ltv": ltv,
    })
}

async fn column(state: &AppState, name: Option<&str>, at: chrono::NaiveDate, lang: &str) -> Result<Value, ApiError> {
    let scenario = planning::saved_or_default(state.store.as_ref(), name).await?;
    let mut col = json!({ "name": name.map(str::to_string).unwrap_or_else(|| t("plan.default", lang)) });
    for kind in [PlanKind::Capacity, PlanKind::Hiring, PlanKind::Budget, PlanKind::Maturity] {
        let view = match planning::run(state.store.as_ref(), kind, &scenario, at).await {
            Ok(v) => match kind {
                PlanKind::Capacity => capacity_view(&v["result"], lang),
                PlanKind::Hiring => hiring_view(&v["result"], lang),
                PlanKind::Budget => budget_view(&v["result"], lang),
                PlanKind::Maturity => maturity_view(&v["result"], lang),
                PlanKind::Funnel => funnel_view(&v["result"], lang),
            },
            Err(planning::PlanError::MissingSection(_)) => Value::Null,
            Err(e) => return Err(e.into()),
        };
        col[kind.name()] = view;
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
    let funnel = funnel_view(&funnel["result"], lang);
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
