//! Real clients (issue 21): Segment's and RudderStack's official Python and Node libraries,
//! unmodified and with their default settings (RudderStack's gzip their bodies, its Node one
//! labels them form-urlencoded, its Python one puts identify traits only in `context.traits`),
//! send to the real server (`tests/sdk/`): identify, track before
//! grouping, group with traits, track after grouping, page; then the same messages again.
//! Every event is stored once and attributed, the traits are kept, the identified user is a
//! contact, and the resend adds nothing. On both engines.
//!
//! The libraries are installed by `scripts/sdk-setup` (a venv and node_modules under
//! `tests/sdk/`, both ignored by git). Without them the test is skipped, except under
//! CI=true, where a missing library is a failure.

use kizuna_store::both_engines;
use kizuna_store::testing::{date, TestDb};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn kizuna(db: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kizuna"));
    cmd.env_remove("KIZUNA_DATABASE_URL").env("RUST_LOG", "error").arg("--database").arg(db);
    cmd
}

fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/sdk")
}

/// The libraries: (name, script and its first arguments, what shows it is installed, the prefix
/// of its ids).
const CLIENTS: [(&str, &str, &str, &str); 4] = [
    ("Segment Python", "python_client.py segment", ".venv/lib/python3*/site-packages/segment/analytics", "py"),
    ("Segment Node", "segment_node.mjs", "node_modules/@segment/analytics-node", "js"),
    ("RudderStack Python", "python_client.py rudder", ".venv/lib/python3*/site-packages/rudderstack/analytics", "rpy"),
    ("RudderStack Node", "rudder_node.mjs", "node_modules/@rudderstack/rudder-sdk-node", "rjs"),
];

/// Whether `pattern` (one `*` in a directory name at most) names an existing path under `dir`.
fn installed(dir: &std::path::Path, pattern: &str) -> bool {
    let Some((head, tail)) = pattern.split_once('*') else { return dir.join(pattern).exists() };
    let (parent, prefix) = head.rsplit_once('/').unwrap_or(("", head));
    let (rest_of_name, below) = tail.split_once('/').unwrap_or((tail, ""));
    std::fs::read_dir(dir.join(parent)).into_iter().flatten().flatten().any(|e| {
        let name = e.file_name().to_string_lossy().to_string();
        name.starts_with(prefix) && name.ends_with(rest_of_name) && e.path().join(below).exists()
    })
}

/// The command that runs one library's script, if the library is installed.
fn client(name: &str, script: &str, marker: &str) -> Option<Command> {
    let dir = sdk_dir();
    if !installed(&dir, marker) {
        let why = format!("the {name} library is not installed: run scripts/sdk-setup");
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{why}");
        eprintln!("skipped: {why}");
        return None;
    }
    let program = if script.split(' ').next().is_some_and(|s| s.ends_with(".py")) { dir.join(".venv/bin/python") } else { PathBuf::from("node") };
    let mut cmd = Command::new(program);
    cmd.current_dir(&dir).args(script.split(' '));
    Some(cmd)
}

async fn start(db: &str) -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = kizuna(db).args(["serve", "--listen", &format!("127.0.0.1:{port}")]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    for _ in 0..200 {
        if reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.is_ok_and(|r| r.status().is_success()) {
            return (child, port);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the server did not start");
}

/// What one library's run left: its three events once each, attributed to its account on the
/// day sent; the group's traits on the account; its user a contact with a last active day.
async fn check(db: &TestDb, p: &str) {
    let ids: Vec<(String, u64)> = db.store.usage_message_counts().await.unwrap().into_iter().filter(|(id, _)| id.starts_with(&format!("{p}-"))).collect();
    let want: Vec<(String, u64)> = ["m2", "m4", "m5"].iter().map(|m| (format!("{p}-{m}"), 1)).collect();
    assert_eq!(ids, want, "{p}: each event once, the resend added nothing");
    let account = format!("{p}-acct");
    let day = date("2026-11-20");
    let rows = db.store.usage_daily(&account, day, day).await.unwrap();
    let got: Vec<(&str, u64)> = rows.iter().map(|r| (r.event_type.as_str(), r.events)).collect();
    assert_eq!(got, vec![("login", 1), ("page", 1), ("report_created", 1)], "{p}: attributed, the track before grouping too");
    let a = db.store.get_account(&account, day).await.unwrap().unwrap_or_else(|| panic!("{p}: the group created the account"));
    assert_eq!(a.name, format!("Initech {p}"));
    assert_eq!(a.attributes, serde_json::json!({"plan": "pro", "employees": 120}), "{p}: traits kept, typed");
    let contacts = db.store.contacts(&account).await.unwrap();
    let got: Vec<(&str, Option<&str>, Option<&str>, Option<chrono::NaiveDate>)> =
        contacts.iter().map(|c| (c.email.as_str(), c.name.as_deref(), c.title.as_deref(), c.last_active)).collect();
    let email = format!("{p}-ann@example.com");
    assert_eq!(got, vec![(email.as_str(), Some("Ann Lee"), Some("CTO"), Some(day))], "{p}: the identified user is a contact");
}

async fn official_client_libraries(db: TestDb) {
    let out = kizuna(&db.url).args(["keys", "create", "--kind", "write"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let (mut server, port) = start(&db.url).await;
    let url = format!("http://127.0.0.1:{port}");
    let mut ran = vec![];
    for (name, script, marker, prefix) in CLIENTS {
        let Some(mut cmd) = client(name, script, marker) else { continue };
        let out = cmd.args([&url, &key, prefix]).output().unwrap();
        assert!(out.status.success(), "{name}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        ran.push(prefix);
    }
    server.kill().unwrap();
    server.wait().unwrap();
    for p in ran {
        check(&db, p).await;
    }
}

both_engines!(official_client_libraries);
