//! The project's own sample course (`sample-course/` at the repository root)
//! reads cleanly, the same way from a folder, a file map and a `.tar.gz`.

use std::path::PathBuf;

use coursetasks_olx::{
    CourseSource, FileMap, parse_usage_key, parse_usage_key_in_course, read_course,
};

fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sample-course")
}

fn file_map(root: &std::path::Path) -> FileMap {
    let mut map = FileMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .replace('\\', "/");
                map.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    map
}

#[test]
fn sample_course_reads_cleanly() {
    let course = read_course(&CourseSource::path(sample_dir())).unwrap();
    assert_eq!(course.key.to_string(), "course-v1:CourseTasks+CT101+2026");
    assert_eq!(
        course.display_name,
        "Measuring Things: a coursetasks sample course"
    );
    assert!(course.warnings.is_empty(), "{:?}", course.warnings);
    let problems: Vec<&str> = course.problems().map(|p| p.url_name.as_str()).collect();
    assert_eq!(
        problems,
        [
            "units_mc",
            "si_prefix_checkbox",
            "instrument_dropdown",
            "free_fall_numerical",
            "circle_area",
            "force_unit_string",
            "kinetic_energy_formula",
            "pendulum_custom"
        ]
    );
    for p in course.problems() {
        assert_eq!(
            p.settings.max_attempts,
            Some(3),
            "{} inherits from policy",
            p.url_name
        );
        assert!(p.problem_xml.as_deref().unwrap().starts_with("<problem"));
    }
    let ke = course
        .block_by_url_name("problem", "kinetic_energy_formula")
        .unwrap();
    assert_eq!(ke.settings.weight, Some(2.0));
    assert_eq!(ke.settings.format.as_deref(), Some("Exam"));
    assert_eq!(ke.settings.due.as_deref(), Some("2026-03-01T23:59:00Z"));
    let custom = course
        .block_by_url_name("problem", "pendulum_custom")
        .unwrap();
    assert_eq!(custom.settings.graded, None);
    let area = course.block_by_url_name("problem", "circle_area").unwrap();
    assert!(
        area.problem_xml
            .as_deref()
            .unwrap()
            .contains("answer=\"3.41\"")
    );
}

#[test]
fn sample_course_is_the_same_from_every_source() {
    let from_folder = read_course(&CourseSource::path(sample_dir())).unwrap();
    let from_map = read_course(&CourseSource::Files(file_map(&sample_dir()))).unwrap();
    assert_eq!(from_map, from_folder);

    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("sample.tar.gz");
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&archive).unwrap(),
        flate2::Compression::default(),
    );
    let mut builder = tar::Builder::new(gz);
    builder
        .append_dir_all("sample-course", sample_dir())
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap();
    let from_archive = read_course(&CourseSource::path(&archive)).unwrap();
    assert_eq!(from_archive, from_folder);
}

#[test]
fn sample_keys_round_trip() {
    let course = read_course(&CourseSource::path(sample_dir())).unwrap();
    for block in &course.blocks {
        let key = parse_usage_key(&block.usage_key).unwrap();
        assert_eq!(key.to_string(), block.usage_key);
        let legacy = parse_usage_key_in_course(&block.legacy_key, &course.key).unwrap();
        assert_eq!(legacy.block_v1_string(), block.usage_key);
        assert_eq!(legacy.to_string(), block.legacy_key);
        assert_eq!(
            legacy.html_id(),
            format!(
                "i4x-CourseTasks-CT101-{}-{}",
                block.block_type, block.url_name
            )
        );
    }
}

#[test]
fn the_fix_is_the_same_problem_with_the_right_answer() {
    let fixed =
        std::fs::read_to_string(sample_dir().join("fixes/problem/circle_area.xml")).unwrap();
    let course = read_course(&CourseSource::path(sample_dir())).unwrap();
    let wrong = course
        .block_by_url_name("problem", "circle_area")
        .unwrap()
        .problem_xml
        .clone()
        .unwrap();
    assert_eq!(
        fixed
            .trim()
            .replace("answer=\"3.14159\"", "answer=\"3.41\""),
        wrong.trim(),
        "the fix changes nothing but the answer"
    );
    assert_ne!(
        coursetasks_olx::content_hash(&fixed),
        coursetasks_olx::content_hash(&wrong)
    );
}
