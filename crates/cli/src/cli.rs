//! Command-line interface definition (clap derive). Each subcommand is implemented in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Where the database lives when neither `--db` nor `COURSETASKS_DB` says otherwise: a file in the
/// current directory, so that `init`, `submit`, `worker` and `status` run from one folder share it.
pub const DEFAULT_DB: &str = "coursetasks.db";

/// Task loops of `serve`'s in-process worker unless `--concurrency` says otherwise (and of the
/// server that `bench --serve-load` measures).
pub const DEFAULT_SERVE_CONCURRENCY: usize = 2;

/// The demo's own database file, replaced on every run.
pub const DEFAULT_DEMO_DB: &str = "coursetasks-demo.db";

/// coursetasks: instructor bulk operations on learners' problem state (rescore, reset attempts,
/// delete state, override score), run as tracked, crash-safe background tasks.
#[derive(Debug, Parser)]
#[command(name = "coursetasks", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command that opens the database.
#[derive(Debug, Args, Clone)]
pub struct DbArgs {
    /// The database: a SQLite file path (created when missing) or a `sqlite:` URL.
    #[arg(long, env = "COURSETASKS_DB", default_value = DEFAULT_DB, global = true)]
    pub db: String,
}

/// `--json` for read commands: machine-readable output instead of tables.
#[derive(Debug, Args, Clone, Copy)]
pub struct JsonFlag {
    /// Print JSON instead of a human-readable table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Grade learner answers against a capa problem file and print the correctness map as JSON.
    Grade(GradeArgs),
    /// Evaluate a formula with Open edX's calc semantics and print the value as JSON.
    Calc(CalcArgs),
    /// Create (or migrate) the database.
    Init(InitArgs),
    /// Submit a bulk task (validated first; nothing is created when validation fails).
    Submit(SubmitArgs),
    /// Show one task's state, counts, progress and Open edX status message.
    Status(StatusArgs),
    /// List tasks: a course's running tasks, or the history of a problem, a learner or a task type.
    Tasks(TasksArgs),
    /// Per-learner outcomes of a task (CSV or JSON).
    Outcomes(OutcomesArgs),
    /// Tracking events emitted by tasks, as JSON lines.
    Events(EventsArgs),
    /// Cancel a task: a queued one is revoked at once, a running one stops at its next chunk.
    Cancel(CancelArgs),
    /// Run queued tasks until interrupted (Ctrl-C finishes the current chunk and stops). Any
    /// number of workers, on any number of hosts, may share one database and one task.
    Worker(WorkerArgs),
    /// List the workers that reported recently: host, process, current subtask, last heartbeat.
    Workers(WorkersArgs),
    /// Operator action: mark a queued or running task FAILURE at once (its workers stop at their
    /// next write). Abandoned work needs no such action: expired leases are taken over.
    Fail(FailArgs),
    /// The main job, end to end: sample course, synthetic learners, an answer-key fix and a rescore.
    Demo(DemoArgs),
    /// Measure grading and task throughput against baselines measured in the same run.
    Bench(BenchArgs),
    /// Import an OLX course export (folder or .tar.gz): blocks, settings, a new version of each
    /// changed problem; prints counts, rescorability and what changed.
    ImportCourse(ImportCourseArgs),
    /// A course's problems: usage key, name, response types, max score, weight, rescorability.
    Problems(ProblemsArgs),
    /// Import learners (Open edX auth_user: id, username, email) from CSV or JSON lines.
    ImportLearners(ImportDataArgs),
    /// Import learner state (Open edX courseware_studentmodule rows) from CSV or JSON lines.
    ImportState(ImportDataArgs),
    /// Export a course's learner state (or one problem's) as courseware_studentmodule rows.
    ExportState(ExportStateArgs),
    /// Export all learners as auth_user rows (id, username, email).
    ExportLearners(ExportLearnersArgs),
    /// Serve the HTTP API (JSON under /api/v1) and, unless --no-worker, run tasks in the same
    /// process. Ctrl-C stops accepting, finishes requests in flight and the current chunks.
    Serve(ServeArgs),
    /// Manage API tokens: create (prints the secret once), revoke, list.
    Token(TokenArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Serve the API only; `coursetasks worker` processes run the tasks.
    #[arg(long)]
    pub no_worker: bool,
    /// Tasks the in-process worker runs at once.
    #[arg(long, default_value_t = DEFAULT_SERVE_CONCURRENCY)]
    pub concurrency: usize,
    /// Log lines on stderr: `text` for people, `json` (one object a line, the server's own
    /// messages included, INFO and up unless RUST_LOG says otherwise) for log collectors.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub db: DbArgs,
}

/// How `serve` writes its logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line (tracing-subscriber's JSON formatter).
    Json,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print its secret (shown this once; only its hash is stored).
    Create(TokenCreateArgs),
    /// Revoke a token by id: it authenticates nothing from now on.
    Revoke(TokenRevokeArgs),
    /// List tokens (never their secrets), revoked ones included.
    List(TokenListArgs),
}

