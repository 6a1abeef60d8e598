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
use crate::capabilities::{HttpGate, MysqlClient};
use crate::config::Grants;
use crate::model::{Sample, ServiceCheck};

/// What an instance may reach outside its sandbox.
#[derive(Debug, Clone, Default)]
pub struct Capabilities {
    /// Files and filesystem usage, from the instance's `grants`.
    pub grants: Grants,
    /// Where the host's /proc is.
    pub proc_root: PathBuf,
    /// Where the host's /sys is.
    pub sys_root: PathBuf,
    /// The MySQL server, from the instance's connection keys.
    pub mysql: Option<MysqlClient>,
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
        }
    }
}

/// What one run produced.
#[derive(Debug, Default)]
pub struct RunOutput {
    /// Accepted samples.
    pub samples: Vec<Sample>,
    /// Service checks (timestamps are set by the scheduler).
    pub service_checks: Vec<ServiceCheck>,
    /// Metadata key/value pairs.
    pub metadata: Vec<(String, String)>,
    /// Samples refused as invalid (bad name, NaN, ...).
    pub rejected: usize,
    /// The first reason a sample was refused.
    pub first_problem: Option<String>,
    /// Samples dropped because the run passed its sample limit.
    pub over_limit: usize,
    /// Time spent in the host's capability calls (queries, commands).
    pub host_time: Duration,
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
    pub(crate) max_samples: usize,
    /// `check[index]`, for log lines.
    pub(crate) label: Arc<str>,
    pub(crate) guest_output: GuestOutput,
}

impl HostState {
    /// A Store's data with no files, no network, no environment: only what `capabilities`
    /// grants through the wasmon interfaces.
    pub fn new(
        label: Arc<str>,
        capabilities: Arc<Capabilities>,
        memory_bytes: usize,
        max_samples: usize,
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
            max_samples,
            label,
            guest_output,
        }
    }
}

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
