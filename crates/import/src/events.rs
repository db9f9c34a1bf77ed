//! `kizuna import events FILE`: usage events from a CSV
//! (`account_id,user_id,event_time,event_type,value,properties`, plus an optional `message_id`)
//! or from NDJSON, one Segment message per line. Streamed and all-or-nothing like every import;
//! message ids (given, or derived from the row) make a re-import change nothing.

use crate::error::{ImportError, ImportFailure};
use crate::reader::{Rec, RowSpec, WriteFuture};
use crate::{Progress, TxBox};
use kizuna_domain::fields::{digits, parse_fixed_datetime, parse_id, parse_timestamp, push_digits, push_fixed_datetime, FieldError};
use kizuna_domain::usage::segment;
use kizuna_domain::usage::{UsageEvent, UsageMessage};
use kizuna_store::Tx;
use std::io::{BufRead, BufReader, Read};

const BATCH: usize = 2000;

/// The value, or the error kept for the row's report.
fn keep<T>(errors: &mut Vec<FieldError>, res: Result<T, FieldError>) -> Option<T> {
    res.map_err(|e| errors.push(e)).ok()
}

/// How far ahead of this machine's clock an event time may be: the skew between two clocks.
/// (Kept as written, so a row's derived message id does not depend on when it is imported.)
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// An event time that has come: usage after now has not happened, and counted on its day it
/// would move figures that day instead of this one. A time hours ahead is nearly always a
/// local time without an offset, which is read as UTC: refused, so the file is fixed rather
/// than every event filed hours off.
fn happened(column: &str, raw: &str, t: chrono::DateTime<chrono::Utc>) -> Result<chrono::DateTime<chrono::Utc>, FieldError> {
    let now = chrono::Utc::now();
    if t <= now + CLOCK_SKEW {
        return Ok(t);
    }
    let shown = kizuna_domain::time::rfc3339(now);
    Err(FieldError::new(
        column,
        raw,
        &format!("is later than now ({shown}): an event must have happened (a time without an offset is UTC; write local times with theirs, e.g. +09:00)"),
    ))
}

/// A CSV row is a track message: the import hands its batch to the store as it is.
impl RowSpec for UsageMessage {
    const KNOWN: &'static [&'static str] = &["account_id", "user_id", "event_time", "event_type", "value", "properties", "message_id"];
    const REQUIRED: &'static [&'static str] = &["account_id", "event_time", "event_type"];

    fn parse(r: &Rec<'_>) -> Result<Self, Vec<FieldError>> {
        let mut errors = vec![];
        let account_id = keep(&mut errors, r.required("account_id").and_then(|v| parse_id("account_id", v)));
        let at = keep(&mut errors, r.required("event_time").and_then(|v| parse_timestamp("event_time", v).and_then(|t| happened("event_time", v, t))));
        let event_type = keep(&mut errors, r.required("event_type").map(str::to_string));
        let value = keep(&mut errors, 
            r.get("value")
                .map(|v| v.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| FieldError::new("value", v, "is not a number")))
                .transpose(),
        );
        let properties = keep(&mut errors, match r.get("properties") {
            None => Ok(serde_json::json!({})),
            Some(v) => match serde_json::from_str::<serde_json::Value>(v) {
                Ok(o @ serde_json::Value::Object(_)) => Ok(o),
                _ => Err(FieldError::new("properties", v, "is not a JSON object ({\"key\": \"value\"})")),
            },
        });
        if !errors.is_empty() {
            return Err(errors);
        }
        let (account_id, at, event_type, value, properties) =
            (account_id.unwrap(), at.unwrap(), event_type.unwrap(), value.unwrap(), properties.unwrap());
        let user_id = r.get("user_id").map(str::to_string);
        // Without a message id the row names itself, so importing the file again adds nothing.
        let message_id = r.get("message_id").map(str::to_string).unwrap_or_else(|| {
            let key = format!("{account_id}\u{1f}{}\u{1f}{}\u{1f}{event_type}\u{1f}{value:?}\u{1f}{properties}", user_id.as_deref().unwrap_or(""), at.to_rfc3339());
            format!("csv-{}", &kizuna_domain::access::hash_key(&key)[..32])
        });
        Ok(UsageMessage::Event(UsageEvent { message_id, user_id, account_id: Some(account_id), event_type, at, value, properties }))
    }

    fn write<'a>(tx: &'a mut dyn Tx, rows: &'a [Self]) -> WriteFuture<'a> {
        Box::pin(async move { tx.ingest_usage(rows).await.map(|s| s.accounts_created) })
    }

    /// A file's rows usually come in time order, across all accounts: unsorted, each event of
    /// a 10-million-row file landed on its own page of each usage table. A file of up to this
    /// many rows is sorted in memory, a longer one in runs of this many on disk, merged as it
    /// is written (`crate::sorter`). Held rows take about 330 bytes each, and two stretches are
    /// held while a run is written. Measured on 10 million events (`bench import-events`):
    /// 300,000, 400,000 and 600,000 rows a run all did 216,000–245,000 events/s; a million
    /// sorted in memory at a time, before runs, 136,000.
    const SORT_ROWS: usize = 400_000;

    fn cmp_key(a: &Self, b: &Self) -> std::cmp::Ordering {
        key(a).cmp(&key(b))
    }

    /// Read back field by field: a run's rows were checked when first read, and checking them
    /// again was most of the merge's time.
    fn unspill(_header: &crate::reader::Header, r: &csv::StringRecord) -> Result<Self, String> {
        let field = |i: usize| r.get(i).ok_or_else(|| format!("a row has {} fields, expected 7", r.len()));
        let at = field(2)?;
        let at = spilled_time(at).ok_or_else(|| format!("event_time {at:?} is not RFC 3339"))?;
        let value = match field(4)? {
            "" => None,
            v => Some(v.parse::<f64>().map_err(|e| format!("value {v:?}: {e}"))?),
        };
        let properties = match field(5)? {
            "{}" => serde_json::Value::Object(Default::default()),
            p => serde_json::from_str(p).map_err(|e| format!("properties {p:?}: {e}"))?,
        };
        let user_id = Some(field(1)?).filter(|u| !u.is_empty()).map(str::to_string);
        let (account_id, event_type, message_id) = (field(0)?.to_string(), field(3)?.to_string(), field(6)?.to_string());
        Ok(UsageMessage::Event(UsageEvent { message_id, user_id, account_id: Some(account_id), event_type, at, value, properties }))
    }

    fn spill(&self, record: &mut csv::StringRecord) -> bool {
        let UsageMessage::Event(e) = self else { return false };
        record.clear();
        record.push_field(e.account_id.as_deref().unwrap_or(""));
        record.push_field(e.user_id.as_deref().unwrap_or(""));
        record.push_field(&rfc3339(e.at));
        record.push_field(&e.event_type);
        // Rust prints the shortest text that reads back as the same number.
        record.push_field(&e.value.map(|v| v.to_string()).unwrap_or_default());
        record.push_field(&e.properties.to_string());
        record.push_field(&e.message_id);
        true
    }
}

