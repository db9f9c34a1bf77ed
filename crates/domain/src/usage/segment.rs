//! Segment's HTTP tracking API payloads (`/v1/track`, `/v1/identify`, `/v1/group`, `/v1/page`,
//! `/v1/batch`) into [`UsageMessage`]s, with Segment's limits: 32 KB per message, 500 KB per
//! batch. Every error names the message (its position in a batch) and what was wrong.

use super::{UsageEvent, UsageMessage};
use chrono::{DateTime, Utc};
use serde_json::Value;

pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;
pub const MAX_BATCH_BYTES: usize = 500 * 1024;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SegmentError {
    #[error("the request body is {0} bytes; Segment's limit for a batch is 500 KB ({MAX_BATCH_BYTES} bytes)")]
    BatchTooLarge(usize),
    #[error("{at}: the message is {size} bytes; the limit is 32 KB ({MAX_MESSAGE_BYTES} bytes)")]
    MessageTooLarge { at: String, size: usize },
    #[error("{at}: {problem}")]
    Invalid { at: String, problem: String },
}

/// The kinds of call, by path (`/v1/{kind}`) or a batch item's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Track,
    Identify,
    Group,
    Page,
    Screen,
    Alias,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "track" => Kind::Track,
            "identify" => Kind::Identify,
            "group" => Kind::Group,
            "page" => Kind::Page,
            "screen" => Kind::Screen,
            "alias" => Kind::Alias,
            // Segment's browser library (analytics.js) posts to one-letter paths: /v1/t, /v1/p…
            "t" => Kind::Track,
            "i" => Kind::Identify,
            "g" => Kind::Group,
            "p" => Kind::Page,
            "s" => Kind::Screen,
            "a" => Kind::Alias,
            _ => return None,
        })
    }
}

/// One call's body (`/v1/track` and the like).
pub fn parse_single(kind: Kind, body: &[u8], now: DateTime<Utc>) -> Result<UsageMessage, SegmentError> {
    let at = "message".to_string();
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(SegmentError::MessageTooLarge { at, size: body.len() });
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| SegmentError::Invalid { at: at.clone(), problem: format!("is not JSON: {e}") })?;
    message(kind, &v, &at, Clock::http(now))
}

/// The `writeKey` a body may carry instead of Basic auth (Segment accepts both).
pub fn body_write_key(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Key {
        #[serde(rename = "writeKey")]
        write_key: Option<String>,
    }
    serde_json::from_slice::<Key>(body).ok()?.write_key
}

/// `/v1/batch`: `{"batch": [...], "context": {...}}`; a batch-level `context` applies to every
/// message that has none of its own.
pub fn parse_batch(body: &[u8], now: DateTime<Utc>) -> Result<Vec<UsageMessage>, SegmentError> {
    if body.len() > MAX_BATCH_BYTES {
        return Err(SegmentError::BatchTooLarge(body.len()));
    }
    #[derive(serde::Deserialize)]
    struct Batch<'a> {
        #[serde(borrow)]
        batch: Vec<&'a serde_json::value::RawValue>,
        #[serde(default)]
        context: Option<Value>,
        #[serde(default, rename = "sentAt")]
        sent_at: Value,
    }
    let b: Batch = serde_json::from_slice(body)
        .map_err(|e| SegmentError::Invalid { at: "batch".into(), problem: format!("is not a batch ({{\"batch\": [...]}}): {e}") })?;
    let sent_at = time_value("sentAt", &b.sent_at).ok().flatten();
    b.batch
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let at = format!("batch[{i}]");
            if raw.get().len() > MAX_MESSAGE_BYTES {
                return Err(SegmentError::MessageTooLarge { at, size: raw.get().len() });
            }
            let mut v: Value = serde_json::from_str(raw.get()).map_err(|e| SegmentError::Invalid { at: at.clone(), problem: e.to_string() })?;
            if let (Some(ctx), Some(obj)) = (&b.context, v.as_object_mut()) {
                obj.entry("context").or_insert_with(|| ctx.clone());
            }
            let kind = v["type"].as_str().and_then(Kind::parse).ok_or_else(|| SegmentError::Invalid {
                at: at.clone(),
                problem: format!("type {} is not one of: track, identify, group, page, screen, alias", v["type"]),
            })?;
            message(kind, &v, &at, Clock { batch_sent_at: sent_at, ..Clock::http(now) })
        })
        .collect()
}

