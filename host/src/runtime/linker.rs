//! Linkers that provide an instance exactly the capabilities its config grants.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use super::HostState;
use super::bindings::{CheckPre, WitVersion};
use crate::capabilities::Grants;
use crate::capabilities::{self, Capability, Link};

/// Which of the capabilities linked only where granted are linked: bit `i` stands for
/// [`capabilities::ALL`]`[i]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LinkSet(u64);

const _: () = assert!(
    capabilities::ALL.len() <= 64,
    "a LinkSet holds 64 capabilities"
);

impl LinkSet {
    /// What the grants allow.
    pub fn granted(grants: &Grants) -> Self {
        Self::of(|c| c.grant.as_ref().is_some_and(|g| (g.granted)(grants)))
    }

    /// Every capability, for `inspect` (its Store is granted nothing all the same).
    pub fn all() -> Self {
        Self::of(|_| true)
    }

    fn of(linked: impl Fn(&Capability) -> bool) -> Self {
        let bits = capabilities::ALL
            .iter()
            .enumerate()
            .filter(|(_, c)| c.linked_when_granted() && linked(c))
            .fold(0, |bits, (i, _)| bits | 1 << i);
        Self(bits)
    }

    /// Whether [`capabilities::ALL`]`[index]` is linked.
    pub fn links(self, index: usize) -> bool {
        let capability = capabilities::ALL[index];
        !capability.linked_when_granted() || self.0 & 1 << index != 0
    }

    /// A linker with WASI (no files, no sockets, no environment) and the capabilities in this
    /// set, each in every served version.
    fn linker(self, engine: &Engine) -> anyhow::Result<Linker<HostState>> {
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        let linked = capabilities::ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| self.links(*i));
        for (_, capability) in linked {
            match capability.link {
                Link::Once(add) => add(&mut linker)?,
                Link::PerVersion(add) => {
                    for version in WitVersion::ALL {
                        add(&mut linker, version)?;
                    }
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_links_what_is_granted_and_what_every_instance_has() {
        let index = |interface: &str| {
            capabilities::ALL
                .iter()
                .position(|c| c.interfaces.contains(&interface))
                .unwrap()
        };
        let grants = Grants {
            fs_usage: true,
            ..Grants::default()
        };
        let set = LinkSet::granted(&grants);
        assert!(set.links(index("fs-usage")));
        assert!(!set.links(index("files")) && !set.links(index("exec")));
        assert!(set.links(index("emit")), "every instance emits");
        let nothing = LinkSet::default();
        assert!(!nothing.links(index("fs-usage")) && nothing.links(index("emit")));
        let all = LinkSet::all();
        assert!(
            ["files", "fs-usage", "exec", "mysql"]
                .map(index)
                .iter()
                .all(|i| all.links(*i))
        );
        // HTTP is linked everywhere; its grant is checked on each request.
        let http = capabilities::ALL
            .iter()
            .position(|c| c.always_linked && c.grant.is_some());
        assert!(http.is_some_and(|i| nothing.links(i)));
    }
}
