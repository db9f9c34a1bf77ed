//! CSRF protection for forms that write: a random token in a SameSite=Strict, HttpOnly cookie
//! that the form repeats in a hidden field (double submit), and an Origin check when the browser
//! sends one. A request from another site has neither the cookie nor the right origin.

use axum::http::HeaderMap;
use rand::RngCore;

pub const COOKIE: &str = "kizuna_csrf";
pub const FIELD: &str = "csrf_token";

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
    let raw = headers.get("cookie")?.to_str().ok()?;
    raw.split(';')
        .filter_map(|p| p.trim().strip_prefix(&format!("{COOKIE}=")))
        .find(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
}

/// True when the submitted token matches the cookie and the origin (if sent) is this host.
pub fn verify(headers: &HeaderMap, submitted: Option<&str>) -> bool {
    let same_origin = match (headers.get("origin").and_then(|o| o.to_str().ok()), headers.get("host").and_then(|h| h.to_str().ok())) {
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, h)| h) == Some(host),
        (Some(_), None) => false,
        (None, _) => true,
    };
    let matches = match (cookie(headers), submitted) {
        (Some(c), Some(s)) => constant_time_eq(c.as_bytes(), s.as_bytes()),
        _ => false,
    };
    same_origin && matches
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
        assert_eq!(fresh.len(), 64);
        assert!(set.unwrap().contains("SameSite=Strict"));
    }
}
