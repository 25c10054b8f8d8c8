//! The behaviour suite on PostgreSQL, one fresh database per test, plus what only this driver
//! has: several processes (pools) on one database, the server clock, connection errors and
//! transient-error classification.
//!
//! Needs `COURSETASKS_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`);
//! without it every test prints a skip notice and passes, unless
//! `COURSETASKS_REQUIRE_POSTGRES=1`. See `pg_support`.

mod pg_support;
mod suite;

use chrono::{DateTime, Utc};
use coursetasks_store::*;
use pg_support::{TestDb, fresh_store};
use std::collections::HashSet;
use std::time::Duration;

macro_rules! postgres_suite {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some((_db, store)) = fresh_store().await else { return };
                suite::$name(&store).await;
            }
        )*
    };
}

for_each_suite_test!(postgres_suite);

/// Several stores (connection pools) on one database, as several worker processes would be.
async fn stores(db: &TestDb, n: usize) -> Vec<Store> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(db.open().await);
    }
    out
}

/// A second handle on the test database, for raw SQL next to the store.
async fn raw_handle(db: &TestDb) -> PostgresBackend {
    PostgresBackend::open(&db.url).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_from_several_pools_never_share_a_task() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let stores = stores(&db, 3).await;
    for i in 0..60 {
        stores[i % 3]
            .submit_task(&suite::new_task(&format!("t{i}")))
            .await
            .unwrap();
    }
    let claimers: Vec<_> = (0..9)
        .map(|n| {
            let store = stores[n % 3].clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(t) = store
                    .claim_task(&format!("worker-{n}"), Duration::from_secs(60))
                    .await
                    .unwrap()
                {
                    assert_eq!(
                        t.lease_owner.as_deref(),
                        Some(format!("worker-{n}").as_str())
                    );
                    got.push(t.id);
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for c in claimers {
        all.extend(c.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (60, 60));
    // Every task is RUNNING, claimed exactly once.
    let tasks = stores[0].list_tasks(&TaskFilter::default()).await.unwrap();
    assert!(
        tasks
            .iter()
            .all(|t| t.state == TaskState::Running && t.attempts == 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dedup_under_concurrent_submits_from_several_pools() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let stores = stores(&db, 4).await;
    for round in 0..5 {
        let task_key = format!("race{round}");
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let store = stores[i % 4].clone();
                let task = suite::new_task(&task_key);
                tokio::spawn(async move { store.submit_task(&task).await })
            })
            .collect();
        let mut won = Vec::new();
        let mut refused = Vec::new();
        for h in handles {
            match h.await.unwrap() {
                Ok(t) => won.push(t.id),
                Err(SubmitError::AlreadyRunning { existing }) => refused.push(existing.id),
                Err(e) => panic!("unexpected error {e}"),
            }
        }
        assert_eq!((won.len(), refused.len()), (1, 15));
        assert!(refused.iter().all(|id| *id == won[0]));
    }

    // Submissions racing with a worker that keeps finishing the blocking task: a refusal
    // always names a task that was active, nothing else fails, and there is never more than one
    // active task per key.
    let finisher = {
        let store = stores[0].clone();
        tokio::spawn(async move {
            let mut finished = 0;
            while finished < 15 {
                match store
                    .claim_task("finisher", Duration::from_secs(60))
                    .await
                    .unwrap()
                {
                    Some(t) => {
                        store
                            .finish_task(t.id, "finisher", FinalState::Success)
                            .await
                            .unwrap();
                        finished += 1;
                    }
                    None => tokio::task::yield_now().await,
                }
            }
        })
    };
    let submitters: Vec<_> = (1..4)
        .map(|i| {
            let store = stores[i].clone();
            tokio::spawn(async move {
                for _ in 0..40 {
                    match store.submit_task(&suite::new_task("churn")).await {
                        Ok(_) => {}
                        Err(SubmitError::AlreadyRunning { existing }) => {
                            assert!(!existing.state.is_ready(), "{existing:?}");
                        }
                        Err(e) => panic!("unexpected error {e}"),
                    }
                }
            })
        })
        .collect();
    for s in submitters {
        s.await.unwrap();
    }
    // Let the finisher drain what is left (it needs 15 finishes; submit until it has them).
    while !finisher.is_finished() {
        let _ = stores[1].submit_task(&suite::new_task("churn")).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    finisher.await.unwrap();
    let active = stores[0]
        .list_tasks(&TaskFilter {
            task_key: Some("churn".into()),
            states: vec![TaskState::Queued, TaskState::Running],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(active.len() <= 1, "{active:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_times_come_from_the_server_clock() {
    let Some((db, store)) = fresh_store().await else {
        return;
    };
    let raw = raw_handle(&db).await;
    let server_now = || async {
        sqlx::query_scalar::<_, DateTime<Utc>>("SELECT clock_timestamp()")
            .fetch_one(raw.pool())
            .await
            .unwrap()
    };
    store.submit_task(&suite::new_task("clock")).await.unwrap();
    let before = server_now().await;
    let task = store
        .claim_task("w", Duration::from_millis(90_500))
        .await
        .unwrap()
        .unwrap();
    let after = server_now().await;
    let started = task.started_at.unwrap();
    assert!(
        before <= started && started <= after,
        "{before} {started} {after}"
    );
    // Start and end of the lease come from one server timestamp: exactly the lease apart.
    assert_eq!(
        task.lease_expires_at.unwrap() - started,
        chrono::Duration::milliseconds(90_500)
    );
    assert_eq!(task.updated_at, started);

    // Renewal extends from the server's now by the given length.
    store
        .renew_lease(task.id, "w", Duration::from_secs(7))
        .await
        .unwrap();
    let renewed = store.get_task(task.id).await.unwrap().unwrap();
    assert_eq!(
        renewed.lease_expires_at.unwrap() - renewed.updated_at,
        chrono::Duration::seconds(7)
    );

    // Subtask leases: the claim, renewals and chunk commits (by the last length) likewise.
    let other = store.submit_task(&suite::new_task("clock2")).await.unwrap();
    let planned = store
        .claim_task("planner", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(planned.id, other.id);
    store.split_task(other.id, "planner", 0, &[]).await.unwrap();
    let claim = store
        .claim_subtask("w", Duration::from_millis(4_250), Some(other.id))
        .await
        .unwrap()
        .unwrap();
    let sub = claim.subtask;
    assert_eq!(
        sub.lease_expires_at.unwrap() - sub.started_at.unwrap(),
        chrono::Duration::milliseconds(4_250)
    );
    store
        .renew_subtask_lease(other.id, 0, "w", Duration::from_secs(9))
        .await
        .unwrap();
    let ack = store
        .commit_chunk(&ChunkCommit {
            task_id: other.id,
            subtask: 0,
            worker: "w".into(),
            expected_cursor: 0,
            new_cursor: 0,
            deltas: Counts::default(),
            module_updates: vec![],
            module_inserts: vec![],
            module_deletes: vec![],
            outcomes: vec![],
            events: vec![],
        })
        .await
        .unwrap();
    assert_eq!(ack.cursor, 0);
    let committed = &store.list_subtasks(other.id).await.unwrap()[0];
    assert!(committed.updated_at >= sub.updated_at);
    assert_eq!(
        committed.lease_expires_at.unwrap() - committed.updated_at,
        chrono::Duration::seconds(9)
    );

    // Expiry is judged by the server too: a lease that ended by the server's clock is
    // reclaimable whatever this process's clock says.
    sqlx::query("UPDATE tasks SET lease_expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(task.id)
        .execute(raw.pool())
        .await
        .unwrap();
    let rescued = store
        .claim_task("rescuer", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((rescued.id, rescued.attempts), (task.id, 2));
    sqlx::query(
        "UPDATE subtasks SET lease_expires_at = now() - interval '1 second' \
         WHERE task_seq = (SELECT seq FROM tasks WHERE id = $1)",
    )
    .bind(other.id)
    .execute(raw.pool())
    .await
    .unwrap();
    let rescued = store
        .claim_subtask("rescuer", Duration::from_secs(60), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (rescued.subtask.task_id, rescued.subtask.attempts),
        (other.id, 2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_processes_open_a_fresh_database_at_once() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    // Each open migrates; sqlx's advisory lock makes the others wait and then find the
    // schema in place.
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { Store::open(&url).await })
        })
        .collect();
    let mut opened = Vec::new();
    for o in opens {
        opened.push(o.await.unwrap().unwrap());
    }
    let t = opened[0].submit_task(&suite::new_task("x")).await.unwrap();
    assert_eq!(opened[5].get_task(t.id).await.unwrap().unwrap().id, t.id);
}

#[tokio::test]
async fn connection_errors_say_what_and_where_without_the_password() {
    // Nothing listens on port 1: refused at once.
    let err = Store::open("postgres://ct:hunter2@127.0.0.1:1/coursetasks")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::BadLocation { .. }), "{text}");
    assert!(
        text.contains("127.0.0.1:1") && text.contains("refused"),
        "{text}"
    );
    assert!(
        text.contains("postgres://ct:***@127.0.0.1:1/coursetasks"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");

    let err = Store::open("postgresql://ct@127.0.0.1:1/x?password=hunter2")
        .await
        .unwrap_err()
        .to_string();
    assert!(!err.contains("hunter2"), "{err}");

    let err = Store::open("postgres://ct@127.0.0.1:5432/x?sslmode=bogus")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a usable PostgreSQL URL"), "{err}");

    // A missing database, on a real server.
    let Some(db) = TestDb::create().await else {
        return;
    };
    let missing = pg_support::with_database(&db.url, "ct_no_such_database");
    let err = Store::open(&missing).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::BadLocation { .. }), "{text}");
    assert!(
        text.contains("database \"ct_no_such_database\" does not exist"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_errors_are_recognised() {
    let Some((db, store)) = fresh_store().await else {
        return;
    };
    let raw = raw_handle(&db).await;

    // A connection the server ends (an administrator, a failover): 57P01 or a closed socket.
    let mut victim = raw.pool().acquire().await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *victim)
        .await
        .unwrap();
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(raw.pool())
        .await
        .unwrap();
    let source = sqlx::query("SELECT 1")
        .execute(&mut *victim)
        .await
        .unwrap_err();
    let err = StoreError::Database {
        context: "test",
        source,
    };
    assert!(err.is_transient(), "{err:?}");

    // A deadlock between two transactions: one of them gets 40P01.
    sqlx::query("CREATE TABLE pair (id int PRIMARY KEY, n int)")
        .execute(raw.pool())
        .await
        .unwrap();
    sqlx::query("INSERT INTO pair VALUES (1, 0), (2, 0)")
        .execute(raw.pool())
        .await
        .unwrap();
    let mut a = raw.pool().begin().await.unwrap();
    let mut b = raw.pool().begin().await.unwrap();
    sqlx::query("UPDATE pair SET n = n + 1 WHERE id = 1")
        .execute(&mut *a)
        .await
        .unwrap();
    sqlx::query("UPDATE pair SET n = n + 1 WHERE id = 2")
        .execute(&mut *b)
        .await
        .unwrap();
    let (ra, rb) = tokio::join!(
        sqlx::query("UPDATE pair SET n = n + 1 WHERE id = 2").execute(&mut *a),
        sqlx::query("UPDATE pair SET n = n + 1 WHERE id = 1").execute(&mut *b),
    );
    let source = ra
        .err()
        .or(rb.err())
        .expect("one side is chosen as the deadlock victim");
    let err = StoreError::Database {
        context: "test",
        source,
    };
    assert!(err.is_transient(), "{err:?}");
    drop((a, b));

    // Input and data errors are not transient.
    let t = suite::new_task("k2");
    store.submit_task(&t).await.unwrap();
    let dup = NewTask {
        task_key: "k3".into(),
        ..t
    };
    match store.submit_task(&dup).await {
        Err(SubmitError::Store(e @ StoreError::Conflict { .. })) => {
            assert!(!e.is_transient())
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let lost = store
        .finish_task(uuid::Uuid::new_v4(), "w", FinalState::Success)
        .await
        .unwrap_err();
    assert!(!lost.is_transient());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_is_kept_byte_for_byte() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    suite::seed(&store, 1).await;
    let odd_states = [
        "not json {",
        "{\"b\": 1,   \"a\": [1.50, 2e3]}",
        "{\"emoji\": \"\u{1F600}\", \"tab\": \"\t\", \"quote\": \"\\\"\"}",
        "",
    ];
    let p = suite::key("problem", "p1");
    let mut module = store
        .get_module(1001, suite::COURSE, &p)
        .await
        .unwrap()
        .unwrap();
    for state in odd_states {
        module.state = Some(state.to_string());
        store
            .upsert_modules(std::slice::from_ref(&module))
            .await
            .unwrap();
        let got = store
            .get_module(1001, suite::COURSE, &p)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.state.as_deref(), Some(state));
    }
    // Block settings keep their key order (TEXT, not jsonb).
    let mut block = store.get_block(&p).await.unwrap().unwrap();
    block.settings =
        serde_json::from_str(r#"{"zeta": 1, "alpha": 2, "mid": {"y": 1, "x": 2}}"#).unwrap();
    store
        .upsert_blocks(std::slice::from_ref(&block))
        .await
        .unwrap();
    let got = store.get_block(&p).await.unwrap().unwrap();
    assert_eq!(
        got.settings.to_string(),
        r#"{"zeta":1,"alpha":2,"mid":{"y":1,"x":2}}"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_ids_push_later_ids_above_them() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    suite::seed(&store, 2).await;
    let mut module = store
        .get_module(1001, suite::COURSE, &suite::key("problem", "p1"))
        .await
        .unwrap()
        .unwrap();
    module.id = 7_000_000;
    module.usage_key = suite::key("problem", "p3");
    let report = store.import_modules(&[module]).await.unwrap();
    assert_eq!((report.written, report.rejected.len()), (1, 0));
    store
        .insert_modules(&[NewModule {
            learner_id: 1002,
            course_key: suite::COURSE.into(),
            usage_key: suite::key("problem", "p3"),
            module_type: "problem".into(),
            state: None,
            grade: None,
            max_grade: None,
        }])
        .await
        .unwrap();
    let later = store
        .get_module(1002, suite::COURSE, &suite::key("problem", "p3"))
        .await
        .unwrap()
        .unwrap();
    assert!(later.id > 7_000_000, "{}", later.id);

    // Duplicates within one import are applied in order, the last one winning.
    let mut first = later.clone();
    first.id = 0;
    first.state = Some("first".into());
    let mut second = first.clone();
    second.state = Some("second".into());
    let report = store.import_modules(&[first, second]).await.unwrap();
    assert_eq!((report.written, report.rejected.len()), (2, 0));
    let got = store
        .get_module(1002, suite::COURSE, &suite::key("problem", "p3"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((got.id, got.state.as_deref()), (later.id, Some("second")));
}

/// Throughput of the hot path, for measurements rather than checks (`cargo test --release -p
/// coursetasks-store --test postgres -- --ignored --nocapture throughput`): bulk module
/// inserts, then a rescore-like task over every module in chunks of 1,000 (page fetch, then one
/// commit with module updates, outcomes and 1.5 KB events). `CT_BENCH_MODULES` sets the size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn throughput() {
    use std::time::Instant;
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    let n: i64 = std::env::var("CT_BENCH_MODULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    suite::seed(&store, 0).await;
    let learners: Vec<LearnerRecord> = (1..=n)
        .map(|i| LearnerRecord {
            id: i,
            username: format!("bench{i}"),
            email: format!("bench{i}@example.com"),
        })
        .collect();
    let started = Instant::now();
    for batch in learners.chunks(10_000) {
        store.upsert_learners(batch).await.unwrap();
    }
    let learner_rate = n as f64 / started.elapsed().as_secs_f64();
    let p1 = suite::key("problem", "p1");
    let state = |i: i64| {
        format!(
            r#"{{"correct_map": {{"{p1}_2_1": {{"correctness": "incorrect", "npoints": null, "msg": "", "hint": "", "hintmode": null, "queuestate": null}}}}, "input_state": {{"{p1}_2_1": {{}}}}, "last_submission_time": "2026-03-0{}T12:00:00Z", "attempts": 1, "seed": {i}, "done": true, "student_answers": {{"{p1}_2_1": "{i}"}}, "has_saved_answers": false}}"#,
            i % 9 + 1
        )
    };
    let modules: Vec<NewModule> = (1..=n)
        .map(|i| NewModule {
            learner_id: i,
            course_key: suite::COURSE.into(),
            usage_key: p1.clone(),
            module_type: "problem".into(),
            state: Some(state(i)),
            grade: Some(0.0),
            max_grade: Some(1.0),
        })
        .collect();
    let started = Instant::now();
    for batch in modules.chunks(10_000) {
        store.insert_modules(batch).await.unwrap();
    }
    let insert_rate = n as f64 / started.elapsed().as_secs_f64();
    drop(modules);

    store.submit_task(&suite::new_task("bench")).await.unwrap();
    let task = store
        .claim_task("bench", Duration::from_secs(600))
        .await
        .unwrap()
        .unwrap();
    store
        .split_task(task.id, "bench", n as u64, &[])
        .await
        .unwrap();
    store
        .claim_subtask("bench", Duration::from_secs(600), Some(task.id))
        .await
        .unwrap()
        .unwrap();
    let scope = ModuleScope {
        course_key: suite::COURSE.into(),
        usage_keys: vec![p1.clone()],
        learner_id: None,
        until_id: None,
    };
    let (mut fetch, mut commit) = (Duration::ZERO, Duration::ZERO);
    let mut cursor = 0;
    let started = Instant::now();
    loop {
        let t = Instant::now();
        let page = store.fetch_modules(&scope, cursor, 1000).await.unwrap();
        fetch += t.elapsed();
        if page.is_empty() {
            break;
        }
        let expected_cursor = cursor;
        cursor = page.last().unwrap().id;
        let now = Utc::now();
        let chunk = ChunkCommit {
            task_id: task.id,
            subtask: 0,
            worker: "bench".into(),
            expected_cursor,
            new_cursor: cursor,
            deltas: Counts {
                attempted: page.len() as u64,
                succeeded: page.len() as u64,
                ..Counts::default()
            },
            module_updates: page
                .iter()
                .map(|m| ModuleUpdate {
                    id: m.id,
                    state: m.state.as_ref().map(|s| s.replace("incorrect", "correct")),
                    grade: Some(1.0),
                    max_grade: Some(1.0),
                    modified: now,
                })
                .collect(),
            module_inserts: vec![],
            module_deletes: vec![],
            outcomes: page
                .iter()
                .map(|m| NewOutcome {
                    module_id: Some(m.id),
                    learner_id: m.learner_id,
                    username: m.username.clone(),
                    usage_key: m.usage_key.clone(),
                    status: OutcomeStatus::Succeeded,
                    reason: None,
                    old_grade: m.grade,
                    old_max_grade: m.max_grade,
                    new_grade: Some(1.0),
                    new_max_grade: Some(1.0),
                })
                .collect(),
            events: page
                .iter()
                .map(|m| NewEvent {
                    task_id: None,
                    event_type: "edx.grades.problem.rescored".into(),
                    time: now,
                    username: m.username.clone(),
                    user_id: m.learner_id,
                    course_key: m.course_key.clone(),
                    usage_key: Some(m.usage_key.clone()),
                    requester: "staff".into(),
                    payload: serde_json::json!({
                        "problem_id": m.usage_key,
                        "new_weighted_earned": 1.0,
                        "new_weighted_possible": 1.0,
                        "only_if_higher": false,
                        "previous_state": m.state,
                    })
                    .to_string(),
                })
                .collect(),
        };
        let t = Instant::now();
        store.commit_chunk(&chunk).await.unwrap();
        commit += t.elapsed();
    }
    let total = started.elapsed();
    println!(
        "postgres, {n} modules: learners {learner_rate:.0}/s, module inserts {insert_rate:.0}/s; \
         task {:.0} modules/s (fetch {:.2}s, commit {:.2}s, total {:.2}s)",
        n as f64 / total.as_secs_f64(),
        fetch.as_secs_f64(),
        commit.as_secs_f64(),
        total.as_secs_f64()
    );
    assert_eq!(store.count_outcomes(task.id, None).await.unwrap(), n as u64);
}

/// Claims a task for planning and splits it at `points`.
async fn plan_and_split(store: &Store, task_id: uuid::Uuid, points: &[i64]) {
    let planned = store
        .claim_task("planner", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(planned.id, task_id);
    store
        .split_task(task_id, "planner", 0, points)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subtask_claims_from_several_pools_never_overlap() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let stores = stores(&db, 3).await;
    for i in 0..10 {
        let task = stores[0]
            .submit_task(&suite::new_task(&format!("t{i}")))
            .await
            .unwrap();
        plan_and_split(&stores[0], task.id, &[10, 20, 30, 40]).await;
    }
    let claimers: Vec<_> = (0..9)
        .map(|n| {
            let store = stores[n % 3].clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                // A new name per claim: a worker that claims again gets its own subtask back.
                for k in 0.. {
                    let worker = format!("w{n}.{k}");
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
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (50, 50));
}

/// The last two (or more) subtasks of a task ending at the same moment in different processes
/// must end the task exactly once: each transaction that ends a subtask looks at its siblings
/// only under the task's row lock, so the last one sees the others' commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn siblings_finishing_at_once_end_their_task() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let stores = stores(&db, 4).await;
    for round in 0..8 {
        let task = stores[0]
            .submit_task(&suite::new_task(&format!("r{round}")))
            .await
            .unwrap();
        plan_and_split(&stores[0], task.id, &[10, 20, 30]).await;
        let mut claims = Vec::new();
        for (i, store) in stores.iter().enumerate() {
            let claim = store
                .claim_subtask(&format!("w{i}"), Duration::from_secs(60), Some(task.id))
                .await
                .unwrap()
                .unwrap();
            claims.push((i, claim.subtask.index));
        }
        // Odd rounds: one subtask fails, and the task must end FAILURE with its error.
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(4));
        let finishers: Vec<_> = claims
            .into_iter()
            .map(|(i, index)| {
                let store = stores[i].clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    let state = if round % 2 == 1 && index == 2 {
                        FinalState::Failure {
                            error: serde_json::json!({"message": "boom"}),
                        }
                    } else {
                        FinalState::Success
                    };
                    store
                        .finish_subtask(task.id, index, &format!("w{i}"), state)
                        .await
                        .unwrap()
                })
            })
            .collect();
        for f in finishers {
            f.await.unwrap();
        }
        let done = stores[0].get_task(task.id).await.unwrap().unwrap();
        let expected = if round % 2 == 1 {
            TaskState::Failure
        } else {
            TaskState::Success
        };
        assert_eq!(done.state, expected, "round {round}: {done:?}");
        assert!(done.finished_at.is_some());
    }
}

/// Chunks of sibling subtasks committed at the same time from several processes: no counter
/// increment is lost, and the task's counters are the sum of its subtasks'.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sibling_commits_add_up() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let stores = stores(&db, 4).await;
    let task = stores[0]
        .submit_task(&suite::new_task("sum"))
        .await
        .unwrap();
    plan_and_split(&stores[0], task.id, &[1000, 2000, 3000]).await;
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let store = stores[i].clone();
            tokio::spawn(async move {
                let worker = format!("w{i}");
                let claim = store
                    .claim_subtask(&worker, Duration::from_secs(60), Some(task.id))
                    .await
                    .unwrap()
                    .unwrap();
                let mut cursor = claim.subtask.cursor;
                for _ in 0..25 {
                    let ack = store
                        .commit_chunk(&ChunkCommit {
                            task_id: task.id,
                            subtask: claim.subtask.index,
                            worker: worker.clone(),
                            expected_cursor: cursor,
                            new_cursor: cursor + 1,
                            deltas: Counts {
                                attempted: 3,
                                succeeded: 2,
                                skipped: 1,
                                failed: 0,
                            },
                            module_updates: vec![],
                            module_inserts: vec![],
                            module_deletes: vec![],
                            outcomes: vec![],
                            events: vec![],
                        })
                        .await
                        .unwrap();
                    cursor = ack.cursor;
                }
                store
                    .finish_subtask(task.id, claim.subtask.index, &worker, FinalState::Success)
                    .await
                    .unwrap();
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let done = stores[0].get_task(task.id).await.unwrap().unwrap();
    assert_eq!(done.state, TaskState::Success);
    assert_eq!(
        done.counts(),
        Counts {
            attempted: 300,
            succeeded: 200,
            skipped: 100,
            failed: 0
        }
    );
    let subtasks = stores[0].list_subtasks(task.id).await.unwrap();
    assert!(subtasks.iter().all(|s| s.counts.attempted == 75));
}

/// Spawns a wait for work (up to 10 s) on `store`; returns how long it waited.
fn waiter(store: &Store) -> tokio::task::JoinHandle<Duration> {
    let store = store.clone();
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        store.wait_for_work(Duration::from_secs(10)).await.unwrap();
        started.elapsed()
    })
}

/// Repeats `action` until the waiter returns (a notification only reaches a waiter that is
/// already listening); fails after 20 tries.
async fn wakes<F, Fut>(waiter: &mut tokio::task::JoinHandle<Duration>, mut action: F)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for n in 0..20 {
        action(n).await;
        if let Ok(waited) = tokio::time::timeout(Duration::from_millis(200), &mut *waiter).await {
            assert!(waited.unwrap() < Duration::from_secs(8));
            return;
        }
    }
    panic!("the waiter was not woken by 20 tries");
}

/// A process waiting for work is woken by another process's submit, split and cancel
/// (LISTEN/NOTIFY), and again after its listening connection was killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wait_for_work_is_woken_across_processes() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let stores = stores(&db, 2).await;
    let (sleeper, actor) = (&stores[0], &stores[1]);

    let mut w = waiter(sleeper);
    wakes(&mut w, |n| async move {
        actor
            .submit_task(&suite::new_task(&format!("wake{n}")))
            .await
            .unwrap();
    })
    .await;

    // Splits (of tasks claimed for planning beforehand) and cancels.
    let mut planned = Vec::new();
    for k in 0..20 {
        actor
            .submit_task(&suite::new_task(&format!("split{k}")))
            .await
            .unwrap();
    }
    while let Some(t) = actor
        .claim_task("planner", Duration::from_secs(60))
        .await
        .unwrap()
    {
        planned.push(t.id);
    }
    let mut w = waiter(sleeper);
    let to_split = planned.clone();
    wakes(&mut w, |n| {
        let id = to_split[n];
        async move {
            actor.split_task(id, "planner", 0, &[]).await.unwrap();
        }
    })
    .await;
    let running = planned[0];
    actor
        .claim_subtask("runner", Duration::from_secs(60), Some(running))
        .await
        .unwrap()
        .unwrap();
    let mut w = waiter(sleeper);
    wakes(&mut w, |_| async move {
        assert!(matches!(
            actor.request_cancel(running).await.unwrap(),
            CancelOutcome::Requested(_)
        ));
    })
    .await;

    // The server ends the listening connection (a restart, a failover): the listener
    // reconnects on a new connection, and notifications reach the waiter again.
    let raw = raw_handle(&db).await;
    let listening_pids = || async {
        sqlx::query_scalar::<_, i32>(
            "SELECT pid FROM pg_stat_activity \
             WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
        )
        .fetch_all(raw.pool())
        .await
        .unwrap()
    };
    let killed = listening_pids().await;
    assert!(!killed.is_empty(), "no listening connection found");
    for pid in &killed {
        sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .execute(raw.pool())
            .await
            .unwrap();
    }
    // The reconnection happens in the background, after a pause: wait for it rather than race
    // it (a waiter that finds queued work returns without needing the listener at all).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if listening_pids()
            .await
            .iter()
            .any(|pid| !killed.contains(pid))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the listener did not reconnect within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Nothing claimable is left, so only a notification can wake the next waiter early.
    while actor
        .claim_task("drainer", Duration::from_secs(60))
        .await
        .unwrap()
        .is_some()
    {}
    // One worker name per claim: a worker asking again would be handed its own subtask back.
    for k in 0.. {
        let claimed = actor
            .claim_subtask(&format!("drainer{k}"), Duration::from_secs(60), None)
            .await
            .unwrap();
        if claimed.is_none() {
            break;
        }
    }
    let mut w = waiter(sleeper);
    tokio::time::sleep(Duration::from_millis(300)).await;
    wakes(&mut w, |n| async move {
        actor
            .submit_task(&suite::new_task(&format!("after-kill{n}")))
            .await
            .unwrap();
    })
    .await;
}
