//! Compiled components cached on disk, keyed by the module's sha256 and the engine's
//! compatibility hash, in a folder only the agent's user can enter: a restart or a re-drop of
//! a known module starts without compiling.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::runtime::{CheckModule, ModuleError};

/// Artifacts of modules no longer loaded are kept this long after their last use, so a module
/// dropped again (or rolled back) starts without compiling.
const KEEP_UNUSED: Duration = Duration::from_secs(7 * 24 * 3600);

/// The cache folder, or none (compile every time) when it cannot be made.
#[derive(Debug, Clone)]
pub struct ModuleCache {
    dir: Option<PathBuf>,
    engine_key: String,
}

/// Where a module came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Loaded from a cached artifact.
    Cache,
    /// Compiled now in the agent itself (and cached).
    Compiled,
    /// Compiled now by a child process into the cache, and loaded from there.
    CompiledApart,
}

impl ModuleCache {
    /// A cache under `data_dir/cache` (made with mode 0700).
    pub fn new(engine: &Engine, data_dir: &Path) -> Self {
        let dir = data_dir.join("cache");
        let made = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .and_then(|()| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)));
        if let Err(e) = &made {
            tracing::warn!("compiled-module cache disabled: {}: {e}", dir.display());
        }
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Self {
            dir: made.ok().map(|()| dir),
            engine_key: format!("{:016x}", hasher.finish()),
        }
    }

    fn entry(&self, sha256: &str) -> Option<PathBuf> {
        Some(
            self.dir
                .as_ref()?
                .join(format!("{sha256}-{}.cwasm", self.engine_key)),
        )
    }

    /// Loads a check from its cached artifact, or compiles and caches it.
    pub fn load(&self, engine: &Engine, path: &Path) -> Result<(CheckModule, Origin), ModuleError> {
        let bytes = std::fs::read(path).map_err(|source| ModuleError::Read {
            path: path.into(),
            source,
        })?;
        let mut origin = Origin::Compiled;
        let module = CheckModule::from_bytes(engine, path, &bytes, |bytes, sha256| {
            let entry = self.entry(sha256);
            if let Some(entry) = entry.as_ref().filter(|e| e.is_file()) {
                // SAFETY: artifacts in this folder are written only by this agent (`compile`), in a
                // folder only its user can enter, for this engine's compatibility hash.
                match unsafe { Component::deserialize_file(engine, entry) } {
                    Ok(component) => {
                        origin = Origin::Cache;
                        // The modification time records the last use, for pruning.
                        let _ = std::fs::File::open(entry)
                            .and_then(|f| f.set_modified(SystemTime::now()));
                        return Ok(component);
                    }
                    Err(e) => tracing::warn!("cached {} unusable, compiling: {e}", entry.display()),
                }
            }
            let (component, apart) = super::compile::compile(engine, bytes, entry.as_deref())?;
            if apart {
                origin = Origin::CompiledApart;
            }
            Ok(component)
        })?;
        Ok((module, origin))
    }

    /// [`ModuleCache::load`] on a blocking thread.
    pub async fn load_off_thread(
        &self,
        engine: &Engine,
        path: PathBuf,
    ) -> Result<(CheckModule, Origin), String> {
        let (engine, cache) = (engine.clone(), self.clone());
        tokio::task::spawn_blocking(move || cache.load(&engine, &path))
            .await
            .map_err(|e| format!("compiling a module failed: {e}"))?
            .map_err(|e| e.to_string())
    }

    /// Removes artifacts of other engines, and of modules not in `keep` (sha256s) unused for
    /// a week.
    pub fn prune(&self, keep: &HashSet<String>) {
        let Some(dir) = &self.dir else { return };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let recent = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age < KEEP_UNUSED));
            let wanted = name
                .strip_suffix(".cwasm")
                .and_then(|stem| stem.split_once('-'))
                .is_some_and(|(sha, engine)| {
                    engine == self.engine_key && (recent || keep.contains(sha))
                });
            if !wanted {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifacts_of_other_engines_and_long_unused_modules_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = ModuleCache::new(&engine, dir.path());
        let folder = dir.path().join("cache");
        let mode = std::fs::metadata(&folder).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let ours = |sha: &str| folder.join(format!("{sha}-{}.cwasm", cache.engine_key));
        for path in [
            ours("aaa"),
            ours("bbb"),
            ours("ccc"),
            folder.join("aaa-0000000000000000.cwasm"),
        ] {
            std::fs::write(&path, b"x").unwrap();
        }
        let old = SystemTime::now() - KEEP_UNUSED - Duration::from_secs(60);
        std::fs::File::open(ours("bbb"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        std::fs::File::open(ours("ccc"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        cache.prune(&HashSet::from(["ccc".to_string()]));
        let mut left: Vec<String> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                format!("aaa-{}.cwasm", cache.engine_key),
                format!("ccc-{}.cwasm", cache.engine_key)
            ]
        );
    }
}
