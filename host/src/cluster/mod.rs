//! Cluster checks: instances marked `cluster_check: true` run on exactly one live member of
//! the agent's etcd group, chosen by rendezvous hashing, and move when a member joins or dies.

mod assignment;
mod config;
mod etcd;
mod membership;
mod state;

pub use assignment::{Assignment, hash64};
pub use config::ClusterConfig;
pub use membership::Cluster;
pub use state::{ClusterReport, ClusterState, ETCD_CHECK};
