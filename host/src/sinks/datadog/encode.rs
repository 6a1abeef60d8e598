//! Datadog's APIs: series (`POST {url}/api/v1/series`), service checks
//! (`/api/v1/check_run`) and events (`/api/v1/events`, one a request), JSON compressed with
//! deflate, and distributions (`/api/beta/sketches`, the agent's `SketchPayload` protobuf,
//! deflated), the key in `DD-API-KEY`. Series carry their host in `host` and their kind as
//! `gauge`, `count` or `rate`; service checks and events carry theirs in `host_name`/`host`.

use std::io::Write;

use flate2::Compression;
use flate2::write::ZlibEncoder;
use serde::Serialize;

use crate::model::{Event, Series, SeriesKind, ServiceCheck, Sketch};

/// Where series go, below the sink's URL.
pub const SERIES_PATH: &str = "/api/v1/series";
/// Where service checks go.
pub const CHECK_RUN_PATH: &str = "/api/v1/check_run";
/// Where events go.
pub const EVENTS_PATH: &str = "/api/v1/events";
/// Where distributions go.
pub const SKETCHES_PATH: &str = "/api/beta/sketches";

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

/// `datadog.agentpayload.SketchPayload`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SketchPayload {
    /// One per series.
    #[prost(message, repeated, tag = "1")]
    pub sketches: Vec<SketchSeries>,
}

/// `SketchPayload.Sketch`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SketchSeries {
    /// Metric name.
    #[prost(string, tag = "1")]
    pub metric: String,
    /// Host.
    #[prost(string, tag = "2")]
    pub host: String,
    /// Tags but `host:`.
    #[prost(string, repeated, tag = "4")]
    pub tags: Vec<String>,
    /// One per window.
    #[prost(message, repeated, tag = "7")]
    pub dogsketches: Vec<Dogsketch>,
}

/// `SketchPayload.Sketch.Dogsketch`: a window's bins in the agent's mapping.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dogsketch {
    /// Unix seconds.
    #[prost(int64, tag = "1")]
    pub ts: i64,
    /// How many values.
    #[prost(int64, tag = "2")]
    pub cnt: i64,
    /// Smallest.
    #[prost(double, tag = "3")]
    pub min: f64,
    /// Largest.
    #[prost(double, tag = "4")]
    pub max: f64,
    /// Mean.
    #[prost(double, tag = "5")]
    pub avg: f64,
    /// Sum.
    #[prost(double, tag = "6")]
    pub sum: f64,
    /// Bin keys.
    #[prost(sint32, repeated, tag = "7")]
    pub k: Vec<i32>,
    /// Bin counts.
    #[prost(uint32, repeated, tag = "8")]
    pub n: Vec<u32>,
}

/// The compressed body of one `sketches` request.
pub fn encode_sketches(sketches: &[Sketch]) -> std::io::Result<Vec<u8>> {
    use prost::Message;
    let payload = SketchPayload {
        sketches: sketches
            .iter()
            .map(|s| SketchSeries {
                metric: s.name.clone(),
                host: host_of(&s.tags).unwrap_or_default().into(),
                tags: without_host(&s.tags)
                    .into_iter()
                    .map(String::from)
                    .collect(),
                dogsketches: vec![Dogsketch {
                    ts: s.timestamp_ms.div_euclid(1000),
                    cnt: i64::try_from(s.count).unwrap_or(i64::MAX),
                    min: s.min,
                    max: s.max,
                    avg: if s.count > 0 {
                        s.sum / s.count as f64
                    } else {
                        0.0
                    },
                    sum: s.sum,
                    k: s.keys.clone(),
                    n: s.counts.clone(),
                }],
            })
            .collect(),
    };
    deflate(&payload.encode_to_vec())
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
    fn sketches_in_the_agents_protobuf() {
        use prost::Message;
        let sketch = Sketch {
            name: "app.size".into(),
            tags: vec!["env:prod".into(), "host:web-1".into()],
            timestamp_ms: 1_700_000_000_000,
            count: 3,
            min: 1.0,
            max: 4.0,
            sum: 6.0,
            keys: vec![1338, 1382, 1427],
            counts: vec![1, 1, 1],
            summary: vec![],
        };
        let mut body = Vec::new();
        ZlibDecoder::new(&encode_sketches(&[sketch]).unwrap()[..])
            .read_to_end(&mut body)
            .unwrap();
        let payload = SketchPayload::decode(&body[..]).unwrap();
        let s = &payload.sketches[0];
        assert_eq!((s.metric.as_str(), s.host.as_str()), ("app.size", "web-1"));
        assert_eq!(s.tags, ["env:prod"]);
        let d = &s.dogsketches[0];
        assert_eq!(
            (d.ts, d.cnt, d.min, d.max, d.avg, d.sum),
            (1_700_000_000, 3, 1.0, 4.0, 2.0, 6.0)
        );
        assert_eq!(
            (d.k.clone(), d.n.clone()),
            (vec![1338, 1382, 1427], vec![1, 1, 1])
        );
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
