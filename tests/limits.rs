//! A hostile check floods the host (log lines, printed lines, service checks, metadata, long
//! tags, a forged host) beside a healthy one: every flood is capped and counted, and the
//! healthy check keeps its schedule. A module whose `describe` never returns delays no other
//! and is reported to backends as CRITICAL until it starts.

use crate::common;

use std::time::{Duration, Instant};

use common::{Layout, series};

const SECOND: Duration = Duration::from_secs(1);
const HEALTHY: &str =
    "instances:\n  - {min_collection_interval: 1, align: true, tags: [\"role:healthy\"]}\n";

/// The sum of a per-run count the agent reports about flood instance `instance`.
fn total(lines: &[String], name: &str, instance: &str) -> f64 {
    series(lines, name, &["check=flood", instance])
        .iter()
        .map(|l| l.value)
        .sum()
}

#[test]
fn floods_are_capped_and_counted_and_the_healthy_check_keeps_time() {
    let layout = Layout::new("");
    layout.check_config("emit", HEALTHY);
    layout.check_config(
        "flood",
        "instances:\n  - min_collection_interval: 1\n    log_lines: 2000\n    log_bytes: 65536\n    \
         print_lines: 5000\n    service_checks: 100000\n    metadata: 1000\n    metadata_bytes: 2000\n    \
         host_tag: forged\n  - min_collection_interval: 1\n    samples: 9000\n    tag_bytes: 190\n    \
         limits: {max_submit_kib: 512}\n",
    );
    let mut agent = layout.start_agent();
    let ran = agent.wait_for_stdout(20 * SECOND, |l| l.starts_with("test.flood.ran "));
    assert!(ran.is_some(), "{:?}", agent.stderr().last());
    std::thread::sleep(5 * SECOND);
    assert!(agent.stop());
    let out = agent.stdout();
    let log = agent.stderr();
    let runs = series(&out, "wasmon.check.runs", &["check=flood", "instance=0"]).len();
    assert!(runs >= 3, "the flood check ran {runs} times");

    // Log lines: at most 100 a run from the check, none longer than 4 KiB and its marks.
    let flood_lines: Vec<&String> = log.iter().filter(|l| l.contains("flood[0]")).collect();
    let longest = flood_lines.iter().map(|l| l.len()).max().unwrap_or(0);
    assert!(longest < 4096 + 300, "a log line of {longest} bytes");
    assert!(
        flood_lines.len() <= (runs + 2) * (100 + 10),
        "{} log lines in {runs} runs",
        flood_lines.len()
    );
    let logs_dropped = total(&out, "wasmon.check.logs_dropped", "instance=0");
    assert!(
        logs_dropped >= (runs as f64) * (2000.0 + 5000.0 - 100.0),
        "logs dropped: {logs_dropped}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("dropped this run: log lines past limits.max_log_lines")),
        "the drop is said"
    );

    // Service checks: at most 1000 a run reach the sink; the rest are counted.
    let checks = out
        .iter()
        .filter(|l| l.starts_with("SERVICE_CHECK test.flood.check "))
        .count();
    assert!(checks <= (runs + 1) * 1000, "{checks} service checks");
    assert!(checks >= 1000);
    assert!(
        total(&out, "wasmon.check.service_checks_dropped", "instance=0") >= runs as f64 * 99_000.0
    );

    // Metadata past its size, and samples past the run's byte budget, are counted.
    assert!(total(&out, "wasmon.check.metadata_dropped", "instance=0") >= runs as f64 * 1000.0);
    let samples = series(&out, "test.flood.sample", &[]).len();
    assert!(
        samples > 0 && samples < runs * 9000,
        "{samples} long samples"
    );
    assert!(total(&out, "wasmon.check.bytes_dropped", "instance=1") > 0.0);

    // One host on every series: the check's own `host:` tag wins.
    let forged = series(&out, "test.flood.forged", &[]);
    assert!(!forged.is_empty());
    for line in &forged {
        let hosts: Vec<&String> = line
            .fields
            .iter()
            .filter(|f| f.starts_with("host="))
            .collect();
        assert_eq!(hosts, ["host=forged"], "{line:?}");
    }
    let own = series(&out, "test.flood.ran", &[]);
    assert!(!own.is_empty());
    assert!(own.iter().all(|l| l.has("host=test-host")));

    common::assert_runs_every_second(&out, &["role=healthy"], 4);
}

#[test]
fn a_module_that_never_describes_itself_holds_up_no_later_change() {
    let layout = Layout::new("");
    layout.check_config("emit", HEALTHY);
    let mut agent = layout.start_agent();
    let first = agent.wait_for_stdout(10 * SECOND, |l| l.starts_with("test.emit.gauge "));
    assert!(first.is_some(), "{:?}", agent.stderr());
    // Added while running: its start takes the whole start timeout (5 s)...
    layout.check_config("slow_start", "instances:\n  - min_collection_interval: 1\n");
    assert!(
        agent
            .wait_for_stderr(5 * SECOND, |l| l
                .contains("module compiled check=\"slow_start\""))
            .is_some(),
        "{:?}",
        agent.stderr()
    );
    // ...and an edit made meanwhile starts its instance before that timeout is up.
    layout.check_config(
        "emit",
        &format!("{HEALTHY}  - {{min_collection_interval: 1, tags: [\"role:second\"]}}\n"),
    );
    let critical = agent.wait_for_stdout(15 * SECOND, |l| {
        l.starts_with("SERVICE_CHECK wasmon.check.status") && l.contains("check=slow_start")
    });
    assert!(critical.is_some(), "{:?}", agent.stderr());
    let out = agent.stdout();
    let at = |pred: &dyn Fn(&str) -> bool| out.iter().position(|l| pred(l));
    let second = at(&|l| l.starts_with("test.emit.gauge ") && l.contains("role=second"));
    let failed = at(&|l| l.contains("check=slow_start") && l.contains("CRITICAL"));
    assert!(
        second.is_some_and(|second| failed.is_none_or(|failed| second < failed)),
        "the edit waited for the slow module: second run at line {second:?}, its failure at \
         {failed:?}"
    );
    assert!(agent.stop());
}

