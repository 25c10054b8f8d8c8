//! Learner data files in and out of the store: byte-identical export → import → export, bad rows
//! reported with row and reason while good rows load, `strict` writing nothing, idempotent
//! re-imports, and module ids and key forms kept.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use coursetasks_engine::{
    DataImportReport, ImportOptions, OpenInput, export_learners, export_state, import_course,
    import_learners, import_state, open_file,
};
use coursetasks_exchange::{Format, LearnerRow, ModuleRow, RowWriter};
use coursetasks_sample::{LearnerGenerator, SAMPLE_COURSE_KEY, sample_course};
use coursetasks_store::{ModuleScope, Store};

async fn store_with_course(dir: &Path, name: &str) -> Store {
    let store = Store::open(dir.join(name).to_str().unwrap()).await.unwrap();
    import_course(&store, &sample_course()).await.unwrap();
    store
}

/// Learners and state files for `n` synthetic learners (module ids from 7001, in steps of 3 so
/// that they are not the ids the store would pick).
fn write_files(dir: &Path, n: u64, format: Format) -> (PathBuf, PathBuf, u64) {
    let ext = if format == Format::Csv {
        "csv"
    } else {
        "jsonl"
    };
    let learners_path = dir.join(format!("auth_user.{ext}"));
    let state_path = dir.join(format!("studentmodule.{ext}"));
    let mut learners = RowWriter::<LearnerRow, _>::new(Vec::new(), format).unwrap();
    let mut state = RowWriter::<ModuleRow, _>::new(Vec::new(), format).unwrap();
    let course = sample_course();
    let mut next_id = 7001;
    let mut rows = 0;
    for generated in LearnerGenerator::new(&course, n, 7).unwrap() {
        let (id, username, email) = generated.learner;
        learners
            .write(&LearnerRow {
                id,
                username,
                email,
            })
            .unwrap();
        for (i, m) in generated.modules.into_iter().enumerate() {
            // Every third learner's first module uses the old i4x:// key form, as old courses do.
            let module_id = if id % 3 == 0 && i == 0 {
                course.block(&m.usage_key).unwrap().legacy_key.clone()
            } else {
                m.usage_key
            };
            let created = Utc
                .timestamp_micros(1_700_000_000_000_000 + id * 1_000_003)
                .unwrap();
            state
                .write(&ModuleRow {
                    id: Some(next_id),
                    module_type: m.module_type.to_owned(),
                    course_id: if module_id.starts_with("i4x://") {
                        "CourseTasks/CT101/2026".to_owned()
                    } else {
                        SAMPLE_COURSE_KEY.to_owned()
                    },
                    module_id,
                    student_id: id,
                    state: Some(m.state),
                    grade: m.grade,
                    max_grade: m.max_grade,
                    done: "na".to_owned(),
                    created: Some(created),
                    modified: Some(created + chrono::Duration::seconds(90)),
                })
                .unwrap();
            next_id += 3;
            rows += 1;
        }
    }
    std::fs::write(&learners_path, learners.finish().unwrap()).unwrap();
    std::fs::write(&state_path, state.finish().unwrap()).unwrap();
    (learners_path, state_path, rows)
}

fn options(format: Format) -> ImportOptions {
    // Small batches, so that tests cross batch boundaries.
    ImportOptions {
        batch_rows: 7,
        ..ImportOptions::new(format)
    }
}

async fn export_to_vec(store: &Store, format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    export_state(store, SAMPLE_COURSE_KEY, None, format, &mut out)
        .await
        .unwrap();
    out
}

fn clean(report: &DataImportReport) {
    assert_eq!(report.bad_rows, 0, "{:#?}", report.first_bad_rows);
    assert!(!report.aborted);
}

