//! The per-learner operations: what one task does to one learner module.
//!
//! [`apply`] is the hot path. It reads the state once (see `state.rs`), regrades when rescoring, and
//! returns the new state text, the new grade columns, the outcome with its reason, and the tracking
//! event — or a [`TaskError`] when the whole task must stop.
//!
//! # Deliberate differences from upstream
//!
//! * **Fresh `correct_map` on rescore.** Upstream merges the regraded map into the stored one, so entries
//!   for inputs that no longer exist (the instructor removed or renumbered them) survive and keep
//!   counting in later score and `success` computations, and the stored map can disagree with the
//!   stored score. Here the stored map is replaced by exactly the entries the current definition grades.
//! * **Rescore writes `score`.** Upstream's `rescore()` publishes the new grade but never updates the
//!   block's persisted `score` field, leaving `state.score` and the grade columns disagreeing. Here both
//!   are written.
//! * **Not-higher rescores write nothing.** Upstream saves the recomputed `correct_map` while keeping the
//!   old score; here the learner is skipped with a reason and the module is left untouched (no event).
//! * **Per-learner reasons.** Every skip and failure carries a [`SkipReason`]/[`FailReason`].
//! * **Error classes.** A learner's unreadable state or uninterpretable answer fails that learner only.
//!   A problem that cannot be rescored, a broken definition (`ProblemDefinition`) and internal errors end
//!   the task (upstream counts `LoncapaProblemError` as *succeeded* in current code, and failed each
//!   learner in 2020 code): the definition is compiled once and shared by every learner, so the same
//!   error would repeat for each of them and nothing useful could be written — stopping at once, with
//!   the learner and the message in the error context, is the actionable outcome. The counts reached so
//!   far are kept by the caller.
//! * **Histories.** `correct_map_history`/`score_history` (the per-problem grading-method feature) are
//!   left as they are: the regrade is of the latest `student_answers`, like upstream's legacy path.
//! * **Events.** `problem_delete_state` carries the deleted `state` (upstream: `{}`), so the data is not
//!   lost from the audit trail. A not-higher rescore emits no `problem_rescore` event (nothing changed).
//!   Override emits `edx.grades.problem.score_overridden` with the grades app's payload.

use crate::error::{ErrorKind, TaskError};
use crate::input::validate_override;
use crate::kind::TaskKind;
use crate::pyjson::{ObjectWriter, num_text, push_num, push_str_lit};
use crate::state::{self, Answers, Edit, ReadError, StateView};
use coursetasks_capa::{Grade, GradingErrorKind, Problem, weighted_score};
use serde_json::{Map, Value};
use std::fmt;

/// One learner module as stored (`StudentModule`).
#[derive(Debug, Clone, Copy)]
pub struct ModuleInput<'a> {
    /// Row id; `None` when the learner has no module yet (override creates one).
    pub module_id: Option<i64>,
    /// The learner's user id.
    pub learner_id: i64,
    /// The learner's username (goes into events as `student`).
    pub username: &'a str,
    /// The `state` column: capa's JSON text, possibly null or empty.
    pub state: Option<&'a str>,
    /// The `grade` column (raw earned).
    pub grade: Option<f64>,
    /// The `max_grade` column (raw possible).
    pub max_grade: Option<f64>,
}

/// What to do to each module.
#[derive(Clone, Copy)]
pub enum Operation<'p> {
    /// Regrade the stored answers against `problem` (compiled once per task).
    Rescore {
        /// The compiled problem.
        problem: &'p Problem,
        /// Keep the old grade unless the new percentage is at least as high.
        only_if_higher: bool,
    },
    /// Set `attempts` to 0.
    ResetAttempts,
    /// Delete the module.
    DeleteState,
    /// Set the score by hand.
    OverrideScore {
        /// Weighted score as the instructor typed it.
        score: f64,
        /// The problem's maximum (raw) score, `block.max_score()`.
        max_score: f64,
        /// The block's weight (`None` counts as 1).
        weight: Option<f64>,
    },
}

