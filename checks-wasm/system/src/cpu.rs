//! CPU time split (percent), context switches and interrupts from /proc/stat.

use wasmon_sdk::Output;

/// Jiffies of one `cpu` line, in /proc/stat's order.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Times {
    pub user: f64,
    pub nice: f64,
    pub system: f64,
    pub idle: f64,
    pub iowait: f64,
    pub irq: f64,
    pub softirq: f64,
    pub steal: f64,
    pub guest: f64,
    pub guest_nice: f64,
}

impl Times {
    fn parse(fields: &[&str]) -> Result<Self, String> {
        let mut v = [0.0; 10];
        for (slot, field) in v.iter_mut().zip(fields) {
            *slot = field
                .parse()
                .map_err(|_| format!("bad cpu field {field:?}"))?;
        }
        if fields.len() < 4 {
            return Err("cpu line has fewer than 4 fields".into());
        }
        Ok(Self {
            user: v[0],
            nice: v[1],
            system: v[2],
            idle: v[3],
            iowait: v[4],
            irq: v[5],
            softirq: v[6],
            steal: v[7],
            guest: v[8],
            guest_nice: v[9],
        })
    }

    /// All time spent; guest time is already inside user and nice.
    fn total(&self) -> f64 {
        self.user
            + self.nice
            + self.system
            + self.idle
            + self.iowait
            + self.irq
            + self.softirq
            + self.steal
    }
}

/// The parts of /proc/stat this check reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CpuStat {
    pub total: Times,
    pub per_core: Vec<Times>,
    pub context_switches: f64,
    pub interrupts: f64,
    pub forks: f64,
    pub procs_running: f64,
    pub procs_blocked: f64,
}

impl CpuStat {
    /// Number of cores (at least 1).
    pub fn cores(&self) -> usize {
        self.per_core.len().max(1)
    }
}

/// Parses /proc/stat.
pub fn parse(text: &str) -> Result<CpuStat, String> {
    let mut stat = CpuStat::default();
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let Some(key) = fields.next() else { continue };
        let rest: Vec<&str> = fields.collect();
        let first = || rest.first().and_then(|v| v.parse().ok()).unwrap_or(0.0);
        match key {
            "cpu" => stat.total = Times::parse(&rest)?,
            k if k.starts_with("cpu") => stat.per_core.push(Times::parse(&rest)?),
            "ctxt" => stat.context_switches = first(),
            "intr" => stat.interrupts = first(),
            "processes" => stat.forks = first(),
            "procs_running" => stat.procs_running = first(),
            "procs_blocked" => stat.procs_blocked = first(),
            _ => {}
        }
    }
    Ok(stat)
}

