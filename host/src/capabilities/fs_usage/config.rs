//! `grants.fs_usage`: whether an instance may read the usage of mounted filesystems.

use super::FsUsage;
use crate::capabilities::{Capability, Grantable};

impl Grantable for FsUsage {
    const CAPABILITY: Capability = super::FS_USAGE;
    /// Whether the check may read filesystem usage (statvfs) of mount points.
    type Config = bool;
    type Granted = bool;

    fn parse(config: &bool) -> Result<bool, Vec<(String, String)>> {
        Ok(*config)
    }

    fn describe(granted: &bool) -> Vec<String> {
        granted
            .then(|| "filesystem usage (statvfs)".to_string())
            .into_iter()
            .collect()
    }
}
