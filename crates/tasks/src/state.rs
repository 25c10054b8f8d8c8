//! One-pass reading of a capa state JSON and byte-preserving rewrites of its top-level fields.
//!
//! The state is scanned once: the few fields the operations need are captured as borrowed raw slices of
//! the input (`&RawValue`), `student_answers` is parsed into a map only when rescoring, and every other
//! value is validated but not materialised. A rewrite then splices new text for the changed fields into
//! the original string, so every untouched byte — other fields, key order, number spelling, escapes,
//! whitespace — stays exactly as the LMS wrote it.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::fmt;

/// What rescoring found in `student_answers`.
#[derive(Debug, Default)]
pub(crate) enum Answers {
    /// Not read (reset/override) or absent/null.
    #[default]
    Absent,
    /// A JSON object.
    Object(Map<String, Value>),
    /// Present but not an object; the JSON type found (`"a list"`).
    NotObject(&'static str),
}

/// The fields of a state that the operations look at, borrowed from the text.
#[derive(Debug, Default)]
pub(crate) struct StateView<'a> {
    /// The whole state text (`"{}"` for a missing or empty state).
    pub text: &'a str,
    /// Number of top-level entries (to know whether an inserted key needs a leading comma).
    pub entries: usize,
    pub done: Option<&'a RawValue>,
    pub seed: Option<&'a RawValue>,
    pub attempts: Option<&'a RawValue>,
    pub correct_map: Option<&'a RawValue>,
    pub score: Option<&'a RawValue>,
    pub answers: Answers,
}

/// Why a state could not be read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ReadError {
    /// Not JSON at all; the serde message.
    Syntax(String),
    /// JSON, but not an object.
    NotObject,
}

impl<'a> StateView<'a> {
    /// True when the learner has submitted (`"done": true`; anything else counts as not submitted,
    /// like Python's truthiness for the values capa writes: `true`, `false`, `null`).
    pub fn is_done(&self) -> bool {
        self.done.is_some_and(|d| d.get() == "true")
    }

    /// The problem seed: a non-negative integer `seed`, else capa's default 1.
    pub fn seed(&self) -> u64 {
        self.seed
            .and_then(|s| s.get().parse::<u64>().ok())
            .unwrap_or(1)
    }
}

/// Reads a state. `None`, empty/blank text and `null` read as an empty object (upstream's `json.loads`
/// of an empty state is treated as `{}` by every operation). `with_answers` parses `student_answers`.
pub(crate) fn read(state: Option<&str>, with_answers: bool) -> Result<StateView<'_>, ReadError> {
    let text = match state {
        None => return Ok(empty()),
        Some(t) if t.trim().is_empty() || t.trim() == "null" => return Ok(empty()),
        Some(t) => t,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let mut view = ViewSeed { with_answers }
        .deserialize(&mut de)
        .map_err(classify)?;
    de.end().map_err(classify)?;
    view.text = text;
    Ok(view)
}

fn empty() -> StateView<'static> {
    StateView {
        text: "{}",
        ..StateView::default()
    }
}

fn classify(e: serde_json::Error) -> ReadError {
    if e.is_data() {
        ReadError::NotObject
    } else {
        ReadError::Syntax(e.to_string())
    }
}

struct ViewSeed {
    with_answers: bool,
}

enum Field {
    Done,
    Seed,
    Attempts,
    CorrectMap,
    Score,
    StudentAnswers,
    Other,
}

impl<'de> de::Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            // Matching on `&str` avoids allocating the key, whether serde_json borrows it or had to
            // unescape it into a scratch buffer.
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(match v {
                    "done" => Field::Done,
                    "seed" => Field::Seed,
                    "attempts" => Field::Attempts,
                    "correct_map" => Field::CorrectMap,
                    "score" => Field::Score,
                    "student_answers" => Field::StudentAnswers,
                    _ => Field::Other,
                })
            }
        }
        d.deserialize_identifier(FieldVisitor)
    }
}

