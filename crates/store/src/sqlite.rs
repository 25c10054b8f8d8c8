//! The SQLite driver.
//!
//! Settings: WAL journal (readers never block the writer), `synchronous=NORMAL` (durable at
//! checkpoints, never corrupt), `busy_timeout` 10 s (other processes' writes are waited for,
//! not reported), foreign keys on, and every multi-statement write inside `BEGIN IMMEDIATE`
//! so the write lock is taken before anything is read: a deferred transaction that reads and
//! then writes can fail with `SQLITE_BUSY_SNAPSHOT` without ever calling the busy handler.
//!
//! The hot paths — chunk commits, module pages, bulk inserts and imports — run prepared
//! statements row by row through SQLite's own API on the pooled connection (module `direct`):
//! sqlx's per-statement hand-off to its connection thread would cost more than the rows' own
//! work. Everything else goes through sqlx; small lists of keys travel as one JSON array
//! parameter expanded with `jsonb_each`.

use crate::backend::Backend;
use crate::error::{StoreError, SubmitError};
use crate::model::*;
use crate::split::subtask_ranges;
use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use futures::TryStreamExt;
use rusqlite::OptionalExtension;
use serde::Serialize;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Row};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Rows per statement for bulk writes: large enough to amortise the statement, small enough
/// to keep the JSON parameter a few MB.
const BATCH_ROWS: usize = 10_000;

/// Above this many usage keys a module scan walks the table in id order instead of merging
/// one index range per key.
const MAX_MERGED_KEYS: usize = 16;

/// Connections for a file's reads by the workers: each task loop's page scan, plus counts,
/// claims' lookups and waits for work (writes have their one connection, `writer`).
const POOL_SIZE: u32 = 4;

/// Connections for lookups and listings (see [`SqliteBackend`]): the API's status polls and
/// dashboard pages run here, beside the workers' connections.
const LOOKUP_POOL_SIZE: u32 = 4;

/// The SQLite implementation of [`Backend`].
#[derive(Debug, Clone)]
pub struct SqliteBackend {
    /// The workers' reads: module scans, counts, claims' lookups, waits for work.
    pool: SqlitePool,
    /// Lookups and listings for people and the API (tasks, outcomes, events, tokens, courses):
    /// their own connections, so that a status request never waits behind a worker's page scan
    /// or chunk commit for a pooled connection. WAL readers do not block the writer, nor it them.
    lookups: SqlitePool,
    /// Every write of this process, through one connection: chunk commits, claims, leases,
    /// the workers registry, imports.
    ///
    /// Why: SQLite drops a connection's whole page cache when it finds that another connection
    /// wrote to the file since its last transaction. Writes spread over a pool's connections
    /// (the two task loops' commits took whichever was free) each began cold and read their
    /// index and interior pages again; on one connection the pages a commit touches stay
    /// cached from the previous one. Writes are serialized anyway (one write lock per file).
    /// Measured on the bench's 1M delete: time in write transactions 6.9 s → 5.4 s.
    writer: SqlitePool,
    /// Wakes this process's workers waiting in `wait_for_work`; other processes poll.
    work: std::sync::Arc<tokio::sync::Notify>,
    /// The background WAL checkpointer of a file database (none in memory).
    checkpointer: Option<std::sync::Arc<checkpoint::Checkpointer>>,
    /// This process's writers queue here, first come first served, before `BEGIN IMMEDIATE`.
    ///
    /// Why: a worker's two task loops (and the API, in `serve`) want the file's one write lock
    /// at once. Left to SQLite, the loser polls from its busy handler, sleeping 1, 2, 5, 10 ms
    /// and more between tries, and an off-CPU profile of the rescore worker showed those sleeps.
    /// Queued here it starts the moment the holder's commit returns. Writers in other processes
    /// still meet the busy handler. (Tried before the checkpoint left the commit path, the turn
    /// made writers wait out every inline checkpoint and was slower.)
    write_turn: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// Held for the life of a write transaction; dropping it (after the commit or rollback) gives
/// the write turn to the next writer of this process and wakes the checkpointer for what the
/// transaction wrote.
struct WriteTurn<'a> {
    checkpointer: Option<&'a checkpoint::Checkpointer>,
    _turn: tokio::sync::MutexGuard<'a, ()>,
}

impl Drop for WriteTurn<'_> {
    fn drop(&mut self) {
        if let Some(checkpointer) = self.checkpointer {
            checkpointer.nudge();
        }
    }
}

/// The stored timestamp form: fixed width, so string order is time order.
fn ts(t: DateTime<Utc>) -> String {
    use chrono::{Datelike, SecondsFormat, Timelike};
    // chrono's RFC 3339 writer prints exactly this form for four-digit years outside a leap
    // second, without interpreting a format string on every call (a state import formats two
    // timestamps a row, and `format` showed up in its profile).
    if (0..=9999).contains(&t.year()) && t.nanosecond() < 1_000_000_000 {
        t.to_rfc3339_opts(SecondsFormat::Micros, true)
    } else {
        t.format(STORED_TIME_FORMAT).to_string()
    }
}

/// The stored timestamp form as a chrono format string; see [`ts`].
const STORED_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// Now, at the stored precision, so that a value read back equals the value written.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn lease_end(at: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::days(3650));
    at.checked_add_signed(lease)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn lease_ms(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX)
}

fn json_param<T: Serialize + ?Sized>(
    context: &'static str,
    value: &T,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Invalid {
        context,
        message: e.to_string(),
    })
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Column lists, shared by every query that decodes the corresponding record.
macro_rules! task_cols {
    () => {
        "id, course_key, task_type, task_key, input, requester, state, created_at, started_at, \
         updated_at, finished_at, total, attempted, succeeded, skipped, failed, subtasks, \
         cancel_requested, lease_owner, lease_expires_at, attempts, error"
    };
}
macro_rules! block_cols {
    () => {
        "b.usage_key, b.course_key, b.block_type, b.parent_key, b.display_name, b.position, \
         b.settings, b.legacy_key"
    };
}
macro_rules! module_cols {
    () => {
        "m.id, m.learner_id, l.username, m.course_key, m.usage_key, m.module_type, m.state, \
         m.grade, m.max_grade, m.done, m.created, m.modified"
    };
}
/// Outcome columns after `task_id`, which the queries select as their bound task UUID (`?1`):
/// the table stores the task's `seq`.
macro_rules! outcome_cols {
    () => {
        "id, ?1 AS task_id, module_id, learner_id, username, usage_key, status, reason, \
         old_grade, old_max_grade, new_grade, new_max_grade, created"
    };
}
macro_rules! event_cols {
    () => {
        "id, task_id, event_type, time, username, user_id, course_key, usage_key, requester, \
         payload, payload_dictionary, \
         (SELECT content FROM event_dictionaries \
          WHERE event_dictionaries.id = tracking_events.payload_dictionary) AS dictionary"
    };
}

fn get<'r, T>(row: &'r SqliteRow, col: &str, context: &'static str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(col)
        .map_err(|e| StoreError::corrupt(context, format!("column {col}: {e}")))
}

fn token_from_row(row: &SqliteRow, context: &'static str) -> Result<TokenRecord, StoreError> {
    let role: String = get(row, "role", context)?;
    Ok(TokenRecord {
        id: get(row, "id", context)?,
        user: get(row, "user_name", context)?,
        role: role
            .parse()
            .map_err(|e: ParseRoleError| StoreError::corrupt(context, e))?,
        course_key: get(row, "course_key", context)?,
        hash: get(row, "hash", context)?,
        created_at: get(row, "created_at", context)?,
        revoked_at: get(row, "revoked_at", context)?,
    })
}

fn get_json(
    row: &SqliteRow,
    col: &str,
    context: &'static str,
) -> Result<serde_json::Value, StoreError> {
    let text: String = get(row, col, context)?;
    parse_json(&text, col, context)
}

fn parse_json(
    text: &str,
    col: &str,
    context: &'static str,
) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::corrupt(context, format!("column {col} is not JSON: {e}")))
}

fn get_uuid(row: &SqliteRow, col: &str, context: &'static str) -> Result<Uuid, StoreError> {
    let text: String = get(row, col, context)?;
    Uuid::parse_str(&text)
        .map_err(|e| StoreError::corrupt(context, format!("column {col} is not a UUID: {e}")))
}

fn task_from_row(row: &SqliteRow) -> Result<TaskRecord, StoreError> {
    const C: &str = "decode task";
    let state: String = get(row, "state", C)?;
    let error: Option<String> = get(row, "error", C)?;
    let total: Option<i64> = get(row, "total", C)?;
    let attempts: i64 = get(row, "attempts", C)?;
    Ok(TaskRecord {
        id: get_uuid(row, "id", C)?,
        course_key: get(row, "course_key", C)?,
        task_type: get(row, "task_type", C)?,
        task_key: get(row, "task_key", C)?,
        input: get_json(row, "input", C)?,
        requester: get(row, "requester", C)?,
        state: TaskState::from_str(&state).map_err(|e| StoreError::corrupt(C, e))?,
        created_at: get(row, "created_at", C)?,
        started_at: get(row, "started_at", C)?,
        updated_at: get(row, "updated_at", C)?,
        finished_at: get(row, "finished_at", C)?,
        total: total.map(count),
        attempted: count(get(row, "attempted", C)?),
        succeeded: count(get(row, "succeeded", C)?),
        skipped: count(get(row, "skipped", C)?),
        failed: count(get(row, "failed", C)?),
        subtasks: u32::try_from(get::<i64>(row, "subtasks", C)?).unwrap_or(u32::MAX),
        cancel_requested: get(row, "cancel_requested", C)?,
        lease_owner: get(row, "lease_owner", C)?,
        lease_expires_at: get(row, "lease_expires_at", C)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        error: error
            .map(|text| serde_json::from_str(&text).map_err(|e| StoreError::corrupt(C, e)))
            .transpose()?,
    })
}

macro_rules! subtask_cols {
    () => {
        "t.id AS task_id, s.idx, s.after_id, s.until_id, s.state, s.cursor, s.attempted, \
         s.succeeded, s.skipped, s.failed, s.lease_owner, s.lease_expires_at, s.attempts, \
         s.started_at, s.updated_at, s.finished_at, s.error"
    };
}

fn subtask_from_row(row: &SqliteRow) -> Result<SubtaskRecord, StoreError> {
    const C: &str = "decode subtask";
    let state: String = get(row, "state", C)?;
    let error: Option<String> = get(row, "error", C)?;
    Ok(SubtaskRecord {
        task_id: get_uuid(row, "task_id", C)?,
        index: u32::try_from(get::<i64>(row, "idx", C)?).map_err(|e| StoreError::corrupt(C, e))?,
        after_id: get(row, "after_id", C)?,
        until_id: get(row, "until_id", C)?,
        state: TaskState::from_str(&state).map_err(|e| StoreError::corrupt(C, e))?,
        cursor: get(row, "cursor", C)?,
        counts: Counts {
            attempted: count(get(row, "attempted", C)?),
            succeeded: count(get(row, "succeeded", C)?),
            skipped: count(get(row, "skipped", C)?),
            failed: count(get(row, "failed", C)?),
        },
        lease_owner: get(row, "lease_owner", C)?,
        lease_expires_at: get(row, "lease_expires_at", C)?,
        attempts: u32::try_from(get::<i64>(row, "attempts", C)?).unwrap_or(u32::MAX),
        started_at: get(row, "started_at", C)?,
        updated_at: get(row, "updated_at", C)?,
        finished_at: get(row, "finished_at", C)?,
        error: error
            .map(|text| serde_json::from_str(&text).map_err(|e| StoreError::corrupt(C, e)))
            .transpose()?,
    })
}

fn block_from_row(row: &SqliteRow) -> Result<BlockRecord, StoreError> {
    const C: &str = "decode block";
    Ok(BlockRecord {
        usage_key: get(row, "usage_key", C)?,
        course_key: get(row, "course_key", C)?,
        block_type: get(row, "block_type", C)?,
        parent_key: get(row, "parent_key", C)?,
        display_name: get(row, "display_name", C)?,
        position: get(row, "position", C)?,
        settings: get_json(row, "settings", C)?,
        legacy_key: get(row, "legacy_key", C)?,
    })
}

