//! An account's (or account × product's) MRR over time.

use crate::money::Cents;
use chrono::NaiveDate;

/// MRR after each change, in day order: `points[i] = (day, mrr from that day on)`.
/// MRR on day d is the value of the last point with day <= d (0 before the first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    pub points: Vec<(NaiveDate, Cents)>,
}

impl Timeline {
    /// From (day, delta) pairs in any order; same-day deltas are summed and no-op days dropped,
    /// so abutting periods (one ends the day the next starts) are continuous.
    pub fn from_deltas(deltas: impl IntoIterator<Item = (NaiveDate, Cents)>) -> Self {
        let mut deltas: Vec<(NaiveDate, Cents)> = deltas.into_iter().collect();
        deltas.sort_by_key(|d| d.0);
        let mut points: Vec<(NaiveDate, Cents)> = Vec::with_capacity(deltas.len());
        let mut mrr = 0;
        for (day, delta) in deltas {
            mrr += delta;
            match points.last_mut() {
                Some(last) if last.0 == day => last.1 = mrr,
                _ => points.push((day, mrr)),
            }
        }
        let mut prev = 0;
        points.retain(|p| {
            let keep = p.1 != prev;
            prev = p.1;
            keep
        });
        Timeline { points }
    }

    pub fn mrr_at(&self, day: NaiveDate) -> Cents {
        match self.points.partition_point(|p| p.0 <= day) {
            0 => 0,
            i => self.points[i - 1].1,
        }
    }

    /// MRR just before `day` (at the end of the previous day).
    pub fn mrr_before(&self, day: NaiveDate) -> Cents {
        match self.points.partition_point(|p| p.0 < day) {
            0 => 0,
            i => self.points[i - 1].1,
        }
    }

    /// The first day with MRR > 0.
    pub fn first_paid_day(&self) -> Option<NaiveDate> {
        self.points.iter().find(|p| p.1 > 0).map(|p| p.0)
    }

    /// The first day MRR falls to 0 after `from` (the first churn), if any.
    pub fn first_churn_after(&self, from: NaiveDate) -> Option<NaiveDate> {
        self.points.iter().find(|p| p.0 > from && p.1 == 0).map(|p| p.0)
    }

    /// Every day MRR fell from above 0 to 0 (each churn, reactivations in between).
    pub fn churn_days(&self) -> Vec<NaiveDate> {
        let mut prev = 0;
        let mut out = vec![];
        for &(day, mrr) in &self.points {
            if prev > 0 && mrr <= 0 {
                out.push(day);
            }
            prev = mrr;
        }
        out
    }

    /// Sum of two timelines (an account's products together).
    pub fn add(&self, other: &Timeline) -> Timeline {
        let mut deltas = Vec::with_capacity(self.points.len() + other.points.len());
        for t in [self, other] {
            let mut prev = 0;
            for &(day, mrr) in &t.points {
                deltas.push((day, mrr - prev));
                prev = mrr;
            }
        }
        Timeline::from_deltas(deltas)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn abutting_periods_are_continuous_and_end_is_exclusive() {
        // Jan: 100, Feb: 100 (abutting), ends 2024-03-01.
        let t = Timeline::from_deltas([
            (d("2024-01-01"), 100),
            (d("2024-02-01"), -100),
            (d("2024-02-01"), 100),
            (d("2024-03-01"), -100),
        ]);
        assert_eq!(t.points, vec![(d("2024-01-01"), 100), (d("2024-03-01"), 0)]);
        assert_eq!(t.mrr_at(d("2023-12-31")), 0);
        assert_eq!(t.mrr_at(d("2024-02-29")), 100);
        assert_eq!(t.mrr_at(d("2024-03-01")), 0);
        assert_eq!(t.mrr_before(d("2024-03-01")), 100);
        assert_eq!(t.first_churn_after(d("2024-01-01")), Some(d("2024-03-01")));
        assert_eq!(t.churn_days(), vec![d("2024-03-01")]);
    }

    #[test]
    fn churn_days_are_falls_to_zero() {
        // 100, down to 50 (contraction, not churn), 0 on 2024-04-01, back, 0 again on 2024-09-01.
        let t = Timeline::from_deltas([
            (d("2024-01-01"), 100),
            (d("2024-02-01"), -50),
            (d("2024-04-01"), -50),
            (d("2024-06-01"), 80),
            (d("2024-09-01"), -80),
        ]);
        assert_eq!(t.churn_days(), vec![d("2024-04-01"), d("2024-09-01")]);
    }

    #[test]
    fn adding_products() {
        let a = Timeline::from_deltas([(d("2024-01-01"), 100), (d("2024-06-01"), -100)]);
        let b = Timeline::from_deltas([(d("2024-03-01"), 50)]);
        assert_eq!(a.add(&b).points, vec![(d("2024-01-01"), 100), (d("2024-03-01"), 150), (d("2024-06-01"), 50)]);
    }
}
