//! Onboarding (SPEC §5, seed 003): plan templates per product (phases and tasks, each
//! vendor-side or customer-side, required or optional, due in business days with Japanese
//! holidays skipped, with dependencies and completion criteria), the plans they start, a plan's
//! status on a day, automatic completion from data, LayerX's completion-rate KPI and the
//! comparison of churn after on-time and late onboarding. Pure rules: the tables are the
//! store's `onboarding_plans` / `onboarding_tasks`, the use cases `kizuna_app::onboarding`.
//! Definitions: `docs/metrics.md`, "Onboarding".

use crate::ctas::add_business_days;
use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The setting the templates are kept in (JSON).
pub const SETTING: &str = "onboarding_templates";

/// Who does a task: the vendor's team, or the customer (shown on the shared plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Vendor,
    Customer,
}

crate::ctas::words!(Side { Vendor = "vendor", Customer = "customer" });

/// What a task's due days count from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DueFrom {
    /// The plan's start.
    #[default]
    Plan,
    /// Its phase's start: the plan's start for the first phase, else the day the phase before
    /// it is due (its latest task).
    Phase,
}

fn one() -> u32 {
    1
}

/// When a task counts as done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Criterion {
    /// Someone ticks it (a CSM, or the customer on the shared plan).
    Manual,
    /// The usage event `event` seen at least `min_count` times, by at least `min_users`
    /// distinct users, within `within_days` days of the plan's start (0: any time).
    Event {
        event: String,
        #[serde(default = "one")]
        min_count: u32,
        #[serde(default = "one")]
        min_users: u32,
        #[serde(default)]
        within_days: u32,
    },
    /// The usage metric (as configured in the usage definitions) at or above `min`.
    Metric { metric: String, min: f64 },
    /// The account's attribute is set: a column (`segment`, `lifecycle_stage`, `touch_model`,
    /// `owner_email`, `partner_id`) or a custom attribute.
    Attribute { name: String },
    /// The account has a contact whose role is `role` (case and width ignored).
    ContactRole { role: String },
}

impl Default for Criterion {
    fn default() -> Self {
        Criterion::Manual
    }
}

impl Criterion {
    pub fn is_manual(&self) -> bool {
        matches!(self, Criterion::Manual)
    }
}

fn yes() -> bool {
    true
}

/// A task of a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskDef {
    /// Unique within the template: lower-case letters, digits, `_` or `-`.
    pub task_id: String,
    pub title: String,
    /// The title in English, when the team writes one (else `title` in both languages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_en: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub side: Side,
    #[serde(default = "yes")]
    pub required: bool,
    /// An initial-setup task: not done by its due day, it opens an onboarding CTA by itself.
    #[serde(default)]
    pub setup: bool,
    /// Business days (weekends and Japanese holidays skipped) from `due_from`.
    pub due_days: u32,
    #[serde(default)]
    pub due_from: DueFrom,
    /// Tasks (of this template) to be done before this one is ticked by hand.
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub criterion: Criterion,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseDef {
    pub phase_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
    pub tasks: Vec<TaskDef>,
}

fn default_stuck() -> u32 {
    14
}

fn default_next_stage() -> Option<String> {
    Some("adoption".into())
}

/// An onboarding plan template: for a product, and optionally only a segment or touch model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub template_id: String,
    pub name: String,
    /// The product (its id) whose new subscriptions start this plan.
    pub product: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// `high`, `hybrid` or `tech`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub touch_model: Option<String>,
    pub phases: Vec<PhaseDef>,
    /// The task whose completion is the customer's first value (`first_value_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_milestone: Option<String>,
    /// A required task is late this many days after its due day (0: the day after).
    #[serde(default)]
    pub behind_after_days: u32,
    /// A late plan is `stuck` when no task was done for this many days.
    #[serde(default = "default_stuck")]
    pub stuck_after_days: u32,
    /// The stage a completed plan moves its account to (none: the stage stays).
    #[serde(default = "default_next_stage")]
    pub completes_to_stage: Option<String>,
    /// Subscriptions to `product` starting on or after this day start a plan by themselves
    /// (none: plans start by hand only). Saved on the day of the first save when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_start_from: Option<NaiveDate>,
    /// Raised by each save that changes the template; running plans keep theirs.
    #[serde(default)]
    pub version: u32,
}

/// Every template, as the `onboarding_templates` setting keeps them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Templates {
    pub templates: Vec<Template>,
}

pub const MAX_TEMPLATES: usize = 100;
pub const MAX_TASKS: usize = 100;

/// What is wrong with edited templates: the template, the task (when it is one) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template {template:?}{}: {problem}", task.as_ref().map(|t| format!(", task {t:?}")).unwrap_or_default())]
pub struct TemplateError {
    pub template: String,
    pub task: Option<String>,
    pub problem: Problem,
}

/// Why a template is refused. The pages show it in the reader's language by [`Problem::key`]
/// (an i18n key) with [`Problem::value`] as its `%{value}`; the text here is the English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("at most {MAX_TEMPLATES} templates, not {0}")]
    TooManyTemplates(usize),
    #[error("an id is 1 to 60 lower-case letters, digits, _ or -")]
    Id,
    #[error("is listed twice")]
    Twice,
    #[error("a name of 1 to 100 characters is needed")]
    Name,
    #[error("a product is needed")]
    Product,
    #[error("behind_after_days is at most 365 and stuck_after_days at most 3,650")]
    Thresholds,
    #[error("touch_model {0:?} is not high, hybrid or tech")]
    TouchModel(String),
    #[error("a template has 1 to {MAX_TASKS} tasks, not {0}")]
    TaskCount(usize),
    #[error("at least one task must be required (a plan completes when its required tasks are done)")]
    NoRequiredTask,
    #[error("phase {0:?}: a unique id and a name are needed")]
    Phase(String),
    #[error("a task id is 1 to 60 lower-case letters, digits, _ or -")]
    TaskId,
    #[error("a title of 1 to 200 characters is needed")]
    Title,
    #[error("due_days is at most 365 business days")]
    DueDays,
    #[error("depends on {0:?}, which is not a task listed before it")]
    DependsOn(String),
    #[error("an event criterion needs an event, min_count and min_users of at least 1, and within_days of at most 3,650")]
    Event,
    #[error("a metric criterion needs a metric and a number")]
    Metric,
    #[error("the criterion needs a name")]
    CriterionName,
    #[error("contact role {0:?} is not champion, decision_maker, admin or user")]
    ContactRole(String),
    #[error("value_milestone {0:?} is not one of its tasks")]
    Milestone(String),
    /// An optional milestone that data completes: the run reads a plan's data only until its
    /// required tasks are done, so first value reached after that would never be recorded.
    #[error("value_milestone {0:?} is optional and completed by data; make it required or manual (data is read only until a plan's required tasks are done)")]
    OptionalMilestone(String),
}

