//! Who may do what (SPEC §10), and the secrets that prove who someone is: Argon2 password hashes
//! and API keys. Pure computation; the store keeps only hashes.

use crate::model::Role;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// What a request may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Portfolio-wide figures: dashboard, reports, planning.
    ReadPortfolio,
    /// Accounts (a partner only its own).
    ReadAccounts,
    /// Add notes and log meetings on accounts it can read.
    WriteActivities,
    /// Save planning scenarios.
    EditPlans,
    /// Edit CTA types, reasons, playbooks and signal thresholds (CS Ops).
    EditPlaybooks,
    /// Read the audit log.
    ReadAudit,
    /// Manage users and API keys.
    Admin,
}

impl Role {
    pub fn can(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::CsOps => p != Admin,
            Role::Manager => matches!(p, ReadPortfolio | ReadAccounts | WriteActivities | EditPlans),
            Role::Csm => matches!(p, ReadPortfolio | ReadAccounts | WriteActivities),
            Role::Viewer => matches!(p, ReadPortfolio | ReadAccounts),
            Role::Partner => matches!(p, ReadAccounts | WriteActivities),
        }
    }

    /// The accounts this role is confined to: a partner sees only its partner's accounts
    /// (none at all when it has no partner).
    pub fn scope(self, partner_id: Option<&str>) -> Option<String> {
        (self == Role::Partner).then(|| partner_id.unwrap_or("").to_string())
    }
}

/// Passwords shorter than this are refused.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// The least zxcvbn score (0-4) a new password needs: 3 is "safely unguessable: moderate
/// protection from an offline slow-hash scenario" (10^10 guesses), which Argon2 hashes are.
pub const MIN_PASSWORD_SCORE: u8 = 3;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PasswordError {
    #[error("password is {0} characters long; it must have at least {MIN_PASSWORD_CHARS}")]
    TooShort(usize),
    #[error("password is empty or only spaces")]
    Blank,
    #[error("password is too easy to guess (strength {0} of 4, at least {MIN_PASSWORD_SCORE} is needed): use a longer phrase of unrelated words, not a name, e-mail address, date or common word")]
    Weak(u8),
    #[error("could not hash the password: {0}")]
    Hash(String),
}

/// The rules for every password: not blank, at least [`MIN_PASSWORD_CHARS`] characters.
fn check_length(password: &str) -> Result<(), PasswordError> {
    if password.trim().is_empty() {
        return Err(PasswordError::Blank);
    }
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort(n));
    }
    Ok(())
}

/// The policy for a password a person chooses: [`check_length`], and hard to guess by a
/// strength estimator (zxcvbn) that also knows the user's own e-mail and name (`user_inputs`).
pub fn check_new_password(password: &str, user_inputs: &[&str]) -> Result<(), PasswordError> {
    check_length(password)?;
    // zxcvbn's matching is quadratic in the length; past 100 characters a password is long enough.
    let sample: String = password.chars().take(100).collect();
    let words = user_words(user_inputs);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let score = u8::from(zxcvbn::zxcvbn(&sample, &words).score());
    if score < MIN_PASSWORD_SCORE {
        return Err(PasswordError::Weak(score));
    }
    Ok(())
}

/// What a guesser knows about the user: each input, an e-mail's local part, and their pieces.
fn user_words(inputs: &[&str]) -> Vec<String> {
    let mut words = Vec::new();
    for input in inputs.iter().map(|i| i.trim().to_lowercase()).filter(|i| !i.is_empty()) {
        if let Some((local, _)) = input.split_once('@') {
            words.push(local.to_string());
        }
        words.extend(input.split(|c: char| !c.is_alphanumeric()).filter(|w| w.chars().count() >= 3).map(str::to_string));
        words.push(input);
    }
    words
}

/// [`check_new_password`], then [`hash_password`].
pub fn hash_new_password(password: &str, user_inputs: &[&str]) -> Result<String, PasswordError> {
    check_new_password(password, user_inputs)?;
    hash_password(password)
}

/// An Argon2id hash in PHC format, with a random salt. Checks only [`check_length`] (the demo's
/// known password passes); passwords people choose go through [`hash_new_password`].
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    check_length(password)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| PasswordError::Hash(e.to_string()))
}

/// True when `password` matches the stored PHC hash (false for a malformed hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// What an API key may do: read the REST API, or only send usage events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Read,
    Write,
}

impl KeyKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(KeyKind::Read),
            "write" => Some(KeyKind::Write),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Read => "read",
            KeyKind::Write => "write",
        }
    }
}

