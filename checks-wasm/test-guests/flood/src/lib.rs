//! Floods the host, as its config says: log lines, printed lines, service checks, metadata,
//! long-tagged samples, and a forged `host:` tag. A hostile check for the run limits' tests.

use serde::Deserialize;
use wasmon_sdk::{Check, CheckError, Descriptor, LogLevel, NoConfig, Output, Status};

/// The instance config: how much of each to send per run.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Instance {
    /// Log lines through `emit.log`, each `log_bytes` long.
    pub log_lines: u32,
    /// Length of each log line.
    pub log_bytes: u32,
    /// Send the same log line every time instead of distinct ones.
    pub same_line: bool,
    /// Lines printed to standard output.
    pub print_lines: u32,
    /// Service checks.
    pub service_checks: u32,
    /// Metadata entries, each value `metadata_bytes` long.
    pub metadata: u32,
    /// Length of each metadata value.
    pub metadata_bytes: u32,
    /// Samples, each with one tag `tag_bytes` long.
    pub samples: u32,
    /// Length of each sample's tag.
    pub tag_bytes: u32,
    /// A `host:` tag on `test.flood.forged`.
    pub host_tag: Option<String>,
}

/// The flood test check.
pub struct Flood {
    config: Instance,
}

impl Check for Flood {
    type InitConfig = NoConfig;
    type Instance = Instance;

    fn describe() -> Descriptor {
        Descriptor::new("flood", "1.0.0", 1, "floods the host for tests")
    }

    fn init(_: NoConfig, config: Instance) -> Result<Self, CheckError> {
        Ok(Self { config })
    }

    fn run(&mut self, out: &mut Output) -> Result<(), CheckError> {
        let c = &self.config;
        let filler = |n: u32| "x".repeat(n as usize);
        let line = filler(c.log_bytes);
        for i in 0..c.log_lines {
            if c.same_line {
                wasmon_sdk::log(LogLevel::Warn, &line);
            } else {
                wasmon_sdk::log(LogLevel::Warn, &format!("{i} {line}"));
            }
        }
        for i in 0..c.print_lines {
            println!("printed {i}");
        }
        for i in 0..c.service_checks {
            out.service_check("test.flood.check", Status::Ok, &format!("{i}"), &[]);
        }
        let value = filler(c.metadata_bytes);
        for i in 0..c.metadata {
            wasmon_sdk::metadata(&format!("key{i}"), &value);
        }
        let tag = format!("t:{}", filler(c.tag_bytes));
        for i in 0..c.samples {
            out.gauge(
                "test.flood.sample",
                f64::from(i),
                &[&tag, &format!("n:{i}")],
            );
        }
        if let Some(host) = &c.host_tag {
            out.gauge("test.flood.forged", 1.0, &[&format!("host:{host}")]);
        }
        out.gauge("test.flood.ran", 1.0, &[]);
        Ok(())
    }
}

wasmon_sdk::export_check!(Flood);
