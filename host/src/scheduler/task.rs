//! The loop of one instance: wait for the next run time, run with a timeout, aggregate,
//! report, send. A failure is logged and reported as `wasmon.check.status`; a config or
//! permanent error stops the instance; nothing here can hold up another instance.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Schedule, SharedStatus, State, now_ms};
use crate::aggregate::Aggregator;
use crate::model::{MetricKind, Payload, Sample, ServiceCheck, Status};
use crate::runtime::{CheckInstance, RunOutput, RunReport};
use crate::sinks::PayloadSender;

/// Name of the service check every run reports.
pub const STATUS_CHECK: &str = "wasmon.check.status";

/// An instance with its schedule, ready to be spawned.
pub struct InstanceTask {
    /// The sandboxed instance.
    pub instance: CheckInstance,
    /// When it runs.
    pub schedule: Schedule,
    /// How long a run may take.
    pub timeout: Duration,
    /// Adds tags and turns counters into rates.
    pub aggregator: Aggregator,
    /// `check:<name>` and `instance:<index>`, on the agent's own series about the instance.
    pub identity: Vec<String>,
    /// Where the task reports its state.
    pub status: SharedStatus,
}

/// Spawns the instance's loop; it ends when `cancel` fires or the instance stops for good.
/// When it replaces an instance, it first waits for `previous` to finish its run in progress,
/// and carries on from the last run time `after_ms`, so the schedule has no gap.
pub fn spawn(
    task: InstanceTask,
    sink: PayloadSender,
    cancel: CancellationToken,
    previous: Option<(JoinHandle<()>, Option<i64>)>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut after = None;
        if let Some((handle, last)) = previous {
            let _ = handle.await;
            after = last;
        }
        task.run_loop(sink, cancel, after).await;
    })
}

impl InstanceTask {
    async fn run_loop(
        mut self,
        sink: PayloadSender,
        cancel: CancellationToken,
        mut last: Option<i64>,
    ) {
        let label = self.instance.label().clone();
        loop {
            let now = now_ms();
            let next = self
                .schedule
                .next_after(last.map_or(now - 1, |l| l.max(now - 1)));
            let skipped = last.map_or(0, |l| self.schedule.missed_between(l, next));
            if skipped > 0 {
                tracing::warn!(
                    instance = &*label,
                    skipped,
                    "runs skipped: the previous run overran its interval"
                );
            }
            let wait = Duration::from_millis((next - now).max(0) as u64);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = cancel.cancelled() => return,
            }
            let report = self.instance.run(next, self.timeout).await;
            last = Some(next);
            let stop = report.result.as_ref().is_err_and(|e| e.stops_instance());
            self.status.update(|s| {
                s.runs += 1;
                s.skipped += skipped;
                s.last_run_ms = Some(next);
                s.last_duration_secs = report.duration.as_secs_f64();
                if let Err(e) = &report.result {
                    s.failures += 1;
                    s.last_error = Some(e.to_string());
                }
                for warning in &report.output.warnings {
                    s.warned(warning);
                }
                if stop {
                    s.state = State::Stopped;
                }
            });
            let payload = self.payload(next, report, skipped);
            sink.send(payload).await;
            if stop {
                tracing::error!(
                    instance = &*label,
                    "stopped until its config or module changes"
                );
                return;
            }
        }
    }

    /// The run's series and service checks, with the agent's own view of the run.
    pub fn payload(&mut self, timestamp_ms: i64, report: RunReport, skipped: u64) -> Payload {
        let label = self.instance.label().clone();
        let mut output = report.output;
        report_drops(&label, &output);
        let (status, message) = match &report.result {
            Ok(()) => (Status::Ok, String::new()),
            Err(e) => {
                tracing::error!(instance = &*label, "run failed: {e}");
                (Status::Critical, e.to_string())
            }
        };
        let own = |name: &str, kind, value: f64| Sample {
            name: name.into(),
            kind,
            value,
            tags: self.identity.clone(),
            timestamp_ms: None,
        };
        let mut samples = std::mem::take(&mut output.samples);
        let produced = samples.len() as f64;
        samples.extend([
            own(
                "wasmon.check.run_time",
                MetricKind::Gauge,
                report.duration.as_secs_f64(),
            ),
            own(
                "wasmon.check.host_call_time",
                MetricKind::Gauge,
                output.host_time.as_secs_f64(),
            ),
            own("wasmon.check.samples", MetricKind::Gauge, produced),
            own(
                "wasmon.check.invalid_samples",
                MetricKind::Count,
                (output.rejected + output.over_limit) as f64,
            ),
            own(
                "wasmon.check.skipped_runs",
                MetricKind::Count,
                skipped as f64,
            ),
            own(
                "wasmon.check.logs_dropped",
                MetricKind::Count,
                output.logs.dropped as f64,
            ),
            own(
                "wasmon.check.service_checks_dropped",
                MetricKind::Count,
                output.service_checks_dropped as f64,
            ),
            own(
                "wasmon.check.metadata_dropped",
                MetricKind::Count,
                output.metadata_dropped as f64,
            ),
            own(
                "wasmon.check.bytes_dropped",
                MetricKind::Count,
                output.bytes_dropped as f64,
            ),
            own("wasmon.check.runs", MetricKind::Count, 1.0),
            own(
                "wasmon.check.failures",
                MetricKind::Count,
                f64::from(u8::from(report.result.is_err())),
            ),
            own(
                "wasmon.check.timeouts",
                MetricKind::Count,
                f64::from(u8::from(matches!(
                    report.result,
                    Err(crate::runtime::RunError::Timeout(_))
                ))),
            ),
        ]);
        let mut checks = std::mem::take(&mut output.service_checks);
        checks.push(ServiceCheck {
            name: STATUS_CHECK.into(),
            status,
            message,
            tags: self.identity.clone(),
            timestamp_ms,
        });
        for check in &mut checks {
            check.timestamp_ms = timestamp_ms;
        }
        let events = std::mem::take(&mut output.events);
        self.aggregator
            .payload(timestamp_ms, samples, checks, events)
    }
}

/// Says once per run what the run's limits dropped.
fn report_drops(label: &str, output: &RunOutput) {
    if output.rejected > 0 {
        tracing::warn!(
            instance = label,
            rejected = output.rejected,
            "invalid samples dropped (service checks counted too); first: {}",
            output.first_problem.as_deref().unwrap_or("")
        );
    }
    let dropped = [
        (output.over_limit, "samples past limits.max_samples"),
        (
            output.service_checks_dropped,
            "service checks past limits.max_service_checks",
        ),
        (
            output.events_dropped,
            "events past limits.max_service_checks",
        ),
        (
            output.bytes_dropped,
            "samples, service checks or metadata past limits.max_submit_kib",
        ),
        (
            output.metadata_dropped,
            "metadata entries too many or too long",
        ),
        (
            output.logs.dropped,
            "log lines past limits.max_log_lines or repeated within a minute",
        ),
    ];
    for (count, what) in dropped.into_iter().filter(|(n, _)| *n > 0) {
        tracing::warn!(
            instance = label,
            dropped = count,
            "dropped this run: {what}"
        );
    }
}
