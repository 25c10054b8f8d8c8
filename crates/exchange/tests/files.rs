//! Reading and writing whole files: byte-stable round trips (also as a property), every kind of
//! bad row with its row, line and column, and fatal header errors.

use chrono::{DateTime, TimeZone, Utc};
use coursetasks_exchange::{
    FileError, Format, LearnerRow, ModuleRow, RowError, RowReader, RowWriter, Table,
};
use proptest::prelude::*;

fn read_all<T: Table>(text: &str, format: Format) -> Vec<Result<T, RowError>> {
    RowReader::<T, _>::new(text.as_bytes(), format)
        .expect("header")
        .map(|item| item.expect("no I/O error").map(|r| r.value))
        .collect()
}

fn write_all<T: Table>(rows: &[T], format: Format) -> String {
    let mut w = RowWriter::<T, _>::new(Vec::new(), format).unwrap();
    for r in rows {
        w.write(r).unwrap();
    }
    String::from_utf8(w.finish().unwrap()).unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    coursetasks_exchange::parse_timestamp(s).unwrap()
}

fn sample_module(id: i64, state: Option<&str>) -> ModuleRow {
    ModuleRow {
        id: Some(id),
        module_type: "problem".into(),
        module_id: "block-v1:OpenedX+DemoX+DemoCourse+type@problem+block@p1".into(),
        student_id: 10 + id,
        state: state.map(str::to_owned),
        grade: Some(1.0),
        max_grade: Some(3.0),
        done: "na".into(),
        created: Some(at("2024-03-01 12:00:00.000001")),
        modified: Some(at("2024-03-02T08:30:00Z")),
        course_id: "course-v1:OpenedX+DemoX+DemoCourse".into(),
    }
}

const HEADER: &str =
    "id,module_type,module_id,student_id,state,grade,max_grade,done,created,modified,course_id";

