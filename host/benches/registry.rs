//! Checks from a registry, against Debian's `docker-registry` on loopback (skipped when it is
//! not installed): bytes, requests and time to pull and verify the system component; what a
//! poll costs when nothing changed (what a fleet of agents costs the registry); and publish →
//! running on a real agent, with a 5 s poll and with a refresh call.
//!
//! `cargo xtask build-checks && cargo bench -p wasmon --bench registry --profile dev`

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmon::registry::{SourceAuth, TrustedKey, TrustedKeys, connect, digest_of, pull_verified};

/// Pulls measured.
const PULLS: usize = 10;
/// Unchanged polls measured.
const POLLS: u64 = 100;

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if Command::new("docker-registry")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("registry: skipped (docker-registry is not installed)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (addr, mut registry) = start_registry(dir.path());
    let counter = Counter::start(&addr);
    let keys = minisign::KeyPair::generate_unencrypted_keypair().expect("a key pair");
    let public = keys.pk.to_base64();
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(pull_and_poll(&addr, &counter, &keys, &public));
    rt.block_on(publish_to_running(dir.path(), &addr, &keys, &public));
    let _ = registry.kill();
    let _ = registry.wait();
}

fn guest(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../target/wasm32-wasip2/guest/{name}.wasm"))
}

fn sign(keys: &minisign::KeyPair, digest: &str) -> String {
    minisign::sign(Some(&keys.pk), &keys.sk, digest.as_bytes(), None, None)
        .expect("a signature")
        .into_string()
}

/// Pushes `file` signed to `reference`.
async fn publish(reference: &str, file: &Path, keys: &minisign::KeyPair) {
    let bytes = std::fs::read(file).expect("the guest is built (cargo xtask build-checks)");
    let signature = sign(keys, &digest_of(&bytes));
    let (parsed, registry) = connect(reference, true, SourceAuth::Anonymous).expect("a registry");
    registry
        .push_signed(&parsed, bytes, Some(&signature))
        .await
        .expect("pushed");
}

async fn pull_and_poll(addr: &str, counter: &Counter, keys: &minisign::KeyPair, public: &str) {
    let direct = format!("{addr}/checks/system:1");
    publish(&direct, &guest("system"), keys).await;
    let trusted = TrustedKeys(vec![TrustedKey::parse(public).expect("the key")]);
    let reference = format!("{}/checks/system:1", counter.addr);
    let mut times = Vec::new();
    let (mut requests, mut bytes, mut size) = (0, 0, 0);
    for _ in 0..PULLS {
        let (parsed, registry) =
            connect(&reference, true, SourceAuth::Anonymous).expect("a registry");
        let before = counter.snapshot();
        let started = Instant::now();
        let manifest = registry.resolve(&parsed).await.expect("resolved");
        let verified = pull_verified(&registry, &parsed, &manifest, &trusted, 64 << 20, |_| None)
            .await
            .expect("verified");
        times.push(started.elapsed());
        let after = counter.snapshot();
        (requests, bytes, size) = (after.0 - before.0, after.1 - before.1, verified.bytes.len());
    }
    times.sort();
    println!(
        "pull and verify the system component ({size} bytes): median {:?} (min {:?}, max {:?}) \
         over {PULLS} pulls; {requests} requests, {bytes} bytes on the wire (both ways)",
        times[PULLS / 2],
        times[0],
        times[PULLS - 1]
    );
    let (parsed, registry) = connect(&reference, true, SourceAuth::Anonymous).expect("a registry");
    registry.resolve(&parsed).await.expect("resolved");
    let before = counter.snapshot();
    let started = Instant::now();
    for _ in 0..POLLS {
        registry.resolve(&parsed).await.expect("resolved");
    }
    let elapsed = started.elapsed();
    let after = counter.snapshot();
    println!(
        "a poll that finds nothing new: {:.1} requests, {:.0} bytes on the wire, {:?} \
         (mean of {POLLS}); 10,000 agents polling every 300 s: {:.0} requests/s",
        (after.0 - before.0) as f64 / POLLS as f64,
        (after.1 - before.1) as f64 / POLLS as f64,
        elapsed / POLLS as u32,
        10_000.0 / 300.0 * (after.0 - before.0) as f64 / POLLS as f64
    );
}

