//! `coursetasks demo`: the main job, end to end, on a fresh embedded database.
//!
//! 1. Load the project's sample course.
//! 2. Generate synthetic learners with realistic answers and grades.
//! 3. Fix a wrong answer key (a new problem version).
//! 4. Rescore every learner with a live progress bar.
//! 5. Reset one learner's attempts.
//! 6. Delete every learner's state on another problem.
//! 7. Report the tasks, their Open edX status messages, and how grades moved.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use coursetasks_engine::{SubmitRequest, import_course, submit};
use coursetasks_olx::{CourseSource, read_course};
use coursetasks_store::{LearnerRecord, NewModule, OutcomeStatus, Store, TaskFilter, TaskRecord};
use coursetasks_tasks::{Target, TaskKind};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::DemoArgs;
use crate::commands::tasks::{open_store, wait_for};
use crate::display::{LiveProgress, human_duration, human_rate, task_table};
use coursetasks_engine::TaskView;

/// Learners written per transaction while generating.
const GENERATE_BATCH: usize = 5_000;

pub async fn run(args: DemoArgs) -> Result<()> {
    let started = Instant::now();
    prepare_fresh_file(&args.db)?;
    let store = open_store(&args.db).await?;
    // A server database (PostgreSQL) is not the demo's to replace: it must be empty.
    if !store.list_courses().await?.is_empty() || store.count_learners().await? > 0 {
        bail!(
            "{} is not empty; the demo needs a fresh database (for PostgreSQL: CREATE DATABASE a new one and pass its URL)",
            args.db
        );
    }
    outln!(
        "coursetasks demo: fresh {} database {}",
        store.backend_name(),
        args.db
    )?;

    // 1. The sample course.
    let course = read_course(&CourseSource::Files(
        coursetasks_sample::sample_course_files(),
    ))
    .context("reading the embedded sample course")?;
    let import = import_course(&store, &course).await?;
    outln!(
        "\n1. Loaded the sample course {} \"{}\": {} blocks, {} problems",
        import.course_key,
        course.display_name,
        import.report.blocks,
        import.problems.len()
    )?;
    let name_width = import
        .problems
        .iter()
        .map(|p| p.display_name.chars().count())
        .max()
        .unwrap_or(0);
    let types_width = import
        .problems
        .iter()
        .map(|p| p.response_types.join(", ").chars().count())
        .max()
        .unwrap_or(0);
    for p in &import.problems {
        let verdict = match &p.not_rescorable {
            None => "rescorable".to_owned(),
            Some(reason) => format!("NOT rescorable: {reason}"),
        };
        outln!(
            "   - {:<name_width$}  {:<types_width$}  {verdict}",
            p.display_name,
            p.response_types.join(", ")
        )?;
    }

    // 2. Synthetic learners.
    let generated = generate_learners(&store, &course, args.learners, args.seed).await?;
    outln!(
        "\n2. Generated {} learners with {} problem modules (seed {}) in {}",
        args.learners,
        generated.modules,
        args.seed,
        human_duration(generated.seconds)
    )?;

    // 3. Fix the wrong answer key: a new version of the problem.
    let (fixed_key, fixed_xml) = coursetasks_sample::answer_key_fix();
    let version = store
        .put_problem_version(
            &fixed_key,
            &fixed_xml,
            &coursetasks_olx::content_hash(&fixed_xml),
        )
        .await?;
    let fixed_name = store
        .get_block(&fixed_key)
        .await?
        .map(|b| b.display_name)
        .unwrap_or_default();
    outln!(
        "\n3. Fixed the answer key of \"{fixed_name}\" ({fixed_key}): now version {}",
        version.version
    )?;

    // 4. Rescore everyone on it.
    outln!("\n4. Rescoring every learner on \"{fixed_name}\"")?;
    let rescore = run_task(
        &store,
        TaskKind::Rescore,
        &import.course_key,
        &fixed_key,
        None,
    )
    .await?;
    let (up, down, same) = grade_moves(&store, &rescore).await?;
    let view = TaskView::new(&rescore, Utc::now());
    outln!(
        "   {} learners in {} ({} learners/s); grades went up for {up}, down for {down}, unchanged for {same}",
        rescore.attempted,
        human_duration(view.duration_ms.unwrap_or(0) as f64 / 1000.0),
        view.rate_per_second
            .map(human_rate)
            .unwrap_or_else(|| "-".into()),
    )?;

    // 5. Reset one learner's attempts on the fixed problem.
    let learner = first_submitter(&store, &import.course_key, &fixed_key).await?;
    outln!(
        "\n5. Resetting the attempts of {} on \"{fixed_name}\"",
        learner.username
    )?;
    run_task(
        &store,
        TaskKind::ResetAttempts,
        &import.course_key,
        &fixed_key,
        Some(&learner.username),
    )
    .await?;

    // 6. Delete every learner's state on another rescorable problem.
    let other = import
        .problems
        .iter()
        .find(|p| p.usage_key != fixed_key && p.not_rescorable.is_none())
        .context("the sample course has a second rescorable problem")?;
    outln!(
        "\n6. Deleting every learner's state on \"{}\"",
        other.display_name
    )?;
    run_task(
        &store,
        TaskKind::DeleteState,
        &import.course_key,
        &other.usage_key,
        None,
    )
    .await?;

    // 7. Report.
    let tasks = store
        .list_tasks(&TaskFilter {
            course_key: Some(import.course_key.clone()),
            ..Default::default()
        })
        .await?;
    outln!("\n7. Tasks (newest first)\n")?;
    out!("{}", task_table(&tasks, Utc::now()))?;
    outln!("\nFinal status messages:")?;
    for task in tasks.iter().rev() {
        let view = TaskView::new(task, Utc::now());
        outln!("   {:<26} {}", task.task_type, view.message)?;
    }
    outln!(
        "\nRescore of \"{fixed_name}\": {up} learners' grades went up, {down} went down, {same} unchanged."
    )?;
    outln!(
        "\nDone in {}. Explore it: coursetasks tasks --db {} (then status, outcomes --status failed, events --task with a task id)",
        human_duration(started.elapsed().as_secs_f64()),
        args.db
    )?;
    Ok(())
}

