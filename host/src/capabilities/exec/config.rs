//! The command an instance may run: `command:` (a string or an argument list) and its `exec:`
//! options, validated into a [`CommandGrant`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::Exec;
use crate::capabilities::{Capability, Grantable};

/// The instance's `command:` and `exec:`, as written.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExecKeys {
    /// The one command the instance may run.
    #[serde(default)]
    pub command: Option<CommandLine>,
    /// How that command runs.
    #[serde(default)]
    pub exec: Option<ExecOptions>,
}

impl Grantable for Exec {
    const CAPABILITY: Capability = super::EXEC;
    const HOST_KEYS: &'static [&'static str] = &["command", "exec"];
    type Config = ExecKeys;
    type Granted = Option<CommandGrant>;

    fn parse(keys: &ExecKeys) -> Result<Option<CommandGrant>, Vec<(String, String)>> {
        match (&keys.command, &keys.exec) {
            (Some(command), exec) => {
                CommandGrant::parse(command, &exec.clone().unwrap_or_default()).map(Some)
            }
            (None, Some(_)) => Err(vec![(
                "exec".into(),
                "is set but there is no `command` to run".into(),
            )]),
            (None, None) => Ok(None),
        }
    }

    fn describe(granted: &Option<CommandGrant>) -> Vec<String> {
        granted
            .iter()
            .map(|c| format!("run `{}` (timeout {:?})", c.display(), c.timeout))
            .collect()
    }
}

/// `command:` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CommandLine {
    /// A command line, split like a shell would (or given to `/bin/sh -c` with `shell: true`).
    Line(String),
    /// The argument vector itself.
    Argv(Vec<String>),
}

/// `exec:` as written: how the command runs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecOptions {
    /// Run the command line with `/bin/sh -c` instead of as an argument vector.
    pub shell: bool,
    /// Environment of the command (otherwise empty but for a default `PATH`).
    pub env: BTreeMap<String, String>,
    /// Working folder.
    pub cwd: Option<PathBuf>,
    /// Run as this user (the agent must be root to switch).
    pub user: Option<String>,
    /// Seconds before the command and its whole process group are killed (default 10).
    pub timeout: Option<f64>,
    /// Bytes of stdout and of stderr kept (default 1 MiB each); the rest is cut and reported.
    pub max_output_bytes: Option<usize>,
}

/// `PATH` given to commands whose config sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_MAX_OUTPUT: usize = 1024 * 1024;

/// A validated command grant.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandGrant {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// The full environment of the command.
    pub env: BTreeMap<String, String>,
    /// Working folder.
    pub cwd: Option<PathBuf>,
    /// User and group ids to switch to.
    pub ids: Option<(u32, u32)>,
    /// When to kill it.
    pub timeout: Duration,
    /// Cap on each of stdout and stderr.
    pub max_output_bytes: usize,
}

impl CommandGrant {
    /// Validates `command` and `exec`; each problem is `(field, message)`.
    pub fn parse(command: &CommandLine, exec: &ExecOptions) -> Result<Self, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let argv = match (command, exec.shell) {
            (CommandLine::Line(line), true) => vec!["/bin/sh".into(), "-c".into(), line.clone()],
            (CommandLine::Line(line), false) => shell_words::split(line).unwrap_or_else(|e| {
                errors.push(("command".into(), format!("{line:?}: {e}")));
                Vec::new()
            }),
            (CommandLine::Argv(_), true) => {
                errors.push((
                    "exec.shell".into(),
                    "with `shell: true`, give `command` as one string".into(),
                ));
                Vec::new()
            }
            (CommandLine::Argv(argv), false) => argv.clone(),
        };
        if errors.is_empty() && argv.first().is_none_or(|p| p.is_empty()) {
            errors.push((
                "command".into(),
                "is empty: expected a program and its arguments".into(),
            ));
        }
        let mut env = exec.env.clone();
        env.entry("PATH".into())
            .or_insert_with(|| DEFAULT_PATH.into());
        let ids = exec
            .user
            .as_ref()
            .and_then(|name| match nix::unistd::User::from_name(name) {
                Ok(Some(user)) => Some((user.uid.as_raw(), user.gid.as_raw())),
                Ok(None) => {
                    errors.push(("exec.user".into(), format!("no user {name:?} on this host")));
                    None
                }
                Err(e) => {
                    errors.push((
                        "exec.user".into(),
                        format!("cannot look up user {name:?}: {e}"),
                    ));
                    None
                }
            });
        let timeout = match exec.timeout {
            None => DEFAULT_TIMEOUT,
            Some(t) if (0.01..=86_400.0).contains(&t) => Duration::from_secs_f64(t),
            Some(t) => {
                errors.push((
                    "exec.timeout".into(),
                    format!("{t}: expected seconds between 0.01 and 86400"),
                ));
                DEFAULT_TIMEOUT
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            argv,
            env,
            cwd: exec.cwd.clone(),
            ids,
            timeout,
            max_output_bytes: exec.max_output_bytes.unwrap_or(DEFAULT_MAX_OUTPUT),
        })
    }

    /// The command line, for logs and `configcheck`.
    pub fn display(&self) -> String {
        shell_words::join(&self.argv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(
        command: CommandLine,
        exec: ExecOptions,
    ) -> Result<CommandGrant, Vec<(String, String)>> {
        CommandGrant::parse(&command, &exec)
    }

    #[test]
    fn lines_are_split_or_given_to_the_shell() {
        let g = parse(
            CommandLine::Line("grep -c 'an error' /var/log/x".into()),
            ExecOptions::default(),
        )
        .unwrap();
        assert_eq!(g.argv, ["grep", "-c", "an error", "/var/log/x"]);
        assert_eq!(g.env["PATH"], DEFAULT_PATH);
        assert_eq!(g.timeout, Duration::from_secs(10));
        assert_eq!(g.max_output_bytes, 1 << 20);
        let shell = ExecOptions {
            shell: true,
            ..Default::default()
        };
        let g = parse(CommandLine::Line("a | b".into()), shell).unwrap();
        assert_eq!(g.argv, ["/bin/sh", "-c", "a | b"]);
        assert_eq!(g.display(), "/bin/sh -c 'a | b'");
    }

    #[test]
    fn problems_are_named() {
        let e = parse(
            CommandLine::Line("echo 'open".into()),
            ExecOptions::default(),
        )
        .unwrap_err();
        assert_eq!(e[0].0, "command");
        let e = parse(CommandLine::Argv(vec![]), ExecOptions::default()).unwrap_err();
        assert!(e[0].1.contains("is empty"));
        let opts = ExecOptions {
            shell: true,
            user: Some("no-such-user-here".into()),
            timeout: Some(0.0),
            ..Default::default()
        };
        let e = parse(CommandLine::Argv(vec!["x".into()]), opts).unwrap_err();
        let fields: Vec<_> = e.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["exec.shell", "exec.user", "exec.timeout"]);
    }

    #[test]
    fn configured_env_replaces_the_default_path() {
        let opts = ExecOptions {
            env: BTreeMap::from([("PATH".into(), "/opt".into()), ("A".into(), "1".into())]),
            ..Default::default()
        };
        let g = parse(CommandLine::Line("x".into()), opts).unwrap();
        assert_eq!(g.env.len(), 2);
        assert_eq!(g.env["PATH"], "/opt");
    }
}
