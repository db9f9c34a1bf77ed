use std::process::ExitCode;

/// The server's flags; each also comes from the environment or the config file (`Settings`).
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "KIZUNA_LISTEN")]
    pub listen: Option<String>,
    /// Write scheduled backups (as `kizuna backup` does) into this directory.
    #[arg(long, env = "KIZUNA_BACKUP_DIR")]
    pub backup_dir: Option<std::path::PathBuf>,
    /// How often to back up: 24h, 6h, 30m, 7d ... [default: 24h].
    #[arg(long, env = "KIZUNA_BACKUP_EVERY")]
    pub backup_every: Option<String>,
    /// How many scheduled backups to keep; older ones are deleted [default: 7].
    #[arg(long, env = "KIZUNA_BACKUP_KEEP")]
    pub backup_keep: Option<usize>,
    /// Every cookie Kizuna sets is Secure (serve behind HTTPS): 1 or true.
    #[arg(long, env = "KIZUNA_SECURE_COOKIES", value_parser = crate::settings::parse_bool)]
    pub secure_cookies: Option<bool>,
    /// This server's name in the jobs table, when several share one database [default: HOST:PID].
    #[arg(long, env = "KIZUNA_NODE")]
    pub node: Option<String>,
}

impl Args {
    pub fn fill(&self, given: &mut crate::settings::Given) {
        given.listen = self.listen.clone();
        given.backup_dir = self.backup_dir.clone();
        given.backup_every = self.backup_every.clone();
        given.backup_keep = self.backup_keep;
        given.secure_cookies = self.secure_cookies;
        given.node = self.node.clone();
    }
}

pub async fn run(s: &crate::settings::Settings) -> anyhow::Result<ExitCode> {
    tracing::debug!("settings: {s:?}");
    let store = super::open(&s.database).await?;
    let backups = match &s.backup_dir {
        Some(dir) => {
            let plan = super::backup::plan(&s.database, dir.clone(), s.backup_every, s.backup_keep)?;
            eprintln!("backing up into {} every {} s, keeping {}", dir.display(), s.backup_every.as_secs(), s.backup_keep);
            Some(plan)
        }
        None => None,
    };
    eprintln!("Kizuna on http://{} (database {}, node {})", s.listen, kizuna_store::redact_url(&s.database), s.node);
    let runner = kizuna_app::jobs::Runner { node: s.node.clone(), backups };
    kizuna_server::serve(store, &s.listen, s.secure_cookies, runner).await?;
    Ok(ExitCode::SUCCESS)
}
