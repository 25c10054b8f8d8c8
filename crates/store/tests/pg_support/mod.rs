//! Throw-away PostgreSQL databases for tests: `mod pg_support;` in a test file, then
//! [`TestDb::create`] (or [`fresh_store`]) at the start of each test.
//!
//! The server comes from `COURSETASKS_TEST_POSTGRES_URL` (any database on it that the user can
//! connect to; it is only used to create and drop the test databases). Without the variable a
//! test prints a skip notice and passes, unless `COURSETASKS_REQUIRE_POSTGRES=1` (CI), where it
//! fails. A URL that is set but unusable always fails: someone asked for PostgreSQL.
//!
//! Each test gets its own database `ct_<unix seconds>_<random>`, dropped (`WITH (FORCE)`, so
//! open pools do not block it) when the [`TestDb`] is dropped, also when the test panics. A
//! crashed run can still leave databases behind: each run first drops those whose name says
//! they are more than an hour old.

#![allow(dead_code)]

use coursetasks_store::Store;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The server to test against.
pub const URL_VAR: &str = "COURSETASKS_TEST_POSTGRES_URL";
/// `1`: a missing or unusable server fails the test instead of skipping it.
pub const REQUIRE_VAR: &str = "COURSETASKS_REQUIRE_POSTGRES";

/// Prefix of the databases this module creates (and may drop).
const PREFIX: &str = "ct_";
/// Age after which a leftover test database is dropped.
const STALE_AFTER: Duration = Duration::from_secs(3600);

static SWEPT: AtomicBool = AtomicBool::new(false);

/// A database created for one test and dropped with this value.
#[derive(Debug)]
pub struct TestDb {
    /// URL of the created database (give it to `Store::open`).
    pub url: String,
    /// Its name.
    pub name: String,
    admin_url: String,
}

/// `url` with its database (the path) replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    coursetasks_store::url_with_database(url, database)
}

fn required() -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1")
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Creation time encoded in a test database's name, if it is one of ours.
fn created_secs(name: &str) -> Option<u64> {
    let rest = name.strip_prefix(PREFIX)?;
    let (secs, random) = rest.split_once('_')?;
    if random.is_empty() || !random.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    secs.parse().ok()
}

async fn admin_connection(url: &str) -> PgConnection {
    match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(url)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => panic!(
            "{URL_VAR} is set but the PostgreSQL server cannot be used: {e} \
             (unset the variable to skip PostgreSQL tests)"
        ),
        Err(_) => panic!("{URL_VAR} is set but connecting to the server timed out after 10 s"),
    }
}

/// Drops test databases whose name says they are more than an hour old (left by crashed runs).
async fn sweep(conn: &mut PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'ct\\_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    let cutoff = now_secs().saturating_sub(STALE_AFTER.as_secs());
    for name in names {
        if created_secs(&name).is_some_and(|t| t < cutoff) {
            // Another run may be dropping the same one; either way it is gone.
            let _ = sqlx::query(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
            )))
            .execute(&mut *conn)
            .await;
        }
    }
}

impl TestDb {
    /// Creates a fresh, empty database, or returns `None` after printing a skip notice when no
    /// server is configured (and none is required). Panics with the reason when one is
    /// required or configured but cannot be used.
    pub async fn create() -> Option<TestDb> {
        let Ok(admin_url) = std::env::var(URL_VAR) else {
            if required() {
                panic!("{REQUIRE_VAR}=1 but {URL_VAR} is not set: no PostgreSQL server to test");
            }
            eprintln!("skipping: {URL_VAR} is not set");
            return None;
        };
        let mut conn = admin_connection(&admin_url).await;
        if !SWEPT.swap(true, Ordering::SeqCst) {
            sweep(&mut conn).await;
        }
        let name = format!(
            "{PREFIX}{}_{}",
            now_secs(),
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let _ = conn.close().await;
        Some(TestDb {
            url: with_database(&admin_url, &name),
            name,
            admin_url,
        })
    }

    /// Opens a [`Store`] on this database (each call is a separate pool, like a separate
    /// process).
    pub async fn open(&self) -> Store {
        let store = Store::open(&self.url)
            .await
            .unwrap_or_else(|e| panic!("opening the test database: {e}"));
        assert_eq!(store.backend_name(), "postgres");
        store
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs outside async code (and during a panic), so the database is dropped from a
        // thread with its own small runtime; FORCE ends the connections pools still hold.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropper = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

/// A fresh database and a store opened on it, or `None` (test skipped, notice printed).
pub async fn fresh_store() -> Option<(TestDb, Store)> {
    let db = TestDb::create().await?;
    let store = db.open().await;
    Some((db, store))
}

#[test]
fn test_database_names_and_urls() {
    assert_eq!(
        created_secs("ct_1764158400_0123456789ab"),
        Some(1_764_158_400)
    );
    assert_eq!(created_secs("ct_prod"), None);
    assert_eq!(created_secs("ct_12_"), None);
    assert_eq!(created_secs("coursetasks"), None);
    assert_eq!(
        with_database("postgres://u@h:5432/test", "ct_1_a"),
        "postgres://u@h:5432/ct_1_a"
    );
    assert_eq!(
        with_database("postgres://u@h/test?sslmode=disable", "x"),
        "postgres://u@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    assert_eq!(with_database("postgres://h?a=b", "x"), "postgres://h/x?a=b");
}
