//! Staff users and their API keys: creating, changing, deactivating users; creating, listing
//! and revoking keys. The CLI (as the operator) and the admin pages (as an admin) call these
//! same functions; each writes its audit entry. Who may call them is checked in [`crate::App`].

use crate::access::Actor;
use crate::AppError;
use kizuna_domain::access::{hash_new_password, new_key, KeyKind, PasswordError};
use kizuna_domain::{Role, StaffRow};
use kizuna_store::{ApiKey, UnitOfWork};
use serde_json::json;

/// A user to create, as typed by an admin (e-mail as given; it is trimmed and lower-cased).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub team_id: Option<String>,
    /// Kept only for the partner role, which needs it.
    pub partner_id: Option<String>,
    pub password: String,
}

/// A change to a user: a new role (and partner), a new password, or both.
#[derive(Debug, Clone)]
pub struct UserChange {
    pub email: String,
    /// With the partner it is confined to (needed for the partner role, dropped for others).
    pub role: Option<(Role, Option<String>)>,
    pub password: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0:?} is not an e-mail address")]
    Email(String),
    #[error("the partner role needs a partner id: a partner user sees only that partner's accounts")]
    PartnerNeeded,
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("a user with e-mail {0:?} already exists")]
    Exists(String),
    #[error("no user with e-mail {0:?}")]
    NoUser(String),
    #[error("you cannot take the admin role from yourself: another admin must")]
    SelfDemote,
    #[error("you cannot deactivate yourself: another admin must")]
    SelfDeactivate,
}

fn normal_email(e: &str) -> String {
    e.trim().to_lowercase()
}

/// The partner kept for `role`: required for partners, dropped for everyone else.
fn partner_for(role: Role, partner_id: Option<String>) -> Result<Option<String>, UserError> {
    match role {
        Role::Partner => Ok(Some(partner_id.filter(|p| !p.trim().is_empty()).ok_or(UserError::PartnerNeeded)?)),
        _ => Ok(None),
    }
}

/// Checks and creates the user, and records `actor` doing it in the audit log.
pub async fn create_user(store: &dyn UnitOfWork, actor: &Actor, u: NewUser) -> Result<StaffRow, AppError> {
    let email = normal_email(&u.email);
    if !email.contains('@') || email.len() > 254 {
        return Err(UserError::Email(u.email).into());
    }
    let partner_id = partner_for(u.role, u.partner_id)?;
    let hash = hash_new_password(&u.password, &[&email, u.name.as_deref().unwrap_or("")]).map_err(UserError::from)?;
    let row = StaffRow { name: u.name.unwrap_or_else(|| email.clone()), email: email.clone(), role: u.role, team_id: u.team_id, partner_id };
    let mut tx = store.begin().await?;
    if !tx.create_user(&row, &hash).await? {
        return Err(UserError::Exists(email).into());
    }
    actor.audit(&mut *tx, "user.create", Some(&email), json!({ "role": row.role.as_str(), "partner_id": row.partner_id })).await?;
    tx.commit().await?;
    Ok(row)
}

/// Changes the user's role (which signs them out) and/or password, and audits it. An admin
/// cannot take the admin role from themselves.
pub async fn change_user(store: &dyn UnitOfWork, actor: &Actor, c: UserChange) -> Result<String, AppError> {
    let email = normal_email(&c.email);
    let mut tx = store.begin().await?;
    let no_user = || AppError::from(UserError::NoUser(email.clone()));
    let mut detail = serde_json::Map::new();
    if let Some((role, partner)) = c.role {
        if email == actor.id && role != Role::Admin {
            return Err(UserError::SelfDemote.into());
        }
        let partner = partner_for(role, partner)?;
        if !tx.set_role(&email, role, partner.as_deref()).await? {
            return Err(no_user());
        }
        detail.insert("role".into(), json!(role.as_str()));
        detail.insert("partner_id".into(), json!(partner));
    }
    if let Some(p) = c.password.filter(|p| !p.is_empty()) {
        let hash = hash_new_password(&p, &[&email]).map_err(UserError::from)?;
        if !tx.set_password(&email, &hash).await? {
            return Err(no_user());
        }
        detail.insert("password_reset".into(), json!(true));
    } else if detail.contains_key("role") {
        detail.insert("password_reset".into(), json!(false));
    }
    actor.audit(&mut *tx, "user.update", Some(&email), serde_json::Value::Object(detail)).await?;
    tx.commit().await?;
    Ok(email)
}

/// Deactivates the user (they cannot sign in, their sessions end, the keys they created are
/// revoked; returns how many) or lets them sign in again (`active`; revoked keys stay revoked).
pub async fn set_active(store: &dyn UnitOfWork, actor: &Actor, email: &str, active: bool) -> Result<Option<u64>, AppError> {
    let email = normal_email(email);
    if email == actor.id {
        return Err(UserError::SelfDeactivate.into());
    }
    let no_user = || AppError::from(UserError::NoUser(email.clone()));
    let mut tx = store.begin().await?;
    let keys = if active {
        if !tx.reactivate_user(&email).await? {
            return Err(no_user());
        }
        actor.audit(&mut *tx, "user.reactivate", Some(&email), json!({})).await?;
        None
    } else {
        let keys = tx.deactivate_user(&email, chrono::Utc::now()).await?.ok_or_else(no_user)?;
        actor.audit(&mut *tx, "user.deactivate", Some(&email), json!({ "keys_revoked": keys })).await?;
        Some(keys)
    };
    tx.commit().await?;
    Ok(keys)
}

/// Creates an API key by `actor` and audits it; the secret is returned this once and only its
/// hash is stored.
pub async fn create_key(store: &dyn UnitOfWork, actor: &Actor, kind: KeyKind, label: Option<String>, partner_id: Option<String>) -> Result<(String, ApiKey), AppError> {
    let k = new_key(kind);
    let key = ApiKey {
        key_id: k.key_id,
        kind: kind.as_str().into(),
        label: label.unwrap_or_else(|| format!("{} key", kind.as_str())),
        partner_id,
        created_by: actor.id.clone(),
        created_at: chrono::Utc::now(),
        revoked_at: None,
        last_used_at: None,
    };
    let mut tx = store.begin().await?;
    tx.create_api_key(&key, &k.hash).await?;
    actor.audit(&mut *tx, "key.create", Some(&key.key_id), json!({ "kind": key.kind, "partner_id": key.partner_id })).await?;
    tx.commit().await?;
    Ok((k.secret, key))
}

/// Revokes an active key and audits it.
pub async fn revoke_key(store: &dyn UnitOfWork, actor: &Actor, key_id: &str) -> Result<(), AppError> {
    let mut tx = store.begin().await?;
    if !tx.revoke_api_key(key_id, chrono::Utc::now()).await? {
        return Err(AppError::NoKey(key_id.to_string()));
    }
    actor.audit(&mut *tx, "key.revoke", Some(key_id), json!({})).await?;
    tx.commit().await?;
    Ok(())
}
