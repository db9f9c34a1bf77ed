//! Scorecards as configuration (TOML). A scorecard has groups of measures; each measure reads one
//! input (a usage metric or a built-in such as days to renewal), maps its raw value to 0–100 by a
//! linear range or by thresholds, and has a weight. Bands (red / yellow / green) and grades (A–E)
//! apply to every scorecard. A scorecard may be limited to segments and lifecycle stages; the one
//! without limits is the default.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Inputs every account has besides usage metrics (which are `usage.<metric name>`), and custom
/// attributes (`attribute.<name>`, e.g. an NPS or CSAT imported with the account).
pub const BUILT_IN_INPUTS: [&str; 5] = ["onboarding", "support_tickets_90d", "days_since_csm_touch", "days_to_renewal", "mrr_change_90d"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Higher,
    Lower,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ScorecardMeasure)]
pub struct Measure {
    pub input: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub weight: f64,
    pub direction: Direction,
    /// Linear between `[low, high]` (ascending): for `higher`, low and below score 0 and high and
    /// above 100; for `lower` the other way round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[f64; 2]>,
    /// Bands: ascending cut points; a value at or above the i-th cut point is in band i.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Vec<f64>>,
    /// The score of each band (one more than cut points), worst band first; evenly spaced
    /// from 0 to 100 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores: Option<Vec<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub name: String,
    pub weight: f64,
    #[serde(rename = "measure")]
    pub measures: Vec<Measure>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scorecard {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<String>,
    #[serde(rename = "group")]
    pub groups: Vec<Group>,
}

/// red below `red_below`, green from `green_from`, yellow between.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Bands {
    pub red_below: f64,
    pub green_from: f64,
}

/// The lowest score of grades A, B, C and D; below D is E.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grades {
    pub a: f64,
    pub b: f64,
    pub c: f64,
    pub d: f64,
}

/// How the `onboarding` input is read: the share of `steps` events of `event` seen (capped at 1),
/// for accounts younger than `within_days` (older accounts have no onboarding measure).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Onboarding {
    pub event: String,
    pub steps: u32,
    pub within_days: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scorecards {
    pub bands: Bands,
    pub grades: Grades,
    pub onboarding: Onboarding,
    #[serde(rename = "scorecard")]
    pub scorecards: Vec<Scorecard>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScorecardError {
    /// Not TOML, or a key that is unknown, missing or of the wrong type (the TOML reader's words).
    #[error("scorecards: {0}")]
    Toml(String),
    #[error("scorecard {card:?}, measure {input:?}: {problem}")]
    Measure { card: String, input: String, problem: Problem },
    #[error("scorecard {card:?}: {problem}")]
    Card { card: String, problem: Problem },
    #[error("scorecards: {0}")]
    Other(Problem),
}

/// Why scorecards cannot be used: typed, so the editor page says it in the reader's language.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("input is not usage.<metric>, attribute.<name> or one of {}", BUILT_IN_INPUTS.join(", "))]
    Input,
    #[error("weight = {0} is not a positive number")]
    Weight(f64),
    #[error("range = {0:?} must be [low, high] with low < high")]
    Range([f64; 2]),
    #[error("thresholds = {0:?} must be one or more ascending numbers")]
    Thresholds(Vec<f64>),
    #[error("scores = {0:?} must be {1} numbers from 0 to 100")]
    Scores(Vec<f64>, usize),
    #[error("give either range or thresholds, not both")]
    RangeAndThresholds,
    #[error("needs range = [low, high] or thresholds = [...]")]
    NoRange,
    #[error("scores go with thresholds")]
    ScoresWithoutThresholds,
    #[error("is defined twice")]
    Twice,
    #[error("every scorecard needs groups and every group measures")]
    Empty,
    #[error("group {0:?}: weight = {1} is not a positive number")]
    GroupWeight(String, f64),
    #[error("bands: need 0 < red_below ({0}) <= green_from ({1}) <= 100")]
    Bands(f64, f64),
    #[error("grades: need 100 >= a ({0}) > b ({1}) > c ({2}) > d ({3}) > 0")]
    Grades(f64, f64, f64, f64),
    #[error("onboarding: steps must be at least 1")]
    OnboardingSteps,
    #[error("no [[scorecard]] is defined")]
    NoScorecard,
    #[error("one scorecard must have no segments or stages: it is the default")]
    NoDefault,
}

