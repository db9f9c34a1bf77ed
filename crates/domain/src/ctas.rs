//! Calls to action (CTAs): a piece of work on one account that someone owns, with a type, a
//! reason, a priority, a due date and the evidence that opened it; playbooks (the tasks a CTA
//! gets when it opens); the configuration an admin edits (types, reasons, playbooks, signal
//! thresholds); and due dates counted in Japanese business days. Pure rules: the table is the
//! store's `Ctas` area, the use cases are `kizuna_app::ctas`.

use crate::Role;
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// Where a CTA stands. `snoozed`: put aside until a date, with a reason; `closed`: done, with
/// an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CtaStatus {
    Open,
    InProgress,
    Snoozed,
    Closed,
}

/// How a closed CTA ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Lost,
    NotNeeded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Medium,
    High,
    Critical,
}

/// Who opened a CTA: a person (`manual`), the daily signals (`signal`), or later a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Manual,
    Signal,
    Rule,
}

macro_rules! words {
    ($T:ident { $($v:ident = $s:literal),+ $(,)? }) => {
        impl $T {
            pub const ALL: &'static [$T] = &[$($T::$v),+];
            pub const NAMES: &'static str = concat!($($s, " "),+);

            pub fn as_str(self) -> &'static str {
                match self { $($T::$v => $s),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s.trim() { $($s => Some($T::$v),)+ _ => None }
            }
        }

        impl std::str::FromStr for $T {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $T::parse(s).ok_or_else(|| format!("{s:?} is not one of: {}", $T::NAMES.trim_end().replace(' ', ", ")))
            }
        }

        impl std::fmt::Display for $T {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

words!(CtaStatus { Open = "open", InProgress = "in_progress", Snoozed = "snoozed", Closed = "closed" });
words!(Outcome { Success = "success", Lost = "lost", NotNeeded = "not_needed" });
words!(Priority { Low = "low", Medium = "medium", High = "high", Critical = "critical" });
words!(Source { Manual = "manual", Signal = "signal", Rule = "rule" });
pub(crate) use words;

/// The types every configuration has (an admin adds more).
pub const BUILT_IN_TYPES: [&str; 5] = ["risk", "opportunity", "renewal", "onboarding", "lifecycle"];

/// The reasons the daily signals open CTAs for, as (type, reason).
pub const HEALTH_RED: (&str, &str) = ("risk", "health_red");
pub const HEALTH_DROP: (&str, &str) = ("risk", "health_drop");
pub const USAGE_DROP: (&str, &str) = ("risk", "usage_drop");
pub const NO_CONTACT: (&str, &str) = ("risk", "no_contact");
pub const CHURN_RISK: (&str, &str) = ("risk", "churn_risk");
pub const RENEWAL: (&str, &str) = ("renewal", "upcoming_renewal");
pub const ONBOARDING_BEHIND: (&str, &str) = ("onboarding", "behind_plan");
pub const SETUP_LATE: (&str, &str) = ("onboarding", "setup_late");

/// The CTA configuration an admin edits (TOML, `GET/PUT /api/v1/playbooks`): types with their
/// reasons, playbooks, and the thresholds of the daily signals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CtaConfig {
    #[serde(rename = "type", default)]
    pub types: Vec<CtaType>,
    #[serde(rename = "playbook", default)]
    pub playbooks: Vec<Playbook>,
    #[serde(default)]
    pub signals: Thresholds,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CtaType {
    /// Lowercase letters, digits and `_`.
    pub name: String,
    pub label_en: String,
    pub label_ja: String,
    #[serde(rename = "reason", default)]
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    pub name: String,
    pub label_en: String,
    pub label_ja: String,
    /// Business days from opening to the CTA's due date.
    #[serde(default = "default_due_days")]
    pub due_days: u32,
    #[serde(default = "default_priority")]
    pub priority: Priority,
}

fn default_due_days() -> u32 {
    5
}

fn default_priority() -> Priority {
    Priority::Medium
}

/// Tasks a CTA of `cta_type` (and `reason`, when given; otherwise any reason of the type)
/// gets when it opens. The most specific playbook wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    pub cta_type: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(rename = "task", default)]
    pub tasks: Vec<TaskTemplate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskTemplate {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Business days from the CTA's opening (weekends and Japanese holidays skipped).
    pub due_days: u32,
    /// Who does it: the CTA's owner when `csm`, else someone with this role (the task shows
    /// the role until a person takes it).
    #[serde(default = "default_owner_role")]
    pub owner_role: Role,
}

fn default_owner_role() -> Role {
    Role::Csm
}

/// When the daily signals open a CTA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Health fell by at least this many points in 7 days.
    pub health_drop_points: f64,
    /// A renewal (the end of a running annual or longer contract) within this many days.
    pub renewal_days: u32,
    /// No CSM contact (any activity but a support ticket) for this many days...
    pub no_contact_days: u32,
    /// ...on accounts of these touch models.
    pub no_contact_touch_models: Vec<String>,
    /// The forecast's churn probability at or above this (0 to 1); none: not used.
    pub churn_probability: Option<f64>,
    /// The horizon of that forecast: churn within this many days.
    pub churn_horizon_days: u32,
    /// A CTA closed less than this many days ago is not opened again by the same signal.
    pub cooldown_days: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            health_drop_points: 15.0,
            renewal_days: 90,
            no_contact_days: 45,
            no_contact_touch_models: vec!["high".into()],
            churn_probability: None,
            churn_horizon_days: 90,
            cooldown_days: 14,
        }
    }
}

