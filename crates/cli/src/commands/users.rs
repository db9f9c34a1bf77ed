//! `kizuna users ...`: staff users who sign in to the web application.

use anyhow::{bail, Context};
use clap::{Args as ClapArgs, Subcommand};
use kizuna_domain::access::hash_new_password;
use kizuna_domain::Role;
use kizuna_store::AuditEntry;
use std::io::BufRead;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Users {
    /// Add a user who can sign in. The password is read from standard input (one line) unless
    /// --password is given.
    Create(Create),
    /// Set a user's password (read from standard input, one line); signs out their sessions.
    SetPassword {
        #[arg(long)]
        email: String,
    },
    /// List users with their roles (and when a user was deactivated).
    List,
    /// Deactivate a user: they can no longer sign in, their sessions end and every API key they
    /// created is revoked. The user and their history stay.
    Deactivate {
        #[arg(long)]
        email: String,
    },
    /// Let a deactivated user sign in again (their revoked keys stay revoked).
    Reactivate {
        #[arg(long)]
        email: String,
    },
}

#[derive(ClapArgs)]
pub struct Create {
    #[arg(long)]
    email: String,
    #[arg(long)]
    name: Option<String>,
    /// admin, cs_ops, manager, csm, viewer or partner.
    #[arg(long)]
    role: String,
    /// Required for --role partner: the partner whose accounts the user sees (and nothing else).
    #[arg(long)]
    partner: Option<String>,
    #[arg(long)]
    team: Option<String>,
    /// The password (at least 10 characters, and not easy to guess). Prefer standard input:
    /// arguments show in `ps`.
    #[arg(long)]
    password: Option<String>,
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub async fn run(db: &str, cmd: Users) -> anyhow::Result<ExitCode> {
    let store = super::open(db).await?;
    match cmd {
        Users::Create(c) => {
            let Ok(role) = c.role.parse::<Role>() else { bail!("--role {:?}: {}", c.role, Role::expected()) };
            if role == Role::Partner && c.partner.is_none() {
                bail!("--role partner needs --partner PARTNER_ID: a partner user sees only that partner's accounts");
            }
            let password = match c.password {
                Some(p) => p,
                None => read_password()?,
            };
            let new = kizuna_app::users::NewUser { email: c.email, name: c.name, role, team_id: c.team, partner_id: c.partner, password };
            match kizuna_app::users::create_user(store.as_ref(), "cli", new).await {
                Ok(row) => println!("created {} ({role})", row.email),
                Err(kizuna_app::users::UserError::Email(e)) => bail!("--email {e:?} is not an e-mail address"),
                Err(kizuna_app::users::UserError::Exists(e)) => {
                    bail!("a user with e-mail {e:?} already exists (use `kizuna users set-password` or the admin page)")
                }
                Err(e) => bail!("{e}"),
            }
        }
        Users::SetPassword { email } => {
            let email = email.trim().to_lowercase();
            let hash = hash_new_password(&read_password()?, &[&email]).map_err(|e| anyhow::anyhow!("{e}"))?;
            if !store.set_password(&email, &hash).await? {
                bail!("no user with e-mail {email:?}");
            }
            store.audit(AuditEntry { actor: "cli", action: "user.update", target: Some(&email), detail: serde_json::json!({ "password_reset": true }) }).await?;
            println!("password set for {email}");
        }
        Users::List => {
            for u in store.staff_users().await? {
                let status = u.deactivated_at.map(|t| format!("\tdeactivated {}", t.format("%Y-%m-%d %H:%M"))).unwrap_or_default();
                println!("{}\t{}\t{}\t{}{status}", u.email, u.role, u.partner_id.unwrap_or_default(), u.name);
            }
        }
        Users::Deactivate { email } => {
            let email = email.trim().to_lowercase();
            let Some(keys) = store.deactivate_user(&email, chrono::Utc::now()).await? else { bail!("no user with e-mail {email:?}") };
            store.audit(AuditEntry { actor: "cli", action: "user.deactivate", target: Some(&email), detail: serde_json::json!({ "keys_revoked": keys }) }).await?;
            println!("deactivated {email}: signed out everywhere, {keys} API key(s) revoked");
        }
        Users::Reactivate { email } => {
            let email = email.trim().to_lowercase();
            if !store.reactivate_user(&email).await? {
                bail!("no user with e-mail {email:?}");
            }
            store.audit(AuditEntry { actor: "cli", action: "user.reactivate", target: Some(&email), detail: serde_json::json!({}) }).await?;
            println!("reactivated {email} (keys revoked before stay revoked)");
        }
    }
    Ok(ExitCode::SUCCESS)
}
