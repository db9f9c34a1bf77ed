//! Checking a request's fields (`requests.rs`; a page's query map works too), with errors that
//! name the parameter, the value and what was expected.

use chrono::NaiveDate;
use kizuna_domain::metrics::cohorts::{Measure, PeriodKind};
use kizuna_domain::metrics::{GroupBy, Month};
use crate::requests::Lookup;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{name} {value:?} {problem}")]
pub struct ParamError {
    pub name: String,
    pub value: String,
    pub problem: String,
}

impl ParamError {
    pub fn new(name: &str, value: &str, problem: &str) -> Self {
        ParamError { name: name.into(), value: value.into(), problem: problem.into() }
    }
}

/// How far past today an as-of date may lie. Cohorts, LTV and plans grow with the span up to
/// the as-of date; the API fuzzer found `at=2355-03-29` running for minutes.
pub const MAX_YEARS_AHEAD: u32 = 10;

/// `at` if it is at most [`MAX_YEARS_AHEAD`] years after today.
pub fn check_as_of(name: &str, at: NaiveDate) -> Result<NaiveDate, ParamError> {
    let limit = crate::today().checked_add_months(chrono::Months::new(12 * MAX_YEARS_AHEAD)).unwrap_or(NaiveDate::MAX);
    if at > limit {
        return Err(ParamError::new(name, &at.to_string(), &format!("is more than {MAX_YEARS_AHEAD} years after today (latest {limit})")));
    }
    Ok(at)
}

/// `at` if it is not after today: for runs that record what happened on their day (scores,
/// signals, onboarding). A run for a day to come would count scheduled ends as churn, find no
/// usage, and hold the daily job back until that day.
pub fn check_run_day(name: &str, at: NaiveDate) -> Result<NaiveDate, ParamError> {
    let today = crate::today();
    if at > today {
        return Err(ParamError::new(name, &at.to_string(), &format!("is after today ({today}): a run records what happened on its day")));
    }
    Ok(at)
}

pub struct Params<'a>(pub &'a dyn Lookup);