#[test]
fn module_csv_has_the_documented_text() {
    let mut nulls = sample_module(2, None);
    nulls.grade = None;
    nulls.max_grade = None;
    nulls.id = None;
    let rows = vec![
        sample_module(1, Some(r#"{"attempts": 1, "seed": 3}"#)),
        nulls,
        sample_module(3, Some("")),
    ];
    let text = write_all(&rows, Format::Csv);
    let expected = format!(
        "{HEADER}\n\
         1,problem,block-v1:OpenedX+DemoX+DemoCourse+type@problem+block@p1,11,\"{{\"\"attempts\"\": 1, \"\"seed\"\": 3}}\",1,3,na,2024-03-01 12:00:00.000001,2024-03-02 08:30:00.000000,course-v1:OpenedX+DemoX+DemoCourse\n\
         ,problem,block-v1:OpenedX+DemoX+DemoCourse+type@problem+block@p1,12,,,,na,2024-03-01 12:00:00.000001,2024-03-02 08:30:00.000000,course-v1:OpenedX+DemoX+DemoCourse\n\
         3,problem,block-v1:OpenedX+DemoX+DemoCourse+type@problem+block@p1,13,\"\",1,3,na,2024-03-01 12:00:00.000001,2024-03-02 08:30:00.000000,course-v1:OpenedX+DemoX+DemoCourse\n"
    );
    assert_eq!(text, expected);
    let back: Vec<ModuleRow> = read_all(&text, Format::Csv)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(back, rows, "NULL state and empty state stay apart");
}

#[test]
fn module_json_lines_have_the_documented_text() {
    let rows = vec![
        sample_module(1, Some("{\"a\": \"x\\ny\"}")),
        sample_module(2, None),
    ];
    let text = write_all(&rows, Format::JsonLines);
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        r#"{"id":1,"module_type":"problem","module_id":"block-v1:OpenedX+DemoX+DemoCourse+type@problem+block@p1","student_id":11,"state":"{\"a\": \"x\\ny\"}","grade":1,"max_grade":3,"done":"na","created":"2024-03-01 12:00:00.000001","modified":"2024-03-02 08:30:00.000000","course_id":"course-v1:OpenedX+DemoX+DemoCourse"}"#
    );
    assert!(text.lines().nth(1).unwrap().contains(r#""state":null"#));
    let back: Vec<ModuleRow> = read_all(&text, Format::JsonLines)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(back, rows);
}

#[test]
fn learners_round_trip_in_both_formats() {
    let rows = vec![
        LearnerRow {
            id: 1,
            username: "ann".into(),
            email: "ann@example.com".into(),
        },
        LearnerRow {
            id: 22,
            username: "o'brien, jr".into(),
            email: "ob@example.com".into(),
        },
    ];
    for format in [Format::Csv, Format::JsonLines] {
        let text = write_all(&rows, format);
        let back: Vec<LearnerRow> = read_all(&text, format)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(back, rows);
        assert_eq!(write_all(&back, format), text);
    }
    assert_eq!(
        write_all(&rows, Format::Csv),
        "id,username,email\n1,ann,ann@example.com\n22,\"o'brien, jr\",ob@example.com\n"
    );
}

#[test]
fn open_edx_exports_with_extra_columns_and_other_orders_are_read() {
    let text = "username,id,password,email,is_staff\r\nann,5,pbkdf2$x,ann@example.com,0\r\n";
    let rows: Vec<LearnerRow> = read_all(text, Format::Csv)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        vec![LearnerRow {
            id: 5,
            username: "ann".into(),
            email: "ann@example.com".into()
        }]
    );
    // Optional module columns may be left out: done defaults to `na`, times to none.
    let text = "module_id,module_type,student_id,course_id,grade,max_grade\nblock-v1:O+C+R+type@problem+block@p,problem,3,course-v1:O+C+R,NULL,\\N\n";
    let rows: Vec<ModuleRow> = read_all(text, Format::Csv)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows[0].done, "na");
    assert_eq!(
        (
            rows[0].id,
            rows[0].grade,
            rows[0].max_grade,
            rows[0].created
        ),
        (None, None, None, None)
    );
}

#[test]
fn every_bad_row_is_reported_with_row_line_and_column_and_reading_goes_on() {
    let good = "7,problem,block-v1:O+C+R+type@problem+block@p,3,\"{}\",1,2,na,2024-03-01 12:00:00,2024-03-01 12:00:00,course-v1:O+C+R";
    let text = format!(
        "{HEADER}\n{good}\n\
         8,problem,block-v1:O+C+R+type@problem+block@p,x3,,1,2,na,,,course-v1:O+C+R\n\
         9,problem,block-v1:O+C+R+type@problem+block@p,3,,abc,2,na,,,course-v1:O+C+R\n\
         10,problem,block-v1:O+C+R+type@problem+block@p,3,,3,2,na,,,course-v1:O+C+R\n\
         11,problem,block-v1:O+C+R+type@problem+block@p,3,,1,2,na,not a time,,course-v1:O+C+R\n\
         12,problem,,3,,1,2,na,,,course-v1:O+C+R\n\
         13,problem,block-v1:O+C+R+type@problem+block@p,3\n\
         14,problem,b\"ad,3,,1,2,na,,,course-v1:O+C+R\n\
         15,problem,block-v1:O+C+R+type@problem+block@p,3,{{not json}},1,2,na,,,course-v1:O+C+R\n\
         {good}\n"
    );
    let results = RowReader::<ModuleRow, _>::new(text.as_bytes(), Format::Csv)
        .unwrap()
        .map(|r| r.unwrap())
        .collect::<Vec<_>>();
    let errors: Vec<(u64, u64, Option<String>, String)> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|e| (e.row, e.line, e.column.clone(), e.reason.clone()))
        .collect();
    let col = |c: &str| Some(c.to_owned());
    assert_eq!(errors.len(), 7, "{errors:#?}");
    assert_eq!(
        (errors[0].0, errors[0].1, errors[0].2.clone()),
        (2, 3, col("student_id"))
    );
    assert_eq!(
        (errors[1].0, errors[1].2.clone(), errors[1].3.as_str()),
        (3, col("grade"), "is not a number: \"abc\"")
    );
    assert_eq!(
        (errors[2].0, errors[2].2.clone(), errors[2].3.as_str()),
        (4, col("grade"), "3 is above max_grade 2")
    );
    assert_eq!((errors[3].0, errors[3].2.clone()), (5, col("created")));
    assert_eq!(
        (errors[4].0, errors[4].2.clone(), errors[4].3.as_str()),
        (6, col("module_id"), "is empty")
    );
    assert_eq!(
        (errors[5].0, errors[5].2.clone(), errors[5].3.as_str()),
        (7, None, "has 4 fields, the header has 11")
    );
    assert_eq!(errors[6].0, 8);
    assert!(
        errors[6].3.contains("quote inside an unquoted value"),
        "{}",
        errors[6].3
    );
    // Bad JSON in state is Open edX data, not a bad row; the last good row is read too.
    let good_rows: Vec<&ModuleRow> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| &r.value)
        .collect();
    assert_eq!(good_rows.len(), 3);
    assert_eq!(good_rows[1].state.as_deref(), Some("{not json}"));
    let shown = results[1].as_ref().unwrap_err().to_string();
    assert_eq!(
        shown,
        "row 2 (line 3), column student_id: must be a positive integer, found \"x3\""
    );
}

