//! Course and learner data in and out: import-course, problems, import-learners, import-state,
//! export-state, export-learners.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use coursetasks_engine::{
    CourseImport, DataError, DataImportReport, ImportOptions, ProblemSummary, course_problems,
    detect_format, open_file,
};
use coursetasks_exchange::Format;
use coursetasks_olx::{CourseSource, Warning, read_course};
use coursetasks_store::StoreError;
use serde::Serialize;

use crate::cli::{
    DataFormat, ExportLearnersArgs, ExportStateArgs, ImportCourseArgs, ImportDataArgs, OutputArgs,
    ProblemsArgs,
};
use crate::commands::tasks::open_store;
use crate::{Failure, print_json};

fn format_of(f: DataFormat) -> Format {
    match f {
        DataFormat::Csv => Format::Csv,
        DataFormat::Jsonl => Format::JsonLines,
    }
}

/// Turns the engine's errors into exit codes: bad input 2, unknown names 3.
fn data_failure(e: DataError) -> anyhow::Error {
    match e {
        DataError::File(_) | DataError::Open(_) => Failure::usage(e.to_string()).into(),
        DataError::NotFound(m) => Failure::not_found(m).into(),
        other => other.into(),
    }
}

#[derive(Serialize)]
struct CourseImportView<'a> {
    #[serde(flatten)]
    import: &'a CourseImport,
    display_name: &'a str,
    block_counts: std::collections::BTreeMap<String, usize>,
    warnings: &'a [Warning],
}

pub async fn import_course(args: ImportCourseArgs) -> Result<()> {
    // Read everything before touching the database: malformed OLX stores nothing.
    let course = read_course(&CourseSource::path(&args.path)).map_err(|e| {
        Failure::usage(format!(
            "{e}\nnothing was imported from {}",
            args.path.display()
        ))
    })?;
    let store = open_store(&args.db.db).await?;
    let import = coursetasks_engine::import_course(&store, &course).await?;
    let view = CourseImportView {
        import: &import,
        display_name: &course.display_name,
        block_counts: course.block_counts(),
        warnings: &course.warnings,
    };
    if args.json.json {
        return print_json(&view);
    }
    let r = &import.report;
    outln!(
        "imported {} ({}): {} blocks, {} problems; {} new problem versions, {} unchanged{}",
        import.course_key,
        course.display_name,
        r.blocks,
        import.problems.len(),
        r.versions_created,
        r.versions_unchanged,
        if r.course_created { "; new course" } else { "" }
    )?;
    if r.stale_blocks > 0 {
        outln!(
            "{} stored blocks are no longer in the export (kept)",
            r.stale_blocks
        )?;
    }
    outln!("\nblocks by type:")?;
    for (t, n) in &view.block_counts {
        outln!("  {t:<24} {n:>5}")?;
    }
    outln!("\nproblems by response type:")?;
    for (t, n) in &import.response_type_counts {
        outln!("  {t:<24} {n:>5}")?;
    }
    let rescorable = import
        .problems
        .iter()
        .filter(|p| p.not_rescorable.is_none())
        .count();
    outln!(
        "\nproblems: {rescorable} of {} can be rescored",
        import.problems.len()
    )?;
    print_problems(&import.problems)?;
    if import.changed_problems.is_empty() {
        outln!("\nchanged since the previous import: none")?;
    } else {
        outln!("\nnew problem versions (rescoring uses them; older versions stay readable):")?;
        for c in &import.changed_problems {
            match c.previous_version {
                Some(v) => outln!("  {}  v{v} -> v{}", c.usage_key, c.version)?,
                None => outln!("  {}  new, v{}", c.usage_key, c.version)?,
            }
        }
    }
    if !course.warnings.is_empty() {
        outln!("\nwarnings:")?;
        for w in &course.warnings {
            match &w.location {
                Some(at) => outln!("  {at}: {}", w.message)?,
                None => outln!("  {}", w.message)?,
            }
        }
    }
    Ok(())
}

fn print_problems(problems: &[ProblemSummary]) -> std::io::Result<()> {
    for p in problems {
        let verdict = match &p.not_rescorable {
            None => "rescorable".to_owned(),
            Some(reason) => format!("NOT rescorable: {reason}"),
        };
        let name = if p.display_name.is_empty() {
            "(no name)"
        } else {
            &p.display_name
        };
        outln!(
            "  {}  {name}  [{}] max {} weight {}  {verdict}",
            p.usage_key,
            p.response_types.join(", "),
            p.max_score.map_or("-".to_owned(), |m| m.to_string()),
            p.weight.map_or("-".to_owned(), |w| w.to_string()),
        )?;
    }
    Ok(())
}

