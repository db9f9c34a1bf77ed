//! Query-string parsing with errors that name the parameter, the value and what was expected.

use crate::ApiError;
use chrono::NaiveDate;
use std::collections::HashMap;

pub struct Params<'a>(pub &'a HashMap<String, String>);

impl Params<'_> {
    pub fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
    }

    pub fn date(&self, name: &str) -> Result<Option<NaiveDate>, ApiError> {
        self.text(name)
            .map(|v| kizuna_domain::fields::parse_date(name, &v).map_err(|e| ApiError::BadRequest(e.to_string())))
            .transpose()
    }

    pub fn number(&self, name: &str, min: u32, max: u32) -> Result<Option<u32>, ApiError> {
        self.text(name)
            .map(|v| match v.parse::<u32>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::BadRequest(format!("{name} {v:?} is not a whole number from {min} to {max}"))),
            })
            .transpose()
    }

    /// A closed set of values, parsed by `parse`; `expected` lists them for the error.
    pub fn choice<T>(&self, name: &str, parse: impl Fn(&str) -> Option<T>, expected: &str) -> Result<Option<T>, ApiError> {
        self.text(name)
            .map(|v| parse(&v).ok_or_else(|| ApiError::BadRequest(format!("{name} {v:?} is not one of: {expected}"))))
            .transpose()
    }
}
