//! The embedded default: one SQLite file in WAL mode.

use crate::access::access_impl;
use crate::accounts::accounts_impl;
use crate::ctas::ctas_impl;
use crate::onboarding::onboarding_impl;
use crate::planning::planning_impl;
use crate::revenue::revenue_impl;
use crate::jobs::jobs_impl;
use crate::outbox::outbox_impl;
use crate::sql::{store_impl, Dialect};
use crate::usage::usage_impl;
use crate::health::health_impl;
use crate::engine::Engine;
use crate::usage::{DayKey, KnownAccounts, PendingEvent};
use crate::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, SqliteConnection, SqlitePool};
use kizuna_domain::fields::{push_digits, push_fixed_date, push_fixed_datetime};
use std::str::FromStr;
use std::time::Duration;

pub struct SqliteStore {
    pool: SqlitePool,
    /// Usage ingestion's one connection. SQLite writes one transaction at a time anyway, and a
    /// connection drops its whole page cache when it finds that another one wrote: with the
    /// pool handing each group commit the least recently used connection, every commit began
    /// by reading its pages back from the file. It is held rather than pooled: a pool pinged it
    /// on every return and handed it back through a task queued behind the request handlers,
    /// 2 ms of every group commit. Its transactions begin IMMEDIATE (holding the write lock),
    /// so none fails for having read before another connection wrote.
    /// Opened when first used: a store that has the file to itself (see [`crate::open_alone`])
    /// may never need it, and an open connection keeps the file from leaving WAL mode.
    writer: tokio::sync::Mutex<Option<SqliteConnection>>,
    writer_options: SqliteConnectOptions,
    /// Opened by [`crate::open_alone`].
    alone: bool,
    known_accounts: crate::usage::KnownAccounts,
}

const DIALECT: Dialect = Dialect {
    create_touched: "CREATE TEMP TABLE IF NOT EXISTS touched (account_id TEXT PRIMARY KEY)",
    drop_touched: Some("DROP TABLE temp.touched"),
    month_of_day: "substr(m.day, 1, 7)",
    merge_attributes: "json_patch(accounts.attributes, excluded.attributes)",
    // A full ANALYZE of accounts: 0.1 s at 100,000 accounts. (An approximate one, with
    // analysis_limit, misjudged how selective a segment is and kept the slow plan.)
    analyze_accounts: &["ANALYZE accounts"],
    outbox_lock: None,
};

impl SqliteStore {
    pub async fn open(url: &str) -> crate::Result<Self> {
        Self::connect(url, false).await
    }

    /// See [`crate::open_alone`]: one connection, so the pragmas of [`Self::prepare_bulk`]
    /// and the transaction after them are on the same one.
    pub async fn open_alone(url: &str) -> crate::Result<Self> {
        Self::connect(url, true).await
    }

