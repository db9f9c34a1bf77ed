//! Streamed, all-or-nothing CSV importers.
//!
//! A file is read record by record and written in batches inside one transaction: memory stays
//! flat whatever the file size, and any bad row rolls the whole import back. Every error names
//! the file, the line, the column, the value and what was expected.

mod error;
mod events;
mod gaps;
mod kinds;
mod reader;
mod sorter;
mod text;

use kizuna_store::{Tx, UnitOfWork};
use std::path::Path;
use std::time::{Duration, Instant};

pub use error::{ImportError, ImportFailure};
pub use kinds::ImportKind;

/// Reports how far through the file the import is (bytes), for a progress bar.
pub trait Progress: Sync {
    fn start(&self, total_bytes: u64);
    fn update(&self, bytes_read: u64);
}

/// For callers that show no progress.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: u64) {}
    fn update(&self, _: u64) {}
}

/// What a successful import did.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportSummary {
    pub kind: ImportKind,
    pub file: String,
    pub rows: u64,
    pub accounts_created: u64,
    pub elapsed: Duration,
    /// What was imported but looks wrong (one-day gaps between subscription periods).
    pub warnings: Vec<String>,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 { self.rows as f64 / secs } else { 0.0 };
        write!(
            f,
            "{}: imported {} {} rows ({} new accounts) in {:.1} s ({:.0} rows/s)",
            self.file,
            self.rows,
            self.kind.noun(),
            self.accounts_created,
            secs,
            rate
        )
    }
}

/// Import one CSV file. On any error nothing is written and every problem found (up to
/// [`error::MAX_REPORTED`]) is returned.
pub async fn import_file(
    store: &dyn UnitOfWork,
    kind: ImportKind,
    path: &Path,
    progress: &dyn Progress,
) -> Result<ImportSummary, ImportFailure> {
    let started = Instant::now();
    // Events are first written as if none was stored before; a file that repeats stored
    // events (imported again, or overlapping an earlier one) is read again, asking.
    let assume_new = kind == ImportKind::Events;
    let (rows, accounts_created) = match import_once(store, kind, path, progress, assume_new).await {
        Err(failure) if failure.stored_before => import_once(store, kind, path, progress, false).await?,
        done => done?,
    };
    let file = path.display().to_string();
    let warnings = match kind {
        ImportKind::Subscriptions => gaps::one_day_gaps(path, false),
        ImportKind::SubscriptionsEndInclusive => gaps::one_day_gaps(path, true),
        _ => vec![],
    };
    let warnings = warnings.into_iter().map(|w| format!("{file}: {w}")).collect();
    Ok(ImportSummary { kind, file, rows, accounts_created, elapsed: started.elapsed(), warnings })
}

/// One pass over the file in one transaction: (rows, accounts created).
async fn import_once(
    store: &dyn UnitOfWork,
    kind: ImportKind,
    path: &Path,
    progress: &dyn Progress,
    assume_new: bool,
) -> Result<(u64, u64), ImportFailure> {
    let file_name = path.display().to_string();
    let file = std::fs::File::open(path)
        .map_err(|e| ImportFailure::single(ImportError::file(&file_name, format!("cannot open: {e}"))))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    progress.start(total);
    let mut tx = store.begin().await.map_err(|e| ImportFailure::single(ImportError::file(&file_name, e.to_string())))?;
    if assume_new {
        tx.assume_new_events();
    }
    let (input, _) = text::normalized(file).map_err(|e| ImportFailure::single(ImportError::file(&file_name, format!("cannot read: {e}"))))?;
    let (rows, accounts_created, tx) = kind.run(tx, &file_name, input, total, progress).await?;
    tx.commit().await.map_err(|e| ImportFailure::single(ImportError::file(&file_name, e.to_string())))?;
    progress.update(total);
    Ok((rows, accounts_created))
}

pub(crate) type TxBox = Box<dyn Tx>;
