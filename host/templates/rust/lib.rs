//! {{name}}: the 1, 5 and 15 minute load averages from `/proc/loadavg`.

use serde::Deserialize;
use wasmon_sdk::{Check, CheckError, Descriptor, NoConfig, Output, files};

/// One entry of `instances` in the check's config (the host's keys such as `grants` removed).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Instance {
    /// Prefix of the metric names.
    pub prefix: Option<String>,
}

/// The check; one value lives from run to run.
pub struct {{type}} {
    prefix: String,
}

/// The three load averages of a `/proc/loadavg` line.
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_whitespace().map(|f| f.parse().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

impl Check for {{type}} {
    type InitConfig = NoConfig;
    type Instance = Instance;

    fn describe() -> Descriptor {
        Descriptor::new("{{name}}", env!("CARGO_PKG_VERSION"), 15, "load averages")
    }

    fn init(_: NoConfig, instance: Instance) -> Result<Self, CheckError> {
        Ok(Self {
            prefix: instance.prefix.unwrap_or_else(|| "{{name}}".into()),
        })
    }

    fn run(&mut self, out: &mut Output) -> Result<(), CheckError> {
        let text = files::read_text("/proc/loadavg").map_err(CheckError::Transient)?;
        let [one, five, fifteen] = parse_loadavg(&text)
            .ok_or_else(|| CheckError::Transient(format!("unexpected /proc/loadavg: {text:?}")))?;
        out.gauge(&format!("{}.load.1", self.prefix), one, &[]);
        out.gauge(&format!("{}.load.5", self.prefix), five, &[]);
        out.gauge(&format!("{}.load.15", self.prefix), fifteen, &[]);
        Ok(())
    }
}

wasmon_sdk::export_check!({{type}});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_loadavg() {
        assert_eq!(
            parse_loadavg("0.42 0.36 0.30 1/123 4567\n"),
            Some([0.42, 0.36, 0.30])
        );
        assert_eq!(parse_loadavg("garbage"), None);
    }

    /// Natively, the SDK's capabilities answer from fakes the test sets up.
    #[test]
    fn a_run_reads_the_granted_file() {
        wasmon_sdk::testing::files::put("/proc/loadavg", "0.42 0.36 0.30 1/123 4567\n");
        let mut check = {{type}}::init(NoConfig {}, Instance { prefix: None }).unwrap();
        let mut out = Output::new(0);
        check.run(&mut out).unwrap();
        assert_eq!(out.samples()[0].value, 0.42);
        wasmon_sdk::testing::files::remove("/proc/loadavg");
        assert!(check.run(&mut Output::new(1)).is_err());
    }
}
