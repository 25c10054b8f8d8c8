//! `coursetasks grade` and `coursetasks calc`: the JSON they print and their exit codes.

use std::process::{Command, Stdio};

use serde_json::{Value, json};

fn coursetasks(args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_coursetasks"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run coursetasks");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    let value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {stdout:?}"));
    (out.status.code().expect("exit code"), value)
}

/// The four-question problem of the grading reference's worked example: multiple choice, a
/// case-insensitive string, a numerical answer with tolerance 0.01 and an EDC checkbox.
const FOUR_QUESTIONS: &str = r#"<problem>
  <multiplechoiceresponse>
    <choicegroup type="MultipleChoice">
      <choice correct="false">Lyon</choice>
      <choice correct="true">Paris</choice>
    </choicegroup>
  </multiplechoiceresponse>
  <stringresponse answer="Paris" type="ci"><textline/></stringresponse>
  <numericalresponse answer="3.14">
    <responseparam type="tolerance" default="0.01"/>
    <formulaequationinput/>
  </numericalresponse>
  <choiceresponse partial_credit="EDC">
    <checkboxgroup>
      <choice correct="true">a</choice>
      <choice correct="true">b</choice>
      <choice correct="false">c</choice>
      <choice correct="false">d</choice>
    </checkboxgroup>
  </choiceresponse>
</problem>"#;

fn problem_file(dir: &tempfile::TempDir, xml: &str) -> String {
    let path = dir.path().join("problem.xml");
    std::fs::write(&path, xml).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn grade_prints_the_correctness_map_and_score() {
    let dir = tempfile::tempdir().unwrap();
    let problem = problem_file(&dir, FOUR_QUESTIONS);
    let answers =
        json!({"p_2_1": "choice_0", "p_3_1": "paris", "p_4_1": "3.15", "p_5_1": ["choice_0"]});
    let answers_path = dir.path().join("answers.json");
    std::fs::write(&answers_path, answers.to_string()).unwrap();
    let at_path = format!("@{}", answers_path.display());
    for answers_arg in [answers.to_string(), at_path] {
        let (code, out) = coursetasks(&[
            "grade",
            "--problem",
            &problem,
            "--answers",
            &answers_arg,
            "--problem-id",
            "p",
        ]);
        assert_eq!(code, 0, "{out}");
        assert_eq!(out["score"], 2.75);
        assert_eq!(out["total"], 4.0);
        assert_eq!(out["success"], "incorrect");
        assert_eq!(out["inputs"]["p_2_1"]["correctness"], "incorrect");
        assert_eq!(out["inputs"]["p_3_1"]["correctness"], "correct");
        assert_eq!(out["inputs"]["p_4_1"]["correctness"], "correct");
        assert_eq!(out["inputs"]["p_5_1"]["correctness"], "partially-correct");
        assert_eq!(out["inputs"]["p_5_1"]["npoints"], 0.75);
        assert_eq!(out["inputs"]["p_5_1"]["points"], 0.75);
        assert_eq!(out["inputs"]["p_3_1"]["npoints"], Value::Null);
    }
}

#[test]
fn grade_errors_are_json_with_their_class_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let problem = problem_file(&dir, FOUR_QUESTIONS);
    let cases: [(&[&str], &str, &str); 5] = [
        (
            &["--answers", r#"{"p_4_1": "3.1.4"}"#],
            "student_input",
            "Invalid math syntax",
        ),
        (
            &["--answers", "{not json"],
            "student_input",
            "not valid JSON",
        ),
        (&["--answers", r#"{"p_2_1": 3}"#], "student_input", "p_2_1"),
        (
            &["--answers", "@/no/such/file.json"],
            "student_input",
            "/no/such/file.json",
        ),
        (&["--answers", "[]"], "student_input", "JSON object"),
    ];
    for (extra, kind, needle) in cases {
        let mut args = vec!["grade", "--problem", problem.as_str(), "--problem-id", "p"];
        args.extend_from_slice(extra);
        let (code, out) = coursetasks(&args);
        assert_eq!(code, 2, "{args:?}: {out}");
        assert_eq!(out["error"]["kind"], kind, "{args:?}: {out}");
        let message = out["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(needle),
            "{args:?}: {message:?} lacks {needle:?}"
        );
    }

    let broken = problem_file(&dir, "<problem><stringresponse></problem>");
    let (code, out) = coursetasks(&["grade", "--problem", &broken, "--answers", "{}"]);
    assert_eq!(code, 2);
    assert_eq!(out["error"]["kind"], "problem_definition");

    let python = problem_file(
        &dir,
        r#"<problem><script type="loncapa/python">x = 1</script><customresponse cfn="f"><textline/></customresponse></problem>"#,
    );
    let (code, out) = coursetasks(&["grade", "--problem", &python, "--answers", "{}"]);
    assert_eq!(code, 2);
    assert_eq!(out["error"]["kind"], "not_rescorable");
    assert!(out["error"]["message"].as_str().unwrap().contains("script"));
}

#[test]
fn calc_prints_typed_values() {
    let cases = [
        (
            vec!["calc", "2^100"],
            json!({"kind": "int", "value": "1267650600228229401496703205376"}),
        ),
        (vec!["calc", "1+2*3"], json!({"kind": "int", "value": 7})),
        (
            vec!["calc", "2*3||6"],
            json!({"kind": "real", "value": 4.0}),
        ),
        (
            vec!["calc", "70%"],
            json!({"kind": "real", "value": 0.7000000000000001}),
        ),
        (
            vec!["calc", "sqrt(-4)"],
            json!({"kind": "complex", "value": {"re": 0.0, "im": 2.0}}),
        ),
        (
            vec!["calc", "x^2", "--var", "x=3"],
            json!({"kind": "int", "value": 9}),
        ),
        (
            vec!["calc", "X+1", "--var", "x=1.5"],
            json!({"kind": "real", "value": 2.5}),
        ),
    ];
    for (args, expected) in cases {
        let (code, out) = coursetasks(&args);
        assert_eq!(code, 0, "{args:?}: {out}");
        assert_eq!(out, expected, "{args:?}");
    }
}

#[test]
fn calc_errors_name_their_python_class() {
    let cases = [
        (vec!["calc", "1/0"], "ZeroDivisionError", ""),
        (vec!["calc", "fact(-1)"], "ValueError", ""),
        (vec!["calc", "fact(2.5)"], "TypeError", ""),
        (vec!["calc", "10.0^400"], "OverflowError", ""),
        (
            vec!["calc", "(1+2"],
            "UnmatchedParenthesis",
            "1 parentheses were opened but never closed",
        ),
        (vec!["calc", "2x"], "ParseError", ""),
        (
            vec!["calc", "a+b"],
            "UndefinedVariable",
            "a, b not permitted in answer as a variable",
        ),
        (
            vec!["calc", "X", "--var", "x=1", "--case-sensitive"],
            "UndefinedVariable",
            "did you mean x?",
        ),
        (
            vec!["calc", "1", "--var", "novalue"],
            "ParseError",
            "NAME=VALUE",
        ),
    ];
    for (args, class, needle) in cases {
        let (code, out) = coursetasks(&args);
        assert_eq!(code, 2, "{args:?}: {out}");
        assert_eq!(out["kind"], "error");
        assert_eq!(out["error"], class, "{args:?}: {out}");
        assert!(
            out["message"].as_str().unwrap().contains(needle),
            "{args:?}: {out}"
        );
    }
}
