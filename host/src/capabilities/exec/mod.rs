//! `wasmon:check/exec`: runs the instance's one granted command, never anything else. No shell
//! unless configured, a cleared environment, its own process group (killed whole at the
//! timeout, and after exit so nothing is left behind), and capped output.

mod config;
mod v0_1;

use std::process::Stdio;
use std::time::Instant;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::{Capability, Grant, Link};
use crate::runtime::bindings::{link_interfaces, newest_wit};
use crate::runtime::{HostState, wit};
pub use config::{CommandGrant, CommandLine, ExecKeys, ExecOptions};
use wit::exec::Outcome;

/// The exec capability, as registered.
pub struct Exec;

/// Running the instance's one `command:`.
pub const EXEC: Capability = Capability {
    interfaces: &["exec"],
    grant: Some(Grant {
        granted: |grants| grants.exec.is_some(),
        missing: "command",
        hint: "command: ...",
    }),
    always_linked: false,
    link: Link::PerVersion(|linker, version| link_interfaces!(linker, version, exec)),
    worlds: &["command-check", "full-check"],
    wit: Some(newest_wit!("exec.wit")),
};

impl wit::exec::Host for HostState {
    async fn run(&mut self) -> Result<Outcome, String> {
        let Some(grant) = self.capabilities.grants.exec.clone() else {
            return Err("no command is granted to this instance".into());
        };
        let started = Instant::now();
        let outcome = run_command(&grant).await;
        self.output.host_time += started.elapsed();
        let outcome = outcome?;
        for line in String::from_utf8_lossy(&outcome.stderr)
            .lines()
            .filter(|l| !l.trim().is_empty())
        {
            self.log_line(tracing::Level::WARN, &format!("stderr: {line}"));
        }
        if outcome.timed_out {
            tracing::warn!(instance = &*self.label, command = %grant.display(), "command killed at its timeout of {:?}", grant.timeout);
        }
        Ok(outcome)
    }
}

/// Runs a granted command to completion or to its timeout.
pub async fn run_command(grant: &CommandGrant) -> Result<Outcome, String> {
    let mut command = Command::new(&grant.argv[0]);
    command
        .args(&grant.argv[1..])
        .env_clear()
        .envs(&grant.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = &grant.cwd {
        command.current_dir(cwd);
    }
    if let Some((uid, gid)) = grant.ids {
        command.uid(uid).gid(gid);
    }
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run `{}`: {e}", grant.display()))?;
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let cap = grant.max_output_bytes;
    let ((out, err), waited) = tokio::join!(
        async { tokio::join!(read_capped(stdout, cap), read_capped(stderr, cap)) },
        async {
            let waited = tokio::time::timeout(grant.timeout, child.wait()).await;
            // The whole group: children of a timed-out command, or left behind by one that exited.
            if let Some(group) = group {
                let _ = killpg(group, Signal::SIGKILL);
            }
            if waited.is_err() {
                let _ = child.wait().await;
            }
            waited
        }
    );
    let duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let (exit_code, timed_out) = match waited {
        Ok(Ok(status)) => (status.code(), false),
        Ok(Err(e)) => return Err(format!("waiting for `{}` failed: {e}", grant.display())),
        Err(_) => (None, true),
    };
    Ok(Outcome {
        exit_code,
        stdout: out.0,
        stdout_truncated: out.1,
        stderr: err.0,
        stderr_truncated: err.1,
        timed_out,
        duration_us,
    })
}

/// Reads a pipe to its end, keeping at most `cap` bytes; says whether more came.
async fn read_capped(pipe: Option<impl AsyncRead + Unpin>, cap: usize) -> (Vec<u8>, bool) {
    let Some(mut pipe) = pipe else {
        return (Vec::new(), false);
    };
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => return (kept, truncated),
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
                truncated |= n > room;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn grant(line: &str, exec: ExecOptions) -> CommandGrant {
        CommandGrant::parse(&CommandLine::Line(line.into()), &exec).unwrap()
    }

    fn shell() -> ExecOptions {
        ExecOptions {
            shell: true,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn output_and_exit_code() {
        let o = run_command(&grant("echo out; echo err >&2; exit 3", shell()))
            .await
            .unwrap();
        assert_eq!(o.exit_code, Some(3));
        assert_eq!(o.stdout, b"out\n");
        assert_eq!(o.stderr, b"err\n");
        assert!(!o.timed_out && !o.stdout_truncated);
    }

    #[tokio::test]
    async fn environment_is_cleared_but_for_what_is_configured() {
        // The test's own environment (cargo sets CARGO_* for it) must not reach the command.
        let inherited: Vec<String> = std::env::vars()
            .map(|(name, _)| name)
            .filter(|name| name != "PATH")
            .collect();
        assert!(!inherited.is_empty(), "the test has no environment to leak");
        let o = run_command(&grant("env", ExecOptions::default()))
            .await
            .unwrap();
        let env = String::from_utf8(o.stdout).unwrap();
        for name in &inherited {
            assert!(
                !env.lines().any(|l| l.starts_with(&format!("{name}="))),
                "{name} leaked: {env}"
            );
        }
        let exec = ExecOptions {
            env: BTreeMap::from([("GREETING".into(), "hi".into())]),
            ..Default::default()
        };
        let o = run_command(&grant("env", exec)).await.unwrap();
        let env = String::from_utf8(o.stdout).unwrap();
        assert!(
            env.contains("GREETING=hi") && env.contains("PATH="),
            "{env}"
        );
    }

    #[tokio::test]
    async fn output_past_the_cap_is_cut_and_reported() {
        let exec = ExecOptions {
            max_output_bytes: Some(1000),
            ..shell()
        };
        let o = run_command(&grant("head -c 100000 /dev/zero", exec))
            .await
            .unwrap();
        assert_eq!(o.stdout.len(), 1000);
        assert!(o.stdout_truncated);
        assert_eq!(o.exit_code, Some(0));
    }

    #[tokio::test]
    async fn a_hanging_command_times_out() {
        // That its children die too is tested end to end in tests/shell_check.rs.
        let exec = ExecOptions {
            timeout: Some(0.2),
            ..shell()
        };
        let o = run_command(&grant("sleep 5", exec)).await.unwrap();
        assert!(o.timed_out);
        assert_eq!(o.exit_code, None);
    }

    #[tokio::test]
    async fn runs_as_the_configured_user_and_folder() {
        if !nix::unistd::geteuid().is_root() {
            // CI runs as root: there this test must run, never skip.
            assert!(
                std::env::var_os("CI").is_none(),
                "switching user needs root, and CI runs as root"
            );
            eprintln!("SKIPPED runs_as_the_configured_user_and_folder: switching user needs root");
            return;
        }
        let exec = ExecOptions {
            user: Some("nobody".into()),
            cwd: Some("/tmp".into()),
            ..shell()
        };
        let o = run_command(&grant("id -u; pwd", exec)).await.unwrap();
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap().uid;
        assert_eq!(
            String::from_utf8(o.stdout).unwrap(),
            format!("{nobody}\n/tmp\n")
        );
    }

    #[tokio::test]
    async fn a_missing_program_is_an_error() {
        let e = run_command(&grant("/no/such/program", ExecOptions::default()))
            .await
            .unwrap_err();
        assert!(e.contains("cannot run `/no/such/program`"), "{e}");
    }
}
