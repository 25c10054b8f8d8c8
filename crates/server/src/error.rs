//! The API's one error shape: `{"error": {"code": "...", "message": "..."}}` with a status code.
//! Codes are stable (clients branch on them); messages are for people and may change.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use coursetasks_engine::SubmitError;
use coursetasks_store::StoreError;
use serde_json::{Map, Value, json};

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`not_found`, `already_running`, ...).
    pub code: &'static str,
    /// What went wrong, in words.
    pub message: String,
    /// Further fields of the error object (e.g. the running task's id for `already_running`).
    pub details: Map<String, Value>,
}

impl ApiError {
    /// An error with no further fields.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Map::new(),
        }
    }

    /// 400 `bad_request`: the request is malformed (syntax, missing or conflicting fields).
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401 `unauthenticated`: no token, an unknown one or a revoked one.
    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 403 `forbidden`: the token's role does not allow this action.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 `not_found`: unknown — or, for a course-bound token, another course's — record.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 500 `internal`: the store failed; the message says where.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// Adds a field to the error object.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> ApiError {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, "{}", self.message);
        }
        let mut error = Map::new();
        error.insert("code".into(), self.code.into());
        error.insert("message".into(), self.message.into());
        error.extend(self.details);
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::NotFound { what, key } => ApiError::not_found(format!("no {what} {key}")),
            StoreError::Invalid { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                error.to_string(),
            ),
            // Outages are retried by clients that see 503; other failures are ours.
            e if e.is_transient() => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("the database is unavailable: {e}"),
            ),
            e => ApiError::internal(e.to_string()),
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(error: SubmitError) -> ApiError {
        match error {
            // 409 names the task that blocks the submission, so a client can follow it instead.
            SubmitError::AlreadyRunning { ref existing } => {
                let id = existing.id.to_string();
                ApiError::new(StatusCode::CONFLICT, "already_running", error.to_string())
                    .with("task_id", id)
            }
            // Well-formed but refused by validation (unknown problem or learner, not
            // rescorable, score out of range): 422 with the engine's error kind as the code.
            SubmitError::Invalid(e) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                e.kind.as_str(),
                format!("task not created: {}", e.message),
            ),
            SubmitError::Store(e) => e.into(),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        ApiError::bad_request(format!("invalid JSON body: {}", rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> ApiError {
        ApiError::bad_request(format!("invalid query: {}", rejection.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> ApiError {
        ApiError::bad_request(format!("invalid path: {}", rejection.body_text()))
    }
}
