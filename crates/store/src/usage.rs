//! Product usage: Segment-style messages in, events attributed to accounts, and the daily
//! rollup kept up to date in the same transaction. Written once for both engines by
//! `usage_impl!`.

use crate::Result;
use async_trait::async_trait;
use chrono::NaiveDate;
use kizuna_domain::usage::{IngestSummary, UsageMessage};
use serde::Serialize;
use std::sync::Arc;

/// One row of the daily rollup.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DailyUsage {
    pub account_id: String,
    pub day: NaiveDate,
    pub event_type: String,
    pub events: u64,
    pub value_sum: f64,
    pub users: u64,
}

/// A usage anomaly the daily signals recorded: an event's count over the week up to `day`
/// fell well below its baseline (`kizuna_domain::usage::anomaly`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct UsageAnomaly {
    pub account_id: String,
    #[sqlx(rename = "event_type")]
    pub event: String,
    pub day: NaiveDate,
    /// Events in the 7 days up to `day`.
    pub last_week: f64,
    /// The median weekly count of the weeks before.
    pub baseline_median: f64,
    /// 1 − last week / baseline.
    #[sqlx(rename = "drop_ratio")]
    pub drop: f64,
    pub robust_z: Option<f64>,
    /// The latest day the drop was still found (the first day's figures are kept).
    #[sqlx(default)]
    pub last_day: Option<NaiveDate>,
}

/// One account's usage over a window of days.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageTotals {
    pub events: u64,
    pub value_sum: f64,
    pub active_days: u64,
}

/// What a window adds up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UsageFigure {
    Events,
    ValueSum,
    ActiveDays,
}

/// One figure of one event type (any when None) over a window of days.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UsageWindow {
    pub figure: UsageFigure,
    pub event: Option<String>,
    pub days: u32,
}

/// An event waiting to be written: the event, its account ('' while its user has no group) and
/// the request it came in. The account is the event's own text when it names one (most do: no
/// copy per event).
pub(crate) type PendingEvent<'m> = (&'m kizuna_domain::usage::UsageEvent, std::borrow::Cow<'m, str>, usize);

/// The rollup's key: account, day, event type.
pub(crate) type DayKey = (Arc<str>, NaiveDate, Arc<str>);

/// One stored event's share of the rollup. A stretch of events of one account (an import
/// writes in account order) shares its account's text, and events share their type's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Share {
    account: Arc<str>,
    day: NaiveDate,
    kind: Arc<str>,
    user: Option<Arc<str>>,
    value: Value,
}

/// A value as an ordered number, so shares sort whole (values only add up).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Value(f64);

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// What a write transaction's new events add to the rollup, gathered in memory and written
/// once per transaction in key order (or sooner, when it grows large, so memory stays flat),
/// and the accounts it already made sure exist.
#[derive(Default)]
pub(crate) struct IngestState {
    /// Each new event's share, added up when written: a list sorted once costs less than a
    /// map of owned keys looked up per event.
    shares: Vec<Share>,
    /// Texts of the last shares, reused while events repeat them.
    last_account: Option<Arc<str>>,
    last_user: Option<Arc<str>>,
    kinds: Vec<Arc<str>>,
    accounts: std::collections::HashSet<String>,
    /// Events are inserted without asking which were new (the insert answers every row it
    /// stored otherwise: half the cost of ingestion), and a count short of them all fails the
    /// transaction with [`crate::StoreError::StoredBefore`], to be done again without.
    pub optimistic: bool,
    /// Accounts this transaction created (forgotten again when it does not commit).
    added: Vec<String>,
    /// A bulk import's transaction: the engine may write its rows on the calling thread
    /// (SQLite's `sqlite_rows`), which a server's request handlers must not.
    pub bulk: bool,
    /// The business-zone day of each event's time.
    days: kizuna_domain::time::DayCache,
    /// Where group traits go, read once per transaction that has any.
    pub traits: Option<Arc<kizuna_domain::usage::traits::TraitMap>>,
}

/// `text` as the shared text in `last` when it is the same, else as a new one kept there.
fn reuse(last: &mut Option<Arc<str>>, text: &str) -> Arc<str> {
    match last {
        Some(t) if **t == *text => t.clone(),
        _ => last.insert(Arc::from(text)).clone(),
    }
}

/// Puts shares in key order. An import writes its events in account order, so its shares come
/// grouped by account already: then each account's few are sorted on their own.
fn sort_shares(shares: &mut [Share]) {
    if shares.windows(2).all(|w| w[0].account <= w[1].account) {
        shares.chunk_by_mut(|a, b| Arc::ptr_eq(&a.account, &b.account) || a.account == b.account).for_each(<[Share]>::sort_unstable);
    } else {
        shares.sort_unstable();
    }
}

/// Accounts known to exist, kept between a store's group commits: without it every commit
/// asked again for every account it touched (1,600 lookups in a commit of 1,600 events).
/// Accounts are never deleted, so a remembered one stays true.
#[derive(Default)]
pub(crate) struct KnownAccounts(std::sync::Mutex<std::collections::HashSet<String>>);

impl KnownAccounts {
    /// A new transaction's state, starting from the accounts known (concurrent transactions,
    /// on PostgreSQL, start from none and ask).
    pub fn state(&self, optimistic: bool) -> IngestState {
        let accounts = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        IngestState { accounts, optimistic, ..Default::default() }
    }

    /// Takes back what the transaction knew; the accounts it created only if it committed.
    pub fn keep(&self, mut state: IngestState, committed: bool) {
        if !committed {
            state.added.iter().for_each(|a| {
                state.accounts.remove(a);
            });
        }
        let mut known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() < state.accounts.len() {
            std::mem::swap(&mut *known, &mut state.accounts);
        }
        known.extend(state.accounts);
    }
}

impl IngestState {
    /// A bulk import's transaction's state (see [`IngestState::bulk`]).
    pub fn bulk() -> Self {
        IngestState { bulk: true, ..Default::default() }
    }

    /// Shares held before they are written.
    const LARGE: usize = 200_000;
    /// Accounts remembered as existing (an import of many accounts forgets and asks again).
    const ACCOUNTS: usize = 1_000_000;
    /// Event types whose text is shared (beyond them each share has its own).
    const KINDS: usize = 64;

    /// One new attributed event at `at`, counted on its day in the business zone.
    pub fn add_at(&mut self, account: &str, at: chrono::DateTime<chrono::Utc>, kind: &str, user: Option<&str>, value: Option<f64>) {
        let day = self.days.day(at);
        self.add(account, day, kind, user, value);
    }

    /// One new attributed event.
    pub fn add(&mut self, account: &str, day: NaiveDate, kind: &str, user: Option<&str>, value: Option<f64>) {
        let account = reuse(&mut self.last_account, account);
        let user = user.map(|u| reuse(&mut self.last_user, u));
        let kind = match self.kinds.iter().find(|k| ***k == *kind) {
            Some(k) => k.clone(),
            None if self.kinds.len() < Self::KINDS => {
                self.kinds.push(Arc::from(kind));
                self.kinds[self.kinds.len() - 1].clone()
            }
            None => Arc::from(kind),
        };
        self.shares.push(Share { account, day, kind, user, value: Value(value.unwrap_or(0.0)) });
    }

    pub fn is_large(&self) -> bool {
        self.shares.len() >= Self::LARGE
    }

