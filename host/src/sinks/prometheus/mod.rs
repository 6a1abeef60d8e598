//! The pull model: the latest value of every series on `/metrics`, in Prometheus' text
//! exposition format (names and label names made Prometheus-valid, every series a gauge,
//! without timestamps so Prometheus stamps its scrape).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::mpsc;

use super::remote_write::labels;
use crate::model::Payload;

/// Latest values: metric name → (labels → value).
type Values = BTreeMap<String, BTreeMap<Vec<(String, String)>, f64>>;
/// [`Values`], shared with the HTTP handler.
type Latest = Arc<Mutex<Values>>;

/// Serves `/metrics` on `listen` and keeps it current from the queue until it closes.
pub async fn run(listen: String, mut queue: mpsc::Receiver<Arc<Payload>>) {
    let latest = Latest::default();
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("prometheus sink: cannot listen on {listen}: {e}");
            return;
        }
    };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(address = %addr, "prometheus scrape endpoint listening");
    }
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(latest.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    while let Some(payload) = queue.recv().await {
        let mut latest = latest.lock().unwrap_or_else(PoisonError::into_inner);
        for s in payload.all_series() {
            let mut labels = labels(&s);
            let name = labels.remove(
                labels
                    .iter()
                    .position(|l| l.name == "__name__")
                    .unwrap_or_default(),
            );
            let key = labels.into_iter().map(|l| (l.name, l.value)).collect();
            latest.entry(name.value).or_default().insert(key, s.value);
        }
    }
    server.abort();
}

async fn metrics(State(latest): State<Latest>) -> impl IntoResponse {
    let latest = latest.lock().unwrap_or_else(PoisonError::into_inner);
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        render(&latest),
    )
}

fn render(latest: &Values) -> String {
    let mut out = String::new();
    for (name, series) in latest {
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (labels, value) in series {
            out.push_str(name);
            if !labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let v = v
                        .replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\n', "\\n");
                    let _ = write!(out, "{k}=\"{v}\"");
                }
                out.push('}');
            }
            let _ = writeln!(out, " {value:?}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_exposition_escapes_label_values() {
        let mut latest = BTreeMap::new();
        latest.insert(
            "disk_free".to_string(),
            BTreeMap::from([(vec![("mount".to_string(), "/a \"b\"\\".to_string())], 1.5)]),
        );
        assert_eq!(
            render(&latest),
            "# TYPE disk_free gauge\ndisk_free{mount=\"/a \\\"b\\\"\\\\\"} 1.5\n"
        );
    }
}
