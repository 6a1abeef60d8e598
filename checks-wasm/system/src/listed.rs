//! What a folder holds changes when the machine is reconfigured (a module loaded, a queue
//! added), not between two runs. Globs whose matches only say which files exist are matched
//! again once a minute, or at once when what they describe changed; in between, the files
//! found are read by name. Each listing was a folder opened and read per run: most of the
//! kernel's share of a collection outside the counters themselves.

use wasmon_sdk::files;

/// How long a listing is trusted.
const TRUST_MS: i64 = 60_000;

/// The files some patterns matched, and when.
#[derive(Debug, Default)]
pub struct Listed {
    paths: Vec<String>,
    /// When they were listed, and what they were listed for.
    listed: Option<(i64, u64)>,
}

/// A file's path and content.
pub type Found = (String, Vec<u8>);

impl Listed {
    /// Whether the listing can be trusted at `now_ms` for `scope`.
    fn trusted(&self, now_ms: i64, scope: u64) -> bool {
        self.listed.is_some_and(|(at, listed_for)| {
            listed_for == scope && (0..TRUST_MS).contains(&(now_ms - at))
        })
    }

    /// Lists the files matching `patterns` with at most `max_bytes` of each.
    fn list(&mut self, patterns: &[&str], max_bytes: u32, now_ms: i64, scope: u64) -> Vec<Found> {
        let found: Vec<Found> = patterns
            .iter()
            .filter_map(|pattern| files::read_matching(pattern, max_bytes).ok())
            .flatten()
            .map(|f| (f.path, f.content))
            .collect();
        self.paths = found.iter().map(|(path, _)| path.clone()).collect();
        self.listed = Some((now_ms, scope));
        found
    }

    /// The files matching `patterns`, listed again when the listing is a minute old or
    /// `scope` (what the caller lists them for) changed.
    pub fn paths(&mut self, patterns: &[&str], now_ms: i64, scope: u64) -> &[String] {
        if !self.trusted(now_ms, scope) {
            self.list(patterns, 0, now_ms, scope);
        }
        &self.paths
    }

    /// The files matching `patterns` with at most `max_bytes` of each: listed again as
    /// [`Listed::paths`] says or when a listed file is gone, otherwise read by name.
    pub fn read(
        &mut self,
        patterns: &[&str],
        max_bytes: u32,
        now_ms: i64,
        scope: u64,
    ) -> Vec<Found> {
        if self.trusted(now_ms, scope) {
            let answers = files::read(&self.paths);
            if answers.iter().all(Result::is_ok) {
                return (self.paths.iter().cloned())
                    .zip(answers.into_iter().flatten())
                    .map(|(path, content)| (path, cut(content, max_bytes)))
                    .collect();
            }
        }
        self.list(patterns, max_bytes, now_ms, scope)
    }
}

/// `content` cut to `max_bytes`, as a match would be.
fn cut(mut content: Vec<u8>, max_bytes: u32) -> Vec<u8> {
    content.truncate(usize::try_from(max_bytes).unwrap_or(usize::MAX));
    content
}

/// A scope from the names a listing describes: a new set of names lists again.
pub fn scope_of<'a>(names: impl IntoIterator<Item = &'a str>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for name in names {
        name.hash(&mut hasher);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmon_sdk::testing::files as fake;

    const PATTERN: [&str; 1] = ["/proc/sys/x/*"];

    fn names(found: &[Found]) -> Vec<&str> {
        found.iter().map(|(p, _)| p.as_str()).collect()
    }

    #[test]
    fn a_listing_is_trusted_for_a_minute_while_its_files_are_there() {
        fake::put("/proc/sys/x/a", "1");
        let mut listed = Listed::default();
        assert_eq!(names(&listed.read(&PATTERN, 8, 0, 0)), ["/proc/sys/x/a"]);
        fake::put("/proc/sys/x/b", "2");
        fake::put("/proc/sys/x/a", "3");
        let found = listed.read(&PATTERN, 8, 59_999, 0);
        assert_eq!(
            found,
            [("/proc/sys/x/a".to_string(), b"3".to_vec())],
            "read by name"
        );
        let found = listed.read(&PATTERN, 8, 60_000, 0);
        assert_eq!(
            names(&found),
            ["/proc/sys/x/a", "/proc/sys/x/b"],
            "listed again"
        );
    }

    #[test]
    fn a_new_scope_or_a_file_gone_lists_again() {
        fake::put("/proc/sys/x/a", "1");
        let mut listed = Listed::default();
        listed.read(&PATTERN, 8, 0, 1);
        fake::put("/proc/sys/x/b", "2");
        assert_eq!(listed.read(&PATTERN, 8, 1, 2).len(), 2, "another scope");
        fake::remove("/proc/sys/x/a");
        assert_eq!(
            names(&listed.read(&PATTERN, 8, 2, 2)),
            ["/proc/sys/x/b"],
            "a file gone"
        );
    }

    #[test]
    fn paths_are_listed_without_reading_in_between() {
        fake::put("/proc/sys/x/a", "1");
        let mut listed = Listed::default();
        assert_eq!(listed.paths(&PATTERN, 0, 0), ["/proc/sys/x/a"]);
        fake::remove("/proc/sys/x/a");
        assert_eq!(listed.paths(&PATTERN, 1, 0), ["/proc/sys/x/a"], "trusted");
        assert!(listed.paths(&PATTERN, 1, 7).is_empty(), "another scope");
    }

    #[test]
    fn names_make_the_scope() {
        assert_eq!(scope_of(["eth0", "lo"]), scope_of(["eth0", "lo"]));
        assert_ne!(scope_of(["eth0", "lo"]), scope_of(["eth0"]));
    }
}
