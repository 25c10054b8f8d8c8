//! The Open edX demo course and its content library read as the inventory in
//! `shared/docs/olx-and-peers.md` §3.1–3.2 says.

mod common;

use std::collections::{BTreeMap, HashMap};

use coursetasks_olx::{ContextKind, CourseSource, parse_usage_key, read_course};

/// The 29 problems of the demo course, in tree order (inventory §3.1).
const DEMO_PROBLEMS: [&str; 29] = [
    "b20c43dfbd874a729762ab44a1dfc282",
    "870b16e640d541af94a308caac834d2e",
    "ef8c3814d2ce47c6927a8310bba4b849",
    "b1ddf9b3553941cfa55b3cc8a56ab1a0",
    "0135258373e648f2b57a80ae06bade61",
    "c89f56c74a3a424dbffb665d4643b42f",
    "85f3f7f9b72548af880975112f27817c",
    "3b8100660f3947c198e0a9b35f7c6cf6",
    "9f898b5307d841fcb03f5ee4eb206a9a",
    "ced178178f4440e08f15a408ea14cbf1",
    "3e5a945f54374fc7ababadc080660f2d",
    "330956aa9c304a0a8e944d3caac15494",
    "7071a317a0744a37924ef5dea17d47e1",
    "10d6abada29b45df87f3bd9a9af86e72",
    "720cac326b684155b4845d32af4aeef0",
    "53083a812536472ba8ea8182ee354363",
    "58f6371c54254596ac91699557af449c",
    "7c95e593b148415e97ac02811c7daf1b",
    "3956d029fa74441cbfca3a97913ccaa8",
    "eb57b81093d048df975c957d005b1f74",
    "0895f1b6c0b329e50b90",
    "fa55e7ce7a529c3aadf2",
    "73ccaa75b5b6036b48fd",
    "8a4f31060c1f666f9d75",
    "c4f36f420bea1c8fb6a8",
    "861cd64b013d1addc68f",
    "29fb15ec7b5f462cab0a8216108df8dc",
    "dc37b89aade5444fbb1ecdaa0d22d180",
    "0d127d7942ec4be7a464eabafb286d02",
];

const PREFIX: &str = "block-v1:OpenedX+DemoX+DemoCourse+type@";

