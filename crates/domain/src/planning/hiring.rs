//! Hiring plan (seed 003 §7, §12): from a business plan (new accounts per month, or a growth
//! rate), monthly churn and the touch-model mix over time, the CSM, CS Ops and lead headcount
//! needed each month, when each hire must start (and its requisition open), and the first month
//! the current team, or a high-touch-only model, stops being enough.
//!
//! - Accounts: a_t = a_{t−1} × (1 − churn) + new_t, with a_{−1} = starting accounts and
//!   new_t = new_0 × (1 + growth)^t.
//! - Required FTE: a_t × Σ mix × hours per account × (1 − automation) ÷ productive hours.
//! - A new hire in their m-th month works at m / (ramp + 1) of a full CSM (ramp 3: 25%, 50%, 75%,
//!   then 100%). Hires are scheduled month by month: when the team (counted as ramped up) falls
//!   short at t, enough hires start at t − ramp to be fully productive at t; their requisitions
//!   open `lead time` earlier. A hire that would have to start before the plan starts begins in
//!   the first month, is marked late, and the uncovered work is reported as `shortfall_fte`.
//!
//! Worked example (test below): 100 accounts, 10 new a month, no churn, all hybrid at 2 h, 100
//! productive h, 3 CSMs, ramp 2, lead time 2. Need at t: (110 + 10t) × 2 / 100. The team is short
//! first at t = 5 (3.2 > 3): one hire starts at t = 3 (requisition at t = 1). Next short at t = 10
//! (4.2 > 4): a hire starts at t = 8.

use super::capacity::{CapacityInputs, TouchHours};
use super::headcount;
use serde::{Deserialize, Serialize};

/// Share of accounts per touch model from a month on (offset from the plan's first month).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MixStep {
    #[serde(default)]
    pub from_month: u32,
    pub high: f64,
    pub hybrid: f64,
    pub tech: f64,
}

