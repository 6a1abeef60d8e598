//! How a remote sink batches, buffers and retries (`delivery:` of each remote sink).

use std::time::Duration;

use serde::Deserialize;

/// How a sink batches, buffers and retries.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Delivery {
    /// Most series in one request.
    pub batch_max_series: usize,
    /// Seconds a partial batch waits for more series (±10% jitter).
    pub flush_secs: f64,
    /// Disk the buffer may use, in MiB; past it the oldest series are dropped and counted.
    pub disk_budget_mib: u64,
    /// Seconds one request may take.
    pub request_timeout_secs: f64,
    /// Longest wait between retries, in seconds (the wait doubles from 0.5 s, with jitter).
    pub retry_max_secs: f64,
    /// Hold back a series whose value has not changed for up to this many seconds (tcollector's
    /// dedup); the last value is sent before a change. 0 sends every point.
    pub dedup_secs: f64,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            batch_max_series: 5000,
            flush_secs: 1.0,
            disk_budget_mib: 256,
            request_timeout_secs: 10.0,
            retry_max_secs: 60.0,
            dedup_secs: 0.0,
        }
    }
}

impl Delivery {
    /// The flush interval.
    pub fn flush(&self) -> Duration {
        Duration::from_secs_f64(self.flush_secs)
    }

    /// The request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.request_timeout_secs)
    }

    /// The longest back-off.
    pub fn retry_max(&self) -> Duration {
        Duration::from_secs_f64(self.retry_max_secs)
    }

    /// What is wrong, as `(field, message)` with fields from `delivery.` on.
    pub fn problems(&self) -> Vec<(String, String)> {
        let d = self;
        let mut problems = Vec::new();
        let seconds = [
            ("delivery.flush_secs", d.flush_secs, 0.01, 3600.0),
            (
                "delivery.request_timeout_secs",
                d.request_timeout_secs,
                0.1,
                600.0,
            ),
            ("delivery.retry_max_secs", d.retry_max_secs, 0.5, 3600.0),
        ];
        for (field, value, least, most) in seconds {
            if !(least..=most).contains(&value) {
                problems.push((
                    field.into(),
                    format!("{value}: expected seconds between {least} and {most}"),
                ));
            }
        }
        if d.batch_max_series == 0 {
            problems.push((
                "delivery.batch_max_series".into(),
                "0: expected at least 1".into(),
            ));
        }
        if d.disk_budget_mib == 0 {
            problems.push((
                "delivery.disk_budget_mib".into(),
                "0: expected at least 1".into(),
            ));
        }
        if !(0.0..=86_400.0).contains(&d.dedup_secs) {
            problems.push((
                "delivery.dedup_secs".into(),
                format!("{}: expected seconds between 0 and 86400", d.dedup_secs),
            ));
        }
        problems
    }
}
