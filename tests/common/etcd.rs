//! A throwaway etcd (Debian's `etcd-server`) on loopback ports with its data in a temporary
//! folder, stopped and started again on the same data for outage tests.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::mariadb::free_port;
use super::{http, wait_for};

/// A running one-member etcd; killed when dropped.
pub struct Etcd {
    /// Its client URL, `http://127.0.0.1:port`.
    pub url: String,
    client: String,
    peer: String,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Etcd {
    /// Starts one with an empty data folder.
    pub fn start() -> Self {
        let client = format!("127.0.0.1:{}", free_port());
        let mut etcd = Self {
            url: format!("http://{client}"),
            client,
            peer: format!("http://127.0.0.1:{}", free_port()),
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        etcd.restart();
        etcd
    }

    /// Starts it again on the same ports and data (after [`stop`](Self::stop)).
    pub fn restart(&mut self) {
        let child = Command::new("etcd")
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(["--listen-client-urls", &self.url])
            .args(["--advertise-client-urls", &self.url])
            .args(["--listen-peer-urls", &self.peer])
            .args(["--initial-advertise-peer-urls", &self.peer])
            .args(["--initial-cluster", &format!("default={}", self.peer)])
            .args(["--log-level", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start etcd (Debian package etcd-server; `cargo xtask test` installs it)");
        self.child = Some(child);
        let up = wait_for(Duration::from_secs(30), || {
            std::net::TcpStream::connect(&self.client)
                .is_ok()
                .then(|| http(&self.client, "GET", "/health", None, None))
                .filter(|(code, body)| *code == 200 && body.contains("true"))
        });
        assert!(up.is_some(), "etcd did not start");
    }

    /// Stops it as a crash would (SIGKILL) and waits.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}
