//! Sign-in, sessions, API keys and the audit log: the [`Access`] part of the store, written
//! once for both engines by `access_impl!`.

use crate::{Result, StaffUser};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// An API key as stored (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct ApiKey {
    pub key_id: String,
    /// `read` or `write`.
    pub kind: String,
    pub label: String,
    /// A key bound to a partner sees only that partner's accounts.
    pub partner_id: Option<String>,
    pub created_by: String,
    #[serde(serialize_with = "kizuna_domain::time::serde_local")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "kizuna_domain::time::serde_local_opt")]
    pub revoked_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "kizuna_domain::time::serde_local_opt")]
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A staff user with the password hash sign-in checks.
#[derive(sqlx::FromRow)]
pub(crate) struct UserWithHash {
    #[sqlx(flatten)]
    pub user: StaffUser,
    pub password_hash: Option<String>,
}

/// One audit entry to write: who did what to which target.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    pub id: i64,
    #[serde(serialize_with = "kizuna_domain::time::serde_local")]
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: serde_json::Value,
}

#[async_trait]
pub trait Access: Send + Sync {
    /// The user and its password hash (None when no password has been set).
    async fn user_with_hash(&self, email: &str) -> Result<Option<(StaffUser, Option<String>)>>;
    /// Every staff user, by e-mail.
    async fn staff_users(&self) -> Result<Vec<StaffUser>>;

    /// Insert a session; false when the id is taken (the caller draws another).
    async fn session_insert(&self, id: &str, data: &str, expires_at: i64) -> Result<bool>;
    async fn session_save(&self, id: &str, data: &str, expires_at: i64) -> Result<()>;
    /// The session's data, unless it expired before `now` (unix seconds).
    async fn session_load(&self, id: &str, now: i64) -> Result<Option<String>>;
    async fn session_delete(&self, id: &str) -> Result<()>;
    async fn sessions_delete_expired(&self, now: i64) -> Result<u64>;

    /// The key with this secret hash, revoked or not.
    async fn api_key_by_hash(&self, secret_hash: &str) -> Result<Option<ApiKey>>;
    async fn api_keys(&self) -> Result<Vec<ApiKey>>;
    async fn touch_api_key(&self, key_id: &str, at: DateTime<Utc>) -> Result<()>;

    async fn audit(&self, entry: AuditEntry<'_>) -> Result<()>;
    /// Newest first: (total, entries of the page). `actor` filters when given.
    async fn audit_log(&self, actor: Option<&str>, page: u32, per_page: u32) -> Result<(u64, Vec<AuditRecord>)>;
}

/// An audit entry as stored: its detail is JSON text.
#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    id: i64,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    target: Option<String>,
    detail: String,
}

impl From<AuditRow> for AuditRecord {
    fn from(r: AuditRow) -> Self {
        let detail = serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::String(r.detail));
        AuditRecord { id: r.id, at: r.at, actor: r.actor, action: r.action, target: r.target, detail }
    }
}

/// One audit entry: at, actor, action, target, detail (JSON text).
pub(crate) const AUDIT_INSERT: &str = "INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)";

macro_rules! access_impl {
    ($Store:ident, $Db:ty) => {
        #[async_trait::async_trait]
        impl $crate::access::Access for $Store {
            async fn staff_users(&self) -> $crate::Result<Vec<$crate::StaffUser>> {
                Ok(sqlx::query_as("SELECT email, name, role, team_id, partner_id, deactivated_at FROM staff_users ORDER BY email")
                    .fetch_all(self.pool())
                    .await?)
            }

            async fn user_with_hash(&self, email: &str) -> $crate::Result<Option<($crate::StaffUser, Option<String>)>> {
                let row: Option<$crate::access::UserWithHash> = sqlx::query_as(
                    "SELECT email, name, role, team_id, partner_id, deactivated_at, password_hash FROM staff_users WHERE email = $1",
                )
                .bind(email.trim().to_lowercase())
                .fetch_optional(self.pool())
                .await?;
                Ok(row.map(|r| (r.user, r.password_hash)))
            }






            async fn session_insert(&self, id: &str, data: &str, expires_at: i64) -> $crate::Result<bool> {
                let n = sqlx::query("INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING")
                    .bind(id)
                    .bind(data)
                    .bind(expires_at)
                    .execute(self.pool())
                    .await?
                    .rows_affected();
                Ok(n == 1)
            }

            async fn session_save(&self, id: &str, data: &str, expires_at: i64) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
                )
                .bind(id)
                .bind(data)
                .bind(expires_at)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn session_load(&self, id: &str, now: i64) -> $crate::Result<Option<String>> {
                Ok(sqlx::query_scalar("SELECT data FROM sessions WHERE id = $1 AND expires_at > $2")
                    .bind(id)
                    .bind(now)
                    .fetch_optional(self.pool())
                    .await?)
            }

            async fn session_delete(&self, id: &str) -> $crate::Result<()> {
                sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(self.pool()).await?;
                Ok(())
            }

            async fn sessions_delete_expired(&self, now: i64) -> $crate::Result<u64> {
                Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(self.pool()).await?.rows_affected())
            }


            async fn api_key_by_hash(&self, secret_hash: &str) -> $crate::Result<Option<$crate::access::ApiKey>> {
                let sql = format!("{KEY_COLUMNS} WHERE secret_hash = $1");
                Ok(sqlx::query_as(&sql).bind(secret_hash).fetch_optional(self.pool()).await?)
            }

            async fn api_keys(&self) -> $crate::Result<Vec<$crate::access::ApiKey>> {
                let sql = format!("{KEY_COLUMNS} ORDER BY created_at DESC, key_id");
                Ok(sqlx::query_as(&sql).fetch_all(self.pool()).await?)
            }


            async fn touch_api_key(&self, key_id: &str, at: chrono::DateTime<chrono::Utc>) -> $crate::Result<()> {
                sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE key_id = $2").bind(at).bind(key_id).execute(self.pool()).await?;
                Ok(())
            }

            async fn audit(&self, e: $crate::access::AuditEntry<'_>) -> $crate::Result<()> {
                sqlx::query($crate::access::AUDIT_INSERT)
                    .bind(chrono::Utc::now())
                    .bind(e.actor)
                    .bind(e.action)
                    .bind(e.target)
                    .bind(e.detail.to_string())
                    .execute(self.pool())
                    .await?;
                Ok(())
            }

            async fn audit_log(&self, actor: Option<&str>, page: u32, per_page: u32) -> $crate::Result<(u64, Vec<$crate::access::AuditRecord>)> {
                let per_page = per_page.clamp(1, 1000) as i64;
                let offset = (page.max(1) as i64 - 1) * per_page;
                let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE ($1 IS NULL OR actor = $1)")
                    .bind(actor)
                    .fetch_one(self.pool())
                    .await?;
                let rows: Vec<$crate::access::AuditRow> = sqlx::query_as(
                    "SELECT id, at, actor, action, target, detail FROM audit_log WHERE ($1 IS NULL OR actor = $1) \
                     ORDER BY id DESC LIMIT $2 OFFSET $3",
                )
                .bind(actor)
                .bind(per_page)
                .bind(offset)
                .fetch_all(self.pool())
                .await?;
                let entries = rows.into_iter().map($crate::access::AuditRecord::from).collect();
                Ok((total as u64, entries))
            }
        }

        const KEY_COLUMNS: &str =
            "SELECT key_id, kind, label, partner_id, created_by, created_at, revoked_at, last_used_at FROM api_keys";
    };
}

pub(crate) use access_impl;
