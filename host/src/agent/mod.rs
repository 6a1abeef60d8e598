//! The daemon: a supervisor keeps every configured instance running on its own task, and
//! reloads when files change (watched), on SIGHUP, on API request, and every `rescan_secs`.

mod diff;
mod launcher;
mod pidfile;
mod placement;
mod self_metrics;
mod startup_pages;
mod status;
mod supervisor;
mod watch;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use launcher::Wasm;
pub use pidfile::PidFile;
use placement::Placement;
pub use self_metrics::resident_bytes;
pub use startup_pages::{note_files_at_start, release as release_startup_pages};
pub use status::{InstanceReport, SinkReport, StatusReport};
use supervisor::{Outcome, Supervisor};

use crate::aggregate::Stage;

use crate::cluster::Cluster;
use crate::config::{AgentConfig, CheckFile};
use crate::intake::IntakeStats;
use crate::registry::{Refresher, Sources};
use crate::runtime::Runtime;
use crate::sinks::Sinks;

/// How long stopping waits for runs in progress.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Changes arriving within this window are handled in one reload.
const DEBOUNCE: Duration = Duration::from_millis(200);
/// How soon to look again at a module still being written.
const RETRY: Duration = Duration::from_millis(300);

enum Request {
    /// A file changed (from the watcher): reload after the debounce window.
    Changed,
    /// Reload now, answering when done.
    Reload(oneshot::Sender<StatusReport>),
    /// The current status.
    Status(oneshot::Sender<StatusReport>),
    /// Whether the check would start instance `.1` of config `.0`.
    TryInstance(Box<CheckFile>, usize, oneshot::Sender<Result<(), String>>),
}

/// A handle to ask the running agent for a reload or its status.
#[derive(Clone)]
pub struct AgentHandle {
    requests: mpsc::Sender<Request>,
    refresh: Refresher,
}

