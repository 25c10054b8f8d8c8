//! Deterministic synthetic learners and their problem state.
//!
//! Speed comes from grading each distinct answer once: every problem gets a
//! pool of answer variants (each input's answers crossed with the others'),
//! graded by the capa engine when the generator is built, with the JSON
//! fragments of the resulting state pre-rendered. Generating a module is
//! then a few random draws and one string concatenation. Each learner has
//! its own ChaCha8 stream (stream = learner id), so the output for a learner
//! depends only on the seed and the id, never on iteration order.

use std::fmt::Write;
use std::sync::Arc;

use coursetasks_capa::{GradingErrorKind, Problem};
use coursetasks_olx::Course;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use crate::answers::{self, Answer, ProblemAnswers};
use crate::pyjson;

/// The seed capa uses when a problem does not rerandomize (every sample
/// problem): all learners share it.
const PROBLEM_SEED: u64 = 1;

/// Out of a thousand learners, how many open a problem without submitting.
const VIEW_ONLY_PER_MILLE: u32 = 80;

/// Days between the course start (2026-01-05) and the last submission time
/// the generator writes (2026-02-28, before the final's due date).
const SUBMISSION_DAYS: u32 = 54;

/// Why the generator could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The course has none of the sample problems.
    #[error(
        "the course has none of the sample course's problems; the generator only knows their answers"
    )]
    NoKnownProblems,
    /// A problem did not compile, or grading one of the prepared answers
    /// failed in a way a learner's answer should not make it fail.
    #[error("problem {usage_key}: {message}")]
    Problem {
        /// The problem.
        usage_key: String,
        /// What went wrong.
        message: String,
    },
    /// `benchmark_modules_for` was given a problem the sample course lacks.
    #[error("the sample course has no problem {0:?}")]
    UnknownProblem(String),
}

/// One learner's state for one problem, shaped like an Open edX
/// `StudentModule` row.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedModule {
    /// The problem's usage key.
    pub usage_key: String,
    /// Always `"problem"` (capa).
    pub module_type: &'static str,
    /// The capa state JSON, as Open edX writes it.
    pub state: String,
    /// Raw points earned (`None` for a learner who only viewed the problem).
    pub grade: Option<f64>,
    /// Raw points possible (`None` for a learner who only viewed it).
    pub max_grade: Option<f64>,
}

/// One learner and the modules of the problems they opened.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedLearner {
    /// `(id, username, email)`; ids run from 1.
    pub learner: (i64, String, String),
    /// One module per problem the learner opened, in course order.
    pub modules: Vec<GeneratedModule>,
}

/// One graded answer combination, with its state fragments rendered.
#[derive(Debug)]
struct Variant {
    weight: u32,
    student_answers: String,
    correct_map: String,
    score: String,
    earned: f64,
    possible: f64,
    success: bool,
}

/// An answer combination capa cannot interpret (a student-input error):
/// stored as the learner's latest answers on top of an earlier, graded
/// submission, exactly what Open edX keeps after such a submit.
#[derive(Debug)]
struct Unparsable {
    weight: u32,
    student_answers: String,
}

/// Everything needed to generate modules for one problem.
#[derive(Debug)]
struct Pool {
    usage_key: String,
    input_state: String,
    max_attempts: u32,
    submit_per_mille: u32,
    /// Position in the course, which moves submission dates later.
    position: u32,
    graded: Vec<Variant>,
    graded_cumulative: Vec<u32>,
    unparsable: Vec<Unparsable>,
    /// Cumulative weights over `graded` then `unparsable`.
    all_cumulative: Vec<u32>,
}

/// Streams synthetic learners for the sample course; see the crate docs.
#[derive(Debug, Clone)]
pub struct LearnerGenerator {
    pools: Arc<[Pool]>,
    skipped: Arc<[String]>,
    base_rng: ChaCha8Rng,
    next_id: u64,
    last_id: u64,
}

impl LearnerGenerator {
    /// Prepares a generator for `learners` learners (ids `1..=learners`).
    ///
    /// Compiles each sample problem of `course` once and grades every answer
    /// combination in its pool. Problems whose answers the generator does
    /// not know are skipped (see [`LearnerGenerator::skipped`]).
    pub fn new(course: &Course, learners: u64, seed: u64) -> Result<Self, GenerateError> {
        let mut pools = Vec::new();
        let mut skipped = Vec::new();
        for block in course.problems() {
            match answers::for_problem(&block.url_name) {
                Some(known) => {
                    let position = pools.len() as u32;
                    pools.push(build_pool(block, known, position)?);
                }
                None => skipped.push(block.usage_key.clone()),
            }
        }
        if pools.is_empty() {
            return Err(GenerateError::NoKnownProblems);
        }
        Ok(LearnerGenerator {
            pools: pools.into(),
            skipped: skipped.into(),
            base_rng: ChaCha8Rng::seed_from_u64(seed),
            next_id: 1,
            last_id: learners,
        })
    }

