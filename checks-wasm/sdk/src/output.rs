//! Collects what one run produces and sends it to the host in one batch.

use crate::bindings::wasmon::check::emit;
use crate::{MetricKind, Sample, ServiceCheck, Status};

/// What a run has produced so far. Samples are sent in one call when the run ends.
#[derive(Debug, Default)]
pub struct Output {
    timestamp_ms: i64,
    samples: Vec<Sample>,
    service_checks: Vec<ServiceCheck>,
}

impl Output {
    /// An empty output for a run at `timestamp_ms`.
    pub fn new(timestamp_ms: i64) -> Self {
        Self {
            timestamp_ms,
            ..Default::default()
        }
    }

    /// The run's timestamp (Unix milliseconds), the same for every sample of the run.
    pub fn timestamp_ms(&self) -> i64 {
        self.timestamp_ms
    }

    /// A value as it is now.
    pub fn gauge(&mut self, name: &str, value: f64, tags: &[&str]) {
        self.sample(name, MetricKind::Gauge, value, tags);
    }

    /// A cumulative counter that the host turns into a per-second rate.
    pub fn rate(&mut self, name: &str, value: f64, tags: &[&str]) {
        self.sample(name, MetricKind::Rate, value, tags);
    }

    /// A number of events during this run.
    pub fn count(&mut self, name: &str, value: f64, tags: &[&str]) {
        self.sample(name, MetricKind::Count, value, tags);
    }

    /// A cumulative counter that the host turns into its increase since the last run.
    pub fn monotonic_count(&mut self, name: &str, value: f64, tags: &[&str]) {
        self.sample(name, MetricKind::MonotonicCount, value, tags);
    }

    /// A sample of any kind.
    pub fn sample(&mut self, name: &str, kind: MetricKind, value: f64, tags: &[&str]) {
        self.samples.push(Sample {
            name: name.to_string(),
            kind,
            value,
            tags: tags.iter().map(|t| t.to_string()).collect(),
        });
    }

    /// A service check verdict.
    pub fn service_check(&mut self, name: &str, status: Status, message: &str, tags: &[&str]) {
        self.service_checks.push(ServiceCheck {
            name: name.to_string(),
            status,
            message: message.to_string(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        });
    }

    /// Samples collected so far.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// Service checks collected so far.
    pub fn service_checks(&self) -> &[ServiceCheck] {
        &self.service_checks
    }

    /// Sends everything to the host.
    pub(crate) fn flush(&mut self) {
        if !self.samples.is_empty() {
            emit::submit_samples(&std::mem::take(&mut self.samples));
        }
        for check in self.service_checks.drain(..) {
            emit::submit_service_check(&check);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_set_kind_and_tags() {
        let mut out = Output::new(1_000);
        out.gauge("a", 1.0, &["x:1"]);
        out.rate("b", 2.0, &[]);
        out.count("c", 3.0, &[]);
        out.monotonic_count("d", 4.0, &["y:2", "z"]);
        let kinds: Vec<_> = out.samples().iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                MetricKind::Gauge,
                MetricKind::Rate,
                MetricKind::Count,
                MetricKind::MonotonicCount
            ]
        );
        assert_eq!(out.samples()[3].tags, ["y:2", "z"]);
        assert_eq!(out.timestamp_ms(), 1_000);
    }
}