impl Problem {
    /// The i18n key of the problem's text (`tpl.*`).
    pub fn key(&self) -> &'static str {
        match self {
            Problem::TooManyTemplates(_) => "tpl.too_many_templates",
            Problem::Id => "tpl.id",
            Problem::Twice => "tpl.twice",
            Problem::Name => "tpl.name",
            Problem::Product => "tpl.product",
            Problem::Thresholds => "tpl.thresholds",
            Problem::TouchModel(_) => "tpl.touch_model",
            Problem::TaskCount(_) => "tpl.task_count",
            Problem::NoRequiredTask => "tpl.no_required_task",
            Problem::Phase(_) => "tpl.phase",
            Problem::TaskId => "tpl.task_id",
            Problem::Title => "tpl.title",
            Problem::DueDays => "tpl.due_days",
            Problem::DependsOn(_) => "tpl.depends_on",
            Problem::Event => "tpl.event",
            Problem::Metric => "tpl.metric",
            Problem::CriterionName => "tpl.criterion_name",
            Problem::ContactRole(_) => "tpl.contact_role",
            Problem::Milestone(_) => "tpl.milestone",
            Problem::OptionalMilestone(_) => "tpl.optional_milestone",
        }
    }

    /// The value the text names (`%{value}`), quoted as in the English text.
    pub fn value(&self) -> Option<String> {
        match self {
            Problem::TooManyTemplates(n) | Problem::TaskCount(n) => Some(n.to_string()),
            Problem::TouchModel(v) | Problem::Phase(v) | Problem::DependsOn(v) | Problem::ContactRole(v) | Problem::Milestone(v) | Problem::OptionalMilestone(v) => Some(format!("{v:?}")),
            _ => None,
        }
    }
}

fn ident_ok(s: &str) -> bool {
    (1..=60).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl Templates {
    pub fn check(&self) -> Result<(), TemplateError> {
        let err = |t: &str, task: Option<&str>, problem: Problem| TemplateError { template: t.to_string(), task: task.map(Into::into), problem };
        if self.templates.len() > MAX_TEMPLATES {
            return Err(err("", None, Problem::TooManyTemplates(self.templates.len())));
        }
        let mut ids = HashSet::new();
        for t in &self.templates {
            let id = t.template_id.as_str();
            if !ident_ok(id) {
                return Err(err(id, None, Problem::Id));
            }
            if !ids.insert(id) {
                return Err(err(id, None, Problem::Twice));
            }
            if t.name.trim().is_empty() || t.name.chars().count() > 100 {
                return Err(err(id, None, Problem::Name));
            }
            if t.product.trim().is_empty() {
                return Err(err(id, None, Problem::Product));
            }
            if t.behind_after_days > 365 || t.stuck_after_days > 3650 {
                return Err(err(id, None, Problem::Thresholds));
            }
            if let Some(m) = &t.touch_model {
                if m.parse::<crate::TouchModel>().is_err() {
                    return Err(err(id, None, Problem::TouchModel(m.clone())));
                }
            }
            let tasks: Vec<&TaskDef> = t.tasks().collect();
            if tasks.is_empty() || tasks.len() > MAX_TASKS {
                return Err(err(id, None, Problem::TaskCount(tasks.len())));
            }
            // A plan completes when its required tasks are done: with none it would be complete
            // the day it starts and count as onboarded on time.
            if !tasks.iter().any(|t| t.required) {
                return Err(err(id, None, Problem::NoRequiredTask));
            }
            let mut phases = HashSet::new();
            for p in &t.phases {
                if !ident_ok(&p.phase_id) || !phases.insert(p.phase_id.as_str()) || p.name.trim().is_empty() {
                    return Err(err(id, None, Problem::Phase(p.phase_id.clone())));
                }
            }
            let mut seen: HashSet<&str> = HashSet::new();
            for task in &tasks {
                let tid = task.task_id.as_str();
                if !ident_ok(tid) {
                    return Err(err(id, Some(tid), Problem::TaskId));
                }
                if task.title.trim().is_empty() || task.title.chars().count() > 200 {
                    return Err(err(id, Some(tid), Problem::Title));
                }
                if task.due_days > 365 {
                    return Err(err(id, Some(tid), Problem::DueDays));
                }
                // A dependency is an earlier task: the order of the plan, and no cycles.
                for d in &task.depends_on {
                    if !seen.contains(d.as_str()) {
                        return Err(err(id, Some(tid), Problem::DependsOn(d.clone())));
                    }
                }
                if !seen.insert(tid) {
                    return Err(err(id, Some(tid), Problem::Twice));
                }
                match &task.criterion {
                    Criterion::Event { event, min_count, min_users, within_days } if event.trim().is_empty() || *min_count == 0 || *min_users == 0 || *within_days > 3650 => {
                        return Err(err(id, Some(tid), Problem::Event));
                    }
                    Criterion::Metric { metric, min } if metric.trim().is_empty() || !min.is_finite() => {
                        return Err(err(id, Some(tid), Problem::Metric));
                    }
                    Criterion::Attribute { name } | Criterion::ContactRole { role: name } if name.trim().is_empty() => {
                        return Err(err(id, Some(tid), Problem::CriterionName));
                    }
                    Criterion::ContactRole { role } if role_key(role).parse::<crate::ContactRole>().is_err() => {
                        return Err(err(id, Some(tid), Problem::ContactRole(role.clone())));
                    }
                    _ => {}
                }
            }
            if let Some(m) = &t.value_milestone {
                match tasks.iter().find(|k| &k.task_id == m) {
                    None => return Err(err(id, None, Problem::Milestone(m.clone()))),
                    Some(k) if !k.required && k.criterion != Criterion::Manual => return Err(err(id, Some(m), Problem::OptionalMilestone(m.clone()))),
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    /// The template for a new subscription to `product` of an account: of the templates for
    /// the product, those whose segment and touch model (when they name one) are the
    /// account's, the most specific first (segment before touch model).
    pub fn for_account(&self, product: &str, segment: Option<&str>, touch_model: Option<&str>) -> Option<&Template> {
        self.templates
            .iter()
            .filter(|t| t.product == product)
            .filter(|t| t.segment.as_deref().is_none_or(|s| Some(s) == segment))
            .filter(|t| t.touch_model.as_deref().is_none_or(|m| Some(m) == touch_model))
            .max_by_key(|t| (t.segment.is_some() as u8) * 2 + t.touch_model.is_some() as u8)
    }

    pub fn get(&self, id: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.template_id == id)
    }
}

impl Template {
    pub fn tasks(&self) -> impl Iterator<Item = &TaskDef> {
        self.phases.iter().flat_map(|p| p.tasks.iter())
    }

    /// The template without its version and start day: what a save compares to tell a change.
    fn body(&self) -> Template {
        Template { version: 0, auto_start_from: None, ..self.clone() }
    }
}

/// `edited` as saved after `before`: a template whose content changed gets the next version,
/// and one without `auto_start_from` starts on `today` (it had one before: that one).
pub fn versioned(before: &Templates, mut edited: Templates, today: NaiveDate) -> Templates {
    for t in &mut edited.templates {
        let old = before.get(&t.template_id);
        t.version = match old {
            Some(o) if o.body() == t.body() => o.version,
            Some(o) => o.version + 1,
            None => 1,
        };
        if t.auto_start_from.is_none() {
            t.auto_start_from = Some(old.and_then(|o| o.auto_start_from).unwrap_or(today));
        }
    }
    edited
}

/// A plan's state as stored: running, completed (every required task done) or cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    OnTrack,
    Behind,
    Stuck,
    Completed,
    Cancelled,
}

crate::ctas::words!(PlanStatus { OnTrack = "on_track", Behind = "behind", Stuck = "stuck", Completed = "completed", Cancelled = "cancelled" });

impl PlanStatus {
    /// Still to be worked.
    pub fn is_running(self) -> bool {
        matches!(self, PlanStatus::OnTrack | PlanStatus::Behind | PlanStatus::Stuck)
    }
}

/// How a task got done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DoneBy {
    /// Ticked by someone of the vendor.
    Staff,
    /// Ticked by the customer on the shared plan.
    Customer,
    /// Its criterion was met by the data.
    Data,
}

crate::ctas::words!(DoneBy { Staff = "staff", Customer = "customer", Data = "data" });

/// A task of a running plan: the template's task with its due day.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PlanTask {
    pub task_id: String,
    pub phase_id: String,
    pub phase_name: String,
    pub title: String,
    pub title_en: Option<String>,
    pub description: Option<String>,
    pub side: Side,
    pub required: bool,
    pub setup: bool,
    pub due_on: NaiveDate,
    pub depends_on: Vec<String>,
    pub criterion: Criterion,
    pub done_on: Option<NaiveDate>,
    /// Who ticked it (an e-mail, or the contact's on the shared plan); none when done by data.
    pub done_by: Option<String>,
    pub done_how: Option<DoneBy>,
}

impl PlanTask {
    /// Not done, and its criterion reads data: what the daily run reads one by one.
    pub fn open_to_data(&self) -> bool {
        self.done_on.is_none() && !self.criterion.is_manual()
    }
}

/// An onboarding plan of an account.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Plan {
    pub plan_id: String,
    pub account_id: String,
    /// The account's name (its id when it has none); not stored with the plan.
    pub account_name: String,
    pub template_id: String,
    pub template_version: u32,
    pub name: String,
    pub product: String,
    pub started_on: NaiveDate,
    /// The latest due day of its required tasks.
    pub due_on: NaiveDate,
    /// As of the last change or daily run ([`status_on`] tells it for any day).
    pub status: PlanStatus,
    pub completed_on: Option<NaiveDate>,
    /// The day the template's value milestone was done.
    pub first_value_at: Option<NaiveDate>,
    pub value_milestone: Option<String>,
    pub behind_after_days: u32,
    pub stuck_after_days: u32,
    pub completes_to_stage: Option<String>,
    pub owner_email: Option<String>,
    pub tasks: Vec<PlanTask>,
}

