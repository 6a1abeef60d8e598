//! Cluster checks on a real etcd (Debian's `etcd-server`) with several `wasmon run`
//! processes: each cluster instance runs on exactly one live agent, moves when its agent is
//! killed, is taken up by an agent that joins, and keeps running through an etcd outage.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::etcd::Etcd;
use common::{Agent, Layout, series, wait_for};
use serde_json::Value;

/// Seconds of the agents' leases.
const LEASE_SECS: u64 = 2;
/// Cluster instances in the shared config.
const INSTANCES: usize = 8;

/// One agent of the group, with its own folders.
struct Member {
    name: String,
    layout: Layout,
    agent: Agent,
}

impl Member {
    fn start(etcd: &Etcd, group: &str, name: &str) -> Self {
        let layout = Layout::new(&format!(
            "self_metrics_secs: 1\ncluster: {{etcd: [\"{}\"], group: {group}, lease_secs: {LEASE_SECS}, member: {name}}}\n",
            etcd.url
        ));
        let mut yaml = String::from("cluster_check: true\ninstances:\n");
        for n in 0..INSTANCES {
            yaml.push_str(&format!(
                "  - min_collection_interval: 1\n    align: true\n    tags: [\"n:{n}\"]\n"
            ));
        }
        layout.check_config("emit", &yaml);
        let agent = layout.start_agent();
        Self {
            name: name.into(),
            layout,
            agent,
        }
    }

    /// The `cluster` part of the agent's status, once it answers.
    fn cluster(&self) -> Option<Value> {
        let out = self.layout.wasmon(&["status", "--json"]);
        let status: Value = serde_json::from_slice(&out.stdout).ok()?;
        Some(status["cluster"].clone())
    }

    /// The cluster instances it runs now.
    fn owned(&self) -> Option<BTreeSet<String>> {
        let owned = self.cluster()?["owned"].as_array()?.clone();
        Some(
            owned
                .iter()
                .filter_map(|o| o.as_str().map(String::from))
                .collect(),
        )
    }

    /// The `n` tags of the runs it made at or after unix second `since`, with their times.
    fn runs_since(&self, since: f64) -> Vec<(String, f64)> {
        series(&self.agent.stdout(), "test.emit.gauge", &[])
            .into_iter()
            .filter(|l| l.timestamp >= since)
            .filter_map(|l| {
                let n = l
                    .fields
                    .iter()
                    .find_map(|f| f.strip_prefix("n="))?
                    .to_string();
                Some((n, l.timestamp))
            })
            .collect()
    }
}

