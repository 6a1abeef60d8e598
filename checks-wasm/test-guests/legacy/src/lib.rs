//! A check written against `wasmon:check@0.1.0` as it was released, with raw bindings: a
//! gauge, a rate that grows 10 a run, a service check, and a config error in 0.1.0's text form.

wit_bindgen::generate!({
    path: "../../../wit/wasmon-check@0.1.0",
    world: "plain-check",
});

use std::cell::Cell;

use exports::wasmon::check::check::Guest;
use wasmon::check::emit;
use wasmon::check::types::{CheckError, Descriptor, MetricKind, Sample, ServiceCheck, Status};

thread_local! {
    static RUNS: Cell<u32> = const { Cell::new(0) };
}

/// The legacy check.
pub struct Legacy;

impl Guest for Legacy {
    fn describe() -> Descriptor {
        Descriptor {
            name: "legacy".into(),
            version: "0.1.0".into(),
            default_interval_secs: 1,
            summary: "built against wasmon:check@0.1.0".into(),
        }
    }

    fn init(_: String, instance: String) -> Result<(), CheckError> {
        if instance.contains("\"refuse\"") {
            return Err(CheckError::Config("instance: refused as told".into()));
        }
        Ok(())
    }

    fn run(_: i64) -> Result<(), CheckError> {
        let runs = RUNS.with(|r| {
            r.set(r.get() + 1);
            r.get()
        });
        let sample = |name: &str, kind, value| Sample {
            name: name.into(),
            kind,
            value,
            tags: vec!["wit:0.1.0".into()],
        };
        emit::submit_samples(&[
            sample("test.legacy.gauge", MetricKind::Gauge, 7.0),
            sample(
                "test.legacy.counter",
                MetricKind::Rate,
                f64::from(runs) * 10.0,
            ),
        ]);
        emit::submit_service_check(&ServiceCheck {
            name: "test.legacy.ok".into(),
            status: Status::Ok,
            message: String::new(),
            tags: Vec::new(),
        });
        Ok(())
    }
}

#[cfg(target_family = "wasm")]
export!(Legacy);
