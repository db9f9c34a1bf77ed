//! Signed, expiring links for people without an account (the customer's side of an onboarding
//! plan): `{id}.{last day as YYYYMMDD}.{signature}`, the signature an HMAC-SHA256 of the first
//! two parts, in URL-safe base64 without padding. The key is the server's own (kept in the
//! database by `kizuna_app::onboarding`). A link is read from the right, so an id may hold dots.

use base64::Engine;
use chrono::NaiveDate;
use hmac::Mac;

/// A longer token is not one this server made (ids are short); it is refused unread.
pub const MAX_TOKEN: usize = 200;

const DAY: &str = "%Y%m%d";

fn mac(key: &[u8], payload: &str) -> hmac::Hmac<sha2::Sha256> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    mac
}

/// The token of a link to `id` that opens until `last_day`, signed with `key`.
pub fn token(key: &[u8], id: &str, last_day: NaiveDate) -> String {
    let payload = format!("{id}.{}", last_day.format(DAY));
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac(key, &payload).finalize().into_bytes());
    format!("{payload}.{signature}")
}

/// The id and last day of a token signed with `key`; `None` for anything else (tampered,
/// signed with another key, malformed, too long). Whether the day has passed is the caller's
/// question: an expired link is answered differently from a forged one.
pub fn read<'t>(key: &[u8], token: &'t str) -> Option<(&'t str, NaiveDate)> {
    if token.len() > MAX_TOKEN {
        return None;
    }
    let mut parts = token.rsplitn(3, '.');
    let (signature, day, id) = (parts.next()?, parts.next()?, parts.next()?);
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature).ok()?;
    // The comparison is constant-time (`verify_slice`), so timing tells nothing of the key.
    mac(key, &token[..id.len() + 1 + day.len()]).verify_slice(&signature).ok()?;
    let last_day = NaiveDate::parse_from_str(day, DAY).ok()?;
    Some((id, last_day))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_link_reads_back_only_with_its_key() {
        let t = token(b"k1", "plan-00ab", d("2026-12-31"));
        assert!(t.starts_with("plan-00ab.20261231."), "{t}");
        // 32 bytes of HMAC in unpadded base64 are 43 characters.
        assert_eq!(t.rsplit('.').next().unwrap().len(), 43);
        assert_eq!(read(b"k1", &t), Some(("plan-00ab", d("2026-12-31"))));
        assert_eq!(read(b"k2", &t), None);
    }

    #[test]
    fn a_changed_day_or_id_is_refused() {
        let t = token(b"k", "plan-1", d("2026-12-31"));
        assert_eq!(read(b"k", &t.replace("20261231", "20271231")), None);
        assert_eq!(read(b"k", &t.replace("plan-1", "plan-2")), None);
        assert_eq!(read(b"k", "plan-1.20261231"), None);
        assert_eq!(read(b"k", ""), None);
    }

    #[test]
    fn an_id_with_dots_reads_back_whole() {
        let t = token(b"k", "a.b.c", d("2027-01-05"));
        assert_eq!(read(b"k", &t), Some(("a.b.c", d("2027-01-05"))));
    }

    #[test]
    fn a_token_past_the_limit_is_refused_even_when_signed() {
        let t = token(b"k", &"x".repeat(MAX_TOKEN), d("2027-01-05"));
        assert_eq!(read(b"k", &t), None);
    }
}