/// Starts agents following `:stable` and times a push until the new version runs.
async fn publish_to_running(dir: &Path, addr: &str, keys: &minisign::KeyPair, public: &str) {
    let reference = format!("{addr}/checks/emit:stable");
    for (label, poll_secs, refresh) in [("5 s poll", 5, false), ("refresh call", 3600, true)] {
        publish(&reference, &guest("emit"), keys).await;
        let layout = dir.join(label.replace(' ', "-"));
        let mut agent = Agent::start(&layout, &reference, public, poll_secs);
        agent.wait_for_version(1.0, Duration::from_secs(60));
        let mut figures = Vec::new();
        for (version, file) in [(2.0, "emit_v2"), (1.0, "emit"), (2.0, "emit_v2")] {
            let started = Instant::now();
            publish(&reference, &guest(file), keys).await;
            if refresh {
                agent.refresh().await;
            }
            agent.wait_for_version(version, Duration::from_secs(60));
            figures.push(format!("{:.2} s", started.elapsed().as_secs_f64()));
        }
        println!("publish → running, {label}: {}", figures.join(", "));
        agent.stop();
    }
}

/// `wasmon run --dry-run` with one source and the pulled check's one instance.
struct Agent {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    data: PathBuf,
}

impl Agent {
    fn start(dir: &Path, reference: &str, public: &str, poll_secs: u64) -> Self {
        std::fs::create_dir_all(dir.join("conf.d")).expect("conf.d");
        std::fs::write(
            dir.join("conf.d/pulled.yaml"),
            "instances:\n  - min_collection_interval: 1\n",
        )
        .expect("a check config");
        std::fs::write(
            dir.join("wasmon.yaml"),
            format!(
                "conf_d: conf.d\nchecks_d: []\ndata_dir: data\ncontrol: {{listen: \"127.0.0.1:0\"}}\ndogstatsd: {{listen: \"\"}}\npush: {{listen: \"\"}}\n\
                 trusted_keys: [\"{public}\"]\nsources:\n  - {{check: pulled, reference: \"{reference}\", \
                 insecure: true, poll_secs: {poll_secs}}}\n"
            ),
        )
        .expect("wasmon.yaml");
        let mut child = Command::new(env!("CARGO_BIN_EXE_wasmon"))
            .arg("--config")
            .arg(dir.join("wasmon.yaml"))
            .args(["run", "--dry-run"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start wasmon");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (sink, stdout) = (lines.clone(), child.stdout.take().expect("stdout"));
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("test.emit.version")
                    && let Ok(mut lines) = sink.lock()
                {
                    lines.push(line);
                }
            }
        });
        Self {
            child,
            lines,
            data: dir.join("data"),
        }
    }

    /// Waits until the last `test.emit.version` line says `version`.
    fn wait_for_version(&self, version: f64, limit: Duration) {
        let deadline = Instant::now() + limit;
        let wanted = format!(" {version} ");
        while Instant::now() < deadline {
            let last = self.lines.lock().ok().and_then(|l| l.last().cloned());
            if last.is_some_and(|l| l.contains(&wanted)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("version {version} never ran");
    }

    async fn refresh(&self) {
        let addr = std::fs::read_to_string(self.data.join("control.addr")).expect("control.addr");
        let token = std::fs::read_to_string(self.data.join("auth_token")).expect("auth_token");
        reqwest::Client::new()
            .post(format!("http://{}/v1/sources/refresh", addr.trim()))
            .bearer_auth(token.trim())
            .send()
            .await
            .expect("refreshed");
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn start_registry(dir: &Path) -> (String, Child) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let addr = format!("127.0.0.1:{port}");
    let config = dir.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {}}}}}\n\
             http: {{addr: \"{addr}\"}}\n",
            dir.join("storage").display()
        ),
    )
    .expect("registry config");
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start docker-registry");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&addr).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    (addr, child)
}

/// A TCP relay in front of the registry that counts requests and bytes.
struct Counter {
    addr: String,
    requests: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

impl Counter {
    fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
        let addr = listener.local_addr().expect("an address").to_string();
        let (requests, bytes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (r, b, upstream) = (requests.clone(), bytes.clone(), upstream.to_string());
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let (r, b) = (r.clone(), b.clone());
                let (c2, s2) = (
                    client.try_clone().expect("a clone"),
                    server.try_clone().expect("a clone"),
                );
                let back = b.clone();
                std::thread::spawn(move || relay(client, server, Some(r), b));
                std::thread::spawn(move || relay(s2, c2, None, back));
            }
        });
        Self {
            addr,
            requests,
            bytes,
        }
    }

    /// Requests and bytes so far.
    fn snapshot(&self) -> (u64, u64) {
        // Let the relays finish counting what was just sent.
        std::thread::sleep(Duration::from_millis(20));
        (
            self.requests.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

/// Copies `from` to `to`, counting bytes and (client to server) request lines.
fn relay(
    mut from: TcpStream,
    mut to: TcpStream,
    requests: Option<Arc<AtomicU64>>,
    bytes: Arc<AtomicU64>,
) {
    let mut buf = [0; 16384];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        bytes.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(requests) = &requests {
            let text = String::from_utf8_lossy(&buf[..n]);
            let lines = text.matches(" HTTP/1.1\r\n").count();
            requests.fetch_add(lines as u64, Ordering::Relaxed);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}
