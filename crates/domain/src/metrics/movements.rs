//! MRR movements per calendar month, ChartMogul's convention.
//!
//! Each account's MRR changes are classified in time order: `new` (first MRR ever), `expansion`
//! (up), `contraction` (down but still > 0: cancelling one of two products), `churn` (to 0),
//! `reactivation` (back from 0 after a churn). A month's `starting_mrr` is the previous month's
//! `ending_mrr` (MRR existing before the range is the first month's starting MRR) and
//! `starting + new + expansion + reactivation − contraction − churn = ending` holds exactly.
//! `quick_ratio` = (new + expansion + reactivation) / (contraction + churn), null when the divisor is 0.
//!
//! Worked example (one account): 100 from 2024-01-10, 150 from 2024-02-01, 0 from 2024-03-15,
//! 80 from 2024-05-01. Jan: new 100; Feb: expansion 50; Mar: churn 150; Apr: quiet (0 → 0);
//! May: reactivation 80.

use super::{ratio, Month, Unit};
use crate::money::{to_units, Cents};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// Movements for each month `from..=to`, from each unit's timeline.
pub fn movements<'a>(units: impl IntoIterator<Item = &'a Unit>, from: Month, to: Month) -> Vec<MonthMovements> {
    let n = (from.until(to) + 1).max(0) as usize;
    let mut g = GroupMovements { months: (0..n).map(|i| (i, MonthSums::default())).collect(), ..Default::default() };
    let first_day = from.first_day();
    for u in units {
        let (mut prev, mut ever) = (0, false);
        for &(day, mrr) in &u.timeline.points {
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
    build(&g, from, to)
}

/// The report rows: starting MRR carried from month to month, so
/// `starting + new + expansion + reactivation − contraction − churn = ending` holds by construction.
pub fn build(g: &GroupMovements, from: Month, to: Month) -> Vec<MonthMovements> {
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
            let row = MonthMovements {
                group: None,
                month: from.plus(i as u32).to_string(),
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
    use chrono::NaiveDate;

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
        let rows = movements([&u], m("2024-01"), m("2024-05"));
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
        let rows = movements([&u], m("2024-01"), m("2024-02"));
        assert_eq!(row(&rows[1]), [150.0, 0.0, 0.0, 50.0, 0.0, 0.0, 100.0]);
    }

    #[test]
    fn mrr_before_the_range_and_quiet_months_carry_forward() {
        let u = unit(&[("2023-06-01", 20000), ("2024-03-01", 1000)]);
        let rows = movements([&u], m("2024-01"), m("2024-03"));
        assert_eq!(row(&rows[0]), [200.0, 0.0, 0.0, 0.0, 0.0, 0.0, 200.0]);
        assert_eq!(row(&rows[1]), [200.0, 0.0, 0.0, 0.0, 0.0, 0.0, 200.0]);
        assert_eq!(row(&rows[2]), [200.0, 0.0, 10.0, 0.0, 0.0, 0.0, 210.0]);
    }

    #[test]
    fn start_and_churn_inside_one_month() {
        let u = unit(&[("2024-01-05", 3000), ("2024-01-20", -3000)]);
        let rows = movements([&u], m("2024-01"), m("2024-01"));
        assert_eq!(row(&rows[0]), [0.0, 30.0, 0.0, 0.0, 30.0, 0.0, 0.0]);
        assert_eq!((rows[0].customers_start, rows[0].customers_end), (0, 0));
    }

    #[test]
    fn reactivation_needs_an_earlier_churn_even_before_the_range() {
        let u = unit(&[("2023-01-01", 1000), ("2023-02-01", -1000), ("2024-02-01", 2000)]);
        let rows = movements([&u], m("2024-01"), m("2024-02"));
        assert_eq!(row(&rows[1]), [0.0, 0.0, 0.0, 0.0, 0.0, 20.0, 20.0]);
    }
}
