//! One agent per data folder: a pidfile held under an exclusive lock. The kernel drops the lock
//! when the process dies, even by `kill -9`, so a stale file never blocks the next start.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

/// The held pidfile; removed when dropped.
pub struct PidFile {
    _lock: Flock<File>,
    path: PathBuf,
}

impl PidFile {
    /// Takes `data_dir/wasmon.pid`, or says which agent holds it.
    pub fn acquire(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            anyhow::anyhow!("cannot create the data folder {}: {e}", data_dir.display())
        })?;
        let path = data_dir.join("wasmon.pid");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((mut file, _)) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                anyhow::bail!(
                    "another wasmon (pid {}) is already running with the data folder {}",
                    pid.trim(),
                    data_dir.display()
                );
            }
        };
        lock.set_len(0)?;
        lock.rewind()?;
        writeln!(lock, "{}", std::process::id())?;
        Ok(Self { _lock: lock, path })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let first = PidFile::acquire(dir.path()).unwrap();
        let e = PidFile::acquire(dir.path()).err().unwrap().to_string();
        assert!(
            e.contains(&format!("another wasmon (pid {})", std::process::id())),
            "{e}"
        );
        drop(first);
        assert!(PidFile::acquire(dir.path()).is_ok());
    }
}
