//! JSON text exactly as Python's `json.dumps` writes it with default arguments.
//!
//! Open edX stores `StudentModule.state`, `task_input` and tracking payloads with `json.dumps(obj)`:
//! separators `", "` and `": "`, every non-ASCII character escaped as a lowercase `\uXXXX` (surrogate pairs
//! above the BMP), and floats in Python's `repr` form (`1e-05`, `2.0`, `1e+16`). Writing our output the
//! same way keeps rewritten rows indistinguishable from rows the LMS wrote, so tools that diff or hash
//! states keep working.

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, Serializer};
use std::io;

/// A `serde_json` formatter producing Python `json.dumps` (default arguments) text.
#[derive(Debug, Default, Clone, Copy)]
pub struct PyFormatter;

impl Formatter for PyFormatter {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        let mut s = String::new();
        push_py_float(&mut s, value);
        writer.write_all(s.as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // serde_json has already escaped quotes, backslashes and C0 controls; what is left for us is
        // Python's `ensure_ascii`: DEL and everything outside ASCII.
        let bytes = fragment.as_bytes();
        let mut start = 0;
        for (i, ch) in fragment.char_indices() {
            if ch.is_ascii() && ch != '\x7f' {
                continue;
            }
            writer.write_all(&bytes[start..i])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(writer, "\\u{:04x}", unit)?;
            }
            start = i + ch.len_utf8();
        }
        writer.write_all(&bytes[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        // Same escapes as Python: the short forms for \" \\ \b \f \n \r \t, `\u00XX` (lowercase) for
        // the other control characters. serde_json escapes `/` never, like Python.
        let s: &[u8] = match char_escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"/",
            CharEscape::Backspace => b"\\b",
            CharEscape::FormFeed => b"\\f",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(byte) => {
                return write!(writer, "\\u{:04x}", byte);
            }
        };
        writer.write_all(s)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }
}

/// Appends `value` serialized in Python `json.dumps` style.
pub fn push_json<T: Serialize + ?Sized>(out: &mut String, value: &T) {
    // Write straight into the String's buffer (taken as a Vec and given back) to avoid a copy.
    let mut buf = std::mem::take(out).into_bytes();
    {
        let mut ser = Serializer::with_formatter(&mut buf, PyFormatter);
        // Serializing `Serialize` values built from serde_json / plain data into a Vec cannot fail
        // except for non-string map keys, which none of our types have.
        value
            .serialize(&mut ser)
            .expect("serializing to an in-memory buffer");
    }
    // serde_json only emits valid UTF-8.
    *out = String::from_utf8(buf).expect("serde_json writes UTF-8");
}

/// `value` serialized in Python `json.dumps` style.
pub fn to_py_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut s = String::new();
    push_json(&mut s, value);
    s
}

/// Appends a JSON string literal (Python style escaping).
pub fn push_str_lit(out: &mut String, s: &str) {
    // Fast path for the common case (keys, ids, usernames): printable ASCII needing no escape.
    if s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        push_json(out, s);
    }
}

/// Appends a number the way the LMS would have stored it: integral values as integers (Python sums of
/// integer points stay `int`), other values in Python float `repr`. Non-finite values become `null`,
/// because they are not JSON (Python would write the non-standard `NaN`/`Infinity`).
pub fn push_num(out: &mut String, v: f64) {
    use std::fmt::Write;
    if !v.is_finite() {
        out.push_str("null");
    } else if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
        // Exact: |v| < 2^53 so the cast is lossless; `-0.0` prints as `0`.
        let _ = write!(out, "{}", v as i64);
    } else {
        push_py_float(out, v);
    }
}

/// A number formatted like [`push_num`], for human-readable reasons ("1/4", "2.75/4").
pub fn num_text(v: f64) -> String {
    let mut s = String::new();
    push_num(&mut s, v);
    s
}

/// Appends Python's `repr(float)`: shortest round-trip digits, scientific notation when the decimal
/// exponent is below -4 or at least 16, always with a `.0` or exponent so it reads back as a float.
pub fn push_py_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7", "3e0".
    let sci = format!("{:e}", v);
    let (mantissa, exp) = sci.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("exponent is an integer");
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if negative {
        out.push('-');
    }
    if !(-4..16).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        use std::fmt::Write;
        let _ = write!(out, "{:02}", exp.abs());
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
}

