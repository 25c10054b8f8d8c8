//! The two Open edX tables and their rows: `auth_user` (learners) and `courseware_studentmodule`
//! (learner state), with how each row is read from and written to CSV and JSON lines.

use std::collections::HashMap;
use std::io::BufRead;

use chrono::{DateTime, Utc};

use crate::csv::{CsvReader, write_text};
use crate::time::{format_timestamp, parse_timestamp};
use crate::value::{
    FieldError, Loose, json_grade, json_id, json_opt_id, json_opt_text, json_text, parse_grade,
    parse_opt_id, write_grade,
};

/// A table whose rows can be read and written. Implemented by [`LearnerRow`] and [`ModuleRow`].
pub trait Table: Sized {
    /// The Open edX table name.
    const NAME: &'static str;
    /// Every column, in the order files are written.
    const COLUMNS: &'static [&'static str];
    /// Columns a CSV header must contain (the others may be left out).
    const REQUIRED: &'static [&'static str];

    /// Reads a row from the cells of a CSV record.
    fn from_csv(cells: &CsvCells<'_>) -> Result<Self, FieldError>;
    /// Reads a row from one JSON object (one line of a JSON lines file).
    fn from_json(line: &[u8]) -> Result<Self, FieldError>;
    /// Appends the row as a CSV record (with its line end).
    fn write_csv(&self, out: &mut Vec<u8>);
    /// Appends the row as a JSON object line (with its line end).
    fn write_json(&self, out: &mut Vec<u8>);
}

/// The cells of the CSV record being read, addressed by the table's column index.
pub struct CsvCells<'a> {
    pub(crate) reader: &'a dyn CellSource,
    /// For each of the table's columns, its position in the file (if the header has it).
    pub(crate) positions: &'a [Option<usize>],
}

/// Object-safe view of a [`CsvReader`], so that [`CsvCells`] need not be generic.
pub(crate) trait CellSource {
    fn cell(&self, i: usize) -> &[u8];
    fn cell_quoted(&self, i: usize) -> bool;
}

impl<R: BufRead> CellSource for CsvReader<R> {
    fn cell(&self, i: usize) -> &[u8] {
        self.bytes(i)
    }
    fn cell_quoted(&self, i: usize) -> bool {
        self.quoted(i)
    }
}

impl CsvCells<'_> {
    /// The text of a column; `None` when the header does not have it, or (with `nullable`)
    /// when the cell is empty and unquoted, which is how NULL is written.
    fn get<T: Table>(&self, col: usize, nullable: bool) -> Result<Option<&str>, FieldError> {
        let Some(pos) = self.positions[col] else {
            return Ok(None);
        };
        let bytes = self.reader.cell(pos);
        if nullable && bytes.is_empty() && !self.reader.cell_quoted(pos) {
            return Ok(None);
        }
        std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|e| FieldError::at(T::COLUMNS[col], format!("is not valid UTF-8: {e}")))
    }

    fn required<T: Table>(&self, col: usize) -> Result<String, FieldError> {
        match self.get::<T>(col, false)? {
            Some(s) if !s.is_empty() => Ok(s.to_owned()),
            _ => Err(FieldError::at(T::COLUMNS[col], "is empty")),
        }
    }
}

/// Maps a CSV header to the table's columns. Unknown columns are ignored (Open edX's tables
/// have more columns than coursetasks keeps, e.g. `auth_user.password`).
pub(crate) fn header_positions<T: Table>(header: &[String]) -> Result<Vec<Option<usize>>, String> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, name) in header.iter().enumerate() {
        if let Some(first) = seen.insert(name.as_str(), i) {
            return Err(format!(
                "the header names column {name:?} twice (fields {} and {})",
                first + 1,
                i + 1
            ));
        }
    }
    let positions: Vec<Option<usize>> = T::COLUMNS.iter().map(|c| seen.get(c).copied()).collect();
    let missing: Vec<&str> = T::REQUIRED
        .iter()
        .copied()
        .filter(|c| !seen.contains_key(c))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the header lacks {} (a {} file needs {}; found {})",
            missing.join(", "),
            T::NAME,
            T::REQUIRED.join(", "),
            header.join(",")
        ));
    }
    Ok(positions)
}

fn finish_line(out: &mut Vec<u8>) {
    out.push(b'\n');
}

