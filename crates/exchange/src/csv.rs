//! A small streaming CSV record reader and field writer (RFC 4180 with `\n` or `\r\n` line
//! ends).
//!
//! Why not the `csv` crate: Open edX state columns distinguish NULL from the empty string, and
//! the only place CSV can carry that difference is quoting (an empty unquoted field is NULL, `""`
//! is the empty string). The `csv` crate does not say whether a field was quoted; this reader does.

use std::io::{self, BufRead};

/// One field of the current record: a byte range of the unescaped record buffer.
#[derive(Debug, Clone, Copy)]
struct Field {
    start: usize,
    end: usize,
    quoted: bool,
}

/// A syntax error in the CSV text itself (as opposed to a bad value).
#[derive(Debug)]
pub(crate) enum CsvError {
    /// The input could not be read.
    Io(io::Error),
    /// Broken quoting; the record is skipped (or, for an unterminated quote, the rest of the file).
    Syntax(String),
}

impl From<io::Error> for CsvError {
    fn from(e: io::Error) -> Self {
        CsvError::Io(e)
    }
}

/// Reads records one at a time; memory is one record, whatever the file size.
pub(crate) struct CsvReader<R> {
    input: R,
    raw: Vec<u8>,
    out: Vec<u8>,
    fields: Vec<Field>,
    /// Physical lines consumed so far.
    lines: u64,
    /// First line of the current record (1-based).
    record_line: u64,
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    AfterQuote,
}

impl<R: BufRead> CsvReader<R> {
    pub(crate) fn new(input: R) -> Self {
        CsvReader {
            input,
            raw: Vec::with_capacity(4096),
            out: Vec::with_capacity(4096),
            fields: Vec::with_capacity(16),
            lines: 0,
            record_line: 0,
        }
    }

    /// The line where the current record starts.
    pub(crate) fn record_line(&self) -> u64 {
        self.record_line
    }

    /// Number of fields of the current record.
    pub(crate) fn len(&self) -> usize {
        self.fields.len()
    }

    /// Bytes of field `i` (unescaped).
    pub(crate) fn bytes(&self, i: usize) -> &[u8] {
        let f = self.fields[i];
        &self.out[f.start..f.end]
    }

    /// Whether field `i` was written in quotes.
    pub(crate) fn quoted(&self, i: usize) -> bool {
        self.fields[i].quoted
    }

    /// Reads the next non-blank record. `Ok(false)` at the end of the input. After a
    /// [`CsvError::Syntax`] the reader is positioned at the next line, so reading can go on.
    pub(crate) fn read_record(&mut self) -> Result<bool, CsvError> {
        loop {
            self.out.clear();
            self.fields.clear();
            self.raw.clear();
            if self.input.read_until(b'\n', &mut self.raw)? == 0 {
                return Ok(false);
            }
            self.lines += 1;
            self.record_line = self.lines;
            if self.lines == 1 && self.raw.starts_with(b"\xEF\xBB\xBF") {
                // A UTF-8 byte order mark (spreadsheet exports) is not part of the first field.
                self.raw.drain(..3);
            }
            if matches!(&self.raw[..], b"\n" | b"\r\n") {
                continue; // blank line
            }
            self.parse()?;
            return Ok(true);
        }
    }

    fn push_field(&mut self, start: usize, quoted: bool) {
        self.fields.push(Field {
            start,
            end: self.out.len(),
            quoted,
        });
    }

