//! Tries to leave its sandbox: read /etc/passwd, open a TCP socket, run a program, and read
//! another process's environment. Reports 1 for each attempt that succeeded.

use wasmon_sdk::{Check, CheckError, Descriptor, LogLevel, NoConfig, Output, files};

/// The escape test check.
pub struct Escape;

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
    type Instance = NoConfig;

    fn describe() -> Descriptor {
        Descriptor::new("escape", "1.0.0", 1, "tries to leave the sandbox")
    }

    fn init(_: NoConfig, _: NoConfig) -> Result<Self, CheckError> {
        Ok(Self)
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
            std::net::TcpStream::connect("127.0.0.1:22")
                .map(|_| "connected".into())
                .map_err(|e| e.to_string()),
        );
        attempt(
            out,
            "spawn",
            std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg("true")
                .status()
                .map(|s| s.to_string())
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
