//! Where the desired state comes from: instance sources (which checks, with which config) and
//! module sources (where each check's module is). A new source is a file here and a line in
//! [`INSTANCE_SOURCES`] or [`MODULE_SOURCES`].

mod checks_d;
mod conf_d;
mod inline;
mod parsed;
mod registry;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use crate::config::{AgentConfig, CheckFile, ConfigErrors};
pub use parsed::ParsedConfigs;

/// Where check configs come from, in order: a check found by one is a problem for the next.
const INSTANCE_SOURCES: &[&dyn InstanceSource] = &[&conf_d::ConfD, &inline::Inline];

/// Where modules come from: the first source that provides a check is the only one asked.
const MODULE_SOURCES: &[&dyn ModuleSource] = &[&registry::Registry, &checks_d::ChecksD];

/// A source of check configs.
pub trait InstanceSource: Sync {
    /// Adds the configs it holds now to `found`; a check already in `found` is a problem
    /// naming both. An error: it could not be listed at all.
    fn list(
        &self,
        config: &AgentConfig,
        found: &mut Vec<FoundConfig>,
        problems: &mut Vec<String>,
    ) -> std::io::Result<()>;
}

/// A source of modules.
pub trait ModuleSource: Sync {
    /// Whether it provides `check`'s module.
    fn provides(&self, config: &AgentConfig, check: &str) -> bool;

    /// The module's file, if there is one yet.
    fn find(&self, config: &AgentConfig, check: &str) -> Option<PathBuf>;

    /// Why there is none, said of the check's config `file`.
    fn missing(&self, config: &AgentConfig, file: &CheckFile) -> String;

    /// Whether its files appear whole (written aside and renamed), needing no time to settle.
    fn writes_whole(&self) -> bool;
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

/// Every check config the sources hold, and the problems listing them: conf.d's files, then
/// the instances written inline in `sources`.
pub fn check_configs(config: &AgentConfig) -> std::io::Result<(Vec<FoundConfig>, Vec<String>)> {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for source in INSTANCE_SOURCES {
        source.list(config, &mut found, &mut problems)?;
    }
    Ok((found, problems))
}

fn module_source(config: &AgentConfig, check: &str) -> &'static dyn ModuleSource {
    MODULE_SOURCES
        .iter()
        .copied()
        .find(|s| s.provides(config, check))
        .unwrap_or(&checks_d::ChecksD)
}

/// Where `check`'s module is, if it has one yet.
pub fn find_module(config: &AgentConfig, check: &str) -> Option<PathBuf> {
    module_source(config, check).find(config, check)
}

/// Why the check configured by `file` has no module.
pub fn missing_module(config: &AgentConfig, file: &CheckFile) -> String {
    module_source(config, &file.check).missing(config, file)
}

/// A module file as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its modification time and size: a change of either is a new version.
    pub stamp: (SystemTime, u64),
    /// Written whole by its source: no wait for it to settle.
    pub whole: bool,
}

/// Where a check's module is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// Here.
    Found(ModuleFile),
    /// Nowhere yet: the check's instances stop.
    Missing(String),
    /// There, but unreadable: what runs of it stays.
    Unreadable(String),
}

/// What the sources configure now.
#[derive(Default)]
pub struct Observed {
    /// Every check whose config parsed, with where its module is.
    pub checks: Vec<(Arc<CheckFile>, Located)>,
    /// Checks whose config did not parse: what runs of them stays as it is.
    pub broken: Vec<String>,
    /// What was wrong, each naming its file.
    pub problems: Vec<String>,
}

/// Reads every source: the configs, parsed (or as `parsed` holds them while their files are
/// unchanged), and where each check's module is. An error: the configs could not be listed.
pub fn observe(config: &AgentConfig, parsed: &mut ParsedConfigs) -> Result<Observed, String> {
    let (files, problems) = check_configs(config).map_err(|e| {
        format!(
            "{}: cannot list check configs: {e}",
            config.conf_d.display()
        )
    })?;
    let mut observed = Observed {
        problems,
        ..Observed::default()
    };
    parsed.keep_only(&files);
    for found in files {
        let file = match parsed.load(&found) {
            Ok(file) => file,
            Err(errors) => {
                observed
                    .problems
                    .extend(errors.0.iter().map(ToString::to_string));
                observed.broken.push(found.check);
                continue;
            }
        };
        let source = module_source(config, &file.check);
        let located = match source.find(config, &file.check) {
            None => Located::Missing(source.missing(config, &file)),
            Some(path) => match std::fs::metadata(&path) {
                Ok(m) => Located::Found(ModuleFile {
                    stamp: (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()),
                    path,
                    whole: source.writes_whole(),
                }),
                Err(e) => Located::Unreadable(format!("{}: {e}", path.display())),
            },
        };
        observed.checks.push((file, located));
    }
    Ok(observed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_check_is_found_only_in_the_store_and_a_dropped_one_in_checks_d() {
        let dir = tempfile::tempdir().unwrap();
        let (conf_d, checks_d) = (dir.path().join("conf.d"), dir.path().join("checks.d"));
        std::fs::create_dir_all(&conf_d).unwrap();
        std::fs::create_dir_all(&checks_d).unwrap();
        for check in ["dropped", "pulled"] {
            std::fs::write(conf_d.join(format!("{check}.yaml")), "instances:\n  - {}\n").unwrap();
            std::fs::write(checks_d.join(format!("{check}.wasm")), b"\0asm").unwrap();
        }
        std::fs::write(conf_d.join("absent.yaml"), "instances:\n  - {}\n").unwrap();
        std::fs::write(conf_d.join("broken.yaml"), "instances: [oops\n").unwrap();
        let config: AgentConfig = serde_yaml::from_str(&format!(
            "conf_d: {}\nchecks_d: [{}]\ndata_dir: {}\n\
             trusted_keys: [RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3]\n\
             sources: [{{check: pulled, reference: 'registry.example/pulled:1'}}]\n",
            conf_d.display(),
            checks_d.display(),
            dir.path().join("data").display()
        ))
        .unwrap();
        let observed = observe(&config, &mut ParsedConfigs::default()).unwrap();
        assert_eq!(observed.broken, ["broken"]);
        let located: Vec<(&str, &Located)> = observed
            .checks
            .iter()
            .map(|(file, located)| (file.check.as_str(), located))
            .collect();
        assert_eq!(located.len(), 3);
        assert!(
            matches!(located[0], ("absent", Located::Missing(m)) if m.contains("no module `absent.wasm` in checks_d"))
        );
        assert!(
            matches!(located[1], ("dropped", Located::Found(f)) if f.path == checks_d.join("dropped.wasm") && !f.whole)
        );
        // Not the checks_d file of the same name: nothing verified yet.
        assert!(
            matches!(located[2], ("pulled", Located::Missing(m)) if m.contains("no verified version of `pulled`"))
        );
        assert_eq!(find_module(&config, "pulled"), None);
    }

    #[test]
    fn an_unlisted_conf_d_is_one_problem() {
        let config: AgentConfig = serde_yaml::from_str("conf_d: /nonexistent/conf.d\n").unwrap();
        let error = observe(&config, &mut ParsedConfigs::default())
            .err()
            .unwrap();
        assert!(
            error.starts_with("/nonexistent/conf.d: cannot list check configs"),
            "{error}"
        );
    }
}
