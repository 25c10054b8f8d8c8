//! Runs coursetasks' bulk tasks: submission with validation and atomic dedup, claiming with
//! leases, chunked and pipelined execution with per-chunk atomic commits, progress reports,
//! cancellation at chunk boundaries, and resumption after a crash.
//!
//! This is the only library crate that knows both the store and the grading engine; it keeps the
//! domain rules in `coursetasks-tasks` and the SQL in `coursetasks-store`.

pub mod catalog;
pub mod history;
pub mod learner_data;
pub mod outcomes;
pub mod plan;
pub mod pool;
pub mod progress;
pub mod runner;
pub mod status;
pub mod submit;

pub use catalog::{
    CourseImport, ProblemChange, ProblemSummary, course_problems, import_course, summarize_problem,
};
pub use history::{TaskQuery, task_filter};
pub use learner_data::{
    BadRow, DataError, DataImportReport, ImportOptions, OpenInput, detect_format, export_learners,
    export_state, import_learners, import_state, open_file,
};
pub use outcomes::{OUTCOME_CSV_HEADER, outcome_csv_record};
pub use plan::{ProblemTarget, TaskPlan, resolve};
pub use pool::{PoolConfig, run_pool};
pub use progress::{NoProgress, ProgressFn, ProgressSink};
pub use runner::{Activity, Worker, WorkerConfig, WorkerError, host_name, resolve_task};
pub use status::TaskView;
pub use submit::{SubmitError, SubmitRequest, submit};
