//! `grants.files`: glob patterns of the files an instance may read, validated into
//! [`FileGrants`]; secrets under /proc and paths that leave /proc are never granted.

use std::path::{Component, Path, PathBuf};

use super::Files;
use crate::capabilities::{Capability, Grantable};

/// Names under /proc that are never granted: they expose other processes' secrets
/// (`environ`, `cmdline`, memory) or lead out of /proc (`root`, `cwd`, `exe`, `fd`).
const NEVER_UNDER_PROC: [&str; 14] = [
    "environ",
    "cmdline",
    "mem",
    "kcore",
    "kmem",
    "pagemap",
    "auxv",
    "syscall",
    "stack",
    "root",
    "cwd",
    "exe",
    "fd",
    "map_files",
];

/// One granted file pattern.
#[derive(Debug, Clone)]
pub struct FileGrant {
    pattern: glob::Pattern,
    /// Without wildcards: matched by comparing, which is most grants and most reads.
    literal: bool,
}

impl FileGrant {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.pattern.as_str()
    }

    fn matches(&self, path: &str) -> bool {
        if self.literal {
            self.pattern.as_str() == path
        } else {
            self.pattern.matches_with(path, MATCH)
        }
    }
}

/// The file patterns an instance may read; empty: none.
#[derive(Debug, Clone, Default)]
pub struct FileGrants(Vec<FileGrant>);

const MATCH: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

impl Grantable for Files {
    const CAPABILITY: Capability = super::FILES;
    /// Glob patterns of files the check may read, e.g. `/proc/stat`, `/proc/*/stat`.
    type Config = Vec<String>;
    type Granted = FileGrants;

    fn parse(config: &Vec<String>) -> Result<FileGrants, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let mut files = Vec::new();
        for (i, text) in config.iter().enumerate() {
            let field = format!("grants.files[{i}]");
            match check_path(text).and_then(|()| {
                glob::Pattern::new(text).map_err(|e| format!("not a glob pattern: {e}"))
            }) {
                Ok(pattern) => files.push(FileGrant {
                    literal: !text.contains(['*', '?', '[']),
                    pattern,
                }),
                Err(message) => errors.push((field, message)),
            }
        }
        if errors.is_empty() {
            Ok(FileGrants(files))
        } else {
            Err(errors)
        }
    }

    fn describe(granted: &FileGrants) -> Vec<String> {
        granted
            .0
            .iter()
            .map(|g| format!("read {}", g.as_str()))
            .collect()
    }
}

impl FileGrants {
    /// Whether no file is granted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether reading `path` (as the guest names it) is allowed; the error says why not.
    pub fn allows(&self, path: &str) -> Result<(), String> {
        check_path(path)?;
        if self.0.iter().any(|g| g.matches(path)) {
            Ok(())
        } else {
            Err(format!("{path} is not granted to this instance"))
        }
    }
}

/// Absolute, no `.`/`..`, nothing secret under /proc.
fn check_path(path: &str) -> Result<(), String> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(format!("{path:?} is not an absolute path"));
    }
    if p.components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return Err(format!("{path:?} may not contain `.` or `..`"));
    }
    if p.starts_with("/proc") {
        let secret = p.components().skip(2).find_map(|c| match c {
            Component::Normal(n) => NEVER_UNDER_PROC.iter().find(|s| n == **s),
            _ => None,
        });
        if let Some(name) = secret {
            return Err(format!(
                "{path:?}: /proc/…/{name} exposes other processes' secrets or leaves /proc; it is never granted"
            ));
        }
    }
    Ok(())
}

/// Maps a guest path to the host: `/proc` and `/sys` to their configured roots.
pub fn host_path(path: &str, proc_root: &Path, sys_root: &Path) -> PathBuf {
    let p = Path::new(path);
    for (prefix, root) in [("/proc", proc_root), ("/sys", sys_root)] {
        if let Ok(rest) = p.strip_prefix(prefix) {
            return root.join(rest);
        }
    }
    p.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(files: &[&str]) -> FileGrants {
        Files::parse(&files.iter().map(|s| s.to_string()).collect()).unwrap()
    }

    #[test]
    fn patterns_match_one_level() {
        let g = grants(&["/proc/stat", "/proc/*/stat"]);
        assert!(g.allows("/proc/stat").is_ok());
        assert!(g.allows("/proc/42/stat").is_ok());
        assert!(g.allows("/proc/42/task/1/stat").is_err());
        assert!(g.allows("/proc/meminfo").is_err());
        assert!(g.allows("/etc/passwd").is_err());
        // A literal grant is that one path.
        assert!(g.allows("/proc/stat2").is_err());
        assert!(g.allows("/proc/sta").is_err());
    }

    #[test]
    fn secrets_and_escapes_are_refused_even_if_granted() {
        let g = grants(&["/proc/*/*", "/proc/**"]);
        assert!(
            g.allows("/proc/1/environ")
                .unwrap_err()
                .contains("never granted")
        );
        assert!(g.allows("/proc/1/cmdline").is_err());
        assert!(g.allows("/proc/1/root").is_err());
        assert!(g.allows("/proc/1/../../etc/passwd").is_err());
        assert!(g.allows("proc/stat").is_err());
    }

    #[test]
    fn bad_grants_are_reported_with_their_index() {
        let e = Files::parse(&vec![
            "/proc/stat".into(),
            "/proc/*/environ".into(),
            "rel".into(),
            "/a/[".into(),
        ])
        .unwrap_err();
        let fields: Vec<_> = e.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            ["grants.files[1]", "grants.files[2]", "grants.files[3]"]
        );
    }

    #[test]
    fn roots_are_mapped() {
        let (p, s) = (Path::new("/host/proc"), Path::new("/host/sys"));
        assert_eq!(host_path("/proc/stat", p, s), Path::new("/host/proc/stat"));
        assert_eq!(host_path("/sys/block", p, s), Path::new("/host/sys/block"));
        assert_eq!(host_path("/var/log/x", p, s), Path::new("/var/log/x"));
        assert_eq!(host_path("/process", p, s), Path::new("/process"));
    }
}
