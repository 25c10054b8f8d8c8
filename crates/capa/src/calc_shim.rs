//! TEMPORARY stand-in for `coursetasks-calc` with the agreed API, used only until that crate
//! compiles. Numbers only.
#![allow(dead_code)]

use num_complex::Complex64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaseSensitivity {
    #[default]
    Insensitive,
    Sensitive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    UndefinedVariable,
    UnmatchedParenthesis,
    ParseError,
    ZeroDivisionError,
    ValueError,
    OverflowError,
    TypeError,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CalcError {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Complex(Complex64),
}

impl Value {
    pub fn to_complex(&self) -> Complex64 {
        match self {
            Value::Int(i) => Complex64::new(*i as f64, 0.0),
            Value::Float(f) => Complex64::new(*f, 0.0),
            Value::Complex(c) => *c,
        }
    }
    pub fn to_f64_checked(&self) -> Result<f64, CalcError> {
        match self {
            Value::Int(i) => Ok(*i as f64),
            Value::Float(f) => Ok(*f),
            Value::Complex(_) => Err(CalcError {
                kind: ErrorKind::TypeError,
                message: "complex".into(),
            }),
        }
    }
    pub fn is_real(&self) -> bool {
        !matches!(self, Value::Complex(_))
    }
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Complex(_) => "complex",
        }
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Variables(Vec<(String, Value)>);
impl Variables {
    pub fn new() -> Self {
        Variables(Vec::new())
    }
    pub fn insert(&mut self, name: impl Into<String>, value: Value) {
        self.0.push((name.into(), value));
    }
}

#[derive(Debug, Clone)]
pub struct Expression(String, CaseSensitivity);
impl Expression {
    pub fn parse(text: &str, case: CaseSensitivity) -> Result<Expression, CalcError> {
        Ok(Expression(text.trim().to_string(), case))
    }
    pub fn eval(&self, vars: &Variables) -> Result<Value, CalcError> {
        let t = self.0.as_str();
        if t.is_empty() {
            return Ok(Value::Float(f64::NAN));
        }
        if let Ok(i) = t.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        if let Ok(f) = t.parse::<f64>() {
            return Ok(Value::Float(f));
        }
        for (k, v) in vars.0.iter().rev() {
            let eq = match self.1 {
                CaseSensitivity::Sensitive => k == t,
                CaseSensitivity::Insensitive => k.eq_ignore_ascii_case(t),
            };
            if eq {
                return Ok(v.clone());
            }
        }
        if t == "pi" {
            return Ok(Value::Float(std::f64::consts::PI));
        }
        Err(CalcError {
            kind: ErrorKind::ParseError,
            message: "shim".into(),
        })
    }
}

pub fn evaluate(text: &str, vars: &Variables, case: CaseSensitivity) -> Result<Value, CalcError> {
    Expression::parse(text, case)?.eval(vars)
}
