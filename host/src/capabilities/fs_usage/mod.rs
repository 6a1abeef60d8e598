//! `wasmon:check/fs-usage`: statvfs of a mount point, when granted.

mod config;
mod v0_1;

use super::{Capability, Grant, Link};
use crate::runtime::bindings::{link_interfaces, newest_wit};
use crate::runtime::{HostState, wit};
use wit::fs_usage::Usage;

/// The fs-usage capability, as registered.
pub struct FsUsage;

/// The size and use of mounted filesystems, with `grants.fs_usage`.
pub const FS_USAGE: Capability = Capability {
    interfaces: &["fs-usage"],
    grant: Some(Grant {
        granted: |grants| grants.fs_usage,
        missing: "filesystem usage",
        hint: "grants: {fs_usage: true}",
    }),
    always_linked: false,
    link: Link::PerVersion(|linker, version| link_interfaces!(linker, version, fs_usage)),
    worlds: &["host-stats", "full-check"],
    wit: Some(newest_wit!("files.wit")),
};

impl wit::fs_usage::Host for HostState {
    fn stat(&mut self, mount_point: String) -> Result<Usage, String> {
        if !self.capabilities.grants.fs_usage {
            return Err("filesystem usage is not granted to this instance".into());
        }
        let started = std::time::Instant::now();
        let st = rustix::fs::statvfs(mount_point.as_str());
        self.output.host_time += started.elapsed();
        let st = st.map_err(|e| format!("{mount_point}: {e}"))?;
        let block = st.f_frsize;
        Ok(Usage {
            total_bytes: st.f_blocks.saturating_mul(block),
            free_bytes: st.f_bfree.saturating_mul(block),
            available_bytes: st.f_bavail.saturating_mul(block),
            total_inodes: st.f_files,
            free_inodes: st.f_ffree,
        })
    }
}
