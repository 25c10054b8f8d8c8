//! `coursetasks bench --import`: how fast real data comes in.
//!
//! - Course import: reading and storing the Open edX demo course (or, when its folder is not
//!   found, the sample course), best of five.
//! - State import: `import-state` of N `courseware_studentmodule` rows (CSV, synthetic learners
//!   of the sample course with realistic capa state) into a SQLite file, end to end (parse,
//!   validate, batched upserts), with the peak RSS of the import (`VmHWM`, reset before it).
//!   Baseline measured in the same run: the raw-SQL floor, one
//!   `INSERT INTO learner_modules SELECT * FROM` the imported table into a fresh database with the
//!   same schema (the b-tree and index work alone, no parsing or checks).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{TimeZone, Utc};
use coursetasks_engine::{ImportOptions, import_course, import_learners, import_state, open_file};
use coursetasks_exchange::{Format, LearnerRow, ModuleRow, RowWriter};
use coursetasks_olx::{CourseSource, read_course};
use coursetasks_sample::{LearnerGenerator, SAMPLE_COURSE_KEY, sample_course};
use coursetasks_store::Store;
use serde::Serialize;
use sqlx::ConnectOptions;

use super::bench::{bench_dir, peak_rss_mb, reset_peak_rss};
use crate::cli::BenchArgs;
use crate::display::human_rate;

#[derive(Debug, Serialize)]
struct ImportFigures {
    course: String,
    course_blocks: usize,
    course_import_ms: f64,
    rows: u64,
    file_mb: f64,
    learners: u64,
    learners_per_second: f64,
    state_rows_per_second: f64,
    floor_rows_per_second: f64,
    /// Import time over floor time.
    slowdown_vs_floor: f64,
    peak_rss_mb: f64,
}

/// The demo course folder: `COURSETASKS_DEMO_COURSE`, else the shared fixture next to the
/// repository (from the repository root or a crate folder).
fn demo_course() -> Option<PathBuf> {
    let candidates = std::env::var_os("COURSETASKS_DEMO_COURSE")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            ["../shared", "../../../shared"]
                .iter()
                .map(|s| Path::new(s).join("fixtures/openedx-demo-course/demo-course/course")),
        );
    candidates
        .into_iter()
        .find(|p| p.join("course.xml").exists())
}

