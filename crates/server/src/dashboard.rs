//! The web dashboard: server-rendered pages at `/` (no SPA framework; a little plain
//! JavaScript feeds the progress bars from the API's event stream).
//!
//! Sign-in keeps the token in an HttpOnly, SameSite=Strict cookie; every other page looks it up
//! with [`auth::caller_for_secret`], the API's own rule, and redirects to `/` without a valid
//! one. Submitting, cancelling and the role checks go through the API handlers' functions, so
//! the dashboard cannot allow what the API refuses; errors show the API's message. Every value
//! put into a page goes through [`html_escape`].

use axum::Extension;
use axum::Form;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use coursetasks_engine::{TaskQuery, TaskView, course_problems, task_filter};
use coursetasks_store::OutcomeStatus;
use coursetasks_tasks::{Target, TaskInput, TaskKind};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{self, Caller, TOKEN_COOKIE};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::handlers::tasks::{SubmitBody, checked_cancel, checked_submit, visible_task};

/// Escapes text for HTML element content and quoted attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a key for one path segment or query value.
fn enc(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:72rem;margin:0 auto;padding:1rem;line-height:1.4}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top}\
progress{width:10rem}.error{color:#a00;font-weight:bold}form.inline{display:inline}\
fieldset{margin:.3rem 0}label{margin-right:.5rem}header{display:flex;justify-content:space-between;align-items:center}\
:focus{outline:3px solid #06c}";

/// Live progress: each element with `data-task` follows `/api/v1/tasks/{id}/progress`. An
/// element that also has `data-reload-when-done` (the task page of a task that had not ended
/// when the page was made) reloads the page when the task ends, because the rest of that page
/// (the cancel button, subtasks, outcomes) was made while it ran and does not follow the stream.
const SCRIPT: &str = r#"<script>
document.querySelectorAll('[data-task]').forEach(function (el) {
  var es = new EventSource('/api/v1/tasks/' + el.dataset.task + '/progress');
  function set(name, text) { var f = el.querySelector('[data-field=' + name + ']'); if (f) f.textContent = text; }
  es.onmessage = function (e) {
    var t = JSON.parse(e.data);
    var bar = el.querySelector('progress');
    if (bar) { bar.value = t.percent; bar.textContent = t.percent.toFixed(1) + '%'; }
    set('percent', t.percent.toFixed(1) + '%');
    set('state', t.state);
    set('counts', t.attempted + ' / ' + (t.total === null ? '?' : t.total) + ' (' + t.succeeded + ' ok, ' + t.skipped + ' skipped, ' + t.failed + ' failed)');
    set('rate', t.rate_per_second === null ? '' : t.rate_per_second.toFixed(1) + '/s');
    set('eta', t.eta_seconds === null ? '' : Math.round(t.eta_seconds) + ' s');
    set('message', t.message);
    if (!t.in_progress) {
      es.close();
      if (el.hasAttribute('data-reload-when-done')) location.reload();
    }
  };
  es.onerror = function () { es.close(); };
});
</script>"#;

/// A whole page.
fn page(title: &str, signed_in: bool, body: &str) -> String {
    let logout = if signed_in {
        "<form class=\"inline\" method=\"post\" action=\"/logout\"><button type=\"submit\">Sign out</button></form>"
    } else {
        ""
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{t} · coursetasks</title><style>{STYLE}</style></head><body>\
<header><nav><a href=\"/courses\">Courses</a></nav>{logout}</header><main><h1>{t}</h1>{body}</main>{SCRIPT}</body></html>",
        t = html_escape(title)
    )
}

/// An API error as a page with the API's status and message.
fn error_page(error: ApiError) -> Response {
    let body = format!(
        "<p class=\"error\" role=\"alert\">{}</p><p><a href=\"/courses\">Back to the courses</a></p>",
        html_escape(&error.message)
    );
    (error.status, Html(page("Not done", true, &body))).into_response()
}

fn sign_in_page(status: StatusCode, message: Option<&str>) -> Response {
    let error = message
        .map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", html_escape(m)))
        .unwrap_or_default();
    let body = format!(
        "{error}<form method=\"post\" action=\"/login\">\
<label for=\"token\">API token</label> <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required autofocus> \
<button type=\"submit\">Sign in</button></form>"
    );
    (status, Html(page("Sign in", false, &body))).into_response()
}

/// `GET /`: the sign-in form.
pub async fn sign_in() -> Response {
    sign_in_page(StatusCode::OK, None)
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    /// The API token secret.
    pub token: String,
}

/// `POST /login`: checks the token (401 and the form again when unknown or revoked), keeps it
/// in the cookie and goes to the courses.
pub async fn login(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    let secret = form.token.trim();
    let valid = !secret.is_empty()
        && secret
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b';' && b != b',');
    if !valid {
        return sign_in_page(StatusCode::UNAUTHORIZED, Some("unknown or revoked token"));
    }
    match auth::caller_for_secret(&state, secret).await {
        Ok(_) => {
            let cookie = format!("{TOKEN_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict");
            let mut response = Redirect::to("/courses").into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(e) => sign_in_page(e.status, Some(&e.message)),
    }
}

/// `POST /logout`: clears the cookie.
pub async fn logout() -> Response {
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "coursetasks_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    response
}

/// Middleware of the pages after sign-in: the cookie's token, looked up like a bearer token,
/// or a redirect to `/`.
pub async fn require_cookie(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(secret) = auth::cookie_secret(request.headers()) else {
        return Redirect::to("/").into_response();
    };
    match auth::caller_for_secret(&state, &secret).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(e) if e.status == StatusCode::UNAUTHORIZED => Redirect::to("/").into_response(),
        Err(e) => error_page(e),
    }
}

/// `GET /courses`: the courses the caller may see.
pub async fn courses(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let courses = match state.store.list_courses().await {
        Ok(c) => c,
        Err(e) => return error_page(e.into()),
    };
    let mut rows = String::new();
    for c in courses.iter().filter(|c| caller.sees_course(&c.key)) {
        rows.push_str(&format!(
            "<li><a href=\"/courses/{}\">{}</a> <code>{}</code></li>",
            enc(&c.key),
            html_escape(&c.display_name),
            html_escape(&c.key)
        ));
    }
    if rows.is_empty() {
        rows.push_str("<li>No course is visible to this token.</li>");
    }
    let body = format!(
        "<p>Signed in as {} ({}).</p><ul>{rows}</ul>",
        html_escape(&caller.token.user),
        html_escape(&format!("{:?}", caller.token.role).to_lowercase())
    );
    Html(page("Courses", true, &body)).into_response()
}

fn fmt_opt(value: Option<f64>, unit: &str) -> String {
    value.map(|v| format!("{v:.1}{unit}")).unwrap_or_default()
}

/// One task's live row cells (the script updates the `data-field` cells).
fn task_cells(view: &TaskView) -> String {
    format!(
        "<td data-field=\"state\">{}</td>\
<td><progress max=\"100\" value=\"{p:.1}\">{p:.1}%</progress> <span data-field=\"percent\">{p:.1}%</span></td>\
<td data-field=\"counts\">{} / {} ({} ok, {} skipped, {} failed)</td>\
<td data-field=\"rate\">{}</td><td data-field=\"eta\">{}</td><td data-field=\"message\">{}</td>",
        html_escape(&view.state),
        view.attempted,
        view.total
            .map(|t| t.to_string())
            .unwrap_or_else(|| "?".into()),
        view.succeeded,
        view.skipped,
        view.failed,
        fmt_opt(view.rate_per_second, "/s"),
        view.eta_seconds
            .map(|s| format!("{} s", s.round()))
            .unwrap_or_default(),
        html_escape(&view.message),
        p = view.percent
    )
}

const TASK_HEAD: &str = "<th scope=\"col\">State</th><th scope=\"col\">Progress</th><th scope=\"col\">Learners</th><th scope=\"col\">Rate</th><th scope=\"col\">ETA</th><th scope=\"col\">Message</th>";

/// `GET /courses/{course}`: problems with a submit form each, and the running tasks.
pub async fn course(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(course): ApiPath<String>,
) -> Response {
    if let Err(e) = caller.check_course(&course) {
        return error_page(e);
    }
    let record = match state.store.get_course(&course).await {
        Ok(Some(c)) => c,
        Ok(None) => return error_page(ApiError::not_found(format!("no course {course}"))),
        Err(e) => return error_page(e.into()),
    };
    let problems = match course_problems(&state.store, &course).await {
        Ok(p) => p,
        Err(e) => return error_page(e.into()),
    };
    let mut body = String::from(
        "<h2>Problems</h2><table><thead><tr><th scope=\"col\">Problem</th><th scope=\"col\">Rescorable</th><th scope=\"col\">Submit a task</th></tr></thead><tbody>",
    );
    let action = format!("/courses/{}/confirm", enc(&course));
    for (i, p) in problems.iter().enumerate() {
        let rescorable = match &p.not_rescorable {
            None => "yes".to_owned(),
            Some(why) => format!("no: {}", html_escape(why)),
        };
        let kinds: String = TaskKind::ALL
            .iter()
            .map(|k| {
                format!(
                    "<option value=\"{0}\">{0}</option>",
                    html_escape(k.cli_name())
                )
            })
            .collect();
        body.push_str(&format!(
            "<tr><td>{name}<br><code>{key}</code></td><td>{rescorable}</td><td>\
<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"problem\" value=\"{key}\">\
<label for=\"kind{i}\">Task</label><select id=\"kind{i}\" name=\"kind\">{kinds}</select>\
<fieldset><legend>Learners</legend>\
<input type=\"radio\" id=\"one{i}\" name=\"scope\" value=\"one\" checked><label for=\"one{i}\">One learner</label>\
<label for=\"learner{i}\">Username or email</label><input id=\"learner{i}\" name=\"learner\">\
<input type=\"radio\" id=\"all{i}\" name=\"scope\" value=\"all\"><label for=\"all{i}\">All learners</label></fieldset>\
<label for=\"score{i}\">Score (override only)</label><input id=\"score{i}\" name=\"score\" inputmode=\"decimal\" size=\"5\"> \
<button type=\"submit\">Review…</button></form>\
<a href=\"/courses/{course_enc}/history?problem={key_enc}\">History of this problem</a></td></tr>",
            name = html_escape(&p.display_name),
            key = html_escape(&p.usage_key),
            course_enc = enc(&course),
            key_enc = enc(&p.usage_key),
        ));
    }
    body.push_str(&format!(
        "</tbody></table><form method=\"get\" action=\"/courses/{}/history\">\
<label for=\"history-learner\">History of learner (username or email)</label> \
<input id=\"history-learner\" name=\"learner\" required> <button type=\"submit\">Show</button></form>",
        enc(&course)
    ));
    let filter = task_filter(
        &state.store,
        &TaskQuery {
            course_key: Some(course.clone()),
            running: true,
            limit: Some(100),
            ..Default::default()
        },
    )
    .await;
    let tasks = match filter {
        Ok(f) => state.store.list_tasks(&f).await.map_err(ApiError::from),
        Err(e) => Err(ApiError::from(e)),
    };
    let tasks = match tasks {
        Ok(t) => t,
        Err(e) => return error_page(e),
    };
    body.push_str("<h2>Running tasks</h2>");
    if tasks.is_empty() {
        body.push_str("<p>No task is queued or running.</p>");
    } else {
        body.push_str(&format!(
            "<table><thead><tr><th scope=\"col\">Task</th>{TASK_HEAD}</tr></thead><tbody>"
        ));
        let now = Utc::now();
        for t in &tasks {
            let view = TaskView::new(t, now);
            body.push_str(&format!(
                "<tr data-task=\"{id}\"><td><a href=\"/tasks/{id}\">{kind}</a></td>{cells}</tr>",
                id = t.id,
                kind = html_escape(&t.task_type),
                cells = task_cells(&view)
            ));
        }
        body.push_str("</tbody></table>");
    }
    Html(page(&record.display_name, true, &body)).into_response()
}

/// The submit form's fields (the confirmation step posts them again, hidden).
#[derive(Debug, Deserialize)]
pub struct TaskForm {
    /// The problem's usage key.
    pub problem: String,
    /// The task kind (CLI name or Open edX type).
    pub kind: String,
    /// `one` or `all`.
    pub scope: String,
    /// The learner, for `one`.
    #[serde(default)]
    pub learner: String,
    /// The score, for an override.
    #[serde(default)]
    pub score: String,
}

impl TaskForm {
    /// The API's submit body for `course`.
    fn body(&self, course: &str) -> Result<SubmitBody, ApiError> {
        let kind = self
            .kind
            .parse::<TaskKind>()
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let all_learners = self.scope == "all";
        let learner = self.learner.trim();
        let score = match self.score.trim() {
            "" => None,
            text => Some(text.parse::<f64>().map_err(|_| {
                ApiError::bad_request(format!("the score {text:?} is not a number"))
            })?),
        };
        Ok(SubmitBody {
            kind,
            course: course.to_owned(),
            problem: Some(self.problem.clone()),
            container: None,
            learner: (!all_learners && !learner.is_empty()).then(|| learner.to_owned()),
            all_learners,
            score,
        })
    }
}

/// How many learner modules a submission would visit: the engine resolves the task exactly as
/// it will run, and counts the modules of its scope.
async fn affected(state: &AppState, body: &SubmitBody) -> Result<u64, ApiError> {
    let target = Target::Problem(body.problem.clone().unwrap_or_default());
    let input = TaskInput::new(body.kind, target, body.learner.as_deref(), body.score)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", e.to_string()))?;
    let plan = coursetasks_engine::resolve(&state.store, body.kind, &body.course, &input)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                format!("task not created: {}", e.message),
            )
        })?;
    Ok(state.store.count_modules(&plan.scope()).await?)
}

