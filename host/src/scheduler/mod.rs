//! One task per check instance: its schedule, timeout, failure handling and reporting.

mod schedule;
mod status;
mod task;

pub use schedule::{Schedule, now_ms};
pub use status::{InstanceStatus, SharedStatus, State};
pub use task::{InstanceTask, spawn};
