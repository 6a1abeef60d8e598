//! What each sink has done, for the agent's own metrics and `/v1/status`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::model::{Payload, Series, SeriesKind};

/// Counters of one sink, shared by its tasks.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Series the backend accepted.
    pub sent: AtomicU64,
    /// Bytes put on the wire (compressed).
    pub sent_bytes: AtomicU64,
    /// Requests that failed (each is retried or dropped).
    pub failed: AtomicU64,
    /// Retries after a failure.
    pub retried: AtomicU64,
    /// Series dropped: refused by the backend, or past the disk budget.
    pub dropped: AtomicU64,
    /// Series waiting in memory for the next flush (estimated bytes).
    pub memory_bytes: AtomicU64,
    /// Bytes of the disk buffer not yet delivered.
    pub disk_bytes: AtomicU64,
    /// Records of the disk buffer found damaged and skipped.
    pub corrupt_records: AtomicU64,
    /// The last failure, in words.
    last_error: Mutex<Option<String>>,
}

/// A snapshot of [`SinkStats`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// See [`SinkStats::sent`].
    pub sent: u64,
    /// See [`SinkStats::sent_bytes`].
    pub sent_bytes: u64,
    /// See [`SinkStats::failed`].
    pub failed: u64,
    /// See [`SinkStats::retried`].
    pub retried: u64,
    /// See [`SinkStats::dropped`].
    pub dropped: u64,
    /// See [`SinkStats::memory_bytes`].
    pub memory_bytes: u64,
    /// See [`SinkStats::disk_bytes`].
    pub disk_bytes: u64,
    /// See [`SinkStats::corrupt_records`].
    #[serde(default)]
    pub corrupt_records: u64,
}

impl SinkStats {
    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            sent: self.sent.load(Relaxed),
            sent_bytes: self.sent_bytes.load(Relaxed),
            failed: self.failed.load(Relaxed),
            retried: self.retried.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            memory_bytes: self.memory_bytes.load(Relaxed),
            disk_bytes: self.disk_bytes.load(Relaxed),
            corrupt_records: self.corrupt_records.load(Relaxed),
        }
    }

    /// Counts `payload` into the queue's memory.
    pub fn queue(&self, payload: &Payload) {
        self.memory_bytes.fetch_add(payload_bytes(payload), Relaxed);
    }

    /// Counts `payload` out of the queue's memory.
    pub fn unqueue(&self, payload: &Payload) {
        let bytes = payload_bytes(payload);
        let _ = self
            .memory_bytes
            .fetch_update(Relaxed, Relaxed, |held| Some(held.saturating_sub(bytes)));
    }

    /// Keeps `error` as the last failure.
    pub fn set_error(&self, error: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error);
    }

    /// The last failure.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A payload's size in memory, roughly.
fn payload_bytes(payload: &Payload) -> u64 {
    payload
        .series
        .iter()
        .map(|s| (s.name.len() + s.tags.iter().map(|t| t.len() + 24).sum::<usize>() + 80) as u64)
        .sum()
}

impl StatsSnapshot {
    /// `wasmon.sink.*` series for sink `name`: counters as their increase since `previous`,
    /// queue sizes as gauges.
    pub fn series(
        &self,
        previous: &Self,
        name: &str,
        tags: &[String],
        timestamp_ms: i64,
    ) -> Vec<Series> {
        let mut tags = tags.to_vec();
        tags.push(format!("sink:{name}"));
        tags.sort();
        let point = |metric: &str, kind, value: u64| Series {
            name: format!("wasmon.sink.{metric}"),
            kind,
            value: value as f64,
            timestamp_ms,
            tags: tags.clone(),
        };
        let count = |now: u64, before: u64| now.saturating_sub(before);
        vec![
            point("sent", SeriesKind::Count, count(self.sent, previous.sent)),
            point(
                "sent_bytes",
                SeriesKind::Count,
                count(self.sent_bytes, previous.sent_bytes),
            ),
            point(
                "failed",
                SeriesKind::Count,
                count(self.failed, previous.failed),
            ),
            point(
                "retried",
                SeriesKind::Count,
                count(self.retried, previous.retried),
            ),
            point(
                "dropped",
                SeriesKind::Count,
                count(self.dropped, previous.dropped),
            ),
            point(
                "corrupt_records",
                SeriesKind::Count,
                count(self.corrupt_records, previous.corrupt_records),
            ),
            point("queued_memory_bytes", SeriesKind::Gauge, self.memory_bytes),
            point("queued_disk_bytes", SeriesKind::Gauge, self.disk_bytes),
        ]
    }
}
