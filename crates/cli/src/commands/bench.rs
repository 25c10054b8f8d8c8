//! `coursetasks bench`: throughput figures, each next to a baseline measured in the same run so
//! that the ratio means something on a shared, noisy machine.
//!
//! - Grading: input gradings per second for the capa benchmark problem (two dropdowns, a numerical
//!   response answered with expressions, a case-insensitive string), against parsing the same
//!   answers' JSON (work any grader has to do at least).
//! - Tasks: rescore, reset attempts and delete state over N learner modules in a SQLite file,
//!   end to end through submit and the worker, against the raw-SQL floor on the same database: one
//!   `UPDATE ... SET state = json_set(...)` over the same number of rows (rescore, reset) and one
//!   `DELETE` (delete). Each task runs in a separate `coursetasks worker` process, whose peak RSS
//!   (`VmHWM`) is reported.

use std::time::Instant;

use anyhow::{Context, Result};
use chrono::Utc;
use coursetasks_capa::Problem;
use coursetasks_capa::bench_support::{
    BENCH_INPUTS, BENCH_PROBLEM_ID, bench_answers, bench_problem_xml,
};
use coursetasks_engine::{SubmitRequest, submit};
use coursetasks_store::{
    BlockRecord, CourseRecord, LearnerRecord, NewModule, NewProblemVersion, Store,
};
use coursetasks_tasks::{Target, TaskKind};
use serde::Serialize;
use serde_json::json;
use sqlx::ConnectOptions;

use crate::cli::BenchArgs;
use crate::display::human_rate;

pub(crate) const COURSE: &str = "course-v1:Bench+B1+2026";
/// The problem the tasks run on; its block id is the capa benchmark's problem id, so stored
/// answers line up with its inputs.
pub(crate) const TASK_PROBLEM: &str = "block-v1:Bench+B1+2026+type@problem+block@bench";
/// An identical problem whose modules the raw-SQL floors touch, so that tasks and floors each
/// start from the same fresh rows.
pub(crate) const FLOOR_PROBLEM: &str = "block-v1:Bench+B1+2026+type@problem+block@floor";

#[derive(Debug, Serialize)]
struct GradingFigures {
    gradings: u64,
    input_gradings_per_second: f64,
    baseline_json_parses_per_second: f64,
    /// Input gradings per second over answer-JSON parses per second.
    ratio_to_baseline: f64,
}

#[derive(Debug, Serialize)]
struct TaskFigures {
    operation: &'static str,
    modules: u64,
    learners_per_second: f64,
    floor_rows_per_second: f64,
    /// Task time over floor time (1.0 = as fast as one bare SQL statement).
    slowdown_vs_floor: f64,
    peak_rss_mb: f64,
}

#[derive(Debug, Serialize)]
struct Figures {
    grading: GradingFigures,
    tasks: Vec<TaskFigures>,
    setup_seconds: f64,
}

