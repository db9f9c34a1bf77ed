//! Query strings read into the application's request structs, with errors that name the
//! parameter, the value and what was expected.

use crate::ApiError;

/// The application's checks of a request's fields (one `Params` for CLI, API and pages).
pub use kizuna_app::Params;

/// A query string read into a request struct (`kizuna_app::requests`). One serde cannot read (a
/// parameter given twice, say) is refused with a 400 in the API's JSON, like every other error.
pub struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri).map(|q| ApiQuery(q.0)).map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}