    /// The gathered additions, sorted by key (events and sum of values per day, user rows);
    /// the state is left empty.
    pub fn take_rollup(&mut self) -> (Vec<(DayKey, (i64, f64))>, Vec<(DayKey, Arc<str>)>) {
        let mut shares = std::mem::take(&mut self.shares);
        sort_shares(&mut shares);
        let (mut daily, mut users) = (Vec::<(DayKey, (i64, f64))>::new(), Vec::<(DayKey, Arc<str>)>::new());
        for s in shares {
            let key = (s.account, s.day, s.kind);
            if let Some(u) = s.user {
                if users.last().is_none_or(|(k, v)| *k != key || *v != u) {
                    users.push((key.clone(), u));
                }
            }
            match daily.last_mut() {
                Some((k, (n, v))) if *k == key => {
                    *n += 1;
                    *v += s.value.0;
                }
                _ => daily.push((key, (1, s.value.0))),
            }
        }
        (daily, users)
    }

    pub fn knows_account(&self, account: &str) -> bool {
        self.accounts.contains(account)
    }

    pub fn know_account(&mut self, account: &str) {
        if self.accounts.len() >= Self::ACCOUNTS {
            self.accounts.clear();
            self.added.clear();
        }
        self.accounts.insert(account.to_string());
        self.added.push(account.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::IngestState;
    use chrono::NaiveDate;

    #[test]
    fn known_accounts_keep_only_what_was_committed() {
        let known = super::KnownAccounts::default();
        let mut s = known.state(true);
        s.know_account("A");
        known.keep(s, true);
        let mut s = known.state(true);
        assert!(s.knows_account("A") && s.optimistic);
        s.know_account("B");
        known.keep(s, false);
        let s = known.state(false);
        assert!(s.knows_account("A"), "committed before");
        assert!(!s.knows_account("B"), "its transaction did not commit");
    }

    #[test]
    fn shares_grouped_by_account_sort_as_a_whole_would() {
        let d = |n| NaiveDate::from_ymd_opt(2026, 11, n).unwrap();
        let share = |a: &str, day, k: &str, u: &str| super::Share { account: a.into(), day: d(day), kind: k.into(), user: Some(u.into()), value: super::Value(0.0) };
        let grouped = vec![share("A", 3, "login", "u2"), share("A", 1, "login", "u1"), share("B", 2, "export", "u1"), share("B", 2, "export", "u0")];
        let mut want = grouped.clone();
        want.sort_unstable();
        let mut got = grouped;
        super::sort_shares(&mut got);
        assert_eq!(got, want);
        let mut mixed = vec![share("B", 1, "login", "u1"), share("A", 2, "login", "u1"), share("B", 1, "export", "u1")];
        let mut want = mixed.clone();
        want.sort_unstable();
        super::sort_shares(&mut mixed);
        assert_eq!(mixed, want);
    }

    #[test]
    fn state_adds_up_per_key_and_hands_over_sorted() {
        let d = |n| NaiveDate::from_ymd_opt(2026, 11, n).unwrap();
        let mut s = IngestState::default();
        s.add("B", d(2), "login", Some("u1"), None);
        s.add("A", d(3), "export", Some("u1"), Some(2.5));
        s.add("B", d(2), "login", Some("u1"), Some(1.0));
        s.add("B", d(2), "login", Some("u2"), None);
        s.add("A", d(1), "login", None, None);
        let (daily, users) = s.take_rollup();
        let keys: Vec<_> = daily.iter().map(|(k, v)| (&*k.0, k.1, &*k.2, *v)).collect();
        assert_eq!(
            keys,
            vec![("A", d(1), "login", (1, 0.0)), ("A", d(3), "export", (1, 2.5)), ("B", d(2), "login", (3, 1.0))]
        );
        let users: Vec<_> = users.iter().map(|(k, u)| (&*k.0, &**u)).collect();
        assert_eq!(users, vec![("A", "u1"), ("B", "u1"), ("B", "u2")]);
        assert!(s.take_rollup().0.is_empty());
    }
}

#[async_trait]
pub trait Usage: Send + Sync {
    /// Store the messages in order, in one transaction: when this returns Ok they are durable.
    /// Identify and group update users (the latest by time wins); a group also attributes that
    /// user's earlier unattributed events. An event whose message id its account already has is
    /// a retry, and skipped.
    async fn ingest(&self, messages: &[UsageMessage]) -> Result<IngestSummary>;
    /// Several requests' messages in one transaction (group commit): one summary per request,
    /// and all of them durable when this returns Ok.
    async fn ingest_many(&self, requests: &[Vec<UsageMessage>]) -> Result<Vec<IngestSummary>>;
    /// The daily rollup of one account over `from..=to`, by day and event type.
    async fn usage_daily(&self, account_id: &str, from: NaiveDate, to: NaiveDate) -> Result<Vec<DailyUsage>>;
    /// How often each stored message id occurs among events (exactly once, unless broken).
    async fn usage_message_counts(&self) -> Result<Vec<(String, u64)>>;
    /// The account a product user was last grouped with, if any.
    async fn usage_user_account(&self, user_id: &str) -> Result<Option<String>>;
    /// Per account (or just `account`): events, sum of values and days with events of `event` (any when None), in
    /// the window `from..=to` and in the window before it, `before..from`, in one pass.
    async fn usage_totals(&self, event: Option<&str>, before: NaiveDate, from: NaiveDate, to: NaiveDate, account: Option<&str>) -> Result<Vec<(String, UsageTotals, UsageTotals)>>;
    /// Several windows in one pass over the rollup: for each window, per account its figure in
    /// the `days` days up to `to` and in the `days` before them, in the order of `windows`.
    /// Accounts with no events in any of them are absent.
    async fn usage_windows(&self, windows: &[UsageWindow], to: NaiveDate, account: Option<&str>) -> Result<Vec<(String, Vec<(f64, f64)>)>>;
    /// Distinct users in several windows in one pass: for each `(event, days)` (any event when
    /// None), per account the users in the `days` days up to `to` and in the `days` before them.
    async fn usage_window_users(&self, windows: &[(Option<String>, u32)], to: NaiveDate, account: Option<&str>) -> Result<Vec<(String, Vec<(f64, f64)>)>>;
    /// Per account (or just `account`): for each of `events`, the last day up to `to` with one.
    async fn usage_last_days(&self, events: &[String], to: NaiveDate, account: Option<&str>) -> Result<Vec<(String, Vec<Option<NaiveDate>>)>>;
    /// Per account and day: events of `event` on days `from..=to` (days without any are absent).
    async fn usage_day_counts(&self, event: &str, from: NaiveDate, to: NaiveDate) -> Result<Vec<(String, NaiveDate, u64)>>;
    /// Accounts paying on `at` (MRR > 0), with the first day they paid; only `account` when
    /// given (an account page read every account's changes, 170 ms at 100,000 accounts).
    async fn active_accounts(&self, at: NaiveDate, account: Option<&str>) -> Result<Vec<(String, NaiveDate)>>;
    /// A named configuration text (`usage_metrics`: the metric definitions).
    async fn setting(&self, name: &str) -> Result<Option<String>>;
    /// Recorded usage anomalies found on a day in [from, to]: begun by `to` and still found on or
    /// after `from` (one account's when given), newest first.
    async fn usage_anomalies(&self, from: NaiveDate, to: NaiveDate, account: Option<&str>) -> Result<Vec<UsageAnomaly>>;
    /// File every stored event again under its day in `zone` (the daily rollup and its users),
    /// in one transaction, and record the zone. Returns the events re-filed.
    async fn refile_usage_days(&self, zone: chrono_tz::Tz) -> Result<u64>;
}

/// Saves (or replaces) a named setting: ($1 name, $2 body, $3 time).
pub(crate) const SAVE_SETTING: &str = "INSERT INTO settings (name, body, updated_at) VALUES ($1, $2, $3) \
     ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at";

/// The account a product user was last grouped with ($1 user id).
pub(crate) const USER_ACCOUNT: &str = "SELECT account_id FROM usage_users WHERE user_id = $1";

/// The setting naming the time zone the usage rollup's days are in.
pub const USAGE_ZONE_SETTING: &str = "usage_time_zone";

/// After opening a store: when its usage days were filed in another zone than the business
/// zone (databases from before the zone setting were filed by UTC day), file them again, so a
/// database never mixes days of two zones.
pub(crate) async fn align_usage_days(store: &dyn Usage) -> Result<()> {
    let zone = kizuna_domain::time::zone();
    let filed = store.setting(USAGE_ZONE_SETTING).await?.unwrap_or_else(|| "UTC".into());
    if filed != zone.name() {
        let n = store.refile_usage_days(zone).await?;
        if n > 0 {
            tracing::info!(from = %filed, to = %zone.name(), events = n, "usage days re-filed in the business time zone");
        }
    }
    Ok(())
}

/// The extra condition of a query limited to one account (bound as `$5`).
pub(crate) fn account_scope(account: Option<&str>) -> &'static str {
    if account.is_some() { " AND account_id = $5" } else { "" }
}

/// `$insert` starts the multi-row inserts of ingestion. On SQLite it is `INSERT OR IGNORE INTO`:
/// their conflicts are handled by `ON CONFLICT` anyway, and a statement that cannot abort
/// needs no statement journal (a copy of every page it changes). `$begin` starts a write
/// transaction of its own. `$patch_attributes` merges the JSON object bound as `$2` into an
/// account's attributes.
macro_rules! usage_impl {
    ($Store:ident, $Db:ty, $insert:literal, $begin:literal, $patch_attributes:literal, $merge_traits:literal) => {
        #[async_trait::async_trait]
        impl $crate::usage::Usage for $Store {
            async fn ingest(&self, messages: &[kizuna_domain::usage::UsageMessage]) -> $crate::Result<kizuna_domain::usage::IngestSummary> {
                Ok(commit_requests(&mut *self.writer().await?, self.known_accounts(), &[messages]).await?.remove(0))
            }

            async fn ingest_many(&self, requests: &[Vec<kizuna_domain::usage::UsageMessage>]) -> $crate::Result<Vec<kizuna_domain::usage::IngestSummary>> {
                let requests: Vec<&[kizuna_domain::usage::UsageMessage]> = requests.iter().map(Vec::as_slice).collect();
                commit_requests(&mut *self.writer().await?, self.known_accounts(), &requests).await
            }

            async fn usage_daily(&self, account_id: &str, from: chrono::NaiveDate, to: chrono::NaiveDate) -> $crate::Result<Vec<$crate::usage::DailyUsage>> {
                let rows: Vec<(String, chrono::NaiveDate, String, i64, f64, i64)> = sqlx::query_as(
                    "SELECT d.account_id, d.day, d.event_type, d.events, d.value_sum, (SELECT COUNT(*) FROM usage_daily_users u \
                     WHERE u.account_id = d.account_id AND u.day = d.day AND u.event_type = d.event_type) FROM usage_daily d \
                     WHERE d.account_id = $1 AND d.day >= $2 AND d.day <= $3 ORDER BY d.day, d.event_type",
                )
                .bind(account_id)
                .bind(from)
                .bind(to)
                .fetch_all(self.pool())
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| $crate::usage::DailyUsage { account_id: r.0, day: r.1, event_type: r.2, events: r.3 as u64, value_sum: r.4, users: r.5 as u64 })
                    .collect())
            }

            async fn usage_totals(&self, event: Option<&str>, before: chrono::NaiveDate, from: chrono::NaiveDate, to: chrono::NaiveDate, account: Option<&str>) -> $crate::Result<Vec<(String, $crate::usage::UsageTotals, $crate::usage::UsageTotals)>> {
                let sql = format!(
                    "SELECT account_id, \
                     CAST(SUM(CASE WHEN day >= $3 THEN events ELSE 0 END) AS BIGINT), \
                     CAST(SUM(CASE WHEN day >= $3 THEN value_sum ELSE 0 END) AS DOUBLE PRECISION), \
                     COUNT(DISTINCT CASE WHEN day >= $3 THEN day END), \
                     CAST(SUM(CASE WHEN day < $3 THEN events ELSE 0 END) AS BIGINT), \
                     CAST(SUM(CASE WHEN day < $3 THEN value_sum ELSE 0 END) AS DOUBLE PRECISION), \
                     COUNT(DISTINCT CASE WHEN day < $3 THEN day END) \
                     FROM usage_daily WHERE ($1 IS NULL OR event_type = $1) AND day >= $2 AND day <= $4{} GROUP BY account_id",
                    $crate::usage::account_scope(account)
                );
                let q = sqlx::query_as(&sql).bind(event).bind(before).bind(from).bind(to);
                let rows: Vec<(String, i64, f64, i64, i64, f64, i64)> = match account {
                    Some(a) => q.bind(a),
                    None => q,
                }
                .fetch_all(self.pool())
                .await?;
                let totals = |e: i64, v: f64, d: i64| $crate::usage::UsageTotals { events: e as u64, value_sum: v, active_days: d as u64 };
                Ok(rows.into_iter().map(|r| (r.0, totals(r.1, r.2, r.3), totals(r.4, r.5, r.6))).collect())
            }

            async fn usage_windows(&self, windows: &[$crate::usage::UsageWindow], to: chrono::NaiveDate, account: Option<&str>) -> $crate::Result<Vec<(String, Vec<(f64, f64)>)>> {
                use $crate::usage::UsageFigure;
                // One row per day and event type: the days of one event are rows, the days of
                // any event need DISTINCT.
                let columns: Vec<_> = windows
                    .iter()
                    .map(|w| {
                        let (open, close) = match (w.figure, &w.event) {
                            (UsageFigure::Events, _) => (", CAST(SUM(CASE WHEN ", " THEN events ELSE 0 END) AS DOUBLE PRECISION)"),
                            (UsageFigure::ValueSum, _) => (", CAST(SUM(CASE WHEN ", " THEN value_sum ELSE 0 END) AS DOUBLE PRECISION)"),
                            (UsageFigure::ActiveDays, Some(_)) => (", CAST(COUNT(CASE WHEN ", " THEN day END) AS DOUBLE PRECISION)"),
                            (UsageFigure::ActiveDays, None) => (", CAST(COUNT(DISTINCT CASE WHEN ", " THEN day END) AS DOUBLE PRECISION)"),
                        };
                        (w.event.as_deref(), w.days, open, close)
                    })
                    .collect();
                windowed(self.pool(), "usage_daily", &columns, to, account).await
            }

            async fn usage_window_users(&self, windows: &[(Option<String>, u32)], to: chrono::NaiveDate, account: Option<&str>) -> $crate::Result<Vec<(String, Vec<(f64, f64)>)>> {
                let columns: Vec<_> =
                    windows.iter().map(|(event, days)| (event.as_deref(), *days, ", CAST(COUNT(DISTINCT CASE WHEN ", " THEN user_id END) AS DOUBLE PRECISION)")).collect();
                windowed(self.pool(), "usage_daily_users", &columns, to, account).await
            }

            async fn usage_last_days(&self, events: &[String], to: chrono::NaiveDate, account: Option<&str>) -> $crate::Result<Vec<(String, Vec<Option<chrono::NaiveDate>>)>> {
                use sqlx::Row;
                if events.is_empty() {
                    return Ok(vec![]);
                }
                let mut qb = sqlx::QueryBuilder::<$Db>::new("SELECT account_id");
                for e in events {
                    qb.push(", MAX(CASE WHEN event_type = ").push_bind(e.clone()).push(" THEN day END)");
                }
                qb.push(" FROM usage_daily WHERE day <= ").push_bind(to).push(" AND event_type IN (");
                let mut list = qb.separated(", ");
                for e in events {
                    list.push_bind(e.clone());
                }
                qb.push(")");
                if let Some(a) = account {
                    qb.push(" AND account_id = ").push_bind(a.to_string());
                }
                qb.push(" GROUP BY account_id");
                let rows = qb.build().fetch_all(self.pool()).await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let days = (1..=events.len()).map(|i| r.try_get::<Option<chrono::NaiveDate>, _>(i)).collect::<std::result::Result<Vec<_>, _>>()?;
                    out.push((r.try_get::<String, _>(0)?, days));
                }
                Ok(out)
            }

