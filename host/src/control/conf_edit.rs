//! Adding and removing instances in `conf.d/<check>.yaml`, so API changes survive a restart.
//! The new file is validated before it replaces the old one (comments are not kept).

use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use crate::config::CheckFile;

fn config_path(conf_d: &Path, check: &str) -> Result<PathBuf, String> {
    let valid = !check.is_empty()
        && check
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(conf_d.join(format!("{check}.yaml")))
    } else {
        Err(format!("{check:?} is not a check name"))
    }
}

fn read(path: &Path) -> Result<Mapping, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Mapping::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn instances(doc: &mut Mapping) -> Result<&mut Vec<Value>, String> {
    let entry = doc
        .entry("instances".into())
        .or_insert_with(|| Value::Sequence(Vec::new()));
    entry
        .as_sequence_mut()
        .ok_or_else(|| "`instances` is not a list".to_string())
}

/// `doc` as the text of a valid check config.
fn validated(path: &Path, doc: &Mapping) -> Result<(String, CheckFile), String> {
    let text = serde_yaml::to_string(doc).map_err(|e| e.to_string())?;
    let file = CheckFile::parse(path, text.clone()).map_err(|e| e.to_string())?;
    Ok((text, file))
}

/// Replaces the file at `path` with `text` at once.
fn write(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| e.to_string())
}

/// An instance to append, validated as a config file but not written yet.
pub struct Addition {
    path: PathBuf,
    text: String,
    file: CheckFile,
    /// The new instance's index.
    pub index: usize,
}

impl Addition {
    /// The file with `instance` appended, if it is a valid check config.
    pub fn plan(conf_d: &Path, check: &str, instance: serde_json::Value) -> Result<Self, String> {
        if !instance.is_object() {
            return Err("an instance is a JSON object".into());
        }
        let path = config_path(conf_d, check)?;
        let mut doc = read(&path)?;
        doc.entry("init_config".into()).or_insert(Value::Null);
        let instance: Value = serde_yaml::to_value(instance).map_err(|e| e.to_string())?;
        let list = instances(&mut doc)?;
        list.push(instance);
        let index = list.len() - 1;
        let (text, file) = validated(&path, &doc)?;
        Ok(Self {
            path,
            text,
            file,
            index,
        })
    }

    /// The config as it would be.
    pub fn file(&self) -> &CheckFile {
        &self.file
    }

    /// Writes the file; returns the instance's index.
    pub fn commit(self) -> Result<usize, String> {
        write(&self.path, &self.text)?;
        Ok(self.index)
    }
}

/// Appends an instance; returns its index.
#[cfg(test)]
fn add_instance(conf_d: &Path, check: &str, instance: serde_json::Value) -> Result<usize, String> {
    Addition::plan(conf_d, check, instance)?.commit()
}

/// Removes instance `index`; the file goes when its last instance does.
pub fn remove_instance(conf_d: &Path, check: &str, index: usize) -> Result<(), String> {
    let path = config_path(conf_d, check)?;
    let mut doc = read(&path)?;
    let list = instances(&mut doc)?;
    if index >= list.len() {
        return Err(format!("{check} has no instance {index}"));
    }
    list.remove(index);
    if list.is_empty() {
        return std::fs::remove_file(&path).map_err(|e| e.to_string());
    }
    let (text, _) = validated(&path, &doc)?;
    write(&path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_are_added_validated_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let conf_d = dir.path();
        assert_eq!(
            add_instance(conf_d, "emit", serde_json::json!({"value": 1})),
            Ok(0)
        );
        assert_eq!(
            add_instance(
                conf_d,
                "emit",
                serde_json::json!({"value": 2, "tags": ["a:b"]})
            ),
            Ok(1)
        );
        let e = add_instance(
            conf_d,
            "emit",
            serde_json::json!({"min_collection_interval": -5}),
        )
        .unwrap_err();
        assert!(e.contains("instances[2].min_collection_interval"), "{e}");
        let file = CheckFile::load(&conf_d.join("emit.yaml")).unwrap();
        assert_eq!(file.instances.len(), 2);
        assert!(add_instance(conf_d, "../etc", serde_json::json!({})).is_err());
        remove_instance(conf_d, "emit", 0).unwrap();
        let file = CheckFile::load(&conf_d.join("emit.yaml")).unwrap();
        assert_eq!(file.instances[0].tags, ["a:b"]);
        assert!(remove_instance(conf_d, "emit", 5).is_err());
        remove_instance(conf_d, "emit", 0).unwrap();
        assert!(!conf_d.join("emit.yaml").exists());
    }
}
