//! What the server test modules share: an answer read whole.

use axum::body::to_bytes;
use axum::http::StatusCode;
use serde_json::Value;

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Reply {
    /// The answer with its body read as text, up to `limit` bytes.
    pub async fn read(resp: axum::response::Response, limit: usize) -> Reply {
        let (status, headers) = (resp.status(), resp.headers().clone());
        let body = String::from_utf8(to_bytes(resp.into_body(), limit).await.unwrap().to_vec()).unwrap();
        Reply { status, headers, body }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub fn location(&self) -> &str {
        self.headers["location"].to_str().unwrap()
    }
}
