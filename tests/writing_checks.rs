//! From `wasmon new` to samples in Rust, Python and JavaScript, and Python and JavaScript
//! checks contained like Rust ones. Rust projects build into `target/scaffold` (shared by runs,
//! so the SDK's dependencies compile once); Python ones need componentize-py (`cargo xtask
//! test` installs it, and `wasmon build` would too); JavaScript ones install componentize-js
//! from npm into the project, as `wasmon build` does for anyone.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::{Layout, Line, assert_runs_every_second, root};
use serde_json::Value;

fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `wasmon build DIR`, Rust projects sharing one target folder.
fn build(layout: &Layout, dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_wasmon"))
        .arg("--config")
        .arg(layout.config())
        .arg("build")
        .arg(dir)
        .env("CARGO_TARGET_DIR", root().join("target/scaffold"))
        .output()
        .expect("run wasmon build");
    ok(out)
}

fn samples(doc: &Value, name: &str) -> Vec<(f64, Vec<String>)> {
    doc["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == name)
        .map(|s| {
            let tags = s["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_string())
                .collect();
            (s["value"].as_f64().unwrap(), tags)
        })
        .collect()
}

#[test]
fn a_rust_check_from_new_to_samples() {
    let layout = Layout::new("");
    let dir = layout.dir.path().join("loadcheck");
    let created = ok(layout.wasmon(&[
        "new",
        "loadcheck",
        "--lang",
        "rust",
        "--dir",
        dir.to_str().unwrap(),
    ]));
    assert!(created.contains("next: wasmon build"), "{created}");
    assert!(
        created.contains("wasmon push"),
        "the path to a signed push: {created}"
    );
    for file in [
        "Cargo.toml",
        "src/lib.rs",
        "config.yaml",
        "README.md",
        "check.yaml",
        "wit/worlds.wit",
        "wasmon-sdk/src/lib.rs",
    ] {
        assert!(dir.join(file).is_file(), "{file} not created");
    }
    let built = build(&layout, &dir);
    assert!(built.contains("check `loadcheck` 0.1.0"), "{built}");
    let doc: Value = serde_json::from_str(&ok(layout.wasmon(&[
        "check",
        "--wasm",
        dir.join("loadcheck.wasm").to_str().unwrap(),
        "--check-config",
        dir.join("config.yaml").to_str().unwrap(),
        "--json",
    ])))
    .unwrap();
    let load: f64 = std::fs::read_to_string("/proc/loadavg")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let got = samples(&doc, "loadcheck.load.1");
    assert_eq!(got.len(), 1, "{doc}");
    assert!((got[0].0 - load).abs() < 1.0, "{} vs {load}", got[0].0);
    assert_eq!(samples(&doc, "loadcheck.load.15").len(), 1);
}

#[test]
fn a_python_check_from_new_to_samples() {
    let layout = Layout::new("");
    let dir = layout.dir.path().join("loglevels");
    ok(layout.wasmon(&[
        "new",
        "loglevels",
        "--lang",
        "python",
        "--dir",
        dir.to_str().unwrap(),
    ]));
    // The scaffold's own test runs natively.
    ok(Command::new("python3")
        .args(["-m", "unittest", "test_app"])
        .current_dir(&dir)
        .output()
        .unwrap());
    let built = build(&layout, &dir);
    assert!(built.contains("check `loglevels` 0.1.0"), "{built}");
    let log = layout.dir.path().join("app.log");
    std::fs::write(&log, "x ERROR a\ny WARN b\nz INFO c\nw ERROR d\nplain\n").unwrap();
    let config = layout.dir.path().join("try.yaml");
    std::fs::write(
        &config,
        format!(
            "instances:\n  - grants: {{files: [{0}]}}\n    path: {0}\n",
            log.display()
        ),
    )
    .unwrap();
    let doc: Value = serde_json::from_str(&ok(layout.wasmon(&[
        "check",
        "--wasm",
        dir.join("loglevels.wasm").to_str().unwrap(),
        "--check-config",
        config.to_str().unwrap(),
        "--json",
    ])))
    .unwrap();
    let mut got: Vec<(String, f64)> = samples(&doc, "loglevels.lines")
        .into_iter()
        .map(|(v, tags)| {
            let level = tags
                .iter()
                .find(|t| t.starts_with("level:"))
                .cloned()
                .unwrap();
            (level, v)
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        [
            ("level:debug".to_string(), 0.0),
            ("level:error".to_string(), 2.0),
            ("level:info".to_string(), 1.0),
            ("level:warning".to_string(), 1.0),
        ]
    );
    // A histogram through the Python SDK: the run's five lines of 9, 8, 8, 9 and 5 bytes.
    let one = |name: &str| {
        let got = samples(&doc, name);
        assert_eq!(got.len(), 1, "{name}: {doc}");
        got[0].0
    };
    assert_eq!(one("loglevels.line_bytes.count"), 5.0);
    assert_eq!(one("loglevels.line_bytes.max"), 9.0);
    assert!((one("loglevels.line_bytes.avg") - 7.8).abs() < 1e-9);
    // A config error names its field as a field of the WIT error.
    std::fs::write(
        &config,
        format!("instances:\n  - grants: {{files: [{0}]}}\n", log.display()),
    )
    .unwrap();
    let refused = layout.wasmon(&[
        "check",
        "--wasm",
        dir.join("loglevels.wasm").to_str().unwrap(),
        "--check-config",
        config.to_str().unwrap(),
    ]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(!refused.status.success(), "{said}");
    assert!(
        said.contains("instance.path: expected the log file's path"),
        "{said}"
    );
}

/// A Python check that aborts, loops or hogs memory, as its instance says.
const MISBEHAVING: &str = r#"
import os
import time
import wasmon_check


class Check(wasmon_check.Check):
    name = "pybad"

    def setup(self, init_config, instance):
        self.mode = instance["mode"]

    def collect(self, out):
        if self.mode == "abort":
            os.abort()
        if self.mode == "spin":
            while True:
                pass
        if self.mode == "hog":
            hoard = []
            while True:
                hoard.append(bytearray(1 << 20))
        if self.mode == "sleep":
            time.sleep(600)
"#;

#[test]
fn python_checks_are_contained_like_rust_ones() {
    let layout = Layout::new("");
    let dir = layout.dir.path().join("pybad");
    ok(layout.wasmon(&[
        "new",
        "pybad",
        "--lang",
        "python",
        "--dir",
        dir.to_str().unwrap(),
    ]));
    std::fs::write(dir.join("app.py"), MISBEHAVING).unwrap();
    build(&layout, &dir);
    assert_contained(
        &layout,
        "pybad",
        // The scaffold's world imports `files`, so each instance grants one.
        "instances:\n  - {min_collection_interval: 1, grants: {files: [/proc/loadavg]}, mode: abort}\n  - {min_collection_interval: 1, grants: {files: [/proc/loadavg]}, timeout: 0.5, mode: spin}\n  - {min_collection_interval: 1, grants: {files: [/proc/loadavg]}, limits: {memory_mib: 64}, mode: hog}\n  - {min_collection_interval: 1, grants: {files: [/proc/loadavg]}, timeout: 0.5, mode: sleep}\n",
        [
            "trapped",
            "timed out after 500ms",
            "exceeded its memory limit of 64 MiB",
            "timed out after 500ms",
        ],
    );
}

/// Installs `<check>.wasm`, built in the layout's `<check>/`, with four misbehaving
/// `instances` (a trap, a loop, a memory hog, a wait in the host) beside a healthy check, and
/// asserts each is reported CRITICAL with its message while the healthy one keeps its 1 s
/// schedule.
fn assert_contained(layout: &Layout, check: &str, instances: &str, messages: [&str; 4]) {
    let wasm = format!("{check}.wasm");
    std::fs::copy(
        layout.dir.path().join(check).join(&wasm),
        layout.dir.path().join("checks.d").join(&wasm),
    )
    .unwrap();
    layout.check_config(check, instances);
    layout.check_config(
        "emit",
        "instances:\n  - min_collection_interval: 1\n    align: true\n    tags: [\"role:healthy\"]\n",
    );
    let mut agent = layout.start_agent();
    let misbehaviours = ["trap", "loop", "memory hog", "wait in the host"];
    for (index, (message, what)) in messages.iter().zip(misbehaviours).enumerate() {
        let (check_field, instance) = (format!("check={check}"), format!("instance={index}"));
        let reported = agent.wait_for_stdout(Duration::from_secs(90), |l| {
            l.starts_with("SERVICE_CHECK wasmon.check.status")
                && l.contains(&check_field)
                && l.contains(&instance)
                && l.contains("CRITICAL")
                && l.contains(message)
        });
        assert!(reported.is_some(), "{what} not contained");
    }
    // The healthy check keeps its schedule while the four go on misbehaving every second.
    agent.wait_for_runs(agent.stdout().len(), &["role=healthy"], 5);
    assert_runs_every_second(&agent.stdout(), &["role=healthy"], 5);
    assert!(agent.stop());
}

/// `wasmon new NAME --lang js` in the layout's folder, its own test run natively.
fn new_js(layout: &Layout, name: &str) -> std::path::PathBuf {
    let dir = layout.dir.path().join(name);
    ok(layout.wasmon(&["new", name, "--lang", "js", "--dir", dir.to_str().unwrap()]));
    ok(Command::new("node")
        .args(["--test", "app.test.js"])
        .current_dir(&dir)
        .output()
        .unwrap());
    dir
}

/// The agent's own status endpoint is the JSON server the JavaScript example polls: from the
/// project to samples with `wasmon check --wasm`, then hot-dropped into the running agent,
/// which reports its own PID through it. `fetch` goes only where `grants.http` allows.
#[test]
fn a_js_check_from_new_to_samples_over_http() {
    let layout = Layout::new("");
    let agent = layout.start_agent();
    let (addr, token) = layout.api();
    let dir = new_js(&layout, "selfwatch");
    let built = build(&layout, &dir);
    assert!(built.contains("check `selfwatch` 0.1.0"), "{built}");
    let port = addr.rsplit(':').next().unwrap();
    let limited = |url_host: &str, port: &str, allow: &str, max_bytes: u32| {
        format!(
            "  - url: http://{url_host}:{port}/v1/status\n    headers: {{Authorization: \"Bearer {token}\"}}\n    include: [pid]\n    min_collection_interval: 1\n    grants: {{http: {{allow: [\"{allow}\"], max_response_bytes: {max_bytes}, timeout_secs: 0.3}}}}\n"
        )
    };
    let instance = |url_host: &str, allow: &str| limited(url_host, port, allow, 1 << 20);
    // A server that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let silent_port = silent_addr.rsplit(':').next().unwrap();
    let other_port = port.parse::<u16>().unwrap() ^ 1;
    let config = format!(
        "init_config:\ninstances:\n{}{}{}{}{}",
        instance("127.0.0.1", &addr),
        // By name: allowed because `localhost` resolves to the listed address.
        instance("localhost", &addr),
        instance("127.0.0.1", &format!("127.0.0.1:{other_port}")),
        // The status document is longer than 20 bytes.
        limited("127.0.0.1", port, &addr, 20),
        // Past the request's timeout (0.3 s, within the run's 1 s), fetch fails.
        limited("127.0.0.1", silent_port, &silent_addr, 1 << 20),
    );
    let try_config = layout.dir.path().join("try.yaml");
    std::fs::write(&try_config, &config).unwrap();
    let out = layout.wasmon(&[
        "check",
        "--wasm",
        dir.join("selfwatch.wasm").to_str().unwrap(),
        "--check-config",
        try_config.to_str().unwrap(),
        "--json",
    ]);
    // The last three instances fail, so the command does.
    assert!(!out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pids = samples(&doc, "selfwatch.pid");
    assert_eq!(pids.len(), 2, "{doc}");
    // A distribution through the JavaScript SDK: one request a run for each answering instance.
    let timings = samples(&doc, "selfwatch.response_time.count");
    assert_eq!(timings.len(), 2, "{doc}");
    assert!(timings.iter().all(|(count, _)| *count == 1.0), "{doc}");
    for (pid, tags) in &pids {
        assert_eq!(*pid, f64::from(agent.pid()), "{tags:?}");
    }
    let verdicts: Vec<String> = doc["service_checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "selfwatch.can_connect")
        .map(|c| c["status"].to_string().to_lowercase())
        .collect();
    assert_eq!(
        verdicts,
        [
            "\"ok\"",
            "\"ok\"",
            "\"critical\"",
            "\"critical\"",
            "\"critical\""
        ],
        "{doc}"
    );

    // Dropped into the running agent, it runs on its schedule.
    layout.check_config("selfwatch", &config);
    std::fs::copy(
        dir.join("selfwatch.wasm"),
        layout.dir.path().join("checks.d/selfwatch.wasm"),
    )
    .unwrap();
    let line = agent.wait_for_stdout(Duration::from_secs(90), |l| {
        Line::parse(l).is_some_and(|l| l.name == "selfwatch.pid")
    });
    let line = Line::parse(&line.expect("the dropped JS check never reported")).unwrap();
    assert_eq!(line.value, f64::from(agent.pid()));
}

/// A JavaScript check that throws past the SDK (a trap), loops, hogs memory or waits in the
/// host, as its instance says.
const JS_MISBEHAVING: &str = r#"
import { defineCheck } from './wasmon_check.js';

let mode = null;
const sdk = defineCheck({
  name: 'jsbad',
  setup(initConfig, instance) {
    mode = instance.mode;
  },
  async collect() {
    if (mode === 'spin') {
      for (;;) {}
    }
    if (mode === 'hog') {
      const hoard = [];
      for (;;) hoard.push(new Array(1 << 20).fill(7));
    }
    if (mode === 'sleep') {
      await new Promise((resolve) => setTimeout(resolve, 600000));
    }
  },
});

export const check = {
  ...sdk,
  async run(timestampMs) {
    if (mode === 'trap') {
      throw new Error('not a check-error: the component traps');
    }
    return sdk.run(timestampMs);
  },
};
"#;

#[test]
fn js_checks_are_contained_like_rust_ones() {
    let layout = Layout::new("");
    let dir = new_js(&layout, "jsbad");
    std::fs::write(dir.join("app.js"), JS_MISBEHAVING).unwrap();
    build(&layout, &dir);
    assert_contained(
        &layout,
        "jsbad",
        "instances:\n  - {min_collection_interval: 1, mode: trap}\n  - {min_collection_interval: 1, timeout: 0.5, mode: spin}\n  - {min_collection_interval: 10, timeout: 8, limits: {memory_mib: 64}, mode: hog}\n  - {min_collection_interval: 1, timeout: 0.5, mode: sleep}\n",
        [
            "trapped",
            "timed out after 500ms",
            "exceeded its memory limit of 64 MiB",
            "timed out after 500ms",
        ],
    );
}
