//! The benchmark problem and a realistic answer mix, shared by `benches/grading.rs` and the CLI's
//! `bench` subcommand so both measure exactly the same thing.
//!
//! The problem has four responses, one input each: two dropdowns (`optionresponse`), a
//! `numericalresponse` whose learners type expressions (`2*pi/3`, `2.0944`, ...) and a
//! case-insensitive `stringresponse`.

use serde_json::{Map, Value};

/// The problem id the benchmark uses (its inputs are `bench_2_1` … `bench_5_1`).
pub const BENCH_PROBLEM_ID: &str = "bench";

/// Inputs per benchmark problem.
pub const BENCH_INPUTS: usize = 4;

/// The benchmark problem XML.
pub fn bench_problem_xml() -> &'static str {
    r#"<problem display_name="Benchmark">
  <p>Which planet is closest to the sun?</p>
  <optionresponse>
    <optioninput options="('Venus','Mercury','Mars')" correct="Mercury"/>
  </optionresponse>
  <p>Pick the noble gas.</p>
  <optionresponse>
    <optioninput>
      <option correct="False">Oxygen</option>
      <option correct="True">Argon</option>
      <option correct="False">Nitrogen</option>
    </optioninput>
  </optionresponse>
  <p>What is one third of a full turn, in radians?</p>
  <numericalresponse answer="2*pi/3">
    <responseparam type="tolerance" default="1%"/>
    <formulaequationinput/>
  </numericalresponse>
  <p>What is the capital of France?</p>
  <stringresponse answer="Paris" type="ci">
    <additional_answer answer="Paris, France"/>
    <textline size="20"/>
  </stringresponse>
</problem>"#
}

/// A deterministic mix of learner answers (about 60% right), cycling through `n` variants.
pub fn bench_answers(n: usize) -> Vec<Map<String, Value>> {
    const OPT1: &[&str] = &["Mercury", "Venus", "Mercury", "Mars", "Mercury"];
    const OPT2: &[&str] = &["Argon", "Argon", "Oxygen", "Argon", "Nitrogen", "Argon"];
    const NUM: &[&str] = &[
        "2*pi/3",
        "2.0944",
        "2.1",
        "pi/3",
        "2*3.14159/3",
        "120",
        "2.09",
        "(2/3)*pi",
    ];
    const STR: &[&str] = &[
        "Paris",
        "paris",
        " PARIS ",
        "Lyon",
        "paris, france",
        "Marseille",
        "Paris",
    ];
    (0..n)
        .map(|i| {
            let mut m = Map::new();
            m.insert("bench_2_1".into(), Value::from(OPT1[i % OPT1.len()]));
            m.insert("bench_3_1".into(), Value::from(OPT2[i % OPT2.len()]));
            m.insert("bench_4_1".into(), Value::from(NUM[i % NUM.len()]));
            m.insert("bench_5_1".into(), Value::from(STR[i % STR.len()]));
            m
        })
        .collect()
}
