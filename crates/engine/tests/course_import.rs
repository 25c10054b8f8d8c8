//! Importing OLX courses into the store: the Open edX demo course against the inventory in
//! `shared/docs/olx-and-peers.md` §3.1, re-imports that version only changed problems, and bad
//! input that stores nothing.

use std::path::PathBuf;

use coursetasks_engine::import_course;
use coursetasks_olx::{CourseSource, FileMap, read_course};
use coursetasks_store::Store;

fn demo_course_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/openedx-demo-course/demo-course/course");
    if dir.join("course.xml").exists() {
        Some(dir)
    } else {
        println!("SKIP: the Open edX demo course is not at {}", dir.display());
        None
    }
}

async fn fresh() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("t.db").to_str().unwrap())
        .await
        .unwrap();
    (store, dir)
}

const DEMO: &str = "course-v1:OpenedX+DemoX+DemoCourse";

fn demo_key(block: &str) -> String {
    format!("block-v1:OpenedX+DemoX+DemoCourse+type@problem+block@{block}")
}

#[tokio::test]
async fn demo_course_matches_the_inventory() {
    let Some(dir) = demo_course_dir() else { return };
    let (store, _tmp) = fresh().await;
    let course = read_course(&CourseSource::path(&dir)).unwrap();
    let import = import_course(&store, &course).await.unwrap();
    assert_eq!(import.course_key, DEMO);
    assert_eq!(import.problems.len(), 29);
    let counts: Vec<(&str, usize)> = import
        .response_type_counts
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        counts,
        vec![
            ("annotationresponse", 1),
            ("choiceresponse", 2),
            ("customresponse", 4),
            ("formularesponse", 1),
            ("imageresponse", 1),
            ("multiplechoiceresponse", 9),
            ("numericalresponse", 4),
            ("optionresponse", 2),
            ("schematicresponse", 1),
            ("stringresponse", 4),
        ]
    );
    // Every problem is new: one version each, all reported as changed.
    assert_eq!(import.report.versions_created, 29);
    assert_eq!(import.changed_problems.len(), 29);
    assert_eq!(
        import
            .problems
            .iter()
            .filter(|p| p.not_rescorable.is_none())
            .count(),
        22
    );
    assert!(
        import
            .changed_problems
            .iter()
            .all(|c| c.previous_version.is_none() && c.version == 1)
    );

    // Rescorability: the 22 purely declarative problems can be rescored; the six graded by
    // Python, and the one whose script grading does not use (capa still runs every script when
    // the problem loads), are refused with a reason naming the element.
    let python = [
        "eb57b81093d048df975c957d005b1f74",
        "720cac326b684155b4845d32af4aeef0",
        "53083a812536472ba8ea8182ee354363",
        "58f6371c54254596ac91699557af449c",
        "7c95e593b148415e97ac02811c7daf1b",
        "dc37b89aade5444fbb1ecdaa0d22d180",
        "0d127d7942ec4be7a464eabafb286d02",
    ];
    for p in &import.problems {
        let id = p.usage_key.rsplit('@').next().unwrap();
        if python.contains(&id) {
            let reason = p
                .not_rescorable
                .as_deref()
                .unwrap_or_else(|| panic!("{id} must not be rescorable"));
            assert!(
                [
                    "<customresponse",
                    "<schematicresponse",
                    "<script",
                    "<answer"
                ]
                .iter()
                .any(|w| reason.contains(w)),
                "{id}: {reason}"
            );
        } else {
            assert_eq!(p.not_rescorable, None, "{id} should be rescorable");
        }
    }
    let by_key = |k: &str| {
        import
            .problems
            .iter()
            .find(|p| p.usage_key == demo_key(k))
            .unwrap()
    };
    let dropdown = by_key("85f3f7f9b72548af880975112f27817c");
    assert_eq!(dropdown.response_types, vec!["optionresponse"; 8]);
    assert_eq!(dropdown.max_score, Some(8.0));
    assert_eq!(by_key("720cac326b684155b4845d32af4aeef0").weight, Some(1.0));
    assert_eq!(
        by_key("ced178178f4440e08f15a408ea14cbf1").response_types,
        vec!["formularesponse"; 2]
    );

    // Stored blocks answer to both key forms; html ids give the documented input ids.
    let block = store
        .get_block("i4x://OpenedX/DemoX/problem/53083a812536472ba8ea8182ee354363")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        block.usage_key,
        demo_key("53083a812536472ba8ea8182ee354363")
    );
    let library_copy = course.block(&demo_key("0895f1b6c0b329e50b90")).unwrap();
    assert_eq!(library_copy.html_id, "0895f1b6c0b329e50b90");
    let xml = store
        .current_problem_version(&demo_key("ced178178f4440e08f15a408ea14cbf1"))
        .await
        .unwrap()
        .unwrap();
    let compiled =
        coursetasks_capa::Problem::compile(&xml.xml, "ced178178f4440e08f15a408ea14cbf1").unwrap();
    let ids: Vec<&str> = compiled.inputs().iter().map(|i| i.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "ced178178f4440e08f15a408ea14cbf1_2_1",
            "ced178178f4440e08f15a408ea14cbf1_3_1"
        ]
    );
    let custom = store
        .current_problem_version(&demo_key("53083a812536472ba8ea8182ee354363"))
        .await
        .unwrap()
        .unwrap();
    let compiled =
        coursetasks_capa::Problem::compile(&custom.xml, "53083a812536472ba8ea8182ee354363")
            .unwrap();
    let ids: Vec<&str> = compiled.inputs().iter().map(|i| i.id.as_str()).collect();
    assert_eq!(
        ids,
        (1..=4)
            .map(|j| format!("53083a812536472ba8ea8182ee354363_2_{j}"))
            .collect::<Vec<_>>()
    );

    // Importing the same course again changes nothing.
    let again = import_course(&store, &course).await.unwrap();
    assert_eq!(
        (
            again.report.versions_created,
            again.report.versions_unchanged
        ),
        (0, 29)
    );
    assert!(again.changed_problems.is_empty());
}