impl Problem {
    /// The i18n key of the problem's text (`sc.*`); [`Problem::args`] fill it.
    pub fn key(&self) -> &'static str {
        match self {
            Problem::Input => "sc.input",
            Problem::Weight(_) => "sc.weight",
            Problem::Range(_) => "sc.range",
            Problem::Thresholds(_) => "sc.thresholds",
            Problem::Scores(..) => "sc.scores",
            Problem::RangeAndThresholds => "sc.range_and_thresholds",
            Problem::NoRange => "sc.no_range",
            Problem::ScoresWithoutThresholds => "sc.scores_without_thresholds",
            Problem::Twice => "sc.twice",
            Problem::Empty => "sc.empty",
            Problem::GroupWeight(..) => "sc.group_weight",
            Problem::Bands(..) => "sc.bands",
            Problem::Grades(..) => "sc.grades",
            Problem::OnboardingSteps => "sc.onboarding_steps",
            Problem::NoScorecard => "sc.no_scorecard",
            Problem::NoDefault => "sc.no_default",
        }
    }

    /// The values the text shows, written as in English (`%{value}`, `%{count}`, `%{group}`,
    /// `%{known}`, `%{red}`, `%{green}`, `%{a}`..`%{d}`).
    pub fn args(&self) -> Vec<(&'static str, String)> {
        match self {
            Problem::Input => vec![("known", BUILT_IN_INPUTS.join(", "))],
            Problem::Weight(w) => vec![("value", w.to_string())],
            Problem::Range(r) => vec![("value", format!("{r:?}"))],
            Problem::Thresholds(t) => vec![("value", format!("{t:?}"))],
            Problem::Scores(s, n) => vec![("value", format!("{s:?}")), ("count", n.to_string())],
            Problem::GroupWeight(g, w) => vec![("group", format!("{g:?}")), ("value", w.to_string())],
            Problem::Bands(r, g) => vec![("red", r.to_string()), ("green", g.to_string())],
            Problem::Grades(a, b, c, d) => vec![("a", a.to_string()), ("b", b.to_string()), ("c", c.to_string()), ("d", d.to_string())],
            Problem::RangeAndThresholds | Problem::NoRange | Problem::ScoresWithoutThresholds | Problem::Twice | Problem::Empty | Problem::OnboardingSteps | Problem::NoScorecard | Problem::NoDefault => vec![],
        }
    }
}

impl ScorecardError {
    /// The problem, when it is one of a value (not the TOML reader's).
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ScorecardError::Toml(_) => None,
            ScorecardError::Measure { problem, .. } | ScorecardError::Card { problem, .. } | ScorecardError::Other(problem) => Some(problem),
        }
    }
}

/// The scorecard used when none is configured: what seed 003 §12 and §15 watch, on the default
/// usage metrics.
pub const DEFAULT: &str = r#"# Health scorecards (kizuna score scorecards). Inputs: usage.<usage metric>, onboarding,
# support_tickets_90d, days_since_csm_touch, days_to_renewal, mrr_change_90d, attribute.<name>.
# Each measure: weight, direction (higher | lower) and either range = [low, high] or thresholds.
[bands]
red_below = 50
green_from = 75

[grades]
a = 80
b = 65
c = 50
d = 35

[onboarding]
event = "setup_step"
steps = 5
within_days = 120

[[scorecard]]
name = "default"

[[scorecard.group]]
name = "usage"
weight = 60

[[scorecard.group.measure]]
input = "usage.logins_28d"
weight = 25
direction = "higher"
range = [0, 40]

[[scorecard.group.measure]]
input = "usage.active_days_28d"
weight = 20
direction = "higher"
range = [0, 16]

