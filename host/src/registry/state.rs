//! What each source did, for `wasmon status`, `configcheck` and the agent's own metrics.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::model::{Series, SeriesKind};

/// One source as it stands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceReport {
    /// The check it provides.
    pub check: String,
    /// The reference it follows.
    pub reference: String,
    /// The digest of the component that runs, `sha256:<hex>`.
    pub digest: Option<String>,
    /// The id of the key that signed it.
    pub key_id: Option<String>,
    /// Unix milliseconds of the last poll.
    pub last_poll_ms: Option<i64>,
    /// The last poll's failure, in words; `None` once a poll succeeds.
    pub last_error: Option<String>,
}

/// Counters since the agent started.
#[derive(Debug, Default)]
pub struct Counters {
    /// Components pulled and verified.
    pub pulls: AtomicU64,
    /// Components refused: bad signature, digest, layout, size, or not a component.
    pub verify_failures: AtomicU64,
    /// Polls that could not reach the registry or got an error from it.
    pub poll_errors: AtomicU64,
    /// Bytes of components pulled.
    pub bytes_pulled: AtomicU64,
}

/// Every source's report and the counters.
#[derive(Debug, Default)]
pub struct SourcesState {
    reports: Mutex<BTreeMap<String, SourceReport>>,
    /// What the pollers counted.
    pub counters: Counters,
}

impl SourcesState {
    /// Replaces the report of `report.check`.
    pub fn set(&self, report: SourceReport) {
        if let Ok(mut reports) = self.reports.lock() {
            reports.insert(report.check.clone(), report);
        }
    }

    /// Forgets the reports of checks `keep` says no to.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        if let Ok(mut reports) = self.reports.lock() {
            reports.retain(|check, _| keep(check));
        }
    }

    /// Whether there is no source.
    pub fn is_empty(&self) -> bool {
        self.reports.lock().map_or(true, |r| r.is_empty())
    }

    /// Every source's report, by check.
    pub fn reports(&self) -> Vec<SourceReport> {
        self.reports
            .lock()
            .map(|r| r.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The counters as `wasmon.registry.*` counts since `before`, which is moved on.
    pub fn series(&self, before: &mut [u64; 4], tags: &[String], timestamp_ms: i64) -> Vec<Series> {
        let c = &self.counters;
        let now = [
            &c.pulls,
            &c.verify_failures,
            &c.poll_errors,
            &c.bytes_pulled,
        ]
        .map(|n| n.load(Ordering::Relaxed));
        let names = ["pulls", "verify_failures", "poll_errors", "bytes_pulled"];
        let series = names
            .iter()
            .zip(now.iter().zip(before.iter()))
            .map(|(name, (now, was))| Series {
                name: format!("wasmon.registry.{name}"),
                kind: SeriesKind::Count,
                value: now.saturating_sub(*was) as f64,
                timestamp_ms,
                tags: tags.to_vec(),
            })
            .collect();
        *before = now;
        series
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counters_go_out_as_counts_since_the_last_report() {
        let state = SourcesState::default();
        state.counters.pulls.fetch_add(2, Ordering::Relaxed);
        state
            .counters
            .bytes_pulled
            .fetch_add(100, Ordering::Relaxed);
        let mut before = [0; 4];
        let first = state.series(&mut before, &[], 1);
        let value = |s: &[Series], n: &str| {
            s.iter()
                .find(|s| s.name == format!("wasmon.registry.{n}"))
                .unwrap()
                .value
        };
        assert_eq!(
            (value(&first, "pulls"), value(&first, "bytes_pulled")),
            (2.0, 100.0)
        );
        state.counters.pulls.fetch_add(1, Ordering::Relaxed);
        let second = state.series(&mut before, &[], 2);
        assert_eq!(
            (value(&second, "pulls"), value(&second, "bytes_pulled")),
            (1.0, 0.0)
        );
    }
}
