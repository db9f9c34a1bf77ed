//! Crash test (issue: usage): while a load generator sends batches, the server is killed with
//! SIGKILL several times and restarted. Afterwards every message id that was answered 200 is
//! stored exactly once, and retries of acknowledged batches add nothing. On both engines.

use kizuna_store::both_engines;
use kizuna_store::testing::TestDb;
use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ROUNDS: usize = 4;
const SENDERS: usize = 4;
const BATCH: usize = 50;

fn kizuna(db: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kizuna"));
    cmd.env_remove("KIZUNA_DATABASE_URL").env("RUST_LOG", "error").arg("--database").arg(db);
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start(db: &str, port: u16) -> Child {
    let child = kizuna(db).args(["serve", "--listen", &format!("127.0.0.1:{port}")]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    for _ in 0..200 {
        if reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.is_ok_and(|r| r.status().is_success()) {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the server did not start");
}

fn batch(ids: &[String]) -> String {
    let items: Vec<serde_json::Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            serde_json::json!({
                "type": "track", "userId": format!("u{}", i % 7), "event": "report_viewed", "messageId": id,
                "timestamp": "2026-11-20T09:00:00Z", "context": { "groupId": format!("C{}", i % 5) },
            })
        })
        .collect();
    serde_json::json!({ "batch": items }).to_string()
}

async fn send(client: &reqwest::Client, port: u16, key: &str, ids: &[String]) -> bool {
    let resp = client
        .post(format!("http://127.0.0.1:{port}/v1/batch"))
        .basic_auth(key, Some(""))
        .header("content-type", "application/json")
        .body(batch(ids))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    matches!(resp, Ok(r) if r.status().is_success())
}

async fn acknowledged_events_survive_sigkill(db: TestDb) {
    let out = kizuna(&db.url).args(["keys", "create", "--kind", "write"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let acked: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let client = reqwest::Client::new();
    for round in 0..ROUNDS {
        let port = free_port();
        let mut server = start(&db.url, port).await;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut senders = Vec::new();
        for s in 0..SENDERS {
            let (client, key, acked, stop) = (client.clone(), key.clone(), acked.clone(), stop.clone());
            senders.push(tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let ids: Vec<String> = (0..BATCH).map(|i| format!("r{round}-s{s}-b{n}-{i}")).collect();
                    if send(&client, port, &key, &ids).await {
                        acked.lock().unwrap().push(ids);
                    }
                    n += 1;
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(400 + 150 * round as u64)).await;
        server.kill().unwrap(); // SIGKILL: no graceful shutdown, requests cut off mid-flight
        server.wait().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in senders {
            t.await.unwrap();
        }
    }
    // Back up: resend every acknowledged batch, as a client that missed the answers would.
    let port = free_port();
    let mut server = start(&db.url, port).await;
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= ROUNDS, "the load generator got answers before each kill ({} batches)", acked.len());
    for ids in acked.iter().take(20) {
        assert!(send(&client, port, &key, ids).await);
    }
    server.kill().unwrap();
    server.wait().unwrap();

    let stored = db.store.usage_message_counts().await.unwrap();
    assert!(stored.iter().all(|(_, n)| *n == 1), "no message is stored twice");
    let stored: HashSet<String> = stored.into_iter().map(|(id, _)| id).collect();
    let acked_ids: Vec<&String> = acked.iter().flatten().collect();
    let missing: Vec<&&String> = acked_ids.iter().filter(|id| !stored.contains(**id)).take(5).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?} (of {} acknowledged)", acked_ids.len());
    // Whole batches or nothing: every stored id belongs to a batch of BATCH stored ids.
    assert_eq!(stored.len() % BATCH, 0, "a batch is stored whole or not at all");
    eprintln!("{}: {} batches acknowledged, {} events stored", db.store.engine(), acked.len(), stored.len());
}

both_engines!(acknowledged_events_survive_sigkill);