impl fmt::Debug for Operation<'_> {
    // By hand: the compiled problem is opaque and need not implement Debug.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::Rescore { only_if_higher, .. } => f
                .debug_struct("Rescore")
                .field("only_if_higher", only_if_higher)
                .finish_non_exhaustive(),
            Operation::ResetAttempts => f.write_str("ResetAttempts"),
            Operation::DeleteState => f.write_str("DeleteState"),
            Operation::OverrideScore {
                score,
                max_score,
                weight,
            } => f
                .debug_struct("OverrideScore")
                .field("score", score)
                .field("max_score", max_score)
                .field("weight", weight)
                .finish(),
        }
    }
}

impl Operation<'_> {
    /// The task kind this operation implements.
    pub fn kind(&self) -> TaskKind {
        match self {
            Operation::Rescore {
                only_if_higher: false,
                ..
            } => TaskKind::Rescore,
            Operation::Rescore {
                only_if_higher: true,
                ..
            } => TaskKind::RescoreIfHigher,
            Operation::ResetAttempts => TaskKind::ResetAttempts,
            Operation::DeleteState => TaskKind::DeleteState,
            Operation::OverrideScore { .. } => TaskKind::OverrideScore,
        }
    }
}

/// Per-task data that goes into events.
///
/// For an entrance-exam task, use one context per problem (`usage_key` is the problem's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventContext {
    /// The task id (merged into every payload as `task_id`).
    pub task_id: String,
    /// The requesting instructor as events should name them (Open edX puts the user id in
    /// `instructor_id`).
    pub requester: String,
    /// The course key.
    pub course_key: String,
    /// The problem's usage key (events' `problem_id`, as capa's `str(self.location)`).
    pub usage_key: String,
}

/// A tracking event for one module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingEvent {
    /// `problem_rescore`, `problem_reset_attempts`, `problem_delete_state` or
    /// `edx.grades.problem.score_overridden`.
    pub event_type: &'static str,
    /// The `event` payload as JSON object text (Python `json.dumps` style), with `student` and `task_id`
    /// merged in last, as Open edX's `task_track` does. Kept as text: it is written to storage as is,
    /// and the pre-rescore `state` is embedded without re-parsing it.
    pub payload: String,
}

impl TrackingEvent {
    /// The payload parsed (for inspection; the hot path never needs it).
    pub fn payload_value(&self) -> Value {
        serde_json::from_str(&self.payload).expect("payloads are valid JSON by construction")
    }
}

/// Why a learner was skipped (nothing to do; nothing written).
#[derive(Debug, Clone, PartialEq)]
pub enum SkipReason {
    /// Rescore: the learner never submitted (`done` is not true).
    NotSubmitted,
    /// Reset: `attempts` is absent or 0.
    NoAttempts,
    /// Rescore if higher: the new percentage is below the stored one.
    NotHigher {
        /// New raw earned.
        new_earned: f64,
        /// New raw possible.
        new_possible: f64,
        /// Stored raw earned.
        old_earned: f64,
        /// Stored raw possible.
        old_possible: f64,
    },
    /// Delete: the learner has no module.
    NoModule,
}

impl SkipReason {
    /// A stable machine-readable code.
    pub const fn code(&self) -> &'static str {
        match self {
            SkipReason::NotSubmitted => "not_submitted",
            SkipReason::NoAttempts => "no_attempts",
            SkipReason::NotHigher { .. } => "not_higher",
            SkipReason::NoModule => "no_module",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NotSubmitted => f.write_str("the learner has not submitted an answer"),
            SkipReason::NoAttempts => f.write_str("no attempts to reset"),
            SkipReason::NotHigher {
                new_earned,
                new_possible,
                old_earned,
                old_possible,
            } => write!(
                f,
                "new score {}/{} is lower than current {}/{}",
                num_text(*new_earned),
                num_text(*new_possible),
                num_text(*old_earned),
                num_text(*old_possible)
            ),
            SkipReason::NoModule => f.write_str("the learner has no state to delete"),
        }
    }
}

