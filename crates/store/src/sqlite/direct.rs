//! Bulk writes through SQLite's own API: prepared statements bound and stepped row by row on
//! the pooled sqlx connection's handle, inside the transaction the caller has open (a sqlx
//! transaction, or one begun on the handle itself by the SQLite driver's `write_direct`).
//!
//! Why: sqlx hands every statement to the connection's worker thread and back, several
//! microseconds a statement, so a per-row statement cost more than the row's b-tree work. The
//! earlier way round that — a whole batch as one JSON array parameter taken apart by
//! `jsonb_each` — made SQLite parse and copy every value (a 700-byte state, a 2 KB event) once
//! more, and Rust build the array first. Here a row costs a bind and a step of an already
//! prepared statement. rusqlite wraps the calls: it links the same `libsqlite3-sys` as sqlx (one
//! SQLite in the binary) and wraps a borrowed handle without ever closing it. The row writers
//! bind through [`InPlaceStatement`], which lets SQLite read texts from the records' own buffers
//! instead of copying each one first.

use super::audit_batch::{EventBatch, OutcomeBatch};
use super::in_place::{InPlaceStatement, Param};
use super::ts;
use crate::error::StoreError;
use crate::model::{ModuleRecord, ModuleUpdate, NewModule, NewOutcome};
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use sqlx::sqlite::SqliteConnection;
use uuid::Uuid;

/// Runs `work` on `conn`'s SQLite handle, in whatever transaction `conn` has open.
///
/// sqlx's worker thread is locked out while the handle is borrowed, so only one thread uses
/// the handle at a time. The work is synchronous and takes milliseconds for a chunk, so on a
/// multi-threaded runtime it runs under `block_in_place`: the runtime moves its other tasks
/// (HTTP requests of the server, lease heartbeats) to another thread meanwhile.
pub(super) async fn run<R>(
    conn: &mut SqliteConnection,
    context: &'static str,
    work: impl FnOnce(&Connection) -> rusqlite::Result<R>,
) -> Result<R, StoreError> {
    let mut handle = conn.lock_handle().await.map_err(StoreError::db(context))?;
    let raw = handle.as_raw_handle();
    let call = || {
        // SAFETY: `raw` is a live handle that `handle` keeps locked away from sqlx's worker
        // thread until it is dropped after this call; `from_handle` makes a non-owning
        // wrapper that never closes it, and the wrapper is dropped before the lock is.
        let borrowed = unsafe { Connection::from_handle(raw.as_ptr()) }?;
        work(&borrowed)
    };
    let on_worker_pool = tokio::runtime::Handle::try_current()
        .is_ok_and(|rt| rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    let result = if on_worker_pool {
        tokio::task::block_in_place(call)
    } else {
        call()
    };
    result.map_err(|source| StoreError::sqlite(context, source))
}

/// Reads a page of modules: `sql` selects the driver's `module_cols!` in that order.
///
/// Rows are read value by value from SQLite's buffers into the records: no per-value
/// allocation beyond the record's own strings, no hand-off between threads.
pub(super) fn select_modules(
    conn: &Connection,
    sql: &str,
    params: &[rusqlite::types::Value],
) -> rusqlite::Result<Vec<ModuleRecord>> {
    let mut statement = conn.prepare(sql)?;
    let rows = statement.query_map(rusqlite::params_from_iter(params), |row| {
        Ok(ModuleRecord {
            id: row.get(0)?,
            learner_id: row.get(1)?,
            username: row.get(2)?,
            course_key: row.get(3)?,
            usage_key: row.get(4)?,
            module_type: row.get(5)?,
            state: row.get(6)?,
            grade: row.get(7)?,
            max_grade: row.get(8)?,
            done: row.get(9)?,
            created: time_at(row, 10)?,
            modified: time_at(row, 11)?,
        })
    })?;
    rows.collect()
}

/// A stored timestamp (see the driver's `ts`), read from column `index`.
fn time_at(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<DateTime<Utc>> {
    let text = row.get_ref(index)?.as_str()?;
    if let Some(time) = parse_stored_time(text) {
        return Ok(time);
    }
    // Anything else RFC 3339 (a file written by hand or by another tool) still reads.
    text.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// The exact form the driver writes, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, read by position.
///
/// Why: a page of modules carries two timestamps a row, and chrono's general RFC 3339 parser
/// (offsets, variable fractions, lenient separators) was a fifth of a page's decoding time in
/// a rescore profile. `None` for any other form, which the caller hands to that parser.
fn parse_stored_time(text: &str) -> Option<DateTime<Utc>> {
    const SEPARATORS: [(usize, u8); 7] = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (26, b'Z'),
    ];
    let b = text.as_bytes();
    if b.len() != 27 || SEPARATORS.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |value, &digit| {
            digit
                .is_ascii_digit()
                .then(|| value * 10 + u32::from(digit - b'0'))
        })
    };
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(number(0..4)?).ok()?,
        number(5..7)?,
        number(8..10)?,
    )?;
    let time = date.and_hms_micro_opt(
        number(11..13)?,
        number(14..16)?,
        number(17..19)?,
        number(20..26)?,
    )?;
    Some(time.and_utc())
}

