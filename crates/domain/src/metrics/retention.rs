//! Retention over a date range `[from, to]`.
//!
//! - `accounts_start`: accounts active (MRR > 0) at `from`; `accounts_churned`: those of them not active at `to`.
//! - `logo_churn_rate` = churned / start; `logo_retention_rate` = 1 − logo_churn_rate.
//! - `mrr_start` = Σ MRR at `from` of those accounts; `mrr_retained` = Σ their MRR at `to`.
//! - `nrr` = mrr_retained / mrr_start; `grr` = Σ min(MRR at from, MRR at to) / mrr_start.
//! - `churned_mrr` = start MRR of churned accounts; `downsell_mrr` = Σ max(0, from − to) over retained ones;
//!   `mrr_churn_rate` = (churned_mrr + downsell_mrr) / mrr_start.
//! - `days` = to − from; `monthly_*` = 1 − (1 − rate)^((365/12)/days); `annual_logo_churn_rate` uses 365/days.
//!
//! Worked example: A has 100 at `from` and 150 at `to`, B 200 → 0, C 100 → 60 (days = 365).
//! start 3, churned 1, logo churn 1/3; mrr_start 400, retained 210, NRR 0.525, GRR (100+0+60)/400 = 0.4,
//! churned_mrr 200, downsell 40, MRR churn 240/400 = 0.6.

use super::{ratio, scale_rate, Unit};
use crate::money::{to_units, Cents};
use chrono::NaiveDate;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Retention {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub from: NaiveDate,
    /// The end used: the one asked for, or the as-of date when that was earlier.
    pub to: NaiveDate,
    /// The end asked for.
    pub requested_to: NaiveDate,
    pub days: i64,
    pub accounts_start: u64,
    pub accounts_churned: u64,
    pub logo_churn_rate: Option<f64>,
    pub logo_retention_rate: Option<f64>,
    pub mrr_start: f64,
    pub mrr_retained: f64,
    pub nrr: Option<f64>,
    pub grr: Option<f64>,
    pub churned_mrr: f64,
    pub downsell_mrr: f64,
    pub mrr_churn_rate: Option<f64>,
    pub monthly_logo_churn_rate: Option<f64>,
    pub monthly_mrr_churn_rate: Option<f64>,
    pub annual_logo_churn_rate: Option<f64>,
}

/// The sums retention is computed from; the store can compute them in SQL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionSums {
    pub group: String,
    pub accounts_start: u64,
    pub accounts_churned: u64,
    pub mrr_start: Cents,
    pub mrr_retained: Cents,
    /// Σ min(MRR at from, MRR at to).
    pub mrr_kept: Cents,
    pub churned_mrr: Cents,
    pub downsell_mrr: Cents,
}

impl RetentionSums {
    /// Add one unit with MRR `a` at `from` and `b` at `to`.
    pub fn add(&mut self, a: Cents, b: Cents) {
        if a <= 0 {
            return;
        }
        self.accounts_start += 1;
        self.mrr_start += a;
        self.mrr_retained += b;
        self.mrr_kept += a.min(b);
        if b <= 0 {
            self.accounts_churned += 1;
            self.churned_mrr += a;
        } else {
            self.downsell_mrr += (a - b).max(0);
        }
    }
}

/// Retention of `units` over [from, to], from their timelines.
pub fn retention<'a>(units: impl IntoIterator<Item = &'a Unit>, from: NaiveDate, to: NaiveDate) -> Retention {
    let mut sums = RetentionSums::default();
    for u in units {
        sums.add(u.timeline.mrr_at(from), u.timeline.mrr_at(to));
    }
    from_sums(&sums, from, to)
}

/// The rates of a retention report from its sums.
pub fn from_sums(s: &RetentionSums, from: NaiveDate, to: NaiveDate) -> Retention {
    let days = (to - from).num_days();
    let logo_churn = ratio(s.accounts_churned as f64, s.accounts_start as f64);
    let mrr_churn = ratio((s.churned_mrr + s.downsell_mrr) as f64, s.mrr_start as f64);
    let month = 365.0 / 12.0;
    Retention {
        group: None,
        from,
        to,
        requested_to: to,
        days,
        accounts_start: s.accounts_start,
        accounts_churned: s.accounts_churned,
        logo_churn_rate: logo_churn,
        logo_retention_rate: logo_churn.map(|r| 1.0 - r),
        mrr_start: to_units(s.mrr_start),
        mrr_retained: to_units(s.mrr_retained),
        nrr: ratio(s.mrr_retained as f64, s.mrr_start as f64),
        grr: ratio(s.mrr_kept as f64, s.mrr_start as f64),
        churned_mrr: to_units(s.churned_mrr),
        downsell_mrr: to_units(s.downsell_mrr),
        mrr_churn_rate: mrr_churn,
        monthly_logo_churn_rate: logo_churn.and_then(|r| scale_rate(r, days, month)),
        monthly_mrr_churn_rate: mrr_churn.and_then(|r| scale_rate(r, days, month)),
        annual_logo_churn_rate: logo_churn.and_then(|r| scale_rate(r, days, 365.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Timeline;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn unit(points: &[(&str, Cents)]) -> Unit {
        let mut prev = 0;
        let deltas: Vec<_> = points
            .iter()
            .map(|(day, mrr)| {
                let delta = mrr - prev;
                prev = *mrr;
                (d(day), delta)
            })
            .collect();
        Unit { account_id: "x".into(), group: "all".into(), timeline: Timeline::from_deltas(deltas) }
    }

    #[test]
    fn worked_example() {
        let units = [
            unit(&[("2023-01-01", 10000), ("2023-06-01", 15000)]),
            unit(&[("2023-01-01", 20000), ("2023-09-01", 0)]),
            unit(&[("2023-01-01", 10000), ("2023-03-01", 6000)]),
            unit(&[("2023-02-01", 50000)]), // not active at `from`: ignored
        ];
        let r = retention(&units, d("2023-01-01"), d("2024-01-01"));
        assert_eq!((r.days, r.accounts_start, r.accounts_churned), (365, 3, 1));
        assert_eq!(r.logo_churn_rate, Some(1.0 / 3.0));
        assert_eq!((r.mrr_start, r.mrr_retained), (400.0, 210.0));
        assert_eq!(r.nrr, Some(0.525));
        assert_eq!(r.grr, Some(0.4));
        assert_eq!((r.churned_mrr, r.downsell_mrr), (200.0, 40.0));
        assert_eq!(r.mrr_churn_rate, Some(0.6));
        // 1 − (2/3)^(30.41667/365) = 1 − exp(−0.405465/12) = 0.0332243
        assert!((r.monthly_logo_churn_rate.unwrap() - 0.0332243).abs() < 1e-6);
        assert!((r.annual_logo_churn_rate.unwrap() - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn periods_ending_exactly_on_from_or_to() {
        // Ends on `from`: not active at from. Ends on `to`: churned (the end day is not covered).
        let units = [unit(&[("2023-01-01", 100), ("2023-06-01", 0)]), unit(&[("2023-01-01", 100), ("2023-12-01", 0)])];
        let r = retention(&units, d("2023-06-01"), d("2023-12-01"));
        assert_eq!((r.accounts_start, r.accounts_churned), (1, 1));
    }

    #[test]
    fn empty_range_has_no_rates() {
        let r = retention(&[], d("2023-01-01"), d("2023-01-01"));
        assert_eq!((r.logo_churn_rate, r.nrr, r.monthly_logo_churn_rate), (None, None, None));
    }
}