/// Why one learner failed (the task goes on).
#[derive(Debug, Clone, PartialEq)]
pub enum FailReason {
    /// The state text is not JSON; the parser's message.
    InvalidJson(String),
    /// The state is JSON but not an object.
    StateNotObject,
    /// A field the operation needs has the wrong JSON type.
    InvalidField {
        /// The field name.
        field: &'static str,
        /// What it should be.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// The grading engine could not interpret the learner's answer.
    StudentInput(String),
}

impl FailReason {
    /// A stable machine-readable code.
    pub const fn code(&self) -> &'static str {
        match self {
            FailReason::InvalidJson(_) => "invalid_json",
            FailReason::StateNotObject => "state_not_object",
            FailReason::InvalidField { .. } => "invalid_field",
            FailReason::StudentInput(_) => "student_input",
        }
    }
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailReason::InvalidJson(e) => write!(f, "state is not valid JSON: {e}"),
            FailReason::StateNotObject => f.write_str("state is not a JSON object"),
            FailReason::InvalidField {
                field,
                expected,
                found,
            } => write!(
                f,
                "state field '{field}' should be {expected}, found {found}"
            ),
            FailReason::StudentInput(e) => write!(f, "the answer could not be graded: {e}"),
        }
    }
}

impl From<ReadError> for FailReason {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Syntax(m) => FailReason::InvalidJson(m),
            ReadError::NotObject => FailReason::StateNotObject,
        }
    }
}

/// One learner's outcome; counted by [`crate::Counts::record`].
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The module was changed (or deleted).
    Succeeded,
    /// Nothing to do.
    Skipped(SkipReason),
    /// Could not be processed.
    Failed(FailReason),
}

impl Outcome {
    /// `succeeded`, `skipped` or `failed` (Open edX's update-function statuses).
    pub const fn as_str(&self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Skipped(_) => "skipped",
            Outcome::Failed(_) => "failed",
        }
    }

    /// The reason code, for skips and failures.
    pub const fn code(&self) -> Option<&'static str> {
        match self {
            Outcome::Succeeded => None,
            Outcome::Skipped(r) => Some(r.code()),
            Outcome::Failed(r) => Some(r.code()),
        }
    }

    /// The human-readable reason, for skips and failures.
    pub fn reason(&self) -> Option<String> {
        match self {
            Outcome::Succeeded => None,
            Outcome::Skipped(r) => Some(r.to_string()),
            Outcome::Failed(r) => Some(r.to_string()),
        }
    }
}

/// What to write for the module.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Leave it as it is.
    None,
    /// Write these columns (insert the row when [`ModuleInput::module_id`] is `None`).
    Update {
        /// The new `state` text.
        state: String,
        /// The new `grade` column.
        grade: Option<f64>,
        /// The new `max_grade` column.
        max_grade: Option<f64>,
    },
    /// Delete the row.
    Delete,
}

/// The result of [`apply`] for one module.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleResult {
    /// Succeeded, skipped or failed, with the reason.
    pub outcome: Outcome,
    /// What to write.
    pub change: Change,
    /// The tracking event to record with the change, if any.
    pub event: Option<TrackingEvent>,
    /// `grade` before.
    pub old_grade: Option<f64>,
    /// `max_grade` before.
    pub old_max_grade: Option<f64>,
    /// `grade` after (equal to before when nothing changed; `None` after a delete).
    pub new_grade: Option<f64>,
    /// `max_grade` after.
    pub new_max_grade: Option<f64>,
}

impl ModuleResult {
    fn unchanged(module: &ModuleInput<'_>, outcome: Outcome) -> Self {
        ModuleResult {
            outcome,
            change: Change::None,
            event: None,
            old_grade: module.grade,
            old_max_grade: module.max_grade,
            new_grade: module.grade,
            new_max_grade: module.max_grade,
        }
    }
}

/// Checks once per task that `problem` can be rescored here, as a task error (kind
/// `problem_not_rescorable`, context `element`, `usage_key`). Call it before the loop (and at submit
/// time): [`apply`] does not repeat it per learner.
pub fn check_rescorable(problem: &Problem, usage_key: &str) -> Result<(), TaskError> {
    problem.rescorability().map_err(|n| {
        TaskError::new(ErrorKind::ProblemNotRescorable, n.to_string())
            .with("usage_key", usage_key)
            .with("element", n.element.as_str())
    })
}

