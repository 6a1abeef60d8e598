//! Keeps the running instances equal to what conf.d and the checks folders describe. Each
//! reconciliation compares every instance's fingerprint (its config and its module's sha256)
//! with what runs: unchanged instances are left alone, changed ones are rebuilt and swapped in
//! between two runs on the same schedule, removed ones stop. A broken config or module never
//! stops what was running: the previous version keeps running and the error is reported.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::task::{JoinError, JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::diff::{Actual, Key, ModuleStep, leftovers, module_step, needs_start};
use super::launcher::{Launcher, Loaded, Wasm};
use super::placement::Placement;
use super::status::{InstanceReport, SinkReport, StatusReport};
use crate::aggregate::Stage;
use crate::catalog::{
    Located, ModuleFile, Origin, ParsedConfigs, Prepared, failure_report, find_module,
    missing_module, observe,
};
use crate::config::{AgentConfig, CheckFile};
use crate::intake::IntakeStats;
use crate::registry::SourcesState;
use crate::scheduler::{self, Runner, Schedule, SharedStatus};
use crate::sinks::{OrphanBuffer, SinkHandle, Sinks};

/// What a reconciliation left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything found was handled.
    Done,
    /// A module was still being written: reconcile again shortly.
    RetrySoon,
}

/// A check's module and the file it was loaded from, as it was then.
struct Module<M> {
    loaded: Loaded<M>,
    file: ModuleFile,
}

struct Running {
    fingerprint: u64,
    sha256: String,
    version: String,
    cancel: CancellationToken,
    handle: JoinHandle<()>,
    status: SharedStatus,
    schedule: Schedule,
    timeout: Duration,
    grants: Vec<String>,
}

/// An instance that could not start, reported until it does.
struct Failing {
    fingerprint: u64,
    cancel: CancellationToken,
    /// When it last failed.
    since: Instant,
}

/// A load or prepare that finished.
pub enum Job<L: Launcher> {
    /// A module compiled (or read from the cache).
    Loaded {
        check: String,
        module: ModuleFile,
        loaded: Result<Loaded<L::Module>, String>,
    },
    /// An instance prepared.
    Prepared {
        file: Arc<CheckFile>,
        index: usize,
        fingerprint: u64,
        prepared: Result<Box<Prepared<L::Runner>>, String>,
    },
}

/// What a task in flight is doing: loading a check's module from a file, or preparing an
/// instance at a fingerprint.
enum Pending {
    Load(String, ModuleFile),
    Prepare(Key, u64),
}

/// The agent's instances and the modules they run.
pub struct Supervisor<L: Launcher = Wasm> {
    config: AgentConfig,
    launcher: L,
    /// Where instances' and failure reports' output goes.
    stage: Stage,
    modules: HashMap<String, Module<L::Module>>,
    running: BTreeMap<(String, usize), Running>,
    failing: BTreeMap<(String, usize), Failing>,
    problems: Vec<String>,
    /// The problems of the previous pass: one still there is not logged again.
    logged: Vec<String>,
    /// Loads and prepares in flight, across passes, and what each is doing.
    jobs: JoinSet<Job<L>>,
    jobs_of: HashMap<tokio::task::Id, Pending>,
    /// The module file each loading check is being loaded from.
    loading: HashMap<String, ModuleFile>,
    /// The fingerprint each instance in preparation is prepared at.
    preparing: HashMap<Key, u64>,
    /// The latest config of each check, for a module that finishes loading.
    files: HashMap<String, Arc<CheckFile>>,
    /// The configs as last parsed, reused while their files are unchanged.
    parsed: ParsedConfigs,
    started_ms: i64,
    sinks: Vec<SinkHandle>,
    /// Buffer folders no sink owns.
    orphans: Vec<OrphanBuffer>,
    /// The config the agent started with: what a restart-only key is compared to.
    started_with: AgentConfig,
    /// A reload of `wasmon.yaml` that failed or left changes for a restart.
    config_problem: Option<String>,
    /// Which instances run here.
    placement: Placement,
    /// The instances running here because the cluster group placed them here.
    placed: BTreeSet<(String, usize)>,
    /// What the registry sources did.
    sources: Arc<SourcesState>,
    /// What applications pushed.
    intake: Option<Arc<IntakeStats>>,
}

