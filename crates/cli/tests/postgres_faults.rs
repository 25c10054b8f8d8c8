//! Faults on a shared PostgreSQL database with real worker processes: workers SIGKILLed at random
//! and restarted, database connections terminated under running workers, identical submissions
//! from several processes at once. Every run must end with exact counts and every learner
//! processed exactly once (one outcome per learner, one event per change).
//!
//! Needs `COURSETASKS_TEST_POSTGRES_URL`; without it each test prints a skip notice (a failure
//! with `COURSETASKS_REQUIRE_POSTGRES=1`, as in CI). See `pg_support`.

#[path = "../../store/tests/pg_support/mod.rs"]
mod pg_support;

mod common;
use common::command as coursetasks;

use std::collections::HashSet;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use coursetasks_engine::{SubmitRequest, import_course, submit};
use coursetasks_store::{EventFilter, LearnerRecord, NewModule, Store, TaskRecord, TaskState};
use coursetasks_tasks::{Target, TaskKind};
use pg_support::TestDb;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

/// The sample course, `n` learners with a submitted answer to its wrong-key problem, and the
/// fixed key stored as a new version: everything a rescore of `n` learners needs.
async fn populate(store: &Store, n: u64) {
    let course = coursetasks_sample::sample_course();
    import_course(store, &course).await.unwrap();
    let (problem, fixed) = coursetasks_sample::answer_key_fix();
    store
        .put_problem_version(&problem, &fixed, &coursetasks_olx::content_hash(&fixed))
        .await
        .unwrap();
    let modules = coursetasks_sample::BenchmarkModules::for_problem("circle_area", n, 11).unwrap();
    let mut learners = Vec::new();
    let mut batch = Vec::new();
    for (id, module) in modules {
        learners.push(LearnerRecord {
            id,
            username: format!("learner{id}"),
            email: format!("learner{id}@example.com"),
        });
        batch.push(NewModule {
            learner_id: id,
            course_key: coursetasks_sample::SAMPLE_COURSE_KEY.to_owned(),
            usage_key: module.usage_key,
            module_type: module.module_type.to_owned(),
            state: Some(module.state),
            grade: module.grade,
            max_grade: module.max_grade,
        });
        if batch.len() == 20_000 {
            store.upsert_learners(&learners).await.unwrap();
            store.insert_modules(&batch).await.unwrap();
            learners.clear();
            batch.clear();
        }
    }
    store.upsert_learners(&learners).await.unwrap();
    store.insert_modules(&batch).await.unwrap();
}

async fn submit_rescore(store: &Store) -> TaskRecord {
    submit(
        store,
        &SubmitRequest {
            kind: TaskKind::Rescore,
            course_key: coursetasks_sample::SAMPLE_COURSE_KEY.to_owned(),
            target: Target::Problem(coursetasks_sample::WRONG_KEY_PROBLEM.to_owned()),
            learner: None,
            score: None,
            requester: "instructor".to_owned(),
        },
    )
    .await
    .unwrap()
}

