//! The pure half of reconciliation: given what the sources want and what runs, what to do.
//! No files, no clocks: times come in as values, so every rule is a unit test.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, SystemTime};

use crate::catalog::ModuleFile;

/// An instance: its check and its index in the check's `instances`.
pub type Key = (String, usize);

/// A module file that changed this recently may still be being written.
pub const SETTLE: Duration = Duration::from_millis(500);

/// What to do about a check's module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleStep {
    /// The version loaded is the file's: prepare what changed.
    Ready,
    /// Still being written: leave what runs, look again shortly.
    Settling,
    /// New or changed: load it.
    Load,
}

/// The step for module `file`, given the version `loaded` and the time `now`. A file written
/// whole by its source never settles; a file dated in the future is not being written.
pub fn module_step(file: &ModuleFile, loaded: Option<&ModuleFile>, now: SystemTime) -> ModuleStep {
    if loaded.is_some_and(|l| l.path == file.path && l.stamp == file.stamp) {
        return ModuleStep::Ready;
    }
    let age = now.duration_since(file.stamp.0);
    if !file.whole && age.is_ok_and(|age| age < SETTLE) {
        return ModuleStep::Settling;
    }
    ModuleStep::Load
}

/// Whether an instance wanted at `fingerprint` is (re)started: not when it runs at that
/// fingerprint (a run that stopped itself included), nor when it failed at that fingerprint
/// `failed_ago` and is not due again (once a `rescan`, less a second for the timer's jitter).
pub fn needs_start(
    fingerprint: u64,
    running: Option<u64>,
    failing: Option<(u64, Duration)>,
    rescan: Duration,
) -> bool {
    if running == Some(fingerprint) {
        return false;
    }
    match failing {
        Some((failed, ago)) if failed == fingerprint => ago + Duration::from_secs(1) >= rescan,
        _ => true,
    }
}

/// What runs, by key and by check.
#[derive(Debug, Default)]
pub struct Actual {
    /// Instances running (or stopped by themselves, waiting for a change).
    pub running: BTreeSet<Key>,
    /// Instances reported as failing to start.
    pub failing: BTreeSet<Key>,
    /// Checks with a module loaded.
    pub modules: BTreeSet<String>,
    /// Instances the cluster group placed here.
    pub placed: BTreeSet<Key>,
}

/// What no longer belongs, once a reconciliation has started what it wants.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// Running instances no source wants: stopped, "no longer configured".
    pub stop: Vec<Key>,
    /// Failing instances no longer wanted, or running now: their reports end.
    pub stop_reporting: Vec<Key>,
    /// Loaded modules no wanted instance or held check needs.
    pub forget: Vec<String>,
    /// The instances placed here by the group: those wanted so, and a held check's as before.
    pub placed: BTreeSet<Key>,
}

