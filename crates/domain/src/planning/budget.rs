//! The CS budget (seed 000 ch.2): cost, its split under the four funding strategies, the S&M
//! split against the 65 / 15 / 20 best practice, and the ROI of CS spend.
//!
//! Funding strategies: (1) all sales & marketing; (2) all cost of goods sold; (3) half and half;
//! (4) by activity: support, training and onboarding to COGS; renewal, upsell and cross-sell to S&M,
//! in proportion to the share of CS time spent on each.
//!
//! ROI (assumptions shown in the output): retained ARR attributable to CS = ARR × (GRR − baseline
//! GRR without CS); expansion attributable = ARR × max(0, NRR − GRR) × attribution share;
//! ROI = (attributable ARR − CS cost) / CS cost.
//!
//! Worked example (test below): 17 CSMs at ¥9M, 4 ops at ¥8M, 2 leads at ¥12M, tools ¥6M,
//! programmes ¥4M → ¥219M. By activity with 50% of time on support + training + onboarding:
//! COGS ¥109.5M, S&M ¥109.5M. ARR ¥900M, GRR 0.92, NRR 1.08, baseline GRR 0.85, attribution
//! 0.5 → retained ¥63M + expansion ¥72M = ¥135M; ROI (135 − 219) / 219 = −0.3836.

use crate::money::{to_units, Cents};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeadcountLine {
    pub role: String,
    pub count: f64,
    /// Salary plus on-costs per person per year, in currency units.
    pub loaded_cost_per_year: f64,
}

/// Share of CS time per activity; must add up to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeShare {
    pub support: f64,
    pub training: f64,
    pub onboarding: f64,
    pub renewal: f64,
    pub upsell: f64,
    pub cross_sell: f64,
}

impl TimeShare {
    pub fn total(&self) -> f64 {
        self.support + self.training + self.onboarding + self.renewal + self.upsell + self.cross_sell
    }
    /// The part that is service delivery (COGS under strategy 4).
    pub fn delivery(&self) -> f64 {
        self.support + self.training + self.onboarding
    }
}

