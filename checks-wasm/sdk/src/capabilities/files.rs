//! Host files the instance's `grants.files` allow (`/proc/stat`, `/proc/*/stat`).

pub use crate::bindings::wasmon::check::files::MatchedFile;

#[cfg(target_family = "wasm")]
use crate::bindings::wasmon::check::files as host;
#[cfg(not(target_family = "wasm"))]
use fake as host;

/// Reads whole files in one host call; each answer is the file's content or why it could not
/// be read (not granted, missing).
pub fn read(paths: &[String]) -> Vec<Result<Vec<u8>, String>> {
    host::read(paths)
}

/// Reads one file as text, invalid UTF-8 replaced.
pub fn read_text(path: &str) -> Result<String, String> {
    let answer = read(&[path.to_string()]).pop();
    let bytes = answer.ok_or_else(|| format!("{path}: the host gave no answer"))??;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Reads at most `max_bytes` of every file matching `pattern` (a glob such as
/// `/proc/[0-9]*/stat`, which must itself be granted). Files that vanish meanwhile are skipped.
pub fn read_matching(pattern: &str, max_bytes: u32) -> Result<Vec<MatchedFile>, String> {
    host::read_matching(pattern, max_bytes)
}

/// The files a unit test gives its check, on the test's thread.
#[cfg(not(target_family = "wasm"))]
pub mod fake {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use super::MatchedFile;

    thread_local! {
        static FILES: RefCell<BTreeMap<String, Vec<u8>>> = const { RefCell::new(BTreeMap::new()) };
    }

    /// Makes `path` readable with `content`, replacing what it held.
    pub fn put(path: &str, content: impl Into<Vec<u8>>) {
        FILES.with_borrow_mut(|f| f.insert(path.to_string(), content.into()));
    }

    /// Makes `path` unreadable, as a missing or ungranted file is.
    pub fn remove(path: &str) {
        FILES.with_borrow_mut(|f| f.remove(path));
    }

    /// Forgets every file.
    pub fn clear() {
        FILES.with_borrow_mut(BTreeMap::clear);
    }

    pub(super) fn read(paths: &[String]) -> Vec<Result<Vec<u8>, String>> {
        FILES.with_borrow(|files| paths.iter().map(|p| one(files, p)).collect())
    }

    pub(super) fn read_matching(pattern: &str, max_bytes: u32) -> Result<Vec<MatchedFile>, String> {
        let matcher = glob::Pattern::new(pattern).map_err(|e| format!("{pattern}: {e}"))?;
        let options = glob::MatchOptions {
            require_literal_separator: true,
            ..glob::MatchOptions::new()
        };
        Ok(FILES.with_borrow(|files| {
            files
                .iter()
                .filter(|(path, _)| matcher.matches_with(path, options))
                .map(|(path, content)| MatchedFile {
                    path: path.clone(),
                    content: content[..content.len().min(max_bytes as usize)].to_vec(),
                })
                .collect()
        }))
    }

    /// As the host says it of a file that is not there.
    fn one(files: &BTreeMap<String, Vec<u8>>, path: &str) -> Result<Vec<u8>, String> {
        files
            .get(path)
            .cloned()
            .ok_or_else(|| format!("{path}: No such file or directory (os error 2)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fake_answers_each_path_and_globs_within_one_component() {
        fake::put("/proc/loadavg", "0.1 0.2 0.3 1/2 3\n");
        fake::put("/proc/1/stat", "1 (init) S");
        fake::put("/proc/22/stat", "22 (sh) R");
        fake::put("/proc/22/task/22/stat", "not a process");
        assert_eq!(
            read_text("/proc/loadavg").as_deref(),
            Ok("0.1 0.2 0.3 1/2 3\n")
        );
        let missing = read(&["/proc/nope".into()]);
        assert!(
            missing[0]
                .as_ref()
                .is_err_and(|e| e.starts_with("/proc/nope: "))
        );
        let found = read_matching("/proc/[0-9]*/stat", 4).unwrap();
        let found: Vec<_> = found
            .iter()
            .map(|m| (m.path.as_str(), &m.content[..]))
            .collect();
        assert_eq!(
            found,
            [("/proc/1/stat", &b"1 (i"[..]), ("/proc/22/stat", b"22 (")]
        );
        fake::remove("/proc/loadavg");
        assert!(read_text("/proc/loadavg").is_err());
        assert!(
            read_matching("/proc/[", 1).is_err(),
            "a bad pattern is refused"
        );
    }
}