fn version_from_row(row: &SqliteRow, created: bool) -> Result<ProblemVersionRecord, StoreError> {
    const C: &str = "decode problem version";
    Ok(ProblemVersionRecord {
        usage_key: get(row, "usage_key", C)?,
        version: get(row, "version", C)?,
        xml: get(row, "xml", C)?,
        content_hash: get(row, "content_hash", C)?,
        created_at: get(row, "created", C)?,
        created,
    })
}

fn learner_from_row(row: &SqliteRow) -> Result<LearnerRecord, StoreError> {
    const C: &str = "decode learner";
    Ok(LearnerRecord {
        id: get(row, "id", C)?,
        username: get(row, "username", C)?,
        email: get(row, "email", C)?,
    })
}

fn module_from_row(row: &SqliteRow) -> Result<ModuleRecord, StoreError> {
    // The hot path of every task scan: columns by position (the order of `module_cols!`)
    // rather than by name, which saves a hash lookup per value.
    const C: &str = "decode learner module";
    fn at<'r, T>(row: &'r SqliteRow, i: usize) -> Result<T, StoreError>
    where
        T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
    {
        row.try_get(i)
            .map_err(|e| StoreError::corrupt(C, format!("column {i}: {e}")))
    }
    Ok(ModuleRecord {
        id: at(row, 0)?,
        learner_id: at(row, 1)?,
        username: at(row, 2)?,
        course_key: at(row, 3)?,
        usage_key: at(row, 4)?,
        module_type: at(row, 5)?,
        state: at(row, 6)?,
        grade: at(row, 7)?,
        max_grade: at(row, 8)?,
        done: at(row, 9)?,
        created: at(row, 10)?,
        modified: at(row, 11)?,
    })
}

fn outcome_from_row(row: &SqliteRow) -> Result<OutcomeRecord, StoreError> {
    const C: &str = "decode task outcome";
    let status: String = get(row, "status", C)?;
    Ok(OutcomeRecord {
        id: get(row, "id", C)?,
        task_id: get_uuid(row, "task_id", C)?,
        module_id: get(row, "module_id", C)?,
        learner_id: get(row, "learner_id", C)?,
        username: get(row, "username", C)?,
        usage_key: get(row, "usage_key", C)?,
        status: OutcomeStatus::from_str(&status).map_err(|e| StoreError::corrupt(C, e))?,
        reason: get(row, "reason", C)?,
        old_grade: get(row, "old_grade", C)?,
        old_max_grade: get(row, "old_max_grade", C)?,
        new_grade: get(row, "new_grade", C)?,
        new_max_grade: get(row, "new_max_grade", C)?,
        created: get(row, "created", C)?,
    })
}

fn event_from_row(row: &SqliteRow) -> Result<EventRecord, StoreError> {
    const C: &str = "decode tracking event";
    let task_id: Option<String> = get(row, "task_id", C)?;
    Ok(EventRecord {
        id: get(row, "id", C)?,
        task_id: task_id
            .map(|t| Uuid::parse_str(&t).map_err(|e| StoreError::corrupt(C, e)))
            .transpose()?,
        event_type: get(row, "event_type", C)?,
        time: get(row, "time", C)?,
        username: get(row, "username", C)?,
        user_id: get(row, "user_id", C)?,
        course_key: get(row, "course_key", C)?,
        usage_key: get(row, "usage_key", C)?,
        requester: get(row, "requester", C)?,
        payload: event_payload_from_row(row, C)?,
    })
}

/// An event's payload: JSON text, or packed against the dictionary the row names (migration
/// 0006).
fn event_payload_from_row(
    row: &SqliteRow,
    context: &'static str,
) -> Result<serde_json::Value, StoreError> {
    let Some(dictionary_id) = get::<Option<i64>>(row, "payload_dictionary", context)? else {
        return get_json(row, "payload", context);
    };
    let id: i64 = get(row, "id", context)?;
    let dictionary: Option<String> = get(row, "dictionary", context)?;
    let dictionary = dictionary.ok_or_else(|| {
        StoreError::corrupt(
            context,
            format!("event {id}: the payload's dictionary {dictionary_id} is missing"),
        )
    })?;
    let packed: Vec<u8> = get(row, "payload", context)?;
    let text = packing::unpack(&packed, dictionary.as_bytes())
        .and_then(|bytes| String::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}")))
        .map_err(|e| StoreError::corrupt(context, format!("event {id}: column payload: {e}")))?;
    parse_json(&text, "payload", context)
}

/// SQLITE_BUSY / SQLITE_LOCKED: another connection holds a lock we could not wait for.
fn is_locked(err: &sqlx::Error) -> bool {
    match err {
        // Extended result codes: the primary code is the low byte.
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
        _ => false,
    }
}

/// Turns an error met while opening into a message that names the place and the problem.
fn open_error(location: &str, path: Option<&Path>, err: &sqlx::Error) -> StoreError {
    let place = path
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| location.to_string());
    let dir = path
        .and_then(Path::parent)
        .map(|d| {
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            }
        })
        .map(|d| d.display().to_string())
        .unwrap_or_else(|| ".".into());
    let text = err.to_string();
    let reason = if text.contains("not a database") {
        format!("{place} exists but is not a SQLite database")
    } else if text.contains("unable to open database file") {
        format!("cannot create or open {place} (is directory {dir} writable?)")
    } else if text.contains("readonly") || text.contains("read-only") {
        format!("{place} or its directory {dir} is read-only")
    } else {
        format!("{place}: {text}")
    };
    StoreError::BadLocation {
        location: location.to_string(),
        reason,
    }
}

impl SqliteBackend {
    /// Opens (creating it if needed) the database at a path or `sqlite:` URL and migrates it.
    pub async fn open(location: &str) -> Result<SqliteBackend, StoreError> {
        let memory = matches!(
            location,
            ":memory:" | "sqlite::memory:" | "sqlite://:memory:"
        );
        let base = if memory {
            SqliteConnectOptions::from_str("sqlite::memory:")
        } else if location.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(location)
        } else {
            Ok(SqliteConnectOptions::new().filename(location))
        }
        .map_err(|e| StoreError::BadLocation {
            location: location.to_string(),
            reason: format!("not a usable sqlite location: {e}"),
        })?;

        let path: Option<PathBuf> = (!memory).then(|| base.get_filename().to_path_buf());
        if let Some(path) = &path {
            if path.is_dir() {
                return Err(StoreError::BadLocation {
                    location: location.to_string(),
                    reason: format!("{} is a directory, not a database file", path.display()),
                });
            }
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if !dir.exists() {
                return Err(StoreError::BadLocation {
                    location: location.to_string(),
                    reason: format!("directory {} does not exist", dir.display()),
                });
            }
            if !dir.is_dir() {
                return Err(StoreError::BadLocation {
                    location: location.to_string(),
                    reason: format!("{} is not a directory", dir.display()),
                });
            }
        }

        let options = base
            .create_if_missing(true)
            // 16 KiB pages (takes effect when the file is created; sqlx sends it before the
            // journal mode). A chunk commit writes ~7 MB of pages (states, 1.5-2 KB event rows,
            // index right edges) to the WAL and the checkpoint copies them back: with 4 KiB
            // pages that is four times the frames, syscalls and checksums. Measured on the
            // bench's rescore, 200k learners: COMMIT 3.1 s → 1.8-2.1 s, the module UPDATE
            // 2.1 → 1.7 s, task 9.5 → 7.8 s; 32/64 KiB gave nothing more within the noise.
            .page_size(16_384)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // 16 MiB page cache per connection: bulk inserts touch several index b-trees. Each
            // of the pool's connections fills its own cache, and a worker uses all of them
            // (fetch, commit, leases, registry): 32 MiB made a worker 208-224 MB resident at 1M
            // modules.
            .pragma("cache_size", "-16384")
            .pragma("temp_store", "memory")
            // No memory mapping. Pages of a mapped file count in the process's RSS, and the
            // kernel maps 16 neighbouring pages around each one touched (fault-around): the
            // count of one problem's modules (an index walk) made a worker 262 MB resident at
            // 200k modules and 500 MB at 1M, growing with the course. Without it the worker
            // peaks at 130-165 MB at either size, and the task rate did not change measurably
            // (pages come from the OS cache with pread either way).
            .pragma("mmap_size", "0")
            // The checkpoint runs on the store's own thread (module `checkpoint`), beside the
            // writers. The writers' automatic checkpoint is only the backstop for a checkpointer
            // that falls behind or writes from elsewhere: 10,000 pages (160 MB of WAL). At 2,500
            // it still fired inside commits between two background checkpoints.
            .pragma("wal_autocheckpoint", "10000")
            // Statements that wait are expected here: a write waits for the file's write lock
            // while another connection or process commits (busy_timeout), and migrating a large
            // file takes seconds. sqlx would log each as a WARN after 1 s; debug keeps them for
            // diagnosis without alarming operators.
            .log_slow_statements(tracing::log::LevelFilter::Debug, Duration::from_secs(1))
            // Rows cross from the connection's thread to the async caller through a bounded
            // channel; a page of modules should not need a thread hand-off every 50 rows.
            .row_buffer_size(4096);

