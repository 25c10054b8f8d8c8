//! `task_input` JSON in Open edX's shape, `task_key`, and submit-time override validation.

use crate::error::{ErrorKind, TaskError};
use crate::kind::TaskKind;
use crate::pyjson::{num_text, to_py_json};
use md5::{Digest, Md5};
use serde::{Deserialize, Deserializer, Serialize};

/// Open edX refuses to create a task whose `task_input` JSON is longer than this (`TASK_INPUT_LENGTH`).
pub const TASK_INPUT_MAX_LEN: usize = 10_000;

/// What a task works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One problem (`problem_url`).
    Problem(String),
    /// Every scored problem of an entrance-exam section (`entrance_exam_url`).
    EntranceExam(String),
}

/// The `task_input` JSON exactly as Open edX stores it.
///
/// Key order on output follows Open edX (`problem_url`/`entrance_exam_url`, `student`,
/// `only_if_higher`, `score`) and absent keys are omitted, e.g.
/// `{"problem_url": "block-v1:…", "student": "ana", "only_if_higher": false}`.
///
/// Reading is lenient where the LMS was: `score` may be a numeric string (the old dashboard view stored
/// the POSTed text) and `only_if_higher` may be the string `"true"`/`"false"`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TaskInput {
    /// Usage key of the problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem_url: Option<String>,
    /// Usage key of the entrance-exam section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrance_exam_url: Option<String>,
    /// Username of the single learner, when the task targets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub student: Option<String>,
    /// Present for rescore tasks (Open edX stores `false` for plain rescore).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_bool"
    )]
    pub only_if_higher: Option<bool>,
    /// The weighted score typed by the instructor (override only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_number"
    )]
    pub score: Option<f64>,
}

/// Why a `task_input` is not acceptable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    /// Neither `problem_url` nor `entrance_exam_url`.
    #[error("task input names no target: give problem_url or entrance_exam_url")]
    MissingTarget,
    /// Both targets at once.
    #[error("task input names both problem_url and entrance_exam_url")]
    BothTargets,
    /// A present string field is empty.
    #[error("task input field {0} is empty")]
    Empty(&'static str),
    /// The kind needs a single learner.
    #[error("{0} needs a single learner (student)")]
    MissingStudent(TaskKind),
    /// Override without a score.
    #[error("override-score needs a score")]
    MissingScore,
    /// A score on a kind that does not take one.
    #[error("{0} does not take a score")]
    UnexpectedScore(TaskKind),
    /// A score that is negative or not finite.
    #[error("score {0} is not a finite number >= 0")]
    InvalidScore(f64),
    /// Override targets one problem, not an exam.
    #[error("override-score works on one problem, not an entrance exam")]
    OverrideNeedsProblem,
    /// `only_if_higher` disagrees with the kind (or appears on a non-rescore kind).
    #[error("only_if_higher={found:?} does not match task kind {kind}")]
    OnlyIfHigherMismatch {
        /// The kind being validated.
        kind: TaskKind,
        /// The stored value.
        found: Option<bool>,
    },
    /// The JSON is longer than Open edX accepts.
    #[error("task input is {0} characters long; at most {TASK_INPUT_MAX_LEN} are allowed")]
    TooLong(usize),
    /// Unparsable JSON.
    #[error("task input is not valid: {0}")]
    Json(String),
}

impl From<InputError> for TaskError {
    fn from(e: InputError) -> Self {
        TaskError::new(ErrorKind::InvalidInput, e.to_string())
    }
}

impl TaskInput {
    /// Builds and validates the input Open edX would store for `kind` on `target`.
    ///
    /// `only_if_higher` is derived from the kind (present for the rescore kinds only, as upstream);
    /// `score` is required for override and refused otherwise. A single learner is optional except for
    /// override. (Upstream offers all-learner reset/delete of a problem and single-learner variants only
    /// synchronously; coursetasks runs both as tasks.)
    pub fn new(
        kind: TaskKind,
        target: Target,
        student: Option<&str>,
        score: Option<f64>,
    ) -> Result<TaskInput, InputError> {
        let (problem_url, entrance_exam_url) = match target {
            Target::Problem(k) => (Some(k), None),
            Target::EntranceExam(k) => (None, Some(k)),
        };
        let input = TaskInput {
            problem_url,
            entrance_exam_url,
            student: student.map(str::to_owned),
            only_if_higher: kind
                .is_rescore()
                .then_some(kind == TaskKind::RescoreIfHigher),
            score,
        };
        input.validate(kind)?;
        Ok(input)
    }

