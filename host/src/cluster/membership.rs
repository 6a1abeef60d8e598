//! This agent in its group: registered as `/wasmon/<group>/members/<name>` under a lease kept
//! alive every third of its time, the members watched, and every new set of members published
//! as an [`Assignment`]. When etcd stops answering, the last set stays (the current share keeps
//! running) and the state says why; when it answers again, the agent registers anew and reads
//! the group again. Stopping revokes the lease, so the survivors take over at once.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::etcd::{Etcd, EtcdError};
use super::{Assignment, ClusterConfig, ClusterState};
use crate::scheduler::now_ms;

/// Longest the lease's revocation may hold up a stop.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(2);

/// A running membership.
pub struct Cluster {
    /// The members now, as an assignment of instances.
    pub assignment: watch::Receiver<Arc<Assignment>>,
    /// What is known of the group.
    pub state: Arc<ClusterState>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Cluster {
    /// Joins the group of `config` as `member` (in the background: etcd need not answer yet).
    pub fn join(config: &ClusterConfig, member: &str) -> Result<Self, EtcdError> {
        let etcd = Etcd::new(&config.etcd)?;
        let state = Arc::new(ClusterState::new(&config.group, member));
        let (publish, assignment) = watch::channel(Arc::new(Assignment::unknown(member)));
        let stop = CancellationToken::new();
        let member = Member {
            etcd,
            prefix: format!("/wasmon/{}/members/", config.group),
            name: member.to_string(),
            lease_secs: config.lease_secs,
            state: state.clone(),
            publish,
        };
        let task = tokio::spawn(member.run(stop.clone()));
        Ok(Self {
            assignment,
            state,
            stop,
            task,
        })
    }

    /// Leaves the group: the lease is revoked, so the others take this agent's share now.
    pub async fn leave(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// Why a session with etcd ended.
enum Ended {
    Stopped,
    Lost(EtcdError),
}

struct Member {
    etcd: Etcd,
    prefix: String,
    name: String,
    lease_secs: u64,
    state: Arc<ClusterState>,
    publish: watch::Sender<Arc<Assignment>>,
}

impl Member {
    async fn run(self, stop: CancellationToken) {
        let mut backoff = Backoff::new(Duration::from_secs((self.lease_secs / 2).max(1)));
        loop {
            let joined = tokio::select! {
                () = stop.cancelled() => return,
                joined = self.register() => joined,
            };
            let error = match joined {
                Ok(lease) => match self.session(lease, &stop, &mut backoff).await {
                    Ended::Stopped => {
                        let revoke = tokio::time::timeout(REVOKE_TIMEOUT, self.etcd.revoke(lease));
                        match revoke.await {
                            Ok(Ok(())) => {
                                tracing::info!(group = %self.prefix, "left the cluster group")
                            }
                            _ => tracing::warn!(
                                "could not revoke the cluster lease: the group sees this agent leave when it expires"
                            ),
                        }
                        return;
                    }
                    Ended::Lost(e) => e,
                },
                Err(e) => e,
            };
            if self.state.lost(error.to_string()) {
                tracing::warn!(
                    "cluster: {error}: keeping the current share of cluster instances until \
                     etcd answers again"
                );
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(backoff.next()) => {}
            }
        }
    }

    /// A new lease, and this agent's key under it.
    async fn register(&self) -> Result<i64, EtcdError> {
        let lease = self.etcd.grant(self.lease_secs).await?;
        let value = json!({"pid": std::process::id(), "since_ms": now_ms()}).to_string();
        self.etcd
            .put(&format!("{}{}", self.prefix, self.name), &value, lease)
            .await?;
        Ok(lease)
    }

    /// Keeps `lease` alive and follows the members until etcd is lost or the agent stops.
    async fn session(&self, lease: i64, stop: &CancellationToken, backoff: &mut Backoff) -> Ended {
        let every = Duration::from_millis(self.lease_secs * 1000 / 3);
        let mut keep_alive = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        keep_alive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let mut watch = match self.read_members().await {
                Ok(revision) => match self.etcd.watch(&self.prefix, revision).await {
                    Ok(watch) => watch,
                    Err(e) => return Ended::Lost(e),
                },
                Err(e) => return Ended::Lost(e),
            };
            backoff.reset();
            loop {
                tokio::select! {
                    () = stop.cancelled() => return Ended::Stopped,
                    _ = keep_alive.tick() => match self.etcd.keep_alive(lease).await {
                        Ok(true) => {}
                        Ok(false) => return Ended::Lost(
                            self.etcd.error(format!("lease {lease:x} expired")),
                        ),
                        Err(e) => return Ended::Lost(e),
                    },
                    changed = watch.changed() => match changed {
                        Ok(()) => break,
                        Err(e) => return Ended::Lost(e),
                    },
                }
            }
        }
    }

    /// Reads the members and publishes them if they changed; the revision read at.
    async fn read_members(&self) -> Result<i64, EtcdError> {
        let (keys, revision) = self.etcd.list(&self.prefix).await?;
        let members: Vec<String> = keys
            .into_iter()
            .filter_map(|kv| kv.key.strip_prefix(&self.prefix).map(str::to_string))
            .filter(|name| !name.is_empty() && !name.contains('/'))
            .collect();
        if !members.contains(&self.name) {
            // Deleted by hand, or a lease etcd dropped: register again rather than own nothing.
            return Err(self.etcd.error(format!(
                "this agent's key {}{} is gone",
                self.prefix, self.name
            )));
        }
        let assignment = Assignment::new(&self.name, members);
        let names: Vec<String> = assignment.members().map(str::to_string).collect();
        if self.state.seen(names.clone()) {
            tracing::info!(members = %names.join(","), "cluster members");
            self.publish.send_replace(Arc::new(assignment));
        }
        Ok(revision)
    }
}

/// Waits between attempts to reach etcd: from a quarter second, doubling, up to `most`.
struct Backoff {
    next: Duration,
    most: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(250);

    fn new(most: Duration) -> Self {
        Self {
            next: Self::FIRST,
            most,
        }
    }

    fn next(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.most);
        wait
    }

    fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_bound_and_starts_over() {
        let mut backoff = Backoff::new(Duration::from_secs(1));
        let waits: Vec<u128> = (0..5).map(|_| backoff.next().as_millis()).collect();
        assert_eq!(waits, [250, 500, 1000, 1000, 1000]);
        backoff.reset();
        assert_eq!(backoff.next(), Duration::from_millis(250));
    }

    /// etcd that never answers: the agent keeps trying at its back-off, knows no members,
    /// says why, and stops at once when asked.
    #[tokio::test(start_paused = true)]
    async fn an_unreachable_etcd_is_retried_and_reported() {
        let config = ClusterConfig {
            etcd: vec!["http://127.0.0.1:9".into()],
            group: "g".into(),
            lease_secs: 2,
            member: None,
        };
        let cluster = Cluster::join(&config, "a").unwrap();
        for _ in 0..20 {
            if cluster.state.report().last_error.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let report = cluster.state.report();
        assert!(!report.connected);
        assert!(
            report
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("lease/grant")),
            "{report:?}"
        );
        assert!(cluster.assignment.borrow().members().next().is_none());
        tokio::time::timeout(Duration::from_secs(1), cluster.leave())
            .await
            .expect("leaving does not wait for etcd");
    }
}
