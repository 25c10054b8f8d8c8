//! Open edX tracking-log lines for events emitted by instructor tasks.
//!
//! Open edX's `task_track` logs a task event with `event_source` `"task"` and `page`
//! `"x_module_task"`; the top-level `username`, `ip`, `agent` and `host` describe the request of
//! the *instructor* who started the task (`"unknown"` where it did not say), and the learner is
//! named inside `event` (`student`, next to `task_id`), which coursetasks' payloads already carry.
//! The `context` holds the course (`course_id`, `org_id`), the learner's `user_id` and the block
//! (`module.usage_key`), as Open edX's course and block contexts do.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// One task event, as stored, ready to render as a tracking-log line.
#[derive(Debug, Clone, Copy)]
pub struct TrackingEvent<'a> {
    /// E.g. `problem_rescore`.
    pub event_type: &'a str,
    /// The `event` payload object (with `student` and `task_id`).
    pub event: &'a serde_json::Value,
    /// When it happened.
    pub time: DateTime<Utc>,
    /// The instructor who started the task.
    pub requester: &'a str,
    /// The learner's `auth_user.id`.
    pub user_id: i64,
    /// The course key.
    pub course_id: &'a str,
    /// The block, if any.
    pub usage_key: Option<&'a str>,
    /// Host name of the instructor's request (`"unknown"` when not known).
    pub host: &'a str,
}

#[derive(Serialize)]
struct Line<'a> {
    username: &'a str,
    ip: &'a str,
    agent: &'a str,
    host: &'a str,
    event_source: &'a str,
    event_type: &'a str,
    event: &'a serde_json::Value,
    page: &'a str,
    time: String,
    context: Context<'a>,
}

#[derive(Serialize)]
struct Context<'a> {
    course_id: &'a str,
    org_id: &'a str,
    user_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    module: Option<Module<'a>>,
}

#[derive(Serialize)]
struct Module<'a> {
    usage_key: &'a str,
}

/// What Open edX's task_track writes where the request did not say.
const UNKNOWN: &str = "unknown";

impl TrackingEvent<'_> {
    /// Appends the event as one tracking-log JSON line (with its `\n`). `time` is ISO 8601 in
    /// UTC with microseconds and an explicit `+00:00`, as in Open edX's logs.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        let line = Line {
            username: self.requester,
            ip: UNKNOWN,
            agent: UNKNOWN,
            host: self.host,
            event_source: "task",
            event_type: self.event_type,
            event: self.event,
            page: "x_module_task",
            time: self.time.to_rfc3339_opts(SecondsFormat::Micros, false),
            context: Context {
                course_id: self.course_id,
                org_id: org_of_course(self.course_id),
                user_id: self.user_id,
                module: self.usage_key.map(|usage_key| Module { usage_key }),
            },
        };
        // Serializing plain strings, numbers and a JSON value into a Vec cannot fail.
        serde_json::to_writer(&mut *out, &line).expect("a tracking line serializes");
        out.push(b'\n');
    }
}

/// The organisation of a course key (`course-v1:ORG+…`, `library-v1:ORG+…` or `ORG/COURSE/RUN`);
/// empty when the key has none.
pub fn org_of_course(course_id: &str) -> &str {
    let rest = course_id
        .split_once(':')
        .map_or(course_id, |(_, rest)| rest);
    let end = rest.find(['+', '/']).unwrap_or(0);
    &rest[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn line_has_the_open_edx_shape() {
        let payload =
            json!({"student": "ann", "task_id": "t1", "old_attempts": 2, "new_attempts": 0});
        let event = TrackingEvent {
            event_type: "problem_reset_attempts",
            event: &payload,
            time: "2024-03-01T12:00:00.5Z".parse().unwrap(),
            requester: "staff",
            user_id: 7,
            course_id: "course-v1:OpenedX+DemoX+DemoCourse",
            usage_key: Some("block-v1:OpenedX+DemoX+DemoCourse+type@problem+block@p"),
            host: "unknown",
        };
        let mut out = Vec::new();
        event.write_line(&mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            value,
            json!({
                "username": "staff", "ip": "unknown", "agent": "unknown", "host": "unknown",
                "event_source": "task", "event_type": "problem_reset_attempts",
                "event": payload, "page": "x_module_task",
                "time": "2024-03-01T12:00:00.500000+00:00",
                "context": {
                    "course_id": "course-v1:OpenedX+DemoX+DemoCourse", "org_id": "OpenedX",
                    "user_id": 7,
                    "module": {"usage_key": "block-v1:OpenedX+DemoX+DemoCourse+type@problem+block@p"}
                }
            })
        );
    }

    #[test]
    fn org_of_every_key_form() {
        assert_eq!(org_of_course("course-v1:MITx+6.002x+2012_Fall"), "MITx");
        assert_eq!(org_of_course("MITx/6.002x/2012_Fall"), "MITx");
        assert_eq!(org_of_course("library-v1:Org+Lib"), "Org");
        assert_eq!(org_of_course("nonsense"), "");
    }
}
