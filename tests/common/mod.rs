//! Helpers for the integration tests: built guests, throwaway config folders, and the
//! `wasmon` binary run as a real process.

#![allow(dead_code)]

pub mod datadog;
pub mod etcd;
pub mod mariadb;
pub mod registry;
pub mod victoria;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Where `cargo xtask build-checks` puts the guests.
pub fn guests_dir() -> PathBuf {
    root().join("target/wasm32-wasip2/guest")
}

/// A built guest, `<name>.wasm`.
pub fn guest(name: &str) -> PathBuf {
    let path = guests_dir().join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask build-checks` first",
        path.display()
    );
    path
}

/// Sends one HTTP/1.1 request (Connection: close) and returns the status code and body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the control API");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = body.unwrap_or("");
    request.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let code = response
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

/// Reads one HTTP/1.1 request from `stream`: its path and its body as sent.
pub fn read_request(stream: &mut std::net::TcpStream) -> Option<(String, Vec<u8>)> {
    use std::io::Read;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut first = String::new();
    reader.read_line(&mut first).ok()?;
    let path = first.split(' ').nth(1)?.to_string();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((path, body))
}

/// Copies `from` into `dir/name` the documented way: write a hidden temporary, then rename.
pub fn drop_module(from: &Path, dir: &Path, name: &str) -> Instant {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::copy(from, &tmp).unwrap();
    let renamed = Instant::now();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
    renamed
}

/// A throwaway agent layout: `wasmon.yaml`, `conf.d/`, `checks.d/`.
pub struct Layout {
    pub dir: tempfile::TempDir,
}

impl Layout {
    /// A layout whose checks are searched in `checks.d/` and then among the built guests.
    pub fn new(extra_config: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("conf.d")).unwrap();
        std::fs::create_dir_all(dir.path().join("checks.d")).unwrap();
        // Agents run side by side: the intake listens on free ports unless a test says where
        // (after the test's own lines, whose line numbers some tests assert).
        let mut intake = String::new();
        for key in ["dogstatsd", "push"] {
            if !extra_config.contains(&format!("{key}:")) {
                intake.push_str(&format!("{key}: {{listen: \"127.0.0.1:0\"}}\n"));
            }
        }
        let config = format!(
            "hostname: test-host\ntags: [\"env:test\"]\nconf_d: conf.d\nchecks_d: [checks.d, {}]\n\
             data_dir: data\ndefaults: {{jitter: false}}\ncontrol: {{listen: \"127.0.0.1:0\"}}\n{extra_config}\n{intake}",
            guests_dir().display()
        );
        std::fs::write(dir.path().join("wasmon.yaml"), config).unwrap();
        Self { dir }
    }

    /// The agent config file.
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("wasmon.yaml")
    }

    /// Writes `conf.d/<name>.yaml`.
    pub fn check_config(&self, name: &str, yaml: &str) -> PathBuf {
        let path = self.dir.path().join("conf.d").join(format!("{name}.yaml"));
        std::fs::write(&path, yaml).unwrap();
        path
    }

    /// Writes `checks.d/<name>.wasm`.
    pub fn module(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self
            .dir
            .path()
            .join("checks.d")
            .join(format!("{name}.wasm"));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Runs `wasmon --config <this> ARGS` to completion.
    pub fn wasmon(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_wasmon"))
            .arg("--config")
            .arg(self.config())
            .args(args)
            .env("RUST_LOG", "info")
            .output()
            .expect("run wasmon")
    }

    /// The agent's data folder.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The running agent's API address and token, once it has written them.
    pub fn api(&self) -> (String, String) {
        let read = |name: &str| std::fs::read_to_string(self.data_dir().join(name)).ok();
        wait_for(Duration::from_secs(15), || {
            Some((read("control.addr")?, read("auth_token")?))
        })
        .expect("the agent wrote no control.addr and auth_token")
    }

    /// Starts `wasmon run --dry-run` in the background.
    pub fn start_agent(&self) -> Agent {
        self.start_agent_with(&["run", "--dry-run"])
    }

    /// Starts `wasmon ARGS` in the background.
    pub fn start_agent_with(&self, args: &[&str]) -> Agent {
        self.start_agent_env(args, &[])
    }

    /// Starts `wasmon ARGS` in the background with `env` added to its environment.
    pub fn start_agent_env(&self, args: &[&str], env: &[(&str, &str)]) -> Agent {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wasmon"))
            .arg("--config")
            .arg(self.config())
            .args(args)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start wasmon");
        let stdout = collect(child.stdout.take().expect("stdout"));
        let stderr = collect(child.stderr.take().expect("stderr"));
        Agent {
            child,
            stdout,
            stderr,
        }
    }
}

fn collect(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

/// A running agent; stopped with SIGTERM when dropped.
pub struct Agent {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Agent {
    /// Lines printed so far to standard output (the dry run).
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// Log lines so far.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits up to `limit` for a stdout line satisfying `pred`, polling.
    pub fn wait_for_stdout(&self, limit: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        wait_for(limit, || self.stdout().into_iter().find(|l| pred(l)))
    }

    /// Waits up to `limit` for a log line satisfying `pred`.
    pub fn wait_for_stderr(&self, limit: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        wait_for(limit, || self.stderr().into_iter().find(|l| pred(l)))
    }

    /// Waits (bounded, 30 s) until the `test.emit` instance whose series carry `fields` has run
    /// `runs` times in the stdout lines from index `from`, so a test measures a schedule by runs
    /// seen rather than by a sleep a slow machine can outlast.
    pub fn wait_for_runs(&self, from: usize, fields: &[&str], runs: usize) {
        let seen = wait_for(Duration::from_secs(30), || {
            let lines = self.stdout();
            let done = series(
                lines.get(from..).unwrap_or_default(),
                "test.emit.gauge",
                fields,
            );
            (done.len() >= runs).then_some(())
        });
        assert!(seen.is_some(), "{fields:?} did not run {runs} times");
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (bounded) for the process to exit by itself; its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        wait_for(limit, || self.child.try_wait().ok().flatten()).and_then(|s| s.code())
    }

    /// Kills the agent with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Let the readers take the last lines out of the pipes.
        thread::sleep(Duration::from_millis(300));
    }

    /// Sends `signal` (`HUP`, `TERM`, ...).
    pub fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status();
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit; returns whether it exited 0.
    pub fn stop(&mut self) -> bool {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        false
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `f` every 50 ms until it returns something or `limit` passes.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// A parsed dry-run series line: `name timestamp value tag=value ... kind=K`.
#[derive(Debug, Clone)]
pub struct Line {
    pub name: String,
    pub timestamp: f64,
    pub value: f64,
    pub fields: Vec<String>,
}

impl Line {
    /// Parses a series line; `None` for service checks and anything else.
    pub fn parse(line: &str) -> Option<Self> {
        let mut parts = line.split(' ');
        let name = parts.next()?.to_string();
        if name == "SERVICE_CHECK" {
            return None;
        }
        let timestamp = parts.next()?.parse().ok()?;
        let value = parts.next()?.parse().ok()?;
        Some(Self {
            name,
            timestamp,
            value,
            fields: parts.map(str::to_string).collect(),
        })
    }

    /// Whether it carries `key=value`.
    pub fn has(&self, field: &str) -> bool {
        self.fields.iter().any(|f| f == field)
    }
}

/// Series lines named `name` carrying every field in `fields`.
pub fn series(lines: &[String], name: &str, fields: &[&str]) -> Vec<Line> {
    lines
        .iter()
        .filter_map(|l| Line::parse(l))
        .filter(|l| l.name == name && fields.iter().all(|f| l.has(f)))
        .collect()
}

/// The instance whose series carry `fields` ran every second on the second (aligned), at least
/// `min_runs` times, without a gap or a skipped run, and each run started (by the guest's own
/// clock) within half a second of its scheduled time.
pub fn assert_runs_every_second(lines: &[String], fields: &[&str], min_runs: usize) {
    let runs: Vec<f64> = series(lines, "test.emit.gauge", fields)
        .iter()
        .map(|l| l.timestamp)
        .collect();
    assert!(
        runs.len() >= min_runs,
        "the healthy check ran {} times",
        runs.len()
    );
    for pair in runs.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            1.0,
            "a gap in the healthy check's runs: {runs:?}"
        );
    }
    assert!(
        runs.iter().all(|t| t.fract() == 0.0),
        "aligned runs are on whole seconds: {runs:?}"
    );
    let started = series(lines, "test.emit.started_ms", fields);
    // The newest run may be half printed when the lines are taken.
    assert!(
        started.len().abs_diff(runs.len()) <= 1,
        "every run says when it started: {} runs, {} starts",
        runs.len(),
        started.len()
    );
    for run in &started {
        let late_ms = run.value - run.timestamp * 1000.0;
        assert!(
            (0.0..500.0).contains(&late_ms),
            "a run scheduled at {} started {late_ms} ms late",
            run.timestamp
        );
    }
    let skipped = series(lines, "wasmon.check.skipped_runs", fields);
    assert!(!skipped.is_empty(), "no wasmon.check.skipped_runs");
    assert!(skipped.iter().all(|l| l.value == 0.0));
}
