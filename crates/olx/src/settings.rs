//! Block settings: what a block's XML attributes and `policy.json` say,
//! plus what it inherits from its ancestors.

use serde::Serialize;
use serde_json::{Map, Value};

/// Settings Open edX passes from a block to its descendants unless a
/// descendant sets them itself (`InheritanceMixin` in edx-platform; the
/// subset that matters for problems and grading).
///
/// `format` is not an inherited field in Open edX: the grader reads it from
/// the subsection. It is carried down here anyway so that every problem
/// knows the assignment type of its subsection without walking up the tree.
/// `weight` is deliberately absent: it is a per-problem field.
pub const INHERITED_SETTINGS: &[&str] = &[
    "graded",
    "format",
    "start",
    "due",
    "graceperiod",
    "showanswer",
    "show_correctness",
    "rerandomize",
    "max_attempts",
    "show_reset_button",
    "submission_wait_seconds",
    "days_early_for_beta",
    "visible_to_staff_only",
    "user_partitions",
    "static_asset_path",
    "self_paced",
];

/// Open edX's default for `showanswer` when nothing sets it.
pub const DEFAULT_SHOWANSWER: &str = "finished";
/// Open edX's default for `rerandomize` when nothing sets it.
pub const DEFAULT_RERANDOMIZE: &str = "never";

/// A block's effective settings.
///
/// The typed fields are read from [`Settings::raw`] and are `None` when the
/// setting is unset, explicitly `null` (e.g. `weight="null"`), or unreadable
/// (which also produces a warning). Open edX's defaults are not filled in;
/// see [`Settings::showanswer_or_default`] and friends.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Settings {
    /// Total points of a problem (own setting only, never inherited). Unset
    /// means each input is worth its `points` (default 1).
    pub weight: Option<f64>,
    /// Attempts allowed; unset means unlimited.
    pub max_attempts: Option<u32>,
    /// Whether the subsection counts towards the grade.
    pub graded: Option<bool>,
    /// Assignment type (a `GRADER[].type` from the grading policy).
    pub format: Option<String>,
    /// When the answer may be shown.
    pub showanswer: Option<String>,
    /// Randomization policy, normalised like Open edX's `Randomization`
    /// field (`true`/empty → `always`, `false` → `per_student`).
    pub rerandomize: Option<String>,
    /// Due date, as written (ISO 8601 in Studio exports).
    pub due: Option<String>,
    /// Release date, as written.
    pub start: Option<String>,
    /// Grace period after the due date, as written (e.g. `"2 days"`).
    pub graceperiod: Option<String>,
    /// Whether the Reset button is shown.
    pub show_reset_button: Option<bool>,
    /// Every effective setting: inherited values, then the block's own XML
    /// attributes (as strings, `"null"` as JSON null), then its
    /// `policy.json` entry (as JSON). Later sources override earlier ones.
    /// `url_name` is not included.
    pub raw: Map<String, Value>,
}

impl Settings {
    /// `showanswer`, or Open edX's default `finished`.
    pub fn showanswer_or_default(&self) -> &str {
        self.showanswer.as_deref().unwrap_or(DEFAULT_SHOWANSWER)
    }

    /// `rerandomize`, or Open edX's default `never`.
    pub fn rerandomize_or_default(&self) -> &str {
        self.rerandomize.as_deref().unwrap_or(DEFAULT_RERANDOMIZE)
    }

