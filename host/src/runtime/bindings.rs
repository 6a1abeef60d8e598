//! Host bindings for every version of the `wasmon:check` WIT package this agent serves, side by
//! side (each frozen in its own folder of `wit/`), and the one place that says which exist. The
//! newest is implemented by the capabilities; older ones are served through it
//! (`capabilities::v0_1`).

use wasmtime::Store;
use wasmtime::component::{Component, InstancePre};

use super::HostState;

/// `wasmon:check@0.1.0`: gauges, counts, rates and monotonic counts; config errors as text.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/wasmon-check@0.1.0",
        world: "full-check",
        imports: { "wasmon:check/exec": async, "wasmon:check/mysql": async },
        exports: { default: async },
    });
}

/// `wasmon:check@0.2.0`: adds histograms, distributions, sets, per-sample timestamps, events,
/// and config errors that name their field.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit/wasmon-check@0.2.0",
        world: "full-check",
        imports: { "wasmon:check/exec": async, "wasmon:check/mysql": async },
        exports: { default: async },
    });
}

use newest::types::{CheckError, Descriptor};
/// The newest version, which the host implements.
pub use v0_2::wasmon::check as newest;

/// A released version of the WIT package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WitVersion {
    /// `wasmon:check@0.1.0`.
    V0_1,
    /// `wasmon:check@0.2.0`.
    V0_2,
}

impl WitVersion {
    /// Every version served, oldest first.
    pub const ALL: [Self; 2] = [Self::V0_1, Self::V0_2];
    /// The version new checks are written against.
    pub const NEWEST: Self = Self::V0_2;

    /// The semver, e.g. `0.2.0`.
    pub fn semver(self) -> &'static str {
        match self {
            Self::V0_1 => "0.1.0",
            Self::V0_2 => "0.2.0",
        }
    }

    /// The package, e.g. `wasmon:check@0.2.0`.
    pub fn package(self) -> String {
        format!("wasmon:check@{}", self.semver())
    }

    /// The name of interface `name` (`files`, `emit`…) in this version.
    pub fn interface(self, name: &str) -> String {
        format!("wasmon:check/{name}@{}", self.semver())
    }

    /// The version whose `check` interface a component exports, if any.
    pub fn of_exports(exports: &[String]) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| exports.iter().any(|e| *e == v.interface("check")))
    }
}

/// Adds interfaces of the `wasmon:check` package, in `$version`, to `$linker`.
macro_rules! link_interfaces {
    ($linker:expr, $version:expr, $($interface:ident),+) => {{
        use wasmtime::component::HasSelf;
        use $crate::runtime::WitVersion;
        match $version {
            WitVersion::V0_1 => {
                $($crate::runtime::bindings::v0_1::wasmon::check::$interface::add_to_linker::<
                    _,
                    HasSelf<_>,
                >($linker, |s| s)?;)+
            }
            WitVersion::V0_2 => {
                $($crate::runtime::bindings::v0_2::wasmon::check::$interface::add_to_linker::<
                    _,
                    HasSelf<_>,
                >($linker, |s| s)?;)+
            }
        }
        Ok(())
    }};
}
pub(crate) use link_interfaces;

/// A file of the newest version's WIT folder, `wasmon new` vendors it.
macro_rules! newest_wit {
    ($file:literal) => {
        $crate::capabilities::WitFile {
            name: $file,
            text: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../wit/wasmon-check@0.2.0/",
                $file
            )),
        }
    };
}
pub(crate) use newest_wit;

/// A component pre-linked against the version it was built for.
#[derive(Clone)]
pub enum CheckPre {
    /// Built against 0.1.0.
    V0_1(v0_1::FullCheckPre<HostState>),
    /// Built against 0.2.0.
    V0_2(v0_2::FullCheckPre<HostState>),
}

