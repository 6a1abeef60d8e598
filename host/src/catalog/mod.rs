//! What the agent would run: every check config in conf.d with its compiled module, and the
//! instances prepared from them. Problems are collected, never fatal: the rest still runs.

mod cache;
mod prepare;

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

/// A check's config, found in conf.d or written inline in a registry source.
pub struct FoundConfig {
    /// The check it configures.
    pub check: String,
    /// `conf.d/<check>.yaml`, a file in `conf.d/<check>.d/`, or `wasmon.yaml`.
    pub path: PathBuf,
    /// The config's text when it is not the whole file (a source's inline instances).
    pub inline: Option<String>,
}

impl FoundConfig {
    /// Reads and validates the config, naming its check.
    pub fn load(&self) -> Result<CheckFile, ConfigErrors> {
        let file = match &self.inline {
            Some(text) => CheckFile::parse(&self.path, text.clone())?,
            None => CheckFile::load(&self.path)?,
        };
        Ok(file.named(&self.check))
    }
}

/// Every check config: conf.d's files, then the instances written inline in `sources`. A
/// check configured in both is a problem naming both.
pub fn check_configs(config: &AgentConfig) -> std::io::Result<(Vec<FoundConfig>, Vec<String>)> {
    let (mut found, mut problems) = config_files(&config.conf_d)?;
    let file = config
        .source
        .config
        .clone()
        .unwrap_or_else(|| crate::config::DEFAULT_CONFIG.into());
    for (i, source) in config.sources.iter().enumerate() {
        let Some(instances) = &source.instances else {
            continue;
        };
        if let Some(first) = found.iter().find(|f| f.check == source.check) {
            problems.push(format!(
                "{}: sources[{i}] configures `{}` again (already configured by {}): keep one",
                file.display(),
                source.check,
                first.path.display()
            ));
            continue;
        }
        let mut doc = serde_yaml::Mapping::new();
        if let Some(init) = &source.init_config {
            doc.insert("init_config".into(), init.clone());
        }
        doc.insert("instances".into(), instances.clone().into());
        match serde_yaml::to_string(&doc) {
            Ok(text) => found.push(FoundConfig {
                check: source.check.clone(),
                path: file.clone(),
                inline: Some(text),
            }),
            Err(e) => problems.push(format!("{}: sources[{i}].instances: {e}", file.display())),
        }
    }
    Ok((found, problems))
}

/// Check config files in `conf_d`, one per check: `<check>.yaml` (or `.yml`) and Datadog
/// Agent 7's `<check>.d/*.yaml`, sorted. A second file for a check is a problem naming both.
fn config_files(conf_d: &Path) -> std::io::Result<(Vec<FoundConfig>, Vec<String>)> {
    let yaml = |p: &Path| {
        p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
    };
    let mut paths = Vec::new();
    for path in std::fs::read_dir(conf_d)?.filter_map(|e| e.ok().map(|e| e.path())) {
        if yaml(&path) {
            paths.push(path);
        } else if path.is_dir() && path.extension().is_some_and(|e| e == "d") {
            let Ok(inner) = std::fs::read_dir(&path) else {
                continue;
            };
            paths.extend(
                inner
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| yaml(p)),
            );
        }
    }
    paths.sort();
    let mut found: Vec<FoundConfig> = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        // Named by its folder when it is in one, else by its own name.
        let named_by = match path.parent() {
            Some(folder) if folder != conf_d => folder,
            _ => &path,
        };
        let check = named_by
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match found.iter().find(|f| f.check == check) {
            Some(first) => problems.push(format!(
                "{}: configures `{check}` again (already configured by {}): keep one, or \
                 move its instances into the other",
                path.display(),
                first.path.display()
            )),
            None => found.push(FoundConfig {
                check,
                path,
                inline: None,
            }),
        }
    }
    Ok((found, problems))
}

impl Catalog {
    /// Reads conf.d and compiles the module of every check configured there (only `check`
    /// when given).
    pub async fn load(config: &AgentConfig, runtime: &Runtime, only: Option<&str>) -> Self {
        let mut catalog = Self::default();
        let cache = ModuleCache::new(runtime.engine(), &config.data_dir);
        let files = match check_configs(config) {
            Ok((files, twice)) => {
                catalog.problems.extend(twice);
                files
            }
            Err(e) => {
                catalog.problems.push(format!(
                    "{}: cannot list check configs: {e}",
                    config.conf_d.display()
                ));
                return catalog;
            }
        };
        for found in files {
            let file = match found.load() {
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

/// `conf.d/x.yaml: no module `x.wasm` in checks_d (searched ...)`, or for a check from a
/// registry, that none has been verified yet.
pub fn missing_module(config: &AgentConfig, file: &CheckFile) -> String {
    if let Some(source) = config.source_of(&file.check) {
        return format!(
            "{}: no verified version of `{}` from {} yet (see the source in `wasmon status`)",
            file.path.display(),
            file.check,
            source.reference
        );
    }
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
