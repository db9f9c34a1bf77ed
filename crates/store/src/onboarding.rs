//! Onboarding plans (tables `onboarding_plans`, `onboarding_tasks`, keyed by account first).
//! The [`Onboarding`] part of the store reads them, written once for both engines by
//! `onboarding_impl!`; a plan is written whole through the unit of work ([`crate::Tx::save_plan`]).
//! Templates are a setting (`onboarding_templates`), read with [`crate::Usage::setting`].

use crate::Result;
use async_trait::async_trait;
use chrono::NaiveDate;
use kizuna_domain::onboarding::{Criterion, DoneBy, Plan, PlanStatus, PlanTask, Side};

/// Filters for the plan list (newest start first).
#[derive(Debug, Clone, Default)]
pub struct PlanQuery {
    pub account_id: Option<String>,
    /// Empty: every status.
    pub statuses: Vec<PlanStatus>,
    pub owner_email: Option<String>,
    /// A partner's actor sees its accounts' plans only.
    pub partner_id: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

/// One plan as the KPI report reads it, with the account's dimensions and, for the report's
/// end day, how many required tasks were late then and the last day a task was done by then.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PlanFactRow {
    pub plan_id: String,
    pub account_id: String,
    pub product: String,
    pub template_id: String,
    pub started_on: NaiveDate,
    pub due_on: NaiveDate,
    pub completed_on: Option<NaiveDate>,
    pub first_value_at: Option<NaiveDate>,
    pub status: String,
    pub stuck_after_days: i32,
    pub segment: Option<String>,
    pub touch_model: Option<String>,
    pub owner_email: Option<String>,
    pub partner_id: Option<String>,
    pub late_tasks: i64,
    pub last_done_on: Option<NaiveDate>,
}

/// Usage of some accounts by day: `(account, event, day, user, events)`; a row with a user
/// counts no events, a row without one counts the day's events.
pub type EventDay = (String, String, NaiveDate, Option<String>, u64);

