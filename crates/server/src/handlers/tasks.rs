//! Tasks: submit, status (one or several), lists, cancel, per-learner outcomes, events.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use coursetasks_engine::{
    OUTCOME_CSV_HEADER, SubmitRequest, TaskQuery, TaskView, outcome_csv_record, task_filter,
};
use coursetasks_store::{
    CancelOutcome, EventFilter, EventRecord, OutcomeRecord, OutcomeStatus, TaskRecord, TaskState,
};
use coursetasks_tasks::{Target, TaskInput, TaskKind};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::Page;
use crate::AppState;
use crate::auth::{Caller, task_not_found};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};

/// Most ids one multi-status request may name.
pub const MAX_STATUS_IDS: usize = 100;

/// The body of `POST /api/v1/tasks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    /// `rescore`, `rescore-if-higher`, `reset-attempts`, `delete-state`, `override-score` (or
    /// the Open edX `task_type`).
    pub kind: TaskKind,
    /// Course key.
    pub course: String,
    /// A problem's usage key (either form); or give `container`.
    pub problem: Option<String>,
    /// A section or subsection: every scored problem under it.
    pub container: Option<String>,
    /// One learner (username or email); or set `all_learners`.
    pub learner: Option<String>,
    /// Every learner with state for the target.
    #[serde(default)]
    pub all_learners: bool,
    /// The new weighted score, for `override-score` only.
    pub score: Option<f64>,
}

/// Checks the body's shape, the course and the role, then submits through the engine (the
/// same `submit` as the CLI's); the requester is the token's user.
pub(crate) async fn checked_submit(
    state: &AppState,
    caller: &Caller,
    body: SubmitBody,
) -> Result<TaskRecord, ApiError> {
    let target = match (body.problem, body.container) {
        (Some(p), None) => Target::Problem(p),
        (None, Some(c)) => Target::EntranceExam(c),
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of `problem` or `container`",
            ));
        }
    };
    match (&body.learner, body.all_learners) {
        (Some(_), false) | (None, true) => {}
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of `learner` or `all_learners: true`",
            ));
        }
    }
    if body.score.is_some() && body.kind != TaskKind::OverrideScore {
        return Err(ApiError::bad_request(
            "`score` only goes with override-score",
        ));
    }
    // Course first (404, no leak), then the role (403), then the engine's validation (422).
    caller.check_course(&body.course)?;
    caller.check_may_submit(body.kind, body.all_learners)?;
    let request = SubmitRequest {
        kind: body.kind,
        course_key: body.course,
        target,
        learner: body.learner,
        score: body.score,
        requester: caller.token.user.clone(),
    };
    Ok(coursetasks_engine::submit(&state.store, &request).await?)
}

/// `POST /api/v1/tasks`: validates and queues a task. 201 with the task's status and a
/// `Location` header.
pub async fn submit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<SubmitBody>,
) -> Result<Response, ApiError> {
    let task = checked_submit(&state, &caller, body).await?;
    let location = HeaderValue::from_str(&format!("/api/v1/tasks/{}", task.id))
        .expect("a UUID path is a valid header value");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(TaskView::new(&task, Utc::now())),
    )
        .into_response())
}

/// Parses a task id; a malformed one is 400 (it cannot name any task).
fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text.trim())
        .map_err(|e| ApiError::bad_request(format!("{text:?} is not a task id (a UUID): {e}")))
}

