//! Bounds on expensive requests (reports, backtests, calibration, forecasts, planning): each
//! caller may run a few at once (429 past that), the server a few more in all (503), and each
//! has a time limit (503). One layer over those routes, so a new report cannot forget it.

use crate::{ApiError, AppState, Msg};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug)]
pub struct Limits {
    /// At once per caller (a user's session or an API key).
    pub per_caller: usize,
    /// At once on the whole server.
    pub total: usize,
    pub timeout: Duration,
    running: Mutex<HashMap<String, usize>>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(2, 8, Duration::from_secs(60))
    }
}

/// A running request's place; given back when dropped (also when the request is cut off).
pub struct Slot {
    limits: Arc<Limits>,
    caller: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut running = lock(&self.limits.running);
        if let Some(n) = running.get_mut(&self.caller) {
            *n -= 1;
            if *n == 0 {
                running.remove(&self.caller);
            }
        }
    }
}

/// Why a request was not started.
#[derive(Debug, PartialEq, Eq)]
pub enum Busy {
    Caller(usize),
    Server(usize),
}

impl Limits {
    pub fn new(per_caller: usize, total: usize, timeout: Duration) -> Self {
        Limits { per_caller, total, timeout, running: Mutex::default() }
    }

    /// A place for `caller`, unless it or the server is at its limit.
    pub fn enter(self: &Arc<Self>, caller: &str) -> Result<Slot, Busy> {
        let mut running = lock(&self.running);
        if running.values().sum::<usize>() >= self.total {
            return Err(Busy::Server(self.total));
        }
        let n = running.entry(caller.to_string()).or_insert(0);
        if *n >= self.per_caller {
            return Err(Busy::Caller(self.per_caller));
        }
        *n += 1;
        Ok(Slot { limits: self.clone(), caller: caller.to_string() })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

const ANONYMOUS: &str = "anonymous";

/// Who is asking, before the handler checks it: the API key or the session cookie (hashed, so
/// no secret is kept), else no one (requests with neither are refused anyway).
pub fn caller(headers: &axum::http::HeaderMap) -> String {
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(crate::auth::key_from_header)
        .map(|k| format!("key {k}"))
        .or_else(|| crate::views::csrf::session_cookie(headers).map(|s| format!("session {s}")));
    match secret {
        Some(s) => Sha256::digest(s.as_bytes()).iter().take(12).map(|b| format!("{b:02x}")).collect(),
        None => ANONYMOUS.into(),
    }
}

/// The layer: a place for the caller, then the handler within the time limit.
pub async fn bounded(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limits = state.limits.clone();
    let caller = caller(req.headers());
    // Without a key or a session the handler refuses (or sends to sign-in) before any work:
    // visitors arriving at once are not made to wait for each other.
    if caller == ANONYMOUS {
        return next.run(req).await;
    }
    let _slot = match limits.enter(&caller) {
        Ok(slot) => slot,
        Err(Busy::Caller(n)) => return ApiError::TooMany(Msg::new("err.busy_caller").arg("limit", n), 5).into_response(),
        Err(Busy::Server(n)) => return ApiError::Busy(Msg::new("err.busy_server").arg("limit", n)).into_response(),
    };
    match tokio::time::timeout(limits.timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::Busy(Msg::new("err.timeout").arg("seconds", limits.timeout.as_secs_f64())).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_per_caller_and_in_all() {
        let l = Arc::new(Limits::new(2, 3, Duration::from_secs(1)));
        let a1 = l.enter("a").unwrap();
        let _a2 = l.enter("a").unwrap();
        assert_eq!(l.enter("a").err(), Some(Busy::Caller(2)));
        let _b1 = l.enter("b").unwrap();
        assert_eq!(l.enter("c").err(), Some(Busy::Server(3)));
        drop(a1);
        assert!(l.enter("a").is_ok(), "a place is given back when dropped");
    }
}