    /// Usage keys of the problems modules are generated for, in course order.
    pub fn problems(&self) -> impl Iterator<Item = &str> {
        self.pools.iter().map(|p| p.usage_key.as_str())
    }

    /// Usage keys of the course's problems the generator has no answers for.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// The learner with this id (1-based), independent of iteration.
    pub fn learner(&self, id: u64) -> GeneratedLearner {
        let mut rng = self.base_rng.clone();
        rng.set_stream(id);
        let username = username(id);
        let email = format!("{username}@example.com");
        let mut modules = Vec::new();
        for pool in self.pools.iter() {
            let roll = rng.random_range(0..1000);
            if roll < pool.submit_per_mille {
                modules.push(pool.submitted(&mut rng));
            } else if roll < pool.submit_per_mille + VIEW_ONLY_PER_MILLE {
                modules.push(pool.viewed());
            }
        }
        GeneratedLearner {
            learner: (id as i64, username, email),
            modules,
        }
    }
}

impl Iterator for LearnerGenerator {
    type Item = GeneratedLearner;

    fn next(&mut self) -> Option<GeneratedLearner> {
        if self.next_id > self.last_id {
            return None;
        }
        let learner = self.learner(self.next_id);
        self.next_id += 1;
        Some(learner)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.last_id + 1).saturating_sub(self.next_id) as usize;
        (left, Some(left))
    }
}

impl ExactSizeIterator for LearnerGenerator {}

/// `n` submitted modules of one sample problem, for benchmarks: learner ids
/// `1..=n`, answers drawn from the same pool as [`LearnerGenerator`].
#[derive(Debug, Clone)]
pub struct BenchmarkModules {
    pools: Arc<[Pool]>,
    problem_xml: String,
    base_rng: ChaCha8Rng,
    next_id: u64,
    last_id: u64,
}

impl BenchmarkModules {
    /// Modules for the sample problem with this url_name.
    pub fn for_problem(url_name: &str, n: u64, seed: u64) -> Result<Self, GenerateError> {
        let course = crate::sample_course();
        let block = course
            .block_by_url_name("problem", url_name)
            .ok_or_else(|| GenerateError::UnknownProblem(url_name.to_string()))?;
        let known = answers::for_problem(url_name)
            .ok_or_else(|| GenerateError::UnknownProblem(url_name.to_string()))?;
        let pool = build_pool(block, known, 0)?;
        Ok(BenchmarkModules {
            pools: Arc::from(vec![pool]),
            problem_xml: block.problem_xml.clone().unwrap_or_default(),
            base_rng: ChaCha8Rng::seed_from_u64(seed),
            next_id: 1,
            last_id: n,
        })
    }

    /// The problem's usage key.
    pub fn usage_key(&self) -> &str {
        &self.pools[0].usage_key
    }

    /// The problem's capa XML (as in the course).
    pub fn problem_xml(&self) -> &str {
        &self.problem_xml
    }
}

impl Iterator for BenchmarkModules {
    /// `(learner id, module)`.
    type Item = (i64, GeneratedModule);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next_id > self.last_id {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        let mut rng = self.base_rng.clone();
        rng.set_stream(id);
        Some((id as i64, self.pools[0].submitted(&mut rng)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.last_id + 1).saturating_sub(self.next_id) as usize;
        (left, Some(left))
    }
}

impl ExactSizeIterator for BenchmarkModules {}

/// `n` submitted modules of the sample's numerical problem
/// (`free_fall_numerical`), whose answers include expressions and a few
/// unparsable ones.
pub fn benchmark_modules(n: u64, seed: u64) -> BenchmarkModules {
    BenchmarkModules::for_problem("free_fall_numerical", n, seed)
        .expect("the embedded sample course has free_fall_numerical and its answers")
}

impl Pool {
    /// A learner who opened the problem and never submitted.
    fn viewed(&self) -> GeneratedModule {
        let mut state = String::with_capacity(32 + self.input_state.len());
        let _ = write!(
            state,
            "{{\"seed\": {PROBLEM_SEED}, \"input_state\": {}}}",
            self.input_state
        );
        GeneratedModule {
            usage_key: self.usage_key.clone(),
            module_type: "problem",
            state,
            grade: None,
            max_grade: None,
        }
    }

