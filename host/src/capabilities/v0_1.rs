//! `wasmon:check@0.1.0`, frozen: each of its interfaces served by the newest one's
//! implementation, its types converted at the boundary. Nothing here decides anything.

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

impl old::files::Host for HostState {
    fn read(&mut self, paths: Vec<String>) -> Vec<Result<Vec<u8>, String>> {
        new::files::Host::read(self, paths)
    }

    fn read_matching(
        &mut self,
        pattern: String,
        max_bytes: u32,
    ) -> Result<Vec<old::files::MatchedFile>, String> {
        let found = new::files::Host::read_matching(self, pattern, max_bytes)?;
        Ok(found
            .into_iter()
            .map(|f| old::files::MatchedFile {
                path: f.path,
                content: f.content,
            })
            .collect())
    }
}

impl old::fs_usage::Host for HostState {
    fn stat(&mut self, mount_point: String) -> Result<old::fs_usage::Usage, String> {
        let u = new::fs_usage::Host::stat(self, mount_point)?;
        Ok(old::fs_usage::Usage {
            total_bytes: u.total_bytes,
            free_bytes: u.free_bytes,
            available_bytes: u.available_bytes,
            total_inodes: u.total_inodes,
            free_inodes: u.free_inodes,
        })
    }
}

impl old::exec::Host for HostState {
    async fn run(&mut self) -> Result<old::exec::Outcome, String> {
        let o = new::exec::Host::run(self).await?;
        Ok(old::exec::Outcome {
            exit_code: o.exit_code,
            stdout: o.stdout,
            stderr: o.stderr,
            stdout_truncated: o.stdout_truncated,
            stderr_truncated: o.stderr_truncated,
            timed_out: o.timed_out,
            duration_us: o.duration_us,
        })
    }
}

impl old::mysql::Host for HostState {
    async fn query(
        &mut self,
        statement: String,
    ) -> Result<old::mysql::Rows, old::mysql::QueryError> {
        use new::mysql::QueryError as New;
        use old::mysql::QueryError as Old;
        match new::mysql::Host::query(self, statement).await {
            Ok(rows) => Ok(old::mysql::Rows {
                columns: rows.columns,
                values: rows.values,
            }),
            Err(New::Connect(m)) => Err(Old::Connect(m)),
            Err(New::Server(e)) => Err(Old::Server(old::mysql::ServerError {
                code: e.code,
                state: e.state,
                message: e.message,
            })),
            Err(New::Lost(m)) => Err(Old::Lost(m)),
            Err(New::NotGranted) => Err(Old::NotGranted),
        }
    }

    async fn server_cpu(&mut self) -> Result<old::mysql::CpuTimes, String> {
        let t = new::mysql::Host::server_cpu(self).await?;
        Ok(old::mysql::CpuTimes {
            user_seconds: t.user_seconds,
            system_seconds: t.system_seconds,
        })
    }
}
