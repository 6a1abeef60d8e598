//! Broken configs and modules get an exact error naming the file, the line where known and
//! the field; the agent runs the rest.

use crate::common;

use std::time::Duration;

use common::Layout;

/// A layout with one healthy check and one broken thing of each kind.
fn broken_layout() -> Layout {
    let layout = Layout::new("");
    layout.check_config("emit", "instances:\n  - min_collection_interval: 1\n");
    layout.check_config(
        "yaml_broken",
        "instances:\n  - min_collection_interval: 1\n   bad indent: [\n",
    );
    layout.check_config("typo", "init_config:\ninstances:\n  - min_colection_interval: 1\n    limits:\n      memroy_mib: 8\n");
    layout.check_config("nowasm", "instances:\n  - {}\n");
    layout.check_config("corrupt", "instances:\n  - {}\n");
    layout.module(
        "corrupt",
        b"\0asm\x0d\0\x01\0garbage that is not a component",
    );
    layout.check_config("notwasm", "instances:\n  - {}\n");
    layout.module("notwasm", b"#!/bin/sh\necho hi\n");
    layout.check_config("core", "instances:\n  - {}\n");
    layout.module("core", b"\0asm\x01\0\0\0");
    layout.check_config("wrong_world", "instances:\n  - {}\n");
    layout.check_config("ungranted", "instances:\n  - {}\n");
    layout.module(
        "ungranted",
        &std::fs::read(common::guest("system")).unwrap(),
    );
    layout.check_config(
        "secret",
        "instances:\n  - grants:\n      files: [/proc/stat, \"/proc/*/environ\"]\n",
    );
    layout.check_config(
        "refused",
        "instances:\n  - min_collection_interval: 1\n    valeu: 3\n",
    );
    layout.module("refused", &std::fs::read(common::guest("emit")).unwrap());
    layout
}

fn expected_errors(dir: &std::path::Path) -> Vec<String> {
    let conf = |name: &str| {
        dir.join("conf.d")
            .join(format!("{name}.yaml"))
            .display()
            .to_string()
    };
    let module = |name: &str| {
        dir.join("checks.d")
            .join(format!("{name}.wasm"))
            .display()
            .to_string()
    };
    vec![
        format!("{}:3: instances: did not find expected '-' indicator", conf("yaml_broken")),
        format!("{}:5: instances[0].limits: unknown field `memroy_mib`, expected one of `memory_mib`, `max_samples`, `max_service_checks`, `max_submit_kib`, `max_log_lines`, `max_log_line_bytes`, `start_timeout`", conf("typo")),
        format!("{}: no module `nowasm.wasm` in checks_d", conf("nowasm")),
        format!("{}: invalid component: ", module("corrupt")),
        format!("{}: not a WebAssembly file (no `\\0asm` header)", module("notwasm")),
        format!("{}: a core WebAssembly module, not a component: build it for `wasm32-wasip2`", module("core")),
        "wrong_world.wasm: does not export `wasmon:check/check@0.1.0` or `wasmon:check/check@0.2.0`, so it is not a wasmon check (it exports: hello)".to_string(),
        format!(
            "{}: instances[0]: imports `wasmon:check/files@0.2.0` but the instance grants no files: add `grants: {{files: [...]}}` to its config",
            conf("ungranted")
        ),
        format!(
            "{}:3: instances[0].grants.files[1]: \"/proc/*/environ\": /proc/…/environ exposes other processes' secrets or leaves /proc; it is never granted",
            conf("secret")
        ),
        format!("{}:3: instances[0]: the check refused its config: instance: unknown field `valeu`", conf("refused")),
    ]
}

#[test]
fn configcheck_reports_every_error_exactly() {
    let layout = broken_layout();
    let out = layout.wasmon(&["configcheck"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "configcheck must fail on errors:\n{stdout}"
    );
    for expected in expected_errors(layout.dir.path()) {
        assert!(
            stdout.contains(&expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("[0] OK: every 1s, timeout 1s; granted: nothing"),
        "{stdout}"
    );
}

#[test]
fn typo_in_a_host_key_is_refused_by_the_check() {
    // `min_colection_interval` is not a host key, so it reaches the check, which refuses it.
    let layout = Layout::new("");
    layout.check_config("emit", "instances:\n  - min_colection_interval: 1\n");
    let out = layout.wasmon(&["check", "emit"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("emit.yaml:2: instances[0]: the check refused its config: instance: unknown field `min_colection_interval`"), "{stderr}");
}

#[test]
fn the_agent_runs_the_rest() {
    let layout = broken_layout();
    let mut agent = layout.start_agent();
    let healthy = agent.wait_for_stdout(Duration::from_secs(10), |l| {
        l.starts_with("test.emit.gauge ")
    });
    assert!(
        healthy.is_some(),
        "the healthy check did not run; log:\n{}",
        agent.stderr().join("\n")
    );
    for expected in expected_errors(layout.dir.path()) {
        let logged = agent.wait_for_stderr(Duration::from_secs(10), |l| l.contains(&expected));
        assert!(
            logged.is_some(),
            "log lacks {expected:?}:\n{}",
            agent.stderr().join("\n")
        );
    }
    assert!(agent.stop());
}
