//! Cohort retention triangles.
//!
//! A cohort is the accounts whose first MRR (> 0) falls in the same period (month, quarter or
//! year). For age k = 0, 1, ... the value is measured on the last day of period (cohort + k),
//! for every period that has ended by `as_of`:
//! - `logos`: accounts of the cohort active that day; base = cohort size.
//! - `mrr`: their MRR that day; base = the cohort's starting MRR (each account's first MRR).
//!
//! `percentages[k]` = `values[k]` / base.
//!
//! Worked example (months): A starts 2024-01-05 at 100 and churns 2024-02-10; B starts 2024-01-20
//! at 100 and expands to 150 on 2024-03-01. Cohort 2024-01: size 2. Logos [2, 1, 1] = [100%, 50%, 50%];
//! MRR base 200, values [200, 100, 150] = [100%, 50%, 75%].

use super::{ratio, Unit};
use crate::money::{to_units, Cents};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Month,
    Quarter,
    Year,
}

impl PeriodKind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "month" => PeriodKind::Month,
            "quarter" => PeriodKind::Quarter,
            "year" => PeriodKind::Year,
            _ => return None,
        })
    }

    pub fn months(self) -> i32 {
        match self {
            PeriodKind::Month => 1,
            PeriodKind::Quarter => 3,
            PeriodKind::Year => 12,
        }
    }

    /// A period number that increases by one per period.
    pub fn index(self, d: NaiveDate) -> i32 {
        (d.year() * 12 + d.month0() as i32).div_euclid(self.months())
    }

    pub fn first_day(self, index: i32) -> NaiveDate {
        let m = index * self.months();
        NaiveDate::from_ymd_opt(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 1).expect("valid period")
    }

    pub fn last_day(self, index: i32) -> NaiveDate {
        self.first_day(index + 1).pred_opt().expect("a day before")
    }

    pub fn label(self, index: i32) -> String {
        let first = self.first_day(index);
        match self {
            PeriodKind::Month => format!("{:04}-{:02}", first.year(), first.month()),
            PeriodKind::Quarter => format!("{:04}-Q{}", first.year(), first.month0() / 3 + 1),
            PeriodKind::Year => format!("{:04}", first.year()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = CohortMeasure)]
pub enum Measure {
    Logos,
    Mrr,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CohortRow {
    pub cohort: String,
    pub size: u64,
    pub base: f64,
    pub values: Vec<f64>,
    pub percentages: Vec<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CohortTable {
    pub period: PeriodKind,
    pub measure: Measure,
    pub as_of: NaiveDate,
    pub cohorts: Vec<CohortRow>,
}

pub fn cohorts<'a>(units: impl IntoIterator<Item = &'a Unit>, period: PeriodKind, measure: Measure, as_of: NaiveDate) -> CohortTable {
    let mut by_cohort: BTreeMap<i32, Vec<&Unit>> = BTreeMap::new();
    for u in units {
        if let Some(first) = u.timeline.first_paid_day().filter(|d| *d <= as_of) {
            by_cohort.entry(period.index(first)).or_default().push(u);
        }
    }
    let rows = by_cohort
        .into_iter()
        .map(|(c, members)| {
            let ages = (0..).take_while(|k| period.last_day(c + k) <= as_of).count() as i32;
            let value_at = |day: NaiveDate| -> Cents {
                members
                    .iter()
                    .map(|u| {
                        let mrr = u.timeline.mrr_at(day);
                        match measure {
                            Measure::Logos => (mrr > 0) as Cents,
                            Measure::Mrr => mrr,
                        }
                    })
                    .sum()
            };
            let base: Cents = match measure {
                Measure::Logos => members.len() as Cents,
                Measure::Mrr => members.iter().map(|u| u.timeline.points.iter().find(|p| p.1 > 0).map_or(0, |p| p.1)).sum(),
            };
            let values: Vec<Cents> = (0..ages).map(|k| value_at(period.last_day(c + k))).collect();
            let shown = |v: Cents| if measure == Measure::Mrr { to_units(v) } else { v as f64 };
            CohortRow {
                cohort: period.label(c),
                size: members.len() as u64,
                base: shown(base),
                percentages: values.iter().map(|v| ratio(*v as f64, base as f64)).collect(),
                values: values.into_iter().map(shown).collect(),
            }
        })
        .collect();
    CohortTable { period, measure, as_of, cohorts: rows }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Timeline;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn units() -> Vec<Unit> {
        let u = |deltas: &[(&str, Cents)]| Unit {
            account_id: "x".into(),
            group: "all".into(),
            timeline: Timeline::from_deltas(deltas.iter().map(|(s, c)| (d(s), *c))),
        };
        vec![u(&[("2024-01-05", 10000), ("2024-02-10", -10000)]), u(&[("2024-01-20", 10000), ("2024-03-01", 5000)])]
    }

    #[test]
    fn worked_example_logos_and_mrr() {
        let units = units();
        let t = cohorts(&units, PeriodKind::Month, Measure::Logos, d("2024-03-31"));
        assert_eq!(t.cohorts.len(), 1);
        assert_eq!(t.cohorts[0].cohort, "2024-01");
        assert_eq!(t.cohorts[0].values, vec![2.0, 1.0, 1.0]);
        assert_eq!(t.cohorts[0].percentages, vec![Some(1.0), Some(0.5), Some(0.5)]);
        let t = cohorts(&units, PeriodKind::Month, Measure::Mrr, d("2024-03-30"));
        assert_eq!(t.cohorts[0].base, 200.0);
        assert_eq!(t.cohorts[0].values, vec![200.0, 100.0], "March has not ended on the 30th");
    }

    #[test]
    fn quarters() {
        assert_eq!(PeriodKind::Quarter.label(PeriodKind::Quarter.index(d("2024-05-17"))), "2024-Q2");
        assert_eq!(PeriodKind::Quarter.last_day(PeriodKind::Quarter.index(d("2024-05-17"))), d("2024-06-30"));
        let t = cohorts(&units(), PeriodKind::Quarter, Measure::Logos, d("2024-06-30"));
        assert_eq!(t.cohorts[0].values, vec![1.0, 1.0]);
    }
}