/// The demo owns its file: the default path is replaced, any other existing file is refused so a
/// real database is never overwritten by mistake.
fn prepare_fresh_file(db: &str) -> Result<()> {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return Ok(());
    }
    let path = Path::new(db.strip_prefix("sqlite:").unwrap_or(db));
    if path.exists() {
        if db != crate::cli::DEFAULT_DEMO_DB {
            bail!(
                "{db} already exists; the demo creates a fresh database, so give a new path with --db (or remove the file)"
            );
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{}{suffix}", path.display());
            if Path::new(&file).exists() {
                std::fs::remove_file(&file).with_context(|| format!("removing old {file}"))?;
            }
        }
    }
    Ok(())
}

struct Generated {
    modules: u64,
    seconds: f64,
}

async fn generate_learners(
    store: &Store,
    course: &coursetasks_olx::Course,
    learners: u64,
    seed: u64,
) -> Result<Generated> {
    let started = Instant::now();
    let generator = coursetasks_sample::LearnerGenerator::new(course, learners, seed)
        .context("preparing the learner generator")?;
    let bar = ProgressBar::new(learners);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>18} [{bar:40.green/white}] {pos}/{len} {per_sec}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix("learners");
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let course_key = course.key.to_string();
    let mut learner_batch = Vec::with_capacity(GENERATE_BATCH);
    let mut module_batch = Vec::with_capacity(GENERATE_BATCH * 8);
    let mut modules = 0u64;
    for generated in generator {
        let (id, username, email) = generated.learner;
        learner_batch.push(LearnerRecord {
            id,
            username,
            email,
        });
        for m in generated.modules {
            module_batch.push(NewModule {
                learner_id: id,
                course_key: course_key.clone(),
                usage_key: m.usage_key,
                module_type: m.module_type.to_owned(),
                state: Some(m.state),
                grade: m.grade,
                max_grade: m.max_grade,
            });
        }
        if learner_batch.len() == GENERATE_BATCH {
            modules += flush(store, &mut learner_batch, &mut module_batch).await?;
            bar.set_position(bar.position() + GENERATE_BATCH as u64);
        }
    }
    let rest = learner_batch.len() as u64;
    modules += flush(store, &mut learner_batch, &mut module_batch).await?;
    bar.set_position(bar.position() + rest);
    bar.finish_and_clear();
    Ok(Generated {
        modules,
        seconds: started.elapsed().as_secs_f64(),
    })
}