impl<L: Launcher> Supervisor<L> {
    /// A supervisor with nothing running yet, launching with `launcher` and sending through
    /// `stage` to `sinks`.
    pub fn new(
        config: AgentConfig,
        launcher: L,
        stage: Stage,
        sinks: &Sinks,
        placement: Placement,
        sources: Arc<SourcesState>,
        intake: Option<Arc<IntakeStats>>,
    ) -> Self {
        Self {
            config: config.clone(),
            launcher,
            stage,
            modules: HashMap::new(),
            running: BTreeMap::new(),
            failing: BTreeMap::new(),
            problems: Vec::new(),
            logged: Vec::new(),
            jobs: JoinSet::new(),
            jobs_of: HashMap::new(),
            loading: HashMap::new(),
            preparing: HashMap::new(),
            files: HashMap::new(),
            parsed: ParsedConfigs::default(),
            started_ms: scheduler::now_ms(),
            sinks: sinks.handles(),
            orphans: sinks.orphans().to_vec(),
            started_with: config,
            config_problem: None,
            placement,
            placed: BTreeSet::new(),
            sources,
            intake,
        }
    }

    /// Brings the running instances in line with the sources: decides what to stop at once,
    /// and starts loading and preparing what changed, each on its own task whose result
    /// [`Self::complete`] takes. Nothing waits here for a module: a slow or hostile one
    /// delays no other, in this pass or a later one.
    pub fn reconcile(&mut self) -> Outcome {
        let observed = match observe(&self.config, &mut self.parsed) {
            Ok(observed) => observed,
            Err(problem) => {
                self.problems = vec![problem];
                return Outcome::Done;
            }
        };
        // What was said stays said while work that may say it again is in flight.
        let said = std::mem::take(&mut self.problems);
        if self.jobs.is_empty() {
            self.logged = said;
        } else {
            for problem in said {
                if !self.logged.contains(&problem) {
                    self.logged.push(problem);
                }
            }
        }
        let mut outcome = Outcome::Done;
        let mut wanted: BTreeSet<Key> = BTreeSet::new();
        let mut placed: BTreeSet<Key> = BTreeSet::new();
        // Checks whose running instances stay as they are (broken config, module in flux).
        let mut held: HashSet<String> = observed.broken.into_iter().collect();
        let mut problems = observed.problems;
        // The loads this pass wants; one it no longer wants is dropped when it ends.
        let mut loads: HashMap<String, ModuleFile> = HashMap::new();
        self.files.clear();
        for (file, located) in observed.checks {
            self.files.insert(file.check.clone(), file.clone());
            let module = match located {
                Located::Found(module) => module,
                Located::Missing(problem) => {
                    problems.push(problem);
                    continue;
                }
                Located::Unreadable(problem) => {
                    problems.push(self.refused(&file.check, problem));
                    held.insert(file.check.clone());
                    continue;
                }
            };
            let loaded = self.modules.get(&file.check).map(|l| &l.file);
            match module_step(&module, loaded, SystemTime::now()) {
                ModuleStep::Ready => self.prepare_changed(&file, &mut wanted, &mut placed),
                ModuleStep::Settling => {
                    outcome = Outcome::RetrySoon;
                    held.insert(file.check.clone());
                }
                ModuleStep::Load => {
                    // What runs stays until the load says otherwise.
                    held.insert(file.check.clone());
                    loads.insert(file.check.clone(), module.clone());
                    self.load(&file.check, module);
                }
            }
        }
        self.loading
            .retain(|check, file| loads.get(check) == Some(file));
        self.preparing
            .retain(|key, _| wanted.contains(key) || held.contains(&key.0));
        let pending: HashSet<String> = loads.into_keys().collect();
        let actual = Actual {
            running: self.running.keys().cloned().collect(),
            failing: self.failing.keys().cloned().collect(),
            modules: self.modules.keys().cloned().collect(),
            placed: std::mem::take(&mut self.placed),
        };
        let left = leftovers(&actual, &wanted, &placed, &held, &pending);
        self.stop_instances(|k| left.stop.contains(k));
        self.stop_reporting(|k| left.stop_reporting.contains(k));
        for check in left.forget {
            self.modules.remove(&check);
        }
        self.placed = left.placed;
        self.publish_owned();
        // Not while a compile may be writing its artifact.
        if self.jobs.is_empty() {
            self.launcher.prune(
                &self
                    .modules
                    .values()
                    .map(|m| m.loaded.sha256.clone())
                    .collect(),
            );
        }
        for problem in problems {
            self.problem(problem);
        }
        outcome
    }

