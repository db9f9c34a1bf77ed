//! One `Settings`, loaded once at start: each value from its flag, else its environment variable
//! (clap reads both), else the optional config file (`--config FILE` / `KIZUNA_CONFIG`, TOML),
//! else the default. Secrets (the database password) never show in `Debug`.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_TIME_ZONE: &str = "Asia/Tokyo";
pub const DEFAULT_BACKUP_EVERY: &str = "24h";
pub const DEFAULT_BACKUP_KEEP: usize = 7;

/// What the flags and environment gave (None: not given).
#[derive(Debug, Default, Clone)]
pub struct Given {
    pub config: Option<PathBuf>,
    pub database: Option<String>,
    pub time_zone: Option<String>,
    pub listen: Option<String>,
    pub secure_cookies: Option<bool>,
    pub backup_dir: Option<PathBuf>,
    pub backup_every: Option<String>,
    pub backup_keep: Option<usize>,
    pub node: Option<String>,
}

/// The config file: the same names as the flags, in snake case.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    database: Option<String>,
    time_zone: Option<String>,
    listen: Option<String>,
    secure_cookies: Option<bool>,
    backup_dir: Option<PathBuf>,
    backup_every: Option<String>,
    backup_keep: Option<usize>,
    node: Option<String>,
}

#[derive(Clone)]
pub struct Settings {
    pub database: String,
    pub time_zone: chrono_tz::Tz,
    pub listen: String,
    /// Every cookie Kizuna sets is `Secure` (serve behind HTTPS).
    pub secure_cookies: bool,
    /// Scheduled backups into this directory, if set.
    pub backup_dir: Option<PathBuf>,
    pub backup_every: Duration,
    pub backup_keep: usize,
    /// This server's name in the jobs table (several servers may share one database): the
    /// host name and process id unless given.
    pub node: String,
    /// The config file read, if any.
    pub config: Option<PathBuf>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database", &kizuna_store::redact_url(&self.database))
            .field("time_zone", &self.time_zone)
            .field("listen", &self.listen)
            .field("secure_cookies", &self.secure_cookies)
            .field("backup_dir", &self.backup_dir)
            .field("backup_every", &self.backup_every)
            .field("backup_keep", &self.backup_keep)
            .field("node", &self.node)
            .field("config", &self.config)
            .finish()
    }
}

impl Settings {
    /// Flags and environment first, then the config file, then the defaults. A config file
    /// that is named but unreadable, or holds an unknown key or a bad value, is an error that
    /// names the file and the key.
    pub fn load(given: Given) -> anyhow::Result<Settings> {
        let file = match &given.config {
            Some(path) => read_file(path)?,
            None => File::default(),
        };
        let from = |key: &str| match &given.config {
            Some(p) => format!("{} (key {key})", p.display()),
            None => key.to_string(),
        };
        let zone = given.time_zone.or(file.time_zone).unwrap_or_else(|| DEFAULT_TIME_ZONE.into());
        let time_zone = kizuna_domain::time::parse_zone(&zone).with_context(|| format!("time zone {zone:?} from {}", from("time_zone")))?;
        let every = given.backup_every.or(file.backup_every).unwrap_or_else(|| DEFAULT_BACKUP_EVERY.into());
        let backup_every =
            crate::commands::backup::parse_every(&every).map_err(|e| anyhow::anyhow!("backup_every {every:?} from {}: {e}", from("backup_every")))?;
        Ok(Settings {
            database: given.database.or(file.database).unwrap_or_else(|| kizuna_store::DEFAULT_DATABASE_URL.into()),
            time_zone,
            listen: given.listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.into()),
            secure_cookies: given.secure_cookies.or(file.secure_cookies).unwrap_or(false),
            backup_dir: given.backup_dir.or(file.backup_dir),
            backup_every,
            backup_keep: given.backup_keep.or(file.backup_keep).unwrap_or(DEFAULT_BACKUP_KEEP),
            node: given.node.or(file.node).filter(|n| !n.trim().is_empty()).unwrap_or_else(default_node),
            config: given.config,
        })
    }
}

/// `HOST:PID`: unique among servers running at once.
pub fn default_node() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "kizuna".into());
    format!("{host}:{}", std::process::id())
}

fn read_file(path: &Path) -> anyhow::Result<File> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the config file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))
}

/// `1`, `true`, `yes`, `on` (any case) are true; `0`, `false`, `no`, `off` false.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        other => Err(format!("{other:?} is not true or false (1, true, 0, false)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn flags_and_environment_beat_the_file_which_beats_defaults() {
        let f = file("database = \"postgres://kizuna:s3cret@db:5432/kizuna\"\ntime_zone = \"UTC\"\nlisten = \"0.0.0.0:9000\"\nbackup_keep = 3\n");
        let s = Settings::load(Given { config: Some(f.path().into()), listen: Some("127.0.0.1:1".into()), ..Default::default() }).unwrap();
        assert_eq!(s.listen, "127.0.0.1:1", "the flag wins");
        assert_eq!(s.time_zone, chrono_tz::UTC, "the file fills what flags left out");
        assert_eq!(s.backup_keep, 3);
        assert_eq!(s.backup_every, Duration::from_secs(86_400), "the default");
        let shown = format!("{s:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db:5432"), "{shown}");
    }

    #[test]
    fn defaults_without_a_file() {
        let s = Settings::load(Given::default()).unwrap();
        assert_eq!((s.database.as_str(), s.listen.as_str(), s.time_zone), (kizuna_store::DEFAULT_DATABASE_URL, DEFAULT_LISTEN, chrono_tz::Asia::Tokyo));
        assert!(!s.secure_cookies);
    }

    #[test]
    fn bad_files_name_the_file_and_key() {
        let f = file("databse = \"sqlite://x.db\"\n");
        let e = Settings::load(Given { config: Some(f.path().into()), ..Default::default() }).unwrap_err().to_string();
        assert!(e.contains("databse") && e.contains(&f.path().display().to_string()), "{e}");
        let f = file("time_zone = \"Mars/Olympus\"\n");
        let e = format!("{:#}", Settings::load(Given { config: Some(f.path().into()), ..Default::default() }).unwrap_err());
        assert!(e.contains("Mars/Olympus") && e.contains("time_zone"), "{e}");
        let e = Settings::load(Given { config: Some("/nonexistent/kizuna.toml".into()), ..Default::default() }).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/kizuna.toml"), "{e}");
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("TRUE"), Ok(true));
        assert_eq!(parse_bool("0"), Ok(false));
        assert!(parse_bool("maybe").is_err());
    }
}
