//! Python `re` patterns on top of fancy-regex.
//!
//! capa builds `"^" + "|".join(answers) + "$"` and compiles it with Python's `re` (capa-grading.md
//! §4.5). The pattern is parsed here with Python's rules and re-emitted in a restricted subset of
//! fancy-regex syntax, so that Python-only behaviour is kept (`{` that is not a quantifier is a
//! literal, `[` inside a class is a literal, `\Z` means end of text, octal escapes, ...), that
//! patterns Python rejects are rejected with Python's message, and that fancy-regex's own
//! extensions (`\h`, `\K`, `\g<..>`, ...) can never be reached. Constructs whose exact Python
//! semantics are not reproduced are reported as unsupported instead of being guessed.

use std::collections::HashMap;

/// Why a pattern did not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PatternError {
    /// Python's `re.error` message (capa turns it into a `ResponseError`).
    Python(String),
    /// Valid Python, but not reproduced faithfully here.
    Unsupported(String),
}

/// Compile a Python pattern (with `re.UNICODE`, plus `re.IGNORECASE` if asked).
pub(crate) fn compile(
    pattern: &str,
    ignore_case: bool,
) -> Result<fancy_regex::Regex, PatternError> {
    let translated = translate(pattern)?;
    let mut b = fancy_regex::RegexBuilder::new(&translated);
    b.case_insensitive(ignore_case);
    b.build().map_err(|e| {
        PatternError::Unsupported(format!("fancy-regex rejected the translated pattern: {e}"))
    })
}

/// Translate Python `re` syntax into fancy-regex syntax.
pub(crate) fn translate(pattern: &str) -> Result<String, PatternError> {
    let mut p = Parser {
        s: pattern.chars().collect(),
        pos: 0,
        out: String::with_capacity(pattern.len() + 8),
        groups: 1,
        closed: vec![true],
        names: HashMap::new(),
        lookbehind: 0,
    };
    p.alternation(0)?;
    if p.pos < p.s.len() {
        // Only a stray ')' stops the top level early.
        return Err(py_err("unbalanced parenthesis", p.pos));
    }
    Ok(p.out)
}

fn py_err(msg: &str, pos: usize) -> PatternError {
    PatternError::Python(format!("{msg} at position {pos}"))
}

fn unsupported(what: &str) -> PatternError {
    PatternError::Unsupported(format!("Python regex construct not supported: {what}"))
}

const UNBOUNDED: usize = usize::MAX;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    /// Nothing yet in this branch.
    None,
    /// An anchor (`^ $ \A \Z \b \B`): Python refuses to repeat it.
    At,
    /// A quantified item: another quantifier is a "multiple repeat".
    Repeat,
    /// Something repeatable, with its width.
    Item(usize, usize),
}

struct Parser {
    s: Vec<char>,
    pos: usize,
    out: String,
    /// Next group number.
    groups: usize,
    /// `closed[n]`: group `n` has been closed.
    closed: Vec<bool>,
    names: HashMap<String, usize>,
    lookbehind: usize,
}

fn push_lit(out: &mut String, c: char) {
    if "\\.+*?()|[]{}^$#&-~".contains(c) {
        out.push('\\');
        out.push(c);
    } else if c.is_whitespace() || c.is_control() {
        out.push_str(&format!("\\x{{{:X}}}", c as u32));
    } else {
        out.push(c);
    }
}

