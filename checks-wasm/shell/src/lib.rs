//! The shell check: runs the one command its instance grants (through the host's `exec`
//! capability; the check itself cannot start anything) and turns the output into series and
//! service checks, in one of four formats.

mod config;
mod formats;

use wasmon_sdk::{Check, CheckError, Descriptor, LogLevel, MetricKind, NoConfig, Output, exec};

pub use config::{Format, Instance};
use formats::{Parsed, Tcollector};

/// The shell check; keeps the last timestamp of each tcollector series.
pub struct Shell {
    config: Instance,
    tcollector: Tcollector,
}

impl Check for Shell {
    type InitConfig = NoConfig;
    type Instance = Instance;

    fn describe() -> Descriptor {
        Descriptor::new(
            "shell",
            env!("CARGO_PKG_VERSION"),
            15,
            "runs an allow-listed command: value lines, tcollector, Nagios plugins, Open-Falcon JSON",
        )
    }

    fn init(_: NoConfig, config: Instance) -> Result<Self, CheckError> {
        config.validate()?;
        Ok(Self {
            config,
            tcollector: Tcollector::default(),
        })
    }

    fn run(&mut self, out: &mut Output) -> Result<(), CheckError> {
        self.collect(out)
    }
}

impl Shell {
    /// Runs the command and turns what it did into series and service checks. A command that
    /// could not be started fails the run; a Nagios plugin's own service check also says
    /// UNKNOWN and why, as Nagios does.
    fn collect(&mut self, out: &mut Output) -> Result<(), CheckError> {
        let name = self.config.metric_name.as_deref().unwrap_or("shell");
        let outcome = match exec::run() {
            Ok(outcome) => outcome,
            Err(why) => {
                if self.config.format == Format::Nagios {
                    report(&formats::nagios::not_run(name, &why), out);
                }
                return Err(CheckError::Transient(why));
            }
        };
        let stdout = String::from_utf8_lossy(&outcome.stdout);
        if outcome.stdout_truncated {
            wasmon_sdk::log(LogLevel::Warn, "standard output passed its cap and was cut");
            out.count("wasmon.shell.output_truncated", 1.0, &[]);
        }
        let parsed = match self.config.format {
            Format::Value => formats::value::parse(&stdout, name),
            Format::Tcollector => self.tcollector.parse(&stdout),
            Format::Nagios => formats::nagios::parse(
                &stdout,
                &String::from_utf8_lossy(&outcome.stderr),
                name,
                outcome.exit_code,
                outcome.timed_out,
            ),
            Format::Json => formats::json::parse(&stdout),
        };
        report(&parsed, out);
        check_exit(&self.config.format, &outcome)
    }
}

/// Emits what was parsed, and counts and logs (once per run) the invalid lines.
fn report(parsed: &Parsed, out: &mut Output) {
    for p in &parsed.points {
        let tags: Vec<&str> = p.tags.iter().map(String::as_str).collect();
        match p.timestamp_ms {
            Some(at) => out.sample_at(&p.name, p.kind, p.value, &tags, at),
            None => out.sample(&p.name, p.kind, p.value, &tags),
        }
    }
    if let Some((name, status, message)) = &parsed.service_check {
        out.service_check(name, *status, message, &[]);
    }
    out.sample(
        "wasmon.shell.invalid_lines",
        MetricKind::Count,
        parsed.invalid.len() as f64,
        &[],
    );
    if let Some(first) = parsed.invalid.first() {
        wasmon_sdk::log(
            LogLevel::Warn,
            &format!(
                "{} invalid line(s); first: {:?}: {}",
                parsed.invalid.len(),
                first.line,
                first.reason
            ),
        );
    }
}

/// Whether the command's exit fails the run: a timeout always; a non-zero exit except for
/// Nagios plugins, whose exit code is their verdict; tcollector's exit 13 for good.
fn check_exit(format: &Format, outcome: &exec::Outcome) -> Result<(), CheckError> {
    if outcome.timed_out {
        return match format {
            Format::Nagios => Ok(()),
            _ => Err(CheckError::Transient(
                "the command timed out and was killed".into(),
            )),
        };
    }
    let code = outcome.exit_code.unwrap_or(-1);
    if code == 0 || *format == Format::Nagios {
        return Ok(());
    }
    let tail = stderr_tail(&outcome.stderr);
    if *format == Format::Tcollector && code == 13 {
        return Err(CheckError::Permanent(format!(
            "the collector exited 13: do not run it again; {tail}"
        )));
    }
    Err(CheckError::Transient(format!(
        "the command exited {code}: {tail}"
    )))
}