#[tokio::test]
async fn state_export_import_export_is_byte_identical() {
    for format in [Format::Csv, Format::JsonLines] {
        let dir = tempfile::tempdir().unwrap();
        let (learners, state, rows) = write_files(dir.path(), 40, format);
        let first = store_with_course(dir.path(), "first.db").await;
        let report = import_learners(&first, &open_file(&learners), options(format))
            .await
            .unwrap();
        clean(&report);
        assert_eq!((report.rows, report.written), (40, 40));
        let report = import_state(&first, &open_file(&state), options(format))
            .await
            .unwrap();
        clean(&report);
        assert_eq!((report.rows, report.written), (rows, rows));

        // The export reproduces the imported file exactly: ids, key forms, times, grades.
        let exported = export_to_vec(&first, format).await;
        assert_eq!(
            String::from_utf8(exported.clone()).unwrap(),
            std::fs::read_to_string(&state).unwrap()
        );

        // Into a fresh database, from the exports, and out again: identical bytes.
        let second = store_with_course(dir.path(), "second.db").await;
        let mut learners_out = Vec::new();
        assert_eq!(
            export_learners(&first, format, &mut learners_out)
                .await
                .unwrap(),
            40
        );
        assert_eq!(learners_out, std::fs::read(&learners).unwrap());
        let learners_file = dir.path().join("learners-export");
        std::fs::write(&learners_file, &learners_out).unwrap();
        let state_file = dir.path().join("state-export");
        std::fs::write(&state_file, &exported).unwrap();
        clean(
            &import_learners(&second, &open_file(&learners_file), options(format))
                .await
                .unwrap(),
        );
        clean(
            &import_state(&second, &open_file(&state_file), options(format))
                .await
                .unwrap(),
        );
        assert_eq!(export_to_vec(&second, format).await, exported, "{format:?}");

        // Re-importing changes nothing.
        let again = import_state(&second, &open_file(&state_file), options(format))
            .await
            .unwrap();
        clean(&again);
        assert_eq!(again.written, rows);
        assert_eq!(export_to_vec(&second, format).await, exported);
    }
}