#[test]
fn bad_json_lines_name_the_column() {
    let text = "{\"id\": 1, \"username\": \"ann\", \"email\": \"a@x\"}\n\
                \n\
                {\"id\": \"one\", \"username\": \"bob\", \"email\": \"b@x\"}\n\
                {\"id\": 3, \"username\": 5, \"email\": \"c@x\"}\n\
                {\"id\": 4, \"email\": \"d@x\"}\n\
                [1, 2]\n\
                {\"id\": 6, \"username\": \"f\", \"email\": \"f@x\"\n";
    let results: Vec<_> = RowReader::<LearnerRow, _>::new(text.as_bytes(), Format::JsonLines)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert!(results[0].is_ok());
    let err = |i: usize| results[i].as_ref().unwrap_err().clone();
    assert_eq!(
        (err(1).row, err(1).line, err(1).column.as_deref()),
        (2, 3, Some("id"))
    );
    assert_eq!(
        err(2).reason,
        "must be a string or null, found the number 5"
    );
    assert_eq!(
        (err(3).column.as_deref(), err(3).reason.as_str()),
        (Some("username"), "is missing")
    );
    assert!(
        err(4).reason.starts_with("is not a JSON object"),
        "{}",
        err(4).reason
    );
    assert!(err(5).reason.contains("EOF"), "{}", err(5).reason);
    assert_eq!(results.len(), 6);
}

#[test]
fn header_errors_stop_reading() {
    let missing = RowReader::<ModuleRow, _>::new("id,module_id,state\n".as_bytes(), Format::Csv)
        .err()
        .unwrap();
    let text = missing.to_string();
    assert!(
        text.contains("lacks module_type, student_id, course_id"),
        "{text}"
    );
    let twice = RowReader::<LearnerRow, _>::new("id,id,username,email\n".as_bytes(), Format::Csv)
        .err()
        .unwrap();
    assert!(
        twice.to_string().contains("names column \"id\" twice"),
        "{twice}"
    );
    let empty = RowReader::<LearnerRow, _>::new("".as_bytes(), Format::Csv)
        .err()
        .unwrap();
    assert!(
        matches!(empty, FileError::Header(ref m) if m.contains("empty")),
        "{empty}"
    );
}

#[test]
fn format_from_name_and_first_byte() {
    use std::path::Path;
    assert_eq!(Format::from_path(Path::new("state.CSV")), Some(Format::Csv));
    assert_eq!(
        Format::from_path(Path::new("state.jsonl.gz")),
        Some(Format::JsonLines)
    );
    assert_eq!(Format::from_path(Path::new("state.txt")), None);
    assert_eq!(
        Format::sniff(&mut "\u{feff} {\"id\":1}".as_bytes()).unwrap(),
        Format::JsonLines
    );
    assert_eq!(
        Format::sniff(&mut "id,username".as_bytes()).unwrap(),
        Format::Csv
    );
}

fn arb_text() -> impl Strategy<Value = String> {
    // Commas, quotes, line ends, non-ASCII and JSON-ish text: everything quoting must survive.
    "[a-z0-9,\"\n\r{}:é\\\\ ]{0,40}"
}

fn arb_grade() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        Just(None),
        (0u32..1000, 1u32..64).prop_map(|(a, b)| Some(f64::from(a) / f64::from(b)))
    ]
}

fn arb_module() -> impl Strategy<Value = ModuleRow> {
    (
        proptest::option::of(1i64..i64::MAX),
        1i64..1_000_000,
        proptest::option::of(arb_text()),
        arb_grade(),
        prop_oneof![Just("na"), Just("f"), Just("i")],
        proptest::option::of(0i64..4_000_000_000_000_000),
        "[a-z]{1,8}",
    )
        .prop_map(
            |(id, student_id, state, grade, done, micros, block)| ModuleRow {
                id,
                module_type: "problem".into(),
                module_id: format!("block-v1:O+C+R+type@problem+block@{block}"),
                student_id,
                state,
                max_grade: grade.map(|g| g + 1.0),
                grade,
                done: done.into(),
                created: micros.map(|m| Utc.timestamp_micros(m).unwrap()),
                modified: micros.map(|m| Utc.timestamp_micros(m / 2).unwrap()),
                course_id: "course-v1:O+C+R".into(),
            },
        )
}

proptest! {
    #[test]
    fn any_rows_round_trip_byte_for_byte(rows in proptest::collection::vec(arb_module(), 0..20)) {
        for format in [Format::Csv, Format::JsonLines] {
            let text = write_all(&rows, format);
            let back: Vec<ModuleRow> = read_all(&text, format)
                .into_iter()
                .collect::<Result<_, _>>()
                .map_err(|e| TestCaseError::fail(format!("{e} in {text:?}")))?;
            prop_assert_eq!(&back, &rows);
            prop_assert_eq!(write_all(&back, format), text);
        }
    }
}