pub async fn problems(args: ProblemsArgs) -> Result<()> {
    let store = open_store(&args.db.db).await?;
    let summaries = match course_problems(&store, &args.course).await {
        Ok(summaries) => summaries,
        Err(StoreError::NotFound { .. }) => {
            return Err(
                Failure::not_found(format!("no course {} in this database", args.course)).into(),
            );
        }
        Err(e) => return Err(e.into()),
    };
    if args.json.json {
        return print_json(&summaries);
    }
    outln!("{} problems in {}", summaries.len(), args.course)?;
    print_problems(&summaries)?;
    Ok(())
}

async fn import_data(args: ImportDataArgs, state: bool) -> Result<()> {
    let open = open_file(&args.file);
    let format = detect_format(&args.file, args.format.map(format_of), &open)
        .map_err(|e| Failure::usage(e.to_string()))?;
    let store = open_store(&args.db.db).await?;
    let options = ImportOptions {
        strict: args.strict,
        keep_bad_rows: args.show_bad,
        ..ImportOptions::new(format)
    };
    let report = if state {
        coursetasks_engine::import_state(&store, &open, options).await
    } else {
        coursetasks_engine::import_learners(&store, &open, options).await
    }
    .map_err(data_failure)?;
    if args.json.json {
        print_json(&report)?;
    } else {
        print_report(&args.file, &report)?;
    }
    // Scripts must be able to tell a partial import from a complete one.
    if report.aborted {
        return Err(Failure::invalid(format!(
            "--strict: {} bad rows, nothing was written",
            report.bad_rows
        ))
        .into());
    }
    if report.bad_rows > 0 {
        return Err(Failure::invalid(format!(
            "{} bad rows were not loaded; the {} good rows were",
            report.bad_rows, report.written
        ))
        .into());
    }
    Ok(())
}

fn print_report(file: &Path, r: &DataImportReport) -> std::io::Result<()> {
    outln!(
        "{}: {} rows of {} ({}){}: {} written, {} bad",
        file.display(),
        r.rows,
        r.table,
        r.format,
        if r.strict { ", strict" } else { "" },
        r.written,
        r.bad_rows
    )?;
    for bad in &r.first_bad_rows {
        outln!("  {bad}")?;
    }
    let hidden = r.bad_rows - r.first_bad_rows.len() as u64;
    if hidden > 0 {
        outln!("  ... and {hidden} more bad rows")?;
    }
    Ok(())
}

pub async fn import_learners(args: ImportDataArgs) -> Result<()> {
    import_data(args, false).await
}

pub async fn import_state(args: ImportDataArgs) -> Result<()> {
    import_data(args, true).await
}

/// The output and its format: a file (format from --format, else its name, else CSV) or stdout.
fn output(args: &OutputArgs) -> Result<(Box<dyn Write>, Format)> {
    let path = args.output.as_deref();
    let format = args
        .format
        .map(format_of)
        .or_else(|| path.and_then(Format::from_path))
        .unwrap_or(Format::Csv);
    let out: Box<dyn Write> = match path {
        Some(p) => Box::new(BufWriter::with_capacity(
            1 << 16,
            File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 16, std::io::stdout().lock())),
    };
    Ok((out, format))
}

pub async fn export_state(args: ExportStateArgs) -> Result<()> {
    let store = open_store(&args.db.db).await?;
    // Check the names before creating the output, so a typo does not truncate an existing file.
    if store.get_course(&args.course).await?.is_none() {
        return Err(
            Failure::not_found(format!("no course {} in this database", args.course)).into(),
        );
    }
    if let Some(problem) = &args.problem
        && store
            .get_block(problem)
            .await?
            .is_none_or(|b| b.course_key != args.course)
    {
        return Err(
            Failure::not_found(format!("no block {problem} in course {}", args.course)).into(),
        );
    }
    let (out, format) = output(&args.output)?;
    let rows = coursetasks_engine::export_state(
        &store,
        &args.course,
        args.problem.as_deref(),
        format,
        out,
    )
    .await
    .map_err(data_failure)?;
    if let Some(path) = &args.output.output {
        eprintln!("{rows} rows written to {}", path.display());
    }
    Ok(())
}

pub async fn export_learners(args: ExportLearnersArgs) -> Result<()> {
    let store = open_store(&args.db.db).await?;
    let (out, format) = output(&args.output)?;
    let rows = coursetasks_engine::export_learners(&store, format, out)
        .await
        .map_err(data_failure)?;
    if let Some(path) = &args.output.output {
        eprintln!("{rows} rows written to {}", path.display());
    }
    Ok(())
}
