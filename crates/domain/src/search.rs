//! Search text as people type it. Japanese names come in full-width and half-width forms
//! (ＡＢＣ and ABC, ｶﾌﾞｼｷ and カブシキ) and with or without spaces (株式会社 山田 and
//! 株式会社山田); both the stored key and the query are folded the same way (NFKC, lower case,
//! no white space), so any of them finds the others.

use unicode_normalization::UnicodeNormalization;

/// Separates the id from the name in a key, so a query never matches across the two.
const SEPARATOR: char = '\u{1}';

/// Text folded for matching: NFKC, lower case, white space removed.
pub fn fold(text: &str) -> String {
    text.nfkc().flat_map(char::to_lowercase).filter(|c| !c.is_whitespace() && *c != SEPARATOR).collect()
}

/// The stored search key of an account: its id and its name, folded.
pub fn account_key(account_id: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{}{SEPARATOR}{}", fold(account_id), fold(name)),
        None => fold(account_id),
    }
}

/// A search as the list runs it: the folded text, or nothing when it folds to nothing.
pub fn query(text: &str) -> Option<String> {
    Some(fold(text)).filter(|q| !q.is_empty())
}

/// An index of three-character sequences serves searches of three characters or more; a
/// shorter one reads every key.
pub fn uses_index(folded: &str) -> bool {
    folded.chars().count() >= 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_half_width_and_spaces_fold_alike() {
        assert_eq!(fold("ＡＢＣ　株式会社"), "abc株式会社");
        assert_eq!(fold("ｶﾌﾞｼｷｶﾞｲｼｬ"), "カブシキガイシャ");
        assert_eq!(fold("株式会社 山田 商事"), "株式会社山田商事");
        assert_eq!(fold("㈱山田"), "(株)山田");
        assert_eq!(fold("Ｔｏｋｙｏ　Ｄｅｓｉｇｎ"), "tokyodesign");
    }

    #[test]
    fn the_key_keeps_id_and_name_apart() {
        assert_eq!(account_key("ACME-1", Some("Acme Inc")), "acme-1\u{1}acmeinc");
        assert_eq!(account_key("ACME-1", None), "acme-1");
        // A query cannot carry the separator, so "1a" matches neither the id nor the name.
        let key = account_key("ACME-1", Some("Acme"));
        assert!(!key.contains(&query("1\u{1}a").unwrap()));
        assert!(!key.contains("1a"));
    }

    #[test]
    fn queries_fold_like_keys() {
        assert_eq!(query("  ｱｸﾒ  "), Some("アクメ".into()));
        assert_eq!(query(" \u{3000} "), None);
        assert!(uses_index("山田商"));
        assert!(!uses_index("山田"));
    }
}
