//! How tasks look to people and scripts: the status view (Open edX message + structured fields),
//! the task table, and live progress (a bar on a terminal, plain lines otherwise).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use coursetasks_engine::{ProgressSink, TaskView};
use coursetasks_store::TaskRecord;
use coursetasks_tasks::TaskKind;
use indicatif::{ProgressBar, ProgressStyle};

/// The human-readable block `status` prints.
pub fn status_text(view: &TaskView) -> String {
    let mut out = String::new();
    let line = |out: &mut String, k: &str, v: String| out.push_str(&format!("{k:<10} {v}\n"));
    line(&mut out, "task", view.task_id.clone());
    line(&mut out, "type", view.task_type.clone());
    line(&mut out, "course", view.course_id.clone());
    line(&mut out, "target", target_text(&view.task_input));
    line(&mut out, "requester", view.requester.clone());
    line(&mut out, "state", view.state.clone());
    line(
        &mut out,
        "progress",
        format!(
            "{} of {} learners ({:.1}%): {} succeeded, {} skipped, {} failed",
            view.attempted,
            view.total.map_or("?".to_owned(), |t| t.to_string()),
            view.percent,
            view.succeeded,
            view.skipped,
            view.failed
        ),
    );
    if let Some(rate) = view.rate_per_second {
        let mut text = format!("{} learners/s", human_rate(rate));
        if let Some(eta) = view.eta_seconds {
            text.push_str(&format!(", about {} left", human_duration(eta)));
        }
        line(&mut out, "rate", text);
    }
    line(&mut out, "created", view.created.to_rfc3339());
    if let Some(d) = view.duration_ms {
        line(&mut out, "duration", human_duration(d as f64 / 1000.0));
    }
    line(&mut out, "message", view.message.clone());
    if let Some(error) = &view.error {
        line(&mut out, "error", error.to_string());
    }
    out
}

/// `problem block-v1:...` / `container block-v1:...`, and the learner when there is one.
pub fn target_text(input: &serde_json::Value) -> String {
    let field = |k: &str| input.get(k).and_then(|v| v.as_str());
    let mut text = match (field("problem_url"), field("entrance_exam_url")) {
        (Some(p), _) => format!("problem {p}"),
        (None, Some(c)) => format!("container {c}"),
        _ => "?".to_owned(),
    };
    match field("student") {
        Some(s) => text.push_str(&format!(", learner {s}")),
        None => text.push_str(", all learners"),
    }
    if let Some(score) = input.get("score") {
        text.push_str(&format!(", score {score}"));
    }
    text
}

/// Prints tasks as an aligned table, newest first.
pub fn task_table(tasks: &[TaskRecord], now: DateTime<Utc>) -> String {
    let mut rows = vec![[
        "TASK".to_owned(),
        "TYPE".to_owned(),
        "STATE".to_owned(),
        "PROGRESS".to_owned(),
        "CREATED".to_owned(),
        "MESSAGE".to_owned(),
    ]];
    for task in tasks {
        let view = TaskView::new(task, now);
        rows.push([
            task.id.to_string(),
            TaskKind::from_task_type(&task.task_type)
                .map_or(task.task_type.clone(), |k| k.cli_name().to_owned()),
            task.state.as_str().to_owned(),
            format!(
                "{}/{}",
                task.attempted,
                task.total.map_or("?".to_owned(), |t| t.to_string())
            ),
            task.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            view.message,
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c == 5 {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `12.3k`, `1.2M`: rates at a glance.
pub fn human_rate(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2}M", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.1}k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

/// `1h 02m`, `3m 05s`, `4.2s`.
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        format!("{}m {:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{}h {:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

/// Live progress for the tasks a command waits for: an indicatif bar per task on a terminal,
/// otherwise a plain line at most every few seconds (and at the end), so logs stay readable.
pub struct LiveProgress {
    terminal: bool,
    bars: Mutex<HashMap<uuid::Uuid, ProgressBar>>,
    last_line: Mutex<HashMap<uuid::Uuid, Instant>>,
    quiet: bool,
}

impl LiveProgress {
    /// Progress on stderr; `quiet` prints nothing at all.
    pub fn new(quiet: bool) -> Self {
        LiveProgress {
            terminal: std::io::stderr().is_terminal(),
            bars: Mutex::new(HashMap::new()),
            last_line: Mutex::new(HashMap::new()),
            quiet,
        }
    }

    fn bar(&self, task: &TaskRecord) -> ProgressBar {
        let mut bars = self.bars.lock().expect("progress lock");
        bars.entry(task.id)
            .or_insert_with(|| {
                let bar = ProgressBar::new(task.total.unwrap_or(0));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>18} [{bar:40.cyan/blue}] {pos}/{len} {per_sec} eta {eta} {msg}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                let kind = TaskKind::from_task_type(&task.task_type)
                    .map_or(task.task_type.clone(), |k| k.cli_name().to_owned());
                bar.set_prefix(kind);
                bar
            })
            .clone()
    }

    fn line(&self, task: &TaskRecord, force: bool) {
        let mut last = self.last_line.lock().expect("progress lock");
        let now = Instant::now();
        let due = last
            .get(&task.id)
            .is_none_or(|t| now.duration_since(*t) >= Duration::from_secs(2));
        if force || due {
            last.insert(task.id, now);
            let view = TaskView::new(task, Utc::now());
            let rate = view
                .rate_per_second
                .map(|r| format!(", {} learners/s", human_rate(r)))
                .unwrap_or_default();
            let eta = view
                .eta_seconds
                .map(|e| format!(", eta {}", human_duration(e)))
                .unwrap_or_default();
            eprintln!(
                "{} {} {}/{} ({:.1}%){rate}{eta}: {}",
                task.id,
                task.state.as_str(),
                task.attempted,
                task.total.map_or("?".to_owned(), |t| t.to_string()),
                view.percent,
                view.message
            );
        }
    }
}

impl ProgressSink for LiveProgress {
    fn chunk_committed(&self, task: &TaskRecord) {
        if self.quiet {
            return;
        }
        if self.terminal {
            let bar = self.bar(task);
            if let Some(total) = task.total {
                bar.set_length(total);
            }
            bar.set_position(task.attempted);
            bar.set_message(format!("{} failed, {} skipped", task.failed, task.skipped));
        } else {
            self.line(task, false);
        }
    }

    fn finished(&self, task: &TaskRecord) {
        if self.quiet {
            return;
        }
        if self.terminal {
            let bar = self.bar(task);
            bar.set_position(task.attempted);
            let view = TaskView::new(task, Utc::now());
            bar.finish_with_message(format!("{}: {}", task.state.as_str(), view.message));
        } else {
            self.line(task, true);
        }
    }
}
