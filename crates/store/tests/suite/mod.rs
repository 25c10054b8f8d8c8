//! Behaviour suite for any [`Store`] backend. Every check takes a fresh, migrated, empty store;
//! `tests/sqlite.rs` runs it on temporary SQLite files, and the PostgreSQL driver will run the
//! same functions on its own databases.

#![allow(dead_code)]

use chrono::{Duration as ChronoDuration, SubsecRound, Utc};
use coursetasks_store::*;
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;
use uuid::Uuid;

pub const COURSE: &str = "course-v1:MITx+6.002x+2024";
pub const OTHER_COURSE: &str = "course-v1:HarvardX+CS50+2024";

pub fn key(kind: &str, name: &str) -> String {
    format!("block-v1:MITx+6.002x+2024+type@{kind}+block@{name}")
}
pub fn legacy(kind: &str, name: &str) -> String {
    format!("i4x://MITx/6.002x/{kind}/{name}")
}

fn block(kind: &str, name: &str, parent: Option<(&str, &str)>, position: i64) -> BlockRecord {
    BlockRecord {
        usage_key: key(kind, name),
        course_key: COURSE.into(),
        block_type: kind.into(),
        parent_key: parent.map(|(k, n)| key(k, n)),
        display_name: format!("{kind} {name}"),
        position,
        settings: json!({"weight": 1.0, "max_attempts": null, "graded": kind == "problem"}),
        legacy_key: Some(legacy(kind, name)),
    }
}

fn course_record(key: &str) -> CourseRecord {
    CourseRecord {
        key: key.into(),
        display_name: format!("Course {key}"),
        created: Utc::now().trunc_subsecs(6),
    }
}

/// course → chapter ch1 → sequentials s1 (problems p1, p2 via vertical v1) and s2 (problem p3);
/// chapter ch2 → sequential s3 → html h1. Stored in a scrambled order.
pub fn course_tree() -> Vec<BlockRecord> {
    vec![
        block("problem", "p3", Some(("sequential", "s2")), 0),
        block("html", "h1", Some(("sequential", "s3")), 0),
        block("problem", "p2", Some(("vertical", "v1")), 1),
        block("sequential", "s3", Some(("chapter", "ch2")), 0),
        block("chapter", "ch2", Some(("course", "course")), 1),
        block("problem", "p1", Some(("vertical", "v1")), 0),
        block("vertical", "v1", Some(("sequential", "s1")), 0),
        block("sequential", "s2", Some(("chapter", "ch1")), 1),
        block("sequential", "s1", Some(("chapter", "ch1")), 0),
        block("chapter", "ch1", Some(("course", "course")), 0),
        BlockRecord {
            parent_key: None,
            ..block("course", "course", None, 0)
        },
    ]
}

/// A course with its tree and `n` learners, each with a module for p1 and p2.
pub async fn seed(store: &Store, n: i64) -> Vec<LearnerRecord> {
    store.upsert_course(&course_record(COURSE)).await.unwrap();
    store.upsert_blocks(&course_tree()).await.unwrap();
    let learners: Vec<LearnerRecord> = (1..=n)
        .map(|i| LearnerRecord {
            id: 1000 + i,
            username: format!("learner{i}"),
            email: format!("learner{i}@example.com"),
        })
        .collect();
    store.upsert_learners(&learners).await.unwrap();
    let mut modules = Vec::new();
    for l in &learners {
        for p in ["p1", "p2"] {
            modules.push(NewModule {
                learner_id: l.id,
                course_key: COURSE.into(),
                usage_key: key("problem", p),
                module_type: "problem".into(),
                state: Some(format!(r#"{{"attempts": 1, "seed": {}}}"#, l.id)),
                grade: Some(1.0),
                max_grade: Some(2.0),
            });
        }
    }
    store.insert_modules(&modules).await.unwrap();
    learners
}

pub fn new_task(task_key: &str) -> NewTask {
    NewTask {
        id: Uuid::new_v4(),
        course_key: COURSE.into(),
        task_type: "rescore_problem".into(),
        task_key: task_key.into(),
        input: json!({"problem_url": key("problem", "p1"), "only_if_higher": false}),
        requester: "staff".into(),
    }
}

fn scope(keys: &[String]) -> ModuleScope {
    ModuleScope {
        course_key: COURSE.into(),
        usage_keys: keys.to_vec(),
        learner_id: None,
        until_id: None,
    }
}

/// The modules the suite's tasks work on (`new_task` rescores p1).
fn p1_scope() -> ModuleScope {
    scope(&[key("problem", "p1")])
}

/// Ids of the modules in scope, ascending.
async fn ids(store: &Store, scope: &ModuleScope) -> Vec<i64> {
    fetch_all(store, scope, 1000)
        .await
        .iter()
        .map(|m| m.id)
        .collect()
}

async fn fetch_all(store: &Store, scope: &ModuleScope, page: u32) -> Vec<ModuleRecord> {
    fetch_after(store, scope, 0, page).await
}

/// Every module in scope with `id > after`, fetched page by page.
async fn fetch_after(
    store: &Store,
    scope: &ModuleScope,
    after: i64,
    page: u32,
) -> Vec<ModuleRecord> {
    let mut out = Vec::new();
    let mut after = after;
    loop {
        let rows = store.fetch_modules(scope, after, page).await.unwrap();
        if rows.is_empty() {
            break;
        }
        assert!(rows.len() <= page as usize);
        after = rows.last().unwrap().id;
        out.extend(rows);
    }
    out
}

/// The scope of a subtask: the p1 modules of its key range (the lower end is the `after_id` of
/// a fetch).
fn range_scope(subtask: &SubtaskRecord) -> ModuleScope {
    ModuleScope {
        until_id: Some(subtask.until_id),
        ..p1_scope()
    }
}

/// The next page of a subtask's p1 modules after `cursor`.
async fn range_page(
    store: &Store,
    subtask: &SubtaskRecord,
    cursor: i64,
    limit: u32,
) -> Vec<ModuleRecord> {
    store
        .fetch_modules(&range_scope(subtask), cursor, limit)
        .await
        .unwrap()
}

/// A chunk of subtask `subtask` that continues from `expected_cursor` and "rescores" the given
/// modules: new state, grade 2/2, one outcome and one event per module.
fn rescore_chunk(
    task: &TaskRecord,
    subtask: u32,
    expected_cursor: i64,
    worker: &str,
    modules: &[ModuleRecord],
) -> ChunkCommit {
    let now = Utc::now();
    ChunkCommit {
        task_id: task.id,
        subtask,
        worker: worker.into(),
        expected_cursor,
        new_cursor: modules.last().map(|m| m.id).unwrap_or(expected_cursor),
        deltas: Counts {
            attempted: modules.len() as u64,
            succeeded: modules.len() as u64,
            skipped: 0,
            failed: 0,
        },
        module_updates: modules
            .iter()
            .map(|m| ModuleUpdate {
                id: m.id,
                state: Some(format!(r#"{{"attempts": 1, "rescored": "{}"}}"#, task.id)),
                grade: Some(2.0),
                max_grade: Some(2.0),
                modified: now,
            })
            .collect(),
        module_inserts: vec![],
        module_deletes: vec![],
        outcomes: modules
            .iter()
            .map(|m| NewOutcome {
                module_id: Some(m.id),
                learner_id: m.learner_id,
                username: m.username.clone(),
                usage_key: m.usage_key.clone(),
                status: OutcomeStatus::Succeeded,
                reason: None,
                old_grade: m.grade,
                old_max_grade: m.max_grade,
                new_grade: Some(2.0),
                new_max_grade: Some(2.0),
            })
            .collect(),
        events: modules
            .iter()
            .map(|m| NewEvent {
                task_id: Some(task.id),
                event_type: "edx.grades.problem.rescored".into(),
                time: now,
                username: m.username.clone(),
                user_id: m.learner_id,
                course_key: m.course_key.clone(),
                usage_key: Some(m.usage_key.clone()),
                requester: task.requester.clone(),
                payload: json!({"new_weighted_earned": 2.0, "problem_id": m.usage_key}).to_string(),
            })
            .collect(),
    }
}

const LEASE: Duration = Duration::from_secs(60);

/// Claims the oldest task to plan.
async fn claim(store: &Store, worker: &str) -> TaskRecord {
    store
        .claim_task(worker, LEASE)
        .await
        .unwrap()
        .expect("a task to claim")
}

/// Plans the oldest queued task as `worker`: claims it and splits it at `points`, with the
/// number of p1 modules as its total.
async fn plan(store: &Store, worker: &str, points: &[i64]) -> TaskRecord {
    let task = claim(store, worker).await;
    let total = store.count_modules(&p1_scope()).await.unwrap();
    let split = store
        .split_task(task.id, worker, total, points)
        .await
        .unwrap();
    assert_eq!(split.subtasks as usize, points.len() + 1);
    split
}

/// Claims the next subtask of `task_id` as `worker`.
async fn take(store: &Store, worker: &str, task_id: Uuid) -> SubtaskRecord {
    let claim = store
        .claim_subtask(worker, LEASE, Some(task_id))
        .await
        .unwrap()
        .expect("a subtask to claim");
    assert_eq!((claim.task.id, claim.subtask.task_id), (task_id, task_id));
    claim.subtask
}

/// Plans the oldest queued task (split at `points`) and claims its first subtask, all as
/// `worker`.
async fn start(store: &Store, worker: &str, points: &[i64]) -> (TaskRecord, SubtaskRecord) {
    let task = plan(store, worker, points).await;
    let subtask = take(store, worker, task.id).await;
    assert_eq!(subtask.index, 0);
    (task, subtask)
}

/// One subtask as stored now.
async fn subtask(store: &Store, task_id: Uuid, index: u32) -> SubtaskRecord {
    let all = store.list_subtasks(task_id).await.unwrap();
    all.into_iter()
        .find(|s| s.index == index)
        .expect("the subtask exists")
}

/// The states of a task's subtasks, by index.
async fn subtask_states(store: &Store, task_id: Uuid) -> Vec<TaskState> {
    store
        .list_subtasks(task_id)
        .await
        .unwrap()
        .iter()
        .map(|s| s.state)
        .collect()
}

fn add(a: Counts, b: Counts) -> Counts {
    Counts {
        attempted: a.attempted + b.attempted,
        succeeded: a.succeeded + b.succeeded,
        skipped: a.skipped + b.skipped,
        failed: a.failed + b.failed,
    }
}

/// Everything a refused write could have touched: the task, its subtasks, its outcomes and
/// events, and every module of the course.
async fn snapshot(
    store: &Store,
    task_id: Uuid,
) -> (TaskRecord, Vec<SubtaskRecord>, u64, u64, Vec<ModuleRecord>) {
    (
        store.get_task(task_id).await.unwrap().unwrap(),
        store.list_subtasks(task_id).await.unwrap(),
        store.count_outcomes(task_id, None).await.unwrap(),
        store.count_events(task_id).await.unwrap(),
        fetch_all(store, &scope(&[]), 1000).await,
    )
}

fn assert_lease_lost<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    assert!(
        matches!(result, Err(StoreError::LeaseLost { .. })),
        "{what}: expected LeaseLost, got {result:?}"
    );
}

// ----- catalog -----------------------------------------------------------------------------------

pub async fn courses_upsert_and_list(store: &Store) {
    assert!(store.get_course(COURSE).await.unwrap().is_none());
    let first = course_record(COURSE);
    store.upsert_course(&first).await.unwrap();
    store
        .upsert_course(&course_record(OTHER_COURSE))
        .await
        .unwrap();
    let renamed = CourseRecord {
        display_name: "Circuits and Electronics".into(),
        created: first.created + ChronoDuration::days(1),
        ..first.clone()
    };
    store.upsert_course(&renamed).await.unwrap();
    let got = store.get_course(COURSE).await.unwrap().unwrap();
    assert_eq!(got.display_name, "Circuits and Electronics");
    assert_eq!(
        got.created, first.created,
        "creation time is kept on update"
    );
    let keys: Vec<String> = store
        .list_courses()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.key)
        .collect();
    assert_eq!(keys, vec![OTHER_COURSE.to_string(), COURSE.to_string()]);
}

pub async fn blocks_tree_order_and_key_forms(store: &Store) {
    store.upsert_course(&course_record(COURSE)).await.unwrap();
    assert_eq!(store.upsert_blocks(&course_tree()).await.unwrap(), 11);
    let names: Vec<String> = store
        .list_blocks(COURSE)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.usage_key.rsplit('@').next().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "course", "ch1", "s1", "v1", "p1", "p2", "s2", "p3", "ch2", "s3", "h1"
        ]
    );

    let by_new = store
        .get_block(&key("problem", "p2"))
        .await
        .unwrap()
        .unwrap();
    let by_old = store
        .get_block(&legacy("problem", "p2"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_new, by_old);
    assert_eq!(by_new.settings["graded"], json!(true));
    assert!(store.get_block("block-v1:nope").await.unwrap().is_none());

    let problems: Vec<String> = store
        .descendants(&key("chapter", "ch1"), Some("problem"))
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.usage_key)
        .collect();
    assert_eq!(
        problems,
        vec![
            key("problem", "p1"),
            key("problem", "p2"),
            key("problem", "p3")
        ]
    );
    let under_s1 = store
        .descendants(&legacy("sequential", "s1"), None)
        .await
        .unwrap();
    assert_eq!(
        under_s1.len(),
        3,
        "v1, p1, p2; the block itself is excluded"
    );
    assert!(
        store
            .descendants(&key("problem", "p1"), None)
            .await
            .unwrap()
            .is_empty()
    );

    // Upsert moves p3 under s1 (after v1) and renames it.
    let mut p3 = block("problem", "p3", Some(("sequential", "s1")), 1);
    p3.display_name = "Moved".into();
    store.upsert_blocks(&[p3]).await.unwrap();
    let under_s1: Vec<String> = store
        .descendants(&key("sequential", "s1"), Some("problem"))
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.display_name)
        .collect();
    assert_eq!(under_s1, vec!["problem p1", "problem p2", "Moved"]);

    // A legacy key already used by another block is refused.
    let mut clash = block("problem", "p9", Some(("vertical", "v1")), 5);
    clash.legacy_key = Some(legacy("problem", "p1"));
    assert!(matches!(
        store.upsert_blocks(&[clash]).await,
        Err(StoreError::Conflict { .. })
    ));
}

