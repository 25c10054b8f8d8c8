//! A prepared statement whose text and blob parameters SQLite reads in place, from the caller's
//! buffers.
//!
//! Why: rusqlite binds every string with `SQLITE_TRANSIENT`, so SQLite allocates a buffer and
//! copies the text into it before each step, and frees it at the next bind. A task's chunk binds
//! a ~1 KB state and a ~1.7 KB event payload per learner, and an import a state per row, so the
//! writer thread spent its time in `malloc`, `memcpy` and `free` (and in glibc's arena locks
//! beside the grading threads) for values SQLite copies into the row record anyway. Here they
//! are bound with `SQLITE_STATIC`, which is sound because [`InPlaceStatement::execute`] binds
//! every parameter and steps, and a guard then resets the statement and clears its bindings
//! however the call ends (an error or a panic included): SQLite never holds a pointer into a
//! caller's buffer after the call that borrowed it.

use rusqlite::{Connection, ffi};
use std::ffi::{CStr, c_char, c_int};

/// One parameter value, borrowed for one [`InPlaceStatement::execute`].
#[derive(Debug, Clone, Copy)]
pub(super) enum Param<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl From<i64> for Param<'_> {
    fn from(value: i64) -> Self {
        Param::Integer(value)
    }
}

impl From<f64> for Param<'_> {
    fn from(value: f64) -> Self {
        Param::Real(value)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(value: &'a str) -> Self {
        Param::Text(value)
    }
}

impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(value: &'a [u8]) -> Self {
        Param::Blob(value)
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(value: &'a String) -> Self {
        Param::Text(value)
    }
}

impl<'a, T: Into<Param<'a>>> From<Option<T>> for Param<'a> {
    fn from(value: Option<T>) -> Self {
        value.map_or(Param::Null, Into::into)
    }
}

impl<'a> From<&'a Option<String>> for Param<'a> {
    fn from(value: &'a Option<String>) -> Self {
        value.as_deref().into()
    }
}

/// A statement of `conn` prepared once and executed row by row (see the module docs). It
/// changes rows and returns none: a statement that would return rows is refused when prepared.
pub(super) struct InPlaceStatement<'c> {
    conn: &'c Connection,
    statement: *mut ffi::sqlite3_stmt,
    parameters: usize,
}

impl<'c> InPlaceStatement<'c> {
    /// Prepares `sql`, exactly one statement that returns no rows, on `conn`.
    pub(super) fn prepare(conn: &'c Connection, sql: &str) -> rusqlite::Result<Self> {
        let mut statement = std::ptr::null_mut();
        let mut tail: *const c_char = std::ptr::null();
        let length = c_int::try_from(sql.len()).map_err(|_| {
            rusqlite::Error::SqliteFailure(ffi::Error::new(ffi::SQLITE_TOOBIG), None)
        })?;
        // SAFETY: the handle is live for 'c. With an explicit length SQLite reads `length` bytes
        // of `sql` (no NUL needed), writes the new statement (or null) to `statement` and the end
        // of the first statement to `tail`.
        let code = unsafe {
            ffi::sqlite3_prepare_v2(
                conn.handle(),
                sql.as_ptr().cast(),
                length,
                &mut statement,
                &mut tail,
            )
        };
        if code != ffi::SQLITE_OK {
            return Err(last_error(conn, code));
        }
        if statement.is_null() {
            // Only an empty or all-comment text prepares to nothing.
            return Err(rusqlite::Error::InvalidQuery);
        }
        let prepared = InPlaceStatement {
            conn,
            statement,
            // SAFETY: `statement` is the live statement just prepared.
            parameters: unsafe { ffi::sqlite3_bind_parameter_count(statement) } as usize,
        };
        // `tail` points into `sql`, at or before its end.
        let consumed = (tail as usize).saturating_sub(sql.as_ptr() as usize);
        if !sql.get(consumed..).unwrap_or_default().trim().is_empty() {
            return Err(rusqlite::Error::MultipleStatement);
        }
        // SAFETY: a live statement.
        if unsafe { ffi::sqlite3_column_count(statement) } > 0 {
            // Its rows would be dropped unread, and the change count read before it finished.
            return Err(rusqlite::Error::ExecuteReturnedResults);
        }
        Ok(prepared)
    }

