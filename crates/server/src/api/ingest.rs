//! Usage ingestion compatible with Segment's HTTP tracking API: `POST /v1/track`, `/v1/identify`,
//! `/v1/group`, `/v1/page`, `/v1/screen`, `/v1/batch` (and `/v1/import`, its alias), with a write
//! key as the Basic user name. Existing Segment or RudderStack pipelines point here unchanged.
//! A request is answered 200 only after its events are committed (group commit: `ingestor.rs`).

use crate::auth::write_key;
use crate::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use kizuna_domain::usage::segment::{self, Kind, SegmentError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/batch", post(batch))
        .route("/v1/import", post(batch))
        .route("/v1/{kind}", post(single))
        // Above Segment's 500 KB, so an oversized batch gets our 400 that says why.
        .layer(DefaultBodyLimit::max(1024 * 1024))
}

impl From<SegmentError> for ApiError {
    fn from(e: SegmentError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

async fn single(State(state): State<AppState>, headers: HeaderMap, Path(kind): Path<String>, body: Bytes) -> Result<Json<serde_json::Value>, ApiError> {
    write_key(&headers, segment::body_write_key(&body), &state).await?;
    let kind = Kind::parse(&kind).ok_or_else(|| ApiError::NotFound(format!("/v1/{kind}: use track, identify, group, page, screen or batch")))?;
    let message = segment::parse_single(kind, &body, chrono::Utc::now())?;
    let summary = state.ingestor.ingest(vec![message]).await?;
    Ok(Json(serde_json::json!({ "success": true, "summary": summary })))
}

async fn batch(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Json<serde_json::Value>, ApiError> {
    write_key(&headers, segment::body_write_key(&body), &state).await?;
    let messages = segment::parse_batch(&body, chrono::Utc::now())?;
    let summary = state.ingestor.ingest(messages).await?;
    Ok(Json(serde_json::json!({ "success": true, "summary": summary })))
}
