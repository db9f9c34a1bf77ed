//! Usage ingestion as the SDKs send it: compressed bodies, the answers they read, and a
//! database that cannot take writes for a while. Each case runs against the real router,
//! one `AppState` (one writer) per case, as a server has.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use flate2::Compression;
use kizuna_server::{router, AppState};
use kizuna_store::both_engines;
use kizuna_store::testing::TestDb;
use kizuna_store::Store;
use std::io::Write;
use std::sync::Arc;
use tower::ServiceExt;

use crate::common::Reply;

/// A server on `db` and a write key for it.
struct Server {
    state: AppState,
    key: String,
}

impl Server {
    async fn new(store: &Arc<dyn Store>) -> Self {
        use kizuna_domain::access::KeyKind;
        let (key, _) = kizuna_app::users::create_key(store.as_ref(), &kizuna_app::Actor::operator(), KeyKind::Write, None, None).await.unwrap();
        Server { state: AppState::new(store.clone()), key }
    }

    /// POSTs `body` to `uri` with the write key and the given headers.
    async fn post(&self, uri: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
        use base64::Engine;
        let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:", self.key)));
        let mut req = Request::post(uri).header("authorization", auth);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req.body(Body::from(body)).unwrap()).await
    }

    async fn get(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    async fn send(&self, req: Request<Body>) -> Reply {
        Reply::read(router(self.state.clone()).oneshot(req).await.unwrap(), 1 << 20).await
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(body).unwrap();
    e.finish().unwrap()
}

fn zlib(body: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
    e.write_all(body).unwrap();
    e.finish().unwrap()
}

fn raw_deflate(body: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(body).unwrap();
    e.finish().unwrap()
}

fn track(id: &str, user: &str) -> String {
    format!(r#"{{"type": "track", "userId": "{user}", "event": "login", "messageId": "{id}", "timestamp": "2026-11-20T09:00:00Z"}}"#)
}

fn batch_of(ids: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = ids.into_iter().map(|id| track(&id, "u1")).collect();
    format!(r#"{{"batch": [{}]}}"#, items.join(","))
}

async fn stored_ids(store: &Arc<dyn Store>) -> Vec<(String, u64)> {
    store.usage_message_counts().await.unwrap()
}

/// RudderStack's Node SDK: gzipped JSON labelled form-urlencoded; Python SDKs: gzip with JSON;
/// `deflate` as zlib (what HTTP means) and as a raw stream (what some clients send). Every
/// `/v1` endpoint takes them.
async fn compressed_bodies_on_every_endpoint(db: TestDb) {
    let s = Server::new(&db.store).await;
    let form = [("content-type", "application/x-www-form-urlencoded"), ("content-encoding", "gzip")];
    let r = s.post("/v1/batch", &form, gzip(batch_of(["b1".to_string(), "b2".to_string()]).as_bytes())).await;
    assert_eq!((r.status, r.json()["summary"]["events"].as_u64()), (StatusCode::OK, Some(2)), "{}", r.body);
    let json = |enc| [("content-type", "application/json"), ("content-encoding", enc)];
    let one = |id: &str| track(id, "u1").into_bytes();
    let cases: [(&str, &str, Vec<u8>); 4] = [
        ("/v1/track", "deflate", zlib(&one("t1"))),
        ("/v1/track", "deflate", raw_deflate(&one("t2"))),
        ("/v1/page", "GZIP", gzip(br#"{"userId": "u1", "name": "Home", "messageId": "p1"}"#)),
        ("/v1/import", "x-gzip", gzip(batch_of(["i1".to_string()]).as_bytes())),
    ];
    for (uri, enc, body) in cases {
        let r = s.post(uri, &json(enc), body).await;
        assert_eq!(r.status, StatusCode::OK, "{uri} {enc}: {}", r.body);
    }
    for (uri, body) in [("/v1/identify", r#"{"userId": "u1", "traits": {"email": "a@example.com"}}"#), ("/v1/group", r#"{"userId": "u1", "groupId": "C1"}"#)] {
        let r = s.post(uri, &json("gzip"), gzip(body.as_bytes())).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.body);
    }
    let ids: Vec<String> = stored_ids(&db.store).await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["b1", "b2", "i1", "p1", "t1", "t2"]);
    // The key may come in the compressed body too (Segment's Python library puts it there).
    let keyed = format!(r#"{{"writeKey": "{}", "batch": [{}]}}"#, s.key, track("k1", "u1"));
    let req = Request::post("/v1/batch").header("content-encoding", "gzip").body(Body::from(gzip(keyed.as_bytes()))).unwrap();
    assert_eq!(s.send(req).await.status, StatusCode::OK);
}

/// The limits hold for what the body inflates to, and inflating stops at the limit: a bomb (50
/// MB of zeros in 50 KB) is refused having produced at most the limit plus one byte.
async fn compressed_limits_and_bombs(db: TestDb) {
    let s = Server::new(&db.store).await;
    let gz = [("content-encoding", "gzip")];
    let padded = |n: usize| format!(r#"{{"userId": "u", "event": "x", "messageId": "m", "properties": {{"p": "{}"}}}}"#, "y".repeat(n));
    let r = s.post("/v1/track", &gz, gzip(padded(40 * 1024).as_bytes())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["message"], "the request body is more than 32768 bytes once decompressed (gzip); the limit is 32 KB (32768 bytes)");
    let at_limit = padded(32 * 1024 - padded(0).len());
    assert_eq!(at_limit.len(), 32 * 1024);
    assert_eq!(s.post("/v1/track", &gz, gzip(at_limit.as_bytes())).await.status, StatusCode::OK, "exactly the limit is fine");
    let bomb = gzip(&vec![0u8; 50 << 20]);
    assert!(bomb.len() < 100 << 10, "{} bytes", bomb.len());
    let r = s.post("/v1/batch", &gz, bomb).await;
    assert_eq!((r.status, r.json()["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    assert!(r.json()["message"].as_str().unwrap().starts_with("the request body is more than 512000 bytes once decompressed"), "{}", r.body);
    let r = s.post("/v1/batch", &gz, b"not gzip at all".to_vec()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["message"].as_str().unwrap().starts_with("the request body is not valid gzip data"), "{}", r.body);
    let r = s.post("/v1/batch", &[("content-encoding", "br")], b"{}".to_vec()).await;
    assert_eq!((r.status, r.json()["code"].as_str()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("unsupported_encoding")));
    let r = s.post("/v1/batch", &gz, vec![0u8; 1100 << 10]).await;
    assert_eq!((r.status, r.json()["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")), "{}", r.body);
    assert_eq!(stored_ids(&db.store).await.len(), 1, "only the message at the limit");
}

/// Errors as the SDKs read them: a JSON object with `code` and `message` (and `error`, as the
/// rest of the API), 4xx for what a retry cannot fix.
async fn errors_carry_code_and_message(db: TestDb) {
    let s = Server::new(&db.store).await;
    let r = s.post("/v1/batch", &[], br#"{"batch": [{"type": "merge", "userId": "u"}]}"#.to_vec()).await;
    let j = r.json();
    assert_eq!((r.status, j["success"].as_bool(), j["code"].as_str()), (StatusCode::BAD_REQUEST, Some(false), Some("invalid_request")));
    assert_eq!(j["message"], "batch[0]: type \"merge\" is not one of: track, identify, group, page, screen, alias");
    assert_eq!(j["message"], j["error"]);
    let anonymous = Request::post("/v1/batch").body(Body::from(batch_of(["x".to_string()]))).unwrap();
    let r = s.send(anonymous).await;
    assert_eq!((r.status, r.json()["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    let r = s.post("/v1/merge", &[], b"{}".to_vec()).await;
    assert_eq!((r.status, r.json()["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
}

/// Group traits fill the account: `name`, the rest as typed attributes; a rule of the usage
/// configuration sends `plan` to the segment. Values an import set stay, unless the rule says
/// to overwrite; values traits set are updated by newer traits, not by older ones.
async fn group_traits_fill_the_account(db: TestDb) {
    use kizuna_domain::AccountRow;
    let s = Server::new(&db.store).await;
    let imported = AccountRow { account_id: "C2".into(), name: Some("Imported KK".into()), segment: Some("smb".into()), ..Default::default() };
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_accounts(&[imported]).await.unwrap();
    tx.commit().await.unwrap();
    let config = "[[metric]]\nname = \"logins_7d\"\nkind = \"count\"\nevent = \"login\"\ndays = 7\n\n[[trait]]\ntrait = \"tier\"\nto = \"segment\"\n\n[[trait]]\ntrait = \"plan\"\nto = \"attributes.plan\"\noverwrite = true\n";
    let mut tx = db.store.begin().await.unwrap();
    tx.save_setting(kizuna_domain::usage::metrics::SETTING, config).await.unwrap();
    tx.commit().await.unwrap();
    let group = |account: &str, at: &str, traits: &str| format!(r#"{{"type": "group", "userId": "u1", "groupId": "{account}", "timestamp": "{at}", "traits": {traits}}}"#);
    let body = format!(
        r#"{{"batch": [{}, {}]}}"#,
        group("C1", "2026-11-20T09:00:00Z", r#"{"name": "Initech", "employees": 120, "trial": false, "tier": "Enterprise", "plan": "pro"}"#),
        group("C2", "2026-11-20T09:00:00Z", r#"{"name": "Initech Japan", "tier": "Enterprise", "plan": "pro", "region": "apac"}"#),
    );
    assert_eq!(s.post("/v1/batch", &[], body.into_bytes()).await.status, StatusCode::OK);
    let today = kizuna_store::testing::date("2026-11-21");
    let c1 = db.store.get_account("C1", today).await.unwrap().unwrap();
    assert_eq!((c1.name.as_str(), c1.segment.as_deref()), ("Initech", Some("enterprise")));
    assert_eq!(c1.attributes, serde_json::json!({"employees": 120, "trial": false, "plan": "pro"}), "typed, and tier went to the segment");
    let c2 = db.store.get_account("C2", today).await.unwrap().unwrap();
    assert_eq!((c2.name.as_str(), c2.segment.as_deref()), ("Imported KK", Some("smb")), "what the import set stays");
    assert_eq!(c2.attributes, serde_json::json!({"plan": "pro", "region": "apac"}));

    let newer = group("C1", "2026-11-21T09:00:00Z", r#"{"name": "Initech Global", "employees": 150}"#);
    let older = group("C1", "2026-11-19T09:00:00Z", r#"{"name": "Initech (old)", "employees": 90}"#);
    for body in [newer, older] {
        assert_eq!(s.post("/v1/batch", &[], format!(r#"{{"batch": [{body}]}}"#).into_bytes()).await.status, StatusCode::OK);
    }
    let c1 = db.store.get_account("C1", today).await.unwrap().unwrap();
    assert_eq!((c1.name.as_str(), &c1.attributes["employees"]), ("Initech Global", &serde_json::json!(150)), "newer traits update, older ones do not");
}

/// An identified user with an e-mail is a contact of the account it is grouped with, in either
/// order (identify then group, or group then identify with `context.traits`), with its last
/// active day.
async fn identified_users_become_contacts(db: TestDb) {
    let s = Server::new(&db.store).await;
    let body = r#"{"batch": [
        {"type": "identify", "userId": "u1", "traits": {"email": "Ann@Example.com", "name": "Ann Lee", "title": "CTO"}, "timestamp": "2026-11-20T08:00:00Z"},
        {"type": "group", "userId": "u1", "groupId": "C1", "timestamp": "2026-11-20T08:01:00Z"},
        {"type": "track", "userId": "u1", "event": "login", "messageId": "e1", "timestamp": "2026-11-20T09:00:00Z"},
        {"type": "group", "userId": "u2", "groupId": "C1", "timestamp": "2026-11-20T08:00:00Z"},
        {"type": "identify", "userId": "u2", "context": {"traits": {"email": "bo@example.com", "firstName": "Bo", "lastName": "Kim"}}, "timestamp": "2026-11-20T08:02:00Z"},
        {"type": "identify", "userId": "u3", "traits": {"email": "nobody@example.com"}, "timestamp": "2026-11-20T08:02:00Z"}
    ]}"#;
    let r = s.post("/v1/batch", &[], body.as_bytes().to_vec()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let contacts = db.store.contacts("C1").await.unwrap();
    let got: Vec<(&str, Option<&str>, Option<&str>, Option<String>)> =
        contacts.iter().map(|c| (c.email.as_str(), c.name.as_deref(), c.title.as_deref(), c.last_active.map(|d| d.to_string()))).collect();
    assert_eq!(
        got,
        vec![("ann@example.com", Some("Ann Lee"), Some("CTO"), Some("2026-11-20".to_string())), ("bo@example.com", Some("Bo Kim"), None, None)],
        "u3 is grouped with no account: no contact"
    );
    // Another process identifies u1 (only its plan) just after an earlier-queued group moved
    // it to C2 was sent: the group still wins by its own time, and the e-mail is kept.
    let identify = br#"{"userId": "u1", "traits": {"plan": "pro"}, "timestamp": "2026-11-21T12:00:03Z"}"#;
    assert_eq!(s.post("/v1/identify", &[], identify.to_vec()).await.status, StatusCode::OK);
    let group = br#"{"userId": "u1", "groupId": "C2", "timestamp": "2026-11-21T12:00:00Z"}"#;
    assert_eq!(s.post("/v1/group", &[], group.to_vec()).await.status, StatusCode::OK);
    assert_eq!(db.store.usage_user_account("u1").await.unwrap().as_deref(), Some("C2"));
    let moved: Vec<String> = db.store.contacts("C2").await.unwrap().into_iter().map(|c| c.email).collect();
    assert_eq!(moved, ["ann@example.com"], "traits add up: the plan did not erase the e-mail");
}

/// A write key bound to a partner writes only to that partner's accounts, and the accounts it
/// creates are bound to the partner. Ids the importer would refuse are refused here too.
async fn partner_keys_and_ids(db: TestDb) {
    use kizuna_domain::access::KeyKind;
    use kizuna_domain::AccountRow;
    let mut tx = db.store.begin().await.unwrap();
    let other = AccountRow { account_id: "THEIRS".into(), partner_id: Some("P-BETA".into()), ..Default::default() };
    let mine = AccountRow { account_id: "MINE".into(), partner_id: Some("P-ALPHA".into()), ..Default::default() };
    tx.upsert_accounts(&[other, mine]).await.unwrap();
    tx.commit().await.unwrap();
    let mut s = Server::new(&db.store).await;
    let company = br#"{"userId": "theirs-u", "groupId": "THEIRS", "traits": {"email": "t@example.com"}}"#;
    assert_eq!(s.post("/v1/group", &[], company.to_vec()).await.status, StatusCode::OK, "a company key may write anywhere");
    (s.key, _) = kizuna_app::users::create_key(db.store.as_ref(), &kizuna_app::Actor::operator(), KeyKind::Write, None, Some("P-ALPHA".into())).await.unwrap();
    let ok = r#"{"batch": [{"type": "track", "userId": "u1", "event": "login", "messageId": "a", "context": {"groupId": "MINE"}},
        {"type": "group", "userId": "u1", "groupId": "NEW-1"}]}"#;
    let r = s.post("/v1/batch", &[], ok.as_bytes().to_vec()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let today = kizuna_store::testing::date("2026-11-21");
    assert_eq!(db.store.get_account("NEW-1", today).await.unwrap().unwrap().partner_id.as_deref(), Some("P-ALPHA"), "created bound to the partner");
    assert_eq!(r.json()["summary"]["accounts_created"].as_u64(), Some(1), "and counted");
    // A request refused for one message creates no account for another.
    let half = r#"{"batch": [{"type": "group", "userId": "u8", "groupId": "NEW-2"}, {"type": "track", "userId": "u8", "event": "login", "messageId": "h", "context": {"groupId": "THEIRS"}}]}"#;
    assert_eq!(s.post("/v1/batch", &[], half.as_bytes().to_vec()).await.status, StatusCode::FORBIDDEN);
    assert!(db.store.get_account("NEW-2", today).await.unwrap().is_none(), "nothing of a refused request");
    let theirs = r#"{"batch": [{"type": "track", "userId": "u1", "event": "login", "messageId": "b"},
        {"type": "track", "userId": "u1", "event": "login", "messageId": "c", "context": {"groupId": "THEIRS"}}]}"#;
    let r = s.post("/v1/batch", &[], theirs.as_bytes().to_vec()).await;
    assert_eq!((r.status, r.json()["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    assert!(r.json()["message"].as_str().unwrap().starts_with("batch[1]: account \"THEIRS\" is not one of partner \"P-ALPHA\"'s accounts"), "{}", r.body);
    let r = s.post("/v1/group", &[], br#"{"userId": "u1", "groupId": "THEIRS"}"#.to_vec()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.json()["message"].as_str().unwrap().starts_with("message: account \"THEIRS\""), "{}", r.body);
    // Without an account named, the event goes to its user's account: that one is checked.
    for (uri, body) in [("/v1/track", r#"{"userId": "theirs-u", "event": "login", "messageId": "d"}"#), ("/v1/identify", r#"{"userId": "theirs-u", "traits": {"email": "x@example.com"}}"#)] {
        let r = s.post(uri, &[], body.as_bytes().to_vec()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
        let message = r.json()["message"].as_str().unwrap().to_string();
        assert!(message.starts_with("message: its user is grouped with an account that is not one of partner \"P-ALPHA\"'s"), "{message}");
        assert!(!message.contains("THEIRS"), "another partner's account is not named: {message}");
    }
    // Nor may a group move another partner's user (and its e-mail, as a contact) into its own account.
    let regrouped = r#"{"batch": [{"type": "group", "userId": "theirs-u", "groupId": "MINE"}, {"type": "track", "userId": "theirs-u", "event": "login", "messageId": "e"}]}"#;
    let r = s.post("/v1/batch", &[], regrouped.as_bytes().to_vec()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let message = r.json()["message"].as_str().unwrap().to_string();
    assert!(message.starts_with("batch[0]: user \"theirs-u\" is grouped with an account that is not one of partner \"P-ALPHA\"'s accounts"), "{message}");
    assert!(!message.contains("THEIRS"), "{message}");
    // An identify naming another partner's user as its anonymous id (or an alias) would link
    // that user to one of this partner's: refused the same way, whatever the user's own state.
    for (i, body) in [
        r#"{"userId": "u1", "anonymousId": "theirs-u", "traits": {}}"#,
        r#"{"userId": "not-grouped-yet", "anonymousId": "theirs-u", "traits": {}}"#,
    ]
    .into_iter()
    .enumerate()
    {
        let r = s.post("/v1/identify", &[], body.as_bytes().to_vec()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{i}: {}", r.body);
        let message = r.json()["message"].as_str().unwrap().to_string();
        assert!(message.starts_with("message: user \"theirs-u\" is grouped with an account that is not one of partner \"P-ALPHA\"'s accounts"), "{message}");
    }
    let r = s.post("/v1/alias", &[], br#"{"previousId": "theirs-u", "userId": "u1"}"#.to_vec()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(db.store.usage_user_account("theirs-u").await.unwrap().as_deref(), Some("THEIRS"), "the user stays where it was");
    assert!(db.store.contacts("MINE").await.unwrap().iter().all(|c| c.email != "t@example.com"), "its e-mail is not copied");
    // Its own users it may move between its accounts, and a user grouped with none.
    let moved = r#"{"batch": [{"type": "group", "userId": "u1", "groupId": "MINE"}, {"type": "group", "userId": "fresh", "groupId": "MINE"}, {"type": "track", "userId": "fresh", "event": "login", "messageId": "e"}]}"#;
    let r = s.post("/v1/batch", &[], moved.as_bytes().to_vec()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let long = format!(r#"{{"userId": "u1", "groupId": "{}"}}"#, "x".repeat(20_000));
    let r = s.post("/v1/group", &[], long.into_bytes()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["message"].as_str().unwrap().starts_with("message: groupId \"xxxx"), "{}", r.body);
    let r = s.post("/v1/track", &[], br#"{"userId": "u\u0000", "event": "x"}"#.to_vec()).await;
    assert_eq!((r.status, r.json()["message"].as_str()), (StatusCode::BAD_REQUEST, Some("message: userId \"u\\0\" is not an identifier (at most 200 characters, no control characters)")));
    let ids: Vec<String> = stored_ids(&db.store).await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["a", "e"], "nothing of a refused request");
}

/// Segment's browser library (analytics.js) as it posts from a customer's site: a CORS
/// preflight, then one-letter paths with `text/plain` bodies carrying `writeKey`, and `/v1/b`
/// for a batch; an alias in a batch is stored with the rest.
async fn browser_paths_cors_and_alias(db: TestDb) {
    let s = Server::new(&db.store).await;
    let preflight = Request::options("/v1/t")
        .header("origin", "https://app.customer.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .body(Body::empty())
        .unwrap();
    let r = s.send(preflight).await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    assert_eq!(r.headers.get("access-control-allow-origin").and_then(|v| v.to_str().ok()), Some("*"));
    assert!(r.headers.get("access-control-allow-methods").and_then(|v| v.to_str().ok()).is_some_and(|m| m.contains("POST")));
    let browser = |uri: &str, body: String| {
        Request::post(uri).header("origin", "https://app.customer.example").header("content-type", "text/plain").body(Body::from(body)).unwrap()
    };
    let key = &s.key;
    let page = format!(r#"{{"type": "page", "anonymousId": "anon-9", "name": "Pricing", "messageId": "bp1", "writeKey": "{key}"}}"#);
    let r = s.send(browser("/v1/p", page)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers.get("access-control-allow-origin").and_then(|v| v.to_str().ok()), Some("*"));
    let identify = format!(r#"{{"type": "identify", "userId": "bu1", "anonymousId": "anon-9", "traits": {{"email": "b@customer.example"}}, "messageId": "bi1", "writeKey": "{key}"}}"#);
    assert_eq!(s.send(browser("/v1/i", identify)).await.status, StatusCode::OK);
    let group = format!(r#"{{"type": "group", "userId": "bu1", "groupId": "BW1", "messageId": "bg1", "writeKey": "{key}"}}"#);
    let r = s.send(browser("/v1/g", group)).await;
    assert_eq!((r.status, r.json()["summary"]["attributed"].as_u64()), (StatusCode::OK, Some(1)), "the page before sign-in follows its user: {}", r.body);
    let batch = format!(
        r#"{{"writeKey": "{key}", "batch": [{{"type": "track", "userId": "bu1", "event": "login", "messageId": "bt1"}}, {{"type": "alias", "previousId": "old-bu1", "userId": "bu1", "messageId": "ba1"}}]}}"#
    );
    let r = s.send(browser("/v1/b", batch)).await;
    assert_eq!((r.status, r.json()["summary"]["events"].as_u64(), r.json()["summary"]["aliases"].as_u64()), (StatusCode::OK, Some(1), Some(1)), "{}", r.body);
    assert_eq!(db.store.usage_user_account("old-bu1").await.unwrap().as_deref(), Some("BW1"));
    let ids: Vec<String> = stored_ids(&db.store).await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["bp1", "bt1"]);
}

both_engines!(
    browser_paths_cors_and_alias,
    compressed_bodies_on_every_endpoint,
    compressed_limits_and_bombs,
    errors_carry_code_and_message,
    group_traits_fill_the_account,
    identified_users_become_contacts,
    partner_keys_and_ids,
);

/// The database on a file system that fills up: ingestion answers 503 with `Retry-After` while
/// it is full (never 500, and never after it is freed), `/healthz` says degraded and why, and
/// once space is freed the same requests are stored without a restart. Every event ever
/// acknowledged is stored exactly once; nothing of a refused request is half-stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_answers_503_then_recovers() {
    let Some(disk) = kizuna_store::testing::SmallDisk::mount("8m") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "under CI=true the full-disk test must run: it mounts a tmpfs (needs root)");
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let url = format!("sqlite://{}", disk.dir.path().join("kizuna.db").display());
    let store = kizuna_store::open(&url).await.unwrap();
    let s = Server::new(&store).await;
    let mut acknowledged: Vec<String> = vec![];
    let request = |n: usize| -> (Vec<String>, Vec<u8>) {
        let ids: Vec<String> = (0..200).map(|i| format!("r{n:03}-{i:03}")).collect();
        let items: Vec<String> =
            ids.iter().map(|id| format!(r#"{{"type": "track", "userId": "u{n}", "event": "login", "messageId": "{id}", "properties": {{"pad": "{}"}}}}"#, "p".repeat(300))).collect();
        (ids, format!(r#"{{"batch": [{}]}}"#, items.join(",")).into_bytes())
    };
    let (ids, body) = request(0);
    assert_eq!(s.post("/v1/batch", &[], body).await.status, StatusCode::OK);
    acknowledged.extend(ids);

    let filler = disk.fill();
    // /healthz sees the full disk before any write fails.
    let health = s.get("/healthz").await.json();
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(health["reason"].as_str().unwrap().contains("full"), "{health}");
    let mut refused = vec![];
    for n in 1..40 {
        let (ids, body) = request(n);
        let r = s.post("/v1/batch", &[], body.clone()).await;
        match r.status {
            StatusCode::OK => acknowledged.extend(ids),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(r.headers["retry-after"], "5");
                assert_eq!(r.json()["code"], "unavailable");
                refused.push((ids, body));
                if refused.len() == 3 {
                    break;
                }
            }
            other => panic!("request {n}: {other} {}", r.body),
        }
    }
    assert_eq!(refused.len(), 3, "the disk filled up: three requests in a row were refused");
    let health = s.get("/healthz").await.json();
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(health["reason"].as_str().unwrap().contains("full"), "{health}");

    std::fs::remove_file(filler).unwrap();
    for (ids, body) in refused {
        let r = s.post("/v1/batch", &[], body).await;
        assert_eq!(r.status, StatusCode::OK, "space was freed: written without a restart ({})", r.body);
        assert_eq!(r.json()["summary"]["events"], 200, "nothing of the refused request had been stored");
        acknowledged.extend(ids);
    }
    assert_eq!(s.get("/healthz").await.json()["status"], "ok");
    acknowledged.sort();
    let stored = stored_ids(&store).await;
    assert!(stored.iter().all(|(_, n)| *n == 1), "every event once");
    assert_eq!(stored.into_iter().map(|(id, _)| id).collect::<Vec<_>>(), acknowledged, "every acknowledged event, and only those");
}
