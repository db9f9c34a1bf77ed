//! Kizuna's storage: one [`Store`] API, implemented once for embedded SQLite (the default)
//! and once for PostgreSQL, each with its own migrations. Pick one with [`open`].

pub mod access;
pub mod accounts;
pub mod backup;
pub mod ctas;
mod engine;
mod error;
pub mod health;
pub mod jobs;
pub mod migrate;
pub mod onboarding;
pub mod outbox;
pub mod planning;
mod postgres;
pub mod revenue;
mod sql;
mod sqlite;
mod sqlite_rows;
pub mod usage;
pub mod testing;

use async_trait::async_trait;
use kizuna_domain::*;
use serde::Serialize;
use std::sync::Arc;

pub use accounts::{AccountGlances, AccountPage, AccountQuery, AccountSort, AccountStatus, Accounts, Counts, SavedView};
pub use ctas::{Cta, CtaComment, CtaPage, CtaQuery, CtaTask, Ctas, OwnerCtaCount, RenewalCall, SignalCta};
pub use planning::Planning;
pub use onboarding::{Onboarding, PlanFactRow, PlanQuery};
pub use revenue::Revenue;
pub use access::{Access, ApiKey, AuditEntry, AuditRecord};
pub use usage::{DailyUsage, Usage, UsageAnomaly, UsageFigure, UsageTotals, UsageWindow, USAGE_ZONE_SETTING};
pub use jobs::{JobEnd, JobRecord, Jobs, NewJob};
pub use outbox::{NewEvent, Outbox, OutboxEvent};
pub use health::{AccountProfile, ActivitySummary, BookGlance, ChurnForecast, RenewalFacts, ContractTerm, Health, HealthRow};
pub use error::StoreError;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where the data lives when nothing else is said: one file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://kizuna.db";

/// Open (creating if needed) and migrate the database at `url`: `sqlite://PATH` or `postgres://...`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::open(url).await?))
    } else {
        Err(StoreError::bad_url(url))
    }
}

/// The text that stands for a secret in logs, errors and messages.
pub const REDACTED: &str = "***";

/// `url` safe to print: a password (`postgres://user:PASSWORD@host/db`, or a `password=` /
/// `sslpassword=` parameter) becomes `***`. Anything else is kept as written.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else { return redact_unparsed(url) };
    let secret_param = |k: &str| k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("sslpassword");
    let has_param = parsed.query_pairs().any(|(k, _)| secret_param(&k));
    if parsed.password().is_none() && !has_param {
        return url.to_string();
    }
    if parsed.password().is_some() && parsed.set_password(Some(REDACTED)).is_err() {
        return redact_unparsed(url);
    }
    if has_param {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| (k.to_string(), if secret_param(&k) { REDACTED.to_string() } else { v.to_string() }))
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string().replace("%2A%2A%2A", REDACTED)
}

/// For a URL the parser refuses: everything between the scheme's `user:` and the last `@` of the
/// authority goes.
fn redact_unparsed(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!("{scheme}://{}:{REDACTED}{}{tail}", &authority[..colon], &authority[at..]),
        _ => url.to_string(),
    }
}

/// [`open`], for a command that has the database to itself while it writes much at once (an
/// import from the command line). On SQLite it keeps one connection, and when no other process
/// has the file open a bulk write's transaction keeps a rollback journal of the pages it
/// changes, instead of writing every page to the WAL and then copying it again (a fifth of a
/// large import's time). Another process keeps the WAL, and the import works as with [`open`].
pub async fn open_alone(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open_alone(url).await?))
    } else {
        open(url).await
    }
}

/// A database that could not be opened, named without its password: what the command-line
/// tools print (`opening database sqlite://kizuna.db: ...`, the cause after the colon).
#[derive(Debug, thiserror::Error)]
#[error("opening database {url}")]
pub struct OpenError {
    /// Redacted ([`redact_url`]).
    pub url: String,
    #[source]
    pub source: StoreError,
}