/// Each task's due day for a plan of `template` starting on `start`.
pub fn due_days(template: &Template, start: NaiveDate) -> Vec<(String, NaiveDate)> {
    let mut out = Vec::new();
    let mut phase_start = start;
    for p in &template.phases {
        let mut latest = phase_start;
        for t in &p.tasks {
            let base = match t.due_from {
                DueFrom::Plan => start,
                DueFrom::Phase => phase_start,
            };
            let due = add_business_days(base, t.due_days);
            latest = latest.max(due);
            out.push((t.task_id.clone(), due));
        }
        phase_start = latest;
    }
    out
}

/// A new plan of `template` for an account, starting on `start` (nothing done yet).
pub fn instantiate(template: &Template, plan_id: String, account_id: &str, start: NaiveDate, owner: Option<String>) -> Plan {
    let due: HashMap<String, NaiveDate> = due_days(template, start).into_iter().collect();
    let tasks: Vec<PlanTask> = template
        .phases
        .iter()
        .flat_map(|p| {
            let due = &due;
            p.tasks.iter().map(move |t| PlanTask {
                task_id: t.task_id.clone(),
                phase_id: p.phase_id.clone(),
                phase_name: p.name_en.as_ref().map(|en| format!("{} / {en}", p.name)).unwrap_or_else(|| p.name.clone()),
                title: t.title.clone(),
                title_en: t.title_en.clone(),
                description: t.description.clone(),
                side: t.side,
                required: t.required,
                setup: t.setup,
                due_on: due[&t.task_id],
                depends_on: t.depends_on.clone(),
                criterion: t.criterion.clone(),
                done_on: None,
                done_by: None,
                done_how: None,
            })
        })
        .collect();
    let mut plan = Plan {
        plan_id,
        account_id: account_id.to_string(),
        account_name: account_id.to_string(),
        template_id: template.template_id.clone(),
        template_version: template.version,
        name: template.name.clone(),
        product: template.product.clone(),
        started_on: start,
        due_on: start,
        status: PlanStatus::OnTrack,
        completed_on: None,
        first_value_at: None,
        value_milestone: template.value_milestone.clone(),
        behind_after_days: template.behind_after_days,
        stuck_after_days: template.stuck_after_days,
        completes_to_stage: template.completes_to_stage.clone(),
        owner_email: owner,
        tasks,
    };
    plan.due_on = plan_due(&plan.tasks, start);
    plan
}

fn plan_due(tasks: &[PlanTask], start: NaiveDate) -> NaiveDate {
    let required = tasks.iter().filter(|t| t.required).map(|t| t.due_on).max();
    required.or_else(|| tasks.iter().map(|t| t.due_on).max()).unwrap_or(start)
}

/// A running plan moved to a new version of its template (asked for: template changes do not
/// rewrite running plans by themselves). Tasks kept by id keep what was done.
pub fn reapply(plan: &Plan, template: &Template) -> Plan {
    let mut next = instantiate(template, plan.plan_id.clone(), &plan.account_id, plan.started_on, plan.owner_email.clone());
    next.account_name = plan.account_name.clone();
    for t in &mut next.tasks {
        if let Some(old) = plan.tasks.iter().find(|o| o.task_id == t.task_id) {
            (t.done_on, t.done_by, t.done_how) = (old.done_on, old.done_by.clone(), old.done_how);
        }
    }
    if plan.status == PlanStatus::Cancelled {
        next.status = PlanStatus::Cancelled;
    }
    next
}

/// Required tasks not done on `day` though their due day (plus the grace days) has passed.
pub fn late_tasks(plan: &Plan, day: NaiveDate) -> Vec<&PlanTask> {
    plan.tasks.iter().filter(|t| t.required && late_from(t.due_on, plan.behind_after_days) <= day && t.done_on.is_none_or(|d| d > day)).collect()
}

/// The day a plan was completed: the day its last required task was done, when all are.
pub fn completed_on(plan: &Plan) -> Option<NaiveDate> {
    let required: Vec<&PlanTask> = plan.tasks.iter().filter(|t| t.required).collect();
    if required.iter().any(|t| t.done_on.is_none()) {
        return None;
    }
    Some(required.iter().filter_map(|t| t.done_on).max().unwrap_or(plan.started_on))
}

/// What a plan's status on a day needs of its tasks, summed up: the daily run reads it from
/// SQL for the tasks it does not read one by one, and adds those it does ([`Progress::merge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Required tasks not done on the day.
    pub open_required: u32,
    /// The first day one of those is late: its due day plus the grace days, plus one.
    pub late_from: Option<NaiveDate>,
    /// The latest day a task was done, by the day.
    pub last_done_on: Option<NaiveDate>,
    /// The latest day a required task was done, by the day.
    pub required_done_on: Option<NaiveDate>,
}

/// The first day a required task not done counts as late (its due day plus the grace days).
pub fn late_from(due_on: NaiveDate, behind_after_days: u32) -> NaiveDate {
    due_on + Duration::days(behind_after_days as i64 + 1)
}

impl Progress {
    /// One task's share on `day` (a task done after `day` is not done yet).
    pub fn task(required: bool, due_on: NaiveDate, done_on: Option<NaiveDate>, behind_after_days: u32, day: NaiveDate) -> Progress {
        let done = done_on.filter(|d| *d <= day);
        let open = required && done.is_none();
        Progress {
            open_required: open as u32,
            late_from: open.then(|| late_from(due_on, behind_after_days)),
            last_done_on: done,
            required_done_on: done.filter(|_| required),
        }
    }

    /// The progress of these tasks of a plan on `day`.
    pub fn of(tasks: &[PlanTask], behind_after_days: u32, day: NaiveDate) -> Progress {
        tasks.iter().fold(Progress::default(), |p, t| p.merge(Progress::task(t.required, t.due_on, t.done_on, behind_after_days, day)))
    }

