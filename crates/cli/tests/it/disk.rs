//! A full disk when Kizuna opens its SQLite file. The command fails and says which file system
//! ran out of room: the database's directory, or the temporary directory where SQLite spills
//! large sorts and index builds. It never fails with a bare "database or disk is full" or a
//! missing table. `/healthz` names a full temporary directory before a migration or a large
//! report trips on it.

use kizuna_store::testing::SmallDisk;
use std::process::{Command, Stdio};
use std::time::Duration;

fn kizuna(db: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kizuna"));
    cmd.env_remove("KIZUNA_DATABASE_URL").env_remove("SQLITE_TMPDIR").env("RUST_LOG", "error").arg("--database").arg(db);
    cmd
}

fn small_disk() -> Option<SmallDisk> {
    let disk = SmallDisk::mount("1m");
    if disk.is_none() {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "under CI=true the full-disk tests must run: they mount a tmpfs (needs root)");
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
    }
    disk
}

#[test]
fn a_full_disk_is_named_when_the_database_opens() {
    let Some(disk) = small_disk() else { return };
    let dir = disk.dir.path().display().to_string();
    let db = format!("sqlite://{dir}/kizuna.db");
    let filler = disk.fill();
    let out = kizuna(&db).args(["jobs", "list"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&format!("SQLite ran out of disk space while opening {dir}/kizuna.db: the database's directory {dir} has 0 of 1048576 bytes free")), "{err}");
    assert!(err.contains("its temporary directory (SQLITE_TMPDIR, else TMPDIR, else /var/tmp)"), "{err}");
    assert_eq!(err.matches("database or disk is full").count(), 0, "the cause is said once, in plain words: {err}");

    // Freed, but less than the 1 MiB a commit needs: a new file cannot get its tables, and the
    // command says so instead of failing later on a table that is not there.
    std::fs::remove_file(filler).unwrap();
    let out = kizuna(&db).args(["jobs", "list"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&format!("{dir}/kizuna.db needs its schema brought up to this version of Kizuna and cannot be written now: the disk holding the SQLite database is full")), "{err}");
    assert!(!err.contains("no such table"), "{err}");
}

#[tokio::test]
async fn health_names_a_full_temporary_directory() {
    let Some(temp) = small_disk() else { return };
    temp.fill();
    let data = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/kizuna.db", data.path().display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = kizuna(&db)
        .env("SQLITE_TMPDIR", temp.dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut health = None;
    for _ in 0..400 {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await {
            health = Some(r.json::<serde_json::Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let health = health.expect("the server started");
    assert_eq!(health["status"], "degraded", "{health}");
    let expected = format!("SQLite's temporary directory {} is full (0 bytes free)", temp.dir.path().display());
    assert!(health["reason"].as_str().unwrap().starts_with(&expected), "{health}");
}
