//! Compiled components cached on disk, keyed by the module's sha256 and the engine's
//! compatibility hash, in a folder only the agent's user can enter: a restart or a re-drop of
//! a known module starts without compiling.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::runtime::{CheckModule, ModuleError};

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
    /// Compiled now (and cached).
    Compiled,
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
                // SAFETY: artifacts in this folder are written only by this agent (below), in a
                // folder only its user can enter, for this engine's compatibility hash.
                match unsafe { Component::deserialize_file(engine, entry) } {
                    Ok(component) => {
                        origin = Origin::Cache;
                        return Ok(component);
                    }
                    Err(e) => tracing::warn!("cached {} unusable, compiling: {e}", entry.display()),
                }
            }
            let component = Component::new(engine, bytes)?;
            if let Some(entry) = entry {
                store(&entry, &component);
            }
            Ok(component)
        })?;
        Ok((module, origin))
    }

    /// Removes artifacts of other engines and of modules not in `keep` (sha256s).
    pub fn prune(&self, keep: &HashSet<String>) {
        let Some(dir) = &self.dir else { return };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let wanted = name
                .strip_suffix(".cwasm")
                .and_then(|stem| stem.split_once('-'))
                .is_some_and(|(sha, engine)| engine == self.engine_key && keep.contains(sha));
            if !wanted {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Writes an artifact atomically (a temporary file renamed into place).
fn store(entry: &Path, component: &Component) {
    let started = Instant::now();
    let result = component
        .serialize()
        .map_err(|e| e.to_string())
        .and_then(|bytes| {
            let tmp = entry.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, bytes)
                .and_then(|()| std::fs::rename(&tmp, entry))
                .map_err(|e| e.to_string())
        });
    match result {
        Ok(()) => tracing::debug!(artifact = %entry.display(), took = ?started.elapsed(), "cached"),
        Err(e) => tracing::warn!("cannot cache {}: {e}", entry.display()),
    }
}
