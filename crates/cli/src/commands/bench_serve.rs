//! `coursetasks bench --serve-load`: the HTTP API under load while a big task runs.
//!
//! On a fresh SQLite file seeded like the task benchmark (`bench::load`), the API and the
//! in-process worker pool run in this process exactly as `serve` wires them. A rescore of every
//! learner is submitted over HTTP twice: first alone (the baseline), then with `--pollers`
//! clients, each on its own keep-alive HTTP/1.1 connection, polling `GET /api/v1/tasks/{id}`
//! with a bearer token until they see the task end. Reported: requests, errors (any non-200 or
//! broken connection), latency percentiles, requests per second, and the rescore's learners per
//! second with the pollers over the baseline's.
//!
//! The pollers run in this process too, so they take their share of the machine's cores from
//! the server and the worker, as a dashboard's browsers on the same host would; the ratio to the
//! baseline is therefore an upper bound of what remote pollers would cost.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use coursetasks_store::{Role, Store, TaskState};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::bench::{COURSE, TASK_PROBLEM, bench_dir, load};
use crate::cli::BenchArgs;
use crate::display::human_rate;

/// No run of this benchmark may take longer: the pollers and the wait for the task stop by then
/// whatever happens (bounded load).
const LIMIT: Duration = Duration::from_secs(30 * 60);

/// How often the in-process watcher reads the task to time it (the same in both runs).
const WATCH_EVERY: Duration = Duration::from_millis(20);

/// The figures, as printed with `--json`.
#[derive(Debug, Serialize)]
pub struct ServeLoadFigures {
    /// Learner modules the rescore visits.
    pub modules: u64,
    /// Concurrent pollers.
    pub pollers: u64,
    /// Each poller's pause between requests.
    pub poll_interval_ms: u64,
    /// Status requests answered or failed, all pollers together.
    pub requests: u64,
    /// Requests that did not get a 200 with a task view (or whose connection broke).
    pub errors: u64,
    /// The fewest requests any poller got answered (0 would mean a starved poller).
    pub min_answered_per_poller: u64,
    /// Requests per second over the loaded run.
    pub requests_per_second: f64,
    /// Latency percentiles of the answered requests, in milliseconds.
    pub latency_ms: Latency,
    /// The rescore alone: learners per second from submit to the end.
    pub baseline_learners_per_second: f64,
    /// The same rescore with the pollers running.
    pub loaded_learners_per_second: f64,
    /// Loaded rate over the baseline rate (1.0 = the pollers cost the task nothing).
    pub ratio_to_baseline: f64,
    /// Seconds spent seeding the database.
    pub setup_seconds: f64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest answered request.
    pub max: f64,
}

/// `bench --serve-load`: measures, prints the figures (or their JSON), and fails when any
/// status request failed.
pub async fn run(args: &BenchArgs) -> Result<()> {
    let figures = measure(args).await?;
    if args.json {
        crate::print_json(&figures)?;
    } else {
        print_figures(&figures)?;
    }
    ensure!(
        figures.errors == 0,
        "{} status requests failed",
        figures.errors
    );
    Ok(())
}

fn print_figures(figures: &ServeLoadFigures) -> std::io::Result<()> {
    let l = &figures.latency_ms;
    outln!(
        "{} pollers, {} requests ({}/s), {} errors, every poller answered at least {} times",
        figures.pollers,
        figures.requests,
        human_rate(figures.requests_per_second),
        figures.errors,
        figures.min_answered_per_poller
    )?;
    outln!(
        "status latency: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        l.p50,
        l.p90,
        l.p99,
        l.max
    )?;
    outln!(
        "rescore of {} modules: {} learners/s with the pollers, {} learners/s alone; ratio {:.2}",
        figures.modules,
        human_rate(figures.loaded_learners_per_second),
        human_rate(figures.baseline_learners_per_second),
        figures.ratio_to_baseline
    )
}

