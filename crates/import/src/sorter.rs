//! Rows put in key order before they are written. Up to `R::SORT_ROWS` rows are sorted in
//! memory. A longer file is sorted in stretches of that many, each written to a temporary file
//! (a run), and the runs are merged while the rows are written: the whole file reaches the
//! database in one key order, so each page of its tables is filled in one pass whatever the
//! file's size, and memory stays flat.

use crate::error::{ImportError, ImportFailure};
use crate::reader::{Header, RowSpec};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, SeekFrom};

/// Buffer of each run while it is written or read back.
const RUN_BUFFER: usize = 256 * 1024;
/// Runs merged at the end at most: beyond, those written so far are first merged into one
/// (a file of over 40 million events), so open files and buffers stay bounded.
const MAX_RUNS: usize = 100;

pub(crate) struct Sorter<R> {
    file: String,
    /// Rows sorted in memory at a time: `R::SORT_ROWS` (fewer in tests).
    stretch: usize,
    /// [`MAX_RUNS`] (fewer in tests).
    max_runs: usize,
    held: Vec<R>,
    runs: Vec<File>,
    /// Stretches being sorted and written to runs, each on a thread of its own while the next
    /// one is read, oldest first; each hands back its emptied buffer for a stretch after.
    writing: std::collections::VecDeque<std::thread::JoinHandle<Result<(File, Vec<R>), ImportFailure>>>,
}

/// Runs written at once. Writing one (sorting and spilling) took longer than reading it, so
/// with one at a time the reader waited, and a core was idle half the time: 5.7 s before a 10M
/// import's first write.
const WRITERS: usize = 2;

impl<R: RowSpec> Sorter<R> {
    pub fn new(file: &str) -> Self {
        Self::with_stretch(file, R::SORT_ROWS, MAX_RUNS)
    }

    fn with_stretch(file: &str, stretch: usize, max_runs: usize) -> Self {
        // Room for a whole stretch at once: grown by doubling, it was copied and its new pages
        // cleared over and over (a tenth of a large import's time).
        Sorter { file: file.to_string(), stretch, max_runs, held: Vec::with_capacity(stretch), runs: vec![], writing: Default::default() }
    }

    /// Holds `row`. A full stretch goes to a run first (a file of one stretch is sorted in
    /// memory only); for a kind that cannot be written to one, it is returned in key order, to
    /// be written as it is.
    pub fn push(&mut self, row: R) -> Result<Option<Vec<R>>, ImportFailure> {
        let mut full = None;
        if self.held.len() >= self.stretch {
            if self.held[0].spill(&mut csv::StringRecord::new()) {
                let spare = if self.writing.len() >= WRITERS { self.wait_oldest()? } else { None };
                let spare = spare.unwrap_or_else(|| Vec::with_capacity(self.stretch));
                let (file, rows) = (self.file.clone(), std::mem::replace(&mut self.held, spare));
                self.writing.push_back(std::thread::spawn(move || write_run(&file, rows)));
            } else {
                self.held.sort_by(R::cmp_key);
                full = Some(std::mem::replace(&mut self.held, Vec::with_capacity(self.stretch)));
            }
        }
        self.held.push(row);
        Ok(full)
    }

    /// Every row held or in runs, in key order.
    pub fn finish(mut self) -> Result<Sorted<R>, ImportFailure> {
        while !self.writing.is_empty() {
            self.wait_oldest()?;
        }
        if self.runs.is_empty() {
            self.held.sort_by(R::cmp_key);
            return Ok(Sorted::Memory(self.held.into_iter()));
        }
        let rows = std::mem::take(&mut self.held);
        if !rows.is_empty() {
            self.runs.push(write_run(&self.file, rows)?.0);
        }
        Merge::new(self.file, self.runs).map(Sorted::Runs)
    }

    /// Waits for the oldest run being written (runs stay in the file's order) and returns its
    /// buffer.
    fn wait_oldest(&mut self) -> Result<Option<Vec<R>>, ImportFailure> {
        let Some(writing) = self.writing.pop_front() else { return Ok(None) };
        let stopped = |_| ImportFailure::single(ImportError::file(&self.file, "the thread sorting the rows stopped".to_string()));
        let (run, rows) = writing.join().map_err(stopped)??;
        self.runs.push(run);
        if self.runs.len() >= self.max_runs {
            let runs = std::mem::take(&mut self.runs);
            self.runs.push(merge_runs::<R>(&self.file, runs)?);
        }
        Ok(Some(rows))
    }
}

