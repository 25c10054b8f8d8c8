//! Who is calling and what they may do.
//!
//! Every `/api/v1` request carries `Authorization: Bearer <secret>`; the middleware hashes the
//! secret and looks the token up (revoked tokens are not found). Permissions follow Open edX's
//! instructor dashboard:
//!
//! | action | staff | instructor | admin |
//! |---|---|---|---|
//! | read anything of a visible course (tasks, outcomes, events, problems, learners' state) | yes | yes | yes |
//! | rescore, rescore-if-higher, reset attempts, delete state for **one** learner | yes | yes | yes |
//! | the same for **all** learners | no | yes | yes |
//! | override a score | no | yes | yes |
//! | cancel a task | if it may submit that task | yes | yes |
//!
//! A token bound to a course sees only that course, whatever its role. Another course's
//! records answer 404, exactly like records that do not exist, never 403: a 403 would tell the
//! caller that the task id or course exists.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use coursetasks_store::{Role, TaskRecord, TokenRecord};
use coursetasks_tasks::TaskKind;

use crate::AppState;
use crate::error::ApiError;
use crate::tokens::hash_secret;

/// The authenticated caller, put into the request's extensions by [`authenticate`].
#[derive(Debug, Clone)]
pub struct Caller {
    /// The caller's token.
    pub token: TokenRecord,
}

impl Caller {
    /// Whether the caller may see (and so act on) this course at all.
    pub fn sees_course(&self, course_key: &str) -> bool {
        self.token
            .course_key
            .as_deref()
            .is_none_or(|bound| bound == course_key)
    }

    /// Fails with 404 (as for an unknown course) when the caller may not see the course.
    pub fn check_course(&self, course_key: &str) -> Result<(), ApiError> {
        if self.sees_course(course_key) {
            Ok(())
        } else {
            Err(ApiError::not_found(format!("no course {course_key}")))
        }
    }

    /// Fails with 404 (as for an unknown id) when the task is of a course the caller may not
    /// see.
    pub fn check_task(&self, task: &TaskRecord) -> Result<(), ApiError> {
        if self.sees_course(&task.course_key) {
            Ok(())
        } else {
            Err(task_not_found(&task.id.to_string()))
        }
    }

    /// Whether the caller's role may submit (or cancel) a task of `kind`, for all learners or
    /// one. Fails with 403 saying which role is needed.
    pub fn check_may_submit(&self, kind: TaskKind, all_learners: bool) -> Result<(), ApiError> {
        match self.token.role {
            Role::Admin | Role::Instructor => Ok(()),
            Role::Staff if kind == TaskKind::OverrideScore => Err(ApiError::forbidden(
                "overriding a score needs an instructor; this token is course staff",
            )),
            Role::Staff if all_learners => Err(ApiError::forbidden(format!(
                "{} for all learners needs an instructor; course staff may act for one learner only",
                kind.cli_name()
            ))),
            Role::Staff => Ok(()),
        }
    }
}

/// The 404 for a task id that does not exist or that the caller may not see.
pub fn task_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("no task {id}"))
}

/// The cookie that holds the dashboard's token (HttpOnly, SameSite=Strict).
pub const TOKEN_COOKIE: &str = "coursetasks_token";

/// The token secret of a `Cookie` header's [`TOKEN_COOKIE`], if any.
pub fn cookie_secret(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == TOKEN_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// Looks a secret up (hashed; revoked tokens are not found): the one authentication rule of
/// the API and the dashboard.
pub async fn caller_for_secret(state: &AppState, secret: &str) -> Result<Caller, ApiError> {
    let token = state
        .store
        .find_token(&hash_secret(secret))
        .await?
        // One message for unknown and revoked: the caller learns nothing about other tokens.
        .ok_or_else(|| ApiError::unauthenticated("unknown or revoked token"))?;
    Ok(Caller { token })
}

/// Middleware: authenticates the bearer token and stores the [`Caller`], or answers 401.
/// Without an `Authorization` header, a `GET` may carry the dashboard's cookie instead (the
/// browser's `EventSource` cannot set headers); writes need the header, so a cookie alone
/// never changes anything through `/api/v1`.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let secret = match request.headers().get(AUTHORIZATION) {
        None => match cookie_secret(request.headers()) {
            Some(secret) if request.method() == axum::http::Method::GET => secret,
            _ => {
                return Err(ApiError::unauthenticated(
                    "missing Authorization header (expected: Bearer <token>)",
                ));
            }
        },
        Some(header) => {
            let header = header
                .to_str()
                .map_err(|_| ApiError::unauthenticated("the Authorization header is not text"))?;
            header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    ApiError::unauthenticated("the Authorization header must be `Bearer <token>`")
                })?
                .to_owned()
        }
    };
    let caller = caller_for_secret(&state, &secret).await?;
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}
