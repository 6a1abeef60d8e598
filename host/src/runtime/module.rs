//! Loading a `.wasm` as a check: validated, compiled, its imports and exports known.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::{InstanceError, LinkSet, ModuleError, WitVersion};
use crate::capabilities;

/// A compiled check component.
#[derive(Clone)]
pub struct CheckModule {
    /// Where it was loaded from.
    pub path: PathBuf,
    /// Hex sha256 of the file: the version that runs.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The compiled component.
    pub component: Component,
    /// Names of its imports.
    pub imports: Vec<String>,
    /// Names of its exports.
    pub exports: Vec<String>,
    /// The version of the WIT package it was built against.
    pub wit_version: WitVersion,
    /// How long compiling took.
    pub compile_time: Duration,
}

impl CheckModule {
    /// Reads, validates and compiles a check. CPU-heavy: call it off the async runtime.
    pub fn load(engine: &Engine, path: &Path) -> Result<Self, ModuleError> {
        let bytes = std::fs::read(path).map_err(|source| ModuleError::Read {
            path: path.into(),
            source,
        })?;
        Self::from_bytes(engine, path, &bytes, |bytes, _| {
            Component::new(engine, bytes)
        })
    }

    /// Validates a check from its bytes; `compile` (given the bytes and their sha256) makes
    /// the component, from a cache or with Cranelift.
    pub fn from_bytes(
        engine: &Engine,
        path: &Path,
        bytes: &[u8],
        compile: impl FnOnce(&[u8], &str) -> wasmtime::Result<Component>,
    ) -> Result<Self, ModuleError> {
        let path = path.to_path_buf();
        if !bytes.starts_with(b"\0asm") {
            return Err(ModuleError::NotWasm { path });
        }
        if wasmparser::Parser::is_core_wasm(bytes) {
            return Err(ModuleError::CoreModule { path });
        }
        let sha256 = hex::encode(Sha256::digest(bytes));
        let started = Instant::now();
        let component = compile(bytes, &sha256).map_err(|e| ModuleError::Invalid {
            path: path.clone(),
            reason: format!("{e:#}"),
        })?;
        let compile_time = started.elapsed();
        let ty = component.component_type();
        let imports: Vec<String> = ty
            .imports(engine)
            .map(|(name, _)| name.to_string())
            .collect();
        let exports: Vec<String> = ty
            .exports(engine)
            .map(|(name, _)| name.to_string())
            .collect();
        let Some(wit_version) = WitVersion::of_exports(&exports) else {
            let found = if exports.is_empty() {
                "nothing".into()
            } else {
                exports.join(", ")
            };
            let expected = WitVersion::ALL
                .map(|v| format!("`{}`", v.interface("check")))
                .join(" or ");
            return Err(ModuleError::WrongWorld {
                path,
                expected,
                found,
            });
        };
        let known = |import: &str| {
            import.starts_with("wasi:")
                || capabilities::ALL
                    .iter()
                    .flat_map(|c| c.interfaces)
                    .any(|name| import == wit_version.interface(name))
        };
        if let Some(import) = imports.iter().find(|i| !known(i)) {
            return Err(ModuleError::UnknownImport {
                path,
                import: import.clone(),
            });
        }
        Ok(Self {
            path,
            sha256,
            size: bytes.len() as u64,
            component,
            imports,
            exports,
            wit_version,
            compile_time,
        })
    }

    /// Fails when the component imports a capability that `linked` does not provide, naming
    /// the grant it needs.
    pub fn check_grants(&self, linked: LinkSet) -> Result<(), InstanceError> {
        let unlinked = capabilities::ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| !linked.links(*i));
        for (_, capability) in unlinked {
            let (Some(grant), Some(import)) = (
                &capability.grant,
                capability
                    .interfaces
                    .iter()
                    .map(|name| self.wit_version.interface(name))
                    .find(|name| self.imports.contains(name)),
            ) else {
                continue;
            };
            return Err(InstanceError::NotGranted {
                import,
                grant: grant.missing,
                hint: grant.hint,
            });
        }
        Ok(())
    }

    /// The wasmon capabilities this component can ask for.
    pub fn capability_imports(&self) -> Vec<&str> {
        self.imports
            .iter()
            .map(String::as_str)
            .filter(|i| i.starts_with("wasmon:"))
            .collect()
    }
}