            async fn usage_day_counts(&self, event: &str, from: chrono::NaiveDate, to: chrono::NaiveDate) -> $crate::Result<Vec<(String, chrono::NaiveDate, u64)>> {
                let rows: Vec<(String, chrono::NaiveDate, i64)> = sqlx::query_as(
                    "SELECT account_id, day, events FROM usage_daily WHERE event_type = $1 AND day >= $2 AND day <= $3 ORDER BY account_id, day",
                )
                .bind(event)
                .bind(from)
                .bind(to)
                .fetch_all(self.pool())
                .await?;
                Ok(rows.into_iter().map(|(a, d, n)| (a, d, n as u64)).collect())
            }

            async fn active_accounts(&self, at: chrono::NaiveDate, account: Option<&str>) -> $crate::Result<Vec<(String, chrono::NaiveDate)>> {
                // Two texts, so that one account's reads its rows by the key, not every account's.
                let one = if account.is_some() { "AND account_id = $2" } else { "AND $2 IS NULL" };
                let sql = format!(
                    "SELECT account_id, MIN(day) FROM mrr_changes WHERE day <= $1 {one} \
                     GROUP BY account_id HAVING SUM(delta_cents) > 0 ORDER BY account_id"
                );
                Ok(sqlx::query_as(&sql)
                .bind(at)
                .bind(account)
                .fetch_all(self.pool())
                .await?)
            }