    /// The progress of these tasks whenever done (what is kept on the plan's row).
    pub fn all_time(tasks: &[PlanTask], behind_after_days: u32) -> Progress {
        Progress::of(tasks, behind_after_days, NaiveDate::MAX)
    }

    /// Both sets of tasks together.
    pub fn merge(self, o: Progress) -> Progress {
        let earliest = |a: Option<NaiveDate>, b: Option<NaiveDate>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Progress {
            open_required: self.open_required + o.open_required,
            late_from: earliest(self.late_from, o.late_from),
            last_done_on: self.last_done_on.max(o.last_done_on),
            required_done_on: self.required_done_on.max(o.required_done_on),
        }
    }
}

/// A plan's status on `day` from its progress on that day: completed once every required task
/// is done; else `behind` when a required task is late, `stuck` when it is late and no task
/// was done for `stuck_after_days` days (counted from the start before any was); else
/// `on_track`. A cancelled plan stays cancelled.
pub fn status_from(progress: &Progress, status: PlanStatus, started_on: NaiveDate, stuck_after_days: u32, day: NaiveDate) -> PlanStatus {
    if status == PlanStatus::Cancelled {
        return PlanStatus::Cancelled;
    }
    if progress.open_required == 0 {
        return PlanStatus::Completed;
    }
    if progress.late_from.is_none_or(|d| d > day) {
        return PlanStatus::OnTrack;
    }
    let last = progress.last_done_on.unwrap_or(started_on).max(started_on);
    if (day - last).num_days() >= stuck_after_days as i64 { PlanStatus::Stuck } else { PlanStatus::Behind }
}

/// The plan's status on `day` ([`status_from`] its tasks' progress on that day).
pub fn status_on(plan: &Plan, day: NaiveDate) -> PlanStatus {
    let progress = Progress::of(&plan.tasks, plan.behind_after_days, day);
    status_from(&progress, plan.status, plan.started_on, plan.stuck_after_days, day)
}

/// Sets the derived fields (completion day, first value, status on `day`) after a change.
pub fn refresh(plan: &mut Plan, day: NaiveDate) {
    plan.due_on = plan_due(&plan.tasks, plan.started_on);
    plan.completed_on = if plan.status == PlanStatus::Cancelled { None } else { completed_on(plan) };
    plan.first_value_at = plan.value_milestone.as_ref().and_then(|m| plan.tasks.iter().find(|t| &t.task_id == m)).and_then(|t| t.done_on);
    plan.status = status_on(plan, day);
}

/// What the data says about an account, for automatic completion.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Per event: (day, user, count) rows, any order.
    pub events: HashMap<String, Vec<(NaiveDate, Option<String>, u64)>>,
    /// Usage metrics on the run's day.
    pub metrics: HashMap<String, f64>,
    /// Attributes (columns and custom ones) that are set.
    pub attributes: HashSet<String>,
    /// Contact roles, normalised with [`role_key`].
    pub contact_roles: HashSet<String>,
}

/// A role as compared: NFKC, trimmed, lower case.
pub fn role_key(role: &str) -> String {
    crate::search::fold(role).trim().to_string()
}

/// The day a criterion was met for a plan started on `start`, looking at data up to `at`:
/// for an event, the day its count and users reached the thresholds inside the window; for
/// the others (a state, not a history), `at` when it holds then. Never for `manual`.
pub fn met_on(criterion: &Criterion, start: NaiveDate, facts: &Facts, at: NaiveDate) -> Option<NaiveDate> {
    match criterion {
        Criterion::Manual => None,
        Criterion::Event { event, min_count, min_users, within_days } => {
            let end = if *within_days == 0 { at } else { at.min(start + Duration::days(*within_days as i64 - 1)) };
            let mut rows: Vec<&(NaiveDate, Option<String>, u64)> = facts.events.get(event)?.iter().filter(|(d, _, _)| *d >= start && *d <= end).collect();
            rows.sort_by_key(|r| r.0);
            let (mut count, mut users) = (0u64, HashSet::new());
            for (day, user, n) in rows {
                count += n;
                if let Some(u) = user {
                    users.insert(u.as_str());
                }
                if count >= *min_count as u64 && users.len().max((*min_users == 1 && count > 0) as usize) >= *min_users as usize {
                    return Some(*day);
                }
            }
            None
        }
        Criterion::Metric { metric, min } => facts.metrics.get(metric).is_some_and(|v| v >= min).then_some(at),
        Criterion::Attribute { name } => facts.attributes.contains(name).then_some(at),
        Criterion::ContactRole { role } => facts.contact_roles.contains(&role_key(role)).then_some(at),
    }
}

/// The day an open task of a plan (its status, its start) counts as done by data on `at`:
/// when its criterion was met, never before the start; never for a cancelled plan.
fn done_by_data(status: PlanStatus, start: NaiveDate, criterion: &Criterion, facts: &Facts, at: NaiveDate) -> Option<NaiveDate> {
    if !status.is_running() && status != PlanStatus::Completed {
        return None;
    }
    met_on(criterion, start, facts, at).map(|d| d.max(start))
}

/// Marks done the plan's open tasks whose criterion the data meets (by `at`): which ones.
pub fn complete_from(plan: &mut Plan, facts: &Facts, at: NaiveDate) -> Vec<String> {
    let mut done = Vec::new();
    let (status, start) = (plan.status, plan.started_on);
    for t in plan.tasks.iter_mut().filter(|t| t.done_on.is_none()) {
        if let Some(day) = done_by_data(status, start, &t.criterion, facts, at) {
            (t.done_on, t.done_by, t.done_how) = (Some(day), None, Some(DoneBy::Data));
            done.push(t.task_id.clone());
        }
    }
    done
}

/// A task the data may complete, as the daily run reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenTask {
    pub task_id: String,
    pub required: bool,
    pub due_on: NaiveDate,
    pub criterion: Criterion,
}

/// A running plan as the daily run reads it: the plan without its tasks (`plan.tasks` is
/// empty), the tasks still open whose criterion reads data, and the progress of all its other
/// tasks on the run's day. What lets the run skip reading every task of every plan.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    pub plan: Plan,
    pub open: Vec<OpenTask>,
    pub rest: Progress,
    /// The same tasks' progress whenever done ([`Progress::all_time`]).
    pub rest_all: Progress,
}

impl RunPlan {
    /// A whole plan as the run on `at` reads it.
    pub fn of(plan: &Plan, at: NaiveDate) -> RunPlan {
        let (open, rest): (Vec<&PlanTask>, Vec<&PlanTask>) = plan.tasks.iter().partition(|t| t.open_to_data());
        let on = |day: NaiveDate| rest.iter().fold(Progress::default(), |p, t| p.merge(Progress::task(t.required, t.due_on, t.done_on, plan.behind_after_days, day)));
        let (rest_on, rest_all) = (on(at), on(NaiveDate::MAX));
        let open = open.into_iter().map(|t| OpenTask { task_id: t.task_id.clone(), required: t.required, due_on: t.due_on, criterion: t.criterion.clone() }).collect();
        RunPlan { plan: Plan { tasks: vec![], ..plan.clone() }, open, rest: rest_on, rest_all }
    }

