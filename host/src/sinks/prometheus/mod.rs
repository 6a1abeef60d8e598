//! The pull model: the latest value of every series on `/metrics` (names and label names made
//! Prometheus-valid), until it has not been sent for `expire_secs`. The port is taken when the
//! sink is built, so a port in use fails the agent's start.

mod config;
mod encode;
mod latest;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;

pub use config::PrometheusConfig;

use super::delivery::SinkStats;
use super::sink::{Built, Queue, Sink};
use latest::Latest;

/// How often series no longer sent are looked for between scrapes.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// What the HTTP handler reads.
#[derive(Clone)]
struct Shared {
    latest: Arc<Mutex<Latest>>,
    stats: Arc<SinkStats>,
}

impl Sink for PrometheusConfig {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn destination(&self) -> Option<&str> {
        Some(&self.listen)
    }

    fn problems(&self) -> Vec<(String, String)> {
        PrometheusConfig::problems(self)
    }

    fn build(&self) -> Result<Built, String> {
        let listen = &self.listen;
        let expire = self.expire();
        let listener = std::net::TcpListener::bind(listen)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        Ok(Built::Local(Box::new(move |queue| {
            tokio::spawn(run(listener, queue, expire))
        })))
    }
}

/// Serves `/metrics` and keeps it current from the queue until it closes.
async fn run(listener: std::net::TcpListener, mut queue: Queue, expire: Option<Duration>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!("scrape endpoint: cannot serve: {e}");
            return;
        }
    };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(address = %addr, "prometheus scrape endpoint listening");
    }
    let shared = Shared {
        latest: Arc::new(Mutex::new(Latest::new(expire))),
        stats: queue.stats().clone(),
    };
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(shared.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let mut swept = Instant::now();
    while let Some(payload) = queue.recv().await {
        let now = Instant::now();
        let mut latest = shared.latest.lock().unwrap_or_else(PoisonError::into_inner);
        let mut taken = 0;
        for s in payload.metric_series() {
            latest.set(s, now);
            taken += 1;
        }
        for check in &payload.service_checks {
            latest.set(&check.as_series(), now);
            taken += 1;
        }
        if now.duration_since(swept) >= SWEEP_EVERY {
            latest.expire(now);
            swept = now;
        }
        shared.stats.sent.fetch_add(taken, Relaxed);
    }
    server.abort();
}

async fn metrics(State(shared): State<Shared>) -> impl IntoResponse {
    let body = {
        let mut latest = shared.latest.lock().unwrap_or_else(PoisonError::into_inner);
        latest.expire(Instant::now());
        latest.render()
    };
    shared
        .stats
        .sent_bytes
        .fetch_add(body.len() as u64, Relaxed);
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
}
