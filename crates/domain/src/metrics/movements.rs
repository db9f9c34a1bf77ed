//! MRR movements per calendar month, ChartMogul's convention.
//!
//! Each account's MRR changes are classified in time order: `new` (first MRR ever), `expansion`
//! (up), `contraction` (down but still > 0: cancelling one of two products), `churn` (to 0),
//! `reactivation` (back from 0 after a churn). A month's `starting_mrr` is the previous month's
//! `ending_mrr` (MRR existing before the range is the first month's starting MRR) and
//! `starting + new + expansion + reactivation − contraction − churn = ending` holds exactly.
//! `quick_ratio` = (new + expansion + reactivation) / (contraction + churn), null when the divisor is 0.
//!
//! As of a date: changes after it have not happened and are not counted (a period that ends
//! later is a scheduled end, not churn). The month holding the as-of date is month to date
//! (`partial: true`) unless the date is its last day.
//!
//! Worked example (one account): 100 from 2024-01-10, 150 from 2024-02-01, 0 from 2024-03-15,
//! 80 from 2024-05-01. Jan: new 100; Feb: expansion 50; Mar: churn 150; Apr: quiet (0 → 0);
//! May: reactivation 80.

use super::{ratio, Month, Unit};
use crate::money::{to_units, Cents};
use chrono::NaiveDate;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MonthMovements {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub month: String,
    pub starting_mrr: f64,
    pub new: f64,
    pub expansion: f64,
    pub contraction: f64,
    pub churn: f64,
    pub reactivation: f64,
    pub ending_mrr: f64,
    pub net_change: f64,
    pub quick_ratio: Option<f64>,
    pub customers_start: u64,
    pub customers_end: u64,
    /// Month to date: the as-of date falls inside this month, before its last day.
    pub partial: bool,
}

/// One month's movements of one group, before starting and ending MRR are filled in.
/// `gained` / `lost` count customers crossing from 0 to > 0 and back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonthSums {
    pub new: Cents,
    pub expansion: Cents,
    pub contraction: Cents,
    pub churn: Cents,
    pub reactivation: Cents,
    pub gained: u64,
    pub lost: u64,
}

impl MonthSums {
    /// Classify one change from `prev` to `mrr`; `ever` = the unit had MRR > 0 before.
    pub fn add(&mut self, prev: Cents, mrr: Cents, ever: bool) {
        match (prev, mrr) {
            (0, m) if m > 0 && ever => self.reactivation += m,
            (0, m) if m > 0 => self.new += m,
            (p, m) if p > 0 && m <= 0 => self.churn += p,
            (p, m) if m > p => self.expansion += m - p,
            (p, m) => self.contraction += p - m,
        }
        self.gained += (prev <= 0 && mrr > 0) as u64;
        self.lost += (prev > 0 && mrr <= 0) as u64;
    }
}

/// What the store (or [`movements`]) computes for one group: the state before the first month
/// and the sums per month index (0 = `from`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupMovements {
    pub mrr_before: Cents,
    pub customers_before: u64,
    pub months: Vec<(usize, MonthSums)>,
}

/// Movements for each month `from..=to`, from each unit's timeline, counting changes up to `at`.
pub fn movements<'a>(units: impl IntoIterator<Item = &'a Unit>, from: Month, to: Month, at: NaiveDate) -> Vec<MonthMovements> {
    let n = (from.until(to) + 1).max(0) as usize;
    let mut g = GroupMovements { months: (0..n).map(|i| (i, MonthSums::default())).collect(), ..Default::default() };
    let first_day = from.first_day();
    for u in units {
        let (mut prev, mut ever) = (0, false);
        for &(day, mrr) in u.timeline.points.iter().take_while(|p| p.0 <= at) {
            let idx = from.until(Month::of(day));
            if idx >= 0 && (idx as usize) < n {
                g.months[idx as usize].1.add(prev, mrr, ever);
            }
            ever |= mrr > 0;
            prev = mrr;
        }
        let before = u.timeline.mrr_before(first_day);
        g.mrr_before += before;
        g.customers_before += (before > 0) as u64;
    }
    build(&g, from, to, at)
}

