//! A throwaway OCI registry (Debian's `docker-registry`) on a loopback port with its storage in
//! a temporary folder, minisign keys made by Debian's `minisign`, and a proxy in front that
//! can answer 500s or stall, to play a failing registry.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use super::mariadb::free_port;
use super::{http, wait_for};

/// A running registry; killed when dropped.
pub struct Registry {
    /// `127.0.0.1:port`.
    pub addr: String,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Registry {
    /// Starts one with empty storage, open to anyone.
    pub fn start() -> Self {
        Self::start_with(|_| String::new())
    }

    /// Starts one that asks for `user`'s `password` (HTTP basic, an htpasswd file made by
    /// Debian's `htpasswd`).
    pub fn start_with_user(user: &str, password: &str) -> Self {
        Self::start_with(|dir| {
            let file = dir.join("htpasswd");
            let made = Command::new("htpasswd")
                .arg("-Bbc")
                .arg(&file)
                .args([user, password])
                .output()
                .expect(
                    "run htpasswd (Debian package apache2-utils; `cargo xtask test` installs it)",
                );
            assert!(
                made.status.success(),
                "{}",
                String::from_utf8_lossy(&made.stderr)
            );
            format!(
                "auth: {{htpasswd: {{realm: wasmon-test, path: {}}}}}\n",
                file.display()
            )
        })
    }

    /// Starts one with `extra` (given the registry's folder) added to its config.
    fn start_with(extra: impl FnOnce(&Path) -> String) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let extra = extra(dir.path());
        let addr = format!("127.0.0.1:{}", free_port());
        let config = format!(
            "version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  \
             delete: {{enabled: true}}\nhttp: {{addr: \"{addr}\"}}\n{extra}",
            dir.path().join("storage").display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let mut registry = Self {
            addr,
            dir,
            child: None,
        };
        registry.restart();
        registry
    }

    /// Starts it again on the same port and storage (after [`stop`](Self::stop)).
    pub fn restart(&mut self) {
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry (Debian package; `cargo xtask test` installs it)");
        self.child = Some(child);
        let up = wait_for(Duration::from_secs(30), || {
            TcpStream::connect(&self.addr)
                .is_ok()
                .then(|| http(&self.addr, "GET", "/v2/", None, None))
                .filter(|(code, _)| matches!(code, 200 | 401))
        });
        assert!(up.is_some(), "docker-registry did not start");
    }

    /// Stops it as a crash would.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The file the registry serves blob `digest` from, to tamper with.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A minisign key pair made by Debian's `minisign`, without a password.
pub struct Keys {
    /// The public key file.
    pub public: PathBuf,
    /// The secret key file.
    pub secret: PathBuf,
}

impl Keys {
    /// Makes a pair in `dir` named `name`.
    pub fn generate(dir: &Path, name: &str) -> Self {
        let keys = Self {
            public: dir.join(format!("{name}.pub")),
            secret: dir.join(format!("{name}.key")),
        };
        let made = Command::new("minisign")
            .args(["-G", "-W", "-f", "-p"])
            .arg(&keys.public)
            .arg("-s")
            .arg(&keys.secret)
            .output()
            .expect("run minisign (Debian package; `cargo xtask test` installs it)");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        keys
    }

    /// A signature over `message` (a digest, `sha256:<hex>`), made by `minisign`.
    pub fn sign(&self, dir: &Path, message: &str) -> String {
        let file = dir.join("message");
        std::fs::write(&file, message).unwrap();
        let sig = dir.join("message.minisig");
        let made = Command::new("minisign")
            .arg("-S")
            .arg("-s")
            .arg(&self.secret)
            .arg("-m")
            .arg(&file)
            .arg("-x")
            .arg(&sig)
            .output()
            .expect("run minisign");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        std::fs::read_to_string(sig).unwrap()
    }
}

/// How the proxy answers.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(u8)]
pub enum Mode {
    /// Forwards to the registry.
    Pass = 0,
    /// Answers every request with 500.
    Fail = 1,
    /// Holds every request for a minute before forwarding it.
    Stall = 2,
    /// Plays a registry with the referrers API and no signature tags: answers referrers from
    /// the `sha256-<hex>.sig` tags, which it hides.
    Referrers = 3,
}

/// A proxy on its own loopback port in front of a registry.
pub struct Proxy {
    /// `127.0.0.1:port`.
    pub addr: String,
    mode: Arc<AtomicU8>,
    /// Requests seen.
    pub requests: Arc<std::sync::atomic::AtomicU64>,
}

impl Proxy {
    /// Starts forwarding to `upstream`.
    pub fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let mode = Arc::new(AtomicU8::new(Mode::Pass as u8));
        let requests = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (m, r, upstream) = (mode.clone(), requests.clone(), upstream.to_string());
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let (m, upstream) = (m.load(Ordering::Relaxed), upstream.clone());
                r.fetch_add(1, Ordering::Relaxed);
                std::thread::spawn(move || serve(client, &upstream, m));
            }
        });
        Self {
            addr,
            mode,
            requests,
        }
    }

    /// Changes how it answers from the next connection on.
    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::Relaxed);
    }
}

