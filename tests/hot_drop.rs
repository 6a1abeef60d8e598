//! Hot drop and live reconfiguration: modules dropped, replaced, broken and removed while the
//! agent runs, config edits, the compiled cache, the control API and the pidfile.

use crate::common;

use std::time::{Duration, Instant};

use common::{Layout, Line, drop_module, guest, http, series, wait_for};

const SECOND: Duration = Duration::from_secs(1);

/// Lines of `test.emit.version` from the instance tagged `who=<who>`.
fn versions(lines: &[String], who: &str) -> Vec<Line> {
    series(lines, "test.emit.version", &[&format!("who={who}")])
}

fn healthy_layout() -> Layout {
    let layout = Layout::new("rescan_secs: 60\n");
    layout.check_config("emit", "instances:\n  - min_collection_interval: 1\n    align: true\n    tags: [\"who:healthy\"]\n");
    layout
}

#[test]
fn drop_replace_break_and_delete_a_module_while_running() {
    let layout = healthy_layout();
    let checks_d = layout.dir.path().join("checks.d");
    layout.check_config(
        "dropped",
        "instances:\n  - min_collection_interval: 1\n    tags: [\"who:dropped\"]\n",
    );
    let mut agent = layout.start_agent();
    assert!(
        agent
            .wait_for_stdout(10 * SECOND, |l| l.contains("who=healthy"))
            .is_some()
    );

    // A new module starts running (its compiled form is cached: the healthy check runs the same).
    let renamed = drop_module(&guest("emit"), &checks_d, "dropped.wasm");
    let first = wait_for(10 * SECOND, || {
        versions(&agent.stdout(), "dropped").first().cloned()
    });
    let first = first.expect("the dropped module never ran");
    println!(
        "rename to first sample, cached module: {:?}",
        renamed.elapsed()
    );
    assert_eq!(first.value, 1.0);

    // A new version replaces it: version 2 appears, version 1 is gone for good.
    let renamed = drop_module(&guest("emit_v2"), &checks_d, "dropped.wasm");
    let v2 = wait_for(10 * SECOND, || {
        let lines = versions(&agent.stdout(), "dropped");
        lines.iter().position(|l| l.value == 2.0)
    });
    let v2 = v2.expect("version 2 never ran");
    println!(
        "rename to first sample, new module (compiled): {:?}",
        renamed.elapsed()
    );
    std::thread::sleep(2 * SECOND);
    let after: Vec<f64> = versions(&agent.stdout(), "dropped")[v2..]
        .iter()
        .map(|l| l.value)
        .collect();
    assert!(
        after.len() >= 2 && after.iter().all(|v| *v == 2.0),
        "{after:?}"
    );

    // Garbage is refused; version 2 keeps running and the status says why.
    drop_module(
        &layout.dir.path().join("wasmon.yaml"),
        &checks_d,
        "dropped.wasm",
    );
    assert!(
        agent
            .wait_for_stderr(10 * SECOND, |l| l
                .contains("dropped.wasm: not a WebAssembly file"))
            .is_some()
    );
    let count = versions(&agent.stdout(), "dropped").len();
    std::thread::sleep(2 * SECOND);
    let later = versions(&agent.stdout(), "dropped");
    assert!(later.len() > count && later.iter().skip(count).all(|l| l.value == 2.0));
    let (addr, token) = layout.api();
    let (code, body) = http(&addr, "GET", "/v1/status", Some(&token), None);
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("not a WebAssembly file")
            && body.contains("the previous version keeps running"),
        "{body}"
    );

    // Deleted: it stops.
    std::fs::remove_file(checks_d.join("dropped.wasm")).unwrap();
    assert!(
        agent
            .wait_for_stderr(10 * SECOND, |l| l.contains("dropped[0]")
                && l.contains("stopped: no longer configured"))
            .is_some()
    );
    std::thread::sleep(SECOND + SECOND / 2);
    let stopped = versions(&agent.stdout(), "dropped").len();
    std::thread::sleep(2 * SECOND);
    assert_eq!(
        versions(&agent.stdout(), "dropped").len(),
        stopped,
        "still running after its module was deleted"
    );

    common::assert_runs_every_second(&agent.stdout(), &["who=healthy"], 5);
    assert!(agent.stop());
}

#[test]
fn a_half_written_module_is_not_loaded_before_it_is_complete() {
    let layout = healthy_layout();
    layout.check_config(
        "slow",
        "instances:\n  - min_collection_interval: 1\n    tags: [\"who:slow\"]\n",
    );
    let mut agent = layout.start_agent();
    assert!(
        agent
            .wait_for_stdout(10 * SECOND, |l| l.contains("who=healthy"))
            .is_some()
    );
    let bytes = std::fs::read(guest("emit")).unwrap();
    let path = layout.dir.path().join("checks.d/slow.wasm");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&path).unwrap();
        for chunk in bytes.chunks(bytes.len() / 8 + 1) {
            file.write_all(chunk).unwrap();
            file.flush().unwrap();
            std::thread::sleep(Duration::from_millis(150));
        }
    }
    let ran = agent.wait_for_stdout(10 * SECOND, |l| {
        l.starts_with("test.emit.version") && l.contains("who=slow")
    });
    assert!(ran.is_some(), "the completed module never ran");
    let log = agent.stderr().join("\n");
    assert!(
        !log.contains("slow.wasm: invalid component") && !log.contains("slow.wasm: not a"),
        "loaded while half-written:\n{log}"
    );
    assert!(agent.stop());
}

