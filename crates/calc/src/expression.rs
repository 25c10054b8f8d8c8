//! Parsed expressions: name checking and evaluation.

use std::collections::BTreeSet;

use crate::arith::{BinOp, binary};
use crate::errors::undefined;
use crate::functions::{self, FUNCTION_NAMES, Function};
use crate::parser::{self, Node, NodeId};
use crate::{CalcError, CaseSensitivity, Value, Variables, pyint};

/// A parsed, validated expression that can be evaluated many times (formula responses evaluate
/// one expression at many sample points, so parsing happens once).
#[derive(Debug, Clone)]
pub struct Expression {
    nodes: Vec<Node>,
    /// `None` for a blank expression, which evaluates to NaN.
    root: Option<NodeId>,
    case: CaseSensitivity,
    variable_names: Vec<String>,
    function_names: Vec<String>,
    /// The built-in each entry of `function_names` refers to, if any.
    function_targets: Vec<Option<Function>>,
}

/// Python's `str.isspace()`: Unicode whitespace plus the ASCII information separators.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// openedx-calc's `check_parens`: only `(` and `)` are counted.
fn check_parens(text: &str) -> Result<(), CalcError> {
    let mut open: i64 = 0;
    for (offset, c) in text.char_indices() {
        match c {
            '(' => open += 1,
            ')' => {
                open -= 1;
                if open < 0 {
                    return Err(crate::errors::unmatched(format!(
                        "Invalid Input: A closing parenthesis was found after segment {}, but \
                         there is no matching opening parenthesis before it.",
                        &text[..offset]
                    )));
                }
            }
            _ => {}
        }
    }
    if open > 0 {
        return Err(crate::errors::unmatched(format!(
            "Invalid Input: Parentheses are unmatched. {open} parentheses were opened but \
             never closed."
        )));
    }
    Ok(())
}

fn intern(names: &mut Vec<String>, name: &str) -> u32 {
    match names.iter().position(|known| known == name) {
        Some(index) => index as u32,
        None => {
            names.push(name.to_owned());
            (names.len() - 1) as u32
        }
    }
}

impl Expression {
    /// Checks the parentheses and parses `text` (UnmatchedParenthesis / ParseError).
    ///
    /// Names are checked by [`Expression::eval`] (or [`Expression::check_names`]), because the
    /// variables are only known then; this follows the Python pipeline order: parentheses,
    /// parse, names, evaluation. A blank expression parses and evaluates to NaN.
    pub fn parse(text: &str, case: CaseSensitivity) -> Result<Expression, CalcError> {
        let mut expression = Expression {
            nodes: Vec::new(),
            root: None,
            case,
            variable_names: Vec::new(),
            function_names: Vec::new(),
            function_targets: Vec::new(),
        };
        if text.chars().all(is_python_space) {
            return Ok(expression);
        }
        check_parens(text)?;
        let parsed = parser::parse(text)?;
        let mut nodes = parsed.nodes;
        for node in &mut nodes {
            match node {
                Node::VariableSpan(span) => {
                    *node =
                        Node::Variable(intern(&mut expression.variable_names, &text[span.clone()]));
                }
                Node::CallSpan(span, arg) => {
                    let index = intern(&mut expression.function_names, &text[span.clone()]);
                    *node = Node::Call(index, *arg);
                }
                _ => {}
            }
        }
        expression.function_targets = expression
            .function_names
            .iter()
            .map(|name| functions::lookup(name, case == CaseSensitivity::Sensitive))
            .collect();
        expression.nodes = nodes;
        expression.root = Some(parsed.root);
        Ok(expression)
    }

    /// The names used as variables, as written, in order of first appearance (constants such
    /// as `pi` included).
    pub fn variable_names(&self) -> &[String] {
        &self.variable_names
    }

    /// The names used as functions, as written, in order of first appearance.
    pub fn function_names(&self) -> &[String] {
        &self.function_names
    }

    /// The case mode the expression was parsed for.
    pub fn case_sensitivity(&self) -> CaseSensitivity {
        self.case
    }

    /// openedx-calc's name check: every variable must be bound (or a constant) and every
    /// function a built-in. Returns the UndefinedVariable error Open edX shows otherwise.
    pub fn check_names(&self, vars: &Variables) -> Result<(), CalcError> {
        self.resolve(vars).map(|_| ())
    }

    fn resolve<'v>(&self, vars: &'v Variables) -> Result<Vec<&'v Value>, CalcError> {
        let mut resolved = Vec::with_capacity(self.variable_names.len());
        let mut bad_variables = BTreeSet::new();
        for name in &self.variable_names {
            match vars.lookup(name, self.case) {
                Some(value) => resolved.push(value),
                None => {
                    bad_variables.insert(name.as_str());
                }
            }
        }
        let sensitive = self.case == CaseSensitivity::Sensitive;
        if !bad_variables.is_empty() {
            let mut message = format!(
                "Invalid Input: {} not permitted in answer as a variable",
                join(&bad_variables)
            );
            if sensitive {
                let suggestions: BTreeSet<&str> = vars
                    .all_names()
                    .filter(|valid| {
                        bad_variables
                            .iter()
                            .any(|bad| bad.to_lowercase() == valid.to_lowercase())
                    })
                    .collect();
                if !suggestions.is_empty() {
                    message.push_str(&format!(" (did you mean {}?)", join(&suggestions)));
                }
            }
            return Err(undefined(message));
        }
        let bad_functions: BTreeSet<&str> = self
            .function_names
            .iter()
            .zip(&self.function_targets)
            .filter(|(_, target)| target.is_none())
            .map(|(name, _)| name.as_str())
            .collect();
        if !bad_functions.is_empty() {
            let mut message = format!(
                "Invalid Input: {} not permitted in answer as a function",
                join(&bad_functions)
            );
            if bad_functions
                .iter()
                .any(|name| vars.lookup(name, self.case).is_some())
            {
                message.push_str(" (did you forget to use * for multiplication?)");
            }
            if sensitive {
                let suggestions: BTreeSet<&str> = FUNCTION_NAMES
                    .iter()
                    .map(|(valid, _)| *valid)
                    .filter(|valid| bad_functions.iter().any(|bad| bad.to_lowercase() == *valid))
                    .collect();
                if !suggestions.is_empty() {
                    message.push_str(&format!(" (did you mean {}?)", join(&suggestions)));
                }
            }
            return Err(undefined(message));
        }
        Ok(resolved)
    }

    /// Checks the names against `vars` and evaluates.
    pub fn eval(&self, vars: &Variables) -> Result<Value, CalcError> {
        let Some(root) = self.root else {
            return Ok(Value::Float(f64::NAN));
        };
        let resolved = self.resolve(vars)?;
        let mut evaluator = Evaluator {
            expression: self,
            variables: &resolved,
            stack: Vec::new(),
        };
        evaluator.eval(root)
    }
}

