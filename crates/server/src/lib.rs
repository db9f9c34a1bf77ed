//! Kizuna's HTTP server: JSON under `/api/v1` (`api/`), server-rendered pages (`views/`),
//! sign-in and roles (`auth`). Handlers stay thin: they parse the request, check what the
//! principal may do, call the store or the domain, and render.

rust_i18n::i18n!("locales", fallback = "en");

mod api;
pub use api::{openapi, openapi_json};
pub mod auth;
pub mod edge;
mod error;
mod i18n;
mod ingestor;
pub mod limits;
mod params;
pub mod throttle;
mod views;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use kizuna_store::Store;
use std::sync::Arc;

pub use error::{ApiError, Msg};

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub templates: Arc<minijinja::Environment<'static>>,
    /// Mark cookies Secure (serve behind HTTPS).
    pub secure_cookies: bool,
    /// The usage writer (group commit).
    pub ingestor: ingestor::Ingestor,
    /// Failed sign-ins per account and address (see `throttle`).
    pub sign_in: Arc<throttle::SignInThrottle>,
    /// Expensive requests at once and their time limit (see `limits`).
    pub limits: Arc<limits::Limits>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>) -> Self {
        let ingestor = ingestor::Ingestor::start(store.clone());
        let sign_in = Arc::new(throttle::SignInThrottle::new(throttle::Policy::default()));
        let limits = Arc::new(limits::Limits::default());
        AppState { store, templates: Arc::new(views::templates()), secure_cookies: false, ingestor, sign_in, limits }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(api::health))
        .merge(api::routes(&state))
        .merge(views::routes(state.clone()))
        .layer(axum::extract::DefaultBodyLimit::max(edge::BODY_LIMIT))
        .layer(auth::layer(state.store.clone(), state.secure_cookies))
        .layer(middleware::from_fn_with_state(state.secure_cookies, views::csrf::guard))
        .layer(middleware::from_fn(edge::bounded_input))
        .layer(middleware::from_fn_with_state(state.secure_cookies, secure_cookies))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(request_scope))
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_span))
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(tower_http::request_id::MakeRequestUuid))
        .with_state(state)
}

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being answered (`x-request-id`), for error bodies.
pub fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok().filter(|id| !id.is_empty())
}

/// Every log line about a request carries its id, method and path (never the query: it may
/// hold a key or an e-mail; nor a shared plan's signed token, which opens the plan).
fn request_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %logged_path(req.uri().path()))
}

/// The path as logged: a secret part of it replaced by `{token}`.
fn logged_path(path: &str) -> std::borrow::Cow<'_, str> {
    const SHARED: &str = "/shared/plans/";
    match path.strip_prefix(SHARED) {
        Some(rest) => {
            let tail = rest.find('/').map_or("", |i| &rest[i..]);
            format!("{SHARED}{{token}}{tail}").into()
        }
        None => path.into(),
    }
}

/// Makes the request id readable while the request is answered, so an error body can name it.
async fn request_scope(req: Request, next: Next) -> Response {
    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    REQUEST_ID.scope(id, next.run(req)).await
}

/// No framing, no MIME sniffing, no third-party anything: pages use only our own inline CSS and
/// server-rendered SVG.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"),
    );
    resp
}

/// Behind HTTPS every cookie Kizuna sets is `Secure` (the session cookie is made so by its
/// layer; this covers the CSRF and language cookies, and any added later).
async fn secure_cookies(axum::extract::State(secure): axum::extract::State<bool>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    if !secure {
        return resp;
    }
    let all: Vec<HeaderValue> = resp.headers().get_all(header::SET_COOKIE).iter().cloned().collect();
    resp.headers_mut().remove(header::SET_COOKIE);
    for c in all {
        resp.headers_mut().append(header::SET_COOKIE, with_secure(c));
    }
    resp
}

fn with_secure(cookie: HeaderValue) -> HeaderValue {
    let text = cookie.to_str().unwrap_or_default();
    if text.split(';').any(|a| a.trim().eq_ignore_ascii_case("secure")) {
        return cookie;
    }
    HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or(cookie)
}

/// How often a server looks for due jobs.
pub const JOB_TICK: std::time::Duration = std::time::Duration::from_secs(30);

/// Serve until Ctrl-C / SIGTERM, running due jobs (daily scoring, the session sweep, scheduled
/// backups) as `runner` every [`JOB_TICK`].
pub async fn serve(store: Arc<dyn Store>, listen: &str, secure_cookies: bool, runner: kizuna_app::jobs::Runner) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!("Kizuna listening on http://{} as node {}", listener.local_addr()?, runner.node);
    tokio::spawn(run_jobs(store.clone(), runner));
    let mut state = AppState::new(store);
    state.secure_cookies = secure_cookies;
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await
}

/// The jobs loop: every tick, queue what the schedules want and run what is due. Backups more
/// frequent than the tick shorten it (at most one a second).
async fn run_jobs(store: Arc<dyn Store>, runner: kizuna_app::jobs::Runner) {
    let backups = runner.backups.as_ref().map(|b| b.every.max(std::time::Duration::from_secs(1)));
    let mut every = tokio::time::interval(backups.map_or(JOB_TICK, |b| b.min(JOB_TICK)));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match kizuna_app::jobs::run_due(store.as_ref(), &runner, chrono::Utc::now()).await {
            Ok(attempts) => attempts.iter().for_each(log_attempt),
            Err(e) => tracing::warn!("jobs: {e}"),
        }
    }
}

fn log_attempt(a: &kizuna_app::jobs::Attempt) {
    let (id, kind, n) = (&a.job.job_id, &a.job.kind, a.job.attempts);
    match (&a.end, a.recorded) {
        (_, false) => tracing::warn!("job {id} ({kind}) ended after its lease ran out; another node holds it now"),
        (kizuna_store::JobEnd::Done, _) => tracing::info!("job {id} ({kind}) done, attempt {n}"),
        (kizuna_store::JobEnd::Retry { error, at }, _) => tracing::warn!("job {id} ({kind}) failed, attempt {n}, retry at {at}: {error}"),
        (kizuna_store::JobEnd::Dead { error }, _) => tracing::error!("job {id} ({kind}) dead after attempt {n}: {error}"),
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_shared_plans_token_is_not_logged() {
        assert_eq!(super::logged_path("/shared/plans/P1.20270101.c2lnbmF0dXJl"), "/shared/plans/{token}");
        assert_eq!(super::logged_path("/shared/plans/P1.20270101.c2lnbmF0dXJl/x"), "/shared/plans/{token}/x");
        assert_eq!(super::logged_path("/accounts/A1"), "/accounts/A1");
    }
}
