//! Group commit for usage ingestion: requests hand their messages to one writer task, which
//! stores everything waiting in one transaction and then answers each request with its own
//! summary. Under load, many requests share one commit (one fsync), instead of queuing for
//! SQLite's single write lock one by one; no request is answered before its events are durable.

use crate::ApiError;
use kizuna_domain::usage::{IngestSummary, UsageMessage};
use kizuna_store::Store;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Messages per transaction at most (a single request may exceed it and goes alone).
const GROUP_MESSAGES: usize = 20_000;

struct Job {
    messages: Vec<UsageMessage>,
    reply: oneshot::Sender<Result<IngestSummary, String>>,
}

#[derive(Clone)]
pub struct Ingestor {
    jobs: mpsc::Sender<Job>,
}

impl Ingestor {
    /// Starts the writer (it ends when the last handle is dropped). It runs on a thread of its
    /// own: its statements are the one path every event waits on, and as a task it waited
    /// behind the request handlers for a turn after each statement. (Its futures still run on
    /// this runtime's timers and sockets, through the handle.)
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (jobs, rx) = mpsc::channel(4096);
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || runtime.block_on(writer(store, rx)));
        Ingestor { jobs }
    }

    pub async fn ingest(&self, messages: Vec<UsageMessage>) -> Result<IngestSummary, ApiError> {
        let (reply, answer) = oneshot::channel();
        let gone = || ApiError::Internal("the usage writer stopped".into());
        self.jobs.send(Job { messages, reply }).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?.map_err(ApiError::Internal)
    }
}

async fn writer(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>) {
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
        let requests: Vec<Vec<UsageMessage>> = jobs.iter_mut().map(|j| std::mem::take(&mut j.messages)).collect();
        match store.ingest_many(&requests).await {
            Ok(summaries) => {
                for (job, s) in jobs.into_iter().zip(summaries) {
                    let _ = job.reply.send(Ok(s));
                }
            }
            Err(e) => {
                tracing::error!("storing usage events: {e}");
                for job in jobs {
                    let _ = job.reply.send(Err(format!("storing usage events failed: {e}")));
                }
            }
        }
    }
}