/// A time as RFC 3339 in UTC with nanoseconds, written digit by digit (chrono's formatter was
/// a tenth of sorting a large file); a leap second or a year past 9999 goes through chrono.
fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Timelike;
    let (nanos, mut out) = (t.nanosecond(), String::with_capacity(30));
    if nanos >= 1_000_000_000 || !push_fixed_datetime(&mut out, t.naive_utc(), b'T') {
        return t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    }
    out.push('.');
    push_digits(&mut out, nanos, 9);
    out.push('Z');
    out
}

/// A time [`rfc3339`] wrote, read digit by digit (`YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`); what it
/// left to chrono goes back through chrono.
fn spilled_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::Timelike;
    let b = s.as_bytes();
    let fast = || {
        let nanos = if b.len() == 30 && b[19] == b'.' && b[29] == b'Z' { digits(&b[20..29])? } else { return None };
        Some(parse_fixed_datetime(&s[..19], b'T')?.with_nanosecond(nanos)?.and_utc())
    };
    match fast() {
        Some(t) => Some(t),
        None => chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&chrono::Utc)),
    }
}


/// The usage tables' key of an event row: account, then message id.
fn key(m: &UsageMessage) -> (Option<&str>, &str) {
    match m {
        UsageMessage::Event(e) => (e.account_id.as_deref(), &e.message_id),
        _ => (None, ""),
    }
}

pub(crate) fn is_ndjson(file: &str) -> bool {
    let f = file.to_ascii_lowercase();
    f.ends_with(".ndjson") || f.ends_with(".jsonl")
}

/// One Segment message (track, identify, group, page, screen) per line; blank lines are skipped.
pub(crate) async fn run_ndjson(
    mut tx: TxBox,
    file: &str,
    input: impl Read + Send,
    progress: &dyn Progress,
) -> Result<(u64, u64, TxBox), ImportFailure> {
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut line = Vec::new();
    let (mut number, mut rows, mut read, mut created) = (0u64, 0u64, 0u64, 0u64);
    let mut batch: Vec<UsageMessage> = Vec::with_capacity(BATCH);
    let mut errors: Vec<ImportError> = Vec::new();
    let mut total_errors = 0u64;
    let now = chrono::Utc::now();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(|e| ImportFailure::single(ImportError::file(file, format!("cannot read: {e}"))))?;
        if n == 0 {
            break;
        }
        number += 1;
        read += n as u64;
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        match segment::parse_typed(text, now) {
            Ok(m) if total_errors == 0 => batch.push(m),
            Ok(_) => {}
            Err(e) => {
                total_errors += 1;
                if errors.len() < crate::error::MAX_REPORTED {
                    errors.push(ImportError::at(file, number, e.to_string()));
                }
            }
        }
        rows += 1;
        if batch.len() >= BATCH {
            created += write(&mut *tx, &mut batch, file, number).await?;
            progress.update(read);
        }
    }
    if total_errors > 0 {
        return Err(ImportFailure::new(errors, total_errors));
    }
    created += write(&mut *tx, &mut batch, file, number).await?;
    Ok((rows, created, tx))
}

