//! Courses, their problems, and the learners' state for a problem.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use coursetasks_engine::{ProblemSummary, course_problems};
use coursetasks_store::{CourseRecord, ModuleRecord, ModuleScope};
use serde::Serialize;

use super::Page;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};

/// `GET /api/v1/courses`: the courses the caller may see, by key.
pub async fn list_courses(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<CourseRecord>>, ApiError> {
    let courses = state.store.list_courses().await?;
    Ok(Json(
        courses
            .into_iter()
            .filter(|c| caller.sees_course(&c.key))
            .collect(),
    ))
}

/// `GET /api/v1/courses/{course}/problems`: the engine's problem summaries, in tree order.
pub async fn list_problems(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(course): ApiPath<String>,
) -> Result<Json<Vec<ProblemSummary>>, ApiError> {
    caller.check_course(&course)?;
    Ok(Json(course_problems(&state.store, &course).await?))
}

/// A page of learner modules.
#[derive(Debug, Serialize)]
pub struct ModulePage {
    /// The modules, by id.
    pub modules: Vec<ModuleRecord>,
    /// `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

/// `GET /api/v1/courses/{course}/problems/{problem}/learners`: the learners' stored state for
/// one problem (either key form), a keyset page at a time.
pub async fn learner_states(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath((course, problem)): ApiPath<(String, String)>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<ModulePage>, ApiError> {
    caller.check_course(&course)?;
    let limit = page.limit()?;
    let block = state
        .store
        .get_block(&problem)
        .await?
        .filter(|b| b.course_key == course && b.block_type == "problem")
        .ok_or_else(|| ApiError::not_found(format!("no problem {problem} in course {course}")))?;
    let scope = ModuleScope {
        course_key: course,
        usage_keys: vec![block.usage_key],
        ..Default::default()
    };
    let modules = state.store.fetch_modules(&scope, page.after, limit).await?;
    let next_after = page.next_after(modules.len(), modules.last().map(|m| m.id));
    Ok(Json(ModulePage {
        modules,
        next_after,
    }))
}
