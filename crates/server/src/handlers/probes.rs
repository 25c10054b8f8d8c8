//! Probes for orchestrators: no authentication, no details beyond up or not.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers a query; 503 `unavailable` otherwise.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    // A primary-key lookup: one round trip through the pool, no table scan.
    match state.store.get_course("").await {
        Ok(_) => Ok(Json(
            json!({"status": "ready", "database": state.store.backend_name()}),
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("the database does not answer: {e}"),
        )),
    }
}
