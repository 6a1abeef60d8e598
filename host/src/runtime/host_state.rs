//! The data of one instance's Store: its WASI context (nothing granted), its limits, its
//! capabilities and what the current run has produced.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::guest_output::GuestOutput;
use crate::capabilities::Grants;
use crate::capabilities::{HttpGate, KeptFiles, MysqlClient};
use crate::model::{Event, Sample, ServiceCheck};
use crate::repeats::Repeats;

/// What an instance may reach outside its sandbox.
#[derive(Debug, Default)]
pub struct Capabilities {
    /// Files and filesystem usage, from the instance's `grants`.
    pub grants: Grants,
    /// Where the host's /proc is.
    pub proc_root: PathBuf,
    /// Where the host's /sys is.
    pub sys_root: PathBuf,
    /// The MySQL server, from the instance's connection keys.
    pub mysql: Option<MysqlClient>,
    /// The /proc and /sys files read so far, kept open to be read again.
    pub kept_files: KeptFiles,
}

impl Capabilities {
    /// The capabilities `grants` allow; a MySQL server is connected to on first use.
    pub fn new(grants: Grants, proc_root: PathBuf, sys_root: PathBuf) -> Self {
        let mysql = grants.mysql.clone().map(MysqlClient::new);
        Self {
            grants,
            proc_root,
            sys_root,
            mysql,
            kept_files: KeptFiles::default(),
        }
    }
}

/// What one run may submit and log; past each bound the rest is dropped and counted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunLimits {
    /// Samples.
    pub max_samples: usize,
    /// Service checks, and as many events.
    pub max_service_checks: usize,
    /// Bytes of names, tags, messages and metadata.
    pub max_submit_bytes: usize,
    /// Lines written to the agent's log (the check's own and what it prints).
    pub max_log_lines: usize,
    /// Longest log line; longer ones are cut.
    pub max_log_line_bytes: usize,
}

impl RunLimits {
    /// For calls that submit nothing (`describe`): whatever they submit or log is dropped.
    pub const NOTHING: Self = Self {
        max_samples: 0,
        max_service_checks: 0,
        max_submit_bytes: 0,
        max_log_lines: 0,
        max_log_line_bytes: 0,
    };
}

/// What one run produced.
#[derive(Debug, Default)]
pub struct RunOutput {
    /// Accepted samples.
    pub samples: Vec<Sample>,
    /// Service checks (timestamps are set by the scheduler).
    pub service_checks: Vec<ServiceCheck>,
    /// Events.
    pub events: Vec<Event>,
    /// Metadata key/value pairs.
    pub metadata: Vec<(String, String)>,
    /// Samples and service checks refused as invalid (bad name, NaN, ...).
    pub rejected: usize,
    /// The first reason something was refused.
    pub first_problem: Option<String>,
    /// Samples dropped because the run passed its sample limit.
    pub over_limit: usize,
    /// Service checks dropped past the run's limit.
    pub service_checks_dropped: usize,
    /// Events dropped past the run's limit.
    pub events_dropped: usize,
    /// Metadata entries dropped past their count or size.
    pub metadata_dropped: usize,
    /// Samples and service checks dropped because the run passed its byte budget.
    pub bytes_dropped: usize,
    /// Bytes submitted so far (names, tags, messages, metadata).
    pub submitted_bytes: usize,
    /// Log lines written, and dropped past the limit or as repeats.
    pub logs: LogCount,
    /// The run's warning and error lines, the first few.
    pub warnings: Vec<String>,
    /// Time spent in the host's capability calls (queries, commands).
    pub host_time: Duration,
}

/// Log lines of one run.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct LogCount {
    /// Written to the agent's log.
    pub written: usize,
    /// Dropped: past the run's limit, or a repeat held back.
    pub dropped: usize,
}

/// The memory limit of a Store; growing past it traps with [`MemoryLimitExceeded`].
pub struct MemoryLimiter {
    max_bytes: usize,
}