#[tokio::test]
async fn export_of_one_problem_and_unknown_names() {
    let dir = tempfile::tempdir().unwrap();
    let (learners, state, _) = write_files(dir.path(), 12, Format::Csv);
    let store = store_with_course(dir.path(), "db").await;
    import_learners(&store, &open_file(&learners), options(Format::Csv))
        .await
        .unwrap();
    import_state(&store, &open_file(&state), options(Format::Csv))
        .await
        .unwrap();
    let problem = coursetasks_sample::WRONG_KEY_PROBLEM;
    let mut out = Vec::new();
    let n = export_state(
        &store,
        SAMPLE_COURSE_KEY,
        Some(problem),
        Format::Csv,
        &mut out,
    )
    .await
    .unwrap();
    let scope = ModuleScope {
        course_key: SAMPLE_COURSE_KEY.into(),
        usage_keys: vec![problem.into()],
        learner_id: None,
        until_id: None,
    };
    assert_eq!(n, store.count_modules(&scope).await.unwrap());
    assert!(n > 0);
    let text = String::from_utf8(out).unwrap();
    let name = problem.rsplit('@').next().unwrap();
    assert!(text.lines().skip(1).all(|l| l.contains(name)), "{text}");

    let err = export_state(
        &store,
        "course-v1:No+Such+Course",
        None,
        Format::Csv,
        Vec::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no course course-v1:No+Such+Course in this database"
    );
    let err = export_state(
        &store,
        SAMPLE_COURSE_KEY,
        Some("block-v1:X+Y+Z+type@problem+block@nope"),
        Format::Csv,
        Vec::new(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("no block"), "{err}");
}

fn text_opener(text: String) -> OpenInput {
    std::sync::Arc::new(move || {
        Ok(Box::new(std::io::Cursor::new(text.clone().into_bytes()))
            as Box<dyn std::io::BufRead + Send>)
    })
}

const HEADER: &str =
    "id,module_type,module_id,student_id,state,grade,max_grade,done,created,modified,course_id";

fn problem_key(name: &str) -> String {
    format!("block-v1:CourseTasks+CT101+2026+type@problem+block@{name}")
}

#[tokio::test]
async fn bad_state_rows_are_reported_and_good_rows_load() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_course(dir.path(), "db").await;
    let learners = "id,username,email\n1,ann,ann@example.com\n2,bob,bob@example.com\n";
    clean(
        &import_learners(&store, &text_opener(learners.into()), options(Format::Csv))
            .await
            .unwrap(),
    );
    let p = problem_key("circle_area");
    let c = SAMPLE_COURSE_KEY;
    let mut text = format!("{HEADER}\n");
    let lines = [
        format!("101,problem,{p},1,\"{{\"\"attempts\"\": 1}}\",1,1,na,,,{c}"), // 1 good
        format!("102,problem,{p},99,,,,na,,,{c}"),                             // 2 unknown learner
        format!("103,problem,{p},2,,,,na,,,course-v1:No+Such+Run"),            // 3 unknown course
        format!("104,problem,{},2,,,,na,,,{c}", problem_key("nope")),          // 4 unknown block
        format!("105,html,{p},2,,,,na,,,{c}"),                                 // 5 type mismatch
        format!("106,problem,{p},2,,2,1,na,,,{c}"),                            // 6 grade > max
        format!("107,problem,{p},2,,one,1,na,,,{c}"),                          // 7 not a number
        format!(
            "101,problem,{},2,{{broken,0,1,na,,,{c}",
            problem_key("units_mc")
        ), // 8 id taken
        format!(
            "108,problem,{},2,not json at all,0,1,na,,,{c}",
            problem_key("units_mc")
        ), // 9 good: bad JSON state is Open edX data
    ];
    for l in &lines {
        text.push_str(l);
        text.push('\n');
    }
    let strict = ImportOptions {
        strict: true,
        ..options(Format::Csv)
    };
    let report = import_state(&store, &text_opener(text.clone()), strict)
        .await
        .unwrap();
    assert!(report.aborted);
    // Row 8's id is only taken by row 1 of the same file, which the read-only pass cannot see.
    assert_eq!(
        (report.rows, report.written, report.bad_rows),
        (9, 0, 6),
        "{:#?}",
        report.first_bad_rows
    );
    let scope = ModuleScope {
        course_key: c.into(),
        usage_keys: vec![],
        learner_id: None,
        until_id: None,
    };
    assert_eq!(
        store.count_modules(&scope).await.unwrap(),
        0,
        "--strict writes nothing"
    );

    let report = import_state(&store, &text_opener(text.clone()), options(Format::Csv))
        .await
        .unwrap();
    assert!(!report.aborted);
    assert_eq!((report.rows, report.written, report.bad_rows), (9, 2, 7));
    let got: Vec<(u64, u64, Option<&str>)> = report
        .first_bad_rows
        .iter()
        .map(|b| (b.row, b.line, b.column.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, 3, Some("student_id")),
            (3, 4, Some("course_id")),
            (4, 5, Some("module_id")),
            (5, 6, Some("module_type")),
            (6, 7, Some("grade")),
            (7, 8, Some("grade")),
            (8, 9, Some("id")),
        ]
    );
    let reasons: Vec<String> = report
        .first_bad_rows
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        reasons[0],
        "row 2 (line 3), column student_id: no learner with id 99 (import the learners first)"
    );
    assert!(
        reasons[1].contains("no course \"course-v1:No+Such+Run\""),
        "{}",
        reasons[1]
    );
    assert!(
        reasons[6].contains("module id 101 already holds learner 1's state"),
        "{}",
        reasons[6]
    );
    assert_eq!(store.count_modules(&scope).await.unwrap(), 2);
    let kept = store
        .get_module(2, c, &problem_key("units_mc"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (kept.id, kept.state.as_deref()),
        (108, Some("not json at all"))
    );

    // Only the first N bad rows are kept in full; all are counted.
    let few = ImportOptions {
        keep_bad_rows: 3,
        ..options(Format::Csv)
    };
    let report = import_state(&store, &text_opener(text), few).await.unwrap();
    assert_eq!((report.bad_rows, report.first_bad_rows.len()), (7, 3));
    assert_eq!(
        report
            .first_bad_rows
            .iter()
            .map(|b| b.row)
            .collect::<Vec<_>>(),
        vec![2, 3, 4]
    );
}