    /// The next load or prepare to finish; `None` when none is in flight.
    pub async fn next_done(&mut self) -> Option<Result<(tokio::task::Id, Job<L>), JoinError>> {
        self.jobs.join_next_with_id().await
    }

    /// Whether no load or prepare is in flight.
    pub fn idle(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Takes what every load and prepare in flight comes to.
    pub async fn settle(&mut self) {
        while let Some(done) = self.next_done().await {
            self.complete(done);
        }
    }

    /// Takes a finished load or prepare: a loaded module prepares its check's changed
    /// instances, a prepared instance starts. A result a later pass superseded is dropped.
    pub fn complete(&mut self, done: Result<(tokio::task::Id, Job<L>), JoinError>) {
        let job = match done {
            Ok((id, job)) => {
                self.jobs_of.remove(&id);
                job
            }
            Err(e) => {
                // Forget what it was doing (unless a later pass asked again), so that the next
                // pass tries again.
                match self.jobs_of.remove(&e.id()) {
                    Some(Pending::Load(check, file)) => {
                        if self.loading.get(&check) == Some(&file) {
                            self.loading.remove(&check);
                        }
                        self.problem(format!("loading the module of `{check}` failed: {e}"));
                    }
                    Some(Pending::Prepare(key, fingerprint)) => {
                        if self.preparing.get(&key) == Some(&fingerprint) {
                            self.preparing.remove(&key);
                        }
                        self.problem(format!("preparing {}[{}] failed: {e}", key.0, key.1));
                    }
                    None => {}
                }
                return;
            }
        };
        match job {
            Job::Loaded {
                check,
                module,
                loaded,
            } => {
                if self.loading.get(&check) != Some(&module) {
                    return;
                }
                self.loading.remove(&check);
                match loaded {
                    Ok(loaded) => {
                        self.loaded(&check, loaded, module);
                        let (mut wanted, mut placed) = (BTreeSet::new(), BTreeSet::new());
                        if let Some(file) = self.files.get(&check).cloned() {
                            self.prepare_changed(&file, &mut wanted, &mut placed);
                        }
                        // The check is no longer held: what it no longer wants stops.
                        self.placed.retain(|k| k.0 != check);
                        self.placed.extend(placed);
                        let stop = |k: &Key| k.0 == check && !wanted.contains(k);
                        self.stop_instances(stop);
                        self.stop_reporting(|k| stop(k));
                    }
                    Err(e) => {
                        let problem = self.refused(&check, e);
                        self.problem(problem);
                        // Refused: the check is held, and its reports end.
                        self.stop_reporting(|k| k.0 == check);
                    }
                }
            }
            Job::Prepared {
                file,
                index,
                fingerprint,
                prepared,
            } => {
                let key = (file.check.clone(), index);
                if self.preparing.get(&key) != Some(&fingerprint) {
                    return;
                }
                self.preparing.remove(&key);
                match prepared {
                    Ok(prepared) => self.start(key, fingerprint, *prepared),
                    Err(e) => {
                        if self.running.contains_key(&key) {
                            self.problem(format!("{e} (the previous config keeps running)"));
                        } else {
                            self.report_failing(&file, index, fingerprint, &e);
                            self.problem(e);
                        }
                    }
                }
            }
        }
        self.publish_owned();
    }

    /// Stops the running instances `which` picks: no longer configured.
    fn stop_instances(&mut self, which: impl Fn(&Key) -> bool) {
        self.running.retain(|key, running| {
            let stop = which(key);
            if stop {
                tracing::info!(instance = %format!("{}[{}]", key.0, key.1), "stopped: no longer configured");
                running.cancel.cancel();
            }
            !stop
        });
    }

    /// Ends the start-failure reports of the instances `which` picks.
    fn stop_reporting(&mut self, which: impl Fn(&Key) -> bool) {
        self.failing.retain(|key, failing| {
            let stop = which(key);
            if stop {
                failing.cancel.cancel();
            }
            !stop
        });
    }

    /// Notes a current problem, logging it unless it was said already.
    fn problem(&mut self, problem: String) {
        if self.problems.contains(&problem) {
            return;
        }
        if !self.logged.contains(&problem) {
            tracing::error!("{problem}");
        }
        self.problems.push(problem);
    }

    /// Tells the cluster state which of the instances the group placed here run.
    fn publish_owned(&self) {
        self.placement.set_owned(
            self.placed
                .iter()
                .filter(|k| self.running.contains_key(*k))
                .map(|(check, index)| format!("{check}[{index}]"))
                .collect(),
        );
    }

    /// Loads `check`'s module on a blocking thread, unless that very file is loading.
    fn load(&mut self, check: &str, module: ModuleFile) {
        if self.loading.get(check) == Some(&module) {
            return;
        }
        self.loading.insert(check.to_string(), module.clone());
        let launcher = self.launcher.clone();
        let check = check.to_string();
        let pending = Pending::Load(check.clone(), module.clone());
        let handle = self.jobs.spawn(async move {
            let loaded = launcher.load(module.path.clone()).await;
            Job::Loaded {
                check,
                module,
                loaded,
            }
        });
        self.jobs_of.insert(handle.id(), pending);
    }

    /// Whether instance `index` of `file` would start (module, grants, the check's `init`);
    /// the instance is dropped at once. What it needs is taken now, so the answer is worked
    /// out on a task of its own and never holds up the agent's loop.
    pub fn try_instance(
        &self,
        file: Box<CheckFile>,
        index: usize,
    ) -> impl Future<Output = Result<(), String>> + Send + 'static {
        let loaded = self
            .modules
            .get(&file.check)
            .map(|m| m.loaded.module.clone());
        let path = find_module(&self.config, &file.check);
        let missing = missing_module(&self.config, &file);
        let (config, launcher) = (self.config.clone(), self.launcher.clone());
        async move {
            if index >= file.instances.len() {
                return Err(format!("{}: no instance {index}", file.path.display()));
            }
            let module = match loaded {
                Some(module) => module,
                None => launcher.clone().load(path.ok_or(missing)?).await?.module,
            };
            launcher
                .prepare(config, file.into(), index, module)
                .await
                .map(drop)
        }
    }

