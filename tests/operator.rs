//! What an operator coming from the Datadog agent meets first: SIGHUP re-reads `wasmon.yaml`,
//! Datadog's `conf.d/<check>.d/conf.yaml` layout, the control API refusing what the check
//! would refuse, the status of sinks, and time spent in the host counted for every capability.

use crate::common;

use std::time::Duration;

use common::{Layout, http, series};

const SECOND: Duration = Duration::from_secs(1);
const EMIT: &str = "instances:\n  - {min_collection_interval: 1, value: 3}\n";

#[test]
fn sighup_applies_new_tags_and_names_what_needs_a_restart() {
    let layout = Layout::new("self_metrics_secs: 1\n");
    layout.check_config("emit", EMIT);
    let mut agent = layout.start_agent();
    assert!(
        agent
            .wait_for_stdout(10 * SECOND, |l| l.starts_with("test.emit.gauge "))
            .is_some()
    );
    let text = std::fs::read_to_string(layout.config()).unwrap();
    let text = text.replace("tags: [\"env:test\"]", "tags: [\"env:test\", \"team:db\"]");
    std::fs::write(
        layout.config(),
        format!("{text}sinks:\n  - {{type: influx, url: \"http://127.0.0.1:9\", database: d}}\n"),
    )
    .unwrap();
    agent.signal("HUP");
    let tagged = agent.wait_for_stdout(10 * SECOND, |l| {
        l.starts_with("test.emit.gauge ") && l.contains("team=db")
    });
    assert!(tagged.is_some(), "{:?}", agent.stderr());
    // The agent's own series take the new tags too: host and global tags live in one place.
    let own = agent.wait_for_stdout(10 * SECOND, |l| {
        l.starts_with("wasmon.agent.rss_bytes ") && l.contains("team=db")
    });
    assert!(own.is_some(), "{:?}", agent.stderr());
    let log = agent.stderr().join("\n");
    assert!(
        log.contains("wasmon.yaml: `sinks` changed: takes effect at the next restart"),
        "{log}"
    );
    // A broken file is refused whole; the running config stays.
    std::fs::write(layout.config(), "tags: [oops\n").unwrap();
    agent.signal("HUP");
    assert!(
        agent
            .wait_for_stderr(10 * SECOND, |l| l.contains("wasmon.yaml not reloaded"))
            .is_some()
    );
    assert!(agent.stop());
}

#[test]
fn datadogs_check_folder_layout_is_read() {
    let layout = Layout::new("");
    let folder = layout.dir.path().join("conf.d").join("emit.d");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("conf.yaml"), EMIT).unwrap();
    let out = layout.wasmon(&["check", "emit"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("test.emit.gauge"), "{stdout}");
    // Configured twice: the second file is refused, naming both.
    layout.check_config("emit", EMIT);
    let out = layout.wasmon(&["configcheck"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("configures `emit` again"), "{text}");
}

#[test]
fn the_api_refuses_an_instance_the_check_refuses_and_shows_sinks() {
    let layout = Layout::new(
        "sinks:\n  - {type: influx, url: \"http://127.0.0.1:9\", database: d, name: dead}\n",
    );
    let path = layout.check_config("emit", EMIT);
    let mut agent = layout.start_agent_with(&["run"]);
    let (addr, token) = layout.api();
    let (code, answer) = http(
        &addr,
        "POST",
        "/v1/checks/emit/instances",
        Some(&token),
        Some(r#"{"min_collection_interval": 1, "valeu": 7}"#),
    );
    assert_eq!(code, 400, "{answer}");
    assert!(answer.contains("unknown field `valeu`"), "{answer}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        EMIT,
        "nothing written"
    );
    let failed = common::wait_for(20 * SECOND, || {
        let (_, status) = http(&addr, "GET", "/v1/status", Some(&token), None);
        let status: serde_json::Value = serde_json::from_str(&status).ok()?;
        let sink = status["sinks"].as_array()?.first()?.clone();
        sink["last_error"].is_string().then_some(sink)
    })
    .expect("the dead sink's failure in the status");
    assert_eq!(failed["name"], "dead");
    assert!(failed["failed"].as_u64().is_some_and(|n| n > 0), "{failed}");
    let out = layout.wasmon(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("dead") && text.contains("send failed"),
        "{text}"
    );
    assert!(agent.stop());
}

#[test]
fn time_in_the_host_is_counted_for_files_and_filesystems() {
    let layout = Layout::new("");
    let system = std::fs::read_to_string(common::root().join("conf.d/system.yaml")).unwrap();
    let system = system.replace("min_collection_interval: 15", "min_collection_interval: 1");
    layout.check_config("system", &system);
    let mut agent = layout.start_agent();
    let counted = common::wait_for(20 * SECOND, || {
        series(
            &agent.stdout(),
            "wasmon.check.host_call_time",
            &["check=system"],
        )
        .into_iter()
        .find(|l| l.value > 0.0)
    });
    assert!(counted.is_some(), "{:?}", agent.stderr());
    assert!(agent.stop());
}