/// What to stop and forget: `wanted` are the instances to run here (`placed`, those the group
/// put here); `held`, the checks whose running instances stay as they are (a broken config, a
/// module refused or still being written); `pending`, held checks whose new module is loading,
/// whose failing instances keep being reported until the load says what runs.
pub fn leftovers(
    actual: &Actual,
    wanted: &BTreeSet<Key>,
    placed: &BTreeSet<Key>,
    held: &HashSet<String>,
    pending: &HashSet<String>,
) -> Leftovers {
    let stop: Vec<Key> = actual
        .running
        .iter()
        .filter(|k| !wanted.contains(*k) && !held.contains(&k.0))
        .cloned()
        .collect();
    let stop_reporting = actual
        .failing
        .iter()
        .filter(|k| {
            let kept = wanted.contains(*k) || pending.contains(&k.0);
            !kept || actual.running.contains(*k)
        })
        .cloned()
        .collect();
    let forget = actual
        .modules
        .iter()
        .filter(|check| !held.contains(*check) && !wanted.iter().any(|(c, _)| c == *check))
        .cloned()
        .collect();
    let placed = placed
        .iter()
        .chain(actual.placed.iter().filter(|k| held.contains(&k.0)))
        .cloned()
        .collect();
    Leftovers {
        stop,
        stop_reporting,
        forget,
        placed,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    const T0: SystemTime = SystemTime::UNIX_EPOCH;

    fn file(path: &str, modified_ms: u64, len: u64, whole: bool) -> ModuleFile {
        ModuleFile {
            path: PathBuf::from(path),
            stamp: (T0 + Duration::from_millis(modified_ms), len),
            whole,
        }
    }

    fn at(ms: u64) -> SystemTime {
        T0 + Duration::from_millis(ms)
    }

    #[test]
    fn a_module_loads_once_settled_and_is_ready_while_its_stamp_holds() {
        let new = file("/c/x.wasm", 10_000, 5, false);
        assert_eq!(module_step(&new, None, at(10_100)), ModuleStep::Settling);
        assert_eq!(module_step(&new, None, at(10_600)), ModuleStep::Load);
        assert_eq!(module_step(&new, Some(&new), at(10_100)), ModuleStep::Ready);
        // A new size, a new time or another folder is a new version.
        let grown = file("/c/x.wasm", 10_000, 6, false);
        assert_eq!(
            module_step(&grown, Some(&new), at(20_000)),
            ModuleStep::Load
        );
        let moved = file("/d/x.wasm", 10_000, 5, false);
        assert_eq!(
            module_step(&moved, Some(&new), at(20_000)),
            ModuleStep::Load
        );
    }

    #[test]
    fn a_pulled_module_or_one_dated_ahead_does_not_settle() {
        let pulled = file("/s/x.wasm", 10_000, 5, true);
        assert_eq!(module_step(&pulled, None, at(10_001)), ModuleStep::Load);
        let ahead = file("/c/x.wasm", 10_000, 5, false);
        assert_eq!(module_step(&ahead, None, at(9_000)), ModuleStep::Load);
    }

    #[test]
    fn an_instance_starts_when_its_fingerprint_changes_and_a_failure_waits_a_rescan() {
        let rescan = Duration::from_secs(30);
        assert!(needs_start(7, None, None, rescan));
        assert!(!needs_start(7, Some(7), None, rescan));
        assert!(needs_start(8, Some(7), None, rescan));
        let failed = |ago: u64| Some((7, Duration::from_millis(ago)));
        assert!(!needs_start(7, None, failed(28_500), rescan));
        assert!(needs_start(7, None, failed(29_000), rescan));
        // A changed config or module is tried at once.
        assert!(needs_start(8, None, failed(0), rescan));
    }

    fn keys(list: &[(&str, usize)]) -> BTreeSet<Key> {
        list.iter().map(|(c, i)| (c.to_string(), *i)).collect()
    }

    #[test]
    fn what_is_no_longer_wanted_stops_unless_its_check_is_held() {
        let actual = Actual {
            running: keys(&[("a", 0), ("a", 1), ("b", 0), ("gone", 0)]),
            failing: keys(&[("a", 2), ("c", 0), ("b", 0)]),
            modules: ["a", "b", "gone", "c"].map(String::from).into(),
            placed: keys(&[("b", 0), ("a", 1)]),
        };
        // `a` lost its instance 1 and keeps failing 2; `b`'s config broke; `c` was removed.
        let wanted = keys(&[("a", 0), ("a", 2)]);
        let held: HashSet<String> = ["b".to_string()].into();
        let left = leftovers(&actual, &wanted, &keys(&[("a", 0)]), &held, &HashSet::new());
        assert_eq!(
            left,
            Leftovers {
                stop: vec![("a".into(), 1), ("gone".into(), 0)],
                stop_reporting: vec![("b".into(), 0), ("c".into(), 0)],
                forget: vec!["c".into(), "gone".into()],
                placed: keys(&[("a", 0), ("b", 0)]),
            }
        );
    }

    #[test]
    fn nothing_wanted_and_nothing_held_stops_everything() {
        let actual = Actual {
            running: keys(&[("a", 0)]),
            failing: keys(&[("a", 1)]),
            modules: ["a".to_string()].into(),
            placed: keys(&[("a", 0)]),
        };
        let left = leftovers(
            &actual,
            &BTreeSet::new(),
            &BTreeSet::new(),
            &HashSet::new(),
            &HashSet::new(),
        );
        assert_eq!(left.stop, [("a".to_string(), 0)]);
        assert_eq!(left.stop_reporting, [("a".to_string(), 1)]);
        assert_eq!(left.forget, ["a"]);
        assert!(left.placed.is_empty());
    }

    #[test]
    fn a_loading_check_keeps_what_runs_and_its_failure_reports() {
        let actual = Actual {
            running: keys(&[("a", 0)]),
            failing: keys(&[("a", 1)]),
            modules: ["a".to_string()].into(),
            placed: keys(&[("a", 0)]),
        };
        let loading: HashSet<String> = ["a".to_string()].into();
        let left = leftovers(
            &actual,
            &BTreeSet::new(),
            &BTreeSet::new(),
            &loading,
            &loading,
        );
        assert_eq!(
            left,
            Leftovers {
                placed: keys(&[("a", 0)]),
                ..Leftovers::default()
            }
        );
    }
}
