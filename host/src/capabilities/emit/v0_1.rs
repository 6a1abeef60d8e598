//! `wasmon:check@0.1.0`'s `types` and `emit`, frozen: served by the newest implementation, its
//! types (and the `check` export's descriptor and errors) converted at the boundary.

use crate::runtime::HostState;
use crate::runtime::bindings::newest as new;
use crate::runtime::bindings::v0_1::wasmon::check as old;

impl old::types::Host for HostState {}

impl From<old::types::Descriptor> for new::types::Descriptor {
    fn from(d: old::types::Descriptor) -> Self {
        Self {
            name: d.name,
            version: d.version,
            default_interval_secs: d.default_interval_secs,
            summary: d.summary,
        }
    }
}

impl From<old::types::CheckError> for new::types::CheckError {
    fn from(e: old::types::CheckError) -> Self {
        use old::types::CheckError as Old;
        match e {
            Old::Config(message) => Self::Config(new::types::ConfigError {
                field: None,
                message,
            }),
            Old::Transient(m) => Self::Transient(m),
            Old::Permanent(m) => Self::Permanent(m),
        }
    }
}

impl old::emit::Host for HostState {
    fn submit_samples(&mut self, batch: Vec<old::types::Sample>) {
        use new::types::MetricKind as New;
        use old::types::MetricKind as Old;
        let batch = batch
            .into_iter()
            .map(|s| new::types::Sample {
                name: s.name,
                kind: match s.kind {
                    Old::Gauge => New::Gauge,
                    Old::Count => New::Count,
                    Old::Rate => New::Rate,
                    Old::MonotonicCount => New::MonotonicCount,
                },
                value: s.value,
                tags: s.tags,
                timestamp_ms: None,
            })
            .collect();
        new::emit::Host::submit_samples(self, batch);
    }

    fn submit_service_check(&mut self, check: old::types::ServiceCheck) {
        use new::types::Status as New;
        use old::types::Status as Old;
        let check = new::types::ServiceCheck {
            name: check.name,
            status: match check.status {
                Old::Ok => New::Ok,
                Old::Warning => New::Warning,
                Old::Critical => New::Critical,
                Old::Unknown => New::Unknown,
            },
            message: check.message,
            tags: check.tags,
        };
        new::emit::Host::submit_service_check(self, check);
    }

    fn log(&mut self, level: old::types::LogLevel, message: String) {
        use new::types::LogLevel as New;
        use old::types::LogLevel as Old;
        let level = match level {
            Old::Trace => New::Trace,
            Old::Debug => New::Debug,
            Old::Info => New::Info,
            Old::Warn => New::Warn,
            Old::Error => New::Error,
        };
        new::emit::Host::log(self, level, message);
    }

    fn set_metadata(&mut self, key: String, value: String) {
        new::emit::Host::set_metadata(self, key, value);
    }
}