    /// The whole plan's progress whenever done, after the run completed `done` (what the
    /// plan's row keeps).
    pub fn all_time(&self, done: &[(String, NaiveDate)]) -> Progress {
        self.open.iter().fold(self.rest_all, |p, t| {
            let day = done.iter().find(|d| d.0 == t.task_id).map(|d| d.1);
            p.merge(Progress::task(t.required, t.due_on, day, self.plan.behind_after_days, NaiveDate::MAX))
        })
    }
}

/// The daily run on one plan: marks done the open tasks whose criterion the data meets by
/// `at` (on the day it was met) and sets the plan's status, completion day and first value as
/// of `at`, the way [`complete_from`] and [`refresh`] do on the whole plan. Returns the tasks
/// done and their days.
pub fn advance(run: &mut RunPlan, facts: &Facts, at: NaiveDate) -> Vec<(String, NaiveDate)> {
    let p = &mut run.plan;
    let mut done = Vec::new();
    let mut progress = run.rest;
    for t in &run.open {
        let day = done_by_data(p.status, p.started_on, &t.criterion, facts, at);
        if let Some(d) = day {
            done.push((t.task_id.clone(), d));
        }
        progress = progress.merge(Progress::task(t.required, t.due_on, day, p.behind_after_days, at));
    }
    p.status = status_from(&progress, p.status, p.started_on, p.stuck_after_days, at);
    p.completed_on = match p.status {
        PlanStatus::Completed => Some(progress.required_done_on.unwrap_or(p.started_on).max(p.started_on)),
        PlanStatus::Cancelled => None,
        // Done after `at` (a run for a past day): the stored day stands.
        _ => p.completed_on.filter(|d| *d > at),
    };
    if let Some((_, d)) = p.value_milestone.as_ref().and_then(|m| done.iter().find(|(id, _)| id == m)) {
        p.first_value_at = Some(*d);
    }
    done
}

/// One plan as the report reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanFact {
    pub plan_id: String,
    pub account_id: String,
    pub started_on: NaiveDate,
    pub due_on: NaiveDate,
    pub completed_on: Option<NaiveDate>,
    pub first_value_at: Option<NaiveDate>,
    pub cancelled: bool,
    /// Stuck at the end of the report's range.
    pub stuck: bool,
    /// The plan's group for `--by` (its product, segment, ...); none: "(none)".
    pub group: Option<String>,
}

/// The onboarding KPIs of a set of plans over [from, to] (see `docs/metrics.md`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Kpis {
    /// The group's value (`all` for the whole set).
    pub group: String,
    /// Plans started in the range.
    pub started: u64,
    /// Plans completed in the range.
    pub completed: u64,
    /// Of those, completed on or before their due day.
    pub completed_on_time: u64,
    /// Plans due in the range (up to the as-of day): the KPI's denominator.
    pub due_in_period: u64,
    /// Of those, completed on or before their due day: the numerator.
    pub completed_in_due_period: u64,
    /// completed_in_due_period / due_in_period; null when none was due.
    pub completion_rate_in_period: Option<f64>,
    /// Median days from start to completion, of the plans completed in the range.
    pub median_days_to_complete: Option<f64>,
    /// Median days from start to the value milestone, of the plans reaching it in the range.
    pub median_days_to_first_value: Option<f64>,
    /// Plans stuck at the end of the range.
    pub stuck: u64,
}

pub fn median(mut v: Vec<i64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] as f64 } else { (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0 })
}

/// The KPIs of `plans` over [from, end], `end` being the range's end cut at the as-of day.
/// A cancelled plan started and fell due like any other, and was not completed: it counts in
/// `started` and in the rate's denominator (a customer that left mid-onboarding is what the KPI
/// is meant to catch), and, as it can never be completed, its outcome does not change later.
pub fn kpis(group: &str, plans: &[&PlanFact], from: NaiveDate, end: NaiveDate) -> Kpis {
    let within = |d: NaiveDate| d >= from && d <= end;
    let live: Vec<&&PlanFact> = plans.iter().collect();
    let completed: Vec<&&&PlanFact> = live.iter().filter(|p| p.completed_on.is_some_and(within)).collect();
    let due: Vec<&&&PlanFact> = live.iter().filter(|p| within(p.due_on)).collect();
    let on_time = |p: &PlanFact| p.completed_on.is_some_and(|c| c <= p.due_on && c <= end);
    let completed_in_due = due.iter().filter(|p| on_time(p)).count() as u64;
    Kpis {
        group: group.to_string(),
        started: live.iter().filter(|p| within(p.started_on)).count() as u64,
        completed: completed.len() as u64,
        completed_on_time: completed.iter().filter(|p| on_time(p)).count() as u64,
        due_in_period: due.len() as u64,
        completed_in_due_period: completed_in_due,
        completion_rate_in_period: (!due.is_empty()).then(|| completed_in_due as f64 / due.len() as f64),
        median_days_to_complete: median(completed.iter().map(|p| (p.completed_on.unwrap() - p.started_on).num_days()).collect()),
        median_days_to_first_value: median(live.iter().filter_map(|p| p.first_value_at.filter(|d| within(*d)).map(|d| (d - p.started_on).num_days())).collect()),
        stuck: live.iter().filter(|p| !p.cancelled && p.stuck && p.started_on <= end).count() as u64,
    }
}

/// A start month's plans: how many started, and of those how many are completed and
/// completed on time by the as-of day.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = OnboardingCohort)]
pub struct CohortRow {
    /// YYYY-MM.
    pub cohort: String,
    pub started: u64,
    pub completed: u64,
    pub completed_on_time: u64,
    /// Of the cohort's plans already due: the share completed on time (null: none due yet).
    pub on_time_rate: Option<f64>,
    pub still_running: u64,
}

pub fn cohorts(plans: &[PlanFact], from: NaiveDate, end: NaiveDate) -> Vec<CohortRow> {
    let mut by: BTreeMap<String, Vec<&PlanFact>> = BTreeMap::new();
    for p in plans.iter().filter(|p| p.started_on >= from && p.started_on <= end) {
        by.entry(format!("{:04}-{:02}", p.started_on.year(), p.started_on.month())).or_default().push(p);
    }
    by.into_iter()
        .map(|(cohort, ps)| {
            let completed = ps.iter().filter(|p| p.completed_on.is_some_and(|c| c <= end)).count() as u64;
            let on_time = ps.iter().filter(|p| p.completed_on.is_some_and(|c| c <= end && c <= p.due_on)).count() as u64;
            let due: Vec<&&PlanFact> = ps.iter().filter(|p| p.due_on <= end).collect();
            let due_on_time = due.iter().filter(|p| p.completed_on.is_some_and(|c| c <= p.due_on)).count();
            CohortRow {
                cohort,
                started: ps.len() as u64,
                completed,
                completed_on_time: on_time,
                on_time_rate: (!due.is_empty()).then(|| due_on_time as f64 / due.len() as f64),
                still_running: ps.iter().filter(|p| !p.cancelled && p.completed_on.is_none_or(|c| c > end)).count() as u64,
            }
        })
        .collect()
}

/// The Wilson score interval (95%) of `k` successes in `n` trials.
pub fn wilson(k: u64, n: u64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let (z, n, k) = (1.959_963_984_540_054_f64, n as f64, k as f64);
    let p = k / n;
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    // At k = 0 (or n) the bound is exactly 0 (or 1); the float sum leaves 7e-18 behind.
    let low = if k == 0.0 { 0.0 } else { (centre - half).max(0.0) };
    let high = if k == n { 1.0 } else { (centre + half).min(1.0) };
    Some((low, high))
}

