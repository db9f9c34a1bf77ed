//! Field parsers shared by every importer. Each error names the column, the value and what
//! was expected, so the importer only has to prefix `file:line:`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use std::fmt;

/// One bad value: `end_date "2020-13-01" is not a date (YYYY-MM-DD)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub column: String,
    pub value: String,
    pub problem: String,
}

impl FieldError {
    pub fn new(column: &str, value: &str, problem: &str) -> Self {
        FieldError { column: column.to_string(), value: value.to_string(), problem: problem.to_string() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?} {}", self.column, self.value, self.problem)
    }
}

impl std::error::Error for FieldError {}

/// `YYYY-MM-DD`, nothing else: ambiguous forms like `1/2/2024` are refused.
pub fn parse_date(column: &str, raw: &str) -> Result<NaiveDate, FieldError> {
    let s = raw.trim();
    let shaped = s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-';
    match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) if shaped => Ok(d),
        _ => Err(FieldError::new(column, raw, "is not a date (YYYY-MM-DD)")),
    }
}

/// A date as a spreadsheet writes it, for importers: `YYYY-MM-DD`, or what Japanese Excel saves
/// such a cell as: `YYYY/M/D` (zero padding optional), `YYYY年M月D日`, full-width digits, and a
/// midnight time after it (`2026/1/5 0:00`, a date-time cell holding a date). Year first only:
/// `1/2/2024` stays ambiguous and refused, as does any other time of day.
pub fn parse_sheet_date(column: &str, raw: &str) -> Result<NaiveDate, FieldError> {
    if let Ok(d) = parse_date(column, raw) {
        return Ok(d);
    }
    let err = || FieldError::new(column, raw, "is not a date (YYYY-MM-DD)");
    let s = half_width(raw.trim());
    let day = match s.split_once(' ') {
        Some((day, time)) if matches!(time.trim(), "0:00" | "00:00" | "0:00:00" | "00:00:00") => day,
        Some(_) => return Err(err()),
        None => s.as_str(),
    };
    let parts: Vec<&str> = if let Some(rest) = day.strip_suffix('日') {
        rest.split(['年', '月']).collect()
    } else {
        day.split(['/', '-']).collect()
    };
    let number = |p: &str, widths: std::ops::RangeInclusive<usize>| (widths.contains(&p.len())).then(|| digits(p.as_bytes())).flatten();
    match parts[..] {
        [y, m, d] => match (number(y, 4..=4), number(m, 1..=2), number(d, 1..=2)) {
            (Some(y), Some(m), Some(d)) => NaiveDate::from_ymd_opt(y as i32, m, d).ok_or_else(err),
            _ => Err(err()),
        },
        _ => Err(err()),
    }
}

/// A timestamp as [`parse_timestamp`] reads it, or a date alone as [`parse_sheet_date`] reads
/// it (the start of that day in the business time zone).
/// A time of day the way Japanese Excel saves one (`2026/1/5 9:30`, `2026/01/05 09:30:00`,
/// `2026年1月5日 9:30`) is read in the business time zone: Excel keeps no zone, and the person
/// who typed it meant their own clock.
pub fn parse_sheet_timestamp(column: &str, raw: &str) -> Result<DateTime<Utc>, FieldError> {
    parse_timestamp(column, raw)
        .or_else(|e| parse_sheet_date(column, raw).map(crate::time::start_of_day).map_err(|_| e))
        .or_else(|e| sheet_local_time(column, raw).map(crate::time::at_local).ok_or(e))
}

