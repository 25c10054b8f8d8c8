//! Storage for coursetasks: schema, migrations and one driver interface ([`Backend`]) with a
//! SQLite implementation ([`SqliteBackend`], one process, embedded) and a PostgreSQL one
//! ([`PostgresBackend`], many worker processes on many hosts), chosen by the location given to
//! [`Store::open`].
//!
//! The store keeps plain records: courses and their block trees, problem XML versions,
//! learners, learner modules (Open edX `courseware_studentmodule`), tasks with their progress
//! and lease, per-module task outcomes and tracking events. It knows nothing of grading, HTTP
//! or the command line.
//!
//! ```no_run
//! # async fn demo() -> Result<(), coursetasks_store::StoreError> {
//! let store = coursetasks_store::Store::open("coursetasks.db").await?;
//! let queued = store.list_tasks(&Default::default()).await?;
//! # Ok(()) }
//! ```

mod backend;
mod error;
mod model;
mod postgres;
mod split;
mod sqlite;

pub use backend::Backend;
pub use error::{StoreError, SubmitError};
pub use model::*;
pub use postgres::{PostgresBackend, redact_url, url_with_database};
pub use sqlite::SqliteBackend;

use std::ops::Deref;
use std::sync::Arc;

/// Handle to the store. Cheap to clone (an `Arc` inside), `Send + Sync`.
///
/// All operations are methods of [`Backend`], reached through `Deref`: `store.get_task(id)`.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend.backend_name())
            .finish()
    }
}

impl Store {
    /// Opens (and creates, for SQLite) the store at `location` and applies pending migrations.
    ///
    /// `location` is a filesystem path, a `sqlite:` URL (`sqlite:path`, `sqlite://path`,
    /// `sqlite::memory:`), or a `postgres://` / `postgresql://` URL. Errors name the location
    /// (with any password hidden) and what is wrong with it (missing or unwritable directory,
    /// not a database, server unreachable, database missing, authentication refused, created
    /// by a newer version, ...).
    pub async fn open(location: &str) -> Result<Store, StoreError> {
        let trimmed = location.trim();
        if trimmed.is_empty() {
            return Err(StoreError::BadLocation {
                location: location.to_string(),
                reason: "no location given".into(),
            });
        }
        if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
            let backend = PostgresBackend::open(trimmed).await?;
            return Ok(Store::from_backend(Arc::new(backend)));
        }
        let backend = SqliteBackend::open(trimmed).await?;
        Ok(Store::from_backend(Arc::new(backend)))
    }

    /// Wraps an already opened driver.
    pub fn from_backend(backend: Arc<dyn Backend>) -> Store {
        Store { backend }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        self.backend.backend_name()
    }
}

impl Deref for Store {
    type Target = dyn Backend;

    fn deref(&self) -> &Self::Target {
        &*self.backend
    }
}
