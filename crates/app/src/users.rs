//! Staff users: creating one, with the checks the CLI and the admin page share (e-mail, role
//! and partner, the password policy, one user per e-mail) and the audit entry. Callers decide
//! who may do it (admins on the page; whoever runs the CLI on the server).

use kizuna_domain::access::{hash_new_password, PasswordError};
use kizuna_domain::{Role, StaffRow};
use kizuna_store::access::AuditEntry;
use kizuna_store::{Store, StoreError};

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
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks and creates the user, and records `actor` doing it in the audit log.
pub async fn create_user(store: &dyn Store, actor: &str, u: NewUser) -> Result<StaffRow, UserError> {
    let email = u.email.trim().to_lowercase();
    if !email.contains('@') || email.len() > 254 {
        return Err(UserError::Email(u.email));
    }
    let partner_id = match u.role {
        Role::Partner => Some(u.partner_id.filter(|p| !p.trim().is_empty()).ok_or(UserError::PartnerNeeded)?),
        _ => None,
    };
    let hash = hash_new_password(&u.password, &[&email, u.name.as_deref().unwrap_or("")])?;
    let row = StaffRow { name: u.name.unwrap_or_else(|| email.clone()), email: email.clone(), role: u.role, team_id: u.team_id, partner_id };
    if !store.create_user(&row, &hash).await? {
        return Err(UserError::Exists(email));
    }
    let detail = serde_json::json!({ "role": row.role.as_str(), "partner_id": row.partner_id });
    store.audit(AuditEntry { actor, action: "user.create", target: Some(&email), detail }).await?;
    Ok(row)
}
