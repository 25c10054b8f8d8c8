//! The task commands: init, submit, status, tasks, outcomes, events, cancel, worker.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use coursetasks_engine::{
    OUTCOME_CSV_HEADER, PoolConfig, ProgressSink, SubmitError, SubmitRequest, TaskQuery, Worker,
    WorkerConfig, outcome_csv_record, run_pool, submit, task_filter,
};
use coursetasks_store::{
    CancelOutcome, EventFilter, OutcomeStatus, Store, StoreError, TaskRecord, TaskState,
};
use coursetasks_tasks::{Target, TaskKind};
use uuid::Uuid;

use crate::cli::{
    CancelArgs, EventsArgs, EventsFormat, FailArgs, InitArgs, OutcomeFilter, OutcomesArgs,
    StatusArgs, SubmitArgs, SubmitKind, TableFormat, TasksArgs, WorkerArgs, WorkersArgs,
};
use crate::display::{LiveProgress, status_text, task_table};
use crate::{Failure, print_json};
use coursetasks_engine::TaskView;

/// Opens the store. A location that cannot be used (missing directory, not a database, ...) is
/// the caller's input error (exit 2); the store's message names the location and the reason.
pub async fn open_store(db: &str) -> Result<Store> {
    match Store::open(db).await {
        Ok(store) => Ok(store),
        Err(e @ StoreError::BadLocation { .. }) => Err(Failure::usage(e.to_string()).into()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("opening the database {db}"))),
    }
}

pub fn task_kind(kind: SubmitKind) -> TaskKind {
    match kind {
        SubmitKind::Rescore => TaskKind::Rescore,
        SubmitKind::RescoreIfHigher => TaskKind::RescoreIfHigher,
        SubmitKind::ResetAttempts => TaskKind::ResetAttempts,
        SubmitKind::DeleteState => TaskKind::DeleteState,
        SubmitKind::OverrideScore => TaskKind::OverrideScore,
    }
}

fn parse_task_id(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text.trim())
        .map_err(|e| Failure::usage(format!("{text:?} is not a task id (a UUID): {e}")).into())
}

async fn load_task(store: &Store, id: Uuid) -> Result<TaskRecord> {
    match store.get_task(id).await? {
        Some(task) => Ok(task),
        None => Err(Failure::not_found(format!("no task {id} in this database")).into()),
    }
}

pub async fn init(args: InitArgs) -> Result<()> {
    let store = open_store(&args.db.db).await?;
    outln!(
        "database ready: {} ({}); {} courses, {} learners",
        args.db.db,
        store.backend_name(),
        store.list_courses().await?.len(),
        store.count_learners().await?
    )?;
    Ok(())
}

pub async fn submit_cmd(args: SubmitArgs) -> Result<()> {
    if args.score.is_some() && args.kind != SubmitKind::OverrideScore {
        return Err(Failure::usage("--score only goes with override-score").into());
    }
    let store = open_store(&args.db.db).await?;
    let target = match (&args.problem, &args.container) {
        (Some(p), None) => Target::Problem(p.clone()),
        (None, Some(c)) => Target::EntranceExam(c.clone()),
        _ => return Err(Failure::usage("give exactly one of --problem or --container").into()),
    };
    let request = SubmitRequest {
        kind: task_kind(args.kind),
        course_key: args.course.clone(),
        target,
        learner: args.learner.clone(),
        score: args.score,
        requester: args.requester.clone(),
    };
    let task = match submit(&store, &request).await {
        Ok(task) => task,
        Err(SubmitError::AlreadyRunning { existing }) => {
            return Err(
                Failure::conflict(SubmitError::AlreadyRunning { existing }.to_string()).into(),
            );
        }
        Err(SubmitError::Invalid(e)) => {
            return Err(Failure::invalid(format!("task not created: {}", e.message)).into());
        }
        Err(e) => return Err(e.into()),
    };
    let task = if args.wait {
        wait_for(&store, task.id, &LiveProgress::new(args.json.json)).await?
    } else {
        task
    };
    if args.json.json {
        print_json(&TaskView::new(&task, Utc::now()))?;
    } else if args.wait {
        out!("{}", status_text(&TaskView::new(&task, Utc::now())))?;
    } else {
        outln!("submitted task {} ({}), queued", task.id, task.task_type)?;
        outln!(
            "run it with `coursetasks worker`, follow it with `coursetasks status {}`",
            task.id
        )?;
    }
    Ok(())
}

