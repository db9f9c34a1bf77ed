//! Group commit for usage ingestion: requests hand their messages to one writer task, which
//! stores everything waiting in one transaction and then answers each request with its own
//! summary. Under load, many requests share one commit (one fsync), instead of queuing for
//! SQLite's single write lock one by one; no request is answered before its events are durable.
//!
//! A commit that fails stores nothing (it is one transaction). When the database cannot take
//! writes for now (disk full, read-only, unreachable) every request waiting is answered 503
//! with `Retry-After`, the writer is marked degraded for `/healthz`, and the next commit that
//! succeeds clears it: nothing needs a restart.

use crate::ApiError;
use kizuna_domain::usage::{IngestSummary, UsageMessage};
use kizuna_store::{StoreError, Usage};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Messages per transaction at most (a single request may exceed it and goes alone).
const GROUP_MESSAGES: usize = 20_000;

/// Why a commit failed, as each request waiting on it is told.
#[derive(Debug, Clone)]
struct Failure {
    transient: bool,
    message: String,
}

impl From<&StoreError> for Failure {
    fn from(e: &StoreError) -> Self {
        Failure { transient: e.is_transient(), message: format!("storing usage events failed: {e}") }
    }
}

struct Job {
    messages: Vec<UsageMessage>,
    reply: oneshot::Sender<Result<IngestSummary, Failure>>,
}

/// The writer's state for `/healthz`: why writes fail, since the last commit that did not.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Degraded {
    pub reason: String,
    pub since: chrono::DateTime<chrono::Utc>,
}

#[derive(Clone)]
pub struct Ingestor {
    jobs: mpsc::Sender<Job>,
    degraded: Arc<Mutex<Option<Degraded>>>,
}

impl Ingestor {
    /// Starts the writer (it ends when the last handle is dropped). It runs on a thread of its
    /// own: its statements are the one path every event waits on, and as a task it waited
    /// behind the request handlers for a turn after each statement. (Its futures still run on
    /// this runtime's timers and sockets, through the handle.)
    pub fn start(store: Arc<dyn Usage>) -> Self {
        let (jobs, rx) = mpsc::channel(4096);
        let degraded = Arc::new(Mutex::new(None));
        let runtime = tokio::runtime::Handle::current();
        let state = degraded.clone();
        tokio::task::spawn_blocking(move || runtime.block_on(writer(store, rx, state)));
        Ingestor { jobs, degraded }
    }

    pub async fn ingest(&self, messages: Vec<UsageMessage>) -> Result<IngestSummary, ApiError> {
        let (reply, answer) = oneshot::channel();
        let gone = || ApiError::Internal("the usage writer stopped".into());
        self.jobs.send(Job { messages, reply }).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?.map_err(|f| match f.transient {
            true => ApiError::Unavailable(f.message),
            false => ApiError::Internal(f.message),
        })
    }

    /// Why usage writes fail now, if they do.
    pub fn degraded(&self) -> Option<Degraded> {
        self.degraded.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

async fn writer(store: Arc<dyn Usage>, mut rx: mpsc::Receiver<Job>, degraded: Arc<Mutex<Option<Degraded>>>) {
    while let Some(first) = rx.recv().await {
        let mut size = first.messages.len();
        let mut jobs = vec![first];
        while size < GROUP_MESSAGES {
            match rx.try_recv() {
                Ok(job) => {
                    size += job.messages.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let outcome = commit(store.as_ref(), jobs).await;
        let mut state = degraded.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Outcome::Stored => *state = None,
            Outcome::Unavailable(reason) => {
                let since = state.as_ref().map_or_else(chrono::Utc::now, |d| d.since);
                *state = Some(Degraded { reason, since });
            }
            Outcome::Refused => {}
        }
    }
}

/// What a commit says of the database's health.
enum Outcome {
    /// Something was stored: the database takes writes.
    Stored,
    /// The database cannot take writes now, for this reason.
    Unavailable(String),
    /// It refused what was written, which says nothing about later writes.
    Refused,
}

/// Attempts of one commit that loses to a concurrent transaction before its requests are told
/// to retry (503).
const CONFLICT_ATTEMPTS: u32 = 5;

/// Commits the jobs together and answers each. A failure that is not transient (a statement the
/// database refuses for its content) is retried job by job, so one request that cannot be
/// stored does not fail the others that happened to share its commit.
async fn commit(store: &dyn Usage, mut jobs: Vec<Job>) -> Outcome {
    let requests: Vec<Vec<UsageMessage>> = jobs.iter_mut().map(|j| std::mem::take(&mut j.messages)).collect();
    let mut attempt = 1;
    let e = loop {
        match store.ingest_many(&requests).await {
            Ok(summaries) => {
                jobs.into_iter().zip(summaries).for_each(|(job, s)| drop(job.reply.send(Ok(s))));
                return Outcome::Stored;
            }
            // Another server's commit took the same rows in another order: it rolled back
            // whole, so run it again after a short, random wait.
            Err(e) if e.is_conflict() && attempt < CONFLICT_ATTEMPTS => {
                tracing::info!("storing usage events met a concurrent commit (attempt {attempt}): {e}");
                tokio::time::sleep(std::time::Duration::from_millis(rand::random::<u64>() % (20 << attempt))).await;
                attempt += 1;
            }
            Err(e) => break e,
        }
    };
    tracing::error!("storing usage events: {e}");
    let failure = Failure::from(&e);
    if failure.transient || jobs.len() == 1 {
        jobs.into_iter().for_each(|job| drop(job.reply.send(Err(failure.clone()))));
        return if failure.transient { Outcome::Unavailable(e.to_string()) } else { Outcome::Refused };
    }
    let mut outcome = Outcome::Refused;
    for (job, messages) in jobs.into_iter().zip(requests) {
        let alone = store.ingest(&messages).await.map_err(|e| {
            tracing::error!("storing usage events of one request: {e}");
            Failure::from(&e)
        });
        // Any request that met a database unable to write marks it so; else any stored clears it.
        outcome = match (&alone, outcome) {
            (_, Outcome::Unavailable(r)) => Outcome::Unavailable(r),
            (Err(f), _) if f.transient => Outcome::Unavailable(f.message.clone()),
            (Ok(_), _) => Outcome::Stored,
            (Err(_), o) => o,
        };
        let _ = job.reply.send(alone);
    }
    outcome
}
