//! `wasmon:check@0.1.0`'s `fs-usage`, frozen: served by the newest implementation.

use crate::runtime::HostState;
use crate::runtime::bindings::newest as new;
use crate::runtime::bindings::v0_1::wasmon::check as old;

impl old::fs_usage::Host for HostState {
    fn stat(&mut self, mount_point: String) -> Result<old::fs_usage::Usage, String> {
        let u = new::fs_usage::Host::stat(self, mount_point)?;
        Ok(old::fs_usage::Usage {
            total_bytes: u.total_bytes,
            free_bytes: u.free_bytes,
            available_bytes: u.available_bytes,
            total_inodes: u.total_inodes,
            free_inodes: u.free_inodes,
        })
    }
}
