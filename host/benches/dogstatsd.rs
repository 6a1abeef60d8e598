//! DogStatsD intake beside the peers, one daemon at a time in one run: a load generator sends
//! statsd counter lines over loopback UDP, packed into datagrams as clients do (≤ 1432 bytes),
//! at fixed rates for a window each, to wasmon, collectd's `statsd` plugin (Debian's
//! `collectd-core`) and the npm `statsd` daemon (0.9.0, installed under `target/` with npm when
//! missing). Each daemon's own count of what it received is read back; CPU is its user + system
//! time over the window, RSS is read at the window's end. wasmon also takes DogStatsD lines
//! with tags, and a million distinct series (its context limit bounds the memory).
//!
//! `cargo bench -p wasmon --bench dogstatsd --profile dev` (`WASMON_DSD_SECS` sets the window,
//! default 10; `WASMON_DSD_RATES` the rates, default `100000,300000,1000000`).

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/process.rs"]
mod process;
use process::{cpu_seconds, rss_mb};

/// The largest datagram clients send over UDP.
const DATAGRAM: usize = 1432;
/// Time a daemon gets to take what is still in its socket after a window.
const DRAIN: Duration = Duration::from_secs(3);

/// What the load looks like.
#[derive(Clone, Copy)]
enum Lines {
    /// `bench.hits:1|c`, one series.
    Plain,
    /// `bench.hits:1|c|#env:prod,route:/api/items,status:200`, one series.
    Tagged,
    /// `bench.c<N>:1|c`, a new series each line (a million in all).
    Distinct,
}

impl Lines {
    fn label(self) -> &'static str {
        match self {
            Self::Plain => "plain, one context",
            Self::Tagged => "with tags, one context",
            Self::Distinct => "a million contexts",
        }
    }

    fn write(self, n: u64, out: &mut Vec<u8>) {
        match self {
            Self::Plain => out.extend_from_slice(b"bench.hits:1|c\n"),
            Self::Tagged => {
                out.extend_from_slice(b"bench.hits:1|c|#env:prod,route:/api/items,status:200\n")
            }
            Self::Distinct => {
                let _ = writeln!(out, "bench.c{}:1|c", n % 1_000_000);
            }
        }
    }
}

/// A daemon under load, and how to read its own count of lines received.
struct Daemon {
    name: &'static str,
    child: Child,
    port: u16,
    received: Box<dyn Fn() -> Option<u64>>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn main() {
    let secs: u64 = env_or("WASMON_DSD_SECS", "10")
        .parse()
        .expect("WASMON_DSD_SECS");
    let rates: Vec<u64> = env_or("WASMON_DSD_RATES", "100000,300000,1000000")
        .split(',')
        .map(|r| r.trim().parse().expect("WASMON_DSD_RATES"))
        .collect();
    let window = Duration::from_secs(secs);
    // collectd's CSV plugin refuses paths with a folder that begins with a dot.
    let dir = tempfile::Builder::new()
        .prefix("wasmon-dsd-")
        .tempdir()
        .expect("a temp dir");
    println!(
        "{secs} s per rate, lines packed into {DATAGRAM}-byte datagrams over loopback UDP, one daemon at a time:"
    );
    println!("| daemon | lines | lines/s sent | lost | CPU per 100 k lines | CPU per line | RSS |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let mut daemons: Vec<(Daemon, Vec<Lines>)> = vec![(
        wasmon(dir.path()),
        vec![Lines::Plain, Lines::Tagged, Lines::Distinct],
    )];
    match collectd(dir.path()) {
        Some(d) => daemons.push((d, vec![Lines::Plain])),
        None => println!("collectd: skipped (collectd-core is not installed)"),
    }
    match npm_statsd(dir.path()) {
        Some(d) => daemons.push((d, vec![Lines::Plain])),
        None => println!("statsd (npm): skipped (npm or the package could not be had)"),
    }
    for (daemon, kinds) in &daemons {
        for kind in kinds {
            for rate in &rates {
                measure(daemon, *kind, *rate, window);
            }
        }
    }
}

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.into())
}