/// The configuration a new installation starts with.
pub const DEFAULT: &str = include_str!("ctas_default.toml");

/// The setting the configuration is saved under.
pub const SETTING: &str = "ctas";

/// A configuration that cannot be used, named so an admin can find it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Toml(String),
    #[error("type {0:?}: names are lowercase letters, digits and _ (1 to 40)")]
    BadName(String),
    #[error("type {0:?} is defined twice")]
    DuplicateType(String),
    #[error("built-in type {0:?} is missing")]
    MissingType(&'static str),
    #[error("type {0:?}: reason {1:?} is defined twice")]
    DuplicateReason(String, String),
    #[error("type {0:?} needs reason {1:?}: the daily signals open CTAs for it")]
    MissingReason(&'static str, &'static str),
    #[error("playbook for {0:?}: no such type")]
    PlaybookType(String),
    #[error("playbook for {0:?}: type {0:?} has no reason {1:?}")]
    PlaybookReason(String, String),
    #[error("playbook for {0:?}: a task needs a title (1 to 200 characters)")]
    TaskTitle(String),
    #[error("playbook for {0:?}: task {1:?} is due after {2} business days; at most 250")]
    TaskDue(String, String, u32),
    #[error("signals: {0}")]
    Threshold(String),
}

impl ConfigError {
    /// The i18n key of the error's text (`ctacfg.*`); [`ConfigError::args`] fill it.
    pub fn key(&self) -> &'static str {
        match self {
            ConfigError::Toml(_) => "ctacfg.toml",
            ConfigError::BadName(_) => "ctacfg.bad_name",
            ConfigError::DuplicateType(_) => "ctacfg.duplicate_type",
            ConfigError::MissingType(_) => "ctacfg.missing_type",
            ConfigError::DuplicateReason(..) => "ctacfg.duplicate_reason",
            ConfigError::MissingReason(..) => "ctacfg.missing_reason",
            ConfigError::PlaybookType(_) => "ctacfg.playbook_type",
            ConfigError::PlaybookReason(..) => "ctacfg.playbook_reason",
            ConfigError::TaskTitle(_) => "ctacfg.task_title",
            ConfigError::TaskDue(..) => "ctacfg.task_due",
            ConfigError::Threshold(_) => "ctacfg.threshold",
        }
    }

    /// The names and values the text shows (`%{type}`, `%{reason}`, `%{task}`, `%{days}`,
    /// `%{detail}`), quoted as in the English text.
    pub fn args(&self) -> Vec<(&'static str, String)> {
        let q = |s: &str| format!("{s:?}");
        match self {
            ConfigError::Toml(d) | ConfigError::Threshold(d) => vec![("detail", d.clone())],
            ConfigError::BadName(t) | ConfigError::DuplicateType(t) | ConfigError::PlaybookType(t) | ConfigError::TaskTitle(t) => vec![("type", q(t))],
            ConfigError::MissingType(t) => vec![("type", q(t))],
            ConfigError::DuplicateReason(t, r) | ConfigError::PlaybookReason(t, r) => vec![("type", q(t)), ("reason", q(r))],
            ConfigError::MissingReason(t, r) => vec![("type", q(t)), ("reason", q(r))],
            ConfigError::TaskDue(t, task, days) => vec![("type", q(t)), ("task", q(task)), ("days", days.to_string())],
        }
    }
}

