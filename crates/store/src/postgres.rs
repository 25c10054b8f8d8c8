//! The PostgreSQL driver: one database shared by many worker processes on many hosts.
//!
//! Same contract as the SQLite driver (see the table in [`Backend`]); what differs is how the
//! concurrency points are met:
//!
//! - Transactions are plain `READ COMMITTED`; the `UPDATE`s take the row locks that matter.
//! - Claims pick their row with `FOR UPDATE SKIP LOCKED`, so concurrent claimers pass each
//!   other's rows instead of queueing behind them.
//! - Every time that decides who holds a task (lease start and end, expiry checks) is the
//!   server's `now()`, never a client clock: workers on hosts with skewed clocks still agree.
//! - Fenced writes start with the `UPDATE` of the leased row — the subtask for chunks (`…
//!   WHERE lease_owner = $3 AND state = 'RUNNING' AND cursor = $4`), the task for planning —
//!   and no row means `LeaseLost` with the transaction rolled back. The row lock is held to
//!   commit, so a lease cannot change under a chunk.
//! - Batches travel as typed arrays (`$1::bigint[]`, `$2::text[]`, …) expanded with `unnest`:
//!   one statement per kind of row, binary-encoded, with nothing to escape.
//! - Transactions that touch a subtask and its task lock the subtask first, then the task; and
//!   every one that ends a subtask locks the task before it looks whether any sibling is still
//!   live, so that of two siblings ending at once the second always sees the first and ends the
//!   task (a check without that lock would see neither commit and leave the task running).
//! - Wake-ups: `pg_notify` on [`WORK_CHANNEL`] in the transaction that submits, splits or
//!   cancels; each process that waits for work holds one `LISTEN` connection.
//!
//! Errors worth retrying (lost connection, server shutdown, deadlock, serialization failure,
//! pool timeout) are recognised by [`StoreError::is_transient`].

use crate::backend::Backend;
use crate::error::{StoreError, SubmitError};
use crate::model::*;
use crate::split::subtask_ranges;
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Row};
use std::collections::HashMap;
use std::hash::Hash;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

/// The `LISTEN`/`NOTIFY` channel on which submits, splits and cancels announce new work. The
/// payload is the task id (for people watching with `LISTEN`; waiters only need the wake-up).
pub(crate) const WORK_CHANNEL: &str = "coursetasks_work";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Rows per statement for bulk writes: large enough to amortise the statement and the round
/// trip, small enough to keep each array parameter a few MB.
const BATCH_ROWS: usize = 10_000;

/// Above this many usage keys a module scan walks the table in id order instead of merging
/// one index range per key (as on SQLite).
const MAX_MERGED_KEYS: usize = 16;

/// Connections per process: a worker's scan, its commit and a heartbeat overlap, plus status
/// queries. Many processes share one server, so this stays small.
const POOL_SIZE: u32 = 10;

/// How long `open` waits for the server before reporting it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest lease stored (100 years): beyond it `now() + lease` could leave the range of
/// `timestamptz`. Such a lease means "never expires" either way.
const MAX_LEASE_MS: i64 = 100 * 366 * 24 * 3600 * 1000;

/// Times a submission is retried when the task that blocked it finished before it could be
/// read (each retry needs a whole task lifetime to pass in between, so this is never reached
/// in practice).
const SUBMIT_RETRIES: usize = 100;

/// The PostgreSQL implementation of [`Backend`], for many worker processes on many hosts
/// sharing one database. [`crate::Store::open`] picks it for `postgres://` and
/// `postgresql://` URLs.
///
/// Behaviour is the SQLite driver's (one suite runs on both). What is specific: claims skip
/// each other's rows (`FOR UPDATE SKIP LOCKED`) instead of queueing; lease times and worker
/// heartbeats are the server's clock; `wait_for_work` is woken across hosts by `NOTIFY
/// coursetasks_work` (sent by the transaction that submits, splits or cancels) through one
/// `LISTEN` connection per waiting process, which reconnects by itself. Each handle keeps a
/// pool of up to 10 connections (plus the listener's). Module ids come from a sequence: ids
/// taken by transactions that commit later can be lower than ids already visible, so a scan
/// that started before such an insert may not see that module (SQLite serializes writers and
/// has no such gap); modules that existed when a scan started are always seen.
#[derive(Clone)]
pub struct PostgresBackend {
    pool: PgPool,
    /// The URL as given, with any password replaced (for messages).
    location: String,
    /// For the listener's own connection.
    options: PgConnectOptions,
    wakeups: Arc<Wakeups>,
}

/// Wake-ups of this process's `wait_for_work` callers, fed by one background task that holds a
/// `LISTEN` connection (started by the first wait, so a store that never waits opens none).
struct Wakeups {
    /// Woken by every notification, by this process's own submits, splits and cancels, and
    /// after each (re)connection of the listener (notifications may have been missed).
    waiters: Arc<Notify>,
    /// Tells the listener task to end: the last handle on this store is gone.
    stop: Arc<Notify>,
    started: AtomicBool,
}

impl Drop for Wakeups {
    fn drop(&mut self) {
        // A permit is stored if the task is not waiting right now, so it cannot be missed.
        self.stop.notify_one();
    }
}

impl std::fmt::Debug for PostgresBackend {
    // Written out so that no connect options (which hold the password) are ever printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresBackend")
            .field("location", &self.location)
            .field("pool_size", &self.pool.size())
            .finish()
    }
}

/// The URL with the password (user-info part or `password=` parameter) replaced by `***`, so
/// that it can appear in errors and logs.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?', '#'])
            .map(|i| rest_start + i)
            .unwrap_or(out.len());
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest_start + colon + 1..rest_start + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

/// `url` with its database (the path) replaced by `database`, keeping the server, credentials
/// and parameters: how tools open a sibling database on the same server.
pub fn url_with_database(url: &str, database: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[authority_start..];
    let path_start = rest
        .find(['/', '?'])
        .map_or(url.len(), |i| authority_start + i);
    let query_start = url[path_start..]
        .find('?')
        .map_or(url.len(), |i| path_start + i);
    format!("{}/{}{}", &url[..path_start], database, &url[query_start..])
}

/// Turns an error met while connecting into a reason an operator can act on.
fn connect_reason(options: &PgConnectOptions, err: &sqlx::Error) -> String {
    let server = match options.get_socket() {
        Some(socket) => format!("the PostgreSQL server at socket {}", socket.display()),
        None => format!(
            "the PostgreSQL server at {}:{}",
            options.get_host(),
            options.get_port()
        ),
    };
    let user = options.get_username();
    let database = options.get_database().unwrap_or(user);
    match err {
        sqlx::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!("{server} refused the connection (is it running and listening there?): {e}")
        }
        sqlx::Error::Io(e) => format!("cannot reach {server}: {e}"),
        sqlx::Error::Tls(e) => format!("TLS with {server} failed: {e}"),
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("3D000") => format!("database \"{database}\" does not exist on {server}"),
            Some("28P01") => format!("password authentication failed for user \"{user}\""),
            Some("28000") => format!("{server} refused user \"{user}\": {}", db.message()),
            Some("57P03") => format!("{server} is starting up or shutting down; try again"),
            Some("53300") => format!("{server} has no free connection slots: {}", db.message()),
            _ => format!("{server}: {}", db.message()),
        },
        sqlx::Error::PoolTimedOut => format!("timed out connecting to {server}"),
        other => format!("{server}: {other}"),
    }
}

/// Failures to reach the server at all (as opposed to errors the server reported).
fn is_connection_error(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut
    )
}

impl PostgresBackend {
    /// Connects to the database at a `postgres://` or `postgresql://` URL and applies pending
    /// migrations. sqlx's migrator holds an advisory lock while it works, so several
    /// processes may open a fresh database at the same time.
    ///
    /// Errors are [`StoreError::BadLocation`] naming the URL (password hidden) and what is
    /// wrong: server unreachable, database missing, authentication refused.
    pub async fn open(url: &str) -> Result<PostgresBackend, StoreError> {
        let location = redact_url(url);
        let bad = |reason: String| StoreError::BadLocation {
            location: location.clone(),
            reason,
        };
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| bad(format!("not a usable PostgreSQL URL: {e}")))?;
        // Named for operators (pg_stat_activity), unless the URL names itself.
        let options = if options.get_application_name().is_some() {
            options
        } else {
            options.application_name("coursetasks")
        };

        // One direct connection first: the pool would retry a refused connection until its
        // acquire timeout and then report only "timed out"; this reports the cause at once.
        match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
            }
            Ok(Err(e)) => return Err(bad(connect_reason(&options, &e))),
            Err(_) => {
                return Err(bad(connect_reason(&options, &sqlx::Error::PoolTimedOut)));
            }
        }

        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(30))
            .idle_timeout(Duration::from_secs(300))
            .connect_lazy_with(options.clone());
        // Through the pool rather than the connection above: a future that migrates a borrowed
        // `&mut PgConnection` is not `Send` for every lifetime, and `open` must be spawnable.
        match MIGRATOR.run(&pool).await {
            Ok(()) => {}
            Err(sqlx::migrate::MigrateError::VersionMissing(v)) => {
                return Err(bad(format!(
                    "the database was migrated by a newer coursetasks (unknown migration {v})"
                )));
            }
            Err(sqlx::migrate::MigrateError::Execute(e)) if is_connection_error(&e) => {
                return Err(bad(connect_reason(&options, &e)));
            }
            Err(source) => {
                return Err(StoreError::Migration { location, source });
            }
        }
        Ok(PostgresBackend {
            pool,
            location,
            options,
            wakeups: Arc::new(Wakeups {
                waiters: Arc::new(Notify::new()),
                stop: Arc::new(Notify::new()),
                started: AtomicBool::new(false),
            }),
        })
    }

    /// The connection pool, for diagnostics and benchmarks that compare against raw SQL.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The URL this store was opened with, password hidden.
    pub fn location(&self) -> &str {
        &self.location
    }

    async fn write_tx(
        &self,
        context: &'static str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        // Explicit, so that a server configured with another default isolation level does not
        // turn lock waits into serialization failures.
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .map_err(StoreError::db(context))
    }

    /// Every stored form of the given usage keys: each key itself plus the other form of the
    /// same block (usage key ↔ legacy key), so modules stored under either form match.
    async fn expand_keys(&self, keys: &[String]) -> Result<Vec<String>, StoreError> {
        const C: &str = "expand usage keys";
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT usage_key, legacy_key FROM blocks \
             WHERE usage_key = ANY($1::text[]) OR legacy_key = ANY($1::text[])",
        )
        .bind(keys)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db(C))?;
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
            push(get(&row, "usage_key", C)?);
            if let Some(legacy) = get::<Option<String>>(&row, "legacy_key", C)? {
                push(legacy);
            }
        }
        Ok(out)
    }
}