/// Answers one connection's first request, then closes it.
fn serve(mut client: TcpStream, upstream: &str, mode: u8) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(request) = read_request(&mut client) else {
        return;
    };
    if mode == Mode::Fail as u8 {
        let _ = client.write_all(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    if mode == Mode::Stall as u8 {
        std::thread::sleep(Duration::from_secs(60));
    }
    if mode == Mode::Referrers as u8 {
        let line = String::from_utf8_lossy(&request)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        let path = line.split(' ').nth(1).unwrap_or_default();
        if path.contains("/manifests/sha256-") && path.ends_with(".sig") {
            let _ = client.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        }
        if let Some((repository, subject)) = path.split_once("/referrers/") {
            let subject = subject.split('?').next().unwrap_or_default();
            let _ = client.write_all(referrers(upstream, repository, subject).as_bytes());
            return;
        }
    }
    let Ok(mut server) = TcpStream::connect(upstream) else {
        return;
    };
    // One request per connection, both ways.
    let text = String::from_utf8_lossy(&request);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let head: Vec<&str> = head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    let forwarded = format!("{}\r\nConnection: close\r\n\r\n{body}", head.join("\r\n"));
    let _ = server.write_all(forwarded.as_bytes());
    let mut response = Vec::new();
    let _ = server.read_to_end(&mut response);
    let _ = client.write_all(&response);
}

/// An OCI index of the signature the registry holds under `subject`'s tag, as the referrers
/// API would answer.
fn referrers(upstream: &str, repository: &str, subject: &str) -> String {
    let tag = format!("{}.sig", subject.replace(':', "-"));
    let mut server = TcpStream::connect(upstream).expect("the registry");
    let head = format!(
        "HEAD {repository}/manifests/{tag} HTTP/1.1\r\nHost: {upstream}\r\nAccept: \
         application/vnd.oci.image.manifest.v1+json\r\nConnection: close\r\n\r\n"
    );
    server.write_all(head.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = server.read_to_string(&mut response);
    let found = response.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("docker-content-digest")
            .then(|| value.trim().to_string())
    });
    let manifests = found.map_or(String::new(), |digest| {
        format!(
            r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{digest}","size":1,"artifactType":"application/vnd.wasmon.signature.v1+minisign"}}"#
        )
    });
    let body = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{manifests}]}}"#
    );
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.index.v1+json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Reads one request: its head and a `Content-Length` body.
fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut buf = [0; 8192];
    loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while data.len() < end + 4 + length {
                let n = stream.read(&mut buf).ok()?;
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..n]);
            }
            return Some(data);
        }
    }
}