/// Merges `runs` into one run.
fn merge_runs<R: RowSpec>(file: &str, runs: Vec<File>) -> Result<File, ImportFailure> {
    let mut merge = Merge::<R>::new(file.to_string(), runs)?;
    let mut run = RunWriter::new(file)?;
    loop {
        let rows = merge.next_batch(10_000)?;
        if rows.is_empty() {
            return run.finish();
        }
        rows.iter().try_for_each(|row| run.write(row))?;
    }
}

/// A run being written.
struct RunWriter {
    file: String,
    out: csv::Writer<BufWriter<File>>,
    record: csv::StringRecord,
}

impl RunWriter {
    fn new(file: &str) -> Result<Self, ImportFailure> {
        let temp = tempfile::tempfile().map_err(|e| fail(file, "cannot create a temporary file to sort the rows in", &e))?;
        let out = csv::WriterBuilder::new().has_headers(false).from_writer(BufWriter::with_capacity(RUN_BUFFER, temp));
        Ok(RunWriter { file: file.to_string(), out, record: csv::StringRecord::new() })
    }

    fn write<R: RowSpec>(&mut self, row: &R) -> Result<(), ImportFailure> {
        row.spill(&mut self.record);
        self.out.write_record(&self.record).map_err(|e| fail(&self.file, "cannot write the temporary sort file", &e))
    }

    /// The run, ready to be read from its start.
    fn finish(self) -> Result<File, ImportFailure> {
        let file = self.file;
        let written = self.out.into_inner().map_err(|e| fail(&file, "cannot write the temporary sort file", &e))?;
        let mut temp = written.into_inner().map_err(|e| fail(&file, "cannot write the temporary sort file", &e.error()))?;
        temp.seek(SeekFrom::Start(0)).map_err(|e| fail(&file, "cannot read the temporary sort file", &e))?;
        Ok(temp)
    }
}

fn fail(file: &str, what: &str, e: &dyn std::fmt::Display) -> ImportFailure {
    ImportFailure::single(ImportError::file(file, format!("{what}: {e}")))
}

/// Sorts `rows`, writes them to a new run and hands back the run and the emptied buffer.
fn write_run<R: RowSpec>(file: &str, mut rows: Vec<R>) -> Result<(File, Vec<R>), ImportFailure> {
    rows.sort_by(R::cmp_key);
    let mut run = RunWriter::new(file)?;
    rows.iter().try_for_each(|row| run.write(row))?;
    rows.clear();
    Ok((run.finish()?, rows))
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

    /// The least row's place in the heap is taken by the next row of its run: one sift instead
    /// of a pop and a push, which moved the large rows about twice as often.
    fn next_batch(&mut self, n: usize) -> Result<Vec<R>, ImportFailure> {
        let mut batch = Vec::with_capacity(n);
        while batch.len() < n {
            let Some(mut least) = self.heads.peek_mut() else { break };
            let row = match read_row::<R>(&self.file, &self.header, &mut self.runs[least.run], &mut self.record)? {
                Some(next) => std::mem::replace(&mut least.row, next),
                None => std::collections::binary_heap::PeekMut::pop(least).row,
            };
            batch.push(row);
        }
        Ok(batch)
    }

    /// Reads run `run`'s next row into the heap (nothing at its end).
    fn refill(&mut self, run: usize) -> Result<(), ImportFailure> {
        if let Some(row) = read_row::<R>(&self.file, &self.header, &mut self.runs[run], &mut self.record)? {
            self.heads.push(Head { row, run });
        }
        Ok(())
    }
}

/// The next row of a run, `None` at its end.
fn read_row<R: RowSpec>(file: &str, header: &Header, run: &mut csv::Reader<BufReader<File>>, record: &mut csv::StringRecord) -> Result<Option<R>, ImportFailure> {
    let what = "cannot read the temporary sort file back";
    if !run.read_record(record).map_err(|e| fail(file, what, &e))? {
        return Ok(None);
    }
    R::unspill(header, record).map(Some).map_err(|e| fail(file, what, &e))
}

#[cfg(test)]
mod tests {
    use super::Sorter;
    use crate::events::tests::event;
    use kizuna_domain::usage::UsageMessage;

    fn sorted(rows: Vec<UsageMessage>, stretch: usize, max_runs: usize) -> Vec<(String, String, f64)> {
        let mut sorter = Sorter::with_stretch("t.csv", stretch, max_runs);
        for row in rows {
            assert!(sorter.push(row).unwrap().is_none(), "events go to runs");
        }
        let (spilled, mut out) = (!sorter.runs.is_empty() || !sorter.writing.is_empty(), sorter.finish().unwrap());
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
            assert_eq!(sorted(rows(), stretch, 100), want, "runs of {stretch}");
        }
        for max_runs in [2, 3] {
            assert_eq!(sorted(rows(), 1, max_runs), want, "runs of 1, merged on reaching {max_runs}");
        }
    }
}