/// `POST /courses/{course}/confirm`: the same checks as a submission (course, role, the
/// engine's validation), then how many learners would be affected and a confirm button. Creates
/// nothing.
pub async fn confirm(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(course): ApiPath<String>,
    Form(form): Form<TaskForm>,
) -> Response {
    let checked = async {
        let body = form.body(&course)?;
        if body.learner.is_none() && !body.all_learners {
            return Err(ApiError::bad_request(
                "give exactly one of `learner` or `all_learners: true`",
            ));
        }
        caller.check_course(&body.course)?;
        caller.check_may_submit(body.kind, body.all_learners)?;
        let count = affected(&state, &body).await?;
        Ok((body, count))
    }
    .await;
    let (body, count) = match checked {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let who = match &body.learner {
        Some(l) => format!("learner {}", html_escape(l)),
        None => "all learners".to_owned(),
    };
    let score = body
        .score
        .map(|s| format!(" with score {s}"))
        .unwrap_or_default();
    let html = format!(
        "<p><strong>{kind}</strong> of <code>{problem}</code> for {who}{score}.</p>\
<p id=\"affected\">This task will affect <strong>{count}</strong> learner{s}.</p>\
<form method=\"post\" action=\"/courses/{course}/submit\">\
<input type=\"hidden\" name=\"problem\" value=\"{problem}\"><input type=\"hidden\" name=\"kind\" value=\"{kind}\">\
<input type=\"hidden\" name=\"scope\" value=\"{scope}\"><input type=\"hidden\" name=\"learner\" value=\"{learner}\">\
<input type=\"hidden\" name=\"score\" value=\"{score_value}\">\
<button type=\"submit\">Create the task</button> <a href=\"/courses/{course}\">Cancel</a></form>",
        kind = html_escape(body.kind.cli_name()),
        problem = html_escape(&form.problem),
        s = if count == 1 { "" } else { "s" },
        course = enc(&course),
        scope = if body.all_learners { "all" } else { "one" },
        learner = html_escape(body.learner.as_deref().unwrap_or("")),
        score_value = html_escape(form.score.trim()),
    );
    Html(page("Confirm the task", true, &html)).into_response()
}

/// `POST /courses/{course}/submit`: creates the task through the API's submit function and
/// shows it.
pub async fn submit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(course): ApiPath<String>,
    Form(form): Form<TaskForm>,
) -> Response {
    let result = async {
        let body = form.body(&course)?;
        checked_submit(&state, &caller, body).await
    }
    .await;
    match result {
        Ok(task) => Redirect::to(&format!("/tasks/{}", task.id)).into_response(),
        Err(e) => error_page(e),
    }
}

