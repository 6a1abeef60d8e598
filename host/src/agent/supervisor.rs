//! Keeps the running instances equal to what conf.d and the checks folders describe. Each
//! reconciliation compares every instance's fingerprint (its config and its module's sha256)
//! with what runs: unchanged instances are left alone, changed ones are rebuilt and swapped in
//! between two runs on the same schedule, removed ones stop. A broken config or module never
//! stops what was running: the previous version keeps running and the error is reported.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::status::{InstanceReport, StatusReport};
use crate::catalog::{ModuleCache, Origin, config_files, missing_module, prepare_instance};
use crate::config::{AgentConfig, CheckFile};
use crate::runtime::{CheckModule, Runtime};
use crate::scheduler::{self, Schedule, SharedStatus};
use crate::sinks::PayloadSender;

/// A module whose size or modification time changed this recently is still being written.
const SETTLE: Duration = Duration::from_millis(500);

/// What a reconciliation left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything found was handled.
    Done,
    /// A module was still being written: reconcile again shortly.
    RetrySoon,
}

struct Loaded {
    module: CheckModule,
    path: PathBuf,
    stamp: (SystemTime, u64),
}

struct Running {
    fingerprint: u64,
    sha256: String,
    cancel: CancellationToken,
    handle: JoinHandle<()>,
    status: SharedStatus,
    schedule: Schedule,
    timeout: Duration,
    grants: Vec<String>,
}

enum ModuleState {
    Ready,
    Settling,
    Refused(String),
}

/// The agent's instances and the modules they run.
pub struct Supervisor {
    config: AgentConfig,
    runtime: Runtime,
    cache: ModuleCache,
    sink: PayloadSender,
    modules: HashMap<String, Loaded>,
    running: BTreeMap<(String, usize), Running>,
    problems: Vec<String>,
    started_ms: i64,
}

impl Supervisor {
    /// A supervisor with nothing running yet.
    pub fn new(config: AgentConfig, runtime: Runtime, sink: PayloadSender) -> Self {
        let cache = ModuleCache::new(runtime.engine(), &config.data_dir);
        Self {
            config,
            runtime,
            cache,
            sink,
            modules: HashMap::new(),
            running: BTreeMap::new(),
            problems: Vec::new(),
            started_ms: scheduler::now_ms(),
        }
    }

    /// Brings the running instances in line with the files.
    pub async fn reconcile(&mut self) -> Outcome {
        let mut problems = Vec::new();
        let mut outcome = Outcome::Done;
        let mut desired: BTreeSet<(String, usize)> = BTreeSet::new();
        // Checks whose running instances stay as they are (broken config, module in flux).
        let mut untouched: HashSet<String> = HashSet::new();
        let files = match config_files(&self.config.conf_d) {
            Ok(files) => files,
            Err(e) => {
                self.problems = vec![format!(
                    "{}: cannot list check configs: {e}",
                    self.config.conf_d.display()
                )];
                return Outcome::Done;
            }
        };
        for path in files {
            let file = match CheckFile::load(&path) {
                Ok(file) => file,
                Err(errors) => {
                    problems.extend(errors.0.iter().map(ToString::to_string));
                    untouched.insert(stem(&path));
                    continue;
                }
            };
            let Some(module_path) = self.config.find_module(&file.check) else {
                problems.push(missing_module(&self.config, &file));
                continue;
            };
            match self.refresh_module(&file.check, &module_path).await {
                ModuleState::Ready => {}
                ModuleState::Settling => {
                    outcome = Outcome::RetrySoon;
                    untouched.insert(file.check.clone());
                    continue;
                }
                ModuleState::Refused(e) => {
                    problems.push(if self.modules.contains_key(&file.check) {
                        format!("{e} (the previous version keeps running)")
                    } else {
                        e
                    });
                    untouched.insert(file.check.clone());
                    continue;
                }
            }
            for instance in &file.instances {
                let key = (file.check.clone(), instance.index);
                desired.insert(key.clone());
                let Some(loaded) = self.modules.get(&file.check) else {
                    continue;
                };
                let fingerprint = instance.fingerprint ^ hash_str(&loaded.module.sha256);
                if self
                    .running
                    .get(&key)
                    .is_some_and(|r| r.fingerprint == fingerprint)
                {
                    continue;
                }
                match prepare_instance(&self.config, &self.runtime, &file, &loaded.module, instance)
                    .await
                {
                    Ok(prepared) => self.start(key, fingerprint, prepared),
                    Err(e) => {
                        let kept = self.running.contains_key(&key);
                        problems.push(if kept {
                            format!("{e} (the previous config keeps running)")
                        } else {
                            e
                        });
                    }
                }
            }
        }
        let gone: Vec<(String, usize)> = self
            .running
            .keys()
            .filter(|k| !desired.contains(*k) && !untouched.contains(&k.0))
            .cloned()
            .collect();
        for key in gone {
            if let Some(r) = self.running.remove(&key) {
                tracing::info!(instance = %format!("{}[{}]", key.0, key.1), "stopped: no longer configured");
                r.cancel.cancel();
            }
        }
        self.modules.retain(|check, _| {
            desired.iter().any(|(c, _)| c == check) || untouched.contains(check)
        });
        self.cache.prune(
            &self
                .modules
                .values()
                .map(|l| l.module.sha256.clone())
                .collect(),
        );
        for problem in &problems {
            if !self.problems.contains(problem) {
                tracing::error!("{problem}");
            }
        }
        self.problems = problems;
        outcome
    }

