//! Resident memory of `wasmon run`: on the shipped config after a minute, cold (compiling) and
//! warm (compiled cache) starts; with every shipped check configured (the mysql and shell
//! examples as shipped beside the system check); and with 100 instances of the system check.
//!
//! `cargo xtask build-checks && cargo bench -p wasmon --bench memory --profile dev`

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Starts the agent on `dir` (holding wasmon.yaml), waits, returns its VmRSS and VmHWM in kB.
fn rss_after(dir: &Path, wait: Duration) -> (u64, u64) {
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_wasmon"))
        .arg("--config")
        .arg(dir.join("wasmon.yaml"))
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wasmon");
    std::thread::sleep(wait);
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let kb = |key: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    (kb("VmRSS:"), kb("VmHWM:"))
}

fn layout(instances: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let guests = root().join("target/wasm32-wasip2/guest");
    std::fs::create_dir_all(dir.path().join("conf.d")).unwrap();
    std::fs::write(
        dir.path().join("wasmon.yaml"),
        format!("conf_d: conf.d\nchecks_d: [{}]\ndata_dir: data\ncontrol: {{listen: \"127.0.0.1:0\"}}\ndogstatsd: {{listen: \"\"}}\npush: {{listen: \"\"}}\n", guests.display()),
    )
    .unwrap();
    let shipped = std::fs::read_to_string(root().join("conf.d/system.yaml")).unwrap();
    let one = shipped.split_once("instances:\n").unwrap().1;
    let mut config = String::from("init_config:\ninstances:\n");
    for _ in 0..instances {
        config.push_str(one);
    }
    std::fs::write(dir.path().join("conf.d/system.yaml"), config).unwrap();
    dir
}

fn main() {
    let one = layout(1);
    let (rss, hwm) = rss_after(one.path(), Duration::from_secs(60));
    println!(
        "{:<60} RSS {rss:>7} kB  peak {hwm:>7} kB",
        "shipped config, 1 minute, cold start (compiles)"
    );
    let (rss, hwm) = rss_after(one.path(), Duration::from_secs(60));
    println!(
        "{:<60} RSS {rss:>7} kB  peak {hwm:>7} kB",
        "shipped config, 1 minute, warm start (compiled cache)"
    );
    let every = layout(1);
    for check in ["mysql", "shell"] {
        std::fs::copy(
            root().join(format!("conf.d/{check}.yaml.example")),
            every.path().join(format!("conf.d/{check}.yaml")),
        )
        .unwrap();
    }
    let _ = rss_after(every.path(), Duration::from_secs(5));
    let (rss, hwm) = rss_after(every.path(), Duration::from_secs(60));
    println!(
        "{:<60} RSS {rss:>7} kB  peak {hwm:>7} kB",
        "every shipped check configured, 1 minute, warm start"
    );
    let hundred = layout(100);
    let _ = rss_after(hundred.path(), Duration::from_secs(5));
    // Past the 30 s after which the agent lets go of what only its start used.
    let (rss, hwm) = rss_after(hundred.path(), Duration::from_secs(45));
    println!(
        "{:<60} RSS {rss:>7} kB  peak {hwm:>7} kB",
        "100 instances of the system check, 45 s, warm start"
    );
}
