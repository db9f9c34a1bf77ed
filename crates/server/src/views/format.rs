//! Numbers, money, percentages and dates for people, per locale.

use chrono::{Datelike, NaiveDate};
use kizuna_domain::money::{format_money, group_thousands};

/// An amount in currency units: `¥1,234,568` (JPY has no decimals) in both languages.
pub fn money(units: f64, currency: &str) -> String {
    format_money((units * 100.0).round() as i64, currency)
}

pub fn yen(units: f64) -> String {
    money(units, "JPY")
}

/// A health score with one decimal, rounded down like the band (a red 49.96 reads 49.9, never
/// 50.0). The scores are kept in hundredths; the nudge keeps 0.7 × 10 from flooring to 6.
pub fn score(v: f64) -> String {
    format!("{:.1}", ((v * 10.0) + 1e-9).floor() / 10.0)
}

/// A ratio as a percentage with one decimal, or an em dash when there is none.
pub fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}%", x * 100.0)).unwrap_or_else(|| "—".into())
}

/// A figure with thousands grouped and at most one decimal: `1,234` / `17.5` / `-1,234.5`.
pub fn number(v: f64) -> String {
    let tenths = (v * 10.0).round() as i64;
    let whole = group_thousands(tenths.unsigned_abs() / 10);
    let sign = if tenths < 0 { "-" } else { "" };
    match tenths.unsigned_abs() % 10 {
        0 => format!("{sign}{whole}"),
        d => format!("{sign}{whole}.{d}"),
    }
}

pub fn count(n: u64) -> String {
    group_thousands(n)
}

/// `2026年11月24日` / `Nov 24, 2026`.
pub fn date(d: NaiveDate, lang: &str) -> String {
    if lang == "ja" {
        format!("{}年{}月{}日", d.year(), d.month(), d.day())
    } else {
        d.format("%b %-d, %Y").to_string()
    }
}

/// `2026年11月` / `Nov 2026`.
pub fn month(d: NaiveDate, lang: &str) -> String {
    if lang == "ja" {
        format!("{}年{}月", d.year(), d.month())
    } else {
        d.format("%b %Y").to_string()
    }
}

/// `2026/11/24 14:05` / `Nov 24, 2026 14:05`, in the business time zone (its abbreviation
/// follows when it is not Japan's, whose users expect a bare time).
pub fn datetime(t: chrono::DateTime<chrono::Utc>, lang: &str) -> String {
    datetime_in(kizuna_domain::time::zone(), t, lang)
}

fn datetime_in(tz: chrono_tz::Tz, t: chrono::DateTime<chrono::Utc>, lang: &str) -> String {
    let local = t.with_timezone(&tz);
    let suffix = if tz == kizuna_domain::time::DEFAULT_ZONE { String::new() } else { format!(" {}", local.format("%Z")) };
    if lang == "ja" {
        format!("{}{suffix}", local.format("%Y/%m/%d %H:%M"))
    } else {
        format!("{}{suffix}", local.format("%b %-d, %Y %H:%M"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_grouped_with_one_decimal() {
        assert_eq!((number(1234.0), number(17.5), number(-1234.46), number(0.04), number(2.96)), ("1,234".into(), "17.5".into(), "-1,234.5".into(), "0".into(), "3".into()));
    }

    #[test]
    fn scores_round_down_to_one_decimal() {
        assert_eq!(score(49.96), "49.9", "red never reads 50.0");
        assert_eq!((score(0.7), score(50.0), score(100.0), score(64.99)), ("0.7".into(), "50.0".into(), "100.0".into(), "64.9".into()));
        for h in 0..=10_000 {
            let v = h as f64 / 100.0;
            assert_eq!(score(v), format!("{}.{}", h / 100, (h % 100) / 10), "{v}");
        }
    }

    #[test]
    fn times_in_the_business_zone() {
        use chrono::TimeZone;
        // A note written at 14:56 in Tokyo (05:56 UTC) is shown as 14:56.
        let t = chrono::Utc.with_ymd_and_hms(2026, 12, 6, 5, 56, 0).unwrap();
        assert_eq!(datetime_in(kizuna_domain::time::DEFAULT_ZONE, t, "ja"), "2026/12/06 14:56");
        assert_eq!(datetime_in(kizuna_domain::time::DEFAULT_ZONE, t, "en"), "Dec 6, 2026 14:56");
        assert_eq!(datetime_in(chrono_tz::America::New_York, t, "en"), "Dec 6, 2026 00:56 EST");
    }

    #[test]
    fn per_locale() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
        assert_eq!(date(d, "ja"), "2026年3月9日");
        assert_eq!(date(d, "en"), "Mar 9, 2026");
        assert_eq!(month(d, "en"), "Mar 2026");
        assert_eq!(yen(1234567.5), "¥1,234,568");
        assert_eq!(money(1234.5, "USD"), "$1,234.50");
        assert_eq!(pct(Some(0.98765)), "98.8%");
        assert_eq!(pct(None), "—");
        assert_eq!(count(1234567), "1,234,567");
    }
}
