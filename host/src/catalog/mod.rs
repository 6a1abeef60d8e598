//! What the agent would run: every check config in conf.d with its compiled module, and the
//! instances prepared from them. Problems are collected, never fatal: the rest still runs.

mod cache;
mod compile;
mod prepare;
mod sources;

use std::path::PathBuf;
use std::sync::Arc;

pub use cache::{ModuleCache, Origin};
pub use compile::{compile_artifact, compile_in_children};
pub use prepare::{Prepared, failure_report, prepare, prepare_instance};
pub use sources::{
    FoundConfig, Located, ModuleFile, Observed, ParsedConfigs, check_configs, find_module,
    missing_module, observe,
};

use crate::config::{AgentConfig, CheckFile};
use crate::runtime::{CheckModule, Runtime};

/// A check config and the module it names.
pub struct Entry {
    /// The parsed config file.
    pub file: CheckFile,
    /// The compiled module.
    pub module: CheckModule,
}

/// Everything found in conf.d, and what was wrong.
#[derive(Default)]
pub struct Catalog {
    /// Checks ready to be prepared.
    pub entries: Vec<Entry>,
    /// One message per problem, each naming its file.
    pub problems: Vec<String>,
}

impl Catalog {
    /// Reads the sources and compiles the module of every check they configure (only `check`
    /// when given).
    pub async fn load(config: &AgentConfig, runtime: &Runtime, only: Option<&str>) -> Self {
        let mut catalog = Self::default();
        let cache = ModuleCache::new(runtime.engine(), &config.data_dir);
        let observed = match observe(config, &mut ParsedConfigs::default()) {
            Ok(observed) => observed,
            Err(problem) => {
                catalog.problems.push(problem);
                return catalog;
            }
        };
        catalog.problems.extend(observed.problems);
        for (file, located) in observed.checks {
            if only.is_some_and(|name| name != file.check) {
                continue;
            }
            let loaded = match located {
                Located::Found(module) => (cache.load_off_thread(runtime.engine(), module.path))
                    .await
                    .map(|(module, _)| module),
                Located::Missing(problem) | Located::Unreadable(problem) => Err(problem),
            };
            match loaded {
                Ok(module) => catalog.entries.push(Entry {
                    file: Arc::unwrap_or_clone(file),
                    module,
                }),
                Err(problem) => catalog.problems.push(problem),
            }
        }
        catalog
    }
}

/// Compiles one `.wasm` on a blocking thread.
pub async fn load_module_file(runtime: &Runtime, path: PathBuf) -> Result<CheckModule, String> {
    let engine = runtime.engine().clone();
    tokio::task::spawn_blocking(move || CheckModule::load(&engine, &path))
        .await
        .map_err(|e| format!("compiling a module failed: {e}"))?
        .map_err(|e| e.to_string())
}