impl CtaConfig {
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let c: CtaConfig = toml::from_str(text).map_err(|e| ConfigError::Toml(e.to_string()))?;
        c.check()?;
        Ok(c)
    }

    pub fn default_config() -> Self {
        Self::parse(DEFAULT).expect("the default CTA configuration is valid")
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a configuration serialises")
    }

    fn check(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::HashSet::new();
        for t in &self.types {
            check_name(&t.name)?;
            if !seen.insert(t.name.as_str()) {
                return Err(ConfigError::DuplicateType(t.name.clone()));
            }
            let mut reasons = std::collections::HashSet::new();
            for r in &t.reasons {
                check_name(&r.name)?;
                if !reasons.insert(r.name.as_str()) {
                    return Err(ConfigError::DuplicateReason(t.name.clone(), r.name.clone()));
                }
            }
        }
        for name in BUILT_IN_TYPES {
            if !seen.contains(name) {
                return Err(ConfigError::MissingType(name));
            }
        }
        for (t, r) in [HEALTH_RED, HEALTH_DROP, USAGE_DROP, NO_CONTACT, CHURN_RISK, RENEWAL] {
            if self.reason(t, r).is_none() {
                return Err(ConfigError::MissingReason(t, r));
            }
        }
        for p in &self.playbooks {
            let Some(t) = self.cta_type(&p.cta_type) else { return Err(ConfigError::PlaybookType(p.cta_type.clone())) };
            if let Some(r) = &p.reason {
                if !t.reasons.iter().any(|x| &x.name == r) {
                    return Err(ConfigError::PlaybookReason(p.cta_type.clone(), r.clone()));
                }
            }
            for task in &p.tasks {
                if task.title.trim().is_empty() || task.title.chars().count() > 200 {
                    return Err(ConfigError::TaskTitle(p.cta_type.clone()));
                }
                if task.due_days > 250 {
                    return Err(ConfigError::TaskDue(p.cta_type.clone(), task.title.clone(), task.due_days));
                }
            }
        }
        let s = &self.signals;
        if !(s.health_drop_points > 0.0 && s.health_drop_points <= 100.0) {
            return Err(ConfigError::Threshold(format!("health_drop_points {} must be above 0 and at most 100", s.health_drop_points)));
        }
        // 0 would open a CTA on every paying account: a threshold must leave someone out.
        if let Some(p) = s.churn_probability.filter(|p| !(*p > 0.0 && *p <= 1.0)) {
            return Err(ConfigError::Threshold(format!("churn_probability {p} must be above 0 and at most 1")));
        }
        if s.no_contact_days == 0 || s.no_contact_days > 730 {
            return Err(ConfigError::Threshold(format!("no_contact_days {} must be 1 to 730", s.no_contact_days)));
        }
        if !(7..=365).contains(&s.churn_horizon_days) {
            return Err(ConfigError::Threshold(format!("churn_horizon_days {} must be between 7 and 365", s.churn_horizon_days)));
        }
        if s.renewal_days == 0 || s.renewal_days > 730 {
            return Err(ConfigError::Threshold(format!("renewal_days {} must be 1 to 730", s.renewal_days)));
        }
        for m in &s.no_contact_touch_models {
            if m.parse::<crate::TouchModel>().is_err() {
                return Err(ConfigError::Threshold(format!("no_contact_touch_models: {m:?} is not a touch model (high, hybrid, tech)")));
            }
        }
        Ok(())
    }

    pub fn cta_type(&self, name: &str) -> Option<&CtaType> {
        self.types.iter().find(|t| t.name == name)
    }

    pub fn reason(&self, cta_type: &str, reason: &str) -> Option<&Reason> {
        self.cta_type(cta_type)?.reasons.iter().find(|r| r.name == reason)
    }

    /// The playbook for a CTA of this type and reason: the one naming the reason, else the
    /// type's general one.
    pub fn playbook(&self, cta_type: &str, reason: &str) -> Option<&Playbook> {
        let of_type = || self.playbooks.iter().filter(move |p| p.cta_type == cta_type);
        of_type().find(|p| p.reason.as_deref() == Some(reason)).or_else(|| of_type().find(|p| p.reason.is_none()))
    }
}