/// Loads a task the caller may see; unknown and invisible ids are both 404.
pub(crate) async fn visible_task(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<TaskRecord, ApiError> {
    let id = parse_id(id)?;
    let task = state
        .store
        .get_task(id)
        .await?
        .ok_or_else(|| task_not_found(&id.to_string()))?;
    caller.check_task(&task)?;
    Ok(task)
}

/// The status of one task: the engine's [`TaskView`] plus its subtasks (as `status --json`).
pub(crate) async fn status_value(state: &AppState, task: &TaskRecord) -> Result<Value, ApiError> {
    let subtasks = state.store.list_subtasks(task.id).await?;
    let mut value = serde_json::to_value(TaskView::new(task, Utc::now()))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    value["subtasks"] =
        serde_json::to_value(subtasks).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(value)
}

/// `GET /api/v1/tasks/{id}`.
pub async fn status(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let task = visible_task(&state, &caller, &id).await?;
    Ok(Json(status_value(&state, &task).await?))
}

/// Query of `GET /api/v1/tasks/status`.
#[derive(Debug, Deserialize)]
pub struct StatusesQuery {
    /// Comma-separated task ids.
    pub ids: String,
}

/// `GET /api/v1/tasks/status?ids=a,b`: several tasks at once. Unlike Open edX's view (which
/// reads only the last `task_ids[]` and answers `{}` for unknown ids), every id is answered:
/// found ones under `tasks` (keyed by id, in request order), the others listed in `not_found`.
pub async fn statuses(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<StatusesQuery>,
) -> Result<Json<Value>, ApiError> {
    let mut ids: Vec<Uuid> = Vec::new();
    for text in query
        .ids
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let id = parse_id(text)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return Err(ApiError::bad_request(
            "`ids` must name at least one task id",
        ));
    }
    if ids.len() > MAX_STATUS_IDS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_STATUS_IDS} ids per request, got {}",
            ids.len()
        )));
    }
    let mut tasks = Map::new();
    let mut not_found = Vec::new();
    for id in ids {
        match state.store.get_task(id).await? {
            Some(task) if caller.sees_course(&task.course_key) => {
                tasks.insert(id.to_string(), status_value(&state, &task).await?);
            }
            _ => not_found.push(id.to_string()),
        }
    }
    Ok(Json(json!({"tasks": tasks, "not_found": not_found})))
}

/// Query of `GET /api/v1/tasks`.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Only this course.
    pub course: Option<String>,
    /// Only queued or running tasks.
    #[serde(default)]
    pub running: bool,
    /// Only this state (`QUEUED`, `RUNNING`, `SUCCESS`, `FAILURE`, `REVOKED`).
    pub state: Option<String>,
    /// History of this problem.
    pub problem: Option<String>,
    /// History of this learner (username or email).
    pub learner: Option<String>,
    /// Only this kind of task.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// At most this many (1..=1000, default 50).
    pub limit: Option<u32>,
}

/// `GET /api/v1/tasks`: running tasks or history, newest first, with the CLI's `tasks`
/// filters. A course-bound token lists only its course.
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<TaskView>>, ApiError> {
    let limit = match query.limit {
        None => 50,
        Some(n) if (1..=super::MAX_PAGE).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::bad_request(format!(
                "limit must be between 1 and {}, got {n}",
                super::MAX_PAGE
            )));
        }
    };
    let kind = query
        .kind
        .as_deref()
        .map(str::parse::<TaskKind>)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let states = query
        .state
        .as_deref()
        .map(str::parse::<TaskState>)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    // Another course's records look like no records: an empty list, as for an unknown course.
    let course = match (&caller.token.course_key, query.course) {
        (Some(bound), Some(asked)) if *bound != asked => return Ok(Json(Vec::new())),
        (Some(bound), _) => Some(bound.clone()),
        (None, asked) => asked,
    };
    if let Some(problem) = &query.problem {
        // A problem of a course the caller cannot see answers like an unknown one.
        if let Some(block) = state.store.get_block(problem).await?
            && !caller.sees_course(&block.course_key)
        {
            return Err(ApiError::not_found(format!("no block {problem}")));
        }
    }
    let task_query = TaskQuery {
        course_key: course,
        running: query.running,
        states: states.into_iter().collect(),
        problem: query.problem,
        learner: query.learner,
        kind,
        limit: Some(limit),
    };
    let filter = task_filter(&state.store, &task_query).await?;
    let tasks = state.store.list_tasks(&filter).await?;
    let now = Utc::now();
    Ok(Json(tasks.iter().map(|t| TaskView::new(t, now)).collect()))
}

/// `POST /api/v1/tasks/{id}/cancel`: a queued task is revoked at once, a running one stops at
/// its next chunk; a finished one is left alone. Needs the right to submit that task.
pub async fn cancel(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let (task, outcome) = checked_cancel(&state, &caller, &id).await?;
    let result = match &outcome {
        CancelOutcome::Revoked(_) => "revoked",
        CancelOutcome::Requested(_) => "cancel_requested",
        CancelOutcome::AlreadyFinished(_) => "already_finished",
    };
    Ok(Json(json!({
        "task_id": task.id.to_string(),
        "result": result,
        "task": TaskView::new(outcome.task(), Utc::now()),
    })))
}

