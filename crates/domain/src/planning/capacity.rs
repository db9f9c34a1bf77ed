//! Team capacity (seed 001): how many CSMs the book needs, computed two ways.
//!
//! - **Bottom-up**: hours per account per month by touch model × accounts, reduced by the
//!   automation factor, ÷ a CSM's productive hours per month → FTE, rounded up to people.
//! - **Top-down**: ARR ÷ the ARR-per-CSM benchmark (and/or accounts ÷ accounts-per-CSM), rounded up.
//! - The gap, and what each single assumption would have to be to close it (seed 001's questions).
//! - CS Ops at one per five CSMs (seed 000 ch.3 (4)), rounded up; team leads from span of control:
//!   8–12 direct reports for an experienced leader, at most 6 for a new one (seed 001).
//!
//! Worked example (a test below): 120 high-touch accounts at 10 h/month, 360 hybrid at 2 h and 120
//! tech-touch at 0.25 h → 1,950 h/month; at 120 productive h per CSM → 16.25 → 17 CSMs bottom-up;
//! ARR ¥900,000,000 at ¥60,000,000 per CSM → 15 CSMs top-down; gap 2; CS Ops 4; leads 2 at span
//! 10 and 3 at span 6.

use super::headcount;
use crate::model::TouchModel;
use crate::money::{to_units, Cents};
use serde::{Deserialize, Serialize};

/// Hours a CSM spends per account per month, by touch model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TouchHours {
    pub high: f64,
    pub hybrid: f64,
    pub tech: f64,
}

impl TouchHours {
    pub fn of(&self, t: TouchModel) -> f64 {
        match t {
            TouchModel::High => self.high,
            TouchModel::Hybrid => self.hybrid,
            TouchModel::Tech => self.tech,
        }
    }
}

/// One slice of the book: a segment served with one touch model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookSlice {
    pub segment: String,
    pub touch_model: TouchModel,
    pub accounts: u64,
    /// ARR in currency units (JPY: yen).
    pub arr: f64,
    /// This slice's own top-down benchmarks (e.g. enterprise CSMs carry more ARR); default the global ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arr_per_csm: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts_per_csm: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityInputs {
    /// The book; when empty, the live accounts and ARR at `--at` are used.
    #[serde(default)]
    pub book: Vec<BookSlice>,
    pub hours_per_account: TouchHours,
    /// A CSM's productive hours per month (after meetings, admin, training).
    pub productive_hours_per_csm: f64,
    /// Share of hours removed by automation (0 = none, 0.3 = 30% fewer hours).
    #[serde(default)]
    pub automation_factor: f64,
    /// Top-down benchmark: ARR one CSM can carry, in currency units.
    pub arr_per_csm: Option<f64>,
    /// Top-down benchmark: accounts one CSM can carry.
    pub accounts_per_csm: Option<f64>,
    /// CSMs per CS Ops person (seed 000: one per five).
    #[serde(default = "default_csms_per_ops")]
    pub csms_per_ops: f64,
    #[serde(default = "default_span_experienced")]
    pub span_experienced_lead: u32,
    #[serde(default = "default_span_new")]
    pub span_new_lead: u32,
    /// CSMs on the team today, to say whether it is enough.
    pub current_csms: Option<u32>,
}

