//! The command line: `check` output (JSON and tables) with the aggregation semantics end to end,
//! `inspect`, and `verify` against signatures made by Debian's `minisign`.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{Layout, guest};
use serde_json::Value;

#[test]
fn check_json_shows_rates_counts_and_tags() {
    let layout = Layout::new("");
    layout.check_config(
        "emit",
        "instances:\n  - value: 42.5\n    step: 10\n    tags: [\"team:core\"]\n",
    );
    let out = layout.wasmon(&["check", "emit", "--times", "3", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let samples = doc["samples"].as_array().unwrap();
    let named = |n: &str| {
        samples
            .iter()
            .filter(|s| s["name"] == n)
            .collect::<Vec<_>>()
    };

    let gauges = named("test.emit.gauge");
    assert_eq!(gauges.len(), 3);
    assert_eq!(gauges[0]["value"], 42.5);
    assert_eq!(gauges[0]["kind"], "gauge");
    let tags: Vec<&str> = gauges[0]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(
        tags,
        ["env:test", "host:test-host", "source:emit", "team:core"]
    );

    // Counters: nothing on the first run, then the increase (monotonic) or per-second change.
    let totals = named("test.emit.total");
    assert_eq!(totals.len(), 2);
    assert!(
        totals
            .iter()
            .all(|s| s["value"] == 10.0 && s["kind"] == "count")
    );
    let rates = named("test.emit.counter");
    assert_eq!(rates.len(), 2);
    for r in rates {
        let v = r["value"].as_f64().unwrap();
        assert_eq!(r["kind"], "rate");
        // 10 per run, runs a second (and a little) apart.
        assert!((8.0..=10.0).contains(&v), "{v}");
    }
    let counts = named("test.emit.count");
    assert_eq!(counts.len(), 3, "a count every run");
    assert!(
        counts
            .iter()
            .all(|s| s["value"] == 2.0 && s["kind"] == "count")
    );
    let checks = doc["service_checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "test.emit.ok" && c["status"] == "OK" && c["message"] == "fine")
    );
}

#[test]
fn check_prints_tables_and_selects_instances() {
    let layout = Layout::new("");
    layout.check_config("emit", "instances:\n  - value: 1\n  - value: 2\n");
    let out = layout.wasmon(&["check", "emit", "--instance", "1"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains("NAME") && stdout.contains("test.emit.gauge"),
        "{stdout}"
    );
    assert!(
        stdout.contains("instance:1") && !stdout.contains("instance:0"),
        "{stdout}"
    );
    assert!(stdout.contains("rates need two runs"));
    let out = layout.wasmon(&["check", "emit", "--instance", "5"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("emit has no instance 5"));
    let out = layout.wasmon(&["check", "nothere"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no config `nothere.yaml`"));
}

#[test]
fn inspect_shows_world_imports_and_describe() {
    let layout = Layout::new("");
    let system = common::guest("system");
    let out = layout.wasmon(&["inspect", system.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "world:    a wasmon check (wasmon:check@0.2.0), world `host-stats`",
        "  wasmon:check/files@0.2.0",
        "  wasmon:check/fs-usage@0.2.0",
        "  wasmon:check/emit@0.2.0",
        "  wasmon:check/check@0.2.0",
        "  name:             system",
        "  default interval: 15s",
        "sha256:   ",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?}:\n{stdout}");
    }
    // A check that asks for nothing imports no capability.
    let out = layout.wasmon(&["inspect", common::guest("emit").to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("wasmon:check/files") && !stdout.contains("fs-usage"),
        "{stdout}"
    );
    assert!(stdout.contains("world `plain-check`"), "{stdout}");
    let out = layout.wasmon(&["inspect", common::guest("mysql").to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("world `mysql-check`"), "{stdout}");
    assert!(stdout.contains("  wasmon:check/mysql@0.2.0"), "{stdout}");
    let shell = common::guest("shell");
    let out = layout.wasmon(&["inspect", shell.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("world `command-check`"));
    let core = layout.module("core", b"\0asm\x01\0\0\0");
    let out = layout.wasmon(&["inspect", core.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("a core WebAssembly module, not a component")
    );
}

#[test]
fn compile_artifact_writes_what_the_agent_loads_or_says_why_not() {
    let layout = Layout::new("");
    let out = layout.dir.path().join("emit.cwasm");
    let compile = |input: &[u8]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wasmon"))
            .arg("compile-artifact")
            .arg(&out)
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    };
    let done = compile(&std::fs::read(guest("emit")).unwrap());
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let artifact = std::fs::read(&out).unwrap();
    assert!(artifact.starts_with(b"\x7fELF"), "a wasmtime artifact");
    // A component that does not compile: its reason, and the exit code the agent reads as a
    // refusal.
    let refused = compile(b"\0asm\x0d\0\x01\0garbage");
    assert_eq!(refused.status.code(), Some(3));
    assert!(!String::from_utf8_lossy(&refused.stderr).trim().is_empty());
}

#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    use std::io::Read;
    let layout = Layout::new("");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wasmon"))
        .arg("--config")
        .arg(layout.config())
        .args(["inspect", common::guest("mysql").to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the pipe before anything is printed, as `| head` does once it has enough.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Runs Debian's `minisign` in `dir`, asserting it succeeded.
fn minisign(dir: &Path, args: &[&str]) {
    let out = Command::new("minisign")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("minisign is installed (cargo xtask test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `sha256:<hex>` of a file, computed by coreutils, not by wasmon.
fn digest_of(file: &Path) -> String {
    let out = Command::new("sha256sum").arg(file).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    format!("sha256:{}", text.split_whitespace().next().unwrap())
}

#[test]
fn verify_accepts_a_trusted_signature_over_the_digest_and_refuses_the_rest() {
    let layout = Layout::new("");
    let dir = layout.dir.path();
    minisign(dir, &["-G", "-W", "-p", "trusted.pub", "-s", "trusted.sec"]);
    minisign(dir, &["-G", "-W", "-p", "other.pub", "-s", "other.sec"]);
    let wasm = dir.join("emit.wasm");
    std::fs::copy(guest("emit"), &wasm).unwrap();
    std::fs::write(dir.join("digest"), digest_of(&wasm)).unwrap();
    minisign(
        dir,
        &[
            "-S",
            "-s",
            "trusted.sec",
            "-m",
            "digest",
            "-x",
            "emit.wasm.minisig",
        ],
    );
    minisign(
        dir,
        &[
            "-S",
            "-s",
            "other.sec",
            "-m",
            "digest",
            "-x",
            "other.minisig",
        ],
    );
    let trusted = dir.join("trusted.pub");
    let key_id = std::fs::read_to_string(&trusted)
        .unwrap()
        .lines()
        .next()
        .and_then(|l| l.rsplit(' ').next().map(str::to_string))
        .unwrap();
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            wasm.to_str().unwrap(),
            "--key",
            trusted.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = layout.wasmon(&args);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };

    let (ok, said) = verify(&[]);
    assert!(ok, "{said}");
    assert!(
        said.contains(&format!("{} signed by key {key_id}", digest_of(&wasm))),
        "{said}"
    );

    // The inline form of the same key is trusted the same way.
    let inline = std::fs::read_to_string(&trusted)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    let out = layout.wasmon(&["verify", wasm.to_str().unwrap(), "--key", &inline]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let other = dir.join("other.minisig");
    let (ok, said) = verify(&["--signature", other.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        said.contains("which is not a trusted key (trusted: "),
        "{said}"
    );

    // The component changed after signing: the signature is over another digest.
    let mut bytes = std::fs::read(&wasm).unwrap();
    bytes.push(0);
    std::fs::write(&wasm, &bytes).unwrap();
    let (ok, said) = verify(&[]);
    assert!(!ok);
    assert!(
        said.contains(&format!("is not over {}", digest_of(&wasm))),
        "{said}"
    );

    std::fs::remove_file(dir.join("emit.wasm.minisig")).unwrap();
    let (ok, said) = verify(&[]);
    assert!(!ok);
    assert!(said.contains("refused: no signature for sha256:"), "{said}");
}