/// API roles, after Open edX's course roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Everything.
    Admin,
    /// Every task, for one learner or all.
    Instructor,
    /// Tasks for one learner only (no override), and every read.
    Staff,
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// Who the token is for (recorded as the requester of the tasks it submits).
    #[arg(long)]
    pub user: String,
    /// What it allows.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// Bind it to this course: it sees and touches nothing of any other.
    #[arg(long)]
    pub course: Option<String>,
    #[command(flatten)]
    pub json: JsonFlag,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    /// The token's id (from `token list`).
    pub id: i64,
    #[command(flatten)]
    pub json: JsonFlag,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct TokenListArgs {
    #[command(flatten)]
    pub json: JsonFlag,
    #[command(flatten)]
    pub db: DbArgs,
}

/// Open edX data file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataFormat {
    /// Comma-separated values with a header line.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

#[derive(Debug, Args)]
pub struct ImportCourseArgs {
    /// The exported course: its folder (with course.xml) or the .tar.gz Studio exports.
    pub path: PathBuf,
    #[command(flatten)]
    pub json: JsonFlag,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct ProblemsArgs {
    /// Course key, e.g. course-v1:Org+Course+Run.
    #[arg(long)]
    pub course: String,
    #[command(flatten)]
    pub json: JsonFlag,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct ImportDataArgs {
    /// The file (a .gz name is decompressed while reading).
    pub file: PathBuf,
    /// The file's format (default: from its name, else from its first byte).
    #[arg(long, value_enum)]
    pub format: Option<DataFormat>,
    /// Write nothing unless every row is good (reads the file twice: check, then write).
    #[arg(long)]
    pub strict: bool,
    /// Bad rows listed in full; the rest are counted.
    #[arg(long, default_value_t = 20)]
    pub show_bad: usize,
    #[command(flatten)]
    pub json: JsonFlag,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct ExportStateArgs {
    /// Course key.
    #[arg(long)]
    pub course: String,
    /// Only this problem's state (usage key in either form).
    #[arg(long)]
    pub problem: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct ExportLearnersArgs {
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub db: DbArgs,
}

/// Where an export goes.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Output format (default: from the --output name, else CSV).
    #[arg(long, value_enum)]
    pub format: Option<DataFormat>,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// How `events` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventsFormat {
    /// The stored events as JSON lines.
    Json,
    /// Open edX tracking-log lines (event_type, event, context, username, time, event_source).
    TrackingLog,
}

#[derive(Debug, Args)]
pub struct GradeArgs {
    /// The capa problem XML file.
    #[arg(long)]
    pub problem: PathBuf,
    /// Learner answers: a JSON object mapping full input ids to a string or a list of strings,
    /// or `@PATH` to read it from a file.
    #[arg(long)]
    pub answers: String,
    /// The problem's html id, the prefix of its input ids (`<id>_2_1`, ...).
    #[arg(long, default_value = "1")]
    pub problem_id: String,
    /// The learner's problem seed (used by `$seed` and formula sampling).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct CalcArgs {
    /// The expression, e.g. "2*x^2 + sin(pi/2)".
    pub expression: String,
    /// A variable binding NAME=VALUE (VALUE is itself evaluated); repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Match variable and function names case-sensitively (Open edX's default is insensitive).
    #[arg(long)]
    pub case_sensitive: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub db: DbArgs,
}

/// The task types, with the names instructors type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SubmitKind {
    /// Regrade every learner's stored answers against the current problem definition.
    Rescore,
    /// Like rescore, but only keep a new score that is at least the old one.
    RescoreIfHigher,
    /// Set attempts back to 0 so learners can submit again.
    ResetAttempts,
    /// Delete learners' state for the problem.
    DeleteState,
    /// Set one learner's score by hand.
    OverrideScore,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// What to do.
    #[arg(value_enum)]
    pub kind: SubmitKind,
    /// Course key, e.g. course-v1:Org+Course+Run.
    #[arg(long)]
    pub course: String,
    /// The problem's usage key (block-v1:... or i4x://...).
    #[arg(
        long,
        conflicts_with = "container",
        required_unless_present = "container"
    )]
    pub problem: Option<String>,
    /// A section or subsection: the task covers every scored problem under it.
    #[arg(long)]
    pub container: Option<String>,
    /// One learner, by username or email.
    #[arg(long, conflicts_with = "all", required_unless_present = "all")]
    pub learner: Option<String>,
    /// Every learner with state for the problem.
    #[arg(long)]
    pub all: bool,
    /// The new score (override-score only), in weighted points between 0 and the problem's value.
    #[arg(long)]
    pub score: Option<f64>,
    /// Who asks for the task (recorded on the task and its events).
    #[arg(long, env = "COURSETASKS_REQUESTER", default_value = "cli")]
    pub requester: String,
    /// Run the task in this process right away and show its progress, instead of leaving it to a worker.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub json: JsonFlag,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The task id (UUID).
    pub task: String,
    #[command(flatten)]
    pub json: JsonFlag,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct TasksArgs {
    /// Only tasks of this course.
    #[arg(long)]
    pub course: Option<String>,
    /// Only queued or running tasks.
    #[arg(long)]
    pub running: bool,
    /// History of this problem (all-learner tasks on it, or with --learner that learner's tasks on it).
    #[arg(long)]
    pub problem: Option<String>,
    /// History of this learner (username or email).
    #[arg(long)]
    pub learner: Option<String>,
    /// Only this task type.
    #[arg(long = "type", value_enum)]
    pub kind: Option<SubmitKind>,
    /// At most this many tasks, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[command(flatten)]
    pub json: JsonFlag,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutcomeFilter {
    Succeeded,
    Skipped,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub struct OutcomesArgs {
    /// The task id.
    pub task: String,
    /// Only outcomes with this status.
    #[arg(long, value_enum)]
    pub status: Option<OutcomeFilter>,
    /// Output format (JSON is one object per line).
    #[arg(long, value_enum, default_value = "csv")]
    pub format: TableFormat,
    /// Same as --format json.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events of this task.
    #[arg(long)]
    pub task: Option<String>,
    /// Only events of this course.
    #[arg(long)]
    pub course: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: EventsFormat,
    /// The `host` of tracking-log lines (the instructor's request host; Open edX writes
    /// "unknown" when it is not known).
    #[arg(long, default_value = "unknown")]
    pub host: String,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The task id.
    pub task: String,
    #[command(flatten)]
    pub json: JsonFlag,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct WorkersArgs {
    /// Also list workers whose last heartbeat is older than this many seconds (they are
    /// probably gone); entries older than a day are forgotten.
    #[arg(long, default_value_t = 60)]
    pub stale_after: u64,
    #[command(flatten)]
    pub json: JsonFlag,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct FailArgs {
    /// The task id.
    pub task: String,
    /// Why (recorded as the task's error message).
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub json: JsonFlag,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// How many tasks this process runs at once.
    #[arg(long, default_value_t = 2)]
    pub concurrency: usize,
    /// This worker's name in leases (defaults to host and process id).
    #[arg(long)]
    pub name: Option<String>,
    /// Exit when no task is left instead of waiting for more.
    #[arg(long)]
    pub exit_when_idle: bool,
    /// Most learner modules per chunk; each chunk is one transaction. Chunks of large states
    /// hold fewer, so that a chunk carries about 7 MiB of learner data.
    #[arg(long, default_value_t = 4_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub chunk_size: u32,
    /// Seconds a claimed task stays this worker's without a commit or heartbeat; after that
    /// another worker may take it over (its progress is never lost).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub lease_seconds: u64,
    /// Learner modules per subtask when this worker plans a task: the share of work one worker
    /// claims at a time (a few seconds' worth).
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub subtask_size: u64,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many synthetic learners to generate.
    #[arg(long, default_value_t = 100_000)]
    pub learners: u64,
    /// Seed for the synthetic data; the same seed gives the same run.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The demo's database file. The default file is replaced on every run; any other path must not
    /// exist yet (the demo creates a fresh database and never overwrites one).
    #[arg(long, default_value = DEFAULT_DEMO_DB)]
    pub db: String,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Learner modules in the task benchmarks.
    #[arg(long, default_value_t = 1_000_000)]
    pub modules: u64,
    /// Where to put the benchmark database (a fresh file; removed afterwards).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Only run the grading benchmark.
    #[arg(long)]
    pub grading_only: bool,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
    /// Only the data-import benchmark: demo-course import time, and import-state rows per
    /// second for --modules rows with peak RSS, against the raw-SQL insert of the same rows.
    #[arg(long)]
    pub import: bool,
    /// Only the distributed benchmark, on this PostgreSQL server (`postgres://...`; a fresh
    /// database is created on it for the run and dropped afterwards): a rescore of --modules
    /// learners by each number of --workers processes, next to the raw-SQL floor, and a burst of
    /// --burst one-learner tasks.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// Worker process counts for --postgres.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 2, 4])]
    pub workers: Vec<usize>,
    /// One-learner tasks in the --postgres claim burst (0: skip it).
    #[arg(long, default_value_t = 10_000)]
    pub burst: u64,
    /// Learner modules per subtask for --postgres.
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub subtask_size: u64,
    /// Only the HTTP load benchmark: the API and an in-process worker pool (as `serve` runs
    /// them) on a fresh SQLite file; a rescore of --modules learners submitted over HTTP, first
    /// alone (the baseline), then with --pollers clients polling its status; reports the
    /// pollers' request latencies and errors and the rescore's rate against the baseline.
    #[arg(long)]
    pub serve_load: bool,
    /// Concurrent status pollers for --serve-load, each on its own keep-alive connection.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    pub pollers: u64,
    /// Pause of each --serve-load poller between its requests (0: back to back, the worst
    /// case).
    #[arg(long, default_value_t = 0)]
    pub poll_interval_ms: u64,
}