/// `date H:MM[:SS]` with the date as [`parse_sheet_date`] reads it and a time of day 0:00 to
/// 23:59:59; None for anything else.
fn sheet_local_time(column: &str, raw: &str) -> Option<NaiveDateTime> {
    let s = half_width(raw.trim());
    let (day, time) = s.split_once(' ')?;
    // Only the forms Excel writes: a hyphenated day with a time is the documented UTC form,
    // and must not change zone for want of seconds.
    if !day.contains(['/', '年']) {
        return None;
    }
    let day = parse_sheet_date(column, day).ok()?;
    let parts: Vec<&str> = time.trim().split(':').collect();
    let number = |p: &str, widths: std::ops::RangeInclusive<usize>| widths.contains(&p.len()).then(|| digits(p.as_bytes())).flatten();
    let (h, m, sec) = match parts[..] {
        [h, m] => (number(h, 1..=2)?, number(m, 2..=2)?, 0),
        [h, m, sec] => (number(h, 1..=2)?, number(m, 2..=2)?, number(sec, 2..=2)?),
        _ => return None,
    };
    day.and_hms_opt(h, m, sec)
}

/// Full-width ASCII (`２０２６／１／５`, as Japanese input methods type it), `￥` and the
/// ideographic space as their ASCII selves (NFKC, as search folds text).
pub fn half_width(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfkc().collect()
}

/// Fast path for dates the store wrote (`YYYY-MM-DD`, already valid): no format-string parsing,
/// which matters when metrics read hundreds of thousands of rows.
pub fn parse_stored_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(digits(&b[0..4])? as i32, digits(&b[5..7])?, digits(&b[8..10])?)
}

/// The number written by ASCII digits only (a short field: no overflow check).
pub fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + (c - b'0') as u32))
}

/// `YYYY-MM-DD<sep>HH:MM:SS` with every digit in place, read digit by digit: chrono's
/// format-string parser read the format anew for each value (a fifth of the time to read a
/// large usage file). Anything else (a leap second too) is left to the full parsers.
pub fn parse_fixed_datetime(s: &str, sep: u8) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    if b.len() != 19 || b[10] != sep || b[13] != b':' || b[16] != b':' {
        return None;
    }
    parse_stored_date(&s[..10])?.and_hms_opt(digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?)
}

/// Writes `YYYY-MM-DD`, the inverse of [`parse_stored_date`]; false (nothing written) for a
/// year outside 0–9999, left to chrono.
pub fn push_fixed_date(out: &mut String, d: NaiveDate) -> bool {
    let mut text = *b"0000-00-00";
    if !put_date(&mut text, d) {
        return false;
    }
    out.push_str(std::str::from_utf8(&text).expect("ASCII digits"));
    true
}

/// Writes `YYYY-MM-DD<sep>HH:MM:SS` (`sep` an ASCII byte), the inverse of
/// [`parse_fixed_datetime`], whole seconds only; false (nothing written) as [`push_fixed_date`].
/// Built in place and pushed once: a push per digit was most of writing a time.
pub fn push_fixed_datetime(out: &mut String, t: NaiveDateTime, sep: u8) -> bool {
    use chrono::Timelike;
    let mut text = *b"0000-00-00T00:00:00";
    if !put_date(&mut text, t.date()) {
        return false;
    }
    text[10] = sep;
    put_two(&mut text[11..13], t.hour());
    put_two(&mut text[14..16], t.minute());
    put_two(&mut text[17..19], t.second());
    out.push_str(std::str::from_utf8(&text).expect("an ASCII separator"));
    true
}

fn put_date(text: &mut [u8], d: NaiveDate) -> bool {
    use chrono::Datelike;
    let Ok(year @ 0..=9999) = u32::try_from(d.year()) else { return false };
    put_two(&mut text[0..2], year / 100);
    put_two(&mut text[2..4], year % 100);
    put_two(&mut text[5..7], d.month());
    put_two(&mut text[8..10], d.day());
    true
}

fn put_two(text: &mut [u8], n: u32) {
    text[0] = b'0' + (n / 10) as u8;
    text[1] = b'0' + (n % 10) as u8;
}

