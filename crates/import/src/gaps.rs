//! After a subscriptions import: periods of one account and product with one day between them.
//! `end_date` is the first day not covered, so a period ending 2024-01-31 followed by one
//! starting 2024-02-01 leaves 31 January without the product: a churn and a reactivation every
//! month. That is nearly always a file whose end dates are the last day covered (期間 1/1〜1/31),
//! which `--end-inclusive` reads as such. The import stands; the warning says what it saw.

use chrono::NaiveDate;
use kizuna_domain::fields::parse_sheet_date;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::Path;

fn key(account: &str, product: &str, day: NaiveDate) -> u64 {
    let mut h = DefaultHasher::new();
    (account, product, day).hash(&mut h);
    h.finish()
}

/// The warnings for a file: one-day gaps between periods and, when end dates are read as the
/// last day covered, one-day overlaps (a file whose end dates were the first day not covered).
/// Reads the file once more, keeping a few numbers per row.
pub(crate) fn one_day_gaps(path: &Path, inclusive: bool) -> Vec<String> {
    let Some((gaps, overlaps)) = scan(path, inclusive) else { return vec![] };
    let mut out = vec![];
    if let Some((start_line, end_line, written)) = gaps.first() {
        let hint = if inclusive {
            ""
        } else {
            " end_date is the first day not covered; if this file gives the last day covered, import it again with --end-inclusive."
        };
        out.push(format!(
            "{} period(s) start with one day uncovered after an earlier period of the same account and product \
             (first: line {start_line}, after line {end_line}'s end_date {written}); each such day counts as a churn and a reactivation.{hint}",
            gaps.len()
        ));
    }
    if let Some((start_line, end_line, written)) = overlaps.first() {
        out.push(format!(
            "{} period(s) start on the end_date of an earlier period of the same account and product \
             (first: line {start_line}, on line {end_line}'s end_date {written}); with --end-inclusive that day is paid twice. \
             If this file gives the first day not covered, import it again without --end-inclusive.",
            overlaps.len()
        ));
    }
    out
}

/// (gaps, overlaps), each (line of the later period, line of the earlier, its end_date as
/// written), in line order.
type Found = Vec<(u64, u64, NaiveDate)>;

fn scan(path: &Path, inclusive: bool) -> Option<(Found, Found)> {
    let file = std::fs::File::open(path).ok()?;
    let (input, _) = crate::text::normalized(file).ok()?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(std::io::BufReader::new(input));
    let headers = reader.headers().ok()?.clone();
    // Matched as the importer matches them: trimmed, any case.
    let col = |name: &str| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let (a, p, s, e) = (col("account_id")?, col("product")?, col("start_date")?, col("end_date")?);
    // Start day → its line; the day after a one-day gap, and (inclusive) the last day covered
    // → the line and the end_date written.
    let mut starts: HashMap<u64, u64> = HashMap::new();
    let mut after_gap: HashMap<u64, (u64, NaiveDate)> = HashMap::new();
    let mut last_covered: HashMap<u64, (u64, NaiveDate)> = HashMap::new();
    for record in reader.records() {
        let Ok(r) = record else { continue };
        let line = r.position().map_or(0, |p| p.line());
        let (Some(account), Some(product)) = (r.get(a).map(str::trim), r.get(p).map(str::trim)) else { continue };
        if let Some(start) = r.get(s).and_then(|v| parse_sheet_date("start_date", v).ok()) {
            starts.insert(key(account, product, start), line);
        }
        if let Some(written) = r.get(e).filter(|v| !v.trim().is_empty()).and_then(|v| parse_sheet_date("end_date", v).ok()) {
            let not_covered = if inclusive { written.succ_opt() } else { Some(written) };
            if let Some(next) = not_covered.and_then(|d| d.succ_opt()) {
                after_gap.insert(key(account, product, next), (line, written));
            }
            if inclusive {
                last_covered.insert(key(account, product, written), (line, written));
            }
        }
    }
    let matches = |ends: &HashMap<u64, (u64, NaiveDate)>| {
        let mut found: Found = starts.iter().filter_map(|(k, start)| ends.get(k).map(|(end, written)| (*start, *end, *written))).collect();
        found.sort();
        found
    };
    Some((matches(&after_gap), matches(&last_covered)))
}
