//! Property-based fuzzing of every importer on a real SQLite file: CSV files of each kind (and
//! NDJSON events) built from the kind's own columns, in any order, with hostile values (bad
//! dates, huge and negative numbers, formulas, NUL, quotes and line breaks in quoted fields, long
//! text, full-width digits). Whatever the file: no panic, and a file that is refused writes
//! nothing (every table's row count unchanged) and names the file in each error. Bounded by
//! `PROPTEST_CASES` (default 24 per kind here, each an import in a transaction).

use kizuna_import::{import_file, ImportKind, NoProgress};
use proptest::prelude::*;
use std::sync::Arc;

const KINDS: [ImportKind; 8] = [
    ImportKind::Accounts,
    ImportKind::Subscriptions,
    ImportKind::Contacts,
    ImportKind::Activities,
    ImportKind::ChurnReasons,
    ImportKind::FunnelLeads,
    ImportKind::FunnelCounts,
    ImportKind::Events,
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "", "A1", "C00001", "2024-01-01", "2024-02-30", "2024-13-01", "2026-12-06T05:56:00Z", "2026-12-06 14:56:00", "0", "-5", "12,000",
            "1e309", "９９９", "NaN", "enterprise", "high", "tech", "hybrid", "core", "JPY", "USD", "note", "meeting", "price", "bankrupt",
            "=cmd|' /C calc'!A0", "+1+1", "@SUM(A1)", "\u{0}", "a\"b", "line\nbreak", "x,y", "true", "12", "3.5", "2024-03", "lead",
            "2026/1/5", "2026/1/5 0:00", "2026/1/5 9:30", "2026年1月5日", "２０２６／１／５", "1,200円", "￥１，２００", "円", "株式会社①", "\r",
        ])
        .prop_map(str::to_string),
        ".{0,24}",
        Just("z".repeat(5_000)),
    ]
}

/// A CSV file of `kind`: a header of its columns and an unknown one, shuffled, all of them
/// (so rows reach the field checks) or some dropped, and rows of values.
fn csv_file(kind: ImportKind) -> impl Strategy<Value = String> {
    let (known, _) = kind.columns();
    let columns: Vec<String> = known.iter().map(|c| c.to_string()).chain(["extra".to_string()]).collect();
    let all = columns.len();
    let width = prop_oneof![Just(all), 1..=all];
    (Just(columns.clone()).prop_shuffle(), width, prop::collection::vec(prop::collection::vec(value(), all), 0..6)).prop_map(|(cols, n, rows)| {
        let mut w = csv::Writer::from_writer(vec![]);
        w.write_record(&cols[..n]).unwrap();
        for r in rows {
            w.write_record(&r[..n]).unwrap();
        }
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    })
}

/// NDJSON events as Segment sends them, with values of any of those kinds.
fn ndjson_file() -> impl Strategy<Value = String> {
    let line = (prop::sample::select(vec!["track", "identify", "group", "page", "nope"]), value(), value(), value(), value()).prop_map(|(t, user, group, event, ts)| {
        serde_json::json!({ "type": t, "userId": user, "groupId": group, "event": event, "timestamp": ts, "messageId": format!("m-{user}-{event}") }).to_string()
    });
    prop::collection::vec(prop_oneof![line, ".{0,30}"], 0..6).prop_map(|lines| lines.join("\n"))
}

/// The file as a spreadsheet might save it: Shift_JIS or UTF-8 with a byte order mark, CRLF
/// line ends, or as written.
fn dressed(file: impl Strategy<Value = String>) -> impl Strategy<Value = Vec<u8>> {
    (file, 0..4u8).prop_map(|(text, how)| match how {
        0 => text.into_bytes(),
        1 => encoding_rs::SHIFT_JIS.encode(&text.replace('\n', "\r\n")).0.into_owned(),
        2 => [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
        _ => text.replace('\n', "\r\n").into_bytes(),
    })
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    db: kizuna_store::testing::TestDb,
    dir: tempfile::TempDir,
}

fn fixture() -> Arc<Fixture> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let db = runtime.block_on(kizuna_store::testing::sqlite());
    Arc::new(Fixture { runtime, db, dir: tempfile::tempdir().unwrap() })
}

/// Import `body` as `kind`; a refused file must leave every count as it was.
fn check(f: &Fixture, kind: ImportKind, name: &str, body: &[u8]) -> Result<(), TestCaseError> {
    let path = f.dir.path().join(name);
    std::fs::write(&path, body).unwrap();
    let before = f.runtime.block_on(f.db.store.counts()).unwrap();
    let events_before = f.runtime.block_on(f.db.store.usage_message_counts()).unwrap().len();
    match f.runtime.block_on(import_file(f.db.store.as_ref(), kind, &path, &NoProgress)) {
        Ok(_) => {}
        Err(e) => {
            let after = f.runtime.block_on(f.db.store.counts()).unwrap();
            prop_assert_eq!(&before, &after, "a refused {:?} file wrote rows: {}", kind, e);
            prop_assert_eq!(events_before, f.runtime.block_on(f.db.store.usage_message_counts()).unwrap().len());
            let text = e.to_string();
            prop_assert!(text.lines().next().is_some_and(|l| l.starts_with(&path.display().to_string())), "errors name the file: {}", text);
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(24)
}

#[test]
fn every_importer_takes_hostile_csv_without_half_writing() {
    let f = fixture();
    for kind in KINDS {
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() });
        let result = runner.run(&dressed(csv_file(kind)), |body| check(&f, kind, &format!("{}.csv", kind.noun()), &body));
        if let Err(e) = result {
            panic!("{kind:?}: {e}");
        }
    }
}

#[test]
fn event_ndjson_takes_hostile_lines_without_half_writing() {
    let f = fixture();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() });
    if let Err(e) = runner.run(&dressed(ndjson_file()), |body| check(&f, ImportKind::Events, "events.ndjson", &body)) {
        panic!("{e}");
    }
}
