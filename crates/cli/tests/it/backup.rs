//! Backup and restore (issue 22), on real files and a real PostgreSQL: a backup taken while the
//! server ingests holds every event acknowledged before it started, and the restored database
//! gives the same revenue figures.

use kizuna_store::both_engines;
use kizuna_store::testing::{subscription, TestDb};
use std::collections::HashSet;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn kizuna(db: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kizuna"));
    cmd.env_remove("KIZUNA_DATABASE_URL").env("RUST_LOG", "error").arg("--database").arg(db).args(args);
    cmd
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

async fn start(db: &str) -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = kizuna(db, &["serve", "--listen", &format!("127.0.0.1:{port}")]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    for _ in 0..200 {
        if reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.is_ok_and(|r| r.status().is_success()) {
            return (child, port);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the server did not start");
}

async fn send(client: &reqwest::Client, port: u16, key: &str, ids: &[String]) -> bool {
    let items: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| serde_json::json!({ "type": "track", "userId": "u1", "event": "login", "messageId": id, "timestamp": "2026-11-20T09:00:00Z", "context": { "groupId": "A1" } }))
        .collect();
    let body = serde_json::json!({ "batch": items }).to_string();
    let resp = client.post(format!("http://127.0.0.1:{port}/v1/batch")).basic_auth(key, Some("")).body(body).timeout(Duration::from_secs(10)).send().await;
    matches!(resp, Ok(r) if r.status().is_success())
}

/// An empty database of the same engine, and what drops it afterwards.
async fn empty_target(db: &TestDb, dir: &std::path::Path) -> (String, Option<(String, String)>) {
    if db.store.engine() == "sqlite" {
        return (format!("sqlite://{}", dir.join("restored.db").display()), None);
    }
    let admin = kizuna_store::testing::postgres_admin_url().unwrap();
    let (url, name) = kizuna_store::testing::create_postgres_database(&admin).await;
    (url, Some((admin, name)))
}

async fn backup_during_ingestion_then_restore(db: TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_subscriptions(&[subscription("A1", "core", "2025-01-01", None, 50_000), subscription("A2", "core", "2025-03-01", Some("2025-09-01"), 12_000)]).await.unwrap();
    tx.commit().await.unwrap();
    let key = ok(kizuna(&db.url, &["keys", "create", "--kind", "write"]).output().unwrap()).trim().to_string();
    let (mut server, port) = start(&db.url).await;
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let client = reqwest::Client::new();
    let mut senders = Vec::new();
    for s in 0..3 {
        let (client, key, acked, stop) = (client.clone(), key.clone(), acked.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let ids: Vec<String> = (0..20).map(|i| format!("s{s}-b{n}-{i}")).collect();
                if send(&client, port, &key, &ids).await {
                    acked.lock().unwrap().extend(ids);
                }
                n += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before: Vec<String> = acked.lock().unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(if db.store.engine() == "sqlite" { "backup.db" } else { "backup.pgdump" });
    let file_arg = file.to_str().unwrap().to_string();
    let url = db.url.clone();
    let out = tokio::task::spawn_blocking(move || kizuna(&url, &["backup", &file_arg]).output().unwrap()).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for t in senders {
        t.await.unwrap();
    }
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(before.len() >= 100, "ingestion was under way ({} acknowledged)", before.len());
    assert!(acked.lock().unwrap().len() > before.len(), "and went on during the backup");
    let again = kizuna(&db.url, &["backup", file.to_str().unwrap()]).output().unwrap();
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("exists already"), "never overwrites");

    let (target, drop_after) = empty_target(&db, dir.path()).await;
    let restored = kizuna(&target, &["restore", file.to_str().unwrap()]).output().unwrap();
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
    let store = kizuna_store::open(&target).await.unwrap();
    let stored: HashSet<String> = store.usage_message_counts().await.unwrap().into_iter().map(|(id, _)| id).collect();
    let missing: Vec<&String> = before.iter().filter(|id| !stored.contains(*id)).take(5).collect();
    assert!(missing.is_empty(), "acknowledged before the backup but not in it: {missing:?} (of {})", before.len());
    let figures = |url: &str| ok(kizuna(url, &["metrics", "mrr", "--from", "2025-01", "--to", "2025-12", "--format", "csv"]).output().unwrap());
    assert_eq!(figures(&target), figures(&db.url), "the same revenue figures");
    assert_eq!(store.counts().await.unwrap(), db.store.counts().await.unwrap());
    assert!(!store.api_keys().await.unwrap().is_empty(), "keys are in the backup");
    let into_full = kizuna(&target, &["restore", file.to_str().unwrap()]).output().unwrap();
    assert!(String::from_utf8_lossy(&into_full.stderr).contains("is not empty"), "{}", String::from_utf8_lossy(&into_full.stderr));
    drop(store);
    if let Some((admin, name)) = drop_after {
        kizuna_store::testing::drop_postgres_database(&admin, &name).await;
    }
}

/// `serve --backup-dir --backup-every --backup-keep`: backups appear on schedule and only the
/// newest are kept.
async fn scheduled_backups_keep_the_newest(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let backups = dir.path().join("backups");
    let args = ["serve", "--listen", &listen, "--backup-dir", backups.to_str().unwrap(), "--backup-every", "1s", "--backup-keep", "2"];
    let mut server = kizuna(&db.url, &args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(4500)).await;
    server.kill().unwrap();
    server.wait().unwrap();
    let names: Vec<String> = std::fs::read_dir(&backups).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|n| !n.ends_with(".partial")).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("kizuna-")), "{names:?}");
}

