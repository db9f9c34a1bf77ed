//! Query-string parsing with errors that name the parameter, the value and what was expected.

use crate::ApiError;
use chrono::NaiveDate;

pub struct Params<'a>(pub &'a dyn kizuna_app::Lookup);

impl Params<'_> {
    pub fn text(&self, name: &str) -> Option<String> {
        self.0.lookup(name).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
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

/// A query string read into a request struct (`kizuna_app::requests`). One serde cannot read (a
/// parameter given twice, say) is refused with a 400 in the API's JSON, like every other error.
pub struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri).map(|q| ApiQuery(q.0)).map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}
