//! Property-based fuzzing of every parser of untrusted text in the domain crate: Segment's
//! message format and the traits it carries (what SDKs and strangers send to `/v1`), the
//! scorecard, usage-definition, planning-scenario and CTA/playbook TOML files, the onboarding
//! templates and journey JSON (what admins paste into the pages), and the signed links a
//! customer opens without signing in. Whatever the input, a parser
//! answers Ok or a typed error: it never panics, and what it accepts it can write back and read
//! again. Bounded by `PROPTEST_CASES` (default 256 here); CI runs them with every test. A failing
//! input proptest finds is kept in `tests/proptest-regressions/fuzz.txt` and replayed first.

use chrono::{TimeZone, Utc};
use kizuna_domain::health::Scorecards;
use kizuna_domain::planning::scenario::Scenario;
use kizuna_domain::usage::metrics::Definitions;
use kizuna_domain::usage::segment::{parse_batch, parse_single, parse_typed, Kind};
use kizuna_domain::usage::traits::{Target, TraitMap, TraitRule};
use kizuna_domain::{ctas, journey::Journey, links, onboarding};
use proptest::prelude::*;

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 5, 0, 0).unwrap()
}

/// JSON values with the shapes and edge cases SDK payloads have: nesting, huge and negative
/// numbers, odd strings (NUL, RTL marks, full-width text, long runs), wrong types.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| serde_json::json!(f)),
        prop_oneof![
            Just(String::new()),
            Just("\u{0}".to_string()),
            Just("2026-12-06T05:56:00Z".to_string()),
            Just("2026-13-45T99:99:99Z".to_string()),
            Just("ｱｶｳﾝﾄ\u{200f}".to_string()),
            Just("x".repeat(20_000)),
            ".{0,40}",
        ]
        .prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..6).prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Segment's field names, so generated messages reach deep into the parser, and some others.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "type", "userId", "anonymousId", "groupId", "messageId", "event", "name", "timestamp", "sentAt", "originalTimestamp",
            "properties", "traits", "context", "batch", "writeKey", "value", "revenue", "integrations",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z_]{1,12}",
    ]
}

/// A message object: the right keys with values of any type.
fn message() -> impl Strategy<Value = serde_json::Value> {
    (
        prop::sample::select(vec!["track", "identify", "group", "page", "screen", "alias", "", "TRACK"]),
        prop::collection::btree_map(field_name(), json_value(), 0..8),
    )
        .prop_map(|(kind, mut fields)| {
            fields.insert("type".into(), serde_json::json!(kind));
            serde_json::Value::Object(fields.into_iter().collect())
        })
}

fn kind() -> impl Strategy<Value = Kind> {
    prop::sample::select(vec![Kind::Track, Kind::Identify, Kind::Group, Kind::Page, Kind::Screen])
}

/// `text` with a few characters inserted, deleted or replaced at random places.
fn mutated(text: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(vec!["=", "\"", "[", "]", "\n", "-1", "1e309", "#", ".", "NaN", "ｘ", "\u{0}"])), 1..6).prop_map(
        move |edits| {
            let mut s: Vec<char> = text.chars().collect();
            for (at, op, piece) in edits {
                let i = at.index(s.len() + 1);
                match op {
                    0 => s.splice(i..i, piece.chars()).for_each(drop),
                    1 if i < s.len() => {
                        s.remove(i);
                    }
                    _ if i < s.len() => s[i] = piece.chars().next().unwrap_or(' '),
                    _ => {}
                }
            }
            s.into_iter().collect()
        },
    )
}

const SCENARIO: &str = include_str!("../../../../docs/scenario.example.toml");