/// The report rows: starting MRR carried from month to month, so
/// `starting + new + expansion + reactivation − contraction − churn = ending` holds by construction.
/// `g` holds changes up to `at` only; the month of `at` is marked partial unless `at` ends it.
pub fn build(g: &GroupMovements, from: Month, to: Month, at: NaiveDate) -> Vec<MonthMovements> {
    let n = (from.until(to) + 1).max(0) as usize;
    let mut sums = vec![MonthSums::default(); n];
    for (i, s) in &g.months {
        if *i < n {
            sums[*i] = s.clone();
        }
    }
    let (mut start, mut customers) = (g.mrr_before, g.customers_before);
    sums.iter()
        .enumerate()
        .map(|(i, b)| {
            let gained = b.new + b.expansion + b.reactivation;
            let lost = b.contraction + b.churn;
            let end = start + gained - lost;
            let customers_end = customers + b.gained - b.lost;
            let month = from.plus(i as u32);
            let row = MonthMovements {
                group: None,
                month: month.to_string(),
                starting_mrr: to_units(start),
                new: to_units(b.new),
                expansion: to_units(b.expansion),
                contraction: to_units(b.contraction),
                churn: to_units(b.churn),
                reactivation: to_units(b.reactivation),
                ending_mrr: to_units(end),
                net_change: to_units(end - start),
                quick_ratio: ratio(gained as f64, lost as f64),
                customers_start: customers,
                customers_end,
                partial: Month::of(at) == month && at < month.last_day(),
            };
            (start, customers) = (end, customers_end);
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Timeline;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    fn m(s: &str) -> Month {
        Month::parse(s).unwrap()
    }
    fn unit(deltas: &[(&str, Cents)]) -> Unit {
        Unit {
            account_id: "x".into(),
            group: "all".into(),
            timeline: Timeline::from_deltas(deltas.iter().map(|(s, c)| (d(s), *c))),
        }
    }
    /// (start, new, expansion, contraction, churn, reactivation, end) in currency units.
    fn row(r: &MonthMovements) -> [f64; 7] {
        [r.starting_mrr, r.new, r.expansion, r.contraction, r.churn, r.reactivation, r.ending_mrr]
    }

    #[test]
    fn worked_example_every_movement() {
        let u = unit(&[("2024-01-10", 10000), ("2024-02-01", 5000), ("2024-03-15", -15000), ("2024-05-01", 8000)]);
        let rows = movements([&u], m("2024-01"), m("2024-05"), d("2099-01-01"));
        assert_eq!(row(&rows[0]), [0.0, 100.0, 0.0, 0.0, 0.0, 0.0, 100.0]);
        assert_eq!(row(&rows[1]), [100.0, 0.0, 50.0, 0.0, 0.0, 0.0, 150.0]);
        assert_eq!(row(&rows[2]), [150.0, 0.0, 0.0, 0.0, 150.0, 0.0, 0.0]);
        assert_eq!(row(&rows[3]), [0.0; 7]);
        assert_eq!(row(&rows[4]), [0.0, 0.0, 0.0, 0.0, 0.0, 80.0, 80.0]);
        assert_eq!(rows[0].quick_ratio, None);
        assert_eq!(rows[2].quick_ratio, Some(0.0));
        assert_eq!((rows[1].customers_start, rows[2].customers_end, rows[4].customers_end), (1, 0, 1));
    }

    #[test]
    fn cancelling_one_of_two_products_is_contraction() {
        // Two products summed into one account timeline: 100 + 50, then the 50 one ends.
        let a = Timeline::from_deltas([(d("2024-01-01"), 10000)]);
        let b = Timeline::from_deltas([(d("2024-01-01"), 5000), (d("2024-02-01"), -5000)]);
        let u = Unit { account_id: "x".into(), group: "all".into(), timeline: a.add(&b) };
        let rows = movements([&u], m("2024-01"), m("2024-02"), d("2099-01-01"));
        assert_eq!(row(&rows[1]), [150.0, 0.0, 0.0, 50.0, 0.0, 0.0, 100.0]);
    }

    #[test]
    fn mrr_before_the_range_and_quiet_months_carry_forward() {
        let u = unit(&[("2023-06-01", 20000), ("2024-03-01", 1000)]);
        let rows = movements([&u], m("2024-01"), m("2024-03"), d("2099-01-01"));
        assert_eq!(row(&rows[0]), [200.0, 0.0, 0.0, 0.0, 0.0, 0.0, 200.0]);
        assert_eq!(row(&rows[1]), [200.0, 0.0, 0.0, 0.0, 0.0, 0.0, 200.0]);
        assert_eq!(row(&rows[2]), [200.0, 0.0, 10.0, 0.0, 0.0, 0.0, 210.0]);
    }

    #[test]
    fn start_and_churn_inside_one_month() {
        let u = unit(&[("2024-01-05", 3000), ("2024-01-20", -3000)]);
        let rows = movements([&u], m("2024-01"), m("2024-01"), d("2099-01-01"));
        assert_eq!(row(&rows[0]), [0.0, 30.0, 0.0, 0.0, 30.0, 0.0, 0.0]);
        assert_eq!((rows[0].customers_start, rows[0].customers_end), (0, 0));
    }

    #[test]
    fn a_scheduled_end_after_the_as_of_date_is_not_churn() {
        // A monthly period billed to 2026-12-31 (end 2027-01-01) and one that really ended
        // yesterday, seen on 2026-12-06: only yesterday's end is churn; December is month to date.
        let current = unit(&[("2026-11-01", 10000), ("2027-01-01", -10000)]);
        let ended = unit(&[("2026-11-01", 5000), ("2026-12-05", -5000)]);
        let starts_later = unit(&[("2026-12-20", 7000)]);
        let rows = movements([&current, &ended, &starts_later], m("2026-11"), m("2026-12"), d("2026-12-06"));
        assert_eq!(row(&rows[1]), [150.0, 0.0, 0.0, 0.0, 50.0, 0.0, 100.0]);
        assert_eq!((rows[0].partial, rows[1].partial), (false, true));
        // On the last day of the month it is a whole month.
        let rows = movements([&current], m("2026-12"), m("2026-12"), d("2026-12-31"));
        assert!(!rows[0].partial);
        assert_eq!(row(&rows[0]), [100.0, 0.0, 0.0, 0.0, 0.0, 0.0, 100.0]);
    }

    #[test]
    fn reactivation_needs_an_earlier_churn_even_before_the_range() {
        let u = unit(&[("2023-01-01", 1000), ("2023-02-01", -1000), ("2024-02-01", 2000)]);
        let rows = movements([&u], m("2024-01"), m("2024-02"), d("2099-01-01"));
        assert_eq!(row(&rows[1]), [0.0, 0.0, 0.0, 0.0, 0.0, 20.0, 20.0]);
    }
}
