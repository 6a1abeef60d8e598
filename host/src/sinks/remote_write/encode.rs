//! Prometheus remote write 1.0: a protobuf `WriteRequest`, snappy-compressed (block format).
//! Names and label names are made Prometheus-valid (`system.cpu.user` → `system_cpu_user`).

use prost::Message;

use crate::model::Series;
use crate::sinks::labels::prometheus_series;

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    /// The series.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// Sorted by name, `__name__` included.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Points.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Message)]
pub struct Label {
    /// Name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// Value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Unix milliseconds.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// The labels of a series: `__name__` and its tags, sorted by name.
fn labels(s: &Series) -> Vec<Label> {
    let (name, tags) = prometheus_series(s);
    let mut labels: Vec<Label> = tags
        .into_iter()
        .map(|(name, value)| Label { name, value })
        .collect();
    labels.push(Label {
        name: "__name__".into(),
        value: name,
    });
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    labels
}

/// The compressed request body.
pub fn encode(series: &[Series]) -> Result<Vec<u8>, snap::Error> {
    let request = WriteRequest {
        timeseries: series
            .iter()
            .map(|s| TimeSeries {
                labels: labels(s),
                samples: vec![Sample {
                    value: s.value,
                    timestamp: s.timestamp_ms,
                }],
            })
            .collect(),
    };
    snap::raw::Encoder::new().compress_vec(&request.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SeriesKind;

    #[test]
    fn round_trips_through_snappy_and_protobuf() {
        let s = Series {
            name: "system.cpu.user".into(),
            kind: SeriesKind::Gauge,
            value: 12.5,
            timestamp_ms: 1_700_000_000_000,
            tags: vec!["host:h".into(), "cpu-set:a".into()],
        };
        let body = encode(&[s]).unwrap();
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let request = WriteRequest::decode(&raw[..]).unwrap();
        let ts = &request.timeseries[0];
        let names: Vec<(&str, &str)> = ts
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("__name__", "system_cpu_user"),
                ("cpu_set", "a"),
                ("host", "h")
            ]
        );
        assert_eq!(ts.samples[0].timestamp, 1_700_000_000_000);
    }
}