/// Two templates as a CS Ops team writes them: phases, both sides, every kind of criterion,
/// dependencies, due days from the plan and from the phase.
const TEMPLATES: &str = r#"{"templates": [
 {"template_id": "expense", "name": "経費精算 導入", "product": "expense", "value_milestone": "first_report",
  "behind_after_days": 2, "stuck_after_days": 10,
  "phases": [
   {"phase_id": "setup", "name": "初期設定", "name_en": "Setup", "tasks": [
     {"task_id": "kickoff", "title": "キックオフ", "side": "vendor", "due_days": 3},
     {"task_id": "admin", "title": "管理者の登録", "side": "customer", "setup": true, "due_days": 5,
      "criterion": {"kind": "contact_role", "role": "Admin"}},
     {"task_id": "sso", "title": "SSO", "side": "customer", "required": false, "due_days": 8, "depends_on": ["admin"],
      "criterion": {"kind": "attribute", "name": "sso"}}]},
   {"phase_id": "use", "name": "活用", "tasks": [
     {"task_id": "first_report", "title": "初回の申請", "title_en": "First report", "side": "customer", "due_days": 5,
      "due_from": "phase", "depends_on": ["kickoff"],
      "criterion": {"kind": "event", "event": "report_submitted", "min_count": 3, "min_users": 2, "within_days": 30}},
     {"task_id": "weekly", "title": "週次利用", "side": "customer", "due_days": 20,
      "criterion": {"kind": "metric", "metric": "weekly_active_users", "min": 5.5}}]}]},
 {"template_id": "invoice-smb", "name": "請求書 SMB", "product": "invoice", "segment": "smb", "touch_model": "tech",
  "completes_to_stage": null, "auto_start_from": "2026-04-01", "version": 3,
  "phases": [{"phase_id": "p1", "name": "開始", "tasks": [
     {"task_id": "login", "title": "初回ログイン", "side": "customer", "due_days": 0,
      "criterion": {"kind": "event", "event": "login"}}]}]}
]}"#;

const JOURNEY: &str = r#"{"stages": [
 {"name": "onboarding", "label_ja": "オンボーディング", "label_en": "Onboarding"},
 {"name": "adoption", "label_ja": "活用促進", "label_en": "Adoption"},
 {"name": "renewal_2", "label_ja": "更新", "label_en": "Renewal"}]}"#;

/// The samples the fuzzers mutate are themselves accepted, so the checks after a parse run.
#[test]
fn the_samples_are_accepted() {
    serde_json::from_str::<onboarding::Templates>(TEMPLATES).unwrap().check().unwrap();
    serde_json::from_str::<Journey>(JOURNEY).unwrap().check().unwrap();
    ctas::CtaConfig::parse(ctas::DEFAULT).unwrap();
}