/// Query of the task page.
#[derive(Debug, Default, Deserialize)]
pub struct TaskPageQuery {
    /// Only outcomes of this status.
    #[serde(default)]
    pub status: String,
}

/// Outcomes shown on the task page (the CSV has them all).
const OUTCOME_ROWS: u32 = 200;

/// `GET /tasks/{id}`: status, counts, live progress, subtasks, cancel, outcomes.
pub async fn task(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<TaskPageQuery>,
) -> Response {
    let result = async {
        let task = visible_task(&state, &caller, &id).await?;
        let status = match query.status.as_str() {
            "" => None,
            s => Some(s.parse::<OutcomeStatus>().map_err(|e| {
                ApiError::bad_request(format!("{e} (expected succeeded, skipped or failed)"))
            })?),
        };
        let subtasks = state.store.list_subtasks(task.id).await?;
        let outcomes = state
            .store
            .list_outcomes(task.id, status, 0, OUTCOME_ROWS)
            .await?;
        Ok::<_, ApiError>((task, status, subtasks, outcomes))
    }
    .await;
    let (task, status, subtasks, outcomes) = match result {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let view = TaskView::new(&task, Utc::now());
    let mut body = format!(
        "<p>Course <a href=\"/courses/{}\">{}</a> · requested by {} · {}</p>\
<table><thead><tr>{TASK_HEAD}</tr></thead><tbody><tr data-task=\"{}\"{}>{}</tr></tbody></table>",
        enc(&task.course_key),
        html_escape(&task.course_key),
        html_escape(&task.requester),
        html_escape(&serde_json::to_string(&task.input).unwrap_or_default()),
        task.id,
        if task.state.is_ready() {
            ""
        } else {
            " data-reload-when-done"
        },
        task_cells(&view)
    );
    if !task.state.is_ready() {
        body.push_str(&format!(
            "<form method=\"post\" action=\"/tasks/{}/cancel\"><button type=\"submit\">Cancel this task</button></form>",
            task.id
        ));
    }
    if !subtasks.is_empty() {
        body.push_str("<h2>Subtasks</h2><table><thead><tr><th scope=\"col\">#</th><th scope=\"col\">State</th><th scope=\"col\">Attempted</th><th scope=\"col\">Succeeded</th><th scope=\"col\">Skipped</th><th scope=\"col\">Failed</th></tr></thead><tbody>");
        for s in &subtasks {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                s.index,
                html_escape(s.state.as_str()),
                s.counts.attempted,
                s.counts.succeeded,
                s.counts.skipped,
                s.counts.failed
            ));
        }
        body.push_str("</tbody></table>");
    }
    let selected = |v: &str| {
        if status.map(|s| s.as_str()) == Some(v) || (v.is_empty() && status.is_none()) {
            " selected"
        } else {
            ""
        }
    };
    let csv_query = status
        .map(|s| format!("?status={}", s.as_str()))
        .unwrap_or_default();
    body.push_str(&format!(
        "<h2>Learners</h2><form method=\"get\" action=\"/tasks/{id}\"><label for=\"status\">Show</label>\
<select id=\"status\" name=\"status\"><option value=\"\"{a}>all</option><option value=\"failed\"{f}>failed</option>\
<option value=\"skipped\"{k}>skipped</option><option value=\"succeeded\"{s}>succeeded</option></select> \
<button type=\"submit\">Filter</button></form>\
<p><a href=\"/api/v1/tasks/{id}/outcomes.csv{csv_query}\">Download CSV</a> (first {OUTCOME_ROWS} rows shown)</p>\
<table><thead><tr><th scope=\"col\">Learner</th><th scope=\"col\">Problem</th><th scope=\"col\">Outcome</th><th scope=\"col\">Reason</th></tr></thead><tbody>",
        id = task.id,
        a = selected(""),
        f = selected("failed"),
        k = selected("skipped"),
        s = selected("succeeded"),
    ));
    for o in &outcomes {
        body.push_str(&format!(
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            html_escape(&o.username),
            html_escape(&o.usage_key),
            html_escape(o.status.as_str()),
            html_escape(o.reason.as_deref().unwrap_or(""))
        ));
    }
    body.push_str("</tbody></table>");
    let title = format!("Task {}", task.task_type);
    Html(page(&title, true, &body)).into_response()
}