    async fn connect(url: &str, alone: bool) -> crate::Result<Self> {
        let connect = |source| StoreError::connect(url, source);
        let options = SqliteConnectOptions::from_str(url)
            .map_err(connect)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL is durable across process crashes; only a power cut can lose the last commit.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            // A new file's pages are 8 KiB (an existing file keeps its own). Measured against the
            // default 4 KiB: 10M-event import 397k -> 428k events/s, ingestion 133k -> 156k
            // events/s (p99 115 -> 169 ms), usage metrics 1.70 -> 1.64 s.
            .page_size(8192)
            // 64 MiB page cache per connection; temporary sorts spill to files, so a large
            // import's memory stays flat.
            .pragma("cache_size", "-65536")
            // Pages the cache lacks are read from the mapped file instead of copied by a read
            // call each (the usage metrics scan the whole rollup on fresh connections).
            .pragma("mmap_size", "4294967296")
            // Rows cross from the connection's thread in batches: with the default of 50 the two
            // threads woke each other for nearly every row of a 100,000-row answer.
            .row_buffer_size(4096);
        let file = options.get_filename().to_path_buf();
        let pool = SqlitePoolOptions::new()
            .max_connections(if alone { 1 } else { 8 })
            .connect_with(options.clone())
            .await
            .map_err(|e| explain_full(connect(e), &file, "opening"))?;
        let read_only = read_only(&pool).await?;
        let migrator = sqlx::migrate!("./migrations/sqlite");
        match &read_only {
            None => migrator.run(&pool).await.map_err(|e| explain_full(e.into(), &file, "migrating"))?,
            // Reads still work (and /healthz says why writes do not) when the schema is this
            // version's; an older one cannot be brought up to date, and reading it would fail
            // on the first missing table.
            Some(reason) if pending_migrations(&pool, &migrator).await => {
                return Err(StoreError::CannotMigrate(format!("{} needs its schema brought up to this version of Kizuna and cannot be written now: {reason}", file.display())));
            }
            Some(reason) => tracing::warn!("not migrating: {reason}"),
        }
        // It checkpoints every 30,000 pages (234 MiB of 8 KiB pages) rather than 1,000: fewer stops to copy
        // and sync, and a page rewritten by several commits between them (a rollup page, an
        // events page of a busy account) is copied once. Measured with `bench ingest`: 86,000
        // events/s at 10,000 pages, 113,000 at 30,000 (p99 140 ms), 118,000 at 50,000 (p99
        // 249 ms, the stop itself); those were 4 KiB pages.
        // The writer acknowledges usage events: FULL syncs the WAL at every commit, so a 200
        // survives a power cut and not only a crash of the process (NORMAL syncs only at
        // checkpoints). Group commit shares the one sync among every request waiting.
        let writer_options = options.pragma("wal_autocheckpoint", "30000").synchronous(SqliteSynchronous::Full);
        let store = SqliteStore { pool, writer: Default::default(), writer_options, alone, known_accounts: Default::default() };
        if read_only.is_none() {
            crate::usage::align_usage_days(&store).await.map_err(|e| explain_full(e, &file, "aligning usage days"))?;
            store.fill_search_keys().await.map_err(|e| explain_full(e, &file, "filling search keys"))?;
        }
        Ok(store)
    }
}

/// Whether the database lacks a migration of this build (a new file has none).
async fn pending_migrations(pool: &SqlitePool, migrator: &sqlx::migrate::Migrator) -> bool {
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(pool).await.unwrap_or_default();
    migrator.iter().any(|m| !applied.contains(&m.version))
}

/// Whether the writer is out of any transaction. A failed write leaves its rollback queued on
/// the connection; when SQLite had already rolled back by itself (a full disk, an I/O error),
/// that ROLLBACK fails and sqlx goes on counting the transaction as open, so every later
/// BEGIN was refused ("begin_with at non-zero transaction depth") until a restart. A ping
/// runs the queued rollback; a connection still counted in a transaction is then dropped
/// (SQLite rolls back whatever is left when it closes) and the next write opens a new one.
async fn writer_is_clean(conn: &mut SqliteConnection) -> bool {
    use sqlx::Connection;
    if !conn.is_in_transaction() {
        return true;
    }
    conn.ping().await.is_ok() && !conn.is_in_transaction()
}

/// See [`SqliteStore::read_only_reason`].
async fn read_only(pool: &SqlitePool) -> crate::Result<Option<String>> {
    let mut conn = pool.acquire().await?;
    let mut handle = conn.lock_handle().await?;
    // SAFETY: the handle is locked for this call; "main" is a NUL-terminated C string.
    let ro = unsafe { libsqlite3_sys::sqlite3_db_readonly(handle.as_raw_handle().as_ptr(), c"main".as_ptr()) };
    if ro == 1 {
        return Ok(Some("the SQLite database file is open read-only (check the file's and its directory's permissions and free space)".to_string()));
    }
    drop(handle);
    Ok(disk_full(&mut *conn).await)
}

/// Below this many free bytes on the database's file system the next commit is likely to fail.
const MIN_FREE_BYTES: u64 = 1 << 20;

