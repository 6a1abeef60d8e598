//! One task per check instance: its schedule, timeout, failure handling and reporting.

mod failing;
mod schedule;
mod status;
mod task;

pub use failing::report_start_failure;
pub use schedule::{Schedule, now_ms};
pub use status::{InstanceStatus, SharedStatus, State};
pub use task::{InstanceTask, Runner, spawn};
