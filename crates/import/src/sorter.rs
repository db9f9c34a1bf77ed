//! Rows put in key order before they are written. Up to `R::SORT_ROWS` rows are sorted in
//! memory. A longer file is sorted in stretches of that many, each written to a temporary file
//! (a run), and the runs are merged while the rows are written: the whole file reaches the
//! database in one key order, so each page of its tables is filled in one pass whatever the
//! file's size, and memory stays flat.

use crate::error::{ImportError, ImportFailure};
use crate::reader::{Header, Rec, RowSpec};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, SeekFrom};

/// Buffer of each run while it is written or read back.
const RUN_BUFFER: usize = 256 * 1024;

pub(crate) struct Sorter<R> {
    file: String,
    /// Rows sorted in memory at a time: `R::SORT_ROWS` (fewer in tests).
    stretch: usize,
    held: Vec<R>,
    runs: Vec<File>,
    record: csv::StringRecord,
}

impl<R: RowSpec> Sorter<R> {
    pub fn new(file: &str) -> Self {
        Self::with_stretch(file, R::SORT_ROWS)
    }

    fn with_stretch(file: &str, stretch: usize) -> Self {
        // Room for a whole stretch at once: grown by doubling, it was copied and its new pages
        // cleared over and over (a tenth of a large import's time).
        Sorter { file: file.to_string(), stretch, held: Vec::with_capacity(stretch), runs: vec![], record: csv::StringRecord::new() }
    }

    /// Holds `row`. A full stretch goes to a run first (a file of one stretch is sorted in
    /// memory only); for a kind that cannot be written to one, it is returned in key order, to
    /// be written as it is.
    pub fn push(&mut self, row: R) -> Result<Option<Vec<R>>, ImportFailure> {
        let mut full = None;
        if self.held.len() >= self.stretch {
            self.held.sort_by(R::cmp_key);
            if !self.spill()? {
                full = Some(std::mem::replace(&mut self.held, Vec::with_capacity(self.stretch)));
            }
        }
        self.held.push(row);
        Ok(full)
    }

    /// Every row held or in runs, in key order.
    pub fn finish(mut self) -> Result<Sorted<R>, ImportFailure> {
        self.held.sort_by(R::cmp_key);
        if self.runs.is_empty() {
            return Ok(Sorted::Memory(self.held.into_iter()));
        }
        self.spill()?;
        Merge::new(self.file, self.runs).map(Sorted::Runs)
    }

    /// Writes the held rows (in key order) to a new run and lets them go; false when this kind
    /// cannot be written to a run.
    fn spill(&mut self) -> Result<bool, ImportFailure> {
        let fail = |what: &str, e: &dyn std::fmt::Display| ImportFailure::single(ImportError::file(&self.file, format!("{what}: {e}")));
        let Some(first) = self.held.first() else { return Ok(true) };
        if !first.spill(&mut self.record) {
            return Ok(false);
        }
        let temp = tempfile::tempfile().map_err(|e| fail("cannot create a temporary file to sort the rows in", &e))?;
        let mut out = csv::WriterBuilder::new().has_headers(false).from_writer(BufWriter::with_capacity(RUN_BUFFER, temp));
        for row in &self.held {
            row.spill(&mut self.record);
            out.write_record(&self.record).map_err(|e| fail("cannot write the temporary sort file", &e))?;
        }
        let mut temp = out.into_inner().map_err(|e| fail("cannot write the temporary sort file", &e))?.into_inner().map_err(|e| fail("cannot write the temporary sort file", &e.error()))?;
        temp.seek(SeekFrom::Start(0)).map_err(|e| fail("cannot read the temporary sort file", &e))?;
        self.runs.push(temp);
        self.held.clear();
        Ok(true)
    }
}

/// Sorted rows, handed out in batches.
pub(crate) enum Sorted<R> {
    Memory(std::vec::IntoIter<R>),
    Runs(Merge<R>),
}

impl<R: RowSpec> Sorted<R> {
    /// The next `n` rows (fewer at the end; none when all were handed out).
    pub fn next_batch(&mut self, n: usize) -> Result<Vec<R>, ImportFailure> {
        match self {
            Sorted::Memory(rows) => Ok(rows.take(n).collect()),
            Sorted::Runs(merge) => merge.next_batch(n),
        }
    }
}

/// The next row of one run.
struct Head<R> {
    row: R,
    run: usize,
}