/// Cancels a task the caller may see and may submit (the API's and the dashboard's rule).
pub(crate) async fn checked_cancel(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(TaskRecord, CancelOutcome), ApiError> {
    let task = visible_task(state, caller, id).await?;
    let input: TaskInput = serde_json::from_value(task.input.clone()).unwrap_or_default();
    let kind = TaskKind::from_task_type(&task.task_type).ok_or_else(|| {
        ApiError::internal(format!(
            "task {} has an unknown type {}",
            task.id, task.task_type
        ))
    })?;
    caller.check_may_submit(kind, input.student.is_none())?;
    let outcome = state.store.request_cancel(task.id).await?;
    Ok((task, outcome))
}

/// Query of the outcome endpoints.
#[derive(Debug, Default, Deserialize)]
pub struct OutcomesQuery {
    /// Only this status: `succeeded`, `skipped` or `failed`.
    pub status: Option<String>,
    /// Keyset page start.
    #[serde(default)]
    pub after: i64,
    /// Page size.
    pub limit: Option<u32>,
}

impl OutcomesQuery {
    fn status(&self) -> Result<Option<OutcomeStatus>, ApiError> {
        self.status
            .as_deref()
            .map(str::parse::<OutcomeStatus>)
            .transpose()
            .map_err(|e| {
                ApiError::bad_request(format!("{e} (expected succeeded, skipped or failed)"))
            })
    }
}

/// A page of outcomes.
#[derive(Debug, Serialize)]
pub struct OutcomePage {
    /// The outcomes, in id order.
    pub outcomes: Vec<OutcomeRecord>,
    /// `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

/// `GET /api/v1/tasks/{id}/outcomes`: a keyset page of per-learner outcomes.
pub async fn outcomes(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<OutcomesQuery>,
) -> Result<Json<OutcomePage>, ApiError> {
    let task = visible_task(&state, &caller, &id).await?;
    let status = query.status()?;
    let page = Page {
        after: query.after,
        limit: query.limit,
    };
    let outcomes = state
        .store
        .list_outcomes(task.id, status, page.after, page.limit()?)
        .await?;
    let next_after = page.next_after(outcomes.len(), outcomes.last().map(|o| o.id));
    Ok(Json(OutcomePage {
        outcomes,
        next_after,
    }))
}

/// Rows per store page while writing the CSV.
const CSV_PAGE: u32 = 5_000;

/// Writes CSV records into bytes.
fn csv_bytes<I, R>(records: I) -> Result<Vec<u8>, std::io::Error>
where
    I: IntoIterator<Item = R>,
    R: IntoIterator,
    R::Item: AsRef<[u8]>,
{
    let mut writer = csv::Writer::from_writer(Vec::new());
    for record in records {
        writer.write_record(record)?;
    }
    writer
        .into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// `GET /api/v1/tasks/{id}/outcomes.csv`: every outcome (optionally of one status) as a CSV
/// download with the CLI's columns. The body streams page by page, so a million outcomes need
/// no more memory than one page; a store failure after the first page cuts the download short
/// (the status line has gone out by then), which clients see as an incomplete transfer.
pub async fn outcomes_csv(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<OutcomesQuery>,
) -> Result<Response, ApiError> {
    let task = visible_task(&state, &caller, &id).await?;
    let status = query.status()?;
    let header_row =
        csv_bytes([OUTCOME_CSV_HEADER]).map_err(|e| ApiError::internal(e.to_string()))?;
    let store = state.store.clone();
    let task_id = task.id;
    let pages = futures::stream::try_unfold(Some(0i64), move |after| {
        let store = store.clone();
        async move {
            let Some(after) = after else {
                return Ok(None);
            };
            let page = store
                .list_outcomes(task_id, status, after, CSV_PAGE)
                .await
                .map_err(std::io::Error::other)?;
            let Some(last) = page.last() else {
                return Ok(None);
            };
            // A short page is the last one: stop without another query.
            let next = (page.len() == CSV_PAGE as usize).then_some(last.id);
            let bytes = csv_bytes(page.iter().map(outcome_csv_record))?;
            Ok::<_, std::io::Error>(Some((axum::body::Bytes::from(bytes), next)))
        }
    });
    let first = futures::stream::once(async move {
        Ok::<_, std::io::Error>(axum::body::Bytes::from(header_row))
    });
    let body = axum::body::Body::from_stream(futures::StreamExt::chain(first, pages));
    let disposition = format!("attachment; filename=\"outcomes-{}.csv\"", task.id);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// Query of `GET /api/v1/events`.
#[derive(Debug, Default, Deserialize)]
pub struct EventsQuery {
    /// Only this task's events.
    pub task: Option<String>,
    /// Only this course's events.
    pub course: Option<String>,
    /// Keyset page start.
    #[serde(default)]
    pub after: i64,
    /// Page size.
    pub limit: Option<u32>,
}

/// A page of tracking events.
#[derive(Debug, Serialize)]
pub struct EventPage {
    /// The events, in id order.
    pub events: Vec<EventRecord>,
    /// `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

/// `GET /api/v1/events`: tracking events of a task or a course, a keyset page at a time. A
/// course-bound token reads only its course's events.
pub async fn events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<Json<EventPage>, ApiError> {
    let page = Page {
        after: query.after,
        limit: query.limit,
    };
    let limit = page.limit()?;
    let task_id = match &query.task {
        Some(id) => Some(visible_task(&state, &caller, id).await?.id),
        None => None,
    };
    let course_key = match (&caller.token.course_key, query.course) {
        (Some(bound), Some(asked)) if *bound != asked => {
            return Ok(Json(EventPage {
                events: Vec::new(),
                next_after: None,
            }));
        }
        (Some(bound), _) => Some(bound.clone()),
        (None, asked) => asked,
    };
    let filter = EventFilter {
        task_id,
        course_key,
        after_id: page.after,
        limit,
    };
    let events = state.store.list_events(&filter).await?;
    let next_after = page.next_after(events.len(), events.last().map(|e| e.id));
    Ok(Json(EventPage { events, next_after }))
}

/// How often the progress stream reads the task.
pub const PROGRESS_POLL: std::time::Duration = std::time::Duration::from_millis(250);
/// How often an idle progress stream sends a keep-alive comment.
pub const PROGRESS_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// What a progress event changes on: state and counters (not the rate or ETA, which move with
/// the clock alone).
fn progress_key(task: &TaskRecord) -> (TaskState, Option<u64>, [u64; 4], bool) {
    (
        task.state,
        task.total,
        [task.attempted, task.succeeded, task.skipped, task.failed],
        task.cancel_requested,
    )
}

/// `GET /api/v1/tasks/{id}/progress`: server-sent events. The task is read every
/// [`PROGRESS_POLL`]; each time its state or counters differ from the last event (and once at
/// the start), a `data:` event carries its [`TaskView`] as JSON. The stream ends after the
/// event of a final state (SUCCESS, FAILURE, REVOKED); keep-alive comments flow meanwhile. A
/// store error mid-stream ends it with an `error` event (the status line has gone out).
pub async fn progress(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let task = visible_task(&state, &caller, &id).await?;
    struct Poll {
        store: coursetasks_store::Store,
        id: Uuid,
        first: Option<TaskRecord>,
        last: Option<(TaskState, Option<u64>, [u64; 4], bool)>,
        done: bool,
    }
    let start = Poll {
        store: state.store.clone(),
        id: task.id,
        first: Some(task),
        last: None,
        done: false,
    };
    let events = futures::stream::unfold(start, |mut poll| async move {
        if poll.done {
            return None;
        }
        loop {
            let task = match poll.first.take() {
                Some(task) => task,
                None => {
                    tokio::time::sleep(PROGRESS_POLL).await;
                    match poll.store.get_task(poll.id).await {
                        Ok(Some(task)) => task,
                        Ok(None) => return None,
                        Err(e) => {
                            poll.done = true;
                            let event = Event::default().event("error").data(e.to_string());
                            return Some((Ok::<_, std::convert::Infallible>(event), poll));
                        }
                    }
                }
            };
            let key = progress_key(&task);
            if poll.last.as_ref() == Some(&key) {
                continue;
            }
            poll.last = Some(key);
            poll.done = task.state.is_ready();
            let event = match Event::default().json_data(TaskView::new(&task, Utc::now())) {
                Ok(event) => event,
                Err(e) => {
                    poll.done = true;
                    Event::default().event("error").data(e.to_string())
                }
            };
            return Some((Ok(event), poll));
        }
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(PROGRESS_KEEP_ALIVE))
        .into_response())
}