impl AgentHandle {
    /// Reloads configs and modules; answers with the status afterwards.
    pub async fn reload(&self) -> Option<StatusReport> {
        let (tx, rx) = oneshot::channel();
        self.requests.send(Request::Reload(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Whether instance `index` of `file` would start: its module loads and the check's
    /// `init` accepts it. Nothing is started.
    pub async fn try_instance(&self, file: &CheckFile, index: usize) -> Option<Result<(), String>> {
        let (tx, rx) = oneshot::channel();
        let request = Request::TryInstance(Box::new(file.clone()), index, tx);
        self.requests.send(request).await.ok()?;
        rx.await.ok()
    }

    /// Polls every registry source now; returns when each has polled.
    pub async fn refresh_sources(&self) {
        self.refresh.refresh().await;
    }

    /// The current status.
    pub async fn status(&self) -> Option<StatusReport> {
        let (tx, rx) = oneshot::channel();
        self.requests.send(Request::Status(tx)).await.ok()?;
        rx.await.ok()
    }
}

/// A running agent.
pub struct Agent {
    handle: AgentHandle,
    shutdown: CancellationToken,
    task: JoinHandle<(Supervisor, Sources)>,
    self_metrics: JoinHandle<()>,
    sinks: Sinks,
    cluster: Option<Cluster>,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl Agent {
    /// Loads every check, joins the cluster group (if any), starts the instances that run here
    /// and begins watching for changes; their output goes through `stage` to `sinks`. Problems
    /// are logged; whatever is valid runs.
    pub async fn start(
        config: &AgentConfig,
        runtime: &Runtime,
        sinks: Sinks,
        stage: Stage,
        intake: Option<Arc<IntakeStats>>,
    ) -> Self {
        let cluster = config.cluster.as_ref().and_then(|group| {
            let member = group.member.clone().unwrap_or_else(|| config.hostname());
            Cluster::join(group, &member)
                .inspect_err(|e| tracing::error!("cluster checks run nowhere: {e}"))
                .ok()
        });
        let placement = cluster
            .as_ref()
            .map_or_else(Placement::everything, Placement::cluster);
        let shutdown = CancellationToken::new();
        let (tx, rx) = mpsc::channel(64);
        let changed = tx.clone();
        // A verified pull is found by the supervisor as a dropped file is.
        let changed = Arc::new(move || {
            let _ = changed.try_send(Request::Changed);
        });
        let launcher = Wasm::new(runtime.clone(), &config.data_dir);
        // A pulled version must load before a restart would run it; it compiles into the
        // cache the supervisor then reads, so it is compiled once.
        let validating = launcher.clone();
        let validate =
            Arc::new(move |path: &std::path::Path| validating.load_blocking(path).map(drop));
        let sources = Sources::start(config, changed, validate, &shutdown);
        let mut supervisor = Supervisor::new(
            config.clone(),
            launcher,
            stage.clone(),
            &sinks,
            placement.clone(),
            sources.state(),
            intake,
        );
        let first = supervisor.reconcile();
        supervisor.settle().await;
        let report = supervisor.status();
        tracing::info!(
            instances = report.instances.len(),
            problems = report.problems.len(),
            "agent running"
        );
        let watcher = match watch::watch(config, tx.clone()) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(
                    "not watching for changes (rescanning every {}s instead): {e}",
                    config.rescan_secs
                );
                None
            }
        };
        let rescan = Duration::from_secs(config.rescan_secs);
        let handle = AgentHandle {
            requests: tx,
            refresh: sources.refresher(),
        };
        let sources_state = sources.state();
        let task = tokio::spawn(serve(
            supervisor,
            sources,
            rx,
            placement,
            rescan,
            first,
            shutdown.clone(),
        ));
        let self_metrics = tokio::spawn(self_metrics::run(
            sinks.handles(),
            stage,
            cluster.as_ref().map(|c| c.state.clone()),
            sources_state,
            Duration::from_secs_f64(config.self_metrics_secs),
            shutdown.clone(),
        ));
        Self {
            handle,
            shutdown,
            task,
            self_metrics,
            sinks,
            cluster,
            _watcher: watcher,
        }
    }

    /// A handle for reloads and status.
    pub fn handle(&self) -> AgentHandle {
        self.handle.clone()
    }

    /// Leaves the cluster group, stops every instance (runs in progress get a grace period)
    /// and flushes the sinks.
    pub async fn stop(self) {
        self.shutdown.cancel();
        if let Some(cluster) = self.cluster {
            cluster.leave().await;
        }
        drop(self._watcher);
        match self.task.await {
            Ok((supervisor, sources)) => {
                supervisor.stop(STOP_GRACE).await;
                sources.join().await;
            }
            Err(e) => tracing::error!("the supervisor failed: {e}"),
        }
        let _ = self.self_metrics.await;
        self.sinks.close().await;
    }
}

/// Answers requests until `shutdown`; reconciles on changes and on a timer.
async fn serve(
    mut supervisor: Supervisor,
    mut sources: Sources,
    mut requests: mpsc::Receiver<Request>,
    mut placement: Placement,
    rescan: Duration,
    first: Outcome,
    shutdown: CancellationToken,
) -> (Supervisor, Sources) {
    let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + rescan, rescan);
    let mut retry = (first == Outcome::RetrySoon).then(|| tokio::time::Instant::now() + RETRY);
    // Reloads answered once what they started has settled.
    let mut reloads: Vec<oneshot::Sender<StatusReport>> = Vec::new();
    loop {
        let retry_at = retry.unwrap_or_else(|| tokio::time::Instant::now() + rescan * 2);
        tokio::select! {
            () = shutdown.cancelled() => return (supervisor, sources),
            Some(done) = supervisor.next_done() => supervisor.complete(done),
            request = requests.recv() => match request {
                None => return (supervisor, sources),
                Some(Request::Status(answer)) => {
                    let _ = answer.send(supervisor.status());
                }
                Some(Request::TryInstance(file, index, answer)) => {
                    let trying = supervisor.try_instance(file, index);
                    tokio::spawn(async move { answer.send(trying.await) });
                }
                Some(Request::Reload(answer)) => {
                    supervisor.reload_config();
                    sources.apply(supervisor.config());
                    retry = next_retry(supervisor.reconcile());
                    reloads.push(answer);
                }
                Some(Request::Changed) => {
                    tokio::time::sleep(DEBOUNCE).await;
                    // More changes are folded into this reconciliation; other requests are
                    // answered after it, never dropped.
                    let mut deferred = Vec::new();
                    while let Ok(request) = requests.try_recv() {
                        if !matches!(request, Request::Changed) {
                            deferred.push(request);
                        }
                    }
                    // A reload folded in here re-reads `wasmon.yaml` as one on its own would.
                    if deferred.iter().any(|r| matches!(r, Request::Reload(_))) {
                        supervisor.reload_config();
                        sources.apply(supervisor.config());
                    }
                    retry = next_retry(supervisor.reconcile());
                    for request in deferred {
                        match request {
                            Request::Reload(answer) => reloads.push(answer),
                            Request::Status(answer) => {
                                let _ = answer.send(supervisor.status());
                            }
                            Request::TryInstance(file, index, answer) => {
                                let trying = supervisor.try_instance(file, index);
                                tokio::spawn(async move { answer.send(trying.await) });
                            }
                            Request::Changed => {}
                        }
                    }
                }
            },
            _ = timer.tick() => retry = next_retry(supervisor.reconcile()),
            () = placement.moved() => retry = next_retry(supervisor.reconcile()),
            () = tokio::time::sleep_until(retry_at), if retry.is_some() => {
                retry = next_retry(supervisor.reconcile());
            }
        }
        if supervisor.idle() {
            for answer in reloads.drain(..) {
                let _ = answer.send(supervisor.status());
            }
        }
    }
}

fn next_retry(outcome: Outcome) -> Option<tokio::time::Instant> {
    (outcome == Outcome::RetrySoon).then(|| tokio::time::Instant::now() + RETRY)
}
