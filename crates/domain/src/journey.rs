//! Journey stages (SPEC §5): the stages an account moves through (onboarding → adoption →
//! expansion → renewal by default; the list is the admin's), and each account's history of
//! stage changes with the day and the source, so a past day reads the stage the account had
//! then. Pure rules: the table is the store's `stage_history`, the use cases are
//! `kizuna_app::accounts::set_stage` and `kizuna_app::journey`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One stage of the journey: a key (lower case letters, digits and `_`) and its labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageDef {
    pub name: String,
    pub label_ja: String,
    pub label_en: String,
}

/// The journey's stages, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Journey {
    pub stages: Vec<StageDef>,
}

impl Default for Journey {
    fn default() -> Self {
        let stage = |name: &str, ja: &str, en: &str| StageDef { name: name.into(), label_ja: ja.into(), label_en: en.into() };
        Journey {
            stages: vec![
                stage("onboarding", "オンボーディング", "Onboarding"),
                stage("adoption", "活用促進", "Adoption"),
                stage("expansion", "拡大", "Expansion"),
                stage("renewal", "更新", "Renewal"),
            ],
        }
    }
}

/// What is wrong with an edited journey.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JourneyError {
    #[error("the journey needs between 1 and {MAX_STAGES} stages, not {0}")]
    Count(usize),
    #[error("stage {0:?}: a name is 1 to 40 lower-case letters, digits or _")]
    Name(String),
    #[error("stage {0:?} is listed twice")]
    Twice(String),
    #[error("stage {0:?}: both labels (label_ja, label_en) are needed, up to 60 characters")]
    Label(String),
}

pub const MAX_STAGES: usize = 20;

impl JourneyError {
    /// The i18n key of the error's text (`journey.err.*`); [`JourneyError::args`] fill it.
    pub fn key(&self) -> &'static str {
        match self {
            JourneyError::Count(_) => "journey.err.count",
            JourneyError::Name(_) => "journey.err.name",
            JourneyError::Twice(_) => "journey.err.twice",
            JourneyError::Label(_) => "journey.err.label",
        }
    }

    /// The values the text shows (`%{count}`, `%{max}`, `%{stage}`), written as in English.
    pub fn args(&self) -> Vec<(&'static str, String)> {
        match self {
            JourneyError::Count(n) => vec![("count", n.to_string()), ("max", MAX_STAGES.to_string())],
            JourneyError::Name(s) | JourneyError::Twice(s) | JourneyError::Label(s) => vec![("stage", format!("{s:?}"))],
        }
    }
}

impl Journey {
    pub fn check(&self) -> Result<(), JourneyError> {
        if self.stages.is_empty() || self.stages.len() > MAX_STAGES {
            return Err(JourneyError::Count(self.stages.len()));
        }
        let mut seen = std::collections::HashSet::new();
        for s in &self.stages {
            let ok = !s.name.is_empty() && s.name.len() <= 40 && s.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok {
                return Err(JourneyError::Name(s.name.clone()));
            }
            if !seen.insert(s.name.as_str()) {
                return Err(JourneyError::Twice(s.name.clone()));
            }
            let label = |l: &str| !l.trim().is_empty() && l.chars().count() <= 60;
            if !label(&s.label_ja) || !label(&s.label_en) {
                return Err(JourneyError::Label(s.name.clone()));
            }
        }
        Ok(())
    }

    pub fn stage(&self, name: &str) -> Option<&StageDef> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// The stage's label in the language (`ja` or anything else for English); the name itself
    /// for a stage no longer in the list (an older import's value).
    pub fn label<'a>(&'a self, name: &'a str, lang: &str) -> &'a str {
        match self.stage(name) {
            Some(s) if lang == "ja" => &s.label_ja,
            Some(s) => &s.label_en,
            None => name,
        }
    }
}

/// Where a stage change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StageSource {
    /// Someone set it (the account page, the API).
    Manual,
    /// An import's `lifecycle_stage` column, or an SDK's group trait mapped to it.
    Import,
    /// An automation rule.
    Rule,
    /// An onboarding plan completed.
    Plan,
}