/// Rewrites existing modules (the task's new states).
pub(super) fn update_modules(conn: &Connection, updates: &[ModuleUpdate]) -> rusqlite::Result<()> {
    let mut statement = InPlaceStatement::prepare(
        conn,
        "UPDATE learner_modules SET state = ?2, grade = ?3, max_grade = ?4, modified = ?5 \
         WHERE id = ?1",
    )?;
    let mut times = TimeText::default();
    for u in updates {
        statement.execute(&[
            u.id.into(),
            (&u.state).into(),
            u.grade.into(),
            u.max_grade.into(),
            times.get(u.modified).into(),
        ])?;
    }
    Ok(())
}

/// What [`insert_new_modules`] does with a module that already exists for the same learner
/// and block.
#[derive(Clone, Copy)]
pub(super) enum Existing {
    /// Fail the statement (a conflict): the caller believed there was none.
    Refuse,
    /// Overwrite it: an override that meets a module which appeared since it was read.
    Overwrite,
}

/// Inserts modules created at `created`. Returns the rows written.
pub(super) fn insert_new_modules(
    conn: &Connection,
    modules: &[NewModule],
    created: &str,
    existing: Existing,
) -> rusqlite::Result<u64> {
    const INSERT: &str = "INSERT INTO learner_modules (learner_id, course_key, usage_key, \
                                                       module_type, state, grade, max_grade, \
                                                       created, modified) \
                          VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)";
    let sql = match existing {
        Existing::Refuse => INSERT.to_string(),
        Existing::Overwrite => format!(
            "{INSERT} ON CONFLICT (learner_id, usage_key, course_key) DO UPDATE SET \
                 module_type = excluded.module_type, state = excluded.state, \
                 grade = excluded.grade, max_grade = excluded.max_grade, \
                 modified = excluded.modified"
        ),
    };
    let mut statement = InPlaceStatement::prepare(conn, &sql)?;
    let mut written = 0;
    for m in modules {
        written += statement.execute(&[
            m.learner_id.into(),
            (&m.course_key).into(),
            (&m.usage_key).into(),
            (&m.module_type).into(),
            (&m.state).into(),
            m.grade.into(),
            m.max_grade.into(),
            created.into(),
        ])? as u64;
    }
    Ok(written)
}

