//! Learner data in and out: Open edX `auth_user` and `courseware_studentmodule` files imported
//! into the store and exported from it (formats in `coursetasks-exchange`).
//!
//! An import streams: a blocking thread parses and validates rows and hands batches of
//! `batch_rows` to the writer through a channel of two batches, so memory is a few batches
//! whatever the file size, and parsing overlaps the database writes. Each batch is one store
//! transaction. A bad row is reported (row, line, column, reason; the first `keep_bad_rows` in
//! full, the rest counted) and the good rows are loaded. With `strict`, a first pass reads and
//! checks the whole file — values, courses, blocks, and against the store: unknown learners,
//! taken module ids, usernames or emails of other learners — without writing; only a clean
//! file is then read again and written. Writes are upserts, so importing a file again changes
//! nothing.
//!
//! Module rows keep Open edX's `id` (export reproduces it) and their `module_id` as written
//! (either key form; task scans match both). `course_id` may use either course key form and is
//! stored as the course's key.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use coursetasks_exchange::{
    FieldError, FileError, Format, LearnerRow, ModuleRow, RowError, RowReader, RowWriter, Table,
};
use coursetasks_olx::parse_course_key;
use coursetasks_store::{
    LearnerRecord, ModuleRecord, ModuleRejection, ModuleScope, Store, StoreError,
};
use serde::Serialize;
use tokio::sync::mpsc;

/// Opens the input, once per pass (twice with `strict`).
pub type OpenInput = Arc<dyn Fn() -> io::Result<Box<dyn BufRead + Send>> + Send + Sync>;

/// An opener for a file; a name ending in `.gz` is decompressed while reading.
pub fn open_file(path: impl Into<PathBuf>) -> OpenInput {
    let path: PathBuf = path.into();
    Arc::new(move || {
        let file = File::open(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let gz = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
        Ok(if gz {
            Box::new(BufReader::with_capacity(
                1 << 16,
                flate2::read::MultiGzDecoder::new(file),
            ))
        } else {
            Box::new(BufReader::with_capacity(1 << 16, file))
        })
    })
}

/// The format of a file: the one asked for, else the one its name implies, else a guess from
/// its first bytes.
pub fn detect_format(path: &Path, asked: Option<Format>, open: &OpenInput) -> io::Result<Format> {
    if let Some(format) = asked.or_else(|| Format::from_path(path)) {
        return Ok(format);
    }
    Format::sniff(&mut open()?)
}

/// How to import.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    /// The file's format.
    pub format: Format,
    /// Write nothing unless every row is good.
    pub strict: bool,
    /// Rows per batch (one transaction each).
    pub batch_rows: usize,
    /// Bad rows reported in full; the rest are only counted.
    pub keep_bad_rows: usize,
}

impl ImportOptions {
    /// Batches of 10,000 rows, the first 100 bad rows in full, not strict.
    pub fn new(format: Format) -> Self {
        ImportOptions {
            format,
            strict: false,
            batch_rows: 10_000,
            keep_bad_rows: 100,
        }
    }
}