        // An in-memory database lives as long as its one connection, so keep exactly one.
        let pool_options = if memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(POOL_SIZE)
        };
        // Switching a fresh file to WAL needs an exclusive lock, and SQLite reports a
        // concurrent switch (another process opening the same new file) as "database is
        // locked" without waiting. Such openers simply try again.
        let mut attempt: u64 = 0;
        let pool = loop {
            match pool_options.clone().connect_with(options.clone()).await {
                Ok(pool) => break pool,
                Err(e) if is_locked(&e) && attempt < 50 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 + 10 * attempt.min(10))).await;
                }
                Err(e) => return Err(open_error(location, path.as_deref(), &e)),
            }
        };

        // Another process may be migrating the same fresh file right now; its migration
        // transaction then makes ours fail. A second look finds the schema in place.
        let mut attempt: u64 = 0;
        loop {
            match MIGRATOR.run(&pool).await {
                Ok(()) => break,
                Err(sqlx::migrate::MigrateError::VersionMissing(v)) => {
                    return Err(StoreError::BadLocation {
                        location: location.to_string(),
                        reason: format!(
                            "the database was migrated by a newer coursetasks (unknown migration {v})"
                        ),
                    });
                }
                Err(sqlx::migrate::MigrateError::Execute(e))
                    if e.to_string().contains("not a database") =>
                {
                    return Err(open_error(location, path.as_deref(), &e));
                }
                Err(_) if attempt < 5 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
                Err(source) => {
                    return Err(StoreError::Migration {
                        location: location.to_string(),
                        source,
                    });
                }
            }
        }
        // The same file through other connections: small page caches (lookups touch few pages)
        // and `query_only`, so a write sent here by mistake fails instead of contending for the
        // write lock. An in-memory database has only its one connection.
        let lookups = if memory {
            pool.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(LOOKUP_POOL_SIZE)
                .connect_with(
                    options
                        .clone()
                        .pragma("cache_size", "-2048")
                        .pragma("query_only", "true"),
                )
                .await
                .map_err(|e| open_error(location, path.as_deref(), &e))?
        };
        let writer = if memory {
            pool.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await
                .map_err(|e| open_error(location, path.as_deref(), &e))?
        };
        let checkpointer = match &path {
            Some(path) => Some(std::sync::Arc::new(
                checkpoint::Checkpointer::start(path).map_err(|source| StoreError::Sqlite {
                    context: "start the WAL checkpointer",
                    source,
                })?,
            )),
            _ => None,
        };
        Ok(SqliteBackend {
            pool,
            lookups,
            writer,
            work: Default::default(),
            checkpointer,
            write_turn: Default::default(),
        })
    }

    /// The connection pool, for diagnostics and benchmarks that compare against raw SQL.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A write transaction, after this process's earlier writers (see `write_turn`), with the
    /// guard that passes the turn on and wakes the checkpointer once it is over: keep both until
    /// the transaction is committed or rolled back.
    async fn write_tx(
        &self,
        context: &'static str,
    ) -> Result<(WriteTurn<'_>, sqlx::Transaction<'static, sqlx::Sqlite>), StoreError> {
        let turn = self.wait_for_write_turn().await;
        let tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::db(context))?;
        Ok((turn, tx))
    }

    async fn wait_for_write_turn(&self) -> WriteTurn<'_> {
        WriteTurn {
            checkpointer: self.checkpointer.as_deref(),
            _turn: self.write_turn.lock().await,
        }
    }

    /// Runs `work` as one write transaction on the writer connection's own SQLite handle:
    /// `BEGIN IMMEDIATE`, the work and `COMMIT` in a single hand-off (see `direct::run`).
    /// Commits when `work` returns `Ok`; rolls back when it fails or panics.
    ///
    /// Why not [`Self::write_tx`] around `direct::run`: sqlx runs `BEGIN` and `COMMIT` on the
    /// connection's own thread, a wake-up and a hand-back each. On two busy cores a wake-up
    /// waits its turn for a core: a 1M delete's 300 chunks spent 0.75 s in `BEGIN` alone (2.5
    /// ms each, for a statement that takes microseconds), and the worker ran 6% faster with
    /// both statements on the chunk's thread.
    async fn write_direct<R>(
        &self,
        context: &'static str,
        work: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<R>,
    ) -> Result<R, StoreError> {
        let _turn = self.wait_for_write_turn().await;
        let mut conn = self
            .writer
            .acquire()
            .await
            .map_err(StoreError::db(context))?;
        direct::run(&mut conn, context, |conn| {
            // Dropped without `commit` (an error, or unwinding from a panic), the transaction
            // rolls back, so the pooled connection never goes back with one open.
            let tx = rusqlite::Transaction::new_unchecked(
                conn,
                rusqlite::TransactionBehavior::Immediate,
            )?;
            let result = work(conn)?;
            tx.commit()?;
            Ok(result)
        })
        .await
    }

    /// Every stored form of the given usage keys: each key itself plus the other form of the
    /// same block (usage key ↔ legacy key), so modules stored under either form match.
    async fn expand_keys(&self, keys: &[String]) -> Result<Vec<String>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let param = json_param("expand usage keys", keys)?;
        let rows = sqlx::query(
            "SELECT usage_key, legacy_key FROM blocks \
             WHERE usage_key IN (SELECT value FROM jsonb_each(?1)) \
                OR legacy_key IN (SELECT value FROM jsonb_each(?1))",
        )
        .bind(param)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("expand usage keys"))?;
        let mut out: Vec<String> = Vec::with_capacity(keys.len() * 2);
        let mut push = |k: String| {
            if !out.contains(&k) {
                out.push(k);
            }
        };
        for k in keys {
            push(k.clone());
        }
        for row in rows {
            push(get(&row, "usage_key", "expand usage keys")?);
            if let Some(legacy) = get::<Option<String>>(&row, "legacy_key", "expand usage keys")? {
                push(legacy);
            }
        }
        Ok(out)
    }
}

// ----- shared statement helpers (usable inside a transaction) --------------------------------

async fn upsert_blocks_on(
    conn: &mut SqliteConnection,
    blocks: &[BlockRecord],
) -> Result<u64, StoreError> {
    const C: &str = "upsert_blocks";
    let mut written = 0;
    for batch in blocks.chunks(BATCH_ROWS) {
        let rows: Vec<_> = batch
            .iter()
            .map(|b| {
                (
                    &b.usage_key,
                    &b.course_key,
                    &b.block_type,
                    &b.parent_key,
                    &b.display_name,
                    b.position,
                    &b.settings,
                    &b.legacy_key,
                )
            })
            .collect();
        let result = sqlx::query(
            "INSERT INTO blocks (usage_key, course_key, block_type, parent_key, display_name, \
                                 position, settings, legacy_key) \
             SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, \
                    value->6, value->>7 \
             FROM jsonb_each(?1) WHERE true \
             ON CONFLICT (usage_key) DO UPDATE SET \
                 course_key = excluded.course_key, block_type = excluded.block_type, \
                 parent_key = excluded.parent_key, display_name = excluded.display_name, \
                 position = excluded.position, settings = excluded.settings, \
                 legacy_key = excluded.legacy_key",
        )
        .bind(json_param(C, &rows)?)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::db(C))?;
        written += result.rows_affected();
    }
    Ok(written)
}

