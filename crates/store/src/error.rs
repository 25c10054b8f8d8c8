//! Error types of the store.

use crate::model::{TaskRecord, TaskState};
use uuid::Uuid;

/// Everything that can go wrong in the store.
///
/// Database errors keep the operation they happened in (`context`) so that a message such as
/// "commit_chunk: database is locked" tells the operator where it failed, not just what.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The location given to [`crate::Store::open`] cannot be used.
    #[error("cannot open store at {location}: {reason}")]
    BadLocation {
        /// The location as given by the caller.
        location: String,
        /// What is wrong with it, in words an operator can act on.
        reason: String,
    },
    /// A record that the operation needs does not exist.
    #[error("{what} not found: {key}")]
    NotFound {
        /// Kind of record ("task", "learner", "block", ...).
        what: &'static str,
        /// The key that was looked up.
        key: String,
    },
    /// The caller no longer holds the lease of the task (another worker reclaimed it, it was
    /// force-failed, or it finished). Nothing was written.
    #[error("lease on task {task_id} is no longer held by worker {worker}")]
    LeaseLost {
        /// The task.
        task_id: Uuid,
        /// The worker that tried to write.
        worker: String,
    },
    /// The task is already in a final state and cannot be changed by this operation.
    #[error("task {task_id} has already finished ({state})")]
    TaskFinished {
        /// The task.
        task_id: Uuid,
        /// Its final state.
        state: TaskState,
    },
    /// A write would break a uniqueness or reference rule (for example a username that belongs
    /// to another learner id, or a module of an unknown learner).
    #[error("{context}: {message}")]
    Conflict {
        /// The operation.
        context: &'static str,
        /// What conflicted.
        message: String,
    },
    /// Input that the store cannot represent (e.g. a value that is not valid JSON).
    #[error("{context}: invalid input: {message}")]
    Invalid {
        /// The operation.
        context: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A stored value could not be decoded (corrupt or hand-edited row).
    #[error("{context}: stored data is corrupt: {message}")]
    Corrupt {
        /// The operation.
        context: &'static str,
        /// What could not be decoded.
        message: String,
    },
    /// Applying schema migrations failed.
    #[error("migrating the schema of {location} failed: {source}")]
    Migration {
        /// The store location.
        location: String,
        /// The underlying error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// Any other database error.
    #[error("{context}: {source}")]
    Database {
        /// The operation.
        context: &'static str,
        /// The underlying error.
        #[source]
        source: sqlx::Error,
    },
    /// A bulk write run through SQLite's own API failed (see the SQLite driver's `direct`
    /// module); the same kinds of failure as [`StoreError::Database`].
    #[error("{context}: {source}")]
    Sqlite {
        /// What the store was doing.
        context: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// Wraps a database error with the name of the operation it happened in. Constraint
    /// violations become [`StoreError::Conflict`] so callers can tell bad input from outages.
    pub(crate) fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| {
            if let sqlx::Error::Database(db) = &source {
                use sqlx::error::ErrorKind;
                match db.kind() {
                    ErrorKind::UniqueViolation
                    | ErrorKind::ForeignKeyViolation
                    | ErrorKind::NotNullViolation
                    | ErrorKind::CheckViolation => {
                        return StoreError::Conflict {
                            context,
                            message: db.message().to_string(),
                        };
                    }
                    _ => {}
                }
            }
            StoreError::Database { context, source }
        }
    }

    /// `true` for failures that say nothing about the request and may pass if it is retried
    /// after a pause: lost or refused connections, an exhausted pool, a database that is
    /// restarting, serialization failures and deadlocks (PostgreSQL), a busy or locked file
    /// (SQLite). Workers back off and retry these instead of stopping.
    pub fn is_transient(&self) -> bool {
        if let StoreError::Sqlite { source, .. } = self {
            return matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            );
        }
        let StoreError::Database { source, .. } = self else {
            return false;
        };
        match source {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                if db
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .is_some()
                {
                    // SQLSTATE: class 08 connection exception, 40001 serialization failure,
                    // 40P01 deadlock, 57P01..57P03 shutdown / cannot connect now, 53300 too many
                    // connections, 55P03 lock not available, 57014 statement timeout.
                    code.starts_with("08")
                        || matches!(
                            code.as_ref(),
                            "40001"
                                | "40P01"
                                | "57P01"
                                | "57P02"
                                | "57P03"
                                | "53300"
                                | "55P03"
                                | "57014"
                        )
                } else {
                    // SQLite (extended) result codes: the low byte 5 is BUSY, 6 is LOCKED.
                    code.parse::<u32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
                }
            }
            _ => false,
        }
    }

    /// Maps a failed direct SQLite call like [`StoreError::db`] maps sqlx's errors: a violated
    /// constraint is a conflict.
    pub(crate) fn sqlite(context: &'static str, source: rusqlite::Error) -> StoreError {
        if source.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) {
            return StoreError::Conflict {
                context,
                message: source.to_string(),
            };
        }
        StoreError::Sqlite { context, source }
    }

    pub(crate) fn corrupt(context: &'static str, message: impl ToString) -> StoreError {
        StoreError::Corrupt {
            context,
            message: message.to_string(),
        }
    }
}

/// Why a task submission was refused.
///
/// The refusal carries the whole blocking task by value (that is what callers show), which
/// makes this enum large; submissions are rare, so the size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// A task with the same (course, type, key) is queued or running. Open edX calls this
    /// `AlreadyRunningError`; here the refusal is guaranteed by a unique index, not a
    /// check-then-insert.
    #[error("Requested task is already running (task {})", existing.id)]
    AlreadyRunning {
        /// The queued or running task that blocks the submission.
        existing: TaskRecord,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