/// Applies `op` to one module. `Err` means the whole task must stop (see the module doc for which
/// errors do); everything else is a per-learner [`Outcome`].
pub fn apply(
    op: &Operation<'_>,
    module: &ModuleInput<'_>,
    ctx: &EventContext,
) -> Result<ModuleResult, TaskError> {
    match *op {
        Operation::Rescore {
            problem,
            only_if_higher,
        } => rescore(problem, only_if_higher, module, ctx),
        Operation::ResetAttempts => Ok(reset_attempts(module, ctx)),
        Operation::DeleteState => Ok(delete_state(module, ctx)),
        Operation::OverrideScore {
            score,
            max_score,
            weight,
        } => override_score(score, max_score, weight, module, ctx),
    }
}

fn fatal(
    kind: ErrorKind,
    message: String,
    module: &ModuleInput<'_>,
    ctx: &EventContext,
) -> TaskError {
    TaskError::new(kind, message)
        .with("learner_id", module.learner_id)
        .with("username", module.username)
        .with("module_id", module.module_id)
        .with("usage_key", ctx.usage_key.as_str())
}

/// The JSON type of a raw value, from its first byte (for failure reasons).
fn json_type(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "a list",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// Writes `{"raw_earned": e, "raw_possible": p}`.
fn score_json(earned: f64, possible: f64) -> String {
    let mut s = String::with_capacity(48);
    let mut w = ObjectWriter::new(&mut s);
    w.num("raw_earned", earned).num("raw_possible", possible);
    w.finish();
    s
}

/// Adds the `student` and `task_id` keys every task event carries, and closes the payload.
fn finish_payload(mut w: ObjectWriter<'_>, module: &ModuleInput<'_>, ctx: &EventContext) {
    w.str("student", module.username)
        .str("task_id", &ctx.task_id);
    w.finish();
}

/// Writes the correctness map straight from the grade, in the shape of
/// [`Grade::correct_map_json`] (checked equal by tests) without building an intermediate `Value`.
fn push_correct_map(out: &mut String, grade: &Grade) {
    out.push('{');
    for (i, g) in grade.inputs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_str_lit(out, &g.input_id);
        out.push_str(": {\"correctness\": \"");
        out.push_str(g.correctness.as_str());
        out.push_str("\", \"npoints\": ");
        match g.npoints {
            Some(p) => push_num(out, p),
            None => out.push_str("null"),
        }
        out.push_str(", \"msg\": ");
        push_str_lit(out, &g.msg);
        out.push_str(
            ", \"hint\": \"\", \"hintmode\": null, \"queuestate\": null, \"answervariable\": ",
        );
        match g.answervariable {
            Some(a) => push_str_lit(out, a),
            None => out.push_str("null"),
        }
        out.push('}');
    }
    out.push('}');
}

fn percentage(earned: f64, possible: f64) -> f64 {
    // Open edX's compare_scores with treat_undefined_as_zero: a zero "possible" counts as 0 %.
    if possible != 0.0 {
        earned / possible
    } else {
        0.0
    }
}