/// Seeds, serves, runs the baseline and the loaded rescore; returns the figures.
async fn measure(args: &BenchArgs) -> Result<ServeLoadFigures> {
    let dir = bench_dir(args)?;
    let db = dir.path().join("serve-load.db");
    let db = db.to_str().context("temp path is UTF-8")?.to_owned();
    let store = Store::open(&db).await?;
    let setup = Instant::now();
    load(&store, args.modules).await?;
    let setup_seconds = setup.elapsed().as_secs_f64();
    let (_, secret) = coursetasks_server::tokens::mint(&store, "bench", Role::Admin, None).await?;
    if !args.json {
        outln!(
            "setup: {} learners in {setup_seconds:.1}s ({db})",
            args.modules
        )?;
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = super::serve::in_process_worker(crate::cli::DEFAULT_SERVE_CONCURRENCY);
    let server = tokio::spawn(coursetasks_server::serve(
        listener,
        store.clone(),
        Some(worker),
        stop_rx,
    ));
    let result = async {
        let baseline = rescore(&store, &addr, &secret, args.modules, None).await?;
        if !args.json {
            outln!(
                "baseline: {} learners/s (no pollers)",
                human_rate(baseline.learners_per_second)
            )?;
        }
        let pollers = Pollers {
            count: args.pollers,
            interval: Duration::from_millis(args.poll_interval_ms),
        };
        let loaded = rescore(&store, &addr, &secret, args.modules, Some(pollers)).await?;
        Ok::<_, anyhow::Error>((baseline, loaded))
    }
    .await;
    let _ = stop_tx.send(true);
    server
        .await
        .context("the API server panicked")?
        .context("serving the API")?;
    let (baseline, loaded) = result?;
    let polled = loaded.polled.context("the loaded run has pollers")?;
    let mut latencies = polled.latencies_us;
    latencies.sort_unstable();
    let at = |q: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i] as f64 / 1000.0
    };
    Ok(ServeLoadFigures {
        modules: args.modules,
        pollers: args.pollers,
        poll_interval_ms: args.poll_interval_ms,
        requests: polled.requests,
        errors: polled.errors,
        min_answered_per_poller: polled.min_answered,
        requests_per_second: polled.requests as f64 / polled.seconds,
        latency_ms: Latency {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: at(1.0),
        },
        baseline_learners_per_second: baseline.learners_per_second,
        loaded_learners_per_second: loaded.learners_per_second,
        ratio_to_baseline: loaded.learners_per_second / baseline.learners_per_second,
        setup_seconds,
    })
}

/// The load of one run.
#[derive(Debug, Clone, Copy)]
struct Pollers {
    count: u64,
    interval: Duration,
}

/// What one rescore run measured.
struct Run {
    learners_per_second: f64,
    polled: Option<Polled>,
}

/// The pollers' requests, all of them together.
#[derive(Default)]
struct Polled {
    requests: u64,
    errors: u64,
    min_answered: u64,
    latencies_us: Vec<u64>,
    seconds: f64,
}

