//! `kizuna keys ...`: API keys. Read keys use the REST API (`Authorization: Bearer KEY`);
//! write keys send usage events. Only a hash is stored: the key is printed once.

use anyhow::bail;
use clap::Subcommand;
use kizuna_domain::access::KeyKind;
use kizuna_app::{Actor, App};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Keys {
    /// Create a key and print it (the only time it is shown).
    Create {
        /// read (REST API) or write (usage events).
        #[arg(long)]
        kind: String,
        #[arg(long)]
        label: Option<String>,
        /// Bind the key to a partner: it sees only that partner's accounts.
        #[arg(long)]
        partner: Option<String>,
    },
    /// List keys (id, kind, label, partner, created, revoked).
    List,
    /// Revoke a key by its id (the 8 characters after kz_KIND_).
    Revoke { key_id: String },
}

pub async fn run(db: &str, cmd: Keys) -> anyhow::Result<ExitCode> {
    let store = super::open(db).await?;
    let operator = Actor::operator();
    let app = App::new(store.as_ref(), &operator);
    match cmd {
        Keys::Create { kind, label, partner } => {
            let Some(k) = KeyKind::parse(&kind) else { bail!("--kind {kind:?} is not one of: read, write") };
            let (secret, key) = app.create_key(k, label, partner).await?;
            eprintln!("{} key {} created; it is shown only this once:", key.kind, key.key_id);
            println!("{secret}");
        }
        Keys::List => {
            for k in app.keys().await? {
                let revoked = k.revoked_at.map(|t| format!("revoked {}", kizuna_domain::time::local(t).format("%Y-%m-%d %H:%M"))).unwrap_or_else(|| "active".into());
                println!("{}\t{}\t{}\t{}\t{}\t{}", k.key_id, k.kind, k.label, k.partner_id.unwrap_or_default(), kizuna_domain::time::local(k.created_at).format("%Y-%m-%d %H:%M"), revoked);
            }
        }
        Keys::Revoke { key_id } => {
            app.revoke_key(&key_id).await?;
            println!("revoked {key_id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
