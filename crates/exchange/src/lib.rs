//! Open edX data files: learners (`auth_user`: id, username, email) and learner state
//! (`courseware_studentmodule`: id, module_type, module_id, student_id, state, grade,
//! max_grade, done, created, modified, course_id) in CSV with a header or JSON lines, and
//! Open edX tracking-log lines. No database, no async: readers take any [`BufRead`], writers
//! any [`Write`].
//!
//! Reading streams: memory is one row, whatever the file size. Each row comes back typed or as
//! a [`RowError`] (row and line number, column, reason) so a caller can report it and go on;
//! only an unreadable file or a CSV header without the needed columns stops reading
//! ([`FileError`]).
//!
//! Writing is byte-stable: a file written here, read back and written again is identical. The
//! rules, chosen so that the files also load into Open edX's MySQL tables:
//!
//! - columns in the order of [`Table::COLUMNS`]; CSV has a header line; lines end in `\n`;
//! - CSV quotes a field only when it contains `,`, `"`, `\r` or `\n` (state JSON always does),
//!   doubling inner quotes; NULL is an empty unquoted field and the empty string is `""`;
//!   JSON lines use `null`;
//! - grades are the shortest decimal text that reads back as the same `f64`, no exponent, no
//!   trailing `.0` (`1`, `0.5`); when reading, `NULL` and `\N` are also NULL for grades;
//! - timestamps are UTC `YYYY-MM-DD HH:MM:SS.ffffff` (see [`format_timestamp`]);
//! - `state` is kept byte for byte, valid JSON or not (Open edX has rows that are not).
//!
//! ```
//! use coursetasks_exchange::{Format, ModuleRow, RowReader, RowWriter};
//! let csv = "id,module_type,module_id,student_id,state,grade,max_grade,done,created,modified,course_id\n\
//!            7,problem,block-v1:O+C+R+type@problem+block@p1,3,\"{\"\"attempts\"\": 1}\",1,2,na,\
//!            2024-03-01 12:00:00.000000,2024-03-01 12:00:00.000000,course-v1:O+C+R\n";
//! let mut writer = RowWriter::<ModuleRow, _>::new(Vec::new(), Format::Csv)?;
//! for item in RowReader::<ModuleRow, _>::new(csv.as_bytes(), Format::Csv)? {
//!     let record = item?.expect("a good row");
//!     assert_eq!(record.value.state.as_deref(), Some("{\"attempts\": 1}"));
//!     writer.write(&record.value)?;
//! }
//! assert_eq!(writer.finish()?, csv.as_bytes());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod csv;
mod tables;
mod time;
mod tracking;
mod value;

use std::fmt;
use std::io::{self, BufRead, Write};
use std::marker::PhantomData;
use std::path::Path;

pub use tables::{CsvCells, LearnerRow, ModuleRow, Table};
pub use time::{format_timestamp, parse_timestamp};
pub use tracking::{TrackingEvent, org_of_course};
pub use value::FieldError;

use crate::csv::{CsvError, CsvReader};

/// A file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Comma-separated values with a header line.
    Csv,
    /// One JSON object per line.
    JsonLines,
}

impl Format {
    /// The format a file name implies: `.csv` → CSV; `.jsonl`, `.ndjson`, `.json` → JSON lines
    /// (a trailing `.gz` is looked through).
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".csv") {
            Some(Format::Csv)
        } else if [".jsonl", ".ndjson", ".json"]
            .iter()
            .any(|e| name.ends_with(e))
        {
            Some(Format::JsonLines)
        } else {
            None
        }
    }

    /// Guesses from the first bytes without consuming them: a `{` (after a byte order mark or
    /// white space) means JSON lines, anything else CSV.
    pub fn sniff(input: &mut impl BufRead) -> io::Result<Format> {
        let buf = input.fill_buf()?;
        let buf = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(buf);
        let first = buf.iter().find(|b| !b.is_ascii_whitespace());
        Ok(if first == Some(&b'{') {
            Format::JsonLines
        } else {
            Format::Csv
        })
    }

    /// `csv` or `jsonl`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::JsonLines => "jsonl",
        }
    }
}

