use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: expected sqlite://PATH or postgres://USER@HOST:PORT/DB")]
    BadUrl(String),
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
    #[error("stored value {value:?} in {column} is not valid: {expected}")]
    BadStoredValue { column: &'static str, value: String, expected: String },
}
