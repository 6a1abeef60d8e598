//! Memory and swap from /proc/meminfo, in Datadog's units (MiB, fractions for `pct_*`).

use std::collections::HashMap;

use wasmon_sdk::Output;

/// /proc/meminfo as key → kB.
#[derive(Debug, Clone, Default)]
pub struct MemInfo(pub HashMap<String, f64>);

impl MemInfo {
    fn kb(&self, key: &str) -> f64 {
        self.0.get(key).copied().unwrap_or(0.0)
    }
}

/// Parses /proc/meminfo (`Key:   123 kB` lines).
pub fn parse(text: &str) -> MemInfo {
    MemInfo(
        text.lines()
            .filter_map(|line| {
                let (key, rest) = line.split_once(':')?;
                let value = rest.split_ascii_whitespace().next()?.parse().ok()?;
                Some((key.to_string(), value))
            })
            .collect(),
    )
}

/// Emits `system.mem.*` and `system.swap.*`.
pub fn emit(mem: &MemInfo, out: &mut Output) {
    let mib = |kb: f64| kb / 1024.0;
    let total = mem.kb("MemTotal");
    let free = mem.kb("MemFree");
    // Kernels before 3.14 have no MemAvailable: estimate it as Datadog does.
    let usable = match mem.0.get("MemAvailable") {
        Some(v) => *v,
        None => free + mem.kb("Buffers") + mem.kb("Cached"),
    };
    out.gauge("system.mem.total", mib(total), &[]);
    out.gauge("system.mem.free", mib(free), &[]);
    out.gauge("system.mem.used", mib(total - free), &[]);
    out.gauge("system.mem.usable", mib(usable), &[]);
    if total > 0.0 {
        out.gauge("system.mem.pct_usable", usable / total, &[]);
    }
    for (name, key) in [
        ("buffered", "Buffers"),
        ("cached", "Cached"),
        ("shared", "Shmem"),
        ("slab", "Slab"),
        ("page_tables", "PageTables"),
        ("slab_reclaimable", "SReclaimable"),
        ("committed_as", "Committed_AS"),
        ("commit_limit", "CommitLimit"),
    ] {
        out.gauge(&format!("system.mem.{name}"), mib(mem.kb(key)), &[]);
    }
    let swap_total = mem.kb("SwapTotal");
    let swap_free = mem.kb("SwapFree");
    out.gauge("system.swap.total", mib(swap_total), &[]);
    out.gauge("system.swap.free", mib(swap_free), &[]);
    out.gauge("system.swap.used", mib(swap_total - swap_free), &[]);
    out.gauge("system.swap.cached", mib(mem.kb("SwapCached")), &[]);
    // As gopsutil: no swap at all is none of it used.
    let pct_free = if swap_total > 0.0 {
        swap_free / swap_total
    } else {
        1.0
    };
    out.gauge("system.swap.pct_free", pct_free, &[]);
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMINFO: &str = "MemTotal:       24683656 kB\nMemFree:        20000000 kB\n\
        MemAvailable:   22000000 kB\nBuffers:          100000 kB\nCached:          1000000 kB\n\
        SwapTotal:       2097152 kB\nSwapFree:        1048576 kB\nHugePages_Total:       0\n";

    fn value(out: &Output, name: &str) -> f64 {
        out.samples().iter().find(|s| s.name == name).unwrap().value
    }

    #[test]
    fn reports_mib_and_fractions() {
        let mut out = Output::new(0);
        emit(&parse(MEMINFO), &mut out);
        assert_eq!(value(&out, "system.mem.total"), 24683656.0 / 1024.0);
        assert_eq!(value(&out, "system.mem.usable"), 22000000.0 / 1024.0);
        assert_eq!(value(&out, "system.swap.used"), 1024.0);
        assert_eq!(value(&out, "system.swap.pct_free"), 0.5);
        assert!((value(&out, "system.mem.pct_usable") - 22000000.0 / 24683656.0).abs() < 1e-12);
    }

    #[test]
    fn estimates_usable_without_memavailable() {
        let mut out = Output::new(0);
        emit(
            &parse("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n"),
            &mut out,
        );
        assert_eq!(value(&out, "system.mem.usable"), 400.0 / 1024.0);
        assert_eq!(
            value(&out, "system.swap.pct_free"),
            1.0,
            "no swap, none used"
        );
    }
}
