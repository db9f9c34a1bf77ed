pub mod alerts;
pub mod bench;
pub mod demo;
pub mod import;
pub mod keys;
pub mod metrics;
pub mod plan;
pub mod serve;
pub mod users;

use anyhow::Context;
use std::sync::Arc;

/// Open (and migrate) the database, naming it in any error.
pub async fn open(url: &str) -> anyhow::Result<Arc<dyn kizuna_store::Store>> {
    kizuna_store::open(url).await.with_context(|| format!("opening database {url}"))
}