    /// Reads `wasmon.yaml` again and applies what can change while running (host name, tags,
    /// folders, roots, defaults: the instances that inherit them restart); a change that
    /// needs a restart is said in the log and the status.
    pub fn reload_config(&mut self) {
        // Every check config is read again too, secrets resolved afresh.
        self.parsed.forget();
        let fresh = match AgentConfig::load(&self.config.source) {
            Ok(fresh) => fresh,
            Err(e) => {
                tracing::error!("wasmon.yaml not reloaded, the running config stays: {e}");
                self.config_problem = Some(format!("wasmon.yaml not reloaded: {e}"));
                return;
            }
        };
        let tags_changed =
            fresh.tags != self.config.tags || fresh.hostname() != self.config.hostname();
        let (fresh, pending) = fresh.reloadable(&self.started_with);
        self.config_problem = (!pending.is_empty()).then(|| {
            format!(
                "wasmon.yaml: `{}` changed: takes effect at the next restart",
                pending.join("`, `")
            )
        });
        if let Some(problem) = &self.config_problem {
            tracing::warn!("{problem}");
        }
        if tags_changed {
            self.stage.retag(&fresh);
            tracing::info!(
                "wasmon.yaml: new host name or tags apply now to the checks, pushed points and \
                 the agent's own series, to DogStatsD's at the next restart"
            );
        }
        self.config = fresh;
    }

