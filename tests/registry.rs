//! Checks from a registry, against Debian's `docker-registry` on loopback with keys made by
//! Debian's `minisign`: pushed with `wasmon push`, pulled, verified and run by the agent,
//! followed as the tag moves, pinned back, refused when tampered with, and kept running when
//! the registry fails or is down.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::registry::{Keys, Mode, Proxy, Registry};
use common::{Layout, Line, assert_runs_every_second, guest, http, series, wait_for};
use oci_client::Reference;
use wasmon::registry::Registry as Client;

const SECOND: Duration = Duration::from_secs(1);
const REPOSITORY: &str = "checks/emit";

/// Lines of `test.emit.version` from the instance tagged `who=<who>`.
fn versions(lines: &[String], who: &str) -> Vec<Line> {
    series(lines, "test.emit.version", &[&format!("who={who}")])
}

/// The version the pulled instance ran last.
fn latest(agent: &common::Agent) -> Option<f64> {
    versions(&agent.stdout(), "pulled").last().map(|l| l.value)
}

/// A layout with a healthy local `emit` instance and the pulled check's instance, following
/// `reference` with `source` keys added.
fn layout(keys: &Keys, reference: &str, source: &str) -> Layout {
    let layout = Layout::new(&format!(
        "self_metrics_secs: 1\ntrusted_keys: [\"{}\"]\nsources:\n  - check: pulled\n    \
         reference: \"{reference}\"\n    insecure: true\n{source}",
        keys.public.display()
    ));
    layout.check_config(
        "emit",
        "instances:\n  - min_collection_interval: 1\n    align: true\n    tags: [\"who:healthy\"]\n",
    );
    layout.check_config(
        "pulled",
        "instances:\n  - min_collection_interval: 1\n    tags: [\"who:pulled\"]\n",
    );
    layout
}