    /// A learner who submitted at least once.
    fn submitted(&self, rng: &mut ChaCha8Rng) -> GeneratedModule {
        let picked = pick(&self.all_cumulative, rng);
        let (answers, graded) = if picked < self.graded.len() {
            let v = &self.graded[picked];
            (&v.student_answers, v)
        } else {
            // The latest answers could not be graded, so the stored
            // correct_map and score are those of an earlier submission.
            let earlier = &self.graded[pick(&self.graded_cumulative, rng)];
            (
                &self.unparsable[picked - self.graded.len()].student_answers,
                earlier,
            )
        };
        // Right answers tend to come early; wrong ones use more attempts.
        let attempts_roll = rng.random_range(0..100);
        let attempts = match (graded.success, attempts_roll) {
            (true, 0..60) | (false, 0..40) => 1,
            (true, 60..90) | (false, 40..70) => 2,
            _ => 3,
        }
        .min(self.max_attempts)
        .max(1);
        let day = (self.position * 6 + rng.random_range(0..21)).min(SUBMISSION_DAYS);
        let second = rng.random_range(7 * 3600..23 * 3600);

        let mut state = String::with_capacity(
            200 + answers.len() + graded.correct_map.len() + self.input_state.len(),
        );
        state.push_str("{\"attempts\": ");
        let _ = write!(state, "{attempts}");
        let _ = write!(
            state,
            ", \"seed\": {PROBLEM_SEED}, \"done\": true, \"has_saved_answers\": false, \"last_submission_time\": \""
        );
        write_timestamp(&mut state, day, second);
        state.push_str("\", \"student_answers\": ");
        state.push_str(answers);
        state.push_str(", \"correct_map\": ");
        state.push_str(&graded.correct_map);
        state.push_str(", \"input_state\": ");
        state.push_str(&self.input_state);
        state.push_str(", \"score\": ");
        state.push_str(&graded.score);
        state.push('}');
        GeneratedModule {
            usage_key: self.usage_key.clone(),
            module_type: "problem",
            state,
            grade: Some(graded.earned),
            max_grade: Some(graded.possible),
        }
    }
}

/// Index drawn with probability proportional to the weights behind the
/// cumulative sums.
fn pick(cumulative: &[u32], rng: &mut ChaCha8Rng) -> usize {
    let total = *cumulative.last().expect("pools are never empty");
    let r = rng.random_range(0..total);
    cumulative.partition_point(|&c| c <= r)
}

fn cumulative(weights: impl Iterator<Item = u32>) -> Vec<u32> {
    weights
        .scan(0u32, |sum, w| {
            *sum += w;
            Some(*sum)
        })
        .collect()
}

fn answer_value(answer: Answer) -> Value {
    match answer {
        Answer::Text(s) => Value::String(s.to_string()),
        Answer::Choices(list) => Value::Array(list.iter().map(|s| json!(s)).collect()),
    }
}

/// capa's score as Python stores it: `raw_earned` is an int when every
/// input's points were the implicit 0 or 1, a float once any grader set
/// `npoints`; `raw_possible` is a sum of integer `points`.
fn score_json(earned: f64, possible: f64, float_earned: bool) -> String {
    let mut out = String::from("{\"raw_earned\": ");
    if float_earned {
        pyjson::write_float(&mut out, earned);
    } else {
        let _ = write!(out, "{}", earned as i64);
    }
    let _ = write!(out, ", \"raw_possible\": {}}}", possible as i64);
    out
}

fn problem_error(usage_key: &str, message: impl Into<String>) -> GenerateError {
    GenerateError::Problem {
        usage_key: usage_key.to_string(),
        message: message.into(),
    }
}

/// Compiles one problem and grades every answer combination of its pool.
fn build_pool(
    block: &coursetasks_olx::Block,
    known: &ProblemAnswers,
    position: u32,
) -> Result<Pool, GenerateError> {
    let key = &block.usage_key;
    let pid = &block.html_id;
    let max_attempts = block.settings.max_attempts.unwrap_or(3).max(1);
    let mut graded = Vec::new();
    let mut unparsable = Vec::new();
    let input_ids: Vec<String>;

    if known.hand_graded.is_empty() {
        let xml = block
            .problem_xml
            .as_deref()
            .ok_or_else(|| problem_error(key, "no problem XML"))?;
        let problem = Problem::compile(xml, pid).map_err(|e| problem_error(key, e.to_string()))?;
        problem
            .rescorability()
            .map_err(|e| problem_error(key, e.to_string()))?;
        input_ids = known
            .inputs
            .iter()
            .map(|i| format!("{pid}{}", i.suffix))
            .collect();
        for combination in combinations(known) {
            let mut answers = Map::new();
            let mut weight = 1u32;
            for (id, (answer, w)) in input_ids.iter().zip(&combination) {
                answers.insert(id.clone(), answer_value(*answer));
                weight *= *w;
            }
            let student_answers = pyjson::to_string(&Value::Object(answers.clone()));
            match problem.grade(&answers, PROBLEM_SEED) {
                Ok(grade) => {
                    let float_earned = grade.inputs.iter().any(|g| g.npoints.is_some());
                    graded.push(Variant {
                        weight,
                        student_answers,
                        correct_map: pyjson::to_string(&grade.correct_map_json()),
                        score: score_json(grade.score, grade.total, float_earned),
                        earned: grade.score,
                        possible: grade.total,
                        success: grade.success,
                    });
                }
                Err(e) if e.kind == GradingErrorKind::StudentInput => {
                    unparsable.push(Unparsable {
                        weight,
                        student_answers,
                    });
                }
                Err(e) => {
                    return Err(problem_error(
                        key,
                        format!("grading the prepared answers {student_answers} failed: {e}"),
                    ));
                }
            }
        }
    } else {
        // Graded by a Python script in Open edX: the verdicts are the
        // script's, written out by hand.
        let id = format!("{pid}_2_1");
        input_ids = vec![id.clone()];
        for &(answer, weight, correct, msg) in known.hand_graded {
            let mut answers = Map::new();
            answers.insert(id.clone(), json!(answer));
            let mut cmap = Map::new();
            cmap.insert(
                id.clone(),
                json!({
                    "correctness": if correct { "correct" } else { "incorrect" },
                    "npoints": null,
                    "msg": msg,
                    "hint": "",
                    "hintmode": null,
                    "queuestate": null,
                    "answervariable": null,
                }),
            );
            let earned = if correct { 1.0 } else { 0.0 };
            graded.push(Variant {
                weight,
                student_answers: pyjson::to_string(&Value::Object(answers)),
                correct_map: pyjson::to_string(&Value::Object(cmap)),
                score: score_json(earned, 1.0, false),
                earned,
                possible: 1.0,
                success: correct,
            });
        }
    }
    if graded.is_empty() {
        return Err(problem_error(key, "no prepared answer could be graded"));
    }
    let input_state = pyjson::to_string(&Value::Object(
        input_ids.iter().map(|id| (id.clone(), json!({}))).collect(),
    ));
    let graded_cumulative = cumulative(graded.iter().map(|v| v.weight));
    let all_cumulative = cumulative(
        graded
            .iter()
            .map(|v| v.weight)
            .chain(unparsable.iter().map(|u| u.weight)),
    );
    Ok(Pool {
        usage_key: key.clone(),
        input_state,
        max_attempts,
        submit_per_mille: known.submit_per_mille,
        position,
        graded,
        graded_cumulative,
        unparsable,
        all_cumulative,
    })
}

/// Every combination of one answer per input (the cartesian product).
fn combinations(known: &ProblemAnswers) -> Vec<Vec<(Answer, u32)>> {
    let mut out: Vec<Vec<(Answer, u32)>> = vec![Vec::new()];
    for input in known.inputs {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                input.answers.iter().map(move |&choice| {
                    let mut next = prefix.clone();
                    next.push(choice);
                    next
                })
            })
            .collect();
    }
    out
}