    /// Loads the module at `path` for `check` if it is new or changed.
    async fn refresh_module(&mut self, check: &str, path: &Path) -> ModuleState {
        let stamp = match std::fs::metadata(path) {
            Ok(m) => (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()),
            Err(e) => return ModuleState::Refused(format!("{}: {e}", path.display())),
        };
        if self
            .modules
            .get(check)
            .is_some_and(|l| l.path == path && l.stamp == stamp)
        {
            return ModuleState::Ready;
        }
        if stamp.0.elapsed().is_ok_and(|age| age < SETTLE) {
            return ModuleState::Settling;
        }
        let (engine, cache, owned) = (
            self.runtime.engine().clone(),
            self.cache.clone(),
            path.to_path_buf(),
        );
        let loaded = tokio::task::spawn_blocking(move || cache.load(&engine, &owned)).await;
        match loaded {
            Ok(Ok((module, origin))) => {
                if origin == Origin::Compiled {
                    release_freed_memory();
                }
                if self
                    .modules
                    .get(check)
                    .is_none_or(|l| l.module.sha256 != module.sha256)
                {
                    match origin {
                        Origin::Cache => {
                            tracing::info!(check, sha256 = %&module.sha256[..12], "module loaded from the compiled cache")
                        }
                        Origin::Compiled => {
                            tracing::info!(check, sha256 = %&module.sha256[..12], took = ?module.compile_time, "module compiled")
                        }
                    }
                }
                self.modules.insert(
                    check.to_string(),
                    Loaded {
                        module,
                        path: path.to_path_buf(),
                        stamp,
                    },
                );
                ModuleState::Ready
            }
            Ok(Err(e)) => ModuleState::Refused(e.to_string()),
            Err(e) => ModuleState::Refused(format!("{}: loading failed: {e}", path.display())),
        }
    }

    /// Starts a prepared instance, replacing (between two runs) the one it supersedes.
    fn start(
        &mut self,
        key: (String, usize),
        fingerprint: u64,
        mut prepared: crate::catalog::Prepared,
    ) {
        let cancel = CancellationToken::new();
        let previous = self.running.remove(&key).map(|old| {
            old.cancel.cancel();
            if old.schedule.interval() == prepared.task.schedule.interval() {
                prepared.task.schedule = old.schedule;
            }
            (old.handle, old.status.get().last_run_ms)
        });
        let replacing = previous.is_some();
        let status = prepared.task.status.clone();
        let schedule = prepared.task.schedule;
        let timeout = prepared.task.timeout;
        tracing::info!(
            instance = %prepared.task.instance.label(),
            interval = ?schedule.interval(),
            sha256 = %&prepared.sha256[..12],
            "{}",
            if replacing { "instance replaced" } else { "instance started" }
        );
        let handle = scheduler::spawn(prepared.task, self.sink.clone(), cancel.clone(), previous);
        self.running.insert(
            key,
            Running {
                fingerprint,
                sha256: prepared.sha256,
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
                    interval_secs: r.schedule.interval().as_secs_f64(),
                    timeout_secs: r.timeout.as_secs_f64(),
                    grants: r.grants.clone(),
                    status: r.status.get(),
                })
                .collect(),
            problems: self.problems.clone(),
        }
    }

    /// Stops every instance, letting runs in progress finish within `grace`.
    pub async fn stop(self, grace: Duration) {
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

/// Compiling leaves megabytes that Cranelift freed in the allocator's pools; give them back so
/// the agent's resident memory is what it uses.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap memory to the kernel; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn hash_str(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    s.hash(&mut hasher);
    hasher.finish()
}
