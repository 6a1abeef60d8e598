//! The [`Check`] trait and the glue that exports it through the WIT `check` interface.

use std::cell::RefCell;

use serde::de::DeserializeOwned;

use crate::{CheckError, Descriptor, Output, parse_config};

/// A wasmon check: described once, initialised with its config, then run on a schedule.
/// The same value lives from one run to the next, so it can keep what it needs to compute
/// deltas.
pub trait Check: Sized + 'static {
    /// The `init_config` section, shared by all instances.
    type InitConfig: DeserializeOwned;
    /// One entry of `instances` (the host's own keys removed).
    type Instance: DeserializeOwned;

    /// Name, version, default interval.
    fn describe() -> Descriptor;
    /// Builds the check from its configuration.
    fn init(init_config: Self::InitConfig, instance: Self::Instance) -> Result<Self, CheckError>;
    /// Collects once into `out`.
    fn run(&mut self, out: &mut Output) -> Result<(), CheckError>;
}

/// For checks that take no configuration in a section: accepts an empty or missing section.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

/// Holds the live check between calls. Used by [`export_check!`](crate::export_check).
pub struct Runner<C: Check> {
    check: RefCell<Option<C>>,
}

impl<C: Check> Default for Runner<C> {
    fn default() -> Self {
        Self {
            check: RefCell::new(None),
        }
    }
}

impl<C: Check> Runner<C> {
    /// Parses both config sections and builds the check.
    pub fn init(&self, init_config: &str, instance: &str) -> Result<(), CheckError> {
        let init_config = parse_config("init_config", init_config)?;
        let instance = parse_config("instance", instance)?;
        *self.check.borrow_mut() = Some(C::init(init_config, instance)?);
        Ok(())
    }

    /// Runs the check once and sends what it produced, even when it fails half-way.
    pub fn run(&self, timestamp_ms: i64) -> Result<(), CheckError> {
        let mut guard = self.check.borrow_mut();
        let check = guard
            .as_mut()
            .ok_or_else(|| CheckError::Permanent("run called before init".into()))?;
        let mut out = Output::new(timestamp_ms);
        let result = check.run(&mut out);
        out.flush();
        result
    }
}

/// Exports a [`Check`] implementation as the component's `wasmon:check/check` interface.
#[macro_export]
macro_rules! export_check {
    ($check:ty) => {
        // Only a wasm build exports anything: native builds are for unit tests.
        #[cfg(target_family = "wasm")]
        const _: () = {
            struct __WasmonCheckExport;

            thread_local! {
                static __WASMON_RUNNER: $crate::__private::Runner<$check> = Default::default();
            }

            impl $crate::bindings::exports::wasmon::check::check::Guest for __WasmonCheckExport {
                fn describe() -> $crate::Descriptor {
                    <$check as $crate::Check>::describe()
                }
                fn init(init_config: String, instance: String) -> Result<(), $crate::CheckError> {
                    __WASMON_RUNNER.with(|r| r.init(&init_config, &instance))
                }
                fn run(timestamp_ms: i64) -> Result<(), $crate::CheckError> {
                    __WASMON_RUNNER.with(|r| r.run(timestamp_ms))
                }
            }

    $crate::bindings::__export_world!(__WasmonCheckExport with_types_in $crate::bindings);
        };
    };
}
