//! The loop of one instance: wait for the next run time, run with a timeout, aggregate,
//! report, send. A failure is logged and reported as `wasmon.check.status`; a config or
//! permanent error stops the instance; nothing here can hold up another instance.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Schedule, SharedStatus, State, now_ms};
use crate::aggregate::{Producer, Stage};
use crate::model::{Event, MetricKind, Sample, ServiceCheck, Status};
use crate::runtime::{CheckInstance, RunOutput, RunReport};

/// Name of the service check every run reports.
pub const STATUS_CHECK: &str = "wasmon.check.status";

/// What an instance's loop runs: a sandboxed check (a scripted one in unit tests).
pub trait Runner: Send + 'static {
    /// `check[index]`, for the log.
    fn label(&self) -> &Arc<str>;

    /// One run at `timestamp_ms`, stopped after `timeout`.
    fn run(
        &mut self,
        timestamp_ms: i64,
        timeout: Duration,
    ) -> impl Future<Output = RunReport> + Send;

    /// The time in Unix milliseconds that runs are scheduled by.
    fn now_ms(&self) -> i64 {
        now_ms()
    }
}

impl Runner for CheckInstance {
    fn label(&self) -> &Arc<str> {
        CheckInstance::label(self)
    }

    fn run(
        &mut self,
        timestamp_ms: i64,
        timeout: Duration,
    ) -> impl Future<Output = RunReport> + Send {
        CheckInstance::run(self, timestamp_ms, timeout)
    }
}

/// An instance with its schedule, ready to be spawned.
pub struct InstanceTask<R = CheckInstance> {
    /// The sandboxed instance.
    pub instance: R,
    /// When it runs.
    pub schedule: Schedule,
    /// How long a run may take.
    pub timeout: Duration,
    /// The instance's own `tags:`; the stage adds the host name and global tags.
    pub tags: Vec<String>,
    /// `check:<name>` and `instance:<index>`, on the agent's own series about the instance.
    pub identity: Vec<String>,
    /// Where the task reports its state.
    pub status: SharedStatus,
}

/// Spawns the instance's loop; it ends when `cancel` fires or the instance stops for good.
/// When it replaces an instance, it first waits for `previous` to finish its run in progress,
/// then carries on from that instance's last run, so the schedule has neither a gap nor a run
/// counted as skipped that the previous instance made.
pub fn spawn<R: Runner>(
    task: InstanceTask<R>,
    stage: &Stage,
    cancel: CancellationToken,
    previous: Option<(JoinHandle<()>, SharedStatus)>,
) -> JoinHandle<()> {
    let sink = stage.producer(task.tags.clone());
    tokio::spawn(async move {
        let mut after = None;
        if let Some((handle, status)) = previous {
            let _ = handle.await;
            after = status.get().last_run_ms;
        }
        task.run_loop(sink, cancel, after).await;
    })
}

impl<R: Runner> InstanceTask<R> {
    async fn run_loop(mut self, sink: Producer, cancel: CancellationToken, mut last: Option<i64>) {
        let label = self.instance.label().clone();
        loop {
            let now = self.instance.now_ms();
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
            let (samples, checks, events) = self.output(next, report, skipped);
            sink.run(next, samples, checks, events).await;
            if stop {
                tracing::error!(
                    instance = &*label,
                    "stopped until its config or module changes"
                );
                return;
            }
        }
    }