/// A new API key: the secret shown once, its public id and the hash that is stored.
#[derive(Clone)]
pub struct NewKey {
    pub key_id: String,
    pub secret: String,
    pub hash: String,
}

/// The secret never shows in `Debug` (a log line or a panic message).
impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey").field("key_id", &self.key_id).field("secret", &"***").finish_non_exhaustive()
    }
}

/// `kz_<kind>_<id>_<secret>`: 8 hex characters of id (shown in lists, used to revoke) and 256
/// bits of secret. Keys are random, so a fast hash (SHA-256) is enough to store them.
pub fn new_key(kind: KeyKind) -> NewKey {
    let mut bytes = [0u8; 36];
    rand::thread_rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let key_id = hex[..8].to_string();
    let secret = format!("kz_{}_{}_{}", kind.as_str(), key_id, &hex[8..]);
    let hash = hash_key(&secret);
    NewKey { key_id, secret, hash }
}

pub fn hash_key(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_permissions() {
        use Permission::*;
        assert!(Role::Admin.can(Admin));
        assert!(!Role::CsOps.can(Admin) && Role::CsOps.can(ReadAudit));
        assert!(Role::Manager.can(EditPlans) && !Role::Manager.can(ReadAudit));
        assert!(Role::Csm.can(WriteActivities) && !Role::Csm.can(EditPlans));
        assert!(Role::Viewer.can(ReadPortfolio) && !Role::Viewer.can(WriteActivities));
        assert!(!Role::Partner.can(ReadPortfolio) && Role::Partner.can(ReadAccounts));
        assert_eq!(Role::Partner.scope(Some("P-1")), Some("P-1".into()));
        assert_eq!(Role::Partner.scope(None), Some(String::new()));
        assert_eq!(Role::Csm.scope(Some("P-1")), None);
    }

    #[test]
    fn passwords_hash_and_verify() {
        assert_eq!(hash_password("short"), Err(PasswordError::TooShort(5)));
        assert_eq!(hash_password(&" ".repeat(10)), Err(PasswordError::Blank));
        assert_eq!(hash_password(""), Err(PasswordError::Blank));
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterz", &h));
        assert!(!verify_password("x", "not a hash"));
        assert_ne!(h, hash_password("correct horse battery").unwrap(), "salted");
    }

    #[test]
    fn keys_carry_their_kind_and_id() {
        let k = new_key(KeyKind::Read);
        assert!(k.secret.starts_with(&format!("kz_read_{}_", k.key_id)));
        assert_eq!(k.secret.len(), "kz_read_".len() + 8 + 1 + 64);
        assert_eq!(k.hash, hash_key(&k.secret));
        // SHA-256 of "abc", the FIPS 180-2 test vector.
        assert_eq!(hash_key("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn new_passwords_must_be_hard_to_guess() {
        assert_eq!(check_new_password(&" ".repeat(12), &[]), Err(PasswordError::Blank));
        assert_eq!(check_new_password("\t\t\t\t\t\t\t\t\t\t", &[]), Err(PasswordError::Blank));
        assert!(matches!(check_new_password("password123", &[]), Err(PasswordError::Weak(_))));
        assert!(matches!(check_new_password("aaaaaaaaaaaaaaa", &[]), Err(PasswordError::Weak(_))));
        assert!(matches!(check_new_password("qwertyuiop1", &[]), Err(PasswordError::Weak(_))));
        assert!(matches!(check_new_password("sato.kizuna2024", &["sato.kizuna2024@example.jp"]), Err(PasswordError::Weak(_))), "the user's own e-mail");
        assert_eq!(check_new_password("short", &[]), Err(PasswordError::TooShort(5)));
        assert_eq!(check_new_password("correct horse battery", &[]), Ok(()));
        assert_eq!(check_new_password("plum-lantern-gravel-42", &[]), Ok(()));
        assert_eq!(check_new_password("さくらの花が咲く春の朝に", &[]), Ok(()), "Japanese passphrases");
        assert!(check_new_password(&"Zq8#kP2!vL".repeat(1000), &[]).is_ok(), "long input stays quick");
        assert!(PasswordError::Weak(1).to_string().contains("strength 1 of 4"));
    }

    #[test]
    fn debug_hides_the_key_secret() {
        let k = new_key(KeyKind::Read);
        let shown = format!("{k:?}");
        assert!(!shown.contains(&k.secret) && !shown.contains(&k.hash) && shown.contains(&k.key_id), "{shown}");
    }
}