/// A restore that would not give a working database leaves the target as it was (empty), so
/// the right file can be restored next: a newer Kizuna's backup (a schema step this version
/// does not know) is rolled back; a damaged or foreign SQLite file is refused before it lands.
async fn a_restore_that_does_not_fit_leaves_the_target_empty(db: TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    tx.upsert_subscriptions(&[subscription("A1", "core", "2025-01-01", None, 50_000)]).await.unwrap();
    tx.commit().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = db.store.engine() == "sqlite";
    let ext = if sqlite { "db" } else { "pgdump" };
    let file = |name: &str| dir.path().join(format!("{name}.{ext}")).to_str().unwrap().to_string();
    ok(kizuna(&db.url, &["backup", &file("good")]).output().unwrap());
    let (newer_db, drop_newer) = empty_target(&db, &dir.path().join("n")).await;
    std::fs::create_dir_all(dir.path().join("n")).unwrap();
    ok(kizuna(&newer_db, &["restore", &file("good")]).output().unwrap());
    let step = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99999, 'a newer Kizuna', TRUE, ";
    if sqlite {
        let pool = sqlx::SqlitePool::connect(&newer_db).await.unwrap();
        sqlx::raw_sql(&format!("{step}X'00', 0)")).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&newer_db).await.unwrap();
        sqlx::raw_sql(&format!("{step}'\\x00'::bytea, 0)")).execute(&pool).await.unwrap();
        pool.close().await;
    }
    ok(kizuna(&newer_db, &["backup", &file("newer")]).output().unwrap());

    std::fs::create_dir_all(dir.path().join("t")).unwrap();
    let (target, drop_target) = empty_target(&db, &dir.path().join("t")).await;
    let refused = kizuna(&target, &["restore", &file("newer")]).output().unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && said.contains("does not open as this version's database") && said.contains("the target was left empty"), "{said}");
    ok(kizuna(&target, &["restore", &file("good")]).output().unwrap());
    let figures = |url: &str| ok(kizuna(url, &["metrics", "mrr", "--from", "2025-01", "--to", "2025-03", "--format", "csv"]).output().unwrap());
    assert_eq!(figures(&target), figures(&db.url), "the right backup restores into it afterwards");

    if sqlite {
        let bytes = std::fs::read(file("good")).unwrap();
        std::fs::write(file("cut"), &bytes[..bytes.len() / 2]).unwrap();
        let foreign = sqlx::sqlite::SqliteConnectOptions::new().filename(file("foreign")).create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(foreign).await.unwrap();
        sqlx::raw_sql("CREATE TABLE notes (body TEXT)").execute(&pool).await.unwrap();
        pool.close().await;
        let fresh = format!("sqlite://{}", dir.path().join("fresh.db").display());
        for (name, expected) in [("cut", "the backup is damaged"), ("foreign", "not a Kizuna backup")] {
            let out = kizuna(&fresh, &["restore", &file(name)]).output().unwrap();
            let said = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success() && said.contains(expected), "{name}: {said}");
            assert!(!dir.path().join("fresh.db").exists() && !dir.path().join("fresh.db.partial").exists(), "{name}: nothing left behind");
        }
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(file("good")).unwrap().permissions().mode() & 0o777, 0o600, "a backup holds password hashes: its owner's only");
    }
    for (admin, name) in [drop_newer, drop_target].into_iter().flatten() {
        kizuna_store::testing::drop_postgres_database(&admin, &name).await;
    }
}