fn check_name(name: &str) -> Result<(), ConfigError> {
    let ok = (1..=40).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok { Ok(()) } else { Err(ConfigError::BadName(name.to_string())) }
}

/// A task as a playbook gives it to a CTA opened on a day.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedTask {
    pub title: String,
    pub description: Option<String>,
    pub due_on: NaiveDate,
    pub owner_role: Role,
}

/// The playbook's tasks for a CTA opened on `opened`, each due `due_days` business days later.
/// A signal's evidence read on `today`: the day counts it carries (days to the renewal, days
/// without contact) counted again from the dates beside them, so a CTA the daily run leaves
/// alone (the same finding) never shows last week's count.
pub fn evidence_on(evidence: &serde_json::Value, today: NaiveDate) -> serde_json::Value {
    let mut e = evidence.clone();
    let day = |k: &str| evidence.get(k).and_then(|v| v.as_str()).and_then(|d| d.parse::<NaiveDate>().ok());
    if e.get("days_left").is_some() {
        if let Some(renewal) = day("renewal_date") {
            e["days_left"] = serde_json::json!((renewal - today).num_days());
        }
    }
    if e.get("days").is_some() {
        if let Some(since) = day("last_contact_on").or_else(|| day("paying_since")) {
            e["days"] = serde_json::json!((today - since).num_days());
        }
    }
    e
}

/// Whether two evidences of one signal say the same: what moves every day (the day scored,
/// the day counts, the day forecast) aside, scores within a point and probabilities within one
/// percentage point, and the drags (read only for what changes).
pub fn same_finding(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    const DAILY: [&str; 6] = ["drags", "scored_on", "previous_scored_on", "days_left", "days", "forecast_on"];
    const NEAR: [(&str, f64); 4] = [("score", 1.0), ("previous_score", 1.0), ("drop", 1.0), ("probability", 0.01)];
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else { return a == b };
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter().filter(|k| !DAILY.contains(&k.as_str())).all(|k| match (a.get(k), b.get(k), NEAR.iter().find(|(n, _)| n == k)) {
        // A health drop is in points; a usage drop is a share (at most 1) compared exactly.
        (Some(x), Some(y), Some((name, within))) if a.contains_key("scored_on") || *name == "probability" => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() < *within,
            _ => x == y,
        },
        (x, y, _) => x == y,
    })
}

pub fn planned_tasks(config: &CtaConfig, cta_type: &str, reason: &str, opened: NaiveDate) -> Vec<PlannedTask> {
    let Some(p) = config.playbook(cta_type, reason) else { return vec![] };
    p.tasks
        .iter()
        .map(|t| PlannedTask { title: t.title.clone(), description: t.description.clone(), due_on: add_business_days(opened, t.due_days), owner_role: t.owner_role })
        .collect()
}

/// Whether people work on `day` in Japan: not a Saturday, a Sunday or a national holiday
/// (substitute and citizens' holidays included).
pub fn is_business_day(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !is_holiday(day)
}

fn is_holiday(day: NaiveDate) -> bool {
    // 2021's Olympic moves (東京オリンピック特別措置法の特例), which the calendar crate does
    // not have: Marine Day Jul 22, Sports Day Jul 23, Mountain Day Aug 8 with its substitute on
    // the 9th, in place of Jul 19, Oct 11 and Aug 11.
    if day.year() == 2021 {
        match (day.month(), day.day()) {
            (7, 22) | (7, 23) | (8, 8) | (8, 9) => return true,
            (7, 19) | (8, 11) | (10, 11) => return false,
            _ => {}
        }
    }
    thread_local! {
        static CALENDAR: jpholiday::jpholiday::JPHoliday<'static> = jpholiday::jpholiday::JPHoliday::new();
    }
    CALENDAR.with(|c| c.is_holiday(&day))
}

/// The day `n` business days after `start` (`n` = 0: `start` itself if it is one, else the
/// next).
pub fn add_business_days(start: NaiveDate, n: u32) -> NaiveDate {
    let mut day = start;
    while !is_business_day(day) {
        day += Duration::days(1);
    }
    for _ in 0..n {
        day += Duration::days(1);
        while !is_business_day(day) {
            day += Duration::days(1);
        }
    }
    day
}