fn push_code(out: &mut String, code: u32) {
    out.push_str(&format!("\\x{{{code:X}}}"));
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.s.get(self.pos).copied()
    }
    fn peek_at(&self, k: usize) -> Option<char> {
        self.s.get(self.pos + k).copied()
    }

    fn alternation(&mut self, depth: usize) -> Result<(usize, usize), PatternError> {
        let (mut lo, mut hi) = self.sequence(depth)?;
        while self.peek() == Some('|') {
            self.pos += 1;
            self.out.push('|');
            let (l, h) = self.sequence(depth)?;
            lo = lo.min(l);
            hi = hi.max(h);
        }
        Ok((lo, hi))
    }

    fn sequence(&mut self, depth: usize) -> Result<(usize, usize), PatternError> {
        let (mut lo, mut hi) = (0usize, 0usize);
        let mut last = Last::None;
        while let Some(c) = self.peek() {
            let start = self.pos;
            match c {
                '|' => break,
                ')' => {
                    if depth == 0 {
                        return Err(py_err("unbalanced parenthesis", start));
                    }
                    break;
                }
                '*' | '+' | '?' | '{' => {
                    let Some((min, max, len)) = self.quantifier()? else {
                        // `{` that does not form a quantifier is a literal.
                        self.pos += 1;
                        push_lit(&mut self.out, '{');
                        last = Last::Item(1, 1);
                        lo = lo.saturating_add(1);
                        hi = hi.saturating_add(1);
                        continue;
                    };
                    let (wl, wh) = match last {
                        Last::None | Last::At => return Err(py_err("nothing to repeat", start)),
                        Last::Repeat => return Err(py_err("multiple repeat", start)),
                        Last::Item(l, h) => (l, h),
                    };
                    self.pos += len;
                    // Undo the item's width and add the repeated width.
                    lo -= wl;
                    hi = if hi == UNBOUNDED { UNBOUNDED } else { hi - wh };
                    let (rl, rh) = (
                        wl.saturating_mul(min),
                        if max == UNBOUNDED || wh == UNBOUNDED {
                            if wh == 0 { 0 } else { UNBOUNDED }
                        } else {
                            wh.saturating_mul(max)
                        },
                    );
                    lo = lo.saturating_add(rl);
                    hi = hi.saturating_add(rh);
                    if self.peek() == Some('?') {
                        self.pos += 1;
                        self.out.push('?');
                    } else if self.peek() == Some('+') {
                        self.pos += 1;
                        self.out.push('+');
                    }
                    last = Last::Repeat;
                    continue;
                }
                _ => {}
            }
            let item = self.atom(depth)?;
            match item {
                Last::Item(l, h) => {
                    lo = lo.saturating_add(l);
                    hi = hi.saturating_add(h);
                }
                Last::None => continue, // comment group: contributes nothing, keeps `last`
                _ => {}
            }
            last = item;
        }
        Ok((lo, hi))
    }

    /// Parse a quantifier at `pos` without consuming it; emit it. Returns `(min, max, length)`,
    /// or `None` for a `{` that is a literal.
    fn quantifier(&mut self) -> Result<Option<(usize, usize, usize)>, PatternError> {
        let c = self.s[self.pos];
        let r = match c {
            '*' => (0, UNBOUNDED, 1),
            '+' => (1, UNBOUNDED, 1),
            '?' => (0, 1, 1),
            _ => {
                let mut i = self.pos + 1;
                let mut lo = String::new();
                while let Some(d) = self.s.get(i).filter(|d| d.is_ascii_digit()) {
                    lo.push(*d);
                    i += 1;
                }
                let hi = if self.s.get(i) == Some(&',') {
                    i += 1;
                    let mut h = String::new();
                    while let Some(d) = self.s.get(i).filter(|d| d.is_ascii_digit()) {
                        h.push(*d);
                        i += 1;
                    }
                    h
                } else {
                    lo.clone()
                };
                if self.s.get(i) != Some(&'}')
                    || (lo.is_empty() && self.s.get(self.pos + 1) == Some(&'}'))
                {
                    return Ok(None);
                }
                let min: usize = if lo.is_empty() {
                    0
                } else {
                    lo.parse().map_err(|_| unsupported("huge repeat"))?
                };
                let max: usize = if hi.is_empty() {
                    UNBOUNDED
                } else {
                    hi.parse().map_err(|_| unsupported("huge repeat"))?
                };
                if min > 65535 || (max != UNBOUNDED && max > 65535) {
                    return Err(unsupported("repeat count above 65535"));
                }
                if max < min {
                    return Err(py_err("min repeat greater than max repeat", self.pos + 1));
                }
                if max == UNBOUNDED {
                    self.out.push_str(&format!("{{{min},}}"));
                } else {
                    self.out.push_str(&format!("{{{min},{max}}}"));
                }
                return Ok(Some((min, max, i + 1 - self.pos)));
            }
        };
        self.out.push(c);
        Ok(Some(r))
    }

    fn atom(&mut self, depth: usize) -> Result<Last, PatternError> {
        let start = self.pos;
        let c = self.s[self.pos];
        self.pos += 1;
        match c {
            '^' => {
                self.out.push('^');
                Ok(Last::At)
            }
            '$' => {
                // Python's `$` also matches before a final "\n"; graded answers are stripped, so
                // they never end with one.
                self.out.push('$');
                Ok(Last::At)
            }
            '.' => {
                self.out.push('.');
                Ok(Last::Item(1, 1))
            }
            '[' => self.class(start),
            '(' => self.group(start, depth),
            '\\' => self.escape(start),
            '}' | ']' => {
                push_lit(&mut self.out, c);
                Ok(Last::Item(1, 1))
            }
            _ => {
                push_lit(&mut self.out, c);
                Ok(Last::Item(1, 1))
            }
        }
    }

    fn group(&mut self, start: usize, depth: usize) -> Result<Last, PatternError> {
        let mut capture = false;
        let mut lookbehind = false;
        if self.peek() == Some('?') {
            self.pos += 1;
            match self.peek() {
                Some(':') => {
                    self.pos += 1;
                    self.out.push_str("(?:");
                }
                Some('=') | Some('!') => {
                    let k = self.s[self.pos];
                    self.pos += 1;
                    self.out.push_str(&format!("(?{k}"));
                }
                Some('>') => {
                    self.pos += 1;
                    self.out.push_str("(?>");
                }
                Some('<') => match self.peek_at(1) {
                    Some(k @ ('=' | '!')) => {
                        self.pos += 2;
                        self.out.push_str(&format!("(?<{k}"));
                        lookbehind = true;
                    }
                    _ => return Err(unsupported("(?<...")),
                },
                Some('#') => {
                    while let Some(ch) = self.peek() {
                        self.pos += 1;
                        if ch == ')' {
                            return Ok(Last::None);
                        }
                    }
                    return Err(py_err("missing ), unterminated comment", start));
                }
                Some('P') => match self.peek_at(1) {
                    Some('<') => {
                        self.pos += 2;
                        let mut name = String::new();
                        while let Some(ch) = self.peek() {
                            self.pos += 1;
                            if ch == '>' {
                                break;
                            }
                            name.push(ch);
                        }
                        let valid = name
                            .chars()
                            .next()
                            .is_some_and(|f| f == '_' || f.is_alphabetic())
                            && name.chars().all(|ch| ch == '_' || ch.is_alphanumeric());
                        if !valid || self.names.contains_key(&name) {
                            return Err(unsupported("group name"));
                        }
                        self.names.insert(name.clone(), self.groups);
                        self.out.push_str(&format!("(?P<{name}>"));
                        capture = true;
                    }
                    Some('=') => {
                        self.pos += 2;
                        let mut name = String::new();
                        loop {
                            match self.peek() {
                                Some(')') => {
                                    self.pos += 1;
                                    break;
                                }
                                Some(ch) => {
                                    name.push(ch);
                                    self.pos += 1;
                                }
                                None => return Err(unsupported("unterminated (?P=")),
                            }
                        }
                        let Some(&g) = self.names.get(&name) else {
                            return Err(unsupported("unknown group name"));
                        };
                        if !self.closed[g] || self.lookbehind > 0 {
                            return Err(unsupported("group reference"));
                        }
                        self.out.push_str(&format!("\\k<{name}>"));
                        return Ok(Last::Item(0, UNBOUNDED));
                    }
                    _ => return Err(unsupported("(?P")),
                },
                Some(f) if "aiLmsux-".contains(f) => {
                    let mut on = String::new();
                    let mut off = String::new();
                    let mut neg = false;
                    loop {
                        match self.peek() {
                            Some('-') => neg = true,
                            Some(ch @ ('i' | 'm' | 's')) => {
                                if neg {
                                    off.push(ch)
                                } else {
                                    on.push(ch)
                                }
                            }
                            Some('u') => {}
                            Some(':') => {
                                self.pos += 1;
                                break;
                            }
                            Some(')') => {
                                // Global inline flags: our pattern always starts with '^', so
                                // Python 3.11+ rejects them wherever they appear.
                                return Err(py_err(
                                    "global flags not at the start of the expression",
                                    start,
                                ));
                            }
                            _ => return Err(unsupported("inline flags a/L/x")),
                        }
                        self.pos += 1;
                    }
                    let spec = if off.is_empty() {
                        on
                    } else {
                        format!("{on}-{off}")
                    };
                    if spec.is_empty() {
                        self.out.push_str("(?:");
                    } else {
                        self.out.push_str(&format!("(?{spec}:"));
                    }
                }
                _ => return Err(unsupported("(? extension")),
            }
        } else {
            capture = true;
            self.out.push('(');
        }
        let group_no = self.groups;
        if capture {
            self.groups += 1;
            self.closed.push(false);
        }
        if lookbehind {
            self.lookbehind += 1;
        }
        let (lo, hi) = self.alternation(depth + 1)?;
        if self.peek() != Some(')') {
            return Err(py_err("missing ), unterminated subpattern", start));
        }
        self.pos += 1;
        self.out.push(')');
        if capture {
            self.closed[group_no] = true;
        }
        if lookbehind {
            self.lookbehind -= 1;
            if lo != hi {
                return Err(PatternError::Python(
                    "look-behind requires fixed-width pattern".into(),
                ));
            }
            return Ok(Last::Item(0, 0));
        }
        let is_lookahead = self.out.ends_with(')') && {
            // Lookaheads have zero width; the opening tells which kind it was.
            let s = &self.s[start..];
            s.len() > 2 && s[1] == '?' && (s[2] == '=' || s[2] == '!')
        };
        if is_lookahead {
            return Ok(Last::Item(0, 0));
        }
        Ok(Last::Item(lo, hi))
    }

    /// Read up to `n` characters matching `pred`.
    fn take_while(&mut self, n: usize, pred: impl Fn(char) -> bool) -> String {
        let mut s = String::new();
        while s.chars().count() < n {
            match self.peek() {
                Some(c) if pred(c) => {
                    s.push(c);
                    self.pos += 1;
                }
                _ => break,
            }
        }
        s
    }

    /// `\x`, `\u`, `\U` and octal escapes shared by classes and the top level. Returns the code
    /// point, or `None` when the escape is not one of these.
    fn code_escape(&mut self, start: usize, c: char) -> Result<Option<u32>, PatternError> {
        let hex = |ch: char| ch.is_ascii_hexdigit();
        let (want, name) = match c {
            'x' => (2, "x"),
            'u' => (4, "u"),
            'U' => (8, "U"),
            _ => return Ok(None),
        };
        let digits = self.take_while(want, hex);
        if digits.len() != want {
            return Err(py_err(
                &format!("incomplete escape \\{name}{digits}"),
                start,
            ));
        }
        let v = u32::from_str_radix(&digits, 16).unwrap_or(u32::MAX);
        if char::from_u32(v).is_none() {
            return Err(unsupported("escape outside the Unicode range"));
        }
        Ok(Some(v))
    }

    fn escape(&mut self, start: usize) -> Result<Last, PatternError> {
        let Some(c) = self.peek() else {
            return Err(PatternError::Python(
                "bad escape (end of pattern) at position ".to_string() + &start.to_string(),
            ));
        };
        self.pos += 1;
        if let Some(code) = self.code_escape(start, c)? {
            push_code(&mut self.out, code);
            return Ok(Last::Item(1, 1));
        }
        match c {
            'd' | 'D' | 's' | 'S' | 'w' | 'W' => {
                self.out.push('\\');
                self.out.push(c);
                Ok(Last::Item(1, 1))
            }
            'b' | 'B' | 'A' => {
                self.out.push('\\');
                self.out.push(c);
                Ok(Last::At)
            }
            'Z' => {
                self.out.push_str("\\z");
                Ok(Last::At)
            }
            'a' => {
                push_code(&mut self.out, 7);
                Ok(Last::Item(1, 1))
            }
            'f' | 'n' | 'r' | 't' | 'v' => {
                let code = match c {
                    'f' => 12,
                    'n' => 10,
                    'r' => 13,
                    't' => 9,
                    _ => 11,
                };
                push_code(&mut self.out, code);
                Ok(Last::Item(1, 1))
            }
            'N' => Err(unsupported("\\N{...}")),
            '0' => {
                let oct = self.take_while(2, |d| ('0'..='7').contains(&d));
                push_code(
                    &mut self.out,
                    u32::from_str_radix(&format!("0{oct}"), 8).unwrap_or(0),
                );
                Ok(Last::Item(1, 1))
            }
            '1'..='9' => {
                let mut digits = c.to_string();
                if let Some(d2) = self.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(d2);
                    self.pos += 1;
                    let is_oct = |d: char| ('0'..='7').contains(&d);
                    if is_oct(c) && is_oct(d2) && self.peek().is_some_and(is_oct) {
                        digits.push(self.s[self.pos]);
                        self.pos += 1;
                        let v = u32::from_str_radix(&digits, 8).unwrap_or(0);
                        if v > 0o377 {
                            return Err(py_err(
                                &format!("octal escape value \\{digits} outside of range 0-0o377"),
                                start,
                            ));
                        }
                        push_code(&mut self.out, v);
                        return Ok(Last::Item(1, 1));
                    }
                }
                let g: usize = digits.parse().unwrap_or(usize::MAX);
                if g >= self.groups {
                    return Err(py_err(&format!("invalid group reference {g}"), start + 1));
                }
                if !self.closed[g] {
                    return Err(py_err("cannot refer to an open group", start));
                }
                if self.lookbehind > 0 {
                    return Err(unsupported("group reference inside a look-behind"));
                }
                self.out.push_str(&format!("\\{g}"));
                Ok(Last::Item(0, UNBOUNDED))
            }
            ch if ch.is_ascii_alphabetic() => Err(py_err(&format!("bad escape \\{ch}"), start)),
            ch => {
                push_lit(&mut self.out, ch);
                Ok(Last::Item(1, 1))
            }
        }
    }

    /// One class member after `\`: `Ok(Some(code))` for a literal, `Ok(None)` for a category
    /// (already emitted).
    fn class_escape(&mut self, start: usize) -> Result<Option<u32>, PatternError> {
        let Some(c) = self.peek() else {
            return Err(py_err("unterminated character set", start));
        };
        let esc_start = self.pos - 1;
        self.pos += 1;
        if let Some(code) = self.code_escape(esc_start, c)? {
            return Ok(Some(code));
        }
        Ok(Some(match c {
            'd' | 'D' | 's' | 'S' | 'w' | 'W' => {
                self.out.push('\\');
                self.out.push(c);
                return Ok(None);
            }
            'a' => 7,
            'b' => 8,
            'f' => 12,
            'n' => 10,
            'r' => 13,
            't' => 9,
            'v' => 11,
            'N' => return Err(unsupported("\\N{...}")),
            '0'..='7' => {
                let oct = self.take_while(2, |d| ('0'..='7').contains(&d));
                let v = u32::from_str_radix(&format!("{c}{oct}"), 8).unwrap_or(0);
                if v > 0o377 {
                    return Err(py_err(
                        &format!("octal escape value \\{c}{oct} outside of range 0-0o377"),
                        esc_start,
                    ));
                }
                v
            }
            '8' | '9' => return Err(py_err(&format!("bad escape \\{c}"), esc_start)),
            ch if ch.is_ascii_alphabetic() => {
                return Err(py_err(&format!("bad escape \\{ch}"), esc_start));
            }
            ch => ch as u32,
        }))
    }

    fn class(&mut self, start: usize) -> Result<Last, PatternError> {
        self.out.push('[');
        if self.peek() == Some('^') {
            self.pos += 1;
            self.out.push('^');
        }
        let mut members = 0usize;
        loop {
            let Some(c) = self.peek() else {
                return Err(py_err("unterminated character set", start));
            };
            self.pos += 1;
            if c == ']' && members > 0 {
                break;
            }
            let first_pos = self.pos - 1;
            let lo = if c == '\\' {
                self.class_escape(start)?
            } else {
                Some(c as u32)
            };
            members += 1;
            if self.peek() == Some('-') {
                self.pos += 1;
                let Some(that) = self.peek() else {
                    return Err(py_err("unterminated character set", start));
                };
                self.pos += 1;
                if that == ']' {
                    if let Some(code) = lo {
                        push_class_lit(&mut self.out, code);
                    }
                    self.out.push_str("\\-");
                    break;
                }
                let hi = if that == '\\' {
                    self.class_escape(start)?
                } else {
                    Some(that as u32)
                };
                let text: String = self.s[first_pos..self.pos].iter().collect();
                match (lo, hi) {
                    (Some(l), Some(h)) if l <= h => {
                        push_class_lit(&mut self.out, l);
                        self.out.push('-');
                        push_class_lit(&mut self.out, h);
                    }
                    _ => {
                        return Err(py_err(&format!("bad character range {text}"), first_pos));
                    }
                }
            } else if let Some(code) = lo {
                push_class_lit(&mut self.out, code);
            }
        }
        self.out.push(']');
        Ok(Last::Item(1, 1))
    }
}

