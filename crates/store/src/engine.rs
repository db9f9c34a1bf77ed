//! What an engine gives the SQL both engines share. Each area's SQL is written once, in a
//! `*_impl!` macro of its module, and expanded for [`crate::SqliteStore`] and
//! [`crate::PgStore`]; everything those expansions ask of the engine is in [`Engine`], so a
//! third engine knows exactly what to provide, and a missing piece is a compile error that
//! names it.

use crate::sql::Dialect;
use crate::usage::{DayKey, KnownAccounts, PendingEvent};
use crate::Result;
use chrono::{DateTime, NaiveDate, Utc};
use std::ops::DerefMut;
use std::sync::Arc;

pub(crate) trait Engine: Send + Sync + Sized {
    /// sqlx's driver.
    type Db: sqlx::Database;
    /// The connection usage ingestion writes through, held while it writes.
    type Writer<'a>: DerefMut<Target = <Self::Db as sqlx::Database>::Connection> + Send
    where
        Self: 'a;
    /// How a day is bound (SQLite stores days as `YYYY-MM-DD` text, PostgreSQL as `date`).
    type Day: Send;
    /// How an instant is bound (SQLite: RFC 3339 text as chrono writes it; PostgreSQL: `timestamptz`).
    type Time: Send;

    /// `"sqlite"` or `"postgres"`.
    const NAME: &'static str;
    /// The SQL text that differs between engines.
    const DIALECT: Dialect;

    /// The pool every read and transaction draws from.
    fn pool(&self) -> &sqlx::Pool<Self::Db>;
    /// Accounts known to exist, so ingestion does not ask again (see [`KnownAccounts`]).
    fn known_accounts(&self) -> &KnownAccounts;
    /// The connection that acknowledges usage events (see each engine for why it is one or many).
    fn writer(&self) -> impl std::future::Future<Output = Result<Self::Writer<'_>>> + Send;
    /// Prepares a bulk write's transaction; returns the statements that undo it after commit.
    fn prepare_bulk(
        &self,
    ) -> impl std::future::Future<Output = Result<&'static [&'static str]>> + Send;
    /// Why nothing can be written now, or `None`.
    fn read_only_reason(&self) -> impl std::future::Future<Output = Result<Option<String>>> + Send;
    fn day_value(day: NaiveDate) -> Self::Day;
    fn time_value(at: DateTime<Utc>) -> Self::Time;
    /// A bulk import's new events through the engine's own fast path: how many were stored, or
    /// `None` when the engine has none (the caller then writes through sqlx).
    fn insert_events_directly(
        tx: &mut sqlx::Transaction<'_, Self::Db>,
        rows: &[&PendingEvent<'_>],
    ) -> impl std::future::Future<Output = Result<Option<u64>>> + Send;
    /// A bulk import's rollup additions through the engine's fast path: false when it has none.
    fn write_rollup_directly(
        tx: &mut sqlx::Transaction<'_, Self::Db>,
        daily: &[(DayKey, (i64, f64))],
        users: &[(DayKey, Arc<str>)],
    ) -> impl std::future::Future<Output = Result<bool>> + Send;
}
