//! The behaviour suite on temporary SQLite files, plus what only the SQLite driver has: file
//! locations and several processes (stores) on one file.

mod suite;

use coursetasks_store::*;
use std::time::{Duration, Instant};

async fn fresh() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = Store::open(path.to_str().unwrap()).await.unwrap();
    assert_eq!(store.backend_name(), "sqlite");
    (dir, store)
}

macro_rules! sqlite_suite {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (_dir, store) = fresh().await;
                suite::$name(&store).await;
            }
        )*
    };
}

for_each_suite_test!(sqlite_suite);

#[tokio::test]
async fn reopen_keeps_data_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reopen.db");
    let location = path.to_str().unwrap().to_string();
    let id = {
        let store = Store::open(&location).await.unwrap();
        store.submit_task(&suite::new_task("k")).await.unwrap().id
    };
    // Re-open by URL; migrations are already applied and must be a no-op.
    for loc in [
        format!("sqlite://{location}"),
        format!("sqlite:{location}"),
        location.clone(),
    ] {
        let store = Store::open(&loc).await.unwrap();
        assert_eq!(store.get_task(id).await.unwrap().unwrap().task_key, "k");
    }
}

#[tokio::test]
async fn in_memory_store_works() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    suite::dedup_refuses_identical_active_task(&store).await;
}