async fn put_version_on(
    conn: &mut SqliteConnection,
    usage_key: &str,
    xml: &str,
    content_hash: &str,
) -> Result<ProblemVersionRecord, StoreError> {
    const C: &str = "put_problem_version";
    let key: Option<String> = sqlx::query_scalar(
        "SELECT usage_key FROM blocks WHERE usage_key = ?1 OR legacy_key = ?1 LIMIT 1",
    )
    .bind(usage_key)
    .fetch_optional(&mut *conn)
    .await
    .map_err(StoreError::db(C))?;
    let key = key.ok_or_else(|| StoreError::NotFound {
        what: "block",
        key: usage_key.to_string(),
    })?;
    let latest = sqlx::query(
        "SELECT usage_key, version, xml, content_hash, created FROM problem_versions \
         WHERE usage_key = ?1 ORDER BY version DESC LIMIT 1",
    )
    .bind(&key)
    .fetch_optional(&mut *conn)
    .await
    .map_err(StoreError::db(C))?;
    let next = match &latest {
        Some(row) => {
            let latest = version_from_row(row, false)?;
            if latest.content_hash == content_hash {
                return Ok(latest);
            }
            latest.version + 1
        }
        None => 1,
    };
    let created_at = now();
    sqlx::query(
        "INSERT INTO problem_versions (usage_key, version, xml, content_hash, created) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(&key)
    .bind(next)
    .bind(xml)
    .bind(content_hash)
    .bind(ts(created_at))
    .execute(&mut *conn)
    .await
    .map_err(StoreError::db(C))?;
    Ok(ProblemVersionRecord {
        usage_key: key,
        version: next,
        xml: xml.to_string(),
        content_hash: content_hash.to_string(),
        created_at,
        created: true,
    })
}

/// Selects the events of a task (UUID `?1`) through `tracking_events_task`: by the task's
/// `seq`, or, for a task that is not stored (NULL `seq`), among the events without one by their
/// UUID column. The UUID test comes second and only runs for such tasks, so for a stored task
/// the index alone answers (no table row is read to count).
macro_rules! task_events_where {
    () => {
        "task_seq IS (SELECT seq FROM tasks WHERE id = ?1) \
         AND ((SELECT seq FROM tasks WHERE id = ?1) IS NOT NULL OR task_id = ?1)"
    };
}
const TASK_EVENT_COUNT_SQL: &str = concat!(
    "SELECT (SELECT count(*) FROM tracking_events INDEXED BY tracking_events_task WHERE ",
    task_events_where!(),
    ") + (SELECT coalesce(sum(count), 0) FROM event_batches INDEXED BY event_batches_task WHERE ",
    task_events_where!(),
    ")"
);

/// The lowest `first_id` a batch holding an id above `after_id` can have: bounds the index range
/// a cursor query looks back over (see `audit_batch`).
fn batch_lookback(after_id: i64) -> i64 {
    after_id.saturating_sub(audit_batch::MAX_BATCH_RECORDS as i64)
}

/// Reads event batch rows (`first_id, count, task_id, course_key, records`, in `first_id` order)
/// into `events` until it holds `limit` events with ids above `after_id`.
async fn read_event_batches(
    mut batches: futures::stream::BoxStream<'_, Result<SqliteRow, sqlx::Error>>,
    after_id: i64,
    limit: usize,
    events: &mut Vec<EventRecord>,
) -> Result<(), StoreError> {
    const C: &str = "list_events";
    while events.len() < limit {
        let Some(row) = batches.try_next().await.map_err(StoreError::db(C))? else {
            break;
        };
        let task_id: Option<String> = get(&row, "task_id", C)?;
        audit_batch::StoredEvents {
            first_id: get(&row, "first_id", C)?,
            count: get(&row, "count", C)?,
            task_id: task_id
                .map(|t| Uuid::parse_str(&t).map_err(|e| StoreError::corrupt(C, e)))
                .transpose()?,
            course_key: get(&row, "course_key", C)?,
            records: get(&row, "records", C)?,
        }
        .read_into(after_id, limit, events)
        .map_err(|e| StoreError::corrupt(C, e))?;
    }
    Ok(())
}

fn page_limit(limit: u32) -> i64 {
    i64::from(limit)
}

#[async_trait]
impl Backend for SqliteBackend {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    async fn upsert_course(&self, course: &CourseRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO courses (key, display_name, created) VALUES (?1, ?2, ?3) \
             ON CONFLICT (key) DO UPDATE SET display_name = excluded.display_name",
        )
        .bind(&course.key)
        .bind(&course.display_name)
        .bind(ts(course.created))
        .execute(&self.writer)
        .await
        .map_err(StoreError::db("upsert_course"))?;
        Ok(())
    }

    async fn get_course(&self, key: &str) -> Result<Option<CourseRecord>, StoreError> {
        const C: &str = "get_course";
        let row = sqlx::query("SELECT key, display_name, created FROM courses WHERE key = ?1")
            .bind(key)
            .fetch_optional(&self.lookups)
            .await
            .map_err(StoreError::db(C))?;
        row.map(|row| {
            Ok(CourseRecord {
                key: get(&row, "key", C)?,
                display_name: get(&row, "display_name", C)?,
                created: get(&row, "created", C)?,
            })
        })
        .transpose()
    }

    async fn list_courses(&self) -> Result<Vec<CourseRecord>, StoreError> {
        const C: &str = "list_courses";
        let rows = sqlx::query("SELECT key, display_name, created FROM courses ORDER BY key")
            .fetch_all(&self.lookups)
            .await
            .map_err(StoreError::db(C))?;
        rows.iter()
            .map(|row| {
                Ok(CourseRecord {
                    key: get(row, "key", C)?,
                    display_name: get(row, "display_name", C)?,
                    created: get(row, "created", C)?,
                })
            })
            .collect()
    }

    async fn upsert_blocks(&self, blocks: &[BlockRecord]) -> Result<u64, StoreError> {
        if blocks.is_empty() {
            return Ok(0);
        }
        let (_turn, mut tx) = self.write_tx("upsert_blocks").await?;
        let n = upsert_blocks_on(&mut tx, blocks).await?;
        tx.commit().await.map_err(StoreError::db("upsert_blocks"))?;
        Ok(n)
    }

    async fn get_block(&self, key: &str) -> Result<Option<BlockRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            block_cols!(),
            " FROM blocks b WHERE b.usage_key = ?1 OR b.legacy_key = ?1 LIMIT 1"
        ))
        .bind(key)
        .fetch_optional(&self.lookups)
        .await
        .map_err(StoreError::db("get_block"))?;
        row.as_ref().map(block_from_row).transpose()
    }

    async fn list_blocks(&self, course_key: &str) -> Result<Vec<BlockRecord>, StoreError> {
        // Pre-order walk; the sort path is the chain of (position, key) of the ancestors, with
        // char(1) as separator so that a parent sorts right before its own subtree. The depth
        // bound stops a corrupt (cyclic) tree.
        let rows = sqlx::query(concat!(
            "WITH RECURSIVE tree (usage_key, path, depth) AS ( \
                 SELECT b.usage_key, printf('%012d', b.position) || ':' || b.usage_key, 0 \
                 FROM blocks b \
                 WHERE b.course_key = ?1 \
                   AND (b.parent_key IS NULL OR NOT EXISTS ( \
                        SELECT 1 FROM blocks p \
                        WHERE p.usage_key = b.parent_key AND p.course_key = ?1)) \
                 UNION ALL \
                 SELECT c.usage_key, \
                        t.path || char(1) || printf('%012d', c.position) || ':' || c.usage_key, \
                        t.depth + 1 \
                 FROM tree t JOIN blocks c ON c.parent_key = t.usage_key \
                 WHERE t.depth < 64 AND c.course_key = ?1) \
             SELECT ",
            block_cols!(),
            " FROM tree t JOIN blocks b ON b.usage_key = t.usage_key ORDER BY t.path"
        ))
        .bind(course_key)
        .fetch_all(&self.lookups)
        .await
        .map_err(StoreError::db("list_blocks"))?;
        rows.iter().map(block_from_row).collect()
    }

    async fn descendants(
        &self,
        usage_key: &str,
        block_type: Option<&str>,
    ) -> Result<Vec<BlockRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "WITH RECURSIVE start (k) AS ( \
                 SELECT usage_key FROM blocks WHERE usage_key = ?1 OR legacy_key = ?1 LIMIT 1), \
             tree (usage_key, path, depth) AS ( \
                 SELECT c.usage_key, printf('%012d', c.position) || ':' || c.usage_key, 1 \
                 FROM start JOIN blocks c ON c.parent_key = start.k \
                 UNION ALL \
                 SELECT c.usage_key, \
                        t.path || char(1) || printf('%012d', c.position) || ':' || c.usage_key, \
                        t.depth + 1 \
                 FROM tree t JOIN blocks c ON c.parent_key = t.usage_key \
                 WHERE t.depth < 64) \
             SELECT ",
            block_cols!(),
            " FROM tree t JOIN blocks b ON b.usage_key = t.usage_key \
              WHERE ?2 IS NULL OR b.block_type = ?2 \
              ORDER BY t.path"
        ))
        .bind(usage_key)
        .bind(block_type)
        .fetch_all(&self.lookups)
        .await
        .map_err(StoreError::db("descendants"))?;
        rows.iter().map(block_from_row).collect()
    }

    async fn put_problem_version(
        &self,
        usage_key: &str,
        xml: &str,
        content_hash: &str,
    ) -> Result<ProblemVersionRecord, StoreError> {
        let (_turn, mut tx) = self.write_tx("put_problem_version").await?;
        let version = put_version_on(&mut tx, usage_key, xml, content_hash).await?;
        tx.commit()
            .await
            .map_err(StoreError::db("put_problem_version"))?;
        Ok(version)
    }

    async fn current_problem_version(
        &self,
        usage_key: &str,
    ) -> Result<Option<ProblemVersionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT v.usage_key, v.version, v.xml, v.content_hash, v.created \
             FROM problem_versions v \
             WHERE v.usage_key = (SELECT usage_key FROM blocks \
                                  WHERE usage_key = ?1 OR legacy_key = ?1 LIMIT 1) \
             ORDER BY v.version DESC LIMIT 1",
        )
        .bind(usage_key)
        .fetch_optional(&self.lookups)
        .await
        .map_err(StoreError::db("current_problem_version"))?;
        row.map(|r| version_from_row(&r, false)).transpose()
    }

    async fn problem_version(
        &self,
        usage_key: &str,
        version: i64,
    ) -> Result<Option<ProblemVersionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT v.usage_key, v.version, v.xml, v.content_hash, v.created \
             FROM problem_versions v \
             WHERE v.usage_key = (SELECT usage_key FROM blocks \
                                  WHERE usage_key = ?1 OR legacy_key = ?1 LIMIT 1) \
               AND v.version = ?2",
        )
        .bind(usage_key)
        .bind(version)
        .fetch_optional(&self.lookups)
        .await
        .map_err(StoreError::db("problem_version"))?;
        row.map(|r| version_from_row(&r, false)).transpose()
    }

    async fn list_problem_versions(
        &self,
        usage_key: &str,
    ) -> Result<Vec<ProblemVersionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT v.usage_key, v.version, v.xml, v.content_hash, v.created \
             FROM problem_versions v \
             WHERE v.usage_key = (SELECT usage_key FROM blocks \
                                  WHERE usage_key = ?1 OR legacy_key = ?1 LIMIT 1) \
             ORDER BY v.version",
        )
        .bind(usage_key)
        .fetch_all(&self.lookups)
        .await
        .map_err(StoreError::db("list_problem_versions"))?;
        rows.iter().map(|r| version_from_row(r, false)).collect()
    }

    async fn import_course_atomically(
        &self,
        course: &CourseRecord,
        blocks: &[BlockRecord],
        versions: &[NewProblemVersion],
    ) -> Result<ImportReport, StoreError> {
        const C: &str = "import_course_atomically";
        if let Some(b) = blocks.iter().find(|b| b.course_key != course.key) {
            return Err(StoreError::Invalid {
                context: C,
                message: format!(
                    "block {} belongs to course {}, not to the imported course {}",
                    b.usage_key, b.course_key, course.key
                ),
            });
        }
        let (_turn, mut tx) = self.write_tx(C).await?;
        let existed: Option<i64> = sqlx::query_scalar("SELECT 1 FROM courses WHERE key = ?1")
            .bind(&course.key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db(C))?;
        sqlx::query(
            "INSERT INTO courses (key, display_name, created) VALUES (?1, ?2, ?3) \
             ON CONFLICT (key) DO UPDATE SET display_name = excluded.display_name",
        )
        .bind(&course.key)
        .bind(&course.display_name)
        .bind(ts(course.created))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        let written = upsert_blocks_on(&mut tx, blocks).await?;
        let keys: Vec<&str> = blocks.iter().map(|b| b.usage_key.as_str()).collect();
        let stale: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM blocks WHERE course_key = ?1 \
               AND usage_key NOT IN (SELECT value FROM jsonb_each(?2))",
        )
        .bind(&course.key)
        .bind(json_param(C, &keys)?)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        let mut report = ImportReport {
            course_created: existed.is_none(),
            blocks: written,
            stale_blocks: count(stale),
            ..ImportReport::default()
        };
        for v in versions {
            let stored = put_version_on(&mut tx, &v.usage_key, &v.xml, &v.content_hash).await?;
            if stored.created {
                report.versions_created += 1;
            } else {
                report.versions_unchanged += 1;
            }
        }
        tx.commit().await.map_err(StoreError::db(C))?;
        Ok(report)
    }

    async fn upsert_learners(&self, learners: &[LearnerRecord]) -> Result<u64, StoreError> {
        const C: &str = "upsert_learners";
        if learners.is_empty() {
            return Ok(0);
        }
        let (_turn, mut tx) = self.write_tx(C).await?;
        let mut written = 0;
        for batch in learners.chunks(BATCH_ROWS) {
            let rows: Vec<_> = batch
                .iter()
                .map(|l| (l.id, &l.username, &l.email))
                .collect();
            let result = sqlx::query(
                "INSERT INTO learners (id, username, email) \
                 SELECT value->>0, value->>1, value->>2 FROM jsonb_each(?1) WHERE true \
                 ON CONFLICT (id) DO UPDATE SET username = excluded.username, \
                                                email = excluded.email",
            )
            .bind(json_param(C, &rows)?)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(C))?;
            written += result.rows_affected();
        }
        tx.commit().await.map_err(StoreError::db(C))?;
        Ok(written)
    }

    async fn create_learner(
        &self,
        username: &str,
        email: &str,
    ) -> Result<LearnerRecord, StoreError> {
        let row = sqlx::query(
            "INSERT INTO learners (username, email) VALUES (?1, ?2) \
             RETURNING id, username, email",
        )
        .bind(username)
        .bind(email)
        .fetch_one(&self.writer)
        .await
        .map_err(StoreError::db("create_learner"))?;
        learner_from_row(&row)
    }

    async fn find_learner(&self, identifier: &str) -> Result<Option<LearnerRecord>, StoreError> {
        let sql = if identifier.contains('@') {
            "SELECT id, username, email FROM learners WHERE email = ?1"
        } else {
            "SELECT id, username, email FROM learners WHERE username = ?1"
        };
        let row = sqlx::query(sql)
            .bind(identifier)
            .fetch_optional(&self.lookups)
            .await
            .map_err(StoreError::db("find_learner"))?;
        row.as_ref().map(learner_from_row).transpose()
    }

    async fn get_learner(&self, id: i64) -> Result<Option<LearnerRecord>, StoreError> {
        let row = sqlx::query("SELECT id, username, email FROM learners WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.lookups)
            .await
            .map_err(StoreError::db("get_learner"))?;
        row.as_ref().map(learner_from_row).transpose()
    }

    async fn list_learners(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<LearnerRecord>, StoreError> {
        data_import::list_learners(self, after_id, limit).await
    }

    async fn check_learners(
        &self,
        learners: &[LearnerRecord],
    ) -> Result<Vec<LearnerConflict>, StoreError> {
        data_import::check_learners(self, learners).await
    }

    async fn import_modules(&self, modules: &[ModuleRecord]) -> Result<ModuleImport, StoreError> {
        data_import::import_modules(self, modules).await
    }

    async fn check_modules(
        &self,
        modules: &[ModuleRecord],
    ) -> Result<Vec<(usize, ModuleRejection)>, StoreError> {
        data_import::check_modules(&self.pool, modules).await
    }

    async fn count_learners(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM learners")
            .fetch_one(&self.lookups)
            .await
            .map_err(StoreError::db("count_learners"))?;
        Ok(count(n))
    }

    async fn insert_modules(&self, modules: &[NewModule]) -> Result<u64, StoreError> {
        const C: &str = "insert_modules";
        if modules.is_empty() {
            return Ok(0);
        }
        let at = ts(now());
        self.write_direct(C, |conn| {
            direct::insert_new_modules(conn, modules, &at, direct::Existing::Refuse)
        })
        .await
    }

    async fn upsert_modules(&self, modules: &[ModuleRecord]) -> Result<u64, StoreError> {
        const C: &str = "upsert_modules";
        if modules.is_empty() {
            return Ok(0);
        }
        let (_turn, mut tx) = self.write_tx(C).await?;
        let mut written = 0;
        for batch in modules.chunks(BATCH_ROWS) {
            let rows: Vec<_> = batch
                .iter()
                .map(|m| {
                    (
                        m.learner_id,
                        &m.course_key,
                        &m.usage_key,
                        &m.module_type,
                        &m.state,
                        m.grade,
                        m.max_grade,
                        &m.done,
                        ts(m.created),
                        ts(m.modified),
                    )
                })
                .collect();
            let result = sqlx::query(
                "INSERT INTO learner_modules (learner_id, course_key, usage_key, module_type, \
                                              state, grade, max_grade, done, created, modified) \
                 SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, \
                        value->>6, value->>7, value->>8, value->>9 \
                 FROM jsonb_each(?1) WHERE true \
                 ON CONFLICT (learner_id, usage_key, course_key) DO UPDATE SET \
                     module_type = excluded.module_type, state = excluded.state, \
                     grade = excluded.grade, max_grade = excluded.max_grade, \
                     done = excluded.done, created = excluded.created, \
                     modified = excluded.modified",
            )
            .bind(json_param(C, &rows)?)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(C))?;
            written += result.rows_affected();
        }
        tx.commit().await.map_err(StoreError::db(C))?;
        Ok(written)
    }

    async fn count_modules(&self, scope: &ModuleScope) -> Result<u64, StoreError> {
        const C: &str = "count_modules";
        let keys = self.expand_keys(&scope.usage_keys).await?;
        let until = scope.until_id.unwrap_or(i64::MAX);
        let query = match (scope.learner_id, keys.is_empty()) {
            (Some(learner), true) => sqlx::query_scalar(
                "SELECT count(*) FROM learner_modules WHERE learner_id = ?1 AND course_key = ?2 \
                   AND id <= ?3",
            )
            .bind(learner)
            .bind(&scope.course_key)
            .bind(until),
            (Some(learner), false) => sqlx::query_scalar(
                "SELECT count(*) FROM learner_modules WHERE learner_id = ?1 AND course_key = ?2 \
                   AND id <= ?3 AND usage_key IN (SELECT value FROM jsonb_each(?4))",
            )
            .bind(learner)
            .bind(&scope.course_key)
            .bind(until)
            .bind(json_param(C, &keys)?),
            (None, true) => sqlx::query_scalar(
                "SELECT count(*) FROM learner_modules WHERE course_key = ?1 AND id <= ?2",
            )
            .bind(&scope.course_key)
            .bind(until),
            (None, false) => sqlx::query_scalar(
                "SELECT count(*) FROM learner_modules WHERE course_key = ?1 AND id <= ?2 \
                   AND usage_key IN (SELECT value FROM jsonb_each(?3))",
            )
            .bind(&scope.course_key)
            .bind(until)
            .bind(json_param(C, &keys)?),
        };
        let n: i64 = query
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::db(C))?;
        Ok(count(n))
    }

    async fn module_split_points(
        &self,
        scope: &ModuleScope,
        every: u64,
    ) -> Result<Vec<i64>, StoreError> {
        const C: &str = "module_split_points";
        let every = every.max(1);
        let keys = self.expand_keys(&scope.usage_keys).await?;
        // The ids stream in order and every n-th is kept here, so nothing is buffered: numbering
        // them in SQL with window functions made SQLite materialize the whole scope (tens of MB
        // at a million modules). Without a learner the scan index (course_key, usage_key, id)
        // covers `id`, so no module row is read; for one usage key it is also already in id
        // order. A learner filter needs the rows, but one learner has only a few modules.
        let learner_filter = if scope.learner_id.is_some() {
            "AND learner_id = ?3"
        } else {
            "AND ?3 IS NULL"
        };
        let key_filter = match keys.len() {
            0 => "AND ?4 IS NULL",
            1 => "AND usage_key = ?4 ->> 0",
            _ => "AND usage_key IN (SELECT value FROM jsonb_each(?4))",
        };
        let sql = format!(
            "SELECT id FROM learner_modules \
             WHERE course_key = ?1 AND id <= ?2 {learner_filter} {key_filter} ORDER BY id"
        );
        use rusqlite::types::Value;
        let params = [
            Value::Text(scope.course_key.clone()),
            Value::Integer(scope.until_id.unwrap_or(i64::MAX)),
            scope.learner_id.map_or(Value::Null, Value::Integer),
            if keys.is_empty() {
                Value::Null
            } else {
                Value::Text(json_param(C, &keys)?)
            },
        ];
        // Stepped on the connection's own thread: a million ids handed one by one through
        // sqlx's row channel took half a second of a task's planning, the scan itself a tenth.
        let mut conn = self.pool.acquire().await.map_err(StoreError::db(C))?;
        let (mut points, seen) = direct::run(&mut conn, C, |conn| {
            let mut statement = conn.prepare(&sql)?;
            let mut rows = statement.query(rusqlite::params_from_iter(params))?;
            let (mut points, mut seen) = (Vec::new(), 0u64);
            while let Some(row) = rows.next()? {
                seen += 1;
                if seen.is_multiple_of(every) {
                    points.push(row.get::<_, i64>(0)?);
                }
            }
            Ok((points, seen))
        })
        .await?;
        // A cut after the very last module would leave an empty last range.
        if seen > 0 && seen.is_multiple_of(every) {
            points.pop();
        }
        Ok(points)
    }

    async fn fetch_modules(
        &self,
        scope: &ModuleScope,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<ModuleRecord>, StoreError> {
        use rusqlite::types::Value;
        const C: &str = "fetch_modules";
        if limit == 0 {
            return Ok(Vec::new());
        }
        let keys = self.expand_keys(&scope.usage_keys).await?;
        let limit = Value::Integer(page_limit(limit));
        let until = Value::Integer(scope.until_id.unwrap_or(i64::MAX));
        let course = Value::Text(scope.course_key.clone());
        let after = Value::Integer(after_id);
        let keys_param = || -> Result<Value, StoreError> {
            Ok(if keys.is_empty() {
                Value::Null
            } else {
                Value::Text(json_param(C, &keys)?)
            })
        };
        let (sql, params): (std::borrow::Cow<'static, str>, Vec<Value>) =
            if let Some(learner) = scope.learner_id {
                // One learner has few modules: the unique (learner, usage, course) index finds
                // them all and sorting them is cheap.
                let sql = concat!(
                    "SELECT ",
                    module_cols!(),
                    " FROM learner_modules m JOIN learners l ON l.id = m.learner_id \
                      WHERE m.learner_id = ?1 AND m.course_key = ?2 AND m.id > ?3 AND m.id <= ?6 \
                        AND (?4 IS NULL OR m.usage_key IN (SELECT value FROM jsonb_each(?4))) \
                      ORDER BY m.id LIMIT ?5"
                );
                let params = vec![
                    Value::Integer(learner),
                    course,
                    after,
                    keys_param()?,
                    limit,
                    until,
                ];
                (sql.into(), params)
            } else if keys.len() == 1 {
                // The scan index (course_key, usage_key, id) delivers rows in id order: each
                // page is one index range read, never a sort.
                let sql = concat!(
                    "SELECT ",
                    module_cols!(),
                    " FROM learner_modules m INDEXED BY learner_modules_scan \
                      JOIN learners l ON l.id = m.learner_id \
                      WHERE m.course_key = ?1 AND m.usage_key = ?2 AND m.id > ?3 AND m.id <= ?5 \
                      ORDER BY m.id LIMIT ?4"
                );
                let params = vec![course, Value::Text(keys[0].clone()), after, limit, until];
                (sql.into(), params)
            } else if !keys.is_empty() && keys.len() <= MAX_MERGED_KEYS {
                // Several keys: one ordered index range per key, each cut to the page size,
                // then merged. Reads at most keys × limit index entries per page.
                let parts: Vec<String> = (0..keys.len())
                    .map(|i| {
                        format!(
                            "SELECT * FROM (SELECT id FROM learner_modules \
                             INDEXED BY learner_modules_scan \
                             WHERE course_key = ?1 AND usage_key = ?{} AND id > ?2 AND id <= ?4 \
                             ORDER BY id LIMIT ?3)",
                            i + 5
                        )
                    })
                    .collect();
                let sql = format!(
                    "SELECT {} FROM ({}) AS page \
                     JOIN learner_modules m ON m.id = page.id \
                     JOIN learners l ON l.id = m.learner_id \
                     ORDER BY m.id LIMIT ?3",
                    module_cols!(),
                    parts.join(" UNION ALL ")
                );
                let mut params = vec![course, after, limit, until];
                params.extend(keys.iter().cloned().map(Value::Text));
                (sql.into(), params)
            } else {
                // Whole course, or very many keys: walk the table in id order from the cursor
                // and filter. Cost is proportional to the rows passed over, so it is efficient
                // when the course's modules make up most of the table.
                let sql = concat!(
                    "SELECT ",
                    module_cols!(),
                    " FROM learner_modules m NOT INDEXED JOIN learners l ON l.id = m.learner_id \
                      WHERE m.id > ?2 AND m.id <= ?5 AND m.course_key = ?1 \
                        AND (?3 IS NULL OR m.usage_key IN (SELECT value FROM jsonb_each(?3))) \
                      ORDER BY m.id LIMIT ?4"
                );
                let params = vec![course, after, keys_param()?, limit, until];
                (sql.into(), params)
            };
        let mut conn = self.pool.acquire().await.map_err(StoreError::db(C))?;
        direct::run(&mut conn, C, |conn| {
            direct::select_modules(conn, &sql, &params)
        })
        .await
    }

    async fn get_module(
        &self,
        learner_id: i64,
        course_key: &str,
        usage_key: &str,
    ) -> Result<Option<ModuleRecord>, StoreError> {
        const C: &str = "get_module";
        let keys = self.expand_keys(&[usage_key.to_string()]).await?;
        let row = sqlx::query(concat!(
            "SELECT ",
            module_cols!(),
            " FROM learner_modules m JOIN learners l ON l.id = m.learner_id \
              WHERE m.learner_id = ?1 AND m.course_key = ?2 \
                AND m.usage_key IN (SELECT value FROM jsonb_each(?3)) \
              ORDER BY m.id LIMIT 1"
        ))
        .bind(learner_id)
        .bind(course_key)
        .bind(json_param(C, &keys)?)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db(C))?;
        row.as_ref().map(module_from_row).transpose()
    }

    async fn submit_task(&self, task: &NewTask) -> Result<TaskRecord, SubmitError> {
        const C: &str = "submit_task";
        let at = ts(now());
        let input = json_param(C, &task.input)?;
        let (_turn, mut tx) = self.write_tx(C).await?;
        // The partial unique index decides; ON CONFLICT turns the refusal into "no row" so the
        // blocking task can be read in the same transaction (the write lock is held, so it
        // cannot finish in between).
        let inserted = sqlx::query(concat!(
            "INSERT INTO tasks (id, course_key, task_type, task_key, input, requester, state, \
                                created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'QUEUED', ?7, ?7) \
             ON CONFLICT (course_key, task_type, task_key) \
                 WHERE state IN ('QUEUED', 'RUNNING') DO NOTHING \
             RETURNING ",
            task_cols!()
        ))
        .bind(task.id.hyphenated().to_string())
        .bind(&task.course_key)
        .bind(&task.task_type)
        .bind(&task.task_key)
        .bind(input)
        .bind(&task.requester)
        .bind(&at)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        if let Some(row) = inserted {
            let record = task_from_row(&row)?;
            tx.commit().await.map_err(StoreError::db(C))?;
            self.work.notify_waiters();
            return Ok(record);
        }
        let existing = sqlx::query(concat!(
            "SELECT ",
            task_cols!(),
            " FROM tasks WHERE course_key = ?1 AND task_type = ?2 AND task_key = ?3 \
                AND state IN ('QUEUED', 'RUNNING')"
        ))
        .bind(&task.course_key)
        .bind(&task.task_type)
        .bind(&task.task_key)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        let existing = task_from_row(&existing)?;
        tx.rollback().await.map_err(StoreError::db(C))?;
        Err(SubmitError::AlreadyRunning { existing })
    }

    async fn get_task(&self, id: Uuid) -> Result<Option<TaskRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            task_cols!(),
            " FROM tasks WHERE id = ?1"
        ))
        .bind(id.hyphenated().to_string())
        .fetch_optional(&self.lookups)
        .await
        .map_err(StoreError::db("get_task"))?;
        row.as_ref().map(task_from_row).transpose()
    }

    async fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>, StoreError> {
        const C: &str = "list_tasks";
        let states: Option<String> = if filter.states.is_empty() {
            None
        } else {
            let names: Vec<&str> = filter.states.iter().map(|s| s.as_str()).collect();
            Some(json_param(C, &names)?)
        };
        let rows = sqlx::query(concat!(
            "SELECT ",
            task_cols!(),
            " FROM tasks \
              WHERE (?1 IS NULL OR course_key = ?1) \
                AND (?2 IS NULL OR state IN (SELECT value FROM jsonb_each(?2))) \
                AND (?3 IS NULL OR task_type = ?3) \
                AND (?4 IS NULL OR task_key = ?4) \
                AND (?5 IS NULL OR requester = ?5) \
                AND (?7 IS NULL OR json_extract(input, '$.student') = ?7) \
              ORDER BY created_at DESC, rowid DESC LIMIT ?6"
        ))
        .bind(&filter.course_key)
        .bind(states)
        .bind(&filter.task_type)
        .bind(&filter.task_key)
        .bind(&filter.requester)
        .bind(filter.limit.map(i64::from).unwrap_or(-1))
        .bind(&filter.student)
        .fetch_all(&self.lookups)
        .await
        .map_err(StoreError::db(C))?;
        rows.iter().map(task_from_row).collect()
    }

    async fn claim_task(
        &self,
        worker: &str,
        lease: Duration,
    ) -> Result<Option<TaskRecord>, StoreError> {
        const C: &str = "claim_task";
        let at = now();
        let (_turn, mut tx) = self.write_tx(C).await?;
        // A task whose planner died after a cancel request has nobody left to stop it: finish
        // it as REVOKED here rather than hand it to a new worker.
        sqlx::query(
            "UPDATE tasks SET state = 'REVOKED', finished_at = ?1, updated_at = ?1, \
                              lease_expires_at = NULL \
             WHERE state = 'RUNNING' AND subtasks = 0 AND cancel_requested = 1 \
               AND lease_expires_at < ?1",
        )
        .bind(ts(at))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        let row = sqlx::query(concat!(
            "UPDATE tasks SET state = 'RUNNING', lease_owner = ?1, lease_expires_at = ?2, \
                              lease_ms = ?3, started_at = COALESCE(started_at, ?4), \
                              updated_at = ?4, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM tasks \
                         WHERE state = 'QUEUED' \
                            OR (state = 'RUNNING' AND subtasks = 0 AND lease_expires_at < ?4) \
                         ORDER BY created_at, rowid LIMIT 1) \
             RETURNING ",
            task_cols!()
        ))
        .bind(worker)
        .bind(ts(lease_end(at, lease)))
        .bind(lease_ms(lease))
        .bind(ts(at))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        let task = row.as_ref().map(task_from_row).transpose()?;
        tx.commit().await.map_err(StoreError::db(C))?;
        Ok(task)
    }

    async fn renew_lease(
        &self,
        task_id: Uuid,
        worker: &str,
        lease: Duration,
    ) -> Result<LeaseStatus, StoreError> {
        let at = now();
        let row: Option<bool> = sqlx::query_scalar(
            "UPDATE tasks SET lease_expires_at = ?1, lease_ms = ?2, updated_at = ?3 \
             WHERE id = ?4 AND lease_owner = ?5 AND state = 'RUNNING' AND subtasks = 0 \
             RETURNING cancel_requested",
        )
        .bind(ts(lease_end(at, lease)))
        .bind(lease_ms(lease))
        .bind(ts(at))
        .bind(task_id.hyphenated().to_string())
        .bind(worker)
        .fetch_optional(&self.writer)
        .await
        .map_err(StoreError::db("renew_lease"))?;
        Ok(match row {
            Some(stop_requested) => LeaseStatus::Held { stop_requested },
            None => LeaseStatus::Lost,
        })
    }

    async fn commit_chunk(&self, chunk: &ChunkCommit) -> Result<ChunkAck, StoreError> {
        const C: &str = "commit_chunk";
        let task_id = chunk.task_id.hyphenated().to_string();
        let at = now();
        let at_text = ts(at);
        // Encoded and packed before the write turn, so that this overlaps the other task loop's
        // commit. Outcomes of modules this chunk inserts are encoded once their ids are known.
        let invalid = |message: String| StoreError::Invalid {
            context: C,
            message,
        };
        let events =
            audit_batch::event_batches(&chunk.events, Some(chunk.task_id)).map_err(invalid)?;
        let outcomes = if chunk.outcomes.iter().all(|o| o.module_id.is_some()) {
            Some(audit_batch::outcome_batches(&chunk.outcomes).map_err(invalid)?)
        } else {
            None
        };
        // Every statement of the chunk in one hand-off to SQLite: through sqlx each would be a
        // round trip to the connection's thread, and a task commits a thousand chunks.
        self.write_direct(C, |conn| {
            // (a) Fence. The write lock is held from here to commit, so the lease cannot change
            // under us. The cursor check refuses a chunk that does not continue the last one.
            let fence = conn
                .query_row(
                    "SELECT t.seq, t.course_key, s.lease_ms \
                     FROM subtasks s JOIN tasks t ON t.seq = s.task_seq \
                     WHERE t.id = ?1 AND s.idx = ?2 AND s.lease_owner = ?3 \
                       AND s.state = 'RUNNING' AND s.cursor = ?4",
                    rusqlite::params![task_id, chunk.subtask, chunk.worker, chunk.expected_cursor],
                    |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, i64>(2)?,
                        ))
                    },
                )
                .optional()?;
            // A refusal ends the closure with `Ok(Err(..))`: not SQLite's error. It comes before
            // any write, so the transaction it commits is empty.
            let Some((seq, course_key, lease_ms)) = fence else {
                return Ok(Err(StoreError::LeaseLost {
                    task_id: chunk.task_id,
                    worker: chunk.worker.clone(),
                }));
            };
            // Checked under the fence, so that a chunk from a worker that lost its lease is
            // LeaseLost whatever it holds.
            if let Err(invalid) = crate::model::check_chunk_covers_its_modules(chunk) {
                return Ok(Err(invalid));
            }

            // (b) Module changes, (c) outcomes and events. The fence and the range check above
            // are what makes them happen once per learner: no index on these rows refuses a
            // repeat.
            direct::update_modules(conn, &chunk.module_updates)?;
            direct::insert_new_modules(
                conn,
                &chunk.module_inserts,
                &at_text,
                direct::Existing::Overwrite,
            )?;
            direct::delete_modules(conn, &chunk.module_deletes)?;
            let resolved;
            let outcomes = match &outcomes {
                Some(batches) => batches,
                None => {
                    let outcomes =
                        direct::resolve_inserted_modules(conn, &chunk.outcomes, &course_key)?;
                    // Encoding plain records into a buffer does not fail in practice; should it,
                    // its message still ends the transaction, carried as SQLite's error type
                    // because this closure returns one.
                    resolved = audit_batch::outcome_batches(&outcomes)
                        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
                    &resolved
                }
            };
            direct::insert_outcome_batches(conn, outcomes, seq, &at_text)?;
            direct::insert_event_batches(conn, &events, Some((chunk.task_id, seq)))?;

            // (d) Subtask counters, cursor and lease; then the task's counters (last, see the
            // lock order in the Backend docs).
            let lease = Duration::from_millis(u64::try_from(lease_ms).unwrap_or(0));
            let d = chunk.deltas;
            let deltas = [d.attempted, d.succeeded, d.skipped, d.failed]
                .map(|n| i64::try_from(n).unwrap_or(i64::MAX));
            let cursor: i64 = conn.query_row(
                "UPDATE subtasks SET attempted = attempted + ?1, succeeded = succeeded + ?2, \
                                     skipped = skipped + ?3, failed = failed + ?4, cursor = ?5, \
                                     updated_at = ?6, lease_expires_at = ?7 \
                 WHERE task_seq = ?8 AND idx = ?9 \
                 RETURNING cursor",
                rusqlite::params![
                    deltas[0],
                    deltas[1],
                    deltas[2],
                    deltas[3],
                    chunk.new_cursor,
                    at_text,
                    ts(lease_end(at, lease)),
                    seq,
                    chunk.subtask
                ],
                |row| row.get(0),
            )?;
            conn.query_row(
                "UPDATE tasks SET attempted = attempted + ?1, succeeded = succeeded + ?2, \
                                  skipped = skipped + ?3, failed = failed + ?4, updated_at = ?5 \
                 WHERE seq = ?6 \
                 RETURNING cancel_requested OR error IS NOT NULL, total, attempted, succeeded, \
                           skipped, failed",
                rusqlite::params![deltas[0], deltas[1], deltas[2], deltas[3], at_text, seq],
                |row| {
                    Ok(Ok(ChunkAck {
                        stop_requested: row.get(0)?,
                        counts: Counts {
                            attempted: count(row.get(2)?),
                            succeeded: count(row.get(3)?),
                            skipped: count(row.get(4)?),
                            failed: count(row.get(5)?),
                        },
                        total: row.get::<_, Option<i64>>(1)?.map(count),
                        cursor,
                    }))
                },
            )
        })
        .await?
    }

    async fn finish_task(
        &self,
        task_id: Uuid,
        worker: &str,
        final_state: FinalState,
    ) -> Result<TaskRecord, StoreError> {
        const C: &str = "finish_task";
        let error = match &final_state {
            FinalState::Failure { error } => Some(json_param(C, error)?),
            _ => None,
        };
        let row = sqlx::query(concat!(
            "UPDATE tasks SET state = ?1, finished_at = ?2, updated_at = ?2, error = ?3, \
                              lease_expires_at = NULL \
             WHERE id = ?4 AND lease_owner = ?5 AND state = 'RUNNING' AND subtasks = 0 \
             RETURNING ",
            task_cols!()
        ))
        .bind(final_state.state().as_str())
        .bind(ts(now()))
        .bind(error)
        .bind(task_id.hyphenated().to_string())
        .bind(worker)
        .fetch_optional(&self.writer)
        .await
        .map_err(StoreError::db(C))?;
        match row {
            Some(row) => task_from_row(&row),
            None => Err(StoreError::LeaseLost {
                task_id,
                worker: worker.to_string(),
            }),
        }
    }

    async fn request_cancel(&self, task_id: Uuid) -> Result<CancelOutcome, StoreError> {
        const C: &str = "request_cancel";
        let at = ts(now());
        let id = task_id.hyphenated().to_string();
        let (_turn, mut tx) = self.write_tx(C).await?;
        // Subtasks before the task: the lock order of every driver. Queued subtasks will never
        // run; running ones see the flag at their next chunk.
        sqlx::query(
            "UPDATE subtasks SET state = 'REVOKED', finished_at = ?1, updated_at = ?1 \
             WHERE state = 'QUEUED' \
               AND task_seq = (SELECT seq FROM tasks WHERE id = ?2 AND state = 'RUNNING')",
        )
        .bind(&at)
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        // In SET, `state` is the value before the update: queued tasks are revoked at once,
        // running ones only get the flag.
        let seq: Option<i64> = sqlx::query_scalar(
            "UPDATE tasks SET cancel_requested = 1, updated_at = ?1, \
                 state = CASE WHEN state = 'QUEUED' THEN 'REVOKED' ELSE state END, \
                 finished_at = CASE WHEN state = 'QUEUED' THEN ?1 ELSE finished_at END \
             WHERE id = ?2 AND state IN ('QUEUED', 'RUNNING') \
             RETURNING seq",
        )
        .bind(&at)
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        let Some(seq) = seq else {
            tx.rollback().await.map_err(StoreError::db(C))?;
            return match self.get_task(task_id).await? {
                Some(task) => Ok(CancelOutcome::AlreadyFinished(task)),
                None => Err(StoreError::NotFound {
                    what: "task",
                    key: task_id.to_string(),
                }),
            };
        };
        finish_done_tasks(&mut tx, Some(seq), &at).await?;
        let task = task_by_seq(&mut tx, seq, C).await?;
        tx.commit().await.map_err(StoreError::db(C))?;
        self.work.notify_waiters();
        Ok(match task.state {
            TaskState::Queued | TaskState::Running => CancelOutcome::Requested(task),
            _ => CancelOutcome::Revoked(task),
        })
    }

    async fn fail_task(&self, task_id: Uuid, reason: &str) -> Result<TaskRecord, StoreError> {
        const C: &str = "fail_task";
        let error = json_param(C, &serde_json::json!({ "message": reason, "forced": true }))?;
        let at = ts(now());
        let id = task_id.hyphenated().to_string();
        let (_turn, mut tx) = self.write_tx(C).await?;
        sqlx::query(
            "UPDATE subtasks SET state = 'FAILURE', finished_at = ?1, updated_at = ?1, error = ?2, \
                                 lease_expires_at = NULL \
             WHERE state IN ('QUEUED', 'RUNNING') \
               AND task_seq = (SELECT seq FROM tasks WHERE id = ?3 \
                                 AND state IN ('QUEUED', 'RUNNING'))",
        )
        .bind(&at)
        .bind(&error)
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        let row = sqlx::query(concat!(
            "UPDATE tasks SET state = 'FAILURE', finished_at = ?1, updated_at = ?1, error = ?2, \
                              lease_expires_at = NULL \
             WHERE id = ?3 AND state IN ('QUEUED', 'RUNNING') \
             RETURNING ",
            task_cols!()
        ))
        .bind(&at)
        .bind(&error)
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        if let Some(row) = row {
            let task = task_from_row(&row)?;
            tx.commit().await.map_err(StoreError::db(C))?;
            return Ok(task);
        }
        tx.rollback().await.map_err(StoreError::db(C))?;
        match self.get_task(task_id).await? {
            Some(task) => Err(StoreError::TaskFinished {
                task_id,
                state: task.state,
            }),
            None => Err(StoreError::NotFound {
                what: "task",
                key: task_id.to_string(),
            }),
        }
    }

    async fn split_task(
        &self,
        task_id: Uuid,
        worker: &str,
        total: u64,
        points: &[i64],
    ) -> Result<TaskRecord, StoreError> {
        const C: &str = "split_task";
        let ranges = subtask_ranges(C, points)?;
        let count = i64::try_from(ranges.len()).unwrap_or(i64::MAX);
        let ranges = json_param(C, &ranges)?;
        let at = ts(now());
        let (_turn, mut tx) = self.write_tx(C).await?;
        let seq: Option<i64> = sqlx::query_scalar(
            "UPDATE tasks SET total = ?1, subtasks = ?2, lease_expires_at = NULL, updated_at = ?3 \
             WHERE id = ?4 AND lease_owner = ?5 AND state = 'RUNNING' AND subtasks = 0 \
             RETURNING seq",
        )
        .bind(i64::try_from(total).unwrap_or(i64::MAX))
        .bind(count)
        .bind(&at)
        .bind(task_id.hyphenated().to_string())
        .bind(worker)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        let Some(seq) = seq else {
            tx.rollback().await.map_err(StoreError::db(C))?;
            return Err(StoreError::LeaseLost {
                task_id,
                worker: worker.to_string(),
            });
        };
        sqlx::query(
            "INSERT INTO subtasks (task_seq, idx, after_id, until_id, state, cursor, updated_at) \
             SELECT ?1, value->>0, value->>1, value->>2, 'QUEUED', value->>1, ?2 \
             FROM jsonb_each(?3)",
        )
        .bind(seq)
        .bind(&at)
        .bind(ranges)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        let task = task_by_seq(&mut tx, seq, C).await?;
        tx.commit().await.map_err(StoreError::db(C))?;
        self.work.notify_waiters();
        Ok(task)
    }

    async fn claim_subtask(
        &self,
        worker: &str,
        lease: Duration,
        task_id: Option<Uuid>,
    ) -> Result<Option<SubtaskClaim>, StoreError> {
        const C: &str = "claim_subtask";
        let at = now();
        let at_text = ts(at);
        let (_turn, mut tx) = self.write_tx(C).await?;
        // A running subtask is handed out when its lease expired, or to the worker that holds
        // it: a worker whose run broke off (a lost connection) takes its own work back at once
        // instead of waiting for its lease to run out. Its commits continue from the stored
        // cursor, so nothing is applied twice.
        //
        // Subtasks of a task that must stop are revoked rather than handed out: queued ones,
        // and running ones whose worker died (nobody else would ever end them).
        let revoked = sqlx::query(
            "UPDATE subtasks SET state = 'REVOKED', finished_at = ?1, updated_at = ?1, \
                                 lease_expires_at = NULL \
             WHERE state IN ('QUEUED', 'RUNNING') \
               AND (state = 'QUEUED' OR lease_expires_at < ?1) \
               AND task_seq IN (SELECT seq FROM tasks WHERE state = 'RUNNING' \
                                  AND (cancel_requested = 1 OR error IS NOT NULL))",
        )
        .bind(&at_text)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        if revoked.rows_affected() > 0 {
            finish_done_tasks(&mut tx, None, &at_text).await?;
        }
        let claimed: Option<(i64, i64)> = sqlx::query_as(
            "UPDATE subtasks SET state = 'RUNNING', lease_owner = ?2, lease_expires_at = ?3, \
                                 lease_ms = ?4, started_at = COALESCE(started_at, ?1), \
                                 updated_at = ?1, attempts = attempts + 1 \
             WHERE (task_seq, idx) = ( \
                 SELECT s.task_seq, s.idx FROM subtasks s JOIN tasks t ON t.seq = s.task_seq \
                 WHERE s.state IN ('QUEUED', 'RUNNING') \
                   AND (s.state = 'QUEUED' OR s.lease_expires_at < ?1 OR s.lease_owner = ?2) \
                   AND t.state = 'RUNNING' AND t.cancel_requested = 0 AND t.error IS NULL \
                   AND (?5 IS NULL OR t.id = ?5) \
                 ORDER BY s.task_seq, s.idx LIMIT 1) \
             RETURNING task_seq, idx",
        )
        .bind(&at_text)
        .bind(worker)
        .bind(ts(lease_end(at, lease)))
        .bind(lease_ms(lease))
        .bind(task_id.map(|id| id.hyphenated().to_string()))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        let claim = match claimed {
            None => None,
            Some((seq, idx)) => {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    subtask_cols!(),
                    " FROM subtasks s JOIN tasks t ON t.seq = s.task_seq \
                      WHERE s.task_seq = ?1 AND s.idx = ?2"
                ))
                .bind(seq)
                .bind(idx)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::db(C))?;
                Some(SubtaskClaim {
                    subtask: subtask_from_row(&row)?,
                    task: task_by_seq(&mut tx, seq, C).await?,
                })
            }
        };
        tx.commit().await.map_err(StoreError::db(C))?;
        Ok(claim)
    }

    async fn renew_subtask_lease(
        &self,
        task_id: Uuid,
        subtask: u32,
        worker: &str,
        lease: Duration,
    ) -> Result<LeaseStatus, StoreError> {
        const C: &str = "renew_subtask_lease";
        let at = now();
        let seq: Option<i64> = sqlx::query_scalar(
            "UPDATE subtasks SET lease_expires_at = ?1, lease_ms = ?2, updated_at = ?3 \
             WHERE task_seq = (SELECT seq FROM tasks WHERE id = ?4) AND idx = ?5 \
               AND lease_owner = ?6 AND state = 'RUNNING' \
             RETURNING task_seq",
        )
        .bind(ts(lease_end(at, lease)))
        .bind(lease_ms(lease))
        .bind(ts(at))
        .bind(task_id.hyphenated().to_string())
        .bind(i64::from(subtask))
        .bind(worker)
        .fetch_optional(&self.writer)
        .await
        .map_err(StoreError::db(C))?;
        let Some(seq) = seq else {
            return Ok(LeaseStatus::Lost);
        };
        let stop_requested: bool = sqlx::query_scalar(
            "SELECT cancel_requested OR error IS NOT NULL FROM tasks WHERE seq = ?1",
        )
        .bind(seq)
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::db(C))?;
        Ok(LeaseStatus::Held { stop_requested })
    }

    async fn finish_subtask(
        &self,
        task_id: Uuid,
        subtask: u32,
        worker: &str,
        final_state: FinalState,
    ) -> Result<TaskRecord, StoreError> {
        const C: &str = "finish_subtask";
        let error = match &final_state {
            FinalState::Failure { error } => Some(json_param(C, error)?),
            _ => None,
        };
        let at = ts(now());
        let (_turn, mut tx) = self.write_tx(C).await?;
        let seq: Option<i64> = sqlx::query_scalar(
            "UPDATE subtasks SET state = ?1, finished_at = ?2, updated_at = ?2, error = ?3, \
                                 lease_expires_at = NULL \
             WHERE task_seq = (SELECT seq FROM tasks WHERE id = ?4) AND idx = ?5 \
               AND lease_owner = ?6 AND state = 'RUNNING' \
             RETURNING task_seq",
        )
        .bind(final_state.state().as_str())
        .bind(&at)
        .bind(&error)
        .bind(task_id.hyphenated().to_string())
        .bind(i64::from(subtask))
        .bind(worker)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        let Some(seq) = seq else {
            tx.rollback().await.map_err(StoreError::db(C))?;
            return Err(StoreError::LeaseLost {
                task_id,
                worker: worker.to_string(),
            });
        };
        if let Some(error) = &error {
            // The first failure is the task's; it makes the siblings stop.
            sqlx::query(
                "UPDATE subtasks SET state = 'REVOKED', finished_at = ?1, updated_at = ?1 \
                 WHERE task_seq = ?2 AND state = 'QUEUED'",
            )
            .bind(&at)
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(C))?;
            sqlx::query(
                "UPDATE tasks SET error = COALESCE(error, ?1), updated_at = ?2 WHERE seq = ?3",
            )
            .bind(error)
            .bind(&at)
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(C))?;
        }
        finish_done_tasks(&mut tx, Some(seq), &at).await?;
        let task = task_by_seq(&mut tx, seq, C).await?;
        tx.commit().await.map_err(StoreError::db(C))?;
        Ok(task)
    }

    async fn list_subtasks(&self, task_id: Uuid) -> Result<Vec<SubtaskRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            subtask_cols!(),
            " FROM subtasks s JOIN tasks t ON t.seq = s.task_seq WHERE t.id = ?1 ORDER BY s.idx"
        ))
        .bind(task_id.hyphenated().to_string())
        .fetch_all(&self.lookups)
        .await
        .map_err(StoreError::db("list_subtasks"))?;
        rows.iter().map(subtask_from_row).collect()
    }

    async fn list_outcomes(
        &self,
        task_id: Uuid,
        status: Option<OutcomeStatus>,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<OutcomeRecord>, StoreError> {
        const C: &str = "list_outcomes";
        let task = task_id.hyphenated().to_string();
        let rows = match status {
            Some(status) => {
                sqlx::query(concat!(
                    "SELECT ",
                    outcome_cols!(),
                    " FROM task_outcomes INDEXED BY task_outcomes_status \
                  WHERE task_seq = (SELECT seq FROM tasks WHERE id = ?1) \
                    AND status = ?2 AND id > ?3 ORDER BY id LIMIT ?4"
                ))
                .bind(&task)
                .bind(status.as_str())
                .bind(after_id)
                .bind(page_limit(limit))
                .fetch_all(&self.lookups)
                .await
            }
            // All statuses: merge the three ordered (task, status, id) ranges instead of
            // sorting every outcome of the task on each page.
            None => {
                sqlx::query(concat!(
                    "SELECT ",
                    outcome_cols!(),
                    " FROM ( \
                   SELECT * FROM (SELECT id AS page_id FROM task_outcomes \
                       INDEXED BY task_outcomes_status \
                       WHERE task_seq = (SELECT seq FROM tasks WHERE id = ?1) \
                         AND status = 'succeeded' AND id > ?2 \
                       ORDER BY id LIMIT ?3) \
                   UNION ALL \
                   SELECT * FROM (SELECT id FROM task_outcomes INDEXED BY task_outcomes_status \
                       WHERE task_seq = (SELECT seq FROM tasks WHERE id = ?1) \
                         AND status = 'skipped' AND id > ?2 \
                       ORDER BY id LIMIT ?3) \
                   UNION ALL \
                   SELECT * FROM (SELECT id FROM task_outcomes INDEXED BY task_outcomes_status \
                       WHERE task_seq = (SELECT seq FROM tasks WHERE id = ?1) \
                         AND status = 'failed' AND id > ?2 \
                       ORDER BY id LIMIT ?3)) AS page \
                  JOIN task_outcomes ON task_outcomes.id = page.page_id \
                  ORDER BY id LIMIT ?3"
                ))
                .bind(&task)
                .bind(after_id)
                .bind(page_limit(limit))
                .fetch_all(&self.lookups)
                .await
            }
        }
        .map_err(StoreError::db(C))?;
        // Outcomes of files written before migration 0007 first: their ids precede every batch's.
        let mut outcomes = rows
            .iter()
            .map(outcome_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let limit = limit as usize;
        let after_id = outcomes.last().map_or(after_id, |o| o.id);
        let mut batches = sqlx::query(
            "SELECT first_id, count, created, records FROM outcome_batches \
             INDEXED BY outcome_batches_task \
             WHERE task_seq = (SELECT seq FROM tasks WHERE id = ?1) \
               AND first_id > ?2 AND first_id + count > ?3 \
               AND CASE ?4 WHEN 'succeeded' THEN succeeded > 0 WHEN 'skipped' THEN skipped > 0 \
                           WHEN 'failed' THEN failed > 0 ELSE 1 END \
             ORDER BY first_id",
        )
        .bind(&task)
        .bind(batch_lookback(after_id))
        .bind(after_id)
        .bind(status.map(OutcomeStatus::as_str))
        .fetch(&self.lookups);
        while outcomes.len() < limit {
            let Some(row) = batches.try_next().await.map_err(StoreError::db(C))? else {
                break;
            };
            audit_batch::StoredOutcomes {
                first_id: get(&row, "first_id", C)?,
                count: get(&row, "count", C)?,
                task_id,
                created: get(&row, "created", C)?,
                records: get(&row, "records", C)?,
            }
            .read_into(after_id, status, limit, &mut outcomes)
            .map_err(|e| StoreError::corrupt(C, e))?;
        }
        Ok(outcomes)
    }

    async fn count_outcomes(
        &self,
        task_id: Uuid,
        status: Option<OutcomeStatus>,
    ) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM task_outcomes \
                     WHERE task_seq = (SELECT seq FROM tasks WHERE id = ?1) \
                       AND (?2 IS NULL OR status = ?2)) \
                  + (SELECT coalesce(sum(CASE ?2 WHEN 'succeeded' THEN succeeded \
                                                 WHEN 'skipped' THEN skipped \
                                                 WHEN 'failed' THEN failed \
                                                 ELSE count END), 0) \
                     FROM outcome_batches \
                     WHERE task_seq = (SELECT seq FROM tasks WHERE id = ?1))",
        )
        .bind(task_id.hyphenated().to_string())
        .bind(status.map(OutcomeStatus::as_str))
        .fetch_one(&self.lookups)
        .await
        .map_err(StoreError::db("count_outcomes"))?;
        Ok(count(n))
    }

    async fn insert_events(&self, events: &[NewEvent]) -> Result<u64, StoreError> {
        const C: &str = "insert_events";
        if events.is_empty() {
            return Ok(0);
        }
        let batches =
            audit_batch::event_batches(events, None).map_err(|message| StoreError::Invalid {
                context: C,
                message,
            })?;
        self.write_direct(C, |conn| direct::insert_event_batches(conn, &batches, None))
            .await
    }

    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<EventRecord>, StoreError> {
        const C: &str = "list_events";
        let task = filter.task_id.map(|t| t.hyphenated().to_string());
        let limit = page_limit(filter.limit);
        let rows = match (&task, &filter.course_key) {
            (Some(task), course) => {
                sqlx::query(concat!(
                    "SELECT ",
                    event_cols!(),
                    " FROM tracking_events INDEXED BY tracking_events_task WHERE ",
                    task_events_where!(),
                    " AND id > ?2 AND (?3 IS NULL OR course_key = ?3) ORDER BY id LIMIT ?4"
                ))
                .bind(task)
                .bind(filter.after_id)
                .bind(course)
                .bind(limit)
                .fetch_all(&self.lookups)
                .await
            }
            (None, Some(course)) => {
                sqlx::query(concat!(
                    "SELECT ",
                    event_cols!(),
                    " FROM tracking_events WHERE id > ?2 AND course_key = ?1 \
                  ORDER BY id LIMIT ?3"
                ))
                .bind(course)
                .bind(filter.after_id)
                .bind(limit)
                .fetch_all(&self.lookups)
                .await
            }
            (None, None) => {
                sqlx::query(concat!(
                    "SELECT ",
                    event_cols!(),
                    " FROM tracking_events WHERE id > ?1 ORDER BY id LIMIT ?2"
                ))
                .bind(filter.after_id)
                .bind(limit)
                .fetch_all(&self.lookups)
                .await
            }
        }
        .map_err(StoreError::db(C))?;
        // Events of files written before migration 0007 first: their ids precede every batch's.
        let mut events = rows
            .iter()
            .map(event_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let limit = filter.limit as usize;
        if events.len() >= limit {
            return Ok(events);
        }
        let after_id = events.last().map_or(filter.after_id, |e| e.id);
        let batches = match (&task, &filter.course_key) {
            (Some(task), course) => sqlx::query(concat!(
                "SELECT first_id, count, task_id, course_key, records FROM event_batches \
                 INDEXED BY event_batches_task WHERE ",
                task_events_where!(),
                " AND first_id > ?2 AND first_id + count > ?3 \
                  AND (?4 IS NULL OR course_key = ?4) ORDER BY first_id"
            ))
            .bind(task)
            .bind(batch_lookback(after_id))
            .bind(after_id)
            .bind(course)
            .fetch(&self.lookups),
            (None, Some(course)) => sqlx::query(
                "SELECT first_id, count, task_id, course_key, records FROM event_batches \
                 WHERE first_id > ?1 AND first_id + count > ?2 AND course_key = ?3 \
                 ORDER BY first_id",
            )
            .bind(batch_lookback(after_id))
            .bind(after_id)
            .bind(course)
            .fetch(&self.lookups),
            (None, None) => sqlx::query(
                "SELECT first_id, count, task_id, course_key, records FROM event_batches \
                 WHERE first_id > ?1 AND first_id + count > ?2 ORDER BY first_id",
            )
            .bind(batch_lookback(after_id))
            .bind(after_id)
            .fetch(&self.lookups),
        };
        read_event_batches(batches, after_id, limit, &mut events).await?;
        Ok(events)
    }

    async fn count_events(&self, task_id: Uuid) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(TASK_EVENT_COUNT_SQL)
            .bind(task_id.hyphenated().to_string())
            .fetch_one(&self.lookups)
            .await
            .map_err(StoreError::db("count_events"))?;
        Ok(count(n))
    }

    async fn create_token(&self, token: &NewToken) -> Result<TokenRecord, StoreError> {
        const C: &str = "create_token";
        crate::model::check_new_token(token)?;
        let row = sqlx::query("INSERT INTO api_tokens (user_name, role, course_key, hash, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id, user_name, role, course_key, hash, created_at, revoked_at"
        )
        .bind(&token.user)
        .bind(token.role.as_str())
        .bind(&token.course_key)
        .bind(&token.hash)
        .bind(ts(now()))
        .fetch_one(&self.writer)
        .await
        .map_err(StoreError::db(C))?;
        token_from_row(&row, C)
    }

    async fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        const C: &str = "find_token";
        let row = sqlx::query("SELECT id, user_name, role, course_key, hash, created_at, revoked_at FROM api_tokens WHERE hash = ?1 AND revoked_at IS NULL"
        )
        .bind(hash)
        .fetch_optional(&self.lookups)
        .await
        .map_err(StoreError::db(C))?;
        row.map(|row| token_from_row(&row, C)).transpose()
    }

    async fn revoke_token(&self, id: i64) -> Result<TokenRecord, StoreError> {
        const C: &str = "revoke_token";
        let row = sqlx::query(
            "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1 \
             RETURNING id, user_name, role, course_key, hash, created_at, revoked_at",
        )
        .bind(id)
        .bind(ts(now()))
        .fetch_optional(&self.writer)
        .await
        .map_err(StoreError::db(C))?;
        match row {
            Some(row) => token_from_row(&row, C),
            None => Err(StoreError::NotFound {
                what: "token",
                key: id.to_string(),
            }),
        }
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        const C: &str = "list_tokens";
        let rows = sqlx::query("SELECT id, user_name, role, course_key, hash, created_at, revoked_at FROM api_tokens ORDER BY id")
            .fetch_all(&self.lookups)
            .await
            .map_err(StoreError::db(C))?;
        rows.iter().map(|row| token_from_row(row, C)).collect()
    }

    async fn record_worker(&self, heartbeat: &WorkerHeartbeat) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO workers (name, host, pid, started_at, heartbeat_at, task_id, subtask, \
                                  processed) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid, \
                 heartbeat_at = excluded.heartbeat_at, task_id = excluded.task_id, \
                 subtask = excluded.subtask, processed = excluded.processed",
        )
        .bind(&heartbeat.name)
        .bind(&heartbeat.host)
        .bind(i64::from(heartbeat.pid))
        .bind(ts(heartbeat.started_at))
        .bind(ts(now()))
        .bind(
            heartbeat
                .current
                .map(|(task, _)| task.hyphenated().to_string()),
        )
        .bind(heartbeat.current.map(|(_, index)| i64::from(index)))
        .bind(i64::try_from(heartbeat.processed).unwrap_or(i64::MAX))
        .execute(&self.writer)
        .await
        .map_err(StoreError::db("record_worker"))?;
        Ok(())
    }

    async fn remove_worker(&self, name: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM workers WHERE name = ?1")
            .bind(name)
            .execute(&self.writer)
            .await
            .map_err(StoreError::db("remove_worker"))?;
        Ok(())
    }

    async fn list_workers(&self, forget_after: Duration) -> Result<Vec<WorkerRecord>, StoreError> {
        const C: &str = "list_workers";
        let forget_after =
            chrono::Duration::from_std(forget_after).unwrap_or(chrono::Duration::MAX);
        let cutoff = now()
            .checked_sub_signed(forget_after)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        sqlx::query("DELETE FROM workers WHERE heartbeat_at < ?1")
            .bind(ts(cutoff))
            .execute(&self.writer)
            .await
            .map_err(StoreError::db(C))?;
        let rows = sqlx::query(
            "SELECT name, host, pid, started_at, heartbeat_at, task_id, subtask, processed \
             FROM workers ORDER BY heartbeat_at DESC, name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db(C))?;
        rows.iter()
            .map(|row| {
                let task: Option<String> = get(row, "task_id", C)?;
                let subtask: Option<i64> = get(row, "subtask", C)?;
                let current = match (task, subtask) {
                    (Some(task), Some(index)) => Some((
                        Uuid::parse_str(&task).map_err(|e| StoreError::corrupt(C, e))?,
                        u32::try_from(index).map_err(|e| StoreError::corrupt(C, e))?,
                    )),
                    _ => None,
                };
                Ok(WorkerRecord {
                    name: get(row, "name", C)?,
                    host: get(row, "host", C)?,
                    pid: u32::try_from(get::<i64>(row, "pid", C)?).unwrap_or(0),
                    started_at: get(row, "started_at", C)?,
                    last_heartbeat: get(row, "heartbeat_at", C)?,
                    current,
                    processed: count(get(row, "processed", C)?),
                })
            })
            .collect()
    }

    async fn wait_for_work(&self, timeout: Duration) -> Result<(), StoreError> {
        // Listen first, then look: a submit between the caller's empty claim and this wait is
        // then either seen by the query or wakes the listener, never lost.
        let notified = self.work.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let claimable: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM tasks WHERE state = 'QUEUED') \
                 OR EXISTS (SELECT 1 FROM subtasks s JOIN tasks t ON t.seq = s.task_seq \
                            WHERE s.state = 'QUEUED' AND t.state = 'RUNNING' \
                              AND t.cancel_requested = 0 AND t.error IS NULL)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::db("wait_for_work"))?;
        if !claimable {
            let _ = tokio::time::timeout(timeout, notified).await;
        }
        Ok(())
    }
}

