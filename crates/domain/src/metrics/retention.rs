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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retention {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
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

pub fn retention<'a>(units: impl IntoIterator<Item = &'a Unit>, from: NaiveDate, to: NaiveDate) -> Retention {
    let (mut start, mut churned) = (0u64, 0u64);
    let (mut mrr_start, mut retained, mut kept, mut churned_mrr, mut downsell): (Cents, Cents, Cents, Cents, Cents) =
        (0, 0, 0, 0, 0);
    for u in units {
        let a = u.timeline.mrr_at(from);
        if a <= 0 {
            continue;
        }
        let b = u.timeline.mrr_at(to);
        start += 1;
        mrr_start += a;
        retained += b;
        kept += a.min(b);
        if b <= 0 {
            churned += 1;
            churned_mrr += a;
        } else {
            downsell += (a - b).max(0);
        }
    }
    let days = (to - from).num_days();
    let logo_churn = ratio(churned as f64, start as f64);
    let mrr_churn = ratio((churned_mrr + downsell) as f64, mrr_start as f64);
    let month = 365.0 / 12.0;
    Retention {
        group: None,
        from,
        to,
        days,
        accounts_start: start,
        accounts_churned: churned,
        logo_churn_rate: logo_churn,
        logo_retention_rate: logo_churn.map(|r| 1.0 - r),
        mrr_start: to_units(mrr_start),
        mrr_retained: to_units(retained),
        nrr: ratio(retained as f64, mrr_start as f64),
        grr: ratio(kept as f64, mrr_start as f64),
        churned_mrr: to_units(churned_mrr),
        downsell_mrr: to_units(downsell),
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
