//! The WAL checkpointer: one thread per open file database that copies committed pages from
//! the write-ahead log back into the database file, beside the writers instead of inside them.
//!
//! Why: with SQLite's automatic checkpoint, the connection whose commit crosses the threshold
//! copies the WAL back and waits for the disk (`fsync`) before its commit returns, and the next
//! chunk of a task waits with it. A profile of a 300k-learner rescore put a sixth of the
//! worker's CPU in that copy. On a thread of its own, the copy runs on the other core while the
//! writers go on: a PASSIVE checkpoint takes no lock that a writer or a reader needs.
//!
//! The writers wake it after each write transaction (`nudge`); it checkpoints at most every
//! [`PAUSE`], so one checkpoint covers several commits. The connections' own automatic
//! checkpoint stays as a backstop at a larger size (see the driver's settings), for a
//! checkpointer that falls behind and for writes that are not transactions of this process.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The least time between two checkpoints while writes keep coming.
const PAUSE: Duration = Duration::from_millis(50);

/// After a failed checkpoint (say, the file was removed under us), the wait before the next
/// try, so that a persistent error is logged once a second rather than spun on.
const RETRY: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct Signal {
    /// Something was committed since the last checkpoint began.
    dirty: bool,
    /// The database is being closed: checkpoint what is left and end.
    stop: bool,
}

#[derive(Debug, Default)]
struct Shared {
    signal: Mutex<Signal>,
    wake: Condvar,
}

/// The handle kept by the store; dropping the last one ends the thread after a final
/// checkpoint.
#[derive(Debug)]
pub(super) struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on its own connection to `path`.
    pub(super) fn start(path: &Path) -> Result<Checkpointer, rusqlite::Error> {
        let connection = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let shared = Arc::new(Shared::default());
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".to_owned())
            .spawn({
                let shared = shared.clone();
                move || run(&connection, &shared)
            })
            .expect("the OS starts a thread");
        Ok(Checkpointer {
            shared,
            thread: Some(thread),
        })
    }

    /// Tells the thread that a write was committed.
    pub(super) fn nudge(&self) {
        let mut signal = self.shared.signal.lock().expect("checkpoint signal lock");
        if !signal.dirty {
            signal.dirty = true;
            self.shared.wake.notify_one();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.shared
            .signal
            .lock()
            .expect("checkpoint signal lock")
            .stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            // A checkpoint in progress finishes first (a few ms to a few hundred); the file is
            // then consistent and unlocked when the store's owner goes on, e.g. to remove it.
            let _ = thread.join();
        }
    }
}

fn run(connection: &rusqlite::Connection, shared: &Shared) {
    loop {
        let stop = {
            let guard = shared.signal.lock().expect("checkpoint signal lock");
            let mut signal = shared
                .wake
                .wait_while(guard, |s| !s.dirty && !s.stop)
                .expect("checkpoint signal lock");
            signal.dirty = false;
            signal.stop
        };
        let result = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        });
        if stop {
            return;
        }
        let pause = match result {
            // Frames a reader still needs stay in the log: try again after the pause.
            Ok((log_frames, copied)) if copied < log_frames => {
                shared.signal.lock().expect("checkpoint signal lock").dirty = true;
                PAUSE
            }
            Ok(_) => PAUSE,
            Err(error) => {
                tracing::warn!(%error, "background WAL checkpoint failed; the writers' own checkpoint takes over");
                RETRY
            }
        };
        // Sleep through the pause unless the store is closing.
        let guard = shared.signal.lock().expect("checkpoint signal lock");
        let _ = shared
            .wake
            .wait_timeout_while(guard, pause, |s| !s.stop)
            .expect("checkpoint signal lock");
    }
}
