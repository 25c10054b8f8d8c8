//! Typed values of one cell, shared by the CSV and JSON readers so that both give the same
//! errors, each naming its column.

use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// What is wrong with one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The column at fault, when one is.
    pub column: Option<&'static str>,
    /// What is wrong.
    pub reason: String,
}

impl FieldError {
    pub(crate) fn at(column: &'static str, reason: impl Into<String>) -> Self {
        FieldError {
            column: Some(column),
            reason: reason.into(),
        }
    }

    pub(crate) fn row(reason: impl Into<String>) -> Self {
        FieldError {
            column: None,
            reason: reason.into(),
        }
    }
}

/// A JSON cell before it is checked against its column: accepting any JSON type here and
/// checking afterwards is what lets the error name the column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Loose {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    /// An object or an array (its content is skipped).
    Nested(&'static str),
}

impl Loose {
    fn describe(&self) -> String {
        match self {
            Loose::Null => "null".into(),
            Loose::Bool(b) => format!("the boolean {b}"),
            Loose::Int(i) => format!("the number {i}"),
            Loose::Float(f) => format!("the number {f}"),
            Loose::Str(s) => format!("the string {s:?}"),
            Loose::Nested(kind) => (*kind).into(),
        }
    }
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Loose;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Loose, E> {
                Ok(Loose::Null)
            }
            fn visit_none<E>(self) -> Result<Loose, E> {
                Ok(Loose::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Loose, D::Error> {
                Loose::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Loose, E> {
                Ok(Loose::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Loose, E> {
                Ok(Loose::Int(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Loose, E> {
                Ok(Loose::Int(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Loose, E> {
                Ok(Loose::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Loose, E> {
                Ok(Loose::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Loose, E> {
                Ok(Loose::Str(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Loose::Nested("an object"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Loose::Nested("an array"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A required JSON text cell.
pub(crate) fn json_text(column: &'static str, v: Option<Loose>) -> Result<String, FieldError> {
    match json_opt_text(column, v)? {
        Some(s) if !s.is_empty() => Ok(s),
        Some(_) => Err(FieldError::at(column, "is empty")),
        None => Err(FieldError::at(column, "is missing")),
    }
}

/// An optional (nullable) JSON text cell.
pub(crate) fn json_opt_text(
    column: &'static str,
    v: Option<Loose>,
) -> Result<Option<String>, FieldError> {
    match v {
        None | Some(Loose::Null) => Ok(None),
        Some(Loose::Str(s)) => Ok(Some(s)),
        Some(other) => Err(FieldError::at(
            column,
            format!("must be a string or null, found {}", other.describe()),
        )),
    }
}

/// A required JSON id cell (a positive integer, or a string of digits).
pub(crate) fn json_id(column: &'static str, v: Option<Loose>) -> Result<i64, FieldError> {
    json_opt_id(column, v)?.ok_or_else(|| FieldError::at(column, "is missing"))
}

/// An optional JSON id cell.
pub(crate) fn json_opt_id(
    column: &'static str,
    v: Option<Loose>,
) -> Result<Option<i64>, FieldError> {
    match v {
        None | Some(Loose::Null) => Ok(None),
        Some(Loose::Int(i)) => positive_id(column, i).map(Some),
        Some(Loose::Str(s)) => parse_opt_id(column, &s),
        Some(other) => Err(FieldError::at(
            column,
            format!("must be a positive integer, found {}", other.describe()),
        )),
    }
}

/// An optional JSON grade cell (a number, a numeric string, or null).
pub(crate) fn json_grade(
    column: &'static str,
    v: Option<Loose>,
) -> Result<Option<f64>, FieldError> {
    match v {
        None | Some(Loose::Null) => Ok(None),
        Some(Loose::Int(i)) => check_grade(column, i as f64).map(Some),
        Some(Loose::Float(f)) => check_grade(column, f).map(Some),
        Some(Loose::Str(s)) => parse_grade(column, &s),
        Some(other) => Err(FieldError::at(
            column,
            format!("must be a number or null, found {}", other.describe()),
        )),
    }
}

fn positive_id(column: &'static str, i: i128) -> Result<i64, FieldError> {
    i64::try_from(i)
        .ok()
        .filter(|&i| i > 0)
        .ok_or_else(|| FieldError::at(column, format!("must be a positive integer, found {i}")))
}

/// An id cell of text: empty means absent.
pub(crate) fn parse_opt_id(column: &'static str, text: &str) -> Result<Option<i64>, FieldError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<i128>() {
        Ok(i) => positive_id(column, i).map(Some),
        Err(_) => Err(FieldError::at(
            column,
            format!("must be a positive integer, found {text:?}"),
        )),
    }
}

/// A grade cell of text: empty, `NULL` and `\N` (MySQL's NULL marker) mean NULL.
pub(crate) fn parse_grade(column: &'static str, text: &str) -> Result<Option<f64>, FieldError> {
    let t = text.trim();
    if t.is_empty() || t == "NULL" || t == "\\N" {
        return Ok(None);
    }
    match t.parse::<f64>() {
        Ok(f) => check_grade(column, f).map(Some),
        Err(_) => Err(FieldError::at(column, format!("is not a number: {text:?}"))),
    }
}

fn check_grade(column: &'static str, f: f64) -> Result<f64, FieldError> {
    if !f.is_finite() {
        return Err(FieldError::at(
            column,
            format!("must be a finite number, found {f}"),
        ));
    }
    if f < 0.0 {
        return Err(FieldError::at(
            column,
            format!("must not be negative, found {f}"),
        ));
    }
    Ok(f)
}

/// Appends a grade as written to files: the shortest text that reads back as the same `f64`,
/// without an exponent and without a trailing `.0` (`1`, `0.5`, `0.3333333333333333`). That is
/// Rust's `Display` for `f64`, and the way MySQL prints a `DOUBLE`.
pub(crate) fn write_grade(out: &mut Vec<u8>, grade: f64) {
    use std::io::Write;
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{grade}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_round_trip_through_their_text() {
        for g in [
            0.0,
            1.0,
            0.5,
            1.0 / 3.0,
            2.0 / 3.0,
            12.75,
            1e-7,
            123456789.125,
            1e21,
        ] {
            let mut out = Vec::new();
            write_grade(&mut out, g);
            let text = String::from_utf8(out).unwrap();
            assert!(!text.contains('e'), "{text}");
            assert_eq!(parse_grade("grade", &text).unwrap(), Some(g), "{text}");
        }
    }

    #[test]
    fn bad_cells_name_their_column() {
        assert_eq!(
            parse_grade("grade", "abc").unwrap_err(),
            FieldError::at("grade", "is not a number: \"abc\"")
        );
        assert!(
            parse_grade("max_grade", "-1")
                .unwrap_err()
                .reason
                .contains("negative")
        );
        assert!(
            parse_grade("grade", "NaN")
                .unwrap_err()
                .reason
                .contains("finite")
        );
        assert!(
            parse_opt_id("id", "0")
                .unwrap_err()
                .reason
                .contains("positive")
        );
        assert!(
            json_id("student_id", Some(Loose::Bool(true)))
                .unwrap_err()
                .reason
                .contains("boolean")
        );
        assert_eq!(parse_grade("grade", "\\N").unwrap(), None);
    }
}