    /// The run's samples, service checks and events, with the agent's own view of the run.
    pub fn output(
        &self,
        timestamp_ms: i64,
        report: RunReport,
        skipped: u64,
    ) -> (Vec<Sample>, Vec<ServiceCheck>, Vec<Event>) {
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
        (samples, checks, events)
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::time::Instant;

    use super::*;
    use crate::runtime::RunError;
    use crate::sinks::Sinks;

    /// The wall clock a scripted instance starts at: a whole minute.
    const BASE_MS: i64 = 1_700_000_040_000;

    /// A run that takes `took` (paused time) and ends with `result`.
    type Step = (Duration, Result<(), RunError>);

    /// Runs as scripted (then quick successes), noting the time each run was scheduled for;
    /// its clock is tokio's, so paused time moves it.
    struct Scripted {
        label: Arc<str>,
        steps: std::collections::VecDeque<Step>,
        runs: Arc<Mutex<Vec<i64>>>,
        started: Instant,
    }

    impl Runner for Scripted {
        fn label(&self) -> &Arc<str> {
            &self.label
        }

        fn run(&mut self, at: i64, _: Duration) -> impl Future<Output = RunReport> + Send {
            self.runs.lock().unwrap().push(at);
            let (took, result) = self
                .steps
                .pop_front()
                .unwrap_or((Duration::from_millis(5), Ok(())));
            async move {
                tokio::time::sleep(took).await;
                RunReport {
                    output: Default::default(),
                    result,
                    duration: took,
                }
            }
        }

        fn now_ms(&self) -> i64 {
            BASE_MS + self.started.elapsed().as_millis() as i64
        }
    }

    struct Started {
        handle: JoinHandle<()>,
        runs: Arc<Mutex<Vec<i64>>>,
        status: SharedStatus,
        cancel: CancellationToken,
        _sinks: Sinks,
        _dir: tempfile::TempDir,
    }

    /// Starts a scripted instance whose clock reads `BASE_MS` at `epoch`.
    fn start_at(
        epoch: Instant,
        steps: Vec<Step>,
        previous: Option<(JoinHandle<()>, SharedStatus)>,
    ) -> Started {
        let dir = tempfile::tempdir().unwrap();
        let sinks = Sinks::start(&[], dir.path()).unwrap();
        let runs = Arc::new(Mutex::new(Vec::new()));
        let status = SharedStatus::default();
        let cancel = CancellationToken::new();
        let task = InstanceTask {
            instance: Scripted {
                label: "test[0]".into(),
                steps: steps.into(),
                runs: runs.clone(),
                started: epoch,
            },
            schedule: Schedule::aligned(Duration::from_secs(1)),
            timeout: Duration::from_secs(1),
            tags: Vec::new(),
            identity: Vec::new(),
            status: status.clone(),
        };
        let stage = Stage::new(&crate::config::AgentConfig::default(), sinks.sender());
        let handle = spawn(task, &stage, cancel.clone(), previous);
        Started {
            handle,
            runs,
            status,
            cancel,
            _sinks: sinks,
            _dir: dir,
        }
    }

    fn start(steps: Vec<Step>) -> Started {
        start_at(Instant::now(), steps, None)
    }

    fn gaps(runs: &[i64]) -> Vec<i64> {
        runs.windows(2).map(|w| w[1] - w[0]).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn runs_fall_on_the_schedule_and_an_overrun_skips_and_is_counted() {
        let quick = (Duration::from_millis(5), Ok(()));
        let overrun = (Duration::from_millis(2_500), Ok(()));
        let started = start(vec![quick.clone(), quick, overrun]);
        tokio::time::sleep(Duration::from_millis(7_500)).await;
        let runs = started.runs.lock().unwrap().clone();
        assert_eq!(runs[0], BASE_MS, "the first aligned second");
        // The third run took 2.5 s: the two runs it covered are skipped, not run late.
        assert_eq!(gaps(&runs), [1_000, 1_000, 3_000, 1_000, 1_000], "{runs:?}");
        let status = started.status.get();
        assert_eq!((status.runs, status.skipped), (6, 2));
        assert_eq!(status.state, State::Running);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_instance_stops_while_it_waits() {
        let started = start(Vec::new());
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let at = Instant::now();
        started.cancel.cancel();
        started.handle.await.unwrap();
        assert_eq!(at.elapsed(), Duration::ZERO, "no wait for the next run");
        assert_eq!(started.runs.lock().unwrap().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_config_error_stops_the_instance_until_something_changes() {
        let failing = (
            Duration::from_millis(5),
            Err(RunError::Config("port: expected a number".into())),
        );
        let quick = (Duration::from_millis(5), Ok(()));
        let started = start(vec![quick, failing]);
        started.handle.await.unwrap();
        let status = started.status.get();
        assert_eq!((status.runs, status.failures), (2, 1));
        assert_eq!(status.state, State::Stopped);
        assert!(status.last_error.unwrap().contains("expected a number"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_replacement_waits_for_the_run_in_progress_and_leaves_no_gap() {
        let quick = (Duration::from_millis(5), Ok(()));
        let slow = (Duration::from_millis(800), Ok(()));
        let epoch = Instant::now();
        let old = start_at(epoch, vec![quick.clone(), quick, slow], None);
        // Replaced while its third run (at 2 s) is in progress.
        tokio::time::sleep(Duration::from_millis(2_200)).await;
        old.cancel.cancel();
        let new = start_at(epoch, Vec::new(), Some((old.handle, old.status.clone())));
        tokio::time::sleep(Duration::from_millis(2_000)).await;
        let mut runs = old.runs.lock().unwrap().clone();
        assert_eq!(old.status.get().runs, 3, "the run in progress finished");
        runs.extend(new.runs.lock().unwrap().iter());
        assert_eq!(gaps(&runs), [1_000; 4], "{runs:?}");
        assert_eq!(new.status.get().skipped, 0, "nothing was skipped");
    }
}
