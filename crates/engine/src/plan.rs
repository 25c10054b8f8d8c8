//! Resolving a task's input into what the runner needs: the problems (compiled once), the learner
//! and the module scope. Submission validates with the same code, so a task that was accepted
//! resolves the same way when it runs (unless the catalog changed in between — then the run fails
//! with the same clear error the submit would have given).

use std::collections::HashMap;
use std::sync::Arc;

use coursetasks_capa::Problem;
use coursetasks_store::{BlockRecord, LearnerRecord, ModuleScope, Store};
use coursetasks_tasks::{ErrorKind, Target, TaskError, TaskInput, TaskKind, check_rescorable};

/// One problem a task works on.
#[derive(Debug)]
pub struct ProblemTarget {
    /// The problem's usage key as stored (`block-v1:` form).
    pub usage_key: String,
    /// The display name, for messages.
    pub display_name: String,
    /// The capa problem id (`html_id`), prefix of its input ids.
    pub html_id: String,
    /// The problem version used (the current one when the task was resolved).
    pub version: i64,
    /// The block's `weight` setting (`None`: each input is worth one point).
    pub weight: Option<f64>,
    /// The compiled problem.
    pub problem: Arc<Problem>,
}

/// Everything the runner needs to apply a task, resolved from its stored input.
#[derive(Debug)]
pub struct TaskPlan {
    /// The operation.
    pub kind: TaskKind,
    /// The stored input.
    pub input: TaskInput,
    /// The course.
    pub course_key: String,
    /// The problems, in tree order.
    pub problems: Vec<ProblemTarget>,
    /// Index into `problems` by usage key (modules carry the key they belong to).
    by_usage_key: HashMap<String, usize>,
    /// The single learner, when the task targets one.
    pub learner: Option<LearnerRecord>,
}

impl TaskPlan {
    /// The modules the task visits.
    pub fn scope(&self) -> ModuleScope {
        ModuleScope {
            course_key: self.course_key.clone(),
            usage_keys: self.problems.iter().map(|p| p.usage_key.clone()).collect(),
            learner_id: self.learner.as_ref().map(|l| l.id),
            until_id: None,
        }
    }

    /// The index in `problems` of the problem a module belongs to.
    pub fn problem_index(&self, usage_key: &str) -> Option<usize> {
        self.by_usage_key.get(usage_key).copied()
    }
}

/// Resolves (and validates) a task input against the store: the course and target must exist,
/// every target problem must compile (and be rescorable, for the rescore kinds), the learner must
/// exist, and an override must be within `[0, max]`.
pub async fn resolve(
    store: &Store,
    kind: TaskKind,
    course_key: &str,
    input: &TaskInput,
) -> Result<TaskPlan, TaskError> {
    input
        .validate(kind)
        .map_err(TaskError::from)
        .map_err(|e| e.with("course_key", course_key))?;
    let course = store
        .get_course(course_key)
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            TaskError::new(
                ErrorKind::ProblemNotFound,
                format!("course {course_key} does not exist"),
            )
            .with("course_key", course_key)
        })?;

    let target = input
        .target()
        .ok_or_else(|| TaskError::new(ErrorKind::InvalidInput, "the task input names no target"))?;
    let blocks = target_blocks(store, &course.key, &target).await?;

    let mut problems = Vec::with_capacity(blocks.len());
    for block in blocks {
        problems.push(compile_target(store, kind, block).await?);
    }

    let learner = match &input.student {
        None => None,
        Some(identifier) => Some(
            store
                .find_learner(identifier)
                .await
                .map_err(internal)?
                .ok_or_else(|| {
                    TaskError::new(
                        ErrorKind::LearnerNotFound,
                        format!("no learner with username or email {identifier:?}"),
                    )
                    .with("student", identifier.as_str())
                })?,
        ),
    };

    if kind == TaskKind::OverrideScore {
        let problem = &problems[0];
        let score = input.score.unwrap_or_default();
        coursetasks_tasks::validate_override(score, problem.problem.max_score(), problem.weight)
            .map_err(|e| e.with("usage_key", problem.usage_key.as_str()))?;
    }

    let by_usage_key = problems
        .iter()
        .enumerate()
        .map(|(i, p)| (p.usage_key.clone(), i))
        .collect();
    Ok(TaskPlan {
        kind,
        input: input.clone(),
        course_key: course.key,
        problems,
        by_usage_key,
        learner,
    })
}

/// The problem blocks a target covers: the problem itself, or every problem under a container.
async fn target_blocks(
    store: &Store,
    course_key: &str,
    target: &Target,
) -> Result<Vec<BlockRecord>, TaskError> {
    let key = match target {
        Target::Problem(k) | Target::EntranceExam(k) => k,
    };
    let block = store
        .get_block(key)
        .await
        .map_err(internal)?
        .filter(|b| b.course_key == course_key)
        .ok_or_else(|| {
            TaskError::new(
                ErrorKind::ProblemNotFound,
                format!("{key} is not a block of course {course_key}"),
            )
            .with("usage_key", key.as_str())
        })?;
    match target {
        Target::Problem(_) if block.block_type == "problem" => Ok(vec![block]),
        Target::Problem(_) => Err(TaskError::new(
            ErrorKind::InvalidInput,
            format!(
                "{key} is a {} block, not a problem; use a container target to cover the problems under it",
                block.block_type
            ),
        )
        .with("usage_key", key.as_str())),
        Target::EntranceExam(_) => {
            let problems = store
                .descendants(&block.usage_key, Some("problem"))
                .await
                .map_err(internal)?;
            if problems.is_empty() {
                return Err(TaskError::new(
                    ErrorKind::ProblemNotFound,
                    format!("{key} ({}) contains no problems", block.display_name),
                )
                .with("usage_key", key.as_str()));
            }
            Ok(problems)
        }
    }
}

/// Compiles the current version of a problem block.
async fn compile_target(
    store: &Store,
    kind: TaskKind,
    block: BlockRecord,
) -> Result<ProblemTarget, TaskError> {
    let version = store
        .current_problem_version(&block.usage_key)
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            TaskError::new(
                ErrorKind::ProblemNotFound,
                format!("problem {} has no stored definition", block.usage_key),
            )
            .with("usage_key", block.usage_key.as_str())
        })?;
    let html_id = coursetasks_olx::parse_usage_key(&block.usage_key)
        .map(|k| k.html_id())
        .map_err(|e| {
            TaskError::new(
                ErrorKind::InvalidInput,
                format!("bad usage key {}: {e}", block.usage_key),
            )
        })?;
    let problem = Problem::compile(&version.xml, &html_id).map_err(|e| {
        TaskError::new(
            ErrorKind::ProblemDefinition,
            format!(
                "problem {} (version {}) cannot be loaded: {}",
                block.usage_key, version.version, e.message
            ),
        )
        .with("usage_key", block.usage_key.as_str())
        .with("version", version.version)
    })?;
    if kind.is_rescore() {
        check_rescorable(&problem, &block.usage_key)?;
    }
    let weight = block_weight(&block);
    Ok(ProblemTarget {
        display_name: block.display_name.clone(),
        usage_key: block.usage_key,
        html_id,
        version: version.version,
        weight,
        problem: Arc::new(problem),
    })
}

/// The `weight` setting of a block: a number, or unset (absent, `null`, or the string "null"
/// that some exports contain).
pub fn block_weight(block: &BlockRecord) -> Option<f64> {
    match block.settings.get("weight") {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

fn internal(e: coursetasks_store::StoreError) -> TaskError {
    TaskError::new(ErrorKind::Internal, format!("storage error: {e}"))
}
