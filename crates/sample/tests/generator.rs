//! The embedded sample course and the synthetic learners generated for it.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use coursetasks_capa::{GradingErrorKind, Problem};
use coursetasks_sample::{
    BenchmarkModules, GeneratedModule, LearnerGenerator, PYTHON_PROBLEM, SAMPLE_COURSE_KEY,
    WRONG_KEY_PROBLEM, answer_key_fix, benchmark_modules, sample_course, sample_course_files,
};
use serde_json::Value;

fn state(module: &GeneratedModule) -> serde_json::Map<String, Value> {
    match serde_json::from_str::<Value>(&module.state).unwrap() {
        Value::Object(map) => map,
        other => panic!("state is not an object: {other}"),
    }
}

#[test]
fn embedded_files_are_the_whole_course_folder() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sample-course");
    let mut on_disk = BTreeSet::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(&root)
                .unwrap()
                .to_str()
                .unwrap()
                .replace('\\', "/");
            if rel == "README.md" || rel == "fixes" {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                on_disk.insert(rel);
            }
        }
    }
    let embedded = sample_course_files();
    let embedded_paths: BTreeSet<String> = embedded.keys().cloned().collect();
    assert_eq!(
        embedded_paths, on_disk,
        "crates/sample/src/files.rs must list every course file"
    );
    for (path, bytes) in &embedded {
        assert_eq!(&std::fs::read(root.join(path)).unwrap(), bytes, "{path}");
    }
}

#[test]
fn sample_course_and_fix() {
    let course = sample_course();
    assert_eq!(course.key.to_string(), SAMPLE_COURSE_KEY);
    assert!(course.warnings.is_empty(), "{:?}", course.warnings);
    assert_eq!(course.problems().count(), 8);

    let (key, fixed_xml) = answer_key_fix();
    assert_eq!(key, WRONG_KEY_PROBLEM);
    let block = course
        .block(&key)
        .expect("the fix targets a course problem");
    let wrong = Problem::compile(block.problem_xml.as_deref().unwrap(), &block.html_id).unwrap();
    let fixed = Problem::compile(&fixed_xml, &block.html_id).unwrap();
    let id = format!("{}_2_1", block.html_id);
    let answers = |a: &str| {
        let mut m = serde_json::Map::new();
        m.insert(id.clone(), Value::String(a.to_string()));
        m
    };
    for (answer, before, after) in [("3.14", 0.0, 1.0), ("pi", 0.0, 1.0), ("3.41", 1.0, 0.0)] {
        assert_eq!(
            wrong.grade(&answers(answer), 1).unwrap().score,
            before,
            "{answer}"
        );
        assert_eq!(
            fixed.grade(&answers(answer), 1).unwrap().score,
            after,
            "{answer}"
        );
    }

    // The Python-graded problem is reported as not rescorable, with a reason.
    let python = course.block(PYTHON_PROBLEM).unwrap();
    let verdict = Problem::compile(python.problem_xml.as_deref().unwrap(), &python.html_id)
        .map_err(|e| e.kind)
        .and_then(|p| {
            p.rescorability()
                .map_err(|_| GradingErrorKind::NotRescorable)
        });
    assert_eq!(verdict.unwrap_err(), GradingErrorKind::NotRescorable);
}

#[test]
fn deterministic_and_random_access() {
    let course = sample_course();
    let a: Vec<_> = LearnerGenerator::new(&course, 300, 7).unwrap().collect();
    let b: Vec<_> = LearnerGenerator::new(&course, 300, 7).unwrap().collect();
    assert_eq!(a, b);
    let c: Vec<_> = LearnerGenerator::new(&course, 300, 8).unwrap().collect();
    assert_ne!(a, c);
    let generator = LearnerGenerator::new(&course, 300, 7).unwrap();
    assert_eq!(generator.len(), 300);
    assert_eq!(generator.learner(123), a[122]);
    assert_eq!(a[0].learner.0, 1);
    assert_eq!(a[299].learner.0, 300);
    let (_, username, email) = &a[41].learner;
    assert_eq!(email, &format!("{username}@example.com"));
    assert!(generator.skipped().is_empty());

    // Nothing is precomputed per learner: a huge population costs nothing
    // up front, and any learner can be produced directly.
    let huge = LearnerGenerator::new(&course, 1_000_000_000_000, 7).unwrap();
    assert_eq!(huge.learner(999_999_999_999).learner.0, 999_999_999_999);
}