#[test]
fn demo_course_structure() {
    let Some(fixture) = common::demo_fixture() else {
        return;
    };
    let course = read_course(&CourseSource::path(fixture.join("demo-course/course"))).unwrap();
    assert_eq!(course.key.to_string(), "course-v1:OpenedX+DemoX+DemoCourse");
    assert_eq!(course.display_name, "Open edX Demo Course");
    assert!(course.warnings.is_empty(), "{:?}", course.warnings);

    let expected: BTreeMap<String, usize> = [
        ("annotatable", 1),
        ("chapter", 6),
        ("course", 1),
        ("discussion", 1),
        ("done", 1),
        ("drag-and-drop-v2", 1),
        ("edx_sga", 1),
        ("html", 266),
        ("library_content", 1),
        ("lti", 2),
        ("openassessment", 2),
        ("poll", 1),
        ("problem", 29),
        ("sequential", 17),
        ("staffgradedxblock", 1),
        ("survey", 1),
        ("vertical", 58),
        ("video", 11),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(course.block_counts(), expected);

    let problems: Vec<&str> = course.problems().map(|p| p.url_name.as_str()).collect();
    assert_eq!(problems, DEMO_PROBLEMS);

    // Tree order: the root first, every parent before its children, and
    // parent/children links agree.
    let root = course.root();
    assert_eq!(root.block_type, "course");
    assert_eq!(root.usage_key, format!("{PREFIX}course+block@DemoCourse"));
    assert_eq!(root.parent, None);
    assert_eq!(root.children.len(), 6, "the <wiki> element is not a block");
    let position: HashMap<&str, usize> = course
        .blocks
        .iter()
        .enumerate()
        .map(|(i, b)| (b.usage_key.as_str(), i))
        .collect();
    assert_eq!(position.len(), course.blocks.len(), "usage keys are unique");
    for (i, block) in course.blocks.iter().enumerate().skip(1) {
        let parent = block
            .parent
            .as_deref()
            .expect("non-root blocks have a parent");
        assert!(position[parent] < i);
        assert!(
            course.blocks[position[parent]]
                .children
                .contains(&block.usage_key)
        );
        // Every key parses back and agrees with the block's fields.
        let key = parse_usage_key(&block.usage_key).unwrap();
        assert_eq!(key.block_type, block.block_type);
        assert_eq!(key.block_id, block.url_name);
        assert_eq!(key.html_id(), block.html_id);
        assert_eq!(key.i4x_string(), block.legacy_key);
    }
}

#[test]
fn demo_course_problem_details() {
    let Some(fixture) = common::demo_fixture() else {
        return;
    };
    let course = read_course(&CourseSource::path(fixture.join("demo-course/course"))).unwrap();

    let p = course
        .block(&format!(
            "{PREFIX}problem+block@870b16e640d541af94a308caac834d2e"
        ))
        .unwrap();
    assert_eq!(p.html_id, "870b16e640d541af94a308caac834d2e");
    assert_eq!(
        p.legacy_key,
        "i4x://OpenedX/DemoX/problem/870b16e640d541af94a308caac834d2e"
    );
    assert_eq!(
        p.legacy_usage_key().html_id(),
        "i4x-OpenedX-DemoX-problem-870b16e640d541af94a308caac834d2e"
    );
    assert_eq!(p.display_name.as_deref(), Some("Basic Multiple Choice"));
    assert_eq!(
        p.parent.as_deref(),
        Some(format!("{PREFIX}vertical+block@dacc88e550bd48db93899979bff1b086").as_str())
    );
    assert_eq!(
        p.source.file,
        "problem/870b16e640d541af94a308caac834d2e.xml"
    );
    assert_eq!(p.source.line, Some(1));
    let xml = p.problem_xml.as_deref().unwrap();
    assert!(xml.starts_with("<problem display_name=\"Basic Multiple Choice\""));
    assert!(xml.trim_end().ends_with("</problem>"));
    // Graded and assignment type come from the sequential; start from the
    // course; showanswer/rerandomize are unset (Open edX defaults apply).
    assert_eq!(p.settings.graded, Some(true));
    assert_eq!(p.settings.format.as_deref(), Some("Basic Assessment Tools"));
    assert_eq!(p.settings.start.as_deref(), Some("2020-01-01T00:00:00Z"));
    assert_eq!(p.settings.weight, None);
    assert_eq!(p.settings.showanswer_or_default(), "finished");
    assert_eq!(p.settings.rerandomize_or_default(), "never");
    let ancestors: Vec<&str> = course
        .ancestors(&p.usage_key)
        .iter()
        .map(|b| b.block_type.as_str())
        .collect();
    assert_eq!(ancestors, ["vertical", "sequential", "chapter", "course"]);

    // The only problem with a weight; its own rerandomize.
    let p = course
        .block_by_url_name("problem", "720cac326b684155b4845d32af4aeef0")
        .unwrap();
    assert_eq!(p.settings.weight, Some(1.0));
    assert_eq!(p.settings.rerandomize.as_deref(), Some("onreset"));
    assert_eq!(
        p.settings.format.as_deref(),
        Some("Advanced Assessment Tools")
    );
    let weighted = course
        .problems()
        .filter(|p| p.settings.weight.is_some())
        .count();
    assert_eq!(weighted, 1);

    let p = course
        .block_by_url_name("problem", "3b8100660f3947c198e0a9b35f7c6cf6")
        .unwrap();
    assert_eq!(p.settings.showanswer.as_deref(), Some("always"));

    // 26 problems sit in graded subsections; the other 3 do not.
    let ungraded: Vec<&str> = course
        .problems()
        .filter(|p| p.settings.graded != Some(true))
        .map(|p| p.url_name.as_str())
        .collect();
    assert_eq!(
        ungraded,
        [
            "b20c43dfbd874a729762ab44a1dfc282",
            "dc37b89aade5444fbb1ecdaa0d22d180",
            "0d127d7942ec4be7a464eabafb286d02"
        ]
    );

    // The library_content block holds the six course-local copies.
    let lc = course
        .blocks
        .iter()
        .find(|b| b.block_type == "library_content")
        .unwrap();
    let children: Vec<&str> = lc
        .children
        .iter()
        .map(|k| k.rsplit('@').next().unwrap())
        .collect();
    assert_eq!(children, DEMO_PROBLEMS[20..26]);
    assert_eq!(
        lc.settings.raw.get("max_count").and_then(|v| v.as_str()),
        Some("2")
    );

    // An inline XBlock keeps its type and its `max_attempts="null"` reads as
    // unset.
    let dnd = course
        .block_by_url_name("drag-and-drop-v2", "1feb18be7d7c481bb075d943ffb04893")
        .unwrap();
    assert_eq!(dnd.settings.max_attempts, None);
    assert_eq!(dnd.settings.weight, Some(1.0));
    assert_eq!(
        dnd.source.file,
        "vertical/86854570ab8b4eb3b3dc8d4a5de311f8.xml"
    );
    assert_eq!(dnd.source.line, Some(4));
    assert!(dnd.problem_xml.is_none());

    // Grading policy.
    let graders = course.grading_policy.as_ref().unwrap()["GRADER"]
        .as_array()
        .unwrap();
    assert_eq!(graders.len(), 3);
    assert_eq!(graders[0]["type"], "Basic Assessment Tools");
}

#[test]
fn demo_library() {
    let Some(fixture) = common::demo_fixture() else {
        return;
    };
    let lib = read_course(&CourseSource::path(
        fixture.join("demo-content-library/library"),
    ))
    .unwrap();
    assert_eq!(lib.key.kind, ContextKind::Library);
    assert_eq!(
        lib.key.to_string(),
        "library-v1:OpenedX+DemoRespiratoryQuestions"
    );
    assert_eq!(lib.display_name, "Respiratory System Question Bank 1");
    assert!(lib.warnings.is_empty(), "{:?}", lib.warnings);
    assert_eq!(lib.root().block_type, "library");
    assert_eq!(
        lib.root().usage_key,
        "lib-block-v1:OpenedX+DemoRespiratoryQuestions+type@library+block@library"
    );
    let problems: Vec<&str> = lib.problems().map(|p| p.url_name.as_str()).collect();
    assert_eq!(problems.len(), 6);
    assert_eq!(problems[0], "dd88975768314dcd91363359d38371a8");
    let p = lib
        .block_by_url_name("problem", "5cd09d2566e8409b8ddcb57b0ff2361f")
        .unwrap();
    assert_eq!(
        p.usage_key,
        "lib-block-v1:OpenedX+DemoRespiratoryQuestions+type@problem+block@5cd09d2566e8409b8ddcb57b0ff2361f"
    );
    assert_eq!(p.html_id, "5cd09d2566e8409b8ddcb57b0ff2361f");
    assert!(
        p.problem_xml
            .as_deref()
            .unwrap()
            .contains("numericalresponse")
    );
}

#[test]
fn fixture_root_with_two_exports_is_ambiguous() {
    let Some(fixture) = common::demo_fixture() else {
        return;
    };
    // The fixture folder holds two exports, each one folder deeper than a
    // single top-level folder; the reader refuses to guess.
    let err = read_course(&CourseSource::path(&fixture)).unwrap_err();
    assert!(
        matches!(err, coursetasks_olx::OlxError::NoCourseRoot { .. }),
        "{err}"
    );
}
