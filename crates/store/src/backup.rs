//! Online backup and restore, while the server runs.
//!
//! - SQLite: `VACUUM INTO` a new file: one consistent snapshot of everything committed (the WAL
//!   included), as a complete SQLite database that opens as it is. Readers and writers go on
//!   meanwhile (writers wait only while SQLite copies, at most its busy timeout).
//! - PostgreSQL: `pg_dump --format=custom`: one consistent snapshot (a repeatable-read
//!   transaction) of the whole database, schema and data; `pg_restore` reads it back.
//!
//! Restore writes into an empty database only, then migrates it to this version's schema.
//! Each engine restores its own backups; `kizuna migrate` moves SQLite to PostgreSQL.

use crate::{redact_url, StoreError};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// What a backup file holds, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupFormat {
    /// A SQLite database file.
    Sqlite,
    /// A `pg_dump` custom-format archive.
    PgDump,
}

impl BackupFormat {
    /// The file name ending scheduled backups use.
    pub fn extension(self) -> &'static str {
        match self {
            BackupFormat::Sqlite => "db",
            BackupFormat::PgDump => "pgdump",
        }
    }

    pub fn of_url(url: &str) -> crate::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(BackupFormat::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(BackupFormat::PgDump)
        } else {
            Err(StoreError::bad_url(url))
        }
    }

    fn of_file(file: &Path) -> crate::Result<Self> {
        let mut head = [0u8; 16];
        let n = std::io::Read::read(&mut std::fs::File::open(file).map_err(|e| io(file, e))?, &mut head).map_err(|e| io(file, e))?;
        if head[..n].starts_with(b"SQLite format 3\0") {
            Ok(BackupFormat::Sqlite)
        } else if head[..n].starts_with(b"PGDMP") {
            Ok(BackupFormat::PgDump)
        } else {
            Err(StoreError::Backup(format!("{}: not a Kizuna backup (neither a SQLite database nor a pg_dump archive)", file.display())))
        }
    }
}

fn io(file: &Path, e: std::io::Error) -> StoreError {
    StoreError::Backup(format!("{}: {e}", file.display()))
}

/// Writes a backup of the database at `url` to `file`, which must not exist yet. The file
/// appears only when complete (written under a temporary name, then renamed).
pub async fn backup(url: &str, file: &Path) -> crate::Result<BackupFormat> {
    if file.exists() {
        return Err(StoreError::Backup(format!("{} exists already: a backup never overwrites a file", file.display())));
    }
    let partial = partial_name(file);
    let _ = std::fs::remove_file(&partial);
    let format = BackupFormat::of_url(url)?;
    let written = match format {
        BackupFormat::Sqlite => sqlite_backup(url, &partial).await,
        BackupFormat::PgDump => pg_dump(url, &partial).await,
    };
    if let Err(e) = written.and_then(|()| seal(&partial)) {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, file).map_err(|e| io(file, e))?;
    sync_dir(file);
    Ok(format)
}

/// A backup holds every user's password hash and every key's: readable by its owner only, and
/// on disk (not only in the page cache) before it takes its final name and older ones go.
fn seal(file: &Path) -> crate::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).map_err(|e| io(file, e))?;
    }
    std::fs::File::open(file).and_then(|f| f.sync_all()).map_err(|e| io(file, e))
}

/// Makes a rename in `file`'s directory durable (best effort: not every platform can).
fn sync_dir(file: &Path) {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
}

fn partial_name(file: &Path) -> PathBuf {
    let mut name = file.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    file.with_file_name(name)
}

