//! Variable bindings and the default constants, looked up the way openedx-calc builds its
//! dictionary: `dict(DEFAULT_VARIABLES)`, updated with the user's variables, then (in
//! case-insensitive mode) rebuilt with lower-cased keys, where the last colliding key wins.

use std::f64::consts::{E, PI};

use num_complex::Complex64;

use crate::{CaseSensitivity, Value};

/// openedx-calc's default variables, in dictionary order.
const DEFAULTS: [(&str, Value); 4] = [
    ("i", Value::Complex(Complex64::new(0.0, 1.0))),
    ("j", Value::Complex(Complex64::new(0.0, 1.0))),
    ("e", Value::Float(E)),
    ("pi", Value::Float(PI)),
];

#[derive(Debug, Clone)]
struct Binding {
    name: String,
    lower: String,
    value: Value,
}

/// Variable bindings: name -> value, in insertion order.
///
/// Case folding is applied at lookup according to [`CaseSensitivity`]: when two names collide
/// after lower-casing, the later insertion wins, like the Python dictionary rebuild. A user
/// variable may shadow a constant (`E` overrides `e` in case-insensitive mode).
#[derive(Debug, Clone, Default)]
pub struct Variables {
    bindings: Vec<Binding>,
}

impl Variables {
    /// No user variables (the constants `i`, `j`, `e`, `pi` are always available).
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `name` to `value`. Re-binding an existing name keeps its original position, as
    /// assigning to an existing Python dictionary key does.
    pub fn insert(&mut self, name: impl Into<String>, value: Value) {
        let name = name.into();
        if let Some(existing) = self.bindings.iter_mut().find(|b| b.name == name) {
            existing.value = value;
            return;
        }
        let lower = name.to_lowercase();
        self.bindings.push(Binding { name, lower, value });
    }

    /// The number of user variables.
    pub fn len(&self) -> usize {
        self.bindings.len()
    }

    /// Whether no user variable is bound.
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }

    /// The user variables, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.bindings.iter().map(|b| (b.name.as_str(), &b.value))
    }

    fn user_exact(&self, name: &str) -> Option<&Value> {
        self.bindings
            .iter()
            .find(|b| b.name == name)
            .map(|b| &b.value)
    }

    /// The value `name` (as written in the expression) refers to, if any.
    pub fn lookup(&self, name: &str, case: CaseSensitivity) -> Option<&Value> {
        match case {
            CaseSensitivity::Sensitive => self.user_exact(name).or_else(|| {
                DEFAULTS
                    .iter()
                    .find(|(default, _)| *default == name)
                    .map(|(_, v)| v)
            }),
            CaseSensitivity::Insensitive => {
                // Keys that are not defaults come after the defaults in the merged dictionary,
                // so the last of them that folds to `name` wins.
                let appended = self.bindings.iter().rev().find(|b| {
                    !DEFAULTS.iter().any(|(default, _)| *default == b.name)
                        && b.lower.eq_ignore_ascii_case(name)
                });
                if let Some(binding) = appended {
                    return Some(&binding.value);
                }
                let (default, value) = DEFAULTS
                    .iter()
                    .find(|(default, _)| default.eq_ignore_ascii_case(name))?;
                Some(self.user_exact(default).unwrap_or(value))
            }
        }
    }

    /// All valid variable names as the Python dictionary spells its keys (used for the
    /// case-sensitive "did you mean" suggestion).
    pub(crate) fn all_names(&self) -> impl Iterator<Item = &str> {
        DEFAULTS
            .iter()
            .map(|(name, _)| *name)
            .chain(self.bindings.iter().map(|b| b.name.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_collision_wins_but_defaults_keep_their_slot() {
        let mut vars = Variables::new();
        vars.insert("E", Value::Int(1));
        vars.insert("e", Value::Int(2));
        // Python: {'i','j','e'(=2),'pi','E'(=1)} lower-cased -> 'e' ends as 1.
        assert_eq!(
            vars.lookup("e", CaseSensitivity::Insensitive),
            Some(&Value::Int(1))
        );
        assert_eq!(
            vars.lookup("e", CaseSensitivity::Sensitive),
            Some(&Value::Int(2))
        );
        let mut vars = Variables::new();
        vars.insert("X", Value::Int(1));
        vars.insert("x", Value::Int(2));
        assert_eq!(
            vars.lookup("X", CaseSensitivity::Insensitive),
            Some(&Value::Int(2))
        );
        vars.insert("X", Value::Int(3));
        assert_eq!(
            vars.lookup("x", CaseSensitivity::Insensitive),
            Some(&Value::Int(2))
        );
        assert_eq!(vars.len(), 2);
    }

    #[test]
    fn constants_fold_case_only_when_insensitive() {
        let vars = Variables::new();
        assert!(vars.lookup("PI", CaseSensitivity::Insensitive).is_some());
        assert!(vars.lookup("PI", CaseSensitivity::Sensitive).is_none());
        assert!(vars.lookup("J", CaseSensitivity::Insensitive).is_some());
    }
}
