//! Open-Falcon's push API: `POST /v1/push` with a JSON array of points
//! `{metric, endpoint, timestamp, step, value, counterType, tags}`. A `GAUGE` is sent as is, a
//! `COUNTER` as its per-second rate between consecutive pushes (the checks' counter engine),
//! the `endpoint` is the series' host. A request is validated whole before any of it is taken:
//! a body that is empty, does not parse, holds a bad point or too many is answered 400 with the
//! reason, one too large 413; a good one `success`, as Open-Falcon's agent answers.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::post;
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::config::PushConfig;
use super::stats::IntakeStats;
use crate::aggregate::{Producer, Stage};
use crate::model::{MetricKind, Sample};
use crate::scheduler::now_ms;

/// How often pushed counters unseen for a while are forgotten (after ten of these).
const END_RUN_EVERY: Duration = Duration::from_secs(60);

/// One point as Open-Falcon's clients send it.
#[derive(Debug, Deserialize)]
struct Point {
    metric: String,
    endpoint: String,
    #[serde(default)]
    timestamp: i64,
    #[serde(default = "default_step")]
    step: i64,
    value: serde_json::Value,
    #[serde(rename = "counterType")]
    counter_type: String,
    #[serde(default)]
    tags: String,
}

fn default_step() -> i64 {
    60
}

struct PushState {
    producer: Producer,
    /// When counters unseen for a while were last forgotten.
    last_end: Mutex<Instant>,
    max_points: usize,
    stats: Arc<IntakeStats>,
}

/// A running push API.
pub struct Push {
    task: JoinHandle<()>,
    stop: CancellationToken,
}

impl Push {
    /// Listens on `config.listen`; the stage's tags (host, global) and the API's own go on
    /// every point.
    pub async fn start(
        config: &PushConfig,
        stage: &Stage,
        stats: Arc<IntakeStats>,
    ) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("push.listen: cannot listen on {}: {e}", config.listen))?;
        let address = format!("http://{}", listener.local_addr()?);
        tracing::info!("push API: listening on {address}/v1/push");
        stats
            .listening
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(address);
        let state = Arc::new(PushState {
            producer: stage.producer(config.tags.clone()),
            last_end: Mutex::new(Instant::now()),
            max_points: config.max_points,
            stats,
        });
        let router = Router::new()
            .route("/v1/push", post(push))
            .layer(DefaultBodyLimit::max(config.max_body_kib * 1024))
            .with_state(state);
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stopped.cancelled().await });
            if let Err(e) = serve.await {
                tracing::error!("push API stopped: {e}");
            }
        });
        Ok(Self { task, stop })
    }

    /// Stops listening; requests under way finish.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

async fn push(
    State(state): State<Arc<PushState>>,
    body: Result<Bytes, BytesRejection>,
) -> (StatusCode, String) {
    use std::sync::atomic::Ordering::Relaxed;
    state.stats.push_requests.fetch_add(1, Relaxed);
    let answer = match body {
        Ok(body) => take(&state, &body).await,
        Err(rejection) => Err((rejection.status(), rejection.body_text())),
    };
    match answer {
        Ok(points) => {
            state.stats.push_points.fetch_add(points as u64, Relaxed);
            (StatusCode::OK, "success".into())
        }
        Err((status, reason)) => {
            state.stats.push_refused.fetch_add(1, Relaxed);
            (status, format!("{reason}\n"))
        }
    }
}