/// A deterministic, varied username.
fn username(id: u64) -> String {
    const NAMES: &[&str] = &[
        "amara", "bjorn", "chen", "dalia", "emeka", "farah", "goran", "hana", "ines", "jonas",
        "kemal", "leila", "mateo", "nadia", "oskar", "priya", "quinn", "rosa", "sven", "tariq",
        "uma", "viktor", "wen", "ximena", "yusuf", "zora",
    ];
    // A multiplier coprime with the list length spreads neighbours apart.
    let name = NAMES[(id.wrapping_mul(7) % NAMES.len() as u64) as usize];
    format!("{name}_{id}")
}

/// Writes `2026-01-05 + day days + second seconds` as `YYYY-MM-DDTHH:MM:SSZ`.
fn write_timestamp(out: &mut String, day: u32, second: u32) {
    // Days since 1970-01-01 of the course start, 2026-01-05.
    const START: i64 = 20_458;
    let (y, m, d) = civil_from_days(START + i64::from(day));
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        second / 3600,
        second / 60 % 60,
        second % 60
    );
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_458), (2026, 1, 5));
        let mut s = String::new();
        write_timestamp(&mut s, 54, 13 * 3600 + 5 * 60 + 9);
        assert_eq!(s, "2026-02-28T13:05:09Z");
    }

    #[test]
    fn weighted_pick_is_proportional() {
        let cum = cumulative([1, 0, 3].into_iter());
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut counts = [0u32; 3];
        for _ in 0..4000 {
            counts[pick(&cum, &mut rng)] += 1;
        }
        assert_eq!(counts[1], 0, "zero weight is never picked");
        assert!((800..1200).contains(&counts[0]), "{counts:?}");
    }

    #[test]
    fn usernames_are_distinct() {
        let names: std::collections::HashSet<String> = (1..=1000).map(username).collect();
        assert_eq!(names.len(), 1000);
    }
}