    /// The config in force.
    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    /// A module that could not be loaded, in words.
    fn refused(&self, check: &str, error: String) -> String {
        if self.modules.contains_key(check) {
            format!("{error} (the previous version keeps running)")
        } else {
            error
        }
    }

    /// Marks `file`'s instances that run here desired (and `placed`, those the cluster group
    /// put here) and prepares, each on its own task, those whose config or module changed.
    fn prepare_changed(
        &mut self,
        file: &Arc<CheckFile>,
        wanted: &mut BTreeSet<Key>,
        placed: &mut BTreeSet<Key>,
    ) {
        let Some(loaded) = self.modules.get(&file.check) else {
            return;
        };
        let module_and_agent =
            hash_str(&loaded.loaded.sha256) ^ self.config.inherited_fingerprint();
        for instance in &file.instances {
            if !self.placement.runs_here(&file.check, instance) {
                continue;
            }
            let key = (file.check.clone(), instance.index);
            if self.placement.by_group(instance) {
                placed.insert(key.clone());
            }
            wanted.insert(key.clone());
            let fingerprint = instance.fingerprint ^ module_and_agent;
            let running = self.running.get(&key).map(|r| r.fingerprint);
            let failing = self
                .failing
                .get(&key)
                .map(|f| (f.fingerprint, f.since.elapsed()));
            let rescan = Duration::from_secs(self.config.rescan_secs);
            if self.preparing.get(&key) == Some(&fingerprint) {
                continue;
            }
            if !needs_start(fingerprint, running, failing, rescan) {
                // What runs (or failed) is wanted again: a prepare for anything else is moot.
                self.preparing.remove(&key);
                continue;
            }
            let preparing = self.launcher.clone().prepare(
                self.config.clone(),
                file.clone(),
                instance.index,
                loaded.loaded.module.clone(),
            );
            let (file, index) = (file.clone(), instance.index);
            self.preparing.insert(key.clone(), fingerprint);
            let handle = self.jobs.spawn(async move {
                let prepared = preparing.await.map(Box::new);
                Job::Prepared {
                    file,
                    index,
                    fingerprint,
                    prepared,
                }
            });
            self.jobs_of
                .insert(handle.id(), Pending::Prepare(key, fingerprint));
        }
    }

    /// Reports an instance that could not start as CRITICAL at its interval, until it starts.
    fn report_failing(&mut self, file: &CheckFile, index: usize, fingerprint: u64, error: &str) {
        let key = (file.check.clone(), index);
        if let Some(old) = self.failing.remove(&key) {
            old.cancel.cancel();
        }
        let Some(instance) = file.instances.get(index) else {
            return;
        };
        let (identity, interval) = failure_report(file, instance);
        let cancel = CancellationToken::new();
        scheduler::report_start_failure(
            self.stage.producer(instance.tags.clone()),
            identity,
            interval,
            error.to_string(),
            cancel.clone(),
        );
        self.failing.insert(
            key,
            Failing {
                fingerprint,
                cancel,
                since: Instant::now(),
            },
        );
    }

