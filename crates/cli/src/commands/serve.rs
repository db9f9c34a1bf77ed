use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "KIZUNA_LISTEN")]
    pub listen: String,
    /// Write scheduled backups (as `kizuna backup` does) into this directory.
    #[arg(long, env = "KIZUNA_BACKUP_DIR")]
    pub backup_dir: Option<std::path::PathBuf>,
    /// How often to back up: 24h, 6h, 30m, 7d ...
    #[arg(long, env = "KIZUNA_BACKUP_EVERY", default_value = "24h", value_parser = super::backup::parse_every)]
    pub backup_every: std::time::Duration,
    /// How many scheduled backups to keep; older ones are deleted.
    #[arg(long, env = "KIZUNA_BACKUP_KEEP", default_value_t = 7)]
    pub backup_keep: usize,
}

pub async fn run(db: &str, args: Args) -> anyhow::Result<ExitCode> {
    let store = super::open(db).await?;
    if let Some(dir) = args.backup_dir {
        super::backup::schedule(db.to_string(), dir.clone(), args.backup_every, args.backup_keep)?;
        eprintln!("backing up into {} every {} s, keeping {}", dir.display(), args.backup_every.as_secs(), args.backup_keep);
    }
    eprintln!("Kizuna on http://{} (database {})", args.listen, kizuna_store::redact_url(db));
    kizuna_server::serve(store, &args.listen).await?;
    Ok(ExitCode::SUCCESS)
}
