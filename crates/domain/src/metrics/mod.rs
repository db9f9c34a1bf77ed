//! Revenue and retention metrics (SPEC §2). Definitions are in each module's docs and in
//! `docs/metrics.md`, with worked examples; every figure is computed from per-account MRR
//! timelines built from the `mrr_changes` rows, in exact integer cents.

pub mod arr;
pub mod cohorts;
pub mod ltv;
pub mod movements;
pub mod retention;
pub mod sbg;
pub mod timeline;
pub mod units;

pub use timeline::Timeline;
pub use units::{GroupBy, Unit, Units};

use chrono::{Datelike, NaiveDate};

/// `monthly = 1 − (1 − r)^(period/days)`: a rate over `days` scaled to another period length.
pub fn scale_rate(rate: f64, days: i64, period_days: f64) -> Option<f64> {
    (days > 0).then(|| 1.0 - (1.0 - rate).powf(period_days / days as f64))
}

/// `a / b`, or `None` when `b` is 0 (a rate of nothing is undefined, not zero).
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b != 0.0).then(|| a / b)
}

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    pub fn of(d: NaiveDate) -> Self {
        Month { year: d.year(), month: d.month() }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let (y, m) = s.trim().split_once('-')?;
        let (year, month) = (y.parse().ok()?, m.parse().ok()?);
        (y.len() == 4 && m.len() == 2 && (1..=12).contains(&month)).then_some(Month { year, month })
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("valid month")
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            Month { year: self.year + 1, month: 1 }
        } else {
            Month { year: self.year, month: self.month + 1 }
        }
    }

    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().expect("a day before")
    }

    /// Months from `self` to `other` (negative when `other` is earlier).
    pub fn until(self, other: Month) -> i32 {
        (other.year - self.year) * 12 + other.month as i32 - self.month as i32
    }

    pub fn plus(self, n: u32) -> Self {
        let idx = self.year * 12 + self.month as i32 - 1 + n as i32;
        Month { year: idx.div_euclid(12), month: idx.rem_euclid(12) as u32 + 1 }
    }
}

impl serde::Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

// In the API document a month is a `YYYY-MM` string, as it serialises.
impl utoipa::PartialSchema for Month {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^\d{4}-\d{2}$"))
            .description(Some("a calendar month, YYYY-MM"))
            .build()
            .into()
    }
}

impl utoipa::ToSchema for Month {}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_arithmetic() {
        let m = Month::parse("2024-12").unwrap();
        assert_eq!(m.next().to_string(), "2025-01");
        assert_eq!(m.last_day().to_string(), "2024-12-31");
        assert_eq!(Month::parse("2024-02").unwrap().last_day().to_string(), "2024-02-29");
        assert_eq!(m.plus(14).to_string(), "2026-02");
        assert_eq!(m.until(Month::parse("2025-03").unwrap()), 3);
        assert!(Month::parse("2024-13").is_none() && Month::parse("24-01").is_none());
    }

    #[test]
    fn rate_scaling() {
        // 10% over 365 days → monthly 1 − 0.9^(30.4167/365) = 0.008742...
        let m = scale_rate(0.1, 365, 365.0 / 12.0).unwrap();
        assert!((m - 0.008741).abs() < 1e-6, "{m}");
        assert_eq!(scale_rate(0.1, 0, 30.0), None);
    }
}
