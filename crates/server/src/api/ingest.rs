//! Usage ingestion compatible with Segment's HTTP tracking API: `POST /v1/track`, `/v1/identify`,
//! `/v1/group`, `/v1/page`, `/v1/screen`, `/v1/alias`, `/v1/batch` (and `/v1/import`, its
//! alias; and analytics.js's one-letter paths `/v1/t` … `/v1/b`), with a write key as the Basic
//! user name or `writeKey` in the body, CORS open to browsers. Existing Segment or RudderStack pipelines point here unchanged.
//! A request is answered 200 only after its events are committed (group commit: `ingestor.rs`).
//!
//! Bodies may be compressed (`Content-Encoding: gzip` or `deflate`) whatever their
//! `Content-Type`: RudderStack's Node SDK sends gzipped JSON labelled form-urlencoded. Errors
//! are answered as the official SDKs read them (`docs/usage.md`, "Answers"): `code` and
//! `message` in a JSON object, 4xx for what retrying cannot fix, 503 with `Retry-After` for
//! what it can.

use crate::auth::write_key;
use crate::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use super::doc::IngestErrorBody;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use kizuna_domain::usage::segment::{self, Kind, SegmentError, MAX_BATCH_BYTES, MAX_MESSAGE_BYTES};
use kizuna_domain::usage::{UsageEvent, UsageMessage};
use kizuna_store::ApiKey;
use std::collections::HashMap;
use std::io::Read;

/// Compressed bodies are refused above this (a body at the 500 KB limit compresses smaller).
const MAX_RAW_BYTES: usize = 1024 * 1024;

/// What a request stored.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub success: bool,
    pub summary: kizuna_domain::usage::IngestSummary,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(batch))
        .routes(routes!(import))
        .routes(routes!(single))
        // Above Segment's 500 KB, so an oversized batch gets our 400 that says why.
        .layer(DefaultBodyLimit::max(MAX_RAW_BYTES))
        // Browser libraries (analytics.js, RudderStack's JS SDK) post from the customer's own
        // site with the write key in the body or an Authorization header: any origin may, and
        // without cookies (a write key only writes usage).
        .layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(tower_http::cors::Any)
                .allow_methods([axum::http::Method::POST, axum::http::Method::OPTIONS])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::CONTENT_ENCODING, header::HeaderName::from_static("anonymousid")])
                .max_age(std::time::Duration::from_secs(86_400)),
        )
}

impl From<SegmentError> for ApiError {
    fn from(e: SegmentError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

/// An error of `/v1`, with the body Segment's and RudderStack's libraries parse: they read
/// `code` and `message` (RudderStack's Python SDK retried an error whose JSON lacked them as
/// if the network had failed). `error` is the same message, as the rest of the API has it.
pub struct IngestError(ApiError);

impl<E: Into<ApiError>> From<E> for IngestError {
    fn from(e: E) -> Self {
        IngestError(e.into())
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        segment_error(self.0)
    }
}

/// An error answered in the shape Segment's and RudderStack's libraries read (also for requests
/// the edge layer refuses before a `/v1` handler runs).
pub fn segment_error(e: ApiError) -> Response {
    {
        let status = e.status();
        let message = e.public_message();
        let code = match status {
            StatusCode::BAD_REQUEST => "invalid_request",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_encoding",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            _ => "internal",
        };
        let body = serde_json::json!({ "success": false, "code": code, "message": message, "error": message, "request_id": crate::request_id() });
        let mut resp = (status, Json(body)).into_response();
        e.headers(resp.headers_mut());
        resp
    }
}

/// One message (Segment's tracking API). The body may be gzip or deflate compressed; 32 KB at
/// most once decompressed.
#[utoipa::path(post, path = "/v1/{kind}", tag = "ingestion",
    params(("kind" = String, Path, pattern = "^(track|identify|group|page|screen|alias|t|i|g|p|s|a|b)$", description = "track, identify, group, page, screen or alias; or the one-letter paths Segment's browser library posts to (t, i, g, p, s, a; b is a batch)")),
    request_body(content = Object, description = "A Segment message (JSON)", content_type = "application/json"),
    responses((status = 200, body = Accepted), (status = 400, body = IngestErrorBody), (status = 401, body = IngestErrorBody),
              (status = 403, body = IngestErrorBody), (status = 404, body = IngestErrorBody), (status = 413, body = IngestErrorBody),
              (status = 415, body = IngestErrorBody), (status = 503, description = "Retry after `Retry-After` seconds", body = IngestErrorBody)),
    security(("write_key" = [])))]
