//! End-to-end behaviour of tasks on the embedded store: submit validation and dedup, every task
//! type with its counts, outcomes, events and status message, cancel, fatal errors that keep the
//! counts reached, and resumption after an abandoned run.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use common::*;
use coursetasks_engine::{
    NoProgress, ProgressFn, SubmitError, SubmitRequest, Worker, WorkerConfig, submit,
};
use coursetasks_store::{
    CancelOutcome, EventFilter, OutcomeStatus, Store, TaskFilter, TaskRecord, TaskState,
};
use coursetasks_tasks::{Target, TaskKind};

fn problem(key: &str) -> Target {
    Target::Problem(key.to_owned())
}

fn worker(store: &Store, chunk: u32) -> Worker {
    let mut config = WorkerConfig::new(WorkerConfig::unique_name("test"));
    config.chunk_size = chunk;
    Worker::new(store.clone(), config)
}

async fn run(store: &Store, task: &TaskRecord, chunk: u32) -> TaskRecord {
    let done = worker(store, chunk)
        .run_next(&NoProgress)
        .await
        .expect("worker")
        .expect("a task to run");
    assert_eq!(done.id, task.id, "the worker ran the submitted task");
    done
}

async fn all_outcomes(store: &Store, task: &TaskRecord) -> Vec<coursetasks_store::OutcomeRecord> {
    store
        .list_outcomes(task.id, None, 0, 1_000_000)
        .await
        .expect("outcomes")
}

async fn event_count(store: &Store, task: &TaskRecord) -> u64 {
    store.count_events(task.id).await.expect("events")
}

fn message(task: &TaskRecord) -> String {
    coursetasks_engine::TaskView::new(task, Utc::now()).message
}

async fn task_count(store: &Store) -> usize {
    store
        .list_tasks(&TaskFilter::default())
        .await
        .expect("list")
        .len()
}

