//! /proc files kept open between reads. The kernel makes such a file's content when it is
//! read, so reading a kept one again from offset 0 gives what opening it afresh would, without
//! the path walk, open and close, which were a third of a system collection's cost. Only files
//! that say the same whenever they are opened are kept ([`keepable`]): not regular files (a
//! rotated log must be opened again), not sysfs (a renamed interface's name may be taken by
//! another), and not a process's files bound to what it had when opened (its memory map, its
//! namespaces). A kept file that fails to read (a process that exited) is opened afresh, one
//! unread for [`IDLE`] is closed, and a process-wide budget, a quarter of the agent's
//! descriptor limit, bounds what is kept.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A kept file unread this long is closed.
const IDLE: Duration = Duration::from_secs(600);

/// What the first read asks for: most /proc files fit.
const FIRST_READ: usize = 8 * 1024;

/// Most descriptors kept by all instances together, whatever the limit.
const MOST_KEPT: usize = 4096;

/// Descriptors kept by all instances together.
static KEPT: AtomicUsize = AtomicUsize::new(0);

/// An instance's kept files.
#[derive(Default)]
pub struct KeptFiles {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    files: HashMap<PathBuf, Kept>,
    swept: Option<Instant>,
    /// Files opened, for tests to tell a kept file from one opened afresh.
    #[cfg(test)]
    opened: usize,
}

struct Kept {
    file: File,
    used: Instant,
}

impl Drop for Kept {
    fn drop(&mut self) {
        KEPT.fetch_sub(1, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for KeptFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.inner.lock().map_or(0, |i| i.files.len());
        f.debug_struct("KeptFiles").field("kept", &kept).finish()
    }
}

impl KeptFiles {
    /// `path`'s content, up to `max` bytes, through a kept descriptor where there is one; a
    /// file opened now is kept if `keep` (see [`keepable`]) and it is on procfs.
    pub fn read(&self, path: &Path, max: u64, keep: bool) -> io::Result<Vec<u8>> {
        let now = Instant::now();
        let Ok(mut inner) = self.inner.lock() else {
            return read_whole(&File::open(path)?, max).map(|(content, _)| content);
        };
        inner.sweep(now);
        if let Some(kept) = inner.files.get_mut(path) {
            if let Ok((content, true)) = read_whole(&kept.file, max) {
                kept.used = now;
                return Ok(content);
            }
            inner.files.remove(path);
        }
        let file = File::open(path)?;
        #[cfg(test)]
        {
            inner.opened += 1;
        }
        let (content, positional) = read_whole(&file, max)?;
        if keep && positional && on_procfs(&file) && reserve() {
            inner
                .files
                .insert(path.to_path_buf(), Kept { file, used: now });
        }
        Ok(content)
    }

    /// How many files are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.files.len())
    }

    /// How many files were opened.
    #[cfg(test)]
    fn opened(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.opened)
    }
}

/// Whether the /proc file the guest names `path` says the same whenever it is opened: one
/// outside a process's folder, or a process's own counters (`stat`, `statm`, `status`, `io`),
/// whose read fails once the process is gone.
pub fn keepable(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/proc/") else {
        return false;
    };
    let (first, inner) = rest.split_once('/').unwrap_or((rest, ""));
    if first == "thread-self" {
        return false;
    }
    let process = first == "self" || first.bytes().all(|b| b.is_ascii_digit());
    !process || matches!(inner, "stat" | "statm" | "status" | "io")
}

impl Inner {
    /// Closes what has not been read for [`IDLE`], looking at most once a minute.
    fn sweep(&mut self, now: Instant) {
        if self
            .swept
            .is_some_and(|at| now.duration_since(at) < IDLE / 10)
        {
            return;
        }
        self.swept = Some(now);
        self.files
            .retain(|_, kept| now.duration_since(kept.used) < IDLE);
    }
}

/// Takes one descriptor from the budget, if any is left.
fn reserve() -> bool {
    let budget = *BUDGET.get_or_init(budget);
    KEPT.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
        (n < budget).then_some(n + 1)
    })
    .is_ok()
}

static BUDGET: OnceLock<usize> = OnceLock::new();

/// A quarter of the descriptors the agent may open, at most [`MOST_KEPT`].
fn budget() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit, which lives for the call.
    let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    } else {
        0
    };
    (soft / 4).min(MOST_KEPT)
}

/// Whether the file is on procfs, which makes its content as it is read.
fn on_procfs(file: &File) -> bool {
    rustix::fs::fstatfs(file).is_ok_and(|fs| fs.f_type == rustix::fs::PROC_SUPER_MAGIC)
}

