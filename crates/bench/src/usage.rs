//! `kizuna-bench ingest`, `kizuna-bench import-events` and `kizuna-bench usage-metrics`: usage ingestion over HTTP with a load
//! generator on the same machine, and recomputing every usage metric for many accounts.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use rand::SeedableRng;
use kizuna_domain::access::KeyKind;
use kizuna_domain::usage::metrics::Definitions;
use kizuna_domain::usage::{UsageEvent, UsageMessage};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as Wait, Instant};

/// Starts the server in this process on a free port, then `connections` senders post Segment
/// batches of `batch` track events for `seconds` (gzipped with `gzip`, compressed by each sender
/// as an SDK would); prints events/s and batch latency percentiles.
pub async fn ingest(db: &str, seconds: u64, connections: usize, batch: usize, ids: MessageIds, gzip: bool) -> anyhow::Result<ExitCode> {
    let store = crate::open(db).await?;
    let (key, _) = kizuna_app::users::create_key(store.as_ref(), &kizuna_app::Actor::operator(), KeyKind::Write, Some("bench ingest".into()), None).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/v1/batch", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, kizuna_server::router(kizuna_server::AppState::new(store))).await });
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let events = Arc::new(AtomicU64::new(0));
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (client, key, url, stop, events, latencies) = (client.clone(), key.clone(), url.clone(), stop.clone(), events.clone(), latencies.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(c as u64);
            while !stop.load(Ordering::Relaxed) {
                let body = batch_body(c, n, batch, ids, &mut rng).into_bytes();
                let t = Instant::now();
                let req = client.post(&url).basic_auth(&key, Some("")).header("content-type", "application/json");
                let ok = match gzip {
                    true => req.header("content-encoding", "gzip").body(gzipped(&body)).send().await,
                    false => req.body(body).send().await,
                };
                match ok {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.lock().unwrap().push(t.elapsed().as_secs_f64() * 1000.0);
                        events.fetch_add(batch as u64, Ordering::Relaxed);
                    }
                    Ok(r) => eprintln!("batch refused: {}", r.status()),
                    Err(e) => eprintln!("batch failed: {e}"),
                }
                n += 1;
            }
        }));
    }
    tokio::time::sleep(Wait::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or(0.0);
    let total = events.load(Ordering::Relaxed);
    println!(
        "{total} events in {elapsed:.1} s: {:.0} events/s; {} batches of {batch} over {connections} connections; \
         batch latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; message ids: {ids:?}",
        total as f64 / elapsed,
        lat.len(),
        pct(0.50),
        pct(0.99),
        lat.last().copied().unwrap_or(0.0)
    );
    match load_stored_events(db) {
        Ok((rows, theirs)) => println!(
            "{} of the same {rows} rows into a bare table: {theirs:.1} s: {:.0} rows/s; ingestion takes {:.1}× as long per event",
            loader_name(db),
            rows as f64 / theirs,
            rows as f64 / theirs / (total as f64 / elapsed)
        ),
        Err(e) => println!("the database's own loader could not run: {e}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// How the load generator makes message ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MessageIds {
    /// Random version-4 UUIDs, as Segment's and RudderStack's libraries send.
    Uuid,
    /// `bench-SENDER-BATCH-ITEM`.
    Counter,
}

/// A random version-4 UUID.
fn uuid_v4(rng: &mut impl rand::Rng) -> String {
    let b: u128 = rng.gen::<u128>() & !(0xf000 << 64 | 0xc000 << 48) | (0x4000 << 64 | 0x8000 << 48);
    let h = format!("{b:032x}");
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// Sender `c`'s `n`th Segment batch of `batch` track events, written straight as JSON text: the
/// generator shares the machine with the server, so it should spend as little as a client
/// library that serialises its queue once.
/// `body` as a gzip stream, at the default level (what SDKs use).
fn gzipped(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::default());
    e.write_all(body).expect("writing to memory");
    e.finish().expect("writing to memory")
}

fn batch_body(c: usize, n: u64, batch: usize, ids: MessageIds, rng: &mut impl rand::Rng) -> String {
    use std::fmt::Write;
    let mut body = String::with_capacity(200 * batch + 16);
    body.push_str("{\"batch\":[");
    for i in 0..batch {
        let (user, group) = ((n as usize * batch + i) % 5000, (n as usize * 7 + i) % 10000);
        if i > 0 {
            body.push(',');
        }
        let id = match ids {
            MessageIds::Uuid => uuid_v4(rng),
            MessageIds::Counter => format!("bench-{c}-{n}-{i}"),
        };
        let _ = write!(
            body,
            "{{\"type\":\"track\",\"userId\":\"u{user}\",\"event\":\"report_viewed\",\"messageId\":\"{id}\",\
             \"timestamp\":\"2026-11-20T09:00:00Z\",\"context\":{{\"groupId\":\"B{group:05}\"}}}}"
        );
    }
    body.push_str("]}");
    body
}

/// Loads `accounts` paying accounts with `per_account` events each over the last 60 days
/// (unless `no_load`), then times computing every default usage metric at one date.
pub async fn usage_metrics(db: &str, accounts: u64, per_account: u64, no_load: bool, repeat: usize) -> anyhow::Result<ExitCode> {
    let store = crate::open(db).await?;
    let at = NaiveDate::from_ymd_opt(2026, 11, 24).expect("valid date");
    if !no_load {
        let started = Instant::now();
        let subs: Vec<_> = (0..accounts)
            .map(|a| kizuna_store::testing::subscription(&format!("U{a:06}"), "core", "2025-01-01", None, 100_000))
            .collect();
        let mut tx = store.begin().await?;
        tx.upsert_subscriptions(&subs).await?;
        tx.commit().await?;
        let kinds = ["login", "report_created", "login", "export"];
        let mut messages = Vec::with_capacity(50_000);
        for a in 0..accounts {
            for e in 0..per_account {
                let day = at - Duration::days(((a * 31 + e * 7) % 60) as i64);
                messages.push(UsageMessage::Event(UsageEvent {
                    message_id: format!("m-{a}-{e}"),
                    user_id: Some(format!("U{a:06}-{}", e % 4)),
                    account_id: Some(format!("U{a:06}")),
                    event_type: kinds[(e % 4) as usize].into(),
                    at: Utc.from_utc_datetime(&day.and_hms_opt(9, 0, 0).expect("valid time")),
                    value: None,
                    properties: serde_json::json!({}),
                }));
                if messages.len() == 50_000 {
                    store.ingest(&messages).await?;
                    messages.clear();
                }
            }
        }
        store.ingest(&messages).await?;
        eprintln!("loaded {accounts} accounts × {per_account} events in {:.1} s", started.elapsed().as_secs_f64());
    }
    let defs = Definitions::default_set();
    let mut times = Vec::new();
    let mut rows = 0;
    for _ in 0..repeat {
        let t = Instant::now();
        let v = kizuna_app::usage::usage_metrics(store.as_ref(), &defs, at, None).await?;
        times.push(t.elapsed().as_secs_f64());
        rows = v.len();
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!("usage metrics ({} metrics) for {rows} accounts at {at}: median {:.3} s over {repeat} runs", defs.metrics.len(), times[times.len() / 2]);
    Ok(ExitCode::SUCCESS)
}

/// Writes a usage CSV of `events` rows, imports it with `kizuna import events`, and loads the
/// same file with the database's own bulk loader (SQLite's `.import` through the `sqlite3` shell,
/// PostgreSQL's `COPY` through `psql \copy`) into a bare table, for the ratio.
pub async fn import_events(db: &str, events: u64) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("events.csv");
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    writeln!(out, "account_id,user_id,event_time,event_type,value,properties,message_id")?;
    let kinds = ["login", "report_created", "login", "export", "setup_step"];
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("valid time");
    for n in 0..events {
        let account = n % 100_000;
        let t = start + Duration::seconds((n * 2) as i64);
        let value = if n % 4 == 1 { "1.5" } else { "" };
        writeln!(out, "A{account:06},A{account:06}-u{},{},{},{value},{{}},e{n}", n % 5, t.format("%Y-%m-%d %H:%M:%S"), kinds[(n % 5) as usize])?;
    }
    out.flush()?;
    drop(out);
    let size = std::fs::metadata(&path)?.len() as f64 / (1 << 20) as f64;
    let store = crate::open_alone(db).await?;
    let t = Instant::now();
    let summary = kizuna_import::import_file(store.as_ref(), kizuna_import::ImportKind::Events, &path, &kizuna_import::NoProgress)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ours = t.elapsed().as_secs_f64();
    let rss = crate::peak_rss_mib().unwrap_or(0.0);
    println!(
        "kizuna import events: {} rows ({size:.0} MiB CSV) in {ours:.1} s: {:.0} events/s; peak memory {rss:.0} MiB",
        summary.rows,
        summary.rows as f64 / ours
    );
    let columns = ["account_id", "user_id", "event_time", "event_type", "value", "properties", "message_id"];
    match own_loader(db, &path, &columns) {
        Ok(theirs) => println!(
            "{} of the same file into a bare table: {theirs:.1} s: {:.0} rows/s; kizuna takes {:.1}× as long",
            loader_name(db),
            events as f64 / theirs,
            ours / theirs
        ),
        Err(e) => println!("the database's own loader could not run: {e}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn loader_name(db: &str) -> &'static str {
    if db.starts_with("sqlite") {
        "sqlite3 .import"
    } else {
        "psql \\copy (COPY)"
    }
}

/// Loads `csv` (with a header row of `columns`) with the database's own bulk loader into a bare
/// table of text columns (SQLite's `.import` through the `sqlite3` shell into a file beside the
/// database, PostgreSQL's `COPY` through `psql \copy`); returns the seconds it took.
fn own_loader(db: &str, csv: &std::path::Path, columns: &[&str]) -> anyhow::Result<f64> {
    let table = columns.iter().map(|c| format!("{c} TEXT")).collect::<Vec<_>>().join(", ");
    let t = Instant::now();
    let status = if let Some(file) = db.strip_prefix("sqlite://") {
        let raw = format!("{file}.raw.db");
        let _ = std::fs::remove_file(&raw);
        std::process::Command::new("sqlite3")
            .arg(&raw)
            .arg(format!("CREATE TABLE raw_events ({table});"))
            .arg(".mode csv")
            .arg(format!(".import --skip 1 {} raw_events", csv.display()))
            .status()?
    } else {
        std::process::Command::new("psql")
            .arg(db)
            .args(["-q", "-c", "DROP TABLE IF EXISTS raw_events", "-c", &format!("CREATE TABLE raw_events ({table})")])
            .arg("-c")
            .arg(format!("\\copy raw_events FROM '{}' WITH (FORMAT csv, HEADER true)", csv.display()))
            .status()?
    };
    anyhow::ensure!(status.success(), "{} exited with {status}", loader_name(db));
    Ok(t.elapsed().as_secs_f64())
}

/// The stored events, exported from the database as CSV with a header and loaded with the
/// database's own bulk loader: (rows, seconds the loader took).
fn load_stored_events(db: &str) -> anyhow::Result<(usize, f64)> {
    let columns = ["account_id", "message_id", "user_id", "event_type", "event_time", "value", "properties"];
    let select = format!("SELECT {} FROM usage_events", columns.join(", "));
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("ingested.csv");
    let out = std::fs::File::create(&path)?;
    let status = if let Some(file) = db.strip_prefix("sqlite://") {
        std::process::Command::new("sqlite3").args(["-header", "-csv", file, &select]).stdout(out).status()?
    } else {
        let copy = format!("\\copy ({select}) TO STDOUT WITH (FORMAT csv, HEADER true)");
        std::process::Command::new("psql").args([db, "-q", "-c", &copy]).stdout(out).status()?
    };
    anyhow::ensure!(status.success(), "exporting the stored events exited with {status}");
    // Records, not lines: a quoted field may hold a line break.
    let rows = csv::Reader::from_path(&path)?.byte_records().count();
    Ok((rows, own_loader(db, &path, &columns)?))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;
    use kizuna_domain::usage::{segment, UsageMessage};

    #[test]
    fn generated_batches_are_segment_batches() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let body = super::batch_body(3, 12, 100, super::MessageIds::Counter, &mut rng);
        let messages = segment::parse_batch(body.as_bytes(), chrono::Utc::now()).unwrap();
        assert_eq!(messages.len(), 100);
        let UsageMessage::Event(e) = &messages[7] else { panic!("a track is an event") };
        assert_eq!(e.message_id, "bench-3-12-7");
        assert_eq!(e.user_id.as_deref(), Some("u1207"));
        assert_eq!(e.account_id.as_deref(), Some("B00091"));
        assert_eq!(e.event_type, "report_viewed");
    }

    /// The rows the own loader is timed on are the stored events, whole: quotes, commas and
    /// Japanese in properties survive the export and the load.
    #[tokio::test]
    async fn stored_events_are_loaded_by_sqlite_itself() {
        if std::process::Command::new("sqlite3").arg("-version").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "CI needs the sqlite3 shell");
            eprintln!("skipped: no sqlite3 shell");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("k.db").display());
        let store = crate::open(&db).await.unwrap();
        let batch = r#"{"batch": [
            {"type": "track", "userId": "u1", "event": "login", "messageId": "m1", "timestamp": "2026-11-20T09:00:00Z", "context": {"groupId": "A1"}},
            {"type": "track", "userId": "u2", "event": "export", "messageId": "m2", "timestamp": "2026-11-20T10:00:00Z", "context": {"groupId": "A1"},
             "properties": {"note": "say \"hi\", 日本語"}}
        ]}"#;
        store.ingest(&segment::parse_batch(batch.as_bytes(), chrono::Utc::now()).unwrap()).await.unwrap();
        let (rows, seconds) = super::load_stored_events(&db).unwrap();
        assert_eq!(rows, 2);
        assert!(seconds > 0.0);
        let raw = dir.path().join("k.db.raw.db");
        let out = std::process::Command::new("sqlite3").arg(&raw).arg("SELECT message_id, properties FROM raw_events ORDER BY message_id").output().unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "m1|{}\nm2|{\"note\":\"say \\\"hi\\\", 日本語\"}\n");
    }

    #[test]
    fn uuids_are_version_4_and_differ() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let (a, b) = (super::uuid_v4(&mut rng), super::uuid_v4(&mut rng));
        assert_ne!(a, b);
        for id in [&a, &b] {
            let parts: Vec<_> = id.split('-').map(str::len).collect();
            assert_eq!(parts, vec![8, 4, 4, 4, 12], "{id}");
            assert_eq!(&id[14..15], "4", "version 4: {id}");
            assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "RFC 4122 variant: {id}");
        }
    }
}