    /// Checks this input against the rules for `kind` (see [`TaskInput::new`]) and the length limit.
    pub fn validate(&self, kind: TaskKind) -> Result<(), InputError> {
        match (&self.problem_url, &self.entrance_exam_url) {
            (None, None) => return Err(InputError::MissingTarget),
            (Some(_), Some(_)) => return Err(InputError::BothTargets),
            (Some(k), None) if k.is_empty() => return Err(InputError::Empty("problem_url")),
            (None, Some(k)) if k.is_empty() => {
                return Err(InputError::Empty("entrance_exam_url"));
            }
            _ => {}
        }
        if self.student.as_deref() == Some("") {
            return Err(InputError::Empty("student"));
        }
        let expected = kind
            .is_rescore()
            .then_some(kind == TaskKind::RescoreIfHigher);
        // Rows written by the 2013 code have no `only_if_higher`: absent means "false" for rescore.
        let consistent = match (kind, self.only_if_higher) {
            (TaskKind::Rescore, None) => true,
            (_, found) => found == expected,
        };
        if !consistent {
            return Err(InputError::OnlyIfHigherMismatch {
                kind,
                found: self.only_if_higher,
            });
        }
        if kind == TaskKind::OverrideScore {
            if self.problem_url.is_none() {
                return Err(InputError::OverrideNeedsProblem);
            }
            if self.student.is_none() {
                return Err(InputError::MissingStudent(kind));
            }
            match self.score {
                None => return Err(InputError::MissingScore),
                Some(s) if !s.is_finite() || s < 0.0 => return Err(InputError::InvalidScore(s)),
                Some(_) => {}
            }
        } else if self.score.is_some() {
            return Err(InputError::UnexpectedScore(kind));
        }
        let len = self.to_json().chars().count();
        if len > TASK_INPUT_MAX_LEN {
            return Err(InputError::TooLong(len));
        }
        Ok(())
    }

    /// Parses stored `task_input` JSON (no kind checks; call [`TaskInput::validate`] for those).
    pub fn from_json(json: &str) -> Result<TaskInput, InputError> {
        serde_json::from_str(json).map_err(|e| InputError::Json(e.to_string()))
    }

    /// The JSON text as Open edX's `json.dumps` writes it.
    pub fn to_json(&self) -> String {
        to_py_json(self)
    }

    /// The target, whichever key holds it.
    pub fn target(&self) -> Option<Target> {
        match (&self.problem_url, &self.entrance_exam_url) {
            (Some(p), _) => Some(Target::Problem(p.clone())),
            (None, Some(e)) => Some(Target::EntranceExam(e.clone())),
            (None, None) => None,
        }
    }

    /// The target usage key (problem or section), borrowed.
    pub fn target_key(&self) -> Option<&str> {
        self.problem_url
            .as_deref()
            .or(self.entrance_exam_url.as_deref())
    }

    /// Whether the task regrades keeping only higher-or-equal results (absent means no).
    pub fn only_if_higher(&self) -> bool {
        self.only_if_higher.unwrap_or(false)
    }

    /// [`task_key`] of this input's target; `learner_id` is the user id of `student` (ids, not
    /// usernames, go into the key).
    pub fn task_key(&self, learner_id: Option<i64>) -> Option<String> {
        self.target_key().map(|k| task_key(k, learner_id))
    }
}

/// Open edX's dedup key: MD5 hex of `"_<usage key>"` (all learners) or `"<user id>_<usage key>"` (one).
/// The task type is not part of it; dedup is per (course, task_type, task_key).
pub fn task_key(target_usage_key: &str, learner_id: Option<i64>) -> String {
    let mut hasher = Md5::new();
    if let Some(id) = learner_id {
        hasher.update(id.to_string().as_bytes());
    }
    hasher.update(b"_");
    hasher.update(target_usage_key.as_bytes());
    hex::encode(hasher.finalize())
}

