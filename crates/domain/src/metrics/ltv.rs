//! Retention projection and LTV per group with the sBG model ([`super::sbg`]).
//!
//! Cohorts are accounts grouped by the period of their first MRR. Each account is aged from its
//! own first paid day: n_0 = the cohort's size and n_t = its accounts that had not churned by
//! their t-th anniversary (first paid day + t periods), that is, renewed t times. A renewal
//! counts the day it happens, not later; an account that started mid-period is not counted as
//! renewed before its anniversary. Churn after `as_of` has not happened yet and is not counted
//! (a scheduled end is not churn). A later reactivation does not revive a lost customer: sBG
//! treats churn as final. An account not yet at the age its cohort is seen to is censored there
//! ([`survivors`]).
//!
//! Worked example (years, as of 2026-06-01): a cohort of 2019 whose members renew each
//! 1 January has n_7 counted from 2026-01-01, the day the 2026 renewals happen. Two monthly
//! accounts starting 1 and 15 January that each paid one month are n = [2, 0], not [2, 1].
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

/// The day `first` + `t` periods: the account's t-th renewal (a month past the 31st ends on the
/// month's last day, counted from `first` each time so it does not drift).
fn anniversary(first: NaiveDate, period: PeriodKind, t: u32) -> Option<NaiveDate> {
    first.checked_add_months(chrono::Months::new(t.checked_mul(period.months() as u32)?))
}

/// The renewals an account starting on `first` has reached by `day`: the largest t whose
/// anniversary is on or before it.
fn renewals_by(first: NaiveDate, period: PeriodKind, day: NaiveDate) -> u32 {
    use chrono::Datelike;
    let months = (day.year() - first.year()) * 12 + day.month0() as i32 - first.month0() as i32;
    let t = (months.max(0) / period.months()) as u32;
    match anniversary(first, period, t) {
        Some(a) if a <= day => t,
        _ => t.saturating_sub(1),
    }
}

/// Survivor counts n_0..n_T of each cohort (oldest first), and after a cohort's row one row per
/// shorter horizon its censored accounts have.
///
/// Each account is aged from its own first paid day: it renewed for the t-th time if it had not
/// churned by its t-th anniversary (churned on the anniversary is not renewed). A cohort's row
/// runs to the furthest age any of its accounts is seen at: the last anniversary on or before
/// `as_of`, or for an account that churned by `as_of` the period it churned in (a churn seen
/// before the next anniversary is still a churn). An account still paying that has not reached
/// that age yet (it started later in the cohort's period) is censored: it sits in a row of its
/// own horizon, so it is counted as a survivor as far as it is seen, and no further.
pub fn survivors(units: &[&Unit], period: PeriodKind, as_of: NaiveDate) -> Vec<Vec<f64>> {
    cohort_rows(units, period, as_of).into_iter().map(|(_, row)| row).collect()
}

/// [`survivors`], each row with its cohort's period index.
fn cohort_rows(units: &[&Unit], period: PeriodKind, as_of: NaiveDate) -> Vec<(i32, Vec<f64>)> {
    // cohort → (renewals, horizon, still paying) of each account.
    let mut cohorts: BTreeMap<i32, Vec<(u32, u32, bool)>> = BTreeMap::new();
    for u in units {
        let Some(first) = u.timeline.first_paid_day().filter(|d| *d <= as_of) else { continue };
        let seen = match u.timeline.first_churn_after(first).filter(|d| *d <= as_of) {
            Some(churn) => {
                let r = renewals_by(first, period, churn.pred_opt().unwrap_or(churn));
                (r, r + 1, false)
            }
            None => {
                let r = renewals_by(first, period, as_of);
                (r, r, true)
            }
        };
        cohorts.entry(period.index(first)).or_default().push(seen);
    }
    let row = |renewals: &[u32], horizon: u32| (0..=horizon).map(|t| renewals.iter().filter(|r| **r >= t).count() as f64).collect::<Vec<f64>>();
    let mut out = vec![];
    for (cohort, accounts) in cohorts {
        let furthest = accounts.iter().map(|a| a.1).max().unwrap_or(0);
        let (full, censored): (Vec<_>, Vec<_>) = accounts.into_iter().partition(|a| !a.2 || a.1 == furthest);
        out.push((cohort, row(&full.iter().map(|a| a.0).collect::<Vec<_>>(), furthest)));
        let mut by_horizon: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for (renewals, horizon, _) in censored {
            by_horizon.entry(horizon).or_default().push(renewals);
        }
        out.extend(by_horizon.into_iter().rev().map(|(h, renewals)| (cohort, row(&renewals, h))));
    }
    out
}

