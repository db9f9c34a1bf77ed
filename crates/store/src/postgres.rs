//! PostgreSQL, for teams that outgrow one machine (and later Citus, distributed by account).

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
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

pub struct PgStore {
    pool: PgPool,
    known_accounts: crate::usage::KnownAccounts,
}

const DIALECT: Dialect = Dialect {
    create_touched: "CREATE TEMP TABLE touched (account_id TEXT PRIMARY KEY) ON COMMIT DROP",
    drop_touched: None,
    month_of_day: "to_char(m.day, 'YYYY-MM')",
    merge_attributes: "accounts.attributes || excluded.attributes",
    analyze_accounts: &["ANALYZE accounts"],
    outbox_lock: Some(crate::outbox::PG_OUTBOX_LOCK),
};

impl PgStore {
    pub async fn open(url: &str) -> crate::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await
            .map_err(|source| StoreError::connect(url, source))?;
        let read_only = read_only(&pool).await?;
        match &read_only {
            None => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
            // Reads still work (and /healthz says why writes do not); a newer schema cannot be made.
            Some(reason) => tracing::warn!("not migrating: {reason}"),
        }
        let store = PgStore { pool, known_accounts: Default::default() };
        if read_only.is_none() {
            crate::usage::align_usage_days(&store).await?;
            store.fill_search_keys().await?;
        }
        Ok(store)
    }
}

/// See [`PgStore::read_only_reason`].
async fn read_only(pool: &PgPool) -> crate::Result<Option<String>> {
    let (recovery, read_only): (bool, String) =
        sqlx::query_as("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')").fetch_one(pool).await?;
    Ok(if recovery {
        Some("PostgreSQL is a standby in recovery: it accepts no writes".into())
    } else if read_only == "on" {
        Some("PostgreSQL transactions are read-only (default_transaction_read_only is on)".into())
    } else {
        None
    })
}

store_impl!(PgStore, PgTx, sqlx::Postgres, DIALECT);
access_impl!(PgStore, sqlx::Postgres);
jobs_impl!(PgStore, " FOR UPDATE SKIP LOCKED");
outbox_impl!(PgStore);
usage_impl!(PgStore, sqlx::Postgres, "INSERT INTO", "BEGIN", "attributes || $2", "(usage_users.traits::jsonb || excluded.traits::jsonb)::text");
health_impl!(PgStore, sqlx::Postgres);
accounts_impl!(PgStore, sqlx::Postgres);
revenue_impl!(PgStore, sqlx::Postgres);
planning_impl!(PgStore, sqlx::Postgres);
ctas_impl!(PgStore, sqlx::Postgres);
onboarding_impl!(PgStore, sqlx::Postgres);

impl Engine for PgStore {
    type Db = sqlx::Postgres;
    type Writer<'a> = sqlx::pool::PoolConnection<sqlx::Postgres>;
    // Days and times bind as themselves (PostgreSQL's binary encoding is already cheap).
    type Day = chrono::NaiveDate;
    type Time = chrono::DateTime<chrono::Utc>;
    const NAME: &'static str = "postgres";
    const DIALECT: Dialect = DIALECT;

    fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn known_accounts(&self) -> &KnownAccounts {
        &self.known_accounts
    }

    /// Any of the pool's connections (PostgreSQL writes concurrently).
    async fn writer(&self) -> crate::Result<Self::Writer<'_>> {
        Ok(self.pool.acquire().await?)
    }

    /// Nothing to prepare: PostgreSQL writes each page to its log once.
    async fn prepare_bulk(&self) -> crate::Result<&'static [&'static str]> {
        Ok(&[])
    }

    /// A standby in recovery, or read-only transactions by default (as an administrator sets
    /// to stop writes, e.g. when the disk fills).
    async fn read_only_reason(&self) -> crate::Result<Option<String>> {
        read_only(&self.pool).await
    }

    fn day_value(day: chrono::NaiveDate) -> Self::Day {
        day
    }

    fn time_value(at: chrono::DateTime<chrono::Utc>) -> Self::Time {
        at
    }

    /// None: sqlx's pipelined inserts already send PostgreSQL's binary encoding.
    async fn insert_events_directly(_: &mut sqlx::Transaction<'_, sqlx::Postgres>, _: &[&PendingEvent<'_>]) -> crate::Result<Option<u64>> {
        Ok(None)
    }

    /// As [`Engine::insert_events_directly`]: the rollup goes through sqlx.
    async fn write_rollup_directly(
        _: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        _: &[(DayKey, (i64, f64))],
        _: &[(DayKey, std::sync::Arc<str>)],
    ) -> crate::Result<bool> {
        Ok(false)
    }
}