/// One window of `kind` lines at `rate` a second into `daemon`; prints a table row.
fn measure(daemon: &Daemon, kind: Lines, rate: u64, window: Duration) {
    let pid = daemon.child.id();
    let before = (daemon.received)().unwrap_or(0);
    let cpu_before = cpu_seconds(pid);
    let sent = send(daemon.port, kind, rate, window);
    std::thread::sleep(DRAIN);
    let cpu = cpu_seconds(pid) - cpu_before;
    let received = (daemon.received)().unwrap_or(0).saturating_sub(before);
    let lost = sent.saturating_sub(received) as f64 / sent.max(1) as f64 * 100.0;
    let per_line_ns = cpu / received.max(1) as f64 * 1e9;
    println!(
        "| {} | {} | {} | {lost:.2} % | {:.1} ms | {per_line_ns:.0} ns | {:.1} MB |",
        daemon.name,
        kind.label(),
        human(rate),
        cpu / received.max(1) as f64 * 100_000.0 * 1000.0,
        rss_mb(pid),
    );
}

fn human(rate: u64) -> String {
    match rate {
        r if r >= 1_000_000 && r % 1_000_000 == 0 => format!("{} M", r / 1_000_000),
        r if r >= 1_000 => format!("{} k", r / 1_000),
        r => r.to_string(),
    }
}

/// Sends `rate` lines a second for `window`, paced every millisecond; the lines sent.
fn send(port: u16, kind: Lines, rate: u64, window: Duration) -> u64 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
    socket.connect(("127.0.0.1", port)).expect("connect");
    let started = Instant::now();
    let mut sent = 0u64;
    let mut datagram = Vec::with_capacity(DATAGRAM);
    let mut line = Vec::with_capacity(128);
    while started.elapsed() < window {
        let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
        while sent < due {
            line.clear();
            kind.write(sent, &mut line);
            if datagram.len() + line.len() > DATAGRAM {
                let _ = socket.send(&datagram);
                datagram.clear();
            }
            datagram.extend_from_slice(&line);
            sent += 1;
        }
        if !datagram.is_empty() {
            let _ = socket.send(&datagram);
            datagram.clear();
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    sent
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn spawn(command: &mut Command) -> Child {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a daemon")
}

/// wasmon with only its DogStatsD server (no checks, no sinks), read back through `status`.
fn wasmon(dir: &Path) -> Daemon {
    let home = dir.join("wasmon");
    std::fs::create_dir_all(home.join("conf.d")).expect("a folder");
    let port = free_udp_port();
    std::fs::write(
        home.join("wasmon.yaml"),
        format!(
            "conf_d: conf.d\nchecks_d: []\ndata_dir: data\ncontrol: {{listen: \"127.0.0.1:0\"}}\n\
             push: {{listen: \"\"}}\ndogstatsd: {{listen: \"127.0.0.1:{port}\", so_rcvbuf: 8388608}}\n"
        ),
    )
    .expect("wasmon.yaml");
    let config = home.join("wasmon.yaml");
    let child = spawn(
        Command::new(env!("CARGO_BIN_EXE_wasmon"))
            .arg("--config")
            .arg(&config)
            .arg("run"),
    );
    let received = move || wasmon_lines(&config);
    let up = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        received().is_some()
    });
    assert!(up, "wasmon did not start");
    Daemon {
        name: "wasmon",
        child,
        port,
        received: Box::new(move || wasmon_lines(&home.join("wasmon.yaml"))),
    }
}

/// Lines the agent took and refused.
fn wasmon_lines(config: &PathBuf) -> Option<u64> {
    let out = Command::new(env!("CARGO_BIN_EXE_wasmon"))
        .arg("--config")
        .arg(config)
        .args(["status", "--json"])
        .output()
        .ok()?;
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let intake = &doc["intake"];
    let refused: u64 = intake["parse_errors"]
        .as_object()?
        .values()
        .filter_map(serde_json::Value::as_u64)
        .sum();
    Some(intake["lines"].as_u64()? + refused)
}

