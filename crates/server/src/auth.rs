//! Who is asking. Staff sign in with a password (axum-login, sessions kept in our own store
//! through tower-sessions); programs send an API key. Both become a [`Principal`], whose role
//! decides what it may do and whose scope (a partner's) decides which accounts it may see.

use crate::{ApiError, AppState};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum_login::{AuthManagerLayer, AuthManagerLayerBuilder, AuthUser, AuthnBackend};
use base64::Engine;
use kizuna_domain::access::{hash_key, verify_password};
use kizuna_domain::Role;
use kizuna_store::{Access, ApiKey, StoreError};
use std::sync::Arc;
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::{session_store, Expiry, SessionManagerLayer, SessionStore};

/// A signed-in staff user. The session is bound to the password hash, the role and the partner:
/// changing the password or the user's privileges ends every session of theirs (they sign in
/// again, with a new session id), and a deactivated user is no user at all.
#[derive(Clone)]
pub struct User {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub partner_id: Option<String>,
    hash: String,
    session_key: String,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User").field("email", &self.email).field("role", &self.role).finish_non_exhaustive()
    }
}

impl AuthUser for User {
    type Id = String;
    fn id(&self) -> String {
        self.email.clone()
    }
    fn session_auth_hash(&self) -> &[u8] {
        self.session_key.as_bytes()
    }
}

pub struct Credentials {
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("email", &self.email).field("password", &kizuna_store::REDACTED).finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password check failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("password check failed: {0}")]
    Queue(#[from] tokio::sync::AcquireError),
}

#[derive(Clone)]
pub struct Backend {
    store: Arc<dyn Access>,
}

impl Backend {
    async fn user(&self, email: &str) -> Result<Option<User>, AuthError> {
        let Some((u, Some(hash))) = self.store.user_with_hash(email).await? else { return Ok(None) };
        if u.deactivated_at.is_some() {
            return Ok(None);
        }
        // A role the code does not know cannot sign in (the database was edited by hand).
        let Ok(role) = u.role.parse::<Role>() else { return Ok(None) };
        let session_key = format!("{hash}\n{role}\n{}", u.partner_id.as_deref().unwrap_or(""));
        Ok(Some(User { email: u.email, name: u.name, role, partner_id: u.partner_id, hash, session_key }))
    }
}

/// Verifies against this when the user does not exist, so a wrong e-mail takes as long as a
/// wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Jd4b3Ag3k8hSKp5d3JQSmJTbNSfL8cnvEUbXGrNEmOY";

/// Password checks running at once: one per core, at least two.
static VERIFYING: std::sync::LazyLock<tokio::sync::Semaphore> =
    std::sync::LazyLock::new(|| tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get().max(2))));

impl AuthnBackend for Backend {
    type User = User;
    type Credentials = Credentials;
    type Error = AuthError;

    async fn authenticate(&self, c: Credentials) -> Result<Option<User>, AuthError> {
        let user = self.user(&c.email).await?;
        let hash = user.as_ref().map(|u| u.hash.clone()).unwrap_or_else(|| DUMMY_HASH.to_string());
        // Argon2 takes tens of milliseconds of CPU and 19 MiB: keep it off the async workers,
        // and a few at a time, so a flood of sign-ins waits in line instead of taking the
        // machine's memory (each waiting attempt holds only its request).
        let _turn = VERIFYING.acquire().await?;
        let ok = tokio::task::spawn_blocking(move || verify_password(&c.password, &hash)).await?;
        Ok(user.filter(|_| ok))
    }

    async fn get_user(&self, email: &String) -> Result<Option<User>, AuthError> {
        self.user(email).await
    }
}

pub type AuthSession = axum_login::AuthSession<Backend>;

/// Sessions live in Kizuna's own database (either engine), as JSON records.
#[derive(Clone)]
pub struct DbSessions(pub Arc<dyn Access>);

impl std::fmt::Debug for DbSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbSessions")
    }
}

