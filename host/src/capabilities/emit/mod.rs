//! `wasmon:check/emit`: samples, service checks, events, logs and metadata from every check,
//! each bounded per run (count and bytes); what passes a bound is dropped and counted.

mod v0_1;

use super::{Capability, Link};
use crate::model::{self, Event, MetricKind, Sample, ServiceCheck};
use crate::runtime::bindings::{link_interfaces, newest_wit};
use crate::runtime::{HostState, wit};
use wit::types::{AlertType, EventPriority, LogLevel, MetricKind as WitKind, Status as WitStatus};

/// Submitting samples, service checks, events, metadata and logs: every check has it.
pub const EMIT: Capability = Capability {
    interfaces: &["types", "emit"],
    grant: None,
    always_linked: true,
    link: Link::PerVersion(|linker, version| link_interfaces!(linker, version, types, emit)),
    worlds: &[],
    wit: Some(newest_wit!("types.wit")),
};

/// Metadata entries one run may set.
pub const MAX_METADATA: usize = 256;
/// Longest metadata key.
pub const MAX_METADATA_KEY: usize = 200;
/// Longest metadata value.
pub const MAX_METADATA_VALUE: usize = 1024;
/// Longest service check message; longer ones are cut.
pub const MAX_MESSAGE: usize = 4096;
/// Longest event title; longer ones are cut.
pub const MAX_EVENT_TITLE: usize = 100;
/// Longest event text; longer ones are cut.
pub const MAX_EVENT_TEXT: usize = 4000;
/// How far from the run's time a sample's own time may be, in milliseconds.
pub const MAX_TIMESTAMP_SKEW_MS: i64 = 3_600_000;

impl wit::types::Host for HostState {}

impl HostState {
    /// Counts something refused as invalid, keeping the run's first reason.
    fn reject(&mut self, problem: String) {
        let out = &mut self.output;
        out.rejected += 1;
        out.first_problem.get_or_insert(problem);
    }

    /// Charges `bytes` to the run's budget; false once it is spent.
    fn charge(&mut self, bytes: usize) -> bool {
        let out = &mut self.output;
        if out.submitted_bytes.saturating_add(bytes) > self.limits.max_submit_bytes {
            out.bytes_dropped += 1;
            return false;
        }
        out.submitted_bytes += bytes;
        true
    }
}

/// Bytes a name and its tags take.
fn size(name: &str, tags: &[String]) -> usize {
    name.len() + tags.iter().map(String::len).sum::<usize>()
}

impl wit::emit::Host for HostState {
    fn submit_samples(&mut self, batch: Vec<wit::types::Sample>) {
        for s in batch {
            let sample = Sample {
                name: s.name,
                kind: kind(s.kind),
                value: s.value,
                tags: s.tags,
                timestamp_ms: s.timestamp_ms,
            };
            if let Some(problem) = sample.problem().or_else(|| self.time_problem(&sample)) {
                self.reject(problem);
            } else if self.output.samples.len() >= self.limits.max_samples {
                self.output.over_limit += 1;
            } else if self.charge(size(&sample.name, &sample.tags)) {
                self.output.samples.push(sample);
            }
        }
    }

    fn submit_service_check(&mut self, check: wit::types::ServiceCheck) {
        if self.output.service_checks.len() >= self.limits.max_service_checks {
            self.output.service_checks_dropped += 1;
            return;
        }
        let mut check = ServiceCheck {
            name: check.name,
            status: status(check.status),
            message: check.message,
            tags: check.tags,
            timestamp_ms: 0,
        };
        if let Some(problem) = check.problem() {
            self.reject(problem);
            return;
        }
        check
            .message
            .truncate(check.message.floor_char_boundary(MAX_MESSAGE));
        if self.charge(size(&check.name, &check.tags) + check.message.len()) {
            self.output.service_checks.push(check);
        }
    }

    fn submit_event(&mut self, event: wit::types::Event) {
        if self.output.events.len() >= self.limits.max_service_checks {
            self.output.events_dropped += 1;
            return;
        }
        let mut event = Event {
            title: event.title,
            text: event.text,
            timestamp_ms: event.timestamp_ms.unwrap_or(self.run_timestamp_ms),
            priority: Some(priority(event.priority).into()),
            alert_type: Some(alert_type(event.alert_type).into()),
            aggregation_key: event.aggregation_key,
            source_type_name: event.source_type_name,
            tags: event.tags,
        };
        if let Some(problem) = event
            .problem()
            .or_else(|| self.skew(&event.title, event.timestamp_ms))
        {
            self.reject(problem);
            return;
        }
        event
            .title
            .truncate(event.title.floor_char_boundary(MAX_EVENT_TITLE));
        event
            .text
            .truncate(event.text.floor_char_boundary(MAX_EVENT_TEXT));
        let bytes = size(&event.title, &event.tags)
            + event.text.len()
            + event.aggregation_key.as_ref().map_or(0, String::len)
            + event.source_type_name.as_ref().map_or(0, String::len);
        if self.charge(bytes) {
            self.output.events.push(event);
        }
    }

