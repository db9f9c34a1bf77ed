//! Test support shared by every crate's integration tests: a fresh database per test, on
//! SQLite (a temporary file) and on PostgreSQL (a new database on `KIZUNA_TEST_POSTGRES_URL`).
//!
//! Under `CI=true` a missing or unreachable PostgreSQL is a failure, never a skip.

use crate::Store;
use sqlx::Connection;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// `YYYY-MM-DD` → date, for fixtures.
pub fn date(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("fixture date is YYYY-MM-DD")
}

/// A track event by `user` of `account` at 09:00 UTC on `day`, without a value, for fixtures.
pub fn usage_event(id: String, account: &str, user: &str, kind: &str, day: chrono::NaiveDate) -> kizuna_domain::usage::UsageMessage {
    use chrono::TimeZone;
    kizuna_domain::usage::UsageMessage::Event(kizuna_domain::usage::UsageEvent {
        message_id: id,
        user_id: Some(user.into()),
        account_id: Some(account.into()),
        event_type: kind.into(),
        at: chrono::Utc.from_utc_datetime(&day.and_hms_opt(9, 0, 0).expect("09:00 exists")),
        value: None,
        properties: serde_json::json!({}),
    })
}

/// A JPY subscription period for fixtures; `mrr` in yen.
pub fn subscription(account: &str, product: &str, start: &str, end: Option<&str>, mrr: i64) -> kizuna_domain::SubscriptionRow {
    kizuna_domain::SubscriptionRow {
        account_id: account.into(),
        product: product.into(),
        start_date: date(start),
        end_date: end.map(date),
        mrr_cents: mrr * 100,
        quantity: None,
        units: None,
        bill_period_months: Some(1),
        discount: None,
        currency: "JPY".into(),
    }
}

/// A fresh, migrated database. Cheap to clone; the files or database go away after the test.
#[derive(Clone)]
pub struct TestDb {
    pub store: Arc<dyn Store>,
    /// The URL, for tests that run the `kizuna` binary against the same database.
    pub url: String,
    _dir: Option<Arc<tempfile::TempDir>>,
}

pub async fn sqlite() -> TestDb {
    sqlite_opened(false).await
}

/// A fresh SQLite database opened as `kizuna import` opens it ([`crate::open_alone`]).
pub async fn sqlite_alone() -> TestDb {
    sqlite_opened(true).await
}

async fn sqlite_opened(alone: bool) -> TestDb {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("kizuna-test.db").display());
    let store = if alone { crate::open_alone(&url).await } else { crate::open(&url).await };
    TestDb { store: store.expect("open SQLite test database"), url, _dir: Some(Arc::new(dir)) }
}

/// The admin URL, or `None` when PostgreSQL tests are not configured here (allowed outside CI).
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("KIZUNA_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("KIZUNA_TEST_POSTGRES_URL is not set: under CI=true the PostgreSQL tests must run")
        }
        _ => None,
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Create a new database named after this process and a counter; returns its URL.
pub async fn create_postgres_database(admin_url: &str) -> (String, String) {
    let name = format!(
        "kizuna_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        chrono::Utc::now().timestamp_micros() % 1_000_000_000
    );
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {admin_url}: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create test database");
    let mut url = url::Url::parse(admin_url).expect("KIZUNA_TEST_POSTGRES_URL is a URL");
    url.set_path(&name);
    (url.to_string(), name)
}

pub async fn drop_postgres_database(admin_url: &str, name: &str) {
    if let Ok(mut admin) = sqlx::PgConnection::connect(admin_url).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await;
    }
}

/// Run `case` on a fresh SQLite database.
pub async fn run_sqlite<F, Fut>(case: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    case(sqlite().await).await
}

/// Run `case` on a fresh PostgreSQL database, then drop it (also when the case panics).
pub async fn run_postgres<F, Fut>(case: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(admin) = postgres_admin_url() else {
        eprintln!("skipped on PostgreSQL: KIZUNA_TEST_POSTGRES_URL is not set");
        return;
    };
    let (url, name) = create_postgres_database(&admin).await;
    let store = crate::open(&url).await.expect("open PostgreSQL test database");
    let outcome = tokio::spawn(case(TestDb { store, url, _dir: None })).await;
    drop_postgres_database(&admin, &name).await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Generates one test per engine for each listed `async fn case(db: TestDb)`:
/// `both_engines!(imports_accounts, rejects_bad_dates);` makes `sqlite::imports_accounts`,
/// `postgres::imports_accounts`, and so on.
#[macro_export]
macro_rules! both_engines {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    $crate::testing::run_sqlite(super::$case).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    $crate::testing::run_postgres(super::$case).await
                }
            )+
        }
    };
}
/// A small file system for one test: a tmpfs mounted on a temporary directory (needs root, as
/// in CI), unmounted when dropped.
pub struct SmallDisk {
    pub dir: tempfile::TempDir,
}

impl SmallDisk {
    pub fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { dir })
    }

    /// Writes zeros until the file system is full; returns the file that filled it.
    pub fn fill(&self) -> std::path::PathBuf {
        let path = self.dir.path().join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 << 10];
        while std::io::Write::write_all(&mut f, &block).is_ok() {}
        // The last partial block may have left room for a little: take it byte by byte.
        while std::io::Write::write_all(&mut f, &[0]).is_ok() {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: the writer thread may still hold the database open for a moment.
        let _ = std::process::Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