#[tokio::test]
async fn bad_learner_rows_and_clashes() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_course(dir.path(), "db").await;
    clean(
        &import_learners(
            &store,
            &text_opener("id,username,email\n1,ann,ann@example.com\n".into()),
            options(Format::Csv),
        )
        .await
        .unwrap(),
    );
    let text = "{\"id\": 2, \"username\": \"bob\", \"email\": \"bob@example.com\"}\n\
                {\"id\": 3, \"username\": \"ann\", \"email\": \"ann2@example.com\"}\n\
                {\"id\": \"x\", \"username\": \"cy\", \"email\": \"cy@example.com\"}\n\
                {\"id\": 4, \"username\": \"dee\", \"email\": \"bob@example.com\"}\n\
                {\"id\": 5, \"username\": \"eve\", \"email\": \"eve@example.com\"}\n\
                {\"id\": 1, \"username\": \"ann\", \"email\": \"ann@new.example.com\"}\n";
    let strict = ImportOptions {
        strict: true,
        ..options(Format::JsonLines)
    };
    let report = import_learners(&store, &text_opener(text.into()), strict)
        .await
        .unwrap();
    assert!(report.aborted);
    // Row 4 clashes with row 1 of the same file, which a read-only pass cannot see.
    assert_eq!(
        report
            .first_bad_rows
            .iter()
            .map(|b| b.row)
            .collect::<Vec<_>>(),
        vec![2, 3]
    );
    assert_eq!(
        store.count_learners().await.unwrap(),
        1,
        "--strict writes nothing"
    );

    let report = import_learners(
        &store,
        &text_opener(text.into()),
        options(Format::JsonLines),
    )
    .await
    .unwrap();
    let got: Vec<(u64, Option<&str>)> = report
        .first_bad_rows
        .iter()
        .map(|b| (b.row, b.column.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, Some("username")),
            (3, Some("id")),
            (4, Some("username"))
        ]
    );
    assert!(
        report.first_bad_rows[0]
            .reason
            .contains("\"ann\" belongs to learner 1"),
        "{:?}",
        report.first_bad_rows[0]
    );
    assert!(
        report.first_bad_rows[2]
            .reason
            .contains("refused by the store"),
        "{:?}",
        report.first_bad_rows[2]
    );
    assert_eq!((report.rows, report.written), (6, 3));
    assert_eq!(store.count_learners().await.unwrap(), 3);
    assert_eq!(
        store.get_learner(1).await.unwrap().unwrap().email,
        "ann@new.example.com"
    );

    // A missing file and a wrong header are errors of the whole import.
    let missing = import_learners(
        &store,
        &open_file(dir.path().join("none.csv")),
        options(Format::Csv),
    )
    .await
    .unwrap_err();
    assert!(missing.to_string().contains("none.csv"), "{missing}");
    let wrong = import_learners(
        &store,
        &text_opener("user,mail\n".into()),
        options(Format::Csv),
    )
    .await
    .unwrap_err();
    assert!(
        wrong.to_string().contains("lacks id, username, email"),
        "{wrong}"
    );
}

#[tokio::test]
async fn gzip_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_course(dir.path(), "db").await;
    let path = dir.path().join("users.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(b"id,username,email\n1,ann,ann@example.com\n")
        .unwrap();
    gz.finish().unwrap();
    let format = coursetasks_engine::detect_format(&path, None, &open_file(&path)).unwrap();
    assert_eq!(format, Format::Csv);
    let report = import_learners(&store, &open_file(&path), options(format))
        .await
        .unwrap();
    assert_eq!(report.written, 1);
}