    /// The subset of `raw` that descendants inherit.
    pub fn inheritable(&self) -> Map<String, Value> {
        self.raw
            .iter()
            .filter(|(k, _)| INHERITED_SETTINGS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Builds the typed view of `raw`. Unreadable values are reported
    /// through `bad` (setting name and value) and left unset, so that one odd
    /// attribute does not make the whole course unreadable.
    pub(crate) fn from_raw(raw: Map<String, Value>, bad: &mut dyn FnMut(&str, &Value)) -> Self {
        let typed = |name: &str| raw.get(name).cloned();
        let mut out = Settings::default();

        macro_rules! field {
            ($field:ident, $parse:expr) => {
                if let Some(v) = typed(stringify!($field)) {
                    match $parse(&v) {
                        Parsed::Ok(x) => out.$field = Some(x),
                        Parsed::Unset => {}
                        Parsed::Bad => bad(stringify!($field), &v),
                    }
                }
            };
        }
        field!(weight, parse_f64);
        field!(max_attempts, parse_u32);
        field!(graded, parse_bool);
        field!(format, parse_string);
        field!(showanswer, parse_string);
        field!(rerandomize, parse_rerandomize);
        field!(due, parse_string);
        field!(start, parse_string);
        field!(graceperiod, parse_string);
        field!(show_reset_button, parse_bool);
        out.raw = raw;
        out
    }
}

/// Result of reading one setting.
pub(crate) enum Parsed<T> {
    Ok(T),
    /// `null`, or an empty string where a number is expected.
    Unset,
    /// Not readable as the setting's type.
    Bad,
}

/// A float field (`Float.from_json`: numbers, or strings holding numbers).
pub(crate) fn parse_f64(v: &Value) -> Parsed<f64> {
    match v {
        Value::Null => Parsed::Unset,
        Value::Number(n) => n.as_f64().map_or(Parsed::Bad, Parsed::Ok),
        Value::String(s) if s.trim().is_empty() || s.trim() == "null" => Parsed::Unset,
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Parsed::Ok(x),
            _ => Parsed::Bad,
        },
        _ => Parsed::Bad,
    }
}

/// A non-negative integer field; floats are truncated as Python's `int()`
/// does.
pub(crate) fn parse_u32(v: &Value) -> Parsed<u32> {
    match parse_f64(v) {
        Parsed::Ok(x) if (0.0..=u32::MAX as f64).contains(&x) => Parsed::Ok(x.trunc() as u32),
        Parsed::Ok(_) | Parsed::Bad => Parsed::Bad,
        Parsed::Unset => Parsed::Unset,
    }
}

/// A boolean field (`Boolean.from_json`: a string is true exactly when it is
/// `true` in any case; other values by truthiness).
pub(crate) fn parse_bool(v: &Value) -> Parsed<bool> {
    match v {
        Value::Null => Parsed::Unset,
        Value::Bool(b) => Parsed::Ok(*b),
        Value::String(s) => Parsed::Ok(s.trim().eq_ignore_ascii_case("true")),
        Value::Number(n) => Parsed::Ok(n.as_f64().is_some_and(|x| x != 0.0)),
        _ => Parsed::Bad,
    }
}

/// A string field; numbers and booleans are written out.
pub(crate) fn parse_string(v: &Value) -> Parsed<String> {
    match v {
        Value::Null => Parsed::Unset,
        Value::String(s) => Parsed::Ok(s.clone()),
        Value::Number(n) => Parsed::Ok(n.to_string()),
        Value::Bool(b) => Parsed::Ok(b.to_string()),
        _ => Parsed::Bad,
    }
}

/// Open edX's `Randomization.from_json`: `""`/`"true"`/`true` mean
/// `always`, `"false"`/`false` mean `per_student`, anything else is kept.
pub(crate) fn parse_rerandomize(v: &Value) -> Parsed<String> {
    match v {
        Value::Bool(true) => Parsed::Ok("always".to_string()),
        Value::Bool(false) => Parsed::Ok("per_student".to_string()),
        Value::String(s) if s.is_empty() || s == "true" => Parsed::Ok("always".to_string()),
        Value::String(s) if s == "false" => Parsed::Ok("per_student".to_string()),
        other => parse_string(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(v: Value) -> (Settings, Vec<String>) {
        let mut bad = Vec::new();
        let raw = v.as_object().unwrap().clone();
        let s = Settings::from_raw(raw, &mut |name, _| bad.push(name.to_string()));
        (s, bad)
    }

    #[test]
    fn typed_fields() {
        let (s, bad) = settings(json!({
            "weight": "2.5", "max_attempts": "3", "graded": "True", "format": "Homework",
            "showanswer": "always", "rerandomize": "false", "due": "2030-01-01T00:00:00Z",
            "show_reset_button": true
        }));
        assert!(bad.is_empty());
        assert_eq!(s.weight, Some(2.5));
        assert_eq!(s.max_attempts, Some(3));
        assert_eq!(s.graded, Some(true));
        assert_eq!(s.format.as_deref(), Some("Homework"));
        assert_eq!(s.rerandomize.as_deref(), Some("per_student"));
        assert_eq!(s.due.as_deref(), Some("2030-01-01T00:00:00Z"));
        assert_eq!(s.show_reset_button, Some(true));
        assert_eq!(s.showanswer_or_default(), "always");
    }

    #[test]
    fn null_is_unset_and_garbage_is_reported() {
        let (s, bad) = settings(json!({"weight": null, "max_attempts": "null", "graded": "yes"}));
        assert_eq!(s.weight, None);
        assert_eq!(s.max_attempts, None);
        // Open edX reads any string other than "true" as false.
        assert_eq!(s.graded, Some(false));
        assert!(bad.is_empty());
        assert_eq!(s.showanswer_or_default(), "finished");
        assert_eq!(s.rerandomize_or_default(), "never");

        let (s, bad) = settings(json!({"weight": "heavy", "max_attempts": "-1"}));
        assert_eq!((s.weight, s.max_attempts), (None, None));
        assert_eq!(bad, vec!["weight", "max_attempts"]);
    }

    #[test]
    fn floats_truncate_for_integers() {
        let (s, _) = settings(json!({"max_attempts": 2.0}));
        assert_eq!(s.max_attempts, Some(2));
    }
}