/// A row that could not be read. Reading goes on with the next row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// Data row number, 1-based (a CSV header is not counted; blank lines are not rows).
    pub row: u64,
    /// Line of the file where the row starts, 1-based.
    pub line: u64,
    /// The column at fault, when one is.
    pub column: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {} (line {})", self.row, self.line)?;
        if let Some(column) = &self.column {
            write!(f, ", column {column}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for RowError {}

/// The file as a whole cannot be read: reading stops.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Reading failed.
    #[error("reading line {line}: {source}")]
    Io {
        /// Last line read before the failure.
        line: u64,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The CSV header is missing, names a column twice, or lacks a required column.
    #[error("line 1: {0}")]
    Header(String),
}

/// A row read from a file, with where it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<T> {
    /// Data row number, 1-based.
    pub row: u64,
    /// Line where the row starts, 1-based.
    pub line: u64,
    /// The row.
    pub value: T,
}

/// One step of reading: a row, or why this row is bad.
pub type RowResult<T> = Result<Record<T>, RowError>;

enum Source<R> {
    Csv {
        reader: CsvReader<R>,
        positions: Vec<Option<usize>>,
        width: usize,
    },
    Json {
        input: R,
        buf: Vec<u8>,
        lines: u64,
    },
}

/// Streams the rows of one table from a CSV or JSON lines file.
///
/// Yields `Ok(Ok(record))` for a good row, `Ok(Err(row_error))` for a bad one (go on reading),
/// and `Err(file_error)` once if the input fails (then nothing more).
pub struct RowReader<T, R> {
    source: Source<R>,
    rows: u64,
    failed: bool,
    table: PhantomData<fn() -> T>,
}

impl<T: Table, R: BufRead> RowReader<T, R> {
    /// Starts reading; for CSV, reads and checks the header.
    pub fn new(input: R, format: Format) -> Result<Self, FileError> {
        let source = match format {
            Format::JsonLines => Source::Json {
                input,
                buf: Vec::with_capacity(4096),
                lines: 0,
            },
            Format::Csv => {
                let mut reader = CsvReader::new(input);
                let header = match reader.read_record() {
                    Ok(true) => (0..reader.len())
                        .map(|i| String::from_utf8_lossy(reader.bytes(i)).trim().to_owned())
                        .collect::<Vec<_>>(),
                    Ok(false) => {
                        return Err(FileError::Header(format!(
                            "the file is empty; a {} CSV file starts with a header line ({})",
                            T::NAME,
                            T::COLUMNS.join(",")
                        )));
                    }
                    Err(CsvError::Io(source)) => return Err(FileError::Io { line: 1, source }),
                    Err(CsvError::Syntax(m)) => return Err(FileError::Header(m)),
                };
                let positions =
                    tables::header_positions::<T>(&header).map_err(FileError::Header)?;
                Source::Csv {
                    reader,
                    positions,
                    width: header.len(),
                }
            }
        };
        Ok(RowReader {
            source,
            rows: 0,
            failed: false,
            table: PhantomData,
        })
    }

    fn bad(&self, line: u64, e: FieldError) -> RowError {
        RowError {
            row: self.rows,
            line,
            column: e.column.map(str::to_owned),
            reason: e.reason,
        }
    }
}

impl<T: Table, R: BufRead> Iterator for RowReader<T, R> {
    type Item = Result<RowResult<T>, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match &mut self.source {
            Source::Csv {
                reader,
                positions,
                width,
            } => {
                let read = reader.read_record();
                let line = reader.record_line();
                match read {
                    Ok(false) => None,
                    Err(CsvError::Io(source)) => {
                        self.failed = true;
                        Some(Err(FileError::Io { line, source }))
                    }
                    Err(CsvError::Syntax(reason)) => {
                        self.rows += 1;
                        Some(Ok(Err(self.bad(line, FieldError::row(reason)))))
                    }
                    Ok(true) => {
                        self.rows += 1;
                        let parsed = if reader.len() != *width {
                            Err(FieldError::row(format!(
                                "has {} fields, the header has {}",
                                reader.len(),
                                width
                            )))
                        } else {
                            T::from_csv(&CsvCells {
                                reader: &*reader,
                                positions,
                            })
                        };
                        Some(Ok(match parsed {
                            Ok(value) => Ok(Record {
                                row: self.rows,
                                line,
                                value,
                            }),
                            Err(e) => Err(self.bad(line, e)),
                        }))
                    }
                }
            }
            Source::Json { input, buf, lines } => loop {
                buf.clear();
                match input.read_until(b'\n', buf) {
                    Ok(0) => return None,
                    Ok(_) => {}
                    Err(source) => {
                        self.failed = true;
                        return Some(Err(FileError::Io {
                            line: *lines + 1,
                            source,
                        }));
                    }
                }
                *lines += 1;
                let line = *lines;
                let mut text: &[u8] = buf;
                if line == 1 {
                    text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
                }
                if text.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                self.rows += 1;
                let parsed = T::from_json(text);
                return Some(Ok(match parsed {
                    Ok(value) => Ok(Record {
                        row: self.rows,
                        line,
                        value,
                    }),
                    Err(e) => Err(self.bad(line, e)),
                }));
            },
        }
    }
}

/// Writes rows of one table as CSV (header first) or JSON lines, buffering a row at a time.
pub struct RowWriter<T, W: Write> {
    out: W,
    format: Format,
    buf: Vec<u8>,
    table: PhantomData<fn(&T)>,
}

impl<T: Table, W: Write> RowWriter<T, W> {
    /// Starts a file; for CSV, writes the header line.
    pub fn new(mut out: W, format: Format) -> io::Result<Self> {
        if format == Format::Csv {
            out.write_all(T::COLUMNS.join(",").as_bytes())?;
            out.write_all(b"\n")?;
        }
        Ok(RowWriter {
            out,
            format,
            buf: Vec::with_capacity(4096),
            table: PhantomData,
        })
    }

    /// Writes one row.
    pub fn write(&mut self, row: &T) -> io::Result<()> {
        self.buf.clear();
        match self.format {
            Format::Csv => row.write_csv(&mut self.buf),
            Format::JsonLines => row.write_json(&mut self.buf),
        }
        self.out.write_all(&self.buf)
    }

    /// Flushes and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}
