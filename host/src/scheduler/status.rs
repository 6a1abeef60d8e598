//! What each instance task reports about itself, read by `wasmon status` through the API.

use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

/// Where an instance is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Scheduled and running.
    Running,
    /// Stopped by a config or permanent error, until its config or module changes.
    Stopped,
}

/// The last known state of an instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceStatus {
    /// Running or stopped.
    pub state: State,
    /// Runs so far.
    pub runs: u64,
    /// Failed runs so far.
    pub failures: u64,
    /// Runs skipped because one overran its interval.
    pub skipped: u64,
    /// Unix milliseconds of the last run.
    pub last_run_ms: Option<i64>,
    /// Seconds the last run took.
    pub last_duration_secs: f64,
    /// Why the last failed run failed.
    pub last_error: Option<String>,
    /// The check's latest warnings and errors from its log (a missing privilege, say), newest
    /// last.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// Status shared between a task and whoever reports it.
#[derive(Debug, Clone)]
pub struct SharedStatus(Arc<Mutex<InstanceStatus>>);

impl Default for SharedStatus {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(InstanceStatus {
            state: State::Running,
            runs: 0,
            failures: 0,
            skipped: 0,
            last_run_ms: None,
            last_duration_secs: 0.0,
            last_error: None,
            warnings: Vec::new(),
        })))
    }
}

/// Warnings kept per instance.
const WARNINGS_KEPT: usize = 5;

impl InstanceStatus {
    /// Keeps `warning` as the newest, once.
    pub fn warned(&mut self, warning: &str) {
        self.warnings.retain(|w| w != warning);
        self.warnings.push(warning.to_string());
        if self.warnings.len() > WARNINGS_KEPT {
            self.warnings.remove(0);
        }
    }
}

impl SharedStatus {
    /// A copy of the current status.
    pub fn get(&self) -> InstanceStatus {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Changes the status.
    pub fn update(&self, f: impl FnOnce(&mut InstanceStatus)) {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }
}