fn default_csms_per_ops() -> f64 {
    5.0
}
fn default_span_experienced() -> u32 {
    10
}
fn default_span_new() -> u32 {
    6
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SliceResult {
    pub segment: String,
    pub touch_model: TouchModel,
    pub accounts: u64,
    pub arr: f64,
    pub hours_per_month: f64,
    pub bottom_up_fte: f64,
    pub top_down_fte_by_arr: Option<f64>,
    pub top_down_fte_by_accounts: Option<f64>,
}

/// What one assumption would have to be for bottom-up to equal top-down.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GapCloser {
    pub assumption: &'static str,
    pub current: f64,
    pub required: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CapacityPlan {
    pub slices: Vec<SliceResult>,
    pub accounts: u64,
    pub arr: f64,
    pub hours_per_month: f64,
    pub bottom_up_fte: f64,
    pub bottom_up_csms: u32,
    pub top_down_csms: Option<u32>,
    pub top_down_csms_by_arr: Option<u32>,
    pub top_down_csms_by_accounts: Option<u32>,
    /// bottom-up − top-down (positive: the benchmark funds fewer CSMs than the work needs).
    pub gap: Option<i64>,
    pub accounts_per_csm: Option<f64>,
    pub arr_per_csm: Option<f64>,
    pub cs_ops: u32,
    pub leads_experienced: u32,
    pub leads_new: u32,
    pub current_csms: Option<u32>,
    pub current_team_short_by: Option<i64>,
    pub gap_closers: Vec<GapCloser>,
}

pub fn plan(inputs: &CapacityInputs) -> CapacityPlan {
    let keep = 1.0 - inputs.automation_factor;
    let slices: Vec<SliceResult> = inputs
        .book
        .iter()
        .map(|s| {
            let hours = s.accounts as f64 * inputs.hours_per_account.of(s.touch_model) * keep;
            SliceResult {
                segment: s.segment.clone(),
                touch_model: s.touch_model,
                accounts: s.accounts,
                arr: s.arr,
                hours_per_month: hours,
                bottom_up_fte: hours / inputs.productive_hours_per_csm,
                top_down_fte_by_arr: s.arr_per_csm.or(inputs.arr_per_csm).map(|b| s.arr / b),
                top_down_fte_by_accounts: s.accounts_per_csm.or(inputs.accounts_per_csm).map(|b| s.accounts as f64 / b),
            }
        })
        .collect();
    let accounts: u64 = slices.iter().map(|s| s.accounts).sum();
    let arr: f64 = slices.iter().map(|s| s.arr).sum();
    let hours: f64 = slices.iter().map(|s| s.hours_per_month).sum();
    let fte = hours / inputs.productive_hours_per_csm;
    let bottom_up = headcount(fte);
    // Σ of the slices' top-down FTE (= ARR ÷ benchmark when no slice has its own), rounded up.
    let sum = |f: fn(&SliceResult) -> Option<f64>| -> Option<u32> {
        let parts: Vec<f64> = slices.iter().filter_map(f).collect();
        (!parts.is_empty()).then(|| headcount(parts.iter().sum()))
    };
    let by_arr = sum(|s| s.top_down_fte_by_arr);
    let by_accounts = sum(|s| s.top_down_fte_by_accounts);
    // With both benchmarks, the larger need is the honest top-down figure.
    let top_down = match (by_arr, by_accounts) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    // No accounts, no team: no CS Ops or lead for nobody.
    let planned = bottom_up;
    let raw_hours = hours / keep.max(f64::MIN_POSITIVE);
    let mut gap_closers = vec![];
    if let Some(td) = top_down.filter(|td| *td != bottom_up && *td > 0) {
        let td = td as f64;
        gap_closers.push(GapCloser {
            assumption: "productive_hours_per_csm",
            current: inputs.productive_hours_per_csm,
            required: hours / td,
        });
        gap_closers.push(GapCloser {
            assumption: "automation_factor",
            current: inputs.automation_factor,
            required: (1.0 - td * inputs.productive_hours_per_csm / raw_hours).max(0.0),
        });
        if let Some(b) = inputs.arr_per_csm {
            gap_closers.push(GapCloser { assumption: "arr_per_csm", current: b, required: arr / bottom_up.max(1) as f64 });
        }
        if let Some(b) = inputs.accounts_per_csm {
            gap_closers.push(GapCloser {
                assumption: "accounts_per_csm",
                current: b,
                required: accounts as f64 / bottom_up.max(1) as f64,
            });
        }
    }
    // An assumption already at the value that would close the gap is no lever.
    gap_closers.retain(|g| (g.required - g.current).abs() > 1e-9);
    CapacityPlan {
        slices,
        accounts,
        arr,
        hours_per_month: hours,
        bottom_up_fte: fte,
        bottom_up_csms: bottom_up,
        top_down_csms: top_down,
        top_down_csms_by_arr: by_arr,
        top_down_csms_by_accounts: by_accounts,
        gap: top_down.map(|td| bottom_up as i64 - td as i64),
        accounts_per_csm: (bottom_up > 0).then(|| accounts as f64 / bottom_up as f64),
        arr_per_csm: (bottom_up > 0).then(|| arr / bottom_up as f64),
        cs_ops: headcount(planned as f64 / inputs.csms_per_ops),
        leads_experienced: headcount(planned as f64 / inputs.span_experienced_lead.max(1) as f64),
        leads_new: headcount(planned as f64 / inputs.span_new_lead.max(1) as f64),
        current_csms: inputs.current_csms,
        current_team_short_by: inputs.current_csms.map(|c| bottom_up as i64 - c as i64),
        gap_closers,
    }
}

/// The book from live data: (segment, touch model, accounts, MRR in cents) rows.
pub fn book_from_live(rows: &[(String, TouchModel, u64, Cents)]) -> Vec<BookSlice> {
    rows.iter()
        .map(|(segment, touch_model, accounts, mrr)| BookSlice {
            segment: segment.clone(),
            touch_model: *touch_model,
            accounts: *accounts,
            arr: to_units(mrr * 12),
            arr_per_csm: None,
            accounts_per_csm: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn worked_example() -> CapacityInputs {
        let slice = |t, n, arr| BookSlice { segment: "all".into(), touch_model: t, accounts: n, arr, arr_per_csm: None, accounts_per_csm: None };
        CapacityInputs {
            book: vec![
                slice(TouchModel::High, 120, 540_000_000.0),
                slice(TouchModel::Hybrid, 360, 300_000_000.0),
                slice(TouchModel::Tech, 120, 60_000_000.0),
            ],
            hours_per_account: TouchHours { high: 10.0, hybrid: 2.0, tech: 0.25 },
            productive_hours_per_csm: 120.0,
            automation_factor: 0.0,
            arr_per_csm: Some(60_000_000.0),
            accounts_per_csm: None,
            csms_per_ops: 5.0,
            span_experienced_lead: 10,
            span_new_lead: 6,
            current_csms: Some(12),
        }
    }

    #[test]
    fn the_issue_worked_example_holds_exactly() {
        let p = plan(&worked_example());
        assert_eq!(p.hours_per_month, 1950.0);
        assert_eq!(p.bottom_up_fte, 16.25);
        assert_eq!(p.bottom_up_csms, 17);
        assert_eq!(p.arr, 900_000_000.0);
        assert_eq!(p.top_down_csms, Some(15));
        assert_eq!(p.gap, Some(2));
        assert_eq!(p.cs_ops, 4);
        assert_eq!((p.leads_experienced, p.leads_new), (2, 3));
        assert_eq!(p.current_team_short_by, Some(5));
        assert_eq!(p.accounts_per_csm, Some(600.0 / 17.0));
        // No accounts yet: no CSM, and so no CS Ops or lead either.
        let empty = plan(&CapacityInputs { book: vec![], ..worked_example() });
        assert_eq!((empty.bottom_up_csms, empty.cs_ops, empty.leads_experienced, empty.leads_new), (0, 0, 0, 0));
    }

    #[test]
    fn gap_closers_are_what_each_assumption_would_need() {
        let p = plan(&worked_example());
        let need = |a: &str| p.gap_closers.iter().find(|g| g.assumption == a).unwrap().required;
        // 1,950 h over 15 CSMs = 130 h each; or automation cutting 1 − 15×120/1950 = 7.69%;
        // or a benchmark of ¥900M / 17 = ¥52.94M per CSM.
        assert_eq!(need("productive_hours_per_csm"), 130.0);
        assert!((need("automation_factor") - (1.0 - 1800.0 / 1950.0)).abs() < 1e-12);
        assert!((need("arr_per_csm") - 900_000_000.0 / 17.0).abs() < 1e-6);
    }

    #[test]
    fn a_slice_can_have_its_own_benchmark() {
        let mut i = worked_example();
        // Enterprise CSMs carry ¥90M: 540/90 = 6, + 300/60 = 5, + 60/60 = 1 → 12 top-down.
        i.book[0].arr_per_csm = Some(90_000_000.0);
        let p = plan(&i);
        assert_eq!(p.slices[0].top_down_fte_by_arr, Some(6.0));
        assert_eq!((p.top_down_csms, p.gap), (Some(12), Some(5)));
    }

    #[test]
    fn automation_cuts_hours() {
        let mut i = worked_example();
        i.automation_factor = 0.2;
        let p = plan(&i);
        assert_eq!(p.hours_per_month, 1560.0);
        assert_eq!(p.bottom_up_csms, 13);
    }
}