async fn sqlite_backup(url: &str, out: &Path) -> crate::Result<()> {
    let options = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::connect(url, e))?.busy_timeout(std::time::Duration::from_secs(30));
    if !options.get_filename().exists() {
        return Err(StoreError::Backup(format!("{}: no such database file", redact_url(url))));
    }
    let mut conn = options.connect().await.map_err(|e| StoreError::connect(url, e))?;
    let path = out.to_str().ok_or_else(|| StoreError::Backup(format!("{}: the path is not UTF-8", out.display())))?;
    sqlx::query("VACUUM INTO $1").bind(path).execute(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

/// The URL without its password, and the password (for `PGPASSWORD`, so that it shows neither
/// in `ps` nor in an error).
/// The password may sit in the user info (`postgres://u:pw@h/db`) or in the query
/// (`?password=pw`, which libpq also reads, and prefers); both are taken out. The other query
/// parameters are kept as written (libpq decodes `%20`, not `+`).
fn split_password(url: &str) -> crate::Result<(String, Option<String>)> {
    // A URL that does not parse would go to the command line whole, password and all.
    let Ok(mut u) = url::Url::parse(url) else { return Err(StoreError::bad_url(url)) };
    // libpq reads a key's passphrase from the connection string only: it would show in `ps`.
    if u.query_pairs().any(|(k, _)| k == "sslpassword") {
        return Err(StoreError::Backup(format!(
            "{}: sslpassword would show on pg_dump's command line; use a key without a passphrase, or give it in a PGSERVICEFILE entry (service=...)",
            redact_url(url)
        )));
    }
    let mut pw = u.password().map(percent_decode);
    let _ = u.set_password(None);
    if let Some(query) = u.query().map(str::to_string) {
        let (secret, kept): (Vec<&str>, Vec<&str>) = query.split('&').partition(|p| percent_decode(p.split('=').next().unwrap_or("")) == "password");
        if let Some(p) = secret.last() {
            pw = Some(percent_decode(p.split_once('=').map_or("", |(_, v)| v)));
            u.set_query((!kept.is_empty()).then(|| kept.join("&")).as_deref());
        }
    }
    Ok((u.to_string(), pw))
}

/// `%40` → `@` (a URL's user info is percent-encoded; `+` stays `+`).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn run_pg_tool(tool: &str, url: &str, args: &[&str]) -> crate::Result<()> {
    let (url, password) = split_password(url)?;
    let mut cmd = tokio::process::Command::new(tool);
    cmd.args(args).arg("--dbname").arg(&url).kill_on_drop(true);
    if let Some(pw) = password {
        cmd.env("PGPASSWORD", pw);
    }
    let out = cmd.output().await.map_err(|e| StoreError::Backup(format!("running {tool} (is the PostgreSQL client installed?): {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(StoreError::Backup(format!("{tool} failed ({}): {}", out.status, err.trim())));
    }
    Ok(())
}

async fn pg_dump(url: &str, out: &Path) -> crate::Result<()> {
    let file = out.to_str().ok_or_else(|| StoreError::Backup(format!("{}: the path is not UTF-8", out.display())))?;
    run_pg_tool("pg_dump", url, &["--format=custom", "--no-owner", "--no-privileges", "--file", file]).await
}

/// Restores `file` into the empty database at `url` (a SQLite file that does not exist yet or
/// holds no tables; a PostgreSQL database without tables), then brings its schema up to this
/// version. Returns the restored store.
pub async fn restore(url: &str, file: &Path) -> crate::Result<std::sync::Arc<dyn crate::Store>> {
    let format = BackupFormat::of_file(file)?;
    let target = BackupFormat::of_url(url)?;
    if format != target {
        return Err(StoreError::Backup(format!(
            "{} is a {} backup and {} is a {} database: restore into the same engine (kizuna migrate moves SQLite to PostgreSQL)",
            file.display(),
            engine_name(format),
            redact_url(url),
            engine_name(target)
        )));
    }
    match format {
        BackupFormat::Sqlite => sqlite_restore(url, file).await?,
        BackupFormat::PgDump => pg_restore(url, file).await?,
    }
    match crate::open(url).await {
        Ok(store) => Ok(store),
        // Any other failure (the database went away) says nothing against what was restored.
        Err(e) if !matches!(e, StoreError::Migrate(_) | StoreError::CannotMigrate(_)) => Err(e),
        Err(e) => {
            // Restored but not this version's database (a newer Kizuna's, another program's):
            // the target goes back to empty, so the next try is not refused as "not empty".
            let undone = match format {
                BackupFormat::Sqlite => undo_sqlite(url),
                BackupFormat::PgDump => undo_pg(url).await,
            };
            let left = if undone.is_ok() { "the target was left empty" } else { "the target could not be emptied again" };
            Err(StoreError::Backup(format!("{}: restored, but it does not open as this version's database ({e}); {left}", file.display())))
        }
    }
}

fn undo_sqlite(url: &str) -> crate::Result<()> {
    let options = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::connect(url, e))?;
    let path = options.get_filename().to_path_buf();
    for suffix in ["-wal", "-shm"] {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    std::fs::remove_file(&path).map_err(|e| io(&path, e))
}

/// Takes out the tables a restore wrote (the database held none before: checked first), with
/// their indexes and sequences; the schema, its grants and any extension stay as they were.
async fn undo_pg(url: &str) -> crate::Result<()> {
    let mut conn = sqlx::PgConnection::connect(url).await.map_err(|e| StoreError::connect(url, e))?;
    let tables: Vec<String> = sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'").fetch_all(&mut conn).await?;
    for t in tables {
        sqlx::raw_sql(&format!("DROP TABLE IF EXISTS public.\"{}\" CASCADE", t.replace('"', "\"\""))).execute(&mut conn).await?;
    }
    conn.close().await?;
    Ok(())
}

fn engine_name(f: BackupFormat) -> &'static str {
    match f {
        BackupFormat::Sqlite => "SQLite",
        BackupFormat::PgDump => "PostgreSQL",
    }
}

fn not_empty(url: &str, tables: i64) -> StoreError {
    StoreError::Backup(format!("{} is not empty ({tables} tables): restore writes only into an empty database", redact_url(url)))
}

async fn sqlite_restore(url: &str, file: &Path) -> crate::Result<()> {
    let options = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::connect(url, e))?;
    let path = options.get_filename().to_path_buf();
    if path.exists() {
        let mut conn = options.connect().await.map_err(|e| StoreError::connect(url, e))?;
        let tables: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetch_one(&mut conn).await?;
        conn.close().await?;
        if tables > 0 {
            return Err(not_empty(url, tables));
        }
    }
    // Copied under a temporary name beside the target, checked, then renamed: never half a
    // database, nor a damaged one.
    let partial = partial_name(&path);
    std::fs::copy(file, &partial).map_err(|e| io(file, e))?;
    if let Err(e) = check_sqlite_backup(file, &partial).await.and_then(|()| seal(&partial)) {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    for stale in ["-wal", "-shm"] {
        let mut p = path.clone().into_os_string();
        p.push(stale);
        let _ = std::fs::remove_file(p);
    }
    std::fs::rename(&partial, &path).map_err(|e| io(&path, e))?;
    sync_dir(&path);
    Ok(())
}

/// A copy of SQLite backup `file` is intact (SQLite's own integrity check) and is Kizuna's (it
/// has the schema history every Kizuna database has).
async fn check_sqlite_backup(file: &Path, copy: &Path) -> crate::Result<()> {
    let damaged = |e: &dyn std::fmt::Display| StoreError::Backup(format!("{}: the backup is damaged ({e})", file.display()));
    let mut conn = SqliteConnectOptions::new().filename(copy).read_only(true).connect().await.map_err(|e| damaged(&e))?;
    let verdict: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&mut conn).await.map_err(|e| damaged(&e))?;
    if verdict != ["ok"] {
        return Err(damaged(&verdict.join("; ")));
    }
    let history: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'").fetch_one(&mut conn).await?;
    conn.close().await?;
    if history == 0 {
        return Err(StoreError::Backup(format!("{}: a SQLite database, but not a Kizuna backup (it has no schema history)", file.display())));
    }
    Ok(())
}

