//! Property-based fuzzing of every parser of untrusted text in the domain crate: Segment's
//! message format (what SDKs and strangers send to `/v1`), the scorecard, usage-definition and
//! planning-scenario TOML files (what admins paste into the pages). Whatever the input, a parser
//! answers Ok or a typed error: it never panics, and what it accepts it can write back and read
//! again. Bounded by `PROPTEST_CASES` (default 256 here); CI runs them with every test. A failing
//! input proptest finds is kept in `tests/fuzz.proptest-regressions` and replayed first.

use chrono::{TimeZone, Utc};
use kizuna_domain::health::Scorecards;
use kizuna_domain::planning::scenario::Scenario;
use kizuna_domain::usage::metrics::Definitions;
use kizuna_domain::usage::segment::{parse_batch, parse_single, parse_typed, Kind};
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

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256), ..ProptestConfig::default() })]

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
}