/// A task's due date when its CTA's due date moves from `from` to `to`: moved by as many
/// business days, forward or back (a task due on a business day stays on one).
pub fn shift_due(task_due: NaiveDate, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let (lo, hi, forward) = if to >= from { (from, to, true) } else { (to, from, false) };
    let mut n = 0i64;
    let mut d = lo;
    while d < hi {
        d += Duration::days(1);
        if is_business_day(d) {
            n += 1;
        }
    }
    let mut day = task_due;
    let step = if forward { 1 } else { -1 };
    let mut left = n;
    while left > 0 {
        day += Duration::days(step);
        if is_business_day(day) {
            left -= 1;
        }
    }
    day
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn business_days_skip_weekends_and_japanese_holidays() {
        // Golden Week 2026: Apr 29 (Wed) Shōwa Day; May 3-6 (Sun-Wed) with the substitute
        // holiday on the 6th. From Tue Apr 28, 3 business days: Thu 30, Fri May 1, Thu May 7.
        assert_eq!(add_business_days(d("2026-04-28"), 3), d("2026-05-07"));
        // Silver Week 2026: Mon 21 Respect for the Aged, Tue 22 citizens' holiday, Wed 23 equinox.
        assert_eq!(add_business_days(d("2026-09-18"), 1), d("2026-09-24"));
        assert_eq!(add_business_days(d("2026-12-05"), 0), d("2026-12-07"), "a Saturday rolls to Monday");
        assert_eq!(add_business_days(d("2026-12-07"), 0), d("2026-12-07"));
        assert!(!is_business_day(d("2027-03-22")), "the equinox's substitute holiday");
        assert!(is_business_day(d("2026-12-28")));
        // 2021 as the Cabinet Office published it (the Olympic year's moved holidays).
        for holiday in ["2021-07-22", "2021-07-23", "2021-08-09", "2021-09-20", "2021-09-23", "2021-11-03"] {
            assert!(!is_business_day(d(holiday)), "{holiday}");
        }
        for workday in ["2021-07-19", "2021-08-11", "2021-10-11"] {
            assert!(is_business_day(d(workday)), "{workday}");
        }
        assert_eq!(add_business_days(d("2021-07-21"), 1), d("2021-07-26"), "Thu 22 to Sun 25 off");
    }

    #[test]
    fn moving_a_due_date_moves_tasks_by_business_days() {
        // The CTA moves from Fri Dec 4 to Tue Dec 8: two business days (Mon 7, Tue 8).
        assert_eq!(shift_due(d("2026-12-02"), d("2026-12-04"), d("2026-12-08")), d("2026-12-04"));
        assert_eq!(shift_due(d("2026-12-04"), d("2026-12-08"), d("2026-12-04")), d("2026-12-02"), "and back");
        assert_eq!(shift_due(d("2026-12-04"), d("2026-12-04"), d("2026-12-04")), d("2026-12-04"));
    }

    #[test]
    fn the_default_configuration_parses_and_reads_back() {
        let c = CtaConfig::default_config();
        assert_eq!(CtaConfig::parse(&c.to_toml()).unwrap(), c);
        assert!(c.reason("renewal", "upcoming_renewal").is_some());
        let tasks = planned_tasks(&c, "risk", "health_red", d("2026-12-04"));
        assert!(!tasks.is_empty());
        assert!(tasks.iter().all(|t| is_business_day(t.due_on) && t.due_on >= d("2026-12-04")));
    }

    #[test]
    fn a_playbook_for_the_reason_wins_over_the_types() {
        let mut c = CtaConfig::default_config();
        let task = |title: &str| TaskTemplate { title: title.into(), description: None, due_days: 1, owner_role: Role::Csm };
        c.playbooks = vec![
            Playbook { cta_type: "risk".into(), reason: None, tasks: vec![task("general")] },
            Playbook { cta_type: "risk".into(), reason: Some("usage_drop".into()), tasks: vec![task("specific")] },
        ];
        assert_eq!(c.playbook("risk", "usage_drop").unwrap().tasks[0].title, "specific");
        assert_eq!(c.playbook("risk", "health_red").unwrap().tasks[0].title, "general");
        assert!(c.playbook("opportunity", "upsell").is_none());
    }

    #[test]
    fn bad_configurations_name_what_is_wrong() {
        let c = CtaConfig::default_config();
        let mut bad = c.clone();
        bad.types.retain(|t| t.name != "renewal");
        assert_eq!(bad.check(), Err(ConfigError::MissingType("renewal")));
        let mut bad = c.clone();
        bad.playbooks.push(Playbook { cta_type: "risk".into(), reason: Some("nope".into()), tasks: vec![] });
        assert_eq!(bad.check(), Err(ConfigError::PlaybookReason("risk".into(), "nope".into())));
        let mut bad = c.clone();
        bad.types[0].name = "Risk!".into();
        assert!(matches!(bad.check(), Err(ConfigError::BadName(_))));
        for p in [1.5, 0.0, f64::NAN] {
            let mut bad = c.clone();
            bad.signals.churn_probability = Some(p);
            assert!(matches!(bad.check(), Err(ConfigError::Threshold(_))), "{p}: every paying account, or none");
        }
        let mut bad = c;
        bad.signals.no_contact_days = 0;
        assert!(matches!(bad.check(), Err(ConfigError::Threshold(_))), "every high-touch account at once");
        assert!(matches!(CtaConfig::parse("[[type]]\nname = 1"), Err(ConfigError::Toml(_))));
    }

    #[test]
    fn the_same_finding_ignores_what_moves_every_day() {
        use serde_json::json;
        let red = json!({ "score": 38.2, "band": "red", "scored_on": "2026-12-01", "previous_score": 55.0, "previous_band": "yellow", "previous_scored_on": "2026-11-24", "drop": null });
        let next = json!({ "score": 37.6, "band": "red", "scored_on": "2026-12-02", "previous_score": 54.4, "previous_band": "yellow", "previous_scored_on": "2026-11-25", "drop": null, "drags": [["x", 3.0]] });
        assert!(same_finding(&red, &next));
        let worse = json!({ "score": 31.0, "band": "red", "scored_on": "2026-12-02", "previous_score": 54.4, "previous_band": "yellow", "previous_scored_on": "2026-11-25", "drop": null });
        assert!(!same_finding(&red, &worse), "seven points lower is news");
        let renewal = json!({ "renewal_date": "2027-02-01", "days_left": 60, "arr": 1200000.0, "arr_cents": 120000000 });
        assert!(same_finding(&renewal, &json!({ "renewal_date": "2027-02-01", "days_left": 59, "arr": 1200000.0, "arr_cents": 120000000 })));
        assert!(!same_finding(&renewal, &json!({ "renewal_date": "2027-02-01", "days_left": 59, "arr": 1500000.0, "arr_cents": 150000000 })), "the ARR up for renewal changed");
        let usage = json!({ "event": "login", "day": "2026-12-01", "drop": 0.6 });
        assert!(!same_finding(&usage, &json!({ "event": "login", "day": "2026-12-01", "drop": 0.7 })), "a usage drop is a share");
        let churn = json!({ "probability": 0.31, "threshold": 0.2, "forecast_on": "2026-12-01" });
        assert!(same_finding(&churn, &json!({ "probability": 0.315, "threshold": 0.2, "forecast_on": "2026-12-02" })));
        assert!(!same_finding(&churn, &json!({ "probability": 0.45, "threshold": 0.2, "forecast_on": "2026-12-02" })));
    }

    #[test]
    fn day_counts_are_read_on_the_day() {
        use serde_json::json;
        let today: NaiveDate = "2026-12-07".parse().unwrap();
        let renewal = evidence_on(&json!({ "renewal_date": "2027-01-06", "days_left": 60 }), today);
        assert_eq!(renewal["days_left"], json!(30));
        let quiet = evidence_on(&json!({ "last_contact_on": "2026-10-08", "days": 45, "paying_since": "2025-01-01" }), today);
        assert_eq!(quiet["days"], json!(60));
        let never = evidence_on(&json!({ "last_contact_on": null, "days": 45, "paying_since": "2026-10-23" }), today);
        assert_eq!(never["days"], json!(45));
        let health = json!({ "score": 30.0, "scored_on": "2026-12-01" });
        assert_eq!(evidence_on(&health, today), health);
    }

    #[test]
    fn words_read_back() {
        for s in CtaStatus::ALL {
            assert_eq!(CtaStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!("not_needed".parse::<Outcome>(), Ok(Outcome::NotNeeded));
        assert!("maybe".parse::<Outcome>().unwrap_err().contains("success, lost, not_needed"));
        assert!(Priority::Critical > Priority::High);
    }
}
