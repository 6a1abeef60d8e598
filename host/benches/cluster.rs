//! Cluster checks: the share of 100,000 instances that move when one of 1,000 agents leaves
//! (rendezvous hashing should move about a thousandth, all of them the leaver's), the time to
//! place them, and what one agent costs etcd at rest (requests per minute, from etcd's own
//! counters), with Debian's `etcd-server` when it is installed.
//!
//! `cargo bench -p wasmon --bench cluster`

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wasmon::cluster::Assignment;

const AGENTS: usize = 1_000;
const INSTANCES: usize = 100_000;
/// Seconds the agent is watched at rest.
const AT_REST_SECS: u64 = 60;

fn main() {
    moved_share();
    match etcd_at_rest() {
        Ok(()) => {}
        Err(e) => println!("etcd at rest: skipped ({e})"),
    }
}

fn moved_share() {
    let members: Vec<String> = (0..AGENTS).map(|i| format!("agent-{i:04}")).collect();
    let leaver = &members[AGENTS / 2];
    let before = Assignment::new("agent-0000", members.clone());
    let after = Assignment::new(
        "agent-0000",
        members.iter().filter(|m| *m != leaver).cloned(),
    );
    let ids: Vec<String> = (0..INSTANCES).map(|i| format!("mysql/{i:016x}")).collect();
    let started = Instant::now();
    let owners: Vec<Option<&str>> = ids.iter().map(|id| before.owner(id)).collect();
    let placing = started.elapsed();
    let mut moved = 0;
    let mut from_others = 0;
    for (id, was) in ids.iter().zip(owners) {
        if after.owner(id) != was {
            moved += 1;
            if was != Some(leaver.as_str()) {
                from_others += 1;
            }
        }
    }
    println!(
        "rendezvous: {AGENTS} agents, {INSTANCES} instances; one leaves: {moved} moved ({:.3} %, \
         ideal {:.3} %), {from_others} of them from agents that stayed; placing all took \
         {placing:?} ({:.0} ns per instance)",
        moved as f64 * 100.0 / INSTANCES as f64,
        100.0 / AGENTS as f64,
        placing.as_nanos() as f64 / INSTANCES as f64
    );
}

/// One agent in a group with a 10 s lease and no checks: etcd's gRPC calls per minute.
fn etcd_at_rest() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let port = |n: u16| 23_000 + (std::process::id() % 1_000) as u16 * 2 + n;
    let (client, peer) = (
        format!("http://127.0.0.1:{}", port(0)),
        format!("http://127.0.0.1:{}", port(1)),
    );
    let mut etcd = Command::new("etcd")
        .arg("--data-dir")
        .arg(dir.path().join("etcd"))
        .args([
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
        ])
        .args([
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
        ])
        .args([
            "--initial-cluster",
            &format!("default={peer}"),
            "--log-level",
            "error",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("etcd: {e}"))?;
    let calls = || -> Option<f64> {
        let metrics = http_get(&client, "/metrics")?;
        Some(
            metrics
                .lines()
                .filter(|l| l.starts_with("grpc_server_started_total"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum(),
        )
    };
    let ready = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        calls().is_some()
    });
    if !ready {
        let _ = etcd.kill();
        return Err("etcd did not start".into());
    }
    std::fs::create_dir_all(dir.path().join("conf.d")).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.path().join("wasmon.yaml"),
        format!(
            "conf_d: conf.d\nchecks_d: [checks.d]\ndata_dir: data\ncontrol: {{listen: \"127.0.0.1:0\"}}\ndogstatsd: {{listen: \"\"}}\npush: {{listen: \"\"}}\n\
             cluster: {{etcd: [\"{client}\"], group: bench, lease_secs: 10}}\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    let mut agent = Command::new(env!("CARGO_BIN_EXE_wasmon"))
        .arg("--config")
        .arg(dir.path().join("wasmon.yaml"))
        .args(["run", "--dry-run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_secs(3));
    let first = calls();
    std::thread::sleep(Duration::from_secs(AT_REST_SECS));
    let last = calls();
    let _ = agent.kill();
    let _ = etcd.kill();
    let _ = (agent.wait(), etcd.wait());
    let (Some(first), Some(last)) = (first, last) else {
        return Err("etcd's metrics could not be read".into());
    };
    println!(
        "etcd at rest: one agent, lease 10 s: {:.0} gRPC calls per minute (keep-alives every \
         lease/3, one long-lived watch)",
        (last - first) * 60.0 / AT_REST_SECS as f64
    );
    Ok(())
}

/// The body of `GET path` on `base` (`http://host:port`), over a plain socket.
fn http_get(base: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let addr = base.strip_prefix("http://")?;
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.lines()
        .next()?
        .contains(" 200 ")
        .then(|| body.to_string())
}
