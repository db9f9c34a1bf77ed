//! The jobs table on both engines: one job per idempotency key, due jobs taken earliest first
//! with a lease, a lease that runs out hands the job to another node, and only the node
//! holding a job records its end.

use chrono::{DateTime, Duration, TimeZone, Utc};
use kizuna_store::both_engines;
use kizuna_store::testing::TestDb;
use kizuna_store::{JobEnd, NewJob};

fn t(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 0, 0, 0).unwrap() + Duration::minutes(minute)
}

fn job<'a>(kind: &'a str, key: &'a str, at: i64) -> NewJob<'a> {
    NewJob { kind, key, payload: serde_json::json!({ "at": "2026-12-06" }), scheduled_for: t(at), max_attempts: 3 }
}

async fn one_job_per_key_taken_earliest_first(db: TestDb) {
    let s = db.store.as_ref();
    let first = s.enqueue_job(&job("health.daily_score", "score:2026-12-06", 10), t(0)).await.unwrap();
    assert!(first.as_deref().is_some_and(|id| id.starts_with("job-")));
    assert_eq!(s.enqueue_job(&job("health.daily_score", "score:2026-12-06", 10), t(1)).await.unwrap(), None, "the same key again");
    s.enqueue_job(&job("sessions.sweep", "sweep:00", 5), t(0)).await.unwrap().unwrap();
    s.enqueue_job(&job("sessions.sweep", "sweep:01", 60), t(0)).await.unwrap().unwrap();

    assert!(s.claim_job("a", t(4), t(19)).await.unwrap().is_none(), "nothing due before minute 5");
    let j = s.claim_job("a", t(12), t(27)).await.unwrap().unwrap();
    assert_eq!((j.key.as_str(), j.status.as_str(), j.attempts, j.node.as_deref()), ("sweep:00", "running", 1, Some("a")));
    assert_eq!((j.started_at, j.lease_until), (Some(t(12)), Some(t(27))));
    let k = s.claim_job("b", t(12), t(27)).await.unwrap().unwrap();
    assert_eq!((k.key.as_str(), k.payload["at"].as_str()), ("score:2026-12-06", Some("2026-12-06")));
    assert!(s.claim_job("c", t(12), t(27)).await.unwrap().is_none(), "the hourly one is not due yet");

    assert!(s.finish_job(&j.job_id, "a", &JobEnd::Done, t(13)).await.unwrap());
    assert!(!s.finish_job(&j.job_id, "a", &JobEnd::Done, t(14)).await.unwrap(), "done once");
    let listed = s.jobs(None, 10).await.unwrap();
    assert_eq!(listed.iter().map(|j| j.key.as_str()).collect::<Vec<_>>(), vec!["sweep:01", "score:2026-12-06", "sweep:00"], "latest scheduled first");
    let done = s.jobs(Some("done"), 10).await.unwrap();
    assert_eq!((done.len(), done[0].finished_at, done[0].lease_until), (1, Some(t(13)), None));
}

async fn retries_wait_and_the_last_failure_is_dead(db: TestDb) {
    let s = db.store.as_ref();
    let id = s.enqueue_job(&job("health.daily_score", "score", 0), t(0)).await.unwrap().unwrap();
    let j = s.claim_job("a", t(1), t(16)).await.unwrap().unwrap();
    assert_eq!(j.job_id, id);
    let retry = JobEnd::Retry { error: "disk full".into(), at: t(3) };
    assert!(s.finish_job(&id, "a", &retry, t(2)).await.unwrap());
    let failed = &s.jobs(Some("failed"), 10).await.unwrap()[0];
    assert_eq!((failed.error.as_deref(), failed.scheduled_for, failed.attempts), (Some("disk full"), t(3), 1));
    assert!(s.claim_job("a", t(2), t(17)).await.unwrap().is_none(), "not before its retry time");
    let again = s.claim_job("b", t(3), t(18)).await.unwrap().unwrap();
    assert_eq!((again.attempts, again.node.as_deref(), again.finished_at), (2, Some("b"), None));
    assert!(s.finish_job(&id, "b", &JobEnd::Dead { error: "still full".into() }, t(4)).await.unwrap());
    assert!(s.claim_job("a", t(100), t(115)).await.unwrap().is_none(), "a dead job is never taken again");
    let dead = &s.jobs(Some("dead"), 10).await.unwrap()[0];
    assert_eq!((dead.status.as_str(), dead.error.as_deref(), dead.attempts), ("dead", Some("still full"), 2));
}

async fn a_lease_that_runs_out_hands_the_job_over(db: TestDb) {
    let s = db.store.as_ref();
    let id = s.enqueue_job(&job("backup.scheduled", "backup", 0), t(0)).await.unwrap().unwrap();
    s.claim_job("a", t(1), t(16)).await.unwrap().unwrap();
    assert!(s.claim_job("b", t(15), t(30)).await.unwrap().is_none(), "a's lease holds until minute 16");
    let taken = s.claim_job("b", t(17), t(32)).await.unwrap().unwrap();
    assert_eq!((taken.job_id.as_str(), taken.node.as_deref(), taken.attempts), (id.as_str(), Some("b"), 2));
    assert!(!s.finish_job(&id, "a", &JobEnd::Done, t(18)).await.unwrap(), "a no longer holds it: its end is not recorded");
    assert!(s.finish_job(&id, "b", &JobEnd::Done, t(19)).await.unwrap());
    let j = &s.jobs(None, 1).await.unwrap()[0];
    assert_eq!((j.status.as_str(), j.node.as_deref()), ("done", Some("b")));
}

/// Servers taking jobs at once each get a different one (PostgreSQL: `FOR UPDATE SKIP
/// LOCKED`; SQLite: one writer at a time).
async fn nodes_claiming_at_once_never_share_a_job(db: TestDb) {
    let s = db.store.clone();
    for i in 0..40 {
        let key = format!("k{i}");
        s.enqueue_job(&job("sessions.sweep", &key, 0), t(0)).await.unwrap().unwrap();
    }
    let mut tasks = vec![];
    for n in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = vec![];
            while let Some(j) = s.claim_job(&format!("n{n}"), t(1), t(16)).await.unwrap() {
                got.push(j.job_id);
            }
            got
        }));
    }
    let mut all = vec![];
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!((n, all.len()), (40, 40), "each job taken once");
}

both_engines!(
    one_job_per_key_taken_earliest_first,
    retries_wait_and_the_last_failure_is_dead,
    a_lease_that_runs_out_hands_the_job_over,
    nodes_claiming_at_once_never_share_a_job
);