// ----- decoding ---------------------------------------------------------------------------------

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn lease_ms(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis())
        .unwrap_or(i64::MAX)
        .min(MAX_LEASE_MS)
}

fn page_limit(limit: u32) -> i64 {
    i64::from(limit)
}

fn json_text<T: serde::Serialize + ?Sized>(
    context: &'static str,
    value: &T,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Invalid {
        context,
        message: e.to_string(),
    })
}

/// The items with one entry per key: at the position of the key's first occurrence, with the
/// value of its last. An `INSERT … ON CONFLICT DO UPDATE` may not touch a row twice, while the
/// SQLite driver applies duplicates one after the other (first inserts, later ones overwrite);
/// this gives the same end state. Returns the kept items and how many were folded away.
fn keep_last<'a, T, K: Eq + Hash>(items: &'a [T], key: impl Fn(&'a T) -> K) -> (Vec<&'a T>, u64) {
    let mut index: HashMap<K, usize> = HashMap::with_capacity(items.len());
    let mut out: Vec<&T> = Vec::with_capacity(items.len());
    for item in items {
        match index.entry(key(item)) {
            std::collections::hash_map::Entry::Occupied(slot) => out[*slot.get()] = item,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(out.len());
                out.push(item);
            }
        }
    }
    let folded = (items.len() - out.len()) as u64;
    (out, folded)
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
/// Outcome columns after `task_id`, which the queries select as their bound task UUID (`$1`):
/// the table stores the task's `seq`.
macro_rules! outcome_cols {
    () => {
        "id, $1::uuid AS task_id, module_id, learner_id, username, usage_key, status, reason, \
         old_grade, old_max_grade, new_grade, new_max_grade, created"
    };
}
macro_rules! event_cols {
    () => {
        "id, task_id, event_type, time, username, user_id, course_key, usage_key, requester, \
         payload"
    };
}

fn get<'r, T>(row: &'r PgRow, col: &str, context: &'static str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(col)
        .map_err(|e| StoreError::corrupt(context, format!("column {col}: {e}")))
}

fn token_from_row(row: &PgRow, context: &'static str) -> Result<TokenRecord, StoreError> {
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
    row: &PgRow,
    col: &str,
    context: &'static str,
) -> Result<serde_json::Value, StoreError> {
    let text: String = get(row, col, context)?;
    serde_json::from_str(&text)
        .map_err(|e| StoreError::corrupt(context, format!("column {col} is not JSON: {e}")))
}

fn task_from_row(row: &PgRow) -> Result<TaskRecord, StoreError> {
    const C: &str = "decode task";
    let state: String = get(row, "state", C)?;
    let error: Option<String> = get(row, "error", C)?;
    let total: Option<i64> = get(row, "total", C)?;
    let attempts: i32 = get(row, "attempts", C)?;
    Ok(TaskRecord {
        id: get(row, "id", C)?,
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
        subtasks: u32::try_from(get::<i32>(row, "subtasks", C)?).unwrap_or(0),
        cancel_requested: get(row, "cancel_requested", C)?,
        lease_owner: get(row, "lease_owner", C)?,
        lease_expires_at: get(row, "lease_expires_at", C)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        error: error
            .map(|text| serde_json::from_str(&text).map_err(|e| StoreError::corrupt(C, e)))
            .transpose()?,
    })
}

/// Subtask columns, from `subtasks s JOIN tasks t`.
macro_rules! subtask_cols {
    () => {
        "t.id AS task_id, s.idx, s.after_id, s.until_id, s.state, s.cursor, s.attempted, \
         s.succeeded, s.skipped, s.failed, s.lease_owner, s.lease_expires_at, s.attempts, \
         s.started_at, s.updated_at, s.finished_at, s.error"
    };
}

fn subtask_from_row(row: &PgRow) -> Result<SubtaskRecord, StoreError> {
    const C: &str = "decode subtask";
    let state: String = get(row, "state", C)?;
    let error: Option<String> = get(row, "error", C)?;
    Ok(SubtaskRecord {
        task_id: get(row, "task_id", C)?,
        index: u32::try_from(get::<i32>(row, "idx", C)?).map_err(|e| StoreError::corrupt(C, e))?,
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
        attempts: u32::try_from(get::<i32>(row, "attempts", C)?).unwrap_or(0),
        started_at: get(row, "started_at", C)?,
        updated_at: get(row, "updated_at", C)?,
        finished_at: get(row, "finished_at", C)?,
        error: error
            .map(|text| serde_json::from_str(&text).map_err(|e| StoreError::corrupt(C, e)))
            .transpose()?,
    })
}

fn course_from_row(row: &PgRow, context: &'static str) -> Result<CourseRecord, StoreError> {
    Ok(CourseRecord {
        key: get(row, "key", context)?,
        display_name: get(row, "display_name", context)?,
        created: get(row, "created", context)?,
    })
}

