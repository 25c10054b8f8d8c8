//! Malformed exports fail with an error naming the file and line; odd but
//! recoverable ones read with warnings.

mod common;

use common::{files, tiny_course};
use coursetasks_olx::{CourseSource, FileMap, OlxError, WarningKind, read_course};

fn read(map: FileMap) -> Result<coursetasks_olx::Course, OlxError> {
    read_course(&CourseSource::Files(map))
}

fn with(mut map: FileMap, path: &str, text: &str) -> FileMap {
    map.insert(path.to_string(), text.as_bytes().to_vec());
    map
}

/// Asserts the error points at `file:line` and its message says `what`.
fn assert_located(err: &OlxError, file: &str, line: u32, what: &str) {
    let location = err
        .location()
        .unwrap_or_else(|| panic!("no location in {err}"));
    assert_eq!(location.file, file, "{err}");
    assert_eq!(location.line, Some(line), "{err}");
    let text = err.to_string();
    assert!(text.starts_with(&format!("{file}:{line}")), "{text}");
    assert!(text.contains(what), "{text:?} should mention {what:?}");
}

#[test]
fn tiny_course_reads() {
    let course = read(tiny_course()).unwrap();
    assert_eq!(course.key.to_string(), "course-v1:Org+C1+T1");
    assert_eq!(course.display_name, "Tiny course", "policy overrides XML");
    assert!(course.warnings.is_empty(), "{:?}", course.warnings);
    let p = course.problems().next().unwrap();
    assert_eq!(p.usage_key, "block-v1:Org+C1+T1+type@problem+block@p1");
    // Inherited from course, sequential; own weight.
    assert_eq!(p.settings.max_attempts, Some(5));
    assert_eq!(p.settings.start.as_deref(), Some("2030-01-01T00:00:00Z"));
    assert_eq!(p.settings.showanswer.as_deref(), Some("attempted"));
    assert_eq!(p.settings.graded, Some(true));
    assert_eq!(p.settings.format.as_deref(), Some("Homework"));
    assert_eq!(p.settings.weight, Some(2.0));
}

#[test]
fn malformed_problem_xml() {
    let map = with(
        tiny_course(),
        "problem/p1.xml",
        "<problem>\n  <p>unclosed\n</problem>\n",
    );
    let err = read(map).unwrap_err();
    assert!(matches!(err, OlxError::Xml { .. }), "{err}");
    assert_located(&err, "problem/p1.xml", 3, "malformed XML");
}

#[test]
fn malformed_course_xml() {
    let err = read(with(tiny_course(), "course.xml", "<course url_name=\"T1\"")).unwrap_err();
    assert!(matches!(err, OlxError::Xml { .. }), "{err}");
    assert_located(&err, "course.xml", 1, "malformed XML");
}

#[test]
fn missing_pointer_target() {
    let map = with(
        tiny_course(),
        "vertical/v1.xml",
        "<vertical>\n  <problem url_name=\"p1\"/>\n  <problem url_name=\"gone\"/>\n</vertical>",
    );
    let err = read(map).unwrap_err();
    assert!(
        matches!(err, OlxError::MissingPointerTarget { .. }),
        "{err}"
    );
    assert_located(&err, "vertical/v1.xml", 3, "problem/gone.xml");
    assert_eq!(err.location().unwrap().column, Some(3));
}

#[test]
fn missing_course_body() {
    let mut map = tiny_course();
    map.remove("course/T1.xml");
    let err = read(map).unwrap_err();
    assert_located(&err, "course.xml", 1, "course/T1.xml");
}

#[test]
fn malformed_policy_json() {
    let map = with(
        tiny_course(),
        "policies/T1/policy.json",
        "{\n  \"course/T1\": {\n    \"display_name\": \"x\",\n  }\n}",
    );
    let err = read(map).unwrap_err();
    assert!(matches!(err, OlxError::Json { .. }), "{err}");
    assert_located(&err, "policies/T1/policy.json", 4, "malformed JSON");
}

#[test]
fn malformed_grading_policy() {
    let map = with(
        tiny_course(),
        "policies/T1/grading_policy.json",
        "{\"GRADER\": [}",
    );
    let err = read(map).unwrap_err();
    assert_located(&err, "policies/T1/grading_policy.json", 1, "malformed JSON");
}