/// Least key first (the heap is a max-heap); among equal keys the earlier run, so the row that
/// came first in the file stays first.
impl<R: RowSpec> Ord for Head<R> {
    fn cmp(&self, other: &Self) -> Ordering {
        R::cmp_key(&other.row, &self.row).then(other.run.cmp(&self.run))
    }
}

impl<R: RowSpec> PartialOrd for Head<R> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<R: RowSpec> PartialEq for Head<R> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<R: RowSpec> Eq for Head<R> {}

/// Runs read back together, least key first.
pub(crate) struct Merge<R> {
    file: String,
    header: Header,
    runs: Vec<csv::Reader<BufReader<File>>>,
    heads: BinaryHeap<Head<R>>,
    record: csv::StringRecord,
}

impl<R: RowSpec> Merge<R> {
    fn new(file: String, runs: Vec<File>) -> Result<Self, ImportFailure> {
        let runs = runs
            .into_iter()
            .map(|f| csv::ReaderBuilder::new().has_headers(false).from_reader(BufReader::with_capacity(RUN_BUFFER, f)))
            .collect();
        let header = Header::of(R::KNOWN);
        let mut merge = Merge { file, header, runs, heads: BinaryHeap::new(), record: csv::StringRecord::new() };
        for run in 0..merge.runs.len() {
            merge.refill(run)?;
        }
        Ok(merge)
    }

    fn next_batch(&mut self, n: usize) -> Result<Vec<R>, ImportFailure> {
        let mut batch = Vec::with_capacity(n);
        while batch.len() < n {
            let Some(Head { row, run }) = self.heads.pop() else { break };
            batch.push(row);
            self.refill(run)?;
        }
        Ok(batch)
    }

    /// Reads run `run`'s next row into the heap (nothing at its end).
    fn refill(&mut self, run: usize) -> Result<(), ImportFailure> {
        let fail = |e: String| ImportFailure::single(ImportError::file(&self.file, format!("cannot read the temporary sort file back: {e}")));
        if !self.runs[run].read_record(&mut self.record).map_err(|e| fail(e.to_string()))? {
            return Ok(());
        }
        let row = R::parse(&Rec::new(&self.header, &self.record))
            .map_err(|errors| fail(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))?;
        self.heads.push(Head { row, run });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Sorter;
    use kizuna_domain::usage::{UsageEvent, UsageMessage};

    fn event(account: &str, id: &str, value: f64) -> UsageMessage {
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

    fn sorted(rows: Vec<UsageMessage>, stretch: usize) -> Vec<(String, String, f64)> {
        let mut sorter = Sorter::with_stretch("t.csv", stretch);
        for row in rows {
            assert!(sorter.push(row).unwrap().is_none(), "events go to runs");
        }
        let (spilled, mut out) = (!sorter.runs.is_empty(), sorter.finish().unwrap());
        assert_eq!(spilled, stretch < 7, "a file of one stretch stays in memory");
        let mut got = vec![];
        loop {
            let batch = out.next_batch(2).unwrap();
            if batch.is_empty() {
                return got;
            }
            for m in batch {
                let UsageMessage::Event(e) = &m else { unreachable!() };
                assert_eq!(m, event(e.account_id.as_deref().unwrap(), &e.message_id, e.value.unwrap()), "read back whole");
                got.push((e.account_id.clone().unwrap(), e.message_id.clone(), e.value.unwrap()));
            }
        }
    }

    #[test]
    fn runs_on_disk_merge_into_key_order_keeping_the_file_order_of_repeats() {
        let rows = || {
            vec![
                event("C", "m1", 1.0),
                event("A", "m5", 2.0),
                event("B", "m1", 3.0),
                event("A", "m5", 4.0),
                event("C", "m0", 5.0),
                event("A", "m5", 6.0),
                event("A", "m1", 7.0),
            ]
        };
        let want: Vec<(String, String, f64)> =
            [("A", "m1", 7.0), ("A", "m5", 2.0), ("A", "m5", 4.0), ("A", "m5", 6.0), ("B", "m1", 3.0), ("C", "m0", 5.0), ("C", "m1", 1.0)]
                .iter()
                .map(|(a, m, v)| (a.to_string(), m.to_string(), *v))
                .collect();
        for stretch in [1, 2, 3, 6, 7, 100] {
            assert_eq!(sorted(rows(), stretch), want, "runs of {stretch}");
        }
    }
}