pub async fn problem_versions_only_on_change(store: &Store) {
    store.upsert_course(&course_record(COURSE)).await.unwrap();
    store.upsert_blocks(&course_tree()).await.unwrap();
    let p1 = key("problem", "p1");
    assert!(store.current_problem_version(&p1).await.unwrap().is_none());

    let v1 = store
        .put_problem_version(&p1, "<problem>1</problem>", "h1")
        .await
        .unwrap();
    assert!(v1.created);
    assert_eq!(v1.version, 1);
    let same = store
        .put_problem_version(&legacy("problem", "p1"), "<problem>1</problem>", "h1")
        .await
        .unwrap();
    assert!(!same.created);
    assert_eq!(same.version, 1);
    let v2 = store
        .put_problem_version(&p1, "<problem>2</problem>", "h2")
        .await
        .unwrap();
    assert!(v2.created);
    assert_eq!(v2.version, 2);

    let current = store
        .current_problem_version(&legacy("problem", "p1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (current.version, current.xml.as_str()),
        (2, "<problem>2</problem>")
    );
    assert!(!current.created);
    let old = store.problem_version(&p1, 1).await.unwrap().unwrap();
    assert_eq!(old.xml, "<problem>1</problem>");
    assert!(store.problem_version(&p1, 3).await.unwrap().is_none());
    let all: Vec<i64> = store
        .list_problem_versions(&p1)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(all, vec![1, 2]);
    // Going back to the first content is a change too.
    let v3 = store
        .put_problem_version(&p1, "<problem>1</problem>", "h1")
        .await
        .unwrap();
    assert_eq!((v3.version, v3.created), (3, true));

    assert!(matches!(
        store
            .put_problem_version(&key("problem", "missing"), "<problem/>", "x")
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn import_is_all_or_nothing(store: &Store) {
    let course = course_record(COURSE);
    let versions = vec![
        NewProblemVersion {
            usage_key: key("problem", "p1"),
            xml: "<problem>a</problem>".into(),
            content_hash: "a".into(),
        },
        NewProblemVersion {
            usage_key: key("problem", "p2"),
            xml: "<problem>b</problem>".into(),
            content_hash: "b".into(),
        },
    ];
    // A version for a block that is neither imported nor stored fails the whole import.
    let mut bad = versions.clone();
    bad.push(NewProblemVersion {
        usage_key: key("problem", "ghost"),
        xml: "<problem/>".into(),
        content_hash: "g".into(),
    });
    assert!(
        store
            .import_course_atomically(&course, &course_tree(), &bad)
            .await
            .is_err()
    );
    assert!(store.get_course(COURSE).await.unwrap().is_none());
    assert!(
        store
            .get_block(&key("problem", "p1"))
            .await
            .unwrap()
            .is_none()
    );

    // So does a block of another course.
    let mut foreign = course_tree();
    foreign[0].course_key = OTHER_COURSE.into();
    assert!(matches!(
        store
            .import_course_atomically(&course, &foreign, &versions)
            .await,
        Err(StoreError::Invalid { .. })
    ));
    assert!(store.list_courses().await.unwrap().is_empty());

    let report = store
        .import_course_atomically(&course, &course_tree(), &versions)
        .await
        .unwrap();
    assert!(report.course_created);
    assert_eq!(
        (
            report.blocks,
            report.versions_created,
            report.versions_unchanged
        ),
        (11, 2, 0)
    );

    // Re-import: one problem changed, one block dropped from the tree.
    let mut changed = versions.clone();
    changed[1].xml = "<problem>b2</problem>".into();
    changed[1].content_hash = "b2".into();
    let fewer: Vec<BlockRecord> = course_tree()
        .into_iter()
        .filter(|b| !b.usage_key.ends_with("@h1"))
        .collect();
    let report = store
        .import_course_atomically(&course, &fewer, &changed)
        .await
        .unwrap();
    assert!(!report.course_created);
    assert_eq!(report.stale_blocks, 1);
    assert_eq!((report.versions_created, report.versions_unchanged), (1, 1));
    let p2 = store
        .current_problem_version(&key("problem", "p2"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p2.version, 2);
}

// ----- learners ----------------------------------------------------------------------------------

pub async fn learners_upsert_and_find(store: &Store) {
    let learners = vec![
        LearnerRecord {
            id: 7,
            username: "ada".into(),
            email: "ada@example.com".into(),
        },
        LearnerRecord {
            id: 8,
            username: "alan".into(),
            email: "alan@example.com".into(),
        },
    ];
    assert_eq!(store.upsert_learners(&learners).await.unwrap(), 2);
    // Same id → update.
    let renamed = LearnerRecord {
        id: 7,
        username: "ada_l".into(),
        email: "ada@lovelace.org".into(),
    };
    assert_eq!(
        store
            .upsert_learners(std::slice::from_ref(&renamed))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.get_learner(7).await.unwrap().unwrap(), renamed);
    assert_eq!(
        store
            .find_learner("ada@lovelace.org")
            .await
            .unwrap()
            .unwrap()
            .id,
        7
    );
    assert_eq!(store.find_learner("alan").await.unwrap().unwrap().id, 8);
    assert!(store.find_learner("ada").await.unwrap().is_none());

    // A username that belongs to another id: refused, and nothing of the batch is written.
    let batch = vec![
        LearnerRecord {
            id: 9,
            username: "grace".into(),
            email: "grace@example.com".into(),
        },
        LearnerRecord {
            id: 10,
            username: "alan".into(),
            email: "other@example.com".into(),
        },
    ];
    assert!(matches!(
        store.upsert_learners(&batch).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(store.get_learner(9).await.unwrap().is_none());
    assert_eq!(store.count_learners().await.unwrap(), 2);

    let created = store
        .create_learner("grace", "grace@example.com")
        .await
        .unwrap();
    assert!(created.id > 8);
    assert_eq!(store.count_learners().await.unwrap(), 3);
    assert!(matches!(
        store.create_learner("grace", "g2@example.com").await,
        Err(StoreError::Conflict { .. })
    ));
}

// ----- modules -----------------------------------------------------------------------------------

pub async fn modules_count_fetch_and_get(store: &Store) {
    let learners = seed(store, 25).await;
    let p1 = key("problem", "p1");
    let p2 = key("problem", "p2");
    assert_eq!(
        store
            .count_modules(&scope(std::slice::from_ref(&p1)))
            .await
            .unwrap(),
        25
    );
    assert_eq!(
        store
            .count_modules(&scope(&[legacy("problem", "p1")]))
            .await
            .unwrap(),
        25
    );
    assert_eq!(
        store
            .count_modules(&scope(&[p1.clone(), p2.clone()]))
            .await
            .unwrap(),
        50
    );
    assert_eq!(
        store.count_modules(&scope(&[])).await.unwrap(),
        50,
        "empty = whole course"
    );
    let one_learner = ModuleScope {
        learner_id: Some(learners[3].id),
        ..scope(&[])
    };
    assert_eq!(store.count_modules(&one_learner).await.unwrap(), 2);

    for (keys, expected) in [
        (vec![p1.clone()], 25),
        (vec![legacy("problem", "p2")], 25),
        (vec![p1.clone(), p2.clone()], 50),
        (vec![], 50),
    ] {
        for page in [1, 7, 1000] {
            let rows = fetch_all(store, &scope(&keys), page).await;
            assert_eq!(rows.len(), expected, "keys {keys:?} page {page}");
            assert!(rows.windows(2).all(|w| w[0].id < w[1].id), "ascending ids");
        }
    }
    let rows = fetch_all(store, &one_learner, 1).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|m| m.username == learners[3].username));

    let m = store
        .get_module(learners[0].id, COURSE, &legacy("problem", "p2"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.usage_key.as_str(), m.username.as_str()),
        (p2.as_str(), "learner1")
    );
    assert_eq!(
        (m.grade, m.max_grade, m.done.as_str()),
        (Some(1.0), Some(2.0), "na")
    );
    assert_eq!(m.state.as_deref(), Some(r#"{"attempts": 1, "seed": 1001}"#));
    assert!(
        store
            .get_module(learners[0].id, COURSE, &key("problem", "p3"))
            .await
            .unwrap()
            .is_none()
    );

    // Duplicates and unknown learners are refused; nothing of the batch is written.
    let dup = NewModule {
        learner_id: learners[0].id,
        course_key: COURSE.into(),
        usage_key: p1.clone(),
        module_type: "problem".into(),
        state: None,
        grade: None,
        max_grade: None,
    };
    let fresh = NewModule {
        usage_key: key("problem", "p3"),
        ..dup.clone()
    };
    assert!(matches!(
        store.insert_modules(&[fresh.clone(), dup.clone()]).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store
            .insert_modules(&[NewModule {
                learner_id: 99,
                ..fresh.clone()
            }])
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.count_modules(&scope(&[])).await.unwrap(), 50);

    // upsert_modules: replaces by (learner, usage key, course), inserts the rest.
    let mut replaced = m.clone();
    replaced.state = None;
    replaced.grade = Some(0.5);
    replaced.done = "f".into();
    let mut new_one = m.clone();
    new_one.usage_key = key("problem", "p3");
    assert_eq!(store.upsert_modules(&[replaced, new_one]).await.unwrap(), 2);
    let again = store
        .get_module(learners[0].id, COURSE, &p2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            again.id,
            again.state.clone(),
            again.grade,
            again.done.as_str()
        ),
        (m.id, None, Some(0.5), "f")
    );
    assert_eq!(store.count_modules(&scope(&[])).await.unwrap(), 51);
}

pub async fn module_scan_many_keys(store: &Store) {
    seed(store, 3).await;
    // 20 problem keys (more than are merged per key), of which only p1 and p2 have modules.
    let mut keys: Vec<String> = (0..18).map(|i| key("problem", &format!("x{i}"))).collect();
    keys.push(key("problem", "p2"));
    keys.push(key("problem", "p1"));
    let rows = fetch_all(store, &scope(&keys), 2).await;
    assert_eq!(rows.len(), 6);
    assert!(rows.windows(2).all(|w| w[0].id < w[1].id));
    // Another course's modules never leak in.
    store
        .upsert_course(&course_record(OTHER_COURSE))
        .await
        .unwrap();
    store
        .insert_modules(&[NewModule {
            learner_id: 1001,
            course_key: OTHER_COURSE.into(),
            usage_key: key("problem", "p1"),
            module_type: "problem".into(),
            state: None,
            grade: None,
            max_grade: None,
        }])
        .await
        .unwrap();
    assert_eq!(fetch_all(store, &scope(&[]), 4).await.len(), 6);
    assert_eq!(fetch_all(store, &scope(&keys), 4).await.len(), 6);
    assert_eq!(store.count_modules(&scope(&keys)).await.unwrap(), 6);
}

pub async fn module_stream_with_concurrent_inserts(store: &Store) {
    let learners = seed(store, 300).await;
    let p1 = key("problem", "p1");
    let before: HashSet<i64> = fetch_all(store, &scope(std::slice::from_ref(&p1)), 1000)
        .await
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(before.len(), 300);

    // New learners with p1 modules arrive while the scan runs.
    let writer = {
        let store = store.clone();
        let p1 = p1.clone();
        tokio::spawn(async move {
            for batch in 0..20 {
                let new: Vec<LearnerRecord> = (0..10)
                    .map(|i| {
                        let id = 5000 + batch * 10 + i;
                        LearnerRecord {
                            id,
                            username: format!("late{id}"),
                            email: format!("late{id}@x.org"),
                        }
                    })
                    .collect();
                store.upsert_learners(&new).await.unwrap();
                let modules: Vec<NewModule> = new
                    .iter()
                    .map(|l| NewModule {
                        learner_id: l.id,
                        course_key: COURSE.into(),
                        usage_key: p1.clone(),
                        module_type: "problem".into(),
                        state: None,
                        grade: None,
                        max_grade: None,
                    })
                    .collect();
                store.insert_modules(&modules).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let rows = store
            .fetch_modules(&scope(std::slice::from_ref(&p1)), after, 17)
            .await
            .unwrap();
        if rows.is_empty() {
            break;
        }
        after = rows.last().unwrap().id;
        seen.extend(rows.into_iter().map(|m| m.id));
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no module twice");
    assert!(
        before.is_subset(&unique),
        "no module that existed at the start is missed"
    );
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    // Everything inserted meanwhile got a larger id, so a final page from the cursor has them.
    let rest = fetch_all(store, &scope(std::slice::from_ref(&p1)), 1000).await;
    assert_eq!(rest.len(), 300 + 200);
    assert_eq!(learners.len(), 300);
}

// ----- tasks: dedup ------------------------------------------------------------------------------

pub async fn dedup_refuses_identical_active_task(store: &Store) {
    let first = store.submit_task(&new_task("k1")).await.unwrap();
    assert_eq!(first.state, TaskState::Queued);
    assert_eq!((first.subtasks, first.attempts, first.total), (0, 0, None));

    match store.submit_task(&new_task("k1")).await {
        Err(SubmitError::AlreadyRunning { existing }) => assert_eq!(existing.id, first.id),
        other => panic!("expected AlreadyRunning, got {other:?}"),
    }
    // Other key, type or course: fine.
    store.submit_task(&new_task("k2")).await.unwrap();
    store
        .submit_task(&NewTask {
            task_type: "reset_problem_attempts".into(),
            ..new_task("k1")
        })
        .await
        .unwrap();
    store
        .submit_task(&NewTask {
            course_key: OTHER_COURSE.into(),
            ..new_task("k1")
        })
        .await
        .unwrap();

    // Still refused while running; allowed again once finished.
    let running = claim(store, "w1").await;
    assert_eq!(running.id, first.id);
    assert!(matches!(
        store.submit_task(&new_task("k1")).await,
        Err(SubmitError::AlreadyRunning { .. })
    ));
    store
        .finish_task(first.id, "w1", FinalState::Success)
        .await
        .unwrap();
    let again = store.submit_task(&new_task("k1")).await.unwrap();
    // And after a revoke.
    store.request_cancel(again.id).await.unwrap();
    store.submit_task(&new_task("k1")).await.unwrap();

    // The same task id twice is a conflict, not a dedup refusal.
    let t = new_task("k3");
    store.submit_task(&t).await.unwrap();
    let same_id = NewTask {
        task_key: "k4".into(),
        ..t
    };
    assert!(matches!(
        store.submit_task(&same_id).await,
        Err(SubmitError::Store(StoreError::Conflict { .. }))
    ));
}
pub async fn dedup_concurrent_submits_one_wins(store: &Store) {
    for round in 0..5 {
        let task_key = format!("race{round}");
        let handles: Vec<_> = (0..12)
            .map(|_| {
                let store = store.clone();
                let task = new_task(&task_key);
                tokio::spawn(async move { store.submit_task(&task).await })
            })
            .collect();
        let mut won = Vec::new();
        let mut refused = Vec::new();
        for h in handles {
            match h.await.unwrap() {
                Ok(t) => won.push(t.id),
                Err(SubmitError::AlreadyRunning { existing }) => refused.push(existing.id),
                Err(e) => panic!("unexpected error {e}"),
            }
        }
        assert_eq!(won.len(), 1, "exactly one submission wins");
        assert_eq!(refused.len(), 11);
        assert!(
            refused.iter().all(|id| *id == won[0]),
            "refusals name the winner"
        );
    }
    let active = store
        .list_tasks(&TaskFilter {
            states: vec![TaskState::Queued],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(active.len(), 5);
}

// ----- tasks: planning claims and leases -----------------------------------------------------

pub async fn claim_oldest_first_and_never_twice(store: &Store) {
    assert!(
        store
            .claim_task("w", Duration::from_secs(5))
            .await
            .unwrap()
            .is_none()
    );
    let mut submitted = Vec::new();
    for i in 0..30 {
        submitted.push(
            store
                .submit_task(&new_task(&format!("c{i}")))
                .await
                .unwrap()
                .id,
        );
    }
    let first = claim(store, "w0").await;
    assert_eq!(first.id, submitted[0], "oldest first");
    assert_eq!(first.state, TaskState::Running);
    assert_eq!(first.lease_owner.as_deref(), Some("w0"));
    assert_eq!((first.attempts, first.subtasks), (1, 0));
    assert!(first.started_at.is_some());
    assert!(first.lease_expires_at.unwrap() > Utc::now());

    let handles: Vec<_> = (0..8)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(t) = store
                    .claim_task(&format!("w{}", w + 1), Duration::from_secs(60))
                    .await
                    .unwrap()
                {
                    mine.push(t.id);
                }
                mine
            })
        })
        .collect();
    let mut claimed = vec![first.id];
    for h in handles {
        claimed.extend(h.await.unwrap());
    }
    let unique: HashSet<Uuid> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), 30, "every task claimed once");
    assert_eq!(unique.len(), 30, "no task claimed twice");
}

pub async fn expired_lease_is_reclaimed_live_one_is_not(store: &Store) {
    let a = store.submit_task(&new_task("a")).await.unwrap();
    let b = store.submit_task(&new_task("b")).await.unwrap();
    let live = claim(store, "alive").await;
    assert_eq!(live.id, a.id);
    let short = store
        .claim_task("dead", Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(short.id, b.id);
    tokio::time::sleep(Duration::from_millis(20)).await;

    let rescued = claim(store, "rescuer").await;
    assert_eq!(rescued.id, b.id, "expired lease is taken over");
    assert_eq!(rescued.attempts, 2);
    assert_eq!(rescued.lease_owner.as_deref(), Some("rescuer"));
    assert_eq!(rescued.started_at, short.started_at, "started_at is kept");
    assert!(
        store
            .claim_task("other", Duration::from_secs(5))
            .await
            .unwrap()
            .is_none(),
        "live leases are not taken"
    );

    assert_eq!(
        store
            .renew_lease(b.id, "dead", Duration::from_secs(5))
            .await
            .unwrap(),
        LeaseStatus::Lost
    );
    assert_eq!(
        store
            .renew_lease(b.id, "rescuer", Duration::from_secs(5))
            .await
            .unwrap(),
        LeaseStatus::Held {
            stop_requested: false
        }
    );
    // A renewed lease does not expire.
    let renewed = store.get_task(b.id).await.unwrap().unwrap();
    assert!(renewed.lease_expires_at.unwrap() > Utc::now() + ChronoDuration::seconds(3));
    assert_eq!(
        store
            .get_task(a.id)
            .await
            .unwrap()
            .unwrap()
            .lease_owner
            .as_deref(),
        Some("alive")
    );
}

// ----- tasks: split --------------------------------------------------------------------------------

pub async fn split_points_every_until_and_keys(store: &Store) {
    // 10 learners, each with a p1 and a p2 module inserted one after the other: the p1 and p2
    // ids interleave.
    seed(store, 10).await;
    let (p1, p2) = (key("problem", "p1"), key("problem", "p2"));
    let split = |scope: ModuleScope, every: u64| async move {
        store.module_split_points(&scope, every).await.unwrap()
    };
    let p1_ids = ids(store, &p1_scope()).await;
    assert_eq!(p1_ids.len(), 10);

    // The id of every 3rd module: ranges of 3, 3, 3 and 1.
    assert_eq!(
        split(p1_scope(), 3).await,
        vec![p1_ids[2], p1_ids[5], p1_ids[8]]
    );
    // Never the last module's id, so that no range is empty.
    assert_eq!(split(p1_scope(), 5).await, vec![p1_ids[4]]);
    assert_eq!(split(p1_scope(), 1).await, p1_ids[..9].to_vec());
    // `every` or fewer modules: one range, no point.
    assert!(split(p1_scope(), 10).await.is_empty());
    assert!(split(p1_scope(), 1000).await.is_empty());
    assert!(split(scope(&[key("problem", "p3")]), 1).await.is_empty());
    // Either key form.
    assert_eq!(
        split(scope(&[legacy("problem", "p1")]), 3).await,
        vec![p1_ids[2], p1_ids[5], p1_ids[8]]
    );

    // until_id: only the modules up to it are cut.
    let until = |id: i64| ModuleScope {
        until_id: Some(id),
        ..p1_scope()
    };
    assert_eq!(split(until(p1_ids[6]), 3).await, vec![p1_ids[2], p1_ids[5]]);
    assert_eq!(
        split(until(p1_ids[5]), 3).await,
        vec![p1_ids[2]],
        "the 6th of 6 is the last"
    );
    assert_eq!(split(until(p1_ids[5] + 1), 3).await, vec![p1_ids[2]]);
    assert!(split(until(p1_ids[0]), 1).await.is_empty());
    assert!(split(until(0), 1).await.is_empty());

    // Several usage keys: their modules are merged in id order.
    let both = ids(store, &scope(&[p1.clone(), p2.clone()])).await;
    assert_eq!(both.len(), 20);
    let every4 = vec![both[3], both[7], both[11], both[15]];
    assert_eq!(split(scope(&[p2.clone(), p1.clone()]), 4).await, every4);
    assert_eq!(
        split(scope(&[]), 4).await,
        every4,
        "no key: the whole course"
    );
    assert_eq!(
        split(
            ModuleScope {
                until_id: Some(both[9]),
                ..scope(&[p1.clone(), p2.clone()])
            },
            4
        )
        .await,
        vec![both[3], both[7]]
    );
    // One learner's modules.
    let one = ModuleScope {
        learner_id: Some(1004),
        ..scope(&[])
    };
    let own = ids(store, &one).await;
    assert_eq!(own.len(), 2);
    assert_eq!(split(one, 1).await, vec![own[0]]);
}

pub async fn split_ranges_cover_every_module_once(store: &Store) {
    seed(store, 23).await;
    let all = fetch_all(store, &p1_scope(), 1000).await;
    assert_eq!(all.len(), 23);
    store.submit_task(&new_task("cover")).await.unwrap();
    let planned = claim(store, "planner").await;
    let points = store.module_split_points(&p1_scope(), 5).await.unwrap();
    assert_eq!(points.len(), 4);
    let task = store
        .split_task(planned.id, "planner", 23, &points)
        .await
        .unwrap();
    assert_eq!(
        (task.id, task.state, task.subtasks, task.total),
        (planned.id, TaskState::Running, 5, Some(23))
    );
    assert_eq!(store.get_task(task.id).await.unwrap().unwrap(), task);
    assert!(
        task.lease_expires_at.is_none(),
        "the planning lease is dropped"
    );

    // Planning is over: the planner's lease is gone and nobody plans the task again.
    assert_eq!(
        store.renew_lease(task.id, "planner", LEASE).await.unwrap(),
        LeaseStatus::Lost
    );
    assert_lease_lost(
        store.split_task(task.id, "planner", 23, &points).await,
        "second split",
    );
    assert_lease_lost(
        store
            .finish_task(task.id, "planner", FinalState::Success)
            .await,
        "finish_task after the split",
    );
    assert!(store.claim_task("w", LEASE).await.unwrap().is_none());

    // (0, p0], (p0, p1], ..., (p3, MAX], all queued with the cursor at the lower end.
    let subtasks = store.list_subtasks(task.id).await.unwrap();
    assert_eq!(subtasks.len(), 5);
    let mut covered = Vec::new();
    let mut after = 0;
    for (i, s) in subtasks.iter().enumerate() {
        assert_eq!(
            (s.task_id, s.index, s.after_id, s.state, s.cursor),
            (task.id, i as u32, after, TaskState::Queued, after)
        );
        assert_eq!(s.until_id, points.get(i).copied().unwrap_or(i64::MAX));
        assert_eq!((s.counts, s.attempts), (Counts::default(), 0));
        assert!(s.lease_owner.is_none() && s.started_at.is_none() && s.finished_at.is_none());
        assert!(s.error.is_none());
        let range = fetch_after(store, &range_scope(s), s.after_id, 2).await;
        assert_eq!(range.len(), if i < 4 { 5 } else { 3 }, "range {i}");
        assert_eq!(
            store.count_modules(&range_scope(s)).await.unwrap() as usize,
            covered.len() + range.len(),
            "count up to the end of range {i}"
        );
        covered.extend(range);
        after = s.until_id;
    }
    assert_eq!(covered, all, "every module exactly once, in id order");

    // The same holds on every scan path: one key, a few keys, many keys, the whole course, one
    // learner.
    let (p1, p2) = (key("problem", "p1"), key("problem", "p2"));
    let mut many: Vec<String> = (0..18).map(|i| key("problem", &format!("x{i}"))).collect();
    many.extend([p1.clone(), legacy("problem", "p2")]);
    for whole in [
        scope(&[legacy("problem", "p1")]),
        scope(&[p2.clone(), p1.clone()]),
        scope(&many),
        scope(&[]),
        ModuleScope {
            learner_id: Some(1007),
            ..scope(&[])
        },
    ] {
        let full = fetch_all(store, &whole, 1000).await;
        let points = store.module_split_points(&whole, 3).await.unwrap();
        let mut covered = Vec::new();
        let mut after = 0;
        for until in points.iter().copied().chain([i64::MAX]) {
            let range = ModuleScope {
                until_id: Some(until),
                ..whole.clone()
            };
            let part = fetch_after(store, &range, after, 2).await;
            assert!(
                !part.is_empty(),
                "{whole:?}: empty range ({after}, {until}]"
            );
            assert!(part.len() <= 3);
            assert_eq!(
                store.count_modules(&range).await.unwrap() as usize,
                covered.len() + part.len()
            );
            covered.extend(part);
            after = until;
        }
        assert_eq!(covered, full, "{whole:?}");
    }

    // A module created after the split falls into the last, open-ended range.
    let late = LearnerRecord {
        id: 9000,
        username: "late".into(),
        email: "late@example.com".into(),
    };
    store
        .upsert_learners(std::slice::from_ref(&late))
        .await
        .unwrap();
    store
        .insert_modules(&[NewModule {
            learner_id: late.id,
            course_key: COURSE.into(),
            usage_key: key("problem", "p1"),
            module_type: "problem".into(),
            state: None,
            grade: None,
            max_grade: None,
        }])
        .await
        .unwrap();
    let last = &subtasks[4];
    let tail = fetch_after(store, &range_scope(last), last.after_id, 100).await;
    assert_eq!(tail.len(), 4);
    assert_eq!(tail[3].learner_id, late.id);

    // Points that are not strictly increasing are refused and split nothing.
    store.submit_task(&new_task("bad points")).await.unwrap();
    let bad = claim(store, "planner").await;
    assert!(
        store
            .split_task(bad.id, "planner", 23, &[points[1], points[0]])
            .await
            .is_err()
    );
    assert_eq!(store.get_task(bad.id).await.unwrap().unwrap().subtasks, 0);
    assert!(store.list_subtasks(bad.id).await.unwrap().is_empty());
    // No point at all: one subtask for everything.
    let whole = store.split_task(bad.id, "planner", 23, &[]).await.unwrap();
    assert_eq!(whole.subtasks, 1);
    let only = store.list_subtasks(bad.id).await.unwrap();
    assert_eq!(
        only.iter()
            .map(|s| (s.index, s.after_id, s.until_id))
            .collect::<Vec<_>>(),
        vec![(0, 0, i64::MAX)]
    );
}

// ----- tasks: subtask claims -------------------------------------------------------------------------

pub async fn claim_subtask_order_and_restriction(store: &Store) {
    seed(store, 6).await;
    assert!(
        store
            .claim_subtask("w", LEASE, None)
            .await
            .unwrap()
            .is_none()
    );
    let a = store.submit_task(&new_task("a")).await.unwrap();
    let b = store.submit_task(&new_task("b")).await.unwrap();
    let c = store.submit_task(&new_task("c")).await.unwrap();
    let points = store.module_split_points(&p1_scope(), 2).await.unwrap();
    assert_eq!(points.len(), 2);

    // Queued tasks and tasks being planned have no subtask to hand out.
    let planning = claim(store, "planner").await;
    assert_eq!(planning.id, a.id);
    assert!(
        store
            .claim_subtask("w", LEASE, None)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .claim_subtask("w", LEASE, Some(a.id))
            .await
            .unwrap()
            .is_none()
    );
    store.split_task(a.id, "planner", 6, &points).await.unwrap();
    assert_eq!(plan(store, "planner", &points[..1]).await.id, b.id);

    let next = |worker: &'static str, only: Option<Uuid>| async move {
        let before = Utc::now();
        let claim = store.claim_subtask(worker, LEASE, only).await.unwrap()?;
        let s = &claim.subtask;
        assert_eq!(claim.task.id, s.task_id);
        assert_eq!(claim.task.state, TaskState::Running);
        assert_eq!(
            (s.state, s.lease_owner.as_deref(), s.attempts),
            (TaskState::Running, Some(worker), 1)
        );
        assert!(s.started_at.is_some());
        assert!(s.lease_expires_at.unwrap() > before + ChronoDuration::seconds(30));
        Some((s.task_id, s.index))
    };
    // The lowest index of the oldest task first ...
    assert_eq!(next("w1", None).await, Some((a.id, 0)));
    assert_eq!(next("w2", None).await, Some((a.id, 1)));
    // ... unless restricted to one task.
    assert_eq!(next("w3", Some(b.id)).await, Some((b.id, 0)));
    assert_eq!(next("w4", None).await, Some((a.id, 2)));
    assert_eq!(next("w5", Some(a.id)).await, None, "a has nothing left");
    assert_eq!(next("w5", None).await, Some((b.id, 1)));
    assert_eq!(next("w6", None).await, None);
    assert_eq!(next("w6", Some(c.id)).await, None, "c is still queued");
    // A worker that claims again takes its own running subtask back (e.g. after its run broke
    // off), with its progress.
    let own = store
        .claim_subtask("w2", LEASE, None)
        .await
        .unwrap()
        .expect("w2's own subtask");
    assert_eq!(
        (own.subtask.task_id, own.subtask.index, own.subtask.attempts),
        (a.id, 1, 2)
    );
    assert_eq!(own.subtask.lease_owner.as_deref(), Some("w2"));
    assert_eq!(
        store
            .list_subtasks(a.id)
            .await
            .unwrap()
            .iter()
            .map(|s| s.lease_owner.clone().unwrap())
            .collect::<Vec<_>>(),
        vec!["w1", "w2", "w4"]
    );
}

pub async fn concurrent_subtask_claims_never_overlap(store: &Store) {
    seed(store, 40).await;
    store.submit_task(&new_task("x")).await.unwrap();
    store.submit_task(&new_task("y")).await.unwrap();
    let every2 = store.module_split_points(&p1_scope(), 2).await.unwrap();
    let every4 = store.module_split_points(&p1_scope(), 4).await.unwrap();
    let x = plan(store, "planner", &every2).await;
    let y = plan(store, "planner", &every4).await;
    assert_eq!((x.subtasks, y.subtasks), (20, 10));

    let handles: Vec<_> = (0..8)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                // A new name per claim: a worker that claims again gets its own subtask back.
                let mut mine = Vec::new();
                for n in 0.. {
                    let worker = format!("c{w}.{n}");
                    match store.claim_subtask(&worker, LEASE, None).await.unwrap() {
                        Some(claim) => {
                            mine.push((claim.subtask.task_id, claim.subtask.index, worker))
                        }
                        None => break,
                    }
                }
                mine
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for h in handles {
        claimed.extend(h.await.unwrap());
    }
    let unique: HashSet<(Uuid, u32)> = claimed.iter().map(|(t, i, _)| (*t, *i)).collect();
    assert_eq!(claimed.len(), 30, "every subtask claimed once");
    assert_eq!(unique.len(), 30, "no subtask claimed twice");
    // Each is held by the worker that got it.
    for (task, index, worker) in &claimed {
        let s = subtask(store, *task, *index).await;
        assert_eq!(
            (s.state, s.lease_owner.as_deref(), s.attempts),
            (TaskState::Running, Some(worker.as_str()), 1)
        );
    }
}

pub async fn expired_subtask_is_reclaimed_and_resumes(store: &Store) {
    seed(store, 8).await;
    store.submit_task(&new_task("resume")).await.unwrap();
    let points = store.module_split_points(&p1_scope(), 4).await.unwrap();
    let task = plan(store, "planner", &points).await;

    // Subtask 0 is held by a live worker. Another worker commits one chunk of subtask 1, then
    // dies; its lease (1 ms, renewed by the commit for as long) runs out.
    let alive = take(store, "alive", task.id).await;
    assert_eq!(alive.index, 0);
    let dead = store
        .claim_subtask("dead", Duration::from_millis(1), None)
        .await
        .unwrap()
        .unwrap()
        .subtask;
    assert_eq!(dead.index, 1);
    let first = range_page(store, &dead, dead.cursor, 2).await;
    assert_eq!(first.len(), 2);
    let ack = store
        .commit_chunk(&rescore_chunk(&task, 1, dead.cursor, "dead", &first))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;

    let rescued = store
        .claim_subtask("rescuer", LEASE, None)
        .await
        .unwrap()
        .expect("the expired subtask");
    let r = &rescued.subtask;
    assert_eq!((r.task_id, r.index), (task.id, 1));
    assert_eq!((r.attempts, r.lease_owner.as_deref()), (2, Some("rescuer")));
    assert_eq!(r.started_at, dead.started_at, "started_at is kept");
    assert_eq!((r.after_id, r.until_id), (dead.after_id, dead.until_id));
    assert_eq!(
        (r.cursor, r.counts),
        (ack.cursor, ack.counts),
        "progress is kept"
    );
    assert!(r.lease_expires_at.unwrap() > Utc::now() + ChronoDuration::seconds(30));
    assert!(
        store
            .claim_subtask("other", LEASE, None)
            .await
            .unwrap()
            .is_none(),
        "a live lease is not taken"
    );
    assert!(
        store
            .claim_subtask("other", LEASE, Some(task.id))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        subtask(store, task.id, 0).await.lease_owner.as_deref(),
        Some("alive")
    );

    // The dead worker is fenced out; the rescuer continues after the stored cursor.
    assert_eq!(
        store
            .renew_subtask_lease(task.id, 1, "dead", LEASE)
            .await
            .unwrap(),
        LeaseStatus::Lost
    );
    let rest = range_page(store, r, r.cursor, 100).await;
    assert_eq!(rest.len(), 2);
    assert!(rest[0].id > first[1].id);
    assert_lease_lost(
        store
            .commit_chunk(&rescore_chunk(&task, 1, ack.cursor, "dead", &rest))
            .await,
        "the dead worker's next chunk",
    );
    let ack = store
        .commit_chunk(&rescore_chunk(&task, 1, r.cursor, "rescuer", &rest))
        .await
        .unwrap();
    assert_eq!((ack.counts.attempted, ack.cursor), (4, rest[1].id));
    assert_eq!(
        store
            .renew_subtask_lease(task.id, 0, "alive", LEASE)
            .await
            .unwrap(),
        LeaseStatus::Held {
            stop_requested: false
        }
    );
    let done = store
        .finish_subtask(task.id, 1, "rescuer", FinalState::Success)
        .await
        .unwrap();
    assert_eq!(done.state, TaskState::Running, "subtask 0 is still running");
    assert_eq!(subtask(store, task.id, 1).await.counts.attempted, 4);
    assert_eq!(store.count_outcomes(task.id, None).await.unwrap(), 4);
}

// ----- tasks: chunks -------------------------------------------------------------------------------

pub async fn commit_chunk_counts_cursor_and_effects(store: &Store) {
    seed(store, 10).await;
    let p1 = key("problem", "p1");
    store.submit_task(&new_task("p1")).await.unwrap();
    let (task, sub) = start(store, "w", &[]).await;
    assert_eq!(
        (sub.index, sub.after_id, sub.until_id, sub.cursor),
        (0, 0, i64::MAX, 0)
    );

    let page1 = range_page(store, &sub, sub.cursor, 6).await;
    let ack1 = store
        .commit_chunk(&rescore_chunk(&task, 0, sub.cursor, "w", &page1))
        .await
        .unwrap();
    assert_eq!(
        ack1.counts,
        Counts {
            attempted: 6,
            succeeded: 6,
            skipped: 0,
            failed: 0
        }
    );
    assert_eq!(
        (ack1.total, ack1.cursor, ack1.stop_requested),
        (Some(10), page1[5].id, false)
    );

    let page2 = range_page(store, &sub, ack1.cursor, 6).await;
    assert_eq!(page2.len(), 4);
    let mut chunk = rescore_chunk(&task, 0, ack1.cursor, "w", &page2);
    chunk.deltas = Counts {
        attempted: 4,
        succeeded: 2,
        skipped: 1,
        failed: 1,
    };
    chunk.outcomes[2].status = OutcomeStatus::Skipped;
    chunk.outcomes[2].reason = Some("no submission".into());
    chunk.outcomes[3].status = OutcomeStatus::Failed;
    chunk.outcomes[3].reason = Some("grader error".into());
    let ack2 = store.commit_chunk(&chunk).await.unwrap();
    assert_eq!(
        ack2.counts,
        Counts {
            attempted: 10,
            succeeded: 8,
            skipped: 1,
            failed: 1
        }
    );

    let stored = store.get_task(task.id).await.unwrap().unwrap();
    assert_eq!(stored.counts(), ack2.counts);
    assert!(stored.updated_at >= task.updated_at);
    let stored_sub = subtask(store, task.id, 0).await;
    assert_eq!(
        (stored_sub.cursor, stored_sub.counts),
        (page2[3].id, ack2.counts)
    );
    assert_eq!(ack2.cursor, page2[3].id);

    let m = store
        .get_module(page1[0].learner_id, COURSE, &p1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((m.grade, m.max_grade), (Some(2.0), Some(2.0)));
    assert!(m.state.unwrap().contains("rescored"));
    // p2 modules untouched.
    let other = store
        .get_module(page1[0].learner_id, COURSE, &key("problem", "p2"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(other.grade, Some(1.0));

    assert_eq!(store.count_outcomes(task.id, None).await.unwrap(), 10);
    assert_eq!(
        store
            .count_outcomes(task.id, Some(OutcomeStatus::Succeeded))
            .await
            .unwrap(),
        8
    );
    let failed = store
        .list_outcomes(task.id, Some(OutcomeStatus::Failed), 0, 10)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].reason.as_deref(), Some("grader error"));
    assert_eq!(failed[0].module_id, Some(page2[3].id));
    assert_eq!(
        (failed[0].old_grade, failed[0].new_grade),
        (Some(1.0), Some(2.0))
    );
    assert_eq!(store.count_events(task.id).await.unwrap(), 10);
    let done = store
        .finish_subtask(task.id, 0, "w", FinalState::Success)
        .await
        .unwrap();
    assert_eq!(done.state, TaskState::Success);
    assert!(done.finished_at.is_some());
    assert!(done.error.is_none());
    assert_eq!(done.counts(), ack2.counts);
}

pub async fn commit_chunk_inserts_and_deletes_modules(store: &Store) {
    let learners = seed(store, 4).await;
    let p3 = key("problem", "p3");
    store.submit_task(&new_task("override")).await.unwrap();
    let (task, _) = start(store, "w", &[]).await;
    // Override for a learner without a p3 module: insert, outcome resolved to the new row.
    let chunk = ChunkCommit {
        task_id: task.id,
        subtask: 0,
        worker: "w".into(),
        expected_cursor: 0,
        new_cursor: 0,
        deltas: Counts {
            attempted: 1,
            succeeded: 1,
            ..Counts::default()
        },
        module_updates: vec![],
        module_inserts: vec![NewModule {
            learner_id: learners[0].id,
            course_key: COURSE.into(),
            usage_key: p3.clone(),
            module_type: "problem".into(),
            state: Some("{}".into()),
            grade: Some(3.0),
            max_grade: Some(4.0),
        }],
        module_deletes: vec![],
        outcomes: vec![NewOutcome {
            module_id: None,
            learner_id: learners[0].id,
            username: learners[0].username.clone(),
            usage_key: p3.clone(),
            status: OutcomeStatus::Succeeded,
            reason: None,
            old_grade: None,
            old_max_grade: None,
            new_grade: Some(3.0),
            new_max_grade: Some(4.0),
        }],
        events: vec![NewEvent {
            task_id: None,
            event_type: "edx.grades.problem.score_overridden".into(),
            time: Utc::now(),
            username: learners[0].username.clone(),
            user_id: learners[0].id,
            course_key: COURSE.into(),
            usage_key: Some(p3.clone()),
            requester: "staff".into(),
            payload: json!({"new_weighted_earned": 3.0}).to_string(),
        }],
    };
    store.commit_chunk(&chunk).await.unwrap();
    let created = store
        .get_module(learners[0].id, COURSE, &p3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(created.grade, Some(3.0));
    let outcomes = store.list_outcomes(task.id, None, 0, 10).await.unwrap();
    assert_eq!(outcomes[0].module_id, Some(created.id));
    let events = store
        .list_events(&EventFilter {
            task_id: Some(task.id),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        events.len(),
        1,
        "an event without task id belongs to the committing task"
    );
    assert_eq!(events[0].payload, json!({"new_weighted_earned": 3.0}));

    // Delete state of learner 2's p1 module: the chunk covers it (the cursor was left at 0).
    let victim = store
        .get_module(learners[1].id, COURSE, &key("problem", "p1"))
        .await
        .unwrap()
        .unwrap();
    let delete = ChunkCommit {
        new_cursor: victim.id,
        module_inserts: vec![],
        module_deletes: vec![victim.id],
        outcomes: vec![],
        events: vec![],
        ..chunk
    };
    store.commit_chunk(&delete).await.unwrap();
    assert!(
        store
            .get_module(learners[1].id, COURSE, &key("problem", "p1"))
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn stale_worker_is_fenced_and_writes_nothing(store: &Store) {
    seed(store, 5).await;
    store.submit_task(&new_task("fence")).await.unwrap();

    // A planner whose lease expired is fenced out of planning.
    let zombie_plan = store
        .claim_task("zombie", Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let fresh = claim(store, "fresh").await;
    assert_eq!(fresh.id, zombie_plan.id);
    assert_lease_lost(
        store.split_task(fresh.id, "zombie", 5, &[]).await,
        "stale split",
    );
    assert_lease_lost(
        store
            .finish_task(fresh.id, "zombie", FinalState::Success)
            .await,
        "stale finish_task",
    );
    assert_eq!(
        store.renew_lease(fresh.id, "zombie", LEASE).await.unwrap(),
        LeaseStatus::Lost
    );
    let unsplit = store.get_task(fresh.id).await.unwrap().unwrap();
    assert_eq!(
        (unsplit.state, unsplit.subtasks, unsplit.total),
        (TaskState::Running, 0, None)
    );
    assert!(store.list_subtasks(fresh.id).await.unwrap().is_empty());
    let task = store.split_task(fresh.id, "fresh", 5, &[]).await.unwrap();

    // A subtask worker whose lease expired is fenced out of its subtask.
    let zombie = store
        .claim_subtask("zombie", Duration::from_millis(1), Some(task.id))
        .await
        .unwrap()
        .unwrap()
        .subtask;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let rescued = take(store, "fresh", task.id).await;
    assert_eq!((rescued.index, rescued.attempts), (zombie.index, 2));

    let modules = range_page(store, &zombie, 0, 100).await;
    assert_eq!(modules.len(), 5);
    let before = snapshot(store, task.id).await;
    let stale = rescore_chunk(&task, 0, zombie.cursor, "zombie", &modules);
    match store.commit_chunk(&stale).await {
        Err(StoreError::LeaseLost { task_id, worker }) => {
            assert_eq!((task_id, worker.as_str()), (task.id, "zombie"));
        }
        other => panic!("expected LeaseLost, got {other:?}"),
    }
    assert_eq!(
        store
            .renew_subtask_lease(task.id, 0, "zombie", LEASE)
            .await
            .unwrap(),
        LeaseStatus::Lost
    );
    assert_lease_lost(
        store
            .finish_subtask(task.id, 0, "zombie", FinalState::Success)
            .await,
        "stale finish_subtask",
    );
    // Nothing of the stale chunk is visible.
    assert_eq!(snapshot(store, task.id).await, before);
    let (after, subtasks, ..) = before;
    assert_eq!(
        (after.counts(), after.total, after.state),
        (Counts::default(), Some(5), TaskState::Running)
    );
    assert_eq!(
        (
            subtasks[0].counts,
            subtasks[0].cursor,
            subtasks[0].lease_owner.as_deref()
        ),
        (Counts::default(), 0, Some("fresh"))
    );
    assert_eq!(store.count_outcomes(task.id, None).await.unwrap(), 0);
    assert_eq!(store.count_events(task.id).await.unwrap(), 0);
    assert_eq!(range_page(store, &zombie, 0, 100).await, modules);

    // The current holder commits normally.
    let ack = store
        .commit_chunk(&rescore_chunk(&task, 0, rescued.cursor, "fresh", &modules))
        .await
        .unwrap();
    assert_eq!(ack.counts.succeeded, 5);
}

/// A chunk that fails part-way, after some of its writes went through, leaves nothing behind,
/// and the next chunk commits on the same connection as if it had never been tried.
pub async fn failed_chunk_writes_nothing(store: &Store) {
    seed(store, 4).await;
    store.submit_task(&new_task("half")).await.unwrap();
    let (task, sub) = start(store, "w", &[]).await;
    let modules = range_page(store, &sub, 0, 100).await;
    let before = snapshot(store, task.id).await;

    // Its updates are written first; then inserting a module of a learner who does not exist
    // breaks the foreign key, after them.
    let mut broken = rescore_chunk(&task, 0, sub.cursor, "w", &modules);
    broken.module_inserts.push(NewModule {
        learner_id: 999_999,
        course_key: COURSE.into(),
        usage_key: key("problem", "p3"),
        module_type: "problem".into(),
        state: None,
        grade: None,
        max_grade: None,
    });
    let refused = store.commit_chunk(&broken).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(snapshot(store, task.id).await, before);

    let ack = store
        .commit_chunk(&rescore_chunk(&task, 0, sub.cursor, "w", &modules))
        .await
        .unwrap();
    assert_eq!(ack.counts.succeeded, modules.len() as u64);
    assert_eq!(
        store.count_outcomes(task.id, None).await.unwrap(),
        modules.len() as u64
    );
}

pub async fn subtask_fence_checks_worker_cursor_and_state(store: &Store) {
    seed(store, 6).await;
    store.submit_task(&new_task("fence")).await.unwrap();
    let points = store.module_split_points(&p1_scope(), 3).await.unwrap();
    let (task, sub) = start(store, "w", &points).await;
    let first = range_page(store, &sub, sub.cursor, 2).await;
    let ack = store
        .commit_chunk(&rescore_chunk(&task, 0, sub.cursor, "w", &first))
        .await
        .unwrap();
    let rest = range_page(store, &sub, ack.cursor, 10).await;
    assert_eq!(rest.len(), 1);

    let before = snapshot(store, task.id).await;
    for (what, chunk) in [
        (
            "another worker",
            rescore_chunk(&task, 0, ack.cursor, "intruder", &rest),
        ),
        (
            "a replayed chunk (its predecessor is not the stored cursor)",
            rescore_chunk(&task, 0, sub.cursor, "w", &first),
        ),
        (
            "a chunk after a skipped one",
            rescore_chunk(&task, 0, rest[0].id, "w", &rest),
        ),
        (
            "a queued subtask the worker does not hold",
            rescore_chunk(&task, 1, points[0], "w", &rest),
        ),
        (
            "a subtask that does not exist",
            rescore_chunk(&task, 7, ack.cursor, "w", &rest),
        ),
        (
            "another task",
            ChunkCommit {
                task_id: Uuid::new_v4(),
                ..rescore_chunk(&task, 0, ack.cursor, "w", &rest)
            },
        ),
    ] {
        assert_lease_lost(store.commit_chunk(&chunk).await, what);
        assert_eq!(
            snapshot(store, task.id).await,
            before,
            "{what} wrote something"
        );
    }
    assert_eq!(
        store
            .renew_subtask_lease(task.id, 0, "intruder", LEASE)
            .await
            .unwrap(),
        LeaseStatus::Lost
    );
    assert_lease_lost(
        store
            .finish_subtask(task.id, 0, "intruder", FinalState::Success)
            .await,
        "finish by another worker",
    );
    assert_lease_lost(
        store
            .finish_subtask(task.id, 1, "w", FinalState::Success)
            .await,
        "finish of a queued subtask",
    );
    assert_eq!(snapshot(store, task.id).await, before);

    // The holder's next chunk passes; once the subtask is finished, nothing passes any more.
    let ack = store
        .commit_chunk(&rescore_chunk(&task, 0, ack.cursor, "w", &rest))
        .await
        .unwrap();
    let after_finish = store
        .finish_subtask(task.id, 0, "w", FinalState::Success)
        .await
        .unwrap();
    assert_eq!(
        after_finish.state,
        TaskState::Running,
        "subtask 1 is queued"
    );
    let before = snapshot(store, task.id).await;
    assert_lease_lost(
        store
            .commit_chunk(&rescore_chunk(&task, 0, ack.cursor, "w", &[]))
            .await,
        "a chunk of a finished subtask",
    );
    assert_eq!(
        store
            .renew_subtask_lease(task.id, 0, "w", LEASE)
            .await
            .unwrap(),
        LeaseStatus::Lost
    );
    assert_lease_lost(
        store
            .finish_subtask(task.id, 0, "w", FinalState::Failure { error: json!({}) })
            .await,
        "a second finish",
    );
    assert_eq!(snapshot(store, task.id).await, before);
    assert_eq!(before.1[0].state, TaskState::Success);
    assert_eq!(before.2, 3);
}

pub async fn outcome_is_recorded_once_per_module(store: &Store) {
    seed(store, 3).await;
    store.submit_task(&new_task("once")).await.unwrap();
    let (task, sub) = start(store, "w", &[]).await;
    let modules = range_page(store, &sub, 0, 100).await;
    // A chunk recording two outcomes for one module is refused and writes nothing ...
    let mut twice = rescore_chunk(&task, 0, 0, "w", &modules[..1]);
    twice.outcomes.extend(twice.outcomes.clone());
    let refused = store.commit_chunk(&twice).await;
    assert!(
        matches!(&refused, Err(StoreError::Invalid { message, .. }) if message.contains("module order")),
        "a chunk with two outcomes for one module: {refused:?}"
    );
    assert_eq!(store.count_outcomes(task.id, None).await.unwrap(), 0);
    // ... so the subtask's cursor has not moved and the real chunk goes in.
    let ack = store
        .commit_chunk(&rescore_chunk(&task, 0, 0, "w", &modules))
        .await
        .unwrap();
    // The same chunk delivered again (e.g. a retried commit) is refused by the cursor fence ...
    assert_lease_lost(
        store
            .commit_chunk(&rescore_chunk(&task, 0, 0, "w", &modules))
            .await,
        "a replayed chunk",
    );
    // ... and a later chunk naming the same modules again is refused before it writes.
    let mut again = rescore_chunk(&task, 0, ack.cursor, "w", &modules);
    again.new_cursor = ack.cursor + 1;
    let refused = store.commit_chunk(&again).await;
    assert!(
        matches!(&refused, Err(StoreError::Invalid { message, .. }) if message.contains("outside the chunk's range")),
        "a chunk re-sending committed modules: {refused:?}"
    );
    assert_eq!(store.count_outcomes(task.id, None).await.unwrap(), 3);
    let counts = store.get_task(task.id).await.unwrap().unwrap().counts();
    assert_eq!(counts.attempted, 3, "refused chunks count nothing");
    // Another task may record the same module.
    store
        .finish_subtask(task.id, 0, "w", FinalState::Success)
        .await
        .unwrap();
    store.submit_task(&new_task("once")).await.unwrap();
    let (second, _) = start(store, "w", &[]).await;
    store
        .commit_chunk(&rescore_chunk(&second, 0, 0, "w", &modules))
        .await
        .unwrap();
    assert_eq!(store.count_outcomes(second.id, None).await.unwrap(), 3);
}

pub async fn task_counters_are_the_sum_of_subtasks(store: &Store) {
    seed(store, 12).await;
    store.submit_task(&new_task("sum")).await.unwrap();
    let points = store.module_split_points(&p1_scope(), 4).await.unwrap();
    let task = plan(store, "planner", &points).await;
    // Progress: the total is set by the split.
    assert_eq!((task.total, task.counts()), (Some(12), Counts::default()));
    let workers = ["w0", "w1", "w2"];
    let mut subs = Vec::new();
    for w in workers {
        subs.push(take(store, w, task.id).await);
    }
    let mut cursors: Vec<i64> = subs.iter().map(|s| s.cursor).collect();
    let mut per_sub = [Counts::default(); 3];
    let mut expected = Counts::default();
    // Chunks of 2 modules, round robin over the three subtasks, with mixed outcomes.
    for round in 0..2u64 {
        for (i, s) in subs.iter().enumerate() {
            let page = range_page(store, s, cursors[i], 2).await;
            assert_eq!(page.len(), 2);
            let mut chunk = rescore_chunk(&task, s.index, cursors[i], workers[i], &page);
            let skipped = u64::from(i == 1);
            let failed = u64::from(round == 1 && i == 2);
            chunk.deltas = Counts {
                attempted: 2,
                succeeded: 2 - skipped - failed,
                skipped,
                failed,
            };
            let ack = store.commit_chunk(&chunk).await.unwrap();
            per_sub[i] = add(per_sub[i], chunk.deltas);
            expected = add(expected, chunk.deltas);
            cursors[i] = ack.cursor;
            assert_eq!(ack.cursor, page[1].id);
            assert_eq!((ack.counts, ack.total), (expected, Some(12)), "the task's");
            let listed = store.list_subtasks(task.id).await.unwrap();
            let sum = listed
                .iter()
                .fold(Counts::default(), |acc, s| add(acc, s.counts));
            let stored = store.get_task(task.id).await.unwrap().unwrap();
            assert_eq!((stored.counts(), sum), (expected, expected));
            assert_eq!(
                listed.iter().map(|s| s.counts).collect::<Vec<_>>(),
                per_sub.to_vec()
            );
        }
    }
    for (i, w) in workers.iter().enumerate() {
        store
            .finish_subtask(task.id, i as u32, w, FinalState::Success)
            .await
            .unwrap();
    }
    let done = store.get_task(task.id).await.unwrap().unwrap();
    assert_eq!(done.state, TaskState::Success);
    assert_eq!(
        done.counts(),
        Counts {
            attempted: 12,
            succeeded: 9,
            skipped: 2,
            failed: 1
        }
    );
}

// ----- tasks: finish, cancel, fail ---------------------------------------------------------------------

pub async fn finish_subtasks_success_and_failure(store: &Store) {
    seed(store, 4).await;
    let p1_ids = ids(store, &p1_scope()).await;

    // Every subtask succeeds: the last one to finish ends the task.
    store.submit_task(&new_task("ok")).await.unwrap();
    let ok = plan(store, "planner", &[p1_ids[1]]).await;
    take(store, "w0", ok.id).await;
    take(store, "w1", ok.id).await;
    let t = store
        .finish_subtask(ok.id, 1, "w1", FinalState::Success)
        .await
        .unwrap();
    assert_eq!((t.state, t.finished_at), (TaskState::Running, None));
    let s1 = subtask(store, ok.id, 1).await;
    assert_eq!(s1.state, TaskState::Success);
    assert!(s1.finished_at.is_some() && s1.error.is_none());
    let done = store
        .finish_subtask(ok.id, 0, "w0", FinalState::Success)
        .await
        .unwrap();
    assert_eq!(done.state, TaskState::Success);
    assert!(done.finished_at.is_some() && done.error.is_none());
    assert_eq!(store.get_task(ok.id).await.unwrap().unwrap(), done);
    assert_eq!(
        subtask_states(store, ok.id).await,
        vec![TaskState::Success; 2]
    );

    // One subtask fails: queued siblings are revoked, running ones told to stop, and the task
    // fails when the last one has stopped, with the first failure's error.
    store.submit_task(&new_task("bad")).await.unwrap();
    let bad = plan(store, "planner", &p1_ids[..3]).await;
    take(store, "w0", bad.id).await;
    let s1 = take(store, "w1", bad.id).await;
    take(store, "w2", bad.id).await;
    let error = json!({"exception": "GraderError", "message": "checker crashed"});
    let t = store
        .finish_subtask(
            bad.id,
            0,
            "w0",
            FinalState::Failure {
                error: error.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (t.state, t.error.clone(), t.finished_at),
        (TaskState::Running, Some(error.clone()), None)
    );
    let subs = store.list_subtasks(bad.id).await.unwrap();
    assert_eq!(
        subs.iter().map(|s| s.state).collect::<Vec<_>>(),
        vec![
            TaskState::Failure,
            TaskState::Running,
            TaskState::Running,
            TaskState::Revoked
        ]
    );
    assert_eq!(subs[0].error, Some(error.clone()));
    assert!(subs[0].finished_at.is_some() && subs[3].finished_at.is_some());

    let page = range_page(store, &s1, s1.cursor, 10).await;
    let ack = store
        .commit_chunk(&rescore_chunk(&bad, 1, s1.cursor, "w1", &page))
        .await
        .unwrap();
    assert!(
        ack.stop_requested,
        "a running sibling stops at its next chunk"
    );
    assert_eq!(ack.counts.attempted, 1);
    assert_eq!(
        store
            .renew_subtask_lease(bad.id, 2, "w2", LEASE)
            .await
            .unwrap(),
        LeaseStatus::Held {
            stop_requested: true
        },
        "... or at its next renewal"
    );
    assert!(
        store
            .claim_subtask("w9", LEASE, None)
            .await
            .unwrap()
            .is_none()
    );
    let t = store
        .finish_subtask(bad.id, 1, "w1", FinalState::Revoked)
        .await
        .unwrap();
    assert_eq!(t.state, TaskState::Running, "subtask 2 is still running");
    let other = json!({"message": "a second failure"});
    let failed = store
        .finish_subtask(
            bad.id,
            2,
            "w2",
            FinalState::Failure {
                error: other.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (failed.state, failed.error.clone()),
        (TaskState::Failure, Some(error)),
        "the first failure is the task's"
    );
    assert!(failed.finished_at.is_some());
    assert_eq!(
        failed.attempted, 1,
        "work done before the failure stays counted"
    );
    let subs = store.list_subtasks(bad.id).await.unwrap();
    assert_eq!(
        subs.iter().map(|s| s.state).collect::<Vec<_>>(),
        vec![
            TaskState::Failure,
            TaskState::Revoked,
            TaskState::Failure,
            TaskState::Revoked
        ]
    );
    assert_eq!(subs[2].error, Some(other));
    // The key is free again.
    store.submit_task(&new_task("bad")).await.unwrap();
}

pub async fn cancel_queued_and_running(store: &Store) {
    seed(store, 2).await;
    let queued = store.submit_task(&new_task("q")).await.unwrap();
    match store.request_cancel(queued.id).await.unwrap() {
        CancelOutcome::Revoked(t) => {
            assert_eq!(t.state, TaskState::Revoked);
            assert!(t.cancel_requested && t.finished_at.is_some());
        }
        other => panic!("expected Revoked, got {other:?}"),
    }
    assert!(
        store
            .claim_task("w", Duration::from_secs(5))
            .await
            .unwrap()
            .is_none(),
        "revoked is never claimed"
    );
    assert!(matches!(
        store.request_cancel(queued.id).await.unwrap(),
        CancelOutcome::AlreadyFinished(_)
    ));

    // Cancelled while being planned: the planner sees it at its renewal.
    store.submit_task(&new_task("planning")).await.unwrap();
    let planning = claim(store, "w").await;
    match store.request_cancel(planning.id).await.unwrap() {
        CancelOutcome::Requested(t) => {
            assert_eq!((t.state, t.cancel_requested), (TaskState::Running, true))
        }
        other => panic!("expected Requested, got {other:?}"),
    }
    assert_eq!(
        store
            .renew_lease(planning.id, "w", Duration::from_secs(5))
            .await
            .unwrap(),
        LeaseStatus::Held {
            stop_requested: true
        }
    );
    let revoked = store
        .finish_task(planning.id, "w", FinalState::Revoked)
        .await
        .unwrap();
    assert_eq!(revoked.state, TaskState::Revoked);

    // Cancelled while running: the subtask sees it at its renewal and its next chunk.
    store.submit_task(&new_task("r")).await.unwrap();
    let (running, sub) = start(store, "w", &[]).await;
    match store.request_cancel(running.id).await.unwrap() {
        CancelOutcome::Requested(t) => {
            assert_eq!((t.state, t.cancel_requested), (TaskState::Running, true))
        }
        other => panic!("expected Requested, got {other:?}"),
    }
    assert_eq!(
        store
            .renew_subtask_lease(running.id, 0, "w", Duration::from_secs(5))
            .await
            .unwrap(),
        LeaseStatus::Held {
            stop_requested: true
        }
    );
    let modules = range_page(store, &sub, 0, 1).await;
    let ack = store
        .commit_chunk(&rescore_chunk(&running, 0, 0, "w", &modules))
        .await
        .unwrap();
    assert!(ack.stop_requested);
    let revoked = store
        .finish_subtask(running.id, 0, "w", FinalState::Revoked)
        .await
        .unwrap();
    assert_eq!(revoked.state, TaskState::Revoked);
    assert!(revoked.finished_at.is_some());
    assert_eq!(
        revoked.attempted, 1,
        "work done before the cancel stays counted"
    );

    assert!(matches!(
        store.request_cancel(Uuid::new_v4()).await,
        Err(StoreError::NotFound { .. })
    ));

    // Cancel requested, then the planner died: the next claim revokes it instead of running it.
    let orphan = store.submit_task(&new_task("orphan")).await.unwrap();
    store
        .claim_task("dying", Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    store.request_cancel(orphan.id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        store
            .claim_task("w2", Duration::from_secs(5))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.get_task(orphan.id).await.unwrap().unwrap().state,
        TaskState::Revoked
    );
}

pub async fn cancel_split_task(store: &Store) {
    seed(store, 6).await;
    let p1_ids = ids(store, &p1_scope()).await;

    // Queued subtasks are revoked at once; the running one is told to stop, and the task ends
    // when it has.
    store.submit_task(&new_task("c1")).await.unwrap();
    let t1 = plan(store, "planner", &[p1_ids[1], p1_ids[3]]).await;
    let s0 = take(store, "w0", t1.id).await;
    let page = range_page(store, &s0, s0.cursor, 1).await;
    let ack = store
        .commit_chunk(&rescore_chunk(&t1, 0, s0.cursor, "w0", &page))
        .await
        .unwrap();
    assert!(!ack.stop_requested);
    match store.request_cancel(t1.id).await.unwrap() {
        CancelOutcome::Requested(t) => {
            assert_eq!((t.state, t.cancel_requested), (TaskState::Running, true))
        }
        other => panic!("expected Requested, got {other:?}"),
    }
    let subs = store.list_subtasks(t1.id).await.unwrap();
    assert_eq!(
        subs.iter().map(|s| s.state).collect::<Vec<_>>(),
        vec![TaskState::Running, TaskState::Revoked, TaskState::Revoked]
    );
    assert!(subs[1].finished_at.is_some() && subs[2].finished_at.is_some());
    assert_eq!(
        store
            .renew_subtask_lease(t1.id, 0, "w0", LEASE)
            .await
            .unwrap(),
        LeaseStatus::Held {
            stop_requested: true
        }
    );
    let page = range_page(store, &s0, ack.cursor, 1).await;
    let ack = store
        .commit_chunk(&rescore_chunk(&t1, 0, ack.cursor, "w0", &page))
        .await
        .unwrap();
    assert!(ack.stop_requested);
    assert!(
        store
            .claim_subtask("w1", LEASE, None)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .claim_subtask("w1", LEASE, Some(t1.id))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.get_task(t1.id).await.unwrap().unwrap().state,
        TaskState::Running
    );
    let done = store
        .finish_subtask(t1.id, 0, "w0", FinalState::Revoked)
        .await
        .unwrap();
    assert_eq!(done.state, TaskState::Revoked);
    assert!(done.finished_at.is_some());
    assert_eq!(
        done.attempted, 2,
        "work done before the cancel stays counted"
    );
    assert!(matches!(
        store.request_cancel(t1.id).await.unwrap(),
        CancelOutcome::AlreadyFinished(_)
    ));

    // The worker of the only running subtask died: the next claim_subtask ends the cancel.
    store.submit_task(&new_task("c2")).await.unwrap();
    let t2 = plan(store, "planner", &[p1_ids[2]]).await;
    take(store, "w", t2.id).await;
    let dying = store
        .claim_subtask("dying", Duration::from_millis(1), Some(t2.id))
        .await
        .unwrap()
        .unwrap()
        .subtask;
    assert_eq!(dying.index, 1);
    store
        .finish_subtask(t2.id, 0, "w", FinalState::Success)
        .await
        .unwrap();
    assert!(matches!(
        store.request_cancel(t2.id).await.unwrap(),
        CancelOutcome::Requested(_)
    ));
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        store
            .claim_subtask("w2", LEASE, None)
            .await
            .unwrap()
            .is_none()
    );
    let t = store.get_task(t2.id).await.unwrap().unwrap();
    assert_eq!(t.state, TaskState::Revoked);
    assert!(t.finished_at.is_some());
    assert_eq!(
        subtask_states(store, t2.id).await,
        vec![TaskState::Success, TaskState::Revoked]
    );
    assert_eq!(
        store
            .renew_subtask_lease(t2.id, 1, "dying", LEASE)
            .await
            .unwrap(),
        LeaseStatus::Lost
    );

    // No live subtask left after the queued ones are revoked: the cancel ends the task at once.
    store.submit_task(&new_task("c3")).await.unwrap();
    let t3 = plan(store, "planner", &[p1_ids[2]]).await;
    match store.request_cancel(t3.id).await.unwrap() {
        CancelOutcome::Revoked(t) => {
            assert_eq!((t.state, t.cancel_requested), (TaskState::Revoked, true));
            assert!(t.finished_at.is_some());
        }
        other => panic!("expected Revoked, got {other:?}"),
    }
    assert_eq!(
        subtask_states(store, t3.id).await,
        vec![TaskState::Revoked; 2]
    );
    // Cancelled during planning and split anyway: the subtasks are revoked instead of handed
    // out, and that ends the task.
    store.submit_task(&new_task("c5")).await.unwrap();
    let planning = claim(store, "planner").await;
    store.request_cancel(planning.id).await.unwrap();
    let t5 = store
        .split_task(planning.id, "planner", 6, &[p1_ids[2]])
        .await
        .unwrap();
    assert!(t5.cancel_requested);
    assert!(
        store
            .claim_subtask("w", LEASE, None)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.get_task(t5.id).await.unwrap().unwrap().state,
        TaskState::Revoked
    );
    assert_eq!(
        subtask_states(store, t5.id).await,
        vec![TaskState::Revoked; 2]
    );

    store.submit_task(&new_task("c4")).await.unwrap();
    let t4 = plan(store, "planner", &[p1_ids[2]]).await;
    take(store, "w", t4.id).await;
    store
        .finish_subtask(t4.id, 0, "w", FinalState::Success)
        .await
        .unwrap();
    match store.request_cancel(t4.id).await.unwrap() {
        CancelOutcome::Revoked(t) => assert_eq!(t.state, TaskState::Revoked),
        other => panic!("expected Revoked, got {other:?}"),
    }
    assert_eq!(
        subtask_states(store, t4.id).await,
        vec![TaskState::Success, TaskState::Revoked]
    );
    assert!(
        store
            .claim_subtask("w", LEASE, None)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn finish_and_force_fail(store: &Store) {
    store.submit_task(&new_task("f1")).await.unwrap();
    let task = claim(store, "w").await;
    let error = json!({"exception": "ValueError", "message": "bad input"});
    let failed = store
        .finish_task(
            task.id,
            "w",
            FinalState::Failure {
                error: error.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (failed.state, failed.error.clone()),
        (TaskState::Failure, Some(error))
    );
    assert!(failed.state.is_ready());
    assert!(matches!(
        store.finish_task(task.id, "w", FinalState::Success).await,
        Err(StoreError::LeaseLost { .. })
    ));

    // Operator force-fail of a task being planned: its planner is fenced out.
    store.submit_task(&new_task("f2")).await.unwrap();
    let stuck = claim(store, "w").await;
    let forced = store.fail_task(stuck.id, "stuck for 3 days").await.unwrap();
    assert_eq!(forced.state, TaskState::Failure);
    assert_eq!(
        forced.error.as_ref().unwrap()["message"],
        json!("stuck for 3 days")
    );
    assert_eq!(
        store
            .renew_lease(stuck.id, "w", Duration::from_secs(5))
            .await
            .unwrap(),
        LeaseStatus::Lost
    );
    assert_lease_lost(
        store.split_task(stuck.id, "w", 0, &[]).await,
        "split after a force-fail",
    );
    assert!(matches!(
        store.fail_task(stuck.id, "again").await,
        Err(StoreError::TaskFinished {
            state: TaskState::Failure,
            ..
        })
    ));
    // ... and of a queued one.
    let queued = store.submit_task(&new_task("f3")).await.unwrap();
    assert_eq!(
        store
            .fail_task(queued.id, "never mind")
            .await
            .unwrap()
            .state,
        TaskState::Failure
    );
    assert!(matches!(
        store.fail_task(Uuid::new_v4(), "x").await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn fail_task_fails_unfinished_subtasks(store: &Store) {
    seed(store, 6).await;
    let p1_ids = ids(store, &p1_scope()).await;
    store.submit_task(&new_task("stuck")).await.unwrap();
    let task = plan(store, "planner", &[p1_ids[1], p1_ids[3]]).await;
    let s0 = take(store, "w0", task.id).await;
    take(store, "w1", task.id).await;
    store
        .finish_subtask(task.id, 1, "w1", FinalState::Success)
        .await
        .unwrap();

    let forced = store.fail_task(task.id, "stuck for 3 days").await.unwrap();
    assert_eq!(forced.state, TaskState::Failure);
    assert!(forced.finished_at.is_some());
    assert_eq!(
        forced.error.as_ref().unwrap()["message"],
        "stuck for 3 days"
    );
    let subs = store.list_subtasks(task.id).await.unwrap();
    assert_eq!(
        subs.iter().map(|s| s.state).collect::<Vec<_>>(),
        vec![TaskState::Failure, TaskState::Success, TaskState::Failure],
        "unfinished subtasks fail, finished ones stay"
    );
    for s in [&subs[0], &subs[2]] {
        assert!(s.finished_at.is_some());
        assert_eq!(s.error.as_ref().unwrap()["message"], "stuck for 3 days");
    }
    assert!(subs[1].error.is_none());

    // The worker of the running subtask is fenced out and writes nothing.
    let before = snapshot(store, task.id).await;
    let page = range_page(store, &s0, s0.cursor, 2).await;
    assert_lease_lost(
        store
            .commit_chunk(&rescore_chunk(&task, 0, s0.cursor, "w0", &page))
            .await,
        "a chunk after a force-fail",
    );
    assert_eq!(
        store
            .renew_subtask_lease(task.id, 0, "w0", LEASE)
            .await
            .unwrap(),
        LeaseStatus::Lost
    );
    assert_lease_lost(
        store
            .finish_subtask(task.id, 0, "w0", FinalState::Success)
            .await,
        "finish after a force-fail",
    );
    assert_eq!(snapshot(store, task.id).await, before);
    assert!(
        store
            .claim_subtask("w", LEASE, None)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.fail_task(task.id, "again").await,
        Err(StoreError::TaskFinished {
            state: TaskState::Failure,
            ..
        })
    ));
}

// ----- workers -------------------------------------------------------------------------------------

pub async fn workers_registry(store: &Store) {
    let forever = Duration::from_secs(3600);
    assert!(store.list_workers(forever).await.unwrap().is_empty());
    let started = Utc::now().trunc_subsecs(6) - ChronoDuration::minutes(5);
    let task = Uuid::new_v4();
    let heartbeat = |name: &str, current: Option<(Uuid, u32)>, processed: u64| WorkerHeartbeat {
        name: name.into(),
        host: "host-a".into(),
        pid: 4242,
        started_at: started,
        current,
        processed,
    };
    let names =
        |workers: &[WorkerRecord]| workers.iter().map(|w| w.name.clone()).collect::<Vec<_>>();
    // Distinct heartbeat times, whatever the clock's resolution.
    let tick = || tokio::time::sleep(Duration::from_millis(3));

    store.record_worker(&heartbeat("a", None, 0)).await.unwrap();
    tick().await;
    store
        .record_worker(&heartbeat("b", Some((task, 3)), 10))
        .await
        .unwrap();
    tick().await;
    store.record_worker(&heartbeat("c", None, 0)).await.unwrap();
    let listed = store.list_workers(forever).await.unwrap();
    assert_eq!(
        names(&listed),
        ["c", "b", "a"],
        "most recent heartbeat first"
    );
    let b = &listed[1];
    assert_eq!(
        (b.host.as_str(), b.pid, b.started_at, b.current, b.processed),
        ("host-a", 4242, started, Some((task, 3)), 10)
    );
    assert!((Utc::now() - b.last_heartbeat).abs() < ChronoDuration::seconds(30));
    let a_first = listed[2].last_heartbeat;

    // A heartbeat of a known name updates its entry.
    tick().await;
    store
        .record_worker(&heartbeat("a", Some((task, 1)), 500))
        .await
        .unwrap();
    let listed = store.list_workers(forever).await.unwrap();
    assert_eq!(names(&listed), ["a", "c", "b"]);
    let a = &listed[0];
    assert_eq!(
        (a.current, a.processed, a.started_at),
        (Some((task, 1)), 500, started)
    );
    assert!(a.last_heartbeat > a_first);

    // A clean shutdown removes the entry (an unknown name is no error).
    store.remove_worker("b").await.unwrap();
    store.remove_worker("nobody").await.unwrap();
    assert_eq!(
        names(&store.list_workers(forever).await.unwrap()),
        ["a", "c"]
    );

    // Entries without a heartbeat for longer than `forget_after` are forgotten.
    tokio::time::sleep(Duration::from_millis(50)).await;
    store.record_worker(&heartbeat("c", None, 7)).await.unwrap();
    let since_c = std::time::Instant::now();
    // "a" is at least 50 ms older than "c": forget what is older than c's age plus 30 ms.
    let listed = store
        .list_workers(since_c.elapsed() + Duration::from_millis(30))
        .await
        .unwrap();
    assert_eq!(names(&listed), ["c"]);
    assert_eq!(names(&store.list_workers(forever).await.unwrap()), ["c"]);
}

pub async fn wait_for_work_returns_by_its_timeout(store: &Store) {
    let started = std::time::Instant::now();
    let (a, b) = tokio::join!(
        store.wait_for_work(Duration::from_millis(30)),
        store.wait_for_work(Duration::from_millis(50)),
    );
    a.unwrap();
    b.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
}

pub async fn wait_for_work_returns_at_once_when_work_is_queued(store: &Store) {
    store.submit_task(&new_task("waiting")).await.unwrap();
    let started = std::time::Instant::now();
    store.wait_for_work(Duration::from_secs(20)).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a queued task is work: no waiting for a wake-up that already happened"
    );
}

// ----- listings ------------------------------------------------------------------------------------

pub async fn list_tasks_filters_and_order(store: &Store) {
    let mut ids = Vec::new();
    for (i, (course, ty, requester)) in [
        (COURSE, "rescore_problem", "alice"),
        (COURSE, "reset_problem_attempts", "bob"),
        (OTHER_COURSE, "rescore_problem", "alice"),
        (COURSE, "rescore_problem", "bob"),
    ]
    .into_iter()
    .enumerate()
    {
        let t = NewTask {
            course_key: course.into(),
            task_type: ty.into(),
            requester: requester.into(),
            ..new_task(&format!("k{i}"))
        };
        ids.push(store.submit_task(&t).await.unwrap().id);
    }
    let running = claim(store, "w").await; // the oldest
    assert_eq!(running.id, ids[0]);

    let all: Vec<Uuid> = store
        .list_tasks(&TaskFilter::default())
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(all, vec![ids[3], ids[2], ids[1], ids[0]], "newest first");

    let list = |f: TaskFilter| async move {
        store
            .list_tasks(&f)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        list(TaskFilter {
            course_key: Some(COURSE.into()),
            ..Default::default()
        })
        .await,
        vec![ids[3], ids[1], ids[0]]
    );
    assert_eq!(
        list(TaskFilter {
            requester: Some("alice".into()),
            ..Default::default()
        })
        .await,
        vec![ids[2], ids[0]]
    );
    assert_eq!(
        list(TaskFilter {
            task_type: Some("reset_problem_attempts".into()),
            ..Default::default()
        })
        .await,
        vec![ids[1]]
    );
    assert_eq!(
        list(TaskFilter {
            task_key: Some("k2".into()),
            ..Default::default()
        })
        .await,
        vec![ids[2]]
    );
    assert_eq!(
        list(TaskFilter {
            states: vec![TaskState::Running],
            ..Default::default()
        })
        .await,
        vec![ids[0]]
    );
    assert_eq!(
        list(TaskFilter {
            states: vec![TaskState::Running, TaskState::Queued],
            limit: Some(2),
            ..Default::default()
        })
        .await,
        vec![ids[3], ids[2]]
    );
    assert!(
        list(TaskFilter {
            states: vec![TaskState::Success],
            ..Default::default()
        })
        .await
        .is_empty()
    );
    let got = store.get_task(ids[2]).await.unwrap().unwrap();
    assert_eq!(got.input["only_if_higher"], json!(false));
    assert!(store.get_task(Uuid::new_v4()).await.unwrap().is_none());
}

pub async fn outcomes_and_events_paging(store: &Store) {
    seed(store, 30).await;
    let p1 = key("problem", "p1");
    store.submit_task(&new_task("page")).await.unwrap();
    let (task, sub) = start(store, "w", &[]).await;
    let modules = range_page(store, &sub, 0, 100).await;
    let mut chunk = rescore_chunk(&task, 0, 0, "w", &modules);
    for (i, o) in chunk.outcomes.iter_mut().enumerate() {
        o.status = [
            OutcomeStatus::Succeeded,
            OutcomeStatus::Skipped,
            OutcomeStatus::Failed,
        ][i % 3];
    }
    store.commit_chunk(&chunk).await.unwrap();
    // Events outside any task.
    let outside = NewEvent {
        task_id: None,
        ..chunk.events[0].clone()
    };
    assert_eq!(
        store
            .insert_events(&[outside.clone(), outside])
            .await
            .unwrap(),
        2
    );

    let mut ids = Vec::new();
    let mut after = 0;
    loop {
        let page = store.list_outcomes(task.id, None, after, 7).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().unwrap().id;
        ids.extend(page.iter().map(|o| o.id));
    }
    assert_eq!(ids.len(), 30);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let failed = store
        .list_outcomes(task.id, Some(OutcomeStatus::Failed), 0, 100)
        .await
        .unwrap();
    assert_eq!(failed.len(), 10);
    assert!(
        failed
            .iter()
            .all(|o| o.status == OutcomeStatus::Failed && o.task_id == task.id)
    );
    assert_eq!(
        store
            .count_outcomes(task.id, Some(OutcomeStatus::Skipped))
            .await
            .unwrap(),
        10
    );

    assert_eq!(store.count_events(task.id).await.unwrap(), 30);
    let first = store
        .list_events(&EventFilter {
            task_id: Some(task.id),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(first.len(), 10);
    assert_eq!(first[0].event_type, "edx.grades.problem.rescored");
    assert_eq!(first[0].usage_key.as_deref(), Some(p1.as_str()));
    let rest = store
        .list_events(&EventFilter {
            task_id: Some(task.id),
            after_id: first[9].id,
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rest.len(), 20);
    let by_course = store
        .list_events(&EventFilter {
            course_key: Some(COURSE.into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_course.len(), 32);
    let every = store
        .list_events(&EventFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(every.iter().filter(|e| e.task_id.is_none()).count(), 2);
    assert!(
        store
            .list_events(&EventFilter {
                course_key: Some(OTHER_COURSE.into()),
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .is_empty()
    );
}

/// The payloads of the store's first 100 events, in id order.
pub async fn event_payloads(store: &Store) -> Result<Vec<serde_json::Value>, StoreError> {
    let events = store
        .list_events(&EventFilter {
            limit: 100,
            ..Default::default()
        })
        .await?;
    Ok(events.into_iter().map(|e| e.payload).collect())
}

/// Event payloads of every size come back as written, in one chunk and in batches of one and
/// two (the SQLite driver packs a batch's payloads against its first one).
pub async fn event_payloads_come_back_as_written(store: &Store) {
    seed(store, 8).await;
    store.submit_task(&new_task("payloads")).await.unwrap();
    let (task, sub) = start(store, "w", &[]).await;
    let modules = range_page(store, &sub, 0, 100).await;
    let mut chunk = rescore_chunk(&task, 0, 0, "w", &modules);
    let payloads: Vec<serde_json::Value> = (0..modules.len())
        .map(|i| match i {
            // Tiny, then one longer than any dictionary, then rescore-like siblings.
            0 => json!({}),
            1 => json!({"state": "x".repeat(40_000), "n": i}),
            _ => json!({
                "state": {"attempts": i, "student_answers": {"p1_2_1": format!("ans\"wer {i} é ✓")},
                          "correct_map": {"p1_2_1": {"correctness": if i % 2 == 0 { "correct" } else { "incorrect" },
                                                     "npoints": null, "msg": "<p>\u{1}</p>"}}},
                "problem_id": modules[i].usage_key,
                "orig_score": i % 2, "orig_total": 1, "new_score": 1, "new_total": 1,
                "student": modules[i].username, "task_id": task.id.to_string(),
            }),
        })
        .collect();
    for (event, payload) in chunk.events.iter_mut().zip(&payloads) {
        event.payload = payload.to_string();
    }
    store.commit_chunk(&chunk).await.unwrap();
    let lone = NewEvent {
        task_id: None,
        ..chunk.events[2].clone()
    };
    let pair = [chunk.events[3].clone(), chunk.events[4].clone()];
    store.insert_events(&[lone]).await.unwrap();
    store.insert_events(&pair).await.unwrap();

    let read = event_payloads(store).await.unwrap();
    let mut expected = payloads.clone();
    expected.extend([
        payloads[2].clone(),
        payloads[3].clone(),
        payloads[4].clone(),
    ]);
    assert_eq!(read, expected);
}

pub async fn task_state_strings(_store: &Store) {
    for state in TaskState::ALL {
        assert_eq!(state.as_str().parse::<TaskState>().unwrap(), state);
        assert_eq!(serde_json::to_value(state).unwrap(), json!(state.as_str()));
    }
    assert_eq!("running".parse::<TaskState>().unwrap(), TaskState::Running);
    assert!("PROGRESS".parse::<TaskState>().is_err());
    assert!(!TaskState::Queued.is_ready() && !TaskState::Running.is_ready());
}

/// Learner data from Open edX: learner pages, clash checks, and module writes that keep ids.
pub async fn learner_data_import_keeps_ids(store: &Store) {
    let learners = seed(store, 3).await;
    // list_learners pages in id order.
    let first = store.list_learners(0, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![1001, 1002]
    );
    let rest = store.list_learners(1002, 2).await.unwrap();
    assert_eq!(rest, vec![learners[2].clone()]);

    // check_learners: a username or email of another id clashes; the same id does not.
    let clashes = store
        .check_learners(&[
            learners[0].clone(),
            LearnerRecord {
                id: 5,
                username: "learner2".into(),
                email: "new@example.com".into(),
            },
            LearnerRecord {
                id: 6,
                username: "learner3".into(),
                email: "learner1@example.com".into(),
            },
        ])
        .await
        .unwrap();
    let got: Vec<(usize, &str, i64)> = clashes
        .iter()
        .map(|c| (c.index, c.column.as_str(), c.other_id))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "username", 1002),
            (2, "username", 1003),
            (2, "email", 1001)
        ]
    );

    // import_modules keeps the given ids, replaces by id or by (learner, block, course), and
    // rejects unknown learners and ids that hold another learner's module.
    let at = Utc::now().trunc_subsecs(6);
    let module = |id: i64, learner_id: i64, block: &str| ModuleRecord {
        id,
        learner_id,
        username: String::new(),
        course_key: COURSE.into(),
        usage_key: key("problem", block),
        module_type: "problem".into(),
        state: Some(format!(r#"{{"imported": {id}}}"#)),
        grade: Some(0.5),
        max_grade: Some(1.0),
        done: "i".into(),
        created: at - ChronoDuration::days(30),
        modified: at,
    };
    let existing = store
        .get_module(1001, COURSE, &key("problem", "p1"))
        .await
        .unwrap()
        .unwrap();
    let batch = vec![
        module(900_000, 1001, "p3"),     // new: takes id 900000
        module(900_001, 9_999, "p3"),    // unknown learner
        module(existing.id, 1002, "p3"), // id holds learner 1001's p1 module
        module(900_002, 1001, "p1"),     // (learner, block) exists: replaces it, keeps its id
        module(0, 1002, "p3"),           // no id: assigned
    ];
    assert_eq!(store.check_modules(&batch).await.unwrap().len(), 2);
    let report = store.import_modules(&batch).await.unwrap();
    assert_eq!(report.written, 3);
    assert_eq!(
        report.rejected,
        vec![
            (1, ModuleRejection::UnknownLearner),
            (
                2,
                ModuleRejection::IdTaken {
                    learner_id: 1001,
                    usage_key: key("problem", "p1"),
                    course_key: COURSE.into()
                }
            ),
        ]
    );
    let kept = store
        .get_module(1001, COURSE, &key("problem", "p3"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (kept.id, kept.done.as_str(), kept.created),
        (900_000, "i", at - ChronoDuration::days(30))
    );
    let replaced = store
        .get_module(1001, COURSE, &key("problem", "p1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (replaced.id, replaced.state.as_deref()),
        (existing.id, Some(r#"{"imported": 900002}"#))
    );
    // Importing the same rows again changes nothing and rejects the same ones.
    let before = fetch_all(store, &scope(&[]), 100).await;
    let again = store.import_modules(&batch).await.unwrap();
    assert_eq!((again.written, again.rejected.len()), (3, 2));
    assert_eq!(fetch_all(store, &scope(&[]), 100).await, before);
}

fn new_token(user: &str, role: Role, course: Option<&str>, hash: &str) -> NewToken {
    NewToken {
        user: user.into(),
        role,
        course_key: course.map(str::to_owned),
        hash: hash.into(),
    }
}

/// Tokens: created with their role and course, found by hash until revoked, listed with the
/// revoked ones; a hash is unique and an empty user or hash is refused.
pub async fn tokens_create_find_revoke_list(store: &Store) {
    assert!(store.list_tokens().await.unwrap().is_empty());
    let before = Utc::now() - ChronoDuration::seconds(5);
    let admin = store
        .create_token(&new_token("ada", Role::Admin, None, "h-admin"))
        .await
        .unwrap();
    assert_eq!(admin.user, "ada");
    assert_eq!(admin.role, Role::Admin);
    assert_eq!(admin.course_key, None);
    assert_eq!(admin.hash, "h-admin");
    assert!(admin.created_at >= before && admin.revoked_at.is_none());
    let staff = store
        .create_token(&new_token("sam", Role::Staff, Some(COURSE), "h-staff"))
        .await
        .unwrap();
    assert!(staff.id > admin.id);
    assert_eq!(staff.course_key.as_deref(), Some(COURSE));

    assert_eq!(
        store.find_token("h-staff").await.unwrap(),
        Some(staff.clone())
    );
    assert_eq!(store.find_token("h-unknown").await.unwrap(), None);

    // The same hash twice would make one secret open two tokens.
    let dup = store
        .create_token(&new_token("eve", Role::Instructor, None, "h-staff"))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict { .. })), "{dup:?}");
    for bad in [
        new_token(" ", Role::Staff, None, "h-x"),
        new_token("x", Role::Staff, None, ""),
    ] {
        let refused = store.create_token(&bad).await;
        assert!(
            matches!(refused, Err(StoreError::Invalid { .. })),
            "{refused:?}"
        );
    }

    let revoked = store.revoke_token(staff.id).await.unwrap();
    let revoked_at = revoked.revoked_at.expect("revocation time");
    assert_eq!(store.find_token("h-staff").await.unwrap(), None);
    assert_eq!(
        store.find_token("h-admin").await.unwrap(),
        Some(admin.clone())
    );
    // Revoking again changes nothing.
    let again = store.revoke_token(staff.id).await.unwrap();
    assert_eq!(again.revoked_at, Some(revoked_at));
    let missing = store.revoke_token(staff.id + 1000).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { what: "token", .. })),
        "{missing:?}"
    );

    let all = store.list_tokens().await.unwrap();
    assert_eq!(all, vec![admin, again]);
}

/// Runs `$m!(name, ...)` with every suite function, so each backend's test file lists them once.
#[macro_export]
macro_rules! for_each_suite_test {
    ($m:ident) => {
        $m!(
            courses_upsert_and_list,
            blocks_tree_order_and_key_forms,
            problem_versions_only_on_change,
            import_is_all_or_nothing,
            learners_upsert_and_find,
            modules_count_fetch_and_get,
            learner_data_import_keeps_ids,
            module_scan_many_keys,
            module_stream_with_concurrent_inserts,
            dedup_refuses_identical_active_task,
            dedup_concurrent_submits_one_wins,
            claim_oldest_first_and_never_twice,
            expired_lease_is_reclaimed_live_one_is_not,
            split_points_every_until_and_keys,
            split_ranges_cover_every_module_once,
            claim_subtask_order_and_restriction,
            concurrent_subtask_claims_never_overlap,
            expired_subtask_is_reclaimed_and_resumes,
            commit_chunk_counts_cursor_and_effects,
            commit_chunk_inserts_and_deletes_modules,
            stale_worker_is_fenced_and_writes_nothing,
            failed_chunk_writes_nothing,
            subtask_fence_checks_worker_cursor_and_state,
            outcome_is_recorded_once_per_module,
            task_counters_are_the_sum_of_subtasks,
            finish_subtasks_success_and_failure,
            cancel_queued_and_running,
            cancel_split_task,
            finish_and_force_fail,
            fail_task_fails_unfinished_subtasks,
            workers_registry,
            wait_for_work_returns_by_its_timeout,
            wait_for_work_returns_at_once_when_work_is_queued,
            list_tasks_filters_and_order,
            outcomes_and_events_paging,
            event_payloads_come_back_as_written,
            task_state_strings,
            tokens_create_find_revoke_list
        );
    };
}
