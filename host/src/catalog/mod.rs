//! What the agent would run: every check config in conf.d with its compiled module, and the
//! instances prepared from them. Problems are collected, never fatal: the rest still runs.

mod cache;
mod prepare;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use cache::{ModuleCache, Origin};
pub use prepare::{Prepared, failure_report, prepare, prepare_instance};

use crate::config::{AgentConfig, CheckFile, ConfigErrors};
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

/// Check config files in `conf_d`: `<check>.yaml` (or `.yml`), and Datadog Agent 7's
/// `<check>.d/*.yaml`, sorted.
pub fn config_files(conf_d: &Path) -> std::io::Result<Vec<PathBuf>> {
    let yaml = |p: &Path| {
        p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
    };
    let mut files = Vec::new();
    for path in std::fs::read_dir(conf_d)?.filter_map(|e| e.ok().map(|e| e.path())) {
        if yaml(&path) {
            files.push(path);
        } else if path.is_dir() && path.extension().is_some_and(|e| e == "d") {
            let Ok(inner) = std::fs::read_dir(&path) else {
                continue;
            };
            files.extend(
                inner
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| yaml(p)),
            );
        }
    }
    files.sort();
    Ok(files)
}

/// The check a config file configures: `conf.d/<check>.yaml`, or any file in
/// `conf.d/<check>.d/`.
pub fn check_of(conf_d: &Path, path: &Path) -> String {
    let named_by = match path.parent() {
        Some(folder) if folder != conf_d => folder,
        _ => path,
    };
    named_by
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Reads a config file found by [`config_files`], naming its check.
pub fn load_config(conf_d: &Path, path: &Path) -> Result<CheckFile, ConfigErrors> {
    let file = CheckFile::load(path)?;
    Ok(file.named(&check_of(conf_d, path)))
}

/// The problem with a second config file for a check already configured.
pub fn configured_twice(first: &Path, again: &Path, check: &str) -> String {
    format!(
        "{}: configures `{check}` again (already configured by {}): keep one, or move its \
         instances into the other",
        again.display(),
        first.display()
    )
}

impl Catalog {
    /// Reads conf.d and compiles the module of every check configured there (only `check`
    /// when given).
    pub async fn load(config: &AgentConfig, runtime: &Runtime, only: Option<&str>) -> Self {
        let mut catalog = Self::default();
        let cache = ModuleCache::new(runtime.engine(), &config.data_dir);
        let files = match config_files(&config.conf_d) {
            Ok(files) => files,
            Err(e) => {
                catalog.problems.push(format!(
                    "{}: cannot list check configs: {e}",
                    config.conf_d.display()
                ));
                return catalog;
            }
        };
        let mut seen: HashMap<String, PathBuf> = HashMap::new();
        for path in files {
            let check = check_of(&config.conf_d, &path);
            if let Some(first) = seen.get(&check) {
                catalog
                    .problems
                    .push(configured_twice(first, &path, &check));
                continue;
            }
            seen.insert(check, path.clone());
            let file = match load_config(&config.conf_d, &path) {
                Ok(file) => file,
                Err(errors) => {
                    catalog
                        .problems
                        .extend(errors.0.iter().map(ToString::to_string));
                    continue;
                }
            };
            if only.is_some_and(|name| name != file.check) {
                continue;
            }
            match load_module(config, runtime, &cache, &file).await {
                Ok(module) => catalog.entries.push(Entry { file, module }),
                Err(problem) => catalog.problems.push(problem),
            }
        }
        catalog
    }
}

/// Finds and compiles the module a config names.
async fn load_module(
    config: &AgentConfig,
    runtime: &Runtime,
    cache: &ModuleCache,
    file: &CheckFile,
) -> Result<CheckModule, String> {
    let Some(path) = config.find_module(&file.check) else {
        return Err(missing_module(config, file));
    };
    load_cached(runtime, cache, path).await
}

/// Compiles one `.wasm` on a blocking thread, through the compiled cache.
pub async fn load_cached(
    runtime: &Runtime,
    cache: &ModuleCache,
    path: PathBuf,
) -> Result<CheckModule, String> {
    let (engine, cache) = (runtime.engine().clone(), cache.clone());
    tokio::task::spawn_blocking(move || cache.load(&engine, &path))
        .await
        .map_err(|e| format!("compiling a module failed: {e}"))?
        .map(|(module, _)| module)
        .map_err(|e| e.to_string())
}

/// `conf.d/x.yaml: no module `x.wasm` in checks_d (searched ...)`.
pub fn missing_module(config: &AgentConfig, file: &CheckFile) -> String {
    let searched: Vec<String> = config
        .checks_d
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    format!(
        "{}: no module `{}.wasm` in checks_d (searched {})",
        file.path.display(),
        file.check,
        searched.join(", ")
    )
}

/// Compiles one `.wasm` on a blocking thread.
pub async fn load_module_file(runtime: &Runtime, path: PathBuf) -> Result<CheckModule, String> {
    let engine = runtime.engine().clone();
    tokio::task::spawn_blocking(move || CheckModule::load(&engine, &path))
        .await
        .map_err(|e| format!("compiling a module failed: {e}"))?
        .map_err(|e| e.to_string())
}