/// `value` in exactly `width` decimal digits, zero-padded (writers of stored and spilled times).
pub fn push_digits(out: &mut String, value: u32, width: u32) {
    // Written into a buffer and pushed once: a push per digit was most of writing a time.
    let mut digits = [b'0'; 10];
    let (mut rest, width) = (value, (width as usize).min(digits.len()));
    for d in digits[..width].iter_mut().rev() {
        *d = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.push_str(std::str::from_utf8(&digits[..width]).expect("ASCII digits"));
}

/// RFC 3339 (`2024-04-01T09:30:00+09:00`), `YYYY-MM-DD HH:MM:SS` (UTC) or a bare date (the start
/// of that day in the business time zone, so it counts on that day wherever the zone is).
pub fn parse_timestamp(column: &str, raw: &str) -> Result<DateTime<Utc>, FieldError> {
    let s = raw.trim();
    if let Some(t) = parse_fixed_datetime(s, b' ') {
        return Ok(t.and_utc());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
        return Ok(t.and_utc());
    }
    if s.len() == 10 {
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return Ok(crate::time::start_of_day(d));
        }
    }
    Err(FieldError::new(column, raw, "is not a timestamp (RFC 3339, YYYY-MM-DD HH:MM:SS or YYYY-MM-DD)"))
}

pub fn parse_positive_int(column: &str, raw: &str) -> Result<i32, FieldError> {
    match raw.trim().parse::<i32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(FieldError::new(column, raw, "is not a whole number >= 1")),
    }
}

pub fn parse_quantity(column: &str, raw: &str) -> Result<f64, FieldError> {
    match raw.trim().replace(',', "").parse::<f64>() {
        Ok(q) if q.is_finite() && q >= 0.0 => Ok(q),
        _ => Err(FieldError::new(column, raw, "is not a number >= 0")),
    }
}

/// A discount as a fraction (`0.1`) or a percentage (`10%`); stored as the fraction.
pub fn parse_discount(column: &str, raw: &str) -> Result<f64, FieldError> {
    let s = raw.trim();
    let value = match s.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => s.parse::<f64>(),
    };
    match value {
        Ok(d) if (0.0..=1.0).contains(&d) => Ok(d),
        _ => Err(FieldError::new(column, raw, "is not a discount between 0 and 1 (or 0% to 100%)")),
    }
}

/// ISO 4217 code, three letters; stored upper case.
pub fn parse_currency(column: &str, raw: &str) -> Result<String, FieldError> {
    let s = raw.trim().to_ascii_uppercase();
    if s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(s)
    } else {
        Err(FieldError::new(column, raw, "is not a currency code (ISO 4217, e.g. JPY)"))
    }
}

pub fn parse_bool(column: &str, raw: &str) -> Result<bool, FieldError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "t" => Ok(true),
        "false" | "no" | "n" | "0" | "f" => Ok(false),
        _ => Err(FieldError::new(column, raw, "is not true or false")),
    }
}

/// A light email check: one `@`, something on each side, a dot in the domain. Stored lower case.
/// `internal` or `shared` (any case): whether an activity is the vendor's team's only.
pub fn parse_visibility(column: &str, raw: &str) -> Result<bool, FieldError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "internal" => Ok(true),
        "shared" => Ok(false),
        _ => Err(FieldError::new(column, raw, "is not internal or shared")),
    }
}

pub fn parse_email(column: &str, raw: &str) -> Result<String, FieldError> {
    let s = raw.trim().to_ascii_lowercase();
    let ok = match s.split_once('@') {
        Some((local, domain)) => !local.is_empty() && domain.contains('.') && !domain.contains('@'),
        None => false,
    };
    if ok && !s.contains(char::is_whitespace) {
        Ok(s)
    } else {
        Err(FieldError::new(column, raw, "is not an email address"))
    }
}

