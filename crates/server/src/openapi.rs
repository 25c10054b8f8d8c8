//! The OpenAPI 3 description of `/api/v1`, kept by hand next to the router. The server's tests
//! check that it lists exactly the routes the router serves.

use axum::Json;
use serde_json::{Value, json};

/// `GET /api/v1/openapi.json`.
pub async fn document() -> Json<Value> {
    Json(openapi())
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn path(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"}})
}

fn ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn err(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn paging() -> [Value; 2] {
    [
        query(
            "after",
            "Keyset cursor: the `next_after` of the previous page (0 = start).",
            json!({"type": "integer", "minimum": 0}),
        ),
        query(
            "limit",
            "Rows per page, 1 to 1000 (default 100).",
            json!({"type": "integer", "minimum": 1, "maximum": 1000}),
        ),
    ]
}

/// Responses every authenticated route may give.
fn responses(success: (&str, Value), extra: &[(&str, &str)]) -> Value {
    let mut out = serde_json::Map::new();
    out.insert(success.0.to_owned(), success.1);
    out.insert(
        "401".into(),
        err("`unauthenticated`: no, unknown or revoked token"),
    );
    for (code, text) in extra {
        out.insert((*code).to_owned(), err(text));
    }
    Value::Object(out)
}

const NOT_FOUND_TASK: &str = "`not_found`: no such task, or a task of a course the token may not see (404, not 403, so that ids of other courses do not leak)";

/// The document.
pub fn openapi() -> Value {
    let task_id = path("id", "Task id (UUID).");
    let status_schema = json!({"$ref": "#/components/schemas/TaskStatus"});
    let [after, limit] = paging();
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "coursetasks API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Instructor bulk tasks (rescore, rescore if higher, reset attempts, delete state, override score) over learners' problem state. Every /api/v1 request needs `Authorization: Bearer <token>` (tokens: `coursetasks token create`). Roles: staff may act for one learner (not override); rescore, reset and delete for all learners, and override, need an instructor; admin may do everything. A course-bound token sees only its course: other courses' records answer 404 like unknown ones. Errors are `{\"error\": {\"code\", \"message\"}}`."
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/openapi.json": {"get": {
                "summary": "This document.",
                "responses": responses(("200", ok("The OpenAPI document.", json!({"type": "object"}))), &[])
            }},
            "/api/v1/courses": {"get": {
                "summary": "The courses the token may see.",
                "responses": responses(("200", ok("Courses by key.", json!({"type": "array", "items": {"$ref": "#/components/schemas/Course"}}))), &[])
            }},
            "/api/v1/courses/{course}/problems": {"get": {
                "summary": "A course's problems: usage key, name, response types, max score, weight, rescorable or why not.",
                "parameters": [path("course", "Course key.")],
                "responses": responses(("200", ok("Problems in tree order.", json!({"type": "array", "items": {"$ref": "#/components/schemas/Problem"}}))), &[("404", "`not_found`: no such course, or another course")])
            }},
            "/api/v1/courses/{course}/problems/{problem}/learners": {"get": {
                "summary": "The learners' stored state for a problem, a keyset page at a time.",
                "parameters": [path("course", "Course key."), path("problem", "Problem usage key (either form, percent-encoded)."), after, limit],
                "responses": responses(("200", ok("A page of learner modules.", json!({"type": "object", "properties": {"modules": {"type": "array", "items": {"type": "object"}}, "next_after": {"type": "integer", "nullable": true}}})), ), &[("400", "`bad_request`: bad paging"), ("404", "`not_found`: no such course or problem")])
            }},
            "/api/v1/tasks": {
                "post": {
                    "summary": "Validate and queue a task.",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Submit"}}}},
                    "responses": responses(("201", ok("The queued task's status; `Location` names it.", status_schema.clone())), &[
                        ("400", "`bad_request`: malformed body, or conflicting/missing fields"),
                        ("403", "`forbidden`: the token's role may not submit this task"),
                        ("404", "`not_found`: another course than the token's"),
                        ("409", "`already_running`: an identical task is queued or running; `task_id` names it"),
                        ("422", "validation failed; the code is the reason: `problem_not_found`, `learner_not_found`, `problem_not_rescorable`, `invalid_input`, ...")
                    ])
                },
                "get": {
                    "summary": "Running tasks or history, newest first.",
                    "parameters": [
                        query("course", "Only this course.", json!({"type": "string"})),
                        query("running", "Only queued or running tasks.", json!({"type": "boolean"})),
                        query("state", "Only this state.", json!({"type": "string", "enum": ["QUEUED", "RUNNING", "SUCCESS", "FAILURE", "REVOKED"]})),
                        query("problem", "History of this problem (all-learner tasks; with `learner`, that learner's).", json!({"type": "string"})),
                        query("learner", "History of this learner (username or email).", json!({"type": "string"})),
                        query("type", "Only this kind.", json!({"type": "string"})),
                        query("limit", "At most this many, 1 to 1000 (default 50).", json!({"type": "integer"}))
                    ],
                    "responses": responses(("200", ok("Tasks.", json!({"type": "array", "items": {"$ref": "#/components/schemas/TaskView"}}))), &[("400", "`bad_request`: bad filter"), ("404", "`not_found`: unknown learner or problem")])
                }
            },
            "/api/v1/tasks/status": {"get": {
                "summary": "Several tasks' status at once. Every id is answered: found ones under `tasks`, the others in `not_found`.",
                "parameters": [query("ids", "Comma-separated task ids (at most 100).", json!({"type": "string"}))],
                "responses": responses(("200", ok("Statuses by id.", json!({"type": "object", "properties": {"tasks": {"type": "object", "additionalProperties": status_schema.clone()}, "not_found": {"type": "array", "items": {"type": "string"}}}}))), &[("400", "`bad_request`: no ids, too many, or one is not a UUID")])
            }},
            "/api/v1/tasks/{id}": {"get": {
                "summary": "One task's status: state, counts, percent, rate, ETA, Open edX's message, subtasks.",
                "parameters": [task_id.clone()],
                "responses": responses(("200", ok("The task's status.", status_schema.clone())), &[("400", "`bad_request`: not a UUID"), ("404", NOT_FOUND_TASK)])
            }},
            "/api/v1/tasks/{id}/cancel": {"post": {
                "summary": "Cancel: a queued task is revoked at once, a running one stops at its next chunk.",
                "parameters": [task_id.clone()],
                "responses": responses(("200", ok("`result` is `revoked`, `cancel_requested` or `already_finished`.", json!({"type": "object", "properties": {"task_id": {"type": "string"}, "result": {"type": "string"}, "task": {"$ref": "#/components/schemas/TaskView"}}}))), &[("400", "`bad_request`: not a UUID"), ("403", "`forbidden`: the token's role may not submit (so not cancel) this task"), ("404", NOT_FOUND_TASK)])
            }},
            "/api/v1/tasks/{id}/progress": {"get": {
                "summary": "Live progress as server-sent events: the task is read every 250 ms and each change of state or counters (and the first read) is a `data:` event holding its TaskView as JSON; the stream ends after a final state (SUCCESS, FAILURE, REVOKED). Keep-alive comments every 15 s.",
                "parameters": [task_id.clone()],
                "responses": responses(("200", json!({"description": "`text/event-stream` of TaskView events.", "content": {"text/event-stream": {"schema": {"type": "string"}}}})), &[("400", "`bad_request`: not a UUID"), ("404", NOT_FOUND_TASK)])
            }},
            "/api/v1/tasks/{id}/outcomes": {"get": {
                "summary": "Per-learner outcomes with reasons and old/new grades, a keyset page at a time.",
                "parameters": [task_id.clone(), query("status", "Only `succeeded`, `skipped` or `failed`.", json!({"type": "string"})), after.clone(), limit.clone()],
                "responses": responses(("200", ok("A page of outcomes.", json!({"type": "object", "properties": {"outcomes": {"type": "array", "items": {"type": "object"}}, "next_after": {"type": "integer", "nullable": true}}}))), &[("400", "`bad_request`"), ("404", NOT_FOUND_TASK)])
            }},
            "/api/v1/tasks/{id}/outcomes.csv": {"get": {
                "summary": "Every outcome as a CSV download (the CLI's columns).",
                "parameters": [task_id, query("status", "Only `succeeded`, `skipped` or `failed`.", json!({"type": "string"}))],
                "responses": responses(("200", json!({"description": "CSV: module_id, learner_id, username, usage_key, status, reason, old_grade, old_max_grade, new_grade, new_max_grade.", "content": {"text/csv": {"schema": {"type": "string"}}}})), &[("400", "`bad_request`"), ("404", NOT_FOUND_TASK)])
            }},
            "/api/v1/events": {"get": {
                "summary": "Tracking events of a task or a course, a keyset page at a time.",
                "parameters": [query("task", "Only this task's events.", json!({"type": "string"})), query("course", "Only this course's events.", json!({"type": "string"})), after, limit],
                "responses": responses(("200", ok("A page of events.", json!({"type": "object", "properties": {"events": {"type": "array", "items": {"type": "object"}}, "next_after": {"type": "integer", "nullable": true}}}))), &[("400", "`bad_request`"), ("404", NOT_FOUND_TASK)])
            }}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "task_id": {"type": "string", "description": "For `already_running`: the task that blocks the submission."}}}}},
                "Submit": {"type": "object", "required": ["kind", "course"], "properties": {
                    "kind": {"type": "string", "enum": ["rescore", "rescore-if-higher", "reset-attempts", "delete-state", "override-score"]},
                    "course": {"type": "string"},
                    "problem": {"type": "string", "description": "A problem's usage key; or `container`."},
                    "container": {"type": "string", "description": "A section or subsection: every scored problem under it."},
                    "learner": {"type": "string", "description": "One learner (username or email); or `all_learners`."},
                    "all_learners": {"type": "boolean"},
                    "score": {"type": "number", "description": "override-score only: weighted points between 0 and the problem's value."}
                }},
                "TaskView": {"type": "object", "description": "The engine's task view (as `coursetasks status --json`): task_id, task_type, course_id, task_input, requester, state, in_progress, created, started, finished, total, attempted, succeeded, skipped, failed, percent, rate_per_second, eta_seconds, duration_ms, task_progress, message, succeeded_flag, error."},
                "TaskStatus": {"allOf": [{"$ref": "#/components/schemas/TaskView"}, {"type": "object", "properties": {"subtasks": {"type": "array", "items": {"type": "object"}}}}]},
                "Course": {"type": "object", "properties": {"key": {"type": "string"}, "display_name": {"type": "string"}, "created": {"type": "string", "format": "date-time"}}},
                "Problem": {"type": "object", "properties": {"usage_key": {"type": "string"}, "display_name": {"type": "string"}, "response_types": {"type": "array", "items": {"type": "string"}}, "max_score": {"type": "number", "nullable": true}, "weight": {"type": "number", "nullable": true}, "not_rescorable": {"type": "string", "nullable": true}}}
            }
        }
    })
}