/// A reason when the file system holding the database is (nearly) full, so `/healthz` says so
/// before the next write fails.
async fn disk_full(conn: &mut SqliteConnection) -> Option<String> {
    let files: Vec<(i64, String, String)> = sqlx::query_as("PRAGMA database_list").fetch_all(&mut *conn).await.ok()?;
    let file = files.into_iter().find(|f| f.1 == "main").map(|f| f.2).filter(|f| !f.is_empty())?;
    let dir = std::path::Path::new(&file).parent()?;
    full_reason(free_bytes(dir), None)
}

/// A reason when SQLite's temporary directory (where sorts and index builds larger than the
/// page cache spill; often another file system, `/var/tmp`) is (nearly) full. Ordinary writes
/// still work, so the database opens and migrates; `/healthz` says it before a large report
/// or the next index-building migration fails on it.
fn temp_dir_full() -> Option<String> {
    let temp = temp_dir()?;
    full_reason(None, free_bytes(&temp).map(|f| (temp.as_path(), f)))
}

/// The reason from the free bytes of the database's file system and of SQLite's temporary
/// directory (each when known).
fn full_reason(db_free: Option<u64>, temp: Option<(&std::path::Path, u64)>) -> Option<String> {
    if let Some(free) = db_free.filter(|f| *f < MIN_FREE_BYTES) {
        return Some(format!("the disk holding the SQLite database is full ({free} bytes free): writes fail until space is freed"));
    }
    let (dir, free) = temp.filter(|(_, f)| *f < MIN_FREE_BYTES)?;
    Some(format!(
        "SQLite's temporary directory {} is full ({free} bytes free): large sorts and index builds fail until space is freed there or SQLITE_TMPDIR names a larger one",
        dir.display()
    ))
}

fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// The directory SQLite puts its temporary files in: the first of `SQLITE_TMPDIR`, `TMPDIR`,
/// `/var/tmp`, `/usr/tmp`, `/tmp` and the working directory that is a directory this process
/// may write and enter (SQLite's own order, `unixTempFileDir`).
pub fn temp_dir() -> Option<std::path::PathBuf> {
    let from_env = ["SQLITE_TMPDIR", "TMPDIR"].into_iter().filter_map(|v| std::env::var_os(v).map(std::path::PathBuf::from));
    let fixed = ["/var/tmp", "/usr/tmp", "/tmp", "."].into_iter().map(std::path::PathBuf::from);
    from_env.chain(fixed).find(|d| d.is_dir() && rustix::fs::access(d, rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK).is_ok())
}

/// SQLite's "database or disk is full" names neither: `e`, when it is that, becomes an error
/// that says what was being done and how much room the database's file system and SQLite's
/// temporary directory have.
fn explain_full(e: StoreError, file: &std::path::Path, doing: &str) -> StoreError {
    if !e.is_disk_full() {
        return e;
    }
    // The total too: the sort that failed has removed its files by now, so a small file system
    // shows as small rather than as full.
    let room = |dir: Option<&std::path::Path>| match dir.and_then(|d| rustix::fs::statvfs(d).ok().map(|s| (d, s))) {
        Some((d, s)) => format!("{} has {} of {} bytes free", d.display(), s.f_bavail.saturating_mul(s.f_frsize), s.f_blocks.saturating_mul(s.f_frsize)),
        None => "unknown".to_string(),
    };
    let db_dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    StoreError::DiskFull(format!(
        "SQLite ran out of disk space while {doing} {}: the database's directory {}; its temporary directory (SQLITE_TMPDIR, else TMPDIR, else /var/tmp), where large sorts and index builds spill, {}",
        file.display(),
        room(Some(db_dir)),
        room(temp_dir().as_deref()),
    ))
}

/// A day as the text sqlx stores it ("2026-01-03").
fn day_value(day: chrono::NaiveDate) -> String {
    let mut out = String::with_capacity(10);
    push_day(&mut out, day);
    out
}

/// Writes a day as [`day_value`], digit by digit: chrono's general formatter took a tenth of
/// a bulk import's time.
pub(crate) fn push_day(out: &mut String, day: chrono::NaiveDate) {
    if !push_fixed_date(out, day) {
        out.push_str(&day.format("%F").to_string());
    }
}