impl CheckPre {
    /// Pre-links `component` (of `version`) with `linker`.
    pub fn new(
        version: WitVersion,
        linker: &wasmtime::component::Linker<HostState>,
        component: &Component,
    ) -> anyhow::Result<Self> {
        let pre: InstancePre<HostState> = linker.instantiate_pre(component)?;
        Ok(match version {
            WitVersion::V0_1 => Self::V0_1(v0_1::FullCheckPre::new(pre)?),
            WitVersion::V0_2 => Self::V0_2(v0_2::FullCheckPre::new(pre)?),
        })
    }

    /// Instantiates it in `store`.
    pub async fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Check> {
        Ok(match self {
            Self::V0_1(pre) => Check::V0_1(pre.instantiate_async(store).await?),
            Self::V0_2(pre) => Check::V0_2(pre.instantiate_async(store).await?),
        })
    }
}

/// An instantiated check of either version, its calls answered in the newest's types.
pub enum Check {
    /// Built against 0.1.0.
    V0_1(v0_1::FullCheck),
    /// Built against 0.2.0.
    V0_2(v0_2::FullCheck),
}

impl Check {
    /// Calls `describe`.
    pub async fn describe(&self, store: &mut Store<HostState>) -> wasmtime::Result<Descriptor> {
        Ok(match self {
            Self::V0_1(c) => c.wasmon_check_check().call_describe(store).await?.into(),
            Self::V0_2(c) => c.wasmon_check_check().call_describe(store).await?,
        })
    }

    /// Calls `init`.
    pub async fn init(
        &self,
        store: &mut Store<HostState>,
        init_config: &str,
        instance_config: &str,
    ) -> wasmtime::Result<Result<(), CheckError>> {
        Ok(match self {
            Self::V0_1(c) => c
                .wasmon_check_check()
                .call_init(store, init_config, instance_config)
                .await?
                .map_err(Into::into),
            Self::V0_2(c) => {
                c.wasmon_check_check()
                    .call_init(store, init_config, instance_config)
                    .await?
            }
        })
    }

    /// Calls `run`.
    pub async fn run(
        &self,
        store: &mut Store<HostState>,
        timestamp_ms: i64,
    ) -> wasmtime::Result<Result<(), CheckError>> {
        Ok(match self {
            Self::V0_1(c) => c
                .wasmon_check_check()
                .call_run(store, timestamp_ms)
                .await?
                .map_err(Into::into),
            Self::V0_2(c) => c.wasmon_check_check().call_run(store, timestamp_ms).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    /// A released version's WIT never changes: components built against it must keep
    /// linking. The digest covers each file's name and bytes, in name order.
    #[test]
    fn released_wit_is_frozen() {
        let frozen = [
            (
                WitVersion::V0_1,
                "61eaf5caeffef312415909402a87e85dade4244f1fa9e76d4972a214127c3967",
            ),
            (
                WitVersion::V0_2,
                "4633a4b8bc6e5558be934b1dbcae076caf45b864150d17208fdbc7cbba0afbcb",
            ),
        ];
        for (version, digest) in frozen {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../wit")
                .join(version.package().replace(':', "-"));
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            let mut hash = Sha256::new();
            for file in files {
                hash.update(file.file_name().unwrap().as_encoded_bytes());
                hash.update([0]);
                hash.update(std::fs::read(&file).unwrap());
            }
            assert_eq!(
                hex::encode(hash.finalize()),
                digest,
                "{} changed",
                dir.display()
            );
        }
    }

    #[test]
    fn a_components_version_is_the_check_it_exports() {
        let exports = |e: &str| vec!["wasi:cli/run@0.2.0".to_string(), e.to_string()];
        assert_eq!(
            WitVersion::of_exports(&exports("wasmon:check/check@0.1.0")),
            Some(WitVersion::V0_1)
        );
        assert_eq!(
            WitVersion::of_exports(&exports("wasmon:check/check@0.2.0")),
            Some(WitVersion::V0_2)
        );
        assert_eq!(
            WitVersion::of_exports(&exports("wasmon:check/check@0.3.0")),
            None
        );
        assert_eq!(WitVersion::NEWEST, *WitVersion::ALL.last().unwrap());
    }
}