/// Writes and empties `batch`; returns the accounts it created.
async fn write(tx: &mut dyn Tx, batch: &mut Vec<UsageMessage>, file: &str, line: u64) -> Result<u64, ImportFailure> {
    if batch.is_empty() {
        return Ok(0);
    }
    let summary = tx.ingest_usage(batch).await.map_err(|e| ImportFailure::refused(file, line, "events", e))?;
    batch.clear();
    Ok(summary.accounts_created)
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::reader::RowSpec;
    use kizuna_domain::usage::{UsageEvent, UsageMessage};

    /// An event of `account` with `value`, at a fixed time with a fraction of a second, by a
    /// user of its own and with a property, for the importer's unit tests.
    pub(crate) fn event(account: &str, id: &str, value: f64) -> UsageMessage {
        UsageMessage::Event(UsageEvent {
            message_id: id.into(),
            user_id: Some(format!("{account}-user")),
            account_id: Some(account.into()),
            event_type: "login".into(),
            at: chrono::DateTime::parse_from_rfc3339("2026-11-02T09:30:00.25Z").unwrap().into(),
            value: Some(value),
            properties: serde_json::json!({"n": value}),
        })
    }

    #[test]
    fn times_are_written_as_chrono_writes_rfc3339() {
        use chrono::TimeZone;
        let base = chrono::Utc.with_ymd_and_hms(2026, 3, 9, 7, 5, 3).unwrap();
        for nanos in [0, 1, 120_000_000, 999_999_999] {
            let t = base + chrono::Duration::nanoseconds(nanos);
            assert_eq!(super::rfc3339(t), t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
        }
        assert_eq!(super::rfc3339(base), "2026-03-09T07:05:03.000000000Z");
    }

    #[test]
    fn spilled_times_read_back_as_written() {
        use chrono::TimeZone;
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31).unwrap().and_hms_nano_opt(23, 59, 59, 1_500_000_000).unwrap().and_utc();
        let times = [
            chrono::Utc.with_ymd_and_hms(2026, 3, 9, 7, 5, 3).unwrap(),
            chrono::Utc.with_ymd_and_hms(2026, 3, 9, 7, 5, 3).unwrap() + chrono::Duration::nanoseconds(123_456_789),
            chrono::Utc.with_ymd_and_hms(987, 12, 31, 23, 59, 59).unwrap(),
            leap,
        ];
        for t in times {
            assert_eq!(super::spilled_time(&super::rfc3339(t)), Some(t), "{t:?}");
        }
        assert_eq!(super::spilled_time("2026-02-30T00:00:00.000000000Z"), None);
        assert_eq!(super::spilled_time("2026-03-09T07:05:03.00000000xZ"), None);
    }

    #[test]
    fn a_spilled_row_reads_back_as_the_same_row() {
        use crate::reader::{Header, Rec};
        let mut row = event("A1", "m1", 0.1 + 0.2);
        if let UsageMessage::Event(e) = &mut row {
            e.user_id = Some("u, \"quoted\"".into());
            e.properties = serde_json::json!({"plan": "年額", "seats": 12, "ratio": 1e-7});
            e.at += chrono::Duration::nanoseconds(123_456_789);
        }
        let mut record = csv::StringRecord::new();
        assert!(row.spill(&mut record));
        let mut file = csv::Writer::from_writer(vec![]);
        file.write_record(&record).unwrap();
        let text = file.into_inner().unwrap();
        let back = csv::ReaderBuilder::new().has_headers(false).from_reader(&text[..]).records().next().unwrap().unwrap();
        let header = Header::of(UsageMessage::KNOWN);
        assert_eq!(UsageMessage::parse(&Rec::new(&header, &back)).unwrap(), row);
        assert_eq!(UsageMessage::unspill(&header, &back).unwrap(), row);
        let mut bare = event("A2", "m2", 1.0);
        if let UsageMessage::Event(e) = &mut bare {
            (e.user_id, e.value) = (None, None);
        }
        assert!(bare.spill(&mut record));
        assert_eq!(UsageMessage::unspill(&header, &record).unwrap(), bare);
        assert!(UsageMessage::unspill(&header, &csv::StringRecord::from(vec!["A1", "", "yesterday", "login", "", "{}", "m"])).unwrap_err().contains("yesterday"));
    }

    #[test]
    fn rows_sort_by_account_then_message_keeping_file_order_among_repeats() {
        let mut rows = vec![event("B", "m1", 1.0), event("A", "m9", 2.0), event("B", "m1", 3.0), event("A", "m2", 4.0)];
        rows.sort_by(UsageMessage::cmp_key);
        let got: Vec<_> = rows
            .iter()
            .map(|m| match m {
                UsageMessage::Event(e) => (e.account_id.clone().unwrap(), e.message_id.clone(), e.value.unwrap()),
                _ => unreachable!(),
            })
            .collect();
        let want = [("A", "m2", 4.0), ("A", "m9", 2.0), ("B", "m1", 1.0), ("B", "m1", 3.0)];
        assert_eq!(got, want.map(|(a, m, v)| (a.to_string(), m.to_string(), v)).to_vec());
    }
}
