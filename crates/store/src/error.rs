use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// The URL is kept with its password replaced (see [`crate::redact_url`]).
    #[error("unsupported database URL {0:?}: expected sqlite://PATH or postgres://USER@HOST:PORT/DB")]
    BadUrl(String),
    /// `url` is redacted: build it with [`StoreError::connect`].
    #[error("cannot open database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    /// SQLite refused a statement written through its C API (`sqlite_rows`).
    #[error("database error: {message} (SQLite code {code})")]
    Sqlite { code: i32, message: String },
    /// An optimistic usage write met an event stored before; the transaction is abandoned.
    #[error("some usage events were stored before")]
    StoredBefore,
    /// A backup or restore that could not be made; the message says what and why.
    #[error("{0}")]
    Backup(String),
    /// SQLite's "database or disk is full", with where the room ran out (see `sqlite::explain_full`).
    #[error("{0}")]
    DiskFull(String),
    /// A database that cannot be written (full, read-only) and whose schema is older than this
    /// build's: the message names the file and why.
    #[error("{0}")]
    CannotMigrate(String),
    #[error("stored value {value:?} in {column} is not valid: {expected}")]
    BadStoredValue { column: &'static str, value: String, expected: String },
}

impl StoreError {
    /// A connection failure naming the database without its password.
    pub fn connect(url: &str, source: sqlx::Error) -> Self {
        StoreError::Connect { url: crate::redact_url(url), source }
    }

    pub fn bad_url(url: &str) -> Self {
        StoreError::BadUrl(crate::redact_url(url))
    }

    /// Whether the database could not take the write for now (disk full, read-only, locked,
    /// unreachable, out of memory): the same write may succeed later, so a client should retry.
    /// A statement the database refuses for what it holds (a constraint, a value too big) or a
    /// bug is not transient: retrying it would fail forever.
    pub fn is_transient(&self) -> bool {
        if self.is_disk_full() {
            return true;
        }
        match self {
            StoreError::Sql(e) | StoreError::Connect { source: e, .. } => sqlx_transient(e),
            // SQLite's primary result codes (the low byte of an extended code).
            StoreError::Sqlite { code, .. } => sqlite_transient(*code),
            _ => false,
        }
    }

    /// SQLite's SQLITE_FULL: a file system it writes to (the database's, or its temporary
    /// directory's) has no room.
    pub fn is_disk_full(&self) -> bool {
        let sqlx_full = |e: &sqlx::Error| matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.parse::<i32>().is_ok_and(|c| c & 0xff == 13)));
        match self {
            StoreError::DiskFull(_) => true,
            StoreError::Sql(e) | StoreError::Connect { source: e, .. } => sqlx_full(e),
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e) | sqlx::migrate::MigrateError::ExecuteMigration(e, _)) => sqlx_full(e),
            StoreError::Sqlite { code, .. } => code & 0xff == 13,
            _ => false,
        }
    }
}

impl StoreError {
    /// A row a unique index allows once was written twice (two people opening the same CTA at
    /// the same moment): the caller says what is already there.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Sql(sqlx::Error::Database(db)) if db.is_unique_violation())
    }

    /// The transaction lost to a concurrent one (PostgreSQL: deadlock detected, serialization
    /// failure): the same transaction, run again, usually succeeds. Servers sharing one database
    /// writing the same rows at once (the same account's usage rollups) meet this.
    pub fn is_conflict(&self) -> bool {
        match self {
            StoreError::Sql(sqlx::Error::Database(db)) => matches!(db.code().as_deref(), Some("40P01" | "40001")),
            _ => false,
        }
    }
}

fn sqlx_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => match code.parse::<i32>() {
                Ok(sqlite) => sqlite_transient(sqlite),
                Err(_) => postgres_transient(&code),
            },
            None => false,
        },
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) => true,
        _ => false,
    }
}

/// BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL (CORRUPT is not: it stays).
fn sqlite_transient(code: i32) -> bool {
    matches!(code & 0xff, 5 | 6 | 7 | 8 | 10 | 13 | 14 | 15)
}

/// SQLSTATE classes: 08 connection, 40 rollback (serialization, deadlock), 53 insufficient
/// resources (disk full, out of memory, too many connections), 57 operator intervention
/// (shutdown), 58 system error (I/O); and 25006, a read-only transaction (a standby).
fn postgres_transient(code: &str) -> bool {
    matches!(code.get(..2), Some("08" | "40" | "53" | "57" | "58")) || code == "25006"
}

#[cfg(test)]
mod tests {
    #[test]
    fn full_disks_and_lost_connections_are_transient_constraints_are_not() {
        use super::{postgres_transient, sqlite_transient};
        // SQLITE_FULL, SQLITE_IOERR_WRITE (778), SQLITE_READONLY, SQLITE_BUSY
        assert!(sqlite_transient(13) && sqlite_transient(778) && sqlite_transient(8) && sqlite_transient(5));
        // SQLITE_CONSTRAINT_PRIMARYKEY (1555), SQLITE_TOOBIG, SQLITE_ERROR
        assert!(!sqlite_transient(1555) && !sqlite_transient(18) && !sqlite_transient(1));
        assert!(postgres_transient("53100") && postgres_transient("08006") && postgres_transient("40001") && postgres_transient("25006"));
        assert!(!postgres_transient("23505") && !postgres_transient("22021") && !postgres_transient("42P01"));
    }
}
