//! `kizuna backup FILE` and `kizuna restore FILE` (online, while the server runs; see
//! `kizuna_store::backup`), and the server's scheduled backups with retention.

use anyhow::{bail, Context};
use kizuna_store::backup::{self, BackupFormat};
use kizuna_store::redact_url;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

pub async fn run_backup(db: &str, file: &Path) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    backup::backup(db, file).await.with_context(|| format!("backing up {}", redact_url(db)))?;
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    eprintln!("backed up {} to {} ({} KB in {:.1} s)", redact_url(db), file.display(), size / 1024, started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

pub async fn run_restore(db: &str, file: &Path) -> anyhow::Result<ExitCode> {
    let store = backup::restore(db, file).await.with_context(|| format!("restoring {} into {}", file.display(), redact_url(db)))?;
    let c = store.counts().await?;
    eprintln!(
        "restored {} into {}: {} accounts, {} subscription periods, {} staff users (schema brought up to this version)",
        file.display(),
        redact_url(db),
        c.accounts,
        c.subscriptions,
        c.staff_users
    );
    Ok(ExitCode::SUCCESS)
}

/// `24h`, `30m`, `7d`, `90s`: how often scheduled backups run.
pub fn parse_every(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| format!("{s:?} is not a duration like 24h, 30m, 7d or 90s"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{s:?} is not a duration like 24h, 30m, 7d or 90s (units: s, m, h, d)")),
    };
    if secs == 0 {
        return Err(format!("{s:?}: the interval must be longer than zero"));
    }
    Ok(Duration::from_secs(secs))
}

/// The server's scheduled backups (`--backup-dir`), checked at start: the directory can be
/// created and at least one backup is kept. They run as the durable job `backup.scheduled`
/// (`kizuna_app::jobs`), once per period however many servers share the database.
pub fn plan(db: &str, dir: PathBuf, every: Duration, keep: usize) -> anyhow::Result<kizuna_app::jobs::BackupPlan> {
    BackupFormat::of_url(db)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating the backup directory {}", dir.display()))?;
    if keep == 0 {
        bail!("--backup-keep 0 would delete every backup: keep at least 1");
    }
    Ok(kizuna_app::jobs::BackupPlan { database: db.to_string(), dir, every, keep })
}

#[cfg(test)]
mod tests {
    #[test]
    fn intervals() {
        use super::parse_every;
        assert_eq!(parse_every("24h").unwrap().as_secs(), 86_400);
        assert_eq!(parse_every("7d").unwrap().as_secs(), 604_800);
        assert_eq!(parse_every("90s").unwrap().as_secs(), 90);
        assert!(parse_every("1w").unwrap_err().contains("units: s, m, h, d"));
        assert!(parse_every("0h").is_err() && parse_every("h").is_err());
    }
}