/// The file from offset 0 to its end (or `max` bytes), and whether it could be read at an
/// offset; one that cannot (a pipe) is read from where it is, and cannot be read again.
fn read_whole(file: &File, max: u64) -> io::Result<(Vec<u8>, bool)> {
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    let mut content = Vec::with_capacity(FIRST_READ.min(max));
    loop {
        let start = content.len();
        if start >= max {
            return Ok((content, true));
        }
        if start == content.capacity() {
            content.reserve(start);
        }
        let room = (content.capacity() - start).min(max - start);
        content.resize(start + room, 0);
        match file.read_at(&mut content[start..], start as u64) {
            Ok(0) => {
                content.truncate(start);
                return Ok((content, true));
            }
            Ok(n) => content.truncate(start + n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => content.truncate(start),
            Err(e) if e.raw_os_error() == Some(libc::ESPIPE) && start == 0 => {
                content.clear();
                file.take(max as u64).read_to_end(&mut content)?;
                return Ok((content, false));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The state letter in a `/proc/PID/stat`.
    fn state(stat: &[u8]) -> char {
        let text = String::from_utf8_lossy(stat).to_string();
        let after = text.rsplit_once(')').unwrap().1.to_string();
        after.trim_start().chars().next().unwrap()
    }

    #[test]
    fn a_proc_file_is_kept_and_read_afresh_each_time() {
        let kept = KeptFiles::default();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let path = PathBuf::from(format!("/proc/{}/stat", child.id()));
        let first = kept.read(&path, u64::MAX, true).unwrap();
        // Starting (R) or asleep (S): not stopped yet.
        assert_ne!(state(&first), 'T');
        // Stopped, the child says so through the kept descriptor.
        let pid = child.id().to_string();
        let stopped = std::process::Command::new("kill")
            .args(["-STOP", &pid])
            .status();
        assert!(stopped.unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut again = kept.read(&path, u64::MAX, true).unwrap();
        while state(&again) != 'T' && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            again = kept.read(&path, u64::MAX, true).unwrap();
        }
        assert_eq!(state(&again), 'T', "read afresh");
        assert_eq!((kept.len(), kept.opened()), (1, 1), "kept, opened once");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn only_files_that_say_the_same_whenever_opened_are_kept() {
        for path in [
            "/proc/stat",
            "/proc/net/dev",
            "/proc/sys/net/netfilter/nf_conntrack_max",
            "/proc/42/stat",
            "/proc/self/io",
        ] {
            assert!(keepable(path), "{path}");
        }
        for path in [
            "/proc/42/maps",
            "/proc/42/net/dev",
            "/proc/42/mountinfo",
            "/proc/self/smaps",
            "/proc/thread-self/stat",
            "/sys/class/net/eth0/mtu",
            "/var/log/syslog",
        ] {
            assert!(!keepable(path), "{path}");
        }
        // Not kept when the caller says not, even on procfs.
        let kept = KeptFiles::default();
        kept.read(Path::new("/proc/self/maps"), u64::MAX, false)
            .unwrap();
        assert_eq!(kept.len(), 0);
    }

    #[test]
    fn regular_files_are_read_afresh_and_never_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "first").unwrap();
        let kept = KeptFiles::default();
        assert_eq!(kept.read(&path, u64::MAX, true).unwrap(), b"first");
        // Replaced by a rename, as a rotation does.
        std::fs::write(dir.path().join("new"), "second").unwrap();
        std::fs::rename(dir.path().join("new"), &path).unwrap();
        assert_eq!(kept.read(&path, u64::MAX, true).unwrap(), b"second");
        assert_eq!(kept.len(), 0);
    }

    #[test]
    fn reads_stop_at_the_limit_and_span_buffers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &big).unwrap();
        let kept = KeptFiles::default();
        assert_eq!(kept.read(&path, u64::MAX, true).unwrap(), big);
        assert_eq!(kept.read(&path, 10, true).unwrap(), &big[..10]);
        assert_eq!(kept.read(&path, 20_000, true).unwrap(), &big[..20_000]);
    }

    #[test]
    fn a_kept_file_that_fails_is_opened_afresh_and_idle_ones_are_closed() {
        let kept = KeptFiles::default();
        // A child's stat, kept, then the child exits and is reaped: the read fails, so the
        // path is opened afresh, which fails too.
        let mut child = std::process::Command::new("sleep")
            .arg("10")
            .spawn()
            .unwrap();
        let path = PathBuf::from(format!("/proc/{}/stat", child.id()));
        kept.read(&path, u64::MAX, true).unwrap();
        assert_eq!(kept.len(), 1);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(kept.read(&path, u64::MAX, true).is_err());
        assert_eq!(kept.len(), 0);
        kept.read(Path::new("/proc/self/stat"), u64::MAX, true)
            .unwrap();
        let later = Instant::now() + IDLE;
        kept.inner.lock().unwrap().sweep(later);
        assert_eq!(kept.len(), 0);
    }
}