pub fn ltv(group: &str, units: &[&Unit], p: LtvParams) -> LtvReport {
    let rows = cohort_rows(units, p.period, p.as_of);
    let observed = rows.iter().map(|(_, r)| r.len().saturating_sub(1)).max().unwrap_or(0) as u32;
    let observed_cohorts = rows.iter().filter(|(_, r)| r.len() > 1).map(|(c, _)| *c).collect::<std::collections::BTreeSet<i32>>().len() as u64;
    let cohorts: Vec<Vec<f64>> = rows.into_iter().map(|(_, r)| r).collect();
    let d = (1.0 + p.annual_discount_rate).powf(p.period.months() as f64 / 12.0) - 1.0;
    let active: Vec<i64> = units.iter().map(|u| u.timeline.mrr_at(p.as_of)).filter(|m| *m > 0).collect();
    let arpa = (!active.is_empty())
        .then(|| to_units(active.iter().sum::<i64>()) / active.len() as f64 * p.period.months() as f64);
    let fit = sbg::fit(&cohorts);
    let next = (observed + 1)..=(observed + 12);
    // An endless lifetime (no discount and α ≤ 1) is no figure: null, not a cut-off sum.
    let del = fit.map(|f| sbg::del(f.alpha, f.beta, d)).filter(|v| v.is_finite());
    LtvReport {
        group: group.to_string(),
        alpha: fit.map(|f| f.alpha),
        beta: fit.map(|f| f.beta),
        log_likelihood: fit.map(|f| f.log_likelihood),
        cohorts: observed_cohorts,
        periods_observed: observed,
        projected_survival: fit.map_or(vec![], |f| next.clone().map(|t| sbg::survival(f.alpha, f.beta, t)).collect()),
        projected_retention: fit.map_or(vec![], |f| next.map(|t| sbg::retention_rate(f.alpha, f.beta, t)).collect()),
        del,
        derl: fit.map(|f| sbg::derl(f.alpha, f.beta, d, p.renewals)).filter(|v| v.is_finite()),
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
    fn survivors_counted_on_each_accounts_own_renewals_ignoring_reactivation() {
        let a = mk(&[("2020-03-01", 100), ("2021-06-01", -100), ("2022-06-01", 100)]); // renews 2021-03-01, lost 06-01, returns
        let b = mk(&[("2020-07-01", 100)]);
        let c = mk(&[("2021-02-01", 100)]);
        // As of 2022-01-01: a renewed once and churned in its second year, so cohort 2020 is
        // seen to age 2; b renewed on 2021-07-01 and is censored at age 1; c has not renewed yet.
        let n = survivors(&[&a, &b, &c], PeriodKind::Year, d("2022-01-01"));
        assert_eq!(n, vec![vec![1.0, 1.0, 0.0], vec![1.0, 1.0], vec![1.0]]);
        // The day before b's first anniversary it has not renewed: staying into 2021 is not a renewal.
        let n = survivors(&[&a, &b, &c], PeriodKind::Year, d("2021-06-30"));
        assert_eq!(n, vec![vec![1.0, 1.0, 0.0], vec![1.0], vec![1.0]]);
    }

    #[test]
    fn a_mid_month_start_renews_on_its_own_day() {
        // Two monthly accounts that each paid one month: neither renewed.
        let p = mk(&[("2024-01-01", 100), ("2024-02-01", -100)]);
        let q = mk(&[("2024-01-15", 100), ("2024-02-15", -100)]);
        assert_eq!(survivors(&[&p, &q], PeriodKind::Month, d("2024-04-30")), vec![vec![2.0, 0.0]]);
        // From the 31st the anniversary is the month's last day: 29 February 2024, 31 March.
        let r = mk(&[("2024-01-31", 100)]);
        assert_eq!(survivors(&[&r], PeriodKind::Month, d("2024-02-28")), vec![vec![1.0]]);
        assert_eq!(survivors(&[&r], PeriodKind::Month, d("2024-02-29")), vec![vec![1.0, 1.0]]);
        assert_eq!(survivors(&[&r], PeriodKind::Month, d("2024-03-30")), vec![vec![1.0, 1.0]]);
        assert_eq!(survivors(&[&r], PeriodKind::Month, d("2024-03-31")), vec![vec![1.0, 1.0, 1.0]]);
        // Churned on its anniversary: not renewed then, and seen as churned before as_of reaches
        // the next one.
        let s = mk(&[("2024-01-31", 100), ("2024-03-10", -100)]);
        assert_eq!(survivors(&[&s], PeriodKind::Month, d("2024-03-10")), vec![vec![1.0, 1.0, 0.0]]);
        let t = mk(&[("2024-01-31", 100), ("2024-02-29", -100)]);
        assert_eq!(survivors(&[&t], PeriodKind::Month, d("2024-06-01")), vec![vec![1.0, 0.0]]);
    }

    #[test]
    fn renewals_reached_by_a_day() {
        let first = d("2019-07-15");
        assert_eq!(renewals_by(first, PeriodKind::Year, d("2020-07-14")), 0);
        assert_eq!(renewals_by(first, PeriodKind::Year, d("2020-07-15")), 1);
        assert_eq!(renewals_by(first, PeriodKind::Quarter, d("2020-07-14")), 3);
        assert_eq!(renewals_by(first, PeriodKind::Month, d("2019-07-15")), 0);
        assert_eq!(renewals_by(first, PeriodKind::Month, d("2029-08-01")), 120);
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
