//! The generic part of every importer: header checks, UTF-8 checks, batching, error collection.

use crate::error::{ImportError, ImportFailure, MAX_REPORTED};
use crate::sorter::{Sorted, Sorter};
use crate::{Progress, TxBox};
use kizuna_domain::FieldError;
use kizuna_store::Tx;
use std::collections::HashMap;
use std::future::Future;
use std::io::Read;
use std::pin::Pin;

/// Rows written per batch: large enough for fast multi-row inserts, small enough to keep memory flat.
const BATCH_ROWS: usize = 2000;
/// Sorted rows handed to the store at a time: enough for it to overlap building its inserts
/// with running them.
const SORTED_WRITE_ROWS: usize = 50_000;

pub(crate) type WriteFuture<'a> = Pin<Box<dyn Future<Output = kizuna_store::Result<u64>> + Send + 'a>>;

/// One importable row type: its columns, how to parse a record, and how to write a batch.
pub(crate) trait RowSpec: Sized + Send + Sync + 'static {
    const KNOWN: &'static [&'static str];
    const REQUIRED: &'static [&'static str];
    /// Accounts keep unknown columns as custom attributes; other kinds refuse them (typos).
    const EXTRA_COLUMNS: bool = false;
    fn parse(rec: &Rec<'_>) -> Result<Self, Vec<FieldError>>;
    fn write<'a>(tx: &'a mut dyn Tx, rows: &'a [Self]) -> WriteFuture<'a>;
    /// Rows gathered and put in key order (by [`RowSpec::cmp_key`]) before they are written;
    /// 0 writes them in file order. In key order a stretch of rows fills each page of the
    /// tables at once, instead of each row landing on a page of its own. A file longer than
    /// this is sorted on disk (see [`crate::sorter`]).
    const SORT_ROWS: usize = 0;
    /// The order of [`RowSpec::SORT_ROWS`] (a stable sort: among equal keys the file's order).
    fn cmp_key(_a: &Self, _b: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
    /// The row as a record of the [`RowSpec::KNOWN`] columns that [`RowSpec::parse`] reads back
    /// as the same row, for sorting on disk; false for a kind that is only sorted in memory.
    fn spill(&self, _record: &mut csv::StringRecord) -> bool {
        false
    }
    /// A row [`RowSpec::spill`] wrote, read back. It was checked when first read, so a kind
    /// may read it faster than [`RowSpec::parse`] does; by default it is parsed again.
    fn unspill(header: &Header, record: &csv::StringRecord) -> Result<Self, String> {
        Self::parse(&Rec::new(header, record)).map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
    }
}

pub(crate) struct Header {
    names: Vec<String>,
    /// Columns without a name (an export's or a spreadsheet's trailing empty columns).
    unnamed: Vec<usize>,
}

impl Header {
    /// The header of a file written with exactly these columns.
    pub fn of(columns: &[&str]) -> Self {
        Header { names: columns.iter().map(|c| c.to_string()).collect(), unnamed: vec![] }
    }
}

/// A record with access by column name.
pub(crate) struct Rec<'a> {
    header: &'a Header,
    record: &'a csv::StringRecord,
}

impl<'a> Rec<'a> {
    pub fn new(header: &'a Header, record: &'a csv::StringRecord) -> Self {
        Rec { header, record }
    }

    /// The trimmed cell, `None` when the column is absent or the cell is empty.
    pub fn get(&self, column: &str) -> Option<&str> {
        // A scan: headers are short, and hashing the name for every cell cost more (a tenth of
        // the time to read a large usage file).
        let i = self.header.names.iter().position(|n| n == column)?;
        self.record.get(i).map(str::trim).filter(|s| !s.is_empty())
    }

    pub fn required(&self, column: &str) -> Result<&str, FieldError> {
        self.get(column).ok_or_else(|| FieldError::new(column, "", "is empty (a value is required)"))
    }

    /// Cells of columns the importer does not know, by header name.
    pub fn extras(&self, known: &[&str]) -> Vec<(&str, &str)> {
        self.header
            .names
            .iter()
            .zip(self.record.iter())
            .filter(|(name, value)| !known.contains(&name.as_str()) && !value.trim().is_empty())
            .map(|(name, value)| (name.as_str(), value.trim()))
            .collect()
    }
}

/// Collects errors, keeping the first [`MAX_REPORTED`] and counting the rest.
struct Errors {
    file: String,
    list: Vec<ImportError>,
    total: u64,
}

impl Errors {
    fn push(&mut self, e: ImportError) {
        self.total += 1;
        if self.list.len() < MAX_REPORTED {
            self.list.push(e);
        }
    }

    fn failure(self) -> ImportFailure {
        ImportFailure::new(self.list, self.total)
    }

