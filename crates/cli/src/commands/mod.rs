pub mod alerts;
pub mod backup;
pub mod ctas;
pub mod onboarding;
pub mod demo;
pub mod import;
pub mod jobs;
pub mod journey;
pub mod keys;
pub mod metrics;
pub mod migrate;
pub mod plan;
pub mod score;
pub mod serve;
pub mod users;

use std::sync::Arc;

/// Open (and migrate) the database, naming it in any error.
pub async fn open(url: &str) -> anyhow::Result<Arc<dyn kizuna_store::Store>> {
    Ok(kizuna_store::open_named(url).await?)
}

/// [`open`] for a command that writes much at once and needs no one else on the database
/// meanwhile (imports): see [`kizuna_store::open_alone`].
pub async fn open_alone(url: &str) -> anyhow::Result<Arc<dyn kizuna_store::Store>> {
    Ok(kizuna_store::open_alone_named(url).await?)
}

/// Write a command's output; a reader that went away (`| head`) is not an error.
pub fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
