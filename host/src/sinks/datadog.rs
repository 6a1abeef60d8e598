//! Datadog's v1 APIs: series (`POST {url}/api/v1/series`), service checks
//! (`/api/v1/check_run`) and events (`/api/v1/events`, one a request), JSON compressed with
//! deflate, the key in `DD-API-KEY`. Series carry their host in `host` and their kind as
//! `gauge`, `count` or `rate`; service checks and events carry theirs in `host_name`/`host`.

use std::io::Write;

use flate2::Compression;
use flate2::write::ZlibEncoder;
use serde::Serialize;

use crate::model::{Event, Series, SeriesKind, ServiceCheck};

/// Where series go, below the sink's URL.
pub const SERIES_PATH: &str = "/api/v1/series";
/// Where service checks go.
pub const CHECK_RUN_PATH: &str = "/api/v1/check_run";
/// Where events go.
pub const EVENTS_PATH: &str = "/api/v1/events";

#[derive(Serialize)]
struct Body<'a> {
    series: Vec<DatadogSeries<'a>>,
}

#[derive(Serialize)]
struct DatadogSeries<'a> {
    metric: &'a str,
    points: [(i64, f64); 1],
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    tags: Vec<&'a str>,
}

/// The compressed request body.
pub fn encode(series: &[Series]) -> std::io::Result<Vec<u8>> {
    let body = Body {
        series: series
            .iter()
            .map(|s| DatadogSeries {
                metric: &s.name,
                points: [(s.timestamp_ms.div_euclid(1000), s.value)],
                kind: match s.kind {
                    SeriesKind::Gauge => "gauge",
                    SeriesKind::Count => "count",
                    SeriesKind::Rate => "rate",
                },
                host: host_of(&s.tags),
                tags: without_host(&s.tags),
            })
            .collect(),
    };
    deflate(&serde_json::to_vec(&body)?)
}

#[derive(Serialize)]
struct CheckRun<'a> {
    check: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    host_name: Option<&'a str>,
    timestamp: i64,
    status: u8,
    message: &'a str,
    tags: Vec<&'a str>,
}

/// The compressed body of one `check_run` request.
pub fn encode_check_runs(checks: &[ServiceCheck]) -> std::io::Result<Vec<u8>> {
    let runs: Vec<CheckRun> = checks
        .iter()
        .map(|c| CheckRun {
            check: &c.name,
            host_name: host_of(&c.tags),
            timestamp: c.timestamp_ms.div_euclid(1000),
            status: c.status.code(),
            message: &c.message,
            tags: without_host(&c.tags),
        })
        .collect();
    deflate(&serde_json::to_vec(&runs)?)
}

#[derive(Serialize)]
struct DatadogEvent<'a> {
    title: &'a str,
    text: &'a str,
    date_happened: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alert_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aggregation_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_type_name: Option<&'a str>,
    tags: Vec<&'a str>,
}

/// The compressed body of one `events` request.
pub fn encode_event(e: &Event) -> std::io::Result<Vec<u8>> {
    let event = DatadogEvent {
        title: &e.title,
        text: &e.text,
        date_happened: e.timestamp_ms.div_euclid(1000),
        host: host_of(&e.tags),
        priority: e.priority.as_deref(),
        alert_type: e.alert_type.as_deref(),
        aggregation_key: e.aggregation_key.as_deref(),
        source_type_name: e.source_type_name.as_deref(),
        tags: without_host(&e.tags),
    };
    deflate(&serde_json::to_vec(&event)?)
}

fn host_of(tags: &[String]) -> Option<&str> {
    tags.iter().find_map(|t| t.strip_prefix("host:"))
}

fn without_host(tags: &[String]) -> Vec<&str> {
    tags.iter()
        .filter(|t| !t.starts_with("host:"))
        .map(String::as_str)
        .collect()
}

/// `json` compressed, in one write: serde_json's many small writes straight into the
/// compressor cost 100×.
fn deflate(json: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(json.len() / 8), Compression::fast());
    encoder.write_all(json)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::ZlibDecoder;
    use std::io::Read;

    #[test]
    fn host_is_lifted_and_kinds_named() {
        let s = Series {
            name: "system.load.1".into(),
            kind: SeriesKind::Rate,
            value: 0.5,
            timestamp_ms: 1_700_000_000_500,
            tags: vec!["env:prod".into(), "host:web-1".into()],
        };
        let mut json = String::new();
        ZlibDecoder::new(&encode(&[s]).unwrap()[..])
            .read_to_string(&mut json)
            .unwrap();
        assert_eq!(
            json,
            r#"{"series":[{"metric":"system.load.1","points":[[1700000000,0.5]],"type":"rate","host":"web-1","tags":["env:prod"]}]}"#
        );
    }

    fn inflate(body: &[u8]) -> String {
        let mut json = String::new();
        ZlibDecoder::new(body).read_to_string(&mut json).unwrap();
        json
    }

    #[test]
    fn service_checks_and_events_in_datadog_form() {
        let check = ServiceCheck {
            name: "app.up".into(),
            status: crate::model::Status::Critical,
            message: "down".into(),
            tags: vec!["host:web-1".into(), "env:prod".into()],
            timestamp_ms: 1_700_000_000_900,
        };
        assert_eq!(
            inflate(&encode_check_runs(&[check]).unwrap()),
            r#"[{"check":"app.up","host_name":"web-1","timestamp":1700000000,"status":2,"message":"down","tags":["env:prod"]}]"#
        );
        let event = Event {
            title: "deploy".into(),
            text: "v2\nout".into(),
            timestamp_ms: 1_700_000_000_000,
            priority: Some("low".into()),
            alert_type: None,
            aggregation_key: None,
            source_type_name: Some("ci".into()),
            tags: vec!["host:b".into(), "a:1".into()],
        };
        assert_eq!(
            inflate(&encode_event(&event).unwrap()),
            r#"{"title":"deploy","text":"v2\nout","date_happened":1700000000,"host":"b","priority":"low","source_type_name":"ci","tags":["a:1"]}"#
        );
    }
}