async fn single(State(state): State<AppState>, headers: HeaderMap, Path(kind): Path<String>, body: Bytes) -> Result<Json<Accepted>, IngestError> {
    if kind == "b" {
        // analytics.js in batching mode.
        return accept_batch(state, headers, body).await;
    }
    let body = decoded(&headers, body, MAX_MESSAGE_BYTES)?;
    let key = write_key(&headers, segment::body_write_key(&body), &state).await?;
    let kind = Kind::parse(&kind).ok_or_else(|| ApiError::NotFound(format!("/v1/{kind}: use track, identify, group, page, screen, alias or batch")))?;
    let message = segment::parse_single(kind, &body, chrono::Utc::now())?;
    let created = partner_accounts(&state, &key, std::slice::from_ref(&message), false).await?;
    let mut summary = state.ingestor.ingest(vec![message]).await?;
    summary.accounts_created += created;
    Ok(Json(Accepted { success: true, summary }))
}

/// Many messages (`{"batch": [...]}`), 500 KB at most once decompressed.
#[utoipa::path(post, path = "/v1/batch", tag = "ingestion",
    request_body(content = Object, description = "`{\"batch\": [messages]}` (JSON)", content_type = "application/json"),
    responses((status = 200, body = Accepted), (status = 400, body = IngestErrorBody), (status = 401, body = IngestErrorBody),
              (status = 403, body = IngestErrorBody), (status = 413, body = IngestErrorBody),
              (status = 415, body = IngestErrorBody), (status = 503, description = "Retry after `Retry-After` seconds", body = IngestErrorBody)),
    security(("write_key" = [])))]
async fn batch(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Json<Accepted>, IngestError> {
    accept_batch(state, headers, body).await
}

/// `/v1/import`: the same as `/v1/batch` (Segment's bulk alias).
#[utoipa::path(post, path = "/v1/import", tag = "ingestion",
    request_body(content = Object, description = "`{\"batch\": [messages]}` (JSON)", content_type = "application/json"),
    responses((status = 200, body = Accepted), (status = 400, body = IngestErrorBody), (status = 401, body = IngestErrorBody),
              (status = 403, body = IngestErrorBody), (status = 413, body = IngestErrorBody),
              (status = 415, body = IngestErrorBody), (status = 503, description = "Retry after `Retry-After` seconds", body = IngestErrorBody)),
    security(("write_key" = [])))]
