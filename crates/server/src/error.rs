use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The one error type handlers return; it becomes the HTTP response (JSON for the API; pages
/// turn it into an HTML page in the reader's language, see `views::html_errors`).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter or body field is wrong; the message names it and what was expected.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] kizuna_store::StoreError),
    #[error(transparent)]
    Report(#[from] kizuna_analytics::ReportError),
    #[error("template error: {0}")]
    Template(#[from] minijinja::Error),
}

/// Put on error responses so the page layer can show the message in HTML.
#[derive(Debug, Clone)]
pub struct ErrorMessage(pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Report(kizuna_analytics::ReportError::Param(_)) => StatusCode::BAD_REQUEST,
            ApiError::Report(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Store(_) | ApiError::Template(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        // Internal details go to the log, not to the browser.
        let message = if status.is_server_error() {
            tracing::error!("{self}");
            "internal error: the server log has the details".to_string()
        } else {
            self.to_string()
        };
        let mut resp = (status, Json(serde_json::json!({ "error": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        resp.extensions_mut().insert(ErrorMessage(message));
        resp
    }
}
