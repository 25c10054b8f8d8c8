//! The `coursetasks` binary: wires the grading engine, the task engine and the store behind one
//! command line.

/// `println!` that returns the write's error instead of panicking, so that a reader that goes
/// away (`coursetasks events | head`) ends the command quietly (see `main`).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)
    }};
}

/// `print!` that returns the write's error instead of panicking (see [`outln`]).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout(), $($arg)*)
    }};
}

mod cli;
mod commands;
mod display;

use std::process::ExitCode;

use clap::Parser;
use serde::Serialize;

use crate::cli::{Cli, Command};

/// A failure with an exit code of its own, so scripts can tell bad input from a busy task from a
/// broken database. Anything else exits 1.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    /// Bad arguments or input (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
    /// Input that names something that fails validation (exit 2).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::usage(message)
    }
    /// Something named does not exist (exit 3).
    pub fn not_found(message: impl Into<String>) -> Self {
        Failure {
            code: 3,
            message: message.into(),
        }
    }
    /// An identical task is already queued or running (exit 4).
    pub fn conflict(message: impl Into<String>) -> Self {
        Failure {
            code: 4,
            message: message.into(),
        }
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?)?;
    Ok(())
}

/// Keeps glibc's mmap threshold at its default, 128 KiB, instead of letting it rise.
///
/// Why: glibc raises the threshold to the size of every mmapped block that is freed (up to
/// 32 MiB), and from then on serves blocks below it from its arenas, which keep freed memory.
/// A worker frees a block of a few hundred KB to a few MB per chunk (a packed audit batch, a
/// page of modules), so after the first chunk every such block stayed in the arenas: a
/// million-learner rescore worker peaked at 176-199 MB instead of about 155 MB (`coursetasks
/// bench`, same run otherwise; `MALLOC_MMAP_THRESHOLD_` showed the same). Setting the threshold
/// turns the raising off. Other C libraries have no such knob and need none.
fn pin_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's tuning; it is called before any other thread
    // exists, and a refusal (return value 0) leaves the default behaviour, which is also correct.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

fn main() -> ExitCode {
    pin_mmap_threshold();
    let cli = Cli::parse();
    match &cli.command {
        Command::Serve(args) if args.log_format == cli::LogFormat::Json => init_json_logging(),
        _ => init_logging(),
    }
    let result = match cli.command {
        // The engine commands are synchronous and print their own JSON errors.
        Command::Grade(args) => return commands::engine::grade(args),
        Command::Calc(args) => return commands::engine::calc(args),
        command => run_async(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Whoever read the output stopped reading (`| head`): what they read is complete, and
        // nothing else went wrong.
        Err(error) if is_closed_output(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let code = error.downcast_ref::<Failure>().map_or(1, |f| f.code);
            eprintln!("error: {error:#}");
            ExitCode::from(code)
        }
    }
}

/// Whether `error` is a write to a closed pipe by one of the writers the commands print with.
/// Only such writes fail this way with nothing around them: a broken database connection
/// arrives wrapped in the store's error, and so is not mistaken for it.
fn is_closed_output(error: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    if let Some(io) = error.downcast_ref::<std::io::Error>() {
        return io.kind() == BrokenPipe;
    }
    if let Some(json) = error.downcast_ref::<serde_json::Error>() {
        return json.io_error_kind() == Some(BrokenPipe);
    }
    if let Some(csv) = error.downcast_ref::<csv::Error>() {
        return matches!(csv.kind(), csv::ErrorKind::Io(io) if io.kind() == BrokenPipe);
    }
    if let Some(coursetasks_engine::learner_data::DataError::Write(io)) = error.downcast_ref() {
        return io.kind() == BrokenPipe;
    }
    false
}

fn run_async(command: Command) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match command {
            Command::Init(args) => commands::tasks::init(args).await,
            Command::Submit(args) => commands::tasks::submit_cmd(args).await,
            Command::Status(args) => commands::tasks::status(args).await,
            Command::Tasks(args) => commands::tasks::tasks(args).await,
            Command::Outcomes(args) => commands::tasks::outcomes(args).await,
            Command::Events(args) => commands::tasks::events(args).await,
            Command::Cancel(args) => commands::tasks::cancel(args).await,
            Command::Worker(args) => commands::tasks::worker(args).await,
            Command::Workers(args) => commands::tasks::workers(args).await,
            Command::Fail(args) => commands::tasks::fail(args).await,
            Command::Demo(args) => commands::demo::run(args).await,
            Command::Bench(args) => commands::bench::run(args).await,
            Command::ImportCourse(args) => commands::data::import_course(args).await,
            Command::Problems(args) => commands::data::problems(args).await,
            Command::ImportLearners(args) => commands::data::import_learners(args).await,
            Command::ImportState(args) => commands::data::import_state(args).await,
            Command::ExportState(args) => commands::data::export_state(args).await,
            Command::ExportLearners(args) => commands::data::export_learners(args).await,
            Command::Serve(args) => commands::serve::run(args).await,
            Command::Token(args) => commands::token::run(args).await,
            Command::Grade(_) | Command::Calc(_) => unreachable!("handled synchronously"),
        }
    })
}

/// Logs go to stderr; `RUST_LOG` selects them (default: warnings only, so command output stays
/// clean).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// `serve --log-format json`: one JSON object a line on stderr; `RUST_LOG` selects, by default
/// INFO and up from coursetasks' own crates (the request log among them), warnings otherwise.
fn init_json_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "warn,coursetasks=info,coursetasks_server=info,coursetasks_engine=info",
        )
    });
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
