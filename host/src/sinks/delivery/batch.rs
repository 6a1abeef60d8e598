//! What one disk-buffer record holds: series, and for sinks that take them as such, service
//! checks, events and sketches. Records written before service checks were buffered hold a bare list of
//! series and are read as a batch of series.

use serde::{Deserialize, Serialize};

use crate::model::{Event, Series, ServiceCheck, Sketch};

/// Series, service checks and events sent together.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// Series.
    pub series: Vec<Series>,
    /// Service checks (only for sinks that carry them as such).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_checks: Vec<ServiceCheck>,
    /// Events (only for sinks that carry them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Event>,
    /// Distributions (only for sinks that carry sketches).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sketches: Vec<Sketch>,
}

/// A record as it may lie on disk.
#[derive(Deserialize)]
#[serde(untagged)]
enum Stored {
    Batch(Batch),
    Series(Vec<Series>),
}

impl Batch {
    /// How many items it holds (what the disk buffer counts).
    pub fn len(&self) -> usize {
        self.series.len() + self.service_checks.len() + self.events.len() + self.sketches.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads one record.
    pub fn decode(data: &[u8]) -> serde_json::Result<Self> {
        Ok(match serde_json::from_slice(data)? {
            Stored::Batch(batch) => batch,
            Stored::Series(series) => Self {
                series,
                ..Self::default()
            },
        })
    }

    /// Appends `other`.
    pub fn extend(&mut self, other: Self) {
        self.series.extend(other.series);
        self.service_checks.extend(other.service_checks);
        self.events.extend(other.events);
        self.sketches.extend(other.sketches);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SeriesKind, Status};

    #[test]
    fn old_records_and_new_ones_are_read() {
        let series = Series {
            name: "a".into(),
            kind: SeriesKind::Gauge,
            value: 1.0,
            timestamp_ms: 5,
            tags: vec!["host:h".into()],
        };
        let old = serde_json::to_vec(&vec![series.clone()]).unwrap();
        let read = Batch::decode(&old).unwrap();
        assert_eq!(read.series, std::slice::from_ref(&series));
        assert!(read.service_checks.is_empty());
        let batch = Batch {
            series: vec![series],
            service_checks: vec![ServiceCheck {
                name: "app.up".into(),
                status: Status::Warning,
                message: "slow".into(),
                tags: vec![],
                timestamp_ms: 7,
            }],
            ..Batch::default()
        };
        let new = serde_json::to_vec(&batch).unwrap();
        assert_eq!(Batch::decode(&new).unwrap(), batch);
        assert_eq!(batch.len(), 2);
        assert!(Batch::decode(b"{\"nope\":1}").is_err());
    }
}
