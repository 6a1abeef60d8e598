//! The agent's status as the control API serves it and `wasmon status` prints it.

use serde::{Deserialize, Serialize};

use crate::cluster::ClusterReport;
use crate::intake::IntakeReport;
use crate::registry::SourceReport;
use crate::scheduler::InstanceStatus;
use crate::sinks::StatsSnapshot;

/// The whole agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusReport {
    /// The agent's process id.
    pub pid: u32,
    /// Unix milliseconds when it started.
    pub started_ms: i64,
    /// Every running (or stopped) instance.
    pub instances: Vec<InstanceReport>,
    /// Current problems: broken configs, refused modules, instances that could not start,
    /// buffers no sink owns.
    pub problems: Vec<String>,
    /// Every remote sink.
    #[serde(default)]
    pub sinks: Vec<SinkReport>,
    /// The cluster group, when the agent is in one.
    #[serde(default)]
    pub cluster: Option<ClusterReport>,
    /// Every check pulled from a registry.
    #[serde(default)]
    pub sources: Vec<SourceReport>,
    /// What applications pushed (DogStatsD, the push API), when they may.
    #[serde(default)]
    pub intake: Option<IntakeReport>,
}

/// One remote sink.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SinkReport {
    /// Its name (its buffer folder and `sink:` tag).
    pub name: String,
    /// Counters since the agent started, and what is queued.
    #[serde(flatten)]
    pub stats: StatsSnapshot,
    /// The last failure, in words.
    pub last_error: Option<String>,
}

/// One instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceReport {
    /// The check's name.
    pub check: String,
    /// Position in `instances`.
    pub index: usize,
    /// sha256 of the module it runs.
    pub sha256: String,
    /// The check's own version, as it describes itself.
    #[serde(default)]
    pub version: String,
    /// Seconds between runs.
    pub interval_secs: f64,
    /// Seconds a run may take.
    pub timeout_secs: f64,
    /// What it may reach.
    pub grants: Vec<String>,
    /// How it is doing.
    #[serde(flatten)]
    pub status: InstanceStatus,
}