fn block_from_row(row: &PgRow) -> Result<BlockRecord, StoreError> {
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

fn version_from_row(row: &PgRow, created: bool) -> Result<ProblemVersionRecord, StoreError> {
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

fn learner_from_row(row: &PgRow) -> Result<LearnerRecord, StoreError> {
    const C: &str = "decode learner";
    Ok(LearnerRecord {
        id: get(row, "id", C)?,
        username: get(row, "username", C)?,
        email: get(row, "email", C)?,
    })
}

fn module_from_row(row: &PgRow) -> Result<ModuleRecord, StoreError> {
    // The hot path of every task scan: columns by position (the order of `module_cols!`)
    // rather than by name, which saves a name lookup per value.
    const C: &str = "decode learner module";
    fn at<'r, T>(row: &'r PgRow, i: usize) -> Result<T, StoreError>
    where
        T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
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

fn outcome_from_row(row: &PgRow) -> Result<OutcomeRecord, StoreError> {
    const C: &str = "decode task outcome";
    let status: String = get(row, "status", C)?;
    Ok(OutcomeRecord {
        id: get(row, "id", C)?,
        task_id: get(row, "task_id", C)?,
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

fn event_from_row(row: &PgRow) -> Result<EventRecord, StoreError> {
    const C: &str = "decode tracking event";
    Ok(EventRecord {
        id: get(row, "id", C)?,
        task_id: get(row, "task_id", C)?,
        event_type: get(row, "event_type", C)?,
        time: get(row, "time", C)?,
        username: get(row, "username", C)?,
        user_id: get(row, "user_id", C)?,
        course_key: get(row, "course_key", C)?,
        usage_key: get(row, "usage_key", C)?,
        requester: get(row, "requester", C)?,
        payload: get_json(row, "payload", C)?,
    })
}

// ----- shared statement helpers (usable inside a transaction) --------------------------------

async fn upsert_blocks_on(
    conn: &mut PgConnection,
    blocks: &[BlockRecord],
) -> Result<u64, StoreError> {
    const C: &str = "upsert_blocks";
    let mut written = 0;
    for batch in blocks.chunks(BATCH_ROWS) {
        let (batch, folded) = keep_last(batch, |b| b.usage_key.as_str());
        let settings = batch
            .iter()
            .map(|b| json_text(C, &b.settings))
            .collect::<Result<Vec<_>, _>>()?;
        let result = sqlx::query(
            "INSERT INTO blocks (usage_key, course_key, block_type, parent_key, display_name, \
                                 position, settings, legacy_key) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                                  $6::bigint[], $7::text[], $8::text[]) \
             ON CONFLICT (usage_key) DO UPDATE SET \
                 course_key = excluded.course_key, block_type = excluded.block_type, \
                 parent_key = excluded.parent_key, display_name = excluded.display_name, \
                 position = excluded.position, settings = excluded.settings, \
                 legacy_key = excluded.legacy_key",
        )
        .bind(
            batch
                .iter()
                .map(|b| b.usage_key.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            batch
                .iter()
                .map(|b| b.course_key.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            batch
                .iter()
                .map(|b| b.block_type.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            batch
                .iter()
                .map(|b| b.parent_key.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            batch
                .iter()
                .map(|b| b.display_name.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(batch.iter().map(|b| b.position).collect::<Vec<_>>())
        .bind(settings)
        .bind(
            batch
                .iter()
                .map(|b| b.legacy_key.as_deref())
                .collect::<Vec<_>>(),
        )
        .execute(&mut *conn)
        .await
        .map_err(StoreError::db(C))?;
        written += result.rows_affected() + folded;
    }
    Ok(written)
}

async fn put_version_on(
    conn: &mut PgConnection,
    usage_key: &str,
    xml: &str,
    content_hash: &str,
) -> Result<ProblemVersionRecord, StoreError> {
    const C: &str = "put_problem_version";
    // The block row is locked so that two writers of the same problem take turns: each then
    // sees the other's version and numbers its own after it.
    let key: Option<String> = sqlx::query_scalar(
        "SELECT usage_key FROM blocks WHERE usage_key = $1 OR legacy_key = $1 \
         ORDER BY usage_key LIMIT 1 FOR UPDATE",
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
         WHERE usage_key = $1 ORDER BY version DESC LIMIT 1",
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
    let row = sqlx::query(
        "INSERT INTO problem_versions (usage_key, version, xml, content_hash, created) \
         VALUES ($1, $2, $3, $4, now()) \
         RETURNING usage_key, version, xml, content_hash, created",
    )
    .bind(&key)
    .bind(next)
    .bind(xml)
    .bind(content_hash)
    .fetch_one(&mut *conn)
    .await
    .map_err(StoreError::db(C))?;
    version_from_row(&row, true)
}

/// Inserts learner modules (`unnest` of the seven arrays bound by [`bind_new_modules`]), created
/// and modified at the server's `now()`.
macro_rules! insert_modules_sql {
    () => {
        "INSERT INTO learner_modules (learner_id, course_key, usage_key, module_type, state, \
                                      grade, max_grade, created, modified) \
         SELECT m.learner_id, m.course_key, m.usage_key, m.module_type, m.state, m.grade, \
                m.max_grade, now(), now() \
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], \
                     $6::float8[], $7::float8[]) \
              AS m(learner_id, course_key, usage_key, module_type, state, grade, max_grade)"
    };
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind_new_modules<'q>(query: PgQuery<'q>, modules: &[&'q NewModule]) -> PgQuery<'q> {
    query
        .bind(modules.iter().map(|m| m.learner_id).collect::<Vec<_>>())
        .bind(
            modules
                .iter()
                .map(|m| m.course_key.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            modules
                .iter()
                .map(|m| m.usage_key.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            modules
                .iter()
                .map(|m| m.module_type.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            modules
                .iter()
                .map(|m| m.state.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(modules.iter().map(|m| m.grade).collect::<Vec<_>>())
        .bind(modules.iter().map(|m| m.max_grade).collect::<Vec<_>>())
}

/// Inserts tracking events (`unnest` of the nine arrays bound by [`bind_events`]). A row
/// without a task id gets the default task: UUID `$10` and `seq` `$11` (both NULL outside a
/// chunk); a row with one has its `seq` looked up.
const INSERT_EVENTS_SQL: &str = "INSERT INTO tracking_events (task_id, task_seq, event_type, time, username, user_id, \
                                  course_key, usage_key, requester, payload) \
     SELECT COALESCE(e.task_id, $10::uuid), \
            CASE WHEN e.task_id IS NULL THEN $11::bigint \
                 ELSE (SELECT t.seq FROM tasks t WHERE t.id = e.task_id) END, \
            e.event_type, e.time, e.username, e.user_id, e.course_key, e.usage_key, \
            e.requester, e.payload \
     FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::bigint[], \
                 $6::text[], $7::text[], $8::text[], $9::text[]) \
          AS e(task_id, event_type, time, username, user_id, course_key, usage_key, requester, \
               payload)";

/// Binds `$1`–`$9` of [`INSERT_EVENTS_SQL`]; events of `default_task` carry no task id (the
/// statement binds it once).
fn bind_events<'q>(
    query: PgQuery<'q>,
    events: &'q [NewEvent],
    default_task: Option<Uuid>,
) -> PgQuery<'q> {
    query
        .bind(
            events
                .iter()
                .map(|e| e.task_id.filter(|t| Some(*t) != default_task))
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| e.event_type.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(events.iter().map(|e| e.time).collect::<Vec<_>>())
        .bind(
            events
                .iter()
                .map(|e| e.username.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(events.iter().map(|e| e.user_id).collect::<Vec<_>>())
        .bind(
            events
                .iter()
                .map(|e| e.course_key.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| e.usage_key.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| e.requester.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| e.payload.as_str())
                .collect::<Vec<_>>(),
        )
}

/// Selects the events of a task (UUID `$1`) in id order after `$2`, optionally of course `$3`,
/// at most `$4`: by the task's `seq` through `tracking_events_task`, or, for a task that is not
/// stored, among the events without a `seq` by their UUID column. The second branch's
/// condition on the task lookup is a constant for the planner, so for a stored task it is
/// never run.
const TASK_EVENTS_SQL: &str = concat!(
    "WITH t AS (SELECT seq FROM tasks WHERE id = $1) \
     SELECT ",
    event_cols!(),
    " FROM ( \
         (SELECT * FROM tracking_events \
          WHERE task_seq = (SELECT seq FROM t) AND id > $2 \
            AND ($3::text IS NULL OR course_key = $3) \
          ORDER BY id LIMIT $4) \
         UNION ALL \
         (SELECT * FROM tracking_events \
          WHERE NOT EXISTS (SELECT 1 FROM t) AND task_seq IS NULL AND task_id = $1 \
            AND id > $2 AND ($3::text IS NULL OR course_key = $3) \
          ORDER BY id LIMIT $4)) AS e \
     ORDER BY id LIMIT $4"
);

const TASK_EVENT_COUNT_SQL: &str = "WITH t AS (SELECT seq FROM tasks WHERE id = $1) \
     SELECT (SELECT count(*) FROM tracking_events WHERE task_seq = (SELECT seq FROM t)) \
          + (SELECT count(*) FROM tracking_events \
             WHERE NOT EXISTS (SELECT 1 FROM t) AND task_seq IS NULL AND task_id = $1)";

#[async_trait]
impl Backend for PostgresBackend {
    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    async fn upsert_course(&self, course: &CourseRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO courses (key, display_name, created) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET display_name = excluded.display_name",
        )
        .bind(&course.key)
        .bind(&course.display_name)
        .bind(course.created)
        .execute(&self.pool)
        .await
        .map_err(StoreError::db("upsert_course"))?;
        Ok(())
    }

    async fn get_course(&self, key: &str) -> Result<Option<CourseRecord>, StoreError> {
        const C: &str = "get_course";
        let row = sqlx::query("SELECT key, display_name, created FROM courses WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db(C))?;
        row.map(|row| course_from_row(&row, C)).transpose()
    }

    async fn list_courses(&self) -> Result<Vec<CourseRecord>, StoreError> {
        const C: &str = "list_courses";
        let rows = sqlx::query("SELECT key, display_name, created FROM courses ORDER BY key")
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db(C))?;
        rows.iter().map(|row| course_from_row(row, C)).collect()
    }

    async fn upsert_blocks(&self, blocks: &[BlockRecord]) -> Result<u64, StoreError> {
        if blocks.is_empty() {
            return Ok(0);
        }
        let mut tx = self.write_tx("upsert_blocks").await?;
        let n = upsert_blocks_on(&mut tx, blocks).await?;
        tx.commit().await.map_err(StoreError::db("upsert_blocks"))?;
        Ok(n)
    }

    async fn get_block(&self, key: &str) -> Result<Option<BlockRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            block_cols!(),
            " FROM blocks b WHERE b.usage_key = $1 OR b.legacy_key = $1 \
              ORDER BY b.usage_key LIMIT 1"
        ))
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("get_block"))?;
        row.as_ref().map(block_from_row).transpose()
    }

    async fn list_blocks(&self, course_key: &str) -> Result<Vec<BlockRecord>, StoreError> {
        // Pre-order walk; the sort path is the array of (position, key) of the ancestors, so a
        // parent (a prefix) sorts right before its own subtree. Positions are zero-padded to
        // compare as numbers, the array compares in byte order (COLLATE "C") like SQLite's
        // text path. The depth bound stops a corrupt (cyclic) tree.
        let rows = sqlx::query(concat!(
            "WITH RECURSIVE tree (usage_key, path, depth) AS ( \
                 SELECT b.usage_key, \
                        ARRAY[lpad(b.position::text, 12, '0') || ':' || b.usage_key], 0 \
                 FROM blocks b \
                 WHERE b.course_key = $1 \
                   AND (b.parent_key IS NULL OR NOT EXISTS ( \
                        SELECT 1 FROM blocks p \
                        WHERE p.usage_key = b.parent_key AND p.course_key = $1)) \
                 UNION ALL \
                 SELECT c.usage_key, \
                        t.path || (lpad(c.position::text, 12, '0') || ':' || c.usage_key), \
                        t.depth + 1 \
                 FROM tree t JOIN blocks c ON c.parent_key = t.usage_key \
                 WHERE t.depth < 64 AND c.course_key = $1) \
             SELECT ",
            block_cols!(),
            " FROM tree t JOIN blocks b ON b.usage_key = t.usage_key \
              ORDER BY t.path COLLATE \"C\""
        ))
        .bind(course_key)
        .fetch_all(&self.pool)
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
                 SELECT usage_key FROM blocks WHERE usage_key = $1 OR legacy_key = $1 \
                 ORDER BY usage_key LIMIT 1), \
             tree (usage_key, path, depth) AS ( \
                 SELECT c.usage_key, \
                        ARRAY[lpad(c.position::text, 12, '0') || ':' || c.usage_key], 1 \
                 FROM start JOIN blocks c ON c.parent_key = start.k \
                 UNION ALL \
                 SELECT c.usage_key, \
                        t.path || (lpad(c.position::text, 12, '0') || ':' || c.usage_key), \
                        t.depth + 1 \
                 FROM tree t JOIN blocks c ON c.parent_key = t.usage_key \
                 WHERE t.depth < 64) \
             SELECT ",
            block_cols!(),
            " FROM tree t JOIN blocks b ON b.usage_key = t.usage_key \
              WHERE $2::text IS NULL OR b.block_type = $2 \
              ORDER BY t.path COLLATE \"C\""
        ))
        .bind(usage_key)
        .bind(block_type)
        .fetch_all(&self.pool)
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
        let mut tx = self.write_tx("put_problem_version").await?;
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
                                  WHERE usage_key = $1 OR legacy_key = $1 \
                                  ORDER BY usage_key LIMIT 1) \
             ORDER BY v.version DESC LIMIT 1",
        )
        .bind(usage_key)
        .fetch_optional(&self.pool)
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
                                  WHERE usage_key = $1 OR legacy_key = $1 \
                                  ORDER BY usage_key LIMIT 1) \
               AND v.version = $2",
        )
        .bind(usage_key)
        .bind(version)
        .fetch_optional(&self.pool)
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
                                  WHERE usage_key = $1 OR legacy_key = $1 \
                                  ORDER BY usage_key LIMIT 1) \
             ORDER BY v.version",
        )
        .bind(usage_key)
        .fetch_all(&self.pool)
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
        let mut tx = self.write_tx(C).await?;
        // `xmax = 0` tells a fresh insert from an update of an existing row.
        let created: bool = sqlx::query_scalar(
            "INSERT INTO courses (key, display_name, created) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET display_name = excluded.display_name \
             RETURNING (xmax = 0)",
        )
        .bind(&course.key)
        .bind(&course.display_name)
        .bind(course.created)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        let written = upsert_blocks_on(&mut tx, blocks).await?;
        let keys: Vec<&str> = blocks.iter().map(|b| b.usage_key.as_str()).collect();
        let stale: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM blocks WHERE course_key = $1 \
               AND NOT (usage_key = ANY($2::text[]))",
        )
        .bind(&course.key)
        .bind(keys)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        let mut report = ImportReport {
            course_created: created,
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
        let mut tx = self.write_tx(C).await?;
        let mut written = 0;
        for batch in learners.chunks(BATCH_ROWS) {
            let (batch, folded) = keep_last(batch, |l| l.id);
            let result = sqlx::query(
                "INSERT INTO learners (id, username, email) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]) \
                 ON CONFLICT (id) DO UPDATE SET username = excluded.username, \
                                                email = excluded.email",
            )
            .bind(batch.iter().map(|l| l.id).collect::<Vec<_>>())
            .bind(
                batch
                    .iter()
                    .map(|l| l.username.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(batch.iter().map(|l| l.email.as_str()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(C))?;
            written += result.rows_affected() + folded;
        }
        tx.commit().await.map_err(StoreError::db(C))?;
        Ok(written)
    }

    async fn create_learner(
        &self,
        username: &str,
        email: &str,
    ) -> Result<LearnerRecord, StoreError> {
        const C: &str = "create_learner";
        // Next free id = largest + 1, as SQLite assigns it. Two concurrent creators may pick
        // the same id; the loser's insert does nothing (the id conflict is the arbiter) and it
        // tries the next one. A taken username or email still fails as a conflict.
        for _ in 0..SUBMIT_RETRIES {
            let row = sqlx::query(
                "INSERT INTO learners (id, username, email) \
                 SELECT COALESCE(max(id), 0) + 1, $1, $2 FROM learners \
                 ON CONFLICT (id) DO NOTHING \
                 RETURNING id, username, email",
            )
            .bind(username)
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db(C))?;
            if let Some(row) = row {
                return learner_from_row(&row);
            }
        }
        Err(StoreError::Conflict {
            context: C,
            message: "no free learner id after repeated concurrent inserts".into(),
        })
    }

    async fn find_learner(&self, identifier: &str) -> Result<Option<LearnerRecord>, StoreError> {
        let sql = if identifier.contains('@') {
            "SELECT id, username, email FROM learners WHERE email = $1"
        } else {
            "SELECT id, username, email FROM learners WHERE username = $1"
        };
        let row = sqlx::query(sql)
            .bind(identifier)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db("find_learner"))?;
        row.as_ref().map(learner_from_row).transpose()
    }

    async fn get_learner(&self, id: i64) -> Result<Option<LearnerRecord>, StoreError> {
        let row = sqlx::query("SELECT id, username, email FROM learners WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db("get_learner"))?;
        row.as_ref().map(learner_from_row).transpose()
    }

    async fn count_learners(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM learners")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::db("count_learners"))?;
        Ok(count(n))
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

    async fn insert_modules(&self, modules: &[NewModule]) -> Result<u64, StoreError> {
        const C: &str = "insert_modules";
        if modules.is_empty() {
            return Ok(0);
        }
        let mut tx = self.write_tx(C).await?;
        let mut inserted = 0;
        for batch in modules.chunks(BATCH_ROWS) {
            let batch: Vec<&NewModule> = batch.iter().collect();
            let result = bind_new_modules(sqlx::query(insert_modules_sql!()), &batch)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(C))?;
            inserted += result.rows_affected();
        }
        tx.commit().await.map_err(StoreError::db(C))?;
        Ok(inserted)
    }

    async fn upsert_modules(&self, modules: &[ModuleRecord]) -> Result<u64, StoreError> {
        const C: &str = "upsert_modules";
        if modules.is_empty() {
            return Ok(0);
        }
        let mut tx = self.write_tx(C).await?;
        let mut written = 0;
        for batch in modules.chunks(BATCH_ROWS) {
            let (batch, folded) = keep_last(batch, |m| {
                (m.learner_id, m.usage_key.as_str(), m.course_key.as_str())
            });
            let result = sqlx::query(
                "INSERT INTO learner_modules (learner_id, course_key, usage_key, module_type, \
                                              state, grade, max_grade, done, created, modified) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], \
                                      $5::text[], $6::float8[], $7::float8[], $8::text[], \
                                      $9::timestamptz[], $10::timestamptz[]) \
                 ON CONFLICT (learner_id, usage_key, course_key) DO UPDATE SET \
                     module_type = excluded.module_type, state = excluded.state, \
                     grade = excluded.grade, max_grade = excluded.max_grade, \
                     done = excluded.done, created = excluded.created, \
                     modified = excluded.modified",
            )
            .bind(batch.iter().map(|m| m.learner_id).collect::<Vec<_>>())
            .bind(
                batch
                    .iter()
                    .map(|m| m.course_key.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                batch
                    .iter()
                    .map(|m| m.usage_key.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                batch
                    .iter()
                    .map(|m| m.module_type.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(batch.iter().map(|m| m.state.as_deref()).collect::<Vec<_>>())
            .bind(batch.iter().map(|m| m.grade).collect::<Vec<_>>())
            .bind(batch.iter().map(|m| m.max_grade).collect::<Vec<_>>())
            .bind(batch.iter().map(|m| m.done.as_str()).collect::<Vec<_>>())
            .bind(batch.iter().map(|m| m.created).collect::<Vec<_>>())
            .bind(batch.iter().map(|m| m.modified).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(C))?;
            written += result.rows_affected() + folded;
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
                "SELECT count(*) FROM learner_modules WHERE learner_id = $1 AND course_key = $2 \
                   AND id <= $3",
            )
            .bind(learner)
            .bind(&scope.course_key)
            .bind(until),
            (Some(learner), false) => sqlx::query_scalar(
                "SELECT count(*) FROM learner_modules WHERE learner_id = $1 AND course_key = $2 \
                   AND id <= $3 AND usage_key = ANY($4::text[])",
            )
            .bind(learner)
            .bind(&scope.course_key)
            .bind(until)
            .bind(&keys),
            (None, true) => sqlx::query_scalar(
                "SELECT count(*) FROM learner_modules WHERE course_key = $1 AND id <= $2",
            )
            .bind(&scope.course_key)
            .bind(until),
            (None, false) => sqlx::query_scalar(
                "SELECT count(*) FROM learner_modules WHERE course_key = $1 AND id <= $2 \
                   AND usage_key = ANY($3::text[])",
            )
            .bind(&scope.course_key)
            .bind(until)
            .bind(&keys),
        };
        let n: i64 = query
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::db(C))?;
        Ok(count(n))
    }

    async fn fetch_modules(
        &self,
        scope: &ModuleScope,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<ModuleRecord>, StoreError> {
        const C: &str = "fetch_modules";
        if limit == 0 {
            return Ok(Vec::new());
        }
        let keys = self.expand_keys(&scope.usage_keys).await?;
        let limit = page_limit(limit);
        let key_filter = (!keys.is_empty()).then_some(&keys);
        let until = scope.until_id.unwrap_or(i64::MAX);
        let rows = if let Some(learner) = scope.learner_id {
            // One learner has few modules: the unique (learner, usage, course) index finds them
            // all and sorting them is cheap.
            sqlx::query(concat!(
                "SELECT ",
                module_cols!(),
                " FROM learner_modules m JOIN learners l ON l.id = m.learner_id \
                  WHERE m.learner_id = $1 AND m.course_key = $2 AND m.id > $3 AND m.id <= $6 \
                    AND ($4::text[] IS NULL OR m.usage_key = ANY($4::text[])) \
                  ORDER BY m.id LIMIT $5"
            ))
            .bind(learner)
            .bind(&scope.course_key)
            .bind(after_id)
            .bind(key_filter)
            .bind(limit)
            .bind(until)
            .fetch_all(&self.pool)
            .await
        } else if keys.len() == 1 {
            // The scan index (course_key, usage_key, id) delivers rows in id order: each page
            // is one index range read, never a sort.
            sqlx::query(concat!(
                "SELECT ",
                module_cols!(),
                " FROM learner_modules m JOIN learners l ON l.id = m.learner_id \
                  WHERE m.course_key = $1 AND m.usage_key = $2 AND m.id > $3 AND m.id <= $5 \
                  ORDER BY m.id LIMIT $4"
            ))
            .bind(&scope.course_key)
            .bind(&keys[0])
            .bind(after_id)
            .bind(limit)
            .bind(until)
            .fetch_all(&self.pool)
            .await
        } else if !keys.is_empty() && keys.len() <= MAX_MERGED_KEYS {
            // Several keys: one ordered index range per key (LATERAL), each cut to the page
            // size, then merged. Reads at most keys × limit index entries per page.
            sqlx::query(concat!(
                "SELECT ",
                module_cols!(),
                " FROM unnest($2::text[]) AS k(usage_key) \
                  CROSS JOIN LATERAL ( \
                      SELECT id FROM learner_modules \
                      WHERE course_key = $1 AND usage_key = k.usage_key AND id > $3 \
                        AND id <= $5 \
                      ORDER BY id LIMIT $4) AS page \
                  JOIN learner_modules m ON m.id = page.id \
                  JOIN learners l ON l.id = m.learner_id \
                  ORDER BY m.id LIMIT $4"
            ))
            .bind(&scope.course_key)
            .bind(&keys)
            .bind(after_id)
            .bind(limit)
            .bind(until)
            .fetch_all(&self.pool)
            .await
        } else {
            // Whole course, or very many keys: walk the table in id order from the cursor and
            // filter. Cost is proportional to the rows passed over, so it is efficient when the
            // course's modules make up most of the table.
            sqlx::query(concat!(
                "SELECT ",
                module_cols!(),
                " FROM learner_modules m JOIN learners l ON l.id = m.learner_id \
                  WHERE m.id > $2 AND m.id <= $5 AND m.course_key = $1 \
                    AND ($3::text[] IS NULL OR m.usage_key = ANY($3::text[])) \
                  ORDER BY m.id LIMIT $4"
            ))
            .bind(&scope.course_key)
            .bind(after_id)
            .bind(key_filter)
            .bind(limit)
            .bind(until)
            .fetch_all(&self.pool)
            .await
        }
        .map_err(StoreError::db(C))?;
        rows.iter().map(module_from_row).collect()
    }

    async fn import_modules(&self, modules: &[ModuleRecord]) -> Result<ModuleImport, StoreError> {
        data_import::import_modules(self, modules).await
    }

    async fn check_modules(
        &self,
        modules: &[ModuleRecord],
    ) -> Result<Vec<(usize, ModuleRejection)>, StoreError> {
        data_import::check_modules(self, modules).await
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
              WHERE m.learner_id = $1 AND m.course_key = $2 \
                AND m.usage_key = ANY($3::text[]) \
              ORDER BY m.id LIMIT 1"
        ))
        .bind(learner_id)
        .bind(course_key)
        .bind(&keys)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db(C))?;
        row.as_ref().map(module_from_row).transpose()
    }

    async fn submit_task(&self, task: &NewTask) -> Result<TaskRecord, SubmitError> {
        const C: &str = "submit_task";
        let input = json_text(C, &task.input)?;
        for _ in 0..SUBMIT_RETRIES {
            // The partial unique index decides. A concurrent identical insert that is not yet
            // committed makes this one wait for it; ON CONFLICT then turns the refusal into "no
            // row", and the blocking task is read by the next statement.
            //
            // The notification is part of the same statement (so of its transaction): it is
            // sent when, and only if, the task is committed.
            let inserted = sqlx::query(concat!(
                "WITH inserted AS ( \
                     INSERT INTO tasks (id, course_key, task_type, task_key, input, requester, \
                                        state, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'QUEUED', now(), now()) \
                     ON CONFLICT (course_key, task_type, task_key) \
                         WHERE state IN ('QUEUED', 'RUNNING') DO NOTHING \
                     RETURNING ",
                task_cols!(),
                ") SELECT inserted.*, pg_notify($7, id::text) FROM inserted"
            ))
            .bind(task.id)
            .bind(&task.course_key)
            .bind(&task.task_type)
            .bind(&task.task_key)
            .bind(&input)
            .bind(&task.requester)
            .bind(WORK_CHANNEL)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db(C))?;
            if let Some(row) = inserted {
                self.wakeups.waiters.notify_waiters();
                return Ok(task_from_row(&row)?);
            }
            let existing = sqlx::query(concat!(
                "SELECT ",
                task_cols!(),
                " FROM tasks WHERE course_key = $1 AND task_type = $2 AND task_key = $3 \
                    AND state IN ('QUEUED', 'RUNNING')"
            ))
            .bind(&task.course_key)
            .bind(&task.task_type)
            .bind(&task.task_key)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db(C))?;
            match existing {
                Some(row) => {
                    return Err(SubmitError::AlreadyRunning {
                        existing: task_from_row(&row)?,
                    });
                }
                // The blocking task finished between the two statements: the slot is free.
                None => continue,
            }
        }
        Err(SubmitError::Store(StoreError::Conflict {
            context: C,
            message: "identical tasks kept finishing while this one was submitted".into(),
        }))
    }

    async fn get_task(&self, id: Uuid) -> Result<Option<TaskRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            task_cols!(),
            " FROM tasks WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("get_task"))?;
        row.as_ref().map(task_from_row).transpose()
    }

    async fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>, StoreError> {
        const C: &str = "list_tasks";
        let states: Option<Vec<&str>> =
            (!filter.states.is_empty()).then(|| filter.states.iter().map(|s| s.as_str()).collect());
        // `input` is JSON text: it is parsed only for the student filter, and a value that is
        // not an object (or not JSON at all, which the store never writes) does not match.
        let rows = sqlx::query(concat!(
            "SELECT ",
            task_cols!(),
            " FROM tasks \
              WHERE ($1::text IS NULL OR course_key = $1) \
                AND ($2::text[] IS NULL OR state = ANY($2::text[])) \
                AND ($3::text IS NULL OR task_type = $3) \
                AND ($4::text IS NULL OR task_key = $4) \
                AND ($5::text IS NULL OR requester = $5) \
                AND ($7::text IS NULL OR \
                     (CASE WHEN left(ltrim(input), 1) = '{' THEN input::jsonb ->> 'student' END) \
                         = $7) \
              ORDER BY created_at DESC, seq DESC LIMIT $6"
        ))
        .bind(&filter.course_key)
        .bind(states)
        .bind(&filter.task_type)
        .bind(&filter.task_key)
        .bind(&filter.requester)
        .bind(filter.limit.map(i64::from))
        .bind(&filter.student)
        .fetch_all(&self.pool)
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
        // One statement. The CTE finishes, as REVOKED, unsplit tasks whose planner died after a
        // cancel request (nobody is left to stop them); the main UPDATE claims the oldest task
        // that is queued or whose planning lease expired without a cancel request, so the two
        // never touch the same row. Both pick rows with SKIP LOCKED: a row another claimer
        // holds is passed over, not waited for. Times are the server's.
        let row = sqlx::query(concat!(
            "WITH revoked AS ( \
                 UPDATE tasks SET state = 'REVOKED', finished_at = now(), updated_at = now(), \
                                  lease_expires_at = NULL \
                 WHERE seq IN (SELECT seq FROM tasks \
                               WHERE state = 'RUNNING' AND subtasks = 0 AND cancel_requested \
                                 AND lease_expires_at < now() \
                               FOR UPDATE SKIP LOCKED)) \
             UPDATE tasks SET state = 'RUNNING', lease_owner = $1, \
                              lease_expires_at = now() + $2 * interval '1 millisecond', \
                              lease_ms = $2, started_at = COALESCE(started_at, now()), \
                              updated_at = now(), attempts = attempts + 1 \
             WHERE seq = (SELECT seq FROM tasks \
                          WHERE state = 'QUEUED' \
                             OR (state = 'RUNNING' AND subtasks = 0 \
                                 AND lease_expires_at < now() AND NOT cancel_requested) \
                          ORDER BY created_at, seq LIMIT 1 \
                          FOR UPDATE SKIP LOCKED) \
             RETURNING ",
            task_cols!()
        ))
        .bind(worker)
        .bind(lease_ms(lease))
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db(C))?;
        row.as_ref().map(task_from_row).transpose()
    }

    async fn renew_lease(
        &self,
        task_id: Uuid,
        worker: &str,
        lease: Duration,
    ) -> Result<LeaseStatus, StoreError> {
        let row: Option<bool> = sqlx::query_scalar(
            "UPDATE tasks SET lease_expires_at = now() + $1 * interval '1 millisecond', \
                              lease_ms = $1, updated_at = now() \
             WHERE id = $2 AND lease_owner = $3 AND state = 'RUNNING' AND subtasks = 0 \
             RETURNING cancel_requested",
        )
        .bind(lease_ms(lease))
        .bind(task_id)
        .bind(worker)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("renew_lease"))?;
        Ok(match row {
            Some(stop_requested) => LeaseStatus::Held { stop_requested },
            None => LeaseStatus::Lost,
        })
    }

    async fn module_split_points(
        &self,
        scope: &ModuleScope,
        every: u64,
    ) -> Result<Vec<i64>, StoreError> {
        const C: &str = "module_split_points";
        let every = i64::try_from(every.max(1)).unwrap_or(i64::MAX);
        let keys = self.expand_keys(&scope.usage_keys).await?;
        // The server numbers the ids in order and sends only every n-th, so the points, not
        // the scope, cross the network. Only `id` is needed, which the scan index (course_key,
        // usage_key, id) covers: no module row is read for a usage-key scope. The last module
        // is never a point (it has no next id), so the last range is never empty; `lead`
        // looks one row ahead, where a total count would hold the whole scope in the server's
        // memory or temp files.
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM ( \
                 SELECT id, row_number() OVER w AS n, lead(id) OVER w AS next_id \
                 FROM learner_modules \
                 WHERE course_key = $1 AND id <= $2 \
                   AND ($3::bigint IS NULL OR learner_id = $3) \
                   AND ($4::text[] IS NULL OR usage_key = ANY($4::text[])) \
                 WINDOW w AS (ORDER BY id)) AS numbered \
             WHERE n % $5 = 0 AND next_id IS NOT NULL ORDER BY id",
        )
        .bind(&scope.course_key)
        .bind(scope.until_id.unwrap_or(i64::MAX))
        .bind(scope.learner_id)
        .bind((!keys.is_empty()).then_some(&keys))
        .bind(every)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db(C))?;
        Ok(ids)
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
        let mut tx = self.write_tx(C).await?;
        // Fenced by the planning lease. The subtasks are new rows, so locking the task first
        // here cannot invert the subtask-then-task order of other transactions.
        let seq: Option<i64> = sqlx::query_scalar(
            "UPDATE tasks SET total = $1, subtasks = $2, lease_expires_at = NULL, \
                              updated_at = now() \
             WHERE id = $3 AND lease_owner = $4 AND state = 'RUNNING' AND subtasks = 0 \
             RETURNING seq",
        )
        .bind(to_i64(total))
        .bind(i32::try_from(ranges.len()).unwrap_or(i32::MAX))
        .bind(task_id)
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
             SELECT $1, r.idx, r.after_id, r.until_id, 'QUEUED', r.after_id, now() \
             FROM unnest($2::int[], $3::bigint[], $4::bigint[]) AS r(idx, after_id, until_id)",
        )
        .bind(seq)
        .bind(
            ranges
                .iter()
                .map(|r| i32::try_from(r.0).unwrap_or(i32::MAX))
                .collect::<Vec<_>>(),
        )
        .bind(ranges.iter().map(|r| r.1).collect::<Vec<_>>())
        .bind(ranges.iter().map(|r| r.2).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        notify_work(&mut tx, task_id, C).await?;
        let task = task_by_seq(&mut tx, seq, C).await?;
        tx.commit().await.map_err(StoreError::db(C))?;
        self.wakeups.waiters.notify_waiters();
        Ok(task)
    }

    async fn claim_subtask(
        &self,
        worker: &str,
        lease: Duration,
        task_id: Option<Uuid>,
    ) -> Result<Option<SubtaskClaim>, StoreError> {
        const C: &str = "claim_subtask";
        let mut tx = self.write_tx(C).await?;
        // Subtasks of a task that must stop are revoked rather than handed out: queued ones,
        // and running ones whose worker died (nobody else would ever end them). Rows that
        // another transaction holds are left for later (SKIP LOCKED); the tasks that may have
        // lost their last live subtask are then ended under their row lock.
        let revoked: Vec<i64> = sqlx::query_scalar(
            "UPDATE subtasks SET state = 'REVOKED', finished_at = now(), updated_at = now(), \
                                 lease_expires_at = NULL \
             WHERE (task_seq, idx) IN ( \
                 SELECT s.task_seq, s.idx FROM subtasks s JOIN tasks t ON t.seq = s.task_seq \
                 WHERE s.state IN ('QUEUED', 'RUNNING') \
                   AND (s.state = 'QUEUED' OR s.lease_expires_at < now()) \
                   AND t.state = 'RUNNING' AND (t.cancel_requested OR t.error IS NOT NULL) \
                 FOR UPDATE OF s SKIP LOCKED) \
             RETURNING task_seq",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        if !revoked.is_empty() {
            finish_done_tasks(&mut tx, revoked).await?;
        }
        // A running subtask is handed out when its lease expired, or to the worker that holds
        // it: a worker whose run broke off (a lost connection) takes its own work back at once
        // instead of waiting for its lease to run out. Its commits continue from the stored
        // cursor, so nothing is applied twice.
        let row = sqlx::query(concat!(
            "UPDATE subtasks s SET state = 'RUNNING', lease_owner = $1, \
                                   lease_expires_at = now() + $2 * interval '1 millisecond', \
                                   lease_ms = $2, started_at = COALESCE(s.started_at, now()), \
                                   updated_at = now(), attempts = s.attempts + 1 \
             FROM tasks t \
             WHERE t.seq = s.task_seq \
               AND (s.task_seq, s.idx) = ( \
                   SELECT c.task_seq, c.idx FROM subtasks c JOIN tasks ct ON ct.seq = c.task_seq \
                   WHERE c.state IN ('QUEUED', 'RUNNING') \
                     AND (c.state = 'QUEUED' OR c.lease_expires_at < now() \
                          OR c.lease_owner = $1) \
                     AND ct.state = 'RUNNING' AND NOT ct.cancel_requested \
                     AND ct.error IS NULL AND ($3::uuid IS NULL OR ct.id = $3) \
                   ORDER BY c.task_seq, c.idx LIMIT 1 \
                   FOR UPDATE OF c SKIP LOCKED) \
             RETURNING s.task_seq, ",
            subtask_cols!()
        ))
        .bind(worker)
        .bind(lease_ms(lease))
        .bind(task_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        let claim = match row {
            None => None,
            Some(row) => {
                let seq: i64 = get(&row, "task_seq", C)?;
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
        let stop: Option<bool> = sqlx::query_scalar(
            "UPDATE subtasks s SET lease_expires_at = now() + $1 * interval '1 millisecond', \
                                   lease_ms = $1, updated_at = now() \
             FROM tasks t \
             WHERE t.seq = s.task_seq AND t.id = $2 AND s.idx = $3 AND s.lease_owner = $4 \
               AND s.state = 'RUNNING' \
             RETURNING t.cancel_requested OR t.error IS NOT NULL",
        )
        .bind(lease_ms(lease))
        .bind(task_id)
        .bind(subtask_index(subtask))
        .bind(worker)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db(C))?;
        Ok(match stop {
            Some(stop_requested) => LeaseStatus::Held { stop_requested },
            None => LeaseStatus::Lost,
        })
    }

    async fn commit_chunk(&self, chunk: &ChunkCommit) -> Result<ChunkAck, StoreError> {
        const C: &str = "commit_chunk";
        // Prepare the parameters before the transaction: row locks are held only for SQL.
        // Updates in id order, so that two chunks touching the same modules lock them in the
        // same order and cannot deadlock.
        let (mut updates, _) = keep_last(&chunk.module_updates, |u| u.id);
        updates.sort_by_key(|u| u.id);
        let (inserts, _) = keep_last(&chunk.module_inserts, |m| {
            (m.learner_id, m.usage_key.as_str(), m.course_key.as_str())
        });
        let mut deletes = chunk.module_deletes.clone();
        deletes.sort_unstable();
        deletes.dedup();
        let d = chunk.deltas;
        let deltas = [d.attempted, d.succeeded, d.skipped, d.failed].map(to_i64);

        let mut tx = self.write_tx(C).await?;
        // (a) Fence, the subtask's counters, cursor and lease in one statement: lease owner,
        // RUNNING, and the stored cursor equal to the one this chunk continues from. The row
        // lock it takes is held to commit, so the lease cannot change under this chunk (a
        // claimer passes the row by until then), and everything after it is rolled back if
        // anything fails.
        let fence = sqlx::query(
            "UPDATE subtasks s SET attempted = s.attempted + $5, succeeded = s.succeeded + $6, \
                                   skipped = s.skipped + $7, failed = s.failed + $8, \
                                   cursor = $9, updated_at = now(), \
                                   lease_expires_at = now() + s.lease_ms * interval '1 millisecond' \
             FROM tasks t \
             WHERE t.seq = s.task_seq AND t.id = $1 AND s.idx = $2 AND s.lease_owner = $3 \
               AND s.state = 'RUNNING' AND s.cursor = $4 \
             RETURNING s.task_seq, t.course_key, s.cursor",
        )
        .bind(chunk.task_id)
        .bind(subtask_index(chunk.subtask))
        .bind(&chunk.worker)
        .bind(chunk.expected_cursor)
        .bind(deltas[0])
        .bind(deltas[1])
        .bind(deltas[2])
        .bind(deltas[3])
        .bind(chunk.new_cursor)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        let Some(fence) = fence else {
            tx.rollback().await.map_err(StoreError::db(C))?;
            return Err(StoreError::LeaseLost {
                task_id: chunk.task_id,
                worker: chunk.worker.clone(),
            });
        };
        // Checked under the fence, so that a chunk from a worker that lost its lease is
        // LeaseLost whatever it holds.
        if let Err(invalid) = crate::model::check_chunk_covers_its_modules(chunk) {
            tx.rollback().await.map_err(StoreError::db(C))?;
            return Err(invalid);
        }
        let seq: i64 = get(&fence, "task_seq", C)?;
        let course_key: String = get(&fence, "course_key", C)?;
        let cursor: i64 = get(&fence, "cursor", C)?;

        // (b) Module changes.
        if !updates.is_empty() {
            sqlx::query(
                "UPDATE learner_modules SET state = u.state, grade = u.grade, \
                                            max_grade = u.max_grade, modified = u.modified \
                 FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::float8[], \
                             $5::timestamptz[]) AS u(id, state, grade, max_grade, modified) \
                 WHERE learner_modules.id = u.id",
            )
            .bind(updates.iter().map(|u| u.id).collect::<Vec<_>>())
            .bind(
                updates
                    .iter()
                    .map(|u| u.state.as_deref())
                    .collect::<Vec<_>>(),
            )
            .bind(updates.iter().map(|u| u.grade).collect::<Vec<_>>())
            .bind(updates.iter().map(|u| u.max_grade).collect::<Vec<_>>())
            .bind(updates.iter().map(|u| u.modified).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(C))?;
        }
        if !inserts.is_empty() {
            // An override may meet a module that appeared since the chunk was read: update it.
            bind_new_modules(
                sqlx::query(concat!(
                    insert_modules_sql!(),
                    " ON CONFLICT (learner_id, usage_key, course_key) DO UPDATE SET \
                         module_type = excluded.module_type, state = excluded.state, \
                         grade = excluded.grade, max_grade = excluded.max_grade, \
                         modified = excluded.modified"
                )),
                &inserts,
            )
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(C))?;
        }
        if !deletes.is_empty() {
            sqlx::query("DELETE FROM learner_modules WHERE id = ANY($1::bigint[])")
                .bind(&deletes)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(C))?;
        }

        // (c) Outcomes (at most one per task and module, so a replay adds nothing) and events.
        if !chunk.outcomes.is_empty() {
            let o = &chunk.outcomes;
            sqlx::query(
                "INSERT INTO task_outcomes (task_seq, module_id, learner_id, username, usage_key, \
                                            status, reason, old_grade, old_max_grade, \
                                            new_grade, new_max_grade, created) \
                 SELECT $11, \
                        COALESCE(o.module_id, (SELECT m.id FROM learner_modules m \
                                               WHERE m.learner_id = o.learner_id \
                                                 AND m.usage_key = o.usage_key \
                                                 AND m.course_key = $12)), \
                        o.learner_id, o.username, o.usage_key, o.status, o.reason, o.old_grade, \
                        o.old_max_grade, o.new_grade, o.new_max_grade, now() \
                 FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], \
                             $6::text[], $7::float8[], $8::float8[], $9::float8[], \
                             $10::float8[]) \
                      AS o(module_id, learner_id, username, usage_key, status, reason, \
                           old_grade, old_max_grade, new_grade, new_max_grade) \
                 ON CONFLICT (task_seq, module_id) DO NOTHING",
            )
            .bind(o.iter().map(|o| o.module_id).collect::<Vec<_>>())
            .bind(o.iter().map(|o| o.learner_id).collect::<Vec<_>>())
            .bind(o.iter().map(|o| o.username.as_str()).collect::<Vec<_>>())
            .bind(o.iter().map(|o| o.usage_key.as_str()).collect::<Vec<_>>())
            .bind(o.iter().map(|o| o.status.as_str()).collect::<Vec<_>>())
            .bind(o.iter().map(|o| o.reason.as_deref()).collect::<Vec<_>>())
            .bind(o.iter().map(|o| o.old_grade).collect::<Vec<_>>())
            .bind(o.iter().map(|o| o.old_max_grade).collect::<Vec<_>>())
            .bind(o.iter().map(|o| o.new_grade).collect::<Vec<_>>())
            .bind(o.iter().map(|o| o.new_max_grade).collect::<Vec<_>>())
            .bind(seq)
            .bind(&course_key)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(C))?;
        }
        if !chunk.events.is_empty() {
            bind_events(
                sqlx::query(INSERT_EVENTS_SQL),
                &chunk.events,
                Some(chunk.task_id),
            )
            .bind(chunk.task_id)
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(C))?;
        }

        // (d) The task's counters, last: sibling subtasks committing at the same time wait for
        // this row only from here to commit.
        let row = sqlx::query(
            "UPDATE tasks SET attempted = attempted + $1, succeeded = succeeded + $2, \
                              skipped = skipped + $3, failed = failed + $4, updated_at = now() \
             WHERE seq = $5 \
             RETURNING cancel_requested OR error IS NOT NULL AS stop, total, attempted, \
                       succeeded, skipped, failed",
        )
        .bind(deltas[0])
        .bind(deltas[1])
        .bind(deltas[2])
        .bind(deltas[3])
        .bind(seq)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        let total: Option<i64> = get(&row, "total", C)?;
        let ack = ChunkAck {
            stop_requested: get(&row, "stop", C)?,
            counts: Counts {
                attempted: count(get(&row, "attempted", C)?),
                succeeded: count(get(&row, "succeeded", C)?),
                skipped: count(get(&row, "skipped", C)?),
                failed: count(get(&row, "failed", C)?),
            },
            total: total.map(count),
            cursor,
        };
        tx.commit().await.map_err(StoreError::db(C))?;
        Ok(ack)
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
            FinalState::Failure { error } => Some(json_text(C, error)?),
            _ => None,
        };
        let mut tx = self.write_tx(C).await?;
        let seq: Option<i64> = sqlx::query_scalar(
            "UPDATE subtasks SET state = $1, finished_at = now(), updated_at = now(), error = $2, \
                                 lease_expires_at = NULL \
             WHERE task_seq = (SELECT seq FROM tasks WHERE id = $3) AND idx = $4 \
               AND lease_owner = $5 AND state = 'RUNNING' \
             RETURNING task_seq",
        )
        .bind(final_state.state().as_str())
        .bind(&error)
        .bind(task_id)
        .bind(subtask_index(subtask))
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
            // The first failure is the task's; it makes the siblings stop: queued ones are
            // revoked now, running ones see it at their next chunk or heartbeat.
            sqlx::query(
                "UPDATE subtasks SET state = 'REVOKED', finished_at = now(), updated_at = now() \
                 WHERE task_seq = $1 AND state = 'QUEUED'",
            )
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(C))?;
            sqlx::query(
                "UPDATE tasks SET error = COALESCE(error, $1), updated_at = now() WHERE seq = $2",
            )
            .bind(error)
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(C))?;
        }
        finish_done_tasks(&mut tx, vec![seq]).await?;
        let task = task_by_seq(&mut tx, seq, C).await?;
        tx.commit().await.map_err(StoreError::db(C))?;
        Ok(task)
    }

    async fn list_subtasks(&self, task_id: Uuid) -> Result<Vec<SubtaskRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            subtask_cols!(),
            " FROM subtasks s JOIN tasks t ON t.seq = s.task_seq WHERE t.id = $1 ORDER BY s.idx"
        ))
        .bind(task_id)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("list_subtasks"))?;
        rows.iter().map(subtask_from_row).collect()
    }

    async fn finish_task(
        &self,
        task_id: Uuid,
        worker: &str,
        final_state: FinalState,
    ) -> Result<TaskRecord, StoreError> {
        const C: &str = "finish_task";
        let error = match &final_state {
            FinalState::Failure { error } => Some(json_text(C, error)?),
            _ => None,
        };
        let row = sqlx::query(concat!(
            "UPDATE tasks SET state = $1, finished_at = now(), updated_at = now(), error = $2, \
                              lease_expires_at = NULL \
             WHERE id = $3 AND lease_owner = $4 AND state = 'RUNNING' AND subtasks = 0 \
             RETURNING ",
            task_cols!()
        ))
        .bind(final_state.state().as_str())
        .bind(error)
        .bind(task_id)
        .bind(worker)
        .fetch_optional(&self.pool)
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
        let mut tx = self.write_tx(C).await?;
        // Subtasks before the task: the lock order of every driver. Queued subtasks will never
        // run; running ones see the flag at their next chunk.
        sqlx::query(
            "UPDATE subtasks SET state = 'REVOKED', finished_at = now(), updated_at = now() \
             WHERE state = 'QUEUED' \
               AND task_seq = (SELECT seq FROM tasks WHERE id = $1 AND state = 'RUNNING')",
        )
        .bind(task_id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        // In SET, `state` is the value before the update: queued tasks are revoked at once,
        // running ones only get the flag.
        let seq: Option<i64> = sqlx::query_scalar(
            "UPDATE tasks SET cancel_requested = true, updated_at = now(), \
                 state = CASE WHEN state = 'QUEUED' THEN 'REVOKED' ELSE state END, \
                 finished_at = CASE WHEN state = 'QUEUED' THEN now() ELSE finished_at END \
             WHERE id = $1 AND state IN ('QUEUED', 'RUNNING') \
             RETURNING seq",
        )
        .bind(task_id)
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
        finish_done_tasks(&mut tx, vec![seq]).await?;
        notify_work(&mut tx, task_id, C).await?;
        let task = task_by_seq(&mut tx, seq, C).await?;
        tx.commit().await.map_err(StoreError::db(C))?;
        self.wakeups.waiters.notify_waiters();
        Ok(match task.state {
            TaskState::Queued | TaskState::Running => CancelOutcome::Requested(task),
            _ => CancelOutcome::Revoked(task),
        })
    }

    async fn fail_task(&self, task_id: Uuid, reason: &str) -> Result<TaskRecord, StoreError> {
        const C: &str = "fail_task";
        let error = json_text(C, &serde_json::json!({ "message": reason, "forced": true }))?;
        let mut tx = self.write_tx(C).await?;
        // Subtasks first (the lock order); their workers get LeaseLost at their next write.
        sqlx::query(
            "UPDATE subtasks SET state = 'FAILURE', finished_at = now(), updated_at = now(), \
                                 error = $1, lease_expires_at = NULL \
             WHERE state IN ('QUEUED', 'RUNNING') \
               AND task_seq = (SELECT seq FROM tasks WHERE id = $2 \
                                 AND state IN ('QUEUED', 'RUNNING'))",
        )
        .bind(&error)
        .bind(task_id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(C))?;
        let row = sqlx::query(concat!(
            "UPDATE tasks SET state = 'FAILURE', finished_at = now(), updated_at = now(), \
                              error = $1, lease_expires_at = NULL \
             WHERE id = $2 AND state IN ('QUEUED', 'RUNNING') \
             RETURNING ",
            task_cols!()
        ))
        .bind(&error)
        .bind(task_id)
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

    async fn list_outcomes(
        &self,
        task_id: Uuid,
        status: Option<OutcomeStatus>,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<OutcomeRecord>, StoreError> {
        const C: &str = "list_outcomes";
        let rows = match status {
            Some(status) => {
                sqlx::query(concat!(
                    "SELECT ",
                    outcome_cols!(),
                    " FROM task_outcomes \
                      WHERE task_seq = (SELECT seq FROM tasks WHERE id = $1) \
                        AND status = $2 AND id > $3 ORDER BY id LIMIT $4"
                ))
                .bind(task_id)
                .bind(status.as_str())
                .bind(after_id)
                .bind(page_limit(limit))
                .fetch_all(&self.pool)
                .await
            }
            // All statuses: merge the three ordered (task, status, id) ranges instead of
            // sorting every outcome of the task on each page.
            None => {
                sqlx::query(concat!(
                    "WITH t AS (SELECT seq FROM tasks WHERE id = $1) \
                     SELECT ",
                    outcome_cols!(),
                    " FROM ( \
                       (SELECT * FROM task_outcomes \
                        WHERE task_seq = (SELECT seq FROM t) AND status = 'succeeded' \
                          AND id > $2 ORDER BY id LIMIT $3) \
                       UNION ALL \
                       (SELECT * FROM task_outcomes \
                        WHERE task_seq = (SELECT seq FROM t) AND status = 'skipped' \
                          AND id > $2 ORDER BY id LIMIT $3) \
                       UNION ALL \
                       (SELECT * FROM task_outcomes \
                        WHERE task_seq = (SELECT seq FROM t) AND status = 'failed' \
                          AND id > $2 ORDER BY id LIMIT $3)) AS page \
                     ORDER BY id LIMIT $3"
                ))
                .bind(task_id)
                .bind(after_id)
                .bind(page_limit(limit))
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(StoreError::db(C))?;
        rows.iter().map(outcome_from_row).collect()
    }

    async fn count_outcomes(
        &self,
        task_id: Uuid,
        status: Option<OutcomeStatus>,
    ) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM task_outcomes \
             WHERE task_seq = (SELECT seq FROM tasks WHERE id = $1) \
               AND ($2::text IS NULL OR status = $2)",
        )
        .bind(task_id)
        .bind(status.map(OutcomeStatus::as_str))
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::db("count_outcomes"))?;
        Ok(count(n))
    }

    async fn insert_events(&self, events: &[NewEvent]) -> Result<u64, StoreError> {
        const C: &str = "insert_events";
        if events.is_empty() {
            return Ok(0);
        }
        let mut tx = self.write_tx(C).await?;
        let mut inserted = 0;
        for batch in events.chunks(BATCH_ROWS) {
            let result = bind_events(sqlx::query(INSERT_EVENTS_SQL), batch, None)
                .bind(None::<Uuid>)
                .bind(None::<i64>)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(C))?;
            inserted += result.rows_affected();
        }
        tx.commit().await.map_err(StoreError::db(C))?;
        Ok(inserted)
    }

    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<EventRecord>, StoreError> {
        const C: &str = "list_events";
        let limit = page_limit(filter.limit);
        let rows = match (filter.task_id, &filter.course_key) {
            (Some(task), course) => {
                sqlx::query(TASK_EVENTS_SQL)
                    .bind(task)
                    .bind(filter.after_id)
                    .bind(course)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
            }
            (None, Some(course)) => {
                sqlx::query(concat!(
                    "SELECT ",
                    event_cols!(),
                    " FROM tracking_events WHERE id > $2 AND course_key = $1 \
                      ORDER BY id LIMIT $3"
                ))
                .bind(course)
                .bind(filter.after_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
            }
            (None, None) => {
                sqlx::query(concat!(
                    "SELECT ",
                    event_cols!(),
                    " FROM tracking_events WHERE id > $1 ORDER BY id LIMIT $2"
                ))
                .bind(filter.after_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(StoreError::db(C))?;
        rows.iter().map(event_from_row).collect()
    }

    async fn count_events(&self, task_id: Uuid) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(TASK_EVENT_COUNT_SQL)
            .bind(task_id)
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::db("count_events"))?;
        Ok(count(n))
    }

    async fn create_token(&self, token: &NewToken) -> Result<TokenRecord, StoreError> {
        const C: &str = "create_token";
        crate::model::check_new_token(token)?;
        let row = sqlx::query("INSERT INTO api_tokens (user_name, role, course_key, hash) \
             VALUES ($1, $2, $3, $4) RETURNING id, user_name, role, course_key, hash, created_at, revoked_at"
        )
        .bind(&token.user)
        .bind(token.role.as_str())
        .bind(&token.course_key)
        .bind(&token.hash)
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::db(C))?;
        token_from_row(&row, C)
    }

    async fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        const C: &str = "find_token";
        let row = sqlx::query("SELECT id, user_name, role, course_key, hash, created_at, revoked_at FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL"
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db(C))?;
        row.map(|row| token_from_row(&row, C)).transpose()
    }

    async fn revoke_token(&self, id: i64) -> Result<TokenRecord, StoreError> {
        const C: &str = "revoke_token";
        let row = sqlx::query(
            "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 \
             RETURNING id, user_name, role, course_key, hash, created_at, revoked_at",
        )
        .bind(id)
        .fetch_optional(&self.pool)
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
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db(C))?;
        rows.iter().map(|row| token_from_row(row, C)).collect()
    }

    async fn record_worker(&self, heartbeat: &WorkerHeartbeat) -> Result<(), StoreError> {
        // The heartbeat time is the server's, so that `list_workers` compares times of one
        // clock whatever the workers' hosts think the time is.
        sqlx::query(
            "INSERT INTO workers (name, host, pid, started_at, heartbeat_at, task_id, subtask, \
                                  processed) \
             VALUES ($1, $2, $3, $4, now(), $5, $6, $7) \
             ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid, \
                 heartbeat_at = excluded.heartbeat_at, task_id = excluded.task_id, \
                 subtask = excluded.subtask, processed = excluded.processed",
        )
        .bind(&heartbeat.name)
        .bind(&heartbeat.host)
        .bind(i64::from(heartbeat.pid))
        .bind(heartbeat.started_at)
        .bind(heartbeat.current.map(|(task, _)| task))
        .bind(heartbeat.current.map(|(_, index)| subtask_index(index)))
        .bind(to_i64(heartbeat.processed))
        .execute(&self.pool)
        .await
        .map_err(StoreError::db("record_worker"))?;
        Ok(())
    }

    async fn remove_worker(&self, name: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM workers WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(StoreError::db("remove_worker"))?;
        Ok(())
    }

    async fn list_workers(&self, forget_after: Duration) -> Result<Vec<WorkerRecord>, StoreError> {
        const C: &str = "list_workers";
        // Microseconds, the resolution of timestamptz; capped like leases, so that the cutoff
        // stays a valid timestamp (100 years back forgets nothing anyway).
        let forget_us = i64::try_from(forget_after.as_micros())
            .unwrap_or(i64::MAX)
            .min(MAX_LEASE_MS * 1000);
        sqlx::query(
            "DELETE FROM workers WHERE heartbeat_at < now() - $1 * interval '1 microsecond'",
        )
        .bind(forget_us)
        .execute(&self.pool)
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
                let task: Option<Uuid> = get(row, "task_id", C)?;
                let subtask: Option<i32> = get(row, "subtask", C)?;
                let current = match (task, subtask) {
                    (Some(task), Some(index)) => Some((
                        task,
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
        // Listen first, then look: work submitted after the look either wakes this waiter (a
        // notification once LISTEN is in place, the listener's wake-up of everyone when it
        // (re)connects before that) or was already seen by the look. Nothing is lost.
        let woken = self.wakeups.waiters.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if !self.wakeups.started.swap(true, Ordering::SeqCst) {
            tokio::spawn(listen_for_work(
                self.options.clone(),
                self.wakeups.waiters.clone(),
                self.wakeups.stop.clone(),
            ));
        }
        let claimable: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM tasks WHERE state = 'QUEUED') \
                 OR EXISTS (SELECT 1 FROM subtasks s JOIN tasks t ON t.seq = s.task_seq \
                            WHERE s.state = 'QUEUED' AND t.state = 'RUNNING' \
                              AND NOT t.cancel_requested AND t.error IS NULL)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::db("wait_for_work"))?;
        if !claimable {
            let _ = tokio::time::timeout(timeout, woken).await;
        }
        Ok(())
    }
}