impl<'de> DeserializeSeed<'de> for ViewSeed {
    type Value = StateView<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ViewSeed {
    type Value = StateView<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // Later duplicates win, as with Python's json.loads.
        let mut view = StateView::default();
        while let Some(field) = map.next_key::<Field>()? {
            view.entries += 1;
            match field {
                Field::Done => view.done = Some(map.next_value()?),
                Field::Seed => view.seed = Some(map.next_value()?),
                Field::Attempts => view.attempts = Some(map.next_value()?),
                Field::CorrectMap => view.correct_map = Some(map.next_value()?),
                Field::Score => view.score = Some(map.next_value()?),
                Field::StudentAnswers if self.with_answers => {
                    view.answers = match map.next_value::<Value>()? {
                        Value::Object(m) => Answers::Object(m),
                        Value::Null => Answers::Absent,
                        Value::Array(_) => Answers::NotObject("a list"),
                        Value::String(_) => Answers::NotObject("a string"),
                        Value::Bool(_) => Answers::NotObject("a boolean"),
                        Value::Number(_) => Answers::NotObject("a number"),
                    };
                }
                Field::StudentAnswers | Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(view)
    }
}

/// One top-level field to write: the key, its current raw value if present, and the new JSON text.
pub(crate) struct Edit<'a, 't> {
    pub key: &'static str,
    pub current: Option<&'a RawValue>,
    pub json: &'t str,
}

/// The state text with `edits` applied: present fields are replaced in place, absent ones are appended
/// at the end of the object (`, "key": value`, Python separators).
pub(crate) fn splice(view: &StateView<'_>, edits: &mut [Edit<'_, '_>]) -> String {
    let text = view.text;
    let base = text.as_ptr() as usize;
    let offset = |raw: &RawValue| raw.get().as_ptr() as usize - base;
    // Replacements in text order, then insertions.
    edits.sort_by_key(|e| e.current.map_or(usize::MAX, offset));
    let extra: usize = edits.iter().map(|e| e.json.len() + e.key.len() + 6).sum();
    let mut out = String::with_capacity(text.len() + extra);
    let mut pos = 0;
    // The end of the last entry: before the closing brace and any whitespace preceding it.
    let close = text.trim_end().len() - 1;
    let insert_at = text[..close].trim_end().len();
    let mut entries = view.entries;
    for e in edits.iter() {
        match e.current {
            Some(raw) => {
                let start = offset(raw);
                out.push_str(&text[pos..start]);
                out.push_str(e.json);
                pos = start + raw.get().len();
            }
            None => {
                out.push_str(&text[pos..insert_at]);
                pos = insert_at;
                if entries > 0 {
                    out.push_str(", ");
                }
                entries += 1;
                out.push('"');
                out.push_str(e.key);
                out.push_str("\": ");
                out.push_str(e.json);
            }
        }
    }
    out.push_str(&text[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_and_defaults() {
        let s = r#"{"attempts": 2, "seed": 17, "done": true, "student_answers": {"p_2_1": "a"}, "x": [1, {"y": "z"}]}"#;
        let v = read(Some(s), true).unwrap();
        assert!(v.is_done());
        assert_eq!(v.seed(), 17);
        assert_eq!(v.attempts.unwrap().get(), "2");
        assert_eq!(v.entries, 5);
        assert!(matches!(&v.answers, Answers::Object(m) if m["p_2_1"] == "a"));
        let v = read(Some(s), false).unwrap();
        assert!(matches!(v.answers, Answers::Absent));
        for empty in [None, Some(""), Some("  "), Some("null")] {
            let v = read(empty, true).unwrap();
            assert_eq!(
                (v.text, v.entries, v.is_done(), v.seed()),
                ("{}", 0, false, 1)
            );
        }
        assert!(!read(Some(r#"{"done": false}"#), false).unwrap().is_done());
        assert_eq!(read(Some(r#"{"seed": -3}"#), false).unwrap().seed(), 1);
        assert!(matches!(
            read(Some(r#"{"student_answers": [1]}"#), true)
                .unwrap()
                .answers,
            Answers::NotObject("a list")
        ));
    }

    #[test]
    fn read_errors() {
        assert_eq!(
            read(Some("[1, 2]"), false).unwrap_err(),
            ReadError::NotObject
        );
        assert_eq!(
            read(Some("\"s\""), false).unwrap_err(),
            ReadError::NotObject
        );
        assert!(matches!(
            read(Some("{\"a\": "), false),
            Err(ReadError::Syntax(_))
        ));
        assert!(matches!(
            read(Some("{} x"), false),
            Err(ReadError::Syntax(_))
        ));
        assert!(matches!(
            read(Some("{\"a\": tru}"), false),
            Err(ReadError::Syntax(_))
        ));
    }

    #[test]
    fn splices_in_place_and_appends() {
        let s = "{\"score\": {\"raw_earned\": 1.0}, \"k\": \"\\u00e9\",\"attempts\":3 }";
        let v = read(Some(s), false).unwrap();
        let mut edits = [
            Edit {
                key: "attempts",
                current: v.attempts,
                json: "0",
            },
            Edit {
                key: "correct_map",
                current: v.correct_map,
                json: "{}",
            },
            Edit {
                key: "score",
                current: v.score,
                json: "{\"raw_earned\": 2}",
            },
        ];
        assert_eq!(
            splice(&v, &mut edits),
            "{\"score\": {\"raw_earned\": 2}, \"k\": \"\\u00e9\",\"attempts\":0, \"correct_map\": {} }"
        );
        let v = read(Some("{ }"), false).unwrap();
        let mut edits = [Edit {
            key: "score",
            current: None,
            json: "1",
        }];
        assert_eq!(splice(&v, &mut edits), "{\"score\": 1 }");
        let v = read(None, false).unwrap();
        let mut edits = [Edit {
            key: "score",
            current: None,
            json: "1",
        }];
        assert_eq!(splice(&v, &mut edits), "{\"score\": 1}");
    }

    use proptest::prelude::*;

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            "[a-z\\u{e9}\\u{2713}\"\\\\ ]{0,6}".prop_map(Value::String),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec(("[a-z]{1,3}", inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Splicing = parse, set the fields, re-serialize — and the untouched text survives verbatim.
        #[test]
        fn splice_matches_a_full_rewrite(
            entries in proptest::collection::vec(
                (prop_oneof![Just("score".to_string()), Just("correct_map".to_string()),
                             Just("attempts".to_string()), "[a-z]{1,4}"], value()),
                0..8),
            compact in any::<bool>(),
        ) {
            let original = Value::Object(entries.into_iter().collect());
            let text = if compact {
                serde_json::to_string(&original).unwrap()
            } else {
                crate::pyjson::to_py_json(&original)
            };
            let view = read(Some(&text), false).unwrap();
            let mut edits = [
                Edit { key: "score", current: view.score, json: "{\"raw_earned\": 1}" },
                Edit { key: "attempts", current: view.attempts, json: "0" },
            ];
            let out = splice(&view, &mut edits);
            // Re-read through the same parser (serde_json's default float parsing is not always
            // correctly rounded, so compare like with like).
            let reread: Value = serde_json::from_str(&text).unwrap();
            let mut expected = reread.as_object().unwrap().clone();
            expected.insert("score".into(), serde_json::json!({"raw_earned": 1}));
            expected.insert("attempts".into(), serde_json::json!(0));
            let got: Value = serde_json::from_str(&out).unwrap();
            // Same content and key order (preserve_order maps compare in order via their keys list).
            prop_assert_eq!(got.as_object().unwrap().keys().collect::<Vec<_>>(),
                            expected.keys().collect::<Vec<_>>());
            prop_assert_eq!(&got, &Value::Object(expected));
            // Untouched fields keep their exact text.
            if let Some(cm) = view.correct_map {
                prop_assert!(out.contains(cm.get()));
            }
        }
    }
}