/// Writes a JSON object key by key in Python style into a `String`.
pub struct ObjectWriter<'o> {
    out: &'o mut String,
    first: bool,
}

impl<'o> ObjectWriter<'o> {
    /// Starts an object (`{`).
    pub fn new(out: &'o mut String) -> Self {
        out.push('{');
        ObjectWriter { out, first: true }
    }

    fn key(&mut self, key: &str) -> &mut String {
        if !self.first {
            self.out.push_str(", ");
        }
        self.first = false;
        push_str_lit(self.out, key);
        self.out.push_str(": ");
        self.out
    }

    /// A field whose value is already JSON text (trusted to be valid).
    pub fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key).push_str(json);
        self
    }

    /// A field serialized with [`push_json`].
    pub fn value<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> &mut Self {
        let out = self.key(key);
        push_json(out, value);
        self
    }

    /// A string field.
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        let out = self.key(key);
        push_str_lit(out, value);
        self
    }

    /// A number field written with [`push_num`].
    pub fn num(&mut self, key: &str, value: f64) -> &mut Self {
        let out = self.key(key);
        push_num(out, value);
        self
    }

    /// An optional number field (`null` when absent).
    pub fn opt_num(&mut self, key: &str, value: Option<f64>) -> &mut Self {
        match value {
            Some(v) => self.num(key, v),
            None => self.raw(key, "null"),
        }
    }

    /// Closes the object (`}`).
    pub fn finish(self) {
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn float(v: f64) -> String {
        let mut s = String::new();
        push_py_float(&mut s, v);
        s
    }

    #[test]
    fn floats_match_python_repr() {
        // Expected values from python3 -c 'print(repr(x))'.
        assert_eq!(float(2.0), "2.0");
        assert_eq!(float(2.75), "2.75");
        assert_eq!(float(0.1), "0.1");
        assert_eq!(float(1e-5), "1e-05");
        assert_eq!(float(0.0001), "0.0001");
        assert_eq!(float(1.5e-7), "1.5e-07");
        assert_eq!(float(1e16), "1e+16");
        assert_eq!(float(1234567890123456.0), "1234567890123456.0");
        assert_eq!(float(1.2345e20), "1.2345e+20");
        assert_eq!(float(-0.5), "-0.5");
        assert_eq!(float(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(float(0.0), "0.0");
        assert_eq!(float(123.456), "123.456");
    }

    #[test]
    fn numbers_are_ints_when_integral() {
        assert_eq!(num_text(3.0), "3");
        assert_eq!(num_text(-0.0), "0");
        assert_eq!(num_text(2.75), "2.75");
        assert_eq!(num_text(f64::NAN), "null");
    }

    #[test]
    fn objects_use_python_separators_and_ascii_escapes() {
        let v = json!({"a": [1, 2.5, "é\u{1F600}\u{7f}"], "b": {"c": null, "d": "q\"\\\n\u{1}"}});
        assert_eq!(
            to_py_json(&v),
            r#"{"a": [1, 2.5, "\u00e9\ud83d\ude00\u007f"], "b": {"c": null, "d": "q\"\\\n\u0001"}}"#
        );
    }

    #[test]
    fn string_literals_fast_and_slow_paths_agree() {
        for s in [
            "plain id_2_1",
            "",
            "quote\"",
            "back\\slash",
            "tab\t",
            "caf\u{e9}",
            "\u{7f}",
            "~ !",
        ] {
            let mut fast = String::new();
            push_str_lit(&mut fast, s);
            assert_eq!(fast, to_py_json(s), "{s:?}");
        }
    }

    #[test]
    fn object_writer_builds_fields_in_order() {
        let mut s = String::new();
        let mut w = ObjectWriter::new(&mut s);
        w.str("x", "y")
            .num("n", 1.0)
            .opt_num("m", None)
            .raw("r", "[]");
        w.finish();
        assert_eq!(s, r#"{"x": "y", "n": 1, "m": null, "r": []}"#);
    }
}