async fn pg_restore(url: &str, file: &Path) -> crate::Result<()> {
    let mut conn = sqlx::PgConnection::connect(url).await.map_err(|e| StoreError::connect(url, e))?;
    let tables: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'").fetch_one(&mut conn).await?;
    conn.close().await?;
    if tables > 0 {
        return Err(not_empty(url, tables));
    }
    let file = file.to_str().ok_or_else(|| StoreError::Backup(format!("{}: the path is not UTF-8", file.display())))?;
    run_pg_tool("pg_restore", url, &["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", file]).await
}

/// Deletes all but the newest `keep` scheduled backups in `dir` (names `kizuna-*.EXT`, which
/// sort by time). Returns the deleted paths.
pub fn prune(dir: &Path, format: BackupFormat, keep: usize) -> std::io::Result<Vec<PathBuf>> {
    let ext = format!(".{}", format.extension());
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("kizuna-") && n.ends_with(&ext)))
        .collect();
    names.sort();
    let excess = names.len().saturating_sub(keep);
    let mut old: Vec<PathBuf> = names.into_iter().take(excess).collect();
    for p in &old {
        std::fs::remove_file(p)?;
    }
    // What a backup cut short (the server stopped, the disk filled) left: a day old, so never
    // one being written now.
    let stale = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() > 24 * 3600));
    let partial = format!("{ext}.partial");
    for entry in std::fs::read_dir(dir)?.filter_map(|e| e.ok()) {
        let p = entry.path();
        let ours = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("kizuna-") && n.ends_with(&partial));
        if ours && stale(&p) && std::fs::remove_file(&p).is_ok() {
            old.push(p);
        }
    }
    Ok(old)
}

