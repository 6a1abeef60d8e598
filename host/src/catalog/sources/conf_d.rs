//! conf.d: `<check>.yaml` (or `.yml`) and Datadog Agent 7's `<check>.d/*.yaml`.

use std::path::Path;

use super::{FoundConfig, InstanceSource};
use crate::config::AgentConfig;

/// The check config files in `conf_d`.
pub struct ConfD;

impl InstanceSource for ConfD {
    fn list(
        &self,
        config: &AgentConfig,
        found: &mut Vec<FoundConfig>,
        problems: &mut Vec<String>,
    ) -> std::io::Result<()> {
        let (files, twice) = config_files(&config.conf_d)?;
        found.extend(files);
        problems.extend(twice);
        Ok(())
    }
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