fn json_key(out: &mut Vec<u8>, first: bool, key: &str) {
    out.extend_from_slice(if first { b"{\"" } else { b",\"" });
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

fn json_string(out: &mut Vec<u8>, s: &str) {
    // Writing a string into a Vec cannot fail.
    serde_json::to_writer(&mut *out, s).expect("a string serializes");
}

fn json_opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => json_string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn json_opt_grade(out: &mut Vec<u8>, g: Option<f64>) {
    match g {
        Some(g) => write_grade(out, g),
        None => out.extend_from_slice(b"null"),
    }
}

fn json_object(line: &[u8]) -> Result<HashMap<String, Loose>, FieldError> {
    serde_json::from_slice::<HashMap<String, Loose>>(line).map_err(|e| {
        FieldError::row(format!(
            "is not a JSON object: {} (at column {} of the line)",
            strip_position(&e.to_string()),
            e.column()
        ))
    })
}

/// serde_json appends " at line L column C" to its messages; the row error has its own position.
fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |i| &message[..i])
}

// ----- auth_user ---------------------------------------------------------------------------

/// A learner: the columns of Open edX's `auth_user` that coursetasks keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnerRow {
    /// `auth_user.id`.
    pub id: i64,
    /// Unique username.
    pub username: String,
    /// Unique email address.
    pub email: String,
}

impl Table for LearnerRow {
    const NAME: &'static str = "auth_user";
    const COLUMNS: &'static [&'static str] = &["id", "username", "email"];
    const REQUIRED: &'static [&'static str] = &["id", "username", "email"];

    fn from_csv(cells: &CsvCells<'_>) -> Result<Self, FieldError> {
        let id = cells.get::<Self>(0, false)?.unwrap_or("");
        Ok(LearnerRow {
            id: parse_opt_id("id", id)?.ok_or_else(|| FieldError::at("id", "is empty"))?,
            username: cells.required::<Self>(1)?,
            email: cells.required::<Self>(2)?,
        })
    }

    fn from_json(line: &[u8]) -> Result<Self, FieldError> {
        let mut obj = json_object(line)?;
        Ok(LearnerRow {
            id: json_id("id", obj.remove("id"))?,
            username: json_text("username", obj.remove("username"))?,
            email: json_text("email", obj.remove("email"))?,
        })
    }

    fn write_csv(&self, out: &mut Vec<u8>) {
        write_int(out, self.id);
        out.push(b',');
        write_text(out, &self.username);
        out.push(b',');
        write_text(out, &self.email);
        finish_line(out);
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        json_key(out, true, "id");
        write_int(out, self.id);
        json_key(out, false, "username");
        json_string(out, &self.username);
        json_key(out, false, "email");
        json_string(out, &self.email);
        out.extend_from_slice(b"}");
        finish_line(out);
    }
}

fn write_int(out: &mut Vec<u8>, i: i64) {
    use std::io::Write;
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{i}");
}

// ----- courseware_studentmodule --------------------------------------------------------------

/// One learner's state for one block: a row of Open edX's `courseware_studentmodule`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleRow {
    /// Row id; kept on import so that an export reproduces it. `None`: the store assigns one.
    pub id: Option<i64>,
    /// Block type, e.g. `problem`.
    pub module_type: String,
    /// The block's usage key (`block-v1:…` or `i4x://…`).
    pub module_id: String,
    /// The learner (`auth_user.id`).
    pub student_id: i64,
    /// The block's user state: JSON text as stored, NULL (`None`), or anything else Open edX
    /// happened to store (it is kept as is).
    pub state: Option<String>,
    /// Raw earned score.
    pub grade: Option<f64>,
    /// Raw possible score.
    pub max_grade: Option<f64>,
    /// Legacy `done` column (`na`, `f`, `i`); `na` when the file leaves it empty.
    pub done: String,
    /// Creation time; `None` when the file leaves it empty.
    pub created: Option<DateTime<Utc>>,
    /// Last modification time; `None` when the file leaves it empty.
    pub modified: Option<DateTime<Utc>>,
    /// The course key (`course-v1:…` or `Org/Course/Run`).
    pub course_id: String,
}

const DONE_MAX: usize = 8;

impl ModuleRow {
    /// Checks across columns, after each cell was read: a grade above its maximum is a bad row.
    fn checked(self) -> Result<Self, FieldError> {
        if let (Some(g), Some(m)) = (self.grade, self.max_grade)
            && g > m
        {
            return Err(FieldError::at(
                "grade",
                format!("{g} is above max_grade {m}"),
            ));
        }
        if self.done.len() > DONE_MAX {
            return Err(FieldError::at(
                "done",
                format!("{:?} is longer than {DONE_MAX} characters", self.done),
            ));
        }
        Ok(self)
    }
}

fn opt_timestamp(
    column: &'static str,
    text: Option<&str>,
) -> Result<Option<DateTime<Utc>>, FieldError> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => parse_timestamp(t)
            .map(Some)
            .map_err(|e| FieldError::at(column, e)),
    }
}

