//! Who is acting, and what they may do: a signed-in user, an API key, or the operator running
//! `kizuna` on the server. Every use case in [`crate::App`] checks its permission here.

use kizuna_domain::access::Permission;
use kizuna_domain::{Account, Role};
use kizuna_store::access::AuditEntry;
use kizuna_store::{Access, StoreError, Tx};

/// The one acting: what the audit log records, the role that decides what it may do and the
/// partner it is confined to.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    /// The user's e-mail, `key:<id>` for an API key, or `cli`: what the audit log records.
    pub id: String,
    pub name: String,
    pub role: Role,
    pub partner_id: Option<String>,
    /// An API key: it only reads, whatever role it stands for.
    pub via_key: bool,
}

/// Why an actor may not do something.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Denied {
    /// The role does not allow it.
    #[error("the {0} role may not do this")]
    Role(Role),
    /// The role allows it, but an API key only reads.
    #[error("an API key only reads: sign in to make changes")]
    KeyReadOnly,
}

impl Actor {
    /// Whoever runs `kizuna` on the server. They can open the database itself, so they may do
    /// everything; the audit log records them as `cli`.
    pub fn operator() -> Self {
        Actor { id: "cli".into(), name: "cli".into(), role: Role::Admin, partner_id: None, via_key: false }
    }

    /// The partner this actor is confined to, if any.
    pub fn scope(&self) -> Option<String> {
        self.role.scope(self.partner_id.as_deref())
    }

    /// What the role allows; an API key only reads (a partner-bound key included).
    pub fn can(&self, p: Permission) -> bool {
        let reads = matches!(p, Permission::ReadPortfolio | Permission::ReadAccounts | Permission::ReadAudit);
        self.role.can(p) && (reads || !self.via_key)
    }

    pub fn require(&self, p: Permission) -> Result<(), Denied> {
        if self.can(p) {
            Ok(())
        } else if self.via_key && self.role.can(p) {
            Err(Denied::KeyReadOnly)
        } else {
            Err(Denied::Role(self.role))
        }
    }

    /// Whether the account is within this actor's scope.
    pub fn sees(&self, account: &Account) -> bool {
        match self.scope() {
            Some(p) => account.partner_id.as_deref() == Some(p.as_str()),
            None => true,
        }
    }

    /// Records something this actor did that changed nothing stored (an export, a run whose
    /// writes are their own): an audit entry on its own.
    pub async fn record(&self, store: &dyn Access, action: &str, target: Option<&str>, detail: serde_json::Value) -> Result<(), StoreError> {
        store.audit(AuditEntry { actor: &self.id, action, target, detail }).await
    }

    /// Writes an audit entry by this actor, in the transaction of the change it records.
    pub async fn audit(&self, tx: &mut dyn Tx, action: &str, target: Option<&str>, detail: serde_json::Value) -> Result<(), StoreError> {
        tx.audit(AuditEntry { actor: &self.id, action, target, detail }).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role, via_key: bool) -> Actor {
        Actor { id: "a@example.com".into(), name: "A".into(), role, partner_id: Some("P1".into()), via_key }
    }

    #[test]
    fn keys_only_read_and_roles_decide_the_rest() {
        assert_eq!(actor(Role::Csm, false).require(Permission::WriteActivities), Ok(()));
        assert_eq!(actor(Role::Csm, true).require(Permission::WriteActivities), Err(Denied::KeyReadOnly));
        assert_eq!(actor(Role::Csm, true).require(Permission::ReadAccounts), Ok(()));
        assert_eq!(actor(Role::Viewer, false).require(Permission::WriteActivities), Err(Denied::Role(Role::Viewer)));
        assert_eq!(actor(Role::Csm, false).require(Permission::Admin), Err(Denied::Role(Role::Csm)));
        assert_eq!(Actor::operator().require(Permission::Admin), Ok(()));
    }

    #[test]
    fn a_partner_sees_only_its_accounts() {
        let mut account = Account {
            account_id: "A1".into(),
            name: "A".into(),
            segment: None,
            touch_model: None,
            owner_email: None,
            partner_id: Some("P1".into()),
            lifecycle_stage: None,
            attributes: serde_json::json!({}),
            created_at: None,
            updated_at: chrono::Utc::now(),
            health_score: None,
            health_band: None,
            health_previous: None,
            mrr: 0.0,
        };
        assert!(actor(Role::Partner, false).sees(&account));
        assert!(actor(Role::Csm, false).sees(&account), "the partner id only confines partners");
        account.partner_id = Some("P2".into());
        assert!(!actor(Role::Partner, false).sees(&account));
        account.partner_id = None;
        assert!(!actor(Role::Partner, false).sees(&account));
    }
}
