//! Per-learner outcomes as a table: the CSV columns that the CLI's `outcomes` and the API's CSV
//! download both write, so a spreadsheet built on one reads the other.

use coursetasks_store::OutcomeRecord;

/// The CSV header, in column order.
pub const OUTCOME_CSV_HEADER: [&str; 10] = [
    "module_id",
    "learner_id",
    "username",
    "usage_key",
    "status",
    "reason",
    "old_grade",
    "old_max_grade",
    "new_grade",
    "new_max_grade",
];

/// One outcome as a CSV record matching [`OUTCOME_CSV_HEADER`]; absent values are empty cells.
pub fn outcome_csv_record(outcome: &OutcomeRecord) -> [String; 10] {
    let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    [
        outcome.module_id.map(|m| m.to_string()).unwrap_or_default(),
        outcome.learner_id.to_string(),
        outcome.username.clone(),
        outcome.usage_key.clone(),
        outcome.status.as_str().to_owned(),
        outcome.reason.clone().unwrap_or_default(),
        num(outcome.old_grade),
        num(outcome.old_max_grade),
        num(outcome.new_grade),
        num(outcome.new_max_grade),
    ]
}
