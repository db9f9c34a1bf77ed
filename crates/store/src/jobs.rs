//! Durable jobs: the [`Jobs`] part of the store. One row per job, whoever asked for it: an
//! idempotency key makes a second request for the same work (another server, a restart) a
//! no-op. A node takes a due job with a lease; a job whose node died is taken over once the
//! lease has run out. Times are milliseconds since 1970 (UTC), the same text on both engines.
//!
//! Not apalis: its SQL backends enqueue through their own pool, not inside our transaction,
//! and keep their own schema per engine; this is one table and five statements.

use crate::Result;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A job to queue.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    /// What to do, e.g. `health.daily_score`.
    pub kind: &'a str,
    /// One job per key, however many times it is asked for.
    pub key: &'a str,
    pub payload: serde_json::Value,
    pub scheduled_for: DateTime<Utc>,
    pub max_attempts: i32,
}

/// A job as stored: one run of some work, with its attempts.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct JobRecord {
    pub job_id: String,
    pub kind: String,
    /// The idempotency key.
    pub key: String,
    pub payload: serde_json::Value,
    #[serde(serialize_with = "kizuna_domain::time::serde_local")]
    pub scheduled_for: DateTime<Utc>,
    /// The server that ran (or runs) it last.
    pub node: Option<String>,
    pub attempts: i32,
    pub max_attempts: i32,
    /// queued, running, done, failed (waiting for its retry) or dead (out of attempts).
    pub status: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
    #[serde(serialize_with = "kizuna_domain::time::serde_local_opt")]
    pub lease_until: Option<DateTime<Utc>>,
    #[serde(serialize_with = "kizuna_domain::time::serde_local_opt")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "kizuna_domain::time::serde_local_opt")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "kizuna_domain::time::serde_local")]
    pub created_at: DateTime<Utc>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEnd {
    Done,
    /// Failed; tried again at `at` (status `failed` until then).
    Retry { error: String, at: DateTime<Utc> },
    /// Failed for the last time (status `dead`).
    Dead { error: String },
}

