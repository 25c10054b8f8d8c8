//! Open edX capa problem grading, without Python.
//!
//! A [`Problem`] is compiled once from its capa XML and then grades any number of learners'
//! stored `student_answers`, giving the verdicts Open edX's capa engine gives (see
//! `shared/docs/capa-grading.md`). Response types that need instructor Python or an external
//! grader are detected and reported through [`Problem::rescorability`]; they are never guessed.
//!
//! ```
//! use coursetasks_capa::{Problem, Correctness};
//! let xml = r#"<problem><stringresponse answer="Paris" type="ci"><textline/></stringresponse></problem>"#;
//! let problem = Problem::compile(xml, "abc").unwrap();
//! let answers = serde_json::json!({"abc_2_1": " paris "});
//! let grade = problem.grade(answers.as_object().unwrap(), 1).unwrap();
//! assert_eq!(grade.inputs[0].correctness, Correctness::Correct);
//! assert_eq!((grade.score, grade.total), (1.0, 1.0));
//! ```
//!
//! # Deliberate differences from upstream
//!
//! * **Formula sampling is seeded.** Upstream draws `formularesponse` sample points from Python's
//!   unseeded module-global `random`, so a borderline answer can flip between rescores. Here the
//!   points come from ChaCha8 keyed by `(problem seed, response index)`: a rescore is reproducible.
//! * **`$anonymous_student_id`** has no value when rescoring (it is not in the stored state), so an
//!   answer-bearing attribute that uses it makes the problem not rescorable. `$seed`,
//!   `$script_code`, `$python_path` and `$extra_files` are substituted as upstream.
//! * **Any Python `<script>`** (type not containing `javascript`/`perl`) makes the problem not
//!   rescorable, even when the grade would not depend on it: capa executes it at load and it could
//!   define `$variables` or fail.
//! * **Conditional hints** (`<hintgroup>` with `hintfn`, or with `numericalhint`/`optionhint`/
//!   `formulahint`) are reported as not rescorable; `stringhint` hint groups are reproduced.
//! * **Feedback is not rendered**: `msg` is always empty. Hint processing is reproduced only where it
//!   can raise (and so abort the grade upstream).
//! * Error messages copy Open edX's texts where the reference gives them. Python `re` error texts
//!   are reproduced for the common syntax errors; a pattern using a construct this engine does
//!   not translate faithfully makes the problem not rescorable instead.
//!
//! Performance: compile once, grade many. Everything derived from the XML (names, correct sets,
//! regexes, staff values, tolerances, parsed instructor formulas) is precomputed; a grade only
//! evaluates the learner's expressions. Input ids in [`Grade`] are shared `Arc<str>`s.

pub mod bench_support;
mod compile;
mod decimal;
mod error;
mod grade;
pub mod ids;
mod num;
mod preprocess;
mod py;
mod pyregex;
mod responses;
mod tolerance;

pub use compile::InputInfo;
pub use error::{GradingError, GradingErrorKind, NotRescorable};
pub use grade::{Correctness, Grade, InputGrade, weighted_score};

use compile::Compiled;
use responses::Run;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The seed used for the compile that validates a problem and answers the metadata queries.
const DEFAULT_SEED: u64 = 1;
/// Per-seed compiles kept for problems whose answers mention `$seed`.
const SEED_CACHE_LIMIT: usize = 4096;

/// A problem compiled once from its capa XML; grades any number of learners without re-parsing.
pub struct Problem {
    problem_id: String,
    base: Arc<Compiled>,
    /// Only for problems whose answers use `$seed`: the source and per-seed compiles.
    seeded: Option<Seeded>,
}

struct Seeded {
    source: String,
    cache: RwLock<HashMap<u64, Arc<Compiled>>>,
}

impl std::fmt::Debug for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Problem")
            .field("problem_id", &self.problem_id)
            .field("inputs", &self.base.inputs)
            .field("not_rescorable", &self.base.not_rescorable)
            .finish_non_exhaustive()
    }
}

