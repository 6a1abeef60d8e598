//! Why a module, an instance or a run failed.

use std::path::PathBuf;
use std::time::Duration;

/// A `.wasm` that cannot be used as a check.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not WebAssembly at all.
    #[error("{path}: not a WebAssembly file (no `\\0asm` header)")]
    NotWasm {
        /// The file.
        path: PathBuf,
    },
    /// A core module where a component is needed.
    #[error(
        "{path}: a core WebAssembly module, not a component: build it for `wasm32-wasip2` \
         (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule {
        /// The file.
        path: PathBuf,
    },
    /// Invalid or not compilable.
    #[error("{path}: invalid component: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The validator's or compiler's words.
        reason: String,
    },
    /// A component of another world.
    #[error(
        "{path}: does not export {expected}, so it is not a wasmon check (it exports: {found})"
    )]
    WrongWorld {
        /// The file.
        path: PathBuf,
        /// The interfaces a check may export, quoted.
        expected: String,
        /// What it exports instead.
        found: String,
    },
    /// Imports something this agent does not provide.
    #[error("{path}: imports `{import}`, which this agent does not provide")]
    UnknownImport {
        /// The file.
        path: PathBuf,
        /// The import.
        import: String,
    },
}

/// An instance that could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// The component needs a capability the instance config does not grant.
    #[error("imports `{import}` but the instance grants no {grant}: add `{hint}` to its config")]
    NotGranted {
        /// The import.
        import: String,
        /// What is missing, in words.
        grant: &'static str,
        /// The config key that grants it.
        hint: &'static str,
    },
    /// The check refused its config.
    #[error("the check refused its config: {0}")]
    Config(String),
    /// `init` failed otherwise, or the guest trapped while starting.
    #[error("could not start: {0}")]
    Start(RunError),
}

/// Why one run failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    /// The check reported a config error.
    #[error("config error: {0}")]
    Config(String),
    /// The check reported a transient error.
    #[error("{0}")]
    Transient(String),
    /// The check reported a permanent error.
    #[error("permanent error: {0}")]
    Permanent(String),
    /// The guest trapped (a panic, `unreachable`, an out-of-bounds access...).
    #[error("trapped: {0}")]
    Trap(String),
    /// The run took longer than its timeout and was stopped.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The guest tried to grow its memory past the limit.
    #[error("exceeded its memory limit of {} MiB", .0 / (1024 * 1024))]
    MemoryLimit(usize),
}

impl RunError {
    /// Whether the instance should stop until its config or module changes.
    pub fn stops_instance(&self) -> bool {
        matches!(self, Self::Config(_) | Self::Permanent(_))
    }

    /// Whether the Store is unusable afterwards and must be rebuilt.
    pub fn poisons_instance(&self) -> bool {
        matches!(
            self,
            Self::Trap(_) | Self::Timeout(_) | Self::MemoryLimit(_)
        )
    }
}
