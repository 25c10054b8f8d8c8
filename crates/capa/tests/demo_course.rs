//! The Open edX demo course fixture (olx-and-peers.md §3.1-3.2): every problem compiles, input ids
//! match the inventory, declarative problems grade right and wrong answers as Open edX does, and
//! Python/custom problems are reported as not rescorable, naming the element.

use coursetasks_capa::{Correctness, Correctness::*, Problem};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn fixture() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/openedx-demo-course");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIP: demo-course fixture not found at {}", dir.display());
        None
    }
}

fn load(root: &Path, rel: &str, stem: &str) -> Problem {
    let path = root.join(rel).join(format!("{stem}.xml"));
    let xml = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Problem::compile(&xml, stem).unwrap_or_else(|e| panic!("{stem} does not compile: {e}"))
}

const COURSE: &str = "demo-course/course/problem";
const LIBRARY: &str = "demo-content-library/library/problem";

/// (url_name, input count, first response number, inputs per response are 1 unless stated)
fn expected_ids(stem: &str) -> Vec<String> {
    match stem {
        "85f3f7f9b72548af880975112f27817c" => (2..=9).map(|k| format!("{stem}_{k}_1")).collect(),
        "53083a812536472ba8ea8182ee354363" => (1..=4).map(|m| format!("{stem}_2_{m}")).collect(),
        "ced178178f4440e08f15a408ea14cbf1" => vec![format!("{stem}_2_1"), format!("{stem}_3_1")],
        _ => vec![format!("{stem}_2_1")],
    }
}

/// Not rescorable here, with the element that should be named.
const PYTHON: &[(&str, &str)] = &[
    ("720cac326b684155b4845d32af4aeef0", "script"),
    ("53083a812536472ba8ea8182ee354363", "script"),
    ("58f6371c54254596ac91699557af449c", "customresponse"),
    ("7c95e593b148415e97ac02811c7daf1b", "script"),
    ("eb57b81093d048df975c957d005b1f74", "script"),
    ("dc37b89aade5444fbb1ecdaa0d22d180", "schematicresponse"),
    ("0d127d7942ec4be7a464eabafb286d02", "script"),
];

