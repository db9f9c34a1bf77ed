//! The embedded default: one SQLite file in WAL mode.

use crate::access::access_impl;
use crate::sql::{store_impl, Dialect};
use crate::usage::usage_impl;
use crate::health::health_impl;
use crate::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, SqliteConnection, SqlitePool};
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
    writer: tokio::sync::Mutex<SqliteConnection>,
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
};

impl SqliteStore {
    const ENGINE: &'static str = "sqlite";

    pub async fn open(url: &str) -> crate::Result<Self> {
        let connect = |source| StoreError::Connect { url: url.to_string(), source };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(connect)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL is durable across process crashes; only a power cut can lose the last commit.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            // 64 MiB page cache per connection; temporary sorts spill to files, so a large
            // import's memory stays flat.
            .pragma("cache_size", "-65536")
            // Pages the cache lacks are read from the mapped file instead of copied by a read
            // call each (the usage metrics scan the whole rollup on fresh connections).
            .pragma("mmap_size", "4294967296")
            // Rows cross from the connection's thread in batches: with the default of 50 the two
            // threads woke each other for nearly every row of a 100,000-row answer.
            .row_buffer_size(4096);
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options.clone()).await.map_err(connect)?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        // It checkpoints every 30,000 pages (117 MiB) rather than 1,000: fewer stops to copy
        // and sync, and a page rewritten by several commits between them (a rollup page, an
        // events page of a busy account) is copied once. Measured with `bench ingest`: 86,000
        // events/s at 10,000 pages, 113,000 at 30,000 (p99 140 ms), 118,000 at 50,000 (p99
        // 249 ms, the stop itself).
        let writer_options = options.pragma("wal_autocheckpoint", "30000");
        let writer = tokio::sync::Mutex::new(writer_options.connect().await.map_err(connect)?);
        Ok(SqliteStore { pool, writer, known_accounts: Default::default() })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The connection usage ingestion writes through.
    async fn writer(&self) -> crate::Result<tokio::sync::MutexGuard<'_, SqliteConnection>> {
        Ok(self.writer.lock().await)
    }
}

store_impl!(SqliteStore, SqliteTx, sqlx::Sqlite, DIALECT);
access_impl!(SqliteStore, sqlx::Sqlite);
usage_impl!(SqliteStore, sqlx::Sqlite, "INSERT OR IGNORE INTO", "BEGIN IMMEDIATE");
health_impl!(SqliteStore, sqlx::Sqlite);