/// The last lines of stderr, at most 500 bytes, for an error message.
fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    let start = text.char_indices().rev().nth(499).map_or(0, |(i, _)| i);
    if text.is_empty() {
        "(no stderr)".into()
    } else {
        text[start..].to_string()
    }
}

wasmon_sdk::export_check!(Shell);

#[cfg(test)]
mod tests {
    use wasmon_sdk::Status;
    use wasmon_sdk::testing::exec as command;

    use super::*;

    fn outcome(code: Option<i32>, timed_out: bool, stderr: &str) -> exec::Outcome {
        exec::Outcome {
            exit_code: code,
            stdout: vec![],
            stderr: stderr.as_bytes().to_vec(),
            stdout_truncated: false,
            stderr_truncated: false,
            timed_out,
            duration_us: 0,
        }
    }

    #[test]
    fn exits_are_judged_by_format() {
        assert!(check_exit(&Format::Value, &outcome(Some(0), false, "")).is_ok());
        let e = check_exit(
            &Format::Value,
            &outcome(Some(2), false, "line1\nno such file\n"),
        );
        assert!(
            matches!(e, Err(CheckError::Transient(m)) if m == "the command exited 2: line1\nno such file")
        );
        assert!(check_exit(&Format::Nagios, &outcome(Some(2), false, "")).is_ok());
        assert!(matches!(
            check_exit(&Format::Tcollector, &outcome(Some(13), false, "")),
            Err(CheckError::Permanent(_))
        ));
        assert!(matches!(
            check_exit(&Format::Json, &outcome(None, true, "")),
            Err(CheckError::Transient(_))
        ));
        assert!(check_exit(&Format::Nagios, &outcome(None, true, "")).is_ok());
    }

    #[test]
    fn stderr_tail_keeps_the_end() {
        let long = format!("{}END", "x".repeat(2000));
        let tail = stderr_tail(long.as_bytes());
        assert_eq!(tail.len(), 500);
        assert!(tail.ends_with("END"));
        assert_eq!(stderr_tail(b""), "(no stderr)");
    }

    fn nagios(name: &str) -> Shell {
        Shell {
            config: Instance {
                metric_name: Some(name.into()),
                format: Format::Nagios,
            },
            tcollector: Tcollector::default(),
        }
    }

    #[test]
    fn a_plugin_that_cannot_start_is_unknown_and_fails_the_run() {
        let why = "cannot run `/usr/lib/nagios/plugins/check_foo`: No such file or directory (os error 2)";
        let mut out = Output::new(0);
        command::answer(Err(why.into()));
        let result = nagios("nagios.foo").run(&mut out);
        assert!(matches!(result, Err(CheckError::Transient(m)) if m == why));
        let sc = &out.service_checks()[0];
        assert_eq!(
            (sc.name.as_str(), sc.status, sc.message.as_str()),
            ("nagios.foo", Status::Unknown, why)
        );
        // Other formats have no service check of their own: the failed run says it all.
        let mut shell = nagios("x");
        shell.config.format = Format::Value;
        let mut out = Output::new(0);
        assert!(shell.run(&mut out).is_err());
        assert!(out.service_checks().is_empty());
    }

    #[test]
    fn a_plugin_a_shell_cannot_find_is_unknown() {
        let mut out = Output::new(0);
        command::answer(Ok(command::exited(
            127,
            "",
            "sh: 1: /opt/check_foo: not found\n",
        )));
        nagios("nagios.foo").run(&mut out).unwrap();
        let sc = &out.service_checks()[0];
        assert_eq!(sc.status, Status::Unknown);
        assert!(
            sc.message.ends_with("/opt/check_foo: not found"),
            "{}",
            sc.message
        );
    }

    #[test]
    fn tcollector_lines_carry_their_own_time_and_never_go_back() {
        let mut shell = nagios("unused");
        shell.config.format = Format::Tcollector;
        let mut ran = |stdout: &str| {
            command::answer(Ok(command::exited(0, stdout, "")));
            let mut out = Output::new(99_000);
            shell.run(&mut out).map(|()| out)
        };
        let out = ran("app.queue 1700000000 7 q=a\n").unwrap();
        let s = &out.samples()[0];
        assert_eq!(
            (s.name.as_str(), s.value, s.timestamp_ms, s.tags.clone()),
            (
                "app.queue",
                7.0,
                Some(1_700_000_000_000),
                vec!["q:a".to_string()]
            )
        );
        let out = ran("app.queue 1699999999 8 q=a\n").unwrap();
        assert!(
            out.samples().iter().all(|s| s.name != "app.queue"),
            "a point older than the last is refused: {:?}",
            out.samples()
        );
    }
}