#[async_trait]
pub trait Onboarding: Send + Sync {
    async fn plans(&self, q: &PlanQuery) -> Result<Vec<Plan>>;
    async fn count_plans(&self, q: &PlanQuery) -> Result<u64>;
    async fn plan(&self, plan_id: &str) -> Result<Option<Plan>>;
    /// Plans still running (on track, behind, stuck), or also those completed on or after
    /// `completed_since` (a late data point can still date their tasks).
    async fn running_plans(&self) -> Result<Vec<Plan>>;
    /// Which (account, product) pairs already have a plan (any status).
    async fn plan_products(&self) -> Result<Vec<(String, String)>>;
    /// Each account's first subscription to each product, when it started within [from, to]:
    /// `(account, product, start)`. What starts a plan by itself.
    async fn subscription_starts(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<(String, String, NaiveDate)>>;
    /// Plans (not cancelled) due within [from, to] of one owner's or partner's accounts (all
    /// when none is given): each one's due day and completion day. What the home's KPI reads.
    async fn plan_dues(&self, from: NaiveDate, to: NaiveDate, owner: Option<&str>, partner: Option<&str>) -> Result<Vec<(NaiveDate, Option<NaiveDate>)>>;
    /// Every plan started on or before `end`, as the report reads it on `end`.
    async fn plan_facts(&self, end: NaiveDate) -> Result<Vec<PlanFactRow>>;
    /// The events `events` of `accounts` from `from` to `to`, by day (and their users).
    async fn event_days(&self, accounts: &[String], events: &[String], from: NaiveDate, to: NaiveDate) -> Result<Vec<EventDay>>;
}

#[derive(sqlx::FromRow)]
pub(crate) struct PlanRow {
    pub(crate) plan_id: String,
    pub(crate) account_id: String,
    account_name: String,
    template_id: String,
    template_version: i32,
    name: String,
    product: String,
    started_on: NaiveDate,
    due_on: NaiveDate,
    status: String,
    completed_on: Option<NaiveDate>,
    first_value_at: Option<NaiveDate>,
    value_milestone: Option<String>,
    behind_after_days: i32,
    stuck_after_days: i32,
    completes_to_stage: Option<String>,
    owner_email: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct PlanTaskRow {
    pub(crate) account_id: String,
    pub(crate) plan_id: String,
    position: i32,
    task_id: String,
    phase_id: String,
    phase_name: String,
    title: String,
    title_en: Option<String>,
    description: Option<String>,
    side: String,
    required: i32,
    setup: i32,
    due_on: NaiveDate,
    depends_on: String,
    criterion: String,
    done_on: Option<NaiveDate>,
    done_by: Option<String>,
    done_how: Option<String>,
}

pub(crate) const PLAN_COLUMNS: &str = "p.plan_id, p.account_id, COALESCE(a.name, p.account_id) AS account_name, p.template_id, p.template_version, \
    p.name, p.product, p.started_on, p.due_on, p.status, p.completed_on, p.first_value_at, p.value_milestone, p.behind_after_days, \
    p.stuck_after_days, p.completes_to_stage, p.owner_email";

pub(crate) const PLAN_TASK_COLUMNS: &str = "account_id, plan_id, position, task_id, phase_id, phase_name, title, title_en, description, side, \
    required, setup, due_on, depends_on, criterion, done_on, done_by, done_how";

fn bad(column: &'static str, value: String) -> crate::StoreError {
    crate::StoreError::BadStoredValue { column, value, expected: "a value Kizuna wrote".into() }
}

impl PlanTaskRow {
    fn into_task(self) -> Result<(i32, PlanTask)> {
        Ok((
            self.position,
            PlanTask {
                side: Side::parse(&self.side).ok_or_else(|| bad("onboarding_tasks.side", self.side.clone()))?,
                criterion: serde_json::from_str::<Criterion>(&self.criterion).map_err(|_| bad("onboarding_tasks.criterion", self.criterion.clone()))?,
                depends_on: serde_json::from_str(&self.depends_on).map_err(|_| bad("onboarding_tasks.depends_on", self.depends_on.clone()))?,
                done_how: self.done_how.map(|h| DoneBy::parse(&h).ok_or_else(|| bad("onboarding_tasks.done_how", h.clone()))).transpose()?,
                task_id: self.task_id,
                phase_id: self.phase_id,
                phase_name: self.phase_name,
                title: self.title,
                title_en: self.title_en,
                description: self.description,
                required: self.required != 0,
                setup: self.setup != 0,
                due_on: self.due_on,
                done_on: self.done_on,
                done_by: self.done_by,
            },
        ))
    }
}

/// Rows and their tasks as plans, in the rows' order.
pub(crate) fn assemble(rows: Vec<PlanRow>, tasks: Vec<PlanTaskRow>) -> Result<Vec<Plan>> {
    let mut by_plan: std::collections::HashMap<(String, String), Vec<(i32, PlanTask)>> = Default::default();
    for t in tasks {
        let key = (t.account_id.clone(), t.plan_id.clone());
        by_plan.entry(key).or_default().push(t.into_task()?);
    }
    rows.into_iter()
        .map(|r| {
            let mut tasks = by_plan.remove(&(r.account_id.clone(), r.plan_id.clone())).unwrap_or_default();
            tasks.sort_by_key(|t| t.0);
            Ok(Plan {
                status: PlanStatus::parse(&r.status).ok_or_else(|| bad("onboarding_plans.status", r.status.clone()))?,
                plan_id: r.plan_id,
                account_id: r.account_id,
                account_name: r.account_name,
                template_id: r.template_id,
                template_version: r.template_version.max(0) as u32,
                name: r.name,
                product: r.product,
                started_on: r.started_on,
                due_on: r.due_on,
                completed_on: r.completed_on,
                first_value_at: r.first_value_at,
                value_milestone: r.value_milestone,
                behind_after_days: r.behind_after_days.max(0) as u32,
                stuck_after_days: r.stuck_after_days.max(0) as u32,
                completes_to_stage: r.completes_to_stage,
                owner_email: r.owner_email,
                tasks: tasks.into_iter().map(|t| t.1).collect(),
            })
        })
        .collect()
}

/// A new plan id: `plan-` and 16 hex digits.
pub fn new_plan_id() -> String {
    format!("plan-{:016x}", rand::random::<u64>())
}

/// The first day a required task counts as late (stored so the report can count late tasks
/// on any day in SQL).
pub(crate) fn late_from(plan: &Plan, t: &PlanTask) -> NaiveDate {
    t.due_on + chrono::Duration::days(plan.behind_after_days as i64 + 1)
}

macro_rules! onboarding_impl {
    ($Store:ident, $Db:ty) => {
        const _: () = {
            use sqlx::QueryBuilder;
            use $crate::engine::Engine;
            use $crate::onboarding::{assemble, PlanRow, PlanTaskRow, PLAN_COLUMNS, PLAN_TASK_COLUMNS};
            use $crate::Result;

            async fn tasks_of(pool: &sqlx::Pool<$Db>, rows: &[PlanRow]) -> Result<Vec<PlanTaskRow>> {
                let mut out = Vec::new();
                for chunk in rows.chunks(500) {
                    let mut q = QueryBuilder::<$Db>::new(format!("SELECT {PLAN_TASK_COLUMNS} FROM onboarding_tasks WHERE account_id IN ("));
                    let mut ids = q.separated(", ");
                    for r in chunk {
                        ids.push_bind(r.account_id.clone());
                    }
                    q.push(") AND plan_id IN (");
                    let mut ids = q.separated(", ");
                    for r in chunk {
                        ids.push_bind(r.plan_id.clone());
                    }
                    q.push(")");
                    out.extend(q.build_query_as::<PlanTaskRow>().fetch_all(pool).await?);
                }
                Ok(out)
            }

            fn push_filters(q: &mut QueryBuilder<'_, $Db>, f: &$crate::onboarding::PlanQuery) {
                if !f.statuses.is_empty() {
                    q.push(" AND p.status IN (");
                    let mut s = q.separated(", ");
                    for st in &f.statuses {
                        s.push_bind(st.as_str());
                    }
                    q.push(")");
                }
                if let Some(a) = &f.account_id {
                    q.push(" AND p.account_id = ").push_bind(a.clone());
                }
                if let Some(o) = &f.owner_email {
                    q.push(" AND p.owner_email = ").push_bind(o.clone());
                }
                if let Some(p) = &f.partner_id {
                    q.push(" AND a.partner_id = ").push_bind(p.clone());
                }
            }

            const FROM: &str = " FROM onboarding_plans p LEFT JOIN accounts a ON a.account_id = p.account_id WHERE 1 = 1";

            #[async_trait::async_trait]
            impl $crate::onboarding::Onboarding for $Store {
                async fn plans(&self, f: &$crate::onboarding::PlanQuery) -> Result<Vec<kizuna_domain::onboarding::Plan>> {
                    let mut q = QueryBuilder::<$Db>::new(format!("SELECT {PLAN_COLUMNS}{FROM}"));
                    push_filters(&mut q, f);
                    q.push(" ORDER BY p.started_on DESC, p.account_id, p.plan_id LIMIT ")
                        .push_bind(f.limit.clamp(1, 5000) as i64)
                        .push(" OFFSET ")
                        .push_bind(f.offset as i64);
                    let rows: Vec<PlanRow> = q.build_query_as().fetch_all(self.pool()).await?;
                    let tasks = tasks_of(self.pool(), &rows).await?;
                    assemble(rows, tasks)
                }

                async fn count_plans(&self, f: &$crate::onboarding::PlanQuery) -> Result<u64> {
                    let mut q = QueryBuilder::<$Db>::new(format!("SELECT COUNT(*){FROM}"));
                    push_filters(&mut q, f);
                    let n: i64 = q.build_query_scalar().fetch_one(self.pool()).await?;
                    Ok(n as u64)
                }

                async fn plan(&self, plan_id: &str) -> Result<Option<kizuna_domain::onboarding::Plan>> {
                    let sql = format!("SELECT {PLAN_COLUMNS}{FROM} AND p.plan_id = $1");
                    let rows: Vec<PlanRow> = sqlx::query_as(&sql).bind(plan_id).fetch_all(self.pool()).await?;
                    let tasks = tasks_of(self.pool(), &rows).await?;
                    Ok(assemble(rows, tasks)?.into_iter().next())
                }

                async fn running_plans(&self) -> Result<Vec<kizuna_domain::onboarding::Plan>> {
                    let sql = format!("SELECT {PLAN_COLUMNS}{FROM} AND p.status IN ('on_track', 'behind', 'stuck') ORDER BY p.account_id, p.plan_id");
                    let rows: Vec<PlanRow> = sqlx::query_as(&sql).fetch_all(self.pool()).await?;
                    // Every running plan's tasks at once: one scan instead of many lookups.
                    let wanted: std::collections::HashSet<(String, String)> = rows.iter().map(|r| (r.account_id.clone(), r.plan_id.clone())).collect();
                    let tasks: Vec<PlanTaskRow> = if rows.len() > 2000 {
                        let all: Vec<PlanTaskRow> = sqlx::query_as(&format!(
                            "SELECT {PLAN_TASK_COLUMNS} FROM onboarding_tasks t WHERE EXISTS (SELECT 1 FROM onboarding_plans p \
                             WHERE p.account_id = t.account_id AND p.plan_id = t.plan_id AND p.status IN ('on_track', 'behind', 'stuck'))"
                        ))
                        .fetch_all(self.pool())
                        .await?;
                        all.into_iter().filter(|t| wanted.contains(&(t.account_id.clone(), t.plan_id.clone()))).collect()
                    } else {
                        tasks_of(self.pool(), &rows).await?
                    };
                    assemble(rows, tasks)
                }

                async fn plan_products(&self) -> Result<Vec<(String, String)>> {
                    Ok(sqlx::query_as("SELECT DISTINCT account_id, product FROM onboarding_plans").fetch_all(self.pool()).await?)
                }

                async fn subscription_starts(&self, from: chrono::NaiveDate, to: chrono::NaiveDate) -> Result<Vec<(String, String, chrono::NaiveDate)>> {
                    Ok(sqlx::query_as(
                        "SELECT account_id, product, MIN(start_date) AS started FROM subscriptions GROUP BY account_id, product \
                         HAVING MIN(start_date) >= $1 AND MIN(start_date) <= $2 ORDER BY account_id, product",
                    )
                    .bind(from)
                    .bind(to)
                    .fetch_all(self.pool())
                    .await?)
                }

                async fn plan_dues(&self, from: chrono::NaiveDate, to: chrono::NaiveDate, owner: Option<&str>, partner: Option<&str>) -> Result<Vec<(chrono::NaiveDate, Option<chrono::NaiveDate>)>> {
                    let mut q = QueryBuilder::<$Db>::new(
                        "SELECT p.due_on, p.completed_on FROM onboarding_plans p LEFT JOIN accounts a ON a.account_id = p.account_id WHERE p.status <> 'cancelled' AND p.due_on >= ",
                    );
                    q.push_bind(from).push(" AND p.due_on <= ").push_bind(to);
                    if let Some(o) = owner {
                        q.push(" AND a.owner_email = ").push_bind(o.to_string());
                    }
                    if let Some(p) = partner {
                        q.push(" AND a.partner_id = ").push_bind(p.to_string());
                    }
                    Ok(q.build_query_as().fetch_all(self.pool()).await?)
                }

                async fn plan_facts(&self, end: chrono::NaiveDate) -> Result<Vec<$crate::onboarding::PlanFactRow>> {
                    Ok(sqlx::query_as(
                        "SELECT p.plan_id, p.account_id, p.product, p.template_id, p.started_on, p.due_on, p.completed_on, p.first_value_at, \
                         p.status, p.stuck_after_days, a.segment, a.touch_model, a.owner_email, a.partner_id, \
                         COALESCE(t.late_tasks, 0) AS late_tasks, t.last_done_on \
                         FROM onboarding_plans p LEFT JOIN accounts a ON a.account_id = p.account_id \
                         LEFT JOIN (SELECT account_id, plan_id, \
                             SUM(CASE WHEN required = 1 AND late_from <= $1 AND (done_on IS NULL OR done_on > $1) THEN 1 ELSE 0 END) AS late_tasks, \
                             MAX(CASE WHEN done_on <= $1 THEN done_on END) AS last_done_on \
                           FROM onboarding_tasks GROUP BY account_id, plan_id) t ON t.account_id = p.account_id AND t.plan_id = p.plan_id \
                         WHERE p.started_on <= $1 ORDER BY p.account_id, p.plan_id",
                    )
                    .bind(end)
                    .fetch_all(self.pool())
                    .await?)
                }

                async fn event_days(&self, accounts: &[String], events: &[String], from: chrono::NaiveDate, to: chrono::NaiveDate) -> Result<Vec<$crate::onboarding::EventDay>> {
                    let mut out = Vec::new();
                    if events.is_empty() {
                        return Ok(out);
                    }
                    for chunk in accounts.chunks(500) {
                        for (table, value) in [("usage_daily", "CAST(NULL AS TEXT), events"), ("usage_daily_users", "user_id, CAST(0 AS BIGINT)")] {
                            let mut q = QueryBuilder::<$Db>::new(format!("SELECT account_id, event_type, day, {value} FROM {table} WHERE account_id IN ("));
                            let mut s = q.separated(", ");
                            for a in chunk {
                                s.push_bind(a.clone());
                            }
                            q.push(") AND event_type IN (");
                            let mut s = q.separated(", ");
                            for e in events {
                                s.push_bind(e.clone());
                            }
                            q.push(") AND day >= ").push_bind(from).push(" AND day <= ").push_bind(to);
                            let rows: Vec<(String, String, chrono::NaiveDate, Option<String>, i64)> = q.build_query_as().fetch_all(self.pool()).await?;
                            out.extend(rows.into_iter().map(|(a, e, d, u, n)| (a, e, d, u, n.max(0) as u64)));
                        }
                    }
                    Ok(out)
                }
            }
        };
    };
}
pub(crate) use onboarding_impl;