/// An error and its causes as a command-line tool prints them (`a: b: c`), each cause once: a
/// library error whose message already carries its cause (sqlx's migration errors do, three
/// deep) is not repeated.
pub fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    for cause in std::iter::successors(Some(e), |e| e.source()) {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// [`open`] for a command-line tool (`kizuna`, `kizuna-bench`): the error names the database.
pub async fn open_named(url: &str) -> Result<Arc<dyn Store>, OpenError> {
    open(url).await.map_err(|source| OpenError { url: redact_url(url), source })
}

/// [`open_alone`] for a command-line tool: the error names the database.
pub async fn open_alone_named(url: &str) -> Result<Arc<dyn Store>, OpenError> {
    open_alone(url).await.map_err(|source| OpenError { url: redact_url(url), source })
}

/// A staff user as stored (without the password hash).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct StaffUser {
    pub email: String,
    pub name: String,
    pub role: String,
    pub team_id: Option<String>,
    pub partner_id: Option<String>,
    /// Set when the user was deactivated: they cannot sign in and their sessions have ended.
    pub deactivated_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The whole store, for wiring only: every area's reads, and [`Store::begin`] for writes.
/// A use case takes the narrowest area trait it needs ([`Accounts`], [`Revenue`], [`Usage`],
/// [`Health`], [`Access`], [`Planning`], [`Ctas`], [`Jobs`], [`Outbox`]), and [`UnitOfWork`] when it writes.
pub trait Store: Accounts + Revenue + Usage + Health + Access + Planning + Ctas + Onboarding + Jobs + Outbox + UnitOfWork + Send + Sync + 'static {}

impl<T> Store for T where T: Accounts + Revenue + Usage + Health + Access + Planning + Ctas + Onboarding + Jobs + Outbox + UnitOfWork + Send + Sync + 'static {}

/// Writes: one transaction across every area. Reads take `&self` on the area traits; every
/// write goes through a [`Tx`], so a change, its audit entry and the events it raises commit
/// together or not at all.
#[async_trait]
pub trait UnitOfWork: Send + Sync {
    /// `"sqlite"` or `"postgres"`.
    fn engine(&self) -> &'static str;
    /// A cheap round trip, for health checks.
    async fn ping(&self) -> Result<()>;
    /// Why nothing can be written now (the file or database is read-only), or `None`. Cheap:
    /// asks the engine, writes nothing.
    async fn read_only(&self) -> Result<Option<String>>;
    /// Start a write transaction. Dropping it without [`Tx::commit`] rolls everything back.
    async fn begin(&self) -> Result<Box<dyn Tx>>;
}

/// One write transaction. Each `upsert_*` is idempotent (re-importing a file changes nothing) and
/// returns how many accounts it had to create because they were not known yet.
#[async_trait]
pub trait Tx: Send {
    async fn upsert_accounts(&mut self, rows: &[AccountRow]) -> Result<u64>;
    /// Creates the accounts `ids` that do not exist yet, bound to `partner`, and never touches
    /// one that exists (an import may create one between a partner key's check and this):
    /// returns how many were created and the ids that exist but are not the partner's.
    async fn create_partner_accounts(&mut self, partner: &str, ids: &[String]) -> Result<(u64, Vec<String>)>;
    async fn upsert_subscriptions(&mut self, rows: &[SubscriptionRow]) -> Result<u64>;
    async fn upsert_contacts(&mut self, rows: &[ContactRow]) -> Result<u64>;
    async fn upsert_activities(&mut self, rows: &[ActivityRow]) -> Result<u64>;
    async fn upsert_churn_records(&mut self, rows: &[ChurnRow]) -> Result<u64>;
    async fn upsert_partners(&mut self, rows: &[PartnerRow]) -> Result<()>;
    async fn upsert_teams(&mut self, rows: &[TeamRow]) -> Result<()>;
    async fn upsert_staff(&mut self, rows: &[StaffRow]) -> Result<()>;
    async fn upsert_products(&mut self, rows: &[ProductRow]) -> Result<()>;
    async fn upsert_funnel_leads(&mut self, rows: &[kizuna_domain::planning::funnel::FunnelLead]) -> Result<u64>;
    async fn upsert_funnel_counts(&mut self, rows: &[kizuna_domain::planning::funnel::FunnelCount]) -> Result<u64>;
    /// Usage messages (as [`Usage::ingest`], inside this transaction).
    async fn ingest_usage(&mut self, messages: &[kizuna_domain::usage::UsageMessage]) -> Result<kizuna_domain::usage::IngestSummary>;
    /// From now on, usage events are written as if none had been stored before (no asking
    /// which rows were new: a fifth of a bulk import's time). One that was fails the call with
    /// [`StoreError::StoredBefore`]; the transaction is then to be dropped and done again
    /// without this.
    fn assume_new_events(&mut self);
    /// Insert a new user with a password hash; false (and nothing written) when the e-mail exists.
    async fn create_user(&mut self, user: &StaffRow, password_hash: &str) -> Result<bool>;
    /// False when there is no such user.
    async fn set_password(&mut self, email: &str, password_hash: &str) -> Result<bool>;
    async fn set_role(&mut self, email: &str, role: Role, partner_id: Option<&str>) -> Result<bool>;
    /// Deactivate a user at `at` and revoke every API key they created. `None` when there is
    /// no such user; otherwise how many keys were revoked (a user already deactivated keeps the
    /// first date).
    async fn deactivate_user(&mut self, email: &str, at: chrono::DateTime<chrono::Utc>) -> Result<Option<u64>>;
    /// Let a deactivated user sign in again (their revoked keys stay revoked). False when there is no such user.
    async fn reactivate_user(&mut self, email: &str) -> Result<bool>;
    async fn create_api_key(&mut self, key: &ApiKey, secret_hash: &str) -> Result<()>;
    /// False when there is no such key or it was already revoked.
    async fn revoke_api_key(&mut self, key_id: &str, at: chrono::DateTime<chrono::Utc>) -> Result<bool>;
    /// Save (or replace) a named configuration text (read with [`Usage::setting`]).
    async fn save_setting(&mut self, name: &str, body: &str) -> Result<()>;
    /// Save (or replace) a planning scenario's TOML text under `name`.
    async fn save_scenario(&mut self, name: &str, body: &str) -> Result<()>;
    /// Records a usage anomaly and emits `usage.anomaly`, unless the same account and event
    /// already has one in the 7 days up to its day (one drop, one event); true when recorded.
    async fn record_usage_anomaly(&mut self, anomaly: &UsageAnomaly) -> Result<bool>;
    /// Replaces the stored churn forecast with these probabilities.
    async fn replace_churn_forecasts(&mut self, rows: &[ChurnForecast]) -> Result<()>;
    /// A new CTA with its tasks (`account_name` is not stored); false, writing nothing, when the
    /// account already has a CTA of the same type, reason and scope that is not closed (one
    /// opened by someone else since the caller looked). Never aborts the transaction.
    async fn insert_cta(&mut self, cta: &Cta) -> Result<bool>;
    /// Writes every field of a stored CTA and replaces its tasks, if it is still at
    /// `cta.revision` (the copy the change was made to); false when there is none, or when it
    /// has changed since (nothing is written then).
    async fn update_cta(&mut self, cta: &Cta) -> Result<bool>;
    /// Sets (or replaces) the forecast call on an account's renewal.
    async fn set_renewal_call(&mut self, call: &RenewalCall) -> Result<()>;
    /// Saves a view of the account list (replacing one of the same user and id).
    async fn save_view(&mut self, view: &SavedView) -> Result<()>;
    /// Records a change of an account's stage (its `change_id` is assigned: the account's next)
    /// and makes the latest change's stage the current one.
    async fn record_stage(&mut self, change: &kizuna_domain::journey::StageChange) -> Result<()>;
    /// Writes an onboarding plan whole: the plan (inserted, or replacing the stored one) and
    /// its tasks (`account_name` is not stored).
    async fn save_plan(&mut self, plan: &kizuna_domain::onboarding::Plan) -> Result<()>;
    /// Writes what a day's run changed in stored plans: each plan's status, completion day and
    /// first value, and the tasks the data completed (their days; done by data). A statement
    /// per thousand rows instead of one per plan and task.
    async fn advance_plans(&mut self, plans: &[onboarding::Advanced<'_>]) -> Result<()>;
    /// Deletes one of the user's views; whether it existed.
    async fn delete_view(&mut self, user_email: &str, view_id: &str) -> Result<bool>;
    /// Adds a comment to a CTA: its number within the CTA.
    async fn add_cta_comment(&mut self, account_id: &str, cta_id: &str, author: &str, body: &str, at: chrono::DateTime<chrono::Utc>, internal: bool) -> Result<i64>;
    /// An audit entry, committed with the change it records (or not at all).
    async fn audit(&mut self, entry: AuditEntry<'_>) -> Result<()>;
    /// A domain event, committed with the change that raised it (or not at all). Writing
    /// subscriptions emits `subscription.changed` per account by itself, at commit.
    async fn emit(&mut self, event: NewEvent<'_>) -> Result<()>;
    /// Many domain events at once (a statement per few hundred), in their order.
    async fn emit_many(&mut self, events: &[NewEvent<'_>]) -> Result<()>;
    /// Refresh derived tables (MRR changes, when subscriptions were written) and make
    /// everything durable.
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// Keep the last row for each key, in first-seen order. PostgreSQL refuses an upsert that
/// touches the same row twice, and "last row wins" is what a re-import expects.
/// The activities that count as contact with the customer (last contact, days since the CSM's
/// last touch, the `no_contact` signal): everything but support tickets and what the customer
/// did on its own shared plan (the timeline notes of its visits and ticks,
/// `plan-visit-…` / `plan-tick-…` in `kizuna_app::onboarding`), nor Kizuna's own line for a
/// change to a CTA (`cta-log-…` in `kizuna_app::ctas`).
pub(crate) const CONTACT: &str = "kind <> 'support_ticket' AND activity_id NOT LIKE 'plan-visit-%' AND activity_id NOT LIKE 'plan-tick-%' AND activity_id NOT LIKE 'cta-log-%'";

/// `rows` as statements that each touch a key once: a key's first row goes in the first, its
/// second in the second, and so on, so running them in order gives what running the rows one by
/// one would (an empty cell of a later row keeps the earlier row's value, as it keeps a stored
/// one). Rows of one file with the same key are rare: then it is one statement, as before.
pub(crate) fn generations<'a, T, K: std::hash::Hash + Eq>(rows: &'a [T], key: impl Fn(&T) -> K) -> Vec<Vec<&'a T>> {
    let mut seen: std::collections::HashMap<K, usize> = std::collections::HashMap::with_capacity(rows.len());
    let mut out: Vec<Vec<&T>> = vec![Vec::with_capacity(rows.len())];
    for row in rows {
        let n = seen.entry(key(row)).or_insert(0);
        if *n == out.len() {
            out.push(Vec::new());
        }
        out[*n].push(row);
        *n += 1;
    }
    out
}

pub(crate) fn last_per_key<'a, T, K: std::hash::Hash + Eq>(rows: &'a [T], key: impl Fn(&T) -> K) -> Vec<&'a T> {
    let mut index = std::collections::HashMap::with_capacity(rows.len());
    let mut out: Vec<&T> = Vec::with_capacity(rows.len());
    for row in rows {
        match index.entry(key(row)) {
            std::collections::hash_map::Entry::Occupied(e) => out[*e.get()] = row,
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(out.len());
                out.push(row);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_lose_their_passwords() {
        use super::redact_url;
        assert_eq!(redact_url("postgres://kizuna:s3cr%40t@db.example:5432/kizuna"), "postgres://kizuna:***@db.example:5432/kizuna");
        assert_eq!(redact_url("postgresql://u:pw@h/db?sslmode=require&password=pw2"), "postgresql://u:***@h/db?sslmode=require&password=***");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db", "nothing secret, nothing changed");
        assert_eq!(redact_url("sqlite://kizuna.db"), "sqlite://kizuna.db");
        assert_eq!(redact_url("sqlite:///var/lib/kizuna/k.db?mode=rwc"), "sqlite:///var/lib/kizuna/k.db?mode=rwc");
        assert_eq!(redact_url("postgres://u:p@ss@h:99999/db"), "postgres://u:***@h:99999/db", "a URL the parser refuses");
        let e = super::StoreError::bad_url("mysql://root:hunter2@h/db");
        assert!(!e.to_string().contains("hunter2") && !format!("{e:?}").contains("hunter2"), "{e}");
    }

    #[test]
    fn generations_touch_each_key_once_in_order() {
        let rows = [("a", 1), ("b", 2), ("a", 3), ("a", 4), ("c", 5)];
        let g = super::generations(&rows, |r| r.0);
        let values: Vec<Vec<i32>> = g.iter().map(|s| s.iter().map(|r| r.1).collect()).collect();
        assert_eq!(values, [vec![1, 2, 5], vec![3], vec![4]]);
    }

    #[test]
    fn last_per_key_keeps_order_and_last_value() {
        let rows = [("a", 1), ("b", 2), ("a", 3)];
        let kept = super::last_per_key(&rows, |r| r.0);
        assert_eq!(kept, vec![&("a", 3), &("b", 2)]);
    }
}