/// collectd with only its statsd plugin, counters written as running totals to CSV.
fn collectd(dir: &Path) -> Option<Daemon> {
    if !Path::new("/usr/sbin/collectd").exists() {
        return None;
    }
    let home = dir.join("collectd");
    std::fs::create_dir_all(&home).ok()?;
    let port = free_udp_port();
    let conf = home.join("collectd.conf");
    std::fs::write(
        &conf,
        format!(
            "Hostname \"bench\"\nFQDNLookup false\nBaseDir \"{home}\"\nPluginDir \"/usr/lib/collectd\"\n\
             TypesDB \"/usr/share/collectd/types.db\"\nInterval 1\nAutoLoadPlugin false\n\
             LoadPlugin statsd\nLoadPlugin csv\n\
             <Plugin statsd>\n  Host \"127.0.0.1\"\n  Port \"{port}\"\n  DeleteCounters false\n</Plugin>\n\
             <Plugin csv>\n  DataDir \"{home}/csv\"\n  StoreRates false\n</Plugin>\n",
            home = home.display()
        ),
    )
    .ok()?;
    let child = spawn(
        Command::new("/usr/sbin/collectd")
            .arg("-f")
            .arg("-C")
            .arg(&conf),
    );
    std::thread::sleep(Duration::from_secs(1));
    let csv = home.join("csv/bench/statsd");
    Some(Daemon {
        name: "collectd",
        child,
        port,
        // The newest running total of `derive-bench.hits-<date>`, written every second.
        received: Box::new(move || {
            std::thread::sleep(Duration::from_millis(1500));
            let mut total = None;
            for entry in std::fs::read_dir(&csv).ok()?.flatten() {
                let name = entry.file_name().into_string().ok()?;
                if name.starts_with("derive-bench.hits") {
                    let text = std::fs::read_to_string(entry.path()).ok()?;
                    let last = text.lines().last()?;
                    total = last
                        .split(',')
                        .nth(1)?
                        .parse::<f64>()
                        .ok()
                        .map(|v| v as u64);
                }
            }
            Some(total.unwrap_or(0))
        }),
    })
}

/// The npm `statsd` daemon, its counters read from its management port.
fn npm_statsd(dir: &Path) -> Option<Daemon> {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-peers/statsd");
    let stats_js = target.join("node_modules/statsd/stats.js");
    if !stats_js.exists() {
        std::fs::create_dir_all(&target).ok()?;
        let installed = Command::new("npm")
            .args([
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "statsd@0.9.0",
            ])
            .current_dir(&target)
            .status()
            .ok()?;
        if !installed.success() || !stats_js.exists() {
            return None;
        }
    }
    let port = free_udp_port();
    let mgmt = free_udp_port();
    let config = dir.join("statsd.js");
    std::fs::write(
        &config,
        format!(
            "{{ address: \"127.0.0.1\", port: {port}, mgmt_address: \"127.0.0.1\", mgmt_port: {mgmt}, \
             backends: [], flushInterval: 3600000, deleteIdleStats: false }}"
        ),
    )
    .ok()?;
    let child = spawn(Command::new("node").arg(&stats_js).arg(&config));
    std::thread::sleep(Duration::from_secs(2));
    Some(Daemon {
        name: "statsd (npm)",
        child,
        port,
        received: Box::new(move || {
            let mut stream = TcpStream::connect(("127.0.0.1", mgmt)).ok()?;
            stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
            stream.write_all(b"counters\n").ok()?;
            let mut text = String::new();
            let mut buf = [0; 4096];
            while !text.contains("END") {
                let n = stream.read(&mut buf).ok()?;
                if n == 0 {
                    break;
                }
                text.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            let line = text
                .lines()
                .find(|l| l.contains("'statsd.metrics_received'"))?;
            line.split(':')
                .nth(1)?
                .trim()
                .trim_end_matches(',')
                .parse()
                .ok()
        }),
    })
}
