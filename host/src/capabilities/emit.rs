//! `wasmon:check/emit`: samples, service checks, logs and metadata from every check, each
//! bounded per run (count and bytes); what passes a bound is dropped and counted.

use crate::model::{self, MetricKind, Sample, ServiceCheck};
use crate::runtime::{HostState, wit};
use wit::types::{LogLevel, MetricKind as WitKind, Status as WitStatus};

/// Metadata entries one run may set.
pub const MAX_METADATA: usize = 256;
/// Longest metadata key.
pub const MAX_METADATA_KEY: usize = 200;
/// Longest metadata value.
pub const MAX_METADATA_VALUE: usize = 1024;
/// Longest service check message; longer ones are cut.
pub const MAX_MESSAGE: usize = 4096;

impl wit::types::Host for HostState {}

impl HostState {
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
            };
            if let Some(problem) = sample.problem() {
                let out = &mut self.output;
                out.rejected += 1;
                out.first_problem.get_or_insert(problem);
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
            let out = &mut self.output;
            out.rejected += 1;
            out.first_problem.get_or_insert(problem);
            return;
        }
        check
            .message
            .truncate(check.message.floor_char_boundary(MAX_MESSAGE));
        if self.charge(size(&check.name, &check.tags) + check.message.len()) {
            self.output.service_checks.push(check);
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

fn kind(k: WitKind) -> MetricKind {
    match k {
        WitKind::Gauge => MetricKind::Gauge,
        WitKind::Count => MetricKind::Count,
        WitKind::Rate => MetricKind::Rate,
        WitKind::MonotonicCount => MetricKind::MonotonicCount,
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