async fn flush(
    store: &Store,
    learners: &mut Vec<LearnerRecord>,
    modules: &mut Vec<NewModule>,
) -> Result<u64> {
    if !learners.is_empty() {
        store.upsert_learners(learners).await?;
    }
    let written = if modules.is_empty() {
        0
    } else {
        store.insert_modules(modules).await?
    };
    learners.clear();
    modules.clear();
    Ok(written)
}

/// Submits a task and runs it here with live progress.
async fn run_task(
    store: &Store,
    kind: TaskKind,
    course_key: &str,
    problem: &str,
    learner: Option<&str>,
) -> Result<TaskRecord> {
    let task = submit(
        store,
        &SubmitRequest {
            kind,
            course_key: course_key.to_owned(),
            target: Target::Problem(problem.to_owned()),
            learner: learner.map(str::to_owned),
            score: None,
            requester: "demo-instructor".to_owned(),
        },
    )
    .await?;
    let done = wait_for(store, task.id, &LiveProgress::new(false)).await?;
    outln!(
        "   {}: {}",
        done.state,
        TaskView::new(&done, Utc::now()).message
    )?;
    Ok(done)
}

/// How many learners' grades went up, down, or stayed, from the task's outcomes.
async fn grade_moves(store: &Store, task: &TaskRecord) -> Result<(u64, u64, u64)> {
    let (mut up, mut down, mut same) = (0, 0, 0);
    let mut after = 0;
    loop {
        let page = store
            .list_outcomes(task.id, Some(OutcomeStatus::Succeeded), after, 10_000)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for o in &page {
            let percent = |g: Option<f64>, m: Option<f64>| match (g, m) {
                (Some(g), Some(m)) if m > 0.0 => g / m,
                _ => 0.0,
            };
            let old = percent(o.old_grade, o.old_max_grade);
            let new = percent(o.new_grade, o.new_max_grade);
            if new > old {
                up += 1;
            } else if new < old {
                down += 1;
            } else {
                same += 1;
            }
        }
    }
    Ok((up, down, same))
}

/// The first learner (by module id) with a graded module on the problem.
async fn first_submitter(store: &Store, course_key: &str, problem: &str) -> Result<LearnerRecord> {
    let scope = coursetasks_store::ModuleScope {
        course_key: course_key.to_owned(),
        usage_keys: vec![problem.to_owned()],
        learner_id: None,
        until_id: None,
    };
    let mut after = 0;
    loop {
        let page = store.fetch_modules(&scope, after, 500).await?;
        let Some(last) = page.last() else {
            bail!("no learner has submitted {problem}");
        };
        after = last.id;
        for module in &page {
            let attempts = module
                .state
                .as_deref()
                .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
                .and_then(|v| v.get("attempts").and_then(|a| a.as_u64()))
                .unwrap_or(0);
            if attempts > 0 {
                return store
                    .get_learner(module.learner_id)
                    .await?
                    .context("a module's learner exists");
            }
        }
    }
}
