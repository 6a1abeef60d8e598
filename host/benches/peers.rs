//! What wasmon costs per collection and at rest, side by side with collectd and node_exporter
//! (Debian's `collectd-core` and `prometheus-node-exporter`), all running at once in one
//! window, each collecting the host every second: wasmon's system check at
//! `min_collection_interval: 1` behind its scrape endpoint and node_exporter, both scraped
//! every second by this bench; collectd with cpu, load, memory, disk, df, interface, processes
//! and uptime writing CSV. CPU is the process's user + system time over the window, RSS is
//! read at its end.
//!
//! `cargo xtask build-checks && cargo bench -p wasmon --bench peers --profile dev`
//! (`WASMON_PEERS_SECS` sets the window, default 60).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "common/process.rs"]
mod process;
use process::{cpu_seconds, rss_mb};

/// Seconds every agent runs before the window opens.
const WARM_UP: Duration = Duration::from_secs(5);

/// One agent under measurement.
struct Peer {
    name: String,
    child: Child,
    /// Samples in its last collection (scraped or written), if known.
    samples: Arc<AtomicU64>,
}

fn main() {
    let window = Duration::from_secs(
        std::env::var("WASMON_PEERS_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    );
    // collectd's CSV plugin refuses paths with a folder that begins with a dot.
    let dir = tempfile::Builder::new()
        .prefix("wasmon-peers-")
        .tempdir()
        .expect("a temp dir");
    let mut peers = Vec::new();
    let first = wasmon_layout(dir.path(), "first", true);
    let cached = wasmon_layout(dir.path(), "cached", true);
    let idle = wasmon_layout(dir.path(), "idle", false);
    // Fill the compiled cache of one layout before the window.
    let warmed = Command::new(env!("CARGO_BIN_EXE_wasmon"))
        .arg("--config")
        .arg(cached.0.join("wasmon.yaml"))
        .args(["check", "system"])
        .output()
        .expect("run wasmon check");
    assert!(
        warmed.status.success(),
        "{}",
        String::from_utf8_lossy(&warmed.stderr)
    );
    for (label, (layout, port)) in [
        ("wasmon (first start, compiles)", first),
        ("wasmon (compiled cache)", cached),
        ("wasmon (no checks: at rest)", idle),
    ] {
        let child = spawn(
            Command::new(env!("CARGO_BIN_EXE_wasmon"))
                .arg("--config")
                .arg(layout.join("wasmon.yaml"))
                .arg("run"),
        );
        peers.push(scraped(label, child, port));
    }
    match collectd(dir.path()) {
        Some(peer) => peers.push(peer),
        None => println!("collectd: skipped (collectd-core is not installed)"),
    }
    let port = free_port();
    match Command::new("prometheus-node-exporter")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => peers.push(scraped("node_exporter", child, Some(port))),
        Err(_) => println!("node_exporter: skipped (prometheus-node-exporter is not installed)"),
    }
    std::thread::sleep(WARM_UP);
    let before: Vec<f64> = peers.iter().map(|p| cpu_seconds(p.child.id())).collect();
    std::thread::sleep(window);
    let secs = window.as_secs_f64();
    println!(
        "{} s window, every agent collecting every second, all at once on {} cores:",
        window.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "| agent | CPU per collection | RSS | samples per collection | CPU per sample | CPU vs collectd |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    let rows: Vec<(String, f64, f64, u64)> = peers
        .iter()
        .zip(before)
        .map(|(p, was)| {
            let cpu_ms = (cpu_seconds(p.child.id()) - was) / secs * 1000.0;
            let rss = rss_mb(p.child.id());
            (
                p.name.clone(),
                cpu_ms,
                rss,
                p.samples.load(Ordering::Relaxed),
            )
        })
        .collect();
    let collectd_ms = rows
        .iter()
        .find(|r| r.0 == "collectd")
        .map(|r| r.1)
        .filter(|ms| *ms > 0.0);
    for (name, cpu_ms, rss, samples) in &rows {
        let per_sample = if *samples > 0 {
            format!("{:.1} µs", cpu_ms * 1000.0 / *samples as f64)
        } else {
            "-".into()
        };
        let ratio = collectd_ms.map_or("-".into(), |c| format!("{:.2}×", cpu_ms / c));
        println!("| {name} | {cpu_ms:.2} ms | {rss:.1} MB | {samples} | {per_sample} | {ratio} |");
    }
    for mut peer in peers {
        let _ = Command::new("kill")
            .arg(peer.child.id().to_string())
            .status();
        let _ = peer.child.wait();
    }
}

fn spawn(command: &mut Command) -> Child {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start an agent")
}

/// A wasmon layout with the shipped system check every second (or no checks), serving a
/// scrape endpoint; its folder and the port to scrape.
fn wasmon_layout(dir: &Path, name: &str, system: bool) -> (PathBuf, Option<u16>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let layout = dir.join(name);
    std::fs::create_dir_all(layout.join("conf.d")).expect("conf.d");
    let port = free_port();
    std::fs::write(
        layout.join("wasmon.yaml"),
        format!(
            "conf_d: conf.d\nchecks_d: [{}]\ndata_dir: data\ncontrol: {{listen: \"\"}}\ndogstatsd: {{listen: \"\"}}\npush: {{listen: \"\"}}\n\
             sinks: [{{type: prometheus, listen: \"127.0.0.1:{port}\"}}]\n",
            root.join("target/wasm32-wasip2/guest").display()
        ),
    )
    .expect("wasmon.yaml");
    if system {
        let shipped =
            std::fs::read_to_string(root.join("conf.d/system.yaml")).expect("conf.d/system.yaml");
        std::fs::write(
            layout.join("conf.d/system.yaml"),
            shipped.replace("min_collection_interval: 15", "min_collection_interval: 1"),
        )
        .expect("system.yaml");
    }
    // The agent at rest is not scraped: a scrape is work.
    (layout, system.then_some(port))
}

/// A peer scraped every second on `port` (when it has one), counting the samples served.
fn scraped(name: &str, child: Child, port: Option<u16>) -> Peer {
    let samples = Arc::new(AtomicU64::new(0));
    if let Some(port) = port {
        let count = samples.clone();
        std::thread::spawn(move || {
            loop {
                if let Some(n) = scrape(port) {
                    count.store(n, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        });
    }
    Peer {
        name: name.into(),
        child,
        samples,
    }
}

/// `GET /metrics`: the number of sample lines.
fn scrape(port: u16) -> Option<u64> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).ok()?;
    let body = body.split_once("\r\n\r\n")?.1;
    Some(
        body.lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .count() as u64,
    )
}

/// collectd with the plugins of the comparison, writing CSV; its samples are the values
/// its CSV files grow by each second.
fn collectd(dir: &Path) -> Option<Peer> {
    let base = dir.join("collectd");
    std::fs::create_dir_all(base.join("csv")).ok()?;
    let plugins = [
        "cpu",
        "load",
        "memory",
        "disk",
        "df",
        "interface",
        "processes",
        "uptime",
    ];
    let mut config = format!(
        "BaseDir \"{b}\"\nPIDFile \"{b}/collectd.pid\"\nPluginDir \"/usr/lib/collectd\"\n\
         TypesDB \"/usr/share/collectd/types.db\"\nInterval 1\nHostname \"bench\"\n",
        b = base.display()
    );
    for plugin in plugins.iter().chain(&["csv"]) {
        config.push_str(&format!("LoadPlugin {plugin}\n"));
    }
    config.push_str(&format!(
        "<Plugin csv>\n  DataDir \"{}\"\n  StoreRates false\n</Plugin>\n",
        base.join("csv").display()
    ));
    std::fs::write(base.join("collectd.conf"), config).ok()?;
    let child = Command::new("collectd")
        .arg("-f")
        .arg("-C")
        .arg(base.join("collectd.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let samples = Arc::new(AtomicU64::new(0));
    let (count, csv) = (samples.clone(), base.join("csv"));
    let previous = Mutex::new(0u64);
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_secs(5));
            let now = csv_values(&csv);
            if let Ok(mut was) = previous.lock() {
                if *was > 0 {
                    count.store(now.saturating_sub(*was) / 5, Ordering::Relaxed);
                }
                *was = now;
            }
        }
    });
    Some(Peer {
        name: "collectd".into(),
        child,
        samples,
    })
}

/// Values written to every CSV file below `dir` (one per field after the time).
fn csv_values(dir: &Path) -> u64 {
    let mut total = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            total += csv_values(&path);
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            total += text
                .lines()
                .skip(1)
                .map(|l| l.matches(',').count() as u64)
                .sum::<u64>();
        }
    }
    total
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