impl Problem {
    /// Compile a problem. `problem_id` is the usage key's `html_id` (block-v1: the block id;
    /// i4x: `i4x-org-course-problem-name`, see [`ids::i4x_html_id`]).
    ///
    /// Errors are [`GradingErrorKind::ProblemDefinition`]: malformed XML (with line and column),
    /// missing required attributes, disallowed or too many inputs, non-integer `points`, more than
    /// one correct `<option>`, and the other failures capa raises while loading. A problem with
    /// parts this engine cannot grade still compiles; see [`Problem::rescorability`].
    pub fn compile(xml: &str, problem_id: &str) -> Result<Problem, GradingError> {
        let source = preprocess::fix_outtext(xml);
        let base = compile::build(&source, problem_id, DEFAULT_SEED)?;
        let seeded = base.uses_seed.then(|| Seeded {
            source,
            cache: RwLock::new(HashMap::new()),
        });
        Ok(Problem {
            problem_id: problem_id.to_string(),
            base: Arc::new(base),
            seeded,
        })
    }

    /// The `problem_id` given to [`Problem::compile`].
    pub fn problem_id(&self) -> &str {
        &self.problem_id
    }

    /// `Ok(())` when every response can be graded here; otherwise the first offending element in
    /// document order (`customresponse`, a Python `<script>`, `jsinput`, `coderesponse`, ...).
    pub fn rescorability(&self) -> Result<(), NotRescorable> {
        match &self.base.not_rescorable {
            None => Ok(()),
            Some(n) => Err(n.clone()),
        }
    }

    /// Every input, in document order.
    pub fn inputs(&self) -> &[InputInfo] {
        &self.base.inputs
    }

    /// The response tags, in document order (graded or not).
    pub fn response_types(&self) -> Vec<&'static str> {
        self.base.responses.iter().map(|r| r.tag).collect()
    }

    /// Σ maxpoints over all inputs: the raw possible score.
    pub fn max_score(&self) -> f64 {
        self.base.max_score
    }

    /// Whether some answer depends on `$seed` (each seed then gets its own compile, cached).
    pub fn uses_seed(&self) -> bool {
        self.seeded.is_some()
    }

    fn for_seed(&self, seed: u64) -> Result<Arc<Compiled>, GradingError> {
        let Some(seeded) = &self.seeded else {
            return Ok(Arc::clone(&self.base));
        };
        if seed == DEFAULT_SEED {
            return Ok(Arc::clone(&self.base));
        }
        if let Some(c) = seeded.cache.read().ok().and_then(|c| c.get(&seed).cloned()) {
            return Ok(c);
        }
        let c = Arc::new(compile::build(&seeded.source, &self.problem_id, seed)?);
        if let Ok(mut cache) = seeded.cache.write()
            && cache.len() < SEED_CACHE_LIMIT
        {
            cache.insert(seed, Arc::clone(&c));
        }
        Ok(c)
    }

    /// Grade a learner's `student_answers` (values are strings, lists of strings or objects, as
    /// stored). `seed` is the learner's problem seed (`$seed`, formula sampling).
    ///
    /// One failing response aborts the whole grade, as upstream: no partial map is returned. The
    /// error kind tells what a rescore does with it (see [`GradingErrorKind`]).
    pub fn grade(&self, answers: &Map<String, Value>, seed: u64) -> Result<Grade, GradingError> {
        if let Some(n) = &self.base.not_rescorable {
            return Err(n.clone().into());
        }
        let compiled = self.for_seed(seed)?;
        let mut out = Vec::with_capacity(compiled.ids.len());
        let mut run = Run {
            answers,
            seed,
            out: &mut out,
        };
        for r in &compiled.responses {
            let ids = &compiled.ids[r.first_input..r.first_input + r.n_inputs];
            r.kind.grade(ids, &mut run)?;
        }
        Ok(Grade::from_inputs(out, compiled.max_score))
    }
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Problem>();
    is::<Grade>();
}