#[test]
fn policy_entry_must_be_an_object() {
    let map = with(
        tiny_course(),
        "policies/T1/policy.json",
        "{\n  \"course/T1\": {},\n  \"problem/p1\": 3\n}",
    );
    let err = read(map).unwrap_err();
    assert_located(&err, "policies/T1/policy.json", 3, "problem/p1");
}

#[test]
fn pointer_to_file_of_another_type() {
    let map = with(
        tiny_course(),
        "problem/p1.xml",
        "<html display_name=\"x\"/>",
    );
    let err = read(map).unwrap_err();
    assert!(matches!(err, OlxError::Invalid { .. }), "{err}");
    assert_located(&err, "problem/p1.xml", 1, "loaded as <problem>");
    assert!(err.to_string().contains("<html>"), "{err}");
}

#[test]
fn course_xml_without_org() {
    let map = with(
        tiny_course(),
        "course.xml",
        "<course url_name=\"T1\" course=\"C1\"/>",
    );
    let err = read(map).unwrap_err();
    assert_located(&err, "course.xml", 1, "no org attribute");
}

#[test]
fn invalid_url_name() {
    let map = with(
        tiny_course(),
        "vertical/v1.xml",
        "<vertical>\n<problem url_name=\"p 1\"/>\n</vertical>",
    );
    let err = read(map).unwrap_err();
    assert_located(&err, "vertical/v1.xml", 2, "not a valid block id");
}

#[test]
fn non_utf8_file() {
    let mut map = tiny_course();
    map.insert(
        "problem/p1.xml".into(),
        b"<problem>\n<p>caf\xe9</p>\n</problem>".to_vec(),
    );
    let err = read(map).unwrap_err();
    assert_located(&err, "problem/p1.xml", 2, "UTF-8");
}

#[test]
fn no_course_root() {
    let err = read(files(&[("problem/p1.xml", "<problem/>")])).unwrap_err();
    assert!(matches!(err, OlxError::NoCourseRoot { .. }), "{err}");
}

#[test]
fn unsafe_file_map_paths() {
    for bad in ["../course.xml", "/abs/course.xml"] {
        let err = read(with(tiny_course(), bad, "<course/>")).unwrap_err();
        assert!(matches!(err, OlxError::UnsafePath { .. }), "{err}");
    }
}

#[test]
fn unmatched_policy_keys_warn_and_duplicates_keep_the_last() {
    let policy = r#"{
  "course/T1": {"display_name": "Tiny course"},
  "problem/p1": {"max_attempts": 1},
  "videosequence/legacy_name": {"display_name": "old"},
  "problem/p1": {"max_attempts": 7, "weight": 4}
}"#;
    let course = read(with(tiny_course(), "policies/T1/policy.json", policy)).unwrap();
    let p = course.problems().next().unwrap();
    assert_eq!(p.settings.max_attempts, Some(7), "last duplicate key wins");
    assert_eq!(
        p.settings.weight,
        Some(4.0),
        "policy overrides weight=\"2\""
    );
    assert_eq!(course.warnings.len(), 1, "{:?}", course.warnings);
    let w = &course.warnings[0];
    assert_eq!(w.kind, WarningKind::UnmatchedPolicyKey);
    let loc = w.location.as_ref().unwrap();
    assert_eq!(
        (loc.file.as_str(), loc.line),
        ("policies/T1/policy.json", Some(4))
    );
    assert!(w.message.contains("videosequence/legacy_name"));
}

#[test]
fn older_policy_location() {
    let mut map = tiny_course();
    let policy = map.remove("policies/T1/policy.json").unwrap();
    map.insert("policies/T1.json".into(), policy);
    assert_eq!(read(map).unwrap().display_name, "Tiny course");
}