#[tokio::test]
async fn bad_locations_say_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/x.db");
    let err = Store::open(missing.to_str().unwrap()).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::BadLocation { .. }), "{text}");
    assert!(
        text.contains("does not exist") && text.contains("no/such/dir"),
        "{text}"
    );

    let err = Store::open(dir.path().to_str().unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("is a directory"), "{err}");

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![b'x'; 8192]).unwrap();
    let err = Store::open(junk.to_str().unwrap()).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::BadLocation { .. }), "{text}");
    assert!(
        text.contains("not a SQLite database") && text.contains("junk.db"),
        "{text}"
    );

    let file = dir.path().join("plain");
    std::fs::write(&file, b"").unwrap();
    let under_file = file.join("x.db");
    let err = Store::open(under_file.to_str().unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not a directory"), "{err}");

    assert!(
        Store::open("")
            .await
            .unwrap_err()
            .to_string()
            .contains("no location")
    );
    // A postgres URL goes to the PostgreSQL driver: nothing listens on port 1, so it is
    // refused at once, and the error names the server without the password.
    let err = Store::open("postgres://ct:hunter2@127.0.0.1:1/test")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::BadLocation { .. }), "{text}");
    assert!(
        text.contains("postgres://ct:***@127.0.0.1:1/test")
            && text.contains("PostgreSQL server at 127.0.0.1:1")
            && text.contains("refused"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}

/// Two stores on one file behave like two processes (each has its own connection pool).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let location = path.to_str().unwrap().to_string();
    let (a, b) = tokio::join!(Store::open(&location), Store::open(&location));
    let (a, b) = (a.unwrap(), b.unwrap());

    // Concurrent identical submissions from both: exactly one wins.
    let mut handles = Vec::new();
    for i in 0..10 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        handles.push(tokio::spawn(async move {
            store.submit_task(&suite::new_task("same")).await
        }));
    }
    let mut wins = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => wins += 1,
            Err(SubmitError::AlreadyRunning { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(wins, 1);

    // Claims from both never overlap.
    for i in 0..20 {
        a.submit_task(&suite::new_task(&format!("t{i}")))
            .await
            .unwrap();
    }
    let claimers: Vec<_> = [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
        .map(|(n, store)| {
            tokio::spawn(async move {
                let planner = format!("p{n}");
                let mut got = Vec::new();
                while let Some(t) = store
                    .claim_task(&planner, Duration::from_secs(60))
                    .await
                    .unwrap()
                {
                    got.push((t.id, planner.clone()));
                }
                got
            })
        })
        .collect();
    let mut planned = Vec::new();
    for c in claimers {
        planned.extend(c.await.unwrap());
    }
    let unique: std::collections::HashSet<_> = planned.iter().map(|(id, _)| id).collect();
    assert_eq!((planned.len(), unique.len()), (21, 21));

    // Each planner splits its task into 3 subtasks (through either store); subtask claims from
    // both stores never overlap either.
    for (i, (task, planner)) in planned.iter().enumerate() {
        let store = if i % 2 == 0 { &a } else { &b };
        let split = store
            .split_task(*task, planner, 30, &[10, 20])
            .await
            .unwrap();
        assert_eq!(split.subtasks, 3);
    }
    let claimers: Vec<_> = [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
        .map(|(n, store)| {
            tokio::spawn(async move {
                // A new name per claim: a worker that claims again gets its own subtask back.
                let mut got = Vec::new();
                for k in 0.. {
                    let worker = format!("s{n}.{k}");
                    match store
                        .claim_subtask(&worker, Duration::from_secs(60), None)
                        .await
                        .unwrap()
                    {
                        Some(claim) => got.push((claim.subtask.task_id, claim.subtask.index)),
                        None => break,
                    }
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for c in claimers {
        all.extend(c.await.unwrap());
    }
    let unique: std::collections::HashSet<_> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (63, 63));
}

/// Spawns a task that waits for work (up to 10 s) and returns how long it waited.
fn waiter(store: &Store) -> tokio::task::JoinHandle<Duration> {
    let store = store.clone();
    tokio::spawn(async move {
        let started = Instant::now();
        store.wait_for_work(Duration::from_secs(10)).await.unwrap();
        started.elapsed()
    })
}

/// Whether the waiter returned within 50 ms.
async fn woke(waiter: &mut tokio::task::JoinHandle<Duration>) -> bool {
    match tokio::time::timeout(Duration::from_millis(50), waiter).await {
        Ok(waited) => {
            assert!(waited.unwrap() < Duration::from_secs(5));
            true
        }
        Err(_) => false,
    }
}

/// A waiter of the same process is woken by a submit, a split and a cancel, well before its
/// timeout. Each action is repeated until the waiter returns (at most a few times), because a
/// wake-up only reaches a waiter that is already waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_work_is_woken_in_process() {
    let (_dir, store) = fresh().await;
    let started = Instant::now();
    let mut w = waiter(&store);
    let mut n = 0;
    loop {
        store
            .submit_task(&suite::new_task(&format!("wake{n}")))
            .await
            .unwrap();
        n += 1;
        if woke(&mut w).await {
            break;
        }
        assert!(n < 20, "not woken by {n} submits");
    }
    assert!(started.elapsed() < Duration::from_secs(5));

    // Split: tasks claimed for planning before the waiter starts are split one by one.
    let mut planned = Vec::new();
    for k in 0..20 {
        store
            .submit_task(&suite::new_task(&format!("split{k}")))
            .await
            .unwrap();
    }
    while let Some(task) = store
        .claim_task("planner", Duration::from_secs(60))
        .await
        .unwrap()
    {
        planned.push(task.id);
    }
    let mut w = waiter(&store);
    let mut n = 0;
    loop {
        store
            .split_task(planned[n], "planner", 0, &[])
            .await
            .unwrap();
        n += 1;
        if woke(&mut w).await {
            break;
        }
        assert!(n < 20, "not woken by {n} splits");
    }

    // Cancel of a running task (the first split one, whose subtask is taken so that the task
    // keeps running), asked again until the waiter wakes.
    let running = store.get_task(planned[0]).await.unwrap().unwrap();
    assert_eq!((running.state, running.subtasks), (TaskState::Running, 1));
    store
        .claim_subtask("runner", Duration::from_secs(60), Some(running.id))
        .await
        .unwrap()
        .unwrap();
    let mut w = waiter(&store);
    let mut n = 0;
    loop {
        assert!(matches!(
            store.request_cancel(running.id).await.unwrap(),
            CancelOutcome::Requested(_)
        ));
        n += 1;
        if woke(&mut w).await {
            break;
        }
        assert!(n < 20, "not woken by {n} cancels");
    }
}

/// Committed pages reach the database file without waiting for the WAL to fill up: the
/// store's checkpointer copies them back beside the writers. The writers' own automatic
/// checkpoint starts only at 10,000 pages, far above this test's writes, so without the
/// checkpointer the main file would stay at its size after the migrations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpointer_copies_commits_into_the_database_file() {
    let (dir, store) = fresh().await;
    let path = dir.path().join("store.db");
    let file_size = || std::fs::metadata(&path).unwrap().len();
    // Whatever the migrations left in the WAL is copied first.
    let settled = wait_until(|| std::fs::metadata(dir.path().join("store.db-wal")).is_ok());
    assert!(settled, "the database runs in WAL mode");
    std::thread::sleep(Duration::from_millis(300));
    let before = file_size();

    suite::seed(&store, 2_000).await;
    let grown = wait_until(|| file_size() > before + 16_384 * 20);
    assert!(
        grown,
        "the database file stayed at {} bytes (was {before}) with {} bytes of WAL",
        file_size(),
        std::fs::metadata(dir.path().join("store.db-wal"))
            .unwrap()
            .len()
    );
    drop(store);
}

/// Polls `condition` for up to ten seconds.
fn wait_until(condition: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A database written before migration 0005 (events with AUTOINCREMENT, outcomes with a
/// unique (task, module) index) keeps its events and outcomes, ids included, when a newer store
/// opens it; event ids keep growing after it, so an export cursor stays valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_0005_keeps_events_and_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let location = path.to_str().unwrap().to_owned();

    // The schema as of migration 0004, from the migration files themselves.
    let old_migrations = dir.path().join("migrations");
    std::fs::create_dir(&old_migrations).unwrap();
    let sources = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for entry in std::fs::read_dir(&sources).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name.as_str() < "0005" {
            std::fs::copy(entry.path(), old_migrations.join(&name)).unwrap();
        }
    }
    let task = uuid::Uuid::new_v4();
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        sqlx::migrate::Migrator::new(old_migrations.as_path())
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        let at = "2026-11-20T10:00:00.000000Z";
        sqlx::query(
            "INSERT INTO tasks (seq, id, course_key, task_type, task_key, input, requester, state, \
                                created_at, updated_at, total, attempted, succeeded, failed) \
             VALUES (7, ?1, 'course-v1:O+C+R', 'rescore_problem', 'k', '{}', 'staff', 'SUCCESS', \
                     ?2, ?2, 2, 2, 1, 1)",
        )
        .bind(task.hyphenated().to_string())
        .bind(at)
        .execute(&pool)
        .await
        .unwrap();
        for (module, status, reason) in [(11, "succeeded", None), (12, "failed", Some("bad"))] {
            sqlx::query(
                "INSERT INTO task_outcomes (task_seq, module_id, learner_id, username, usage_key, \
                                            status, reason, old_grade, new_grade, created) \
                 VALUES (7, ?1, ?1, 'ann', 'block-v1:O+C+R+type@problem+block@p', ?2, ?3, 0, 1, ?4)",
            )
            .bind(module)
            .bind(status)
            .bind(reason)
            .bind(at)
            .execute(&pool)
            .await
            .unwrap();
        }
        for n in 1..=3 {
            sqlx::query(
                "INSERT INTO tracking_events (task_id, task_seq, event_type, time, username, \
                                              user_id, course_key, usage_key, requester, payload) \
                 VALUES (?1, 7, 'problem_rescore', ?2, 'ann', 11, 'course-v1:O+C+R', NULL, \
                         'staff', ?3)",
            )
            .bind(task.hyphenated().to_string())
            .bind(at)
            .bind(format!("{{\"n\": {n}}}"))
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
    }

    let store = Store::open(&location).await.unwrap();
    let kept = event_ids_and_payloads(&store, 0, 10).await;
    assert_eq!(
        kept,
        vec![
            (1, serde_json::json!({"n": 1})),
            (2, serde_json::json!({"n": 2})),
            (3, serde_json::json!({"n": 3}))
        ]
    );
    let outcomes = store.list_outcomes(task, None, 0, 10).await.unwrap();
    let kept: Vec<(Option<i64>, OutcomeStatus, Option<String>)> = outcomes
        .into_iter()
        .map(|o| (o.module_id, o.status, o.reason))
        .collect();
    assert_eq!(
        kept,
        vec![
            (Some(11), OutcomeStatus::Succeeded, None),
            (Some(12), OutcomeStatus::Failed, Some("bad".to_owned()))
        ]
    );
    assert_eq!(
        store
            .count_outcomes(task, Some(OutcomeStatus::Failed))
            .await
            .unwrap(),
        1
    );

    store
        .insert_events(&[NewEvent {
            task_id: None,
            event_type: "problem_reset_attempts".to_owned(),
            time: chrono::Utc::now(),
            username: "ann".to_owned(),
            user_id: 11,
            course_key: "course-v1:O+C+R".to_owned(),
            usage_key: None,
            requester: "staff".to_owned(),
            payload: "{}".to_owned(),
        }])
        .await
        .unwrap();
    let after = event_ids_and_payloads(&store, 3, 10).await;
    let ids: Vec<i64> = after.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, vec![4], "a new event's id follows the kept ones");
}

/// The ids and payloads of the events after `after_id`, at most `limit`, in id order.
async fn event_ids_and_payloads(
    store: &Store,
    after_id: i64,
    limit: u32,
) -> Vec<(i64, serde_json::Value)> {
    let events = store
        .list_events(&EventFilter {
            after_id,
            limit,
            ..Default::default()
        })
        .await
        .unwrap();
    events.into_iter().map(|e| (e.id, e.payload)).collect()
}

fn packable_event(n: usize) -> NewEvent {
    NewEvent {
        task_id: None,
        event_type: "problem_rescore".to_owned(),
        time: chrono::Utc::now(),
        username: format!("learner{n}"),
        user_id: n as i64,
        course_key: "course-v1:O+C+R".to_owned(),
        usage_key: None,
        requester: "staff".to_owned(),
        payload: serde_json::json!({
            "state": {"attempts": 2, "student_answers": {"p_2_1": format!("{}", n * 7)},
                      "correct_map": {"p_2_1": {"correctness": "correct", "npoints": null,
                                                "msg": "", "hint": "", "hintmode": null}}},
            "problem_id": "block-v1:O+C+R+type@problem+block@p",
            "orig_score": n % 2, "orig_total": 1, "new_score": 1, "new_total": 1,
            "student": format!("learner{n}"),
        })
        .to_string(),
    }
}

async fn raw_pool(dir: &tempfile::TempDir) -> sqlx::SqlitePool {
    let path = dir.path().join("store.db");
    sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap()
}

/// Events are stored as packed batches (migration 0007), one row per `insert_events` call, not
/// a row each; a damaged batch is reported as a corrupt row that names the batch, never read as
/// something else.
#[tokio::test]
async fn events_are_stored_in_packed_batches_and_damage_is_reported() {
    let (dir, store) = fresh().await;
    let batch: Vec<NewEvent> = (1..=10).map(packable_event).collect();
    assert_eq!(store.insert_events(&batch).await.unwrap(), 10);
    assert_eq!(store.insert_events(&[packable_event(11)]).await.unwrap(), 1);

    let raw = raw_pool(&dir).await;
    let stored: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT first_id, count, length(records) FROM event_batches ORDER BY first_id",
    )
    .fetch_all(&raw)
    .await
    .unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM tracking_events")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(rows, 0, "no event is stored as a row of its own");
    let text: i64 = batch.iter().map(|e| e.payload.len() as i64).sum();
    assert_eq!((stored[0].0, stored[0].1), (1, 10));
    assert!(
        stored[0].2 * 3 < text,
        "{} bytes for {text} of payloads",
        stored[0].2
    );
    assert_eq!((stored[1].0, stored[1].1), (11, 1));

    let read = suite::event_payloads(&store).await.unwrap();
    let written: Vec<serde_json::Value> = (1..=11)
        .map(|n| serde_json::from_str(&packable_event(n).payload).unwrap())
        .collect();
    assert_eq!(read, written);

    sqlx::query("UPDATE event_batches SET records = substr(records, 1, 12) WHERE first_id = 1")
        .execute(&raw)
        .await
        .unwrap();
    let damaged = suite::event_payloads(&store).await.unwrap_err().to_string();
    assert!(
        damaged.contains("stored data is corrupt: event batch 1:"),
        "{damaged}"
    );
}

/// Event rows that a file written between migrations 0006 and 0007 holds (payloads packed one by
/// one against a dictionary row) still read; damage to one, or a lost dictionary, is an error
/// naming the event; and new events take ids after theirs.
#[tokio::test]
async fn event_rows_packed_by_the_previous_version_still_read() {
    let (dir, store) = fresh().await;
    let raw = raw_pool(&dir).await;
    let dictionary = packable_event(1).payload;
    sqlx::query("INSERT INTO event_dictionaries (id, content) VALUES (1, ?1)")
        .bind(&dictionary)
        .execute(&raw)
        .await
        .unwrap();
    for n in 1..=3 {
        let payload = packable_event(n).payload;
        let mut packed = (payload.len() as u32).to_le_bytes().to_vec();
        packed.extend(lz4_flex::block::compress_with_dict(
            payload.as_bytes(),
            dictionary.as_bytes(),
        ));
        sqlx::query(
            "INSERT INTO tracking_events (id, task_id, task_seq, event_type, time, username, \
                                          user_id, course_key, usage_key, requester, payload, \
                                          payload_dictionary) \
             VALUES (?1, NULL, NULL, 'problem_rescore', '2026-11-27T10:00:00.000000Z', 'ann', 1, \
                     'course-v1:O+C+R', NULL, 'staff', ?2, 1)",
        )
        .bind(n as i64)
        .bind(packed)
        .execute(&raw)
        .await
        .unwrap();
    }
    store.insert_events(&[packable_event(4)]).await.unwrap();
    let read = event_ids_and_payloads(&store, 0, 10).await;
    let written: Vec<(i64, serde_json::Value)> = (1..=4)
        .map(|n| {
            (
                n as i64,
                serde_json::from_str(&packable_event(n).payload).unwrap(),
            )
        })
        .collect();
    assert_eq!(read, written);
    // A page that ends inside the old rows continues into the batches.
    let page = event_ids_and_payloads(&store, 2, 2).await;
    assert_eq!(
        page.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        vec![3, 4]
    );

    sqlx::query("UPDATE tracking_events SET payload = substr(payload, 1, 12) WHERE id = 3")
        .execute(&raw)
        .await
        .unwrap();
    let damaged = suite::event_payloads(&store).await.unwrap_err().to_string();
    assert!(damaged.contains("event 3: column payload"), "{damaged}");
    sqlx::query("DELETE FROM tracking_events WHERE id = 3")
        .execute(&raw)
        .await
        .unwrap();
    sqlx::query("DELETE FROM event_dictionaries")
        .execute(&raw)
        .await
        .unwrap();
    let lost = suite::event_payloads(&store).await.unwrap_err().to_string();
    assert!(
        lost.contains("event 1: the payload's dictionary 1 is missing"),
        "{lost}"
    );
}

/// The SQLite this workspace builds (`LIBSQLITE3_FLAGS` in `.cargo/config.toml`): each
/// connection keeps its own page cache and SQLite counts no memory statistics. With the
/// shared page cache and the counters, every page fetched and every allocation of every
/// connection took one process-wide mutex, and a delete worker's writer, reader and
/// checkpointer queued on it.
#[test]
fn sqlite_is_built_without_process_wide_cache_and_memory_locks() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let mut statement = conn.prepare("PRAGMA compile_options").unwrap();
    let options: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "{options:?}"
    );
    assert!(
        options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
        "{options:?}"
    );
}
