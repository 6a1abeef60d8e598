//! OpenTSDB's two encodings: telnet `put` lines and `/api/put` JSON. OpenTSDB needs at least
//! one tag per point; every series here has `host`.

use std::fmt::Write as _;

use serde::Serialize;

use crate::model::Series;
use crate::sinks::labels::{opentsdb_char, pairs, sanitize};

fn tags(s: &Series) -> Vec<(String, String)> {
    pairs(s, |k| sanitize(k, opentsdb_char))
        .into_iter()
        .map(|(k, v)| (k, sanitize(&v, opentsdb_char)))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// `put name ts value k=v ...` lines, timestamps in seconds as tcollector sends them (some
/// telnet listeners, VictoriaMetrics' among them, take nothing else).
pub fn put_lines(series: &[Series]) -> String {
    let mut out = String::with_capacity(series.len() * 80);
    for s in series {
        let seconds = s.timestamp_ms.div_euclid(1000);
        let _ = write!(out, "put {} {seconds} {:?}", s.name, s.value);
        for (k, v) in tags(s) {
            let _ = write!(out, " {k}={v}");
        }
        out.push('\n');
    }
    out
}

#[derive(Serialize)]
struct Point<'a> {
    metric: &'a str,
    timestamp: i64,
    value: f64,
    tags: std::collections::BTreeMap<String, String>,
}

/// The `/api/put` JSON body.
pub fn http_body(series: &[Series]) -> serde_json::Result<Vec<u8>> {
    let points: Vec<Point> = series
        .iter()
        .map(|s| Point {
            metric: &s.name,
            timestamp: s.timestamp_ms,
            value: s.value,
            tags: tags(s).into_iter().collect(),
        })
        .collect();
    serde_json::to_vec(&points)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SeriesKind;

    #[test]
    fn put_lines_sanitise_tags() {
        let s = Series {
            name: "mysql.performance.user_connections".into(),
            kind: SeriesKind::Gauge,
            value: 3.0,
            timestamp_ms: 1_700_000_000_250,
            tags: vec!["host:db-1".into(), "state:Sending data".into()],
        };
        assert_eq!(
            put_lines(std::slice::from_ref(&s)),
            "put mysql.performance.user_connections 1700000000 3.0 host=db-1 state=Sending_data\n"
        );
        let json: serde_json::Value = serde_json::from_slice(&http_body(&[s]).unwrap()).unwrap();
        assert_eq!(json[0]["tags"]["state"], "Sending_data");
        assert_eq!(json[0]["timestamp"], 1_700_000_000_250i64);
    }
}