/// A row that was not loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRow {
    /// Data row number, 1-based.
    pub row: u64,
    /// Line of the file where it starts.
    pub line: u64,
    /// The column at fault, if one is.
    pub column: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "row {} (line {})", self.row, self.line)?;
        if let Some(c) = &self.column {
            write!(f, ", column {c}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl From<RowError> for BadRow {
    fn from(e: RowError) -> Self {
        BadRow {
            row: e.row,
            line: e.line,
            column: e.column,
            reason: e.reason,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataImportReport {
    /// `auth_user` or `courseware_studentmodule`.
    pub table: &'static str,
    /// `csv` or `jsonl`.
    pub format: &'static str,
    /// Whether `--strict` was asked for.
    pub strict: bool,
    /// Data rows read.
    pub rows: u64,
    /// Rows inserted or replaced.
    pub written: u64,
    /// Rows not loaded.
    pub bad_rows: u64,
    /// The first bad rows, in row order.
    pub first_bad_rows: Vec<BadRow>,
    /// Strict import with bad rows: nothing was written.
    pub aborted: bool,
}

/// Why an import or export could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The input cannot be opened or read, or its CSV header is wrong.
    #[error(transparent)]
    File(#[from] FileError),
    /// Opening the input failed.
    #[error("{0}")]
    Open(io::Error),
    /// Writing the output failed.
    #[error("writing the output: {0}")]
    Write(io::Error),
    /// Something named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The first `keep` bad rows and the count of all.
#[derive(Debug, Default)]
struct BadRows {
    keep: usize,
    count: u64,
    first: Vec<BadRow>,
}

impl BadRows {
    fn new(keep: usize) -> Self {
        BadRows {
            keep,
            ..Default::default()
        }
    }

    fn push(&mut self, row: BadRow) {
        self.count += 1;
        if self.first.len() < self.keep {
            self.first.push(row);
        }
    }

    /// Joins rows found while parsing with rows found while writing (both in row order).
    fn merge(mut self, other: BadRows) -> BadRows {
        self.count += other.count;
        self.first.extend(other.first);
        self.first.sort_by_key(|b| b.row);
        self.first.truncate(self.keep);
        self
    }
}

/// A per-row failure found by the store, by index in the batch.
type Failure = (usize, &'static str, String);

/// One table's import rules.
trait Loader: Send + Sync + 'static {
    type Row: Table + Send + 'static;
    type Record: Send + 'static;
    /// Checks a parsed row against what is known without the store (courses, blocks) and turns
    /// it into a store record.
    fn convert(&self, row: Self::Row) -> Result<Self::Record, FieldError>;
    /// Read-only check of a batch against the store.
    async fn check(
        &self,
        store: &Store,
        batch: &[Self::Record],
    ) -> Result<Vec<Failure>, StoreError>;
    /// Writes a batch: rows written and the rows refused.
    async fn write(
        &self,
        store: &Store,
        batch: &[Self::Record],
    ) -> Result<(u64, Vec<Failure>), StoreError>;
}

struct Batch<R> {
    /// (row, line) of each record.
    at: Vec<(u64, u64)>,
    records: Vec<R>,
}

struct Parsed {
    rows: u64,
    bad: BadRows,
}

/// One pass over the input: parse on a blocking thread, check or write batches here.
async fn pass<L: Loader>(
    store: &Store,
    loader: &Arc<L>,
    open: &OpenInput,
    options: ImportOptions,
    write: bool,
) -> Result<(Parsed, u64, BadRows), DataError> {
    let (tx, mut rx) = mpsc::channel::<Batch<L::Record>>(2);
    let parser = {
        let loader = Arc::clone(loader);
        let open = Arc::clone(open);
        tokio::task::spawn_blocking(move || -> Result<Parsed, DataError> {
            let input = open().map_err(DataError::Open)?;
            let reader = RowReader::<L::Row, _>::new(input, options.format)?;
            let mut bad = BadRows::new(options.keep_bad_rows);
            let mut rows = 0;
            let new_batch = || Batch {
                at: Vec::with_capacity(options.batch_rows),
                records: Vec::with_capacity(options.batch_rows),
            };
            let mut batch = new_batch();
            for item in reader {
                rows += 1;
                match item? {
                    Err(e) => bad.push(e.into()),
                    Ok(record) => match loader.convert(record.value) {
                        Ok(converted) => {
                            batch.at.push((record.row, record.line));
                            batch.records.push(converted);
                            if batch.records.len() >= options.batch_rows {
                                let full = std::mem::replace(&mut batch, new_batch());
                                if tx.blocking_send(full).is_err() {
                                    // The writer stopped (a store error it reports itself).
                                    return Ok(Parsed { rows, bad });
                                }
                            }
                        }
                        Err(e) => bad.push(BadRow {
                            row: record.row,
                            line: record.line,
                            column: e.column.map(str::to_owned),
                            reason: e.reason,
                        }),
                    },
                }
            }
            if !batch.records.is_empty() {
                let _ = tx.blocking_send(batch);
            }
            Ok(Parsed { rows, bad })
        })
    };
    let mut written = 0;
    let mut refused = BadRows::new(options.keep_bad_rows);
    while let Some(batch) = rx.recv().await {
        let failures = if write {
            let (n, failures) = loader.write(store, &batch.records).await?;
            written += n;
            failures
        } else {
            loader.check(store, &batch.records).await?
        };
        for (i, column, reason) in failures {
            let (row, line) = batch.at[i];
            refused.push(BadRow {
                row,
                line,
                column: Some(column.to_owned()),
                reason,
            });
        }
    }
    let parsed = parser.await.map_err(|e| {
        DataError::Open(io::Error::other(format!("the reader thread failed: {e}")))
    })??;
    Ok((parsed, written, refused))
}

async fn run<L: Loader>(
    store: &Store,
    loader: L,
    open: &OpenInput,
    options: ImportOptions,
) -> Result<DataImportReport, DataError> {
    let loader = Arc::new(loader);
    let report = |rows, written, bad: BadRows, aborted| DataImportReport {
        table: L::Row::NAME,
        format: options.format.name(),
        strict: options.strict,
        rows,
        written,
        bad_rows: bad.count,
        first_bad_rows: bad.first,
        aborted,
    };
    if options.strict {
        let (parsed, _, refused) = pass(store, &loader, open, options, false).await?;
        let bad = parsed.bad.merge(refused);
        if bad.count > 0 {
            return Ok(report(parsed.rows, 0, bad, true));
        }
    }
    let (parsed, written, refused) = pass(store, &loader, open, options, true).await?;
    Ok(report(
        parsed.rows,
        written,
        parsed.bad.merge(refused),
        false,
    ))
}

// ----- learners ----------------------------------------------------------------------------

struct Learners;

impl Loader for Learners {
    type Row = LearnerRow;
    type Record = LearnerRecord;

    fn convert(&self, row: LearnerRow) -> Result<LearnerRecord, FieldError> {
        Ok(LearnerRecord {
            id: row.id,
            username: row.username,
            email: row.email,
        })
    }

    async fn check(
        &self,
        store: &Store,
        batch: &[LearnerRecord],
    ) -> Result<Vec<Failure>, StoreError> {
        let conflicts = store.check_learners(batch).await?;
        Ok(conflicts
            .into_iter()
            .map(|c| {
                let column = if c.column == "email" {
                    "email"
                } else {
                    "username"
                };
                let value = if column == "email" {
                    &batch[c.index].email
                } else {
                    &batch[c.index].username
                };
                (
                    c.index,
                    column,
                    format!("{value:?} belongs to learner {}", c.other_id),
                )
            })
            .collect())
    }

    async fn write(
        &self,
        store: &Store,
        batch: &[LearnerRecord],
    ) -> Result<(u64, Vec<Failure>), StoreError> {
        // Clashes with stored learners are found up front; a clash inside the batch (two rows
        // with one username) still makes the store refuse it, and halving finds the rows.
        let mut failures = self.check(store, batch).await?;
        let mut refused = vec![false; batch.len()];
        for (i, _, _) in &failures {
            refused[*i] = true;
        }
        let todo: Vec<usize> = (0..batch.len()).filter(|&i| !refused[i]).collect();
        let mut written = 0;
        let mut stack = vec![todo];
        while let Some(indices) = stack.pop() {
            if indices.is_empty() {
                continue;
            }
            let records: Vec<LearnerRecord> = indices.iter().map(|&i| batch[i].clone()).collect();
            match store.upsert_learners(&records).await {
                Ok(n) => written += n,
                Err(StoreError::Conflict { message, .. }) if indices.len() == 1 => {
                    failures.push((
                        indices[0],
                        "username",
                        format!("refused by the store: {message}"),
                    ));
                }
                Err(StoreError::Conflict { .. }) => {
                    let (a, b) = indices.split_at(indices.len() / 2);
                    // Later half first on the stack, so rows are retried in file order.
                    stack.push(b.to_vec());
                    stack.push(a.to_vec());
                }
                Err(e) => return Err(e),
            }
        }
        failures.sort_by_key(|f| f.0);
        Ok((written, failures))
    }
}

/// Imports learners (`auth_user` rows) from `open`.
pub async fn import_learners(
    store: &Store,
    open: &OpenInput,
    options: ImportOptions,
) -> Result<DataImportReport, DataError> {
    run(store, Learners, open, options).await
}

// ----- learner state -----------------------------------------------------------------------

/// Where a stored block belongs.
struct BlockInfo {
    course_key: String,
    block_type: String,
}

struct Modules {
    /// Course key in either form → the stored key.
    courses: HashMap<String, String>,
    /// Usage key in either form → its block.
    blocks: HashMap<String, Arc<BlockInfo>>,
    /// Used for rows without times.
    now: chrono::DateTime<Utc>,
}

impl Modules {
    /// Loads every stored course's keys and blocks: the size of the catalog, not of the file.
    async fn load(store: &Store) -> Result<Self, StoreError> {
        let mut courses = HashMap::new();
        let mut blocks = HashMap::new();
        for course in store.list_courses().await? {
            if let Ok(key) = parse_course_key(&course.key) {
                courses.insert(key.deprecated_string(), course.key.clone());
            }
            courses.insert(course.key.clone(), course.key.clone());
            for block in store.list_blocks(&course.key).await? {
                let info = Arc::new(BlockInfo {
                    course_key: course.key.clone(),
                    block_type: block.block_type.clone(),
                });
                if let Some(legacy) = &block.legacy_key {
                    blocks.insert(legacy.clone(), Arc::clone(&info));
                }
                blocks.insert(block.usage_key, info);
            }
        }
        Ok(Modules {
            courses,
            blocks,
            now: Utc::now(),
        })
    }
}

fn rejection_failure(index: usize, rejection: ModuleRejection, record: &ModuleRecord) -> Failure {
    match rejection {
        ModuleRejection::UnknownLearner => (
            index,
            "student_id",
            format!(
                "no learner with id {} (import the learners first)",
                record.learner_id
            ),
        ),
        ModuleRejection::IdTaken {
            learner_id,
            usage_key,
            ..
        } => (
            index,
            "id",
            format!(
                "module id {} already holds learner {learner_id}'s state for {usage_key}",
                record.id
            ),
        ),
    }
}

impl Loader for Modules {
    type Row = ModuleRow;
    type Record = ModuleRecord;

    fn convert(&self, row: ModuleRow) -> Result<ModuleRecord, FieldError> {
        let course_key = self.courses.get(&row.course_id).ok_or_else(|| FieldError {
            column: Some("course_id"),
            reason: format!(
                "no course {:?} in this database (import the course first)",
                row.course_id
            ),
        })?;
        let block = self.blocks.get(&row.module_id).ok_or_else(|| FieldError {
            column: Some("module_id"),
            reason: format!("no block {:?} in this database", row.module_id),
        })?;
        if &block.course_key != course_key {
            return Err(FieldError {
                column: Some("module_id"),
                reason: format!(
                    "{:?} is a block of {}, not of course_id {:?}",
                    row.module_id, block.course_key, row.course_id
                ),
            });
        }
        if block.block_type != row.module_type {
            return Err(FieldError {
                column: Some("module_type"),
                reason: format!(
                    "is {:?} but {:?} is a {} block",
                    row.module_type, row.module_id, block.block_type
                ),
            });
        }
        let created = row.created.unwrap_or(self.now);
        Ok(ModuleRecord {
            id: row.id.unwrap_or(0),
            learner_id: row.student_id,
            username: String::new(),
            course_key: course_key.clone(),
            usage_key: row.module_id,
            module_type: row.module_type,
            state: row.state,
            grade: row.grade,
            max_grade: row.max_grade,
            done: row.done,
            created,
            modified: row.modified.unwrap_or(created),
        })
    }

    async fn check(
        &self,
        store: &Store,
        batch: &[ModuleRecord],
    ) -> Result<Vec<Failure>, StoreError> {
        Ok(store
            .check_modules(batch)
            .await?
            .into_iter()
            .map(|(i, r)| rejection_failure(i, r, &batch[i]))
            .collect())
    }

    async fn write(
        &self,
        store: &Store,
        batch: &[ModuleRecord],
    ) -> Result<(u64, Vec<Failure>), StoreError> {
        let result = store.import_modules(batch).await?;
        let failures = result
            .rejected
            .into_iter()
            .map(|(i, r)| rejection_failure(i, r, &batch[i]))
            .collect();
        Ok((result.written, failures))
    }
}

/// Imports learner state (`courseware_studentmodule` rows) from `open`. Courses, blocks and
/// learners must be stored first.
pub async fn import_state(
    store: &Store,
    open: &OpenInput,
    options: ImportOptions,
) -> Result<DataImportReport, DataError> {
    let loader = Modules::load(store).await?;
    run(store, loader, open, options).await
}

// ----- export ------------------------------------------------------------------------------

/// Rows per page read from the store while exporting.
const EXPORT_PAGE: u32 = 5_000;

/// Writes learner state of a course (or of one problem) in `format` to `out`, in module id
/// order. Returns the number of rows.
pub async fn export_state<W: Write>(
    store: &Store,
    course_key: &str,
    problem: Option<&str>,
    format: Format,
    out: W,
) -> Result<u64, DataError> {
    let course = store
        .get_course(course_key)
        .await?
        .ok_or_else(|| DataError::NotFound(format!("no course {course_key} in this database")))?;
    let deprecated_course = parse_course_key(&course.key)
        .map(|k| k.deprecated_string())
        .unwrap_or_else(|_| course.key.clone());
    let mut usage_keys = Vec::new();
    if let Some(problem) = problem {
        match store.get_block(problem).await? {
            Some(block) if block.course_key == course.key => usage_keys.push(problem.to_owned()),
            _ => {
                return Err(DataError::NotFound(format!(
                    "no block {problem} in course {course_key}"
                )));
            }
        }
    }
    let scope = ModuleScope {
        course_key: course.key.clone(),
        usage_keys,
        learner_id: None,
        until_id: None,
    };
    let mut writer = RowWriter::<ModuleRow, _>::new(out, format).map_err(DataError::Write)?;
    let mut after = 0;
    let mut rows = 0;
    loop {
        let page = store.fetch_modules(&scope, after, EXPORT_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for m in page {
            // Open edX pairs i4x:// module ids with Org/Course/Run course ids (old courses) and
            // block-v1: ids with course-v1: keys; the stored module id says which this row had.
            let course_id = if m.usage_key.starts_with("i4x://") {
                deprecated_course.clone()
            } else {
                course.key.clone()
            };
            let row = ModuleRow {
                id: Some(m.id),
                module_type: m.module_type,
                module_id: m.usage_key,
                student_id: m.learner_id,
                state: m.state,
                grade: m.grade,
                max_grade: m.max_grade,
                done: m.done,
                created: Some(m.created),
                modified: Some(m.modified),
                course_id,
            };
            writer.write(&row).map_err(DataError::Write)?;
            rows += 1;
        }
    }
    writer.finish().map_err(DataError::Write)?;
    Ok(rows)
}

/// Writes every learner in `format` to `out`, in id order. Returns the number of rows.
pub async fn export_learners<W: Write>(
    store: &Store,
    format: Format,
    out: W,
) -> Result<u64, DataError> {
    let mut writer = RowWriter::<LearnerRow, _>::new(out, format).map_err(DataError::Write)?;
    let mut after = 0;
    let mut rows = 0;
    loop {
        let page = store.list_learners(after, EXPORT_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for l in page {
            writer
                .write(&LearnerRow {
                    id: l.id,
                    username: l.username,
                    email: l.email,
                })
                .map_err(DataError::Write)?;
            rows += 1;
        }
    }
    writer.finish().map_err(DataError::Write)?;
    Ok(rows)
}