/// Validates an override (at submit time and again when it runs) and returns the raw score to store,
/// `(raw_earned, raw_possible)`.
///
/// `score` is the weighted score as the instructor typed it; `max_score` is the problem's maximum as
/// Open edX's `block.max_score()` reports it (raw points); `weight` is the block's weight (`None` counts
/// as 1). Like upstream, the stored score is `(score / weight, max_score / weight)`, i.e. the learner's
/// percentage becomes `score / max_score`.
pub fn validate_override(
    score: f64,
    max_score: f64,
    weight: Option<f64>,
) -> Result<(f64, f64), TaskError> {
    let weight = weight.unwrap_or(1.0);
    if weight == 0.0 {
        return Err(TaskError::new(
            ErrorKind::InvalidInput,
            "the problem has a weight of 0, so its score cannot be overridden",
        ));
    }
    if !weight.is_finite() || weight < 0.0 {
        return Err(TaskError::new(
            ErrorKind::InvalidInput,
            format!("the problem weight {} is not usable", num_text(weight)),
        ));
    }
    if !max_score.is_finite() || max_score < 0.0 {
        return Err(TaskError::new(
            ErrorKind::InvalidInput,
            format!(
                "the problem's maximum score {} is not usable",
                num_text(max_score)
            ),
        ));
    }
    if !score.is_finite() || !(0.0..=max_score).contains(&score) {
        return Err(TaskError::new(
            ErrorKind::InvalidInput,
            format!(
                "score {} is outside 0..{} (the points available for the problem)",
                num_text(score),
                num_text(max_score)
            ),
        )
        .with("score", score)
        .with("max_score", max_score));
    }
    Ok((score / weight, max_score / weight))
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Text(String),
    }
    match Option::<B>::deserialize(d)? {
        None => Ok(None),
        Some(B::Bool(b)) => Ok(Some(b)),
        Some(B::Text(t)) if t.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(B::Text(t)) if t.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(B::Text(t)) => Err(serde::de::Error::custom(format!(
            "only_if_higher must be true or false, not {t:?}"
        ))),
    }
}

