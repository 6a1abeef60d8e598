//! The whole check over a faked host: its /proc files and one filesystem.

use std::collections::BTreeSet;

use wasmon_sdk::fs_usage::Usage;
use wasmon_sdk::testing::{files, fs_usage};
use wasmon_sdk::{Check, CheckError, NoConfig, Output};

use crate::{Instance, System};

/// A one-core host with one disk, one interface, one filesystem and two processes; `tick`
/// moves its counters on.
fn host(tick: u64) {
    let cpu = format!(
        "{} 0 {} {} 0 0 0 0 0 0",
        100 + tick,
        50 + tick,
        1000 + 2 * tick
    );
    files::put(
        "/proc/stat",
        format!("cpu  {cpu}\ncpu0 {cpu}\nctxt 500\nbtime 1700000000\nprocesses 90\n"),
    );
    files::put("/proc/loadavg", "0.50 0.40 0.30 2/99 1234\n");
    files::put(
        "/proc/meminfo",
        "MemTotal: 2048000 kB\nMemFree: 1024000 kB\nMemAvailable: 1536000 kB\n\
         Buffers: 1000 kB\nCached: 200000 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n",
    );
    files::put("/proc/uptime", "3600.50 7000.10\n");
    files::put("/proc/sys/fs/file-nr", "1024\t0\t100000\n");
    files::put(
        "/proc/net/dev",
        format!(
            "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n  \
             eth0: {} 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n",
            1000 + tick
        ),
    );
    files::put(
        "/proc/diskstats",
        format!(
            "   8       0 sda {} 0 800 50 200 0 1600 100 0 150 150\n",
            100 + tick
        ),
    );
    files::put(
        "/proc/mounts",
        "/dev/sda1 / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n",
    );
    files::put("/proc/filesystems", "nodev\tproc\n\text4\n");
    files::put(
        "/proc/1/stat",
        "1 (init) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0",
    );
    files::put(
        "/proc/2/stat",
        "2 (nice one) R 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 5 1 0",
    );
    fs_usage::put(
        "/",
        Ok(Usage {
            total_bytes: 10 << 30,
            free_bytes: 4 << 30,
            available_bytes: 3 << 30,
            total_inodes: 1000,
            free_inodes: 400,
        }),
    );
}

fn run(check: &mut System, at: i64) -> Result<Output, CheckError> {
    let mut out = Output::new(at);
    check.run(&mut out).map(|()| out)
}

fn names(out: &Output) -> BTreeSet<&str> {
    out.samples().iter().map(|s| s.name.as_str()).collect()
}

fn value(out: &Output, name: &str) -> Option<f64> {
    out.samples()
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.value)
}

#[test]
fn a_run_reads_every_family_through_the_hosts_capabilities() {
    host(0);
    let mut check = System::init(NoConfig {}, Instance::default()).unwrap();
    let first = run(&mut check, 15_000).unwrap();
    host(100);
    let second = run(&mut check, 30_000).unwrap();
    for name in [
        "system.load.1",
        "system.mem.total",
        "system.uptime",
        "system.disk.total",
    ] {
        assert!(names(&first).contains(name), "{name}: {:?}", names(&first));
    }
    assert_eq!(value(&first, "system.load.1"), Some(0.5));
    assert_eq!(
        value(&first, "system.disk.total"),
        Some(f64::from(10u32 << 20))
    );
    assert_eq!(value(&first, "system.processes.total"), Some(2.0));
    assert!(
        !names(&first).contains("system.cpu.user") && names(&second).contains("system.cpu.user"),
        "CPU percentages need a previous run"
    );
    assert!(
        !names(&first)
            .iter()
            .any(|n| n.starts_with("system.mem.pgpg")),
        "an optional file that is missing leaves its family out"
    );
}

#[test]
fn a_missing_required_file_fails_the_run_and_names_it() {
    host(0);
    files::remove("/proc/meminfo");
    let mut check = System::init(NoConfig {}, Instance::default()).unwrap();
    match run(&mut check, 15_000) {
        Err(CheckError::Transient(message)) => {
            assert!(message.starts_with("/proc/meminfo: "), "{message}")
        }
        other => panic!("{:?}", other.map(|o| names(&o).len())),
    }
}

#[test]
fn a_filesystem_the_host_cannot_stat_is_left_out() {
    host(0);
    fs_usage::put("/", Err("/: Permission denied (os error 13)".into()));
    let mut check = System::init(NoConfig {}, Instance::default()).unwrap();
    let out = run(&mut check, 15_000).unwrap();
    assert!(!names(&out).contains("system.disk.total"));
    assert!(names(&out).contains("system.load.1"));
}
