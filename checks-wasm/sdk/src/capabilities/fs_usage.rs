//! Usage of mounted filesystems (statvfs), granted by `grants.fs_usage: true`.

pub use crate::bindings::wasmon::check::fs_usage::Usage;

#[cfg(target_family = "wasm")]
use crate::bindings::wasmon::check::fs_usage as host;
#[cfg(not(target_family = "wasm"))]
use fake as host;

/// Sizes and inode counts of the filesystem mounted at `mount_point`.
pub fn stat(mount_point: &str) -> Result<Usage, String> {
    host::stat(mount_point)
}

/// The filesystems a unit test gives its check, on the test's thread.
#[cfg(not(target_family = "wasm"))]
pub mod fake {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use super::Usage;

    thread_local! {
        static MOUNTS: RefCell<BTreeMap<String, Result<Usage, String>>> = const { RefCell::new(BTreeMap::new()) };
    }

    /// What `stat` answers for `mount_point` from now on.
    pub fn put(mount_point: &str, answer: Result<Usage, String>) {
        MOUNTS.with_borrow_mut(|m| m.insert(mount_point.to_string(), answer));
    }

    pub(super) fn stat(mount_point: &str) -> Result<Usage, String> {
        MOUNTS
            .with_borrow(|m| m.get(mount_point).cloned())
            .unwrap_or_else(|| {
                Err(format!(
                    "{mount_point}: No such file or directory (os error 2)"
                ))
            })
    }
}
