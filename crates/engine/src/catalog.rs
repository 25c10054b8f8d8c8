//! Loading a course read from OLX into the store: the course, its block tree with settings, and a
//! problem version per problem whose XML changed (by content hash). One transaction: a failure
//! stores nothing.

use std::collections::BTreeMap;

use chrono::Utc;
use coursetasks_capa::Problem;
use coursetasks_olx::{Block, Course, content_hash};
use coursetasks_store::{
    BlockRecord, CourseRecord, ImportReport, NewProblemVersion, Store, StoreError,
};
use serde::Serialize;

/// What importing a course did, plus the rescorability of each problem.
#[derive(Debug, Clone, Serialize)]
pub struct CourseImport {
    /// The course key.
    pub course_key: String,
    /// The store's counts (blocks written, versions created or unchanged).
    pub report: ImportReport,
    /// Every problem with its response types and rescorability, in tree order.
    pub problems: Vec<ProblemSummary>,
    /// How many problems use each response type.
    pub response_type_counts: BTreeMap<String, usize>,
    /// Problems whose XML is new or changed since the previous import, with the version this
    /// import stored (rescoring uses it; older versions stay readable).
    pub changed_problems: Vec<ProblemChange>,
}

/// A problem that got a new version in an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProblemChange {
    /// Usage key (`block-v1:` form).
    pub usage_key: String,
    /// The version current before the import; `None` for a problem seen for the first time.
    pub previous_version: Option<i64>,
    /// The version stored by this import.
    pub version: i64,
}

/// A problem as the import summary and `problems` list show it.
#[derive(Debug, Clone, Serialize)]
pub struct ProblemSummary {
    /// Usage key (`block-v1:` form).
    pub usage_key: String,
    /// Display name.
    pub display_name: String,
    /// Response tags in document order (`multiplechoiceresponse`, ...).
    pub response_types: Vec<String>,
    /// Raw maximum score (sum of input points); `None` when the XML does not load.
    pub max_score: Option<f64>,
    /// The block's weight setting.
    pub weight: Option<f64>,
    /// `None` when the problem can be rescored, else why not.
    pub not_rescorable: Option<String>,
}

/// Summarises one problem's XML with the grading engine.
pub fn summarize_problem(
    usage_key: &str,
    display_name: &str,
    html_id: &str,
    xml: &str,
    weight: Option<f64>,
) -> ProblemSummary {
    let (response_types, max_score, not_rescorable) = match Problem::compile(xml, html_id) {
        Ok(problem) => (
            problem
                .response_types()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            Some(problem.max_score()),
            problem.rescorability().err().map(|n| n.to_string()),
        ),
        Err(e) => (
            Vec::new(),
            None,
            Some(format!("the problem XML does not load: {}", e.message)),
        ),
    };
    ProblemSummary {
        usage_key: usage_key.to_owned(),
        display_name: display_name.to_owned(),
        response_types,
        max_score,
        weight,
        not_rescorable,
    }
}

fn block_record(course_key: &str, block: &Block, position: i64) -> BlockRecord {
    BlockRecord {
        usage_key: block.usage_key.clone(),
        course_key: course_key.to_owned(),
        block_type: block.block_type.clone(),
        parent_key: block.parent.clone(),
        display_name: block.display_name.clone().unwrap_or_default(),
        position,
        settings: serde_json::to_value(&block.settings).expect("settings serialize"),
        legacy_key: Some(block.legacy_key.clone()),
    }
}

/// Stores `course` (course, blocks, problem versions) in one transaction.
pub async fn import_course(store: &Store, course: &Course) -> Result<CourseImport, StoreError> {
    let course_key = course.key.to_string();
    // Position = index among the parent's children, which keeps sibling order stable.
    let mut positions = BTreeMap::new();
    for block in &course.blocks {
        for (i, child) in block.children.iter().enumerate() {
            positions.insert(child.as_str(), i as i64);
        }
    }
    let blocks: Vec<BlockRecord> = course
        .blocks
        .iter()
        .map(|b| {
            block_record(
                &course_key,
                b,
                positions.get(b.usage_key.as_str()).copied().unwrap_or(0),
            )
        })
        .collect();
    let mut versions = Vec::new();
    let mut problems = Vec::new();
    let mut response_type_counts = BTreeMap::new();
    for block in course.problems() {
        let xml = block.problem_xml.clone().unwrap_or_default();
        let summary = summarize_problem(
            &block.usage_key,
            block.display_name.as_deref().unwrap_or(""),
            &block.html_id,
            &xml,
            block.settings.weight,
        );
        // Per problem, not per response element: a problem with eight dropdowns counts once.
        let mut types: Vec<&String> = summary.response_types.iter().collect();
        types.sort();
        types.dedup();
        for t in types {
            *response_type_counts.entry(t.clone()).or_insert(0) += 1;
        }
        problems.push(summary);
        versions.push(NewProblemVersion {
            usage_key: block.usage_key.clone(),
            content_hash: content_hash(&xml),
            xml,
        });
    }
    // The versions current before the import, to report which problems change.
    let mut previous = Vec::with_capacity(versions.len());
    for v in &versions {
        previous.push(store.current_problem_version(&v.usage_key).await?);
    }
    let record = CourseRecord {
        key: course_key.clone(),
        display_name: course.display_name.clone(),
        created: Utc::now(),
    };
    let report = store
        .import_course_atomically(&record, &blocks, &versions)
        .await?;
    let mut changed_problems = Vec::new();
    for (v, before) in versions.iter().zip(previous) {
        if before
            .as_ref()
            .is_some_and(|b| b.content_hash == v.content_hash)
        {
            continue;
        }
        let now = store.current_problem_version(&v.usage_key).await?;
        changed_problems.push(ProblemChange {
            usage_key: v.usage_key.clone(),
            previous_version: before.map(|b| b.version),
            version: now.map_or(1, |n| n.version),
        });
    }
    Ok(CourseImport {
        course_key,
        report,
        problems,
        response_type_counts,
        changed_problems,
    })
}

/// Every problem of a stored course in tree order, summarised from its current version with the
/// grading engine (what `problems` and the API list). An unknown course is
/// [`StoreError::NotFound`].
pub async fn course_problems(
    store: &Store,
    course_key: &str,
) -> Result<Vec<ProblemSummary>, StoreError> {
    if store.get_course(course_key).await?.is_none() {
        return Err(StoreError::NotFound {
            what: "course",
            key: course_key.to_owned(),
        });
    }
    let mut summaries = Vec::new();
    for block in store.list_blocks(course_key).await? {
        if block.block_type != "problem" {
            continue;
        }
        let xml = store
            .current_problem_version(&block.usage_key)
            .await?
            .map(|v| v.xml)
            .unwrap_or_default();
        // Input ids are prefixed with the block's html id (the url_name for block-v1 keys).
        let html_id = coursetasks_olx::parse_usage_key(&block.usage_key)
            .map(|k| k.html_id())
            .unwrap_or_else(|_| block.usage_key.clone());
        let weight = block
            .settings
            .get("weight")
            .and_then(serde_json::Value::as_f64);
        summaries.push(summarize_problem(
            &block.usage_key,
            &block.display_name,
            &html_id,
            &xml,
            weight,
        ));
    }
    Ok(summaries)
}
