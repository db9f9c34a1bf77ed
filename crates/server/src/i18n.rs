//! Locale per request: `?lang=` wins, then the `kizuna_lang` cookie, then Accept-Language.

use axum::http::HeaderMap;
use std::collections::HashMap;

pub const LOCALES: &[&str] = &["ja", "en"];

pub fn locale(headers: &HeaderMap, query: &HashMap<String, String>) -> &'static str {
    if let Some(l) = query.get("lang").and_then(|l| known(l)) {
        return l;
    }
    let cookie = headers.get("cookie").and_then(|v| v.to_str().ok()).unwrap_or("");
    for part in cookie.split(';') {
        if let Some(l) = part.trim().strip_prefix("kizuna_lang=").and_then(known) {
            return l;
        }
    }
    let accept = headers.get("accept-language").and_then(|v| v.to_str().ok()).unwrap_or("");
    accept_language(accept)
}

fn known(tag: &str) -> Option<&'static str> {
    let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    LOCALES.iter().copied().find(|l| *l == primary)
}

/// The first supported language in preference order (q-values honoured); Japanese by default.
pub fn accept_language(header: &str) -> &'static str {
    let mut best: Option<(f32, &'static str)> = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("");
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()))
            .unwrap_or(1.0);
        if let Some(l) = known(tag) {
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, l));
            }
        }
    }
    best.map(|(_, l)| l).unwrap_or("ja")
}

pub fn t(key: &str, locale: &str) -> String {
    rust_i18n::t!(key, locale = locale).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_by_quality() {
        assert_eq!(accept_language("en-US,en;q=0.9,ja;q=0.8"), "en");
        assert_eq!(accept_language("fr, ja;q=0.5, en;q=0.4"), "ja");
        assert_eq!(accept_language(""), "ja");
    }

    #[test]
    fn every_key_has_both_languages() {
        let source = include_str!("../locales/app.yml");
        let keys: Vec<&str> = source
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.starts_with('_') && l.ends_with(':'))
            .map(|l| l.trim_end_matches(':'))
            .collect();
        assert!(keys.len() > 10);
        // A key written twice silently keeps only one text: a page heading could read as an error.
        let mut seen = std::collections::HashSet::new();
        let twice: Vec<&&str> = keys.iter().filter(|k| !seen.insert(**k)).collect();
        assert!(twice.is_empty(), "keys defined twice in app.yml: {twice:?}");
        for key in keys {
            for l in LOCALES {
                let text = t(key, l);
                assert_ne!(text, format!("{l}.{key}"), "{key} has no {l} text");
                assert_ne!(text, key, "{key} has no {l} text");
            }
        }
    }
}
