//! Constructors for the errors the evaluator raises, named after the Python exceptions.

use crate::{CalcError, ErrorKind};

fn error(kind: ErrorKind, message: impl Into<String>) -> CalcError {
    CalcError {
        kind,
        message: message.into(),
    }
}

pub(crate) fn zero_division(message: impl Into<String>) -> CalcError {
    error(ErrorKind::ZeroDivisionError, message)
}

pub(crate) fn overflow(message: impl Into<String>) -> CalcError {
    error(ErrorKind::OverflowError, message)
}

pub(crate) fn value_error(message: impl Into<String>) -> CalcError {
    error(ErrorKind::ValueError, message)
}

pub(crate) fn type_error(message: impl Into<String>) -> CalcError {
    error(ErrorKind::TypeError, message)
}

pub(crate) fn parse_error(message: impl Into<String>) -> CalcError {
    error(ErrorKind::ParseError, message)
}

pub(crate) fn undefined(message: impl Into<String>) -> CalcError {
    error(ErrorKind::UndefinedVariable, message)
}

pub(crate) fn unmatched(message: impl Into<String>) -> CalcError {
    error(ErrorKind::UnmatchedParenthesis, message)
}