#[test]
fn a_module_that_never_describes_itself_delays_no_other_and_is_reported() {
    let layout = Layout::new("");
    layout.check_config("slow_start", "instances:\n  - min_collection_interval: 1\n");
    layout.check_config("emit", HEALTHY);
    let started = Instant::now();
    let mut agent = layout.start_agent();
    let first = agent.wait_for_stdout(10 * SECOND, |l| l.starts_with("test.emit.gauge "));
    let first_after = started.elapsed();
    assert!(first.is_some(), "{:?}", agent.stderr());
    // The default start timeout is 5 s; the healthy check did not wait for it.
    assert!(
        first_after < 4 * SECOND,
        "first healthy run after {first_after:?}"
    );
    let critical = agent.wait_for_stdout(15 * SECOND, |l| {
        l.starts_with("SERVICE_CHECK wasmon.check.status")
            && l.contains("check=slow_start")
            && l.contains("CRITICAL")
            && l.contains("cannot start")
    });
    assert!(critical.is_some(), "{:?}", agent.stderr());
    let reported = agent.wait_for_stdout(15 * SECOND, |l| {
        l.starts_with("wasmon.check.start_failures ") && l.contains("check=slow_start")
    });
    assert!(reported.is_some());
    // Reported at its interval, not once.
    std::thread::sleep(3 * SECOND);
    let criticals = agent
        .stdout()
        .iter()
        .filter(|l| l.contains("check=slow_start") && l.contains("CRITICAL"))
        .count();
    assert!(criticals >= 3, "{criticals} reports");
    assert!(agent.stop());
    common::assert_runs_every_second(&agent.stdout(), &["role=healthy"], 5);
}

/// `slow_init` at version `v`, whose `init` takes `init_ms`.
fn slow_init(v: &str, init_ms: u64) -> String {
    format!(
        "instances:\n  - {{min_collection_interval: 1, init_ms: {init_ms}, tags: [\"v:{v}\"]}}\n"
    )
}

#[test]
fn a_config_edited_back_while_its_new_version_prepares_never_starts_that_version() {
    let layout = Layout::new("");
    layout.check_config("slow_init", &slow_init("a", 0));
    let mut agent = layout.start_agent();
    let ran =
        |v: &'static str| move |l: &str| l.starts_with("test.slow_init.ran ") && l.contains(v);
    assert!(
        agent.wait_for_stdout(10 * SECOND, ran("v=a")).is_some(),
        "{:?}",
        agent.stderr()
    );
    // Version b takes 3 s to start; a is back before then.
    layout.check_config("slow_init", &slow_init("b", 3_000));
    std::thread::sleep(SECOND);
    layout.check_config("slow_init", &slow_init("a", 0));
    let b = agent.wait_for_stdout(6 * SECOND, ran("v=b"));
    assert!(b.is_none(), "the version in between started: {b:?}");
    let out = agent.stdout();
    let last = out.iter().rposition(|l| ran("v=a")(l));
    assert!(
        last.is_some_and(|last| last + 50 > out.len()),
        "a kept running"
    );
    assert!(
        !agent
            .stderr()
            .iter()
            .any(|l| l.contains("instance replaced")),
        "{:?}",
        agent.stderr()
    );
    assert!(agent.stop());
}

#[test]
fn a_check_removed_while_it_prepares_never_starts() {
    let layout = Layout::new("");
    layout.check_config("emit", HEALTHY);
    let mut agent = layout.start_agent();
    let first = agent.wait_for_stdout(10 * SECOND, |l| l.starts_with("test.emit.gauge "));
    assert!(first.is_some(), "{:?}", agent.stderr());
    let config = layout.check_config("slow_init", &slow_init("a", 2_000));
    let compiled = agent.wait_for_stderr(10 * SECOND, |l| {
        l.contains("check=\"slow_init\"")
            && (l.contains("module compiled") || l.contains("module loaded"))
    });
    assert!(compiled.is_some(), "{:?}", agent.stderr());
    std::fs::remove_file(config).unwrap();
    let ran = agent.wait_for_stdout(5 * SECOND, |l| l.starts_with("test.slow_init.ran "));
    assert!(ran.is_none(), "a removed check started: {ran:?}");
    let started = agent
        .stderr()
        .into_iter()
        .find(|l| l.contains("slow_init[0]") && l.contains("instance started"));
    assert!(started.is_none(), "{started:?}");
    assert!(agent.stop());
}