/// A subtask index as stored (`INTEGER`).
fn subtask_index(index: u32) -> i32 {
    i32::try_from(index).unwrap_or(i32::MAX)
}

/// The task with this row number, inside a transaction.
async fn task_by_seq(
    conn: &mut PgConnection,
    seq: i64,
    context: &'static str,
) -> Result<TaskRecord, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        task_cols!(),
        " FROM tasks WHERE seq = $1"
    ))
    .bind(seq)
    .fetch_one(&mut *conn)
    .await
    .map_err(StoreError::db(context))?;
    task_from_row(&row)
}

/// Ends those of the given split tasks that have no queued or running subtask left: FAILURE
/// when a subtask failed, REVOKED when one was revoked, SUCCESS otherwise.
///
/// The tasks' rows are locked first, in a statement of their own: the check then runs on a
/// snapshot taken after the lock was granted, so it sees the subtask changes of every
/// transaction that held the lock before (READ COMMITTED takes a snapshot per statement; a
/// single `UPDATE … WHERE NOT EXISTS (…)` that waited for the lock would recheck its own row
/// but not the subtasks). Every transaction that ends a subtask comes through here, so when the
/// last two subtasks of a task end at once, the second to get the lock ends the task.
async fn finish_done_tasks(conn: &mut PgConnection, mut seqs: Vec<i64>) -> Result<(), StoreError> {
    const C: &str = "finish the task of the last subtask";
    seqs.sort_unstable();
    seqs.dedup();
    // NO KEY UPDATE: the lock an UPDATE of the row takes, which does not block the key-share
    // locks of concurrent outcome inserts (foreign key to tasks.seq). In seq order, so that
    // two transactions locking several tasks cannot deadlock on them.
    sqlx::query(
        "SELECT seq FROM tasks WHERE seq = ANY($1::bigint[]) ORDER BY seq FOR NO KEY UPDATE",
    )
    .bind(&seqs)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::db(C))?;
    sqlx::query(
        "UPDATE tasks SET \
             state = CASE \
                 WHEN error IS NOT NULL THEN 'FAILURE' \
                 WHEN EXISTS (SELECT 1 FROM subtasks s \
                              WHERE s.task_seq = tasks.seq AND s.state = 'REVOKED') \
                     THEN 'REVOKED' \
                 ELSE 'SUCCESS' END, \
             finished_at = now(), updated_at = now(), lease_expires_at = NULL \
         WHERE seq = ANY($1::bigint[]) AND state = 'RUNNING' AND subtasks > 0 \
           AND NOT EXISTS (SELECT 1 FROM subtasks s \
                           WHERE s.task_seq = tasks.seq AND s.state IN ('QUEUED', 'RUNNING'))",
    )
    .bind(&seqs)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::db(C))?;
    Ok(())
}

