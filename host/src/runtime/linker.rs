//! Linkers that provide an instance exactly the capabilities its config grants.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use super::HostState;
use super::bindings::{CheckPre, WitVersion};
use crate::config::Grants;

/// Which wasmon capability interfaces are linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LinkSet {
    /// `wasmon:check/files`.
    pub files: bool,
    /// `wasmon:check/fs-usage`.
    pub fs_usage: bool,
    /// `wasmon:check/exec`.
    pub exec: bool,
    /// `wasmon:check/mysql`.
    pub mysql: bool,
}

impl LinkSet {
    /// What the grants allow.
    pub fn granted(grants: &Grants) -> Self {
        Self {
            files: !grants.files.is_empty(),
            fs_usage: grants.fs_usage,
            exec: grants.command.is_some(),
            mysql: grants.mysql.is_some(),
        }
    }

    /// Every capability, for `inspect` (its Store is granted nothing all the same).
    pub fn all() -> Self {
        Self {
            files: true,
            fs_usage: true,
            exec: true,
            mysql: true,
        }
    }

    /// A linker with WASI (no files, no sockets, no environment), `wasi:http` (gated by
    /// `grants.http`), and every served version of `emit` and of the capabilities in this set.
    fn linker(self, engine: &Engine) -> anyhow::Result<Linker<HostState>> {
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        // Always linked, since language runtimes (JavaScript's) import it whether or not a
        // check sends requests; each request is refused unless `grants.http` allows it.
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        for version in WitVersion::ALL {
            version.link(&mut linker, &self)?;
        }
        Ok(linker)
    }
}

/// One linker per capability set, built on first use and shared by every instance: linking
/// WASI and the wasmon interfaces is the same work for every instance with the same grants.
#[derive(Default)]
pub struct Linkers(Mutex<HashMap<LinkSet, Linker<HostState>>>);

impl Linkers {
    /// `component`, built against `version`, pre-linked with the capabilities in `link`.
    pub fn pre(
        &self,
        engine: &Engine,
        link: LinkSet,
        version: WitVersion,
        component: &Component,
    ) -> anyhow::Result<CheckPre> {
        let mut linkers = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let linker = match linkers.entry(link) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(link.linker(engine)?),
        };
        CheckPre::new(version, linker, component)
    }
}