fn sample_files() -> FileMap {
    coursetasks_sample::sample_course_files()
}

#[tokio::test]
async fn reimport_versions_only_the_changed_problem_and_keeps_old_versions() {
    let (store, _tmp) = fresh().await;
    let course = read_course(&CourseSource::Files(sample_files())).unwrap();
    let first = import_course(&store, &course).await.unwrap();
    let problems = first.problems.len();
    assert_eq!(first.changed_problems.len(), problems);

    let (fixed_key, fixed_xml) = coursetasks_sample::answer_key_fix();
    let name = fixed_key.rsplit('@').next().unwrap();
    let mut files = sample_files();
    files.insert(
        format!("problem/{name}.xml"),
        fixed_xml.clone().into_bytes(),
    );
    let changed = read_course(&CourseSource::Files(files)).unwrap();
    let second = import_course(&store, &changed).await.unwrap();
    assert_eq!(
        second.changed_problems.len(),
        1,
        "{:?}",
        second.changed_problems
    );
    let change = &second.changed_problems[0];
    assert_eq!(
        (
            change.usage_key.as_str(),
            change.previous_version,
            change.version
        ),
        (fixed_key.as_str(), Some(1), 2)
    );
    assert_eq!(
        (
            second.report.versions_created,
            second.report.versions_unchanged
        ),
        (1, problems as u64 - 1)
    );

    let versions = store.list_problem_versions(&fixed_key).await.unwrap();
    assert_eq!(versions.len(), 2);
    let old = store.problem_version(&fixed_key, 1).await.unwrap().unwrap();
    assert_ne!(
        old.xml.trim_end(),
        fixed_xml.trim_end(),
        "version 1 is still the original XML"
    );
    let current = store
        .current_problem_version(&fixed_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.xml.trim_end(), fixed_xml.trim_end());
}

#[tokio::test]
async fn sample_course_round_trips_through_the_store() {
    let (store, _tmp) = fresh().await;
    let course = coursetasks_sample::sample_course();
    let import = import_course(&store, &course).await.unwrap();
    let stored = store.list_blocks(&import.course_key).await.unwrap();
    let mut stored_keys: Vec<&str> = stored.iter().map(|b| b.usage_key.as_str()).collect();
    let mut read_keys: Vec<&str> = course.blocks.iter().map(|b| b.usage_key.as_str()).collect();
    stored_keys.sort();
    read_keys.sort();
    assert_eq!(stored_keys, read_keys);
    for block in &course.blocks {
        let b = stored
            .iter()
            .find(|s| s.usage_key == block.usage_key)
            .unwrap();
        assert_eq!(b.parent_key, block.parent);
        assert_eq!(b.legacy_key.as_deref(), Some(block.legacy_key.as_str()));
        if let Some(xml) = &block.problem_xml {
            let v = store
                .current_problem_version(&block.usage_key)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&v.xml, xml);
        }
    }
}