/// The company's sales & marketing spend per year by purpose.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SalesMarketing {
    pub acquisition: f64,
    pub expansion: f64,
    pub retention: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoiInputs {
    /// ARR at the start of the year; default the live ARR.
    pub arr: Option<f64>,
    /// Default: live NRR and GRR over the last 12 months.
    pub nrr: Option<f64>,
    pub grr: Option<f64>,
    /// GRR the company would have without CS (an assumption to state, not a measurement).
    pub baseline_grr: f64,
    /// Share of expansion that CS earns credit for.
    pub expansion_attribution: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetInputs {
    #[serde(default = "jpy")]
    pub currency: String,
    pub headcount: Vec<HeadcountLine>,
    #[serde(default)]
    pub tools_per_year: f64,
    #[serde(default)]
    pub programs_per_year: f64,
    pub time_share: TimeShare,
    pub sales_marketing: Option<SalesMarketing>,
    pub roi: Option<RoiInputs>,
}

fn jpy() -> String {
    "JPY".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StrategySplit {
    pub strategy: &'static str,
    pub sales_marketing: f64,
    pub cogs: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SmCategory {
    pub category: &'static str,
    pub amount: f64,
    pub share: f64,
    pub best_practice_share: f64,
    /// share − best practice, in percentage points.
    pub difference_points: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Roi {
    pub arr: f64,
    pub nrr: f64,
    pub grr: f64,
    pub baseline_grr: f64,
    pub expansion_attribution: f64,
    pub retained_arr_attributable: f64,
    pub expansion_arr_attributable: f64,
    pub return_total: f64,
    pub cost: f64,
    pub roi: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BudgetPlan {
    pub currency: String,
    pub headcount: Vec<(String, f64, f64)>,
    pub people_cost: f64,
    pub tools: f64,
    pub programs: f64,
    pub total: f64,
    pub strategies: Vec<StrategySplit>,
    pub sales_marketing_split: Vec<SmCategory>,
    pub roi: Option<Roi>,
}

/// ARR, NRR and GRR measured from the data, used where the scenario leaves them out.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LiveRevenue {
    pub arr: Option<f64>,
    pub nrr: Option<f64>,
    pub grr: Option<f64>,
}

/// An amount in the currency's smallest unit as kept (whole yen for JPY, hundredths otherwise):
/// every money figure of the plan is exact there, so parts add up to their whole to the yen.
fn exact(amount: f64, currency: &str) -> Cents {
    let step: i64 = if currency == "JPY" { 100 } else { 1 };
    (amount * 100.0 / step as f64).round() as i64 * step
}

/// `total` split into (S&M, COGS) with `cogs_share` of it to COGS, rounded to the currency's
/// unit; S&M is the rest, so the two add up to the total exactly.
fn split(total: Cents, cogs_share: f64, currency: &str) -> (Cents, Cents) {
    let cogs = exact(to_units(total) * cogs_share, currency);
    (total - cogs, cogs)
}

pub fn plan(b: &BudgetInputs, live: LiveRevenue) -> BudgetPlan {
    let cur = b.currency.as_str();
    let lines: Vec<(String, f64, Cents)> =
        b.headcount.iter().map(|h| (h.role.clone(), h.count, exact(h.count * h.loaded_cost_per_year, cur))).collect();
    let people: Cents = lines.iter().map(|h| h.2).sum();
    let (tools, programs) = (exact(b.tools_per_year, cur), exact(b.programs_per_year, cur));
    let total_cents = people + tools + programs;
    let total = to_units(total_cents);
    let headcount = lines.into_iter().map(|(role, count, cost)| (role, count, to_units(cost))).collect();
    let delivery = b.time_share.delivery() / b.time_share.total();
    let strategy = |strategy, (sm, cogs): (Cents, Cents)| StrategySplit { strategy, sales_marketing: to_units(sm), cogs: to_units(cogs) };
    let strategies = vec![
        strategy("all_sales_marketing", (total_cents, 0)),
        strategy("all_cogs", (0, total_cents)),
        strategy("half_and_half", split(total_cents, 0.5, cur)),
        strategy("by_activity", split(total_cents, delivery, cur)),
    ];
    let sales_marketing_split = b.sales_marketing.map_or(vec![], |sm| {
        let sum = sm.acquisition + sm.expansion + sm.retention;
        [("acquisition_cac", sm.acquisition, 0.65), ("expansion_cec", sm.expansion, 0.15), ("retention_crc", sm.retention, 0.20)]
            .into_iter()
            .map(|(category, amount, best)| {
                let share = if sum > 0.0 { amount / sum } else { 0.0 };
                SmCategory { category, amount, share, best_practice_share: best, difference_points: (share - best) * 100.0 }
            })
            .collect()
    });
    let roi = b.roi.and_then(|r| {
        let (arr, nrr, grr) = (r.arr.or(live.arr)?, r.nrr.or(live.nrr)?, r.grr.or(live.grr)?);
        let retained = exact(arr * (grr - r.baseline_grr), cur);
        let expansion = exact(arr * (nrr - grr).max(0.0) * r.expansion_attribution, cur);
        let (ret, retained, expansion) = (to_units(retained + expansion), to_units(retained), to_units(expansion));
        Some(Roi {
            arr,
            nrr,
            grr,
            baseline_grr: r.baseline_grr,
            expansion_attribution: r.expansion_attribution,
            retained_arr_attributable: retained,
            expansion_arr_attributable: expansion,
            return_total: ret,
            cost: total,
            roi: if total > 0.0 { (ret - total) / total } else { 0.0 },
        })
    });
    BudgetPlan {
        currency: b.currency.clone(),
        headcount,
        people_cost: to_units(people),
        tools: to_units(tools),
        programs: to_units(programs),
        total,
        strategies,
        sales_marketing_split,
        roi,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn example() -> BudgetInputs {
        let line = |role: &str, count, cost| HeadcountLine { role: role.into(), count, loaded_cost_per_year: cost };
        BudgetInputs {
            currency: "JPY".into(),
            headcount: vec![line("csm", 17.0, 9e6), line("cs_ops", 4.0, 8e6), line("lead", 2.0, 12e6)],
            tools_per_year: 6e6,
            programs_per_year: 4e6,
            time_share: TimeShare { support: 0.2, training: 0.1, onboarding: 0.2, renewal: 0.25, upsell: 0.15, cross_sell: 0.1 },
            sales_marketing: Some(SalesMarketing { acquisition: 700e6, expansion: 100e6, retention: 200e6 }),
            roi: Some(RoiInputs { arr: Some(900e6), nrr: Some(1.08), grr: Some(0.92), baseline_grr: 0.85, expansion_attribution: 0.5 }),
        }
    }

    #[test]
    fn worked_example() {
        let p = plan(&example(), LiveRevenue::default());
        assert_eq!(p.people_cost, 153e6 + 32e6 + 24e6);
        assert_eq!(p.total, 219e6);
        let by_activity = p.strategies.iter().find(|s| s.strategy == "by_activity").unwrap();
        assert!((by_activity.cogs - 109.5e6).abs() < 1e-3 && (by_activity.sales_marketing - 109.5e6).abs() < 1e-3);
        assert_eq!(p.strategies[2].cogs, 109.5e6);
        // S&M ¥1,000M: 70 / 10 / 20 against 65 / 15 / 20.
        let cac = &p.sales_marketing_split[0];
        assert!((cac.share - 0.7).abs() < 1e-12 && (cac.difference_points - 5.0).abs() < 1e-9);
        let roi = p.roi.unwrap();
        // 900M × (0.92 − 0.85) = 63M; 900M × 0.16 × 0.5 = 72M; (135 − 219) / 219.
        assert!((roi.retained_arr_attributable - 63e6).abs() < 1e-3);
        assert!((roi.expansion_arr_attributable - 72e6).abs() < 1e-3);
        assert!((roi.roi - (135e6 - 219e6) / 219e6).abs() < 1e-12);
    }

    #[test]
    fn money_is_exact_to_the_yen() {
        // ¥9,000,001 split half and half: ¥4,500,000 and ¥4,500,001, not ¥4,500,000.5 twice
        // (shown as ¥4,500,001 twice).
        let mut b = example();
        b.headcount = vec![HeadcountLine { role: "csm".into(), count: 1.0, loaded_cost_per_year: 9_000_001.0 }];
        (b.tools_per_year, b.programs_per_year) = (0.0, 0.0);
        let p = plan(&b, LiveRevenue::default());
        let half = &p.strategies[2];
        assert_eq!((half.sales_marketing, half.cogs), (4_500_000.0, 4_500_001.0));
        // A third of the time on delivery: 3,000,000.33 rounds to ¥3,000,000, S&M the rest.
        b.time_share = TimeShare { support: 1.0, training: 0.0, onboarding: 0.0, renewal: 2.0, upsell: 0.0, cross_sell: 0.0 };
        let by_activity = plan(&b, LiveRevenue::default()).strategies[3].clone();
        assert_eq!((by_activity.sales_marketing, by_activity.cogs), (6_000_001.0, 3_000_000.0));
        // Half a person at ¥7,000,001 is ¥3,500,000.5 → ¥3,500,001 (whole yen); in USD cents stay.
        b.headcount = vec![HeadcountLine { role: "csm".into(), count: 0.5, loaded_cost_per_year: 7_000_001.0 }];
        assert_eq!(plan(&b, LiveRevenue::default()).total, 3_500_001.0);
        b.currency = "USD".into();
        assert_eq!(plan(&b, LiveRevenue::default()).total, 3_500_000.5);
    }

    #[test]
    fn live_revenue_fills_missing_roi_inputs() {
        let mut b = example();
        b.roi = Some(RoiInputs { arr: None, nrr: None, grr: None, baseline_grr: 0.85, expansion_attribution: 1.0 });
        assert!(plan(&b, LiveRevenue::default()).roi.is_none());
        let p = plan(&b, LiveRevenue { arr: Some(100.0), nrr: Some(1.1), grr: Some(0.9) });
        assert!((p.roi.unwrap().return_total - (100.0 * 0.05 + 100.0 * 0.2)).abs() < 1e-9);
    }
}
