//! A prepared statement whose text parameters SQLite reads in place, from the caller's buffers.
//!
//! Why: rusqlite binds every string with `SQLITE_TRANSIENT`, so SQLite allocates a buffer and
//! copies the text into it before each step, and frees it at the next bind. A task's chunk binds
//! a ~1 KB state and a ~1.7 KB event payload per learner, and an import a state per row, so the
//! writer thread spent its time in `malloc`, `memcpy` and `free` (and in glibc's arena locks
//! beside the grading threads) for values SQLite copies into the row record anyway. Here they
//! are bound with `SQLITE_STATIC`, which is sound because [`InPlaceStatement::execute`] binds
//! every parameter, steps, resets and clears the bindings before it returns: SQLite never holds
//! a pointer into a caller's buffer after the call that borrowed it.

use rusqlite::{Connection, ffi};
use std::ffi::{CStr, c_int};

/// One parameter value, borrowed for one [`InPlaceStatement::execute`].
#[derive(Debug, Clone, Copy)]
pub(super) enum Param<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a str),
}

impl From<i64> for Param<'_> {
    fn from(value: i64) -> Self {
        Param::Integer(value)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(value: &'a str) -> Self {
        Param::Text(value)
    }
}

impl<'a, T: Into<Param<'a>>> From<Option<T>> for Param<'a> {
    fn from(value: Option<T>) -> Self {
        value.map_or(Param::Null, Into::into)
    }
}

impl From<f64> for Param<'_> {
    fn from(value: f64) -> Self {
        Param::Real(value)
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(value: &'a String) -> Self {
        Param::Text(value)
    }
}

impl<'a> From<&'a Option<String>> for Param<'a> {
    fn from(value: &'a Option<String>) -> Self {
        value.as_deref().into()
    }
}

/// A statement of `conn` prepared once and executed row by row (see the module docs).
pub(super) struct InPlaceStatement<'c> {
    conn: &'c Connection,
    statement: *mut ffi::sqlite3_stmt,
    parameters: usize,
}

impl<'c> InPlaceStatement<'c> {
    /// Prepares `sql` on `conn`.
    pub(super) fn prepare(conn: &'c Connection, sql: &str) -> rusqlite::Result<Self> {
        let mut statement = std::ptr::null_mut();
        let length = c_int::try_from(sql.len()).map_err(|_| rusqlite::Error::InvalidQuery)?;
        // SAFETY: the handle is live for 'c; SQLite reads `length` bytes of `sql` and writes the
        // new statement (or null) to `statement`.
        let code = unsafe {
            ffi::sqlite3_prepare_v2(
                conn.handle(),
                sql.as_ptr().cast(),
                length,
                &mut statement,
                std::ptr::null_mut(),
            )
        };
        if code != ffi::SQLITE_OK {
            return Err(last_error(conn, code));
        }
        if statement.is_null() {
            // Only an empty or all-comment text prepares to nothing.
            return Err(rusqlite::Error::InvalidQuery);
        }
        // SAFETY: `statement` is the live statement just prepared.
        let parameters = unsafe { ffi::sqlite3_bind_parameter_count(statement) } as usize;
        Ok(InPlaceStatement {
            conn,
            statement,
            parameters,
        })
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
        let bound = params
            .iter()
            .enumerate()
            .try_for_each(|(index, param)| self.bind(index as c_int + 1, *param));
        let result = bound.and_then(|()| {
            // SAFETY: a live statement whose text parameters point into `params`, which
            // outlive this call.
            match unsafe { ffi::sqlite3_step(self.statement) } {
                ffi::SQLITE_DONE | ffi::SQLITE_ROW => Ok(self.conn.changes() as usize),
                code => Err(last_error(self.conn, code)),
            }
        });
        // SAFETY: a live statement. Reset ends the step (a failed one included) and clearing
        // drops every pointer into `params` before the borrow ends.
        unsafe {
            ffi::sqlite3_reset(self.statement);
            ffi::sqlite3_clear_bindings(self.statement);
        }
        result
    }

    fn bind(&self, index: c_int, param: Param<'_>) -> rusqlite::Result<()> {
        // SAFETY: a live statement and an index within its parameter count (checked by the
        // caller). Text is bound SQLITE_STATIC: `execute` clears the bindings before the text's
        // borrow ends.
        let code = unsafe {
            match param {
                Param::Null => ffi::sqlite3_bind_null(self.statement, index),
                Param::Integer(value) => ffi::sqlite3_bind_int64(self.statement, index, value),
                Param::Real(value) => ffi::sqlite3_bind_double(self.statement, index, value),
                Param::Text(text) => ffi::sqlite3_bind_text64(
                    self.statement,
                    index,
                    text.as_ptr().cast(),
                    text.len() as ffi::sqlite3_uint64,
                    ffi::SQLITE_STATIC(),
                    ffi::SQLITE_UTF8 as _,
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
    // SAFETY: a live handle; the message is copied before any other call on it.
    let (extended, message) = unsafe {
        let db = conn.handle();
        let message = ffi::sqlite3_errmsg(db);
        let message =
            (!message.is_null()).then(|| CStr::from_ptr(message).to_string_lossy().into_owned());
        (ffi::sqlite3_extended_errcode(db), message)
    };
    let extended = if extended & 0xff == code & 0xff {
        extended
    } else {
        code
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(extended), message)
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
}
