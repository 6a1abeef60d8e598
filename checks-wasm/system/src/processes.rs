//! Processes by state and by priority, from the state and nice fields of every
//! /proc/PID/stat, under the names of Datadog's `linux_proc_extras` check.

use std::collections::BTreeMap;

use wasmon_sdk::{CheckError, Output, files};

/// Enough of a stat line to reach its nice field (the 19th) for any command name: comm is at
/// most 16 bytes and the 15 numbers before nice at most 20 digits each.
const HEAD_BYTES: u32 = 512;

/// Processes per `state:` and per `priority:` tag value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub states: BTreeMap<&'static str, u32>,
    pub priorities: BTreeMap<&'static str, u32>,
    pub total: u32,
}

/// Reads the head of every /proc/PID/stat in one host call and counts.
pub fn read() -> Result<Counts, CheckError> {
    let files = files::read_matching("/proc/[0-9]*/stat", HEAD_BYTES)
        .map_err(|e| CheckError::Transient(format!("/proc/*/stat: {e}")))?;
    Ok(count(files.iter().map(|f| f.content.as_slice())))
}

/// Counts processes by state and priority.
pub fn count<'a>(stats: impl Iterator<Item = &'a [u8]>) -> Counts {
    let mut counts = Counts::default();
    for stat in stats {
        let Some((state, nice)) = fields(stat) else {
            continue;
        };
        counts.total += 1;
        *counts.states.entry(state_name(state)).or_insert(0) += 1;
        // ps(1)'s `<` and `N` flags.
        let priority = match nice {
            Some(n) if n < 0 => Some("high"),
            Some(n) if n > 0 => Some("low"),
            _ => None,
        };
        if let Some(p) = priority {
            *counts.priorities.entry(p).or_insert(0) += 1;
        }
    }
    counts
}

/// The state letter and the nice value, which follow the last `)`: comm itself may hold
/// spaces and parentheses. Nice is none when the head was cut before it.
fn fields(stat: &[u8]) -> Option<(u8, Option<i64>)> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    let mut f = rest.split_ascii_whitespace();
    let state = *f.next()?.as_bytes().first()?;
    // state is field 3; nice is field 19.
    let nice = f.nth(15).and_then(|n| n.parse().ok());
    Some((state, nice))
}

/// Datadog's state names (ps(1)'s letters); the states it has no name for keep the kernel's.
fn state_name(letter: u8) -> &'static str {
    match letter {
        b'R' => "runnable",
        b'S' => "sleeping",
        b'D' => "uninterruptible",
        b'T' => "stopped",
        b't' => "tracing_stop",
        b'Z' => "zombie",
        b'X' | b'x' => "dead",
        b'I' => "idle",
        b'P' => "parked",
        b'W' => "paging",
        b'K' => "wakekill",
        _ => "unknown",
    }
}

/// Emits `system.processes.states` per `state:`, `system.processes.priorities` per
/// `priority:` and the total.
pub fn emit(counts: &Counts, out: &mut Output) {
    for (name, tag_key, map) in [
        ("system.processes.states", "state", &counts.states),
        (
            "system.processes.priorities",
            "priority",
            &counts.priorities,
        ),
    ] {
        for (value, n) in map {
            out.gauge(name, f64::from(*n), &[&format!("{tag_key}:{value}")]);
        }
    }
    out.gauge("system.processes.total", f64::from(counts.total), &[]);
}

#[cfg(test)]
mod tests {
    use super::*;

    const INIT: &[u8] = b"1 (systemd) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0";
    const NICE: &[u8] = b"42 (my (odd) proc) R 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 39 19 1 0";
    const KWORKER: &[u8] = b"43 (kworker/0:1H) I 2 0 0 0 -1 0 0 0 0 0 0 0 0 0 0 -20 1 0";

    #[test]
    fn counts_states_and_priorities_even_with_odd_names() {
        let stats: [&[u8]; 4] = [INIT, NICE, KWORKER, b"44 (a) b) Z 1 44"];
        let c = count(stats.into_iter());
        assert_eq!(c.total, 4);
        assert_eq!(c.states["sleeping"], 1);
        assert_eq!(c.states["runnable"], 1);
        assert_eq!(c.states["idle"], 1);
        assert_eq!(c.states["zombie"], 1);
        assert_eq!(c.priorities["low"], 1);
        assert_eq!(c.priorities["high"], 1);
        let mut out = Output::new(0);
        emit(&c, &mut out);
        assert_eq!(out.samples().last().unwrap().value, 4.0);
    }

    #[test]
    fn truncated_stat_is_skipped() {
        assert_eq!(fields(b"12 (cut"), None);
        assert_eq!(fields(b"12 (x) S 1 2"), Some((b'S', None)));
    }
}
