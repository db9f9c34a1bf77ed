//! Input bounded at the edge, before any handler: the length of the path and the query string,
//! no control characters in path segments (ids) or query values, and a body limit per kind of
//! route, each refused with a 400 (or 413) that names what was wrong and the limit.
//! Field-level limits (a note's length, a user's name) are checked where the field is read.

use crate::{ApiError, Msg};
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub const MAX_PATH_BYTES: usize = 2048;
pub const MAX_QUERY_BYTES: usize = 4096;
/// Request bodies of the JSON API and of forms (a scenario's or scorecard's TOML, a note).
pub const BODY_LIMIT: usize = 256 * 1024;
/// Usage ingestion (its own route limit, above Segment's 500 KB per batch).
pub const INGEST_BODY_LIMIT: usize = 1024 * 1024;

/// The body limit of the route at `path`.
pub fn body_limit(path: &str) -> usize {
    if path.starts_with("/v1/") { INGEST_BODY_LIMIT } else { BODY_LIMIT }
}

/// `%41` → `A`; bytes as they are when not a valid escape.
fn decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn has_control(bytes: &[u8]) -> bool {
    bytes.iter().any(|b| *b < 0x20 || *b == 0x7f)
}

/// What is wrong with the request line, if anything.
pub fn check(path: &str, query: Option<&str>) -> Result<(), Msg> {
    if path.len() > MAX_PATH_BYTES {
        return Err(Msg::new("err.path_long").arg("bytes", path.len()).arg("limit", MAX_PATH_BYTES));
    }
    if path.split('/').any(|seg| has_control(&decode(seg))) {
        return Err(Msg::new("err.path_control"));
    }
    let Some(q) = query else { return Ok(()) };
    if q.len() > MAX_QUERY_BYTES {
        return Err(Msg::new("err.query_long").arg("bytes", q.len()).arg("limit", MAX_QUERY_BYTES));
    }
    for pair in q.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if has_control(&decode(k)) || has_control(&decode(v)) {
            let name = String::from_utf8_lossy(&decode(k)).chars().filter(|c| !c.is_control()).take(64).collect::<String>();
            return Err(Msg::new("err.query_control").arg("name", name));
        }
    }
    Ok(())
}

/// The layer: the request line checked, and a declared body over the route's limit refused
/// before it is read (a body without a length is cut off at the limit by `DefaultBodyLimit`).
pub async fn bounded_input(req: Request, next: Next) -> Response {
    // `/v1` answers in the shape Segment's libraries read, the rest of the API in its own.
    let segment = req.uri().path().starts_with("/v1/");
    let answer = move |e: ApiError| if segment { crate::api::segment_error(e) } else { e.into_response() };
    if let Err(m) = check(req.uri().path(), req.uri().query()) {
        return answer(ApiError::Invalid(m));
    }
    let limit = body_limit(req.uri().path());
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    let too_large = || answer(ApiError::TooLarge(Msg::new("err.body_too_large").arg("limit", limit / 1024)));
    if declared.is_some_and(|n| n > limit) {
        return too_large();
    }
    let resp = next.run(req).await;
    // An extractor that hit the limit while reading answers in axum's words: say it in ours.
    let ours = resp.extensions().get::<crate::error::ErrorMessage>().is_some();
    if resp.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE && !ours {
        return too_large();
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        assert!(check("/api/v1/accounts/A-1", Some("q=%E3%81%95&page=2")).is_ok());
        assert_eq!(check("/api/v1/accounts/A%00B", None).unwrap_err().key, "err.path_control");
        assert_eq!(check("/x", Some("q=a%0Ab")).unwrap_err().render("en"), "query parameter \"q\" holds a control character (such as a line break); remove it");
        assert_eq!(check("/x", Some(&"a".repeat(5000))).unwrap_err().key, "err.query_long");
        assert_eq!(check(&format!("/{}", "a".repeat(3000)), None).unwrap_err().key, "err.path_long");
        assert_eq!(body_limit("/v1/batch"), INGEST_BODY_LIMIT);
        assert_eq!(body_limit("/api/v1/plan/scenarios/x"), BODY_LIMIT);
    }
}
