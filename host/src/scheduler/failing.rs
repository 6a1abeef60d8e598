//! An instance that could not start (its `describe` or `init` failed, timed out or ran out of
//! memory, or its config was refused) is still visible to backends: every interval it reports
//! `wasmon.check.status` CRITICAL with the reason, and `wasmon.check.start_failures`, until it
//! starts or is no longer configured.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::task::STATUS_CHECK;
use super::{Schedule, now_ms};
use crate::aggregate::Producer;
use crate::model::{MetricKind, Sample, ServiceCheck, Status};

/// Reports `reason` every `interval` until `cancel` fires.
pub fn report_start_failure(
    sink: Producer,
    identity: Vec<String>,
    interval: Duration,
    reason: String,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    let schedule = Schedule::starting(interval, now_ms(), Duration::ZERO);
    tokio::spawn(async move {
        let mut at = now_ms();
        loop {
            let sample = Sample {
                name: "wasmon.check.start_failures".into(),
                kind: MetricKind::Count,
                value: 1.0,
                tags: identity.clone(),
                timestamp_ms: None,
            };
            let check = ServiceCheck {
                name: STATUS_CHECK.into(),
                status: Status::Critical,
                message: format!("cannot start: {reason}"),
                tags: identity.clone(),
                timestamp_ms: at,
            };
            sink.run(at, vec![sample], vec![check], Vec::new()).await;
            at = schedule.next_after(at);
            let wait = Duration::from_millis((at - now_ms()).max(0) as u64);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = cancel.cancelled() => return,
            }
        }
    })
}