            async fn usage_anomalies(&self, from: chrono::NaiveDate, to: chrono::NaiveDate, account: Option<&str>) -> $crate::Result<Vec<$crate::usage::UsageAnomaly>> {
                let sql = format!(
                    "SELECT account_id, event_type, day, last_week, baseline_median, drop_ratio, robust_z, last_day FROM usage_anomalies \
                     WHERE COALESCE(last_day, day) >= $1 AND day <= $2{} ORDER BY day DESC, account_id, event_type",
                    $crate::health::scope(account, "AND", 3)
                );
                let q = sqlx::query_as(&sql).bind(from).bind(to);
                Ok(match account {
                    Some(a) => q.bind(a),
                    None => q,
                }
                .fetch_all(self.pool())
                .await?)
            }

            async fn setting(&self, name: &str) -> $crate::Result<Option<String>> {
                Ok(sqlx::query_scalar("SELECT body FROM settings WHERE name = $1").bind(name).fetch_optional(self.pool()).await?)
            }


            async fn refile_usage_days(&self, zone: chrono_tz::Tz) -> $crate::Result<u64> {
                const PAGE: i64 = 50_000;
                let mut tx = self.pool().begin().await?;
                sqlx::query("DELETE FROM usage_daily_users").execute(&mut *tx).await?;
                sqlx::query("DELETE FROM usage_daily").execute(&mut *tx).await?;
                let (mut after, mut filed) = ((String::new(), String::new()), 0u64);
                loop {
                    // Attributed events in key order, a page at a time, so memory stays flat.
                    let rows: Vec<(String, String, chrono::DateTime<chrono::Utc>, String, Option<String>, Option<f64>)> = sqlx::query_as(
                        "SELECT account_id, message_id, event_time, event_type, user_id, value FROM usage_events \
                         WHERE account_id <> '' AND (account_id > $1 OR (account_id = $1 AND message_id > $2)) \
                         ORDER BY account_id, message_id LIMIT $3",
                    )
                    .bind(&after.0)
                    .bind(&after.1)
                    .bind(PAGE)
                    .fetch_all(&mut *tx)
                    .await?;
                    let Some(last) = rows.last() else { break };
                    after = (last.0.clone(), last.1.clone());
                    let mut state = $crate::usage::IngestState::default();
                    for (account, _, at, kind, user, value) in &rows {
                        state.add(account, kizuna_domain::time::local_day_in(zone, *at), kind, user.as_deref(), *value);
                    }
                    flush_rollup(&mut tx, &mut state).await?;
                    filed += rows.len() as u64;
                }
                sqlx::query(
                    $crate::usage::SAVE_SETTING,
                )
                .bind($crate::usage::USAGE_ZONE_SETTING)
                .bind(zone.name())
                .bind(chrono::Utc::now())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(filed)
            }

            async fn usage_user_account(&self, user_id: &str) -> $crate::Result<Option<String>> {
                let a: Option<Option<String>> =
                    sqlx::query_scalar($crate::usage::USER_ACCOUNT).bind(user_id).fetch_optional(self.pool()).await?;
                Ok(a.flatten().filter(|a| !a.is_empty()))
            }

