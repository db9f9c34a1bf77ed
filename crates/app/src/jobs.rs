//! The jobs runner: queues what the schedules want (`kizuna_domain::jobs::due`), then takes due
//! jobs one at a time and runs them, recording each attempt. Any number of servers may run it
//! on one PostgreSQL database: the idempotency key queues each day's scoring once, and a lease
//! gives each job to one node at a time.

use crate::AppError;
use chrono::{DateTime, NaiveDate, Utc};
use kizuna_domain::jobs::{backoff, due, Due, BACKUP, DAILY_SCORE, DAILY_SIGNALS, LEASE, MAX_ATTEMPTS, SESSION_SWEEP};
use kizuna_store::backup::{self, BackupFormat};
use kizuna_store::{JobEnd, JobRecord, Jobs, NewJob, Store};
use std::path::PathBuf;

/// Who runs jobs, and with what: the node's name (in each job it runs) and, when backups are
/// scheduled, where they go.
#[derive(Clone)]
pub struct Runner {
    /// This server, as the jobs table records it: `KIZUNA_NODE`, else host name and process id.
    pub node: String,
    pub backups: Option<BackupPlan>,
}

/// Scheduled backups: one per period of `every` (counted from 1970-01-01 00:00 UTC, so servers
/// and restarts agree on the period), into `dir`, keeping the latest `keep`.
#[derive(Clone)]
pub struct BackupPlan {
    /// The database URL, password included: given to the backup, never to a job's payload.
    pub database: String,
    pub dir: PathBuf,
    pub every: std::time::Duration,
    pub keep: usize,
}

impl std::fmt::Debug for BackupPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupPlan")
            .field("database", &kizuna_store::redact_url(&self.database))
            .field("dir", &self.dir)
            .field("every", &self.every)
            .field("keep", &self.keep)
            .finish()
    }
}

impl BackupPlan {
    /// The backup due at `now`: the current period's.
    fn due(&self, now: DateTime<Utc>) -> Due {
        let every = self.every.as_secs().max(1) as i64;
        let start = now.timestamp().div_euclid(every) * every;
        let at = DateTime::from_timestamp(start, 0).unwrap_or(now);
        Due { kind: BACKUP, key: format!("{BACKUP}:{}", at.format("%Y-%m-%dT%H:%M:%SZ")), scheduled_for: at, payload: serde_json::json!({}) }
    }
}

/// Jobs run in one call of [`run_due`] at most, so a backlog cannot hold a runner forever.
pub const MAX_PER_TICK: usize = 100;

/// One attempt: the job as it was taken and how the attempt ended.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub job: JobRecord,
    pub end: JobEnd,
    /// False when the lease ran out during the attempt and another node took the job over:
    /// this node's outcome was not recorded.
    pub recorded: bool,
}

/// Queues every job the schedules want at `now` that is not queued yet; how many were new.
pub async fn schedule(store: &(impl Jobs + ?Sized), runner: &Runner, now: DateTime<Utc>) -> Result<usize, AppError> {
    let mut queued = 0;
    let mut wanted = due(now, kizuna_domain::time::zone());
    wanted.extend(runner.backups.as_ref().map(|b| b.due(now)));
    for d in wanted {
        let job = NewJob { kind: d.kind, key: &d.key, payload: d.payload, scheduled_for: d.scheduled_for, max_attempts: MAX_ATTEMPTS };
        queued += usize::from(store.enqueue_job(&job, now).await?.is_some());
    }
    Ok(queued)
}

/// Takes the next due job for `node` and runs it; `None` when nothing is due.
pub async fn run_next(store: &dyn Store, runner: &Runner, now: DateTime<Utc>) -> Result<Option<Attempt>, AppError> {
    let node = runner.node.as_str();
    let Some(job) = store.claim_job(node, now, now + LEASE).await? else { return Ok(None) };
    let end = if job.attempts > job.max_attempts {
        // Taken over after its lease ran out on every attempt: the work itself kills its node.
        JobEnd::Dead { error: format!("its lease ran out on each of {} attempts", job.max_attempts) }
    } else {
        match perform(store, runner, &job, now).await {
            Ok(()) => JobEnd::Done,
            Err(error) if job.attempts >= job.max_attempts => JobEnd::Dead { error },
            Err(error) => JobEnd::Retry { error, at: Utc::now().max(now) + backoff(job.attempts) },
        }
    };
    let recorded = store.finish_job(&job.job_id, node, &end, Utc::now().max(now)).await?;
    Ok(Some(Attempt { job, end, recorded }))
}

