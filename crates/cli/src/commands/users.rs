//! `kizuna users ...`: staff users who sign in to the web application.

use anyhow::{bail, Context};
use clap::{Args as ClapArgs, Subcommand};
use kizuna_app::users::{NewUser, UserChange, UserError};
use kizuna_app::{Actor, App, AppError};
use kizuna_domain::Role;
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
    let operator = Actor::operator();
    let app = App::new(store.as_ref(), &operator);
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
            let new = NewUser { email: c.email, name: c.name, role, team_id: c.team, partner_id: c.partner, password };
            match app.create_user(new).await {
                Ok(row) => println!("created {} ({role})", row.email),
                Err(AppError::User(UserError::Email(e))) => bail!("--email {e:?} is not an e-mail address"),
                Err(AppError::User(UserError::Exists(e))) => {
                    bail!("a user with e-mail {e:?} already exists (use `kizuna users set-password` or the admin page)")
                }
                Err(e) => bail!("{e}"),
            }
        }
        Users::SetPassword { email } => {
            let change = UserChange { email, role: None, password: Some(read_password()?) };
            let email = app.change_user(change).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("password set for {email}");
        }
        Users::List => {
            for u in app.users().await? {
                let status = u.deactivated_at.map(|t| format!("\tdeactivated {}", t.format("%Y-%m-%d %H:%M"))).unwrap_or_default();
                println!("{}\t{}\t{}\t{}{status}", u.email, u.role, u.partner_id.unwrap_or_default(), u.name);
            }
        }
        Users::Deactivate { email } => {
            let keys = app.set_user_active(&email, false).await?.unwrap_or_default();
            println!("deactivated {}: signed out everywhere, {keys} API key(s) revoked", email.trim().to_lowercase());
        }
        Users::Reactivate { email } => {
            app.set_user_active(&email, true).await?;
            println!("reactivated {} (keys revoked before stay revoked)", email.trim().to_lowercase());
        }
    }
    Ok(ExitCode::SUCCESS)
}
