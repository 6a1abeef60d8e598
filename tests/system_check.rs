//! The system check's figures against /proc read by the test itself, through
//! `wasmon check system --times 2 --json` on the shipped config.

use crate::common;

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

struct Report {
    samples: Vec<Value>,
    service_checks: Vec<Value>,
}

impl Report {
    /// Values of `name` from the last run, with their tags.
    fn values(&self, name: &str) -> Vec<(f64, Vec<String>)> {
        let last_run = self
            .samples
            .iter()
            .filter_map(|s| s["timestamp"].as_i64())
            .max();
        self.samples
            .iter()
            .filter(|s| s["name"] == name && s["timestamp"].as_i64() == last_run)
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

    fn last(&self, name: &str) -> f64 {
        self.values(name)
            .last()
            .unwrap_or_else(|| panic!("no {name}"))
            .0
    }

    fn tag_values(&self, name: &str, key: &str) -> BTreeSet<String> {
        let prefix = format!("{key}:");
        self.values(name)
            .into_iter()
            .flat_map(|(_, tags)| {
                tags.into_iter()
                    .filter_map(|t| t.strip_prefix(&prefix).map(str::to_string))
            })
            .collect()
    }
}

fn run_system_check() -> Report {
    let layout = common::Layout::new("");
    let shipped = std::fs::read_to_string(common::root().join("conf.d/system.yaml")).unwrap();
    layout.check_config(
        "system",
        &shipped.replace(
            "min_collection_interval: 15",
            "min_collection_interval: 15\n    tags: [\"role:test\"]",
        ),
    );
    let out = layout.wasmon(&["check", "system", "--times", "2", "--json"]);
    assert!(
        out.status.success(),
        "wasmon check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("--json prints one JSON document");
    Report {
        samples: doc["samples"].as_array().expect("samples").clone(),
        service_checks: doc["service_checks"]
            .as_array()
            .expect("service_checks")
            .clone(),
    }
}

fn proc(path: &str) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn system_check_agrees_with_proc() {
    let r = run_system_check();

    // Every sample has the documented fields and the host, global and instance tags.
    for s in &r.samples {
        assert!(s["name"].is_string(), "{s}");
        assert!(
            ["gauge", "count", "rate"].contains(&s["kind"].as_str().unwrap()),
            "{s}"
        );
        assert!(
            s["value"].is_f64() || s["value"].is_i64() || s["value"].is_u64(),
            "{s}"
        );
        assert!(s["timestamp"].as_i64().unwrap() > 1_600_000_000, "{s}");
        let tags: Vec<&str> = s["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        for tag in ["host:test-host", "env:test", "role:test"] {
            assert!(tags.contains(&tag), "{tag} missing in {s}");
        }
    }
    let status: Vec<&Value> = r
        .service_checks
        .iter()
        .filter(|c| c["name"] == "wasmon.check.status")
        .collect();
    assert_eq!(status.len(), 2);
    assert!(status.iter().all(|c| c["status"] == "OK"), "{status:?}");

    // Memory total exactly, in MiB.
    let meminfo = proc("/proc/meminfo");
    let kb: f64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(r.last("system.mem.total"), kb / 1024.0);

    // Load within a small tolerance.
    let load: Vec<f64> = proc("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .map(|v| v.parse().unwrap())
        .collect();
    for (name, expected) in ["system.load.1", "system.load.5", "system.load.15"]
        .iter()
        .zip(&load)
    {
        let got = r.last(name);
        assert!(
            (got - expected).abs() <= 0.5 + expected * 0.2,
            "{name}: {got} vs {expected}"
        );
    }
    let cores = r.last("system.cpu.num_cores");
    assert!((r.last("system.load.norm.1") - r.last("system.load.1") / cores).abs() < 1e-9);

    // CPU percentages sum to about 100, in total and per core.
    let sum: f64 = ["user", "system", "iowait", "idle", "stolen"]
        .iter()
        .map(|k| r.last(&format!("system.cpu.{k}")))
        .sum();
    assert!((sum - 100.0).abs() < 0.5, "cpu sums to {sum}");
    let mut per_core: HashMap<String, f64> = HashMap::new();
    for k in ["user", "system", "iowait", "idle", "stolen"] {
        for (v, tags) in r.values(&format!("system.core.{k}")) {
            let core = tags.into_iter().find(|t| t.starts_with("core:")).unwrap();
            *per_core.entry(core).or_default() += v;
        }
    }
    assert_eq!(per_core.len() as f64, cores);
    for (core, sum) in per_core {
        assert!((sum - 100.0).abs() < 0.5, "{core} sums to {sum}");
    }

    // Every real mount (a type /proc/filesystems lists without nodev) is reported.
    let real_types: BTreeSet<String> = proc("/proc/filesystems")
        .lines()
        .filter(|l| !l.starts_with("nodev"))
        .map(|l| l.trim().to_string())
        .collect();
    let mounts: BTreeSet<String> = proc("/proc/mounts")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            real_types
                .contains(f[2])
                .then(|| f[1].replace("\\040", " "))
        })
        .collect();
    assert!(!mounts.is_empty());
    assert_eq!(r.tag_values("system.disk.total", "mount_point"), mounts);
    for (v, _) in r.values("system.disk.in_use") {
        assert!((0.0..=1.0).contains(&v));
    }

    // Every interface in /proc/net/dev is reported, as rates (second run).
    let interfaces: BTreeSet<String> = proc("/proc/net/dev")
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim().to_string()))
        .collect();
    assert_eq!(r.tag_values("system.net.bytes_rcvd", "device"), interfaces);
    assert_eq!(
        r.tag_values("system.net.packets_out.drop", "device"),
        interfaces
    );

    // Processes by state add up to about what /proc lists.
    let pids = std::fs::read_dir("/proc")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .count() as f64;
    let total = r.last("system.processes.total");
    assert!(
        (total - pids).abs() <= 20.0,
        "{total} processes vs {pids} in /proc"
    );
    let by_state: f64 = r
        .values("system.processes.states")
        .iter()
        .map(|(v, _)| v)
        .sum();
    assert!((by_state - total).abs() <= 20.0);

    // Uptime, file handles, context switches.
    let uptime: f64 = proc("/proc/uptime")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((r.last("system.uptime") - uptime).abs() < 30.0);
    assert!(r.last("system.fs.file_handles.max") > 0.0);
    assert!(
        r.last("system.cpu.context_switches") > 0.0,
        "an increase, from the second run"
    );
    assert!(r.last("system.mem.usable") <= r.last("system.mem.total"));
}
