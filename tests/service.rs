//! wasmon as a service: its systemd unit passes `systemd-analyze verify`; readiness, reload,
//! stopping and watchdog keep-alives reach a real `NOTIFY_SOCKET` (the sd_notify protocol);
//! past `max_rss_mib` it flushes and exits non-zero; JSON logs parse line by line and keep a
//! check's instance; a log file rotates by size and keeps the configured number of files.

use crate::common;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::{Layout, root};

const SECOND: Duration = Duration::from_secs(1);
const EMIT: &str = "instances:\n  - {min_collection_interval: 1}\n";

#[test]
fn the_unit_file_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(root().join("host/debian/wasmon.service")).unwrap();
    assert!(unit.contains("Type=notify") && unit.contains("WatchdogSec="));
    // Verified as installed, but with the binary this build made.
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("wasmon.service");
    let unit = unit.replace("/usr/bin/wasmon", env!("CARGO_BIN_EXE_wasmon"));
    std::fs::write(&copy, unit).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&copy)
        .output()
        .expect("systemd-analyze (Debian package systemd)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let about_the_unit: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("wasmon.service"))
        .collect();
    assert!(out.status.success() && about_the_unit.is_empty(), "{said}");
}

/// The next datagram on `socket`, waiting at most `limit`.
fn next(socket: &UnixDatagram, limit: Duration) -> Option<String> {
    socket.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0; 4096];
    let n = socket.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).trim_end().to_string())
}

/// Datagrams until one has `state`, at most `limit`; all of them.
fn until(socket: &UnixDatagram, state: &str, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Some(message) = next(socket, left) else {
            break;
        };
        let done = message.lines().any(|l| l == state);
        seen.push(message);
        if done {
            break;
        }
    }
    seen
}

#[test]
fn readiness_reload_stopping_and_watchdog_reach_the_notify_socket() {
    let layout = Layout::new("");
    layout.check_config("emit", EMIT);
    let path = layout.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let notify = path.to_str().unwrap();
    let mut agent = layout.start_agent_env(
        &["run"],
        &[("NOTIFY_SOCKET", notify), ("WATCHDOG_USEC", "400000")],
    );
    let ready = until(&socket, "READY=1", 20 * SECOND);
    assert!(
        ready.iter().any(|m| m == "READY=1"),
        "{ready:?} {:?}",
        agent.stderr()
    );
    // Ready means started: the instance was running by then.
    assert!(
        agent
            .stderr()
            .iter()
            .any(|l| l.contains("instance started"))
    );
    // Keep-alives every 0.2 s while the agent's loop answers.
    let started = Instant::now();
    let mut keepalives = 0;
    while started.elapsed() < 2 * SECOND {
        if next(&socket, SECOND).is_some_and(|m| m == "WATCHDOG=1") {
            keepalives += 1;
        }
    }
    assert!(keepalives >= 5, "{keepalives} keep-alives in 2 s");
    agent.signal("HUP");
    let reload = until(&socket, "READY=1", 10 * SECOND);
    let states: Vec<&String> = reload.iter().filter(|m| *m != "WATCHDOG=1").collect();
    assert_eq!(states, ["RELOADING=1", "READY=1"], "{reload:?}");
    agent.signal("TERM");
    let stopping = until(&socket, "STOPPING=1", 10 * SECOND);
    assert!(stopping.iter().any(|m| m == "STOPPING=1"), "{stopping:?}");
    assert_eq!(agent.wait_exit(20 * SECOND), Some(0));
}

#[test]
fn past_its_memory_bound_the_agent_flushes_and_exits_non_zero() {
    let layout = Layout::new("max_rss_mib: 1\n");
    layout.check_config("emit", EMIT);
    let mut agent = layout.start_agent();
    assert_eq!(
        agent.wait_exit(30 * SECOND),
        Some(3),
        "{:?}",
        agent.stderr()
    );
    let log = agent.stderr().join("\n");
    assert!(log.contains("past max_rss_mib (1)"), "{log}");
    assert!(log.contains("stopped"), "{log}");
}

#[test]
fn json_logs_parse_line_by_line_and_keep_the_instance() {
    let layout = Layout::new("log: {format: json}\n");
    layout.check_config(
        "flood",
        "instances:\n  - {min_collection_interval: 1, log_lines: 3, log_bytes: 10}\n",
    );
    let mut agent = layout.start_agent();
    // The check's own three lines, not only the agent's about the instance.
    let three = common::wait_for(20 * SECOND, || {
        let lines = agent.stderr();
        (lines.iter().filter(|l| l.contains("xxxxxxxxxx")).count() >= 3).then_some(())
    });
    assert!(three.is_some(), "{:?}", agent.stderr());
    assert!(agent.stop());
    let lines = agent.stderr();
    assert!(!lines.is_empty());
    let mut from_the_check = 0;
    for line in &lines {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object: {line:?}: {e}"));
        assert!(
            event["level"].is_string() && event["timestamp"].is_string(),
            "{event}"
        );
        if event["fields"]["instance"] == "flood[0]" && event["target"] == "wasmon::check" {
            from_the_check += 1;
        }
    }
    assert!(
        from_the_check >= 3,
        "{from_the_check} lines name the instance"
    );
}

#[test]
fn a_log_file_rotates_by_size_and_keeps_the_configured_files() {
    let layout = Layout::new("log: {file: {path: logs/wasmon.log, max_size_kib: 4, keep: 2}}\n");
    layout.check_config(
        "flood",
        "instances:\n  - {min_collection_interval: 1, log_lines: 50, log_bytes: 200}\n",
    );
    let mut agent = layout.start_agent();
    let logs = layout.dir.path().join("logs");
    let rotated = common::wait_for(30 * SECOND, || {
        logs.join("wasmon.log.2").is_file().then_some(())
    });
    assert!(
        rotated.is_some(),
        "{:?}",
        std::fs::read_dir(&logs).map(|d| d.count())
    );
    // More runs: still the current file and two rotated ones, none far past the size.
    std::thread::sleep(3 * SECOND);
    assert!(agent.stop());
    let mut files: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, ["wasmon.log", "wasmon.log.1", "wasmon.log.2"]);
    for file in &files {
        let size = std::fs::metadata(logs.join(file)).unwrap().len();
        assert!(size < 4 * 1024 + 4096, "{file}: {size} bytes");
    }
    // Nothing of the agent's own log went to standard error.
    assert!(!agent.stderr().iter().any(|l| l.contains("flood[0]")));
}