#[test]
fn weight_null_and_weight_not_inherited() {
    let map = with(
        tiny_course(),
        "vertical/v1.xml",
        r#"<vertical weight="9" max_attempts="2"><problem url_name="p1"/><problem url_name="p2"/></vertical>"#,
    );
    let map = with(
        map,
        "problem/p2.xml",
        r#"<problem weight="null" max_attempts="null"/>"#,
    );
    let course = read(map).unwrap();
    let p1 = course.block_by_url_name("problem", "p1").unwrap();
    let p2 = course.block_by_url_name("problem", "p2").unwrap();
    assert_eq!(p1.settings.weight, Some(2.0));
    assert_eq!(
        p1.settings.max_attempts,
        Some(2),
        "vertical overrides course"
    );
    assert_eq!(
        p2.settings.weight, None,
        "weight=\"null\" is unset, not inherited"
    );
    assert_eq!(
        p2.settings.max_attempts, None,
        "explicit null overrides the inherited 2"
    );
    assert_eq!(
        p2.settings.raw.get("max_attempts"),
        Some(&serde_json::Value::Null)
    );
}

#[test]
fn drafts_are_ignored_with_a_warning() {
    let map = with(
        tiny_course(),
        "drafts/problem/p1.xml",
        r#"<problem display_name="draft version"/>"#,
    );
    let map = with(map, "drafts/vertical/v9.xml", "<vertical/>");
    let course = read(map).unwrap();
    let p = course.problems().next().unwrap();
    assert_eq!(p.display_name.as_deref(), Some("P1"));
    assert_eq!(course.warnings.len(), 1);
    assert_eq!(course.warnings[0].kind, WarningKind::DraftsIgnored);
    assert!(course.warnings[0].message.contains("2 file"));
}

#[test]
fn missing_static_assets_are_fine_and_missing_html_bodies_warn() {
    let map = with(
        tiny_course(),
        "vertical/v1.xml",
        r#"<vertical><html url_name="h1"/><html url_name="h2"/><problem url_name="p1"/></vertical>"#,
    );
    let map = with(
        map,
        "html/h1.xml",
        r#"<html filename="h1" display_name="Intro"/>"#,
    );
    let map = with(
        map,
        "html/h1.html",
        r#"<p><img src="/static/missing.png"/></p>"#,
    );
    let map = with(map, "html/h2.xml", r#"<html filename="h2"/>"#);
    let map = with(
        map,
        "problem/p1.xml",
        r#"<problem><p><img src="/static/nowhere.png"/></p><stringresponse answer="x"><textline/></stringresponse></problem>"#,
    );
    let course = read(map).unwrap();
    assert_eq!(course.warnings.len(), 1, "{:?}", course.warnings);
    assert_eq!(course.warnings[0].kind, WarningKind::MissingHtmlBody);
    assert!(course.warnings[0].message.contains("html/h2.html"));
}

#[test]
fn colon_url_names_and_inline_blocks() {
    let map = with(
        tiny_course(),
        "vertical/v1.xml",
        r#"<vertical>
  <html url_name="secret:toylab"/>
  <problem url_name="inline_p" display_name="Inline">
    <stringresponse answer="Paris" type="ci"><textline/></stringresponse>
  </problem>
  <html display_name="no name"><p>hi</p></html>
  <problem url_name="p1"/>
</vertical>"#,
    );
    let map = with(
        map,
        "html/secret/toylab.xml",
        r#"<html filename="secret/toylab"/>"#,
    );
    let map = with(map, "html/secret/toylab.html", "<p>toy</p>");
    let course = read(map).unwrap();
    let html = course.block_by_url_name("html", "secret:toylab").unwrap();
    assert_eq!(
        html.usage_key,
        "block-v1:Org+C1+T1+type@html+block@secret:toylab"
    );
    assert_eq!(html.source.file, "html/secret/toylab.xml");
    assert_eq!(
        html.legacy_usage_key().html_id(),
        "i4x-Org-C1-html-secret_toylab"
    );

    let inline = course.block_by_url_name("problem", "inline_p").unwrap();
    assert_eq!(inline.source.file, "vertical/v1.xml");
    assert_eq!(inline.source.line, Some(3));
    let xml = inline.problem_xml.as_deref().unwrap();
    assert!(xml.starts_with("<problem url_name=\"inline_p\""), "{xml}");
    assert!(xml.ends_with("</problem>"), "{xml}");

    let generated: Vec<_> = course
        .blocks
        .iter()
        .filter(|b| b.block_type == "html" && b.url_name.starts_with("html_"))
        .collect();
    assert_eq!(generated.len(), 1);
    assert_eq!(generated[0].display_name.as_deref(), Some("no name"));
    assert_eq!(course.warnings.len(), 1, "{:?}", course.warnings);
    assert_eq!(course.warnings[0].kind, WarningKind::GeneratedUrlName);
    // Children keep document order.
    let v = course.block_by_url_name("vertical", "v1").unwrap();
    assert_eq!(v.children.len(), 4);
    assert!(v.children[3].ends_with("block@p1"));
}

#[test]
fn everything_inline_in_course_xml() {
    let map = files(&[(
        "course.xml",
        r#"<course url_name="R" org="O" course="C" display_name="Inline course">
  <chapter url_name="c"><sequential url_name="s" graded="true" format="Quiz">
    <vertical url_name="v">
      <problem url_name="p" max_attempts="3"><choiceresponse><checkboxgroup>
        <choice correct="true">a</choice><choice correct="false">b</choice>
      </checkboxgroup></choiceresponse></problem>
      <split_test url_name="ab"><vertical url_name="va"><problem url_name="pa"><optionresponse><optioninput options="('x','y')" correct="x"/></optionresponse></problem></vertical></split_test>
    </vertical>
  </sequential></chapter>
</course>"#,
    )]);
    let course = read(map).unwrap();
    assert_eq!(course.display_name, "Inline course");
    let kinds: Vec<&str> = course
        .blocks
        .iter()
        .map(|b| b.block_type.as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "course",
            "chapter",
            "sequential",
            "vertical",
            "problem",
            "split_test",
            "vertical",
            "problem"
        ]
    );
    let pa = course.block_by_url_name("problem", "pa").unwrap();
    assert_eq!(pa.settings.format.as_deref(), Some("Quiz"));
    assert_eq!(pa.settings.max_attempts, None);
    assert!(pa.problem_xml.as_deref().unwrap().contains("optioninput"));
}