/// The task with this row number, inside a transaction.
async fn task_by_seq(
    tx: &mut sqlx::SqliteConnection,
    seq: i64,
    context: &'static str,
) -> Result<TaskRecord, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        task_cols!(),
        " FROM tasks WHERE seq = ?1"
    ))
    .bind(seq)
    .fetch_one(&mut *tx)
    .await
    .map_err(StoreError::db(context))?;
    task_from_row(&row)
}

/// Ends the split tasks (only `seq`, when given) that have no queued or running subtask left:
/// FAILURE when a subtask failed, REVOKED when one was revoked, SUCCESS otherwise.
async fn finish_done_tasks(
    tx: &mut sqlx::SqliteConnection,
    seq: Option<i64>,
    at: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE tasks SET \
             state = CASE \
                 WHEN error IS NOT NULL THEN 'FAILURE' \
                 WHEN EXISTS (SELECT 1 FROM subtasks s \
                              WHERE s.task_seq = tasks.seq AND s.state = 'REVOKED') THEN 'REVOKED' \
                 ELSE 'SUCCESS' END, \
             finished_at = ?1, updated_at = ?1, lease_expires_at = NULL \
         WHERE state = 'RUNNING' AND subtasks > 0 AND (?2 IS NULL OR seq = ?2) \
           AND NOT EXISTS (SELECT 1 FROM subtasks s \
                           WHERE s.task_seq = tasks.seq AND s.state IN ('QUEUED', 'RUNNING'))",
    )
    .bind(at)
    .bind(seq)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db("finish the task of the last subtask"))?;
    Ok(())
}

// Declared after the shared helpers and macros above, which it uses.
mod audit_batch;
mod checkpoint;
mod data_import;
mod direct;
mod in_place;
mod packing;
