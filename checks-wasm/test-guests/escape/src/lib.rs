//! Tries to leave its sandbox: read /etc/passwd, reach a TCP listener and a UDP socket (the
//! test's own, named in the config), and read another process's environment. Reports 1 for
//! each attempt that succeeded.

use serde::Deserialize;
use wasmon_sdk::{Check, CheckError, Descriptor, LogLevel, NoConfig, Output, files};

/// The instance config: where the test listens.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// A TCP listener's `host:port`.
    pub tcp: String,
    /// A UDP socket's `host:port`.
    pub udp: String,
}

/// The escape test check.
pub struct Escape {
    config: Instance,
}

fn attempt(out: &mut Output, name: &str, result: Result<String, String>) {
    let escaped = result.is_ok();
    let detail = result.unwrap_or_else(|e| e);
    wasmon_sdk::log(
        LogLevel::Info,
        &format!("{name}: escaped={escaped}: {detail}"),
    );
    out.gauge(
        &format!("test.escape.{name}"),
        f64::from(u8::from(escaped)),
        &[],
    );
}

impl Check for Escape {
    type InitConfig = NoConfig;
    type Instance = Instance;

    fn describe() -> Descriptor {
        Descriptor::new("escape", "1.0.0", 1, "tries to leave the sandbox")
    }

    fn init(_: NoConfig, config: Instance) -> Result<Self, CheckError> {
        Ok(Self { config })
    }

    fn run(&mut self, out: &mut Output) -> Result<(), CheckError> {
        attempt(
            out,
            "passwd",
            std::fs::read_to_string("/etc/passwd").map_err(|e| e.to_string()),
        );
        attempt(
            out,
            "tcp",
            std::net::TcpStream::connect(&self.config.tcp)
                .map(|_| "connected".into())
                .map_err(|e| e.to_string()),
        );
        attempt(
            out,
            "udp",
            std::net::UdpSocket::bind("0.0.0.0:0")
                .and_then(|socket| socket.send_to(b"escaped", &self.config.udp))
                .map(|n| format!("sent {n} bytes"))
                .map_err(|e| e.to_string()),
        );
        let environ = files::read(&["/proc/1/environ".to_string()]).remove(0);
        attempt(
            out,
            "environ",
            environ.map(|b| format!("{} bytes", b.len())),
        );
        let matched = files::read_matching("/proc/*/environ", 4096);
        attempt(
            out,
            "environ_glob",
            matched.and_then(|m| {
                if m.is_empty() {
                    Err("nothing matched".into())
                } else {
                    Ok(format!("{} files", m.len()))
                }
            }),
        );
        let granted = files::read(&["/proc/loadavg".to_string()]).remove(0);
        out.gauge(
            "test.escape.granted_read",
            f64::from(u8::from(granted.is_ok())),
            &[],
        );
        Ok(())
    }
}

wasmon_sdk::export_check!(Escape);
