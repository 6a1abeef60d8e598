//! The WebAssembly runtime: one engine, an epoch ticker for time limits, and a sandboxed
//! Store per check instance.

mod bindings;
mod engine;
mod errors;
mod guest_output;
mod host_state;
mod instance;
mod linker;
mod module;

pub use bindings::wasmon::check::types::{CheckError, Descriptor};
pub use engine::Runtime;
pub use errors::{InstanceError, ModuleError, RunError};
pub use host_state::{Capabilities, RunLimits, RunOutput};
pub use instance::{CheckInstance, InstanceSpec, RunReport, describe};
pub use linker::LinkSet;
pub use module::{CheckModule, WIT_PACKAGE};

pub(crate) use bindings::wasmon::check as wit;
pub(crate) use host_state::HostState;
