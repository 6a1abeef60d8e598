//! Emits known values of every kind; told by its config to fail or to lie.

use serde::Deserialize;
use wasmon_sdk::{
    AlertType, Check, CheckError, Descriptor, Event, MetricKind, NoConfig, Output, Status,
};

/// The value of `test.emit.version`: which build of this guest runs.
#[cfg(not(feature = "v2"))]
const VERSION: f64 = 1.0;
#[cfg(feature = "v2")]
const VERSION: f64 = 2.0;

/// The instance config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Instance {
    /// The gauge's value.
    pub value: f64,
    /// How much the counter grows per run.
    pub step: f64,
    /// Fail every run with this kind of error: `transient`, `permanent` or `config`.
    pub fail_with: Option<String>,
    /// Also submit invalid samples (a NaN, a bad name).
    pub lie: bool,
    /// Submit this many extra gauges.
    pub extra: u32,
    /// Also submit what only `wasmon:check@0.2.0` carries: a histogram and a distribution
    /// of 1..=100, a set of 7 distinct members, a gauge 5 s before the run, and an event.
    pub summaries: bool,
}

impl Default for Instance {
    fn default() -> Self {
        Self {
            value: 1.0,
            step: 10.0,
            fail_with: None,
            lie: false,
            extra: 0,
            summaries: false,
        }
    }
}

/// The emit test check.
pub struct Emit {
    config: Instance,
    runs: u64,
}

impl Check for Emit {
    type InitConfig = NoConfig;
    type Instance = Instance;

    fn describe() -> Descriptor {
        Descriptor::new("emit", "1.0.0", 1, "emits known values for tests")
    }

    fn init(_: NoConfig, config: Instance) -> Result<Self, CheckError> {
        Ok(Self { config, runs: 0 })
    }

    fn run(&mut self, out: &mut Output) -> Result<(), CheckError> {
        self.runs += 1;
        let runs = self.runs as f64;
        out.gauge("test.emit.gauge", self.config.value, &["source:emit"]);
        out.gauge("test.emit.version", VERSION, &[]);
        out.count("test.emit.count", 2.0, &[]);
        out.rate("test.emit.counter", runs * self.config.step, &[]);
        out.monotonic_count("test.emit.total", runs * self.config.step, &[]);
        out.gauge("test.emit.run_timestamp", out.timestamp_ms() as f64, &[]);
        // When the run really started, by the wall clock: a late run shows here, not in the
        // scheduled timestamp.
        let started_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        out.gauge("test.emit.started_ms", started_ms, &[]);
        for i in 0..self.config.extra {
            out.gauge("test.emit.extra", f64::from(i), &[&format!("n:{i}")]);
        }
        out.service_check("test.emit.ok", Status::Ok, "fine", &[]);
        if self.config.lie {
            out.gauge("test.emit.nan", f64::NAN, &[]);
            out.gauge("bad name!", 1.0, &[]);
        }
        if self.config.summaries {
            summaries(out);
        }
        match self.config.fail_with.as_deref() {
            None => Ok(()),
            Some("transient") => Err(CheckError::Transient("told to fail".into())),
            Some("permanent") => Err(CheckError::Permanent("told to fail for good".into())),
            Some(_) => Err(CheckError::config("told to refuse its config")),
        }
    }
}

/// The 0.2.0 kinds, with values whose summaries are known.
fn summaries(out: &mut Output) {
    for v in 1..=100 {
        out.histogram("test.emit.histogram", f64::from(v), &["kind:h"]);
        out.distribution("test.emit.distribution", f64::from(v), &["kind:d"]);
    }
    for member in [1, 2, 3, 3, 4, 5, 6, 7, 7, 1] {
        out.set("test.emit.set", f64::from(member), &[]);
    }
    let before = out.timestamp_ms() - 5_000;
    out.sample_at("test.emit.earlier", MetricKind::Gauge, 42.0, &[], before);
    let mut event = Event::new("emit ran", "a run of the emit guest");
    event.alert_type = AlertType::Success;
    event.aggregation_key = Some("emit".into());
    event.tags = vec!["source:emit".into()];
    out.event(event);
}

wasmon_sdk::export_check!(Emit);