/// A time as the text sqlx stores it: RFC 3339 in UTC with "+00:00", and a fraction of 3, 6 or
/// 9 digits only when there is one (chrono's `SecondsFormat::AutoSi`).
fn time_value(at: chrono::DateTime<chrono::Utc>) -> String {
    let mut out = String::with_capacity(32);
    push_time(&mut out, at);
    out
}

/// Writes a time as [`time_value`].
pub(crate) fn push_time(out: &mut String, at: chrono::DateTime<chrono::Utc>) {
    use chrono::Timelike;
    // The UTC fields as they are held (through `at` each went through an offset).
    let naive = at.naive_utc();
    let nanos = naive.nanosecond();
    if nanos >= 1_000_000_000 || !push_fixed_datetime(out, naive, b'T') {
        return out.push_str(&at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false));
    }
    if nanos % 1_000_000_000 != 0 {
        out.push('.');
        match (nanos % 1_000_000, nanos % 1_000) {
            (0, _) => push_digits(out, nanos / 1_000_000, 3),
            (_, 0) => push_digits(out, nanos / 1_000, 6),
            _ => push_digits(out, nanos, 9),
        }
    }
    out.push_str("+00:00");
}


#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};
    use std::path::Path;

    /// A real SQLITE_FULL: a database held to two pages by `max_page_count`.
    async fn sqlite_full() -> sqlx::Error {
        use sqlx::{Connection, Executor};
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
        conn.execute("CREATE TABLE t (x BLOB); PRAGMA max_page_count = 2").await.unwrap();
        conn.execute("INSERT INTO t VALUES (zeroblob(100000))").await.unwrap_err()
    }

    #[tokio::test]
    async fn a_full_disk_at_open_says_where_the_room_ran_out() {
        let full = crate::StoreError::Migrate(sqlx::migrate::MigrateError::ExecuteMigration(sqlite_full().await, 38));
        assert!(full.is_disk_full() && full.is_transient());
        let db = tempfile::tempdir().unwrap();
        let e = super::explain_full(full, &db.path().join("kizuna.db"), "migrating");
        let text = e.to_string();
        assert!(text.starts_with(&format!("SQLite ran out of disk space while migrating {}", db.path().join("kizuna.db").display())), "{text}");
        assert!(text.contains(&format!("the database's directory {} has ", db.path().display())) && text.contains(" bytes free"), "{text}");
        let temp = super::temp_dir().unwrap();
        assert!(text.contains(&format!("its temporary directory (SQLITE_TMPDIR, else TMPDIR, else /var/tmp), where large sorts and index builds spill, {} has ", temp.display())), "{text}");
        assert!(e.is_disk_full() && e.is_transient(), "still a full disk: ingestion answers 503 and retries");
        // Any other error passes through as it was.
        let other = crate::StoreError::Sql(sqlx::Error::RowNotFound);
        assert!(matches!(super::explain_full(other, Path::new("x.db"), "migrating"), crate::StoreError::Sql(sqlx::Error::RowNotFound)));
    }

    #[tokio::test]
    async fn a_migration_error_prints_its_cause_once() {
        let e = crate::StoreError::Migrate(sqlx::migrate::MigrateError::ExecuteMigration(sqlite_full().await, 38));
        assert_eq!(crate::error_text(&e), "database migration failed: while executing migration 38: error returned from database: (code: 13) database or disk is full");
    }

    #[test]
    fn health_names_the_file_system_that_is_full() {
        let mib = 1 << 20;
        assert_eq!(super::full_reason(Some(10 * mib), Some((Path::new("/var/tmp"), 10 * mib))), None);
        assert!(super::full_reason(Some(4096), Some((Path::new("/var/tmp"), 10 * mib))).unwrap().starts_with("the disk holding the SQLite database is full (4096 bytes free)"));
        let temp = super::full_reason(Some(10 * mib), Some((Path::new("/mnt/small"), 0))).unwrap();
        assert!(temp.starts_with("SQLite's temporary directory /mnt/small is full (0 bytes free)"), "{temp}");
        assert_eq!(super::full_reason(None, None), None);
    }

    #[test]
    fn statements_are_about_a_sixteenth_within_bounds() {
        let rows = |n| super::rows_per_statement(n, 500);
        // A group commit of 3,200 events: 500 a statement, as before; an import's round of
        // 32,000: 2,000 (16,000 binds, under both engines' limits); 9,000: 9,000 / 16 = 562.
        assert_eq!((rows(0), rows(3_200), rows(9_000), rows(32_000), rows(100_000)), (500, 500, 562, 2_000, 2_000));
    }

    #[test]
    fn days_and_times_read_as_chrono_writes_them() {
        let day = NaiveDate::from_ymd_opt(2026, 1, 3).unwrap();
        assert_eq!(super::day_value(day), "2026-01-03");
        assert_eq!(super::day_value(NaiveDate::from_ymd_opt(987, 12, 31).unwrap()), "0987-12-31");
        let at = Utc.with_ymd_and_hms(2026, 11, 5, 7, 3, 9).unwrap();
        let cases = [
            (at, "2026-11-05T07:03:09+00:00"),
            (at + chrono::Duration::milliseconds(120), "2026-11-05T07:03:09.120+00:00"),
            (at + chrono::Duration::microseconds(123_456), "2026-11-05T07:03:09.123456+00:00"),
            (at + chrono::Duration::nanoseconds(5), "2026-11-05T07:03:09.000000005+00:00"),
        ];
        for (t, text) in cases {
            assert_eq!(super::time_value(t), text);
            assert_eq!(super::time_value(t), t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false));
        }
        let far = Utc.with_ymd_and_hms(12026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(super::time_value(far), far.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false));
    }
}