/// One message whose kind is its `type` (a line of an NDJSON file).
pub fn parse_typed(body: &[u8], now: DateTime<Utc>) -> Result<UsageMessage, SegmentError> {
    let at = "message";
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(SegmentError::MessageTooLarge { at: at.into(), size: body.len() });
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| SegmentError::Invalid { at: at.into(), problem: format!("is not JSON: {e}") })?;
    let kind = v["type"].as_str().and_then(Kind::parse).ok_or_else(|| SegmentError::Invalid {
        at: at.into(),
        problem: format!("type {} is not one of: track, identify, group, page, screen, alias", v["type"]),
    })?;
    // A line of an export carries when Segment received it: a device's clock is corrected
    // against that, never against the day the file is read.
    let received = time_field(&v, "receivedAt").ok().flatten().filter(|r| *r <= now);
    message(kind, &v, at, Clock { now, received, batch_sent_at: None })
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Ids follow the importer's rules ([`crate::fields::parse_id`]: at most 200 characters, none
/// a control character), so an event cannot create an account the importer would refuse.
pub const MAX_ID_CHARS: usize = 200;

/// `value` of `field` if it is an identifier; else the problem, naming the field and showing
/// the start of the value (a 20,000-character id is not echoed whole).
fn checked_id(field: &str, value: Option<String>) -> Result<Option<String>, String> {
    match value {
        Some(id) if id.chars().count() > MAX_ID_CHARS || id.chars().any(char::is_control) => {
            let shown: String = id.chars().take(40).collect();
            let more = if shown.len() < id.len() { format!("… ({} characters)", id.chars().count()) } else { String::new() };
            Err(format!("{field} {shown:?}{more} is not an identifier (at most {MAX_ID_CHARS} characters, no control characters)"))
        }
        other => Ok(other),
    }
}

/// The value without NUL characters in its strings and keys: PostgreSQL's text and JSONB
/// cannot hold one, and no name, e-mail or property means it.
fn without_nul(v: Value) -> Value {
    match v {
        Value::String(s) if s.contains('\0') => Value::String(s.replace('\0', "")),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nul).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (if k.contains('\0') { k.replace('\0', "") } else { k }, without_nul(v))).collect()),
        other => other,
    }
}

/// A message's traits: `traits`, over `context.traits` (where some SDKs put identify's).
fn traits(v: &Value) -> Result<Value, String> {
    let mut merged = serde_json::Map::new();
    for (name, t) in [("context.traits", &v["context"]["traits"]), ("traits", &v["traits"])] {
        match t {
            Value::Null => {}
            Value::Object(o) => merged.extend(o.iter().map(|(k, v)| (k.clone(), v.clone()))),
            other => return Err(format!("{name} must be an object, not {other}")),
        }
    }
    Ok(without_nul(Value::Object(merged)))
}

/// A time field of a message, if it has one.
fn time_field(v: &Value, k: &str) -> Result<Option<DateTime<Utc>>, String> {
    time_value(k, &v[k])
}

fn time_value(k: &str, v: &Value) -> Result<Option<DateTime<Utc>>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => iso_time(s).map(Some).ok_or_else(|| format!("{k} {s:?} is not an ISO 8601 time")),
        other => Err(format!("{k} {other} is not an ISO 8601 time")),
    }
}

/// An ISO 8601 time as clients write it: RFC 3339; without an offset (UTC, as Segment reads
/// it), with `T` or a space and any fraction; or a date alone (the start of that day in the
/// business time zone, as the importer reads one).
fn iso_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc());
        }
    }
    (s.len() == 10).then(|| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()).flatten().map(crate::time::start_of_day)
}

/// Segment's client-side libraries (browser, mobile): their `timestamp` is the device's clock,
/// which Segment corrects with `sentAt`; the server-side ones' is used as sent.
fn client_side(v: &Value) -> bool {
    const CLIENT: [&str; 7] = ["analytics.js", "analytics-kotlin", "analytics-swift", "analytics-android", "analytics-ios", "analytics-react-native", "analytics-flutter"];
    v["context"]["library"]["name"].as_str().is_some_and(|n| CLIENT.iter().any(|c| n.trim_start_matches("@segment/") == *c))
}

