//! Money is kept as integer hundredths ("cents") so that sums are exact: the MRR movement
//! identity must hold to the last yen, which floating point cannot promise.

use crate::fields::FieldError;

/// An amount in hundredths of the currency unit (JPY amounts are whole yen × 100).
pub type Cents = i64;

/// Parse a non-negative decimal amount such as `12000`, `12,000`, `99.5` or `99.50`.
/// At most two decimals: a third would be silently rounded, so it is refused instead.
pub fn parse_amount(column: &str, raw: &str) -> Result<Cents, FieldError> {
    let err = |what: &str| FieldError::new(column, raw, what);
    // Full-width digits and `￥`, and `円` after the number, as Japanese sheets write amounts.
    let s: String = crate::fields::half_width(raw.trim()).chars().filter(|c| *c != ',' && *c != '_').collect();
    let s = s.strip_suffix('円').map(str::trim_end).unwrap_or(&s);
    // `\` is how a Shift_JIS file's yen sign (0x5C) decodes.
    let s = s.strip_prefix(['¥', '\\', '$']).unwrap_or(s);
    if s.starts_with('-') {
        return Err(err("is negative (expected an amount >= 0)"));
    }
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (!frac.is_empty() && !digits(frac)) {
        return Err(err("is not a number (expected an amount such as 12000 or 99.50)"));
    }
    if frac.len() > 2 {
        return Err(err("has more than 2 decimals"));
    }
    let whole: i64 = whole.parse().map_err(|_| err("is too large"))?;
    let frac_cents: i64 = format!("{frac:0<2}").parse().unwrap_or(0);
    whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(frac_cents))
        .ok_or_else(|| err("is too large"))
}

/// Cents as a plain decimal number for JSON and CSV output.
pub fn to_units(c: Cents) -> f64 {
    c as f64 / 100.0
}

/// Format an amount for people: `¥1,234,567` for JPY (no decimals), `$1,234.50` otherwise.
pub fn format_money(c: Cents, currency: &str) -> String {
    let neg = c < 0;
    let abs = c.unsigned_abs();
    let (whole, frac) = (abs / 100, abs % 100);
    let grouped = group_thousands(whole);
    let sign = if neg { "-" } else { "" };
    match currency {
        "JPY" => {
            let yen = if frac >= 50 { group_thousands(whole + 1) } else { grouped };
            format!("{sign}¥{yen}")
        }
        "USD" => format!("{sign}${grouped}.{frac:02}"),
        "EUR" => format!("{sign}€{grouped}.{frac:02}"),
        other => format!("{sign}{grouped}.{frac:02} {other}"),
    }
}

/// `1234567` → `1,234,567`.
pub fn group_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_grouped_and_decimal_amounts() {
        assert_eq!(parse_amount("mrr", "12000").unwrap(), 1_200_000);
        assert_eq!(parse_amount("mrr", "12,000").unwrap(), 1_200_000);
        assert_eq!(parse_amount("mrr", "99.5").unwrap(), 9_950);
        assert_eq!(parse_amount("mrr", "99.05").unwrap(), 9_905);
        assert_eq!(parse_amount("mrr", "0").unwrap(), 0);
        for raw in ["¥1,200", "￥1,200", "1,200円", "1200 円", "１，２００", "¥1,200円", "\\1,200"] {
            assert_eq!(parse_amount("mrr", raw).unwrap(), 120_000, "{raw}");
        }
        assert!(parse_amount("mrr", "円").is_err() && parse_amount("mrr", "1,200ドル").is_err());
    }

    #[test]
    fn refuses_negative_text_and_three_decimals() {
        let e = parse_amount("mrr", "-5").unwrap_err();
        assert_eq!(e.to_string(), r#"mrr "-5" is negative (expected an amount >= 0)"#);
        assert!(parse_amount("mrr", "abc").unwrap_err().to_string().contains("is not a number"));
        assert!(parse_amount("mrr", "").is_err());
        assert!(parse_amount("mrr", "1.234").is_err());
        assert!(parse_amount("mrr", "1e5").is_err());
    }

    #[test]
    fn formats_jpy_without_decimals() {
        assert_eq!(format_money(123_456_700, "JPY"), "¥1,234,567");
        assert_eq!(format_money(150, "JPY"), "¥2");
        assert_eq!(format_money(123_450, "USD"), "$1,234.50");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
    }
}
