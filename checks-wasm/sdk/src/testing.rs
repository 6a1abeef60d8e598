//! What a check's logic sees and leaves when it runs natively, in unit tests: the fakes of the
//! host's capabilities, and what it logged and recorded. Everything is per thread, so tests
//! running side by side do not see each other's.

use std::cell::RefCell;

use crate::LogLevel;

pub use crate::capabilities::exec::fake as exec;
pub use crate::capabilities::files::fake as files;
pub use crate::capabilities::fs_usage::fake as fs_usage;
pub use crate::capabilities::mysql::fake as mysql;

thread_local! {
    pub(crate) static LOGS: RefCell<Vec<(LogLevel, String)>> = const { RefCell::new(Vec::new()) };
    pub(crate) static METADATA: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

/// The lines logged on this thread since the last call.
pub fn take_logs() -> Vec<(LogLevel, String)> {
    LOGS.take()
}

/// The metadata recorded on this thread since the last call.
pub fn take_metadata() -> Vec<(String, String)> {
    METADATA.take()
}