/// Queues what is due, then runs due jobs until none is left (at most [`MAX_PER_TICK`]).
pub async fn run_due(store: &dyn Store, runner: &Runner, now: DateTime<Utc>) -> Result<Vec<Attempt>, AppError> {
    schedule(store, runner, now).await?;
    let mut attempts = Vec::new();
    while attempts.len() < MAX_PER_TICK {
        match run_next(store, runner, now).await? {
            Some(a) => attempts.push(a),
            None => break,
        }
    }
    Ok(attempts)
}

/// Does the job's work; the error is what the job records.
async fn perform(store: &dyn Store, runner: &Runner, job: &JobRecord, now: DateTime<Utc>) -> Result<(), String> {
    match job.kind.as_str() {
        DAILY_SCORE => {
            let at = job.payload["at"].as_str().and_then(|d| d.parse::<NaiveDate>().ok());
            let at = at.ok_or_else(|| format!("payload {} has no date \"at\" (YYYY-MM-DD)", job.payload))?;
            crate::health::score_if_due(store, at).await.map(drop).map_err(|e| e.to_string())
        }
        DAILY_SIGNALS => {
            let at = job.payload["at"].as_str().and_then(|d| d.parse::<NaiveDate>().ok());
            let at = at.ok_or_else(|| format!("payload {} has no date \"at\" (YYYY-MM-DD)", job.payload))?;
            crate::signals::run_daily(store, at).await.map(drop).map_err(|e| e.to_string())
        }
        SESSION_SWEEP => store.sessions_delete_expired(now.timestamp()).await.map(drop).map_err(|e| e.to_string()),
        BACKUP => match &runner.backups {
            Some(plan) => back_up(plan, now).await,
            None => Err("this server has no backup directory (--backup-dir); another one may".into()),
        },
        other => Err(format!("no job of kind {other:?} is known to this server")),
    }
}

/// Writes a backup into the plan's directory and deletes the oldest beyond `keep`.
async fn back_up(plan: &BackupPlan, now: DateTime<Utc>) -> Result<(), String> {
    let format = BackupFormat::of_url(&plan.database).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&plan.dir).map_err(|e| format!("creating {}: {e}", plan.dir.display()))?;
    let file = plan.dir.join(backup::scheduled_name(format, now));
    backup::backup(&plan.database, &file).await.map_err(|e| e.to_string())?;
    backup::prune(&plan.dir, format, plan.keep).map_err(|e| format!("deleting old backups in {}: {e}", plan.dir.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn plan(every_secs: u64) -> BackupPlan {
        BackupPlan { database: "postgres://kizuna:s3cret@db:5432/kizuna".into(), dir: "/backups".into(), every: std::time::Duration::from_secs(every_secs), keep: 7 }
    }

    #[test]
    fn backups_fall_on_periods_counted_from_1970() {
        let now = Utc.with_ymd_and_hms(2026, 12, 6, 13, 47, 12).unwrap();
        let daily = plan(86_400).due(now);
        assert_eq!((daily.key.as_str(), daily.scheduled_for), ("backup.scheduled:2026-12-06T00:00:00Z", Utc.with_ymd_and_hms(2026, 12, 6, 0, 0, 0).unwrap()));
        assert_eq!(plan(86_400).due(now + chrono::Duration::hours(10)).key, "backup.scheduled:2026-12-06T00:00:00Z", "the same period");
        assert_eq!(plan(6 * 3600).due(now).key, "backup.scheduled:2026-12-06T12:00:00Z");
        assert_eq!(plan(30 * 60).due(now).key, "backup.scheduled:2026-12-06T13:30:00Z");
        assert_eq!(daily.payload, serde_json::json!({}), "no secret in the payload");
    }

    #[test]
    fn the_backup_plan_never_shows_the_password() {
        let shown = format!("{:?}", plan(86_400));
        assert!(!shown.contains("s3cret") && shown.contains("db:5432"), "{shown}");
    }
}
