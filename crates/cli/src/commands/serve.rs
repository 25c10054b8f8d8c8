//! `serve`: the HTTP API (`coursetasks-server`) and, unless `--no-worker`, the engine's worker
//! pool in the same process.
//!
//! With `--log-format text` (the default) the server's own messages are plain lines on stderr
//! and tracing shows warnings only; with `--log-format json` they are tracing events too, so
//! every stderr line is one JSON object (see `init_json_logging` in `main.rs`).

use anyhow::{Context, Result};
use coursetasks_engine::{PoolConfig, WorkerConfig};
use coursetasks_server::InProcessWorker;

use crate::Failure;
use crate::cli::{LogFormat, ServeArgs};
use crate::commands::tasks::open_store;

/// Where the server's own messages go.
#[derive(Debug, Clone, Copy)]
struct Say(LogFormat);

impl Say {
    fn info(self, message: &str) {
        match self.0 {
            LogFormat::Text => eprintln!("{message}"),
            LogFormat::Json => tracing::info!("{message}"),
        }
    }

    fn warn(self, message: &str) {
        match self.0 {
            LogFormat::Text => eprintln!("warning: {message}"),
            LogFormat::Json => tracing::warn!("{message}"),
        }
    }
}

/// The worker pool `serve` runs next to the API: `concurrency` task loops under a unique
/// `serve-...` name, the engine's defaults otherwise (also used by `bench --serve-load`, so that
/// it measures what `serve` runs).
pub(crate) fn in_process_worker(concurrency: usize) -> InProcessWorker {
    InProcessWorker {
        worker: WorkerConfig::new(WorkerConfig::unique_name("serve")),
        pool: PoolConfig {
            concurrency,
            ..Default::default()
        },
    }
}

pub async fn run(args: ServeArgs) -> Result<()> {
    let say = Say(args.log_format);
    if args.concurrency == 0 {
        return Err(Failure::usage("--concurrency must be at least 1").into());
    }
    let store = open_store(&args.db.db).await?;
    if store
        .list_tokens()
        .await?
        .iter()
        .all(|t| t.revoked_at.is_some())
    {
        say.warn(
            "no active API token; every /api/v1 request will get 401 until one is made with `coursetasks token create`",
        );
    }
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| Failure::usage(format!("cannot listen on {}: {e}", args.addr)))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            say.info(
                "interrupted: finishing requests in flight and the current chunks, then stopping",
            );
            let _ = stop_tx.send(true);
        }
    });
    let worker = (!args.no_worker).then(|| in_process_worker(args.concurrency));
    let addr = listener.local_addr().unwrap_or(args.addr);
    let message = format!(
        "serving http://{addr}/api/v1 on {} ({}){}; Ctrl-C stops",
        args.db.db,
        store.backend_name(),
        if args.no_worker {
            ", no in-process worker".to_owned()
        } else {
            format!(
                ", in-process worker running {} tasks at once",
                args.concurrency
            )
        }
    );
    match args.log_format {
        LogFormat::Text => eprintln!("{message}"),
        LogFormat::Json => tracing::info!(
            addr = %addr,
            backend = store.backend_name(),
            in_process_worker = !args.no_worker,
            "{message}"
        ),
    }
    let ran = coursetasks_server::serve(listener, store, worker, stop_rx)
        .await
        .context("serving the API")?;
    say.info(&format!("stopped; the in-process worker ran {ran} tasks"));
    Ok(())
}