/// Announces new work of `task_id` on [`WORK_CHANNEL`]; delivered when (and only if) the
/// transaction commits.
async fn notify_work(
    conn: &mut PgConnection,
    task_id: Uuid,
    context: &'static str,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(WORK_CHANNEL)
        .bind(task_id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(StoreError::db(context))?;
    Ok(())
}

/// The listener task of one store: holds a `LISTEN` connection (its own one-connection pool,
/// so the store's pool keeps all its connections) and wakes the store's waiters on each
/// notification. A lost connection is re-established with growing pauses (up to 10 s); after
/// each (re)connection the waiters are woken once, since notifications sent meanwhile are
/// lost. Meanwhile waits simply run to their timeout, which is the polling fallback. Ends when
/// the store is dropped.
async fn listen_for_work(options: PgConnectOptions, waiters: Arc<Notify>, stop: Arc<Notify>) {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy_with(options);
    let mut pause = Duration::from_millis(100);
    loop {
        let connect = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(WORK_CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let listener = tokio::select! {
            _ = stop.notified() => return,
            listener = connect => listener,
        };
        match listener {
            Ok(mut listener) => {
                pause = Duration::from_millis(100);
                waiters.notify_waiters();
                loop {
                    tokio::select! {
                        _ = stop.notified() => return,
                        received = listener.try_recv() => match received {
                            Ok(Some(_)) => waiters.notify_waiters(),
                            // The connection was lost and re-established (LISTEN included):
                            // whatever was sent in between is lost.
                            Ok(None) => waiters.notify_waiters(),
                            Err(error) => {
                                tracing::debug!(%error, "work listener lost its connection");
                                break;
                            }
                        },
                    }
                }
            }
            Err(error) => {
                tracing::debug!(%error, "work listener cannot connect");
            }
        }
        tokio::select! {
            _ = stop.notified() => return,
            _ = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(Duration::from_secs(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://alice:s3cret@db.example:5432/ct"),
            "postgres://alice:***@db.example:5432/ct"
        );
        assert_eq!(
            redact_url("postgresql://alice@db/ct?sslmode=require&password=s3cret"),
            "postgresql://alice@db/ct?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("postgres://db.example/ct"),
            "postgres://db.example/ct"
        );
        // An '@' in the password (percent-encoding forgotten) still hides all of it.
        assert_eq!(
            redact_url("postgres://u:p@ss@host/db"),
            "postgres://u:***@host/db"
        );
    }

    #[test]
    fn keep_last_keeps_first_position_and_last_value() {
        let items = [(1, "a"), (2, "b"), (1, "c"), (3, "d"), (2, "e")];
        let (kept, folded) = keep_last(&items, |i| i.0);
        assert_eq!(kept, vec![&(1, "c"), &(2, "e"), &(3, "d")]);
        assert_eq!(folded, 2);
    }
}

// Declared after the shared helpers and macros above, which it uses.
mod data_import;