/// Declarative problems: (dir, url_name, [(answers, expected verdicts per input, score)]).
#[allow(clippy::type_complexity)]
fn declarative() -> Vec<(
    &'static str,
    &'static str,
    Vec<(Value, Vec<Correctness>, f64)>,
)> {
    let mc = |dir, stem, right: &str, wrong: &str| {
        let id = format!("{stem}_2_1");
        (
            dir,
            stem,
            vec![
                (json!({ &id: right }), vec![Correct], 1.0),
                (json!({ &id: wrong }), vec![Incorrect], 0.0),
            ],
        )
    };
    let mut v = vec![
        mc(
            COURSE,
            "b20c43dfbd874a729762ab44a1dfc282",
            "choice_1",
            "choice_0",
        ),
        mc(
            COURSE,
            "870b16e640d541af94a308caac834d2e",
            "choice_0",
            "choice_2",
        ),
        mc(
            COURSE,
            "ef8c3814d2ce47c6927a8310bba4b849",
            "choice_4",
            "choice_3",
        ),
        mc(
            COURSE,
            "3956d029fa74441cbfca3a97913ccaa8",
            "choice_1",
            "choice_0",
        ),
        mc(COURSE, "0895f1b6c0b329e50b90", "choice_1", "choice_0"),
        mc(COURSE, "fa55e7ce7a529c3aadf2", "choice_2", "choice_1"),
        mc(COURSE, "73ccaa75b5b6036b48fd", "choice_0", "choice_3"),
        mc(COURSE, "8a4f31060c1f666f9d75", "choice_0", "choice_1"),
        mc(COURSE, "c4f36f420bea1c8fb6a8", "choice_2", "choice_0"),
        mc(
            LIBRARY,
            "19c4d31df12b423c8944cf66ed8aa11d",
            "choice_0",
            "choice_1",
        ),
        mc(
            LIBRARY,
            "4e98cc7d3ed6413b9afbdf64e4a1b682",
            "choice_2",
            "choice_0",
        ),
        mc(
            LIBRARY,
            "6b74196a21a245ceb52873f50fb4c1b4",
            "choice_0",
            "choice_3",
        ),
        mc(
            LIBRARY,
            "b7597ae2c50d49e69dd0379465edbdd0",
            "choice_2",
            "choice_3",
        ),
        mc(
            LIBRARY,
            "dd88975768314dcd91363359d38371a8",
            "choice_1",
            "choice_2",
        ),
        mc(
            COURSE,
            "c89f56c74a3a424dbffb665d4643b42f",
            "Canberra",
            "Sydney",
        ),
        mc(COURSE, "3e5a945f54374fc7ababadc080660f2d", " sleepy", "Bob"),
        mc(
            COURSE,
            "330956aa9c304a0a8e944d3caac15494",
            "Bubble",
            "bubbles",
        ),
        mc(
            COURSE,
            "7071a317a0744a37924ef5dea17d47e1",
            "Quizzes for reflection",
            "",
        ),
        mc(
            COURSE,
            "10d6abada29b45df87f3bd9a9af86e72",
            "[338,168]",
            "[413,100]",
        ),
        mc(COURSE, "861cd64b013d1addc68f", "12", "13"),
        mc(LIBRARY, "5cd09d2566e8409b8ddcb57b0ff2361f", "6*2", "12.5"),
        mc(COURSE, "3b8100660f3947c198e0a9b35f7c6cf6", "120*5+4", "606"),
    ];
    let s = "b1ddf9b3553941cfa55b3cc8a56ab1a0";
    let id = format!("{s}_2_1");
    v.push((
        COURSE,
        s,
        vec![
            (json!({ &id: ["choice_2", "choice_0"] }), vec![Correct], 1.0),
            (json!({ &id: ["choice_0"] }), vec![Incorrect], 0.0),
            (json!({ &id: [] }), vec![Incorrect], 0.0),
        ],
    ));
    let s = "0135258373e648f2b57a80ae06bade61";
    let id = format!("{s}_2_1");
    v.push((
        COURSE,
        s,
        vec![
            (
                json!({ &id: ["choice_1", "choice_3", "choice_4"] }),
                vec![Correct],
                1.0,
            ),
            (
                json!({ &id: ["choice_1", "choice_3", "choice_4", "choice_0"] }),
                vec![Incorrect],
                0.0,
            ),
        ],
    ));
    let s = "9f898b5307d841fcb03f5ee4eb206a9a";
    let id = format!("{s}_2_1");
    v.push((
        COURSE,
        s,
        vec![
            (json!({ &id: "2" }), vec![Correct], 1.0),
            (json!({ &id: "1" }), vec![PartiallyCorrect], 0.5),
            (json!({ &id: "3" }), vec![Incorrect], 0.0),
        ],
    ));
    let s = "85f3f7f9b72548af880975112f27817c";
    let right = [
        "Albert Einstein",
        "Germany",
        "Dmitri Mendeleev",
        "Russia",
        "Sir Isaac Newton",
        "England",
        "Jonas Salk",
        "USA",
    ];
    let all: serde_json::Map<String, Value> = (2..=9)
        .map(|k| (format!("{s}_{k}_1"), json!(right[k - 2])))
        .collect();
    let mut mixed = all.clone();
    mixed.insert(format!("{s}_3_1"), json!("USA"));
    mixed.remove(&format!("{s}_9_1"));
    let mut mixed_v = vec![Correct; 8];
    mixed_v[1] = Incorrect;
    mixed_v[7] = Incorrect;
    v.push((
        COURSE,
        s,
        vec![
            (Value::Object(all), vec![Correct; 8], 8.0),
            (Value::Object(mixed), mixed_v, 6.0),
        ],
    ));
    let s = "ced178178f4440e08f15a408ea14cbf1";
    let (a, b) = (format!("{s}_2_1"), format!("{s}_3_1"));
    v.push((COURSE, s, vec![
        (
            json!({ &a: "rho*omega^2*L^2*(11*L/48 + 3*R/8)/E", &b: "rho*omega^2*(L^3/3+R*L^2/2)/E" }),
            vec![Correct, Correct],
            2.0,
        ),
        (json!({ &a: "rho*omega^2*L^2/E", &b: "(rho*omega^2)/E*(L^3/3 + (R*L^2)/2)" }), vec![Incorrect, Correct], 1.0),
    ]));
    let s = "29fb15ec7b5f462cab0a8216108df8dc";
    let id = format!("{s}_2_1");
    v.push((
        COURSE,
        s,
        vec![
            (
                json!({ &id: r#"{"options":[2],"comment":"x"}"# }),
                vec![Correct],
                2.0,
            ),
            (json!({ &id: r#"{"options":[0]}"# }), vec![Incorrect], 0.0),
            (json!({ &id: r#"{"options":[0,2]}"# }), vec![Incorrect], 0.0),
        ],
    ));
    v
}

#[test]
fn every_problem_compiles_with_inventory_ids() {
    let Some(root) = fixture() else { return };
    let mut count = 0;
    for rel in [COURSE, LIBRARY] {
        for entry in std::fs::read_dir(root.join(rel)).unwrap() {
            let path = entry.unwrap().path();
            let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
            let p = load(&root, rel, &stem);
            let ids: Vec<String> = p.inputs().iter().map(|i| i.id.clone()).collect();
            assert_eq!(ids, expected_ids(&stem), "{stem}");
            count += 1;
        }
    }
    assert_eq!(count, 35);
}

#[test]
fn python_problems_are_not_rescorable() {
    let Some(root) = fixture() else { return };
    for (stem, element) in PYTHON {
        let p = load(&root, COURSE, stem);
        let n = p.rescorability().expect_err(stem);
        assert_eq!(n.element, *element, "{stem}: {}", n.reason);
        let e = p.grade(&serde_json::Map::new(), 1).unwrap_err();
        assert_eq!(e.kind, coursetasks_capa::GradingErrorKind::NotRescorable);
    }
}

#[test]
fn declarative_problems_grade() {
    let Some(root) = fixture() else { return };
    let cases = declarative();
    assert_eq!(cases.len() + PYTHON.len(), 35);
    for (dir, stem, vectors) in cases {
        let p = load(&root, dir, stem);
        assert_eq!(p.rescorability(), Ok(()), "{stem}");
        for (answers, verdicts, score) in vectors {
            let g = p
                .grade(answers.as_object().unwrap(), 1)
                .unwrap_or_else(|e| panic!("{stem} {answers}: {e}"));
            let got: Vec<_> = g.inputs.iter().map(|i| i.correctness).collect();
            assert_eq!(got, verdicts, "{stem} {answers}");
            assert_eq!(g.score, score, "{stem} {answers}");
            assert_eq!(g.total, p.max_score());
        }
    }
}

#[test]
fn annotation_is_worth_two() {
    let Some(root) = fixture() else { return };
    let p = load(&root, COURSE, "29fb15ec7b5f462cab0a8216108df8dc");
    assert_eq!(p.max_score(), 2.0);
}
