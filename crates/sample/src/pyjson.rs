//! JSON text the way Python's `json.dumps` writes it with default options
//! (`", "` and `": "` separators, non-ASCII escaped, floats in `repr` form),
//! which is how Open edX stores `StudentModule.state`.

use std::fmt::Write;

use serde_json::Value;

/// Appends `value` as Python's `json.dumps(value)` would write it.
pub(crate) fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                write_float(out, n.as_f64().unwrap_or(f64::NAN));
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(out, k);
                out.push_str(": ");
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

/// `json.dumps(value)` as a new string.
pub(crate) fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// Python's `repr(float)`: shortest round-trip digits, `.0` on integral
/// values, exponent form below 1e-4 and from 1e16 on (`1e-05`, `1e+16`).
pub(crate) fn write_float(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("NaN");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
    } else if x == 0.0 || (1e-4..1e16).contains(&x.abs()) {
        if x.fract() == 0.0 {
            let _ = write!(out, "{x:.1}");
        } else {
            let _ = write!(out, "{x}");
        }
    } else {
        let text = format!("{x:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let (sign, digits) = match exponent.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exponent),
        };
        let _ = write!(out, "{mantissa}e{sign}{digits:0>2}");
    }
}

/// A JSON string literal with Python's default `ensure_ascii=True`.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_python_json_dumps() {
        let v = json!({"a": [1, 2.5, "é"], "b": {"c": null, "d": true}, "e": 2.0});
        assert_eq!(
            to_string(&v),
            r#"{"a": [1, 2.5, "\u00e9"], "b": {"c": null, "d": true}, "e": 2.0}"#
        );
        let mut s = String::new();
        for x in [0.8, 1.0, 1e-5, 1.5e16, 0.0001, 2.67, -3.0] {
            write_float(&mut s, x);
            s.push(' ');
        }
        assert_eq!(s, "0.8 1.0 1e-05 1.5e+16 0.0001 2.67 -3.0 ");
        let mut s = String::new();
        write_str(&mut s, "a\"b\\\n😀");
        assert_eq!(s, r#""a\"b\\\n\ud83d\ude00""#);
    }
}