fn lenient_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        Num(f64),
        Text(String),
    }
    match Option::<N>::deserialize(d)? {
        None => Ok(None),
        Some(N::Num(n)) => Ok(Some(n)),
        Some(N::Text(t)) => t
            .trim()
            .parse::<f64>()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("score {t:?} is not a number"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "block-v1:edX+DemoX+Demo_Course+type@problem+block@q1";

    #[test]
    fn task_keys_match_python_md5() {
        // python3 -c "import hashlib;print(hashlib.md5(b'_block-v1:...').hexdigest())"
        assert_eq!(task_key(KEY, None), "33a50097e1b14c3ca9a535b59a245587");
        assert_eq!(task_key(KEY, Some(42)), "531d8eae0ccbf74d39d9a8d98f9aca5e");
        assert_eq!(
            task_key("i4x://MITx/6.002x/problem/H1P1", Some(7)),
            "84ef13b0c254da8cd265d023b8ccbc74"
        );
        assert_eq!(task_key("", None), "b14a7b8059d9c055954c92674ce60032");
    }

    #[test]
    fn inputs_serialize_like_open_edx() {
        let p = || Target::Problem(KEY.to_owned());
        let all = TaskInput::new(TaskKind::Rescore, p(), None, None).unwrap();
        assert_eq!(
            all.to_json(),
            format!(r#"{{"problem_url": "{KEY}", "only_if_higher": false}}"#)
        );
        let one = TaskInput::new(TaskKind::RescoreIfHigher, p(), Some("ana"), None).unwrap();
        assert_eq!(
            one.to_json(),
            format!(r#"{{"problem_url": "{KEY}", "student": "ana", "only_if_higher": true}}"#)
        );
        let reset = TaskInput::new(TaskKind::ResetAttempts, p(), None, None).unwrap();
        assert_eq!(reset.to_json(), format!(r#"{{"problem_url": "{KEY}"}}"#));
        let exam = TaskInput::new(
            TaskKind::DeleteState,
            Target::EntranceExam("block-v1:X+Y+Z+type@chapter+block@exam".into()),
            Some("bo"),
            None,
        )
        .unwrap();
        assert_eq!(
            exam.to_json(),
            r#"{"entrance_exam_url": "block-v1:X+Y+Z+type@chapter+block@exam", "student": "bo"}"#
        );
        let ov = TaskInput::new(TaskKind::OverrideScore, p(), Some("ana"), Some(2.5)).unwrap();
        assert_eq!(
            ov.to_json(),
            format!(r#"{{"problem_url": "{KEY}", "student": "ana", "score": 2.5}}"#)
        );
        assert_eq!(TaskInput::from_json(&ov.to_json()).unwrap(), ov);
        assert_eq!(ov.task_key(Some(42)).unwrap(), task_key(KEY, Some(42)));
    }

    #[test]
    fn reading_is_lenient_like_the_lms() {
        let i = TaskInput::from_json(
            r#"{"problem_url": "k", "student": "ana", "score": " 3.5", "only_if_higher": "False"}"#,
        )
        .unwrap();
        assert_eq!(i.score, Some(3.5));
        assert_eq!(i.only_if_higher, Some(false));
        assert!(TaskInput::from_json(r#"{"problem_url": "k", "score": "lots"}"#).is_err());
        assert!(TaskInput::from_json("not json").is_err());
        // 2013 rows: no only_if_higher on a rescore.
        let old = TaskInput::from_json(r#"{"problem_url": "k"}"#).unwrap();
        assert!(old.validate(TaskKind::Rescore).is_ok());
        assert!(!old.only_if_higher());
        assert_eq!(
            old.validate(TaskKind::RescoreIfHigher),
            Err(InputError::OnlyIfHigherMismatch {
                kind: TaskKind::RescoreIfHigher,
                found: None
            })
        );
    }

    #[test]
    fn validation_rejects_bad_inputs() {
        let p = || Target::Problem(KEY.to_owned());
        assert_eq!(
            TaskInput::new(TaskKind::OverrideScore, p(), None, Some(1.0)),
            Err(InputError::MissingStudent(TaskKind::OverrideScore))
        );
        assert_eq!(
            TaskInput::new(TaskKind::OverrideScore, p(), Some("a"), None),
            Err(InputError::MissingScore)
        );
        assert_eq!(
            TaskInput::new(TaskKind::OverrideScore, p(), Some("a"), Some(-1.0)),
            Err(InputError::InvalidScore(-1.0))
        );
        assert_eq!(
            TaskInput::new(
                TaskKind::OverrideScore,
                Target::EntranceExam("e".into()),
                Some("a"),
                Some(1.0)
            ),
            Err(InputError::OverrideNeedsProblem)
        );
        assert_eq!(
            TaskInput::new(TaskKind::ResetAttempts, p(), None, Some(1.0)),
            Err(InputError::UnexpectedScore(TaskKind::ResetAttempts))
        );
        assert_eq!(
            TaskInput::new(
                TaskKind::Rescore,
                Target::Problem(String::new()),
                None,
                None
            ),
            Err(InputError::Empty("problem_url"))
        );
        assert_eq!(
            TaskInput::new(TaskKind::Rescore, p(), Some(""), None),
            Err(InputError::Empty("student"))
        );
        let both = TaskInput {
            problem_url: Some("a".into()),
            entrance_exam_url: Some("b".into()),
            ..TaskInput::default()
        };
        assert_eq!(
            both.validate(TaskKind::DeleteState),
            Err(InputError::BothTargets)
        );
        assert_eq!(
            TaskInput::default().validate(TaskKind::DeleteState),
            Err(InputError::MissingTarget)
        );
        let reset_with_flag = TaskInput {
            problem_url: Some("a".into()),
            only_if_higher: Some(false),
            ..TaskInput::default()
        };
        assert!(reset_with_flag.validate(TaskKind::ResetAttempts).is_err());
        let long = TaskInput::new(
            TaskKind::DeleteState,
            Target::Problem("k".repeat(TASK_INPUT_MAX_LEN)),
            None,
            None,
        );
        assert!(matches!(long, Err(InputError::TooLong(n)) if n > TASK_INPUT_MAX_LEN));
        let e: TaskError = InputError::MissingScore.into();
        assert_eq!(e.kind, ErrorKind::InvalidInput);
    }

    #[test]
    fn override_validation_and_raw_scores() {
        assert_eq!(validate_override(3.0, 4.0, None).unwrap(), (3.0, 4.0));
        assert_eq!(validate_override(4.0, 4.0, Some(2.0)).unwrap(), (2.0, 2.0));
        assert_eq!(validate_override(0.0, 4.0, Some(0.5)).unwrap(), (0.0, 8.0));
        let zero = validate_override(1.0, 4.0, Some(0.0)).unwrap_err();
        assert_eq!(zero.kind, ErrorKind::InvalidInput);
        assert!(zero.message.contains("weight of 0"));
        let over = validate_override(4.5, 4.0, None).unwrap_err();
        assert_eq!(
            over.message,
            "score 4.5 is outside 0..4 (the points available for the problem)"
        );
        assert!(validate_override(-0.1, 4.0, None).is_err());
        assert!(validate_override(f64::NAN, 4.0, None).is_err());
        assert!(validate_override(1.0, f64::INFINITY, None).is_err());
    }
}
