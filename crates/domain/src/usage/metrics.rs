//! Usage metrics as configuration (TOML), not code. Windowed metrics look at the `days` days up
//! to and including the observation date (`at − days + 1 ..= at`).
//!
//! | kind | value |
//! |---|---|
//! | `count` | events of `event` in the window |
//! | `sum` | sum of the events' `value` |
//! | `active_users` | distinct users with an event (of `event`, or any) |
//! | `active_days` | days with an event (of `event`, or any) |
//! | `days_since` | days from the last `event` to `at` (null if never) |
//! | `ratio` | `numerator` ÷ `denominator` (two other metrics; null when dividing by 0) |
//! | `change` | (window − the window before) ÷ the window before, of metric `of` (null when before is 0) |
//! | `tenure_scaled` | metric `of` × days ÷ min(days, tenure in days): a young account's count as if it had been a customer for the whole window |

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Windows a metric may use.
pub const WINDOWS: [u32; 3] = [7, 28, 90];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Kind {
    Count { event: String, days: u32 },
    Sum { event: String, days: u32 },
    ActiveUsers { event: Option<String>, days: u32 },
    ActiveDays { event: Option<String>, days: u32 },
    DaysSince { event: String },
    Ratio { numerator: String, denominator: String },
    Change { of: String },
    TenureScaled { of: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MetricDef {
    pub name: String,
    /// What people read instead of the name, per language (`label = { ja = "...", en = "..." }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    #[serde(flatten)]
    pub kind: Kind,
}

/// A metric's name for people, in Japanese and English.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Label {
    #[serde(default)]
    pub ja: Option<String>,
    #[serde(default)]
    pub en: Option<String>,
}

impl MetricDef {
    /// The label in `lang` (ja or en), else the other language's, else the name.
    pub fn label_in(&self, lang: &str) -> &str {
        let Some(l) = &self.label else { return &self.name };
        let (first, second) = if lang == "ja" { (&l.ja, &l.en) } else { (&l.en, &l.ja) };
        first.as_deref().or(second.as_deref()).unwrap_or(&self.name)
    }
}

/// The setting the usage configuration is saved under (metrics and `[[trait]]` rules).
pub const SETTING: &str = "usage_metrics";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Definitions {
    #[serde(rename = "metric")]
    pub metrics: Vec<MetricDef>,
    /// Where group traits go on accounts ([`super::traits`]).
    #[serde(default, rename = "trait", skip_serializing_if = "Vec::is_empty")]
    pub traits: Vec<super::traits::TraitRule>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DefinitionError {
    #[error("usage metrics: {0}")]
    Toml(String),
    #[error("usage metric {name:?}: days = {days} is not one of 7, 28, 90")]
    Window { name: String, days: u32 },
    #[error("usage metric {name:?}: {what} {other:?} is not a metric defined before it")]
    Unknown { name: String, what: &'static str, other: String },
    #[error("usage metric {name:?}: {what} {other:?} is not a count, sum, active_users or active_days metric")]
    NotWindowed { name: String, what: &'static str, other: String },
    #[error("usage metric {0:?} is defined twice")]
    Duplicate(String),
    #[error("{0}")]
    Trait(super::traits::TraitError),
}

impl DefinitionError {
    /// The i18n key of the error's text (`um.*`); [`DefinitionError::args`] fill it.
    pub fn key(&self) -> &'static str {
        use super::traits::TraitError;
        match self {
            DefinitionError::Toml(_) => "um.toml",
            DefinitionError::Window { .. } => "um.window",
            DefinitionError::Unknown { .. } => "um.unknown",
            DefinitionError::NotWindowed { .. } => "um.not_windowed",
            DefinitionError::Duplicate(_) => "um.twice",
            DefinitionError::Trait(TraitError::Target { .. }) => "um.trait_target",
            DefinitionError::Trait(TraitError::Twice(_)) => "um.trait_twice",
        }
    }

    /// The values the text shows (`%{detail}`, `%{name}`, `%{days}`, `%{what}`, `%{other}`,
    /// `%{to}`), quoted as in the English text.
    pub fn args(&self) -> Vec<(&'static str, String)> {
        use super::traits::TraitError;
        let q = |s: &str| format!("{s:?}");
        match self {
            DefinitionError::Toml(d) => vec![("detail", d.clone())],
            DefinitionError::Window { name, days } => vec![("name", q(name)), ("days", days.to_string())],
            DefinitionError::Unknown { name, what, other } | DefinitionError::NotWindowed { name, what, other } => {
                vec![("name", q(name)), ("what", what.to_string()), ("other", q(other))]
            }
            DefinitionError::Duplicate(name) | DefinitionError::Trait(TraitError::Twice(name)) => vec![("name", q(name))],
            DefinitionError::Trait(TraitError::Target { name, to }) => vec![("name", q(name)), ("to", q(to))],
        }
    }
}

/// The metrics used when none are configured: the signals seed 003 §9 and §15 watch.
pub const DEFAULT: &str = r#"# Usage metrics (kizuna metrics usage). Kinds: count, sum, active_users, active_days,
# days_since, ratio, change, tenure_scaled. Windows: 7, 28 or 90 days.
[[metric]]
name = "logins_28d"
label = { ja = "ログイン数（28日）", en = "Logins (28 days)" }
kind = "count"
event = "login"
days = 28

[[metric]]
name = "core_actions_28d"
label = { ja = "主要操作数（28日）", en = "Core actions (28 days)" }
kind = "count"
event = "report_created"
days = 28

[[metric]]
name = "active_users_28d"
label = { ja = "アクティブユーザー数（28日）", en = "Active users (28 days)" }
kind = "active_users"
days = 28

[[metric]]
name = "active_days_28d"
label = { ja = "利用日数（28日）", en = "Active days (28 days)" }
kind = "active_days"
days = 28

[[metric]]
name = "days_since_login"
label = { ja = "最終ログインからの日数", en = "Days since last login" }
kind = "days_since"
event = "login"

[[metric]]
name = "core_actions_per_user"
label = { ja = "ユーザーあたり主要操作数", en = "Core actions per user" }
kind = "ratio"
numerator = "core_actions_28d"
denominator = "active_users_28d"

[[metric]]
name = "logins_change"
label = { ja = "ログイン数の増減", en = "Change in logins" }
kind = "change"
of = "logins_28d"

[[metric]]
name = "core_actions_28d_scaled"
label = { ja = "主要操作数（利用期間で補正）", en = "Core actions (tenure-adjusted)" }
kind = "tenure_scaled"
of = "core_actions_28d"
"#;

impl Kind {
    /// (event filter, days, reads raw users) of a windowed metric.
    pub fn window(&self) -> Option<(Option<&str>, u32)> {
        match self {
            Kind::Count { event, days } | Kind::Sum { event, days } => Some((Some(event.as_str()), *days)),
            Kind::ActiveUsers { event, days } | Kind::ActiveDays { event, days } => Some((event.as_deref(), *days)),
            _ => None,
        }
    }
}

impl Definitions {
    /// Parse and check: windows are 7, 28 or 90; references name metrics defined earlier
    /// (`change` and `tenure_scaled` a windowed one).
    pub fn parse(text: &str) -> Result<Self, DefinitionError> {
        let defs: Definitions = toml::from_str(text).map_err(|e| DefinitionError::Toml(e.to_string()))?;
        let mut seen: HashMap<&str, &Kind> = HashMap::new();
        for m in &defs.metrics {
            if let Some((_, days)) = m.kind.window() {
                if !WINDOWS.contains(&days) {
                    return Err(DefinitionError::Window { name: m.name.clone(), days });
                }
            }
            let refs: Vec<(&'static str, &String, bool)> = match &m.kind {
                Kind::Ratio { numerator, denominator } => vec![("numerator", numerator, false), ("denominator", denominator, false)],
                Kind::Change { of } | Kind::TenureScaled { of } => vec![("of", of, true)],
                _ => vec![],
            };
            for (what, other, windowed) in refs {
                let Some(k) = seen.get(other.as_str()) else {
                    return Err(DefinitionError::Unknown { name: m.name.clone(), what, other: other.clone() });
                };
                if windowed && k.window().is_none() {
                    return Err(DefinitionError::NotWindowed { name: m.name.clone(), what, other: other.clone() });
                }
            }
            if seen.insert(m.name.as_str(), &m.kind).is_some() {
                return Err(DefinitionError::Duplicate(m.name.clone()));
            }
        }
        super::traits::TraitMap::new(&defs.traits).map_err(DefinitionError::Trait)?;
        Ok(defs)
    }

    pub fn default_set() -> Self {
        Definitions::parse(DEFAULT).expect("the default usage metrics parse")
    }
}

/// What a windowed metric reads for one account and one window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WindowFigures {
    pub events: f64,
    pub value_sum: f64,
    pub active_days: f64,
    pub active_users: f64,
}

/// Everything the metrics of one account need, by the metric's position in the definitions:
/// a windowed metric's figures in the window and in the window before, a `days_since` metric's
/// days from the last event to `at` (None: never). Other positions stay at their defaults.
#[derive(Debug, Clone, Default)]
pub struct AccountInputs {
    pub windows: Vec<(WindowFigures, WindowFigures)>,
    pub days_since: Vec<Option<i64>>,
    /// Days as a paying customer up to `at` (1 on the first day).
    pub tenure_days: i64,
}

impl AccountInputs {
    /// No usage yet: every window zero, no last event.
    pub fn new(defs: &Definitions, tenure_days: i64) -> Self {
        let n = defs.metrics.len();
        AccountInputs { windows: vec![Default::default(); n], days_since: vec![None; n], tenure_days }
    }
}

/// The figure a windowed metric of `kind` reads.
fn figure(kind: &Kind, f: &WindowFigures) -> f64 {
    match kind {
        Kind::Count { .. } => f.events,
        Kind::Sum { .. } => f.value_sum,
        Kind::ActiveUsers { .. } => f.active_users,
        _ => f.active_days,
    }
}

/// Every metric for one account, in definition order. References resolve by position (the
/// definitions are few; this runs once per account, so it builds no map).
pub fn evaluate(defs: &Definitions, input: &AccountInputs) -> Vec<(String, Option<f64>)> {
    let position = |name: &str| defs.metrics.iter().position(|m| m.name == name);
    let windows = |i: usize| input.windows.get(i).copied().unwrap_or_default();
    let mut out: Vec<(String, Option<f64>)> = Vec::with_capacity(defs.metrics.len());
    for (i, m) in defs.metrics.iter().enumerate() {
        let got = |name: &str, out: &[(String, Option<f64>)]| position(name).and_then(|j| out.get(j)).and_then(|(_, v)| *v);
        let v = match &m.kind {
            k if k.window().is_some() => Some(figure(k, &windows(i).0)),
            Kind::DaysSince { .. } => input.days_since.get(i).copied().flatten().map(|d| d as f64),
            Kind::Ratio { numerator, denominator } => match (got(numerator, &out), got(denominator, &out)) {
                (Some(a), Some(b)) if b != 0.0 => Some(a / b),
                _ => None,
            },
            Kind::Change { of } => position(of).and_then(|j| {
                let k = &defs.metrics[j].kind;
                let (now, before) = windows(j);
                let (a, b) = (figure(k, &now), figure(k, &before));
                (b != 0.0).then(|| (a - b) / b)
            }),
            Kind::TenureScaled { of } => {
                let days = position(of).and_then(|j| defs.metrics[j].kind.window()).map(|w| w.1).unwrap_or(28) as f64;
                let covered = (input.tenure_days.max(1) as f64).min(days);
                got(of, &out).map(|v| v * days / covered)
            }
            _ => None,
        };
        out.push((m.name.clone(), v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_labelled_in_the_readers_language() {
        let set = Definitions::default_set();
        let logins = set.metrics.iter().find(|m| m.name == "logins_28d").unwrap();
        assert_eq!((logins.label_in("ja"), logins.label_in("en")), ("ログイン数（28日）", "Logins (28 days)"));
        let only_ja = Definitions::parse("[[metric]]\nname = \"x\"\nlabel = { ja = \"エックス\" }\nkind = \"active_days\"\ndays = 7\n").unwrap();
        assert_eq!(only_ja.metrics[0].label_in("en"), "エックス", "the other language before the bare name");
        let bare = Definitions::parse("[[metric]]\nname = \"x\"\nkind = \"active_days\"\ndays = 7\n").unwrap();
        assert_eq!(bare.metrics[0].label_in("ja"), "x");
    }

    #[test]
    fn default_set_parses_and_bad_ones_are_named() {
        assert_eq!(Definitions::default_set().metrics.len(), 8);
        let bad = |t: &str| Definitions::parse(t).unwrap_err().to_string();
        assert_eq!(bad("[[metric]]\nname = \"a\"\nkind = \"count\"\nevent = \"x\"\ndays = 30\n"), "usage metric \"a\": days = 30 is not one of 7, 28, 90");
        assert_eq!(
            bad("[[metric]]\nname = \"r\"\nkind = \"ratio\"\nnumerator = \"a\"\ndenominator = \"b\"\n"),
            "usage metric \"r\": numerator \"a\" is not a metric defined before it"
        );
        assert_eq!(
            bad("[[metric]]\nname = \"d\"\nkind = \"days_since\"\nevent = \"x\"\n[[metric]]\nname = \"c\"\nkind = \"change\"\nof = \"d\"\n"),
            "usage metric \"c\": of \"d\" is not a count, sum, active_users or active_days metric"
        );
        assert!(bad("[[metric]]\nname = \"a\"\nkind = \"median\"\n").starts_with("usage metrics: "));
    }

    #[test]
    fn every_kind_by_hand() {
        let defs = Definitions::default_set();
        let mut input = AccountInputs::new(&defs, 14);
        let w = |events: f64, users: f64, days: f64| WindowFigures { events, value_sum: 0.0, active_days: days, active_users: users };
        // Positions in the default set: logins, core actions, active users, active days, days since login.
        input.windows[0] = (w(30.0, 0.0, 0.0), w(40.0, 0.0, 0.0));
        input.windows[1] = (w(12.0, 0.0, 0.0), w(0.0, 0.0, 0.0));
        input.windows[2] = (w(0.0, 4.0, 0.0), w(0.0, 5.0, 0.0));
        input.windows[3] = (w(0.0, 0.0, 9.0), w(0.0, 0.0, 0.0));
        input.days_since[4] = Some(3);
        let got: HashMap<String, Option<f64>> = evaluate(&defs, &input).into_iter().collect();
        assert_eq!(got["logins_28d"], Some(30.0));
        assert_eq!(got["active_users_28d"], Some(4.0));
        assert_eq!(got["active_days_28d"], Some(9.0));
        assert_eq!(got["days_since_login"], Some(3.0));
        assert_eq!(got["core_actions_per_user"], Some(3.0), "12 / 4");
        assert_eq!(got["logins_change"], Some(-0.25), "(30 − 40) / 40");
        assert_eq!(got["core_actions_28d_scaled"], Some(24.0), "12 × 28 / 14: two weeks a customer");
        let empty = evaluate(&defs, &AccountInputs::new(&defs, 400));
        let empty: HashMap<String, Option<f64>> = empty.into_iter().collect();
        assert_eq!((empty["logins_28d"], empty["days_since_login"], empty["core_actions_per_user"], empty["logins_change"]), (Some(0.0), None, None, None));
    }
}