#[test]
fn a_config_edit_restarts_only_that_instance() {
    let layout = Layout::new("rescan_secs: 60\n");
    let two = |second: f64| {
        format!(
            "instances:\n  - min_collection_interval: 1\n    value: 1\n  - min_collection_interval: 1\n    value: {second}\n"
        )
    };
    let conf = layout.check_config("emit", &two(2.0));
    let mut agent = layout.start_agent();
    assert!(
        agent
            .wait_for_stdout(10 * SECOND, |l| l.starts_with("test.emit.gauge")
                && l.contains(" 2 "))
            .is_some()
    );
    std::thread::sleep(2 * SECOND);
    let tmp = conf.with_extension("tmp");
    std::fs::write(&tmp, two(5.0)).unwrap();
    std::fs::rename(&tmp, &conf).unwrap();
    assert!(
        agent
            .wait_for_stdout(10 * SECOND, |l| l.starts_with("test.emit.gauge")
                && l.contains(" 5 "))
            .is_some()
    );
    let log = agent.stderr();
    assert!(
        log.iter()
            .any(|l| l.contains("instance replaced") && l.contains("emit[1]")),
        "{log:?}"
    );
    assert!(
        !log.iter()
            .any(|l| l.contains("instance replaced") && l.contains("emit[0]")),
        "{log:?}"
    );
    let (addr, token) = layout.api();
    let (_, body) = http(&addr, "GET", "/v1/status", Some(&token), None);
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    let runs = |i: usize| status["instances"][i]["runs"].as_u64().unwrap();
    assert!(
        runs(0) > runs(1),
        "instance 0 kept its run count ({}), instance 1 started again ({})",
        runs(0),
        runs(1)
    );
    // SIGHUP rescans (and does not end the agent, as it would without a handler).
    agent.signal("HUP");
    assert!(
        agent
            .wait_for_stderr(10 * SECOND, |l| l.contains("SIGHUP: reloading"))
            .is_some()
    );
    let count = agent.stdout().len();
    let printing = wait_for(5 * SECOND, || (agent.stdout().len() > count).then_some(()));
    assert!(printing.is_some(), "the agent stopped running after SIGHUP");
    assert!(agent.stop());
}

#[test]
fn a_restart_loads_modules_from_the_compiled_cache() {
    let layout = healthy_layout();
    let mut agent = layout.start_agent();
    assert!(
        agent
            .wait_for_stderr(20 * SECOND, |l| l.contains("check=\"emit\"")
                || l.contains("module compiled"))
            .is_some()
    );
    // Compiled by a child process (Cranelift's memory never the daemon's), then loaded.
    assert!(
        agent
            .stderr()
            .iter()
            .any(|l| l.contains("module compiled") && l.contains("in_child=true")),
        "{:?}",
        agent.stderr()
    );
    assert!(agent.stop());
    let mut again = layout.start_agent();
    assert!(
        again
            .wait_for_stdout(10 * SECOND, |l| l.contains("who=healthy"))
            .is_some()
    );
    let log = again.stderr();
    assert!(
        log.iter()
            .any(|l| l.contains("module loaded from the compiled cache")),
        "{log:?}"
    );
    assert!(
        !log.iter().any(|l| l.contains("module compiled")),
        "{log:?}"
    );
    assert!(again.stop());
}

