//! Recursive-descent parser reproducing openedx-calc's pyparsing grammar character for
//! character (lowest precedence first):
//!
//! ```text
//! sum      := [+|-] product (("+"|"-") product)*
//! product  := parallel (("*"|"/") parallel)*
//! parallel := power ("||" power)*
//! power    := atom ("^" atom)*                      evaluated right to left
//! atom     := number | name "(" sum ")" | variable | "(" sum ")"   first match wins
//! number   := [+|-] (digits ["." [digits]] | "." digits) [(e|E) [+|-] digits] ["%"]
//! variable := tensor_mixed | tensor_lower | name
//! name     := letter (letter|digit|"_")* "'"*
//! ```
//!
//! Whitespace (space, tab, CR, LF) may appear before every token, including between the parts
//! of a number (`- 3`, `1 e 3`, `5 %`), but not inside the combined pieces: the digits and point
//! of a mantissa, a name with its primes, a tensor name with its index groups.
//! Like pyparsing's ordered choice, an alternative that matches is never revisited, and a
//! repetition stops (giving back its operator) as soon as an iteration fails.

use std::ops::Range;

use crate::arith::BinOp;
use crate::pyint;
use crate::{CalcError, Value};

/// Deepest nesting of parentheses and function calls accepted. openedx-calc has no explicit
/// limit but pyparsing runs out of Python stack (RecursionError) at about 36 nested calls or
/// 39 nested parentheses, so nothing deeper can have been graded by Open edX either.
pub const MAX_NESTING: usize = 35;

pub(crate) type NodeId = u32;

/// One node of the parsed expression. Children always precede their parent in the arena.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Literal(Value),
    /// An integer literal with more digits than Python converts; fails at evaluation time,
    /// after the name check, like Python's `int()` call does.
    OversizedInt(usize),
    /// A variable, as a byte range of the source until names are interned.
    VariableSpan(Range<usize>),
    /// A variable: index into the expression's variable names.
    Variable(u32),
    /// A function call, as a byte range of the source until names are interned.
    CallSpan(Range<usize>, NodeId),
    /// A function call: index into the expression's function names.
    Call(u32, NodeId),
    /// A sum of one term: `0 ± term` (Python starts the sum from the int 0).
    Sum1(BinOp, NodeId),
    /// `0 ± t1 ± t2 ...`; the first operator is the optional leading sign.
    Sum(Vec<(BinOp, NodeId)>),
    /// A product of one factor: `1 * factor` (Python starts the product from the int 1).
    Product1(NodeId),
    /// `1 * f1 (*|/) f2 ...`; the first operator is always `*`.
    Product(Vec<(BinOp, NodeId)>),
    /// `a || b || ...` (at least two operands).
    Parallel(Vec<NodeId>),
    /// `a ^ b ^ ...` (at least two operands), right-associative.
    Power(Vec<NodeId>),
}

/// What the parser was looking for where it failed, for the error message.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Expect {
    Number = 1,
    Name = 2,
    OpenParen = 4,
    CloseParen = 8,
    Operator = 16,
    Digits = 32,
    End = 64,
}

const EXPECT_DESCRIPTIONS: [(Expect, &str); 7] = [
    (Expect::Number, "a number"),
    (Expect::Name, "a name"),
    (Expect::OpenParen, "'('"),
    (Expect::CloseParen, "')'"),
    (Expect::Operator, "an operator"),
    (Expect::Digits, "exponent digits"),
    (Expect::End, "end of input"),
];

/// The parse result: node arena and root.
pub(crate) struct Parsed {
    pub(crate) nodes: Vec<Node>,
    pub(crate) root: NodeId,
}

struct Parser<'a> {
    bytes: &'a [u8],
    nodes: Vec<Node>,
    depth: usize,
    too_deep: bool,
    furthest: usize,
    expected: u8,
}

