use std::fmt;

/// Stop listing after this many problems; the count of all of them is still reported.
pub const MAX_REPORTED: usize = 20;

/// One problem: `subscriptions.csv:17: end_date "2020-13-01" is not a date (YYYY-MM-DD)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    pub file: String,
    pub line: Option<u64>,
    pub message: String,
}

impl ImportError {
    pub fn file(file: &str, message: impl Into<String>) -> Self {
        ImportError { file: file.to_string(), line: None, message: message.into() }
    }

    pub fn at(file: &str, line: u64, message: impl Into<String>) -> Self {
        ImportError { file: file.to_string(), line: Some(line), message: message.into() }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// A failed import: nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFailure {
    pub errors: Vec<ImportError>,
    pub total_errors: u64,
    /// The import assumed its events were new and met one stored before: it is done again.
    pub(crate) stored_before: bool,
}

impl ImportFailure {
    pub fn single(e: ImportError) -> Self {
        ImportFailure::new(vec![e], 1)
    }

    pub(crate) fn new(errors: Vec<ImportError>, total_errors: u64) -> Self {
        ImportFailure { errors, total_errors, stored_before: false }
    }

    /// The database refused a batch whose rows end at `line`.
    pub(crate) fn refused(file: &str, line: u64, noun: &str, e: kizuna_store::StoreError) -> Self {
        let stored_before = matches!(e, kizuna_store::StoreError::StoredBefore);
        let e = ImportError::at(file, line, format!("the database refused the {noun} up to here: {e}"));
        ImportFailure { stored_before, ..ImportFailure::single(e) }
    }
}

impl fmt::Display for ImportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.errors {
            writeln!(f, "{e}")?;
        }
        let file = self.errors.first().map(|e| e.file.as_str()).unwrap_or("import");
        let more = self.total_errors.saturating_sub(self.errors.len() as u64);
        if more > 0 {
            writeln!(f, "{file}: ... and {more} more errors")?;
        }
        write!(f, "{file}: import failed with {} error(s); nothing was written", self.total_errors)
    }
}

impl std::error::Error for ImportFailure {}
