//! Throughput of the store's hot paths on a temporary SQLite file, with the raw-SQL floor.
//!
//! ```text
//! cargo run --release -p coursetasks-store --example store_bench -- [learners] [chunk]
//! ```
//! defaults: 200000 learners, chunk 1000. Measures:
//! - `upsert_learners` and `insert_modules` rows/s (one module per learner, realistic capa
//!   state JSON of ~600 bytes);
//! - a full rescore pass through the store API: the task is planned (claimed, counted and split
//!   into one subtask), then per chunk of that subtask `fetch_modules` + `commit_chunk` with
//!   one module update, one outcome and one tracking event per learner (learners/s, and the
//!   cost of one commit);
//! - the raw-SQL floor: one `UPDATE ... SET state = json_set(...)` over the same rows, and the
//!   same statement per id range of `chunk` rows.

use chrono::Utc;
use coursetasks_store::*;
use serde_json::json;
use std::time::{Duration, Instant};

const COURSE: &str = "course-v1:BenchX+B101+2026";

fn usage_key() -> String {
    "block-v1:BenchX+B101+2026+type@problem+block@0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e".into()
}

fn state(i: i64) -> String {
    let id = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e";
    json!({
        "attempts": 1 + i % 3,
        "seed": 1 + i % 20,
        "done": true,
        "has_saved_answers": false,
        "last_submission_time": "2026-03-01T12:00:00Z",
        "student_answers": {format!("{id}_2_1"): "choice_1", format!("{id}_3_1"): format!("{}", i % 7)},
        "correct_map": {
            format!("{id}_2_1"): {"correctness": "correct", "npoints": null, "msg": "", "hint": "",
                                  "hintmode": null, "queuestate": null, "answervariable": null},
            format!("{id}_3_1"): {"correctness": "incorrect", "npoints": null, "msg": "", "hint": "",
                                  "hintmode": null, "queuestate": null, "answervariable": null}
        },
        "input_state": {format!("{id}_2_1"): {}, format!("{id}_3_1"): {}},
        "score": {"raw_earned": 1, "raw_possible": 2}
    })
    .to_string()
}