/// Datadog's split in percent of the elapsed time: user includes nice, system includes
/// interrupts; user + system + iowait + idle + stolen sum to 100.
fn percentages(now: &Times, before: &Times) -> Option<[(&'static str, f64); 7]> {
    let elapsed = now.total() - before.total();
    if elapsed <= 0.0 {
        return None;
    }
    let pct = |a: f64, b: f64| ((a - b) * 100.0 / elapsed).max(0.0);
    Some([
        ("user", pct(now.user + now.nice, before.user + before.nice)),
        (
            "system",
            pct(
                now.system + now.irq + now.softirq,
                before.system + before.irq + before.softirq,
            ),
        ),
        (
            "interrupt",
            pct(now.irq + now.softirq, before.irq + before.softirq),
        ),
        ("iowait", pct(now.iowait, before.iowait)),
        ("idle", pct(now.idle, before.idle)),
        ("stolen", pct(now.steal, before.steal)),
        (
            "guest",
            pct(now.guest + now.guest_nice, before.guest + before.guest_nice),
        ),
    ])
}

/// /proc/stat counts in USER_HZ, which Linux fixes at 100 for user space.
const JIFFIES_PER_SECOND: f64 = 100.0;

/// Emits cpu metrics; percentages need the previous run. `per_core` adds the cumulative
/// seconds of each core to those of all (Datadog's `report_total_percpu`).
pub fn emit(now: &CpuStat, before: Option<&CpuStat>, per_core: bool, out: &mut Output) {
    out.gauge("system.cpu.num_cores", now.cores() as f64, &[]);
    out.monotonic_count("system.cpu.context_switches", now.context_switches, &[]);
    // linux_proc_extras' names for the same counters.
    out.monotonic_count("system.linux.context_switches", now.context_switches, &[]);
    out.monotonic_count("system.linux.interrupts", now.interrupts, &[]);
    out.monotonic_count("system.linux.processes_created", now.forks, &[]);
    emit_totals(&now.total, "core:cpu-total", out);
    if per_core {
        for (core, times) in now.per_core.iter().enumerate() {
            emit_totals(times, &format!("core:cpu{core}"), out);
        }
    }
    out.gauge("system.processes.runnable", now.procs_running, &[]);
    out.gauge("system.processes.blocked", now.procs_blocked, &[]);
    let Some(before) = before else { return };
    if let Some(split) = percentages(&now.total, &before.total) {
        for (name, value) in split {
            out.gauge(&format!("system.cpu.{name}"), value, &[]);
        }
    }
    for (core, (n, b)) in now.per_core.iter().zip(&before.per_core).enumerate() {
        if let Some(split) = percentages(n, b) {
            let tag = format!("core:{core}");
            for (name, value) in split {
                out.gauge(&format!("system.core.{name}"), value, &[&tag]);
            }
        }
    }
}

/// Seconds spent in each mode since boot, as the Go cpu check's `system.cpu.*.total`.
fn emit_totals(t: &Times, tag: &str, out: &mut Output) {
    for (mode, jiffies) in [
        ("user", t.user),
        ("nice", t.nice),
        ("system", t.system),
        ("idle", t.idle),
        ("iowait", t.iowait),
        ("irq", t.irq),
        ("softirq", t.softirq),
        ("steal", t.steal),
        ("guest", t.guest),
        ("guestnice", t.guest_nice),
    ] {
        out.gauge(
            &format!("system.cpu.{mode}.total"),
            jiffies / JIFFIES_PER_SECOND,
            &[tag],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "cpu  100 10 50 800 20 5 5 10 4 0\ncpu0 50 5 25 400 10 2 3 5 2 0\n\
        cpu1 50 5 25 400 10 3 2 5 2 0\nintr 1000 0 0\nctxt 5000\nprocesses 300\n\
        procs_running 2\nprocs_blocked 1\n";
    const AFTER: &str = "cpu  150 20 70 1480 40 10 10 20 8 0\ncpu0 75 10 35 750 20 5 5 10 4 0\n\
        cpu1 75 10 35 750 20 5 5 10 4 0\nintr 1500 0 0\nctxt 6000\nprocesses 310\n";

    #[test]
    fn parses_totals_cores_and_counters() {
        let s = parse(BEFORE).unwrap();
        assert_eq!(s.total.user, 100.0);
        assert_eq!(s.total.guest, 4.0);
        assert_eq!(s.per_core.len(), 2);
        assert_eq!(s.cores(), 2);
        assert_eq!(
            (s.context_switches, s.interrupts, s.forks),
            (5000.0, 1000.0, 300.0)
        );
        assert_eq!((s.procs_running, s.procs_blocked), (2.0, 1.0));
    }

    #[test]
    fn percentages_sum_to_100() {
        let (b, a) = (parse(BEFORE).unwrap(), parse(AFTER).unwrap());
        let split = percentages(&a.total, &b.total).unwrap();
        let get = |n: &str| split.iter().find(|(k, _)| *k == n).unwrap().1;
        let sum = get("user") + get("system") + get("iowait") + get("idle") + get("stolen");
        assert!((sum - 100.0).abs() < 1e-9, "{sum}");
        // 60 of 800 jiffies were user + nice.
        assert!((get("user") - 7.5).abs() < 1e-9);
        assert!((get("interrupt") - 1.25).abs() < 1e-9);
    }

    #[test]
    fn first_run_emits_no_percentages() {
        let mut out = Output::new(0);
        emit(&parse(BEFORE).unwrap(), None, false, &mut out);
        assert!(!out.samples().iter().any(|s| s.name == "system.cpu.user"));
        let mut out = Output::new(0);
        emit(
            &parse(AFTER).unwrap(),
            Some(&parse(BEFORE).unwrap()),
            true,
            &mut out,
        );
        let cores = out
            .samples()
            .iter()
            .filter(|s| s.name == "system.core.idle")
            .count();
        assert_eq!(cores, 2);
        let user_totals: Vec<_> = out
            .samples()
            .iter()
            .filter(|s| s.name == "system.cpu.user.total")
            .map(|s| (s.value, s.tags[0].as_str()))
            .collect();
        assert_eq!(
            user_totals,
            [
                (1.5, "core:cpu-total"),
                (0.75, "core:cpu0"),
                (0.75, "core:cpu1")
            ],
            "seconds, all cores and each"
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("cpu  a b c d").is_err());
    }
}