#[test]
fn roots_folder_replaces_course_xml() {
    let mut map = tiny_course();
    let root = map.remove("course.xml").unwrap();
    map.insert("roots/T1.xml".into(), root);
    let course = read(map.clone()).unwrap();
    assert_eq!(course.key.to_string(), "course-v1:Org+C1+T1");

    map.insert(
        "roots/T2.xml".into(),
        b"<course url_name=\"T2\" org=\"Org\" course=\"C1\"/>".to_vec(),
    );
    assert!(matches!(
        read(map).unwrap_err(),
        OlxError::NoCourseRoot { .. }
    ));
}

#[test]
fn duplicates_cycles_and_orphans_warn() {
    let map = with(
        tiny_course(),
        "vertical/v1.xml",
        r#"<vertical><problem url_name="p1"/><problem url_name="p1"/><vertical url_name="v2"/></vertical>"#,
    );
    // v2 points back to v1: a cycle, read once.
    let map = with(
        map,
        "vertical/v2.xml",
        r#"<vertical><vertical url_name="v1"/></vertical>"#,
    );
    let map = with(map, "problem/unused.xml", "<problem/>");
    let course = read(map).unwrap();
    assert_eq!(course.problems().count(), 1);
    let kinds: Vec<WarningKind> = course.warnings.iter().map(|w| w.kind).collect();
    assert_eq!(
        kinds,
        [
            WarningKind::DuplicateBlock,
            WarningKind::DuplicateBlock,
            WarningKind::OrphanFile
        ]
    );
    assert_eq!(
        course.warnings[2].location.as_ref().unwrap().file,
        "problem/unused.xml"
    );
}

#[test]
fn unreadable_setting_warns() {
    let map = with(
        tiny_course(),
        "problem/p1.xml",
        r#"<problem weight="heavy"/>"#,
    );
    let course = read(map).unwrap();
    assert_eq!(course.problems().next().unwrap().settings.weight, None);
    assert_eq!(course.warnings[0].kind, WarningKind::InvalidSetting);
    assert_eq!(
        course.warnings[0].location.as_ref().unwrap().file,
        "problem/p1.xml"
    );
}
