//! What the supervisor does to the world: load a check's module and prepare an instance of it.
//! The agent's launcher runs WebAssembly ([`Wasm`]); the supervisor's unit tests script one,
//! so its decisions are tested in paused time without compiling anything.

use std::collections::HashSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::startup_pages::release_freed_heap;
use crate::catalog::{ModuleCache, Origin, Prepared, prepare_instance};
use crate::config::{AgentConfig, CheckFile};
use crate::runtime::{CheckModule, Runtime};
use crate::scheduler::Runner;

/// A module a load came to.
pub struct Loaded<M> {
    /// The module, ready to instantiate.
    pub module: M,
    /// Hex sha256 of its file: the version that runs.
    pub sha256: String,
    /// Whether it was compiled now or taken from the compiled cache.
    pub origin: Origin,
    /// How long compiling took (zero when it came from the cache).
    pub took: Duration,
}

/// Loads modules and prepares instances for the supervisor.
pub trait Launcher: Clone + Send + Sync + 'static {
    /// A loaded module.
    type Module: Clone + Send + Sync + 'static;
    /// What an instance's loop runs.
    type Runner: Runner;

    /// Reads and loads the module at `path`, compiling it if needed, off the agent's loop.
    fn load(
        self,
        path: PathBuf,
    ) -> impl Future<Output = Result<Loaded<Self::Module>, String>> + Send;

    /// Instance `index` of `file` on `module`, ready to run; the error names the file, the
    /// instance and, where it can be found, the line.
    fn prepare(
        self,
        config: AgentConfig,
        file: Arc<CheckFile>,
        index: usize,
        module: Self::Module,
    ) -> impl Future<Output = Result<Prepared<Self::Runner>, String>> + Send;

    /// Forgets what was kept for modules other than the `keep` sha256s.
    fn prune(&self, keep: &HashSet<String>);
}

/// Checks as WebAssembly components, compiled through the agent's cache.
#[derive(Clone)]
pub struct Wasm {
    runtime: Runtime,
    cache: ModuleCache,
}

impl Wasm {
    /// A launcher whose compiled cache is under `data_dir`.
    pub fn new(runtime: Runtime, data_dir: &Path) -> Self {
        let cache = ModuleCache::new(runtime.engine(), data_dir);
        Self { runtime, cache }
    }

    /// Loads the module at `path` on this thread: for callers that are off the loop already.
    pub fn load_blocking(&self, path: &Path) -> Result<Loaded<CheckModule>, String> {
        let (module, origin) = self
            .cache
            .load(self.runtime.engine(), path)
            .map_err(|e| e.to_string())?;
        if origin == Origin::Compiled {
            // Cranelift freed megabytes into the allocator's pools.
            release_freed_heap();
        }
        Ok(Loaded {
            sha256: module.sha256.clone(),
            took: module.compile_time,
            origin,
            module,
        })
    }
}

impl Launcher for Wasm {
    type Module = CheckModule;
    type Runner = crate::runtime::CheckInstance;

    async fn load(self, path: PathBuf) -> Result<Loaded<CheckModule>, String> {
        tokio::task::spawn_blocking(move || self.load_blocking(&path))
            .await
            .map_err(|e| format!("compiling a module failed: {e}"))?
    }

    async fn prepare(
        self,
        config: AgentConfig,
        file: Arc<CheckFile>,
        index: usize,
        module: CheckModule,
    ) -> Result<Prepared, String> {
        let instance = file
            .instances
            .get(index)
            .ok_or_else(|| format!("{}: no instance {index}", file.path.display()))?;
        prepare_instance(&config, &self.runtime, &file, &module, instance).await
    }

    fn prune(&self, keep: &HashSet<String>) {
        self.cache.prune(keep);
    }
}