async fn import(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Json<Accepted>, IngestError> {
    accept_batch(state, headers, body).await
}

async fn accept_batch(state: AppState, headers: HeaderMap, body: Bytes) -> Result<Json<Accepted>, IngestError> {
    let body = decoded(&headers, body, MAX_BATCH_BYTES)?;
    let key = write_key(&headers, segment::body_write_key(&body), &state).await?;
    let messages = segment::parse_batch(&body, chrono::Utc::now())?;
    let created = partner_accounts(&state, &key, &messages, true).await?;
    let mut summary = state.ingestor.ingest(messages).await?;
    summary.accounts_created += created;
    Ok(Json(Accepted { success: true, summary }))
}

/// A partner-bound key writes only to its partner's accounts: a message whose account belongs
/// to anyone else is refused with a 403 naming the message. Its account is the one it names
/// (`groupId`, `context.groupId`), else the one its user is grouped with (by a group earlier in
/// the request, or before), as the writer attributes it; an identify makes a contact there. A
/// group may not move a user out of an account that is not the partner's. An
/// account named that does not exist yet is created bound to the partner once every message
/// passed (a refused request creates nothing), before the events are written, so the writer,
/// which creates accounts unbound, finds it; how many is returned for the summary. Keys of the
/// whole company skip this: their path stays as it was.
async fn partner_accounts(state: &AppState, key: &ApiKey, messages: &[UsageMessage], batch: bool) -> Result<u64, ApiError> {
    let Some(partner) = &key.partner_id else { return Ok(0) };
    let mut checked: HashMap<String, bool> = HashMap::new();
    // Accounts named that do not exist yet: created bound to the partner once every message
    // passed, so a refused request creates nothing.
    let mut missing: Vec<String> = Vec::new();
    let mut users: HashMap<&str, Option<String>> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        let at = || if batch { format!("batch[{i}]") } else { "message".to_string() };
        let (account, named) = match m {
            UsageMessage::Group { user_id, account_id, .. } => {
                // Moving a user takes its traits (a contact) and its usage along: only from
                // one of the partner's own accounts, or from none.
                let from = match users.get(user_id.as_str()) {
                    Some(a) => a.clone(),
                    None => state.store.usage_user_account(user_id).await?,
                };
                if let Some(from) = from.filter(|f| f != account_id) {
                    if !owned(state, partner, &from, &mut checked).await? {
                        return Err(ApiError::Forbidden(format!(
                            "{}: user {user_id:?} is grouped with an account that is not one of partner {partner:?}'s accounts; write key {} may not move it",
                            at(),
                            key.key_id
                        )));
                    }
                }
                users.insert(user_id, Some(account_id.clone()));
                (account_id.clone(), true)
            }
            UsageMessage::Alias { previous_id, user_id, .. } => {
                // The alias's events go where its user is: only from one of the partner's
                // accounts (or none), and only to one.
                let to = linked(state, partner, key, &at(), previous_id, user_id, &mut users, &mut checked).await?;
                match to {
                    Some(a) => (a, false),
                    None => continue,
                }
            }
            // An identify naming both ids links them as an alias does: checked the same way,
            // then the user's own account is checked below.
            UsageMessage::Identify { user_id, anonymous_id: Some(previous_id), .. } if previous_id != user_id => {
                let to = linked(state, partner, key, &at(), previous_id, user_id, &mut users, &mut checked).await?;
                match to {
                    Some(a) => (a, false),
                    None => continue,
                }
            }
            UsageMessage::Event(UsageEvent { account_id: Some(a), .. }) => (a.clone(), true),
            UsageMessage::Event(UsageEvent { user_id: Some(u), .. }) | UsageMessage::Identify { user_id: u, .. } => {
                let grouped = match users.get(u.as_str()) {
                    Some(a) => a.clone(),
                    None => users.entry(u).or_insert(state.store.usage_user_account(u).await?).clone(),
                };
                match grouped {
                    Some(a) => (a, false),
                    None => continue,
                }
            }
            UsageMessage::Event(_) => continue,
        };
        let ours = match checked.get(&account) {
            Some(ours) => *ours,
            None => {
                let ours = match state.store.get_account(&account, kizuna_app::today()).await? {
                    Some(a) => a.partner_id.as_deref() == Some(partner.as_str()),
                    None => {
                        missing.push(account.clone());
                        true
                    }
                };
                checked.insert(account.clone(), ours);
                ours
            }
        };
        if !ours {
            // The account a user is grouped with is not named: that would tell one partner
            // which account another's user belongs to.
            let whose = if named { format!("account {account:?}") } else { "its user is grouped with an account that".to_string() };
            return Err(ApiError::Forbidden(format!(
                "{}: {whose} is not one of partner {partner:?}'s accounts; write key {} may only write to those",
                at(),
                key.key_id
            )));
        }
    }
    if missing.is_empty() {
        return Ok(0);
    }
    let mut tx = state.store.begin().await?;
    let (created, others) = tx.create_partner_accounts(partner, &missing).await?;
    if let Some(account) = others.first() {
        // Created by someone else since it was checked: refused as if it had been there.
        return Err(ApiError::Forbidden(format!(
            "{}: account {account:?} is not one of partner {partner:?}'s accounts; write key {} may only write to those",
            if batch { "batch" } else { "message" },
            key.key_id
        )));
    }
    tx.commit().await?;
    Ok(created)
}