/// Who runs what, once every instance runs on exactly one of `members` and each of them
/// knows `size` members.
fn settled(members: &[&Member], size: usize) -> Option<BTreeMap<String, BTreeSet<String>>> {
    let mut owners = BTreeMap::new();
    for m in members {
        let cluster = m.cluster()?;
        if cluster["members"].as_array()?.len() != size || cluster["connected"] != true {
            return None;
        }
        owners.insert(m.name.clone(), m.owned()?);
    }
    let all: Vec<&String> = owners.values().flatten().collect();
    let unique: BTreeSet<&String> = all.iter().copied().collect();
    (all.len() == INSTANCES && unique.len() == INSTANCES).then_some(owners)
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// No instance ran on two agents in the same second at or after `since`.
fn assert_run_once(members: &[&Member], since: f64) {
    let mut runners: BTreeMap<(String, i64), Vec<String>> = BTreeMap::new();
    for m in members {
        for (n, at) in m.runs_since(since) {
            runners
                .entry((n, at as i64))
                .or_default()
                .push(m.name.clone());
        }
    }
    assert!(!runners.is_empty(), "no runs since {since}");
    for ((n, at), who) in &runners {
        assert_eq!(who.len(), 1, "instance n:{n} ran at {at} on {who:?}");
    }
}

/// Every instance ran at least every other second from `from` to `to` on some agent.
fn assert_no_gap(members: &[&Member], from: f64, to: f64) {
    let mut times: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for m in members {
        for (n, at) in m.runs_since(from) {
            if at <= to {
                times.entry(n).or_default().insert(at as i64);
            }
        }
    }
    assert_eq!(times.len(), INSTANCES, "{times:?}");
    for (n, runs) in &times {
        let runs: Vec<i64> = runs.iter().copied().collect();
        assert!(runs[0] - from as i64 <= 2, "n:{n} first ran at {}", runs[0]);
        for pair in runs.windows(2) {
            assert!(pair[1] - pair[0] <= 2, "n:{n} had a gap: {runs:?}");
        }
    }
}

#[test]
fn instances_run_once_move_off_a_killed_agent_and_onto_a_joining_one() {
    let etcd = Etcd::start();
    let (a, b, c) = (
        Member::start(&etcd, "spread", "agent-a"),
        Member::start(&etcd, "spread", "agent-b"),
        Member::start(&etcd, "spread", "agent-c"),
    );
    let three = wait_for(Duration::from_secs(30), || settled(&[&a, &b, &c], 3))
        .expect("three agents never shared the eight instances once each");
    for (name, share) in &three {
        assert!(
            (1..=5).contains(&share.len()),
            "{name} runs {share:?}: the spread is uneven"
        );
    }
    let since = unix_now() + 1.0;
    std::thread::sleep(Duration::from_secs(3));
    assert_run_once(&[&a, &b, &c], since);

    // A fourth agent takes about a quarter; the others stop exactly what it takes.
    let joined_at = unix_now();
    let d = Member::start(&etcd, "spread", "agent-d");
    let four = wait_for(Duration::from_secs(30), || settled(&[&a, &b, &c, &d], 4))
        .expect("the joining agent never got its share");
    let took = &four["agent-d"];
    assert!((1..=4).contains(&took.len()), "agent-d took {took:?}");
    for name in ["agent-a", "agent-b", "agent-c"] {
        let (before, now) = (&three[name], &four[name]);
        assert!(
            now.is_subset(before),
            "{name} gained {now:?} from {before:?}"
        );
        assert_eq!(
            before.difference(now).collect::<BTreeSet<_>>(),
            before.intersection(took).collect::<BTreeSet<_>>(),
            "{name} stopped something agent-d did not take"
        );
    }
    let since = unix_now() + 1.0;
    std::thread::sleep(Duration::from_secs(3));
    assert_no_gap(&[&a, &b, &c, &d], joined_at.ceil(), unix_now() - 1.0);
    assert_run_once(&[&a, &b, &c, &d], since);

    // `kill -9` one: its share starts on the others within the lease and one interval.
    let mut b = b;
    let killed_at = Instant::now();
    b.agent.kill();
    let after = wait_for(Duration::from_secs(30), || settled(&[&a, &c, &d], 3))
        .expect("the killed agent's instances never moved");
    let failover = killed_at.elapsed();
    println!("failover after kill -9: {failover:?} (lease {LEASE_SECS}s, interval 1s)");
    assert!(
        failover < Duration::from_secs(LEASE_SECS + 1 + 5),
        "failover took {failover:?}"
    );
    for name in ["agent-a", "agent-c", "agent-d"] {
        assert!(
            four[name].is_subset(&after[name]),
            "{name} lost instances when agent-b died"
        );
    }
    let since = unix_now() + 1.0;
    std::thread::sleep(Duration::from_secs(3));
    assert_run_once(&[&a, &c, &d], since);
}

#[test]
fn losing_etcd_keeps_every_share_running_and_its_return_rejoins() {
    let mut etcd = Etcd::start();
    let (a, b) = (
        Member::start(&etcd, "outage", "agent-a"),
        Member::start(&etcd, "outage", "agent-b"),
    );
    let before = wait_for(Duration::from_secs(30), || settled(&[&a, &b], 2))
        .expect("two agents never shared the eight instances once each");
    etcd.stop();
    let lost = wait_for(Duration::from_secs(20), || {
        [&a, &b]
            .iter()
            .all(|m| m.cluster().is_some_and(|c| c["connected"] == false))
            .then_some(())
    });
    assert!(lost.is_some(), "the agents did not notice etcd was gone");
    let since = unix_now() + 1.0;
    std::thread::sleep(Duration::from_secs(LEASE_SECS + 2));
    for m in [&a, &b] {
        assert_eq!(
            m.owned().as_ref(),
            Some(&before[&m.name]),
            "{} changed its share",
            m.name
        );
        let ran: BTreeSet<String> = m
            .runs_since(since)
            .into_iter()
            .map(|(n, _)| format!("n:{n}"))
            .collect();
        assert_eq!(
            ran.len(),
            before[&m.name].len(),
            "{} stopped running some of its share",
            m.name
        );
        let said = m.agent.wait_for_stdout(Duration::from_secs(5), |l| {
            l.starts_with("SERVICE_CHECK wasmon.cluster.etcd") && l.contains("CRITICAL")
        });
        assert!(
            said.is_some_and(|l| l.contains("keeping the current share")),
            "{} did not report losing etcd",
            m.name
        );
    }
    assert_no_gap(&[&a, &b], since, unix_now() - 1.0);

    etcd.restart();
    let after = wait_for(Duration::from_secs(30), || settled(&[&a, &b], 2))
        .expect("after etcd came back the agents never settled");
    assert_eq!(after, before, "etcd's return moved instances");
    let since = unix_now() + 1.0;
    std::thread::sleep(Duration::from_secs(2));
    assert_run_once(&[&a, &b], since);

    // A member's key deleted by hand: that agent registers again and takes its share back.
    use base64::Engine;
    let key = base64::engine::general_purpose::STANDARD.encode("/wasmon/outage/members/agent-a");
    let addr = etcd.url.trim_start_matches("http://");
    let body = format!("{{\"key\": \"{key}\"}}");
    let (code, answer) = common::http(addr, "POST", "/v3/kv/deleterange", None, Some(&body));
    assert_eq!(code, 200, "{answer}");
    assert!(answer.contains("\"deleted\":\"1\""), "{answer}");
    let again = wait_for(Duration::from_secs(30), || {
        settled(&[&a, &b], 2).filter(|owners| *owners == before)
    });
    assert!(again.is_some(), "agent-a did not register again");
}
