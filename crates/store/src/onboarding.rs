//! Onboarding plans (tables `onboarding_plans`, `onboarding_tasks`, keyed by account first).
//! The [`Onboarding`] part of the store reads them, written once for both engines by
//! `onboarding_impl!`; a plan is written whole through the unit of work ([`crate::Tx::save_plan`]).
//! Templates are a setting (`onboarding_templates`), read with [`crate::Usage::setting`].

use crate::Result;
use async_trait::async_trait;
use chrono::NaiveDate;
use kizuna_domain::onboarding::{Criterion, DoneBy, Plan, PlanStatus, PlanTask, RunPlan, Side};

/// Filters for the plan list (newest start first, or soonest due first).
#[derive(Debug, Clone, Default)]
pub struct PlanQuery {
    pub account_id: Option<String>,
    /// Soonest due first (a list of late plans), instead of newest start first.
    pub soonest_due: bool,
    /// Empty: every status.
    pub statuses: Vec<PlanStatus>,
    pub owner_email: Option<String>,
    /// A partner's actor sees its accounts' plans only.
    pub partner_id: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

/// One plan as the KPI report reads it, with the account's dimensions and, for the report's
/// end day, whether required tasks were late then (`late_tasks` > 0; 0 for a plan completed by
/// then) and the last day a task was done by then.
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

/// What the daily run changed in a stored plan: the plan (its status, completion day and first
/// value, and what its tasks say, are written when `plan_changed` or a task was done) and the
/// tasks the data completed, with their days.
#[derive(Debug, Clone, Copy)]
pub struct Advanced<'a> {
    pub plan: &'a Plan,
    pub done: &'a [(String, NaiveDate)],
    pub plan_changed: bool,
    /// The plan's progress whenever done, after the run (its row keeps the late and done days).
    pub all: kizuna_domain::onboarding::Progress,
}

