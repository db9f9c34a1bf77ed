//! CSRF protection. Forms that write: a random token in a SameSite=Strict, HttpOnly cookie
//! that the form repeats in a hidden field (double submit), and an Origin check when the browser
//! sends one. A request from another site has neither the cookie nor the right origin.
//!
//! Everything else that writes with the session cookie (the JSON API reached from a signed-in
//! browser) goes through [`guard`], one layer over the whole router, so a new route cannot
//! forget it.

use crate::{ApiError, Msg};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore;

pub const COOKIE: &str = "kizuna_csrf";
pub const FIELD: &str = "csrf_token";
/// The header a script repeats the CSRF cookie's token in (instead of a same-origin `Origin`).
pub const HEADER: &str = "x-csrf-token";
/// The session cookie (see `auth::layer`): its presence is what makes a request "by cookie".
pub const SESSION_COOKIE: &str = "kizuna_session";
/// A form body is read whole to find its token; forms are small (a note is 20,000 characters).
const FORM_LIMIT: usize = 2 * 1024 * 1024;

/// The token already set for this browser, or a new one.
pub fn token(headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers) {
        Some(t) => (t, None),
        None => {
            let mut bytes = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut bytes);
            let t: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let set = format!("{COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict");
            (t, Some(set))
        }
    }
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    cookie_values(headers, COOKIE).find(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())).map(str::to_string)
}

fn cookie_values<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(header::COOKIE)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|raw| raw.split(';'))
        .filter_map(move |p| p.trim().strip_prefix(name)?.strip_prefix('='))
}

/// The session cookie's value, if one was sent: the last, as the session layer reads it (so a
/// made-up one in front of it does not count as another caller).
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie_values(headers, SESSION_COOKIE).last()
}

/// `Some(true)` when the browser says the request comes from this host over an accepted scheme,
/// `Some(false)` when it names another host, another scheme (`http` when the server is behind
/// HTTPS, `secure`; anything but `http`/`https`) or an opaque `null` origin, `None` when it sent
/// no `Origin`. A page on plain `http://` of this host (a network attacker's) must not write to
/// the `https://` one.
fn origin_is_here(headers: &HeaderMap, secure: bool) -> Option<bool> {
    let origin = headers.get(header::ORIGIN)?;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let schemes: &[&str] = if secure { &["https"] } else { &["http", "https"] };
    Some(match (origin.to_str().ok().and_then(|o| o.split_once("://")), host) {
        (Some((scheme, origin_host)), Some(host)) => origin_host == host && schemes.contains(&scheme),
        _ => false,
    })
}

fn token_matches(headers: &HeaderMap, submitted: Option<&str>) -> bool {
    match (cookie(headers), submitted) {
        (Some(c), Some(s)) => constant_time_eq(c.as_bytes(), s.as_bytes()),
        _ => false,
    }
}

/// True when the submitted token matches the cookie and the origin (if sent) is this host.
/// (The scheme is checked against the server's setting by [`guard`], which every write passes.)
pub fn verify(headers: &HeaderMap, submitted: Option<&str>) -> bool {
    origin_is_here(headers, false) != Some(false) && token_matches(headers, submitted)
}

/// A write that the browser's session cookie would authenticate: not a safe method, the session
/// cookie sent, and no `Authorization` header (a key, which a browser never adds by itself,
/// decides who asks then).
fn by_cookie(req: &Request) -> bool {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE);
    !safe && !req.headers().contains_key(header::AUTHORIZATION) && cookie_values(req.headers(), SESSION_COOKIE).next().is_some()
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn refused() -> Response {
    ApiError::Denied(Msg::new("err.csrf").arg("header", HEADER)).into_response()
}

/// The CSRF check for every route: a write by session cookie needs a same-origin `Origin`, or the
/// CSRF token (the `X-CSRF-Token` header, or a form's `csrf_token` field). Another site's
/// `Origin` is refused even with a token. Key-authenticated requests pass untouched.
/// `secure`: the server is reached over HTTPS (its cookies are `Secure`), so only an `https`
/// origin is this site.
pub async fn guard(axum::extract::State(secure): axum::extract::State<bool>, req: Request, next: Next) -> Response {
    if !by_cookie(&req) {
        return next.run(req).await;
    }
    match origin_is_here(req.headers(), secure) {
        Some(true) => return next.run(req).await,
        Some(false) => return refused(),
        None => {}
    }
    let header_token = req.headers().get(HEADER).and_then(|v| v.to_str().ok());
    if token_matches(req.headers(), header_token) {
        return next.run(req).await;
    }
    if !is_form(req.headers()) {
        return refused();
    }
    // A form without `Origin` (an older browser): its token is in the body.
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
        return ApiError::TooLarge(Msg::new("err.body_too_large").arg("limit", FORM_LIMIT / 1024)).into_response();
    };
    let field = url::form_urlencoded::parse(&bytes).find(|(k, _)| k == FIELD).map(|(_, v)| v.into_owned());
    if !token_matches(&parts.headers, field.as_deref()) {
        return refused();
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn double_submit_and_origin() {
        let t = "a".repeat(64);
        let cookie = format!("{COOKIE}={t}");
        assert!(verify(&headers(&[("cookie", &cookie), ("host", "127.0.0.1:8080")]), Some(&t)));
        assert!(verify(&headers(&[("cookie", &cookie), ("host", "h:1"), ("origin", "http://h:1")]), Some(&t)));
        assert!(!verify(&headers(&[("cookie", &cookie), ("host", "h:1"), ("origin", "http://evil.example")]), Some(&t)));
        assert!(!verify(&headers(&[("cookie", &cookie)]), Some(&"b".repeat(64))));
        assert!(!verify(&headers(&[]), Some(&t)), "no cookie, no write");
        let (fresh, set) = token(&headers(&[]));
        let here = |origin: &str, secure| origin_is_here(&headers(&[("host", "h:1"), ("origin", origin)]), secure);
        assert_eq!(here("https://h:1", true), Some(true));
        assert_eq!(here("http://h:1", true), Some(false), "plain http of this host, behind HTTPS");
        assert_eq!(here("http://h:1", false), Some(true));
        assert_eq!(here("ftp://h:1", false), Some(false));
        assert_eq!(here("null", false), Some(false));
        assert_eq!(here("https://h:12", true), Some(false), "another port");
        assert_eq!(fresh.len(), 64);
        assert!(set.unwrap().contains("SameSite=Strict"));
    }
}
