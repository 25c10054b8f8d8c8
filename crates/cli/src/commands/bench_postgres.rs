//! `coursetasks bench --postgres URL`: the distributed figures, on a fresh database created on
//! that server for the run (and dropped afterwards).
//!
//! - Scaling: a rescore of N learner modules run by 1, 2 and 4 `coursetasks worker` processes
//!   sharing the task's subtasks, each next to the raw-SQL floor measured on the same database
//!   just before it: one `UPDATE ... SET state = jsonb_set(...)` over the same number of rows.
//! - Claims: a burst of one-learner tasks (reset attempts, each its own task), submitted through
//!   the normal validation, then planned and run by the workers: tasks (= subtasks) per second.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use coursetasks_engine::{SubmitRequest, submit};
use coursetasks_store::{Store, TaskFilter, TaskState, redact_url, url_with_database};
use coursetasks_tasks::{Target, TaskKind};
use serde::Serialize;
use sqlx::ConnectOptions;

use super::bench::{COURSE, FLOOR_PROBLEM, TASK_PROBLEM, load};
use crate::cli::BenchArgs;
use crate::display::human_rate;

#[derive(Debug, Serialize)]
struct ScalingPoint {
    workers: usize,
    modules: u64,
    subtasks: u32,
    seconds: f64,
    learners_per_second: f64,
    floor_rows_per_second: f64,
    /// Task time over the floor's time (1.0 = as fast as one bare SQL statement).
    slowdown_vs_floor: f64,
    /// Learners per second over the one-worker figure of the same run.
    speedup_vs_one_worker: f64,
}

#[derive(Debug, Serialize)]
struct BurstFigures {
    tasks: u64,
    workers: usize,
    submits_per_second: f64,
    /// Tasks planned, their one subtask claimed, run and finished, per second.
    subtasks_per_second: f64,
}

#[derive(Debug, Serialize)]
struct Figures {
    server: String,
    setup_seconds: f64,
    scaling: Vec<ScalingPoint>,
    burst: Option<BurstFigures>,
}

/// Runs the PostgreSQL benchmark on `server` (a `postgres://` URL whose database is used only to
/// create and drop the benchmark's own).
pub async fn run(args: &BenchArgs, server: &str) -> Result<()> {
    let name = format!("coursetasks_bench_{}", std::process::id());
    let db = url_with_database(server, &name);
    let mut admin = <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(server)?
        .log_statements(tracing::log::LevelFilter::Off)
        .connect()
        .await
        .with_context(|| format!("connecting to {}", redact_url(server)))?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .context("creating the benchmark database")?;
    let result = run_on(args, &db).await;
    let dropped = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await;
    let figures = result?;
    dropped.context("dropping the benchmark database")?;
    if args.json {
        crate::print_json(&figures)?;
    }
    Ok(())
}

