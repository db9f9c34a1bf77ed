use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "KIZUNA_LISTEN")]
    pub listen: String,
}

pub async fn run(db: &str, args: Args) -> anyhow::Result<ExitCode> {
    let store = super::open(db).await?;
    eprintln!("Kizuna on http://{} (database {db})", args.listen);
    kizuna_server::serve(store, &args.listen).await?;
    Ok(ExitCode::SUCCESS)
}
