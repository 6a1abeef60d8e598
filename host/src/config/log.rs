//! `log:` of `wasmon.yaml`: the agent's own log.

use std::path::PathBuf;

use serde::Deserialize;

/// How and where the agent logs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `error`, `warn`, `info`, `debug`, `trace`, or `RUST_LOG`'s directives
    /// (`info,wasmon::check=warn`); `RUST_LOG` itself wins when set.
    pub level: String,
    /// `text` or `json` (one object a line).
    pub format: LogFormat,
    /// A file instead of standard error, for hosts without journald.
    pub file: Option<LogFile>,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
            file: None,
        }
    }
}

/// The log's format.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One line of text an event.
    #[default]
    Text,
    /// One JSON object a line, fields (such as a check's `instance`) included.
    Json,
}

/// A log file rotated by size.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogFile {
    /// The file; relative paths are taken from the folder of `wasmon.yaml`.
    pub path: PathBuf,
    /// KiB a file may grow to before it becomes `<path>.1` (and `.1` becomes `.2`, ...).
    #[serde(default = "default_max_size_kib")]
    pub max_size_kib: u32,
    /// Rotated files kept besides the current one.
    #[serde(default = "default_keep")]
    pub keep: usize,
}

fn default_max_size_kib() -> u32 {
    10 * 1024
}

fn default_keep() -> usize {
    5
}

impl LogConfig {
    /// What is wrong with it, as `(field, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        // Each directive is a level or `target=level` (a bare word would be taken as a target
        // and log nothing of the rest).
        let levels_ok = self.level.split(',').all(|directive| {
            let level = directive
                .rsplit_once('=')
                .map_or(directive, |(_, level)| level);
            level
                .trim()
                .parse::<tracing_subscriber::filter::LevelFilter>()
                .is_ok()
        });
        if !levels_ok {
            problems.push((
                "log.level".into(),
                format!(
                    "{:?}: expected error, warn, info, debug, trace or off, or `target=level` \
                     directives separated by commas",
                    self.level
                ),
            ));
        }
        if let Some(file) = &self.file {
            if file.max_size_kib == 0 {
                problems.push((
                    "log.file.max_size_kib".into(),
                    "0: expected at least 1".into(),
                ));
            }
            if file.keep == 0 {
                problems.push(("log.file.keep".into(), "0: expected at least 1".into()));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_sizes_are_checked() {
        let log: LogConfig =
            serde_yaml::from_str("{level: loud, file: {path: x, keep: 0}}").unwrap();
        let fields: Vec<String> = log.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["log.level", "log.file.keep"]);
        let log: LogConfig =
            serde_yaml::from_str("{level: 'info,wasmon::check=warn', format: json}").unwrap();
        assert!(log.problems().is_empty());
        assert_eq!(log.format, LogFormat::Json);
    }
}
