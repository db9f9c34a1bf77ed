//! Kizuna's HTTP server: JSON under `/api/v1` (`api/`), server-rendered pages (`views/`).
//! Handlers stay thin: they parse the request, call the store or the domain, and render.

rust_i18n::i18n!("locales", fallback = "en");

mod api;
mod error;
mod i18n;
mod params;
mod views;

use axum::routing::get;
use axum::Router;
use kizuna_store::Store;
use std::sync::Arc;

pub use error::ApiError;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub templates: Arc<minijinja::Environment<'static>>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>) -> Self {
        AppState { store, templates: Arc::new(views::templates()) }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(api::health))
        .merge(api::routes())
        .merge(views::routes())
        .with_state(state)
}

/// Serve until Ctrl-C / SIGTERM.
pub async fn serve(store: Arc<dyn Store>, listen: &str) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!("Kizuna listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router(AppState::new(store))).with_graceful_shutdown(shutdown()).await
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