#[tokio::test]
async fn rescore_all_after_fixing_the_key_updates_grades_and_records_everything() {
    let (store, _dir) = fresh_store().await;
    load_course(&store).await;
    load_learners(&store, 100).await;
    fix_numeric_key(&store).await;

    let task = submit(&store, &request(TaskKind::Rescore, problem(NUMERIC), None))
        .await
        .expect("submitted");
    assert_eq!(task.state, TaskState::Queued);
    assert_eq!(task.task_type, "rescore_problem");
    assert_eq!(task.input["problem_url"], NUMERIC);
    assert_eq!(task.input["only_if_higher"], false);

    let done = run(&store, &task, 7).await;
    assert_eq!(done.state, TaskState::Success);
    assert_eq!(done.total, Some(100));
    assert_eq!(
        (done.attempted, done.succeeded, done.skipped, done.failed),
        (100, 80, 10, 10)
    );
    assert_eq!(
        message(&done),
        "Problem rescored for 80 of 100 students (skipping 10)"
    );

    let outcomes = all_outcomes(&store, &done).await;
    assert_eq!(outcomes.len(), 100, "one outcome per learner");
    let distinct: HashSet<_> = outcomes.iter().map(|o| o.module_id).collect();
    assert_eq!(distinct.len(), 100, "no learner twice");
    assert_eq!(event_count(&store, &done).await, 80, "one event per change");

    // learner2 answered 3.14: up from 1/2 to 2/2.
    let o2 = outcomes.iter().find(|o| o.username == "learner2").unwrap();
    assert_eq!(o2.status, OutcomeStatus::Succeeded);
    assert_eq!((o2.old_grade, o2.new_grade), (Some(1.0), Some(2.0)));
    // learner7 answered 3.41: down from 2/2 to 1/2.
    let o7 = outcomes.iter().find(|o| o.username == "learner7").unwrap();
    assert_eq!((o7.old_grade, o7.new_grade), (Some(2.0), Some(1.0)));
    // learner1's answer does not parse: failed with the grader's reason, the task went on.
    let o1 = outcomes.iter().find(|o| o.username == "learner1").unwrap();
    assert_eq!(o1.status, OutcomeStatus::Failed);
    assert!(
        o1.reason.as_deref().unwrap().contains("3.1.4"),
        "reason names the answer: {:?}",
        o1.reason
    );
    // learner10 never submitted: skipped with a reason.
    let o10 = outcomes.iter().find(|o| o.username == "learner10").unwrap();
    assert_eq!(o10.status, OutcomeStatus::Skipped);
    assert!(o10.reason.is_some());

    // The state: correct map rewritten, score updated, attempts/answers/seed untouched.
    let state = state_of(&store, 2, NUMERIC).await.unwrap();
    assert_eq!(state["correct_map"]["pi_2_1"]["correctness"], "correct");
    assert_eq!(state["correct_map"]["pi_3_1"]["correctness"], "correct");
    assert_eq!(state["score"]["raw_earned"].as_f64(), Some(2.0));
    assert_eq!(state["attempts"], 3);
    assert_eq!(state["student_answers"]["pi_2_1"], "3.14");
    assert_eq!(state["seed"], 1);
    let module = store.get_module(2, COURSE, NUMERIC).await.unwrap().unwrap();
    assert_eq!((module.grade, module.max_grade), (Some(2.0), Some(2.0)));

    // The rescore event carries the state as it was before and the new map.
    let events = store
        .list_events(&EventFilter {
            task_id: Some(done.id),
            course_key: None,
            after_id: 0,
            limit: 1000,
        })
        .await
        .unwrap();
    let e2 = events.iter().find(|e| e.username == "learner2").unwrap();
    assert_eq!(e2.event_type, "problem_rescore");
    assert_eq!(e2.requester, "instructor1");
    assert_eq!(e2.payload["orig_score"].as_f64(), Some(1.0));
    assert_eq!(e2.payload["new_score"].as_f64(), Some(2.0));
    assert_eq!(e2.payload["success"], "correct");
    assert_eq!(e2.payload["task_id"], done.id.to_string());
    assert_eq!(
        e2.payload["state"]["correct_map"]["pi_2_1"]["correctness"], "incorrect",
        "the event keeps the state from before the change"
    );
}

#[tokio::test]
async fn rescore_if_higher_keeps_better_old_grades() {
    let (store, _dir) = fresh_store().await;
    load_course(&store).await;
    load_learners(&store, 100).await;
    fix_numeric_key(&store).await;
    let task = submit(
        &store,
        &request(TaskKind::RescoreIfHigher, problem(NUMERIC), None),
    )
    .await
    .unwrap();
    assert_eq!(task.input["only_if_higher"], true);
    let done = run(&store, &task, 1000).await;
    // learner7 & co. would drop from 2/2 to 1/2: skipped, state untouched.
    assert_eq!((done.succeeded, done.skipped, done.failed), (70, 20, 10));
    let m7 = store.get_module(7, COURSE, NUMERIC).await.unwrap().unwrap();
    assert_eq!(m7.grade, Some(2.0));
    let o7 = all_outcomes(&store, &done)
        .await
        .into_iter()
        .find(|o| o.username == "learner7")
        .unwrap();
    assert_eq!(o7.status, OutcomeStatus::Skipped);
    assert!(o7.reason.unwrap().contains("lower"));
}