/// `POST /tasks/{id}/cancel`: the API's cancel (same rules), then the task page.
pub async fn cancel(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
) -> Response {
    match checked_cancel(&state, &caller, &id).await {
        Ok((task, _)) => Redirect::to(&format!("/tasks/{}", task.id)).into_response(),
        Err(e) => error_page(e),
    }
}

/// Query of the history page.
#[derive(Debug, Default, Deserialize)]
pub struct HistoryQuery {
    /// Tasks on this problem.
    pub problem: Option<String>,
    /// Tasks for this learner (username or email).
    pub learner: Option<String>,
}

/// `GET /courses/{course}/history?problem=...&learner=...`: the course's history of a problem
/// (its all-learner tasks, or with `learner` that learner's tasks on it) or of a learner,
/// newest first (the API's history filters).
pub async fn history(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(course): ApiPath<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Response {
    let problem = query.problem.filter(|p| !p.trim().is_empty());
    let learner = query.learner.filter(|l| !l.trim().is_empty());
    let result = async {
        caller.check_course(&course)?;
        let filter = task_filter(
            &state.store,
            &TaskQuery {
                course_key: Some(course.clone()),
                problem: problem.clone(),
                learner: learner.clone(),
                limit: Some(100),
                ..Default::default()
            },
        )
        .await?;
        Ok::<_, ApiError>(state.store.list_tasks(&filter).await?)
    }
    .await;
    let tasks = match result {
        Ok(t) => t,
        Err(e) => return error_page(e),
    };
    let of = match (&problem, &learner) {
        (Some(p), Some(l)) => format!(
            "problem <code>{}</code> for learner {}",
            html_escape(p),
            html_escape(l)
        ),
        (Some(p), None) => format!("problem <code>{}</code> for all learners", html_escape(p)),
        (None, Some(l)) => format!("learner {}", html_escape(l)),
        (None, None) => "the whole course".to_owned(),
    };
    let mut body = format!(
        "<p>Tasks of <a href=\"/courses/{}\">{}</a> on {of}, newest first.</p>",
        enc(&course),
        html_escape(&course)
    );
    if tasks.is_empty() {
        body.push_str("<p>No task.</p>");
    } else {
        body.push_str(&format!(
            "<table><thead><tr><th scope=\"col\">Task</th><th scope=\"col\">Created</th><th scope=\"col\">By</th>{TASK_HEAD}</tr></thead><tbody>"
        ));
        let now = Utc::now();
        for t in &tasks {
            let view = TaskView::new(t, now);
            let live = if t.state.is_ready() {
                String::new()
            } else {
                format!(" data-task=\"{}\"", t.id)
            };
            body.push_str(&format!(
                "<tr{live}><td><a href=\"/tasks/{id}\">{kind}</a></td><td>{created}</td><td>{by}</td>{cells}</tr>",
                id = t.id,
                kind = html_escape(&t.task_type),
                created = html_escape(&view.created.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
                by = html_escape(&t.requester),
                cells = task_cells(&view)
            ));
        }
        body.push_str("</tbody></table>");
    }
    Html(page("History", true, &body)).into_response()
}