both_engines!(backup_during_ingestion_then_restore, scheduled_backups_keep_the_newest, a_restore_that_does_not_fit_leaves_the_target_empty);

/// `kizuna migrate --to postgres://...` (issue 22): the demo company, its users, keys, sessions,
/// scores and usage move from SQLite to an empty PostgreSQL with the same figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_sqlite_to_postgres() {
    let Some(admin) = kizuna_store::testing::postgres_admin_url() else { return eprintln!("skipped: no PostgreSQL") };
    let sqlite = kizuna_store::testing::sqlite().await;
    ok(kizuna(&sqlite.url, &["demo", "--seed", "3", "--until", "2026-11-24", "--accounts", "60"]).output().unwrap());
    ok(kizuna(&sqlite.url, &["keys", "create", "--kind", "read"]).output().unwrap());
    let (pg, name) = kizuna_store::testing::create_postgres_database(&admin).await;
    let out = kizuna(&sqlite.url, &["migrate", "--to", &pg]).output().unwrap();
    let text = ok(out);
    assert!(text.contains("row counts and revenue figures") && text.contains("usage_events"), "{text}");
    let target = kizuna_store::open(&pg).await.unwrap();
    assert_eq!(target.counts().await.unwrap(), sqlite.store.counts().await.unwrap());
    assert_eq!(target.staff_users().await.unwrap(), sqlite.store.staff_users().await.unwrap());
    // PostgreSQL keeps times to the microsecond; SQLite kept the nanoseconds.
    let (moved, kept) = (target.api_keys().await.unwrap(), sqlite.store.api_keys().await.unwrap());
    let ids = |k: &[kizuna_store::ApiKey]| k.iter().map(|k| (k.key_id.clone(), k.kind.clone())).collect::<Vec<_>>();
    assert_eq!(ids(&moved), ids(&kept));
    assert!(moved.iter().zip(&kept).all(|(a, b)| (a.created_at - b.created_at).num_microseconds().unwrap().abs() <= 1));
    assert_eq!(target.usage_message_counts().await.unwrap(), sqlite.store.usage_message_counts().await.unwrap());
    let mrr = |url: &str| ok(kizuna(url, &["metrics", "mrr", "--from", "2024-01", "--to", "2026-11", "--format", "csv"]).output().unwrap());
    assert_eq!(mrr(&pg), mrr(&sqlite.url));
    let (_, log) = target.audit_log(None, 1, 1).await.unwrap();
    target.audit(kizuna_store::AuditEntry { actor: "test", action: "after.migrate", target: None, detail: serde_json::json!({}) }).await.unwrap();
    let (_, after) = target.audit_log(None, 1, 1).await.unwrap();
    assert!(log.is_empty() || after[0].id > log[0].id, "new audit entries continue the ids");
    let again = kizuna(&sqlite.url, &["migrate", "--to", &pg]).output().unwrap();
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("is not empty"), "{}", String::from_utf8_lossy(&again.stderr));
    drop(target);
    kizuna_store::testing::drop_postgres_database(&admin, &name).await;
}