fn done_or_default(text: Option<String>) -> String {
    match text {
        Some(t) if !t.is_empty() => t,
        _ => "na".to_owned(),
    }
}

impl Table for ModuleRow {
    const NAME: &'static str = "courseware_studentmodule";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "module_type",
        "module_id",
        "student_id",
        "state",
        "grade",
        "max_grade",
        "done",
        "created",
        "modified",
        "course_id",
    ];
    const REQUIRED: &'static [&'static str] =
        &["module_type", "module_id", "student_id", "course_id"];

    fn from_csv(cells: &CsvCells<'_>) -> Result<Self, FieldError> {
        let text = |col| cells.get::<Self>(col, true);
        let student = text(3)?.unwrap_or("");
        ModuleRow {
            id: parse_opt_id("id", text(0)?.unwrap_or(""))?,
            module_type: cells.required::<Self>(1)?,
            module_id: cells.required::<Self>(2)?,
            student_id: parse_opt_id("student_id", student)?
                .ok_or_else(|| FieldError::at("student_id", "is empty"))?,
            state: text(4)?.map(str::to_owned),
            grade: parse_grade("grade", text(5)?.unwrap_or(""))?,
            max_grade: parse_grade("max_grade", text(6)?.unwrap_or(""))?,
            done: done_or_default(text(7)?.map(str::to_owned)),
            created: opt_timestamp("created", text(8)?)?,
            modified: opt_timestamp("modified", text(9)?)?,
            course_id: cells.required::<Self>(10)?,
        }
        .checked()
    }

    fn from_json(line: &[u8]) -> Result<Self, FieldError> {
        let mut obj = json_object(line)?;
        let mut take = |col: &str| obj.remove(col);
        let id = json_opt_id("id", take("id"))?;
        let module_type = json_text("module_type", take("module_type"))?;
        let module_id = json_text("module_id", take("module_id"))?;
        let student_id = json_id("student_id", take("student_id"))?;
        let state = json_opt_text("state", take("state"))?;
        let grade = json_grade("grade", take("grade"))?;
        let max_grade = json_grade("max_grade", take("max_grade"))?;
        let done = done_or_default(json_opt_text("done", take("done"))?);
        let created = opt_timestamp(
            "created",
            json_opt_text("created", take("created"))?.as_deref(),
        )?;
        let modified = opt_timestamp(
            "modified",
            json_opt_text("modified", take("modified"))?.as_deref(),
        )?;
        let course_id = json_text("course_id", take("course_id"))?;
        ModuleRow {
            id,
            module_type,
            module_id,
            student_id,
            state,
            grade,
            max_grade,
            done,
            created,
            modified,
            course_id,
        }
        .checked()
    }

    fn write_csv(&self, out: &mut Vec<u8>) {
        if let Some(id) = self.id {
            write_int(out, id);
        }
        out.push(b',');
        write_text(out, &self.module_type);
        out.push(b',');
        write_text(out, &self.module_id);
        out.push(b',');
        write_int(out, self.student_id);
        out.push(b',');
        if let Some(state) = &self.state {
            write_text(out, state);
        }
        out.push(b',');
        if let Some(g) = self.grade {
            write_grade(out, g);
        }
        out.push(b',');
        if let Some(g) = self.max_grade {
            write_grade(out, g);
        }
        out.push(b',');
        write_text(out, &self.done);
        out.push(b',');
        if let Some(t) = self.created {
            out.extend_from_slice(format_timestamp(t).as_bytes());
        }
        out.push(b',');
        if let Some(t) = self.modified {
            out.extend_from_slice(format_timestamp(t).as_bytes());
        }
        out.push(b',');
        write_text(out, &self.course_id);
        finish_line(out);
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        json_key(out, true, "id");
        match self.id {
            Some(id) => write_int(out, id),
            None => out.extend_from_slice(b"null"),
        }
        json_key(out, false, "module_type");
        json_string(out, &self.module_type);
        json_key(out, false, "module_id");
        json_string(out, &self.module_id);
        json_key(out, false, "student_id");
        write_int(out, self.student_id);
        json_key(out, false, "state");
        json_opt_string(out, self.state.as_deref());
        json_key(out, false, "grade");
        json_opt_grade(out, self.grade);
        json_key(out, false, "max_grade");
        json_opt_grade(out, self.max_grade);
        json_key(out, false, "done");
        json_string(out, &self.done);
        json_key(out, false, "created");
        json_opt_string(out, self.created.map(format_timestamp).as_deref());
        json_key(out, false, "modified");
        json_opt_string(out, self.modified.map(format_timestamp).as_deref());
        json_key(out, false, "course_id");
        json_string(out, &self.course_id);
        out.extend_from_slice(b"}");
        finish_line(out);
    }
}