[[scorecard.group.measure]]
input = "usage.days_since_login"
weight = 20
direction = "lower"
thresholds = [3, 7, 14, 28]

[[scorecard.group.measure]]
input = "usage.core_actions_per_user"
weight = 15
direction = "higher"
range = [0, 8]

[[scorecard.group.measure]]
input = "usage.logins_change"
weight = 20
direction = "higher"
range = [-0.5, 0.1]

[[scorecard.group]]
name = "onboarding"
weight = 15

[[scorecard.group.measure]]
input = "onboarding"
weight = 100
direction = "higher"
range = [0, 100]

[[scorecard.group]]
name = "relationship"
weight = 15

[[scorecard.group.measure]]
input = "days_since_csm_touch"
weight = 60
direction = "lower"
range = [30, 180]

[[scorecard.group.measure]]
input = "support_tickets_90d"
weight = 40
direction = "lower"
range = [0, 4]

[[scorecard.group]]
name = "contract"
weight = 10

[[scorecard.group.measure]]
input = "mrr_change_90d"
weight = 70
direction = "higher"
range = [-0.2, 0.1]

[[scorecard.group.measure]]
input = "days_to_renewal"
weight = 30
direction = "higher"
range = [0, 90]
"#;

impl Measure {
    /// The 0–100 score of a raw value.
    pub fn score(&self, raw: f64) -> f64 {
        let s = if let Some([lo, hi]) = self.range {
            let t = match self.direction {
                Direction::Higher => (raw - lo) / (hi - lo),
                Direction::Lower => (hi - raw) / (hi - lo),
            };
            100.0 * t.clamp(0.0, 1.0)
        } else {
            let cuts = self.thresholds.as_deref().unwrap_or(&[]);
            let band = cuts.iter().filter(|c| raw >= **c).count();
            self.band_scores()[band]
        };
        (s * 100.0).round() / 100.0
    }

    /// With thresholds: the score of each band, lowest values first (below the first cut point,
    /// then from each cut point on). Empty for a linear range.
    pub fn band_scores(&self) -> Vec<f64> {
        let Some(cuts) = self.thresholds.as_deref() else { return Vec::new() };
        let k = cuts.len();
        let scores: Vec<f64> = match &self.scores {
            Some(s) => s.clone(),
            None => (0..=k).map(|i| 100.0 * i as f64 / k.max(1) as f64).collect(),
        };
        match self.direction {
            Direction::Higher => scores,
            Direction::Lower => scores.into_iter().rev().collect(),
        }
    }

    fn check(&self, card: &str) -> Result<(), ScorecardError> {
        let err = |problem: Problem| ScorecardError::Measure { card: card.into(), input: self.input.clone(), problem };
        let known = BUILT_IN_INPUTS.contains(&self.input.as_str())
            || self.input.strip_prefix("usage.").is_some_and(|s| !s.is_empty())
            || self.input.strip_prefix("attribute.").is_some_and(|s| !s.is_empty());
        if !known {
            return Err(err(Problem::Input));
        }
        if !(self.weight > 0.0 && self.weight.is_finite()) {
            return Err(err(Problem::Weight(self.weight)));
        }
        match (&self.range, &self.thresholds) {
            (Some([a, b]), None) if a < b && a.is_finite() && b.is_finite() => {}
            (Some(r), None) => return Err(err(Problem::Range(*r))),
            (None, Some(t)) => {
                if t.is_empty() || t.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(err(Problem::Thresholds(t.clone())));
                }
                if let Some(s) = &self.scores {
                    if s.len() != t.len() + 1 || s.iter().any(|x| !(0.0..=100.0).contains(x)) {
                        return Err(err(Problem::Scores(s.clone(), t.len() + 1)));
                    }
                }
            }
            (Some(_), Some(_)) => return Err(err(Problem::RangeAndThresholds)),
            (None, None) => return Err(err(Problem::NoRange)),
        }
        if self.scores.is_some() && self.thresholds.is_none() {
            return Err(err(Problem::ScoresWithoutThresholds));
        }
        Ok(())
    }
}

