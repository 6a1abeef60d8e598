//! What the intake took and refused: counters the receive paths bump, reported as
//! `wasmon.dogstatsd.*` and `wasmon.push.*` at each flush and in `wasmon status`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

use super::dogstatsd::ParseError;
use crate::aggregate::window::Dropped;
use crate::model::{Series, SeriesKind};

/// Counters since the agent started.
#[derive(Debug, Default)]
pub struct IntakeStats {
    /// Datagrams received.
    pub packets: AtomicU64,
    /// Lines taken (metrics, events and service checks).
    pub lines: AtomicU64,
    /// Events taken.
    pub events: AtomicU64,
    /// Service checks taken.
    pub service_checks: AtomicU64,
    /// Lines refused, by [`ParseError::index`].
    pub parse_errors: [AtomicU64; ParseError::ALL.len()],
    /// Submissions dropped past a limit, by [`Dropped::index`].
    pub dropped: [AtomicU64; Dropped::ALL.len()],
    /// Datagrams the kernel dropped because the sockets' buffers were full.
    pub socket_drops: AtomicU64,
    /// Live contexts after the last flush.
    pub contexts: AtomicU64,
    /// Microseconds the last flush took.
    pub flush_micros: AtomicU64,
    /// Push requests answered.
    pub push_requests: AtomicU64,
    /// Points pushed and taken.
    pub push_points: AtomicU64,
    /// Push requests refused (400, 413).
    pub push_refused: AtomicU64,
    /// Where it listens.
    pub listening: Mutex<Vec<String>>,
}

/// The intake in `wasmon status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntakeReport {
    /// Addresses listened on (`udp://…`, `unix://…`, `http://…`).
    pub listening: Vec<String>,
    /// Datagrams received.
    pub packets: u64,
    /// Lines taken.
    pub lines: u64,
    /// Events taken.
    pub events: u64,
    /// Service checks taken.
    pub service_checks: u64,
    /// Lines refused, by reason.
    pub parse_errors: BTreeMap<String, u64>,
    /// Submissions dropped, by reason (`socket`: by the kernel).
    pub dropped: BTreeMap<String, u64>,
    /// Live contexts.
    pub contexts: u64,
    /// Milliseconds the last flush took.
    pub flush_ms: f64,
    /// Push requests answered.
    pub push_requests: u64,
    /// Points pushed.
    pub push_points: u64,
    /// Push requests refused.
    pub push_refused: u64,
}

impl IntakeStats {
    /// Counts a refused line.
    pub fn count_parse_error(&self, error: ParseError) {
        self.parse_errors[error.index()].fetch_add(1, Relaxed);
    }

    /// Counts a dropped submission.
    pub fn count_drop(&self, dropped: Dropped) {
        self.dropped[dropped.index()].fetch_add(1, Relaxed);
    }

    /// The counters now.
    pub fn report(&self) -> IntakeReport {
        let count = |c: &AtomicU64| c.load(Relaxed);
        let mut dropped: BTreeMap<String, u64> = Dropped::ALL
            .iter()
            .map(|d| (d.reason().to_string(), count(&self.dropped[d.index()])))
            .collect();
        dropped.insert("socket".into(), count(&self.socket_drops));
        IntakeReport {
            listening: self
                .listening
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            packets: count(&self.packets),
            lines: count(&self.lines),
            events: count(&self.events),
            service_checks: count(&self.service_checks),
            parse_errors: ParseError::ALL
                .iter()
                .map(|e| (e.reason().to_string(), count(&self.parse_errors[e.index()])))
                .collect(),
            dropped,
            contexts: count(&self.contexts),
            flush_ms: count(&self.flush_micros) as f64 / 1000.0,
            push_requests: count(&self.push_requests),
            push_points: count(&self.push_points),
            push_refused: count(&self.push_refused),
        }
    }
}

impl IntakeReport {
    /// The agent's own series for what changed since `before`: counts of the window, and the
    /// live contexts and flush time as gauges.
    pub fn series(&self, before: &Self, tags: &[String], timestamp_ms: i64) -> Vec<Series> {
        let mut out = Vec::new();
        let mut point = |name: &str, kind, value: f64, extra: Option<String>| {
            let mut tags = tags.to_vec();
            if let Some(extra) = extra {
                tags.push(extra);
                tags.sort();
            }
            out.push(Series {
                name: name.into(),
                kind,
                value,
                timestamp_ms,
                tags,
            });
        };
        let delta = |now: u64, then: u64| now.saturating_sub(then) as f64;
        let counts = [
            ("wasmon.dogstatsd.packets", self.packets, before.packets),
            ("wasmon.dogstatsd.lines", self.lines, before.lines),
            ("wasmon.dogstatsd.events", self.events, before.events),
            (
                "wasmon.dogstatsd.service_checks",
                self.service_checks,
                before.service_checks,
            ),
            (
                "wasmon.push.requests",
                self.push_requests,
                before.push_requests,
            ),
            ("wasmon.push.points", self.push_points, before.push_points),
            (
                "wasmon.push.refused",
                self.push_refused,
                before.push_refused,
            ),
        ];
        for (name, now, then) in counts {
            point(name, SeriesKind::Count, delta(now, then), None);
        }
        let by_reason = [
            (
                "wasmon.dogstatsd.parse_errors",
                &self.parse_errors,
                &before.parse_errors,
            ),
            ("wasmon.dogstatsd.dropped", &self.dropped, &before.dropped),
        ];
        for (name, counts, previous) in by_reason {
            for (reason, now) in counts {
                let then = previous.get(reason).copied().unwrap_or(0);
                let tag = Some(format!("reason:{reason}"));
                point(name, SeriesKind::Count, delta(*now, then), tag);
            }
        }
        point(
            "wasmon.dogstatsd.contexts",
            SeriesKind::Gauge,
            self.contexts as f64,
            None,
        );
        point(
            "wasmon.dogstatsd.flush_time",
            SeriesKind::Gauge,
            self.flush_ms / 1000.0,
            None,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_count_what_changed() {
        let stats = IntakeStats::default();
        let before = stats.report();
        stats.packets.fetch_add(3, Relaxed);
        stats.count_parse_error(ParseError::BadType);
        stats.count_parse_error(ParseError::BadType);
        stats.count_drop(Dropped::ContextLimit);
        stats.socket_drops.store(4, Relaxed);
        let now = stats.report();
        assert_eq!(now.parse_errors["bad_type"], 2);
        assert_eq!(now.dropped["socket"], 4);
        let series = now.series(&before, &["host:h".into()], 1_000);
        let find = |name: &str, tag: &str| {
            series
                .iter()
                .find(|s| s.name == name && (tag.is_empty() || s.tags.iter().any(|t| t == tag)))
                .map(|s| s.value)
        };
        assert_eq!(find("wasmon.dogstatsd.packets", ""), Some(3.0));
        assert_eq!(
            find("wasmon.dogstatsd.parse_errors", "reason:bad_type"),
            Some(2.0)
        );
        assert_eq!(
            find("wasmon.dogstatsd.parse_errors", "reason:bad_name"),
            Some(0.0)
        );
        assert_eq!(
            find("wasmon.dogstatsd.dropped", "reason:context_limit"),
            Some(1.0)
        );
        assert_eq!(find("wasmon.dogstatsd.dropped", "reason:socket"), Some(4.0));
        assert!(
            series
                .iter()
                .all(|s| s.tags.contains(&"host:h".to_string()))
        );
    }
}
