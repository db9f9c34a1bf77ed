//! `kizuna journey ...`: the journey's stages with their active accounts, saving an edited list
//! (the JSON of `GET/PUT /api/v1/journey`), and setting an account's stage from a day. The same
//! use cases as the API and the pages, as the operator (`cli`).

use kizuna_app::journey::NewStage;
use kizuna_app::{render, Actor, App, Format};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Journey {
    /// The stages in order: name, label_ja, label_en, active_accounts (on --at, default today).
    Stages {
        #[arg(long)]
        at: Option<String>,
        #[arg(long, default_value = "table", value_parser = ["json", "csv", "table"])]
        format: String,
    },
    /// Replace the stages with FILE's, after checking them: {"stages": [{"name", "label_ja",
    /// "label_en"}, ...]}. Stages already on accounts stay as they are.
    Save { file: PathBuf },
    /// Set ACCOUNT's stage from --on (default today; never later), kept in its history as a
    /// manual change. An empty STAGE clears it.
    SetStage {
        account: String,
        stage: String,
        #[arg(long)]
        on: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
}

pub async fn run(db: &str, cmd: Journey) -> anyhow::Result<ExitCode> {
    let store = super::open(db).await?;
    let operator = Actor::operator();
    let app = App::new(store.as_ref(), &operator);
    match cmd {
        Journey::Stages { at, format } => {
            let at = match at {
                Some(d) => kizuna_app::Params(&HashMap::from([("at".to_string(), d)])).date("at")?.expect("given"),
                None => kizuna_app::today(),
            };
            let format = Format::parse(&format).expect("clap checked the format");
            super::emit(&render(&app.journey_stages(at).await?, format))?;
        }
        Journey::Save { file } => {
            let text = std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
            let parsed = serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: not the journey JSON expected ({{\"stages\": [{{\"name\", \"label_ja\", \"label_en\"}}]}}): {e}", file.display()))?;
            let saved = app.save_journey(parsed).await.map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let names: Vec<&str> = saved.stages.iter().map(|s| s.name.as_str()).collect();
            eprintln!("saved {} stage(s) from {}: {}", names.len(), file.display(), names.join(" → "));
        }
        Journey::SetStage { account, stage, on, note } => {
            let change = app.set_stage(&account, NewStage { stage: Some(stage), changed_on: on, note }).await?;
            eprintln!("{account}: stage {} from {}", change.stage.as_deref().unwrap_or("(none)"), change.changed_on);
        }
    }
    Ok(ExitCode::SUCCESS)
}
