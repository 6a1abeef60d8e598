//! Verified components on disk, `<data_dir>/registry/<check>/`: each version digest-named
//! (`sha256-<hex>.wasm`) and `current.json` saying which runs, who signed it and where it
//! came from. Only what passed verification is written, so a restart runs the last good
//! version without asking the network.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::state::SourceReport;

/// Versions kept per check: the running one and the ones before it, for a quick rollback.
const KEPT_VERSIONS: usize = 3;

/// What runs for one pulled check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Current {
    /// The reference it was pulled by.
    pub reference: String,
    /// The digest of its manifest.
    pub manifest_digest: String,
    /// The component's digest, `sha256:<hex>`: what the signature is over.
    pub digest: String,
    /// The id of the key that signed it.
    pub key_id: String,
    /// Unix milliseconds when it was verified.
    pub verified_ms: i64,
}

/// The store of one check.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store of `check` under `data_dir`.
    pub fn new(data_dir: &Path, check: &str) -> Self {
        Self {
            dir: data_dir.join("registry").join(check),
        }
    }

    /// The version that runs, if one was ever verified.
    pub fn current(&self) -> Option<Current> {
        let text = std::fs::read(self.dir.join("current.json")).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// The file of the version that runs.
    pub fn current_module(&self) -> Option<PathBuf> {
        let path = self.module(&self.current()?.digest);
        path.is_file().then_some(path)
    }

    /// Where the component of `digest` is kept.
    pub fn module(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{}.wasm", digest.replace(':', "-")))
    }

    /// Writes `bytes` (already verified) as the version of `digest`, not yet the one that
    /// runs; its path.
    pub fn keep(&self, digest: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)?;
        let module = self.module(digest);
        if !module.is_file() {
            write_atomically(&module, bytes)?;
        }
        Ok(module)
    }

    /// Removes a kept version that did not load, unless it is the one that runs.
    pub fn forget(&self, digest: &str) {
        if self.current().is_none_or(|c| c.digest != digest) {
            let _ = std::fs::remove_file(self.module(digest));
        }
    }

    /// Makes the kept version `current` names the one that runs, and prunes old versions.
    pub fn install(&self, current: &Current) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(current).map_err(std::io::Error::other)?;
        write_atomically(&self.dir.join("current.json"), &json)?;
        self.prune(&self.module(&current.digest));
        Ok(())
    }

    /// Keeps the last poll's report, for `configcheck` to show when the agent is not asked.
    pub fn save_report(&self, report: &SourceReport) {
        if let Ok(json) = serde_json::to_vec_pretty(report) {
            let _ = std::fs::create_dir_all(&self.dir)
                .and_then(|()| write_atomically(&self.dir.join("last_poll.json"), &json));
        }
    }

    /// The report the last poll kept.
    pub fn last_report(&self) -> Option<SourceReport> {
        let text = std::fs::read(self.dir.join("last_poll.json")).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Removes all but the newest versions, never the one that runs.
    fn prune(&self, running: &Path) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut versions: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "wasm") && p != running)
            .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.0));
        for (_, old) in versions.into_iter().skip(KEPT_VERSIONS - 1) {
            let _ = std::fs::remove_file(old);
        }
    }
}

/// Writes through a temporary file and a rename, so a reader never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current(digest: &str) -> Current {
        Current {
            reference: "127.0.0.1:5000/checks/x:1".into(),
            manifest_digest: "sha256:m".into(),
            digest: digest.into(),
            key_id: "K".into(),
            verified_ms: 1,
        }
    }

    #[test]
    fn the_installed_version_is_found_again_and_old_ones_are_pruned() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path(), "x");
        assert_eq!(store.current_module(), None);
        for n in 0..5 {
            let digest = format!("sha256:{n}");
            store.keep(&digest, &[n]).unwrap();
            store.install(&current(&digest)).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(store.current(), Some(current("sha256:4")));
        let running = store.current_module().unwrap();
        assert_eq!(std::fs::read(&running).unwrap(), [4]);
        let kept = std::fs::read_dir(tmp.path().join("registry/x"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().unwrap() == "wasm")
            .count();
        assert_eq!(kept, KEPT_VERSIONS);
        // A pin back to a kept version needs no second write.
        store.keep("sha256:3", &[]).unwrap();
        store.install(&current("sha256:3")).unwrap();
        assert_eq!(std::fs::read(store.current_module().unwrap()).unwrap(), [3]);
        // A version that did not load is forgotten; the one that runs never is.
        store.keep("sha256:9", &[9]).unwrap();
        store.forget("sha256:9");
        store.forget("sha256:3");
        assert!(!store.module("sha256:9").exists());
        assert!(store.module("sha256:3").exists());
    }
}
