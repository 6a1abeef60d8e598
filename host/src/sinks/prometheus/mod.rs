//! The pull model: the latest value of every series on `/metrics` (names and label names made
//! Prometheus-valid). The port is taken when the sink is built, so a port in use fails the
//! agent's start.

mod config;
mod encode;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;

pub use config::PrometheusConfig;

use super::delivery::SinkStats;
use super::labels::prometheus_series;
use super::sink::{Built, Queue, Sink};

/// Latest values: metric name → (labels → value).
type Values = BTreeMap<String, BTreeMap<Vec<(String, String)>, f64>>;

/// What the HTTP handler reads.
#[derive(Clone)]
struct Shared {
    latest: Arc<Mutex<Values>>,
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
        let listener = std::net::TcpListener::bind(listen)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        Ok(Built::Local(Box::new(move |queue| {
            tokio::spawn(run(listener, queue))
        })))
    }
}

/// Serves `/metrics` and keeps it current from the queue until it closes.
async fn run(listener: std::net::TcpListener, mut queue: Queue) {
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
        latest: Arc::default(),
        stats: queue.stats().clone(),
    };
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(shared.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    while let Some(payload) = queue.recv().await {
        let mut latest = shared.latest.lock().unwrap_or_else(PoisonError::into_inner);
        let mut taken = 0;
        for s in payload.all_series() {
            let (name, labels) = prometheus_series(&s);
            latest.entry(name).or_default().insert(labels, s.value);
            taken += 1;
        }
        shared.stats.sent.fetch_add(taken, Relaxed);
    }
    server.abort();
}

async fn metrics(State(shared): State<Shared>) -> impl IntoResponse {
    let body = encode::render(&shared.latest.lock().unwrap_or_else(PoisonError::into_inner));
    shared
        .stats
        .sent_bytes
        .fetch_add(body.len() as u64, Relaxed);
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
}
