use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The one error type handlers return; it becomes the HTTP response.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter or body field is wrong; the message names it and what was expected.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] kizuna_store::StoreError),
    #[error(transparent)]
    Report(#[from] kizuna_analytics::ReportError),
    #[error("template error: {0}")]
    Template(#[from] minijinja::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Report(kizuna_analytics::ReportError::Param(_)) => StatusCode::BAD_REQUEST,
            ApiError::Report(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Store(_) | ApiError::Template(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::error!("{self}");
        }
        (status, Json(serde_json::json!({ "error": self.to_string() }))).into_response()
    }
}