fn backend_error(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

#[async_trait::async_trait]
impl SessionStore for DbSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let data = serde_json::to_string(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
            let id = record.id.to_string();
            if self.0.session_insert(&id, &data, record.expiry_date.unix_timestamp()).await.map_err(backend_error)? {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = serde_json::to_string(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        self.0.session_save(&record.id.to_string(), &data, record.expiry_date.unix_timestamp()).await.map_err(backend_error)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match self.0.session_load(&id.to_string(), now).await.map_err(backend_error)? {
            Some(data) => serde_json::from_str(&data).map(Some).map_err(|e| session_store::Error::Decode(e.to_string())),
            None => Ok(None),
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.0.session_delete(&id.to_string()).await.map_err(backend_error)
    }
}

/// Session cookie `kizuna_session`: HttpOnly, SameSite=Lax, Secure when served over HTTPS
/// (`secure`); a session ends after 12 hours without sign-in activity.
pub fn layer(store: Arc<dyn Access>, secure: bool) -> AuthManagerLayer<Backend, DbSessions> {
    let sessions = SessionManagerLayer::new(DbSessions(store.clone()))
        .with_name("kizuna_session")
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(12)));
    AuthManagerLayerBuilder::new(Backend { store }, sessions).build()
}

/// The signed-in user or the API key behind a request: the application layer's actor.
pub type Principal = kizuna_app::Actor;

impl From<User> for Principal {
    fn from(u: User) -> Self {
        Principal { id: u.email, name: u.name, role: u.role, partner_id: u.partner_id, via_key: false }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if let Some(h) = parts.headers.get(header::AUTHORIZATION) {
            return key_principal(h, state).await.map_err(IntoResponse::into_response);
        }
        let session = parts.extensions.get::<AuthSession>().cloned();
        match session.and_then(|s| s.user) {
            Some(u) => Ok(u.into()),
            None if parts.uri.path().starts_with("/api/") => Err(ApiError::Unauthorized(
                "sign in, or send an API key as Authorization: Bearer KEY (kizuna keys create --kind read)".into(),
            )
            .into_response()),
            None => {
                let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
                Err(Redirect::to(&format!("/login?next={}", crate::views::urlencode(next))).into_response())
            }
        }
    }
}

/// The key from `Authorization: Bearer KEY`, or Basic with the key as user name (as Segment
/// clients send it).
pub fn key_from_header(h: &HeaderValue) -> Option<String> {
    let v = h.to_str().ok()?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" => Some(rest.trim().to_string()),
        "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
            let text = String::from_utf8(decoded).ok()?;
            Some(text.split_once(':').map(|(u, _)| u).unwrap_or(&text).to_string())
        }
        _ => None,
    }
}

/// The write key of a usage request: the Basic user name, as Segment clients send it, or a
/// `writeKey` in the body.
pub async fn write_key(headers: &axum::http::HeaderMap, body_key: Option<String>, state: &AppState) -> Result<ApiKey, ApiError> {
    let secret = headers.get(header::AUTHORIZATION).and_then(key_from_header).or(body_key);
    let unknown = "send a write key as the Basic user name (kizuna keys create --kind write)";
    stored_key(state, secret, "write", unknown, "usage events need a write key").await
}

/// The stored key for `secret` if it is known, not revoked and of `kind`. Its use is recorded
/// at most once a minute, not on every request.
async fn stored_key(state: &AppState, secret: Option<String>, kind: &str, unknown: &str, wrong_kind: &str) -> Result<ApiKey, ApiError> {
    let bad = || ApiError::Unauthorized(unknown.to_string());
    let secret = secret.ok_or_else(bad)?;
    let key = state.store.api_key_by_hash(&hash_key(&secret)).await?.filter(|k| k.revoked_at.is_none()).ok_or_else(bad)?;
    if key.kind != kind {
        return Err(ApiError::Forbidden(format!("key {} is a {} key: {wrong_kind}", key.key_id, key.kind)));
    }
    let now = chrono::Utc::now();
    if key.last_used_at.is_none_or(|t| now - t > chrono::Duration::seconds(60)) {
        // Only bookkeeping: a database that cannot be written now still answers reads by key.
        if let Err(e) = state.store.touch_api_key(&key.key_id, now).await {
            tracing::warn!("recording the use of key {}: {e}", key.key_id);
        }
    }
    Ok(key)
}

async fn key_principal(h: &HeaderValue, state: &AppState) -> Result<Principal, ApiError> {
    let unknown = "the API key is not valid (unknown, revoked or malformed)";
    let key = stored_key(state, key_from_header(h), "read", unknown, "it may only send usage events").await?;
    let role = if key.partner_id.is_some() { Role::Partner } else { Role::Viewer };
    Ok(Principal { id: format!("key:{}", key.key_id), name: key.label, role, partner_id: key.partner_id, via_key: true })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_bearer_and_basic() {
        let h = |s: &str| HeaderValue::from_str(s).unwrap();
        assert_eq!(key_from_header(&h("Bearer kz_read_x")).as_deref(), Some("kz_read_x"));
        // base64("kz_write_y:") — Segment sends the write key as user name with an empty password.
        assert_eq!(key_from_header(&h("Basic a3pfd3JpdGVfeTo=")).as_deref(), Some("kz_write_y"));
        assert_eq!(key_from_header(&h("Digest abc")), None);
        assert_eq!(key_from_header(&h("Basic !!!")), None);
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = Credentials { email: "sato@example.jp".into(), password: "correct horse battery".into() };
        let shown = format!("{c:?}");
        assert!(shown.contains("sato@example.jp") && !shown.contains("correct horse") && shown.contains("***"), "{shown}");
    }

    #[test]
    fn dummy_hash_is_well_formed() {
        assert!(argon2::PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_password("anything", DUMMY_HASH));
    }
}
