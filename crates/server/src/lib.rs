//! The coursetasks HTTP API: JSON under `/api/v1` (described by `/api/v1/openapi.json`),
//! bearer-token access control after Open edX's course roles ([`auth`]), `/healthz` and
//! `/readyz` for probes, `/metrics` for Prometheus ([`metrics`]), and the web dashboard at `/`
//! ([`dashboard`]). Every request is logged
//! with `tracing` (target `coursetasks_server::request`, level INFO).
//!
//! It is a thin layer: submitting, the status view, history filters, problem summaries and the
//! outcome table all come from `coursetasks-engine`, the same functions the command line uses,
//! so the CLI and the API cannot disagree.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = coursetasks_store::Store::open("coursetasks.db").await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let (_stop, shutdown) = tokio::sync::watch::channel(false);
//! // No in-process worker here: `coursetasks worker` processes run the tasks.
//! coursetasks_server::serve(listener, store, None, shutdown).await?;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod dashboard;
pub mod error;
mod extract;
mod handlers;
pub mod metrics;
pub mod openapi;
pub mod tokens;

use axum::Router;
use axum::routing::{get, post};
use coursetasks_store::Store;

pub use error::ApiError;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// In-process measurements for `/metrics` (the in-process worker's chunk timer).
    pub metrics: std::sync::Arc<metrics::Metrics>,
}

impl AppState {
    /// State over an opened store.
    pub fn new(store: Store) -> AppState {
        AppState {
            store,
            metrics: Default::default(),
        }
    }
}

/// Middleware: one INFO event per request, after the response: method, path (no query: it
/// may name learners), status and milliseconds.
async fn log_request(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        target: "coursetasks_server::request",
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// The whole application: `/healthz`, `/readyz`, `/metrics`, the authenticated `/api/v1`
/// routes, and the dashboard's pages.
pub fn router(state: AppState) -> Router {
    use handlers::{catalog, probes, tasks};
    let api = Router::new()
        .route("/openapi.json", get(openapi::document))
        .route("/courses", get(catalog::list_courses))
        .route("/courses/{course}/problems", get(catalog::list_problems))
        .route(
            "/courses/{course}/problems/{problem}/learners",
            get(catalog::learner_states),
        )
        .route("/tasks", post(tasks::submit).get(tasks::list))
        .route("/tasks/status", get(tasks::statuses))
        .route("/tasks/{id}", get(tasks::status))
        .route("/tasks/{id}/cancel", post(tasks::cancel))
        .route("/tasks/{id}/progress", get(tasks::progress))
        .route("/tasks/{id}/outcomes", get(tasks::outcomes))
        .route("/tasks/{id}/outcomes.csv", get(tasks::outcomes_csv))
        .route("/events", get(tasks::events))
        .fallback(handlers::unknown_route)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    let pages = Router::new()
        .route("/courses", get(dashboard::courses))
        .route("/courses/{course}", get(dashboard::course))
        .route("/courses/{course}/history", get(dashboard::history))
        .route("/courses/{course}/confirm", post(dashboard::confirm))
        .route("/courses/{course}/submit", post(dashboard::submit))
        .route("/tasks/{id}", get(dashboard::task))
        .route("/tasks/{id}/cancel", post(dashboard::cancel))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            dashboard::require_cookie,
        ));
    Router::new()
        .route("/", get(dashboard::sign_in))
        .route("/login", post(dashboard::login))
        .route("/logout", post(dashboard::logout))
        .merge(pages)
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/metrics", get(metrics::metrics))
        .nest("/api/v1", api)
        .fallback(handlers::unknown_route)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state)
}

/// Why [`serve`] stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The HTTP server failed (e.g. the listener broke).
    #[error("HTTP server: {0}")]
    Http(#[from] std::io::Error),
    /// The in-process worker pool stopped on an error it could not retry.
    #[error("worker pool: {0}")]
    Worker(#[from] coursetasks_engine::WorkerError),
}

/// The in-process worker pool that [`serve`] runs next to the API.
pub struct InProcessWorker {
    /// Lease identity and chunking of each task loop.
    pub worker: coursetasks_engine::WorkerConfig,
    /// Loops, polling and heartbeat.
    pub pool: coursetasks_engine::PoolConfig,
}

/// Serves the API on `listener` and, when `worker` is given, runs the engine's worker pool in
/// the same process, until `shutdown` turns true: then the server stops accepting, finishes the
/// requests in flight, and the pool finishes its current chunks (their leases let the work
/// resume anywhere). Returns how many tasks the pool ran.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Store,
    worker: Option<InProcessWorker>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<u64, ServeError> {
    // When the pool stops by itself (an error it could not retry), the server stops too rather
    // than accept tasks that nothing here would run.
    let (pool_stopped_tx, pool_stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::new(store.clone());
    let pool = worker.map(|w| {
        let pool = coursetasks_engine::run_pool(
            store.clone(),
            w.worker,
            w.pool,
            state.metrics.chunk_timer(),
            shutdown.clone(),
        );
        tokio::spawn(async move {
            let result = pool.await;
            let _ = pool_stopped_tx.send(());
            result
        })
    });
    let mut stop = shutdown.clone();
    let has_pool = pool.is_some();
    let http = axum::serve(listener, router(state)).with_graceful_shutdown(async move {
        let pool_stopped = async move {
            if has_pool {
                let _ = pool_stopped_rx.await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            // A dropped sender also means stop.
            _ = stop.wait_for(|stop| *stop) => {}
            _ = pool_stopped => {}
        }
    });
    let served = http.await;
    let ran = match pool {
        Some(handle) => match handle.await {
            Ok(result) => result?,
            Err(join) => {
                return Err(ServeError::Http(std::io::Error::other(format!(
                    "the worker pool panicked: {join}"
                ))));
            }
        },
        None => 0,
    };
    served?;
    Ok(ran)
}