    /// Keeps a freshly loaded module.
    fn loaded(&mut self, check: &str, loaded: Loaded<L::Module>, file: ModuleFile) {
        if self
            .modules
            .get(check)
            .is_none_or(|m| m.loaded.sha256 != loaded.sha256)
        {
            let sha256 = &loaded.sha256[..loaded.sha256.len().min(12)];
            match loaded.origin {
                Origin::Cache => {
                    tracing::info!(check, sha256, "module loaded from the compiled cache")
                }
                Origin::Compiled | Origin::CompiledApart => {
                    let apart = loaded.origin == Origin::CompiledApart;
                    tracing::info!(check, sha256, took = ?loaded.took, in_child = apart, "module compiled")
                }
            }
        }
        self.modules
            .insert(check.to_string(), Module { loaded, file });
    }

    /// Starts a prepared instance, replacing (between two runs) the one it supersedes.
    fn start(&mut self, key: (String, usize), fingerprint: u64, mut prepared: Prepared<L::Runner>) {
        if let Some(failing) = self.failing.remove(&key) {
            failing.cancel.cancel();
        }
        let cancel = CancellationToken::new();
        let previous = self.running.remove(&key).map(|old| {
            old.cancel.cancel();
            if old.schedule.interval() == prepared.task.schedule.interval() {
                prepared.task.schedule = old.schedule;
            }
            (old.handle, old.status)
        });
        let replacing = previous.is_some();
        let status = prepared.task.status.clone();
        let schedule = prepared.task.schedule;
        let timeout = prepared.task.timeout;
        tracing::info!(
            instance = %prepared.task.instance.label(),
            interval = ?schedule.interval(),
            sha256 = %&prepared.sha256[..prepared.sha256.len().min(12)],
            "{}",
            if replacing { "instance replaced" } else { "instance started" }
        );
        let handle = scheduler::spawn(prepared.task, &self.stage, cancel.clone(), previous);
        self.running.insert(
            key,
            Running {
                fingerprint,
                sha256: prepared.sha256,
                version: prepared.version,
                cancel,
                handle,
                status,
                schedule,
                timeout,
                grants: prepared.grants,
            },
        );
    }

    /// What runs, its state, and the current problems.
    pub fn status(&self) -> StatusReport {
        StatusReport {
            pid: std::process::id(),
            started_ms: self.started_ms,
            instances: self
                .running
                .iter()
                .map(|((check, index), r)| InstanceReport {
                    check: check.clone(),
                    index: *index,
                    sha256: r.sha256.clone(),
                    version: r.version.clone(),
                    interval_secs: r.schedule.interval().as_secs_f64(),
                    timeout_secs: r.timeout.as_secs_f64(),
                    grants: r.grants.clone(),
                    status: r.status.get(),
                })
                .collect(),
            cluster: self.placement.report(),
            sources: self.sources.reports(),
            intake: self.intake.as_ref().map(|i| i.report()),
            problems: self
                .problems
                .iter()
                .chain(&self.config_problem)
                .cloned()
                .chain(self.orphans.iter().map(ToString::to_string))
                .collect(),
            sinks: self
                .sinks
                .iter()
                .map(|s| SinkReport {
                    name: s.name.to_string(),
                    stats: s.stats.snapshot(),
                    last_error: s.stats.last_error(),
                })
                .collect(),
        }
    }

    /// Stops every instance, letting runs in progress finish within `grace`.
    pub async fn stop(mut self, grace: Duration) {
        self.jobs.abort_all();
        for failing in self.failing.values() {
            failing.cancel.cancel();
        }
        let handles: Vec<JoinHandle<()>> = self
            .running
            .into_values()
            .map(|r| {
                r.cancel.cancel();
                r.handle
            })
            .collect();
        let all = async {
            for handle in handles {
                let _ = handle.await;
            }
        };
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("some runs did not finish within {grace:?}; stopping anyway");
        }
    }
}

fn hash_str(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    s.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests;