/// Inserts or replaces modules keeping their ids (see `Backend::import_modules`); a module
/// without an id (0) gets a new one. A row of an unknown learner is skipped rather than failing
/// the statement on the foreign key, and so is a row whose id holds another (learner, block,
/// course): the first upsert clause's `WHERE` refuses it and the second does not apply. Returns
/// the rows written; the caller finds the skipped ones and why.
///
/// One row per statement (`VALUES`, not `SELECT`) on purpose: SQLite knows such a statement
/// cannot stop half-way, so it keeps no statement journal. An `INSERT ... SELECT` in a
/// transaction copied every b-tree page it touched into one first (a third of an import's time).
pub(super) fn import_modules(conn: &Connection, modules: &[ModuleRecord]) -> rusqlite::Result<u64> {
    let mut statement = InPlaceStatement::prepare(
        conn,
        "INSERT INTO learner_modules (id, learner_id, course_key, usage_key, module_type, state, \
                                      grade, max_grade, done, created, modified) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
         ON CONFLICT (id) DO UPDATE SET \
             module_type = excluded.module_type, state = excluded.state, grade = excluded.grade, \
             max_grade = excluded.max_grade, done = excluded.done, created = excluded.created, \
             modified = excluded.modified \
           WHERE learner_modules.learner_id = excluded.learner_id \
             AND learner_modules.usage_key = excluded.usage_key \
             AND learner_modules.course_key = excluded.course_key \
         ON CONFLICT (learner_id, usage_key, course_key) DO UPDATE SET \
             module_type = excluded.module_type, state = excluded.state, grade = excluded.grade, \
             max_grade = excluded.max_grade, done = excluded.done, created = excluded.created, \
             modified = excluded.modified",
    )?;
    let mut created = TimeText::default();
    let mut modified = TimeText::default();
    let mut written = 0;
    for m in modules {
        let result = statement.execute(&[
            (m.id != 0).then_some(m.id).into(),
            m.learner_id.into(),
            (&m.course_key).into(),
            (&m.usage_key).into(),
            (&m.module_type).into(),
            (&m.state).into(),
            m.grade.filter(|g| g.is_finite()).into(),
            m.max_grade.filter(|g| g.is_finite()).into(),
            (&m.done).into(),
            created.get(m.created).into(),
            modified.get(m.modified).into(),
        ]);
        match result {
            Ok(n) => written += n as u64,
            // A one-row INSERT checks the learner's foreign key before it writes anything and
            // fails at once, so the transaction goes on; the caller reports the row.
            Err(e) if is_foreign_key_violation(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

fn is_foreign_key_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

/// Deletes modules by id.
pub(super) fn delete_modules(conn: &Connection, ids: &[i64]) -> rusqlite::Result<()> {
    let mut statement =
        InPlaceStatement::prepare(conn, "DELETE FROM learner_modules WHERE id = ?1")?;
    for &id in ids {
        statement.execute(&[id.into()])?;
    }
    Ok(())
}

/// `outcomes` with the module of each one that names none filled in: the module the same chunk
/// inserted, found by learner, course and block (an override of a learner who had no state).
pub(super) fn resolve_inserted_modules(
    conn: &Connection,
    outcomes: &[NewOutcome],
    course_key: &str,
) -> rusqlite::Result<Vec<NewOutcome>> {
    use rusqlite::OptionalExtension;
    let mut statement = conn.prepare(
        "SELECT id FROM learner_modules WHERE learner_id = ?1 AND usage_key = ?2 AND course_key = ?3",
    )?;
    outcomes
        .iter()
        .map(|o| {
            let mut resolved = o.clone();
            if o.module_id.is_none() {
                resolved.module_id = statement
                    .query_row((o.learner_id, &o.usage_key, course_key), |row| row.get(0))
                    .optional()?;
            }
            Ok(resolved)
        })
        .collect()
}

/// Records outcome batches of task `task_seq` at `created`, each with the ids that follow every
/// outcome id used before (see `audit_batch`). Nothing here stops a second outcome for a (task,
/// module) pair: the caller's fence and range check refuse such a chunk in the same transaction.
pub(super) fn insert_outcome_batches(
    conn: &Connection,
    batches: &[OutcomeBatch],
    task_seq: i64,
    created: &str,
) -> rusqlite::Result<()> {
    let mut statement = InPlaceStatement::prepare(
        conn,
        "INSERT INTO outcome_batches (first_id, task_seq, count, succeeded, skipped, failed, \
                                      created, records) \
         VALUES (max(coalesce((SELECT max(id) FROM task_outcomes), 0), \
                     coalesce((SELECT first_id + count - 1 FROM outcome_batches \
                               ORDER BY first_id DESC LIMIT 1), 0)) + 1, \
                 ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for batch in batches {
        let [succeeded, skipped, failed] = batch.statuses;
        statement.execute(&[
            task_seq.into(),
            batch.count.into(),
            succeeded.into(),
            skipped.into(),
            failed.into(),
            created.into(),
            Param::Blob(&batch.records),
        ])?;
    }
    Ok(())
}

/// Appends event batches, each with the ids that follow every event id used before (see
/// `audit_batch`). `emitting` is the committing task (its UUID and `seq`); a batch of another
/// task is linked to that task's `seq` when the task is stored. Returns the events written.
pub(super) fn insert_event_batches(
    conn: &Connection,
    batches: &[EventBatch<'_>],
    emitting: Option<(Uuid, i64)>,
) -> rusqlite::Result<u64> {
    let mut statement = InPlaceStatement::prepare(
        conn,
        "INSERT INTO event_batches (first_id, task_id, task_seq, course_key, count, records) \
         VALUES (max(coalesce((SELECT max(id) FROM tracking_events), 0), \
                     coalesce((SELECT first_id + count - 1 FROM event_batches \
                               ORDER BY first_id DESC LIMIT 1), 0)) + 1, \
                 ?1, COALESCE(?2, (SELECT seq FROM tasks WHERE id = ?1)), ?3, ?4, ?5)",
    )?;
    let mut written = 0;
    for batch in batches {
        let task_text = batch.task_id.map(|id| id.hyphenated().to_string());
        let task_seq = emitting
            .filter(|(own, _)| Some(*own) == batch.task_id)
            .map(|(_, seq)| seq);
        statement.execute(&[
            task_text.as_deref().into(),
            task_seq.into(),
            batch.course_key.into(),
            batch.count.into(),
            Param::Blob(&batch.records),
        ])?;
        written += u64::try_from(batch.count).unwrap_or(0);
    }
    Ok(written)
}

/// Formats each distinct timestamp once: a chunk's rows mostly share one.
#[derive(Default)]
struct TimeText {
    last: Option<(DateTime<Utc>, String)>,
}

impl TimeText {
    fn get(&mut self, time: DateTime<Utc>) -> &str {
        if self.last.as_ref().is_none_or(|(t, _)| *t != time) {
            self.last = Some((time, ts(time)));
        }
        self.last
            .as_ref()
            .map(|(_, text)| text.as_str())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_stored_time, ts};
    use chrono::{DateTime, Utc};

    #[test]
    fn the_stored_form_reads_back_exactly() {
        for text in [
            "2026-11-27T00:05:09.123456Z",
            "1970-01-01T00:00:00.000000Z",
            "2024-02-29T23:59:59.999999Z",
        ] {
            let general: DateTime<Utc> = text.parse().unwrap();
            assert_eq!(parse_stored_time(text), Some(general), "{text}");
            assert_eq!(ts(general), text);
        }
    }

    #[test]
    fn the_stored_form_is_written_alike_for_every_year_and_second() {
        use chrono::{NaiveDate, TimeZone};
        let times = [
            Utc.with_ymd_and_hms(2026, 11, 27, 0, 5, 9).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            NaiveDate::from_ymd_opt(2016, 12, 31)
                .unwrap()
                .and_hms_nano_opt(23, 59, 59, 1_250_000_000)
                .unwrap()
                .and_utc(),
            DateTime::<Utc>::MAX_UTC,
            DateTime::<Utc>::MIN_UTC,
        ];
        for time in times {
            let time = time
                .checked_add_signed(chrono::Duration::microseconds(123_456))
                .unwrap_or(time);
            assert_eq!(
                ts(time),
                time.format(super::super::STORED_TIME_FORMAT).to_string()
            );
        }
    }

    #[test]
    fn other_forms_and_impossible_dates_are_left_to_the_general_parser() {
        for text in [
            "2026-11-27T00:05:09Z",
            "2026-11-27T00:05:09.123456+00:00",
            "2026-11-27 00:05:09.123456Z",
            "2026-13-27T00:05:09.123456Z",
            "2023-02-29T00:05:09.123456Z",
            "2026-11-27T24:05:09.123456Z",
            "2026-11-2xT00:05:09.123456Z",
            "",
        ] {
            assert_eq!(parse_stored_time(text), None, "{text}");
        }
    }
}