/// Removes the temporary directory at the end.
struct Cleanup(std::path::PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rate(n: u64, d: Duration) -> String {
    format!("{:>9.0}/s", n as f64 / d.as_secs_f64())
}

/// CPU time of this process's live threads (SQLite's connection threads included), summed
/// from /proc/self/task/*/schedstat in nanoseconds. The machine may be shared, so rates are
/// also given per CPU-second. `None` off Linux.
fn cpu_time() -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

fn cpu_since(start: Option<Duration>) -> Duration {
    match (start, cpu_time()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => Duration::ZERO,
    }
}

/// Wall-clock and CPU-time rate of a phase.
struct Phase {
    wall: Instant,
    cpu: Option<Duration>,
}

impl Phase {
    fn start() -> Phase {
        Phase {
            wall: Instant::now(),
            cpu: cpu_time(),
        }
    }

    fn report(&self, label: &str, n: u64, note: &str) {
        let wall = self.wall.elapsed();
        let cpu = match cpu_since(self.cpu) {
            Duration::ZERO => String::new(),
            cpu => format!(", {} per CPU-second", rate(n, cpu)),
        };
        println!(
            "{label:<34} {} wall{cpu} ({n} in {wall:.2?}{note})",
            rate(n, wall)
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let learners: i64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(200_000);
    let chunk: u32 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    // STORE_BENCH_DIR keeps the database for inspection (default: a temporary directory).
    let dir = match std::env::var_os("STORE_BENCH_DIR") {
        Some(d) => tempfile::Builder::new()
            .prefix("store-bench")
            .tempdir_in(d)?
            .keep(),
        None => tempfile::tempdir()?.keep(),
    };
    let _cleanup = (std::env::var_os("STORE_BENCH_DIR").is_none()).then(|| Cleanup(dir.clone()));
    let path = dir.join("bench.db");
    let store = Store::open(path.to_str().unwrap()).await?;
    println!(
        "sqlite file {}, {learners} learners, chunk {chunk}",
        path.display()
    );

    store
        .upsert_course(&CourseRecord {
            key: COURSE.into(),
            display_name: "Bench".into(),
            created: Utc::now(),
        })
        .await?;
    let key = usage_key();
    store
        .upsert_blocks(&[BlockRecord {
            usage_key: key.clone(),
            course_key: COURSE.into(),
            block_type: "problem".into(),
            parent_key: None,
            display_name: "P".into(),
            position: 0,
            settings: json!({"weight": 1}),
            legacy_key: None,
        }])
        .await?;

    // --- bulk inserts -----------------------------------------------------------------------
    let people: Vec<LearnerRecord> = (1..=learners)
        .map(|i| LearnerRecord {
            id: i,
            username: format!("learner_{i:07}"),
            email: format!("learner_{i:07}@example.org"),
        })
        .collect();
    let phase = Phase::start();
    for batch in people.chunks(50_000) {
        store.upsert_learners(batch).await?;
    }
    phase.report("upsert_learners", learners as u64, ", 50k rows per call");

    let modules: Vec<NewModule> = people
        .iter()
        .map(|l| NewModule {
            learner_id: l.id,
            course_key: COURSE.into(),
            usage_key: key.clone(),
            module_type: "problem".into(),
            state: Some(state(l.id)),
            grade: Some(1.0),
            max_grade: Some(2.0),
        })
        .collect();
    let phase = Phase::start();
    for batch in modules.chunks(50_000) {
        store.insert_modules(batch).await?;
    }
    phase.report("insert_modules", learners as u64, ", 50k rows per call");
    drop(modules);

    // --- rescore pass through the API -----------------------------------------------------------
    store
        .submit_task(&NewTask {
            id: uuid::Uuid::new_v4(),
            course_key: COURSE.into(),
            task_type: "rescore_problem".into(),
            task_key: "bench".into(),
            input: json!({"problem_url": key}),
            requester: "staff".into(),
        })
        .await
        .map_err(|e| e.to_string())?;
    // Plan (claim, count, split into one subtask for everything), then run that subtask.
    let planned = store
        .claim_task("bench-worker", Duration::from_secs(60))
        .await?
        .expect("task");
    let scope = ModuleScope {
        course_key: COURSE.into(),
        usage_keys: vec![key.clone()],
        learner_id: None,
        until_id: None,
    };
    let total = store.count_modules(&scope).await?;
    store
        .split_task(planned.id, "bench-worker", total, &[])
        .await?;
    let SubtaskClaim { task, subtask } = store
        .claim_subtask("bench-worker", Duration::from_secs(60), Some(planned.id))
        .await?
        .expect("subtask");
    let scope = ModuleScope {
        until_id: Some(subtask.until_id),
        ..scope
    };

    let (mut fetch_time, mut build_time, mut commit_time) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut fetch_cpu, mut commit_cpu) = (Duration::ZERO, Duration::ZERO);
    let mut commits = 0u64;
    let mut cursor = subtask.cursor;
    let all = Phase::start();
    loop {
        let (t, c) = (Instant::now(), cpu_time());
        let page = store.fetch_modules(&scope, cursor, chunk).await?;
        fetch_time += t.elapsed();
        fetch_cpu += cpu_since(c);
        if page.is_empty() {
            break;
        }
        let t = Instant::now();
        let now = Utc::now();
        let commit = ChunkCommit {
            task_id: task.id,
            subtask: subtask.index,
            worker: "bench-worker".into(),
            expected_cursor: cursor,
            new_cursor: page.last().unwrap().id,
            deltas: Counts {
                attempted: page.len() as u64,
                succeeded: page.len() as u64,
                ..Counts::default()
            },
            module_updates: page
                .iter()
                .map(|m| ModuleUpdate {
                    id: m.id,
                    // What a rescore writes: the same state with a new correct map and score.
                    state: m.state.as_ref().map(|s| s.replace("\"incorrect\"", "\"correct\"")),
                    grade: Some(2.0),
                    max_grade: Some(2.0),
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
                    new_grade: Some(2.0),
                    new_max_grade: Some(2.0),
                })
                .collect(),
            events: page
                .iter()
                .map(|m| NewEvent {
                    task_id: Some(task.id),
                    event_type: "edx.grades.problem.rescored".into(),
                    time: now,
                    username: m.username.clone(),
                    user_id: m.learner_id,
                    course_key: m.course_key.clone(),
                    usage_key: Some(m.usage_key.clone()),
                    requester: "staff".into(),
                    payload: json!({
                        "course_id": m.course_key, "problem_id": m.usage_key,
                        "new_weighted_earned": 2.0, "new_weighted_possible": 2.0,
                        "only_if_higher": false, "instructor_id": 1, "event_transaction_type": "edx.grades.problem.rescored"
                    })
                    .to_string(),
                })
                .collect(),
        };
        build_time += t.elapsed();
        let (t, c) = (Instant::now(), cpu_time());
        cursor = store.commit_chunk(&commit).await?.cursor;
        commit_time += t.elapsed();
        commit_cpu += cpu_since(c);
        commits += 1;
    }
    let n = learners as u64;
    all.report(
        "rescore pass (fetch+build+commit)",
        n,
        &format!(": fetch {fetch_time:.2?}, build {build_time:.2?}, commit {commit_time:.2?}"),
    );
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / commits as f64;
    println!(
        "  fetch_modules + commit_chunk    {} wall, {} per CPU-second",
        rate(n, fetch_time + commit_time),
        rate(n, fetch_cpu + commit_cpu)
    );
    println!(
        "  commit_chunk                    {} wall, {} per CPU-second \
         ({:.2} ms wall, {:.2} ms CPU per commit of {chunk} learners; \
         each: 1 module update + 1 outcome + 1 event)",
        rate(n, commit_time),
        rate(n, commit_cpu),
        per(commit_time),
        per(commit_cpu)
    );
    println!(
        "  fetch_modules                   {} wall, {} per CPU-second \
         ({:.2} ms wall, {:.2} ms CPU per page of {chunk})",
        rate(n, fetch_time),
        rate(n, fetch_cpu),
        per(fetch_time),
        per(fetch_cpu)
    );
    let done = store
        .finish_subtask(task.id, subtask.index, "bench-worker", FinalState::Success)
        .await?;
    assert_eq!(done.state, TaskState::Success);
    assert_eq!(done.succeeded, n);
    assert_eq!(store.count_outcomes(task.id, None).await?, n);
    assert_eq!(store.count_events(task.id).await?, n);

    // --- raw SQL floor ---------------------------------------------------------------------------
    let backend = SqliteBackend::open(path.to_str().unwrap()).await?;
    let pool = backend.pool();
    let phase = Phase::start();
    sqlx::query(
        "UPDATE learner_modules SET state = json_set(state, '$.score.raw_earned', 2), \
                                    grade = 2.0, modified = ?3 \
         WHERE course_key = ?1 AND usage_key = ?2",
    )
    .bind(COURSE)
    .bind(&key)
    .bind(Utc::now().to_rfc3339())
    .execute(pool)
    .await?;
    phase.report("raw UPDATE json_set, one statement", n, "");

    let phase = Phase::start();
    let mut lo = 0i64;
    let max_id: i64 = sqlx::query_scalar("SELECT max(id) FROM learner_modules")
        .fetch_one(pool)
        .await?;
    while lo < max_id {
        let hi = lo + i64::from(chunk);
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE learner_modules SET state = json_set(state, '$.score.raw_earned', 1), \
                                        grade = 1.0, modified = ?3 \
             WHERE id > ?1 AND id <= ?2",
        )
        .bind(lo)
        .bind(hi)
        .bind(Utc::now().to_rfc3339())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        lo = hi;
    }
    phase.report(
        &format!("raw UPDATE json_set, per {chunk} ids"),
        n,
        ", module update only: no outcome, no event",
    );
    Ok(())
}