fn push_class_lit(out: &mut String, code: u32) {
    match char::from_u32(code) {
        Some(c) if c.is_alphanumeric() => out.push(c),
        _ => push_code(out, code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(p: &str, ci: bool, s: &str) -> bool {
        compile(p, ci).unwrap().is_match(s).unwrap()
    }

    #[test]
    fn anchor_join_pitfall() {
        assert!(search("^cat|dog$", false, "cats"));
        assert!(search("^cat|dog$", false, "hotdog"));
        assert!(!search("^cat|dog$", false, "hotdogs"));
    }

    #[test]
    fn python_literals_that_rust_rejects() {
        assert!(search("^a{$", false, "a{"));
        assert!(search("^{foo}$", false, "{foo}"));
        assert!(search("^a{,2}$", false, "aa"));
        assert!(search("^[[a]$", false, "["));
        assert!(search("^[]a]$", false, "]"));
        assert!(search("^a&&b$", false, "a&&b"));
        assert!(search("^[a&&b]$", false, "&"));
        assert!(search("^x\\Z", false, "x"));
        assert!(search("^\\101$", false, "A"));
        assert!(search("^\\x41\\u0042$", false, "AB"));
        assert!(search("^(a)\\1$", false, "aa"));
        assert!(search("^(?P<x>a)(?P=x)$", false, "aa"));
        assert!(search("^a(?#comment)b$", false, "ab"));
        assert!(search("^[a-c]+$", true, "ABC"));
        assert!(search("^..bble$", true, "BUBBLE"));
    }

    #[test]
    fn python_errors() {
        assert_eq!(
            translate("^*abc$"),
            Err(PatternError::Python(
                "nothing to repeat at position 1".into()
            ))
        );
        assert_eq!(
            translate("^a**$"),
            Err(PatternError::Python("multiple repeat at position 3".into()))
        );
        assert_eq!(
            translate("^(a$"),
            Err(PatternError::Python(
                "missing ), unterminated subpattern at position 1".into()
            ))
        );
        assert_eq!(
            translate("^a)$"),
            Err(PatternError::Python(
                "unbalanced parenthesis at position 2".into()
            ))
        );
        assert_eq!(
            translate("^[a$"),
            Err(PatternError::Python(
                "unterminated character set at position 1".into()
            ))
        );
        assert_eq!(
            translate("^\\q$"),
            Err(PatternError::Python("bad escape \\q at position 1".into()))
        );
        assert_eq!(
            translate("^[z-a]$"),
            Err(PatternError::Python(
                "bad character range z-a at position 2".into()
            ))
        );
        assert_eq!(
            translate("^(?i)a$"),
            Err(PatternError::Python(
                "global flags not at the start of the expression at position 1".into()
            ))
        );
        assert_eq!(
            translate("^(?<=a+)b$"),
            Err(PatternError::Python(
                "look-behind requires fixed-width pattern".into()
            ))
        );
        assert_eq!(
            translate("^a|*$"),
            Err(PatternError::Python(
                "nothing to repeat at position 3".into()
            ))
        );
        assert!(translate("^a*?$").is_ok());
        assert!(translate("^(?<=ab)c$").is_ok());
    }
}