/// Submits a rescore of every learner over HTTP, runs `pollers` against it when given, and
/// times it from the submit to the end (seen by an in-process watcher, the same in both runs).
async fn rescore(
    store: &Store,
    addr: &str,
    secret: &str,
    modules: u64,
    pollers: Option<Pollers>,
) -> Result<Run> {
    let mut client = Http::connect(addr).await?;
    let body = json!({
        "kind": "rescore",
        "course": COURSE,
        "problem": TASK_PROBLEM,
        "all_learners": true,
    });
    let started = Instant::now();
    let (status, created) = client
        .send(
            Method::POST,
            "/api/v1/tasks",
            secret,
            Some(body.to_string()),
        )
        .await?;
    ensure!(
        status == StatusCode::CREATED,
        "submitting the rescore: {status} {}",
        String::from_utf8_lossy(&created)
    );
    let created: Value = serde_json::from_slice(&created)?;
    let id: Uuid = created["task_id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .with_context(|| format!("no task id in {created}"))?;

    let polling = pollers.map(|p| {
        let path = format!("/api/v1/tasks/{id}");
        (0..p.count)
            .map(|_| {
                tokio::spawn(poll(
                    addr.to_owned(),
                    path.clone(),
                    secret.to_owned(),
                    p.interval,
                    started + LIMIT,
                ))
            })
            .collect::<Vec<_>>()
    });
    // The watcher: the task's end, as the store sees it.
    let task = loop {
        let task = store.get_task(id).await?.context("the submitted task")?;
        if task.state.is_ready() {
            break task;
        }
        if started.elapsed() > LIMIT {
            bail!("the rescore did not end within {LIMIT:?}");
        }
        tokio::time::sleep(WATCH_EVERY).await;
    };
    let seconds = started.elapsed().as_secs_f64();
    ensure!(
        task.state == TaskState::Success && task.attempted == modules,
        "the rescore ended {} after {} of {modules} modules",
        task.state,
        task.attempted
    );
    let polled = match polling {
        None => None,
        Some(handles) => {
            let mut all = Polled {
                min_answered: u64::MAX,
                ..Default::default()
            };
            for handle in handles {
                let one = handle.await.context("a poller panicked")?;
                all.requests += one.requests;
                all.errors += one.errors;
                all.min_answered = all.min_answered.min(one.latencies_us.len() as u64);
                all.latencies_us.extend(one.latencies_us);
                all.seconds = all.seconds.max(one.seconds);
            }
            Some(all)
        }
    };
    Ok(Run {
        learners_per_second: modules as f64 / seconds,
        polled,
    })
}

/// One poller: requests the task's status on its own connection until it sees the task end
/// (or `deadline`); a broken connection counts as an error and is opened again.
async fn poll(
    addr: String,
    path: String,
    secret: String,
    interval: Duration,
    deadline: Instant,
) -> Polled {
    let started = Instant::now();
    let mut polled = Polled::default();
    let mut client = None;
    while Instant::now() < deadline {
        if client.is_none() {
            match Http::connect(&addr).await {
                Ok(c) => client = Some(c),
                Err(_) => {
                    polled.requests += 1;
                    polled.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(http) = client.as_mut() else {
            continue;
        };
        let sent = Instant::now();
        let answer = http.send(Method::GET, &path, &secret, None).await;
        polled.requests += 1;
        let ended = match answer {
            Ok((StatusCode::OK, body)) => {
                polled
                    .latencies_us
                    .push(sent.elapsed().as_micros().try_into().unwrap_or(u64::MAX));
                match serde_json::from_slice::<Value>(&body) {
                    Ok(view) => view["in_progress"] == false,
                    Err(_) => {
                        polled.errors += 1;
                        false
                    }
                }
            }
            Ok(_) => {
                polled.errors += 1;
                false
            }
            Err(_) => {
                polled.errors += 1;
                client = None;
                false
            }
        };
        if ended {
            break;
        }
        if !interval.is_zero() {
            tokio::time::sleep(interval).await;
        }
    }
    polled.seconds = started.elapsed().as_secs_f64();
    polled
}

/// A minimal HTTP/1.1 client on one keep-alive connection (hyper's client half, which axum
/// already links).
struct Http {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl Http {
    async fn connect(addr: &str) -> Result<Http> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        // Small requests and answers: do not let Nagle's algorithm hold them back.
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        // The connection's IO runs on its own task; it ends when `sender` is dropped.
        tokio::spawn(connection);
        Ok(Http { sender })
    }

    /// One request with the bearer token; returns the status and the whole body.
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        secret: &str,
        body: Option<String>,
    ) -> Result<(StatusCode, Bytes)> {
        self.sender.ready().await?;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "bench")
            .header(header::AUTHORIZATION, format!("Bearer {secret}"));
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}
