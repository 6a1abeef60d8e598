//! The shell check's instance options (the command itself is the host's `command:` key).

use serde::Deserialize;
use wasmon_sdk::CheckError;

/// How the command's output is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// A number per line, optionally followed by `key:value` tags: gauges named `metric_name`.
    #[default]
    Value,
    /// tcollector's `metric timestamp value key=value ...` lines.
    Tcollector,
    /// A Nagios plugin: exit code as a service check, perfdata as gauges.
    Nagios,
    /// Open-Falcon JSON objects (`metric`, `value`, `tags`, `timestamp`, `counterType`).
    Json,
}

/// One entry of `instances` in `conf.d/shell.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// The series name (`value`), or the service check and perfdata prefix (`nagios`).
    #[serde(default)]
    pub metric_name: Option<String>,
    /// How the output is read.
    #[serde(default)]
    pub format: Format,
}

impl Instance {
    /// `metric_name` is needed by the formats that do not name their own series.
    pub fn validate(&self) -> Result<(), CheckError> {
        let needs_name = matches!(self.format, Format::Value | Format::Nagios);
        match &self.metric_name {
            None if needs_name => Err(CheckError::config_field(
                "instance.metric_name",
                format!(
                    "required with format `{}`",
                    match self.format {
                        Format::Nagios => "nagios",
                        _ => "value",
                    }
                ),
            )),
            Some(name) if !formats_name_ok(name) => Err(CheckError::config_field(
                "instance.metric_name",
                format!("{name:?}: expected letters, digits, `.`, `_` and `-`"),
            )),
            _ => Ok(()),
        }
    }
}

fn formats_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_name_is_required_where_needed() {
        let i = Instance {
            metric_name: None,
            format: Format::Value,
        };
        assert!(
            matches!(i.validate(), Err(CheckError::Config(e)) if e.to_string() == "instance.metric_name: required with format `value`")
        );
        let i = Instance {
            metric_name: None,
            format: Format::Json,
        };
        assert!(i.validate().is_ok());
        let i = Instance {
            metric_name: Some("bad name".into()),
            format: Format::Value,
        };
        assert!(i.validate().is_err());
    }
}