pub async fn run(args: &BenchArgs) -> Result<()> {
    let dir = bench_dir(args)?;

    // Course import, best of five (each into a fresh database).
    let source = demo_course();
    let (course_name, course_source) = match &source {
        Some(p) => (p.display().to_string(), CourseSource::path(p)),
        None => (
            "the sample course (demo course folder not found; set COURSETASKS_DEMO_COURSE)"
                .to_owned(),
            CourseSource::Files(coursetasks_sample::sample_course_files()),
        ),
    };
    let mut best = f64::MAX;
    let mut blocks = 0;
    for i in 0..5 {
        let store = Store::open(
            dir.path()
                .join(format!("course{i}.db"))
                .to_str()
                .context("UTF-8 path")?,
        )
        .await?;
        let started = Instant::now();
        let course = read_course(&course_source)?;
        import_course(&store, &course).await?;
        best = best.min(started.elapsed().as_secs_f64());
        blocks = course.blocks.len();
    }
    if !args.json {
        outln!(
            "course import: {course_name}: {blocks} blocks in {:.1} ms (best of 5)",
            best * 1e3
        )?;
    }

    // Files: learners and N state rows (not timed).
    let started = Instant::now();
    let (learners_path, state_path, learners) = write_files(dir.path(), args.modules)?;
    let file_mb = std::fs::metadata(&state_path)?.len() as f64 / 1e6;
    if !args.json {
        outln!(
            "files: {} learners, {} state rows ({file_mb:.0} MB CSV) written in {:.1}s",
            learners,
            args.modules,
            started.elapsed().as_secs_f64()
        )?;
    }

    let db = dir.path().join("import.db");
    let db = db.to_str().context("UTF-8 path")?.to_owned();
    let store = Store::open(&db).await?;
    import_course(&store, &sample_course()).await?;
    let started = Instant::now();
    let report = import_learners(
        &store,
        &open_file(&learners_path),
        ImportOptions::new(Format::Csv),
    )
    .await?;
    let learner_seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.bad_rows == 0 && report.written == learners,
        "learner import: {report:?}"
    );

    reset_peak_rss();
    let started = Instant::now();
    let report = import_state(
        &store,
        &open_file(&state_path),
        ImportOptions::new(Format::Csv),
    )
    .await?;
    let state_seconds = started.elapsed().as_secs_f64();
    let peak = peak_rss_mb();
    anyhow::ensure!(
        report.bad_rows == 0 && report.written == args.modules,
        "state import wrote {} of {} rows: {:?}",
        report.written,
        args.modules,
        report.first_bad_rows
    );

    // Floor: the same rows, copied by SQLite alone into a fresh database with the same schema.
    let floor_db = dir.path().join("floor.db");
    let floor_db = floor_db.to_str().context("UTF-8 path")?.to_owned();
    drop(Store::open(&floor_db).await?);
    // The floor's one long statement is expected to be slow; sqlx would warn about it.
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&floor_db)
        .log_slow_statements(tracing::log::LevelFilter::Off, std::time::Duration::MAX);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    for sql in [
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = NORMAL",
        "PRAGMA cache_size = -32768",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await?;
    }
    sqlx::query("ATTACH DATABASE ?1 AS src")
        .bind(&db)
        .execute(&pool)
        .await?;
    sqlx::query("INSERT INTO learners SELECT * FROM src.learners")
        .execute(&pool)
        .await?;
    let started = Instant::now();
    let copied = sqlx::query("INSERT INTO learner_modules SELECT * FROM src.learner_modules")
        .execute(&pool)
        .await?
        .rows_affected();
    let floor_seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(copied == args.modules, "floor copied {copied} rows");
    pool.close().await;

    let figures = ImportFigures {
        course: course_name,
        course_blocks: blocks,
        course_import_ms: best * 1e3,
        rows: args.modules,
        file_mb,
        learners,
        learners_per_second: learners as f64 / learner_seconds,
        state_rows_per_second: args.modules as f64 / state_seconds,
        floor_rows_per_second: args.modules as f64 / floor_seconds,
        slowdown_vs_floor: state_seconds / floor_seconds,
        peak_rss_mb: peak,
    };
    if args.json {
        crate::print_json(&figures)?;
    } else {
        outln!(
            "import-learners: {} learners/s",
            human_rate(figures.learners_per_second)
        )?;
        outln!(
            "import-state: {} rows/s ({} rows in {:.1}s); floor {} rows/s; {:.2}x the floor's time; peak RSS {:.0} MB",
            human_rate(figures.state_rows_per_second),
            args.modules,
            state_seconds,
            human_rate(figures.floor_rows_per_second),
            figures.slowdown_vs_floor,
            figures.peak_rss_mb
        )?;
    }
    Ok(())
}

/// Writes `auth_user.csv` and `studentmodule.csv` with `rows` state rows of synthetic learners.
fn write_files(dir: &Path, rows: u64) -> Result<(PathBuf, PathBuf, u64)> {
    let learners_path = dir.join("auth_user.csv");
    let state_path = dir.join("studentmodule.csv");
    let buffered = |p: &Path| -> Result<std::io::BufWriter<std::fs::File>> {
        Ok(std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(p)?,
        ))
    };
    let mut learners = RowWriter::<LearnerRow, _>::new(buffered(&learners_path)?, Format::Csv)?;
    let mut state = RowWriter::<ModuleRow, _>::new(buffered(&state_path)?, Format::Csv)?;
    let course = sample_course();
    let mut written = 0;
    let mut learner_count = 0;
    // More learners than needed; the loop stops at `rows` modules.
    for generated in LearnerGenerator::new(&course, rows.max(1), 42)? {
        if written == rows {
            break;
        }
        let (id, username, email) = generated.learner;
        learners.write(&LearnerRow {
            id,
            username,
            email,
        })?;
        learner_count += 1;
        for m in generated.modules {
            if written == rows {
                break;
            }
            written += 1;
            let created = Utc
                .timestamp_micros(1_700_000_000_000_000 + (written as i64) * 997_331)
                .single()
                .context("time")?;
            state.write(&ModuleRow {
                id: Some(written as i64),
                module_type: m.module_type.to_owned(),
                module_id: m.usage_key,
                student_id: id,
                state: Some(m.state),
                grade: m.grade,
                max_grade: m.max_grade,
                done: "na".to_owned(),
                created: Some(created),
                modified: Some(created),
                course_id: SAMPLE_COURSE_KEY.to_owned(),
            })?;
        }
    }
    learners.finish()?.flush()?;
    state.finish()?.flush()?;
    anyhow::ensure!(written == rows, "the generator gave only {written} modules");
    Ok((learners_path, state_path, learner_count))
}
