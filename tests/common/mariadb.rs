//! A throwaway MariaDB server (Debian's `mariadb-server`) on a loopback port, with its data
//! folder in a temporary directory, for the mysql check's tests.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::wait_for;

/// A running server; killed when dropped.
pub struct MariaDb {
    /// Its loopback port.
    pub port: u16,
    /// Its Unix socket (root logs in through it without a password).
    pub socket: PathBuf,
    /// The data folder, pid file and logs.
    pub dir: tempfile::TempDir,
    args: Vec<String>,
    child: Option<Child>,
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl MariaDb {
    /// Installs a fresh data folder and starts the server with `args` added (such as
    /// `--log-bin`), waiting until it answers.
    pub fn start(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        // Each server its own temporary folder: servers set up at once in a shared /tmp
        // collided on their temporary tables.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).expect("temp dir");
        let mut install = Command::new("mariadb-install-db");
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"]);
        if is_root() {
            install.arg("--user=root");
        }
        let out = install.output().expect(
            "mariadb-install-db (Debian package mariadb-server; `cargo xtask test` installs it)",
        );
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let socket = dir.path().join("mysqld.sock");
        let mut all = vec![
            "--no-defaults".to_string(),
            format!("--datadir={}", data.display()),
            format!("--tmpdir={}", tmp.display()),
            format!("--port={port}"),
            "--bind-address=127.0.0.1".into(),
            format!("--socket={}", socket.display()),
            format!("--pid-file={}", dir.path().join("mariadbd.pid").display()),
            format!("--log-error={}", dir.path().join("error.log").display()),
            "--skip-name-resolve".into(),
            "--innodb-buffer-pool-size=32M".into(),
        ];
        if is_root() {
            all.push("--user=root".into());
        }
        all.extend(args.iter().map(|a| a.to_string()));
        let mut server = Self {
            port,
            socket,
            dir,
            args: all,
            child: None,
        };
        server.restart();
        server
    }

    /// Starts the server again (after [`stop`](Self::stop)) on the same port and data.
    pub fn restart(&mut self) {
        let child = Command::new("mariadbd")
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        self.child = Some(child);
        let socket = self.socket.clone();
        let up = wait_for(Duration::from_secs(60), || {
            let ok = Command::new("mariadb")
                .args(["--no-defaults", "-uroot", "-S"])
                .arg(&socket)
                .args(["-e", "SELECT 1"])
                .output()
                .is_ok_and(|o| o.status.success());
            ok.then_some(())
        });
        assert!(up.is_some(), "MariaDB did not start: {}", self.error_log());
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs SQL as root; the output rows, tab-separated, without headers.
    pub fn sql(&self, statement: &str) -> String {
        let out = Command::new("mariadb")
            .args(["--no-defaults", "-uroot", "-N", "-B", "-S"])
            .arg(&self.socket)
            .args(["-e", statement])
            .output()
            .expect("run the mariadb client");
        assert!(
            out.status.success(),
            "{statement}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// One global status variable.
    pub fn status(&self, name: &str) -> f64 {
        let row = self.sql(&format!("SHOW GLOBAL STATUS LIKE '{name}'"));
        row.split('\t')
            .nth(1)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no status variable {name}: {row:?}"))
    }

    /// The server's error log, for failure messages.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// Makes this server a replica of `source` (which must run with `--log-bin`) and waits
    /// until both replica threads run.
    pub fn replicate_from(&self, source: &MariaDb) {
        source.sql(
            "CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'repl-pass'; \
             GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'",
        );
        self.sql(&format!(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='repl', \
             MASTER_PASSWORD='repl-pass', MASTER_USE_GTID=slave_pos; START SLAVE",
            source.port
        ));
        // `Slave_running` is ON once both replica threads run.
        let running = wait_for(Duration::from_secs(60), || {
            self.sql("SHOW GLOBAL STATUS LIKE 'Slave_running'")
                .contains("ON")
                .then_some(())
        });
        assert!(
            running.is_some(),
            "replication did not start: {}",
            self.sql("SHOW SLAVE STATUS")
        );
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.stop();
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
