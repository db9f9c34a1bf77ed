//! Durable jobs: the work the server does on its own (daily scoring, the session sweep), when
//! each is due and how a failed run is retried. Pure rules; the table is the store's `Jobs`
//! area and the runner is `kizuna_app::jobs`.

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

/// Where a job stands. `failed`: its last attempt failed and it waits for its retry;
/// `dead`: it failed `max_attempts` times and is kept for people to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Failed,
    Dead,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [JobStatus::Queued, JobStatus::Running, JobStatus::Done, JobStatus::Failed, JobStatus::Dead];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
            JobStatus::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        JobStatus::ALL.into_iter().find(|j| j.as_str() == s)
    }
}

/// The kinds of job the server schedules itself.
pub const DAILY_SCORE: &str = "health.daily_score";
pub const SESSION_SWEEP: &str = "sessions.sweep";
pub const BACKUP: &str = "backup.scheduled";
/// The day's signals (usage anomalies, and later CTAs), once the day's scores are in.
pub const DAILY_SIGNALS: &str = "signals.daily";

/// Attempts before a job is dead.
pub const MAX_ATTEMPTS: i32 = 5;

/// How long a node holds a job it took: past this, another node may take it over (the first
/// one is taken to have died). Longer than any job runs: scoring 100,000 accounts takes
/// about a minute (docs/benchmarks.md).
pub const LEASE: Duration = Duration::minutes(15);

/// The wait before retry number `attempt` (1 after the first failure): 30 s, doubled each time,
/// at most an hour.
pub fn backoff(attempt: i32) -> Duration {
    let doublings = attempt.clamp(1, 20) - 1;
    Duration::seconds((30i64 << doublings).min(3600))
}

/// A job a schedule wants: its kind, its idempotency key (one job per key, however many
/// servers ask), when it is due and what it is given.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    pub kind: &'static str,
    pub key: String,
    pub scheduled_for: DateTime<Utc>,
    pub payload: serde_json::Value,
}

/// What the schedules want at `now`: the health scoring of the business day in `tz` that has
/// just ended (from the start of the next one), this hour's sweep of expired sessions, and that
/// day's signals (from the same time: they score the day first themselves when the scoring has
/// not run yet). A day is scored once it is over: at midnight the day just begun has no usage
/// yet, and every window ending on it would miss its last day (a team that reports on Mondays
/// would look like it stopped every Monday).
pub fn due(now: DateTime<Utc>, tz: Tz) -> Vec<Due> {
    let today: NaiveDate = now.with_timezone(&tz).date_naive();
    let day = today.pred_opt().unwrap_or(today);
    let hour = now.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap_or(now);
    vec![
        Due {
            kind: DAILY_SCORE,
            key: format!("{DAILY_SCORE}:{day}"),
            scheduled_for: crate::time::start_of_day_in(tz, today),
            payload: serde_json::json!({ "at": day }),
        },
        Due {
            kind: SESSION_SWEEP,
            key: format!("{SESSION_SWEEP}:{}", hour.format("%Y-%m-%dT%H")),
            scheduled_for: hour,
            payload: serde_json::json!({}),
        },
        Due {
            kind: DAILY_SIGNALS,
            key: format!("{DAILY_SIGNALS}:{day}"),
            scheduled_for: crate::time::start_of_day_in(tz, today),
            payload: serde_json::json!({ "at": day }),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retries_wait_longer_each_time_up_to_an_hour() {
        let secs: Vec<i64> = (1..=9).map(|a| backoff(a).num_seconds()).collect();
        assert_eq!(secs, vec![30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff(0).num_seconds(), 30);
        assert_eq!(backoff(i32::MAX).num_seconds(), 3600);
    }

    #[test]
    fn the_daily_score_follows_the_business_day() {
        // 2026-12-06 16:30 UTC is already 2026-12-07 01:30 in Tokyo.
        let now = Utc.with_ymd_and_hms(2026, 12, 6, 16, 30, 5).unwrap();
        let due = due(now, chrono_tz::Asia::Tokyo);
        // At 01:30 on the 7th the 6th is over: it is the day scored, from Tokyo midnight.
        assert_eq!(due[0].key, "health.daily_score:2026-12-06");
        assert_eq!(due[0].scheduled_for, Utc.with_ymd_and_hms(2026, 12, 6, 15, 0, 0).unwrap(), "Tokyo midnight");
        assert_eq!(due[0].payload, serde_json::json!({ "at": "2026-12-06" }));
        assert_eq!(due[1].key, "sessions.sweep:2026-12-06T16");
        assert_eq!(due[1].scheduled_for, Utc.with_ymd_and_hms(2026, 12, 6, 16, 0, 0).unwrap());
        let later = super::due(now + Duration::minutes(20), chrono_tz::Asia::Tokyo);
        assert_eq!((later[0].key.as_str(), later[1].key.as_str()), ("health.daily_score:2026-12-06", "sessions.sweep:2026-12-06T16"), "the same keys within the hour");
        assert_eq!(due[2].key, "signals.daily:2026-12-06");
        assert_eq!(due[2].scheduled_for, due[0].scheduled_for);
        let utc = super::due(now, chrono_tz::UTC);
        assert_eq!(utc[0].key, "health.daily_score:2026-12-05");
        assert_eq!(utc[0].scheduled_for, Utc.with_ymd_and_hms(2026, 12, 6, 0, 0, 0).unwrap());
    }

    #[test]
    fn statuses_read_back() {
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(JobStatus::parse("paused"), None);
    }
}