    fn log(&mut self, level: LogLevel, message: String) {
        let level = match level {
            LogLevel::Trace => tracing::Level::TRACE,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Error => tracing::Level::ERROR,
        };
        self.log_line(level, &message);
    }

    fn set_metadata(&mut self, key: String, value: String) {
        let fits = self.output.metadata.len() < MAX_METADATA
            && !key.is_empty()
            && key.len() <= MAX_METADATA_KEY
            && value.len() <= MAX_METADATA_VALUE;
        if !fits {
            self.output.metadata_dropped += 1;
        } else if self.charge(key.len() + value.len()) {
            self.output.metadata.push((key, value));
        }
    }
}

impl HostState {
    /// Why a sample's own time cannot be taken: too far from the run's.
    fn time_problem(&self, sample: &Sample) -> Option<String> {
        self.skew(&sample.name, sample.timestamp_ms?)
    }

    /// Why time `at` of what `name` names is refused: more than an hour from the run's.
    fn skew(&self, name: &str, at: i64) -> Option<String> {
        (at.abs_diff(self.run_timestamp_ms) > MAX_TIMESTAMP_SKEW_MS.unsigned_abs()).then(|| {
            format!(
                "{name}: timestamp {at} ms is more than an hour from the run's ({} ms)",
                self.run_timestamp_ms
            )
        })
    }
}

fn kind(k: WitKind) -> MetricKind {
    match k {
        WitKind::Gauge => MetricKind::Gauge,
        WitKind::Count => MetricKind::Count,
        WitKind::Rate => MetricKind::Rate,
        WitKind::MonotonicCount => MetricKind::MonotonicCount,
        WitKind::Histogram => MetricKind::Histogram,
        WitKind::Distribution => MetricKind::Distribution,
        WitKind::Set => MetricKind::Set,
    }
}

fn priority(p: EventPriority) -> &'static str {
    match p {
        EventPriority::Normal => "normal",
        EventPriority::Low => "low",
    }
}

fn alert_type(a: AlertType) -> &'static str {
    match a {
        AlertType::Info => "info",
        AlertType::Warning => "warning",
        AlertType::Error => "error",
        AlertType::Success => "success",
    }
}

fn status(s: WitStatus) -> model::Status {
    match s {
        WitStatus::Ok => model::Status::Ok,
        WitStatus::Warning => model::Status::Warning,
        WitStatus::Critical => model::Status::Critical,
        WitStatus::Unknown => model::Status::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::runtime::RunLimits;
    use wit::emit::Host as _;

    fn state() -> HostState {
        let limits = RunLimits {
            max_samples: 100,
            max_service_checks: 1,
            max_submit_bytes: 1 << 20,
            max_log_lines: 10,
            max_log_line_bytes: 100,
        };
        let mut state = HostState::new("t[0]".into(), Arc::default(), 1 << 20, limits);
        state.run_timestamp_ms = 10_000_000;
        state
    }

    fn sample(timestamp_ms: Option<i64>) -> wit::types::Sample {
        wit::types::Sample {
            name: "x".into(),
            kind: WitKind::Histogram,
            value: 1.0,
            tags: Vec::new(),
            timestamp_ms,
        }
    }

    #[test]
    fn a_samples_own_time_within_an_hour_of_the_run_is_kept() {
        let mut s = state();
        s.submit_samples(vec![
            sample(None),
            sample(Some(10_000_000 - MAX_TIMESTAMP_SKEW_MS)),
            sample(Some(10_000_001 + MAX_TIMESTAMP_SKEW_MS)),
        ]);
        assert_eq!(s.output.samples.len(), 2);
        assert_eq!(s.output.samples[0].kind, MetricKind::Histogram);
        assert_eq!(s.output.rejected, 1);
        assert!(
            s.output
                .first_problem
                .as_deref()
                .is_some_and(|p| p.contains("more than an hour")),
            "{:?}",
            s.output.first_problem
        );
    }

    #[test]
    fn events_are_checked_cut_and_bounded() {
        let mut s = state();
        let event = |title: &str| wit::types::Event {
            title: title.into(),
            text: "é".repeat(MAX_EVENT_TEXT),
            timestamp_ms: None,
            priority: EventPriority::Low,
            alert_type: AlertType::Error,
            aggregation_key: None,
            source_type_name: None,
            tags: vec!["k:v".into()],
        };
        s.submit_event(event(" "));
        assert_eq!(s.output.rejected, 1, "a blank title");
        s.submit_event(wit::types::Event {
            timestamp_ms: Some(i64::MIN),
            ..event("long ago")
        });
        assert_eq!(s.output.rejected, 2, "a time far from the run's");
        s.submit_event(event("deploy"));
        s.submit_event(event("another"));
        assert_eq!(s.output.events.len(), 1);
        assert_eq!(s.output.events_dropped, 1, "past the run's limit");
        let kept = &s.output.events[0];
        assert_eq!(kept.timestamp_ms, 10_000_000, "the run's time");
        assert!(kept.text.len() <= MAX_EVENT_TEXT && kept.text.starts_with('é'));
        assert_eq!(
            (kept.priority.as_deref(), kept.alert_type.as_deref()),
            (Some("low"), Some("error"))
        );
    }
}