#[test]
fn states_look_like_open_edx_and_agree_with_capa() {
    let course = sample_course();
    let problems: HashMap<&str, (Option<Problem>, String)> = course
        .problems()
        .map(|b| {
            let compiled = Problem::compile(b.problem_xml.as_deref().unwrap(), &b.html_id)
                .ok()
                .filter(|p| p.rescorability().is_ok());
            (b.usage_key.as_str(), (compiled, b.html_id.clone()))
        })
        .collect();

    let learners = 4000u64;
    let mut submitted: HashMap<String, u64> = HashMap::new();
    let mut viewed: HashMap<String, u64> = HashMap::new();
    let mut unparsable: HashMap<String, u64> = HashMap::new();
    let mut distinct: HashMap<String, BTreeSet<String>> = HashMap::new();
    for learner in LearnerGenerator::new(&course, learners, 2026).unwrap() {
        let mut seen = BTreeSet::new();
        for module in &learner.modules {
            assert!(
                seen.insert(module.usage_key.clone()),
                "one module per problem"
            );
            assert_eq!(module.module_type, "problem");
            let (compiled, html_id) = &problems[module.usage_key.as_str()];
            let s = state(module);
            assert_eq!(s["seed"], 1);
            let input_state = s["input_state"].as_object().unwrap();
            assert!(
                input_state
                    .keys()
                    .all(|k| k.starts_with(&format!("{html_id}_")))
            );
            if s.get("done").is_none() {
                // Opened, never submitted.
                assert_eq!(s.len(), 2, "{}", module.state);
                assert_eq!((module.grade, module.max_grade), (None, None));
                *viewed.entry(module.usage_key.clone()).or_default() += 1;
                continue;
            }
            *submitted.entry(module.usage_key.clone()).or_default() += 1;
            assert_eq!(s["done"], true);
            assert_eq!(s["has_saved_answers"], false);
            let attempts = s["attempts"].as_u64().unwrap();
            assert!((1..=3).contains(&attempts), "max_attempts is 3");
            let time = s["last_submission_time"].as_str().unwrap();
            assert!(
                time.starts_with("2026-0") && time.ends_with('Z') && time.len() == 20,
                "{time}"
            );
            assert!(
                ("2026-01-05".."2026-03-01").contains(&&time[..10]),
                "{time}"
            );
            let answers = s["student_answers"].as_object().unwrap();
            let cmap = s["correct_map"].as_object().unwrap();
            let score = s["score"].as_object().unwrap();
            assert_eq!(module.grade, score["raw_earned"].as_f64());
            assert_eq!(module.max_grade, score["raw_possible"].as_f64());
            let earned: f64 = cmap
                .values()
                .map(
                    |e| match (e["npoints"].as_f64(), e["correctness"].as_str().unwrap()) {
                        (Some(p), _) => p,
                        (None, "incorrect") => 0.0,
                        (None, _) => 1.0,
                    },
                )
                .sum();
            assert!((earned - module.grade.unwrap()).abs() < 1e-9);
            assert_eq!(
                answers.keys().collect::<Vec<_>>(),
                cmap.keys().collect::<Vec<_>>(),
                "answers and correct_map cover the same inputs"
            );
            distinct
                .entry(module.usage_key.clone())
                .or_default()
                .insert(serde_json::to_string(answers).unwrap());
            if let Some(problem) = compiled {
                match problem.grade(answers, 1) {
                    Ok(grade) => {
                        assert_eq!(&grade.correct_map_json(), &s["correct_map"]);
                        assert_eq!(Some(grade.score), module.grade);
                    }
                    Err(e) => {
                        assert_eq!(e.kind, GradingErrorKind::StudentInput, "{e}");
                        *unparsable.entry(module.usage_key.clone()).or_default() += 1;
                    }
                }
            }
        }
    }

    for block in course.problems() {
        let key = block.usage_key.as_str();
        let share = submitted[key] as f64 / learners as f64;
        assert!((0.65..=0.88).contains(&share), "{key}: {share} submitted");
        let share = viewed[key] as f64 / learners as f64;
        assert!((0.05..=0.11).contains(&share), "{key}: {share} only viewed");
        assert!(distinct[key].len() >= 4, "{key}: varied answers");
    }
    for url_name in [
        "free_fall_numerical",
        "circle_area",
        "kinetic_energy_formula",
    ] {
        let key = format!("block-v1:CourseTasks+CT101+2026+type@problem+block@{url_name}");
        assert!(
            unparsable.get(&key).copied().unwrap_or(0) > 0,
            "{url_name}: some answers cannot be read"
        );
    }
    assert_eq!(unparsable.len(), 3, "{unparsable:?}");
}

#[test]
fn the_wrong_key_hurts_learners_who_were_right() {
    let course = sample_course();
    let (key, fixed_xml) = answer_key_fix();
    let block = course.block(&key).unwrap();
    let fixed = Problem::compile(&fixed_xml, &block.html_id).unwrap();
    let (mut gains, mut losses, mut total) = (0, 0, 0);
    for learner in LearnerGenerator::new(&course, 2000, 1).unwrap() {
        for module in learner.modules.iter().filter(|m| m.usage_key == key) {
            let s = state(module);
            let Some(answers) = s.get("student_answers").and_then(Value::as_object) else {
                continue;
            };
            let Ok(grade) = fixed.grade(answers, 1) else {
                continue;
            };
            total += 1;
            let before = module.grade.unwrap();
            if grade.score > before {
                gains += 1;
            } else if grade.score < before {
                losses += 1;
            }
        }
    }
    assert!(
        gains > total / 2,
        "most learners were right but marked wrong: {gains}/{total}"
    );
    assert!(losses > 0, "a few typed 3.41 and lose the point");
}

#[test]
fn benchmark_modules_are_all_submitted() {
    let modules: Vec<_> = benchmark_modules(500, 3).collect();
    assert_eq!(modules.len(), 500);
    assert_eq!(modules[0].0, 1);
    assert!(modules.iter().all(|(_, m)| state(m)["done"] == true));
    assert!(
        modules
            .iter()
            .all(|(_, m)| m.usage_key.ends_with("block@free_fall_numerical"))
    );

    let dropdown = BenchmarkModules::for_problem("instrument_dropdown", 10, 3).unwrap();
    assert!(dropdown.problem_xml().contains("optionresponse"));
    assert_eq!(dropdown.len(), 10);
    assert!(BenchmarkModules::for_problem("nope", 10, 3).is_err());
}

#[test]
fn a_course_without_sample_problems_is_refused() {
    let mut files = coursetasks_olx::FileMap::new();
    files.insert(
        "course.xml".into(),
        br#"<course url_name="R" org="O" course="C"><chapter url_name="c"><problem url_name="other"><stringresponse answer="x"><textline/></stringresponse></problem></chapter></course>"#.to_vec(),
    );
    let course =
        coursetasks_olx::read_course(&coursetasks_olx::CourseSource::Files(files)).unwrap();
    assert!(LearnerGenerator::new(&course, 10, 1).is_err());
}