    fn at(&mut self, line: u64, message: impl Into<String>) {
        let e = ImportError::at(&self.file, line, message);
        self.push(e);
    }
}

fn check_header<R: RowSpec>(raw: &csv::ByteRecord, file: &str) -> Result<Header, ImportFailure> {
    let mut errors = Errors { file: file.to_string(), list: vec![], total: 0 };
    let mut names = Vec::with_capacity(raw.len());
    let mut unnamed = Vec::new();
    let mut index = HashMap::new();
    for (i, bytes) in raw.iter().enumerate() {
        let bytes = if i == 0 { bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes) } else { bytes };
        let Ok(name) = std::str::from_utf8(bytes) else {
            errors.at(1, format!("header column {} is not valid UTF-8; save the file as UTF-8 (Excel: \"CSV UTF-8\")", i + 1));
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() {
            // Excel's trailing empty columns: kept out, as long as their cells are empty too.
            unnamed.push(i);
        } else if let Some(first) = index.get(&name) {
            errors.at(1, format!("column {name:?} appears twice in the header (columns {} and {})", first + 1, i + 1));
        } else if !R::EXTRA_COLUMNS && !R::KNOWN.contains(&name.as_str()) {
            errors.at(1, format!("unknown column {name:?}; expected columns: {}", R::KNOWN.join(",")));
        } else {
            index.insert(name.clone(), i);
        }
        names.push(name);
    }
    for required in R::REQUIRED {
        if !index.contains_key(*required) && !names.iter().any(|n| n == required) {
            errors.at(1, format!("missing required column {required:?} (the header has: {})", names.join(",")));
        }
    }
    if errors.total > 0 {
        return Err(errors.failure());
    }
    Ok(Header { names, unnamed })
}

/// A parsed batch on its way to the database, with how far the reader had come.
struct Parsed<R> {
    rows: Vec<R>,
    line: u64,
    byte: u64,
}

/// Read `input` as CSV of `R` rows and write them through `tx` in batches.
/// Returns (rows, accounts created, tx) or every problem found; on problems `tx` is dropped,
/// which rolls back whatever was written. The file is read, checked (and sorted) on its own
/// thread while the database writes the batch before, so the two overlap.
pub(crate) async fn run<R: RowSpec>(
    mut tx: TxBox,
    file: &str,
    input: impl Read + Send + 'static,
    total: u64,
    progress: &dyn Progress,
) -> Result<(u64, u64, TxBox), ImportFailure> {
    // Two batches in flight: enough to keep both sides busy, little enough to keep memory flat.
    let (send, mut receive) = tokio::sync::mpsc::channel::<Parsed<R>>(2);
    // Written rows go back to be dropped where they were made: freeing another thread's
    // memory was a twentieth of the writing thread's time in a large import.
    let (written, spent) = std::sync::mpsc::channel::<Vec<R>>();
    let name = file.to_string();
    let reader = tokio::task::spawn_blocking(move || parse::<R>(&name, input, total, Flow { send, spent }));
    let mut created = 0u64;
    while let Some(batch) = receive.recv().await {
        if !batch.rows.is_empty() {
            created += write_batch(&mut *tx, &batch.rows, file, batch.line).await?;
        }
        // Bytes of the decoded text: a Shift_JIS file grows by half when decoded.
        progress.update(batch.byte.min(total));
        let _ = written.send(batch.rows);
    }
    let rows = reader.await.map_err(|e| ImportFailure::single(ImportError::file(file, format!("the reader stopped: {e}"))))??;
    Ok((rows, created, tx))
}

/// Batches to the writer, and written ones back.
struct Flow<R> {
    send: tokio::sync::mpsc::Sender<Parsed<R>>,
    spent: std::sync::mpsc::Receiver<Vec<R>>,
}

impl<R> Flow<R> {
    /// Sends `batch` once the written ones are dropped; false when the writer stopped.
    fn send(&self, batch: Parsed<R>) -> bool {
        self.spent.try_iter().for_each(drop);
        self.send.blocking_send(batch).is_ok()
    }
}

