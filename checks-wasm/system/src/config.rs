//! The system check's instance options.

use serde::Deserialize;

/// One entry of `instances` in `conf.d/system.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Instance {
    /// Block devices whose name starts with one of these are not reported (disk I/O).
    pub excluded_device_prefixes: Vec<String>,
    /// Network interfaces not reported.
    pub excluded_interfaces: Vec<String>,
    /// Mount points not reported (filesystem usage).
    pub excluded_mount_points: Vec<String>,
    /// Count processes by state on every Nth run only: it is the costliest part of a run,
    /// growing with the number of processes.
    pub process_states_every: u32,
    /// TCP connections by state and UDP sockets (Datadog's network check option; off by
    /// default, as a busy host has many sockets to count).
    pub collect_connection_state: bool,
    /// Cumulative CPU seconds of each core too, beside all cores' (Datadog's cpu check option).
    pub report_total_percpu: bool,
}

impl Default for Instance {
    fn default() -> Self {
        Self {
            excluded_device_prefixes: vec!["loop".into(), "ram".into(), "zram".into()],
            excluded_interfaces: Vec::new(),
            excluded_mount_points: Vec::new(),
            process_states_every: 1,
            collect_connection_state: false,
            report_total_percpu: false,
        }
    }
}

impl Instance {
    /// Whether a block device is reported.
    pub fn wants_device(&self, name: &str) -> bool {
        !self
            .excluded_device_prefixes
            .iter()
            .any(|p| name.starts_with(p.as_str()))
    }

    /// Whether a network interface is reported.
    pub fn wants_interface(&self, name: &str) -> bool {
        !self.excluded_interfaces.iter().any(|i| i == name)
    }

    /// Whether a mount point is reported.
    pub fn wants_mount_point(&self, path: &str) -> bool {
        !self.excluded_mount_points.iter().any(|m| m == path)
    }
}
