//! Processes by state, from the state field of every /proc/PID/stat.

use std::collections::BTreeMap;

use wasmon_sdk::{CheckError, Output, files};

/// The state field sits after `pid (comm) `; comm is at most 16 bytes, so 128 bytes suffice.
const HEAD_BYTES: u32 = 128;

/// Reads the head of every /proc/PID/stat in one host call and counts the states.
pub fn read() -> Result<BTreeMap<&'static str, u32>, CheckError> {
    let files = files::read_matching("/proc/[0-9]*/stat", HEAD_BYTES)
        .map_err(|e| CheckError::Transient(format!("/proc/*/stat: {e}")))?;
    Ok(count(files.iter().map(|f| f.content.as_slice())))
}

/// Counts processes per state name.
pub fn count<'a>(stats: impl Iterator<Item = &'a [u8]>) -> BTreeMap<&'static str, u32> {
    let mut counts = BTreeMap::new();
    for stat in stats {
        if let Some(state) = state_of(stat) {
            *counts.entry(state).or_insert(0) += 1;
        }
    }
    counts
}

/// The state letter follows the last `)`: comm itself may hold spaces and parentheses.
fn state_of(stat: &[u8]) -> Option<&'static str> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let letter = stat.get(close + 2)?;
    Some(match letter {
        b'R' => "running",
        b'S' => "sleeping",
        b'D' => "disk_sleep",
        b'T' => "stopped",
        b't' => "tracing_stop",
        b'Z' => "zombie",
        b'X' | b'x' => "dead",
        b'I' => "idle",
        b'P' => "parked",
        b'W' => "paging",
        b'K' => "wakekill",
        _ => "unknown",
    })
}

/// Emits `system.processes.count` per `state:` and the total.
pub fn emit(counts: &BTreeMap<&'static str, u32>, out: &mut Output) {
    let mut total = 0;
    for (state, n) in counts {
        out.gauge(
            "system.processes.count",
            f64::from(*n),
            &[&format!("state:{state}")],
        );
        total += n;
    }
    out.gauge("system.processes.total", f64::from(total), &[]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_states_even_with_odd_names() {
        let stats: [&[u8]; 4] = [
            b"1 (systemd) S 0 1 1",
            b"42 (my (odd) proc) R 1 42",
            b"43 (kworker/0:1) I 2 0",
            b"44 (a) b) Z 1 44",
        ];
        let counts = count(stats.into_iter());
        assert_eq!(counts["sleeping"], 1);
        assert_eq!(counts["running"], 1);
        assert_eq!(counts["idle"], 1);
        assert_eq!(counts["zombie"], 1);
        let mut out = Output::new(0);
        emit(&counts, &mut out);
        assert_eq!(out.samples().last().unwrap().value, 4.0);
    }

    #[test]
    fn truncated_stat_is_skipped() {
        assert_eq!(state_of(b"12 (cut"), None);
    }
}
