//! `serve`: the HTTP API (`coursetasks-server`) and, unless `--no-worker`, the engine's worker
//! pool in the same process.

use anyhow::{Context, Result};
use coursetasks_engine::{PoolConfig, WorkerConfig};
use coursetasks_server::InProcessWorker;

use crate::Failure;
use crate::cli::ServeArgs;
use crate::commands::tasks::open_store;

pub async fn run(args: ServeArgs) -> Result<()> {
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
        eprintln!(
            "warning: no active API token; every /api/v1 request will get 401 until one is made with `coursetasks token create`"
        );
    }
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| Failure::usage(format!("cannot listen on {}: {e}", args.addr)))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "interrupted: finishing requests in flight and the current chunks, then stopping"
            );
            let _ = stop_tx.send(true);
        }
    });
    let worker = (!args.no_worker).then(|| InProcessWorker {
        worker: WorkerConfig::new(WorkerConfig::unique_name("serve")),
        pool: PoolConfig {
            concurrency: args.concurrency,
            ..Default::default()
        },
    });
    eprintln!(
        "serving http://{}/api/v1 on {} ({}){}; Ctrl-C stops",
        listener.local_addr().unwrap_or(args.addr),
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
    let ran = coursetasks_server::serve(listener, store, worker, stop_rx)
        .await
        .context("serving the API")?;
    eprintln!("stopped; the in-process worker ran {ran} tasks");
    Ok(())
}
