//! Retention projection and LTV per group with the sBG model ([`super::sbg`]).
//!
//! Cohorts are accounts grouped by the period of their first MRR. A cohort's survivors are
//! n_0 = its size and, for each period c + t whose first day is on or before `as_of`, n_t =
//! accounts still not churned on that first day (MRR not fallen to 0 since their first MRR, so
//! they renewed into period c + t). A renewal counts the day it happens, not a year later.
//! Churn after `as_of` has not happened yet and is not counted (a scheduled end is not churn).
//! A later reactivation does not revive a lost customer: sBG treats churn as final.
//!
//! Worked example (years, as of 2026-06-01): a cohort of 2019 whose members renew each
//! 1 January has n_7 counted from 2026-01-01, the day the 2026 renewals happen.
//!
//! The discount rate is annual and converted per period: d = (1 + annual)^(months/12) − 1.
//! `ltv` = DEL × ARPA per period × margin, with ARPA per period = mean MRR of the group's active
//! accounts at `as_of` × months per period. `derl` is for a customer who has made `renewals` renewals.

use super::cohorts::PeriodKind;
use super::sbg;
use super::Unit;
use crate::money::to_units;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy)]
pub struct LtvParams {
    pub period: PeriodKind,
    pub as_of: NaiveDate,
    pub annual_discount_rate: f64,
    pub margin: f64,
    pub renewals: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LtvReport {
    pub group: String,
    pub alpha: Option<f64>,
    pub beta: Option<f64>,
    pub log_likelihood: Option<f64>,
    pub cohorts: u64,
    pub periods_observed: u32,
    /// S(t) for the 12 periods after the longest observed one.
    pub projected_survival: Vec<f64>,
    /// r(t) for the same periods.
    pub projected_retention: Vec<f64>,
    pub del: Option<f64>,
    pub derl: Option<f64>,
    pub ltv: Option<f64>,
    pub arpa_per_period: Option<f64>,
    pub discount_rate_per_period: f64,
    pub margin: f64,
    pub renewals: u32,
}

/// Survivor counts n_0..n_T for each cohort (oldest first).
pub fn survivors(units: &[&Unit], period: PeriodKind, as_of: NaiveDate) -> Vec<Vec<f64>> {
    let mut by_cohort: BTreeMap<i32, Vec<Option<NaiveDate>>> = BTreeMap::new();
    for u in units {
        if let Some(first) = u.timeline.first_paid_day().filter(|d| *d <= as_of) {
            let churn = u.timeline.first_churn_after(first).filter(|d| *d <= as_of);
            by_cohort.entry(period.index(first)).or_default().push(churn);
        }
    }
    by_cohort
        .into_iter()
        .map(|(c, churns)| {
            let mut n = vec![churns.len() as f64];
            let mut t = 1;
            while period.first_day(c + t) <= as_of {
                let start = period.first_day(c + t);
                n.push(churns.iter().filter(|ch| ch.is_none_or(|day| day > start)).count() as f64);
                t += 1;
            }
            n
        })
        .collect()
}

pub fn ltv(group: &str, units: &[&Unit], p: LtvParams) -> LtvReport {
    let cohorts = survivors(units, p.period, p.as_of);
    let observed = cohorts.iter().map(|c| c.len().saturating_sub(1)).max().unwrap_or(0) as u32;
    let d = (1.0 + p.annual_discount_rate).powf(p.period.months() as f64 / 12.0) - 1.0;
    let active: Vec<i64> = units.iter().map(|u| u.timeline.mrr_at(p.as_of)).filter(|m| *m > 0).collect();
    let arpa = (!active.is_empty())
        .then(|| to_units(active.iter().sum::<i64>()) / active.len() as f64 * p.period.months() as f64);
    let fit = sbg::fit(&cohorts);
    let next = (observed + 1)..=(observed + 12);
    let del = fit.map(|f| sbg::del(f.alpha, f.beta, d));
    LtvReport {
        group: group.to_string(),
        alpha: fit.map(|f| f.alpha),
        beta: fit.map(|f| f.beta),
        log_likelihood: fit.map(|f| f.log_likelihood),
        cohorts: cohorts.iter().filter(|c| c.len() > 1).count() as u64,
        periods_observed: observed,
        projected_survival: fit.map_or(vec![], |f| next.clone().map(|t| sbg::survival(f.alpha, f.beta, t)).collect()),
        projected_retention: fit.map_or(vec![], |f| next.map(|t| sbg::retention_rate(f.alpha, f.beta, t)).collect()),
        del,
        derl: fit.map(|f| sbg::derl(f.alpha, f.beta, d, p.renewals)),
        ltv: del.zip(arpa).map(|(del, arpa)| del * arpa * p.margin),
        arpa_per_period: arpa,
        discount_rate_per_period: d,
        margin: p.margin,
        renewals: p.renewals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Timeline;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn mk(deltas: &[(&str, i64)]) -> Unit {
        Unit { account_id: "x".into(), group: "all".into(), timeline: Timeline::from_deltas(deltas.iter().map(|(s, c)| (d(s), *c))) }
    }

    #[test]
    fn survivors_counted_when_they_renew_ignoring_reactivation() {
        let a = mk(&[("2020-03-01", 100), ("2021-06-01", -100), ("2022-06-01", 100)]); // pays in 2021, lost mid-year, returns
        let b = mk(&[("2020-07-01", 100)]);
        let c = mk(&[("2021-02-01", 100)]);
        // 2021-01-01: a and b still paying (a renewed into 2021); 2022-01-01: b only.
        let n = survivors(&[&a, &b, &c], PeriodKind::Year, d("2022-01-01"));
        assert_eq!(n, vec![vec![2.0, 2.0, 1.0], vec![1.0, 1.0]]);
        // The day before, 2022 has not begun: its renewals are not counted yet.
        let n = survivors(&[&a, &b, &c], PeriodKind::Year, d("2021-12-31"));
        assert_eq!(n, vec![vec![2.0, 2.0], vec![1.0]]);
    }

    #[test]
    fn a_scheduled_end_after_as_of_is_not_churn() {
        // Yearly contract renewed into 2024 whose period ends 2025-01-01, seen on 2024-06-01.
        let a = mk(&[("2023-01-01", 100), ("2025-01-01", -100)]);
        let lost = mk(&[("2023-01-01", 100), ("2024-01-01", -100)]);
        let n = survivors(&[&a, &lost], PeriodKind::Year, d("2024-06-01"));
        assert_eq!(n, vec![vec![2.0, 1.0]]);
    }

    /// Fader & Hardie (2007)'s cohorts written as yearly subscriptions from 2019-01-01: a lost
    /// customer's last period ends on 1 January of the year it did not renew; survivors hold a
    /// period running into 2027. As of 2026-06-01 the 2026 renewals count: the paper's fit.
    fn paper_cohort(counts: [u32; 8]) -> Vec<Unit> {
        let mut units = vec![];
        for t in 1..counts.len() {
            for _ in 0..(counts[t - 1] - counts[t]) {
                units.push(mk(&[("2019-01-01", 1000), (&format!("{}-01-01", 2019 + t), -1000)]));
            }
        }
        for _ in 0..counts[7] {
            units.push(mk(&[("2019-01-01", 1000), ("2027-01-01", -1000)]));
        }
        units
    }

    #[test]
    fn paper_cohorts_as_yearly_subscriptions() {
        for (counts, expected) in [
            ([1000, 631, 468, 382, 326, 289, 262, 241], (704.0, 1182.0)),
            ([1000, 869, 743, 653, 593, 551, 517, 491], (668.0, 3806.0)),
        ] {
            let units = paper_cohort(counts);
            let refs: Vec<&Unit> = units.iter().collect();
            let n = survivors(&refs, PeriodKind::Year, d("2026-06-01"));
            assert_eq!(n, vec![counts.iter().map(|c| *c as f64).collect::<Vec<_>>()]);
            let p = LtvParams { period: PeriodKind::Year, as_of: d("2026-06-01"), annual_discount_rate: 0.1, margin: 1.0, renewals: 1 };
            let r = ltv("all", &refs, p);
            assert_eq!(((r.alpha.unwrap() * 1000.0).round(), (r.beta.unwrap() * 1000.0).round()), expected);
        }
    }

    #[test]
    fn ltv_is_del_times_arpa_times_margin() {
        // Paper's regular cohort, rebuilt as 1000 yearly accounts' churn days.
        let counts = [1000, 631, 468, 382, 326, 289, 262, 241];
        let mut units = vec![];
        for t in 1..counts.len() {
            for _ in 0..(counts[t - 1] - counts[t]) {
                let churn = format!("{}-01-01", 2001 + t);
                units.push((vec![(d("2001-01-01"), 1000), (d(&churn), -1000)], ()));
            }
        }
        for _ in 0..241 {
            units.push((vec![(d("2001-01-01"), 1000)], ()));
        }
        let units: Vec<Unit> = units
            .into_iter()
            .map(|(deltas, _)| Unit { account_id: "x".into(), group: "all".into(), timeline: Timeline::from_deltas(deltas) })
            .collect();
        let refs: Vec<&Unit> = units.iter().collect();
        let p = LtvParams { period: PeriodKind::Year, as_of: d("2008-12-31"), annual_discount_rate: 0.1, margin: 0.8, renewals: 1 };
        let r = ltv("all", &refs, p);
        assert_eq!(r.periods_observed, 7);
        assert_eq!((r.alpha.unwrap() * 1000.0).round(), 704.0);
        assert_eq!((r.beta.unwrap() * 1000.0).round(), 1182.0);
        // 241 active accounts at ¥10 MRR → ¥120 per year.
        assert_eq!(r.arpa_per_period, Some(120.0));
        let del = sbg::del(r.alpha.unwrap(), r.beta.unwrap(), 0.1);
        assert!((r.ltv.unwrap() - del * 120.0 * 0.8).abs() < 1e-9);
        assert_eq!(r.projected_survival.len(), 12);
        assert!(r.projected_survival[0] < 0.241 && r.projected_survival[0] > 0.2);
    }
}
