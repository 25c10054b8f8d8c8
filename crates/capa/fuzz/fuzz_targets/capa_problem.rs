//! Arbitrary bytes → if UTF-8, compile as a capa problem, and if it compiles, grade it with a few
//! answers of every JSON shape. Nothing may panic.
#![no_main]

use coursetasks_capa::Problem;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The tail after the last NUL (if any) is used as a learner's answer text.
    let (xml, answer) = match text.rsplit_once('\0') {
        Some((x, a)) => (x, a),
        None => (text, "1"),
    };
    let Ok(problem) = Problem::compile(xml, "fz") else { return };
    let _ = problem.rescorability();
    let shapes = [
        Value::from(answer),
        json!([answer, "choice_0"]),
        json!({ format!("fz_2_1_choiceinput_0bc"): answer, "fz_2_1_choiceinput_0_numtolerance_input_0": answer }),
        Value::Null,
        json!(2.5),
    ];
    for (k, shape) in shapes.iter().enumerate() {
        let mut m = Map::new();
        for input in problem.inputs() {
            m.insert(input.id.clone(), shape.clone());
        }
        let _ = problem.grade(&m, k as u64);
    }
    let _ = problem.grade(&Map::new(), 0);
});