/// Newcombe's hybrid score interval (his method 10) for p1 − p2, from the two Wilson
/// intervals.
pub fn difference_interval(k1: u64, n1: u64, k2: u64, n2: u64) -> Option<(f64, f64)> {
    let ((l1, u1), (l2, u2)) = (wilson(k1, n1)?, wilson(k2, n2)?);
    let (p1, p2) = (k1 as f64 / n1 as f64, k2 as f64 / n2 as f64);
    let d = p1 - p2;
    Some((d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt(), d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt()))
}

/// A group of accounts in the impact comparison.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChurnGroup {
    pub accounts: u64,
    pub churned: u64,
    pub churn_rate: Option<f64>,
    /// 95% Wilson interval of the churn rate.
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
}

fn churn_group(rows: &[&ImpactRow]) -> ChurnGroup {
    let (n, k) = (rows.len() as u64, rows.iter().filter(|r| r.churned).count() as u64);
    let ci = wilson(k, n);
    ChurnGroup { accounts: n, churned: k, churn_rate: (n > 0).then(|| k as f64 / n as f64), ci_low: ci.map(|c| c.0), ci_high: ci.map(|c| c.1) }
}

/// What the comparison can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Fewer than [`MIN_PER_GROUP`] accounts in a group, or fewer than [`MIN_CHURNED`] churned
    /// in all: too thin to tell.
    TooThin,
    /// Late onboarding churned more, and the interval of the difference excludes zero.
    LateChurnsMore,
    /// On-time onboarding churned more, and the interval excludes zero.
    OnTimeChurnsMore,
    /// The interval of the difference includes zero.
    NoClearDifference,
}

pub const MIN_PER_GROUP: u64 = 20;
pub const MIN_CHURNED: u64 = 5;

/// One side-by-side comparison (all accounts, or a segment's).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Comparison {
    /// `all`, or the segment.
    pub group: String,
    pub on_time: ChurnGroup,
    pub late: ChurnGroup,
    /// Late churn rate minus on-time churn rate, with its 95% interval (Newcombe).
    pub difference: Option<f64>,
    pub difference_low: Option<f64>,
    pub difference_high: Option<f64>,
    pub verdict: Verdict,
}

/// An account's plan in the comparison: whether it completed on time, and whether the account
/// churned within the horizon after the plan was due.
#[derive(Debug, Clone, PartialEq)]
pub struct ImpactRow {
    pub account_id: String,
    pub segment: Option<String>,
    pub on_time: bool,
    pub churned: bool,
}

