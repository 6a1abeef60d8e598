//! The checks folders: `<check>.wasm` in the first folder of `checks_d` that has it.

use std::path::PathBuf;

use super::ModuleSource;
use crate::config::{AgentConfig, CheckFile};

/// The folders of `checks_d`, in order; operators drop modules there, so a file may still be
/// being written.
pub struct ChecksD;

impl ModuleSource for ChecksD {
    fn provides(&self, _: &AgentConfig, _: &str) -> bool {
        true
    }

    fn find(&self, config: &AgentConfig, check: &str) -> Option<PathBuf> {
        let file = format!("{check}.wasm");
        config
            .checks_d
            .iter()
            .map(|d| d.join(&file))
            .find(|p| p.is_file())
    }

    fn missing(&self, config: &AgentConfig, file: &CheckFile) -> String {
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

    fn writes_whole(&self) -> bool {
        false
    }
}
