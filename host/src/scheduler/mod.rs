//! One task per check instance: its schedule, timeout, failure handling and reporting.

mod schedule;
mod task;

pub use schedule::{Schedule, now_ms};
pub use task::{InstanceTask, spawn};