/// What a message's time is read against.
#[derive(Clone, Copy)]
struct Clock {
    now: DateTime<Utc>,
    /// When the message reached Segment (a line of an export says) or us (an HTTP call).
    received: Option<DateTime<Utc>>,
    /// The batch's `sentAt`, for messages without their own.
    batch_sent_at: Option<DateTime<Utc>>,
}

impl Clock {
    fn http(now: DateTime<Utc>) -> Clock {
        Clock { now, received: Some(now), batch_sent_at: None }
    }
}

/// When a message happened, by Segment's and RudderStack's rules (docs/usage.md, "When an event
/// happened"): `timestamp` as sent (server-side libraries and the HTTP API set it), corrected
/// like `originalTimestamp` when a client-side library (browser, mobile) sent it; else the
/// device's `originalTimestamp` corrected for the device's clock skew with `sentAt` (the
/// message's, else its batch's): received − (sentAt − originalTimestamp); else
/// `originalTimestamp` as it is; else when it was received. Never after now: it cannot have
/// happened later, and a device whose clock runs a year ahead would otherwise have its use
/// counted next year, not today.
fn when(v: &Value, clock: Clock) -> Result<DateTime<Utc>, String> {
    if let Some(t) = time_field(v, "timestamp")? {
        let sent = time_field(v, "sentAt").ok().flatten().or(clock.batch_sent_at);
        return Ok(match (client_side(v), clock.received, sent) {
            (true, Some(received), Some(s)) => received.checked_sub_signed(s - t).unwrap_or(t),
            _ => t,
        }
        .min(clock.now));
    }
    let time = match (time_field(v, "originalTimestamp")?, clock.received) {
        // `sentAt` only corrects: one that cannot be read corrects nothing.
        (Some(o), Some(received)) => match time_field(v, "sentAt").ok().flatten().or(clock.batch_sent_at) {
            Some(s) => received.checked_sub_signed(s - o).unwrap_or(o),
            None => o,
        },
        (Some(o), None) => o,
        (None, received) => received.unwrap_or(clock.now),
    };
    Ok(time.min(clock.now))
}

