//! The daemon: every configured instance on its own task, feeding the sinks.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::catalog::{Catalog, prepare};
use crate::config::AgentConfig;
use crate::runtime::Runtime;
use crate::scheduler;
use crate::sinks::Sinks;

/// How long stopping waits for runs in progress.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A running agent.
pub struct Agent {
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    sinks: Sinks,
}

impl Agent {
    /// Loads every check and starts its instances. Problems are logged; whatever is valid runs.
    pub async fn start(config: &AgentConfig, runtime: &Runtime, sinks: Sinks) -> Self {
        let catalog = Catalog::load(config, runtime, None).await;
        for problem in &catalog.problems {
            tracing::error!("{problem}");
        }
        let cancel = CancellationToken::new();
        let mut tasks = Vec::new();
        for entry in &catalog.entries {
            let (ready, problems) = prepare(config, runtime, entry).await;
            for problem in problems {
                tracing::error!("{problem}");
            }
            for p in ready {
                tracing::info!(
                    instance = %p.task.instance.label(),
                    interval = ?p.task.schedule.interval(),
                    sha256 = %&p.sha256[..12],
                    "instance started"
                );
                tasks.push(scheduler::spawn(
                    p.task,
                    sinks.sender(),
                    cancel.child_token(),
                ));
            }
        }
        tracing::info!(
            instances = tasks.len(),
            checks = catalog.entries.len(),
            "agent running"
        );
        Self {
            cancel,
            tasks,
            sinks,
        }
    }

    /// Stops every instance (runs in progress get a grace period) and flushes the sinks.
    pub async fn stop(self) {
        self.cancel.cancel();
        let all = futures_join(self.tasks);
        if tokio::time::timeout(STOP_GRACE, all).await.is_err() {
            tracing::warn!("some runs did not finish within {STOP_GRACE:?}; stopping anyway");
        }
        self.sinks.close().await;
    }
}

async fn futures_join(tasks: Vec<JoinHandle<()>>) {
    for task in tasks {
        let _ = task.await;
    }
}