async fn run_on(args: &BenchArgs, db: &str) -> Result<Figures> {
    let store = Store::open(db).await?;
    ensure!(store.backend_name() == "postgres", "not a PostgreSQL URL");
    let setup = Instant::now();
    load(&store, args.modules).await?;
    let setup_seconds = setup.elapsed().as_secs_f64();
    if !args.json {
        outln!(
            "setup: {} learners, {} modules in {:.1}s (PostgreSQL)",
            args.modules,
            2 * args.modules,
            setup_seconds
        )?;
    }
    // Floors are slow by design; sqlx would log each as a slow statement.
    let floor = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(
            <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(db)?
                .log_slow_statements(tracing::log::LevelFilter::Off, Duration::MAX),
        )
        .await?;

    let mut scaling: Vec<ScalingPoint> = Vec::new();
    for &workers in &args.workers {
        let started = Instant::now();
        let rows = sqlx::query(
            "UPDATE learner_modules \
             SET state = jsonb_set(state::jsonb, '{score,raw_earned}', to_jsonb(grade))::text, \
                 modified = now() \
             WHERE course_key = $1 AND usage_key = $2",
        )
        .bind(COURSE)
        .bind(FLOOR_PROBLEM)
        .execute(&floor)
        .await?
        .rows_affected();
        let floor_seconds = started.elapsed().as_secs_f64();
        ensure!(rows == args.modules, "floor touched {rows} rows");

        let started = Instant::now();
        let task = submit(
            &store,
            &SubmitRequest {
                kind: TaskKind::Rescore,
                course_key: COURSE.to_owned(),
                target: Target::Problem(TASK_PROBLEM.to_owned()),
                learner: None,
                score: None,
                requester: "bench".to_owned(),
            },
        )
        .await?;
        run_workers(db, workers, args.subtask_size)?;
        let seconds = started.elapsed().as_secs_f64();
        let done = store.get_task(task.id).await?.context("the task exists")?;
        ensure!(
            done.state == TaskState::Success && done.attempted == args.modules,
            "benchmark task {} ended {} after {} of {} modules",
            done.id,
            done.state,
            done.attempted,
            args.modules
        );
        let learners_per_second = args.modules as f64 / seconds;
        let one = scaling
            .first()
            .map_or(learners_per_second, |p| p.learners_per_second);
        let point = ScalingPoint {
            workers,
            modules: args.modules,
            subtasks: done.subtasks,
            seconds,
            learners_per_second,
            floor_rows_per_second: args.modules as f64 / floor_seconds,
            slowdown_vs_floor: seconds / floor_seconds,
            speedup_vs_one_worker: learners_per_second / one,
        };
        if !args.json {
            outln!(
                "rescore, {workers} worker{}: {} learners/s ({} subtasks); floor {} rows/s; {:.2}x the floor's time; {:.2}x one worker",
                if workers == 1 { "" } else { "s" },
                human_rate(point.learners_per_second),
                point.subtasks,
                human_rate(point.floor_rows_per_second),
                point.slowdown_vs_floor,
                point.speedup_vs_one_worker
            )?;
        }
        scaling.push(point);
    }

    let burst = if args.burst > 0 {
        Some(burst(&store, db, args).await?)
    } else {
        None
    };
    Ok(Figures {
        server: redact_url(db),
        setup_seconds,
        scaling,
        burst,
    })
}

/// Submits `args.burst` one-learner reset tasks, then lets the largest worker count run them.
async fn burst(store: &Store, db: &str, args: &BenchArgs) -> Result<BurstFigures> {
    let tasks = args.burst.min(args.modules);
    let workers = args.workers.iter().copied().max().unwrap_or(1);
    let started = Instant::now();
    for i in 1..=tasks {
        submit(
            store,
            &SubmitRequest {
                kind: TaskKind::ResetAttempts,
                course_key: COURSE.to_owned(),
                target: Target::Problem(TASK_PROBLEM.to_owned()),
                learner: Some(format!("learner{i}")),
                score: None,
                requester: "bench".to_owned(),
            },
        )
        .await?;
    }
    let submit_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    run_workers(db, workers, args.subtask_size)?;
    let run_seconds = started.elapsed().as_secs_f64();
    let left = store
        .list_tasks(&TaskFilter {
            states: vec![TaskState::Queued, TaskState::Running, TaskState::Failure],
            limit: Some(1),
            ..Default::default()
        })
        .await?;
    ensure!(
        left.is_empty(),
        "a burst task did not succeed: {:?}",
        left[0].id
    );
    let figures = BurstFigures {
        tasks,
        workers,
        submits_per_second: tasks as f64 / submit_seconds,
        subtasks_per_second: tasks as f64 / run_seconds,
    };
    if !args.json {
        outln!(
            "burst of {tasks} one-learner tasks: {} submits/s; {} tasks planned and run per second by {workers} workers",
            human_rate(figures.submits_per_second),
            human_rate(figures.subtasks_per_second)
        )?;
    }
    Ok(figures)
}

/// Runs `n` worker processes (one task loop each) until no work is left.
fn run_workers(db: &str, n: usize, subtask_size: u64) -> Result<()> {
    let subtask_size = subtask_size.to_string();
    let mut children = Vec::new();
    for i in 0..n {
        let child = std::process::Command::new(std::env::current_exe()?)
            .args([
                "worker",
                "--exit-when-idle",
                "--concurrency",
                "1",
                "--subtask-size",
                &subtask_size,
                "--name",
                &format!("bench-{i}"),
                "--db",
                db,
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .context("starting a benchmark worker process")?;
        children.push(child);
    }
    for child in children {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "a benchmark worker failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }
    Ok(())
}