impl Scorecard {
    /// This scorecard alone, as a `[[scorecard]]` table to paste into a scorecards file.
    pub fn to_toml(&self) -> String {
        #[derive(Serialize, utoipa::ToSchema)]
        struct One<'a> {
            scorecard: [&'a Scorecard; 1],
        }
        toml::to_string(&One { scorecard: [self] }).expect("a scorecard serialises")
    }
}

impl Scorecards {
    pub fn parse(text: &str) -> Result<Self, ScorecardError> {
        let cards: Scorecards = toml::from_str(text).map_err(|e| ScorecardError::Toml(e.to_string()))?;
        cards.check()?;
        Ok(cards)
    }

    pub fn default_set() -> Self {
        Scorecards::parse(DEFAULT).expect("the default scorecard parses")
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("scorecards serialise")
    }

    fn check(&self) -> Result<(), ScorecardError> {
        let b = self.bands;
        if !(0.0 < b.red_below && b.red_below <= b.green_from && b.green_from <= 100.0) {
            return Err(ScorecardError::Other(Problem::Bands(b.red_below, b.green_from)));
        }
        let g = self.grades;
        if !(g.a > g.b && g.b > g.c && g.c > g.d && g.d > 0.0 && g.a <= 100.0) {
            return Err(ScorecardError::Other(Problem::Grades(g.a, g.b, g.c, g.d)));
        }
        if self.onboarding.steps == 0 {
            return Err(ScorecardError::Other(Problem::OnboardingSteps));
        }
        if self.scorecards.is_empty() {
            return Err(ScorecardError::Other(Problem::NoScorecard));
        }
        let mut names = HashSet::new();
        for card in &self.scorecards {
            if !names.insert(card.name.as_str()) {
                return Err(ScorecardError::Card { card: card.name.clone(), problem: Problem::Twice });
            }
            if card.groups.is_empty() || card.groups.iter().any(|g| g.measures.is_empty()) {
                return Err(ScorecardError::Card { card: card.name.clone(), problem: Problem::Empty });
            }
            for group in &card.groups {
                if !(group.weight > 0.0 && group.weight.is_finite()) {
                    return Err(ScorecardError::Card { card: card.name.clone(), problem: Problem::GroupWeight(group.name.clone(), group.weight) });
                }
                for m in &group.measures {
                    m.check(&card.name)?;
                }
            }
        }
        if !self.scorecards.iter().any(|c| c.segments.is_empty() && c.stages.is_empty()) {
            return Err(ScorecardError::Other(Problem::NoDefault));
        }
        Ok(())
    }