/// Identifiers (account ids, product codes): non-empty, no control characters, at most 200 chars.
pub fn parse_id(column: &str, raw: &str) -> Result<String, FieldError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(FieldError::new(column, raw, "is empty (a value is required)"));
    }
    if s.chars().count() > 200 || s.chars().any(char::is_control) {
        return Err(FieldError::new(column, raw, "is not an identifier (at most 200 printable characters)"));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_dates_and_times_are_written_as_they_are_read() {
        let mut out = String::new();
        let day = NaiveDate::from_ymd_opt(987, 3, 9).unwrap();
        assert!(push_fixed_date(&mut out, day));
        let at = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap().and_hms_opt(23, 5, 59).unwrap();
        assert!(push_fixed_datetime(&mut out, at, b' '));
        assert!(push_fixed_datetime(&mut out, at, b'T'));
        assert_eq!(out, "0987-03-092026-12-31 23:05:592026-12-31T23:05:59");
        assert_eq!(parse_fixed_datetime(&out[10..29], b' '), Some(at));
        assert_eq!(parse_stored_date(&out[..10]), Some(day));
        // Beyond four-digit years nothing is written: the caller asks chrono.
        let far = NaiveDate::from_ymd_opt(12026, 1, 1).unwrap();
        assert!(!push_fixed_date(&mut out, far) && !push_fixed_datetime(&mut out, far.and_hms_opt(0, 0, 0).unwrap(), b'T'));
        assert!(!push_fixed_date(&mut out, NaiveDate::from_ymd_opt(-1, 1, 1).unwrap()));
        assert_eq!(out.len(), 48);
    }

    #[test]
    fn digits_are_zero_padded_to_their_width() {
        let mut out = String::from("x");
        for (value, width) in [(7, 2), (2026, 4), (987, 4), (123_456, 9), (0, 3), (1_999_999_999, 10)] {
            push_digits(&mut out, value, width);
            out.push('|');
        }
        assert_eq!(out, "x07|2026|0987|000123456|000|1999999999|");
    }

    #[test]
    fn dates_must_be_iso() {
        assert_eq!(parse_date("d", "2024-02-29").unwrap(), NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
        let e = parse_date("end_date", "2020-13-01").unwrap_err();
        assert_eq!(e.to_string(), r#"end_date "2020-13-01" is not a date (YYYY-MM-DD)"#);
        assert!(parse_date("d", "2023-02-29").is_err());
        assert!(parse_date("d", "2024/01/01").is_err());
        assert!(parse_date("d", "2024-1-1").is_err());
    }

    #[test]
    fn dates_as_japanese_excel_saves_them() {
        let jan5 = NaiveDate::from_ymd_opt(2026, 1, 5);
        for raw in ["2026-01-05", "2026/1/5", "2026/01/05", "2026-1-5", "2026/1/5 0:00", "2026-01-05 00:00:00", "2026年1月5日", "２０２６／１／５", " 2026/1/5 "] {
            assert_eq!(parse_sheet_date("d", raw).ok(), jan5, "{raw}");
        }
        for raw in ["1/5/2026", "2026/1/5 9:30", "2026/13/1", "2026/2/30", "26/1/5", "2026/1", "2026/001/5", "2026年1月5"] {
            let e = parse_sheet_date("start_date", raw).unwrap_err();
            assert_eq!(e.to_string(), format!("start_date {raw:?} is not a date (YYYY-MM-DD)"));
        }
        assert_eq!(parse_sheet_timestamp("t", "2026/1/5").unwrap(), crate::time::start_of_day(jan5.unwrap()));
        assert_eq!(parse_sheet_timestamp("t", "2024-04-01 00:00:00").unwrap().to_rfc3339(), "2024-04-01T00:00:00+00:00");
        // A sheet's time of day is the business zone's clock (Asia/Tokyo, UTC+9, in tests).
        assert_eq!(parse_sheet_timestamp("t", "2026/1/5 9:30").unwrap().to_rfc3339(), "2026-01-05T00:30:00+00:00");
        assert_eq!(parse_sheet_timestamp("t", "２０２６／１／５　２３:０５:０９").unwrap().to_rfc3339(), "2026-01-05T14:05:09+00:00");
        assert_eq!(parse_sheet_timestamp("t", "2026年1月5日 0:00").unwrap(), crate::time::start_of_day(jan5.unwrap()));
        for raw in ["2026-01-05 09:30", "2026/1/5 24:00", "2026/1/5 9:3", "2026/1/5 9:30:60", "2026/1/5 9", "2026/1/5 9:30 PM", "1/5/2026 9:30"] {
            let e = parse_sheet_timestamp("occurred_at", raw).unwrap_err();
            assert!(e.to_string().starts_with(&format!("occurred_at {raw:?} is not a timestamp")), "{e}");
        }
    }

    #[test]
    fn stored_dates_fast_path() {
        assert_eq!(parse_stored_date("2024-02-29"), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(parse_stored_date("2023-02-29"), None);
        assert_eq!(parse_stored_date("2024-2-29"), None);
        assert_eq!(parse_stored_date("2024-0a-01"), None);
    }

    #[test]
    fn timestamps_accept_three_forms() {
        let t = parse_timestamp("t", "2024-04-01T09:00:00+09:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-04-01T00:00:00+00:00");
        assert_eq!(parse_timestamp("t", "2024-04-01 00:00:00").unwrap(), t);
        // A bare date starts at midnight in the business zone (Tokyo by default): 15:00 UTC the day before.
        assert_eq!(parse_timestamp("t", "2024-04-01").unwrap().to_rfc3339(), "2024-03-31T15:00:00+00:00");
        assert!(parse_timestamp("t", "yesterday").is_err());
    }

    #[test]
    fn plain_times_read_as_the_format_parser_reads_them() {
        let slow = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok();
        for s in ["2026-01-01 00:00:00", "2024-02-29 23:59:59", "1999-12-31 12:34:56", "0001-01-01 00:00:00"] {
            assert_eq!(parse_fixed_datetime(s, b' '), slow(s), "{s}");
            assert!(parse_fixed_datetime(s, b' ').is_some(), "{s}");
        }
        // Refused by the fast path: out of range, misshapen, or a leap second (the full parser decides).
        for s in ["2023-02-29 00:00:00", "2026-01-01 24:00:00", "2026-01-01 00:60:00", "2026-01-01 23:59:60", "2026-1-01 00:00:00", "2026-01-01T00:00:00", "2026-01-01 0a:00:00", "2026-01-01 00:00:0"] {
            assert_eq!(parse_fixed_datetime(s, b' '), None, "{s}");
        }
        let leap = parse_timestamp("t", "2016-12-31 23:59:60").map(|t| t.to_rfc3339());
        assert_eq!(leap.ok(), slow("2016-12-31 23:59:60").map(|t| t.and_utc().to_rfc3339()));
        let e = parse_timestamp("event_time", "2026-13-01 00:00:00").unwrap_err();
        assert_eq!(e.to_string(), r#"event_time "2026-13-01 00:00:00" is not a timestamp (RFC 3339, YYYY-MM-DD HH:MM:SS or YYYY-MM-DD)"#);
    }

    #[test]
    fn small_parsers() {
        assert_eq!(parse_discount("discount", "10%").unwrap(), 0.1);
        assert_eq!(parse_discount("discount", "0.25").unwrap(), 0.25);
        assert!(parse_discount("discount", "1.5").is_err());
        assert_eq!(parse_currency("currency", "jpy").unwrap(), "JPY");
        assert!(parse_currency("currency", "円").is_err());
        assert_eq!(parse_email("e", " Sato@Example.co.jp ").unwrap(), "sato@example.co.jp");
        assert!(parse_email("e", "sato").is_err());
        assert!(parse_positive_int("n", "0").is_err());
        assert!(parse_bool("b", "maybe").is_err());
        assert!(parse_id("account_id", "  ").is_err());
    }
}
