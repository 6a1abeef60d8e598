//! The WebAssembly runtime: one engine, an epoch ticker for time limits, and a sandboxed
//! Store per check instance.

pub(crate) mod bindings;
mod engine;
mod errors;
mod guest_output;
mod host_state;
mod instance;
mod linker;
mod module;

pub use bindings::WitVersion;
pub use bindings::newest::types::{CheckError, ConfigError, Descriptor};
pub use engine::{Runtime, engine};
pub use errors::{InstanceError, ModuleError, RunError};
pub use host_state::{Capabilities, RunLimits, RunOutput};
pub use instance::{CheckInstance, InstanceSpec, RunReport, describe};
pub use linker::LinkSet;
pub use module::CheckModule;

pub(crate) use bindings::newest as wit;
pub(crate) use host_state::HostState;