    /// Binds `params` to `?1`, `?2`, ... (all of them), steps the statement to its end and
    /// returns the rows it changed.
    pub(super) fn execute(&mut self, params: &[Param<'_>]) -> rusqlite::Result<usize> {
        if params.len() != self.parameters {
            return Err(rusqlite::Error::InvalidParameterCount(
                params.len(),
                self.parameters,
            ));
        }
        let statement = ResetOnDrop(self.statement);
        for (index, param) in (1..).zip(params) {
            // SAFETY: `statement` clears this binding when it drops at the end of this call,
            // while the buffer a text borrows is still alive.
            unsafe { self.bind(index, *param) }?;
        }
        // SAFETY: a live statement whose texts point into buffers that `params` borrows, alive
        // for this whole call.
        match unsafe { ffi::sqlite3_step(statement.0) } {
            ffi::SQLITE_DONE => Ok(self.conn.changes() as usize),
            code => Err(last_error(self.conn, code)),
        }
    }

    /// Binds `param` to parameter `index` (1-based).
    ///
    /// # Safety
    ///
    /// A text or blob is bound without a copy: the binding must be cleared or replaced before the
    /// buffer it borrows is dropped.
    unsafe fn bind(&self, index: c_int, param: Param<'_>) -> rusqlite::Result<()> {
        // SAFETY: a live statement; an index out of range is SQLite's SQLITE_RANGE, not UB. An
        // empty text is bound as a static empty C string rather than a dangling pointer.
        let code = unsafe {
            match param {
                Param::Null => ffi::sqlite3_bind_null(self.statement, index),
                Param::Integer(value) => ffi::sqlite3_bind_int64(self.statement, index, value),
                Param::Real(value) => ffi::sqlite3_bind_double(self.statement, index, value),
                Param::Text(text) => ffi::sqlite3_bind_text64(
                    self.statement,
                    index,
                    if text.is_empty() {
                        c"".as_ptr()
                    } else {
                        text.as_ptr().cast()
                    },
                    text.len() as ffi::sqlite3_uint64,
                    ffi::SQLITE_STATIC(),
                    ffi::SQLITE_UTF8 as _,
                ),
                // A null pointer would bind NULL, not an empty blob: an empty one points at a
                // static empty string instead, like an empty text.
                Param::Blob(bytes) => ffi::sqlite3_bind_blob64(
                    self.statement,
                    index,
                    if bytes.is_empty() {
                        c"".as_ptr().cast()
                    } else {
                        bytes.as_ptr().cast()
                    },
                    bytes.len() as ffi::sqlite3_uint64,
                    ffi::SQLITE_STATIC(),
                ),
            }
        };
        if code == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(last_error(self.conn, code))
        }
    }
}

/// Resets a statement and clears its bindings when dropped, so that no binding outlives the
/// [`InPlaceStatement::execute`] call that made it, however the call ends.
struct ResetOnDrop(*mut ffi::sqlite3_stmt);

impl Drop for ResetOnDrop {
    fn drop(&mut self) {
        // SAFETY: a live statement (its InPlaceStatement is borrowed while the guard lives).
        // Reset ends the step, a failed one included; clearing sets every parameter to NULL.
        unsafe {
            ffi::sqlite3_reset(self.0);
            ffi::sqlite3_clear_bindings(self.0);
        }
    }
}

impl Drop for InPlaceStatement<'_> {
    fn drop(&mut self) {
        // SAFETY: the statement is live and dropped once; its connection outlives it ('c).
        unsafe {
            ffi::sqlite3_finalize(self.statement);
        }
    }
}

