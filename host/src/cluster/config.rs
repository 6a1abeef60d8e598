//! `cluster:` in `wasmon.yaml`: the etcd group whose live members share the cluster checks.

use serde::Deserialize;

/// The group this agent joins. Absent: cluster checks run here, as on a group of one.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// etcd client URLs (`http://10.0.0.5:2379`), tried in turn.
    pub etcd: Vec<String>,
    /// The group's name: agents with the same name share its cluster checks.
    pub group: String,
    /// Seconds a member stays in the group after its last keep-alive: the longest a dead
    /// agent's instances wait before they move.
    #[serde(default = "default_lease_secs")]
    pub lease_secs: u64,
    /// This agent's name in the group; the host name when unset. Two live agents must not
    /// share one.
    #[serde(default)]
    pub member: Option<String>,
}

fn default_lease_secs() -> u64 {
    10
}

/// Shortest lease etcd grants (its election timeout rounds shorter ones up).
pub const MIN_LEASE_SECS: u64 = 2;
/// Longest lease accepted: an hour.
pub const MAX_LEASE_SECS: u64 = 3_600;

impl ClusterConfig {
    /// Every problem of the section, as `(field, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if self.etcd.is_empty() {
            problems.push((
                "etcd".into(),
                "is empty: list at least one etcd client URL, e.g. `http://127.0.0.1:2379`".into(),
            ));
        }
        for (i, url) in self.etcd.iter().enumerate() {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.push((
                    format!("etcd[{i}]"),
                    format!("{url:?}: expected an `http://` or `https://` URL"),
                ));
            }
        }
        if !valid_name(&self.group) {
            problems.push((
                "group".into(),
                format!(
                    "{:?}: a group name is letters, digits, `_`, `-` and `.`",
                    self.group
                ),
            ));
        }
        if let Some(member) = &self.member
            && !valid_name(member)
        {
            problems.push((
                "member".into(),
                format!("{member:?}: a member name is letters, digits, `_`, `-` and `.`"),
            ));
        }
        if !(MIN_LEASE_SECS..=MAX_LEASE_SECS).contains(&self.lease_secs) {
            problems.push((
                "lease_secs".into(),
                format!(
                    "{}: expected seconds between {MIN_LEASE_SECS} and {MAX_LEASE_SECS}",
                    self.lease_secs
                ),
            ));
        }
        problems
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_named() {
        let config: ClusterConfig =
            serde_yaml::from_str("etcd: [ftp://x]\ngroup: 'a b'\nlease_secs: 1\nmember: ''\n")
                .unwrap();
        let fields: Vec<String> = config.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["etcd[0]", "group", "member", "lease_secs"]);
        let good: ClusterConfig =
            serde_yaml::from_str("etcd: [http://127.0.0.1:2379]\ngroup: db-pollers\n").unwrap();
        assert!(good.problems().is_empty());
        assert_eq!(good.lease_secs, 10);
        assert!(serde_yaml::from_str::<ClusterConfig>("etcd: []\ngroup: g\nlease: 3\n").is_err());
    }
}