#[tokio::test]
async fn reset_delete_and_override_do_what_open_edx_does() {
    let (store, _dir) = fresh_store().await;
    load_course(&store).await;
    load_learners(&store, 40).await;

    // Reset for everyone: learners who never submitted have no attempts to reset.
    let reset = submit(
        &store,
        &request(TaskKind::ResetAttempts, problem(NUMERIC), None),
    )
    .await
    .unwrap();
    let reset = run(&store, &reset, 9).await;
    assert_eq!((reset.succeeded, reset.skipped, reset.failed), (36, 4, 0));
    assert_eq!(
        message(&reset),
        "Problem reset for 36 of 40 students (skipping 4)"
    );
    let state = state_of(&store, 5, NUMERIC).await.unwrap();
    assert_eq!(state["attempts"], 0);
    assert_eq!(
        state["student_answers"]["pi_2_1"], "3.14",
        "answers are kept"
    );
    assert_eq!(event_count(&store, &reset).await, 36);

    // Reset again for one learner: nothing left to reset.
    let again = submit(
        &store,
        &request(TaskKind::ResetAttempts, problem(NUMERIC), Some("learner5")),
    )
    .await
    .unwrap();
    assert_eq!(again.input["student"], "learner5");
    let again = run(&store, &again, 9).await;
    assert_eq!((again.attempted, again.skipped), (1, 1));
    assert_eq!(
        message(&again),
        "Unable to find submission to be reset for student 'learner5' (skipping 1)"
    );

    // Override by email: stored by username, score = typed score over the problem's max.
    let mut over = request(
        TaskKind::OverrideScore,
        problem(NUMERIC),
        Some("learner3@example.org"),
    );
    over.score = Some(1.5);
    let over = submit(&store, &over).await.unwrap();
    assert_eq!(over.input["student"], "learner3");
    let over = run(&store, &over, 9).await;
    assert_eq!(over.succeeded, 1);
    assert_eq!(
        message(&over),
        "Problem successfully overridden for student 'learner3'"
    );
    let m3 = store.get_module(3, COURSE, NUMERIC).await.unwrap().unwrap();
    assert_eq!((m3.grade, m3.max_grade), (Some(1.5), Some(2.0)));

    // Override for a learner with no module creates it.
    let mut create = request(TaskKind::OverrideScore, problem(CAPITAL), Some("learner1"));
    create.score = Some(1.0);
    let create = submit(&store, &create).await.unwrap();
    let create = run(&store, &create, 9).await;
    assert_eq!((create.total, create.succeeded), (Some(1), 1));
    let m = store.get_module(1, COURSE, CAPITAL).await.unwrap().unwrap();
    assert_eq!((m.grade, m.max_grade), (Some(1.0), Some(1.0)));
    assert_eq!(all_outcomes(&store, &create).await.len(), 1);

    // Delete everyone's state on the string problem.
    let delete = submit(
        &store,
        &request(TaskKind::DeleteState, problem(CAPITAL), None),
    )
    .await
    .unwrap();
    let delete = run(&store, &delete, 9).await;
    assert_eq!(delete.succeeded, 21, "20 even learners plus the override");
    assert_eq!(
        message(&delete),
        "Problem successfully deleted for 21 students"
    );
    assert!(
        store
            .get_module(2, COURSE, CAPITAL)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(event_count(&store, &delete).await, 21);
}

#[tokio::test]
async fn submit_validates_and_creates_nothing_on_bad_input() {
    let (store, _dir) = fresh_store().await;
    load_course(&store).await;
    load_learners(&store, 5).await;

    let cases: Vec<(SubmitRequest, &str)> = vec![
        (
            SubmitRequest {
                course_key: "course-v1:No+Such+Course".into(),
                ..request(TaskKind::Rescore, problem(NUMERIC), None)
            },
            "does not exist",
        ),
        (
            request(
                TaskKind::Rescore,
                problem("block-v1:TestOrg+T101+2026+type@problem+block@missing"),
                None,
            ),
            "is not a block",
        ),
        (
            request(TaskKind::Rescore, problem(PYTHON), None),
            "<script type=\"loncapa/python\">",
        ),
        (
            request(
                TaskKind::Rescore,
                Target::EntranceExam(SUBSECTION.into()),
                None,
            ),
            "not rescorable",
        ),
        (
            request(TaskKind::Rescore, problem(SUBSECTION), None),
            "not a problem",
        ),
        (
            request(TaskKind::ResetAttempts, problem(NUMERIC), Some("nobody")),
            "nobody",
        ),
        (
            SubmitRequest {
                score: Some(5.0),
                ..request(TaskKind::OverrideScore, problem(NUMERIC), Some("learner1"))
            },
            "",
        ),
        (request(TaskKind::OverrideScore, problem(NUMERIC), None), ""),
        (
            SubmitRequest {
                requester: " ".into(),
                ..request(TaskKind::Rescore, problem(NUMERIC), None)
            },
            "requester",
        ),
    ];
    for (req, needle) in cases {
        match submit(&store, &req).await {
            Err(SubmitError::Invalid(e)) => {
                assert!(
                    e.message.contains(needle),
                    "{req:?}: message {:?} should mention {needle:?}",
                    e.message
                );
            }
            other => panic!("{req:?} should be refused, got {other:?}"),
        }
    }
    assert_eq!(task_count(&store).await, 0, "nothing was created");
}

#[tokio::test]
async fn identical_tasks_are_refused_while_one_runs_even_when_submitted_concurrently() {
    let (store, _dir) = fresh_store().await;
    load_course(&store).await;
    load_learners(&store, 5).await;

    let first = submit(
        &store,
        &request(TaskKind::ResetAttempts, problem(NUMERIC), None),
    )
    .await
    .unwrap();
    match submit(
        &store,
        &request(TaskKind::ResetAttempts, problem(NUMERIC), None),
    )
    .await
    {
        Err(SubmitError::AlreadyRunning { existing }) => {
            assert_eq!(existing.id, first.id);
        }
        other => panic!("expected AlreadyRunning, got {other:?}"),
    }
    let refusal = submit(
        &store,
        &request(TaskKind::ResetAttempts, problem(NUMERIC), None),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(refusal.contains(&first.id.to_string()), "{refusal}");
    // Another type, another learner or another problem is a different task.
    submit(
        &store,
        &request(TaskKind::DeleteState, problem(NUMERIC), None),
    )
    .await
    .unwrap();
    submit(
        &store,
        &request(TaskKind::ResetAttempts, problem(NUMERIC), Some("learner1")),
    )
    .await
    .unwrap();
    // Once it ended, the same task can be submitted again.
    store.request_cancel(first.id).await.unwrap();
    submit(
        &store,
        &request(TaskKind::ResetAttempts, problem(NUMERIC), None),
    )
    .await
    .unwrap();

    // Twenty concurrent identical submissions: exactly one wins.
    let mut handles = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            submit(&store, &request(TaskKind::Rescore, problem(CAPITAL), None)).await
        }));
    }
    let mut won = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => won += 1,
            Err(SubmitError::AlreadyRunning { .. }) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(won, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_revokes_a_queued_task_at_once_and_a_running_one_at_a_chunk_boundary() {
    let (store, _dir) = fresh_store().await;
    load_course(&store).await;
    load_learners(&store, 200).await;

    let queued = submit(
        &store,
        &request(TaskKind::ResetAttempts, problem(NUMERIC), None),
    )
    .await
    .unwrap();
    match store.request_cancel(queued.id).await.unwrap() {
        CancelOutcome::Revoked(t) => assert_eq!(t.state, TaskState::Revoked),
        other => panic!("expected Revoked, got {other:?}"),
    }
    assert!(
        worker(&store, 10)
            .run_next(&NoProgress)
            .await
            .unwrap()
            .is_none()
    );

    let task = submit(
        &store,
        &request(TaskKind::ResetAttempts, problem(NUMERIC), None),
    )
    .await
    .unwrap();
    let chunks = Arc::new(AtomicU64::new(0));
    let cancel_store = store.clone();
    let seen = chunks.clone();
    let sink = ProgressFn(move |t: &TaskRecord| {
        if t.state == TaskState::Running && seen.fetch_add(1, Ordering::SeqCst) == 1 {
            let store = cancel_store.clone();
            let id = t.id;
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(async move {
                    store.request_cancel(id).await.unwrap();
                })
            });
        }
    });
    let done = worker(&store, 10).run_next(&sink).await.unwrap().unwrap();
    assert_eq!(done.id, task.id);
    assert_eq!(done.state, TaskState::Revoked);
    assert!(
        done.attempted >= 20 && done.attempted < 200,
        "stopped early: {}",
        done.attempted
    );
    assert_eq!(done.attempted % 10, 0, "at a chunk boundary");
    assert_eq!(
        all_outcomes(&store, &done).await.len() as u64,
        done.attempted
    );
}

