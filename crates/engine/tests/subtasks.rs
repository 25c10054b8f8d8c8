//! Several workers on one task: the task is split into subtasks that the loops of a pool share,
//! and the task's counts, outcomes and events are exactly those of one pass over every learner.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use coursetasks_engine::{NoProgress, PoolConfig, WorkerConfig, run_pool, submit};
use coursetasks_store::{Counts, TaskState};
use coursetasks_tasks::{Target, TaskKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_shares_one_big_task_and_processes_every_learner_exactly_once() {
    let (store, _dir) = fresh_store().await;
    load_course(&store).await;
    load_learners(&store, 600).await;
    fix_numeric_key(&store).await;
    let task = submit(
        &store,
        &request(TaskKind::Rescore, Target::Problem(NUMERIC.to_owned()), None),
    )
    .await
    .unwrap();

    let mut config = WorkerConfig::new(WorkerConfig::unique_name("pool"));
    config.chunk_size = 7;
    config.subtask_size = 20;
    let (_stop, stop) = tokio::sync::watch::channel(false);
    run_pool(
        store.clone(),
        config,
        PoolConfig {
            concurrency: 3,
            exit_when_idle: true,
            idle_poll: Duration::from_millis(50),
            ..Default::default()
        },
        Arc::new(NoProgress),
        stop,
    )
    .await
    .unwrap();

    let done = store.get_task(task.id).await.unwrap().unwrap();
    assert_eq!(done.state, TaskState::Success);
    let total = done.total.unwrap();
    assert!(total >= 500, "every learner with a module is in scope");
    assert_eq!(done.attempted, total);
    let subtasks = store.list_subtasks(task.id).await.unwrap();
    assert_eq!(done.subtasks as usize, subtasks.len());
    assert_eq!(subtasks.len() as u64, total.div_ceil(20));
    assert!(subtasks.iter().all(|s| s.state == TaskState::Success));
    let sum = subtasks.iter().fold(Counts::default(), |acc, s| Counts {
        attempted: acc.attempted + s.counts.attempted,
        succeeded: acc.succeeded + s.counts.succeeded,
        skipped: acc.skipped + s.counts.skipped,
        failed: acc.failed + s.counts.failed,
    });
    assert_eq!(
        sum,
        done.counts(),
        "the task's counts are the sum of its subtasks'"
    );
    let owners: HashSet<_> = subtasks
        .iter()
        .filter_map(|s| s.lease_owner.clone())
        .collect();
    assert!(owners.len() >= 2, "the loops shared the task: {owners:?}");

    let outcomes = store
        .list_outcomes(task.id, None, 0, 1_000_000)
        .await
        .unwrap();
    assert_eq!(outcomes.len() as u64, total);
    let distinct: HashSet<_> = outcomes.iter().map(|o| o.module_id).collect();
    assert_eq!(distinct.len() as u64, total, "every learner exactly once");
    assert_eq!(store.count_events(task.id).await.unwrap(), done.succeeded);
    assert!(
        store
            .list_workers(Duration::from_secs(3600))
            .await
            .unwrap()
            .is_empty(),
        "a pool that stopped leaves the registry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_told_to_exit_when_idle_ends_with_its_last_task_not_its_idle_poll() {
    let (store, _dir) = fresh_store().await;
    load_course(&store).await;
    load_learners(&store, 30).await;
    let task = submit(
        &store,
        &request(
            TaskKind::ResetAttempts,
            Target::Problem(NUMERIC.to_owned()),
            None,
        ),
    )
    .await
    .unwrap();

    // While one loop runs the task the others find nothing to claim and wait for work, here
    // for an hour: nothing in the store wakes them when the task ends, so the pool must.
    let (_stop, stop) = tokio::sync::watch::channel(false);
    let pool = run_pool(
        store.clone(),
        WorkerConfig::new(WorkerConfig::unique_name("idle")),
        PoolConfig {
            concurrency: 4,
            exit_when_idle: true,
            idle_poll: Duration::from_secs(3600),
            ..Default::default()
        },
        Arc::new(NoProgress),
        stop,
    );
    let ran = tokio::time::timeout(Duration::from_secs(120), pool)
        .await
        .expect("the pool ended once no work was left, without waiting out its idle poll")
        .unwrap();
    assert!(ran >= 1);
    let done = store.get_task(task.id).await.unwrap().unwrap();
    assert_eq!(done.state, TaskState::Success);
}
