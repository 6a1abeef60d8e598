//! Collects what one run produces and sends it to the host in one batch.

use crate::{Event, MetricKind, Sample, ServiceCheck, Status};

/// What a run has produced so far, sent to the host when the run ends (samples in one call).
/// Natively, in unit tests, nothing is sent: read it back with [`Output::samples`],
/// [`Output::service_checks`] and [`Output::events`].
#[derive(Debug, Default)]
pub struct Output {
    timestamp_ms: i64,
    samples: Vec<Sample>,
    service_checks: Vec<ServiceCheck>,
    events: Vec<Event>,
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

    /// One value of the run's histogram: the host sends the run's `.avg .median .max
    /// .95percentile .count`.
    pub fn histogram(&mut self, name: &str, value: f64, tags: &[&str]) {
        self.sample(name, MetricKind::Histogram, value, tags);
    }

    /// One value of a distribution: a sketch where the backend takes them (Datadog), the
    /// histogram's summaries elsewhere.
    pub fn distribution(&mut self, name: &str, value: f64, tags: &[&str]) {
        self.sample(name, MetricKind::Distribution, value, tags);
    }

    /// One member of a set (a number): the host sends how many distinct members the run saw.
    pub fn set(&mut self, name: &str, member: f64, tags: &[&str]) {
        self.sample(name, MetricKind::Set, member, tags);
    }

    /// A sample of any kind, at the run's time.
    pub fn sample(&mut self, name: &str, kind: MetricKind, value: f64, tags: &[&str]) {
        self.push(name, kind, value, tags, None);
    }

    /// A sample measured at its own time (Unix milliseconds, within an hour of the run's),
    /// such as a line of a tcollector collector. Gauges and counts are sent at it; rates and
    /// monotonic counts are computed between such times.
    pub fn sample_at(
        &mut self,
        name: &str,
        kind: MetricKind,
        value: f64,
        tags: &[&str],
        timestamp_ms: i64,
    ) {
        self.push(name, kind, value, tags, Some(timestamp_ms));
    }

    fn push(&mut self, name: &str, kind: MetricKind, value: f64, tags: &[&str], at: Option<i64>) {
        self.samples.push(Sample {
            name: name.to_string(),
            kind,
            value,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            timestamp_ms: at,
        });
    }

    /// An event, such as a failover; see [`Event::new`].
    pub fn event(&mut self, event: Event) {
        self.events.push(event);
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

    /// Events collected so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Sends everything to the host.
    #[cfg(target_family = "wasm")]
    pub(crate) fn flush(&mut self) {
        use crate::bindings::wasmon::check::emit;
        if !self.samples.is_empty() {
            emit::submit_samples(&std::mem::take(&mut self.samples));
        }
        for check in self.service_checks.drain(..) {
            emit::submit_service_check(&check);
        }
        for event in self.events.drain(..) {
            emit::submit_event(&event);
        }
    }

    /// Natively there is no host: what the run produced stays for the test to read.
    #[cfg(not(target_family = "wasm"))]
    pub(crate) fn flush(&mut self) {}
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

    #[test]
    fn summarised_kinds_own_times_and_events() {
        let mut out = Output::new(1_000);
        out.histogram("h", 1.0, &[]);
        out.distribution("d", 2.0, &[]);
        out.set("s", 3.0, &[]);
        out.sample_at("g", MetricKind::Gauge, 4.0, &[], 900);
        let got: Vec<_> = out
            .samples()
            .iter()
            .map(|s| (s.kind, s.timestamp_ms))
            .collect();
        assert_eq!(
            got,
            [
                (MetricKind::Histogram, None),
                (MetricKind::Distribution, None),
                (MetricKind::Set, None),
                (MetricKind::Gauge, Some(900)),
            ]
        );
        let mut failover = Event::new("failover", "db-2 took over");
        failover.alert_type = crate::AlertType::Warning;
        out.event(failover);
        out.flush();
        assert_eq!(out.events()[0].title, "failover", "kept natively");
        assert_eq!(out.events()[0].priority, crate::EventPriority::Normal);
    }
}
