//! What the agent knows of a capability, as one value per capability: linking, the check of a
//! component's imports against its grants, `inspect`'s world and the WIT `wasmon new` vendors
//! all derive from [`super::ALL`].

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use wasmtime::component::Linker;

use super::Grants;
use crate::runtime::{HostState, WitVersion};

/// One capability a check may import.
pub struct Capability {
    /// The `wasmon:check` interfaces it consists of (`files`), in the version a component
    /// exports `check` in; none for an interface from outside the package.
    pub interfaces: &'static [&'static str],
    /// The config that grants it; `None`: every instance has it.
    pub grant: Option<Grant>,
    /// Linked into every instance, granted or not, because language runtimes import it whether
    /// or not a check uses it (JavaScript's imports `wasi:http`); each call is checked against
    /// the grant instead. Otherwise it is linked only where granted, and a component that
    /// imports it without the grant is refused before linking, naming the grant.
    pub always_linked: bool,
    /// Adds it to a linker.
    pub link: Link,
    /// The worlds of the newest `worlds.wit` that import it, for `inspect`; none when every
    /// world does or none does.
    pub worlds: &'static [&'static str],
    /// The newest WIT file that defines it, vendored into projects by `wasmon new`.
    pub wit: Option<WitFile>,
}

/// A capability that an instance's config grants: what is written, what it means once
/// validated, and how it reads in `configcheck`, `status` and `wasmon check`. Listed once in
/// `capabilities!` (in `capabilities/mod.rs`), which builds the grant types from it.
pub trait Grantable {
    /// The capability, as the lists see it.
    const CAPABILITY: Capability;
    /// wasmon's keys at the instance's top level that it reads (`command`): never passed to
    /// the check, and suggested when a check key looks like a misspelling of one.
    const HOST_KEYS: &'static [&'static str] = &[];
    /// Keys at the instance's top level that it reads and the check must never see
    /// (passwords), beyond [`Self::HOST_KEYS`].
    const SECRET_KEYS: &'static [&'static str] = &[];
    /// As written: the value of `grants.<name>`, or a view of the instance's top-level keys.
    type Config: Debug + Clone + Default + DeserializeOwned;
    /// Validated, as the host implementation reads it.
    type Granted: Debug + Clone + Default;
    /// Validates what is written; each problem is `(field within the instance, message)`.
    fn parse(config: &Self::Config) -> Result<Self::Granted, Vec<(String, String)>>;
    /// One line per thing granted.
    fn describe(granted: &Self::Granted) -> Vec<String>;
}

/// The config that grants a capability.
pub struct Grant {
    /// Whether `grants` grant it.
    pub granted: fn(&Grants) -> bool,
    /// Completes "the instance grants no ...".
    pub missing: &'static str,
    /// What to add to the instance to grant it.
    pub hint: &'static str,
}

/// How a capability is added to a linker.
pub enum Link {
    /// Once for each served `wasmon:check` version.
    PerVersion(fn(&mut Linker<HostState>, WitVersion) -> wasmtime::Result<()>),
    /// Once: an interface from outside the package.
    Once(fn(&mut Linker<HostState>) -> wasmtime::Result<()>),
}

/// A WIT file of the newest version.
#[derive(Clone, Copy)]
pub struct WitFile {
    /// Its name in the package's folder.
    pub name: &'static str,
    /// Its text.
    pub text: &'static str,
}

impl Capability {
    /// Whether an instance needs the grant to have it linked.
    pub fn linked_when_granted(&self) -> bool {
        self.grant.is_some() && !self.always_linked
    }
}
