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

/// A ratio as a percentage with one decimal, or an em dash when there is none.
pub fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}%", x * 100.0)).unwrap_or_else(|| "—".into())
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