impl MixStep {
    fn hours(&self, h: &TouchHours) -> f64 {
        self.high * h.high + self.hybrid * h.hybrid + self.tech * h.tech
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HiringInputs {
    /// First month of the plan (YYYY-MM); default the month after the data date.
    pub start_month: Option<String>,
    #[serde(default = "default_months")]
    pub months: u32,
    /// Default: active accounts at the data date.
    pub starting_accounts: Option<f64>,
    pub new_accounts_per_month: f64,
    /// Monthly growth of new accounts (0.02 = 2% more each month).
    #[serde(default)]
    pub new_accounts_growth_rate: f64,
    /// Monthly logo churn; default the live rate over the last 12 months.
    pub monthly_churn_rate: Option<f64>,
    #[serde(default = "default_lead")]
    pub hiring_lead_time_months: u32,
    #[serde(default = "default_ramp")]
    pub ramp_months: u32,
    /// The touch mix over time; default the live mix, unchanged.
    #[serde(default)]
    pub mix_path: Vec<MixStep>,
}

fn default_months() -> u32 {
    24
}
fn default_lead() -> u32 {
    3
}
fn default_ramp() -> u32 {
    3
}

/// The seed's path from all high touch to the target mix (seed 003 §7).
pub const SEED_PATHS: &[(&str, MixStep)] = &[
    ("all_high_touch", MixStep { from_month: 0, high: 1.0, hybrid: 0.0, tech: 0.0 }),
    ("high50_hybrid50", MixStep { from_month: 0, high: 0.5, hybrid: 0.5, tech: 0.0 }),
    ("high40_hybrid50_tech10", MixStep { from_month: 0, high: 0.4, hybrid: 0.5, tech: 0.1 }),
    ("high20_hybrid60_tech20", MixStep { from_month: 0, high: 0.2, hybrid: 0.6, tech: 0.2 }),
];

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MonthPlan {
    pub month: u32,
    pub accounts: f64,
    pub mix: MixStep,
    pub hours: f64,
    pub required_fte: f64,
    pub required_csms: u32,
    /// CSMs on the team (current + hires started), ramping or not.
    pub headcount: u32,
    /// Fully productive equivalents.
    pub capacity_fte: f64,
    /// required − capacity when positive: work the team cannot cover that month (new hires
    /// still ramping up, or hires that came too late).
    pub shortfall_fte: f64,
    pub hires_starting: u32,
    pub requisitions_opening: u32,
    pub cs_ops: u32,
    pub leads: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Hire {
    pub start_month: u32,
    pub requisition_month: i64,
    pub count: u32,
    /// Needed sooner than ramp-up allows (would have had to start before the plan).
    pub late: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PathResult {
    pub path: String,
    pub mix: MixStep,
    pub csms_needed_at_end: u32,
    pub first_month_current_team_short: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HiringPlan {
    pub months: Vec<MonthPlan>,
    pub hires: Vec<Hire>,
    pub total_hires: u32,
    pub first_month_current_team_short: Option<u32>,
    pub first_month_high_touch_only_short: Option<u32>,
    pub mix_paths: Vec<PathResult>,
}

/// Productivity of a hire in their `m`-th month (1-based).
pub fn productivity(m: u32, ramp: u32) -> f64 {
    if m == 0 {
        0.0
    } else if m > ramp {
        1.0
    } else {
        m as f64 / (ramp + 1) as f64
    }
}

fn accounts(h: &HiringInputs, start: f64, churn: f64) -> Vec<f64> {
    let mut a = start;
    (0..h.months)
        .map(|t| {
            a = a * (1.0 - churn) + h.new_accounts_per_month * (1.0 + h.new_accounts_growth_rate).powi(t as i32);
            a
        })
        .collect()
}

fn mix_at(path: &[MixStep], t: u32) -> MixStep {
    path.iter().filter(|s| s.from_month <= t).max_by_key(|s| s.from_month).copied().unwrap_or(path[0])
}

fn first_short(required: impl Iterator<Item = f64>, team: u32) -> Option<u32> {
    required.enumerate().find(|(_, r)| *r > team as f64 + 1e-9).map(|(t, _)| t as u32)
}

/// `start` accounts, `churn` per month and `mix` are the resolved inputs (scenario or live).
pub fn plan(h: &HiringInputs, c: &CapacityInputs, start: f64, churn: f64, path: &[MixStep]) -> HiringPlan {
    let per_fte = c.productive_hours_per_csm;
    let keep = 1.0 - c.automation_factor;
    let acc = accounts(h, start, churn);
    let need = |t: usize, mix: &MixStep| acc[t] * mix.hours(&c.hours_per_account) * keep / per_fte;
    let required: Vec<f64> = (0..acc.len()).map(|t| need(t, &mix_at(path, t as u32))).collect();
    let current = c.current_csms.unwrap_or(0);

    let mut starts: Vec<u32> = vec![0; acc.len()];
    let mut hires = vec![];
    let capacity = |starts: &[u32], t: usize| -> f64 {
        current as f64
            + starts.iter().enumerate().take(t + 1).map(|(s, n)| *n as f64 * productivity((t - s) as u32 + 1, h.ramp_months)).sum::<f64>()
    };
    // Decide on the team once ramped up: a need that comes before ramp-up can finish is met by
    // hiring at once (marked late) and reported as a shortfall, not by hiring 4× the people.
    for t in 0..acc.len() {
        let eventual = current as f64 + starts.iter().take(t + 1).sum::<u32>() as f64;
        let short = required[t] - eventual;
        if short > 1e-9 {
            let s = t.saturating_sub(h.ramp_months as usize);
            let n = headcount(short);
            starts[s] += n;
            hires.push(Hire {
                start_month: s as u32,
                requisition_month: s as i64 - h.hiring_lead_time_months as i64,
                count: n,
                late: t < h.ramp_months as usize,
            });
        }
    }
    hires.sort_by_key(|x| (x.start_month, x.late));
    // One entry per start month (late and on-time hires apart).
    hires.dedup_by(|later, first| {
        let same = later.start_month == first.start_month && later.late == first.late;
        if same {
            first.count += later.count;
        }
        same
    });
    let mut team = current;
    let months = (0..acc.len())
        .map(|t| {
            team += starts[t];
            let reqs: u32 =
                hires.iter().filter(|x| x.requisition_month == t as i64).map(|x| x.count).sum();
            MonthPlan {
                month: t as u32,
                accounts: acc[t],
                mix: mix_at(path, t as u32),
                hours: required[t] * per_fte,
                required_fte: required[t],
                required_csms: headcount(required[t]),
                headcount: team,
                capacity_fte: capacity(&starts, t),
                shortfall_fte: (required[t] - capacity(&starts, t)).max(0.0),
                hires_starting: starts[t],
                requisitions_opening: reqs,
                cs_ops: headcount(team as f64 / c.csms_per_ops),
                leads: headcount(team as f64 / c.span_experienced_lead.max(1) as f64),
            }
        })
        .collect();
    let high_only = MixStep { from_month: 0, high: 1.0, hybrid: 0.0, tech: 0.0 };
    let mix_paths = SEED_PATHS
        .iter()
        .map(|(name, mix)| PathResult {
            path: name.to_string(),
            mix: *mix,
            csms_needed_at_end: acc.len().checked_sub(1).map_or(0, |t| headcount(need(t, mix))),
            first_month_current_team_short: first_short((0..acc.len()).map(|t| need(t, mix)), current),
        })
        .collect();
    HiringPlan {
        months,
        total_hires: hires.iter().map(|x| x.count).sum(),
        hires,
        first_month_current_team_short: first_short(required.iter().copied(), current),
        first_month_high_touch_only_short: first_short((0..acc.len()).map(|t| need(t, &high_only)), current),
        mix_paths,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planning::capacity::TouchHours;

    fn capacity() -> CapacityInputs {
        CapacityInputs {
            book: vec![],
            hours_per_account: TouchHours { high: 10.0, hybrid: 2.0, tech: 0.25 },
            productive_hours_per_csm: 100.0,
            automation_factor: 0.0,
            arr_per_csm: None,
            accounts_per_csm: None,
            csms_per_ops: 5.0,
            span_experienced_lead: 10,
            span_new_lead: 6,
            current_csms: Some(3),
        }
    }

    fn inputs() -> HiringInputs {
        HiringInputs {
            start_month: None,
            months: 12,
            starting_accounts: Some(100.0),
            new_accounts_per_month: 10.0,
            new_accounts_growth_rate: 0.0,
            monthly_churn_rate: Some(0.0),
            hiring_lead_time_months: 2,
            ramp_months: 2,
            mix_path: vec![],
        }
    }

    const HYBRID: MixStep = MixStep { from_month: 0, high: 0.0, hybrid: 1.0, tech: 0.0 };

    #[test]
    fn ramp_up() {
        assert_eq!([1, 2, 3, 4].map(|m| productivity(m, 3)), [0.25, 0.5, 0.75, 1.0]);
    }

    #[test]
    fn worked_example() {
        let p = plan(&inputs(), &capacity(), 100.0, 0.0, &[HYBRID]);
        assert_eq!(p.months[0].accounts, 110.0);
        assert!((p.months[5].required_fte - 3.2).abs() < 1e-12);
        assert_eq!(p.first_month_current_team_short, Some(5));
        assert_eq!(
            p.hires,
            vec![
                Hire { start_month: 3, requisition_month: 1, count: 1, late: false },
                Hire { start_month: 8, requisition_month: 6, count: 1, late: false },
            ]
        );
        // The first hire works at 1/3, 2/3, then fully.
        let cap: Vec<f64> = p.months[3..6].iter().map(|m| m.capacity_fte).collect();
        assert!((cap[0] - (3.0 + 1.0 / 3.0)).abs() < 1e-12 && (cap[2] - 4.0).abs() < 1e-12);
        assert_eq!((p.months[4].headcount, p.months[9].headcount), (4, 5));
        assert_eq!(p.months[1].requisitions_opening, 1);
        assert!(p.months.iter().all(|m| m.capacity_fte + 1e-9 >= m.required_fte), "never short after hiring");
        // High touch only: 110 × 10 / 100 = 11 > 3 from the first month.
        assert_eq!(p.first_month_high_touch_only_short, Some(0));
        let target = p.mix_paths.iter().find(|r| r.path == "high20_hybrid60_tech20").unwrap();
        // Month 11: 220 accounts × (2 + 1.2 + 0.05) h / 100 = 7.15 → 8 CSMs at the end.
        assert_eq!(target.csms_needed_at_end, 8);
    }

    #[test]
    fn churn_growth_and_late_hires() {
        let mut i = inputs();
        i.new_accounts_growth_rate = 0.1;
        let acc = accounts(&i, 100.0, 0.05);
        assert!((acc[0] - 105.0).abs() < 1e-12 && (acc[1] - (105.0 * 0.95 + 11.0)).abs() < 1e-12);
        let mut c = capacity();
        c.current_csms = Some(1);
        let p = plan(&i, &c, 100.0, 0.0, &[HYBRID]);
        // Month 0 needs 2.2 FTE with 1 CSM: 2 hires start at once (late), working at 1/3 at first.
        assert_eq!(p.hires[0], Hire { start_month: 0, requisition_month: -2, count: 2, late: true });
        assert!((p.months[0].capacity_fte - (1.0 + 2.0 / 3.0)).abs() < 1e-12);
        assert!((p.months[0].shortfall_fte - (2.2 - 5.0 / 3.0)).abs() < 1e-12);
        assert_eq!(p.months[2].shortfall_fte, 0.0, "ramped up by month 2");
    }
}