/// Validates the whole body, then sends its points; how many.
async fn take(state: &PushState, body: &[u8]) -> Result<usize, (StatusCode, String)> {
    let bad = |reason: String| (StatusCode::BAD_REQUEST, reason);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad("body is blank".into()));
    }
    let points: Vec<Point> =
        serde_json::from_slice(body).map_err(|e| bad(format!("cannot decode body: {e}")))?;
    if points.len() > state.max_points {
        return Err(bad(format!(
            "{} points, at most {} in one request (push.max_points)",
            points.len(),
            state.max_points
        )));
    }
    let now = now_ms();
    let samples = points
        .into_iter()
        .enumerate()
        .map(|(i, p)| sample(p, now).map_err(|e| bad(format!("points[{i}]: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let count = samples.len();
    let end_run = {
        let mut last_end = state
            .last_end
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let due = last_end.elapsed() >= END_RUN_EVERY;
        if due {
            *last_end = Instant::now();
        }
        due
    };
    state.producer.points(samples, end_run).await;
    Ok(count)
}

/// One point as a sample at its time, or what is wrong with it.
fn sample(p: Point, now_ms: i64) -> Result<(Sample, i64), String> {
    let kind = match p.counter_type.as_str() {
        "GAUGE" => MetricKind::Gauge,
        "COUNTER" => MetricKind::Rate,
        other => return Err(format!("counterType {other:?}: expected GAUGE or COUNTER")),
    };
    let value = match &p.value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|v| v.is_finite())
    .ok_or_else(|| format!("value {}: expected a number", p.value))?;
    if p.endpoint.is_empty() {
        return Err("endpoint is empty".into());
    }
    if p.step <= 0 {
        return Err(format!("step {}: expected seconds above 0", p.step));
    }
    // Open-Falcon takes the time of receipt for a timestamp that is unset or far ahead.
    let timestamp_ms = match p.timestamp.checked_mul(1000) {
        Some(ms) if ms > 0 && ms <= now_ms.saturating_mul(2) => ms,
        _ => now_ms,
    };
    let mut tags: Vec<String> = p
        .tags
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| t.replacen('=', ":", 1))
        .collect();
    tags.push(format!("host:{}", p.endpoint));
    let sample = Sample {
        name: p.metric,
        kind,
        value,
        tags,
        timestamp_ms: None,
    };
    if let Some(problem) = sample.problem() {
        return Err(problem);
    }
    Ok((sample, timestamp_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(json: &str) -> Result<(Sample, i64), String> {
        sample(serde_json::from_str(json).unwrap(), 1_700_000_000_000)
    }

    #[test]
    fn points_become_samples_or_say_why_not() {
        let (s, ts) = point(
            r#"{"metric":"qps","endpoint":"web-1","timestamp":1699999999,"step":60,"value":"12.5","counterType":"COUNTER","tags":"idc=bj, svc=api"}"#,
        )
        .unwrap();
        assert_eq!(
            (s.kind, s.value, ts),
            (MetricKind::Rate, 12.5, 1_699_999_999_000)
        );
        assert_eq!(s.tags, ["idc:bj", "svc:api", "host:web-1"]);
        let (_, ts) =
            point(r#"{"metric":"m","endpoint":"e","value":1,"counterType":"GAUGE"}"#).unwrap();
        assert_eq!(ts, 1_700_000_000_000, "no timestamp: the time of receipt");
        for (json, wanted) in [
            (
                r#"{"metric":"m","endpoint":"e","value":1,"counterType":"DERIVE"}"#,
                "counterType",
            ),
            (
                r#"{"metric":"m","endpoint":"e","value":"x","counterType":"GAUGE"}"#,
                "value",
            ),
            (
                r#"{"metric":"m","endpoint":"e","value":[1],"counterType":"GAUGE"}"#,
                "value",
            ),
            (
                r#"{"metric":"m","endpoint":"","value":1,"counterType":"GAUGE"}"#,
                "endpoint",
            ),
            (
                r#"{"metric":"m","endpoint":"e","value":1,"step":0,"counterType":"GAUGE"}"#,
                "step",
            ),
            (
                r#"{"metric":"a b","endpoint":"e","value":1,"counterType":"GAUGE"}"#,
                "metric name",
            ),
        ] {
            let error = point(json).unwrap_err();
            assert!(error.contains(wanted), "{json}: {error}");
        }
    }
}