/// The file name of a scheduled backup taken at `at`.
pub fn scheduled_name(format: BackupFormat, at: chrono::DateTime<chrono::Utc>) -> String {
    format!("kizuna-{}.{}", at.format("%Y%m%d-%H%M%S"), format.extension())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_go_to_the_environment() {
        let split_password = |url: &str| split_password(url).unwrap();
        assert_eq!(split_password("postgres://u:p%40ss@h/db"), ("postgres://u@h/db".to_string(), Some("p@ss".to_string())));
        assert_eq!(split_password("postgres://u@h/db"), ("postgres://u@h/db".to_string(), None));
        assert_eq!(split_password("postgres://u:a+b%2F@h/db").1.as_deref(), Some("a+b/"));
        assert_eq!(split_password("postgres://u@h/db?password=s%26cret&sslmode=require"), ("postgres://u@h/db?sslmode=require".to_string(), Some("s&cret".to_string())));
        assert_eq!(split_password("postgres://u@h/db?password=x"), ("postgres://u@h/db".to_string(), Some("x".to_string())));
        let (url, pw) = split_password("postgres://u:old@h/db?options=-c%20statement_timeout%3D0&password=new");
        assert_eq!((url.as_str(), pw.as_deref()), ("postgres://u@h/db?options=-c%20statement_timeout%3D0", Some("new")), "kept as written; the query's wins");
        let refused = super::split_password("postgres://u@h/db?sslkey=k&sslpassword=S3cret").unwrap_err().to_string();
        assert!(refused.contains("sslpassword would show") && !refused.contains("S3cret"), "{refused}");
        assert!(super::split_password("postgres://u:pw@[h/db").is_err(), "a URL that does not parse never reaches the command line");
    }

    #[test]
    fn retention_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["kizuna-20260101-000000.db", "kizuna-20260102-000000.db", "kizuna-20260103-000000.db", "other.db", "kizuna-20260101-000000.pgdump"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let gone = prune(dir.path(), BackupFormat::Sqlite, 2).unwrap();
        assert_eq!(gone, vec![dir.path().join("kizuna-20260101-000000.db")]);
        let mut left: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        assert_eq!(left, ["kizuna-20260101-000000.pgdump", "kizuna-20260102-000000.db", "kizuna-20260103-000000.db", "other.db"]);
        // A partial file a crash left a day ago goes; one being written now stays.
        let (crashed, writing) = (dir.path().join("kizuna-20251230-000000.db.partial"), dir.path().join("kizuna-20260104-000000.db.partial"));
        std::fs::write(&crashed, b"x").unwrap();
        std::fs::write(&writing, b"x").unwrap();
        let day_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(25 * 3600);
        std::fs::File::options().write(true).open(&crashed).unwrap().set_modified(day_ago).unwrap();
        assert_eq!(prune(dir.path(), BackupFormat::Sqlite, 2).unwrap(), vec![crashed.clone()]);
        assert!(writing.exists() && !crashed.exists());
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-06T07:05:09Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(scheduled_name(BackupFormat::PgDump, at), "kizuna-20261206-070509.pgdump");
    }
}
