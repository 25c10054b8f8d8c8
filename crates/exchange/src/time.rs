//! Timestamps of `created` and `modified`.
//!
//! Written as `YYYY-MM-DD HH:MM:SS.ffffff` in UTC, always with six fractional digits: the text
//! form of a MySQL `DATETIME(6)` column, which is what Open edX's `courseware_studentmodule` uses
//! (with `USE_TZ`, stored in UTC), so files load back with `LOAD DATA` unchanged. Read: the same
//! form with a space or `T`, zero to nine fractional digits, and an optional `Z` or numeric
//! offset (converted to UTC); no offset means UTC. Precision below a microsecond is dropped,
//! as the store keeps microseconds.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

/// Formats a timestamp the way files are written.
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// Parses a timestamp in any accepted form (see the module docs).
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    let s = text.trim();
    let parsed = parse_rfc3339_like(s).or_else(|| parse_general(s));
    parsed.map(|t| t.trunc_subsecs(6)).ok_or_else(|| {
        format!("{text:?} is not a timestamp (expected YYYY-MM-DD HH:MM:SS[.ffffff][Z|+HH:MM])")
    })
}

/// The common forms (the written one, and ISO 8601 with `T`, `Z` or `±HH:MM`) through chrono's
/// RFC 3339 reader, which reads by position: the format-string parsers below interpret their
/// format on every call, and a state import parses two timestamps a row. A form without an offset
/// is read as UTC by appending `Z`. Anything else falls through to the general parsers.
fn parse_rfc3339_like(s: &str) -> Option<DateTime<Utc>> {
    const LONGEST: usize = 48;
    let offset_given = s.ends_with(['Z', 'z']) || has_offset(s);
    let parsed = if offset_given {
        DateTime::parse_from_rfc3339(s).ok()?
    } else {
        if s.len() >= LONGEST {
            return None;
        }
        let mut buffer = [0u8; LONGEST];
        buffer[..s.len()].copy_from_slice(s.as_bytes());
        buffer[s.len()] = b'Z';
        let with_zone = std::str::from_utf8(&buffer[..=s.len()]).ok()?;
        DateTime::parse_from_rfc3339(with_zone).ok()?
    };
    Some(parsed.with_timezone(&Utc))
}

/// Every accepted form, through chrono's format-string parsers.
fn parse_general(s: &str) -> Option<DateTime<Utc>> {
    if let Some(naive) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        parse_naive(naive)
    } else if has_offset(s) {
        DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z")
            .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%:z"))
            .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%z"))
            .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
            .ok()
            .map(|t| t.with_timezone(&Utc))
    } else {
        parse_naive(s)
    }
}

fn parse_naive(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
        .map(|n| n.and_utc())
}

/// Whether the text ends in a numeric UTC offset (`+01:00`, `-0500`); the date's own dashes come
/// before the time, so only the part after the time separator is looked at.
fn has_offset(s: &str) -> bool {
    let time = s.get(10..).unwrap_or("");
    time.contains('+') || time.contains('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms_and_the_written_form() {
        let expected = "2024-03-01 12:00:05.250000";
        for text in [
            "2024-03-01 12:00:05.25",
            "2024-03-01T12:00:05.250000Z",
            "2024-03-01T13:00:05.25+01:00",
            "2024-03-01 07:00:05.250000-0500",
            "2024-03-01 12:00:05.250000123",
        ] {
            let t = parse_timestamp(text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(format_timestamp(t), expected, "{text}");
        }
        assert_eq!(
            format_timestamp(parse_timestamp("2024-03-01 12:00:05").unwrap()),
            "2024-03-01 12:00:05.000000"
        );
    }

    #[test]
    fn the_fast_reader_agrees_with_the_general_parsers() {
        // What the general parsers accept, the fast reader reads to the same instant or leaves
        // to them.
        for text in [
            "2024-03-01 12:00:05.250000",
            "2024-03-01 12:00:05",
            "2024-03-01T12:00:05.1Z",
            "2024-03-01T12:00:05.123456789Z",
            "2024-03-01 12:00:05.1234567891234z",
            "2024-02-29 23:59:59.999999",
            "2024-03-01T13:00:05+01:00",
            "2024-03-01 07:00:05.5-05:00",
            "2024-12-31 23:59:60.500000",
            "1970-01-01 00:00:00",
            "9999-12-31 23:59:59.999999",
        ] {
            let fast = parse_rfc3339_like(text);
            assert!(fast.is_some(), "{text} takes the fast path");
            assert_eq!(fast, parse_general(text), "{text}");
        }
        for text in [
            "2024-03-01 07:00:05.250000-0500",
            "12024-03-01 00:00:00",
            "2023-02-29 00:00:00",
        ] {
            assert_eq!(
                parse_rfc3339_like(text),
                None,
                "{text} is left to the general parsers"
            );
        }
        let long = format!("2024-03-01 12:00:05.{}", "1".repeat(60));
        assert_eq!(parse_rfc3339_like(&long), None);
        assert!(parse_timestamp(&long).is_ok());
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
        for text in ["", "yesterday", "2024-13-01 00:00:00", "2024-03-01"] {
            let err = parse_timestamp(text).unwrap_err();
            assert!(err.contains("is not a timestamp"), "{err}");
        }
    }
}