pub async fn run(args: BenchArgs) -> Result<()> {
    if args.import {
        return super::bench_import::run(&args).await;
    }
    if let Some(server) = &args.postgres {
        return super::bench_postgres::run(&args, server).await;
    }
    if args.serve_load {
        return super::bench_serve::run(&args).await;
    }
    let grading = bench_grading();
    if !args.json {
        outln!(
            "grading: {} input gradings/s; baseline (answer JSON parses): {}/s; ratio {:.2}x",
            human_rate(grading.input_gradings_per_second),
            human_rate(grading.baseline_json_parses_per_second),
            grading.ratio_to_baseline
        )?;
    }
    if args.grading_only {
        if args.json {
            crate::print_json(&grading)?;
        }
        return Ok(());
    }

    let dir = bench_dir(&args)?;
    let db = dir.path().join("bench.db");
    let db = db.to_str().context("temp path is UTF-8")?.to_owned();
    let store = Store::open(&db).await?;
    let setup = Instant::now();
    load(&store, args.modules).await?;
    let setup_seconds = setup.elapsed().as_secs_f64();
    if !args.json {
        outln!(
            "setup: {} learners, {} modules in {:.1}s ({})",
            args.modules,
            2 * args.modules,
            setup_seconds,
            db
        )?;
    }
    // The floor statements are slow by design (each does a whole phase's work): sqlx would log
    // every one as a slow-statement warning.
    let floor_options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&db)
        .busy_timeout(std::time::Duration::from_secs(10))
        .log_slow_statements(tracing::log::LevelFilter::Off, std::time::Duration::MAX);
    let floor = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(floor_options)
        .await?;

    let mut tasks = Vec::new();
    for (kind, name, floor_sql) in [
        (
            TaskKind::Rescore,
            "rescore",
            "UPDATE learner_modules SET state = json_set(state, '$.score.raw_earned', grade), modified = ?2 WHERE course_key = ?1 AND usage_key = ?3",
        ),
        (
            TaskKind::ResetAttempts,
            "reset_attempts",
            "UPDATE learner_modules SET state = json_set(state, '$.attempts', 0), modified = ?2 WHERE course_key = ?1 AND usage_key = ?3",
        ),
        (
            TaskKind::DeleteState,
            "delete_state",
            "DELETE FROM learner_modules WHERE course_key = ?1 AND usage_key = ?3 AND ?2 IS NOT NULL",
        ),
    ] {
        let started = Instant::now();
        let task = submit(
            &store,
            &SubmitRequest {
                kind,
                course_key: COURSE.to_owned(),
                target: Target::Problem(TASK_PROBLEM.to_owned()),
                learner: None,
                score: None,
                requester: "bench".to_owned(),
            },
        )
        .await?;
        // The task runs in a separate worker process, as it would in production, so that its
        // peak memory is the worker's own and not this process's setup.
        let peak_rss_mb = run_worker_process(&db)?;
        let done = store
            .get_task(task.id)
            .await?
            .context("the benchmark task exists")?;
        anyhow::ensure!(
            done.state == coursetasks_store::TaskState::Success && done.attempted == args.modules,
            "benchmark task {} ended {} after {} of {} modules",
            done.id,
            done.state,
            done.attempted,
            args.modules
        );
        let task_seconds = started.elapsed().as_secs_f64();

        let started = Instant::now();
        let rows = sqlx::query(floor_sql)
            .bind(COURSE)
            .bind(Utc::now().to_rfc3339())
            .bind(FLOOR_PROBLEM)
            .execute(&floor)
            .await?
            .rows_affected();
        let floor_seconds = started.elapsed().as_secs_f64();
        anyhow::ensure!(rows == args.modules, "floor touched {rows} rows");

        let figures = TaskFigures {
            operation: name,
            modules: args.modules,
            learners_per_second: args.modules as f64 / task_seconds,
            floor_rows_per_second: args.modules as f64 / floor_seconds,
            slowdown_vs_floor: task_seconds / floor_seconds,
            peak_rss_mb,
        };
        if !args.json {
            outln!(
                "{name:>15}: {} learners/s; floor {} rows/s; {:.2}x the floor's time; peak RSS {:.0} MB",
                human_rate(figures.learners_per_second),
                human_rate(figures.floor_rows_per_second),
                figures.slowdown_vs_floor,
                figures.peak_rss_mb
            )?;
        }
        tasks.push(figures);
    }
    if args.json {
        crate::print_json(&Figures {
            grading,
            tasks,
            setup_seconds,
        })?;
    }
    Ok(())
}

fn bench_grading() -> GradingFigures {
    let problem = Problem::compile(bench_problem_xml(), BENCH_PROBLEM_ID)
        .expect("the benchmark problem compiles");
    let answers = bench_answers(64);
    let texts: Vec<String> = answers
        .iter()
        .map(|a| serde_json::to_string(a).expect("answers serialize"))
        .collect();
    let rounds = 50_000u64;
    // Warm up, then measure.
    for a in &answers {
        std::hint::black_box(problem.grade(a, 1).expect("benchmark answers grade"));
    }
    let started = Instant::now();
    for i in 0..rounds {
        let a = &answers[(i % answers.len() as u64) as usize];
        std::hint::black_box(problem.grade(a, 1).expect("benchmark answers grade"));
    }
    let grading_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for i in 0..rounds {
        let t = &texts[(i % texts.len() as u64) as usize];
        std::hint::black_box(
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(t)
                .expect("answers parse"),
        );
    }
    let baseline_seconds = started.elapsed().as_secs_f64();
    let input_gradings_per_second = (rounds * BENCH_INPUTS as u64) as f64 / grading_seconds;
    let baseline = rounds as f64 / baseline_seconds;
    GradingFigures {
        gradings: rounds * BENCH_INPUTS as u64,
        input_gradings_per_second,
        baseline_json_parses_per_second: baseline,
        ratio_to_baseline: input_gradings_per_second / baseline,
    }
}

