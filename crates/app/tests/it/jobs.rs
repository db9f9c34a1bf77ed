//! The jobs runner: what the schedules queue, once however often they are asked; a job that
//! fails is retried with growing waits and is dead after its last attempt; a job whose lease
//! ran out on every attempt is not run again; scheduled backups are written and pruned.

use chrono::{Duration, TimeZone, Utc};
use kizuna_app::jobs::{run_due, run_next, schedule, BackupPlan, Runner};
use kizuna_domain::jobs::{DAILY_SCORE, MAX_ATTEMPTS};
use kizuna_store::both_engines;
use kizuna_store::testing::TestDb;
use kizuna_store::{JobEnd, NewJob};

fn runner(node: &str) -> Runner {
    Runner { node: node.into(), backups: None }
}

/// A fixed time in the middle of an hour and of a business day, so that "30 seconds later"
/// never crosses into the next hour's sweep or the next day's scoring.
fn mid_hour() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 3, 15, 0).unwrap()
}

async fn schedules_queue_each_job_once_and_it_runs(db: TestDb) {
    let s = db.store.as_ref();
    let now = mid_hour();
    assert_eq!(schedule(s, &runner("a"), now).await.unwrap(), 3, "yesterday's scoring, this hour's sweep and yesterday's signals");
    assert_eq!(schedule(s, &runner("b"), now).await.unwrap(), 0, "another server asks for the same work: nothing new");
    let ran = run_due(s, &runner("a"), now).await.unwrap();
    let mut kinds: Vec<&str> = ran.iter().map(|a| a.job.kind.as_str()).collect();
    kinds.sort();
    assert_eq!(kinds, vec!["health.daily_score", "sessions.sweep", "signals.daily"]);
    assert!(ran.iter().all(|a| a.end == JobEnd::Done && a.recorded), "{ran:?}");
    assert!(run_due(s, &runner("b"), now + Duration::seconds(30)).await.unwrap().is_empty(), "nothing left to do within the hour");
    let day = s.jobs(Some("done"), 10).await.unwrap().into_iter().find(|j| j.kind == DAILY_SCORE).unwrap();
    assert_eq!((day.node.as_deref(), day.attempts), (Some("a"), 1));
    let yesterday = kizuna_domain::time::local_day(now) - chrono::Duration::days(1);
    assert_eq!(day.key, format!("health.daily_score:{yesterday}"), "the day just over is scored");
}

async fn a_failing_job_is_retried_then_dead(db: TestDb) {
    let s = db.store.as_ref();
    let mut now = Utc::now();
    let bad = NewJob { kind: DAILY_SCORE, key: "bad", payload: serde_json::json!({}), scheduled_for: now, max_attempts: MAX_ATTEMPTS };
    s.enqueue_job(&bad, now).await.unwrap().unwrap();
    let mut waits = vec![];
    for attempt in 1..=MAX_ATTEMPTS {
        let a = run_next(s, &runner("a"), now).await.unwrap().expect("due");
        assert_eq!(a.job.attempts, attempt);
        match a.end {
            JobEnd::Retry { error, at } => {
                assert!(error.contains("has no date \"at\""), "{error}");
                assert!(run_next(s, &runner("a"), at - Duration::seconds(1)).await.unwrap().is_none(), "not before its retry");
                waits.push((at - now).num_seconds());
                now = at;
            }
            JobEnd::Dead { error } => {
                assert_eq!(attempt, MAX_ATTEMPTS, "dead only after the last attempt");
                assert!(error.contains("has no date"), "{error}");
            }
            JobEnd::Done => panic!("a job without a date cannot score"),
        }
    }
    // Waits of 30 s, 1, 2 and 4 minutes (a little more: measured from when each attempt ended).
    assert_eq!(waits.len(), 4);
    for (w, want) in waits.iter().zip([30, 60, 120, 240]) {
        assert!((want..want + 5).contains(w), "waited {w} s, expected about {want}");
    }
    assert!(run_next(s, &runner("a"), now + Duration::days(1)).await.unwrap().is_none());
    let dead = s.jobs(Some("dead"), 1).await.unwrap();
    assert_eq!(dead[0].attempts, MAX_ATTEMPTS);
}

/// A job whose node died each time (its lease ran out on every attempt) is not run again:
/// the work itself may be what kills the node.
async fn a_job_that_outlives_every_lease_is_dead(db: TestDb) {
    let s = db.store.as_ref();
    let now = Utc::now();
    let job = NewJob { kind: DAILY_SCORE, key: "k", payload: serde_json::json!({"at": "2026-12-06"}), scheduled_for: now, max_attempts: 2 };
    s.enqueue_job(&job, now).await.unwrap().unwrap();
    for n in 0..2 {
        let later = now + Duration::hours(n);
        s.claim_job(&format!("dies{n}"), later, later + Duration::minutes(15)).await.unwrap().unwrap();
    }
    let a = run_next(s, &runner("c"), now + Duration::hours(3)).await.unwrap().unwrap();
    assert_eq!(a.job.attempts, 3);
    assert!(matches!(&a.end, JobEnd::Dead { error } if error.contains("lease ran out")), "{:?}", a.end);
    assert!(a.recorded);
}

/// Scheduled backups (SQLite): one per period, the oldest pruned.
async fn backups_run_once_per_period_and_are_pruned(db: TestDb) {
    if !db.url.starts_with("sqlite:") {
        return; // PostgreSQL backups need pg_dump: tested in kizuna-store's backup tests.
    }
    let dir = tempfile::tempdir().unwrap();
    let plan = BackupPlan { database: db.url.clone(), dir: dir.path().to_path_buf(), every: std::time::Duration::from_secs(86_400), keep: 1 };
    let r = Runner { node: "a".into(), backups: Some(plan) };
    let now = mid_hour();
    let ran = run_due(db.store.as_ref(), &r, now).await.unwrap();
    assert!(ran.iter().any(|a| a.job.kind == "backup.scheduled" && a.end == JobEnd::Done), "{ran:?}");
    let files = || std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect::<Vec<_>>();
    assert_eq!(files().len(), 1);
    assert!(!run_due(db.store.as_ref(), &r, now + Duration::minutes(1)).await.unwrap().iter().any(|a| a.job.kind == "backup.scheduled"));
    let first = files();
    let next_day = now + Duration::days(1);
    assert!(run_due(db.store.as_ref(), &r, next_day).await.unwrap().iter().any(|a| a.job.kind == "backup.scheduled" && a.end == JobEnd::Done));
    let second = files();
    assert_eq!(second.len(), 1, "keep 1: the older one is deleted");
    assert_ne!(first, second);
}

both_engines!(
    schedules_queue_each_job_once_and_it_runs,
    a_failing_job_is_retried_then_dead,
    a_job_that_outlives_every_lease_is_dead,
    backups_run_once_per_period_and_are_pruned
);