/// Runs tasks in this process until `task_id` has ended (another worker process may run it too;
/// then this only watches), reporting its progress to `sink`.
pub async fn wait_for(store: &Store, task_id: Uuid, sink: &dyn ProgressSink) -> Result<TaskRecord> {
    let worker = Worker::new(
        store.clone(),
        WorkerConfig::new(WorkerConfig::unique_name("cli")),
    );
    let mut last_attempted = None;
    loop {
        let task = store
            .get_task(task_id)
            .await?
            .with_context(|| format!("task {task_id} disappeared"))?;
        if task.state.is_ready() {
            return Ok(task);
        }
        if worker.run_next(sink).await?.is_none() {
            // Someone else holds it: follow its progress from the store.
            if task.state == TaskState::Running && last_attempted != Some(task.attempted) {
                last_attempted = Some(task.attempted);
                sink.chunk_committed(&task);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

pub async fn status(args: StatusArgs) -> Result<()> {
    // The id is checked before the database is opened, so a typo never creates a database file.
    let id = parse_task_id(&args.task)?;
    let store = open_store(&args.db.db).await?;
    let task = load_task(&store, id).await?;
    let subtasks = store.list_subtasks(id).await?;
    let view = TaskView::new(&task, Utc::now());
    if args.json.json {
        let mut value = serde_json::to_value(&view)?;
        value["subtasks"] = serde_json::to_value(&subtasks)?;
        print_json(&value)
    } else {
        out!("{}", status_text(&view))?;
        if !subtasks.is_empty() {
            outln!("{}", subtask_summary(&subtasks))?;
        }
        Ok(())
    }
}

/// `subtasks: 20 (15 done, 3 running, 2 queued)`.
fn subtask_summary(subtasks: &[coursetasks_store::SubtaskRecord]) -> String {
    let parts: Vec<String> = TaskState::ALL
        .into_iter()
        .filter_map(|state| {
            let n = subtasks.iter().filter(|s| s.state == state).count();
            (n > 0).then(|| format!("{n} {}", state.as_str().to_lowercase()))
        })
        .collect();
    let workers: std::collections::BTreeSet<&str> = subtasks
        .iter()
        .filter_map(|s| s.lease_owner.as_deref())
        .collect();
    format!(
        "subtasks: {} ({}), run by {} worker{}",
        subtasks.len(),
        parts.join(", "),
        workers.len(),
        if workers.len() == 1 { "" } else { "s" }
    )
}

pub async fn workers(args: WorkersArgs) -> Result<()> {
    let store = open_store(&args.db.db).await?;
    let now = Utc::now();
    let workers = store.list_workers(Duration::from_secs(86_400)).await?;
    let stale_after =
        chrono::Duration::seconds(i64::try_from(args.stale_after).unwrap_or(i64::MAX));
    let rows: Vec<serde_json::Value> = workers
        .iter()
        .map(|w| {
            let age = now - w.last_heartbeat;
            serde_json::json!({
                "name": w.name,
                "host": w.host,
                "pid": w.pid,
                "started_at": w.started_at,
                "last_heartbeat": w.last_heartbeat,
                "seconds_since_heartbeat": age.num_milliseconds().max(0) as f64 / 1000.0,
                "live": age <= stale_after,
                "task_id": w.current.map(|(task, _)| task.to_string()),
                "subtask": w.current.map(|(_, index)| index),
                "processed": w.processed,
            })
        })
        .collect();
    if args.json.json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        outln!("no worker has reported in the last day")?;
        return Ok(());
    }
    outln!(
        "{:<44} {:>6} {:>10} {:>12}  current",
        "worker",
        "state",
        "heartbeat",
        "processed"
    )?;
    for (w, row) in workers.iter().zip(&rows) {
        let current = match w.current {
            Some((task, index)) => format!("task {task} subtask {index}"),
            None => "idle".to_owned(),
        };
        outln!(
            "{:<44} {:>6} {:>9.1}s {:>12}  {current}",
            w.name,
            if row["live"] == true { "live" } else { "stale" },
            row["seconds_since_heartbeat"].as_f64().unwrap_or_default(),
            w.processed,
        )?;
    }
    Ok(())
}

pub async fn fail(args: FailArgs) -> Result<()> {
    let id = parse_task_id(&args.task)?;
    if args.reason.trim().is_empty() {
        return Err(Failure::usage("--reason must say why the task is failed").into());
    }
    let store = open_store(&args.db.db).await?;
    let task = match store.fail_task(id, args.reason.trim()).await {
        Ok(task) => task,
        Err(StoreError::NotFound { .. }) => {
            return Err(Failure::not_found(format!("no task {id} in this database")).into());
        }
        Err(StoreError::TaskFinished { state, .. }) => {
            return Err(Failure::usage(format!(
                "task {id} has already finished ({state}); nothing changed"
            ))
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    if args.json.json {
        print_json(&TaskView::new(&task, Utc::now()))
    } else {
        outln!("task {id} marked FAILURE: {}", args.reason.trim())?;
        Ok(())
    }
}

pub async fn tasks(args: TasksArgs) -> Result<()> {
    let store = open_store(&args.db.db).await?;
    let query = TaskQuery {
        course_key: args.course.clone(),
        running: args.running,
        problem: args.problem.clone(),
        learner: args.learner.clone(),
        kind: args.kind.map(task_kind),
        limit: Some(args.limit),
        ..Default::default()
    };
    let filter = match task_filter(&store, &query).await {
        Ok(filter) => filter,
        Err(StoreError::NotFound { what, key }) => {
            return Err(Failure::not_found(match what {
                "learner" => format!("no learner with username or email {key:?}"),
                _ => format!("no {what} {key}"),
            })
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    let tasks = store.list_tasks(&filter).await?;
    if args.json.json {
        let views: Vec<TaskView> = tasks.iter().map(|t| TaskView::new(t, Utc::now())).collect();
        print_json(&views)
    } else {
        if tasks.is_empty() {
            outln!("no tasks")?;
        } else {
            out!("{}", task_table(&tasks, Utc::now()))?;
        }
        Ok(())
    }
}

pub async fn outcomes(args: OutcomesArgs) -> Result<()> {
    let id = parse_task_id(&args.task)?;
    let store = open_store(&args.db.db).await?;
    let task = load_task(&store, id).await?;
    let status = args.status.map(|s| match s {
        OutcomeFilter::Succeeded => OutcomeStatus::Succeeded,
        OutcomeFilter::Skipped => OutcomeStatus::Skipped,
        OutcomeFilter::Failed => OutcomeStatus::Failed,
    });
    let json = args.json || args.format == TableFormat::Json;
    // CSV through the csv crate (quoting of reasons with commas and quotes), JSON as one object a
    // line; both stream page by page, so a million outcomes need no more memory than a page.
    let mut csv_out = (!json)
        .then(|| csv::Writer::from_writer(std::io::BufWriter::new(std::io::stdout().lock())));
    let mut json_out = json.then(|| std::io::BufWriter::new(std::io::stdout().lock()));
    if let Some(w) = csv_out.as_mut() {
        w.write_record(OUTCOME_CSV_HEADER)?;
    }
    let mut after = 0;
    loop {
        let page = store.list_outcomes(task.id, status, after, 5_000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for o in &page {
            if let Some(w) = csv_out.as_mut() {
                w.write_record(outcome_csv_record(o))?;
            } else if let Some(w) = json_out.as_mut() {
                serde_json::to_writer(&mut *w, o)?;
                w.write_all(b"\n")?;
            }
        }
    }
    if let Some(mut w) = csv_out {
        w.flush()?;
    }
    if let Some(mut w) = json_out {
        w.flush()?;
    }
    Ok(())
}

pub async fn events(args: EventsArgs) -> Result<()> {
    let id = args.task.as_deref().map(parse_task_id).transpose()?;
    let store = open_store(&args.db.db).await?;
    let task_id = match id {
        Some(id) => Some(load_task(&store, id).await?.id),
        None => None,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut filter = EventFilter {
        task_id,
        course_key: args.course.clone(),
        after_id: 0,
        limit: 5_000,
    };
    loop {
        let page = store.list_events(&filter).await?;
        let Some(last) = page.last() else { break };
        filter.after_id = last.id;
        let mut line = Vec::new();
        for event in &page {
            match args.format {
                EventsFormat::Json => {
                    serde_json::to_writer(&mut out, event)?;
                    out.write_all(b"\n")?;
                }
                EventsFormat::TrackingLog => {
                    line.clear();
                    coursetasks_exchange::TrackingEvent {
                        event_type: &event.event_type,
                        event: &event.payload,
                        time: event.time,
                        requester: &event.requester,
                        user_id: event.user_id,
                        course_id: &event.course_key,
                        usage_key: event.usage_key.as_deref(),
                        host: &args.host,
                    }
                    .write_line(&mut line);
                    out.write_all(&line)?;
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}

pub async fn cancel(args: CancelArgs) -> Result<()> {
    let id = parse_task_id(&args.task)?;
    let store = open_store(&args.db.db).await?;
    let outcome = match store.request_cancel(id).await {
        Ok(outcome) => outcome,
        Err(StoreError::NotFound { .. }) => {
            return Err(Failure::not_found(format!("no task {id} in this database")).into());
        }
        Err(e) => return Err(e.into()),
    };
    let text = match &outcome {
        CancelOutcome::Revoked(_) => "was queued; revoked".to_owned(),
        CancelOutcome::Requested(_) => {
            "is running; it stops at its next chunk boundary and ends REVOKED".to_owned()
        }
        CancelOutcome::AlreadyFinished(t) => {
            format!("had already finished ({}); nothing changed", t.state)
        }
    };
    if args.json.json {
        print_json(&serde_json::json!({
            "task_id": id.to_string(),
            "result": match &outcome {
                CancelOutcome::Revoked(_) => "revoked",
                CancelOutcome::Requested(_) => "cancel_requested",
                CancelOutcome::AlreadyFinished(_) => "already_finished",
            },
            "task": TaskView::new(outcome.task(), Utc::now()),
        }))
    } else {
        outln!("task {id} {text}")?;
        Ok(())
    }
}

pub async fn worker(args: WorkerArgs) -> Result<()> {
    let store = open_store(&args.db.db).await?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| WorkerConfig::unique_name("worker"));
    if name.trim().is_empty() {
        bail!("the worker name must not be empty");
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: finishing the current chunks, then stopping");
            let _ = stop_tx.send(true);
        }
    });
    eprintln!(
        "worker {name} on {} ({}), {} at a time; Ctrl-C stops",
        args.db.db,
        store.backend_name(),
        args.concurrency
    );
    let sink: Arc<dyn ProgressSink> = Arc::new(LiveProgress::new(false));
    let mut worker_config = WorkerConfig::new(name);
    worker_config.chunk_size = args.chunk_size;
    worker_config.lease = Duration::from_secs(args.lease_seconds);
    worker_config.subtask_size = args.subtask_size;
    let ran = run_pool(
        store,
        worker_config,
        PoolConfig {
            concurrency: args.concurrency,
            exit_when_idle: args.exit_when_idle,
            ..Default::default()
        },
        sink,
        stop_rx,
    )
    .await?;
    eprintln!("worker stopped after running {ran} tasks");
    Ok(())
}