#[async_trait]
pub trait Jobs: Send + Sync {
    /// Queues the job unless one with its key exists: its id, or `None`.
    async fn enqueue_job(&self, job: &NewJob<'_>, now: DateTime<Utc>) -> Result<Option<String>>;
    /// Takes the next due job for `node` until `lease_until`, counting an attempt: a queued or
    /// failed job whose time has come, or a running one whose lease has run out (its node is
    /// taken to have died). Earliest first. On PostgreSQL, servers taking jobs at once each get
    /// a different one (`FOR UPDATE SKIP LOCKED`).
    async fn claim_job(&self, node: &str, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> Result<Option<JobRecord>>;
    /// Records how `node`'s attempt ended; false (nothing written) when `node` no longer holds
    /// the job: its lease ran out and another node took it.
    async fn finish_job(&self, job_id: &str, node: &str, end: &JobEnd, now: DateTime<Utc>) -> Result<bool>;
    /// Jobs, the latest scheduled first, optionally of one status.
    async fn jobs(&self, status: Option<&str>, limit: u32) -> Result<Vec<JobRecord>>;
}

/// A job row as read: times in milliseconds.
#[derive(sqlx::FromRow)]
pub(crate) struct JobRow {
    job_id: String,
    kind: String,
    idempotency_key: String,
    payload: String,
    scheduled_for: i64,
    node: Option<String>,
    attempts: i32,
    max_attempts: i32,
    status: String,
    error: Option<String>,
    lease_until: Option<i64>,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    created_at: i64,
}

pub(crate) const JOB_COLUMNS: &str = "job_id, kind, idempotency_key, payload, scheduled_for, node, attempts, max_attempts, status, \
    error, lease_until, started_at, finished_at, created_at";

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl From<JobRow> for JobRecord {
    fn from(r: JobRow) -> Self {
        JobRecord {
            job_id: r.job_id,
            kind: r.kind,
            key: r.idempotency_key,
            payload: serde_json::from_str(&r.payload).unwrap_or(serde_json::Value::Null),
            scheduled_for: time(r.scheduled_for),
            node: r.node,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            status: r.status,
            error: r.error,
            lease_until: r.lease_until.map(time),
            started_at: r.started_at.map(time),
            finished_at: r.finished_at.map(time),
            created_at: time(r.created_at),
        }
    }
}

/// A new job id: `job-` and 16 hex digits.
pub(crate) fn new_job_id() -> String {
    format!("job-{:016x}", rand::random::<u64>())
}

/// The status, error and next time a [`JobEnd`] writes.
pub(crate) fn end_columns(end: &JobEnd) -> (&'static str, Option<&str>, Option<i64>) {
    match end {
        JobEnd::Done => ("done", None, None),
        JobEnd::Retry { error, at } => ("failed", Some(error.as_str()), Some(ms(*at))),
        JobEnd::Dead { error } => ("dead", Some(error.as_str()), None),
    }
}

/// `Jobs` for one engine; `$lock` is what the claim's inner select adds (PostgreSQL:
/// `FOR UPDATE SKIP LOCKED`; SQLite writes one statement at a time anyway).
macro_rules! jobs_impl {
    ($Store:ident, $lock:literal) => {
        #[async_trait::async_trait]
        impl $crate::jobs::Jobs for $Store {
            async fn enqueue_job(&self, job: &$crate::jobs::NewJob<'_>, now: chrono::DateTime<chrono::Utc>) -> $crate::Result<Option<String>> {
                let id = $crate::jobs::new_job_id();
                let n = sqlx::query(
                    "INSERT INTO jobs (job_id, kind, idempotency_key, payload, scheduled_for, status, attempts, max_attempts, created_at) \
                     VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7) ON CONFLICT (idempotency_key) DO NOTHING",
                )
                .bind(&id)
                .bind(job.kind)
                .bind(job.key)
                .bind(job.payload.to_string())
                .bind($crate::jobs::ms(job.scheduled_for))
                .bind(job.max_attempts)
                .bind($crate::jobs::ms(now))
                .execute(self.pool())
                .await?
                .rows_affected();
                Ok((n == 1).then_some(id))
            }

            async fn claim_job(
                &self,
                node: &str,
                now: chrono::DateTime<chrono::Utc>,
                lease_until: chrono::DateTime<chrono::Utc>,
            ) -> $crate::Result<Option<$crate::jobs::JobRecord>> {
                let sql = format!(
                    "UPDATE jobs SET status = 'running', node = $1, attempts = attempts + 1, lease_until = $3, started_at = $2, \
                     finished_at = NULL \
                     WHERE job_id = (SELECT job_id FROM jobs \
                        WHERE (status IN ('queued', 'failed') AND scheduled_for <= $2) OR (status = 'running' AND lease_until < $2) \
                        ORDER BY scheduled_for, job_id LIMIT 1{}) \
                     RETURNING {}",
                    $lock,
                    $crate::jobs::JOB_COLUMNS
                );
                let row: Option<$crate::jobs::JobRow> = sqlx::query_as(&sql)
                    .bind(node)
                    .bind($crate::jobs::ms(now))
                    .bind($crate::jobs::ms(lease_until))
                    .fetch_optional(self.pool())
                    .await?;
                Ok(row.map(Into::into))
            }

            async fn finish_job(&self, job_id: &str, node: &str, end: &$crate::jobs::JobEnd, now: chrono::DateTime<chrono::Utc>) -> $crate::Result<bool> {
                let (status, error, next) = $crate::jobs::end_columns(end);
                let n = sqlx::query(
                    "UPDATE jobs SET status = $1, error = $2, scheduled_for = COALESCE($3, scheduled_for), finished_at = $4, \
                     lease_until = NULL WHERE job_id = $5 AND node = $6 AND status = 'running'",
                )
                .bind(status)
                .bind(error)
                .bind(next)
                .bind($crate::jobs::ms(now))
                .bind(job_id)
                .bind(node)
                .execute(self.pool())
                .await?
                .rows_affected();
                Ok(n == 1)
            }

            async fn jobs(&self, status: Option<&str>, limit: u32) -> $crate::Result<Vec<$crate::jobs::JobRecord>> {
                let sql = format!(
                    "SELECT {} FROM jobs WHERE ($1 IS NULL OR status = $1) ORDER BY scheduled_for DESC, job_id DESC LIMIT $2",
                    $crate::jobs::JOB_COLUMNS
                );
                let rows: Vec<$crate::jobs::JobRow> =
                    sqlx::query_as(&sql).bind(status).bind(i64::from(limit)).fetch_all(self.pool()).await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }
        }
    };
}
pub(crate) use jobs_impl;
