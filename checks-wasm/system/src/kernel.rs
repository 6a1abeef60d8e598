//! Kernel tables Datadog's `linux_proc_extras` check reports: entropy available and inodes.

use wasmon_sdk::Output;

/// /proc/sys/kernel/random/entropy_avail and /proc/sys/fs/inode-nr, where readable.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Kernel {
    pub entropy: Option<f64>,
    /// Allocated and free inodes.
    pub inodes: Option<(f64, f64)>,
}

/// Parses the two files (either may be missing).
pub fn parse(entropy_avail: Option<&str>, inode_nr: Option<&str>) -> Kernel {
    let numbers = |t: &str| -> Vec<f64> {
        t.split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect()
    };
    Kernel {
        entropy: entropy_avail.and_then(|t| numbers(t).first().copied()),
        inodes: inode_nr.and_then(|t| match numbers(t)[..] {
            [allocated, free, ..] => Some((allocated, free)),
            _ => None,
        }),
    }
}

/// Emits `system.entropy.available`, `system.inodes.total` and `system.inodes.used`.
pub fn emit(k: &Kernel, out: &mut Output) {
    if let Some(e) = k.entropy {
        out.gauge("system.entropy.available", e, &[]);
    }
    if let Some((allocated, free)) = k.inodes {
        out.gauge("system.inodes.total", allocated, &[]);
        out.gauge("system.inodes.used", allocated - free, &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inodes_used_are_allocated_less_free() {
        let k = parse(Some("256\n"), Some("29079\t1000\n"));
        assert_eq!(k.entropy, Some(256.0));
        let mut out = Output::new(0);
        emit(&k, &mut out);
        let used = out
            .samples()
            .iter()
            .find(|s| s.name == "system.inodes.used");
        assert_eq!(used.map(|s| s.value), Some(28079.0));
        assert_eq!(parse(None, Some("garbage")), Kernel::default());
    }
}
