//! Where a `group` call's traits go on its account, and the contact an `identify` makes.
//!
//! By default `name` names the account and every other trait becomes a custom attribute of the
//! same name, keeping its JSON type (a number stays a number). The usage configuration (the
//! same TOML as the metrics) may send a trait elsewhere:
//!
//! ```toml
//! [[trait]]
//! trait = "plan"
//! to = "segment"        # name, segment, lifecycle_stage, attributes.NAME, or "" to drop it
//! overwrite = true      # replace a value an import set (default: only fill what is empty)
//! ```
//!
//! A value an import (or a person) set is kept unless the rule says `overwrite`; a value that
//! traits set before is updated by newer traits.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A field of an account that traits may set.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Name,
    Segment,
    LifecycleStage,
    Attribute(String),
    /// The trait is not kept on the account.
    Drop,
}

impl Target {
    pub fn parse(s: &str) -> Option<Target> {
        Some(match s {
            "" => Target::Drop,
            "name" => Target::Name,
            "segment" => Target::Segment,
            "lifecycle_stage" => Target::LifecycleStage,
            _ => match s.strip_prefix("attributes.") {
                Some(a) if !a.is_empty() => Target::Attribute(a.to_string()),
                _ => return None,
            },
        })
    }

    /// The key this target is remembered under (`attributes.plan`).
    pub fn key(&self) -> String {
        match self {
            Target::Name => "name".into(),
            Target::Segment => "segment".into(),
            Target::LifecycleStage => "lifecycle_stage".into(),
            Target::Attribute(a) => format!("attributes.{a}"),
            Target::Drop => String::new(),
        }
    }
}

/// One `[[trait]]` of the usage configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TraitRule {
    #[serde(rename = "trait")]
    pub name: String,
    pub to: String,
    #[serde(default)]
    pub overwrite: bool,
}

/// What one trait asks of its account.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldUpdate {
    pub target: Target,
    pub value: Value,
    pub overwrite: bool,
}

/// A `[[trait]]` rule that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraitError {
    #[error("usage trait {name:?}: to = {to:?} is not one of name, segment, lifecycle_stage, attributes.NAME or \"\"")]
    Target { name: String, to: String },
    #[error("usage trait {0:?} is mapped twice")]
    Twice(String),
}

/// The rules in force: the configured ones, then the defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraitMap {
    rules: Vec<(String, Target, bool)>,
}

impl TraitMap {
    /// Checks the rules; an error names the trait and what `to` may be.
    pub fn new(rules: &[TraitRule]) -> Result<Self, TraitError> {
        let mut out = Vec::with_capacity(rules.len());
        for r in rules {
            let target = Target::parse(&r.to).ok_or_else(|| TraitError::Target { name: r.name.clone(), to: r.to.clone() })?;
            if out.iter().any(|(n, _, _)| *n == r.name) {
                return Err(TraitError::Twice(r.name.clone()));
            }
            out.push((r.name.clone(), target, r.overwrite));
        }
        Ok(TraitMap { rules: out })
    }

    /// The rules of a saved usage configuration, leniently: only its `[[trait]]` tables are
    /// read (it was checked whole when saved); the defaults when there are none.
    pub fn from_config(text: &str) -> Self {
        #[derive(Deserialize)]
        struct Only {
            #[serde(default, rename = "trait")]
            traits: Vec<TraitRule>,
        }
        toml::from_str::<Only>(text).ok().and_then(|o| TraitMap::new(&o.traits).ok()).unwrap_or_default()
    }

    /// The account fields `traits` set, in the traits' order. Nulls set nothing. The segment
    /// is lower case and the name and lifecycle stage are text, as an import writes them.
    pub fn updates(&self, traits: &Map<String, Value>) -> Vec<FieldUpdate> {
        traits
            .iter()
            .filter(|(_, v)| !v.is_null())
            .filter_map(|(name, value)| {
                let (target, overwrite) = match self.rules.iter().find(|(n, _, _)| n == name) {
                    Some((_, t, o)) => (t.clone(), *o),
                    None if name == "name" => (Target::Name, false),
                    None => (Target::Attribute(name.clone()), false),
                };
                let value = match (&target, value) {
                    (Target::Drop, _) => return None,
                    (Target::Attribute(_), v) => v.clone(),
                    (Target::Segment, v) => Value::String(as_text(v)?.to_lowercase()),
                    (_, v) => Value::String(as_text(v)?),
                };
                Some(FieldUpdate { target, value, overwrite })
            })
            .collect()
    }
}

/// A trait as text: a string (trimmed, not empty) or a number or boolean.
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        _ => None,
    }
}