#[test]
fn the_api_needs_the_token_and_its_changes_survive_a_restart() {
    let layout = healthy_layout();
    let mut agent = layout.start_agent();
    let (addr, token) = layout.api();
    assert_eq!(http(&addr, "GET", "/v1/status", None, None).0, 401);
    assert_eq!(http(&addr, "GET", "/v1/status", Some("wrong"), None).0, 401);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(layout.data_dir().join("auth_token"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    let body = r#"{"min_collection_interval": 1, "value": 7, "tags": ["who:api"]}"#;
    let (code, answer) = http(
        &addr,
        "POST",
        "/v1/checks/emit/instances",
        Some(&token),
        Some(body),
    );
    assert_eq!(code, 201, "{answer}");
    assert!(
        agent
            .wait_for_stdout(10 * SECOND, |l| l.starts_with("test.emit.gauge")
                && l.contains("who=api"))
            .is_some()
    );
    let (code, answer) = http(
        &addr,
        "POST",
        "/v1/checks/emit/instances",
        Some(&token),
        Some(r#"{"timeout": -1}"#),
    );
    assert_eq!(code, 400, "{answer}");
    assert!(answer.contains("instances[2].timeout"), "{answer}");

    // `wasmon status` shows both instances.
    let out = layout.wasmon(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("emit[0]") && text.contains("emit[1]"),
        "{text}"
    );
    assert!(agent.stop());

    // The added instance is in conf.d: it runs again after a restart.
    for f in ["control.addr", "auth_token"] {
        let _ = std::fs::remove_file(layout.data_dir().join(f));
    }
    let mut agent = layout.start_agent();
    assert!(
        agent
            .wait_for_stdout(10 * SECOND, |l| l.starts_with("test.emit.gauge")
                && l.contains("who=api"))
            .is_some()
    );
    let (addr, token) = layout.api();
    let (code, answer) = http(
        &addr,
        "DELETE",
        "/v1/checks/emit/instances/1",
        Some(&token),
        None,
    );
    assert_eq!(code, 200, "{answer}");
    assert!(
        agent
            .wait_for_stderr(10 * SECOND, |l| l.contains("emit[1]")
                && l.contains("stopped: no longer configured"))
            .is_some()
    );
    let text = std::fs::read_to_string(layout.dir.path().join("conf.d/emit.yaml")).unwrap();
    assert!(!text.contains("who:api"), "{text}");
    assert_eq!(
        http(
            &addr,
            "DELETE",
            "/v1/checks/emit/instances/9",
            Some(&token),
            None
        )
        .0,
        404
    );
    assert!(agent.stop());
}

#[test]
fn one_agent_per_data_folder_and_no_stale_pidfile_after_kill_9() {
    let layout = healthy_layout();
    let first = layout.start_agent();
    assert!(
        first
            .wait_for_stdout(10 * SECOND, |l| l.contains("who=healthy"))
            .is_some()
    );
    let mut second = layout.start_agent_with(&["run"]);
    assert_eq!(
        second.wait_exit(10 * SECOND),
        Some(1),
        "a second agent started"
    );
    let log = second.stderr().join("\n");
    assert!(
        log.contains(&format!(
            "another wasmon (pid {}) is already running",
            first.pid()
        )),
        "{log}"
    );
    // A dry run needs no lock: it runs beside the agent and shows what would be sent,
    // leaving the agent's control API alone.
    let token = std::fs::read_to_string(layout.data_dir().join("auth_token")).unwrap();
    let mut dry = layout.start_agent();
    assert!(
        dry.wait_for_stdout(10 * SECOND, |l| l.contains("who=healthy"))
            .is_some(),
        "{:?}",
        dry.stderr()
    );
    assert!(dry.stop());
    assert_eq!(
        std::fs::read_to_string(layout.data_dir().join("auth_token")).unwrap(),
        token
    );

    first.signal("KILL");
    drop(first);
    let started = Instant::now();
    let mut third = layout.start_agent();
    assert!(
        third
            .wait_for_stdout(10 * SECOND, |l| l.contains("who=healthy"))
            .is_some(),
        "{:?}",
        third.stderr()
    );
    println!("restart after kill -9 ran in {:?}", started.elapsed());
    assert!(third.stop());
}

#[test]
fn an_unchanged_config_is_read_once_until_a_reload() {
    // A secret backend that counts its runs, outside the watched folders.
    let outside = tempfile::tempdir().unwrap();
    let calls = outside.path().join("calls");
    let backend = outside.path().join("backend");
    std::fs::write(
        &backend,
        format!(
            "#!/bin/sh\necho run >> '{}'\ncat >/dev/null\n\
             echo '{{\"tag\": {{\"value\": \"who:secret\", \"error\": null}}}}'\n",
            calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &backend,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let layout = Layout::new(&format!(
        "rescan_secs: 1\nsecret_backend_command: {}\n",
        backend.display()
    ));
    layout.check_config(
        "emit",
        "instances:\n  - min_collection_interval: 1\n    tags: [\"ENC[tag]\"]\n",
    );
    let mut agent = layout.start_agent();
    assert!(
        agent
            .wait_for_stdout(10 * SECOND, |l| l.contains("who=secret"))
            .is_some(),
        "the secret resolved"
    );
    let runs = || {
        std::fs::read_to_string(&calls)
            .map(|c| c.lines().count())
            .unwrap_or(0)
    };
    // Once the file is older than its timestamps can tell apart, rescans reuse what was read.
    std::thread::sleep(4 * SECOND);
    let settled = runs();
    std::thread::sleep(3 * SECOND);
    assert_eq!(
        runs(),
        settled,
        "three rescans ran the secret backend again"
    );
    // A reload reads every config again, secrets resolved afresh.
    agent.signal("HUP");
    let again = wait_for(10 * SECOND, || (runs() > settled).then_some(()));
    assert!(again.is_some(), "SIGHUP resolved the secret again");
    assert!(agent.stop());
}