            async fn usage_message_counts(&self) -> $crate::Result<Vec<(String, u64)>> {
                let rows: Vec<(String, i64)> =
                    sqlx::query_as("SELECT message_id, COUNT(*) FROM usage_events GROUP BY message_id ORDER BY message_id")
                        .fetch_all(self.pool())
                        .await?;
                Ok(rows.into_iter().map(|(m, n)| (m, n as u64)).collect())
            }
        }


        /// Stores the requests in one transaction of their own (a group commit), events and
        /// rollup together; every summary is durable when this returns Ok. It first assumes
        /// no event was stored before (a retry is rare) and, when one was, does it all again
        /// finding out which.
        async fn commit_requests(
            writer: &mut <$Db as sqlx::Database>::Connection,
            known: &$crate::usage::KnownAccounts,
            requests: &[&[kizuna_domain::usage::UsageMessage]],
        ) -> $crate::Result<Vec<kizuna_domain::usage::IngestSummary>> {
            match commit_attempt(writer, known, requests, true).await {
                Err($crate::StoreError::StoredBefore) => commit_attempt(writer, known, requests, false).await,
                done => done,
            }
        }

        async fn commit_attempt(
            writer: &mut <$Db as sqlx::Database>::Connection,
            known: &$crate::usage::KnownAccounts,
            requests: &[&[kizuna_domain::usage::UsageMessage]],
            optimistic: bool,
        ) -> $crate::Result<Vec<kizuna_domain::usage::IngestSummary>> {
            let mut state = known.state(optimistic);
            let done = write_requests(writer, requests, &mut state).await;
            known.keep(state, done.is_ok());
            done
        }

        async fn write_requests(
            writer: &mut <$Db as sqlx::Database>::Connection,
            requests: &[&[kizuna_domain::usage::UsageMessage]],
            state: &mut $crate::usage::IngestState,
        ) -> $crate::Result<Vec<kizuna_domain::usage::IngestSummary>> {
            let mut tx = sqlx::Connection::begin_with(&mut *writer, $begin).await?;
            let out = ingest_requests(&mut tx, requests, state).await?;
            flush_rollup(&mut tx, state).await?;
            tx.commit().await?;
            Ok(out)
        }

        /// Events waiting to be written in one multi-row insert: the event, its account ('' while
        /// its user has no group) and the request it came in.
        type Pending<'m> = Vec<PendingEvent<'m>>;


        /// Stores several requests' messages in order, one summary per request. Their events are
        /// written together, in inserts of [`EVENT_ROWS`] rows or more whichever request they came
        /// in (a group commit of many small requests makes few statements); what the new events
        /// add to the rollup gathers in `state` until [`flush_rollup`].
        async fn ingest_requests(
            tx: &mut sqlx::Transaction<'_, $Db>,
            requests: &[&[kizuna_domain::usage::UsageMessage]],
            state: &mut $crate::usage::IngestState,
        ) -> $crate::Result<Vec<kizuna_domain::usage::IngestSummary>> {
            let mut summaries = vec![kizuna_domain::usage::IngestSummary::default(); requests.len()];
            let mut pending: Pending<'_> = Vec::with_capacity(EVENT_ROWS);
            for (r, messages) in requests.iter().enumerate() {
                ingest_messages(tx, r, messages, &mut pending, &mut summaries, state).await?;
            }
            flush_events(tx, &mut pending, &mut summaries, state).await?;
            if state.is_large() {
                flush_rollup(tx, state).await?;
            }
            Ok(summaries)
        }

        /// Request `r`'s messages, in order: identify and group at once (a group first writes
        /// the events before it, so it attributes them too), events into `pending`.
        async fn ingest_messages<'m>(
            tx: &mut sqlx::Transaction<'_, $Db>,
            r: usize,
            messages: &'m [kizuna_domain::usage::UsageMessage],
            pending: &mut Pending<'m>,
            summaries: &mut [kizuna_domain::usage::IngestSummary],
            state: &mut $crate::usage::IngestState,
        ) -> $crate::Result<()> {
            use kizuna_domain::usage::UsageMessage;
            // Users' accounts as known in this request (a group earlier in a batch counts).
            let mut groups: std::collections::HashMap<String, String> = Default::default();
            for m in messages {
                match m {
                    UsageMessage::Identify { user_id, anonymous_id, traits, at } => {
                        if let Some(anonymous) = anonymous_id {
                            flush_events(tx, pending, summaries, state).await?;
                            link(tx, state, &mut groups, anonymous, user_id, *at, &mut summaries[r]).await?;
                        }
                        // A newer identify adds to the traits (Segment's rule): one that sends only
                        // `plan` keeps the e-mail an earlier one gave. An older one is late news.
                        sqlx::query(concat!(
                            "INSERT INTO usage_users (user_id, traits, seen_at) VALUES ($1, $2, $3) \
                             ON CONFLICT (user_id) DO UPDATE SET traits = ", $merge_traits, ", seen_at = excluded.seen_at \
                             WHERE excluded.seen_at >= usage_users.seen_at OR usage_users.traits = '{}'",
                        ))
                        .bind(user_id)
                        .bind(traits.to_string())
                        .bind(*at)
                        .execute(&mut **tx)
                        .await?;
                        summaries[r].identifies += 1;
                        if let Some(contact) = kizuna_domain::usage::traits::contact(traits) {
                            let account = match groups.get(user_id) {
                                Some(a) => Some(a.clone()),
                                None => sqlx::query_scalar::<_, Option<String>>($crate::usage::USER_ACCOUNT)
                                    .bind(user_id)
                                    .fetch_optional(&mut **tx)
                                    .await?
                                    .flatten(),
                            };
                            if let Some(a) = account.filter(|a| !a.is_empty()) {
                                upsert_contact(tx, &a, user_id, &contact).await?;
                            }
                        }
                    }
                    UsageMessage::Group { user_id, account_id, at, traits } => {
                        // Events before this group are stored first, so it attributes them too.
                        flush_events(tx, pending, summaries, state).await?;
                        ensure_account(tx, state, account_id, (r, &mut *summaries)).await?;
                        attach(tx, state, user_id, account_id, *at, &mut summaries[r]).await?;
                        groups.insert(user_id.clone(), account_id.clone());
                        // The ids linked to this user (its anonymous id before sign-in) follow it.
                        let aliases: Vec<String> = sqlx::query_scalar("SELECT alias_id FROM usage_aliases WHERE user_id = $1").bind(user_id).fetch_all(&mut **tx).await?;
                        for alias in aliases {
                            attach(tx, state, &alias, account_id, *at, &mut summaries[r]).await?;
                            groups.insert(alias, account_id.clone());
                        }
                        summaries[r].groups += 1;
                        if let Some(t) = traits.as_object().filter(|t| !t.is_empty()) {
                            group_traits(tx, state, account_id, t, *at).await?;
                        }
                        user_contact(tx, user_id, account_id).await?;
                    }
                    UsageMessage::Alias { previous_id, user_id, at } => {
                        flush_events(tx, pending, summaries, state).await?;
                        link(tx, state, &mut groups, previous_id, user_id, *at, &mut summaries[r]).await?;
                    }
                    UsageMessage::Event(e) => {
                        let account = match (&e.account_id, &e.user_id) {
                            (Some(a), _) => std::borrow::Cow::Borrowed(a.as_str()),
                            (None, Some(u)) => std::borrow::Cow::Owned(match groups.get(u) {
                                Some(a) => a.clone(),
                                None => {
                                    let a: Option<Option<String>> = sqlx::query_scalar($crate::usage::USER_ACCOUNT)
                                        .bind(u)
                                        .fetch_optional(&mut **tx)
                                        .await?;
                                    let a = a.flatten().unwrap_or_default();
                                    groups.insert(u.clone(), a.clone());
                                    a
                                }
                            }),
                            (None, None) => std::borrow::Cow::Borrowed(""),
                        };
                        pending.push((e, account, r));
                        if pending.len() >= PENDING_ROWS {
                            flush_events(tx, pending, summaries, state).await?;
                        }
                    }
                }
            }
            Ok(())
        }

        /// Groups `user` with `account` as of `at` (a later group already stored wins) and
        /// attributes the user's waiting events to it; a waiting copy of an event the account
        /// already has is a duplicate and goes.
        async fn attach(
            tx: &mut sqlx::Transaction<'_, $Db>,
            state: &mut $crate::usage::IngestState,
            user_id: &str,
            account_id: &str,
            at: chrono::DateTime<chrono::Utc>,
            summary: &mut kizuna_domain::usage::IngestSummary,
        ) -> $crate::Result<()> {
            // The latest group wins, by the groups' own times (`grouped_at`): an identify sent
            // later from another process does not make an earlier-queued group look stale.
            sqlx::query(
                "INSERT INTO usage_users (user_id, account_id, seen_at, grouped_at) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET account_id = excluded.account_id, grouped_at = excluded.grouped_at \
                 WHERE usage_users.account_id IS NULL OR usage_users.grouped_at IS NULL OR excluded.grouped_at >= usage_users.grouped_at",
            )
            .bind(user_id)
            .bind(account_id)
            .bind(at)
            .execute(&mut **tx)
            .await?;
            // A waiting event whose message id the account already has (a client that sent it
            // again with the group) is a duplicate: the attributed copy stays.
            let dropped = sqlx::query(
                "DELETE FROM usage_events WHERE account_id = '' AND user_id = $2 AND EXISTS \
                 (SELECT 1 FROM usage_events e WHERE e.account_id = $1 AND e.message_id = usage_events.message_id)",
            )
            .bind(account_id)
            .bind(user_id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            summary.duplicates += dropped;
            let moved: Vec<(chrono::DateTime<chrono::Utc>, String, Option<String>, Option<f64>)> = sqlx::query_as(
                "UPDATE usage_events SET account_id = $1 WHERE account_id = '' AND user_id = $2 RETURNING event_time, event_type, user_id, value",
            )
            .bind(account_id)
            .bind(user_id)
            .fetch_all(&mut **tx)
            .await?;
            summary.attributed += moved.len() as u64;
            for (at, kind, user, value) in &moved {
                state.add_at(account_id, *at, kind, user.as_deref(), *value);
            }
            Ok(())
        }

        /// `previous` is the same person as `user` (an alias, or an identify's anonymousId): the
        /// link is kept (the first one of an id wins), and when `user` has an account, `previous`
        /// and its waiting events go to it now; otherwise when `user` is grouped.
        async fn link(
            tx: &mut sqlx::Transaction<'_, $Db>,
            state: &mut $crate::usage::IngestState,
            groups: &mut std::collections::HashMap<String, String>,
            previous: &str,
            user: &str,
            at: chrono::DateTime<chrono::Utc>,
            summary: &mut kizuna_domain::usage::IngestSummary,
        ) -> $crate::Result<()> {
            sqlx::query("INSERT INTO usage_aliases (alias_id, user_id, seen_at) VALUES ($1, $2, $3) ON CONFLICT (alias_id) DO NOTHING")
                .bind(previous)
                .bind(user)
                .bind(at)
                .execute(&mut **tx)
                .await?;
            summary.aliases += 1;
            let account = match groups.get(user) {
                Some(a) => Some(a.clone()),
                None => sqlx::query_scalar::<_, Option<String>>($crate::usage::USER_ACCOUNT).bind(user).fetch_optional(&mut **tx).await?.flatten(),
            };
            if let Some(account) = account.filter(|a| !a.is_empty()) {
                attach(tx, state, previous, &account, at, summary).await?;
                groups.insert(previous.to_string(), account);
            }
            Ok(())
        }

        /// Sets what a group's traits ask on its account ([`kizuna_domain::usage::traits`]): a
        /// field is set when it is empty, when it still holds what traits set before, or when
        /// the rule says to overwrite; what traits set is remembered in `usage_accounts`.
        /// Traits older than the last ones applied are ignored (the latest by time wins).
        async fn group_traits(
            tx: &mut sqlx::Transaction<'_, $Db>,
            state: &mut $crate::usage::IngestState,
            account_id: &str,
            traits: &serde_json::Map<String, serde_json::Value>,
            at: chrono::DateTime<chrono::Utc>,
        ) -> $crate::Result<()> {
            use kizuna_domain::usage::traits::{may_set, Target};
            use serde_json::Value;
            let updates = trait_map(tx, state).await?.updates(traits);
            if updates.is_empty() {
                return Ok(());
            }
            let prev: Option<(String, chrono::DateTime<chrono::Utc>)> =
                sqlx::query_as("SELECT traits, seen_at FROM usage_accounts WHERE account_id = $1").bind(account_id).fetch_optional(&mut **tx).await?;
            if prev.as_ref().is_some_and(|(_, seen)| *seen > at) {
                return Ok(());
            }
            let before: serde_json::Map<String, Value> = prev.and_then(|(t, _)| serde_json::from_str(&t).ok()).unwrap_or_default();
            let (name, segment, stage, attributes): (Option<String>, Option<String>, Option<String>, sqlx::types::Json<Value>) =
                sqlx::query_as("SELECT name, segment, lifecycle_stage, attributes FROM accounts WHERE account_id = $1")
                    .bind(account_id)
                    .fetch_one(&mut **tx)
                    .await?;
            let text = |v: &Option<String>| v.clone().map(Value::String);
            // The new values of the three columns (None: unchanged) and the attributes to merge.
            let (mut set, mut patch, mut remembered) = ([None, None, None], serde_json::Map::new(), before.clone());
            for u in updates {
                let (current, column) = match &u.target {
                    Target::Name => (text(&name), Some(0)),
                    Target::Segment => (text(&segment), Some(1)),
                    Target::LifecycleStage => (text(&stage), Some(2)),
                    Target::Attribute(a) => (attributes.0.get(a).cloned(), None),
                    Target::Drop => continue,
                };
                let key = u.target.key();
                if !may_set(&u, current.as_ref(), before.get(&key)) {
                    continue;
                }
                match (column, &u.target) {
                    (Some(c), _) => set[c] = u.value.as_str().map(str::to_string),
                    (None, Target::Attribute(a)) => drop(patch.insert(a.clone(), u.value.clone())),
                    (None, _) => continue,
                }
                remembered.insert(key, u.value);
            }
            let current_stage = stage;
            let [name, segment, stage] = set;
            sqlx::query(concat!(
                "UPDATE accounts SET attributes = ", $patch_attributes, ", name = COALESCE($3, name), segment = COALESCE($4, segment), \
                 lifecycle_stage = COALESCE($5, lifecycle_stage), updated_at = $6, search_key = COALESCE($7, search_key) WHERE account_id = $1"
            ))
            .bind(account_id)
            .bind(sqlx::types::Json(&patch))
            .bind(name.clone())
            .bind(segment)
            .bind(stage.clone())
            .bind(chrono::Utc::now())
            .bind(name.as_deref().map(|n| kizuna_domain::search::account_key(account_id, Some(n))))
            .execute(&mut **tx)
            .await?;
            if let Some(new) = stage.as_deref().filter(|s| current_stage.as_deref() != Some(*s)) {
                let change = kizuna_domain::journey::StageChange {
                    account_id: account_id.to_string(),
                    change_id: 0,
                    changed_on: kizuna_domain::time::today(),
                    stage: Some(new.to_string()),
                    source: kizuna_domain::journey::StageSource::Import,
                    changed_by: None,
                    note: None,
                };
                write_stage_changes(tx, std::slice::from_ref(&change)).await?;
            }
            sqlx::query(
                "INSERT INTO usage_accounts (account_id, traits, seen_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (account_id) DO UPDATE SET traits = excluded.traits, seen_at = excluded.seen_at",
            )
            .bind(account_id)
            .bind(Value::Object(remembered).to_string())
            .bind(at)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// The trait rules of the usage configuration, read once per transaction.
        async fn trait_map(
            tx: &mut sqlx::Transaction<'_, $Db>,
            state: &mut $crate::usage::IngestState,
        ) -> $crate::Result<std::sync::Arc<kizuna_domain::usage::traits::TraitMap>> {
            if let Some(map) = &state.traits {
                return Ok(map.clone());
            }
            let text: Option<String> = sqlx::query_scalar("SELECT body FROM settings WHERE name = $1")
                .bind(kizuna_domain::usage::metrics::SETTING)
                .fetch_optional(&mut **tx)
                .await?;
            let map = std::sync::Arc::new(text.map(|t| kizuna_domain::usage::traits::TraitMap::from_config(&t)).unwrap_or_default());
            Ok(state.traits.insert(map).clone())
        }

        /// A user just grouped with `account_id` becomes its contact if an identify gave it an e-mail.
        async fn user_contact(tx: &mut sqlx::Transaction<'_, $Db>, user_id: &str, account_id: &str) -> $crate::Result<()> {
            let row: Option<(String, Option<String>)> =
                sqlx::query_as("SELECT traits, account_id FROM usage_users WHERE user_id = $1").bind(user_id).fetch_optional(&mut **tx).await?;
            let Some((traits, Some(now_in))) = row else { return Ok(()) };
            let contact = serde_json::from_str(&traits).ok().and_then(|t| kizuna_domain::usage::traits::contact(&t));
            match contact {
                Some(c) if now_in == account_id => upsert_contact(tx, account_id, user_id, &c).await,
                _ => Ok(()),
            }
        }

        /// The contact a product user is: name and title fill what is empty (an import's stay).
        async fn upsert_contact(
            tx: &mut sqlx::Transaction<'_, $Db>,
            account_id: &str,
            user_id: &str,
            (email, name, title): &(String, Option<String>, Option<String>),
        ) -> $crate::Result<()> {
            sqlx::query(
                "INSERT INTO contacts (account_id, email, name, title, user_id) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (account_id, email) DO UPDATE SET name = COALESCE(contacts.name, excluded.name), \
                 title = COALESCE(contacts.title, excluded.title), user_id = excluded.user_id",
            )
            .bind(account_id)
            .bind(email)
            .bind(name)
            .bind(title)
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// One pass over `table` grouped by account: for each `(event, days, open, close)`, the
        /// aggregate `open <condition> close` over the `days` up to `to` and over the `days` before
        /// them (event filter when Some), as a pair per window in order.
        async fn windowed(
            pool: &sqlx::Pool<$Db>,
            table: &str,
            windows: &[(Option<&str>, u32, &str, &str)],
            to: chrono::NaiveDate,
            account: Option<&str>,
        ) -> $crate::Result<Vec<(String, Vec<(f64, f64)>)>> {
            use sqlx::Row;
            let Some(longest) = windows.iter().map(|w| w.1).max() else { return Ok(vec![]) };
            let day = |back: u32| to - chrono::Duration::days(back as i64);
            let mut qb = sqlx::QueryBuilder::<$Db>::new("SELECT account_id");
            for (event, days, open, close) in windows {
                // The window and the one before it: [from, to] and [before, from).
                let (before, from) = (day(2 * days - 1), day(days - 1));
                for (lo, hi_excl) in [(from, None), (before, Some(from))] {
                    qb.push(*open).push("day >= ").push_bind(lo);
                    if let Some(h) = hi_excl {
                        qb.push(" AND day < ").push_bind(h);
                    }
                    if let Some(e) = event {
                        qb.push(" AND event_type = ").push_bind(e.to_string());
                    }
                    qb.push(*close);
                }
            }
            qb.push(format!(" FROM {table} WHERE day >= ")).push_bind(day(2 * longest - 1)).push(" AND day <= ").push_bind(to);
            if let Some(a) = account {
                qb.push(" AND account_id = ").push_bind(a.to_string());
            }
            qb.push(" GROUP BY account_id");
            let rows = qb.build().fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let mut per = Vec::with_capacity(windows.len());
                for i in (1..1 + 2 * windows.len()).step_by(2) {
                    per.push((r.try_get::<Option<f64>, _>(i)?.unwrap_or(0.0), r.try_get::<Option<f64>, _>(i + 1)?.unwrap_or(0.0)));
                }
                out.push((r.try_get::<String, _>(0)?, per));
            }
            Ok(out)
        }

        /// Events per multi-row statement, at least: 7 columns × 2,000 rows, the most, stays
        /// under both engines' bind limits.
        const EVENT_ROWS: usize = 500;
        /// Events gathered before they are written: several inserts' worth, so each insert is
        /// built while the one before runs (one insert at a time left a thread idle).
        const PENDING_ROWS: usize = 16 * 4 * EVENT_ROWS;
        /// Rollup rows per multi-row statement, at least (5 columns, 4,000 rows at most).
        const ROLLUP_ROWS: usize = 1000;

        /// Rows per statement when writing `n` rows: about 16 statements, so each is built
        /// while the one before runs, and within `least..=4 * least` (a group commit writes a
        /// few thousand events in small statements, an import many in statements a quarter as
        /// many).
        fn rows_per_statement(n: usize, least: usize) -> usize {
            (n / 16).clamp(least, 4 * least)
        }

        /// Writes buffered events in key order. The key (account, message id) recognises a
        /// retried message: the rows it refuses are duplicates and add nothing to the rollup.
        /// Each chunk's insert is built while the one before it runs: the connection's thread
        /// writes and ours encodes, at the same time.
        async fn flush_events(
            tx: &mut sqlx::Transaction<'_, $Db>,
            pending: &mut Pending<'_>,
            summaries: &mut [kizuna_domain::usage::IngestSummary],
            state: &mut $crate::usage::IngestState,
        ) -> $crate::Result<()> {
            if state.optimistic && state.bulk {
                let rows = unique_rows(pending, summaries);
                if let Some(stored) = <$Store as $crate::engine::Engine>::insert_events_directly(tx, &rows).await? {
                    if stored != rows.len() as u64 {
                        return Err($crate::StoreError::StoredBefore);
                    }
                    let unknown = count_fresh(&rows, summaries, state);
                    insert_accounts(tx, state, unknown, summaries).await?;
                    pending.clear();
                    return Ok(());
                }
            }
            let chunks: Vec<_> = pending.chunks(rows_per_statement(pending.len(), EVENT_ROWS)).collect();
            let optimistic = state.optimistic;
            // Accounts the events name that may not exist yet, created once after all inserts.
            let mut unknown = std::collections::BTreeMap::new();
            let mut next = chunks.first().map(|c| events_insert(c, summaries));
            for i in 0..chunks.len() {
                let (rows, mut ins) = next.take().expect("built before");
                let following = chunks.get(i + 1);
                let accounts = if optimistic {
                    // Counted as stored while the insert runs: if one was stored before, the
                    // whole transaction is done again and this state is dropped.
                    let exec = ins.build().execute(&mut **tx);
                    let (done, (accounts, built)) = tokio::join!(exec, async {
                        let accounts = count_fresh(&rows, summaries, state);
                        (accounts, following.map(|c| events_insert(c, summaries)))
                    });
                    if done?.rows_affected() != rows.len() as u64 {
                        return Err($crate::StoreError::StoredBefore);
                    }
                    next = built;
                    accounts
                } else {
                    ins.push(" RETURNING account_id, message_id");
                    let fetch = ins.build_query_as::<(String, String)>().fetch_all(&mut **tx);
                    let (stored, built) = tokio::join!(fetch, async { following.map(|c| events_insert(c, summaries)) });
                    let stored = stored?;
                    next = built;
                    let fresh = if stored.len() == rows.len() {
                        rows
                    } else {
                        let stored: std::collections::HashSet<(&str, &str)> = stored.iter().map(|(a, m)| (a.as_str(), m.as_str())).collect();
                        let (fresh, refused): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(e, a, _)| stored.contains(&(&**a, e.message_id.as_str())));
                        refused.iter().for_each(|(_, _, r)| summaries[*r].duplicates += 1);
                        fresh
                    };
                    count_fresh(&fresh, summaries, state)
                };
                accounts.into_iter().for_each(|(a, r)| {
                    unknown.entry(a).or_insert(r);
                });
            }
            insert_accounts(tx, state, unknown, summaries).await?;
            pending.clear();
            Ok(())
        }

        /// The insert of one chunk of events, in key order, without repeated keys (the first of
        /// them is the one stored; the others count as duplicates).
        fn events_insert<'a, 'm>(
            chunk: &'a [PendingEvent<'m>],
            summaries: &mut [kizuna_domain::usage::IngestSummary],
        ) -> (Vec<&'a PendingEvent<'m>>, sqlx::QueryBuilder<'a, $Db>) {
            let rows = unique_rows(chunk, summaries);
            let mut ins = sqlx::QueryBuilder::<$Db>::new(
                concat!($insert, " usage_events (account_id, message_id, user_id, event_type, event_time, value, properties) "),
            );
            ins.push_values(&rows, |mut b, (e, account, _)| {
                b.push_bind(&**account)
                    .push_bind(&e.message_id)
                    .push_bind(&e.user_id)
                    .push_bind(&e.event_type)
                    .push_bind(<$Store as $crate::engine::Engine>::time_value(e.at))
                    .push_bind(e.value)
                    .push_bind(properties_text(&e.properties));
            });
            ins.push(" ON CONFLICT (account_id, message_id) DO NOTHING");
            (rows, ins)
        }

        /// `chunk` in key order without repeated keys (the first of them is the one stored; the
        /// others count as duplicates).
        fn unique_rows<'a, 'm>(
            chunk: &'a [PendingEvent<'m>],
            summaries: &mut [kizuna_domain::usage::IngestSummary],
        ) -> Vec<&'a PendingEvent<'m>> {
            // A stable sort keeps repeats in arrival order, so the first of each stays; an
            // import's chunks arrive sorted, which this sort only checks.
            fn key<'r>(row: &'r PendingEvent<'_>) -> (&'r str, &'r str) {
                (&row.1, row.0.message_id.as_str())
            }
            let mut rows: Vec<_> = chunk.iter().collect();
            rows.sort_by(|x, y| key(x).cmp(&key(y)));
            rows.dedup_by(|later, first| {
                let repeat = key(later) == key(first);
                if repeat {
                    summaries[later.2].duplicates += 1;
                }
                repeat
            });
            rows
        }

        /// An event's properties as stored: most events have none, and writing `{}` through
        /// the formatter cost more than the rest of the row.
        fn properties_text(properties: &serde_json::Value) -> std::borrow::Cow<'static, str> {
            match properties {
                serde_json::Value::Object(map) if map.is_empty() => "{}".into(),
                other => serde_json::to_string(other).expect("a JSON value always serializes").into(),
            }
        }

        /// Counts stored events in their requests' summaries and adds them to the rollup;
        /// returns the accounts they name that are not known to exist yet, each with the
        /// request that named it first.
        fn count_fresh<'a>(
            fresh: &[&'a PendingEvent<'_>],
            summaries: &mut [kizuna_domain::usage::IngestSummary],
            state: &mut $crate::usage::IngestState,
        ) -> std::collections::BTreeMap<&'a str, usize> {
            for (e, a, r) in fresh {
                summaries[*r].events += 1;
                summaries[*r].unattributed += a.is_empty() as u64;
                if !a.is_empty() {
                    state.add_at(a, e.at, &e.event_type, e.user_id.as_deref(), e.value);
                }
            }
            // An account's events come together: each is looked up once per stretch.
            let mut unknown = std::collections::BTreeMap::new();
            let mut last = None;
            for (_, a, r) in fresh {
                let a: &'a str = a;
                if last != Some(a) && !a.is_empty() && !state.knows_account(a) {
                    unknown.entry(a).or_insert(*r);
                }
                last = Some(a);
            }
            unknown
        }

        /// Creates the accounts named by usage (as imports do) and remembers them; each one
        /// created counts in the summary of the request that named it (`accounts`: account,
        /// request).
        async fn insert_accounts(
            tx: &mut sqlx::Transaction<'_, $Db>,
            state: &mut $crate::usage::IngestState,
            accounts: std::collections::BTreeMap<&str, usize>,
            summaries: &mut [kizuna_domain::usage::IngestSummary],
        ) -> $crate::Result<()> {
            if accounts.is_empty() {
                return Ok(());
            }
            let now = chrono::Utc::now();
            let named: Vec<&str> = accounts.keys().copied().collect();
            for chunk in named.chunks(ROLLUP_ROWS) {
                let mut qb = sqlx::QueryBuilder::<$Db>::new(concat!($insert, " accounts (account_id, search_key, updated_at) "));
                qb.push_values(chunk, |mut b, a| {
                    b.push_bind(*a).push_bind(kizuna_domain::search::account_key(a, None)).push_bind(now);
                });
                qb.push(" ON CONFLICT (account_id) DO NOTHING RETURNING account_id");
                let created: Vec<String> = qb.build_query_scalar().fetch_all(&mut **tx).await?;
                if !created.is_empty() {
                    if let Some(lock) = <$Store as $crate::engine::Engine>::DIALECT.outbox_lock {
                        sqlx::query(lock).execute(&mut **tx).await?;
                    }
                    $crate::outbox::accounts_created!($Db, &mut **tx, &created, "usage");
                }
                for a in &created {
                    summaries[accounts[a.as_str()]].accounts_created += 1;
                }
            }
            named.into_iter().for_each(|a| state.know_account(a));
            Ok(())
        }

        /// Runs `statements` statements, built by `build(i)`, each built while the one before
        /// it runs.
        async fn run_pipelined<'a>(
            tx: &mut sqlx::Transaction<'_, $Db>,
            statements: usize,
            mut build: impl FnMut(usize) -> sqlx::QueryBuilder<'a, $Db>,
        ) -> $crate::Result<()> {
            let mut next = (statements > 0).then(|| build(0));
            for i in 0..statements {
                let mut current = next.take().expect("built before");
                let exec = current.build().execute(&mut **tx);
                let (done, built) = tokio::join!(exec, async { (i + 1 < statements).then(|| build(i + 1)) });
                done?;
                next = built;
            }
            Ok(())
        }

        /// Writes what the stored events add to the rollup, in key order: the (account, day,
        /// type, user) rows, then the daily counts and sums (a day's users are counted when it
        /// is read).
        async fn flush_rollup(tx: &mut sqlx::Transaction<'_, $Db>, state: &mut $crate::usage::IngestState) -> $crate::Result<()> {
            let (daily, users) = state.take_rollup();
            if daily.is_empty() {
                return Ok(()); // every user row has its daily row
            }
            if state.bulk && <$Store as $crate::engine::Engine>::write_rollup_directly(tx, &daily, &users).await? {
                return Ok(());
            }
            let users: Vec<_> = users.chunks(rows_per_statement(users.len(), ROLLUP_ROWS)).collect();
            run_pipelined(tx, users.len(), |i| {
                let mut qb = sqlx::QueryBuilder::<$Db>::new(concat!($insert, " usage_daily_users (account_id, day, event_type, user_id) "));
                qb.push_values(users[i], |mut b, ((a, d, t), u)| {
                    b.push_bind(&**a).push_bind(<$Store as $crate::engine::Engine>::day_value(*d)).push_bind(&**t).push_bind(&**u);
                });
                qb.push(" ON CONFLICT (account_id, day, event_type, user_id) DO NOTHING");
                qb
            })
            .await?;
            let daily: Vec<_> = daily.chunks(rows_per_statement(daily.len(), ROLLUP_ROWS)).collect();
            run_pipelined(tx, daily.len(), |i| {
                let mut qb = sqlx::QueryBuilder::<$Db>::new(concat!($insert, " usage_daily (account_id, day, event_type, events, value_sum) "));
                qb.push_values(daily[i], |mut b, ((a, d, t), (n, v))| {
                    b.push_bind(&**a).push_bind(<$Store as $crate::engine::Engine>::day_value(*d)).push_bind(&**t).push_bind(*n).push_bind(*v);
                });
                qb.push(
                    " ON CONFLICT (account_id, day, event_type) DO UPDATE SET events = usage_daily.events + excluded.events, \
                     value_sum = usage_daily.value_sum + excluded.value_sum",
                );
                qb
            })
            .await
        }

        /// The account a group names, created when not known yet.
        async fn ensure_account(
            tx: &mut sqlx::Transaction<'_, $Db>,
            state: &mut $crate::usage::IngestState,
            account_id: &str,
            (r, summaries): (usize, &mut [kizuna_domain::usage::IngestSummary]),
        ) -> $crate::Result<()> {
            let unknown = (!state.knows_account(account_id)).then_some((account_id, r));
            insert_accounts(tx, state, unknown.into_iter().collect(), summaries).await
        }
    };
}

pub(crate) use usage_impl;