/// Whether traits may set a field: always with `overwrite`; otherwise when it is empty, or
/// when it still holds what traits set before (nobody else changed it since).
pub fn may_set(update: &FieldUpdate, current: Option<&Value>, set_by_traits_before: Option<&Value>) -> bool {
    update.overwrite || current.is_none_or(Value::is_null) || current == set_by_traits_before
}

/// The contact an identified user makes: (e-mail, name, title) when its traits carry a valid
/// e-mail. The name is `name`, else `firstName lastName`.
pub fn contact(traits: &Value) -> Option<(String, Option<String>, Option<String>)> {
    let email = crate::fields::parse_email("email", traits["email"].as_str()?).ok()?;
    let name = traits["name"].as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).or_else(|| {
        let parts: Vec<&str> = ["firstName", "lastName"].iter().filter_map(|k| traits[*k].as_str()).map(str::trim).filter(|s| !s.is_empty()).collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    let title = traits["title"].as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    Some((email, name, title))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn traits(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn by_default_name_names_and_the_rest_are_typed_attributes() {
        let u = TraitMap::default().updates(&traits(json!({"name": "Initech", "employees": 120, "paying": true, "plan": "Pro", "gone": null})));
        let got: Vec<(String, Value)> = u.iter().map(|f| (f.target.key(), f.value.clone())).collect();
        assert_eq!(
            got,
            vec![
                ("name".into(), json!("Initech")),
                ("attributes.employees".into(), json!(120)),
                ("attributes.paying".into(), json!(true)),
                ("attributes.plan".into(), json!("Pro")),
            ]
        );
        assert!(u.iter().all(|f| !f.overwrite));
    }

    #[test]
    fn rules_send_traits_elsewhere_and_are_checked() {
        let rules = vec![
            TraitRule { name: "plan".into(), to: "segment".into(), overwrite: true },
            TraitRule { name: "company".into(), to: "name".into(), overwrite: false },
            TraitRule { name: "internal".into(), to: "".into(), overwrite: false },
            TraitRule { name: "tier".into(), to: "attributes.plan_tier".into(), overwrite: false },
        ];
        let map = TraitMap::new(&rules).unwrap();
        let u = map.updates(&traits(json!({"plan": "Enterprise", "company": "Initech KK", "internal": 1, "tier": 3})));
        let got: Vec<(String, Value, bool)> = u.iter().map(|f| (f.target.key(), f.value.clone(), f.overwrite)).collect();
        assert_eq!(
            got,
            vec![("segment".into(), json!("enterprise"), true), ("name".into(), json!("Initech KK"), false), ("attributes.plan_tier".into(), json!(3), false)]
        );
        let bad = TraitMap::new(&[TraitRule { name: "plan".into(), to: "plan".into(), overwrite: false }]).unwrap_err();
        assert_eq!(bad.to_string(), "usage trait \"plan\": to = \"plan\" is not one of name, segment, lifecycle_stage, attributes.NAME or \"\"");
        let config = "[[metric]]\nname = \"x\"\nkind = \"count\"\nevent = \"login\"\ndays = 7\n\n[[trait]]\ntrait = \"plan\"\nto = \"segment\"\n";
        assert_eq!(TraitMap::from_config(config), TraitMap::new(&rules[..1].iter().map(|r| TraitRule { overwrite: false, ..r.clone() }).collect::<Vec<_>>()).unwrap());
    }

    #[test]
    fn imported_values_stay_unless_the_rule_overwrites() {
        let update = |overwrite| FieldUpdate { target: Target::Segment, value: json!("pro"), overwrite };
        let (imported, before) = (json!("enterprise"), json!("basic"));
        assert!(may_set(&update(false), None, None), "empty: filled");
        assert!(may_set(&update(false), Some(&Value::Null), None));
        assert!(!may_set(&update(false), Some(&imported), None), "set by an import: kept");
        assert!(may_set(&update(true), Some(&imported), None), "unless the rule overwrites");
        assert!(may_set(&update(false), Some(&before), Some(&before)), "set by traits before: updated");
        assert!(!may_set(&update(false), Some(&imported), Some(&before)), "changed since traits set it: kept");
    }

    #[test]
    fn identified_users_with_an_email_are_contacts() {
        assert_eq!(contact(&json!({"email": "Ann@Example.com", "name": "Ann Lee", "title": "CTO"})), Some(("ann@example.com".into(), Some("Ann Lee".into()), Some("CTO".into()))));
        assert_eq!(contact(&json!({"email": "bo@example.com", "firstName": "Bo", "lastName": "Kim"})), Some(("bo@example.com".into(), Some("Bo Kim".into()), None)));
        assert_eq!(contact(&json!({"email": "not an address"})), None);
        assert_eq!(contact(&json!({"name": "No Mail"})), None);
    }
}
