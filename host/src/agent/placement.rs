//! Which configured instances run on this agent: every one, except those marked
//! `cluster_check: true` when the agent is in a cluster group, which run where the group's
//! assignment puts them. A new assignment reaches the supervisor as a reconcile, so an
//! instance moves (stops here, starts there) the way a config edit moves it.

use std::sync::Arc;

use tokio::sync::watch;

use crate::cluster::{Assignment, Cluster, ClusterReport, ClusterState};
use crate::config::InstanceConfig;

/// This agent's placement of instances.
#[derive(Clone, Default)]
pub struct Placement {
    group: Option<(watch::Receiver<Arc<Assignment>>, Arc<ClusterState>)>,
}

impl Placement {
    /// Every instance runs here.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Cluster instances run where `cluster`'s assignment puts them.
    pub fn cluster(cluster: &Cluster) -> Self {
        Self {
            group: Some((cluster.assignment.clone(), cluster.state.clone())),
        }
    }

    /// Whether instance `instance` of check `check` runs here now.
    pub fn runs_here(&self, check: &str, instance: &InstanceConfig) -> bool {
        match &self.group {
            Some((assignment, _)) if instance.cluster_check => assignment
                .borrow()
                .owns(&format!("{check}/{}", instance.identity)),
            _ => true,
        }
    }

    /// Whether the instance is placed by the group (rather than run here regardless).
    pub fn by_group(&self, instance: &InstanceConfig) -> bool {
        self.group.is_some() && instance.cluster_check
    }

    /// Waits for the next assignment; never, outside a group or once membership ended.
    pub async fn moved(&mut self) {
        let ended = match &mut self.group {
            Some((assignment, _)) => assignment.changed().await.is_err(),
            None => true,
        };
        if ended {
            std::future::pending::<()>().await;
        }
    }

    /// Records the cluster instances that run here.
    pub fn set_owned(&self, owned: Vec<String>) {
        if let Some((_, state)) = &self.group {
            state.set_owned(owned);
        }
    }

    /// The group as the status shows it, in a group.
    pub fn report(&self) -> Option<ClusterReport> {
        self.group.as_ref().map(|(_, state)| state.report())
    }
}