/// Reads and checks every record, sending full batches to the writer (kinds written in key
/// order: once all are read and sorted). Returns the number of rows, or every problem found
/// (then the batches sent are rolled back by the caller).
fn parse<R: RowSpec>(file: &str, input: impl Read, total: u64, send: Flow<R>) -> Result<u64, ImportFailure> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(input);
    let mut raw = csv::ByteRecord::new();
    let csv_error = |e: csv::Error| {
        let line = e.position().map(|p| p.line()).unwrap_or(0);
        ImportFailure::single(ImportError::at(file, line, format!("is not valid CSV: {e}")))
    };
    if !reader.read_byte_record(&mut raw).map_err(csv_error)? {
        let expected = R::KNOWN.join(",");
        return Err(ImportFailure::single(ImportError::file(
            file,
            format!("the file is empty; expected a header row such as: {expected}"),
        )));
    }
    let header = check_header::<R>(&raw, file)?;

    let mut errors = Errors { file: file.to_string(), list: vec![], total: 0 };
    let mut batch: Vec<R> = Vec::with_capacity(BATCH_ROWS);
    let mut sorter = (R::SORT_ROWS > 0).then(|| Sorter::<R>::new(file));
    let mut rows = 0u64;
    while reader.read_byte_record(&mut raw).map_err(csv_error)? {
        let line = raw.position().map(|p| p.line()).unwrap_or(0);
        // A blank line, or a row of empty cells (`,,,`, as spreadsheets leave below the data).
        if raw.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        if raw.len() != header.names.len() {
            errors.at(line, format!("has {} fields, expected {} (as in the header)", raw.len(), header.names.len()));
            continue;
        }
        if let Some(&i) = header.unnamed.iter().find(|&&i| raw.get(i).is_some_and(|f| !f.iter().all(u8::is_ascii_whitespace))) {
            let value = String::from_utf8_lossy(raw.get(i).unwrap_or_default()).into_owned();
            errors.at(line, format!("column {} has no name in the header but holds {value:?}; name the column or leave it empty", i + 1));
            continue;
        }
        let record = match csv::StringRecord::from_byte_record(std::mem::take(&mut raw)) {
            Ok(r) => r,
            Err(e) => {
                let (field, offset) = (e.utf8_error().field(), e.utf8_error().valid_up_to());
                let record = e.into_byte_record();
                let column = header.names.get(field).map(String::as_str).unwrap_or("?");
                let value = String::from_utf8_lossy(record.get(field).unwrap_or_default());
                errors.at(
                    line,
                    format!(
                        "{column} {value:?} is not valid UTF-8 (bad byte at offset {offset}); save the file as UTF-8 \
                         (Excel: \"CSV UTF-8\") or Shift_JIS"
                    ),
                );
                raw = record;
                continue;
            }
        };
        match R::parse(&Rec { header: &header, record: &record }) {
            Ok(row) if errors.total == 0 => match sorter.as_mut() {
                None => batch.push(row),
                Some(s) => {
                    if let Some(stretch) = s.push(row)? {
                        if !send_sorted(&send, Sorted::Memory(stretch.into_iter()), line, (0, 0))? {
                            return Ok(rows);
                        }
                    }
                }
            },
            Ok(_) => {}
            Err(field_errors) => field_errors.into_iter().for_each(|e| errors.at(line, e.to_string())),
        }
        raw = record.into_byte_record();
        rows += 1;
        if sorter.is_some() && rows % BATCH_ROWS as u64 == 0 {
            // Sorted rows are written once all are read: reading is the first half of the way.
            let _ = send.send(Parsed { rows: vec![], line, byte: reader.position().byte() / 2 });
        }
        if batch.len() >= BATCH_ROWS {
            let full = Parsed { rows: std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS)), line, byte: reader.position().byte() };
            if !send.send(full) {
                return Ok(rows); // the writer failed and reports why
            }
        }
    }
    if errors.total > 0 {
        return Err(errors.failure());
    }
    if let Some(sorter) = sorter {
        send_sorted(&send, sorter.finish()?, reader.position().line(), (total, rows))?;
        return Ok(rows);
    }
    let last = Parsed { rows: batch, line: reader.position().line(), byte: reader.position().byte() };
    if !last.rows.is_empty() {
        let _ = send.send(last);
    }
    Ok(rows)
}

/// Sends sorted rows in batches; false when the writer stopped (it reports why). `of` is (file
/// size, rows in it): the second half of the progress, counted by rows sent.
fn send_sorted<R: RowSpec>(send: &Flow<R>, mut sorted: Sorted<R>, line: u64, of: (u64, u64)) -> Result<bool, ImportFailure> {
    let mut sent = 0u64;
    loop {
        let rows = sorted.next_batch(SORTED_WRITE_ROWS)?;
        if rows.is_empty() {
            return Ok(true);
        }
        sent += rows.len() as u64;
        let (total, all) = of;
        let byte = total / 2 + ((total - total / 2) as u128 * sent as u128 / all.max(1) as u128) as u64;
        if !send.send(Parsed { rows, line, byte: byte.min(total) }) {
            return Ok(false);
        }
    }
}

async fn write_batch<R: RowSpec>(tx: &mut dyn Tx, batch: &[R], file: &str, line: u64) -> Result<u64, ImportFailure> {
    R::write(tx, batch).await.map_err(|e| ImportFailure::refused(file, line, "rows", e))
}