fn message(kind: Kind, v: &Value, at: &str, clock: Clock) -> Result<UsageMessage, SegmentError> {
    let bad = |problem: String| SegmentError::Invalid { at: at.to_string(), problem };
    if !v.is_object() {
        return Err(bad("is not a JSON object".into()));
    }
    let user = match text(&v["userId"]) {
        Some(u) => checked_id("userId", Some(u)),
        None => checked_id("anonymousId", text(&v["anonymousId"])),
    }
    .map_err(bad)?;
    let time = when(v, clock).map_err(bad)?;
    let object = |k: &str| match &v[k] {
        Value::Null => Ok(Value::Object(Default::default())),
        o @ Value::Object(_) => Ok(without_nul(o.clone())),
        other => Err(bad(format!("{k} must be an object, not {other}"))),
    };
    let need_user = || user.clone().ok_or_else(|| bad("needs a userId or an anonymousId".into()));
    match kind {
        Kind::Identify => {
            let user_id = need_user()?;
            let anonymous_id = checked_id("anonymousId", text(&v["anonymousId"])).map_err(bad)?.filter(|a| *a != user_id);
            Ok(UsageMessage::Identify { user_id, anonymous_id, traits: traits(v).map_err(bad)?, at: time })
        }
        Kind::Alias => {
            let user_id = checked_id("userId", text(&v["userId"])).map_err(bad)?.ok_or_else(|| bad("alias needs a userId".into()))?;
            let previous_id = checked_id("previousId", text(&v["previousId"]).or_else(|| text(&v["anonymousId"]))).map_err(bad)?;
            let previous_id = previous_id.ok_or_else(|| bad("alias needs a previousId".into()))?;
            Ok(UsageMessage::Alias { previous_id, user_id, at: time })
        }
        Kind::Group => {
            let account_id = checked_id("groupId", text(&v["groupId"])).map_err(bad)?;
            let account_id = account_id.ok_or_else(|| bad("group needs a groupId (the account's id)".into()))?;
            Ok(UsageMessage::Group { user_id: need_user()?, account_id, traits: object("traits")?, at: time })
        }
        Kind::Track | Kind::Page | Kind::Screen => {
            let user_id = need_user()?;
            // Segment's HTTP API does not require a messageId; without one the message's own
            // content names it, so resending the same payload is still recognised.
            let message_id = checked_id("messageId", text(&v["messageId"])).map_err(bad)?;
            let message_id = message_id.unwrap_or_else(|| format!("kz-{}", &crate::access::hash_key(&v.to_string())[..32]));
            let event_type = match kind {
                Kind::Track => checked_id("event", text(&v["event"])).map_err(bad)?.ok_or_else(|| bad("track needs an event name".into()))?,
                Kind::Page => "page".to_string(),
                _ => "screen".to_string(),
            };
            let mut properties = object("properties")?;
            if kind != Kind::Track {
                if let (Some(name), Some(p)) = (text(&v["name"]), properties.as_object_mut()) {
                    p.entry("name").or_insert(Value::String(name));
                }
            }
            let value = properties["value"].as_f64().or_else(|| properties["revenue"].as_f64());
            let account_id = checked_id("context.groupId", text(&v["context"]["groupId"])).map_err(bad)?;
            Ok(UsageMessage::Event(UsageEvent { message_id, user_id: Some(user_id), account_id, event_type, at: time, value, properties }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T00:00:00Z").unwrap().with_timezone(&Utc)
    }

    // From Segment's HTTP API documentation (Track, Group and Batch examples).
    const TRACK: &str = r#"{
  "userId": "019mr8mf4r",
  "event": "Item Purchased",
  "properties": { "name": "Leap to Conclusions Mat", "revenue": 14.99 },
  "context": { "ip": "24.5.68.47" },
  "timestamp": "2012-12-02T00:30:12.984Z"
}"#;

    const BATCH: &str = r#"{
  "batch": [
    { "type": "identify", "userId": "019mr8mf4r", "traits": { "email": "jake@yahoo.com", "name": "Jake Peterson", "age": 26 }, "timestamp": "2012-12-02T00:30:08.276Z" },
    { "type": "track", "userId": "019mr8mf4r", "event": "Song Played", "properties": { "name": "Fallin for You", "artist": "Dierks Bentley" }, "timestamp": "2012-12-02T00:30:12.984Z", "messageId": "m-1" },
    { "type": "identify", "userId": "971mj8mk7p", "traits": { "email": "cindy@example.com", "name": "Cindy Gonzalez", "age": 23 }, "timestamp": "2012-12-02T00:30:08.276Z" },
    { "type": "track", "userId": "971mj8mk7p", "event": "Song Played", "properties": { "name": "Get Right", "artist": "Jennifer Lopez" }, "timestamp": "2012-12-02T00:30:12.984Z", "messageId": "m-2" }
  ],
  "context": { "device": { "type": "phone", "name": "Apple iPhone 6" } }
}"#;

    #[test]
    fn track_from_the_spec() {
        let UsageMessage::Event(a) = parse_single(Kind::Track, TRACK.as_bytes(), now()).unwrap() else { panic!() };
        let UsageMessage::Event(b) = parse_single(Kind::Track, TRACK.as_bytes(), now()).unwrap() else { panic!() };
        assert!(a.message_id.starts_with("kz-") && a.message_id.len() == 35);
        assert_eq!(a.message_id, b.message_id, "the same payload has the same derived id");
        let with_id = TRACK.replace("\"userId\"", "\"messageId\": \"abc\", \"userId\"");
        let UsageMessage::Event(e) = parse_single(Kind::Track, with_id.as_bytes(), now()).unwrap() else { panic!() };
        assert_eq!((e.event_type.as_str(), e.value, e.user_id.as_deref()), ("Item Purchased", Some(14.99), Some("019mr8mf4r")));
        assert_eq!(e.at.to_rfc3339(), "2012-12-02T00:30:12.984+00:00");
        assert_eq!((e.account_id, e.message_id.as_str()), (None, "abc"));
    }

    #[test]
    fn batch_from_the_spec() {
        let msgs = parse_batch(BATCH.as_bytes(), now()).unwrap();
        assert_eq!(msgs.len(), 4);
        assert!(matches!(&msgs[0], UsageMessage::Identify { user_id, .. } if user_id == "019mr8mf4r"));
        let UsageMessage::Event(e) = &msgs[3] else { panic!() };
        assert_eq!((e.message_id.as_str(), e.event_type.as_str()), ("m-2", "Song Played"));
    }

    #[test]
    fn identify_traits_come_from_traits_or_context_traits() {
        let i = r#"{"userId": "u1", "context": {"traits": {"email": "a@example.com", "name": "Ann"}}, "traits": {"name": "Ann Lee"}}"#;
        let UsageMessage::Identify { traits, .. } = parse_single(Kind::Identify, i.as_bytes(), now()).unwrap() else { panic!() };
        assert_eq!(traits, serde_json::json!({"email": "a@example.com", "name": "Ann Lee"}), "traits win over context.traits");
        let e = parse_single(Kind::Identify, br#"{"userId": "u1", "context": {"traits": [1]}}"#, now()).unwrap_err();
        assert_eq!(e.to_string(), "message: context.traits must be an object, not [1]");
    }

    #[test]
    fn alias_and_identify_link_an_anonymous_id_and_the_browser_paths_read() {
        let a = r#"{"type": "alias", "previousId": "anon-1", "userId": "u1", "messageId": "a1"}"#;
        assert!(matches!(parse_single(Kind::Alias, a.as_bytes(), now()).unwrap(), UsageMessage::Alias { previous_id, user_id, .. } if previous_id == "anon-1" && user_id == "u1"));
        let b = format!(r#"{{"batch": [{a}, {{"type": "track", "userId": "u1", "event": "x", "messageId": "t"}}]}}"#);
        assert_eq!(parse_batch(b.as_bytes(), now()).unwrap().len(), 2, "an alias in a batch does not refuse the batch");
        assert_eq!(parse_single(Kind::Alias, br#"{"userId": "u1"}"#, now()).unwrap_err().to_string(), "message: alias needs a previousId");
        let i = r#"{"userId": "u1", "anonymousId": "anon-1", "traits": {}}"#;
        assert!(matches!(parse_single(Kind::Identify, i.as_bytes(), now()).unwrap(), UsageMessage::Identify { anonymous_id: Some(a), .. } if a == "anon-1"));
        let same = r#"{"userId": "u1", "anonymousId": "u1"}"#;
        assert!(matches!(parse_single(Kind::Identify, same.as_bytes(), now()).unwrap(), UsageMessage::Identify { anonymous_id: None, .. }));
        for (path, kind) in [("t", Kind::Track), ("i", Kind::Identify), ("g", Kind::Group), ("p", Kind::Page), ("s", Kind::Screen), ("a", Kind::Alias)] {
            assert_eq!(Kind::parse(path), Some(kind));
        }
    }

    #[test]
    fn group_and_context_group_attribute_to_accounts() {
        let g = r#"{"userId": "u1", "groupId": "C00042", "traits": {"name": "Initech"}, "messageId": "g1"}"#;
        assert!(matches!(parse_single(Kind::Group, g.as_bytes(), now()).unwrap(), UsageMessage::Group { account_id, .. } if account_id == "C00042"));
        let t = r#"{"anonymousId": "a1", "event": "login", "messageId": "t1", "context": {"groupId": "C00007"}}"#;
        let UsageMessage::Event(e) = parse_single(Kind::Track, t.as_bytes(), now()).unwrap() else { panic!() };
        assert_eq!((e.account_id.as_deref(), e.user_id.as_deref(), e.at), (Some("C00007"), Some("a1"), now()));
        let p = r#"{"userId": "u1", "name": "Dashboard", "messageId": "p1"}"#;
        let UsageMessage::Event(e) = parse_single(Kind::Page, p.as_bytes(), now()).unwrap() else { panic!() };
        assert_eq!((e.event_type.as_str(), e.properties["name"].as_str()), ("page", Some("Dashboard")));
    }

    fn time_of(m: UsageMessage) -> String {
        match m {
            UsageMessage::Event(e) => e.at,
            UsageMessage::Identify { at, .. } | UsageMessage::Group { at, .. } | UsageMessage::Alias { at, .. } => at,
        }
        .to_rfc3339()
    }

    #[test]
    fn nul_characters_leave_traits_and_properties() {
        let g = r#"{"userId": "u1", "groupId": "C1", "traits": {"name": "A\u0000B", "k\u0000": ["x\u0000"]}}"#;
        let UsageMessage::Group { traits, .. } = parse_single(Kind::Group, g.as_bytes(), now()).unwrap() else { panic!() };
        assert_eq!(traits, serde_json::json!({"name": "AB", "k": ["x"]}));
        let t = r#"{"userId": "u1", "event": "e", "messageId": "m", "properties": {"q": "a\u0000"}}"#;
        let UsageMessage::Event(e) = parse_single(Kind::Track, t.as_bytes(), now()).unwrap() else { panic!() };
        assert_eq!(e.properties["q"], "a");
    }

    #[test]
    fn a_browser_timestamp_is_corrected_and_iso_times_without_offset_are_read() {
        // analytics.js sends the device's `timestamp` and `sentAt`: a laptop a day slow.
        let browser = r#"{"userId": "u", "event": "login", "messageId": "m", "timestamp": "2026-11-22T23:59:00Z", "sentAt": "2026-11-23T00:00:00Z", "context": {"library": {"name": "analytics.js", "version": "npm:next-1.70.0"}}}"#;
        assert_eq!(time_of(parse_single(Kind::Track, browser.as_bytes(), now()).unwrap()), "2026-11-23T23:59:00+00:00");
        // A server library's timestamp is what happened (a backfill), corrected by nothing.
        let server = browser.replace("analytics.js", "analytics-node");
        assert_eq!(time_of(parse_single(Kind::Track, server.as_bytes(), now()).unwrap()), "2026-11-22T23:59:00+00:00");
        for (sent, read) in [("2026-11-20T09:00:00", "2026-11-20T09:00:00+00:00"), ("2026-11-20 09:00:00.250", "2026-11-20T09:00:00.250+00:00"), ("2026-11-20", "2026-11-19T15:00:00+00:00")] {
            let m = format!(r#"{{"userId": "u", "event": "x", "messageId": "m", "timestamp": "{sent}"}}"#);
            assert_eq!(time_of(parse_single(Kind::Track, m.as_bytes(), now()).unwrap()), read, "{sent}");
        }
    }

    #[test]
    fn a_device_clock_is_corrected_by_sent_at_and_nothing_is_dated_after_it_arrived() {
        // now() is 2026-11-24T00:00:00Z. A phone whose clock runs 2 h 30 min ahead: it invoked
        // track at its 02:20 and sent at its 02:30, so the event happened at 23:50 the day before.
        let skewed = r#"{"userId": "u", "event": "login", "messageId": "m", "originalTimestamp": "2026-11-24T02:20:00Z", "sentAt": "2026-11-24T02:30:00Z"}"#;
        assert_eq!(time_of(parse_single(Kind::Track, skewed.as_bytes(), now()).unwrap()), "2026-11-23T23:50:00+00:00");
        // RudderStack's batches carry sentAt on the batch too; a message's own wins.
        let batch = r#"{"sentAt": "2026-11-24T09:00:00+09:00", "batch": [
            {"type": "track", "userId": "u", "event": "a", "messageId": "1", "originalTimestamp": "2026-11-24T08:59:00+09:00"},
            {"type": "identify", "userId": "u", "originalTimestamp": "2026-11-24T08:00:00+09:00", "sentAt": "2026-11-24T08:30:00+09:00"},
            {"type": "track", "userId": "u", "event": "a", "messageId": "2", "timestamp": "2026-11-23T10:00:00Z", "originalTimestamp": "2026-11-24T08:00:00+09:00"},
            {"type": "group", "userId": "u", "groupId": "g", "originalTimestamp": "2026-11-23T23:00:00Z"}
        ]}"#;
        let times: Vec<String> = parse_batch(batch.as_bytes(), now()).unwrap().into_iter().map(time_of).collect();
        assert_eq!(
            times,
            ["2026-11-23T23:59:00+00:00", "2026-11-23T23:30:00+00:00", "2026-11-23T10:00:00+00:00", "2026-11-23T23:00:00+00:00"],
            "corrected by the batch's sentAt; by its own; timestamp as sent; no sentAt: as it is"
        );
        // A timestamp after the message arrived is when it arrived.
        let ahead = r#"{"userId": "u", "event": "login", "messageId": "m", "timestamp": "2027-11-24T00:00:00Z"}"#;
        assert_eq!(time_of(parse_single(Kind::Track, ahead.as_bytes(), now()).unwrap()), now().to_rfc3339());
        // A sentAt that cannot be read corrects nothing; a timestamp that cannot be read is refused.
        let odd = r#"{"userId": "u", "event": "x", "messageId": "m", "originalTimestamp": "2026-11-20T00:00:00Z", "sentAt": 5}"#;
        assert_eq!(time_of(parse_single(Kind::Track, odd.as_bytes(), now()).unwrap()), "2026-11-20T00:00:00+00:00");
        let e = parse_single(Kind::Track, br#"{"userId": "u", "event": "x", "timestamp": 1700000000}"#, now()).unwrap_err();
        assert_eq!(e.to_string(), "message: timestamp 1700000000 is not an ISO 8601 time");
        // A line of an export was received when its receivedAt says.
        let line = r#"{"type": "track", "userId": "u", "event": "x", "messageId": "m", "originalTimestamp": "2025-01-01T10:00:00Z", "sentAt": "2025-01-01T10:01:00Z", "receivedAt": "2025-01-01T09:01:00Z"}"#;
        assert_eq!(time_of(parse_typed(line.as_bytes(), now()).unwrap()), "2025-01-01T09:00:00+00:00");
        let line = line.replace("2025-01-01T09:01:00Z", "2030-01-01T00:00:00Z");
        assert_eq!(time_of(parse_typed(line.as_bytes(), now()).unwrap()), "2025-01-01T10:00:00+00:00", "a receivedAt after now is not believed");
        let line = line.replace(r#", "receivedAt": "2030-01-01T00:00:00Z""#, "");
        assert_eq!(time_of(parse_typed(line.as_bytes(), now()).unwrap()), "2025-01-01T10:00:00+00:00", "nor is the day the file is read");
    }

    #[test]
    fn errors_name_the_message_and_the_problem() {
        let e = |body: &str| parse_batch(body.as_bytes(), now()).unwrap_err().to_string();
        assert_eq!(e(r#"{"batch": [{"type": "track", "userId": "u", "event": "x", "messageId": "1"}, {"type": "merge"}]}"#), "batch[1]: type \"merge\" is not one of: track, identify, group, page, screen, alias");
        assert_eq!(e(r#"{"batch": [{"type": "group", "userId": "u"}]}"#), "batch[0]: group needs a groupId (the account's id)");
        assert_eq!(e(r#"{"batch": [{"type": "track", "event": "x", "messageId": "1"}]}"#), "batch[0]: needs a userId or an anonymousId");
        assert_eq!(e(r#"{"batch": [{"type": "track", "userId": "u", "event": "x", "messageId": "1", "timestamp": "yesterday"}]}"#), "batch[0]: timestamp \"yesterday\" is not an ISO 8601 time");
        assert!(e("[1,2]").starts_with("batch: is not a batch"));
        let big = format!(r#"{{"batch": [{{"type": "track", "userId": "u", "event": "x", "messageId": "1", "properties": {{"p": "{}"}}}}]}}"#, "x".repeat(33 * 1024));
        assert!(e(&big).starts_with("batch[0]: the message is 33"), "{}", e(&big));
        let long = format!(r#"{{"batch": [{{"type": "group", "userId": "u", "groupId": "{}"}}]}}"#, "g".repeat(20_000));
        assert_eq!(e(&long), format!("batch[0]: groupId {:?}… (20000 characters) is not an identifier (at most 200 characters, no control characters)", "g".repeat(40)));
        assert_eq!(
            e(r#"{"batch": [{"type": "track", "userId": "u\u0000", "event": "x"}]}"#),
            "batch[0]: userId \"u\\0\" is not an identifier (at most 200 characters, no control characters)"
        );
        assert!(e(r#"{"batch": [{"type": "track", "userId": "u", "event": "x", "context": {"groupId": "a\nb"}}]}"#).starts_with("batch[0]: context.groupId \"a\\nb\""));
        assert!(e(r#"{"batch": [{"type": "track", "userId": "u", "event": "x", "messageId": "\u0007"}]}"#).starts_with("batch[0]: messageId"));
        let huge = vec![b' '; MAX_BATCH_BYTES + 1];
        assert!(matches!(parse_batch(&huge, now()), Err(SegmentError::BatchTooLarge(_))));
    }
}