fn day() -> impl Strategy<Value = chrono::NaiveDate> {
    // Ten years back to three ahead: the span a plan's start may take.
    (0i64..4_750).prop_map(|n| chrono::NaiveDate::from_ymd_opt(2016, 12, 6).unwrap() + chrono::Duration::days(n))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256), ..ProptestConfig::default() })]

    /// The spreadsheet field parsers: any text is a value or a typed error; a date read back
    /// as written (ISO) reads the same.
    #[test]
    fn sheet_fields_take_any_text(s in prop_oneof![".{0,24}", "[0-9０-９/／年月日 :-]{0,16}", "[¥￥0-9,，.円 ]{0,12}"]) {
        if let Ok(d) = kizuna_domain::fields::parse_sheet_date("d", &s) {
            prop_assert_eq!(kizuna_domain::fields::parse_sheet_date("d", &d.to_string()).ok(), Some(d));
        }
        let _ = kizuna_domain::fields::parse_sheet_timestamp("t", &s);
        if let Ok(c) = kizuna_domain::money::parse_amount("mrr", &s) {
            prop_assert!(c >= 0);
        }
    }

    #[test]
    fn segment_parsers_take_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512), k in kind()) {
        let _ = parse_batch(&bytes, now());
        let _ = parse_single(k, &bytes, now());
        let _ = parse_typed(&bytes, now());
    }

    #[test]
    fn segment_parsers_take_any_messages(messages in prop::collection::vec(message(), 0..6), k in kind()) {
        let batch = serde_json::to_vec(&serde_json::json!({ "batch": messages })).unwrap();
        if let Ok(parsed) = parse_batch(&batch, now()) {
            prop_assert!(parsed.len() <= messages.len());
        }
        for m in &messages {
            let body = serde_json::to_vec(m).unwrap();
            let _ = parse_single(k, &body, now());
            let _ = parse_typed(&body, now());
        }
    }

    #[test]
    fn scorecard_toml_never_panics_and_round_trips(text in prop_oneof![mutated(kizuna_domain::health::scorecard::DEFAULT), ".{0,200}"]) {
        if let Ok(cards) = Scorecards::parse(&text) {
            let again = Scorecards::parse(&cards.to_toml());
            prop_assert!(again.is_ok(), "accepted scorecards must be written back readable: {:?}", again.err());
        }
    }

    #[test]
    fn usage_definitions_toml_never_panics(text in prop_oneof![mutated(kizuna_domain::usage::metrics::DEFAULT), ".{0,200}"]) {
        let _ = Definitions::parse(&text);
    }

    #[test]
    fn scenario_toml_never_panics(text in prop_oneof![mutated(SCENARIO), ".{0,200}"]) {
        let _ = Scenario::parse(&text);
    }

    #[test]
    fn usage_traits_take_any_rules_and_traits(
        rules in prop::collection::vec((prop::sample::select(vec!["name", "plan", "segment", "industry", "ｐｌａｎ"]), prop::sample::select(vec!["", "name", "segment", "lifecycle_stage", "attributes.tier", "attributes.", "attributes", "Segment"]), any::<bool>()), 0..4),
        traits in prop::collection::btree_map(prop_oneof![prop::sample::select(vec!["name", "plan", "segment", "industry"]).prop_map(str::to_string), field_name()], json_value(), 0..6),
    ) {
        let rules: Vec<TraitRule> = rules.into_iter().map(|(n, to, overwrite)| TraitRule { name: n.into(), to: to.into(), overwrite }).collect();
        let Ok(map) = TraitMap::new(&rules) else { return Ok(()) };
        let traits: serde_json::Map<String, serde_json::Value> = traits.into_iter().collect();
        for u in map.updates(&traits) {
            prop_assert!(u.target != Target::Drop, "a dropped trait sets nothing");
            prop_assert!(!u.value.is_null(), "a null sets nothing");
            if u.target == Target::Segment {
                let s = u.value.as_str().unwrap_or_default().to_string();
                prop_assert_eq!(&s, &s.to_lowercase(), "segments are kept in lower case");
            }
        }
    }

    #[test]
    fn cta_configuration_toml_never_panics_and_round_trips(text in prop_oneof![Just(ctas::DEFAULT.to_string()), mutated(ctas::DEFAULT), ".{0,200}"]) {
        if let Ok(config) = ctas::CtaConfig::parse(&text) {
            let again = ctas::CtaConfig::parse(&config.to_toml());
            prop_assert!(again.is_ok(), "an accepted configuration must be written back readable: {:?}", again.err());
            prop_assert_eq!(again.unwrap().to_toml(), config.to_toml());
        }
    }

    #[test]
    fn onboarding_templates_never_panic_and_plan_on_business_days(text in prop_oneof![Just(TEMPLATES.to_string()), mutated(TEMPLATES), ".{0,200}"], start in day()) {
        let Ok(edited) = serde_json::from_str::<onboarding::Templates>(&text) else { return Ok(()) };
        if edited.check().is_err() {
            return Ok(());
        }
        let saved = onboarding::versioned(&onboarding::Templates::default(), edited, start);
        let back: onboarding::Templates = serde_json::from_str(&serde_json::to_string(&saved).unwrap()).unwrap();
        prop_assert_eq!(&back, &saved, "saved templates read back as saved");
        prop_assert!(back.check().is_ok());
        prop_assert_eq!(onboarding::versioned(&saved, back.clone(), start), back, "saving unchanged templates changes no version");
        for t in &saved.templates {
            let plan = onboarding::instantiate(t, "plan-1".into(), "A1", start, None);
            prop_assert_eq!(plan.tasks.len(), t.tasks().count());
            for task in &plan.tasks {
                prop_assert!(task.due_on >= start);
                prop_assert!(ctas::is_business_day(task.due_on), "{} is due on {}, not a business day", task.task_id, task.due_on);
            }
            prop_assert!(plan.due_on >= start);
            prop_assert_eq!(onboarding::status_on(&plan, start), onboarding::PlanStatus::OnTrack, "nothing is late on the first day");
        }
    }

    #[test]
    fn journey_json_never_panics(text in prop_oneof![Just(JOURNEY.to_string()), mutated(JOURNEY), ".{0,200}"]) {
        if let Ok(j) = serde_json::from_str::<Journey>(&text) {
            if j.check().is_ok() {
                for s in &j.stages {
                    prop_assert_eq!(j.label(&s.name, "ja"), s.label_ja.as_str());
                }
            }
        }
    }

    #[test]
    fn shared_links_open_only_as_signed(
        key in prop::collection::vec(any::<u8>(), 0..64),
        id in "[a-z0-9.\\-]{1,40}",
        last_day in day(),
        at in any::<prop::sample::Index>(),
        with in any::<char>(),
        junk in ".{0,250}",
    ) {
        let t = links::token(&key, &id, last_day);
        prop_assert_eq!(links::read(&key, &t), Some((id.as_str(), last_day)));
        // Any one character changed makes a link that does not open.
        let mut chars: Vec<char> = t.chars().collect();
        let i = at.index(chars.len());
        if chars[i] != with {
            chars[i] = with;
            let forged: String = chars.into_iter().collect();
            prop_assert_eq!(links::read(&key, &forged), None, "{} opened", forged);
        }
        let mut other = key.clone();
        other.push(1);
        prop_assert_eq!(links::read(&other, &t), None);
        let _ = links::read(&key, &junk);
    }
}