impl StageSource {
    pub const ALL: [StageSource; 4] = [StageSource::Manual, StageSource::Import, StageSource::Rule, StageSource::Plan];

    pub fn as_str(self) -> &'static str {
        match self {
            StageSource::Manual => "manual",
            StageSource::Import => "import",
            StageSource::Rule => "rule",
            StageSource::Plan => "plan",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// One change of an account's stage: from `changed_on` on, the account is in `stage` (none:
/// cleared).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StageChange {
    pub account_id: String,
    /// Increasing per account: the order of changes recorded on the same day.
    pub change_id: i64,
    pub changed_on: NaiveDate,
    pub stage: Option<String>,
    pub source: StageSource,
    /// Who made a manual change.
    pub changed_by: Option<String>,
    pub note: Option<String>,
}

/// The stage an account had on `day`, from its changes (any order): the latest change on or
/// before the day. Before its first change an account is in the stage that change recorded
/// when the change came from an import (data tells what the account is, not since when), and
/// in none otherwise.
pub fn stage_on(changes: &[StageChange], day: NaiveDate) -> Option<&str> {
    let key = |c: &&StageChange| (c.changed_on, c.change_id);
    match changes.iter().filter(|c| c.changed_on <= day).max_by_key(key) {
        Some(c) => c.stage.as_deref(),
        None => changes.iter().min_by_key(key).filter(|c| c.source == StageSource::Import).and_then(|c| c.stage.as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn change(id: i64, on: &str, stage: Option<&str>, source: StageSource) -> StageChange {
        StageChange { account_id: "A1".into(), change_id: id, changed_on: d(on), stage: stage.map(Into::into), source, changed_by: None, note: None }
    }

    #[test]
    fn the_stage_on_a_day_is_the_latest_change_up_to_it() {
        let history = vec![
            change(3, "2026-06-01", Some("expansion"), StageSource::Manual),
            change(1, "2026-01-10", Some("onboarding"), StageSource::Import),
            change(2, "2026-03-01", Some("adoption"), StageSource::Plan),
            change(4, "2026-06-01", Some("renewal"), StageSource::Manual),
        ];
        assert_eq!(stage_on(&history, d("2026-02-28")), Some("onboarding"));
        assert_eq!(stage_on(&history, d("2026-03-01")), Some("adoption"), "from its day on");
        assert_eq!(stage_on(&history, d("2026-06-01")), Some("renewal"), "two changes on one day: the later one");
        assert_eq!(stage_on(&history, d("2025-12-31")), Some("onboarding"), "before an imported first stage: that stage");
        let manual = vec![change(1, "2026-01-10", Some("adoption"), StageSource::Manual), change(2, "2026-02-01", None, StageSource::Manual)];
        assert_eq!(stage_on(&manual, d("2026-01-09")), None, "before a manual first change: none");
        assert_eq!(stage_on(&manual, d("2026-02-02")), None, "cleared");
        assert_eq!(stage_on(&[], d("2026-01-01")), None);
    }

    #[test]
    fn an_edited_journey_is_checked() {
        assert_eq!(Journey::default().check(), Ok(()));
        let mut j = Journey::default();
        j.stages.push(StageDef { name: "adoption".into(), label_ja: "x".into(), label_en: "x".into() });
        assert_eq!(j.check(), Err(JourneyError::Twice("adoption".into())));
        j.stages.pop();
        j.stages[0].name = "On boarding".into();
        assert_eq!(j.check(), Err(JourneyError::Name("On boarding".into())));
        j.stages[0].name = "onboarding".into();
        j.stages[1].label_ja = " ".into();
        assert_eq!(j.check(), Err(JourneyError::Label("adoption".into())));
        assert_eq!(Journey { stages: vec![] }.check(), Err(JourneyError::Count(0)));
        assert_eq!(Journey::default().label("adoption", "ja"), "活用促進");
        assert_eq!(Journey::default().label("legacy", "en"), "legacy");
    }
}
