//! `wasmon:check/emit`: samples, service checks, logs and metadata from every check.

use crate::model::{self, MetricKind, Sample, ServiceCheck};
use crate::runtime::{HostState, wit};
use wit::types::{LogLevel, MetricKind as WitKind, Status as WitStatus};

impl wit::types::Host for HostState {}

impl wit::emit::Host for HostState {
    fn submit_samples(&mut self, batch: Vec<wit::types::Sample>) {
        for s in batch {
            let sample = Sample {
                name: s.name,
                kind: kind(s.kind),
                value: s.value,
                tags: s.tags,
            };
            let out = &mut self.output;
            if let Some(problem) = sample.problem() {
                out.rejected += 1;
                out.first_problem.get_or_insert(problem);
            } else if out.samples.len() >= self.max_samples {
                out.over_limit += 1;
            } else {
                out.samples.push(sample);
            }
        }
    }

    fn submit_service_check(&mut self, check: wit::types::ServiceCheck) {
        if self.output.service_checks.len() >= self.max_samples {
            self.output.over_limit += 1;
            return;
        }
        self.output.service_checks.push(ServiceCheck {
            name: check.name,
            status: status(check.status),
            message: check.message,
            tags: check.tags,
            timestamp_ms: 0,
        });
    }

    fn log(&mut self, level: LogLevel, message: String) {
        let instance = &*self.label;
        match level {
            LogLevel::Trace => tracing::trace!(target: "wasmon::check", instance, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "wasmon::check", instance, "{message}"),
            LogLevel::Info => tracing::info!(target: "wasmon::check", instance, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "wasmon::check", instance, "{message}"),
            LogLevel::Error => tracing::error!(target: "wasmon::check", instance, "{message}"),
        }
    }

    fn set_metadata(&mut self, key: String, value: String) {
        if self.output.metadata.len() < 256 {
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