/// How `Criterion::Manual` is stored (the run reads only the other open tasks).
pub(crate) const MANUAL: &str = r#"{"kind":"manual"}"#;

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
    /// The running plans as the daily run on `at` reads them: each without its tasks, with
    /// its open tasks that data completes, and the progress of its other tasks on `at`.
    async fn run_plans(&self, at: NaiveDate) -> Result<Vec<RunPlan>>;
    /// The running plans with a task late on `at` (a required one past its grace days, or a
    /// setup task past its due day), each with those tasks only. What the signals read.
    async fn late_plans(&self, at: NaiveDate) -> Result<Vec<Plan>>;
    /// Which (account, product) pairs already have a plan (any status).
    async fn plan_products(&self) -> Result<Vec<(String, String)>>;
    /// Each account's first subscription to each product, when it started within [from, to]:
    /// `(account, product, start)`. What starts a plan by itself.
    async fn subscription_starts(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<(String, String, NaiveDate)>>;
    /// Plans (cancelled ones too: they were not completed) due within [from, to] owned by one
    /// person (the plan's owner) or of one partner's accounts (all when none is given): each
    /// one's due day and completion day. What the home's KPI reads.
    async fn plan_dues(&self, from: NaiveDate, to: NaiveDate, owner: Option<&str>, partner: Option<&str>) -> Result<Vec<(NaiveDate, Option<NaiveDate>)>>;
    /// Every plan started on or before `end`, as the report reads it on `end`.
    async fn plan_facts(&self, end: NaiveDate) -> Result<Vec<PlanFactRow>>;
    /// The events `events` of `accounts` from `from` to `to` by day, and the users by day of
    /// `user_events` (those whose criteria count users).
    async fn event_days(&self, accounts: &[String], events: &[String], user_events: &[String], from: NaiveDate, to: NaiveDate) -> Result<Vec<EventDay>>;
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

/// A running plan's row with the progress of its tasks the run does not read one by one.
#[derive(sqlx::FromRow)]
pub(crate) struct RunPlanRow {
    #[sqlx(flatten)]
    pub(crate) plan: PlanRow,
    open_required: i64,
    rest_late_from: Option<NaiveDate>,
    last_done_on: Option<NaiveDate>,
    required_done_on: Option<NaiveDate>,
    /// The latest day any of those was done: after the run's day only when the run is for a
    /// past day (then their progress whenever done is read from the tasks).
    all_last_done_on: Option<NaiveDate>,
}

/// An open task that data completes.
#[derive(sqlx::FromRow)]
pub(crate) struct OpenTaskRow {
    account_id: String,
    plan_id: String,
    position: i32,
    task_id: String,
    required: i32,
    due_on: NaiveDate,
    criterion: String,
}

/// Running plans and their open data tasks as the run's plans on `at`, in the rows' order,
/// and which of them had a task done after `at` (their `rest_all` is still to be read). The
/// criteria repeat from plan to plan (one template): each distinct text is parsed once.
pub(crate) fn assemble_run(rows: Vec<RunPlanRow>, tasks: Vec<OpenTaskRow>, at: NaiveDate) -> Result<(Vec<RunPlan>, Vec<usize>)> {
    use kizuna_domain::onboarding::{OpenTask, Progress};
    let mut parsed: std::collections::HashMap<String, Criterion> = Default::default();
    let mut by_plan: std::collections::HashMap<(String, String), Vec<(i32, OpenTask)>> = Default::default();
    for t in tasks {
        let criterion = match parsed.get(&t.criterion) {
            Some(c) => c.clone(),
            None => {
                let c: Criterion = serde_json::from_str(&t.criterion).map_err(|_| bad("onboarding_tasks.criterion", t.criterion.clone()))?;
                parsed.insert(t.criterion, c.clone());
                c
            }
        };
        let task = OpenTask { task_id: t.task_id, required: t.required != 0, due_on: t.due_on, criterion };
        by_plan.entry((t.account_id, t.plan_id)).or_default().push((t.position, task));
    }
    let mut out = Vec::with_capacity(rows.len());
    let mut later = Vec::new();
    for r in rows {
        if r.all_last_done_on.is_some_and(|d| d > at) {
            later.push(out.len());
        }
        let mut open = by_plan.remove(&(r.plan.account_id.clone(), r.plan.plan_id.clone())).unwrap_or_default();
        open.sort_by_key(|t| t.0);
        let rest = Progress {
            open_required: r.open_required.max(0) as u32,
            late_from: r.rest_late_from,
            last_done_on: r.last_done_on,
            required_done_on: r.required_done_on,
        };
        let plan = assemble(vec![r.plan], vec![])?.pop().ok_or_else(|| bad("onboarding_plans", String::new()))?;
        // Nothing done after `at`: the progress on `at` is the progress whenever done.
        out.push(RunPlan { plan, open: open.into_iter().map(|t| t.1).collect(), rest, rest_all: rest });
    }
    Ok((out, later))
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
    kizuna_domain::onboarding::late_from(t.due_on, plan.behind_after_days)
}

#[cfg(test)]
mod tests {
    #[test]
    fn manual_is_stored_as_the_run_expects() {
        assert_eq!(serde_json::to_string(&kizuna_domain::onboarding::Criterion::Manual).unwrap(), super::MANUAL);
    }
}

macro_rules! onboarding_impl {
    ($Store:ident, $Db:ty) => {
        const _: () = {
            use sqlx::QueryBuilder;
            use $crate::engine::Engine;
            use $crate::onboarding::{assemble, assemble_run, OpenTaskRow, PlanRow, PlanTaskRow, RunPlanRow, MANUAL, PLAN_COLUMNS, PLAN_TASK_COLUMNS};
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
                    q.push(if f.soonest_due { " ORDER BY p.due_on, p.account_id, p.plan_id LIMIT " } else { " ORDER BY p.started_on DESC, p.account_id, p.plan_id LIMIT " })
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

                async fn run_plans(&self, at: chrono::NaiveDate) -> Result<Vec<kizuna_domain::onboarding::RunPlan>> {
                    // When most plans are running, reading the plans in key order (no index on
                    // the status) groups their tasks as they come; when few are, the status
                    // index finds them. (0.7 s against 1.1 s in SQLite for 100,000 running plans.)
                    let (running, all): (i64, i64) = sqlx::query_as(
                        "SELECT COALESCE(SUM(CASE WHEN status IN ('on_track', 'behind', 'stuck') THEN 1 ELSE 0 END), 0), COUNT(*) FROM onboarding_plans",
                    )
                    .fetch_one(self.pool())
                    .await?;
                    let status = if running * 2 > all { "p.status || ''" } else { "p.status" };
                    // The tasks not read one by one (ticked by hand, or done) summed up on `at`: a
                    // task done after `at` is still open then. The run needs no account name.
                    let columns = PLAN_COLUMNS.replace("COALESCE(a.name, p.account_id)", "p.account_id");
                    let sql = format!(
                        "SELECT {columns}, \
                           SUM(CASE WHEN t.required = 1 AND (t.done_on IS NULL OR t.done_on > $1) THEN 1 ELSE 0 END) AS open_required, \
                           MIN(CASE WHEN t.required = 1 AND (t.done_on IS NULL OR t.done_on > $1) THEN t.late_from END) AS rest_late_from, \
                           MAX(CASE WHEN t.done_on <= $1 THEN t.done_on END) AS last_done_on, \
                           MAX(CASE WHEN t.required = 1 AND t.done_on <= $1 THEN t.done_on END) AS required_done_on, \
                           MAX(t.done_on) AS all_last_done_on \
                         FROM onboarding_plans p LEFT JOIN onboarding_tasks t ON t.account_id = p.account_id AND t.plan_id = p.plan_id \
                           AND NOT (t.done_on IS NULL AND t.criterion <> '{MANUAL}') \
                         WHERE {status} IN ('on_track', 'behind', 'stuck') GROUP BY p.account_id, p.plan_id ORDER BY p.account_id, p.plan_id"
                    );
                    let rows: Vec<RunPlanRow> = sqlx::query_as(&sql).bind(at).fetch_all(self.pool()).await?;
                    let tasks: Vec<OpenTaskRow> = sqlx::query_as(&format!(
                        "SELECT t.account_id, t.plan_id, t.position, t.task_id, t.required, t.due_on, t.criterion FROM onboarding_plans p \
                         JOIN onboarding_tasks t ON t.account_id = p.account_id AND t.plan_id = p.plan_id \
                         WHERE {status} IN ('on_track', 'behind', 'stuck') AND t.done_on IS NULL AND t.criterion <> '{MANUAL}'"
                    ))
                    .fetch_all(self.pool())
                    .await?;
                    let (mut plans, later) = assemble_run(rows, tasks, at)?;
                    // A run for a past day: the plans with a task done since read their tasks.
                    for i in later {
                        let p = &mut plans[i];
                        let Some(whole) = self.plan(&p.plan.plan_id).await? else { continue };
                        let rest: Vec<kizuna_domain::onboarding::PlanTask> =
                            whole.tasks.into_iter().filter(|t| !t.open_to_data()).collect();
                        p.rest_all = kizuna_domain::onboarding::Progress::all_time(&rest, p.plan.behind_after_days);
                    }
                    Ok(plans)
                }

                async fn late_plans(&self, at: chrono::NaiveDate) -> Result<Vec<kizuna_domain::onboarding::Plan>> {
                    const LATE: &str = "(t.done_on IS NULL OR t.done_on > $1) AND ((t.required = 1 AND t.late_from <= $1) OR (t.setup = 1 AND t.due_on < $1))";
                    let sql = format!(
                        "SELECT {PLAN_COLUMNS}{FROM} AND p.status IN ('on_track', 'behind', 'stuck') AND EXISTS (SELECT 1 FROM onboarding_tasks t \
                         WHERE t.account_id = p.account_id AND t.plan_id = p.plan_id AND {LATE}) ORDER BY p.account_id, p.plan_id"
                    );
                    let rows: Vec<PlanRow> = sqlx::query_as(&sql).bind(at).fetch_all(self.pool()).await?;
                    let columns = PLAN_TASK_COLUMNS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ");
                    let tasks: Vec<PlanTaskRow> = sqlx::query_as(&format!(
                        "SELECT {columns} FROM onboarding_tasks t JOIN onboarding_plans p ON p.account_id = t.account_id AND p.plan_id = t.plan_id \
                         WHERE p.status IN ('on_track', 'behind', 'stuck') AND {LATE}"
                    ))
                    .bind(at)
                    .fetch_all(self.pool())
                    .await?;
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
                        "SELECT p.due_on, p.completed_on FROM onboarding_plans p LEFT JOIN accounts a ON a.account_id = p.account_id WHERE p.due_on >= ",
                    );
                    q.push_bind(from).push(" AND p.due_on <= ").push_bind(to);
                    if let Some(o) = owner {
                        q.push(" AND p.owner_email = ").push_bind(o.to_string());
                    }
                    if let Some(p) = partner {
                        q.push(" AND a.partner_id = ").push_bind(p.to_string());
                    }
                    Ok(q.build_query_as().fetch_all(self.pool()).await?)
                }

                async fn plan_facts(&self, end: chrono::NaiveDate) -> Result<Vec<$crate::onboarding::PlanFactRow>> {
                    // What the plan's row keeps of its tasks (the first day a required task not
                    // done is late, the last day one was done) answers for any end on or after
                    // that last day; only a plan with a task done after `end` reads its tasks.
                    // A plan completed by `end` is neither late nor stuck then.
                    Ok(sqlx::query_as(
                        "SELECT x.*, a.segment, a.touch_model, a.partner_id FROM (\
                           SELECT p.plan_id, p.account_id, p.product, p.template_id, p.owner_email, p.started_on, p.due_on, p.completed_on, p.first_value_at, \
                             p.status, p.stuck_after_days, \
                             CASE WHEN p.completed_on IS NOT NULL AND p.completed_on <= $1 THEN 0 \
                               WHEN p.last_done_on IS NULL OR p.last_done_on <= $1 THEN CASE WHEN p.late_from <= $1 THEN 1 ELSE 0 END \
                               ELSE (SELECT COUNT(*) FROM onboarding_tasks t WHERE t.account_id = p.account_id AND t.plan_id = p.plan_id \
                                 AND t.required = 1 AND t.late_from <= $1 AND (t.done_on IS NULL OR t.done_on > $1)) END AS late_tasks, \
                             CASE WHEN p.last_done_on IS NULL OR p.last_done_on <= $1 THEN p.last_done_on \
                               ELSE (SELECT MAX(t.done_on) FROM onboarding_tasks t WHERE t.account_id = p.account_id AND t.plan_id = p.plan_id \
                                 AND t.done_on <= $1) END AS last_done_on \
                           FROM onboarding_plans p WHERE p.started_on <= $1) x \
                         LEFT JOIN accounts a ON a.account_id = x.account_id",
                    )
                    .bind(end)
                    .fetch_all(self.pool())
                    .await?)
                }

                async fn event_days(&self, accounts: &[String], events: &[String], user_events: &[String], from: chrono::NaiveDate, to: chrono::NaiveDate) -> Result<Vec<$crate::onboarding::EventDay>> {
                    let mut out = Vec::new();
                    for chunk in accounts.chunks(500) {
                        for (table, value, events) in [("usage_daily", "CAST(NULL AS TEXT), events", events), ("usage_daily_users", "user_id, CAST(0 AS BIGINT)", user_events)] {
                            if events.is_empty() {
                                continue;
                            }
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
