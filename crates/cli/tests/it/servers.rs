//! Several servers on one PostgreSQL database (issue 24): two `kizuna serve` take events and run
//! the day's schedule side by side. Each scheduled job runs exactly once, a job whose node died
//! holding its lease is taken over once the lease has run out, and every acknowledged event is
//! stored once.

use chrono::{Duration as Span, Utc};
use kizuna_store::testing::{subscription, TestDb};
use kizuna_store::NewJob;
use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn kizuna(db: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kizuna"));
    cmd.env_remove("KIZUNA_DATABASE_URL").env_remove("KIZUNA_NODE").env("RUST_LOG", "error").arg("--database").arg(db).args(args);
    cmd
}

async fn start(db: &str, node: &str) -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let args = ["serve", "--listen", &format!("127.0.0.1:{port}"), "--node", node];
    let child = kizuna(db, &args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    for _ in 0..400 {
        if reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.is_ok_and(|r| r.status().is_success()) {
            return (child, port);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the server did not start");
}

/// Sends one batch; the answer's status and body (Err: no answer).
async fn send(client: &reqwest::Client, port: u16, key: &str, ids: &[String]) -> Result<(u16, String), String> {
    let items: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| serde_json::json!({ "type": "track", "userId": "u1", "event": "login", "messageId": id, "timestamp": "2026-11-20T09:00:00Z", "context": { "groupId": "A1" } }))
        .collect();
    let body = serde_json::json!({ "batch": items }).to_string();
    let resp = client.post(format!("http://127.0.0.1:{port}/v1/batch")).basic_auth(key, Some("")).body(body).timeout(Duration::from_secs(20)).send().await;
    match resp {
        Ok(r) => Ok((r.status().as_u16(), r.text().await.unwrap_or_default())),
        Err(e) => Err(e.to_string()),
    }
}

async fn two_servers_share_the_jobs_and_the_events(db: TestDb) {
    let store = db.store.clone();
    let mut tx = store.begin().await.unwrap();
    tx.upsert_subscriptions(&[subscription("A1", "core", "2025-01-01", None, 50_000)]).await.unwrap();
    tx.commit().await.unwrap();
    let out = kizuna(&db.url, &["keys", "create", "--kind", "write"]).output().unwrap();
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();

    // A node took a job and died: it holds the job until its lease runs out.
    let now = Utc::now();
    let orphan = NewJob { kind: "sessions.sweep", key: "sessions.sweep:orphan", payload: serde_json::json!({}), scheduled_for: now - Span::minutes(1), max_attempts: 5 };
    let orphan_id = store.enqueue_job(&orphan, now).await.unwrap().unwrap();
    let held = store.claim_job("died", now, now + Span::milliseconds(1500)).await.unwrap().unwrap();
    assert_eq!(held.job_id, orphan_id);
    tokio::time::sleep(Duration::from_millis(1600)).await;

    let ((mut a, port_a), (mut b, port_b)) = tokio::join!(start(&db.url, "node-a"), start(&db.url, "node-b"));
    // Both take events at once; a tenth of the messages are sent to both (a client retrying
    // through the load balancer).
    let client = reqwest::Client::new();
    let mut sends = vec![];
    for batch in 0..40 {
        let ids: Vec<String> = (0..50).map(|i| format!("m{batch}-{i}")).collect();
        let ports: &[u16] = if batch % 10 == 0 { &[port_a, port_b] } else if batch % 2 == 0 { &[port_a] } else { &[port_b] };
        for &port in ports {
            let (client, key, ids, other) = (client.clone(), key.clone(), ids.clone(), if port == port_a { port_b } else { port_a });
            // As the SDKs do: a 503 (the database could not take the write now) is sent again,
            // here through the other server. Anything else is an answer.
            sends.push(tokio::spawn(async move {
                let mut answer = send(&client, port, &key, &ids).await;
                for attempt in 0..5 {
                    if !matches!(answer, Ok((503, _))) {
                        break;
                    }
                    eprintln!("503, sent again: {answer:?}");
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                    answer = send(&client, if attempt % 2 == 0 { other } else { port }, &key, &ids).await;
                }
                (answer, ids)
            }));
        }
    }
    let (mut acked, mut refused) = (HashSet::new(), vec![]);
    for s in sends {
        match s.await.unwrap() {
            (Ok((200, _)), ids) => acked.extend(ids),
            (answer, _) => refused.push(answer),
        }
    }
    assert!(refused.is_empty(), "every batch acknowledged: {refused:?}");

    // The day's schedule: each server queued it at start and ran what it took.
    let mut jobs = vec![];
    for _ in 0..200 {
        jobs = store.jobs(None, 100).await.unwrap();
        if jobs.len() >= 4 && jobs.iter().all(|j| j.status == "done") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.kill().unwrap();
    b.kill().unwrap();
    a.wait().unwrap();
    b.wait().unwrap();
    let by_kind: HashMap<&str, Vec<&kizuna_store::JobRecord>> = jobs.iter().fold(HashMap::new(), |mut m, j| {
        m.entry(j.kind.as_str()).or_default().push(j);
        m
    });
    // One job per day and hour whichever server asked (two, if the test straddled an hour).
    let scoring = &by_kind["health.daily_score"];
    assert!((1..=2).contains(&scoring.len()), "{jobs:#?}");
    assert!((1..=2).contains(&by_kind["signals.daily"].len()), "{jobs:#?}");
    let sweeps = &by_kind["sessions.sweep"];
    assert!((2..=3).contains(&sweeps.len()), "this hour's sweep and the orphan: {jobs:#?}");
    for j in &jobs {
        assert_eq!(j.status, "done", "{j:#?}");
        let expected_attempts = if j.job_id == orphan_id { 2 } else { 1 };
        assert_eq!(j.attempts, expected_attempts, "each scheduled job run exactly once; the orphan taken over: {j:#?}");
        assert!(matches!(j.node.as_deref(), Some("node-a" | "node-b")), "run by a live node: {j:#?}");
    }
    let scores = store.last_health_day().await.unwrap();
    let yesterday = kizuna_domain::time::local_day(Utc::now()) - chrono::Duration::days(1);
    assert_eq!(scores, Some(yesterday), "the day just over was scored");

    // Every acknowledged event is stored once.
    let stored: HashMap<String, u64> = store.usage_message_counts().await.unwrap().into_iter().collect();
    let missing: Vec<&String> = acked.iter().filter(|id| !stored.contains_key(*id)).take(5).collect();
    assert!(missing.is_empty(), "acknowledged but not stored: {missing:?}");
    let twice: Vec<(&String, &u64)> = stored.iter().filter(|(_, n)| **n != 1).take(5).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    assert_eq!(stored.len(), 2000);
}

/// PostgreSQL only: on SQLite one server runs jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgresql() {
    kizuna_store::testing::run_postgres(two_servers_share_the_jobs_and_the_events).await;
}