impl Params<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.lookup(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    /// A field as given, trimmed; None when absent or blank.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.get(name)
    }

    fn required(&self, name: &str) -> Result<&str, ParamError> {
        self.get(name).ok_or_else(|| ParamError::new(name, "", "is required"))
    }

    /// A date, YYYY-MM-DD; None when absent.
    pub fn date(&self, name: &str) -> Result<Option<NaiveDate>, ParamError> {
        self.get(name)
            .map(|v| kizuna_domain::fields::parse_date(name, v).map_err(|e| ParamError::new(name, v, &e.problem)))
            .transpose()
    }

    /// A whole number from `min` to `max`; None when absent.
    pub fn number(&self, name: &str, min: u32, max: u32) -> Result<Option<u32>, ParamError> {
        self.get(name)
            .map(|v| match v.parse::<u32>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(ParamError::new(name, v, &format!("is not a whole number from {min} to {max}"))),
            })
            .transpose()
    }

    /// One of a closed set of values, parsed by `parse`; `expected` lists them for the error.
    pub fn choice<T>(&self, name: &str, parse: impl Fn(&str) -> Option<T>, expected: &str) -> Result<Option<T>, ParamError> {
        self.get(name).map(|v| parse(v).ok_or_else(|| ParamError::new(name, v, &format!("is not one of: {expected}")))).transpose()
    }

    pub fn date_or_today(&self, name: &str) -> Result<NaiveDate, ParamError> {
        check_as_of(name, self.date(name)?.unwrap_or_else(crate::today))
    }

    /// The as-of date of a figure: `at`, default today in the business time zone.
    pub fn as_of(&self) -> Result<NaiveDate, ParamError> {
        check_as_of("at", self.date_or_today("at")?)
    }

    /// `from`..`to` as of `at`: (from, the `to` used, the `to` asked for). A `to` after `at` is
    /// cut there, since nothing after it has happened; a `from` after it is refused.
    pub fn date_range_as_of(&self, from: &str, to: &str, at: NaiveDate) -> Result<(NaiveDate, NaiveDate, NaiveDate), ParamError> {
        let (f, t) = self.date_range(from, to)?;
        if f > at {
            return Err(ParamError::new(from, &f.to_string(), &format!("is after the as-of date {at}: nothing after it has happened yet")));
        }
        Ok((f, t.min(at), t))
    }

    /// [`Self::month_range`] as of `at`: months after the one holding `at` are left out.
    pub fn month_range_as_of(&self, from: &str, to: &str, at: NaiveDate) -> Result<(Month, Month, Month), ParamError> {
        let (f, t) = self.month_range(from, to)?;
        if f > Month::of(at) {
            return Err(ParamError::new(from, &f.to_string(), &format!("is after the month of the as-of date {at}: nothing after it has happened yet")));
        }
        Ok((f, t.min(Month::of(at)), t))
    }

    pub fn date_range(&self, from: &str, to: &str) -> Result<(NaiveDate, NaiveDate), ParamError> {
        self.required(from)?;
        self.required(to)?;
        let (f, t) = (self.date(from)?.expect("required"), self.date(to)?.expect("required"));
        if t < f {
            return Err(ParamError::new(to, &t.to_string(), &format!("is before {from} {f}")));
        }
        Ok((f, t))
    }

    pub fn month_range(&self, from: &str, to: &str) -> Result<(Month, Month), ParamError> {
        let month = |name: &str| -> Result<Month, ParamError> {
            let v = self.required(name)?;
            Month::parse(v).ok_or_else(|| ParamError::new(name, v, "is not a month (YYYY-MM)"))
        };
        let (f, t) = (month(from)?, month(to)?);
        if t < f {
            return Err(ParamError::new(to, &t.to_string(), &format!("is before {from} {f}")));
        }
        if f.until(t) >= 1200 {
            return Err(ParamError::new(to, &t.to_string(), "is more than 100 years after from"));
        }
        Ok((f, t))
    }

    pub fn group_by(&self) -> Result<Option<GroupBy>, ParamError> {
        self.get("by")
            .map(|v| GroupBy::parse(v).ok_or_else(|| ParamError::new("by", v, &format!("is not one of: {}", GroupBy::NAMES))))
            .transpose()
    }

    pub fn period(&self, name: &str, default: PeriodKind) -> Result<PeriodKind, ParamError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => PeriodKind::parse(v).ok_or_else(|| ParamError::new(name, v, "is not one of: month, quarter, year")),
        }
    }

    pub fn measure(&self) -> Result<Measure, ParamError> {
        match self.get("measure") {
            None | Some("logos") => Ok(Measure::Logos),
            Some("mrr") => Ok(Measure::Mrr),
            Some(v) => Err(ParamError::new("measure", v, "is not one of: logos, mrr")),
        }
    }

    pub fn fraction(&self, name: &str, default: f64, min: f64, max: f64) -> Result<f64, ParamError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<f64>() {
                Ok(x) if x.is_finite() && (min..=max).contains(&x) => Ok(x),
                _ => Err(ParamError::new(name, v, &format!("is not a number from {min} to {max}"))),
            },
        }
    }

    pub fn whole(&self, name: &str, default: u32) -> Result<u32, ParamError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| ParamError::new(name, v, "is not a whole number >= 0")),
        }
    }

    /// A span of days: `28d`, `4w` or `28`, from 1 to 3660 days.
    pub fn days(&self, name: &str, default: u32) -> Result<u32, ParamError> {
        let Some(v) = self.get(name) else { return Ok(default) };
        let (num, unit) = match v.strip_suffix('d') {
            Some(n) => (n, 1),
            None => match v.strip_suffix('w') {
                Some(n) => (n, 7),
                None => (v, 1),
            },
        };
        match num.parse::<u32>() {
            Ok(n) if (1..=3660).contains(&(n * unit)) => Ok(n * unit),
            _ => Err(ParamError::new(name, v, "is not a number of days like 7d, 4w or 28 (1 to 3660 days)")),
        }
    }

    /// Any text, if given.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name)
    }

    /// `from`, or an error naming it.
    pub fn required_text(&self, name: &str) -> Result<&str, ParamError> {
        self.required(name)
    }
}
