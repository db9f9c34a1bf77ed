//! The outbox: domain events written in the same transaction as the change that raised them
//! ([`crate::Tx::emit`]), so an event exists exactly when its change does, and read in order by
//! consumers that keep their position ([`Outbox`]). The events and their payloads are listed in
//! docs/events.md.
//!
//! Order: on SQLite one transaction writes at a time. On PostgreSQL a transaction that emits
//! takes one advisory lock until it commits, so sequence numbers are committed in order and a
//! consumer reading "after my position" never skips an event committed late with a lower number.

use crate::Result;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// An event to write.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// `activity.logged`, `subscription.changed`, ...
    pub kind: &'a str,
    pub account_id: Option<&'a str>,
    pub payload: serde_json::Value,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OutboxEvent {
    /// Increases with each event, in commit order.
    pub seq: i64,
    #[serde(serialize_with = "kizuna_domain::time::serde_local")]
    pub at: DateTime<Utc>,
    pub kind: String,
    pub account_id: Option<String>,
    pub payload: serde_json::Value,
}

#[async_trait]
pub trait Outbox: Send + Sync {
    /// Up to `limit` events after `seq`, in order.
    async fn events_after(&self, seq: i64, limit: u32) -> Result<Vec<OutboxEvent>>;
    /// The last event `consumer` has handled (0: none yet).
    async fn consumer_position(&self, consumer: &str) -> Result<i64>;
    /// Records that `consumer` has handled every event up to `seq`; a position never goes back.
    async fn advance_consumer(&self, consumer: &str, seq: i64, now: DateTime<Utc>) -> Result<()>;
}

pub(crate) const EVENT_INSERT: &str = "INSERT INTO outbox (at, kind, account_id, payload) VALUES ($1, $2, $3, $4)";

/// One `subscription.changed` per account whose subscriptions the transaction wrote.
pub(crate) const SUBSCRIPTION_EVENTS: &str =
    "INSERT INTO outbox (at, kind, account_id, payload) SELECT $1, 'subscription.changed', account_id, '{}' FROM touched ORDER BY account_id";

/// Writes one `account.created` per id of `$ids` (`&[String]`) on `$conn`, with what created
/// them (`import`: a file, the demo or the API; `usage`: an SDK's event naming an account not
/// known yet). The caller holds the outbox lock. A macro because sqlx's query builder is typed
/// by engine.
macro_rules! accounts_created {
    ($Db:ty, $conn:expr, $ids:expr, $source:literal) => {{
        let at = chrono::Utc::now().timestamp_millis();
        let payload = concat!("{\"source\":\"", $source, "\"}");
        let mut qb = sqlx::QueryBuilder::<$Db>::new("INSERT INTO outbox (at, kind, account_id, payload) ");
        qb.push_values($ids, |mut b, id: &String| {
            b.push_bind(at).push_bind("account.created").push_bind(id.as_str()).push_bind(payload);
        });
        qb.build().execute($conn).await?;
    }};
}
pub(crate) use accounts_created;

/// The advisory lock key a PostgreSQL transaction takes before it emits (any constant).
pub(crate) const PG_OUTBOX_LOCK: &str = "SELECT pg_advisory_xact_lock(7349265)";

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    seq: i64,
    at: i64,
    kind: String,
    account_id: Option<String>,
    payload: String,
}

impl From<EventRow> for OutboxEvent {
    fn from(r: EventRow) -> Self {
        OutboxEvent {
            seq: r.seq,
            at: DateTime::from_timestamp_millis(r.at).unwrap_or_default(),
            kind: r.kind,
            account_id: r.account_id,
            payload: serde_json::from_str(&r.payload).unwrap_or(serde_json::Value::Null),
        }
    }
}

macro_rules! outbox_impl {
    ($Store:ident) => {
        #[async_trait::async_trait]
        impl $crate::outbox::Outbox for $Store {
            async fn events_after(&self, seq: i64, limit: u32) -> $crate::Result<Vec<$crate::outbox::OutboxEvent>> {
                let rows: Vec<$crate::outbox::EventRow> =
                    sqlx::query_as("SELECT seq, at, kind, account_id, payload FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2")
                        .bind(seq)
                        .bind(i64::from(limit))
                        .fetch_all(self.pool())
                        .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn consumer_position(&self, consumer: &str) -> $crate::Result<i64> {
                let p: Option<i64> = sqlx::query_scalar("SELECT position FROM outbox_consumers WHERE consumer = $1")
                    .bind(consumer)
                    .fetch_optional(self.pool())
                    .await?;
                Ok(p.unwrap_or(0))
            }

            async fn advance_consumer(&self, consumer: &str, seq: i64, now: chrono::DateTime<chrono::Utc>) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO outbox_consumers (consumer, position, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (consumer) DO UPDATE SET updated_at = excluded.updated_at, position = \
                     CASE WHEN excluded.position > outbox_consumers.position THEN excluded.position ELSE outbox_consumers.position END",
                )
                .bind(consumer)
                .bind(seq)
                .bind(now.timestamp_millis())
                .execute(self.pool())
                .await?;
                Ok(())
            }
        }
    };
}
pub(crate) use outbox_impl;