/// N learners, each with a graded module on the task problem and on the floor problem.
pub(crate) async fn load(store: &Store, n: u64) -> Result<()> {
    let root = "block-v1:Bench+B1+2026+type@course+block@course";
    let block = |key: &str, kind: &str, parent: Option<&str>| BlockRecord {
        usage_key: key.to_owned(),
        course_key: COURSE.to_owned(),
        block_type: kind.to_owned(),
        parent_key: parent.map(str::to_owned),
        display_name: kind.to_owned(),
        position: 0,
        settings: json!({}),
        legacy_key: None,
    };
    let xml = bench_problem_xml();
    store
        .import_course_atomically(
            &CourseRecord {
                key: COURSE.to_owned(),
                display_name: "Benchmark".to_owned(),
                created: Utc::now(),
            },
            &[
                block(root, "course", None),
                block(TASK_PROBLEM, "problem", Some(root)),
                block(FLOOR_PROBLEM, "problem", Some(root)),
            ],
            &[TASK_PROBLEM, FLOOR_PROBLEM].map(|k| NewProblemVersion {
                usage_key: k.to_owned(),
                xml: xml.to_owned(),
                content_hash: coursetasks_olx::content_hash(xml),
            }),
        )
        .await?;

    // A pool of realistic states, graded once, reused round-robin.
    let problem = Problem::compile(xml, BENCH_PROBLEM_ID)?;
    let states: Vec<(String, f64, f64)> = bench_answers(64)
        .into_iter()
        .enumerate()
        .map(|(i, answers)| {
            let grade = problem.grade(&answers, 1).expect("benchmark answers grade");
            let state = json!({
                "attempts": 1 + i % 3,
                "seed": 1,
                "done": true,
                "has_saved_answers": false,
                "last_submission_time": "2026-11-20T10:00:00Z",
                "student_answers": answers,
                "correct_map": grade.correct_map_json(),
                "input_state": {"bench_2_1": {}, "bench_3_1": {}, "bench_4_1": {}, "bench_5_1": {}},
                "score": {"raw_earned": grade.score, "raw_possible": grade.total},
            });
            (state.to_string(), grade.score, grade.total)
        })
        .collect();

    const BATCH: u64 = 20_000;
    let mut next = 1u64;
    while next <= n {
        let end = (next + BATCH - 1).min(n);
        let learners: Vec<LearnerRecord> = (next..=end)
            .map(|i| LearnerRecord {
                id: i as i64,
                username: format!("learner{i}"),
                email: format!("learner{i}@bench.example"),
            })
            .collect();
        store.upsert_learners(&learners).await?;
        let mut modules = Vec::with_capacity(2 * learners.len());
        for problem_key in [TASK_PROBLEM, FLOOR_PROBLEM] {
            for i in next..=end {
                let (state, score, total) = &states[(i % states.len() as u64) as usize];
                modules.push(NewModule {
                    learner_id: i as i64,
                    course_key: COURSE.to_owned(),
                    usage_key: problem_key.to_owned(),
                    module_type: "problem".to_owned(),
                    state: Some(state.clone()),
                    grade: Some(*score),
                    max_grade: Some(*total),
                });
            }
        }
        store.insert_modules(&modules).await?;
        next = end + 1;
    }
    Ok(())
}

/// Runs `coursetasks worker --exit-when-idle` on `db` with the worker's default settings (as an
/// operator would start it: two task loops, which share the task's subtasks) and returns its
/// peak RSS in MB, sampled from the kernel's high-water mark (`VmHWM`) while it runs (0 where
/// the kernel does not tell).
fn run_worker_process(db: &str) -> Result<f64> {
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(["worker", "--exit-when-idle", "--db", db])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("starting the benchmark worker process")?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_mb = 0.0f64;
    loop {
        peak_mb = peak_mb.max(vm_hwm_mb(&status_file));
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                anyhow::bail!("the benchmark worker failed ({status}): {}", stderr.trim());
            }
            return Ok(peak_mb);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A fresh temporary folder for benchmark databases, in `--dir` when given (removed on drop).
pub(crate) fn bench_dir(args: &BenchArgs) -> Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("coursetasks-bench");
    Ok(match &args.dir {
        Some(d) => builder.tempdir_in(d)?,
        None => builder.tempdir()?,
    })
}

/// Resets the kernel's peak-RSS counter for this process (Linux: `clear_refs` value 5).
pub(crate) fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set size of this process since the last reset, in MB (0 where the kernel does
/// not tell).
pub(crate) fn peak_rss_mb() -> f64 {
    vm_hwm_mb("/proc/self/status")
}

/// The `VmHWM` (peak resident set) line of a `/proc/<pid>/status` file, in MB; 0 if unreadable.
fn vm_hwm_mb(status_file: &str) -> f64 {
    std::fs::read_to_string(status_file)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
