//! `wasmon:check/files`: read-only access to the files an instance's grants allow, read by
//! the host natively (a WASI filesystem read costs far more per /proc file).

mod config;
mod kept;
mod v0_1;

use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use super::{Capability, Grant, Link};
use crate::runtime::bindings::{link_interfaces, newest_wit};
use crate::runtime::{HostState, wit};
pub use config::{FileGrants, host_path};
pub use kept::KeptFiles;
use wit::files::MatchedFile;

/// The files capability, as registered.
pub struct Files;

/// Reading the files an instance's `grants.files` allow.
pub const FILES: Capability = Capability {
    interfaces: &["files"],
    grant: Some(Grant {
        granted: |grants| !grants.files.is_empty(),
        missing: "files",
        hint: "grants: {files: [...]}",
    }),
    always_linked: false,
    link: Link::PerVersion(|linker, version| link_interfaces!(linker, version, files)),
    worlds: &["file-check", "host-stats", "full-check"],
    wit: Some(newest_wit!("files.wit")),
};

/// Largest file (or part of one) a single read returns.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Most files one `read-matching` call returns.
const MAX_MATCHES: usize = 100_000;

impl HostState {
    fn read_granted(&self, path: &str, max_bytes: u64) -> Result<Vec<u8>, String> {
        let caps = &self.capabilities;
        caps.grants.files.allows(path)?;
        let host = host_path(path, &caps.proc_root, &caps.sys_root);
        caps.kept_files
            .read(&host, max_bytes.min(MAX_FILE_BYTES), kept::keepable(path))
            .map_err(|e| format!("{path}: {e}"))
    }
}

impl wit::files::Host for HostState {
    fn read(&mut self, paths: Vec<String>) -> Vec<Result<Vec<u8>, String>> {
        let started = Instant::now();
        let contents = paths
            .iter()
            .map(|p| self.read_granted(p, MAX_FILE_BYTES))
            .collect();
        self.output.host_time += started.elapsed();
        contents
    }

    fn read_matching(
        &mut self,
        pattern: String,
        max_bytes: u32,
    ) -> Result<Vec<MatchedFile>, String> {
        let started = Instant::now();
        let found = self.read_all_matching(&pattern, max_bytes);
        self.output.host_time += started.elapsed();
        found
    }
}

impl HostState {
    fn read_all_matching(&self, pattern: &str, max_bytes: u32) -> Result<Vec<MatchedFile>, String> {
        let caps = &self.capabilities;
        let host_pattern = host_path(pattern, &caps.proc_root, &caps.sys_root);
        let entries = expand(&host_pattern).map_err(|e| format!("{pattern}: {e}"))?;
        let mut found = Vec::new();
        for host_path in entries.into_iter().take(MAX_MATCHES) {
            let Some(path) = guest_path(&host_path, caps) else {
                continue;
            };
            // Not granted, or gone since the directory was listed: skipped.
            if let Ok(content) = self.read_granted(&path, u64::from(max_bytes)) {
                found.push(MatchedFile { path, content });
            }
        }
        Ok(found)
    }
}

/// Paths matching an absolute glob pattern. Only components with wildcards list a directory;
/// literal ones are joined without a `stat` (the glob crate stats every candidate, which
/// doubled the cost of a /proc/PID scan). Paths that do not exist fail when opened.
fn expand(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let mut found = vec![PathBuf::from("/")];
    for component in pattern.components() {
        let part = match component {
            Component::RootDir => continue,
            Component::Normal(part) => part.to_str().ok_or("pattern is not UTF-8")?,
            _ => return Err("expected an absolute pattern without `.` or `..`".into()),
        };
        if !part.contains(['*', '?', '[']) {
            found.iter_mut().for_each(|p| p.push(part));
            continue;
        }
        let matcher = glob::Pattern::new(part).map_err(|e| e.to_string())?;
        let mut next = Vec::new();
        for dir in &found {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| matcher.matches(n))
                {
                    next.push(dir.join(entry.file_name()));
                }
            }
        }
        found = next;
    }
    found.sort();
    Ok(found)
}

/// The path as the guest names it: the configured roots mapped back to /proc and /sys.
fn guest_path(host: &std::path::Path, caps: &crate::runtime::Capabilities) -> Option<String> {
    let mapped = if let Ok(rest) = host.strip_prefix(&caps.proc_root) {
        std::path::Path::new("/proc").join(rest)
    } else if let Ok(rest) = host.strip_prefix(&caps.sys_root) {
        std::path::Path::new("/sys").join(rest)
    } else {
        host.to_path_buf()
    };
    mapped.to_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_wildcards_in_any_component() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["1", "22", "x"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
            std::fs::write(dir.path().join(d).join("stat"), d).unwrap();
        }
        let found = expand(&dir.path().join("[0-9]*/stat")).unwrap();
        assert_eq!(
            found,
            [dir.path().join("1/stat"), dir.path().join("22/stat")]
        );
        let found = expand(&dir.path().join("*/st?t")).unwrap();
        assert_eq!(found.len(), 3);
        assert!(expand(Path::new("/proc/../etc/*")).is_err());
    }
}
