//! Calls to action: each CTA with its tasks and comments (tables `ctas`, `cta_tasks`,
//! `cta_comments`, keyed by account first). The [`Ctas`] part of the store reads them, written
//! once for both engines by `ctas_impl!`; they are written through the unit of work
//! ([`crate::Tx::insert_cta`], [`crate::Tx::update_cta`], [`crate::Tx::add_cta_comment`]).
//! At most one CTA per account, type, reason and scope is not closed (a unique index says so;
//! the scope is empty but for onboarding CTAs, which are about one plan).

use crate::Result;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use kizuna_domain::ctas::{CtaStatus, Outcome, Priority, Source};
use serde::Serialize;

/// A CTA with its tasks.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Cta {
    pub cta_id: String,
    pub account_id: String,
    /// The account's name (its id when it has none).
    pub account_name: String,
    #[serde(rename = "type")]
    pub cta_type: String,
    pub reason: String,
    pub title: String,
    pub priority: Priority,
    pub status: CtaStatus,
    pub owner_email: Option<String>,
    pub due_on: Option<NaiveDate>,
    pub snoozed_until: Option<NaiveDate>,
    pub snooze_reason: Option<String>,
    pub source: Source,
    /// What opened it (a signal's figures: the score drop and its drags, the usage drop, the
    /// renewal and its ARR); `{}` for one opened by hand.
    pub evidence: serde_json::Value,
    /// What makes a signal's CTA the same one on the next run (`renewal:2027-03-31`).
    pub signal_key: String,
    /// What it is about within its account, type and reason: the plan's id for an onboarding
    /// CTA opened by a signal (one per plan), empty for the account as a whole. One CTA per
    /// account, type, reason and scope is not closed.
    pub scope: String,
    pub created_by: Option<String>,
    #[serde(serialize_with = "kizuna_domain::time::serde_local")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "kizuna_domain::time::serde_local")]
    pub updated_at: DateTime<Utc>,
    /// Changes with every write (the last write's time in milliseconds). A change names the
    /// revision it was made to; one made to an older copy is refused, not written over
    /// whatever changed since.
    pub revision: i64,
    #[serde(serialize_with = "kizuna_domain::time::serde_local_opt")]
    pub closed_at: Option<DateTime<Utc>>,
    pub outcome: Option<Outcome>,
    pub close_note: Option<String>,
    pub tasks: Vec<CtaTask>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CtaTask {
    /// 1, 2, ... within its CTA.
    pub task_id: i64,
    pub title: String,
    pub description: Option<String>,
    /// The person who does it; none while it waits for someone with `owner_role`.
    pub owner_email: Option<String>,
    pub owner_role: String,
    pub due_on: Option<NaiveDate>,
    pub done: bool,
    #[serde(serialize_with = "kizuna_domain::time::serde_local_opt")]
    pub done_at: Option<DateTime<Utc>>,
    pub done_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CtaComment {
    pub comment_id: i64,
    pub author: String,
    pub body: String,
    #[serde(serialize_with = "kizuna_domain::time::serde_local")]
    pub at: DateTime<Utc>,
    /// For the vendor's team only; a shared one the account's partner reads too.
    pub internal: bool,
}

/// Filters and page for the CTA list. Sorted by due date (none last), then priority (highest
/// first), then age.
#[derive(Debug, Clone, Default)]
pub struct CtaQuery {
    /// Empty: every status.
    pub statuses: Vec<CtaStatus>,
    pub owner_email: Option<String>,
    pub account_id: Option<String>,
    /// A partner's actor sees its accounts' CTAs only.
    pub partner_id: Option<String>,
    pub cta_type: Option<String>,
    /// Due on or before this day.
    pub due_by: Option<NaiveDate>,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CtaPage {
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub ctas: Vec<Cta>,
}

/// What the daily signals need to know of a CTA to update it instead of opening another.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalCta {
    pub account_id: String,
    pub cta_id: String,
    pub cta_type: String,
    pub reason: String,
    pub signal_key: String,
    pub scope: String,
    pub status: CtaStatus,
    pub snoozed_until: Option<NaiveDate>,
    pub closed_at: Option<DateTime<Utc>>,
    /// As stored: a signal that finds the same again changes nothing.
    pub evidence: serde_json::Value,
}

/// The forecast call set on an account's renewal.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct RenewalCall {
    pub account_id: String,
    pub renewal_date: NaiveDate,
    /// likely, at_risk, will_churn or upsell.
    pub forecast_call: String,
    pub note: Option<String>,
    pub set_by: String,
    #[sqlx(skip)]
    #[serde(skip)]
    pub set_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait Ctas: Send + Sync {
    /// The calls set on renewals dated within [from, to].
    async fn renewal_calls(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<RenewalCall>>;
    async fn ctas(&self, q: &CtaQuery) -> Result<CtaPage>;
    /// Per owner (none: unowned), the CTAs `q` selects and, of those open or in progress, the
    /// ones due before `overdue_before` (a snoozed CTA is put aside: never overdue). Counted by
    /// the database, however many there are.
    async fn cta_owner_counts(&self, q: &CtaQuery, overdue_before: NaiveDate) -> Result<Vec<OwnerCtaCount>>;
    async fn cta(&self, cta_id: &str) -> Result<Option<Cta>>;
    /// Oldest first.
    async fn cta_comments(&self, account_id: &str, cta_id: &str) -> Result<Vec<CtaComment>>;
    /// Every CTA not closed, those closed at or after `closed_since`, and every closed CTA of
    /// an onboarding plan: what the daily signals compare their findings with.
    async fn signal_ctas(&self, closed_since: DateTime<Utc>) -> Result<Vec<SignalCta>>;
}

/// One owner's CTAs: see [`Ctas::cta_owner_counts`].
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OwnerCtaCount {
    pub owner_email: Option<String>,
    pub ctas: i64,
    pub overdue: i64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct CtaRow {
    pub(crate) cta_id: String,
    pub(crate) account_id: String,
    account_name: String,
    cta_type: String,
    reason: String,
    title: String,
    priority: i32,
    status: String,
    owner_email: Option<String>,
    due_on: Option<NaiveDate>,
    snoozed_until: Option<NaiveDate>,
    snooze_reason: Option<String>,
    source: String,
    evidence: String,
    signal_key: String,
    scope: String,
    created_by: Option<String>,
    created_at: i64,
    updated_at: i64,
    closed_at: Option<i64>,
    outcome: Option<String>,
    close_note: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct TaskRow {
    pub(crate) account_id: String,
    pub(crate) cta_id: String,
    task_id: i64,
    title: String,
    description: Option<String>,
    owner_email: Option<String>,
    owner_role: String,
    due_on: Option<NaiveDate>,
    done_at: Option<i64>,
    done_by: Option<String>,
}

pub(crate) const CTA_COLUMNS: &str = "c.cta_id, c.account_id, COALESCE(a.name, c.account_id) AS account_name, c.cta_type, c.reason, \
    c.title, c.priority, c.status, c.owner_email, c.due_on, c.snoozed_until, c.snooze_reason, c.source, c.evidence, c.signal_key, c.scope, \
    c.created_by, c.created_at, c.updated_at, c.closed_at, c.outcome, c.close_note";

pub(crate) const TASK_COLUMNS: &str = "account_id, cta_id, task_id, title, description, owner_email, owner_role, due_on, done_at, done_by";

/// Priorities are stored as their rank (0 low .. 3 critical) so lists sort by them.
pub(crate) fn priority_rank(p: Priority) -> i32 {
    Priority::ALL.iter().position(|x| *x == p).unwrap_or(0) as i32
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn bad(column: &'static str, value: String) -> crate::StoreError {
    crate::StoreError::BadStoredValue { column, value, expected: "a value Kizuna wrote".into() }
}

impl Cta {
    /// Marks a change made now to this copy: `updated_at` moves past the revision it was made
    /// to (by a millisecond at least, so two writes in one millisecond still differ), and
    /// `revision` is kept until the write lands ([`crate::Tx::update_cta`] checks it).
    pub fn touch(&mut self, now: DateTime<Utc>) {
        self.updated_at = now.max(time(self.revision + 1));
    }
}

impl CtaRow {
    pub(crate) fn into_cta(self, tasks: Vec<CtaTask>) -> Result<Cta> {
        Ok(Cta {
            priority: *Priority::ALL.get(self.priority as usize).ok_or_else(|| bad("ctas.priority", self.priority.to_string()))?,
            status: CtaStatus::parse(&self.status).ok_or_else(|| bad("ctas.status", self.status.clone()))?,
            source: Source::parse(&self.source).ok_or_else(|| bad("ctas.source", self.source.clone()))?,
            outcome: self.outcome.map(|o| Outcome::parse(&o).ok_or_else(|| bad("ctas.outcome", o.clone()))).transpose()?,
            evidence: serde_json::from_str(&self.evidence).unwrap_or(serde_json::Value::Null),
            cta_id: self.cta_id,
            account_id: self.account_id,
            account_name: self.account_name,
            cta_type: self.cta_type,
            reason: self.reason,
            title: self.title,
            owner_email: self.owner_email,
            due_on: self.due_on,
            snoozed_until: self.snoozed_until,
            snooze_reason: self.snooze_reason,
            signal_key: self.signal_key,
            scope: self.scope,
            created_by: self.created_by,
            created_at: time(self.created_at),
            updated_at: time(self.updated_at),
            revision: self.updated_at,
            closed_at: self.closed_at.map(time),
            close_note: self.close_note,
            tasks,
        })
    }
}

impl From<TaskRow> for CtaTask {
    fn from(r: TaskRow) -> Self {
        CtaTask {
            task_id: r.task_id,
            title: r.title,
            description: r.description,
            owner_email: r.owner_email,
            owner_role: r.owner_role,
            due_on: r.due_on,
            done: r.done_at.is_some(),
            done_at: r.done_at.map(time),
            done_by: r.done_by,
        }
    }
}

/// Rows and their tasks as CTAs, in the rows' order.
pub(crate) fn assemble(rows: Vec<CtaRow>, tasks: Vec<TaskRow>) -> Result<Vec<Cta>> {
    let mut by_cta: std::collections::HashMap<(String, String), Vec<CtaTask>> = Default::default();
    for t in tasks {
        by_cta.entry((t.account_id.clone(), t.cta_id.clone())).or_default().push(t.into());
    }
    rows.into_iter()
        .map(|r| {
            let mut tasks = by_cta.remove(&(r.account_id.clone(), r.cta_id.clone())).unwrap_or_default();
            tasks.sort_by_key(|t| t.task_id);
            r.into_cta(tasks)
        })
        .collect()
}

/// A new CTA id: `cta-` and 16 hex digits.
pub fn new_cta_id() -> String {
    format!("cta-{:016x}", rand::random::<u64>())
}

macro_rules! ctas_impl {
    ($Store:ident, $Db:ty) => {
        const _: () = {
            use sqlx::QueryBuilder;
            use $crate::ctas::{assemble, CtaRow, TaskRow, CTA_COLUMNS, TASK_COLUMNS};
            use $crate::engine::Engine;
            use $crate::Result;

            /// The tasks of these CTAs (one query: accounts and ids, matched in memory).
            async fn tasks_of(pool: &sqlx::Pool<$Db>, rows: &[CtaRow]) -> Result<Vec<TaskRow>> {
                if rows.is_empty() {
                    return Ok(vec![]);
                }
                let mut q = QueryBuilder::<$Db>::new(format!("SELECT {TASK_COLUMNS} FROM cta_tasks WHERE account_id IN ("));
                let mut ids = q.separated(", ");
                for r in rows {
                    ids.push_bind(r.account_id.clone());
                }
                q.push(") AND cta_id IN (");
                let mut ids = q.separated(", ");
                for r in rows {
                    ids.push_bind(r.cta_id.clone());
                }
                q.push(") ORDER BY account_id, cta_id, task_id");
                Ok(q.build_query_as().fetch_all(pool).await?)
            }

            fn push_filters(q: &mut QueryBuilder<'_, $Db>, f: &$crate::ctas::CtaQuery) {
                if !f.statuses.is_empty() {
                    q.push(" AND c.status IN (");
                    let mut s = q.separated(", ");
                    for st in &f.statuses {
                        s.push_bind(st.as_str());
                    }
                    q.push(")");
                }
                if let Some(o) = &f.owner_email {
                    q.push(" AND c.owner_email = ").push_bind(o.clone());
                }
                if let Some(a) = &f.account_id {
                    q.push(" AND c.account_id = ").push_bind(a.clone());
                }
                if let Some(p) = &f.partner_id {
                    q.push(" AND a.partner_id = ").push_bind(p.clone());
                }
                if let Some(t) = &f.cta_type {
                    q.push(" AND c.cta_type = ").push_bind(t.clone());
                }
                if let Some(d) = f.due_by {
                    q.push(" AND c.due_on <= ").push_bind(d);
                }
            }

            #[async_trait::async_trait]
            impl $crate::ctas::Ctas for $Store {
                async fn ctas(&self, f: &$crate::ctas::CtaQuery) -> Result<$crate::ctas::CtaPage> {
                    let from = " FROM ctas c LEFT JOIN accounts a ON a.account_id = c.account_id WHERE 1 = 1";
                    let mut count = QueryBuilder::<$Db>::new(format!("SELECT COUNT(*){from}"));
                    push_filters(&mut count, f);
                    let total: i64 = count.build_query_scalar().fetch_one(self.pool()).await?;
                    let per_page = f.per_page.clamp(1, 500);
                    let page = f.page.max(1);
                    let mut q = QueryBuilder::<$Db>::new(format!("SELECT {CTA_COLUMNS}{from}"));
                    push_filters(&mut q, f);
                    q.push(
                        " ORDER BY CASE WHEN c.due_on IS NULL THEN 1 ELSE 0 END, c.due_on, c.priority DESC, c.created_at, c.cta_id LIMIT ",
                    )
                    .push_bind(per_page as i64)
                    .push(" OFFSET ")
                    .push_bind((page as i64 - 1) * per_page as i64);
                    let rows: Vec<CtaRow> = q.build_query_as().fetch_all(self.pool()).await?;
                    let tasks = tasks_of(self.pool(), &rows).await?;
                    Ok($crate::ctas::CtaPage { total: total as u64, page, per_page, ctas: assemble(rows, tasks)? })
                }

                async fn cta_owner_counts(&self, f: &$crate::ctas::CtaQuery, overdue_before: chrono::NaiveDate) -> Result<Vec<$crate::ctas::OwnerCtaCount>> {
                    let mut q = QueryBuilder::<$Db>::new(
                        "SELECT c.owner_email, COUNT(*) AS ctas, CAST(SUM(CASE WHEN c.status IN ('open', 'in_progress') AND c.due_on < ",
                    );
                    q.push_bind(overdue_before);
                    q.push(" THEN 1 ELSE 0 END) AS BIGINT) AS overdue FROM ctas c LEFT JOIN accounts a ON a.account_id = c.account_id WHERE 1 = 1");
                    push_filters(&mut q, f);
                    q.push(" GROUP BY c.owner_email ORDER BY c.owner_email");
                    Ok(q.build_query_as().fetch_all(self.pool()).await?)
                }

                async fn renewal_calls(&self, from: chrono::NaiveDate, to: chrono::NaiveDate) -> Result<Vec<$crate::ctas::RenewalCall>> {
                    Ok(sqlx::query_as(
                        "SELECT account_id, renewal_date, forecast_call, note, set_by FROM renewal_calls \
                         WHERE renewal_date >= $1 AND renewal_date <= $2 ORDER BY renewal_date, account_id",
                    )
                    .bind(from)
                    .bind(to)
                    .fetch_all(self.pool())
                    .await?)
                }

                async fn cta(&self, cta_id: &str) -> Result<Option<$crate::ctas::Cta>> {
                    let sql = format!("SELECT {CTA_COLUMNS} FROM ctas c LEFT JOIN accounts a ON a.account_id = c.account_id WHERE c.cta_id = $1");
                    let rows: Vec<CtaRow> = sqlx::query_as(&sql).bind(cta_id).fetch_all(self.pool()).await?;
                    let tasks = tasks_of(self.pool(), &rows).await?;
                    Ok(assemble(rows, tasks)?.into_iter().next())
                }

                async fn cta_comments(&self, account_id: &str, cta_id: &str) -> Result<Vec<$crate::ctas::CtaComment>> {
                    let rows: Vec<(i64, String, String, i64, bool)> = sqlx::query_as(
                        "SELECT comment_id, author, body, at, internal FROM cta_comments WHERE account_id = $1 AND cta_id = $2 ORDER BY comment_id",
                    )
                    .bind(account_id)
                    .bind(cta_id)
                    .fetch_all(self.pool())
                    .await?;
                    Ok(rows
                        .into_iter()
                        .map(|(comment_id, author, body, at, internal)| $crate::ctas::CtaComment {
                            comment_id,
                            author,
                            body,
                            at: chrono::DateTime::from_timestamp_millis(at).unwrap_or_default(),
                            internal,
                        })
                        .collect())
                }

                async fn signal_ctas(&self, closed_since: chrono::DateTime<chrono::Utc>) -> Result<Vec<$crate::ctas::SignalCta>> {
                    type Row = (String, String, String, String, String, String, String, Option<chrono::NaiveDate>, Option<i64>, String);
                    // A plan's onboarding CTA, closed, stays closed for that plan however long
                    // the plan stays late: those are read whenever they were closed.
                    let rows: Vec<Row> = sqlx::query_as(
                        "SELECT account_id, cta_id, cta_type, reason, signal_key, scope, status, snoozed_until, closed_at, evidence FROM ctas \
                         WHERE status <> 'closed' OR closed_at >= $1 OR (cta_type = $2 AND scope <> '')",
                    )
                    .bind(closed_since.timestamp_millis())
                    .bind(kizuna_domain::ctas::ONBOARDING_BEHIND.0)
                    .fetch_all(self.pool())
                    .await?;
                    rows.into_iter()
                        .map(|(account_id, cta_id, cta_type, reason, signal_key, scope, status, snoozed_until, closed_at, evidence)| {
                            Ok($crate::ctas::SignalCta {
                                status: kizuna_domain::ctas::CtaStatus::parse(&status).ok_or_else(|| $crate::StoreError::BadStoredValue {
                                    column: "ctas.status",
                                    value: status.clone(),
                                    expected: "a value Kizuna wrote".into(),
                                })?,
                                account_id,
                                cta_id,
                                cta_type,
                                reason,
                                signal_key,
                                scope,
                                snoozed_until,
                                closed_at: closed_at.and_then(chrono::DateTime::from_timestamp_millis),
                                evidence: serde_json::from_str(&evidence).unwrap_or(serde_json::Value::Null),
                            })
                        })
                        .collect()
                }
            }
        };
    };
}
pub(crate) use ctas_impl;
