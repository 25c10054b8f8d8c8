//! The instructor-task domain of coursetasks, without IO: task kinds and Open edX `task_input`, what
//! each operation does to one learner module's state ([`apply`]), the tracking-event payloads,
//! per-learner outcomes with reasons, counters and the progress dict, structured task errors, and
//! Open edX's exact status-message templates ([`status_message`]).
//!
//! The worker streams modules from storage, calls [`apply`] for each one and commits the
//! [`ModuleResult`]s; nothing here blocks, allocates beyond the result, or touches a database.
//!
//! JSON written by this crate (states, payloads, `task_input`, progress, errors) uses Python's
//! `json.dumps` spelling, so rows stay indistinguishable from rows the LMS wrote.

mod error;
mod input;
mod kind;
mod message;
mod ops;
mod progress;
pub mod pyjson;
mod state;

pub use error::{ErrorKind, MIN_OUTPUT_LEN, OPEN_EDX_OUTPUT_LEN, TaskError};
pub use input::{InputError, TASK_INPUT_MAX_LEN, Target, TaskInput, task_key, validate_override};
pub use kind::{TaskKind, TaskState, UnknownTaskKind};
pub use message::{TaskOutput, status_message, status_message_from_row};
pub use ops::{
    Change, EventContext, FailReason, ModuleInput, ModuleResult, Operation, Outcome,
    SCORE_OVERRIDDEN_EVENT, SkipReason, TrackingEvent, apply, check_rescorable,
};
pub use progress::{Counts, InconsistentCounts, Progress, StatusSummary, summarize};
