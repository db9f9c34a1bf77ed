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
        .layer(middleware::from_fn(views::csrf::guard))
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
/// hold a key or an e-mail).
fn request_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
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

/// The server's daily scoring: score every account on `today` unless that was done already.
/// Returns how many accounts were scored, if it ran. Checked hourly, so a server started at any
/// time of day scores within the hour and again after midnight in the business time zone.
pub async fn score_if_due(store: &dyn Store, today: chrono::NaiveDate) -> Result<Option<u64>, kizuna_app::AppError> {
    if store.last_health_day().await?.is_some_and(|d| d >= today) {
        return Ok(None);
    }
    let v = kizuna_app::health::run(store, today).await?;
    Ok(Some(v.accounts as u64))
}

/// Serve until Ctrl-C / SIGTERM. Expired sessions are swept every hour.
pub async fn serve(store: Arc<dyn Store>, listen: &str, secure_cookies: bool) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!("Kizuna listening on http://{}", listener.local_addr()?);
    let sweeper = store.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            if let Err(e) = sweeper.sessions_delete_expired(chrono::Utc::now().timestamp()).await {
                tracing::warn!("sweeping expired sessions: {e}");
            }
        }
    });
    let scorer = store.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            match score_if_due(scorer.as_ref(), kizuna_app::today()).await {
                Ok(Some(n)) => tracing::info!("daily health scoring: {n} accounts scored"),
                Ok(None) => {}
                Err(e) => tracing::warn!("daily health scoring: {e}"),
            }
        }
    });
    let mut state = AppState::new(store);
    state.secure_cookies = secure_cookies;
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await
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
