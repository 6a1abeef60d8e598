//! Output formats: each turns a command's output into points, a service check and the lines it
//! could not read.

pub mod json;
pub mod nagios;
mod tcollector;
pub mod value;

pub use tcollector::Tcollector;
use wasmon_sdk::{MetricKind, Status};

/// A sample read from the output.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub name: String,
    pub kind: MetricKind,
    pub value: f64,
    pub tags: Vec<String>,
    /// The line's own time (Unix milliseconds), where the format carries one.
    pub timestamp_ms: Option<i64>,
}

/// A line that could not be read, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub line: String,
    pub reason: String,
}

/// What a format made of the output.
#[derive(Debug, Default)]
pub struct Parsed {
    pub points: Vec<Point>,
    /// `(name, status, message)`.
    pub service_check: Option<(String, Status, String)>,
    pub invalid: Vec<Invalid>,
}

impl Parsed {
    fn invalid(&mut self, line: &str, reason: impl Into<String>) {
        self.invalid.push(Invalid {
            line: line.chars().take(200).collect(),
            reason: reason.into(),
        });
    }
}

/// A finite number, or why not.
fn number(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("{text:?} is not a number")),
    }
}
