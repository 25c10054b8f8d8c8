//! Crash safety with real processes: a `coursetasks worker` child is SIGKILLed at random points
//! of a rescore (chosen by progress, so a faster worker is still caught mid-task) and restarted
//! until the task ends. The task must end SUCCESS with exact counts,
//! one outcome per learner and one event per change — nothing lost, nothing done twice.

mod common;
use common::command as coursetasks;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use coursetasks_store::{EventFilter, Store, TaskState};
use rand::{Rng, SeedableRng};

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run coursetasks");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

#[test]
fn a_worker_killed_at_random_points_loses_nothing_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let db = db.to_str().unwrap().to_owned();

    // Populate with the demo (its own tasks finish), then queue a fresh rescore of everyone.
    run_ok(coursetasks(&db).args(["demo", "--learners", "3000", "--seed", "7", "--db", &db]));
    let (course, problem) = {
        let (key, _) = coursetasks_sample::answer_key_fix();
        let course = key
            .strip_prefix("block-v1:")
            .and_then(|rest| rest.split("+type@").next())
            .map(|c| format!("course-v1:{c}"))
            .unwrap();
        (course, key)
    };
    let submitted = run_ok(coursetasks(&db).args([
        "submit",
        "rescore",
        "--course",
        &course,
        "--problem",
        &problem,
        "--all",
        "--json",
    ]));
    let submitted: serde_json::Value = serde_json::from_str(&submitted).unwrap();
    let task_id = submitted["task_id"].as_str().unwrap().to_owned();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = runtime.block_on(Store::open(&db)).unwrap();
    let id = uuid::Uuid::parse_str(&task_id).unwrap();
    let task = || runtime.block_on(store.get_task(id)).unwrap().unwrap();

    let mut rng = rand::rngs::StdRng::seed_from_u64(20261126);
    let mut kills = 0;
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        assert!(Instant::now() < deadline, "the task did not finish in time");
        // Where this worker dies: after a random share of the first half of what is left has
        // been committed (so it dies mid-task however fast it runs), or, one time in four, at a
        // random moment of its start (opening, claiming, planning).
        let before = task();
        let left = before.total.map_or(2000, |t| t - before.attempted).max(2);
        let kill_at_progress = before.attempted + rng.random_range(1..=left / 2);
        let kill_at_time = rng
            .random_bool(0.25)
            .then(|| Instant::now() + Duration::from_millis(rng.random_range(5..150)));
        let mut child = coursetasks(&db)
            .args([
                "worker",
                "--exit-when-idle",
                "--concurrency",
                "2",
                "--subtask-size",
                "400",
                "--chunk-size",
                "37",
                "--lease-seconds",
                "1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn worker");
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "worker exited with {status}");
                break;
            }
            if kill_at_time.is_some_and(|at| Instant::now() >= at)
                || task().attempted >= kill_at_progress
            {
                child.kill().expect("SIGKILL the worker");
                child.wait().unwrap();
                kills += 1;
                // Let the dead worker's lease run out so the next one may take over.
                std::thread::sleep(Duration::from_millis(1100));
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if task().state.is_ready() {
            break;
        }
    }

    let done = task();
    assert_eq!(done.state, TaskState::Success, "{done:?}");
    let total = done.total.unwrap();
    assert!(total > 2000, "enough learners to be interrupted: {total}");
    assert_eq!(done.attempted, total);
    assert_eq!(
        done.attempted,
        done.succeeded + done.skipped + done.failed,
        "counts add up"
    );
    let outcomes = runtime
        .block_on(store.list_outcomes(id, None, 0, 10_000_000))
        .unwrap();
    assert_eq!(outcomes.len() as u64, total, "one outcome per learner");
    let modules: HashSet<_> = outcomes.iter().map(|o| o.module_id).collect();
    assert_eq!(modules.len() as u64, total, "no learner processed twice");
    let events = runtime
        .block_on(store.list_events(&EventFilter {
            task_id: Some(id),
            course_key: None,
            after_id: 0,
            limit: 10_000_000,
        }))
        .unwrap();
    assert_eq!(events.len() as u64, done.succeeded, "one event per change");
    let event_learners: HashSet<_> = events.iter().map(|e| e.user_id).collect();
    assert_eq!(event_learners.len(), events.len(), "no event twice");
    let subtasks = runtime.block_on(store.list_subtasks(id)).unwrap();
    assert!(subtasks.len() > 4, "the task was split: {}", subtasks.len());
    assert!(subtasks.iter().all(|s| s.state == TaskState::Success));
    let attempted: u64 = subtasks.iter().map(|s| s.counts.attempted).sum();
    assert_eq!(
        attempted, done.attempted,
        "the task's counts are its subtasks' sum"
    );
    let claims: u32 = subtasks.iter().map(|s| s.attempts).sum();
    eprintln!(
        "crash test: {kills} kills, {} subtasks claimed {claims} times, {total} learners",
        subtasks.len()
    );
    assert!(kills >= 1, "the worker was interrupted at least once");
}