    /// The first scorecard whose segments and stages (where given) match; else the default.
    pub fn for_account(&self, segment: Option<&str>, stage: Option<&str>) -> &Scorecard {
        let fits = |list: &[String], v: Option<&str>| list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x == v));
        self.scorecards
            .iter()
            .find(|c| !(c.segments.is_empty() && c.stages.is_empty()) && fits(&c.segments, segment) && fits(&c.stages, stage))
            .or_else(|| self.scorecards.iter().find(|c| c.segments.is_empty() && c.stages.is_empty()))
            .expect("checked: a default scorecard exists")
    }

    pub fn named(&self, name: &str) -> Option<&Scorecard> {
        self.scorecards.iter().find(|c| c.name == name)
    }

    /// Every input any scorecard reads.
    pub fn inputs(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.scorecards.iter().flat_map(|c| c.groups.iter().flat_map(|g| g.measures.iter().map(|m| m.input.as_str()))).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Add a scorecard, replacing one of the same name.
    pub fn put(&mut self, card: Scorecard) {
        match self.scorecards.iter_mut().find(|c| c.name == card.name) {
            Some(c) => *c = card,
            None => self.scorecards.push(card),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear(direction: Direction, range: [f64; 2]) -> Measure {
        Measure { input: "onboarding".into(), label: None, weight: 1.0, direction, range: Some(range), thresholds: None, scores: None }
    }

    #[test]
    fn linear_and_threshold_scores_by_hand() {
        let up = linear(Direction::Higher, [0.0, 40.0]);
        assert_eq!((up.score(-5.0), up.score(10.0), up.score(40.0), up.score(99.0)), (0.0, 25.0, 100.0, 100.0));
        let down = linear(Direction::Lower, [30.0, 180.0]);
        assert_eq!((down.score(30.0), down.score(105.0), down.score(180.0), down.score(10.0)), (100.0, 50.0, 0.0, 100.0));
        let bands = Measure { thresholds: Some(vec![3.0, 7.0, 14.0, 28.0]), range: None, ..linear(Direction::Lower, [0.0, 1.0]) };
        // days since login: 0–2 → 100, 3–6 → 75, 7–13 → 50, 14–27 → 25, 28+ → 0
        assert_eq!([0.0, 3.0, 6.0, 7.0, 20.0, 28.0, 90.0].map(|v| bands.score(v)), [100.0, 75.0, 75.0, 50.0, 25.0, 0.0, 0.0]);
        let custom = Measure { scores: Some(vec![0.0, 60.0, 100.0]), thresholds: Some(vec![1.0, 5.0]), range: None, ..linear(Direction::Higher, [0.0, 1.0]) };
        assert_eq!([0.0, 1.0, 4.9, 5.0].map(|v| custom.score(v)), [0.0, 60.0, 60.0, 100.0]);
        assert_eq!(bands.band_scores(), [100.0, 75.0, 50.0, 25.0, 0.0], "lower is better: the first band scores most");
        assert_eq!(custom.band_scores(), [0.0, 60.0, 100.0]);
        assert!(up.band_scores().is_empty());
    }

    #[test]
    fn default_set_parses_and_picks_by_segment_and_stage() {
        let mut cards = Scorecards::default_set();
        assert_eq!(cards.scorecards[0].groups.len(), 4);
        let mut ent = cards.scorecards[0].clone();
        ent.name = "enterprise".into();
        ent.segments = vec!["enterprise".into()];
        let mut young = cards.scorecards[0].clone();
        young.name = "young".into();
        young.stages = vec!["onboarding".into()];
        cards.put(ent);
        cards.put(young);
        let cards = Scorecards::parse(&cards.to_toml()).expect("round trip");
        assert_eq!(cards.for_account(Some("enterprise"), Some("adoption")).name, "enterprise");
        assert_eq!(cards.for_account(Some("smb"), Some("onboarding")).name, "young");
        assert_eq!(cards.for_account(Some("smb"), None).name, "default");
        assert_eq!(cards.for_account(None, None).name, "default");
    }

    #[test]
    fn bad_scorecards_are_named() {
        let bad = |from: &str, to: &str| Scorecards::parse(&DEFAULT.replacen(from, to, 1)).unwrap_err().to_string();
        assert_eq!(bad("input = \"usage.logins_28d\"", "input = \"logins\""), "scorecard \"default\", measure \"logins\": input is not usage.<metric>, attribute.<name> or one of onboarding, support_tickets_90d, days_since_csm_touch, days_to_renewal, mrr_change_90d");
        assert_eq!(bad("range = [0, 40]", "range = [40, 0]"), "scorecard \"default\", measure \"usage.logins_28d\": range = [40.0, 0.0] must be [low, high] with low < high");
        assert_eq!(bad("thresholds = [3, 7, 14, 28]", "thresholds = [3, 14, 7]"), "scorecard \"default\", measure \"usage.days_since_login\": thresholds = [3.0, 14.0, 7.0] must be one or more ascending numbers");
        assert_eq!(bad("weight = 25", "weight = 0"), "scorecard \"default\", measure \"usage.logins_28d\": weight = 0 is not a positive number");
        assert_eq!(bad("green_from = 75", "green_from = 40"), "scorecards: bands: need 0 < red_below (50) <= green_from (40) <= 100");
        assert!(bad("direction = \"higher\"", "direction = \"up\"").starts_with("scorecards: "));
    }
}