/// The error a guest traps with when it grows its memory past the limit.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {0} bytes exceeded")]
pub struct MemoryLimitExceeded(pub usize);

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            return Err(wasmtime::Error::new(MemoryLimitExceeded(self.max_bytes)));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The data of an instance's Store.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    http_gate: HttpGate,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    /// When the current call must stop.
    pub(crate) deadline: Option<Instant>,
    pub(crate) capabilities: Arc<Capabilities>,
    pub(crate) output: RunOutput,
    /// The current run's time (Unix milliseconds), which samples' own times must be near.
    pub(crate) run_timestamp_ms: i64,
    pub(crate) limits: RunLimits,
    /// `check[index]`, for log lines.
    pub(crate) label: Arc<str>,
    pub(crate) guest_output: GuestOutput,
    /// Lines logged lately, to hold back repeats.
    pub(crate) recent_logs: Repeats,
}

impl HostState {
    /// A Store's data with no files, no network, no environment: only what `capabilities`
    /// grants through the wasmon interfaces.
    pub fn new(
        label: Arc<str>,
        capabilities: Arc<Capabilities>,
        memory_bytes: usize,
        limits: RunLimits,
    ) -> Self {
        let guest_output = GuestOutput::default();
        let wasi = WasiCtx::builder()
            .stdout(guest_output.clone())
            .stderr(guest_output.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let http_gate = HttpGate::new(capabilities.grants.http.clone(), label.clone());
        Self {
            wasi,
            http: WasiHttpCtx::new(),
            http_gate,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                max_bytes: memory_bytes,
            },
            deadline: None,
            capabilities,
            output: RunOutput::default(),
            run_timestamp_ms: crate::scheduler::now_ms(),
            limits,
            label,
            guest_output,
            recent_logs: Repeats::new(REPEAT_WINDOW),
        }
    }

    /// Takes what the run produced, with the time its HTTP requests took.
    pub(crate) fn take_output(&mut self) -> RunOutput {
        self.output.host_time += self.http_gate.take_spent();
        std::mem::take(&mut self.output)
    }

    /// Writes one line of the check's to the agent's log, within the run's limits: past
    /// `max_log_lines` or when the same line was logged in the last minute, it is counted
    /// as dropped instead; a line over `max_log_line_bytes` is cut.
    pub(crate) fn log_line(&mut self, level: tracing::Level, line: &str) {
        let logs = &mut self.output.logs;
        if logs.written >= self.limits.max_log_lines || !self.recent_logs.admit(line) {
            logs.dropped += 1;
            return;
        }
        logs.written += 1;
        let line = cut(line, self.limits.max_log_line_bytes);
        if level <= tracing::Level::WARN && self.output.warnings.len() < WARNINGS_PER_RUN {
            self.output
                .warnings
                .push(cut(&line, WARNING_BYTES).into_owned());
        }
        let instance = &*self.label;
        match level {
            tracing::Level::TRACE => tracing::trace!(target: "wasmon::check", instance, "{line}"),
            tracing::Level::DEBUG => tracing::debug!(target: "wasmon::check", instance, "{line}"),
            tracing::Level::INFO => tracing::info!(target: "wasmon::check", instance, "{line}"),
            tracing::Level::WARN => tracing::warn!(target: "wasmon::check", instance, "{line}"),
            tracing::Level::ERROR => tracing::error!(target: "wasmon::check", instance, "{line}"),
        }
    }

    /// Logs what the guest printed since the last call, a line each, within the limits.
    pub(crate) fn log_guest_output(&mut self) {
        let (text, lines_cut) = self.guest_output.drain();
        self.output.logs.dropped += lines_cut;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            self.log_line(tracing::Level::INFO, &format!("guest: {line}"));
        }
    }
}

/// `line` cut to at most `max` bytes on a character boundary, marked when cut.
fn cut(line: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if line.len() <= max {
        return line.into();
    }
    let end = line.floor_char_boundary(max);
    format!("{}… ({} bytes cut)", &line[..end], line.len() - end).into()
}

/// Warning lines a run keeps for the instance's status.
const WARNINGS_PER_RUN: usize = 5;
/// Longest warning kept for the status.
const WARNING_BYTES: usize = 300;

/// How long a logged line holds back the same line.
const REPEAT_WINDOW: Duration = Duration::from_secs(60);

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        self.http_gate.deadline = self.deadline;
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_gate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_on_a_character_boundary() {
        assert_eq!(cut("short", 10), "short");
        let cut_line = cut("ééééé", 3);
        assert_eq!(cut_line, "é… (8 bytes cut)");
    }
}
