//! Check configs parsed before, reused while their file is unchanged: a rescan that finds
//! nothing new parses no YAML and runs no secret backend (which Datadog's agent, too, runs
//! when a config is loaded, not on a timer). An explicit reload forgets them.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::FoundConfig;
use crate::config::{CheckFile, ConfigErrors};

/// A file changed this recently may change again within its timestamps' resolution unseen:
/// it is parsed again next time.
const SETTLED: Duration = Duration::from_secs(2);

/// What a config's text was read from: a change of any part reads it again.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stamp {
    /// A file: device, inode, size, modification and change times.
    File(u64, u64, u64, (i64, i64), (i64, i64)),
    /// Text written inline in `wasmon.yaml`.
    Inline(String),
}

/// Parsed configs by check and path.
#[derive(Debug, Default)]
pub struct ParsedConfigs(HashMap<(String, PathBuf), (Stamp, Arc<CheckFile>)>);

impl ParsedConfigs {
    /// `found`'s config, parsed again only if its file changed since it was last parsed.
    pub fn load(&mut self, found: &FoundConfig) -> Result<Arc<CheckFile>, ConfigErrors> {
        let key = (found.check.clone(), found.path.clone());
        let stamp = stamp(found);
        if let Some((seen, file)) = self.0.get(&key)
            && stamp.as_ref() == Some(seen)
        {
            return Ok(file.clone());
        }
        let parsed = found.load().map(Arc::new);
        match (&parsed, stamp) {
            (Ok(file), Some(stamp)) => {
                self.0.insert(key, (stamp, file.clone()));
            }
            _ => {
                self.0.remove(&key);
            }
        }
        parsed
    }

    /// Keeps only the configs of `found`, dropping those of files gone.
    pub fn keep_only(&mut self, found: &[FoundConfig]) {
        self.0
            .retain(|(check, path), _| found.iter().any(|f| &f.check == check && &f.path == path));
    }

    /// Forgets every config: the next look parses them all.
    pub fn forget(&mut self) {
        self.0.clear();
    }
}

/// The stamp of `found`'s text, if it can be trusted to change with it.
fn stamp(found: &FoundConfig) -> Option<Stamp> {
    if let Some(text) = &found.inline {
        return Some(Stamp::Inline(text.clone()));
    }
    let meta = std::fs::metadata(&found.path).ok()?;
    let settled = meta
        .modified()
        .ok()
        .and_then(|at| SystemTime::now().duration_since(at).ok())
        .is_some_and(|age| age >= SETTLED);
    settled.then(|| {
        Stamp::File(
            meta.dev(),
            meta.ino(),
            meta.size(),
            (meta.mtime(), meta.mtime_nsec()),
            (meta.ctime(), meta.ctime_nsec()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(path: PathBuf) -> FoundConfig {
        FoundConfig {
            check: "emit".into(),
            path,
            inline: None,
        }
    }

    /// Makes `path`'s modification time old enough to be trusted.
    fn age(path: &std::path::Path) {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - 2 * SETTLED).unwrap();
    }

    #[test]
    fn an_unchanged_file_is_parsed_once_and_a_changed_one_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("emit.yaml");
        std::fs::write(&path, "instances:\n  - {value: 1}\n").unwrap();
        age(&path);
        let mut parsed = ParsedConfigs::default();
        let first = parsed.load(&found(path.clone())).unwrap();
        let again = parsed.load(&found(path.clone())).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "reused");
        std::fs::write(&path, "instances:\n  - {value: 2}\n").unwrap();
        age(&path);
        let changed = parsed.load(&found(path.clone())).unwrap();
        assert!(!Arc::ptr_eq(&first, &changed), "parsed again");
        parsed.forget();
        let forgotten = parsed.load(&found(path.clone())).unwrap();
        assert!(
            !Arc::ptr_eq(&changed, &forgotten),
            "parsed after forgetting"
        );
    }

    #[test]
    fn a_file_just_written_or_broken_is_parsed_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("emit.yaml");
        std::fs::write(&path, "instances:\n  - {}\n").unwrap();
        let mut parsed = ParsedConfigs::default();
        let first = parsed.load(&found(path.clone())).unwrap();
        let again = parsed.load(&found(path.clone())).unwrap();
        assert!(!Arc::ptr_eq(&first, &again), "not settled yet");
        std::fs::write(&path, "instances: [oops\n").unwrap();
        age(&path);
        assert!(parsed.load(&found(path.clone())).is_err());
        std::fs::write(&path, "instances:\n  - {}\n").unwrap();
        age(&path);
        assert!(parsed.load(&found(path.clone())).is_ok(), "fixed");
        parsed.keep_only(&[]);
        assert!(parsed.0.is_empty());
    }
}