/// `previous_id` becomes `user_id` (an alias, or an identify naming both): its events and
/// itself follow `user_id`'s account. Refused when `previous_id` sits in an account that is
/// not the partner's, since that would move another partner's user. `user_id`'s account (if
/// any) is returned for the caller to check.
#[allow(clippy::too_many_arguments)]
async fn linked<'m>(
    state: &AppState,
    partner: &str,
    key: &ApiKey,
    at: &str,
    previous_id: &'m str,
    user_id: &'m str,
    users: &mut HashMap<&'m str, Option<String>>,
    checked: &mut HashMap<String, bool>,
) -> Result<Option<String>, ApiError> {
    let from = match users.get(previous_id) {
        Some(a) => a.clone(),
        None => state.store.usage_user_account(previous_id).await?,
    };
    let to = match users.get(user_id) {
        Some(a) => a.clone(),
        None => state.store.usage_user_account(user_id).await?,
    };
    if let Some(from) = from.filter(|f| Some(f) != to.as_ref()) {
        if !owned(state, partner, &from, checked).await? {
            return Err(ApiError::Forbidden(format!(
                "{at}: user {previous_id:?} is grouped with an account that is not one of partner {partner:?}'s accounts; write key {} may not move it",
                key.key_id
            )));
        }
    }
    users.insert(previous_id, to.clone());
    Ok(to)
}

/// Whether an existing `account` is the partner's (one that does not exist is no one's).
async fn owned(state: &AppState, partner: &str, account: &str, checked: &mut HashMap<String, bool>) -> Result<bool, ApiError> {
    if let Some(ours) = checked.get(account) {
        return Ok(*ours);
    }
    let ours = state.store.get_account(account, kizuna_app::today()).await?.is_none_or(|a| a.partner_id.as_deref() == Some(partner));
    checked.insert(account.to_string(), ours);
    Ok(ours)
}

/// The body as sent, or decompressed as its `Content-Encoding` says. At most `limit + 1` bytes
/// are inflated: a body past the limit is refused once that much came out, so a compression
/// bomb costs no more than a body at the limit. (An uncompressed body is checked against the
/// limit by the parser, which names the message.)
fn decoded(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Bytes, ApiError> {
    let encoding = headers.get(header::CONTENT_ENCODING).map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    let reader: Box<dyn Read + '_> = match encoding.as_deref() {
        None | Some("" | "identity") => return Ok(body),
        Some("gzip" | "x-gzip") => Box::new(flate2::read::MultiGzDecoder::new(&body[..])),
        // HTTP's deflate is zlib-wrapped; some clients send the raw stream.
        Some("deflate") if is_zlib(&body) => Box::new(flate2::read::ZlibDecoder::new(&body[..])),
        Some("deflate") => Box::new(flate2::read::DeflateDecoder::new(&body[..])),
        Some(other) => return Err(unsupported(other)),
    };
    let name = encoding.unwrap_or_default();
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit + 1));
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::BadRequest(format!("the request body is not valid {name} data (Content-Encoding: {name}): {e}")))?;
    if out.len() > limit {
        return Err(ApiError::BadRequest(format!(
            "the request body is more than {limit} bytes once decompressed ({name}); the limit is {} KB ({limit} bytes)",
            limit / 1024
        )));
    }
    Ok(Bytes::from(out))
}

/// A zlib stream's two-byte header: method 8 (deflate), and the check bits.
fn is_zlib(b: &[u8]) -> bool {
    b.len() >= 2 && b[0] & 0x0f == 8 && (u16::from(b[0]) << 8 | u16::from(b[1])) % 31 == 0
}

fn unsupported(encoding: &str) -> ApiError {
    ApiError::UnsupportedEncoding(format!("Content-Encoding {encoding:?} is not supported: send the body as is, or with gzip or deflate"))
}