    fn parse(&mut self) -> Result<(), CsvError> {
        let mut state = State::FieldStart;
        let mut start = 0;
        let mut pos = 0;
        loop {
            if pos >= self.raw.len() {
                if state == State::Quoted {
                    // The quoted field goes on over the line end, which is part of the value.
                    self.raw.clear();
                    if self.input.read_until(b'\n', &mut self.raw)? == 0 {
                        return Err(CsvError::Syntax(format!(
                            "a quoted field opened on line {} is never closed",
                            self.record_line
                        )));
                    }
                    self.lines += 1;
                    pos = 0;
                    continue;
                }
                // End of input without a final line end.
                self.push_field(start, state == State::AfterQuote);
                return Ok(());
            }
            let b = self.raw[pos];
            match state {
                State::FieldStart | State::Unquoted => {
                    let at_end =
                        b == b'\n' || (b == b'\r' && self.raw.get(pos + 1) == Some(&b'\n'));
                    if at_end {
                        self.push_field(start, false);
                        return Ok(());
                    }
                    match b {
                        b',' => {
                            self.push_field(start, false);
                            start = self.out.len();
                            state = State::FieldStart;
                        }
                        b'"' if state == State::FieldStart => state = State::Quoted,
                        b'"' => {
                            return Err(CsvError::Syntax(format!(
                                "field {} has a quote inside an unquoted value (quote the whole field and double inner quotes)",
                                self.fields.len() + 1
                            )));
                        }
                        _ => {
                            self.out.push(b);
                            state = State::Unquoted;
                        }
                    }
                    pos += 1;
                }
                State::Quoted => {
                    // Copy everything up to the next quote in one go: state JSON is long.
                    let rest = &self.raw[pos..];
                    match rest.iter().position(|&c| c == b'"') {
                        None => {
                            self.out.extend_from_slice(rest);
                            pos = self.raw.len();
                        }
                        Some(q) => {
                            self.out.extend_from_slice(&rest[..q]);
                            pos += q + 1;
                            if self.raw.get(pos) == Some(&b'"') {
                                self.out.push(b'"');
                                pos += 1;
                            } else {
                                state = State::AfterQuote;
                            }
                        }
                    }
                }
                State::AfterQuote => {
                    let at_end =
                        b == b'\n' || (b == b'\r' && self.raw.get(pos + 1) == Some(&b'\n'));
                    if at_end {
                        self.push_field(start, true);
                        return Ok(());
                    }
                    if b != b',' {
                        return Err(CsvError::Syntax(format!(
                            "field {} has text after its closing quote",
                            self.fields.len() + 1
                        )));
                    }
                    self.push_field(start, true);
                    start = self.out.len();
                    state = State::FieldStart;
                    pos += 1;
                }
            }
        }
    }
}

/// Appends `value` as a CSV field: quoted when it contains a separator, a quote or a line end,
/// or when it is empty (an empty *unquoted* field means NULL).
pub(crate) fn write_text(out: &mut Vec<u8>, value: &str) {
    let needs_quotes = value.is_empty()
        || value
            .bytes()
            .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
    if !needs_quotes {
        out.extend_from_slice(value.as_bytes());
        return;
    }
    out.push(b'"');
    let mut rest = value.as_bytes();
    while let Some(q) = rest.iter().position(|&b| b == b'"') {
        out.extend_from_slice(&rest[..=q]);
        out.push(b'"');
        rest = &rest[q + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Vec<Result<Vec<(String, bool)>, String>> {
        let mut reader = CsvReader::new(text.as_bytes());
        let mut out = Vec::new();
        loop {
            match reader.read_record() {
                Ok(false) => break,
                Ok(true) => out.push(Ok((0..reader.len())
                    .map(|i| {
                        (
                            String::from_utf8(reader.bytes(i).to_vec()).unwrap(),
                            reader.quoted(i),
                        )
                    })
                    .collect())),
                Err(CsvError::Syntax(m)) => out.push(Err(m)),
                Err(CsvError::Io(e)) => panic!("{e}"),
            }
        }
        out
    }

    #[test]
    fn quoting_null_and_empty_are_told_apart() {
        let r = records("a,,\"\",\"x,\"\"y\"\"\"\r\n");
        assert_eq!(
            r,
            vec![Ok(vec![
                ("a".into(), false),
                ("".into(), false),
                ("".into(), true),
                ("x,\"y\"".into(), true)
            ])]
        );
    }

    #[test]
    fn quoted_line_ends_are_kept_and_blank_lines_skipped() {
        let r = records("\"a\nb\",c\n\n\"d\r\ne\"\n");
        assert_eq!(
            r,
            vec![
                Ok(vec![("a\nb".into(), true), ("c".into(), false)]),
                Ok(vec![("d\r\ne".into(), true)]),
            ]
        );
    }

    #[test]
    fn last_record_without_line_end() {
        assert_eq!(
            records("x,\"y\""),
            vec![Ok(vec![("x".into(), false), ("y".into(), true)])]
        );
    }

    #[test]
    fn broken_quoting_is_reported_and_reading_goes_on() {
        let r = records("a\"b,c\n\"x\"y,z\nok\n\"open");
        assert!(
            r[0].as_ref()
                .unwrap_err()
                .contains("quote inside an unquoted value"),
            "{r:?}"
        );
        assert!(
            r[1].as_ref()
                .unwrap_err()
                .contains("after its closing quote"),
            "{r:?}"
        );
        assert_eq!(r[2], Ok(vec![("ok".into(), false)]));
        assert!(r[3].as_ref().unwrap_err().contains("never closed"), "{r:?}");
    }

    #[test]
    fn writer_quotes_only_when_needed() {
        let mut out = Vec::new();
        for v in ["plain", "", "a,b", "say \"hi\"", "two\nlines"] {
            write_text(&mut out, v);
            out.push(b'|');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "plain|\"\"|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"|"
        );
    }
}