#[tokio::test]
async fn a_problem_broken_after_submission_fails_the_task_with_a_structured_error() {
    let (store, _dir) = fresh_store().await;
    load_course(&store).await;
    load_learners(&store, 30).await;
    let task = submit(&store, &request(TaskKind::Rescore, problem(NUMERIC), None))
        .await
        .unwrap();
    store
        .put_problem_version(NUMERIC, PYTHON_XML, "broken")
        .await
        .unwrap();
    let done = run(&store, &task, 10).await;
    assert_eq!(done.state, TaskState::Failure);
    let error = done.error.expect("a structured error");
    assert_eq!(error["kind"], "problem_not_rescorable");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("not rescorable"),
        "{error}"
    );
    assert_eq!(error["context"]["element"], "script");
    assert_eq!(error["context"]["usage_key"], NUMERIC);
}

#[tokio::test]
async fn an_internal_grading_error_ends_the_task_but_keeps_the_counts_reached() {
    let (store, _dir) = fresh_store().await;
    load_course(&store).await;
    load_learners(&store, 30).await;
    // `list` partial credit without partial answers is an internal error upstream (a TypeError)
    // for every answer that is not exactly right: learner7's 3.41 is the first such answer.
    let xml = NUMERIC_FIXED_XML.replace(
        "<numericalresponse answer=\"3.14\">",
        "<numericalresponse answer=\"3.14\" partial_credit=\"list\">",
    );
    store
        .put_problem_version(NUMERIC, &xml, "list")
        .await
        .unwrap();
    let task = submit(&store, &request(TaskKind::Rescore, problem(NUMERIC), None))
        .await
        .unwrap();
    let done = run(&store, &task, 4).await;
    assert_eq!(done.state, TaskState::Failure);
    assert_eq!(
        (done.attempted, done.succeeded, done.failed),
        (6, 5, 1),
        "learners 1-6 were processed before learner7 stopped the task"
    );
    let error = done.error.clone().unwrap();
    assert_eq!(error["kind"], "internal");
    assert_eq!(error["context"]["username"], "learner7");
    assert_eq!(all_outcomes(&store, &done).await.len(), 6);
    assert_eq!(event_count(&store, &done).await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_run_resumes_elsewhere_and_processes_every_learner_exactly_once() {
    let (store, _dir) = fresh_store().await;
    load_course(&store).await;
    load_learners(&store, 500).await;
    fix_numeric_key(&store).await;
    let task = submit(&store, &request(TaskKind::Rescore, problem(NUMERIC), None))
        .await
        .unwrap();

    // The first worker "dies" after three chunks: its run is dropped mid-flight.
    let mut config = WorkerConfig::new(WorkerConfig::unique_name("doomed"));
    config.chunk_size = 23;
    config.lease = Duration::from_secs(1);
    let doomed = Worker::new(store.clone(), config);
    let chunks = Arc::new(AtomicU64::new(0));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = std::sync::Mutex::new(Some(tx));
    let seen = chunks.clone();
    let sink = ProgressFn(move |_t: &TaskRecord| {
        if seen.fetch_add(1, Ordering::SeqCst) == 2
            && let Some(tx) = tx.lock().unwrap().take()
        {
            let _ = tx.send(());
        }
    });
    tokio::select! {
        _ = doomed.run_next(&sink) => panic!("the doomed run should not finish"),
        _ = rx => {}
    }
    let stuck = store.get_task(task.id).await.unwrap().unwrap();
    assert_eq!(stuck.state, TaskState::Running);
    assert!(stuck.attempted > 0 && stuck.attempted < 500);

    // Nobody can take it while the lease is live; after it expires another worker resumes it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let done = worker(&store, 50)
        .run_next(&NoProgress)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.id, task.id);
    assert_eq!(done.state, TaskState::Success);
    assert_eq!(done.attempted, 500);
    assert_eq!(done.attempts, 1, "planned once");
    let subtasks = store.list_subtasks(task.id).await.unwrap();
    assert_eq!(subtasks.len(), 1);
    assert_eq!(subtasks[0].attempts, 2, "its subtask was claimed twice");
    assert_eq!(subtasks[0].counts, done.counts());
    let outcomes = all_outcomes(&store, &done).await;
    assert_eq!(outcomes.len(), 500);
    let distinct: HashSet<_> = outcomes.iter().map(|o| o.module_id).collect();
    assert_eq!(distinct.len(), 500, "every learner exactly once");
    assert_eq!(event_count(&store, &done).await, done.succeeded);
    assert!(done.finished_at.unwrap() <= Utc::now());
}

#[tokio::test]
async fn a_container_task_covers_every_problem_under_it() {
    let (store, _dir) = fresh_store().await;
    load_course(&store).await;
    load_learners(&store, 20).await;
    let task = submit(
        &store,
        &request(
            TaskKind::ResetAttempts,
            Target::EntranceExam(SECTION.into()),
            Some("learner4"),
        ),
    )
    .await
    .unwrap();
    assert_eq!(task.input["entrance_exam_url"], SECTION);
    let done = run(&store, &task, 10).await;
    // learner4 has the numerical and the string problem.
    assert_eq!((done.total, done.succeeded), (Some(2), 2));
    assert_eq!(
        message(&done),
        "Entrance exam successfully reset for student 'learner4'"
    );
    assert_eq!(state_of(&store, 4, CAPITAL).await.unwrap()["attempts"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_hold_fewer_modules_when_their_data_outgrows_the_byte_budget() {
    let (store, _dir) = fresh_store().await;
    load_course(&store).await;
    let modules = load_learners(&store, 25).await;
    let chunks_committed = |budget: usize| {
        let store = store.clone();
        async move {
            let mut config = WorkerConfig::new(WorkerConfig::unique_name("budget"));
            config.chunk_size = 1_000;
            config.chunk_bytes = budget;
            let commits = Arc::new(AtomicU64::new(0));
            let seen = commits.clone();
            let sink = ProgressFn(move |t: &TaskRecord| {
                if t.state == TaskState::Running {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
            });
            let done = Worker::new(store, config)
                .run_next(&sink)
                .await
                .unwrap()
                .unwrap();
            (done, commits.load(Ordering::SeqCst))
        }
    };

    // A budget smaller than any state: one module per chunk, every learner still processed.
    let task = submit(
        &store,
        &request(TaskKind::DeleteState, problem(NUMERIC), None),
    )
    .await
    .unwrap();
    let (done, commits) = chunks_committed(1).await;
    assert_eq!(done.id, task.id);
    assert_eq!(done.state, TaskState::Success);
    assert_eq!(done.succeeded, modules);
    assert_eq!(commits, modules, "one chunk per module");

    // The default budget holds these small states many times over: one chunk.
    let task = submit(
        &store,
        &request(TaskKind::DeleteState, problem(CAPITAL), None),
    )
    .await
    .unwrap();
    let (done, commits) = chunks_committed(WorkerConfig::new("x").chunk_bytes).await;
    assert_eq!(done.id, task.id);
    assert_eq!(done.succeeded, modules / 2);
    assert_eq!(commits, 1);
}
