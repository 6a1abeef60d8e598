//! The shell check with real commands: each output format, Nagios plugins from Debian's
//! monitoring-plugins-basic, and the exec capability's limits.

use crate::common;

use std::path::Path;

use common::Layout;
use serde_json::Value;

const PLUGINS: &str = "/usr/lib/nagios/plugins";

/// Runs `wasmon check shell --json` on `config` and returns the document and the log.
fn check(layout: &Layout, config: &str) -> (Value, String) {
    layout.check_config("shell", config);
    let out = layout.wasmon(&["check", "shell", "--json"]);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {log}"));
    (doc, log)
}

/// Each test instance carries the tag `i:<index>`.
fn samples<'a>(doc: &'a Value, name: &str, instance: usize) -> Vec<&'a Value> {
    let tag = format!("i:{instance}");
    doc["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["name"] == name
                && s["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t == tag.as_str())
        })
        .collect()
}

fn service_check<'a>(doc: &'a Value, name: &str, instance: usize) -> &'a Value {
    let tag = format!("i:{instance}");
    doc["service_checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["name"] == name
                && c["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t == tag.as_str())
        })
        .unwrap_or_else(|| panic!("no {name} for instance {instance} in {doc}"))
}

fn write_script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    let _ = std::process::Command::new("chmod")
        .arg("+x")
        .arg(&path)
        .status();
    path.display().to_string()
}

#[test]
fn value_tcollector_and_json_formats_with_real_commands() {
    let layout = Layout::new("");
    let dir = layout.dir.path();
    let log = dir.join("app.log");
    std::fs::write(
        &log,
        "INFO start\nERROR one\nERROR two\nWARN x\nERROR three\n",
    )
    .unwrap();
    let collector = write_script(
        dir,
        "collector.sh",
        "#!/bin/sh\nnow=$(date +%s)\necho \"proc.net.conns $now 12 proto=tcp\"\necho \"proc.net.conns $now 3 proto=udp\"\necho \"broken line\"\n",
    );
    let falcon = write_script(
        dir,
        "falcon.sh",
        "#!/bin/sh\necho '{\"endpoint\":\"x\",\"metric\":\"app.qps\",\"value\":7.5,\"tags\":\"idc=lg,svc=api\",\"step\":60,\"counterType\":\"GAUGE\"}'\n",
    );
    let config = format!(
        "instances:\n  - tags: [\"i:0\", \"log:app\"]\n    command: [grep, -c, ERROR, {log}]\n    metric_name: app.errors\n  \
         - tags: [\"i:1\"]\n    command: {collector}\n    format: tcollector\n  - tags: [\"i:2\"]\n    command: {falcon}\n    format: json\n  \
         - tags: [\"i:3\"]\n    command: \"printf '5 level:warn\\\\n9 level:error\\\\n' \"\n    exec: {{shell: true}}\n    metric_name: app.by_level\n",
        log = log.display()
    );
    let (doc, log_text) = check(&layout, &config);

    let errors = samples(&doc, "app.errors", 0);
    assert_eq!(errors.len(), 1, "{doc}");
    assert_eq!(errors[0]["value"], 3.0);
    assert!(
        errors[0]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "log:app")
    );

    let conns = samples(&doc, "proc.net.conns", 1);
    let mut by_proto: Vec<(String, f64)> = conns
        .iter()
        .map(|s| {
            let tags = s["tags"].as_array().unwrap();
            let proto = tags
                .iter()
                .find_map(|t| t.as_str().unwrap().strip_prefix("proto:"))
                .unwrap();
            (proto.to_string(), s["value"].as_f64().unwrap())
        })
        .collect();
    by_proto.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        by_proto,
        [("tcp".to_string(), 12.0), ("udp".to_string(), 3.0)]
    );
    assert_eq!(
        samples(&doc, "wasmon.shell.invalid_lines", 1)[0]["value"],
        1.0
    );
    assert!(
        log_text.contains("1 invalid line(s); first: \"broken line\""),
        "{log_text}"
    );

    let qps = samples(&doc, "app.qps", 2);
    assert_eq!(qps[0]["value"], 7.5);
    let tags: Vec<&str> = qps[0]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tags.contains(&"idc:lg") && tags.contains(&"svc:api"),
        "{tags:?}"
    );

    let levels: Vec<f64> = samples(&doc, "app.by_level", 3)
        .iter()
        .map(|s| s["value"].as_f64().unwrap())
        .collect();
    assert_eq!(levels, [5.0, 9.0]);
}

