//! A check pulled from an OCI registry: its last verified version in the agent's store, and
//! nothing else (never a checks_d file of the same name).

use std::path::PathBuf;

use super::ModuleSource;
use crate::config::{AgentConfig, CheckFile};
use crate::registry::Store;

/// The verified versions of the checks `sources:` names.
pub struct Registry;

impl ModuleSource for Registry {
    fn provides(&self, config: &AgentConfig, check: &str) -> bool {
        config.source_of(check).is_some()
    }

    fn find(&self, config: &AgentConfig, check: &str) -> Option<PathBuf> {
        Store::new(&config.data_dir, check).current_module()
    }

    fn missing(&self, config: &AgentConfig, file: &CheckFile) -> String {
        let reference = config
            .source_of(&file.check)
            .map_or("", |s| s.reference.as_str());
        format!(
            "{}: no verified version of `{}` from {reference} yet (see the source in `wasmon \
             status`)",
            file.path.display(),
            file.check,
        )
    }

    fn writes_whole(&self) -> bool {
        // Its poller writes a temporary file and renames it.
        true
    }
}