fn join(names: &BTreeSet<&str>) -> String {
    names.iter().copied().collect::<Vec<_>>().join(", ")
}

struct Evaluator<'e, 'v> {
    expression: &'e Expression,
    variables: &'e [&'v Value],
    /// Operand values of the nodes being folded. openedx-calc evaluates every operand of a
    /// level before combining any of them, which decides which error wins in `1/0*fact(-1)`.
    stack: Vec<Value>,
}

impl Evaluator<'_, '_> {
    fn eval(&mut self, id: NodeId) -> Result<Value, CalcError> {
        let expression = self.expression;
        match &expression.nodes[id as usize] {
            Node::Literal(value) => Ok(value.clone()),
            Node::OversizedInt(digits) => Err(pyint::literal_too_long(*digits)),
            Node::Variable(index) => Ok(self.variables[*index as usize].clone()),
            Node::Call(index, arg) => {
                let arg = self.eval(*arg)?;
                let function = expression.function_targets[*index as usize]
                    .expect("names were checked before evaluation");
                functions::call(function, &arg)
            }
            Node::Sum1(op, term) => {
                let term = self.eval(*term)?;
                binary(*op, &Value::Int(0), &term)
            }
            Node::Product1(factor) => {
                let factor = self.eval(*factor)?;
                binary(BinOp::Mul, &Value::Int(1), &factor)
            }
            Node::Sum(terms) => self.fold(terms, Value::Int(0)),
            Node::Product(factors) => self.fold(factors, Value::Int(1)),
            Node::Parallel(operands) => {
                let base = self.push_operands(operands.iter().copied())?;
                let result = parallel(&self.stack[base..]);
                self.stack.truncate(base);
                result
            }
            Node::Power(operands) => {
                let base = self.push_operands(operands.iter().copied())?;
                let values = &self.stack[base..];
                let (last, rest) = values.split_last().expect("at least two operands");
                let mut result = last.clone();
                for value in rest.iter().rev() {
                    result = binary(BinOp::Pow, value, &result)?;
                }
                self.stack.truncate(base);
                Ok(result)
            }
            Node::VariableSpan(_) | Node::CallSpan(..) => {
                unreachable!("spans are interned when parsing completes")
            }
        }
    }

    fn push_operands(&mut self, ids: impl Iterator<Item = NodeId>) -> Result<usize, CalcError> {
        let base = self.stack.len();
        for id in ids {
            let value = self.eval(id)?;
            self.stack.push(value);
        }
        Ok(base)
    }

    fn fold(&mut self, items: &[(BinOp, NodeId)], start: Value) -> Result<Value, CalcError> {
        // Short sums and products (the usual learner answer) keep their operands on the
        // machine stack instead of the shared vector, which saves its allocation.
        const INLINE: usize = 4;
        if items.len() <= INLINE {
            let mut operands: [Value; INLINE] = std::array::from_fn(|_| Value::Int(0));
            for (slot, (_, id)) in operands.iter_mut().zip(items) {
                *slot = self.eval(*id)?;
            }
            let mut result = start;
            for ((op, _), value) in items.iter().zip(&operands) {
                result = binary(*op, &result, value)?;
            }
            return Ok(result);
        }
        let base = self.push_operands(items.iter().map(|(_, id)| *id))?;
        let mut result = start;
        for ((op, _), value) in items.iter().zip(&self.stack[base..]) {
            result = binary(*op, &result, value)?;
        }
        self.stack.truncate(base);
        Ok(result)
    }
}

/// `a || b || ...` = `1 / (1/a + 1/b + ...)`, NaN if any operand equals zero.
fn parallel(values: &[Value]) -> Result<Value, CalcError> {
    if values.iter().any(Value::equals_zero) {
        return Ok(Value::Float(f64::NAN));
    }
    let one = Value::Float(1.0);
    let reciprocals = values
        .iter()
        .map(|value| binary(BinOp::Div, &one, value))
        .collect::<Result<Vec<_>, _>>()?;
    let mut total = Value::Int(0);
    for reciprocal in &reciprocals {
        total = binary(BinOp::Add, &total, reciprocal)?;
    }
    binary(BinOp::Div, &one, &total)
}

/// Parses and evaluates in one go, exactly like openedx-calc's
/// `evaluator(variables, {}, text, case_sensitive)`. A blank expression evaluates to NaN.
pub fn evaluate(text: &str, vars: &Variables, case: CaseSensitivity) -> Result<Value, CalcError> {
    Expression::parse(text, case)?.eval(vars)
}