#[test]
fn nagios_plugins_ok_and_critical() {
    assert!(
        Path::new(PLUGINS).join("check_load").exists(),
        "monitoring-plugins-basic is missing: `cargo xtask test` installs it"
    );
    let layout = Layout::new("");
    let config = format!(
        "instances:\n  - tags: [\"i:0\"]\n    command: [{PLUGINS}/check_load, -w, \"1000,1000,1000\", -c, \"2000,2000,2000\"]\n    metric_name: nagios.load\n    format: nagios\n  \
         - tags: [\"i:1\"]\n    command: [{PLUGINS}/check_load, -w, \"0,0,0\", -c, \"0,0,0\"]\n    metric_name: nagios.load\n    format: nagios\n  \
         - tags: [\"i:2\"]\n    command: [{PLUGINS}/check_disk, -w, \"1%\", -c, \"1%\", -p, /]\n    metric_name: nagios.disk\n    format: nagios\n  \
         - tags: [\"i:3\"]\n    command: [{PLUGINS}/check_disk, -w, \"100%\", -c, \"100%\", -p, /]\n    metric_name: nagios.disk\n    format: nagios\n"
    );
    let (doc, _) = check(&layout, &config);

    let ok = service_check(&doc, "nagios.load", 0);
    assert_eq!(ok["status"], "OK", "{ok}");
    assert!(
        ok["message"].as_str().unwrap().starts_with("LOAD OK"),
        "{ok}"
    );
    assert_eq!(service_check(&doc, "nagios.load", 1)["status"], "CRITICAL");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap();
    let load1: f64 = load.split_whitespace().next().unwrap().parse().unwrap();
    let reported = samples(&doc, "nagios.load.load1", 0)[0]["value"]
        .as_f64()
        .unwrap();
    assert!((reported - load1).abs() < 1.0, "{reported} vs {load1}");

    assert_eq!(service_check(&doc, "nagios.disk", 2)["status"], "OK");
    assert_eq!(service_check(&doc, "nagios.disk", 3)["status"], "CRITICAL");
    // Perfdata in bytes: the used space of / as statvfs sees it, within a margin.
    let used = samples(&doc, "nagios.disk._", 2)[0]["value"]
        .as_f64()
        .unwrap();
    let st = nix_statvfs("/");
    assert!((used - st).abs() / st < 0.05, "{used} vs {st}");
    // A plugin's non-zero exit is its verdict, not a failed run.
    assert_eq!(
        service_check(&doc, "wasmon.check.status", 1)["status"],
        "OK"
    );
}

/// Used bytes of a filesystem, as `df` counts them.
fn nix_statvfs(path: &str) -> f64 {
    let out = std::process::Command::new("df")
        .args(["-B1", "--output=used", path])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn exec_limits_timeout_cap_env_and_exit_codes() {
    let layout = Layout::new("");
    let marker = format!("{}", std::process::id());
    let config = format!(
        "instances:\n  - tags: [\"i:0\"]\n    command: \"sleep 3{marker}1 & sleep 3{marker}2; echo 1\"\n    exec: {{shell: true, timeout: 0.5}}\n    metric_name: hang\n  \
         - tags: [\"i:1\"]\n    command: \"head -c 100000 /dev/zero | tr '\\\\000' '1'\"\n    exec: {{shell: true, max_output_bytes: 1000}}\n    metric_name: big\n  \
         - tags: [\"i:2\"]\n    command: 'test -z \"$WASMON_TEST_SECRET\" && echo 1 || echo 0'\n    exec: {{shell: true}}\n    metric_name: secret_hidden\n  \
         - tags: [\"i:3\"]\n    command: 'test \"$GREETING\" = hi && echo 1 || echo 0'\n    exec: {{shell: true, env: {{GREETING: hi}}}}\n    metric_name: env_given\n  \
         - tags: [\"i:4\"]\n    command: [grep, -c, ERROR, /no/such/file]\n    metric_name: missing\n"
    );
    layout.check_config("shell", &config);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wasmon"))
        .arg("--config")
        .arg(layout.config())
        .args(["check", "shell", "--json"])
        .env("WASMON_TEST_SECRET", "hunter2")
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let log = String::from_utf8_lossy(&out.stderr);

    // Killed at the timeout, children included.
    let hang = service_check(&doc, "wasmon.check.status", 0);
    assert_eq!(hang["status"], "CRITICAL");
    assert!(
        hang["message"].as_str().unwrap().contains("timed out"),
        "{hang}"
    );
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    let left: Vec<String> = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| l.contains(&format!("sleep 3{marker}")))
        .map(String::from)
        .collect();
    assert!(left.is_empty(), "processes left behind: {left:?}");

    // Output past the cap is cut and reported.
    assert_eq!(
        samples(&doc, "wasmon.shell.output_truncated", 1)[0]["value"],
        1.0
    );
    assert!(
        log.contains("standard output passed its cap and was cut"),
        "{log}"
    );

    // The agent's environment is not the command's; what the config sets is.
    assert_eq!(samples(&doc, "secret_hidden", 2)[0]["value"], 1.0);
    assert_eq!(samples(&doc, "env_given", 3)[0]["value"], 1.0);

    // A non-zero exit under `value` fails the run with the stderr tail.
    let missing = service_check(&doc, "wasmon.check.status", 4);
    assert_eq!(missing["status"], "CRITICAL");
    let message = missing["message"].as_str().unwrap();
    assert!(
        message.contains("the command exited 2") && message.contains("No such file or directory"),
        "{message}"
    );
    assert!(
        log.contains("stderr: grep: /no/such/file: No such file or directory"),
        "{log}"
    );
}

#[test]
fn a_check_without_a_command_cannot_run_anything() {
    let layout = Layout::new("");
    layout.check_config("shell", "instances:\n  - metric_name: x\n");
    let out = layout.wasmon(&["configcheck"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains("instances[0]: imports `wasmon:check/exec@0.2.0` but the instance grants no command: add `command: ...` to its config"),
        "{stdout}"
    );
}