fn rescore(
    problem: &Problem,
    only_if_higher: bool,
    module: &ModuleInput<'_>,
    ctx: &EventContext,
) -> Result<ModuleResult, TaskError> {
    let mut view = match state::read(module.state, true) {
        Ok(v) => v,
        Err(e) => return Ok(ModuleResult::unchanged(module, Outcome::Failed(e.into()))),
    };
    if !view.is_done() {
        return Ok(ModuleResult::unchanged(
            module,
            Outcome::Skipped(SkipReason::NotSubmitted),
        ));
    }
    let answers = match std::mem::take(&mut view.answers) {
        Answers::Object(m) => m,
        Answers::Absent => Map::new(),
        Answers::NotObject(found) => {
            return Ok(ModuleResult::unchanged(
                module,
                Outcome::Failed(FailReason::InvalidField {
                    field: "student_answers",
                    expected: "an object",
                    found,
                }),
            ));
        }
    };
    let grade = match problem.grade(&answers, view.seed()) {
        Ok(g) => g,
        Err(e) => {
            let kind = match e.kind {
                GradingErrorKind::StudentInput => {
                    return Ok(ModuleResult::unchanged(
                        module,
                        Outcome::Failed(FailReason::StudentInput(e.message)),
                    ));
                }
                GradingErrorKind::NotRescorable => ErrorKind::ProblemNotRescorable,
                GradingErrorKind::ProblemDefinition => ErrorKind::ProblemDefinition,
                GradingErrorKind::Internal => ErrorKind::Internal,
            };
            return Err(fatal(kind, e.message, module, ctx));
        }
    };
    let (new_earned, new_possible) = (grade.score, grade.total);
    if only_if_higher
        && let (Some(old_earned), Some(old_possible)) = (module.grade, module.max_grade)
        && percentage(new_earned, new_possible) < percentage(old_earned, old_possible)
    {
        return Ok(ModuleResult::unchanged(
            module,
            Outcome::Skipped(SkipReason::NotHigher {
                new_earned,
                new_possible,
                old_earned,
                old_possible,
            }),
        ));
    }

    let mut correct_map = String::with_capacity(grade.inputs.len() * 150 + 2);
    push_correct_map(&mut correct_map, &grade);
    let score = score_json(new_earned, new_possible);
    let new_state = state::splice(
        &view,
        &mut [
            Edit {
                key: "correct_map",
                current: view.correct_map,
                json: &correct_map,
            },
            Edit {
                key: "score",
                current: view.score,
                json: &score,
            },
        ],
    );

    let mut payload = String::with_capacity(view.text.len() + correct_map.len() + 256);
    let mut w = ObjectWriter::new(&mut payload);
    w.raw("state", view.text)
        .str("problem_id", &ctx.usage_key)
        .opt_num("orig_score", module.grade)
        .opt_num("orig_total", module.max_grade)
        .num("new_score", new_earned)
        .num("new_total", new_possible)
        .raw("correct_map", &correct_map)
        .str(
            "success",
            if grade.success {
                "correct"
            } else {
                "incorrect"
            },
        )
        .raw("attempts", view.attempts.map_or("0", |a| a.get()));
    finish_payload(w, module, ctx);

    Ok(ModuleResult {
        outcome: Outcome::Succeeded,
        change: Change::Update {
            state: new_state,
            grade: Some(new_earned),
            max_grade: Some(new_possible),
        },
        event: Some(TrackingEvent {
            event_type: "problem_rescore",
            payload,
        }),
        old_grade: module.grade,
        old_max_grade: module.max_grade,
        new_grade: Some(new_earned),
        new_max_grade: Some(new_possible),
    })
}

fn reset_attempts(module: &ModuleInput<'_>, ctx: &EventContext) -> ModuleResult {
    let view: StateView<'_> = match state::read(module.state, false) {
        Ok(v) => v,
        Err(e) => return ModuleResult::unchanged(module, Outcome::Failed(e.into())),
    };
    let no_attempts = ModuleResult::unchanged(module, Outcome::Skipped(SkipReason::NoAttempts));
    let Some(attempts) = view.attempts else {
        return no_attempts;
    };
    let raw = attempts.get();
    let count = match json_type(raw) {
        "a number" => raw.parse::<f64>().unwrap_or(0.0),
        "null" => return no_attempts,
        found => {
            return ModuleResult::unchanged(
                module,
                Outcome::Failed(FailReason::InvalidField {
                    field: "attempts",
                    expected: "a number",
                    found,
                }),
            );
        }
    };
    if count <= 0.0 {
        return no_attempts;
    }
    let new_state = state::splice(
        &view,
        &mut [Edit {
            key: "attempts",
            current: Some(attempts),
            json: "0",
        }],
    );
    let mut payload = String::with_capacity(64 + module.username.len() + ctx.task_id.len());
    let mut w = ObjectWriter::new(&mut payload);
    w.raw("old_attempts", raw).raw("new_attempts", "0");
    finish_payload(w, module, ctx);
    ModuleResult {
        outcome: Outcome::Succeeded,
        change: Change::Update {
            state: new_state,
            grade: module.grade,
            max_grade: module.max_grade,
        },
        event: Some(TrackingEvent {
            event_type: "problem_reset_attempts",
            payload,
        }),
        ..ModuleResult::unchanged(module, Outcome::Succeeded)
    }
}