fn is_alpha(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

impl<'a> Parser<'a> {
    fn byte(&self, pos: usize) -> u8 {
        self.bytes.get(pos).copied().unwrap_or(0)
    }

    /// pyparsing's default whitespace: space, tab, newline, carriage return.
    fn skip_ws(&self, mut pos: usize) -> usize {
        while matches!(self.byte(pos), b' ' | b'\t' | b'\n' | b'\r') {
            pos += 1;
        }
        pos
    }

    fn count_while(&self, pos: usize, pred: impl Fn(u8) -> bool) -> usize {
        self.bytes[pos.min(self.bytes.len())..]
            .iter()
            .take_while(|b| pred(**b))
            .count()
    }

    fn miss(&mut self, pos: usize, what: Expect) {
        if pos > self.furthest {
            self.furthest = pos;
            self.expected = what as u8;
        } else if pos == self.furthest {
            self.expected |= what as u8;
        }
    }

    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        (self.nodes.len() - 1) as NodeId
    }

    fn parse_sum(&mut self, pos: usize) -> Option<(NodeId, usize)> {
        let mark = self.nodes.len();
        let start = self.skip_ws(pos);
        let (sign, after_sign) = match self.byte(start) {
            b'+' => (BinOp::Add, start + 1),
            b'-' => (BinOp::Sub, start + 1),
            _ => (BinOp::Add, pos),
        };
        let Some((first, mut pos)) = self.parse_product(after_sign) else {
            self.nodes.truncate(mark);
            return None;
        };
        let mut terms: Vec<(BinOp, NodeId)> = Vec::new();
        loop {
            let at = self.skip_ws(pos);
            let op = match self.byte(at) {
                b'+' => BinOp::Add,
                b'-' => BinOp::Sub,
                _ => {
                    self.miss(at, Expect::Operator);
                    break;
                }
            };
            let retry = self.nodes.len();
            match self.parse_product(at + 1) {
                Some((term, end)) => {
                    if terms.is_empty() {
                        terms.push((sign, first));
                    }
                    terms.push((op, term));
                    pos = end;
                }
                None => {
                    self.nodes.truncate(retry);
                    break;
                }
            }
        }
        let node = if terms.is_empty() {
            Node::Sum1(sign, first)
        } else {
            Node::Sum(terms)
        };
        Some((self.push(node), pos))
    }

    fn parse_product(&mut self, pos: usize) -> Option<(NodeId, usize)> {
        let (first, mut pos) = self.parse_parallel(pos)?;
        let mut factors: Vec<(BinOp, NodeId)> = Vec::new();
        loop {
            let at = self.skip_ws(pos);
            let op = match self.byte(at) {
                b'*' => BinOp::Mul,
                b'/' => BinOp::Div,
                _ => {
                    self.miss(at, Expect::Operator);
                    break;
                }
            };
            let retry = self.nodes.len();
            match self.parse_parallel(at + 1) {
                Some((factor, end)) => {
                    if factors.is_empty() {
                        factors.push((BinOp::Mul, first));
                    }
                    factors.push((op, factor));
                    pos = end;
                }
                None => {
                    self.nodes.truncate(retry);
                    break;
                }
            }
        }
        let node = if factors.is_empty() {
            Node::Product1(first)
        } else {
            Node::Product(factors)
        };
        Some((self.push(node), pos))
    }

    fn parse_parallel(&mut self, pos: usize) -> Option<(NodeId, usize)> {
        let (first, mut pos) = self.parse_power(pos)?;
        let mut operands = Vec::new();
        loop {
            let at = self.skip_ws(pos);
            if self.byte(at) != b'|' || self.byte(at + 1) != b'|' {
                self.miss(at, Expect::Operator);
                break;
            }
            let retry = self.nodes.len();
            match self.parse_power(at + 2) {
                Some((operand, end)) => {
                    if operands.is_empty() {
                        operands.push(first);
                    }
                    operands.push(operand);
                    pos = end;
                }
                None => {
                    self.nodes.truncate(retry);
                    break;
                }
            }
        }
        // A single operand is passed through untouched by openedx-calc.
        if operands.is_empty() {
            return Some((first, pos));
        }
        Some((self.push(Node::Parallel(operands)), pos))
    }

    fn parse_power(&mut self, pos: usize) -> Option<(NodeId, usize)> {
        let (first, mut pos) = self.parse_atom(pos)?;
        let mut operands = Vec::new();
        loop {
            let at = self.skip_ws(pos);
            if self.byte(at) != b'^' {
                self.miss(at, Expect::Operator);
                break;
            }
            let retry = self.nodes.len();
            match self.parse_atom(at + 1) {
                Some((operand, end)) => {
                    if operands.is_empty() {
                        operands.push(first);
                    }
                    operands.push(operand);
                    pos = end;
                }
                None => {
                    self.nodes.truncate(retry);
                    break;
                }
            }
        }
        if operands.is_empty() {
            return Some((first, pos));
        }
        Some((self.push(Node::Power(operands)), pos))
    }

    fn parse_atom(&mut self, pos: usize) -> Option<(NodeId, usize)> {
        if let Some(found) = self.parse_number(pos) {
            return Some(found);
        }
        if let Some(found) = self.parse_call(pos) {
            return Some(found);
        }
        if let Some(found) = self.parse_variable(pos) {
            return Some(found);
        }
        self.parse_parenthesized(pos)
    }

    fn parse_number(&mut self, pos: usize) -> Option<(NodeId, usize)> {
        let mut at = self.skip_ws(pos);
        let negative = match self.byte(at) {
            b'+' | b'-' => {
                let negative = self.byte(at) == b'-';
                at = self.skip_ws(at + 1);
                negative
            }
            _ => false,
        };
        let int_start = at;
        let int_len = self.count_while(at, |b| b.is_ascii_digit());
        let mut frac = at..at;
        let mut has_point = false;
        if int_len > 0 {
            at += int_len;
            if self.byte(at) == b'.' {
                has_point = true;
                let frac_len = self.count_while(at + 1, |b| b.is_ascii_digit());
                frac = at + 1..at + 1 + frac_len;
                at += 1 + frac_len;
            }
        } else if self.byte(at) == b'.' && self.byte(at + 1).is_ascii_digit() {
            has_point = true;
            let frac_len = self.count_while(at + 1, |b| b.is_ascii_digit());
            frac = at + 1..at + 1 + frac_len;
            at += 1 + frac_len;
        } else {
            self.miss(at, Expect::Number);
            return None;
        }
        let int_digits = int_start..int_start + int_len;

        // Optional exponent: all of "e", optional sign and digits, or nothing.
        let mut exponent: Option<(bool, Range<usize>)> = None;
        let e_at = self.skip_ws(at);
        if matches!(self.byte(e_at), b'e' | b'E') {
            let mut digits_at = self.skip_ws(e_at + 1);
            let mut exp_negative = false;
            if matches!(self.byte(digits_at), b'+' | b'-') {
                exp_negative = self.byte(digits_at) == b'-';
                digits_at = self.skip_ws(digits_at + 1);
            }
            let exp_len = self.count_while(digits_at, |b| b.is_ascii_digit());
            if exp_len > 0 {
                exponent = Some((exp_negative, digits_at..digits_at + exp_len));
                at = digits_at + exp_len;
            } else {
                self.miss(digits_at, Expect::Digits);
            }
        }
        let percent_at = self.skip_ws(at);
        let percent = self.byte(percent_at) == b'%';
        if percent {
            at = percent_at + 1;
        }

        let text =
            |range: Range<usize>| std::str::from_utf8(&self.bytes[range]).expect("ASCII digits");
        let node = if has_point || exponent.is_some() || percent {
            // The pieces may be separated by whitespace in the source, so the literal is
            // reassembled (on the stack for typical lengths) for the correctly rounded parser.
            let pieces = [
                if negative { "-" } else { "" },
                if int_len > 0 { text(int_digits) } else { "0" },
                ".",
                if frac.is_empty() { "0" } else { text(frac) },
                if exponent.is_some() { "e" } else { "" },
                match &exponent {
                    Some((true, _)) => "-",
                    _ => "",
                },
                exponent
                    .as_ref()
                    .map_or("", |(_, digits)| text(digits.clone())),
            ];
            let mut buffer = [0u8; 64];
            let total: usize = pieces.iter().map(|p| p.len()).sum();
            let value: f64 = if total <= buffer.len() {
                let mut len = 0;
                for piece in pieces {
                    buffer[len..len + piece.len()].copy_from_slice(piece.as_bytes());
                    len += piece.len();
                }
                std::str::from_utf8(&buffer[..len]).expect("ASCII").parse()
            } else {
                pieces.concat().parse()
            }
            .expect("well-formed float literal");
            Node::Literal(Value::Float(if percent { value * 0.01 } else { value }))
        } else if int_len > pyint::MAX_INT_LITERAL_DIGITS {
            Node::OversizedInt(int_len)
        } else {
            Node::Literal(pyint::parse_int_literal(negative, text(int_digits)))
        };
        Some((self.push(node), at))
    }

    /// End of `letter (letter|digit|_)* '*` starting at `pos`, if a name starts there.
    fn name_end(&self, pos: usize) -> Option<usize> {
        if !is_alpha(self.byte(pos)) {
            return None;
        }
        let body = self.count_while(pos + 1, |b| is_alnum(b) || b == b'_');
        Some(self.primes_end(pos + 1 + body))
    }

    fn primes_end(&self, pos: usize) -> usize {
        pos + self.count_while(pos, |b| b == b'\'')
    }

    /// `_{alnum+}` or `^{alnum+}` (according to `marker`) at `pos`.
    fn index_group_end(&self, pos: usize, marker: u8) -> Option<usize> {
        if self.byte(pos) != marker || self.byte(pos + 1) != b'{' {
            return None;
        }
        let len = self.count_while(pos + 2, is_alnum);
        if len == 0 || self.byte(pos + 2 + len) != b'}' {
            return None;
        }
        Some(pos + 3 + len)
    }

    fn enter_nesting(&mut self) -> bool {
        if self.depth >= MAX_NESTING {
            self.too_deep = true;
            return false;
        }
        self.depth += 1;
        true
    }

    fn parse_call(&mut self, pos: usize) -> Option<(NodeId, usize)> {
        let name_start = self.skip_ws(pos);
        let Some(name_end) = self.name_end(name_start) else {
            self.miss(name_start, Expect::Name);
            return None;
        };
        let open = self.skip_ws(name_end);
        if self.byte(open) != b'(' {
            self.miss(open, Expect::OpenParen);
            return None;
        }
        let (arg, end) = self.parse_nested(open + 1)?;
        Some((self.push(Node::CallSpan(name_start..name_end, arg)), end))
    }

    /// `sum ")"` after an opening parenthesis, one nesting level deeper.
    fn parse_nested(&mut self, pos: usize) -> Option<(NodeId, usize)> {
        if !self.enter_nesting() {
            return None;
        }
        let mark = self.nodes.len();
        let inner = self.parse_sum(pos);
        self.depth -= 1;
        let (node, end) = inner?;
        let close = self.skip_ws(end);
        if self.byte(close) != b')' {
            self.miss(close, Expect::CloseParen);
            self.nodes.truncate(mark);
            return None;
        }
        Some((node, close + 1))
    }

    fn parse_variable(&mut self, pos: usize) -> Option<(NodeId, usize)> {
        let start = self.skip_ws(pos);
        if !is_alpha(self.byte(start)) {
            self.miss(start, Expect::Name);
            return None;
        }
        let base_end = start + 1 + self.count_while(start + 1, is_alnum);
        // Tensor with an upper index group, optionally preceded by a lower one: T_{ij}^{kl}''.
        let after_lower = self.index_group_end(base_end, b'_');
        let upper_at = after_lower.unwrap_or(base_end);
        let end = if let Some(after_upper) = self.index_group_end(upper_at, b'^') {
            self.primes_end(after_upper)
        } else if let Some(after_lower) = after_lower {
            self.primes_end(after_lower)
        } else {
            self.name_end(start).expect("starts with a letter")
        };
        Some((self.push(Node::VariableSpan(start..end)), end))
    }

    fn parse_parenthesized(&mut self, pos: usize) -> Option<(NodeId, usize)> {
        let open = self.skip_ws(pos);
        if self.byte(open) != b'(' {
            self.miss(open, Expect::OpenParen);
            return None;
        }
        self.parse_nested(open + 1)
    }

    fn error(&self, text: &str) -> CalcError {
        if self.too_deep {
            return crate::errors::parse_error(format!(
                "Invalid Input: expression nested too deeply (more than {MAX_NESTING} levels \
                 of parentheses or function calls)"
            ));
        }
        let position = text[..self.furthest].chars().count();
        let found = match text[self.furthest..].chars().next() {
            Some(c) => format!("{c:?}"),
            None => "end of input".to_owned(),
        };
        let expected: Vec<&str> = EXPECT_DESCRIPTIONS
            .iter()
            .filter(|(bit, _)| self.expected & (*bit as u8) != 0)
            .map(|(_, description)| *description)
            .collect();
        crate::errors::parse_error(format!(
            "Invalid Input: could not parse the expression at position {position}: found \
             {found}, expected {}",
            expected.join(" or ")
        ))
    }
}

/// Parses a whole (non-blank) expression.
pub(crate) fn parse(text: &str) -> Result<Parsed, CalcError> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        nodes: Vec::with_capacity(8),
        depth: 0,
        too_deep: false,
        furthest: 0,
        expected: 0,
    };
    if let Some((root, end)) = parser.parse_sum(0) {
        let end = parser.skip_ws(end);
        if end == text.len() {
            return Ok(Parsed {
                nodes: parser.nodes,
                root,
            });
        }
        parser.miss(end, Expect::End);
    }
    Err(parser.error(text))
}
