//! What the agent knows of its group, shared by membership (which writes it), the supervisor
//! (which adds what it owns), the status and the agent's own metrics.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::model::{Series, SeriesKind, ServiceCheck, Status};

/// Name of the service check saying whether etcd is reachable.
pub const ETCD_CHECK: &str = "wasmon.cluster.etcd";

/// The group as `wasmon status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterReport {
    /// The group's name.
    pub group: String,
    /// This agent's name in it.
    pub member: String,
    /// The live members last seen, sorted.
    pub members: Vec<String>,
    /// Whether etcd answers now.
    pub connected: bool,
    /// Why it does not, or the last reason it did not.
    pub last_error: Option<String>,
    /// Times the members changed after the first look.
    pub rebalances: u64,
    /// The cluster instances this agent runs (`check[index]`).
    pub owned: Vec<String>,
}

/// The shared record behind [`ClusterReport`].
#[derive(Debug)]
pub struct ClusterState {
    report: Mutex<ClusterReport>,
    rebalances: AtomicU64,
}

impl ClusterState {
    /// Nothing known yet of `group`, which this agent joins as `member`.
    pub fn new(group: &str, member: &str) -> Self {
        Self {
            report: Mutex::new(ClusterReport {
                group: group.into(),
                member: member.into(),
                ..ClusterReport::default()
            }),
            rebalances: AtomicU64::new(0),
        }
    }

    /// The record now.
    pub fn report(&self) -> ClusterReport {
        let mut report = self.lock().clone();
        report.rebalances = self.rebalances.load(Ordering::Relaxed);
        report
    }

    /// etcd answered with these members; whether they differ from the last seen.
    pub fn seen(&self, members: Vec<String>) -> bool {
        let mut report = self.lock();
        report.connected = true;
        if report.members == members {
            return false;
        }
        if !report.members.is_empty() {
            self.rebalances.fetch_add(1, Ordering::Relaxed);
        }
        report.members = members;
        true
    }

    /// etcd stopped answering; whether it answered before.
    pub fn lost(&self, error: String) -> bool {
        let mut report = self.lock();
        report.last_error = Some(error);
        std::mem::replace(&mut report.connected, false)
    }

    /// The cluster instances that run here now.
    pub fn set_owned(&self, owned: Vec<String>) {
        self.lock().owned = owned;
    }

    /// The group's series and service check for the agent's own metrics; `rebalanced` is
    /// the count at the previous report, brought up to date.
    pub fn metrics(
        &self,
        tags: &[String],
        timestamp_ms: i64,
        rebalanced: &mut u64,
    ) -> (Vec<Series>, ServiceCheck) {
        let report = self.report();
        let mut tags = tags.to_vec();
        tags.push(format!("cluster_group:{}", report.group));
        tags.sort();
        let point = |name: &str, kind, value: usize| Series {
            name: format!("wasmon.cluster.{name}"),
            kind,
            value: value as f64,
            timestamp_ms,
            tags: tags.clone(),
        };
        let moves = report.rebalances.saturating_sub(*rebalanced);
        *rebalanced = report.rebalances;
        let series = vec![
            point("members", SeriesKind::Gauge, report.members.len()),
            point("instances_owned", SeriesKind::Gauge, report.owned.len()),
            point("rebalances", SeriesKind::Count, moves as usize),
        ];
        let (status, message) = match (report.connected, &report.last_error) {
            (true, _) => (Status::Ok, String::new()),
            (false, Some(e)) => (
                Status::Critical,
                format!(
                    "{e}: keeping the current share of {} instance(s)",
                    report.owned.len()
                ),
            ),
            (false, None) => (Status::Critical, "not joined yet".into()),
        };
        let check = ServiceCheck {
            name: ETCD_CHECK.into(),
            status,
            message,
            tags,
            timestamp_ms,
        };
        (series, check)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClusterReport> {
        // A panic elsewhere leaves a record that is still whole.
        self.report.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_after_the_first_look_are_rebalances() {
        let state = ClusterState::new("g", "a");
        assert!(state.seen(vec!["a".into()]));
        assert!(!state.seen(vec!["a".into()]));
        assert!(state.seen(vec!["a".into(), "b".into()]));
        assert!(state.lost("etcd down".into()));
        assert!(!state.lost("etcd down".into()));
        let mut before = 0;
        let (series, check) = state.metrics(&["host:h".into()], 1_000, &mut before);
        assert_eq!(before, 1);
        assert_eq!(series[0].value, 2.0);
        assert_eq!(series[2].value, 1.0);
        assert_eq!(check.status, Status::Critical);
        assert!(
            check.message.contains("etcd down: keeping"),
            "{}",
            check.message
        );
        state.seen(vec!["a".into(), "b".into()]);
        let (series, check) = state.metrics(&["host:h".into()], 2_000, &mut before);
        assert_eq!((series[2].value, check.status), (0.0, Status::Ok));
    }
}