store_impl!(SqliteStore, SqliteTx, sqlx::Sqlite, DIALECT);
access_impl!(SqliteStore, sqlx::Sqlite);
jobs_impl!(SqliteStore, "");
outbox_impl!(SqliteStore);
usage_impl!(SqliteStore, sqlx::Sqlite, "INSERT OR IGNORE INTO", "BEGIN IMMEDIATE", "json_patch(attributes, $2)", "json_patch(usage_users.traits, excluded.traits)");
health_impl!(SqliteStore, sqlx::Sqlite);
accounts_impl!(SqliteStore, sqlx::Sqlite);
revenue_impl!(SqliteStore, sqlx::Sqlite);
planning_impl!(SqliteStore, sqlx::Sqlite);
ctas_impl!(SqliteStore, sqlx::Sqlite);
onboarding_impl!(SqliteStore, sqlx::Sqlite);

/// Rows per statement written through [`crate::sqlite_rows`] (50, 100 and 250 did the same
/// within 3% on a 10M import).
const DIRECT_ROWS: usize = 100;

/// A bulk import's new events, bound where they lie ([`crate::sqlite_rows`]); returns how
/// many were stored.
async fn insert_events_directly(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>, rows: &[&PendingEvent<'_>]) -> crate::Result<Option<u64>> {
    use crate::sqlite_rows::{Direct, Value};
    const EVENTS: (&str, usize, &str) = (
        "INSERT OR IGNORE INTO usage_events (account_id, message_id, user_id, event_type, event_time, value, properties)",
        7,
        "ON CONFLICT (account_id, message_id) DO NOTHING",
    );
    let mut db = Direct::lock(&mut **tx).await?;
    let stored = db.insert(EVENTS, DIRECT_ROWS, rows, |(e, account, _), out| {
        out.extend([
            Value::Text(account),
            Value::Text(&e.message_id),
            e.user_id.as_deref().into(),
            Value::Text(&e.event_type),
            Value::Time(e.at),
            e.value.into(),
            Value::Json(&e.properties),
        ])
    })?;
    Ok(Some(stored))
}

/// A bulk import's rollup additions, as `flush_rollup` writes them, bound where they lie.
async fn write_rollup_directly(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    daily: &[(crate::usage::DayKey, (i64, f64))],
    users: &[(crate::usage::DayKey, std::sync::Arc<str>)],
) -> crate::Result<bool> {
    use crate::sqlite_rows::{Direct, Value};
    const USERS: (&str, usize, &str) = (
        "INSERT OR IGNORE INTO usage_daily_users (account_id, day, event_type, user_id)",
        4,
        "ON CONFLICT (account_id, day, event_type, user_id) DO NOTHING",
    );
    const DAILY: (&str, usize, &str) = (
        "INSERT INTO usage_daily (account_id, day, event_type, events, value_sum)",
        5,
        "ON CONFLICT (account_id, day, event_type) DO UPDATE SET events = usage_daily.events + excluded.events, \
         value_sum = usage_daily.value_sum + excluded.value_sum",
    );
    let mut db = Direct::lock(&mut **tx).await?;
    db.insert(USERS, DIRECT_ROWS, users, |((a, d, t), u), out| out.extend([Value::Text(a), Value::Day(*d), Value::Text(t), Value::Text(u)]))?;
    db.insert(DAILY, DIRECT_ROWS, daily, |((a, d, t), (n, v)), out| {
        out.extend([Value::Text(a), Value::Day(*d), Value::Text(t), Value::Int(*n), Value::Real(*v)])
    })?;
    Ok(true)
}

impl Engine for SqliteStore {
    type Db = sqlx::Sqlite;
    type Writer<'a> = tokio::sync::MappedMutexGuard<'a, SqliteConnection>;
    type Day = String;
    type Time = String;
    const NAME: &'static str = "sqlite";
    const DIALECT: Dialect = DIALECT;

    /// Before a bulk write's transaction: on a store opened alone, the rollback journal when no
    /// other connection has the file open (SQLite refuses to leave WAL mode otherwise, and then
    /// nothing changes). Returns what puts the file back in WAL mode after the commit. With a
    /// rollback journal, pages the transaction adds at the end of the file are written once, and
    /// only the pages it changes are copied first; `synchronous = FULL` because a rollback
    /// journal needs it to survive a power cut.
    async fn prepare_bulk(&self) -> crate::Result<&'static [&'static str]> {
        if !self.alone {
            return Ok(&[]);
        }
        // With the file open elsewhere SQLite answers "database is locked" at once.
        let mode: String = match sqlx::query_scalar("PRAGMA journal_mode = DELETE").fetch_one(&self.pool).await {
            Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("5" | "6")) => return Ok(&[]),
            other => other?,
        };
        if !mode.eq_ignore_ascii_case("delete") {
            return Ok(&[]);
        }
        sqlx::query("PRAGMA synchronous = FULL").execute(&self.pool).await?;
        Ok(&["PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL"])
    }

    /// SQLite's own answer (`sqlite3_db_readonly`): the file was opened read-only, because it
    /// or its directory cannot be written or the URL asked for `mode=ro`.
    /// Also a full temporary directory (see [`temp_dir_full`]): writes work, large ones will not.
    async fn read_only_reason(&self) -> crate::Result<Option<String>> {
        Ok(read_only(&self.pool).await?.or_else(temp_dir_full))
    }

    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn known_accounts(&self) -> &KnownAccounts {
        &self.known_accounts
    }

    /// The connection usage ingestion writes through.
    async fn writer(&self) -> crate::Result<Self::Writer<'_>> {
        let mut writer = self.writer.lock().await;
        if let Some(conn) = writer.as_mut() {
            if !writer_is_clean(conn).await {
                *writer = None;
            }
        }
        if writer.is_none() {
            *writer = Some(self.writer_options.connect().await?);
        }
        Ok(tokio::sync::MutexGuard::map(writer, |w| w.as_mut().expect("opened above")))
    }

    fn day_value(day: chrono::NaiveDate) -> String {
        day_value(day)
    }

    fn time_value(at: chrono::DateTime<chrono::Utc>) -> String {
        time_value(at)
    }

    async fn insert_events_directly(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>, rows: &[&PendingEvent<'_>]) -> crate::Result<Option<u64>> {
        insert_events_directly(tx, rows).await
    }

    async fn write_rollup_directly(
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        daily: &[(DayKey, (i64, f64))],
        users: &[(DayKey, std::sync::Arc<str>)],
    ) -> crate::Result<bool> {
        write_rollup_directly(tx, daily, users).await
    }
}
