//! Instances written inline in `wasmon.yaml`, beside a registry source.

use super::{FoundConfig, InstanceSource};
use crate::config::AgentConfig;

/// `sources[].instances` of `wasmon.yaml`.
pub struct Inline;

impl InstanceSource for Inline {
    fn list(
        &self,
        config: &AgentConfig,
        found: &mut Vec<FoundConfig>,
        problems: &mut Vec<String>,
    ) -> std::io::Result<()> {
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
        Ok(())
    }
}