fn spawn_worker(db: &str, subtask_size: u64) -> Child {
    coursetasks(db)
        .args([
            "worker",
            "--exit-when-idle",
            "--concurrency",
            "1",
            "--subtask-size",
            &subtask_size.to_string(),
            "--chunk-size",
            "500",
            "--lease-seconds",
            "2",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn a worker")
}

/// The task ended SUCCESS with `attempted = total`, one outcome per learner, one event per change
/// and counts equal to the sum of its subtasks'.
async fn assert_exactly_once(store: &Store, id: Uuid, learners: u64) -> TaskRecord {
    let done = store.get_task(id).await.unwrap().unwrap();
    assert_eq!(done.state, TaskState::Success, "{done:?}");
    assert_eq!(done.total, Some(learners));
    assert_eq!(done.attempted, learners);
    assert_eq!(done.attempted, done.succeeded + done.skipped + done.failed);
    let outcomes = store.list_outcomes(id, None, 0, 10_000_000).await.unwrap();
    assert_eq!(outcomes.len() as u64, learners, "one outcome per learner");
    let modules: HashSet<_> = outcomes.iter().map(|o| o.module_id).collect();
    assert_eq!(modules.len() as u64, learners, "no learner processed twice");
    let events = store
        .list_events(&EventFilter {
            task_id: Some(id),
            course_key: None,
            after_id: 0,
            limit: 10_000_000,
        })
        .await
        .unwrap();
    assert_eq!(events.len() as u64, done.succeeded, "one event per change");
    let event_learners: HashSet<_> = events.iter().map(|e| e.user_id).collect();
    assert_eq!(event_learners.len(), events.len(), "no event twice");
    let subtasks = store.list_subtasks(id).await.unwrap();
    assert!(subtasks.iter().all(|s| s.state == TaskState::Success));
    let attempted: u64 = subtasks.iter().map(|s| s.counts.attempted).sum();
    assert_eq!(
        attempted, done.attempted,
        "the task's counts are its subtasks' sum"
    );
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_killed_at_random_share_a_big_rescore_exactly_once() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    const LEARNERS: u64 = 200_000;
    let store = db.open().await;
    populate(&store, LEARNERS).await;
    let task = submit_rescore(&store).await;

    let mut rng = rand::rngs::StdRng::seed_from_u64(20261126);
    let mut workers: Vec<Child> = (0..3).map(|_| spawn_worker(&db.url, 10_000)).collect();
    let mut kills = 0;
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        assert!(Instant::now() < deadline, "the task did not finish in time");
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..1500))).await;
        if store
            .get_task(task.id)
            .await
            .unwrap()
            .unwrap()
            .state
            .is_ready()
        {
            break;
        }
        if kills < 6 {
            // Only a worker in the middle of a subtask is a victim: on a loaded machine a
            // freshly started one may not have claimed anything yet, and killing it would
            // test nothing. Worker names carry the process id (`...@host:pid:n`).
            let holders: HashSet<String> = store
                .list_subtasks(task.id)
                .await
                .unwrap()
                .into_iter()
                .filter(|s| s.state == TaskState::Running)
                .filter_map(|s| s.lease_owner)
                .collect();
            let busy: Vec<usize> = (0..workers.len())
                .filter(|&i| {
                    let pid = format!(":{}:", workers[i].id());
                    holders.iter().any(|owner| owner.contains(&pid))
                })
                .collect();
            if !busy.is_empty() {
                let victim = busy[rng.random_range(0..busy.len())];
                if workers[victim].try_wait().unwrap().is_none() {
                    workers[victim].kill().expect("SIGKILL a worker");
                    workers[victim].wait().unwrap();
                    kills += 1;
                }
                workers[victim] = spawn_worker(&db.url, 10_000);
            }
        }
        for w in &mut workers {
            if let Some(status) = w.try_wait().unwrap() {
                assert!(status.success(), "a worker failed: {status}");
            }
        }
    }
    for mut w in workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    let done = assert_exactly_once(&store, task.id, LEARNERS).await;
    let subtasks = store.list_subtasks(task.id).await.unwrap();
    let claims: u32 = subtasks.iter().map(|s| s.attempts).sum();
    let owners: HashSet<_> = subtasks
        .iter()
        .filter_map(|s| s.lease_owner.clone())
        .collect();
    eprintln!(
        "{kills} kills; {} subtasks claimed {claims} times by {} workers; {} learners, {} changed",
        subtasks.len(),
        owners.len(),
        done.attempted,
        done.succeeded
    );
    assert!(kills >= 3, "workers were killed mid-task ({kills})");
    assert!(
        claims as usize > subtasks.len(),
        "killed workers' subtasks were taken over ({claims} claims of {} subtasks)",
        subtasks.len()
    );
    assert!(
        owners.len() >= 3,
        "several workers shared the task: {owners:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_survive_their_connections_being_terminated() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    const LEARNERS: u64 = 40_000;
    // This test's own connections carry an application name that the terminations spare, so
    // that only the workers lose theirs.
    let spared = format!(
        "{}{}application_name=ct-test-admin",
        db.url,
        if db.url.contains('?') { '&' } else { '?' }
    );
    let store = Store::open(&spared).await.unwrap();
    populate(&store, LEARNERS).await;
    let task = submit_rescore(&store).await;
    let workers: Vec<Child> = (0..2).map(|_| spawn_worker(&db.url, 4_000)).collect();
    let admin = sqlx::PgPool::connect(&spared).await.unwrap();
    let mut terminations = 0;
    let deadline = Instant::now() + Duration::from_secs(600);
    while !store
        .get_task(task.id)
        .await
        .unwrap()
        .unwrap()
        .state
        .is_ready()
    {
        assert!(Instant::now() < deadline, "the task did not finish in time");
        let attempted = store.get_task(task.id).await.unwrap().unwrap().attempted;
        if attempted > 0 && terminations < 4 {
            // In the select list, not the WHERE clause: PostgreSQL may evaluate WHERE terms in
            // any order, and would then end other databases' connections too.
            let killed: Vec<bool> = sqlx::query_scalar(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid() \
                   AND application_name NOT LIKE 'ct-test-admin%'",
            )
            .bind(&db.name)
            .fetch_all(&admin)
            .await
            .unwrap();
            if killed.iter().any(|k| *k) {
                terminations += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    for w in workers {
        let out = w.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a worker died with its connections: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        terminations >= 2,
        "connections were terminated mid-task ({terminations})"
    );
    assert_exactly_once(&store, task.id, LEARNERS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_submissions_from_several_processes_create_one_task() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store = db.open().await;
    populate(&store, 50).await;
    let children: Vec<Child> = (0..8)
        .map(|_| {
            coursetasks(&db.url)
                .args([
                    "submit",
                    "rescore",
                    "--course",
                    coursetasks_sample::SAMPLE_COURSE_KEY,
                    "--problem",
                    coursetasks_sample::WRONG_KEY_PROBLEM,
                    "--all",
                    "--json",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut accepted = Vec::new();
    let mut refused = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        match out.status.code() {
            Some(0) => {
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                accepted.push(v["task_id"].as_str().unwrap().to_owned());
            }
            Some(4) => refused += 1,
            other => panic!(
                "unexpected exit {other:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
    assert_eq!(
        (accepted.len(), refused),
        (1, 7),
        "exactly one submission wins"
    );
    let tasks = store.list_tasks(&Default::default()).await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].id.to_string(), accepted[0]);
}