/// The connection's error for a failed call that returned `code`, in rusqlite's form (with
/// the extended code, e.g. which constraint failed).
fn last_error(conn: &Connection, code: c_int) -> rusqlite::Error {
    let text = |message: *const c_char| {
        // SAFETY: SQLite's messages are NUL-terminated; this copies one before any other call.
        (!message.is_null()).then(|| {
            unsafe { CStr::from_ptr(message) }
                .to_string_lossy()
                .into_owned()
        })
    };
    // SAFETY: a live handle.
    let extended = unsafe { ffi::sqlite3_extended_errcode(conn.handle()) };
    if extended & 0xff == code & 0xff {
        // SAFETY: as above; the message describes the error `extended` names.
        let message = text(unsafe { ffi::sqlite3_errmsg(conn.handle()) });
        rusqlite::Error::SqliteFailure(ffi::Error::new(extended), message)
    } else {
        // The connection's last error is another one: describe `code` alone.
        // SAFETY: sqlite3_errstr returns a static string for any code.
        let message = text(unsafe { ffi::sqlite3_errstr(code) });
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), message)
    }
}

#[cfg(test)]
mod tests {
    use super::{InPlaceStatement, Param};
    use rusqlite::Connection;

    fn table() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, score REAL, \
                             note TEXT)",
        )
        .unwrap();
        conn
    }

    #[test]
    fn rows_keep_the_values_after_the_buffers_are_gone() {
        let conn = table();
        {
            let mut insert = InPlaceStatement::prepare(
                &conn,
                "INSERT INTO t (name, score, note) VALUES (?1, ?2, ?3)",
            )
            .unwrap();
            for i in 0..3 {
                // Each row's text lives only for its own call.
                let name = format!("learner{i}");
                let note = (i != 1).then(|| "é".repeat(i + 1));
                let score = Param::from((i != 2).then_some(i as f64 / 2.0));
                let changed = insert
                    .execute(&[name.as_str().into(), score, note.as_deref().into()])
                    .unwrap();
                assert_eq!(changed, 1);
            }
        }
        let rows: Vec<(i64, String, Option<f64>, Option<String>)> = conn
            .prepare("SELECT id, name, score, note FROM t ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (1, "learner0".into(), Some(0.0), Some("é".into())),
                (2, "learner1".into(), Some(0.5), None),
                (3, "learner2".into(), None, Some("ééé".into())),
            ]
        );
    }

    #[test]
    fn a_failed_row_says_why_and_the_statement_goes_on() {
        let conn = table();
        let mut insert =
            InPlaceStatement::prepare(&conn, "INSERT INTO t (name) VALUES (?1)").unwrap();
        insert.execute(&["ann".into()]).unwrap();
        let error = insert.execute(&["ann".into()]).unwrap_err();
        match &error {
            rusqlite::Error::SqliteFailure(failure, Some(message)) => {
                assert_eq!(
                    failure.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                );
                assert!(message.contains("t.name"), "{message}");
            }
            other => panic!("expected a constraint failure, got {other:?}"),
        }
        insert.execute(&["bob".into()]).unwrap();
        let wrong = insert.execute(&["carl".into(), Param::Null]).unwrap_err();
        assert!(matches!(
            wrong,
            rusqlite::Error::InvalidParameterCount(2, 1)
        ));
        let names: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(names, 2);
    }

    #[test]
    fn bad_sql_is_an_error_with_sqlites_message() {
        let conn = table();
        let error = InPlaceStatement::prepare(&conn, "INSERT INTO nowhere VALUES (?1)")
            .err()
            .expect("an unknown table does not prepare");
        assert!(error.to_string().contains("no such table"), "{error}");
    }

    /// The statement's SQL with its current bindings, as SQLite would expand it.
    fn expanded(statement: &InPlaceStatement<'_>) -> String {
        // SAFETY: a live statement; the returned text is copied, then freed with sqlite3_free.
        unsafe {
            let text = rusqlite::ffi::sqlite3_expanded_sql(statement.statement);
            assert!(!text.is_null(), "SQLite expands the statement");
            let copy = std::ffi::CStr::from_ptr(text)
                .to_string_lossy()
                .into_owned();
            rusqlite::ffi::sqlite3_free(text.cast());
            copy
        }
    }

    /// What [`expanded`] shows for the two-column insert once its bindings are cleared.
    const CLEARED: &str = "INSERT INTO t (name, note) VALUES (NULL, NULL)";

    /// Sets the longest text or blob `conn` accepts.
    fn set_length_limit(conn: &Connection, bytes: i32) {
        // SAFETY: a live handle; the limit only bounds the values SQLite accepts.
        unsafe {
            rusqlite::ffi::sqlite3_limit(conn.handle(), rusqlite::ffi::SQLITE_LIMIT_LENGTH, bytes);
        }
    }

    #[test]
    fn no_binding_outlives_the_call_that_made_it() {
        let conn = table();
        let mut insert =
            InPlaceStatement::prepare(&conn, "INSERT INTO t (name, note) VALUES (?1, ?2)").unwrap();
        insert.execute(&["ann".into(), "kept".into()]).unwrap();
        assert_eq!(expanded(&insert), CLEARED, "after a row");
        // A bind that fails part-way: texts longer than the limit are refused by SQLite.
        set_length_limit(&conn, 16);
        let long = "x".repeat(64);
        let error = insert
            .execute(&["bob".into(), long.as_str().into()])
            .unwrap_err();
        assert!(
            matches!(&error, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::TooBig),
            "{error:?}"
        );
        // Back to the default, so that the expanded SQL itself fits.
        set_length_limit(&conn, 1_000_000_000);
        assert_eq!(expanded(&insert), CLEARED, "after a failed bind");
        // A failed step (the name is taken).
        insert.execute(&["ann".into(), "x".into()]).unwrap_err();
        assert_eq!(expanded(&insert), CLEARED, "after a failed step");
    }

    #[test]
    fn an_empty_text_is_stored_as_empty_not_null() {
        let conn = table();
        let mut insert =
            InPlaceStatement::prepare(&conn, "INSERT INTO t (name, note) VALUES (?1, ?2)").unwrap();
        insert.execute(&["ann".into(), "".into()]).unwrap();
        let note: Option<String> = conn
            .query_row("SELECT note FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(note.as_deref(), Some(""));
    }

    #[test]
    fn blobs_are_stored_as_blobs_byte_for_byte_and_an_empty_one_is_not_null() {
        let conn = table();
        let mut insert =
            InPlaceStatement::prepare(&conn, "INSERT INTO t (name, note) VALUES (?1, ?2)").unwrap();
        let bytes: Vec<u8> = (0..=255).collect();
        insert
            .execute(&["ann".into(), bytes.as_slice().into()])
            .unwrap();
        insert.execute(&["bob".into(), (&[][..]).into()]).unwrap();
        let rows: Vec<(String, Vec<u8>)> = conn
            .prepare("SELECT typeof(note), note FROM t ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![("blob".into(), bytes), ("blob".into(), Vec::new())]
        );
    }

    #[test]
    fn only_one_statement_that_returns_no_rows_is_prepared() {
        let conn = table();
        // A trailing semicolon and blanks are not a second statement.
        InPlaceStatement::prepare(&conn, "INSERT INTO t (name) VALUES (?1);  \n").unwrap();
        let two =
            InPlaceStatement::prepare(&conn, "INSERT INTO t (name) VALUES (?1); DELETE FROM t");
        assert!(matches!(two, Err(rusqlite::Error::MultipleStatement)));
        for returning in [
            "SELECT name FROM t WHERE id = ?1",
            "INSERT INTO t (name) VALUES (?1) RETURNING id",
        ] {
            let prepared = InPlaceStatement::prepare(&conn, returning);
            assert!(
                matches!(prepared, Err(rusqlite::Error::ExecuteReturnedResults)),
                "{returning}"
            );
        }
        // An upsert that changes nothing reports no rows.
        let mut upsert = InPlaceStatement::prepare(
            &conn,
            "INSERT INTO t (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
        )
        .unwrap();
        assert_eq!(upsert.execute(&["ann".into()]).unwrap(), 1);
        assert_eq!(upsert.execute(&["ann".into()]).unwrap(), 0);
    }
}
