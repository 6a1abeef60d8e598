//! Guests that trap, loop, hog memory, lie or try to escape are contained and reported, while a
//! healthy instance beside them keeps its schedule.

use crate::common;

use std::time::Duration;

use common::{Layout, series};

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn misbehaving_guests_are_contained_and_the_healthy_one_keeps_time() {
    let layout = Layout::new("");
    layout.check_config("emit", "instances:\n  - min_collection_interval: 1\n    align: true\n    tags: [\"role:healthy\"]\n");
    layout.check_config(
        "trap",
        "instances:\n  - min_collection_interval: 1\n  - {min_collection_interval: 1, align: true, alternate: true}\n",
    );
    layout.check_config(
        "spin",
        "instances:\n  - min_collection_interval: 1\n    timeout: 0.3\n",
    );
    layout.check_config(
        "hog",
        "instances:\n  - min_collection_interval: 1\n    limits: {memory_mib: 16}\n",
    );
    // The escape guest aims at a TCP listener and a UDP socket of the test's own: whatever
    // reaches them got out.
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    tcp.set_nonblocking(true).unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_nonblocking(true).unwrap();
    layout.check_config(
        "escape",
        &format!(
            "instances:\n  - min_collection_interval: 1\n    tcp: \"{}\"\n    udp: \"{}\"\n    \
             grants:\n      files: [/proc/loadavg, \"/proc/*/stat\"]\n",
            tcp.local_addr().unwrap(),
            udp.local_addr().unwrap()
        ),
    );
    let mut agent = layout.start_agent();

    let status = |check: &str, status: &str, text: &str| {
        let (check, status, text) = (
            format!("check={check}"),
            status.to_string(),
            text.to_string(),
        );
        agent.wait_for_stdout(10 * SECOND, move |l| {
            l.starts_with("SERVICE_CHECK wasmon.check.status")
                && l.contains(&check)
                && l.contains(&status)
                && l.contains(&text)
        })
    };
    assert!(
        status("trap", "CRITICAL", "boom: the trap check always panics").is_some(),
        "trap not reported"
    );
    assert!(
        status("spin", "CRITICAL", "timed out after 300ms").is_some(),
        "spin not stopped"
    );
    assert!(
        status("hog", "CRITICAL", "exceeded its memory limit of 16 MiB").is_some(),
        "hog not stopped"
    );
    assert!(status("escape", "OK", "").is_some(), "escape did not run");

    // Each is contained more than once: a trapped instance is rebuilt and runs again.
    std::thread::sleep(5 * SECOND);
    let out = agent.stdout();
    for check in ["trap", "spin", "hog"] {
        let failures = out
            .iter()
            .filter(|l| {
                l.starts_with("SERVICE_CHECK wasmon.check.status")
                    && l.contains(&format!("check={check}"))
                    && l.contains("CRITICAL")
            })
            .count();
        assert!(failures >= 2, "{check} ran {failures} times");
    }

    // A Store rebuilt after a trap runs again: the alternating instance succeeds between its
    // traps.
    let trap_status = |status: &str| {
        out.iter()
            .filter(|l| {
                l.starts_with("SERVICE_CHECK wasmon.check.status")
                    && l.contains("check=trap")
                    && l.contains("instance=1")
                    && l.contains(status)
            })
            .filter_map(|l| l.split(' ').nth(2)?.parse::<i64>().ok())
            .collect::<Vec<i64>>()
    };
    let (traps, oks) = (trap_status("CRITICAL"), trap_status(" OK "));
    assert!(!traps.is_empty(), "the alternating instance never trapped");
    assert!(
        oks.iter().any(|ok| traps.iter().any(|trap| trap < ok)),
        "no run succeeded after a trap: traps {traps:?}, successes {oks:?}"
    );

    // Nothing reached the test's own sockets.
    assert!(
        matches!(tcp.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the escape guest connected over TCP"
    );
    let mut buf = [0; 64];
    assert!(
        matches!(udp.recv_from(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the escape guest sent a UDP datagram"
    );

    // The escape attempts all failed, while the granted read worked.
    for name in ["passwd", "tcp", "udp", "environ", "environ_glob"] {
        let lines = series(&out, &format!("test.escape.{name}"), &[]);
        assert!(!lines.is_empty(), "no test.escape.{name}");
        assert!(
            lines.iter().all(|l| l.value == 0.0),
            "escape via {name} succeeded: {lines:?}"
        );
    }
    let granted = series(&out, "test.escape.granted_read", &[]);
    assert!(!granted.is_empty(), "no test.escape.granted_read");
    assert!(granted.iter().all(|l| l.value == 1.0));

    // The healthy instance ran every second, on the second, without a gap.
    common::assert_runs_every_second(&out, &["role=healthy", "host=test-host", "env=test"], 6);

    // Each failure has a clear log line naming the instance.
    let log = agent.stderr().join("\n");
    for needle in [
        "trap[0]",
        "spin[0]",
        "hog[0]",
        "run failed: trapped",
        "run failed: timed out",
        "run failed: exceeded its memory limit",
    ] {
        assert!(log.contains(needle), "log lacks {needle:?}:\n{log}");
    }
    assert!(agent.stop(), "the agent did not stop cleanly on SIGTERM");
}

#[test]
fn lies_are_dropped_and_counted_and_errors_follow_their_kind() {
    let layout = Layout::new("");
    layout.check_config(
        "emit",
        "instances:\n  - min_collection_interval: 1\n    lie: true\n    extra: 20\n    limits: {max_samples: 10}\n  \
         - min_collection_interval: 1\n    fail_with: transient\n  - min_collection_interval: 1\n    fail_with: permanent\n",
    );
    let mut agent = layout.start_agent();
    let dropped = agent.wait_for_stdout(10 * SECOND, |l| {
        l.starts_with("wasmon.check.invalid_samples")
            && l.contains("instance=0")
            && !l.contains(" 0 ")
    });
    let line = common::Line::parse(&dropped.expect("invalid samples are counted")).unwrap();
    // 7 of its own + 20 extra = 27 valid, 10 kept, 17 over the limit, 2 invalid.
    assert_eq!(line.value, 19.0);
    assert!(
        agent
            .wait_for_stderr(5 * SECOND, |l| l.contains("invalid samples dropped")
                && l.contains("not a finite number"))
            .is_some()
    );

    // A transient error is retried every interval; a permanent one stops the instance.
    std::thread::sleep(4 * SECOND);
    let out = agent.stdout();
    let failed = |instance: &str| {
        out.iter()
            .filter(|l| {
                l.starts_with("SERVICE_CHECK wasmon.check.status")
                    && l.contains(&format!("instance={instance}"))
                    && l.contains("CRITICAL")
            })
            .count()
    };
    assert!(failed("1") >= 3, "transient errors are retried");
    assert_eq!(failed("2"), 1, "a permanent error stops the instance");
    assert!(
        agent
            .stderr()
            .iter()
            .any(|l| l.contains("emit[2]")
                && l.contains("stopped until its config or module changes"))
    );
    agent.stop();
}