pub fn compare(group: &str, rows: &[&ImpactRow]) -> Comparison {
    let on: Vec<&ImpactRow> = rows.iter().copied().filter(|r| r.on_time).collect();
    let late: Vec<&ImpactRow> = rows.iter().copied().filter(|r| !r.on_time).collect();
    let (a, b) = (churn_group(&on), churn_group(&late));
    let diff = difference_interval(b.churned, b.accounts, a.churned, a.accounts);
    let verdict = if a.accounts < MIN_PER_GROUP || b.accounts < MIN_PER_GROUP || a.churned + b.churned < MIN_CHURNED {
        Verdict::TooThin
    } else {
        match diff {
            Some((lo, _)) if lo > 0.0 => Verdict::LateChurnsMore,
            Some((_, hi)) if hi < 0.0 => Verdict::OnTimeChurnsMore,
            _ => Verdict::NoClearDifference,
        }
    };
    Comparison {
        group: group.to_string(),
        difference: a.churn_rate.zip(b.churn_rate).map(|(x, y)| y - x),
        difference_low: diff.map(|d| d.0),
        difference_high: diff.map(|d| d.1),
        on_time: a,
        late: b,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn task(id: &str, side: Side, due_days: u32, from: DueFrom, criterion: Criterion) -> TaskDef {
        TaskDef { task_id: id.into(), title: id.into(), title_en: None, description: None, side, required: true, setup: false, due_days, due_from: from, depends_on: vec![], criterion, }
    }

    fn template() -> Template {
        Template {
            template_id: "expense-std".into(),
            name: "Expense".into(),
            product: "expense".into(),
            segment: None,
            touch_model: None,
            phases: vec![
                PhaseDef {
                    phase_id: "setup".into(),
                    name: "初期設定".into(),
                    name_en: Some("Setup".into()),
                    tasks: vec![
                        task("kickoff", Side::Vendor, 2, DueFrom::Plan, Criterion::Manual),
                        task("import_users", Side::Customer, 5, DueFrom::Plan, Criterion::Event { event: "user_invited".into(), min_count: 3, min_users: 2, within_days: 30 }),
                    ],
                },
                PhaseDef {
                    phase_id: "use".into(),
                    name: "利用開始".into(),
                    name_en: None,
                    tasks: vec![TaskDef { required: false, ..task("first_report", Side::Customer, 3, DueFrom::Phase, Criterion::Event { event: "report_created".into(), min_count: 1, min_users: 1, within_days: 0 }) }],
                },
            ],
            value_milestone: Some("first_report".into()),
            behind_after_days: 0,
            stuck_after_days: 14,
            completes_to_stage: Some("adoption".into()),
            auto_start_from: None,
            version: 1,
        }
    }

    #[test]
    fn due_days_skip_weekends_and_japanese_holidays_and_phases_follow_each_other() {
        // Start Thu 2026-04-30. +2 business days: Fri 5/1, then 5/2–5/6 are a weekend and
        // Golden Week (5/3 憲法記念日, 5/4 みどりの日, 5/5 こどもの日, 5/6 振替休日): Thu 5/7.
        // +5: 5/1, 5/7, 5/8, 5/11, 5/12. The second phase starts 5/12: +3 → 5/15.
        let due: HashMap<String, NaiveDate> = due_days(&template(), d("2026-04-30")).into_iter().collect();
        assert_eq!(due["kickoff"], d("2026-05-07"));
        assert_eq!(due["import_users"], d("2026-05-12"));
        assert_eq!(due["first_report"], d("2026-05-15"));
        let plan = instantiate(&template(), "p1".into(), "A1", d("2026-04-30"), None);
        assert_eq!(plan.due_on, d("2026-05-12"), "the optional task does not set the plan's due day");
        assert_eq!(plan.tasks[0].phase_name, "初期設定 / Setup");
    }

    #[test]
    fn status_goes_behind_then_stuck_and_completes_with_the_last_required_task() {
        let mut plan = instantiate(&template(), "p1".into(), "A1", d("2026-04-30"), None);
        assert_eq!(status_on(&plan, d("2026-05-07")), PlanStatus::OnTrack, "due today is not late");
        assert_eq!(status_on(&plan, d("2026-05-08")), PlanStatus::Behind, "kick-off late from the day after");
        // Started 4/30, nothing done: stuck 14 days after the start.
        assert_eq!(status_on(&plan, d("2026-05-13")), PlanStatus::Behind);
        assert_eq!(status_on(&plan, d("2026-05-14")), PlanStatus::Stuck);
        plan.tasks[0].done_on = Some(d("2026-05-13"));
        assert_eq!(status_on(&plan, d("2026-05-14")), PlanStatus::Behind, "progress on 5/13: not stuck, still late (import_users)");
        assert_eq!(status_on(&plan, d("2026-05-27")), PlanStatus::Stuck, "14 days without progress");
        plan.behind_after_days = 20;
        assert_eq!(status_on(&plan, d("2026-05-27")), PlanStatus::OnTrack, "within the grace days");
        plan.tasks[1].done_on = Some(d("2026-05-28"));
        refresh(&mut plan, d("2026-05-28"));
        assert_eq!(plan.status, PlanStatus::Completed);
        assert_eq!(plan.completed_on, Some(d("2026-05-28")), "the optional task is not waited for");
        assert_eq!(status_on(&plan, d("2026-05-27")), PlanStatus::OnTrack, "a past day sees it not yet completed");
        assert_eq!(plan.first_value_at, None);
    }

    #[test]
    fn events_complete_tasks_on_the_day_the_thresholds_are_reached_inside_the_window() {
        let mut plan = instantiate(&template(), "p1".into(), "A1", d("2026-04-30"), None);
        let mut facts = Facts::default();
        facts.events.insert(
            "user_invited".into(),
            vec![
                (d("2026-04-29"), Some("u1".into()), 5), // before the start: not counted
                (d("2026-05-02"), Some("u1".into()), 2),
                (d("2026-05-04"), Some("u1".into()), 1), // 3 events, 1 user
                (d("2026-05-06"), Some("u2".into()), 1), // 4 events, 2 users: met
            ],
        );
        facts.events.insert("report_created".into(), vec![(d("2026-06-10"), Some("u2".into()), 1)]);
        let done = complete_from(&mut plan, &facts, d("2026-05-20"));
        assert_eq!(done, vec!["import_users".to_string()]);
        assert_eq!(plan.tasks[1].done_on, Some(d("2026-05-06")));
        assert_eq!(plan.tasks[1].done_how, Some(DoneBy::Data));
        assert_eq!(plan.tasks[2].done_on, None, "the report came after the run's day");
        complete_from(&mut plan, &facts, d("2026-06-30"));
        assert_eq!(plan.tasks[2].done_on, Some(d("2026-06-10")));
        refresh(&mut plan, d("2026-06-30"));
        assert_eq!(plan.first_value_at, Some(d("2026-06-10")));
        assert_eq!(plan.status, PlanStatus::Stuck, "kick-off (manual) still late, and nothing done since 6/10: 20 days");
        assert_eq!(status_on(&plan, d("2026-06-23")), PlanStatus::Behind, "13 days after the last progress");
        // Outside the window: 30 days counting the start day 4/30 as the first end on 5/29.
        let late = Criterion::Event { event: "user_invited".into(), min_count: 1, min_users: 1, within_days: 30 };
        let mut f2 = Facts::default();
        f2.events.insert("user_invited".into(), vec![(d("2026-05-30"), None, 1)]);
        assert_eq!(met_on(&late, d("2026-04-30"), &f2, d("2026-07-01")), None);
        f2.events.insert("user_invited".into(), vec![(d("2026-05-29"), None, 1)]);
        assert_eq!(met_on(&late, d("2026-04-30"), &f2, d("2026-07-01")), Some(d("2026-05-29")));
        let mut f3 = Facts::default();
        f3.contact_roles.insert(role_key("ＡＤＭＩＮ"));
        f3.metrics.insert("active_users".into(), 4.0);
        assert_eq!(met_on(&Criterion::ContactRole { role: "admin".into() }, d("2026-04-30"), &f3, d("2026-05-01")), Some(d("2026-05-01")));
        assert_eq!(met_on(&Criterion::Metric { metric: "active_users".into(), min: 5.0 }, d("2026-04-30"), &f3, d("2026-05-01")), None);
        assert_eq!(met_on(&Criterion::Metric { metric: "active_users".into(), min: 4.0 }, d("2026-04-30"), &f3, d("2026-05-01")), Some(d("2026-05-01")));
    }

    #[test]
    fn the_run_on_a_plan_read_in_part_agrees_with_the_whole_plan() {
        // The same facts and days as above, and a kick-off ticked on 5/13 by hand: the run
        // reads only the open data tasks and the rest's progress, and must say what
        // complete_from + refresh say on the whole plan, day after day.
        let mut facts = Facts::default();
        facts.events.insert("user_invited".into(), vec![(d("2026-05-02"), Some("u1".into()), 2), (d("2026-05-06"), Some("u2".into()), 2)]);
        facts.events.insert("report_created".into(), vec![(d("2026-06-10"), Some("u2".into()), 1)]);
        for ticked in [None, Some(d("2026-05-13"))] {
            let mut whole = instantiate(&template(), "p1".into(), "A1", d("2026-04-30"), None);
            whole.tasks[0].done_on = ticked;
            // (A run for a day before a task was ticked is a backfill: the stored day stands.)
            for at in ["2026-05-05", "2026-05-08", "2026-05-20", "2026-06-12", "2026-06-30"].map(d).into_iter().filter(|at| ticked.is_none_or(|t| t <= *at)) {
                let mut part = RunPlan::of(&whole, at);
                assert!(part.plan.tasks.is_empty());
                let done = advance(&mut part, &facts, at);
                let names = complete_from(&mut whole, &facts, at);
                refresh(&mut whole, at);
                assert_eq!(done.iter().map(|x| x.0.clone()).collect::<Vec<_>>(), names, "{at}");
                for (id, day) in &done {
                    assert_eq!(whole.tasks.iter().find(|t| &t.task_id == id).unwrap().done_on, Some(*day));
                }
                let fields = |p: &Plan| (p.status, p.completed_on, p.first_value_at);
                assert_eq!(fields(&part.plan), fields(&whole), "{at}, kick-off ticked {ticked:?}");
                assert_eq!(part.all_time(&done), Progress::all_time(&whole.tasks, whole.behind_after_days), "{at}");
            }
        }
        // Ticked by hand on 5/13 and the users invited on 5/6: completed on 5/13 (the last
        // required task), first value on 6/10 (the optional report).
        let mut whole = instantiate(&template(), "p1".into(), "A1", d("2026-04-30"), None);
        whole.tasks[0].done_on = Some(d("2026-05-13"));
        let mut part = RunPlan::of(&whole, d("2026-06-30"));
        advance(&mut part, &facts, d("2026-06-30"));
        assert_eq!((part.plan.status, part.plan.completed_on, part.plan.first_value_at), (PlanStatus::Completed, Some(d("2026-05-13")), Some(d("2026-06-10"))));
        // Progress of the rest read on a past day: a task done later is still open then.
        let p = Progress::task(true, d("2026-05-07"), Some(d("2026-05-13")), 0, d("2026-05-10"));
        assert_eq!(p, Progress { open_required: 1, late_from: Some(d("2026-05-08")), last_done_on: None, required_done_on: None });
    }

    fn fact(id: &str, start: &str, due: &str, completed: Option<&str>) -> PlanFact {
        PlanFact { plan_id: id.into(), account_id: id.into(), started_on: d(start), due_on: d(due), completed_on: completed.map(d), first_value_at: None, cancelled: false, stuck: false, group: None }
    }

    #[test]
    fn completion_rate_in_period_counts_the_plans_due_in_the_range() {
        let plans = [
            fact("a", "2026-01-05", "2026-02-10", Some("2026-02-01")), // due in range, on time
            fact("b", "2026-01-10", "2026-02-20", Some("2026-02-25")), // due in range, late
            fact("c", "2026-01-20", "2026-02-27", None),               // due in range, not done
            fact("d", "2026-02-10", "2026-03-20", Some("2026-02-15")), // due after the range
            fact("e", "2025-12-01", "2026-01-15", Some("2026-01-10")), // due before the range
        ];
        let refs: Vec<&PlanFact> = plans.iter().collect();
        let k = kpis("all", &refs, d("2026-02-01"), d("2026-02-28"));
        assert_eq!((k.due_in_period, k.completed_in_due_period), (3, 1));
        assert!((k.completion_rate_in_period.unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(k.started, 1, "only d started in February");
        assert_eq!((k.completed, k.completed_on_time), (3, 2), "a, b and d completed in February; a and d on time");
        assert_eq!(k.median_days_to_complete, Some(27.0), "a 27, b 46, d 5 days");
        // Cut at an as-of day of 2/22: c is not due yet, b is late.
        let k = kpis("all", &refs, d("2026-02-01"), d("2026-02-22"));
        assert_eq!((k.due_in_period, k.completed_in_due_period), (2, 1));
        let cohorts = cohorts(&plans, d("2026-01-01"), d("2026-02-28"));
        assert_eq!(cohorts[0].cohort, "2026-01");
        assert_eq!((cohorts[0].started, cohorts[0].completed, cohorts[0].completed_on_time, cohorts[0].still_running), (3, 2, 1, 1));
        assert!((cohorts[0].on_time_rate.unwrap() - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_cancelled_plan_counts_as_due_and_not_completed() {
        // Ten plans due in February: six done on time, four never. Two of the four customers
        // leave and their plans are cancelled: the rate stays 6/10, not 6/8.
        let mut plans: Vec<PlanFact> = (0..10).map(|i| fact(&format!("p{i}"), "2026-01-05", "2026-02-16", (i < 6).then_some("2026-02-10"))).collect();
        plans[8].cancelled = true;
        plans[9].cancelled = true;
        plans[7].stuck = true;
        plans[9].stuck = true;
        let refs: Vec<&PlanFact> = plans.iter().collect();
        let k = kpis("all", &refs, d("2026-01-01"), d("2026-02-28"));
        assert_eq!((k.started, k.due_in_period, k.completed_in_due_period), (10, 10, 6));
        assert_eq!(k.completion_rate_in_period, Some(0.6));
        assert_eq!(k.stuck, 1, "a cancelled plan is not stuck");
        let c = cohorts(&plans, d("2026-01-01"), d("2026-02-28"));
        assert_eq!((c[0].started, c[0].completed, c[0].still_running, c[0].on_time_rate), (10, 6, 2, Some(0.6)));
    }

    #[test]
    fn intervals_match_the_published_examples() {
        // Newcombe (1998), Statistics in Medicine 17:857 and 873: Wilson 81/263 = 0.2553–0.3662;
        // the difference 56/70 − 48/80 = 0.2000, method 10: 0.0524 to 0.3339.
        let (lo, hi) = wilson(81, 263).unwrap();
        assert!((lo - 0.2553).abs() < 5e-5 && (hi - 0.3662).abs() < 5e-5, "{lo} {hi}");
        let (lo, hi) = difference_interval(56, 70, 48, 80).unwrap();
        assert!((lo - 0.0524).abs() < 5e-5 && (hi - 0.3339).abs() < 5e-5, "{lo} {hi}");
        assert_eq!(wilson(0, 0), None);
        let (lo, hi) = wilson(0, 10).unwrap();
        assert!(lo == 0.0 && (hi - 0.2775).abs() < 5e-5, "{hi}");
        assert_eq!(wilson(0, 89).unwrap().0, 0.0, "not 6.9e-18");
        assert_eq!(wilson(46, 46).unwrap().1, 1.0);
    }

    #[test]
    fn the_comparison_says_when_it_cannot_tell() {
        let rows = |on: (u64, u64), late: (u64, u64)| -> Vec<ImpactRow> {
            let mut v = Vec::new();
            for (on_time, (n, k)) in [(true, on), (false, late)] {
                for i in 0..n {
                    v.push(ImpactRow { account_id: format!("{on_time}{i}"), segment: None, on_time, churned: i < k });
                }
            }
            v
        };
        let r = rows((100, 5), (50, 15));
        let c = compare("all", &r.iter().collect::<Vec<_>>());
        assert_eq!(c.verdict, Verdict::LateChurnsMore);
        assert!((c.difference.unwrap() - 0.25).abs() < 1e-12, "30% − 5%");
        assert_eq!((c.on_time.accounts, c.on_time.churned, c.late.accounts, c.late.churned), (100, 5, 50, 15));
        let thin = rows((100, 5), (10, 5));
        assert_eq!(compare("all", &thin.iter().collect::<Vec<_>>()).verdict, Verdict::TooThin, "10 late accounts");
        let same = rows((100, 10), (100, 12));
        assert_eq!(compare("all", &same.iter().collect::<Vec<_>>()).verdict, Verdict::NoClearDifference);
    }

    #[test]
    fn templates_are_checked_and_versioned() {
        let mut ts = Templates { templates: vec![template()] };
        // The optional report as the value milestone: data would stop being read once the
        // plan's required tasks are done, so first value could never be recorded after that.
        let e = ts.check().unwrap_err();
        assert_eq!((e.task.as_deref(), e.problem.clone()), (Some("first_report"), Problem::OptionalMilestone("first_report".into())));
        ts.templates[0].phases[1].tasks[0].required = true;
        assert_eq!(ts.check(), Ok(()));
        ts.templates[0].phases[1].tasks[0].required = false;
        ts.templates[0].phases[1].tasks[0].criterion = Criterion::Manual;
        assert_eq!(ts.check(), Ok(()), "an optional milestone ticked by hand can still be ticked later");
        let saved = versioned(&Templates::default(), ts.clone(), d("2026-12-01"));
        assert_eq!((saved.templates[0].version, saved.templates[0].auto_start_from), (1, Some(d("2026-12-01"))));
        let again = versioned(&saved, ts.clone(), d("2026-12-05"));
        assert_eq!((again.templates[0].version, again.templates[0].auto_start_from), (1, Some(d("2026-12-01"))), "unchanged: same version and start");
        ts.templates[0].phases[0].tasks[0].due_days = 3;
        assert_eq!(versioned(&again, ts.clone(), d("2026-12-05")).templates[0].version, 2);
        ts.templates[0].phases[0].tasks[1].depends_on = vec!["first_report".into()];
        let e = ts.check().unwrap_err();
        assert_eq!(e.task.as_deref(), Some("import_users"));
        assert!(e.to_string().contains("not a task listed before it"), "{e}");
        ts.templates[0].phases[0].tasks[1].depends_on = vec!["kickoff".into()];
        ts.templates[0].value_milestone = Some("nope".into());
        assert!(ts.check().is_err());
        ts.templates[0].value_milestone = None;
        ts.templates[0].behind_after_days = u32::MAX;
        assert_eq!(ts.check().unwrap_err().problem, Problem::Thresholds, "a grace that would overflow a date is refused");
        ts.templates[0].behind_after_days = 0;
        ts.templates[0].phases[0].tasks[1].criterion = Criterion::Event { event: "x".into(), min_count: 1, min_users: 1, within_days: u32::MAX };
        assert!(ts.check().is_err());
        let mut optional = template();
        optional.phases.iter_mut().flat_map(|p| p.tasks.iter_mut()).for_each(|t| t.required = false);
        let e = Templates { templates: vec![optional] }.check().unwrap_err();
        assert_eq!(e.problem, Problem::NoRequiredTask, "a plan of optional tasks only would be complete on its first day: {e}");
        let mut special = template();
        special.template_id = "expense-ent".into();
        special.segment = Some("enterprise".into());
        let ts = Templates { templates: vec![template(), special] };
        assert_eq!(ts.for_account("expense", Some("enterprise"), None).unwrap().template_id, "expense-ent");
        assert_eq!(ts.for_account("expense", Some("smb"), Some("tech")).unwrap().template_id, "expense-std");
        assert!(ts.for_account("invoice", None, None).is_none());
    }
}