fn delete_state(module: &ModuleInput<'_>, ctx: &EventContext) -> ModuleResult {
    if module.module_id.is_none() {
        return ModuleResult::unchanged(module, Outcome::Skipped(SkipReason::NoModule));
    }
    let mut payload = String::with_capacity(
        module.state.map_or(0, str::len) + 64 + module.username.len() + ctx.task_id.len(),
    );
    let mut w = ObjectWriter::new(&mut payload);
    match module.state {
        None => {
            w.raw("state", "null");
        }
        Some(text) if text.trim().is_empty() => {
            w.raw("state", "null");
        }
        // Valid JSON is embedded as is; anything else as a string, so the payload stays JSON and the
        // deleted text is still recorded.
        Some(text) => match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => {
                w.raw("state", text.trim());
            }
            Err(_) => {
                w.str("state", text);
            }
        },
    }
    finish_payload(w, module, ctx);
    ModuleResult {
        outcome: Outcome::Succeeded,
        change: Change::Delete,
        event: Some(TrackingEvent {
            event_type: "problem_delete_state",
            payload,
        }),
        old_grade: module.grade,
        old_max_grade: module.max_grade,
        new_grade: None,
        new_max_grade: None,
    }
}

/// The grades app's event type for overrides.
pub const SCORE_OVERRIDDEN_EVENT: &str = "edx.grades.problem.score_overridden";

fn override_score(
    score: f64,
    max_score: f64,
    weight: Option<f64>,
    module: &ModuleInput<'_>,
    ctx: &EventContext,
) -> Result<ModuleResult, TaskError> {
    let (raw_earned, raw_possible) = validate_override(score, max_score, weight).map_err(|e| {
        let mut e2 = fatal(e.kind, e.message, module, ctx);
        for (k, v) in e.context {
            e2.context.insert(k, v);
        }
        e2
    })?;
    let view = match state::read(module.state, false) {
        Ok(v) => v,
        Err(e) => return Ok(ModuleResult::unchanged(module, Outcome::Failed(e.into()))),
    };
    let score_text = score_json(raw_earned, raw_possible);
    let new_state = state::splice(
        &view,
        &mut [Edit {
            key: "score",
            current: view.score,
            json: &score_text,
        }],
    );
    let (weighted_earned, weighted_possible) = weighted_score(raw_earned, raw_possible, weight);
    let mut payload = String::with_capacity(320);
    let mut w = ObjectWriter::new(&mut payload);
    w.str("course_id", &ctx.course_key)
        .str("user_id", &module.learner_id.to_string())
        .str("problem_id", &ctx.usage_key)
        .num("new_weighted_earned", weighted_earned)
        .num("new_weighted_possible", weighted_possible)
        .raw("only_if_higher", "false")
        .str("instructor_id", &ctx.requester)
        .str("event_transaction_id", &ctx.task_id)
        .str("event_transaction_type", SCORE_OVERRIDDEN_EVENT);
    finish_payload(w, module, ctx);
    Ok(ModuleResult {
        outcome: Outcome::Succeeded,
        change: Change::Update {
            state: new_state,
            grade: Some(raw_earned),
            max_grade: Some(raw_possible),
        },
        event: Some(TrackingEvent {
            event_type: SCORE_OVERRIDDEN_EVENT,
            payload,
        }),
        old_grade: module.grade,
        old_max_grade: module.max_grade,
        new_grade: Some(raw_earned),
        new_max_grade: Some(raw_possible),
    })
}