/// `wasmon push FILE REFERENCE --key KEY --insecure`; the manifest digest it printed.
fn push(layout: &Layout, file: &Path, reference: &str, key: &Path) -> String {
    let out = layout.wasmon(&[
        "push",
        &file.display().to_string(),
        reference,
        "--key",
        &key.display().to_string(),
        "--insecure",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = stdout
        .split("(manifest ")
        .nth(1)
        .and_then(|s| s.split(')').next());
    manifest.expect("push names the manifest").to_string()
}

/// The agent's status, as `wasmon status --json` prints it.
fn status(layout: &Layout) -> serde_json::Value {
    let out = layout.wasmon(&["status", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("status is JSON")
}

/// `bytes` with a custom section of `size` bytes appended: still a component, another digest.
fn with_custom_section(bytes: &[u8], name: &str, size: usize) -> Vec<u8> {
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name.as_bytes());
    section.resize(section.len() + size, 0);
    let mut out = bytes.to_vec();
    out.push(0);
    leb128(&mut out, section.len());
    out.extend_from_slice(&section);
    out
}

fn leb128(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Runs `f` with a registry client, as the CLI makes one.
fn with_registry<T>(addr: &str, f: impl AsyncFnOnce(Reference, Client) -> T) -> T {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let reference = format!("{addr}/{REPOSITORY}:stable");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (parsed, registry) =
            wasmon::registry::connect(&reference, true, Default::default()).unwrap();
        f(parsed, registry).await
    })
}

/// Pushes `bytes` to `:stable` as a component with `signature` (given its digest) beside it;
/// the manifest's digest and size.
fn push_raw(
    addr: &str,
    bytes: Vec<u8>,
    signature: impl FnOnce(&str) -> Option<String>,
) -> (String, i64) {
    let signature = signature(&wasmon::registry::digest_of(&bytes));
    with_registry(addr, async |reference, registry| {
        let pushed = registry
            .push_signed(&reference, bytes, signature.as_deref())
            .await
            .unwrap();
        (pushed.digest, pushed.size)
    })
}

/// Waits for a log line after the first `from` naming `reason`, then checks version 1 still
/// runs.
fn refused(agent: &common::Agent, from: usize, reason: &str) {
    let line = wait_for(20 * SECOND, || {
        agent.stderr()[from..]
            .iter()
            .find(|l| l.contains("refused a pulled check") && l.contains(reason))
            .cloned()
    });
    assert!(
        line.is_some(),
        "no refusal naming {reason:?}: {:?}",
        &agent.stderr()[from..]
    );
    let line = line.unwrap();
    assert!(
        line.contains("manifest sha256:"),
        "the refusal names no digest: {line}"
    );
    println!("refused: {line}");
    assert_eq!(latest(agent), Some(1.0), "the running version changed");
}

#[test]
fn a_pushed_check_is_pulled_verified_run_followed_and_pinned() {
    let registry = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let keys = Keys::generate(tmp.path(), "publisher");
    let reference = format!("{}/{REPOSITORY}:stable", registry.addr);
    let layout = layout(&keys, &reference, "    poll_secs: 1\n");
    let v1 = push(&layout, &guest("emit"), &reference, &keys.secret);
    let pushed = Instant::now();
    let mut agent = layout.start_agent();
    let first = wait_for(30 * SECOND, || latest(&agent));
    assert_eq!(
        first,
        Some(1.0),
        "the pulled check never ran: {:?}",
        agent.stderr()
    );
    println!(
        "agent start to first run of the pulled check: {:?}",
        pushed.elapsed()
    );
    let source = &status(&layout)["sources"][0];
    let id = std::fs::read_to_string(&keys.public).unwrap();
    assert_eq!(source["check"], "pulled");
    assert_eq!(source["last_error"], serde_json::Value::Null, "{source}");
    let digest = source["digest"].as_str().unwrap();
    assert!(digest.starts_with("sha256:"), "{source}");
    assert!(
        id.contains(source["key_id"].as_str().unwrap()),
        "{source} / {id}"
    );

    // The tag moves: version 2 is pulled and swapped in; the healthy check misses no run.
    let from = agent.stdout().len();
    let moved = Instant::now();
    push(&layout, &guest("emit_v2"), &reference, &keys.secret);
    let v2 = wait_for(30 * SECOND, || (latest(&agent) == Some(2.0)).then_some(()));
    assert!(v2.is_some(), "version 2 never ran: {:?}", agent.stderr());
    println!("publish to running, 1 s poll: {:?}", moved.elapsed());
    agent.wait_for_runs(from, &["who=healthy"], 4);
    assert_runs_every_second(&agent.stdout()[from..], &["who=healthy"], 4);

    // A digest pin, applied by SIGHUP, rolls back from the version kept on disk.
    let text = std::fs::read_to_string(layout.config()).unwrap();
    let pinned = format!("{}/{REPOSITORY}@{v1}", registry.addr);
    std::fs::write(layout.config(), text.replace(&reference, &pinned)).unwrap();
    agent.signal("HUP");
    let back = wait_for(30 * SECOND, || (latest(&agent) == Some(1.0)).then_some(()));
    assert!(
        back.is_some(),
        "the pin did not bring version 1 back: {:?}",
        agent.stderr()
    );
    std::thread::sleep(2 * SECOND);
    assert_eq!(latest(&agent), Some(1.0));
    assert_eq!(status(&layout)["sources"][0]["reference"], pinned.as_str());
    assert!(agent.stop());
}

#[test]
fn tampered_components_are_refused_and_failing_registries_wait_for_nothing() {
    let mut registry = Registry::start();
    let proxy = Proxy::start(&registry.addr);
    let tmp = tempfile::tempdir().unwrap();
    let keys = Keys::generate(tmp.path(), "publisher");
    let stranger = Keys::generate(tmp.path(), "stranger");
    let direct = format!("{}/{REPOSITORY}:stable", registry.addr);
    let through_proxy = format!("{}/{REPOSITORY}:stable", proxy.addr);
    let layout = layout(
        &keys,
        &through_proxy,
        "    poll_secs: 1\n    max_size_mib: 1\n",
    );
    push(&layout, &guest("emit"), &direct, &keys.secret);
    let mut agent = layout.start_agent();
    assert_eq!(wait_for(30 * SECOND, || latest(&agent)), Some(1.0));
    let v2 = std::fs::read(guest("emit_v2")).unwrap();

    let sign = |digest: &str| Some(keys.sign(tmp.path(), digest));

    // Signed by a key the agent does not trust.
    let from = agent.stderr().len();
    push(&layout, &guest("emit_v2"), &direct, &stranger.secret);
    refused(&agent, from, "which is not a trusted key");
    // A trusted signature, but over another component's digest.
    let from = agent.stderr().len();
    let other = wasmon::registry::digest_of(&std::fs::read(guest("emit")).unwrap());
    push_raw(&registry.addr, with_custom_section(&v2, "one", 1), |_| {
        sign(&other)
    });
    refused(&agent, from, "is not over sha256:");
    // No signature at all.
    let from = agent.stderr().len();
    push_raw(&registry.addr, with_custom_section(&v2, "two", 1), |_| None);
    refused(&agent, from, "no signature for sha256:");
    // Signed, but not a component.
    let from = agent.stderr().len();
    push_raw(&registry.addr, b"\0asm\x01\0\0\0".to_vec(), sign);
    refused(&agent, from, "is not a WebAssembly component");
    // Signed, but past the source's 1 MiB.
    let from = agent.stderr().len();
    push_raw(
        &registry.addr,
        with_custom_section(&v2, "huge", 2 << 20),
        sign,
    );
    refused(&agent, from, "larger than the 1048576 bytes accepted");
    // Signed, but the registry's stored layer altered after the push (the signature comes
    // last, so that no poll sees the layer before it is altered).
    let from = agent.stderr().len();
    let altered = with_custom_section(&v2, "altered", 1);
    let digest = wasmon::registry::digest_of(&altered);
    let (manifest, size) = push_raw(&registry.addr, altered, |_| None);
    let blob = registry.blob_file(&digest);
    let mut stored = std::fs::read(&blob).unwrap();
    let last = stored.len() - 1;
    stored[last] ^= 0xff;
    std::fs::write(&blob, stored).unwrap();
    let signature = keys.sign(tmp.path(), &digest);
    with_registry(&registry.addr, async |reference, client| {
        client
            .push_signature(&reference, &manifest, size, &signature)
            .await
            .unwrap()
    });
    refused(&agent, from, "does not match its digest");
    // Each refusal was counted (the self-metrics go out every second).
    let counted = wait_for(5 * SECOND, || {
        let failures = series(&agent.stdout(), "wasmon.registry.verify_failures", &[]);
        (failures.iter().map(|l| l.value).sum::<f64>() >= 6.0).then_some(())
    });
    assert!(counted.is_some(), "the refusals were not counted");

    // A registry with the referrers API and no signature tags: the signature is found there.
    proxy.set(Mode::Referrers);
    push(&layout, &guest("emit_v2"), &direct, &keys.secret);
    let v2 = wait_for(20 * SECOND, || (latest(&agent) == Some(2.0)).then_some(()));
    assert!(
        v2.is_some(),
        "no signature found through referrers: {:?}",
        agent.stderr()
    );
    proxy.set(Mode::Pass);

    // Signed, but not a wasmon check: refused before it becomes what a restart runs.
    let from = agent.stderr().len();
    push(&layout, &guest("wrong_world"), &direct, &keys.secret);
    let line = wait_for(20 * SECOND, || {
        agent.stderr()[from..]
            .iter()
            .find(|l| l.contains("refused a pulled check") && l.contains("does not load"))
            .cloned()
    });
    assert!(
        line.as_deref()
            .is_some_and(|l| l.contains("does not export `wasmon:check/check@0.1.0`")),
        "{line:?}"
    );
    assert_eq!(latest(&agent), Some(2.0));

    // A registry answering 500s, then one that stalls: retried with back-off, and the
    // healthy check and the status answer go on meanwhile.
    let from = agent.stdout().len();
    proxy.set(Mode::Fail);
    let failing = agent.wait_for_stderr(20 * SECOND, |l| {
        l.contains("poll failed") && l.contains("500")
    });
    assert!(failing.is_some(), "{:?}", agent.stderr());
    proxy.set(Mode::Stall);
    std::thread::sleep(6 * SECOND);
    let source = status(&layout)["sources"][0].clone();
    assert!(
        source["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("500")),
        "{source}"
    );
    assert_runs_every_second(&agent.stdout()[from..], &["who=healthy"], 5);
    assert_eq!(latest(&agent), Some(2.0));
    assert!(agent.stop());

    // The registry down at start: the verified version kept on disk runs.
    registry.stop();
    let mut agent = layout.start_agent();
    assert_eq!(
        wait_for(30 * SECOND, || latest(&agent)),
        Some(2.0),
        "{:?}",
        agent.stderr()
    );
    assert!(agent.stop());
}

#[test]
fn a_refresh_or_sighup_polls_now_and_a_source_brings_its_own_instances() {
    let registry = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let keys = Keys::generate(tmp.path(), "publisher");
    let reference = format!("{}/{REPOSITORY}:stable", registry.addr);
    let layout = layout(&keys, &reference, "    poll_secs: 3600\n");
    std::fs::remove_file(layout.dir.path().join("conf.d/pulled.yaml")).unwrap();
    let out = layout.wasmon(&["configcheck"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains("no conf.d/pulled.yaml and no inline `instances`, so it runs nothing"),
        "{stdout}"
    );
    // Its instances written inline in the source instead; a conf.d file as well is refused.
    let inline = "    instances: [{min_collection_interval: 1, tags: [\"who:pulled\"]}]\n";
    // Into the source's own entry, wherever it stands in the file.
    let text = std::fs::read_to_string(layout.config()).unwrap().replace(
        "    poll_secs: 3600\n",
        &format!("    poll_secs: 3600\n{inline}"),
    );
    std::fs::write(layout.config(), text).unwrap();
    let twice = layout.check_config("pulled", "instances: [{}]\n");
    let out = layout.wasmon(&["configcheck"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("sources[0] configures `pulled` again"),
        "{stdout}"
    );
    std::fs::remove_file(twice).unwrap();
    let mut agent = layout.start_agent();
    let (addr, token) = layout.api();
    // Nothing is published yet: the first poll says so.
    assert!(
        agent
            .wait_for_stderr(20 * SECOND, |l| l.contains("poll failed"))
            .is_some()
    );

    let v1 = push(&layout, &guest("emit"), &reference, &keys.secret);
    let published = Instant::now();
    let (code, body) = http(&addr, "POST", "/v1/sources/refresh", Some(&token), None);
    assert_eq!(code, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(answer["sources"][0]["digest"].is_string(), "{answer}");
    let ran = wait_for(30 * SECOND, || latest(&agent));
    assert_eq!(ran, Some(1.0), "{:?}", agent.stderr());
    println!(
        "publish to running, with a refresh call: {:?}",
        published.elapsed()
    );
    assert!(!v1.is_empty());

    push(&layout, &guest("emit_v2"), &reference, &keys.secret);
    agent.signal("HUP");
    let v2 = wait_for(30 * SECOND, || (latest(&agent) == Some(2.0)).then_some(()));
    assert!(v2.is_some(), "SIGHUP did not poll: {:?}", agent.stderr());

    // What a fleet would get, pulled and verified by the command line.
    let pulled = tmp.path().join("pulled.wasm");
    let stranger = Keys::generate(tmp.path(), "stranger");
    let by = |command: &str, target: &str, key: &Keys, extra: &[&str]| {
        let key = key.public.display().to_string();
        let mut args = vec![command, target, "--key", &key];
        args.extend_from_slice(extra);
        layout.wasmon(&args)
    };
    let output = pulled.display().to_string();
    let out = by("verify", &reference, &keys, &["--insecure"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = by(
        "pull",
        &reference,
        &stranger,
        &["--insecure", "-o", &output],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a trusted key"));
    let out = by("pull", &reference, &keys, &["--insecure", "-o", &output]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&pulled).unwrap(),
        std::fs::read(guest("emit_v2")).unwrap()
    );
    // With no flags, the agent's trusted keys and its source's settings are used.
    let out = layout.wasmon(&["pull", &reference, "-o", &output]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = layout.wasmon(&["verify", &reference]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The file and the signature written beside it verify offline.
    let out = by("verify", &output, &keys, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(agent.stop());
}

#[test]
fn credentials_reach_a_registry_that_asks_for_them() {
    use base64::Engine;
    let registry = Registry::start_with_user("ops", "s3cret");
    let tmp = tempfile::tempdir().unwrap();
    let keys = Keys::generate(tmp.path(), "publisher");
    let docker_config = tmp.path().join("config.json");
    let auth = base64::engine::general_purpose::STANDARD.encode("ops:s3cret");
    std::fs::write(
        &docker_config,
        format!(
            r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#,
            registry.addr
        ),
    )
    .unwrap();
    let reference = format!("{}/{REPOSITORY}:stable", registry.addr);
    let layout = layout(
        &keys,
        &reference,
        "    poll_secs: 1\n    auth: {username: ops, password: \"${REGISTRY_PASSWORD}\"}\n",
    );
    let push_args = |extra: &[&str]| {
        let (file, key) = (guest("emit"), keys.secret.display().to_string());
        let file = file.display().to_string();
        let mut args = vec!["push", &file, &reference, "--key", &key, "--insecure"];
        args.extend_from_slice(extra);
        layout.wasmon(&args)
    };
    let anonymous = push_args(&[]);
    assert!(!anonymous.status.success());
    let config = docker_config.display().to_string();
    let out = push_args(&["--docker-config", &config]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A wrong password is named in the status; the right one pulls.
    let mut agent =
        layout.start_agent_env(&["run", "--dry-run"], &[("REGISTRY_PASSWORD", "wrong")]);
    let (addr, token) = layout.api();
    let refused = wait_for(20 * SECOND, || {
        let (_, body) = http(&addr, "GET", "/v1/status", Some(&token), None);
        let status: serde_json::Value = serde_json::from_str(&body).ok()?;
        let error = status["sources"][0]["last_error"].as_str()?.to_string();
        error.contains("401").then_some(error)
    });
    assert!(refused.is_some(), "{:?}", agent.stderr());
    assert_eq!(latest(&agent), None);
    assert!(agent.stop());
    let mut agent =
        layout.start_agent_env(&["run", "--dry-run"], &[("REGISTRY_PASSWORD", "s3cret")]);
    assert_eq!(
        wait_for(30 * SECOND, || latest(&agent)),
        Some(1.0),
        "{:?}",
        agent.stderr()
    );
    assert!(agent.stop());
}
