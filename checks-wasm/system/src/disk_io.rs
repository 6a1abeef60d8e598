//! Block device I/O from /proc/diskstats, with iostat's derived figures under Datadog's
//! `system.io.*` names.

use wasmon_sdk::Output;

/// Counters of one block device (see Documentation/admin-guide/iostats.rst).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiskStat {
    pub name: String,
    pub reads: f64,
    pub reads_merged: f64,
    pub sectors_read: f64,
    pub ms_reading: f64,
    pub writes: f64,
    pub writes_merged: f64,
    pub sectors_written: f64,
    pub ms_writing: f64,
    pub ms_doing_io: f64,
    pub weighted_ms: f64,
}

/// Parses /proc/diskstats.
pub fn parse(text: &str) -> Vec<DiskStat> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_ascii_whitespace().collect();
            if f.len() < 14 {
                return None;
            }
            let n = |i: usize| f[i].parse::<f64>().unwrap_or(0.0);
            Some(DiskStat {
                name: f[2].to_string(),
                reads: n(3),
                reads_merged: n(4),
                sectors_read: n(5),
                ms_reading: n(6),
                writes: n(7),
                writes_merged: n(8),
                sectors_written: n(9),
                ms_writing: n(10),
                ms_doing_io: n(12),
                weighted_ms: n(13),
            })
        })
        .collect()
}

/// Emits what the Go io check and the Python disk check send per device: request counters as
/// host-computed rates, time spent as counters, and the iostat figures that need the
/// previous run.
pub fn emit(
    disks: &[DiskStat],
    previous: Option<(&Vec<DiskStat>, i64)>,
    now_ms: i64,
    config: &crate::Instance,
    out: &mut Output,
) {
    for disk in disks.iter().filter(|d| config.wants_device(&d.name)) {
        let device = format!("device:{}", disk.name);
        let device_name = format!("device_name:{}", disk.name);
        let tags = [device.as_str(), device_name.as_str()];
        out.rate("system.io.r_s", disk.reads, &tags);
        out.rate("system.io.w_s", disk.writes, &tags);
        out.rate("system.io.rrqm_s", disk.reads_merged, &tags);
        out.rate("system.io.wrqm_s", disk.writes_merged, &tags);
        out.monotonic_count("system.disk.read_time", disk.ms_reading, &tags);
        out.monotonic_count("system.disk.write_time", disk.ms_writing, &tags);
        // Milliseconds per second, over 10: percent of the time.
        out.rate("system.disk.read_time_pct", disk.ms_reading / 10.0, &tags);
        out.rate("system.disk.write_time_pct", disk.ms_writing / 10.0, &tags);

        let before = previous.and_then(|(prev, prev_ms)| {
            let d = prev.iter().find(|p| p.name == disk.name)?;
            (now_ms > prev_ms).then_some((d, (now_ms - prev_ms) as f64))
        });
        if let Some((before, elapsed_ms)) = before {
            emit_iostat(disk, before, elapsed_ms, &tags, out);
        }
    }
}

/// iostat's figures over the `elapsed_ms` since `before`: KiB/s, queue size, utilisation
/// (percent), await, r_await, w_await (ms per request), avg_rq_sz (sectors per request),
/// svctm.
fn emit_iostat(
    now: &DiskStat,
    before: &DiskStat,
    elapsed_ms: f64,
    tags: &[&str],
    out: &mut Output,
) {
    let d = |a: f64, b: f64| (a - b).max(0.0);
    let seconds = elapsed_ms / 1000.0;
    // 512-byte sectors, reported in KiB.
    let read_kib = d(now.sectors_read, before.sectors_read) / 2.0;
    let written_kib = d(now.sectors_written, before.sectors_written) / 2.0;
    out.gauge("system.io.rkb_s", read_kib / seconds, tags);
    out.gauge("system.io.wkb_s", written_kib / seconds, tags);
    out.gauge(
        "system.io.avg_q_sz",
        d(now.weighted_ms, before.weighted_ms) / elapsed_ms,
        tags,
    );
    let busy_ms = d(now.ms_doing_io, before.ms_doing_io);
    out.gauge("system.io.util", busy_ms * 100.0 / elapsed_ms, tags);

    let reads = d(now.reads, before.reads);
    let writes = d(now.writes, before.writes);
    let ios = reads + writes;
    let per = |time: f64, n: f64| if n > 0.0 { time / n } else { 0.0 };
    let read_ms = d(now.ms_reading, before.ms_reading);
    let write_ms = d(now.ms_writing, before.ms_writing);
    out.gauge("system.io.r_await", per(read_ms, reads), tags);
    out.gauge("system.io.w_await", per(write_ms, writes), tags);
    out.gauge("system.io.await", per(read_ms + write_ms, ios), tags);
    out.gauge(
        "system.io.avg_rq_sz",
        per((read_kib + written_kib) * 2.0, ios),
        tags,
    );
    out.gauge("system.io.svctm", per(busy_ms, ios), tags);
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n\
        254 0 vda 100 10 800 50 200 20 1600 150 0 120 200 0 0 0 0\n";
    const AFTER: &str = "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n\
        254 0 vda 110 10 880 60 230 20 1840 240 0 160 300 0 0 0 0\n";

    fn value(out: &Output, name: &str) -> f64 {
        out.samples().iter().find(|s| s.name == name).unwrap().value
    }

    #[test]
    fn parses_devices() {
        let disks = parse(BEFORE);
        assert_eq!(disks.len(), 2);
        assert_eq!(disks[1].name, "vda");
        assert_eq!(disks[1].sectors_written, 1600.0);
        assert_eq!(disks[1].weighted_ms, 200.0);
    }

    #[test]
    fn latencies_from_deltas_and_loop_devices_skipped() {
        let (before, after) = (parse(BEFORE), parse(AFTER));
        let mut out = Output::new(0);
        emit(
            &after,
            Some((&before, 0)),
            1000,
            &crate::Instance::default(),
            &mut out,
        );
        assert!(
            out.samples()
                .iter()
                .all(|s| s.tags == ["device:vda", "device_name:vda"])
        );
        // 40 I/Os took 10 + 90 ms.
        assert_eq!(value(&out, "system.io.await"), 2.5);
        assert_eq!(value(&out, "system.io.r_await"), 1.0);
        assert_eq!(value(&out, "system.io.w_await"), 3.0);
        assert_eq!(value(&out, "system.io.avg_rq_sz"), 8.0);
        // 240 sectors in one second.
        assert_eq!(value(&out, "system.io.wkb_s"), 120.0);
        // 40 ms busy of 1000.
        assert_eq!(value(&out, "system.io.util"), 4.0);
        assert_eq!(value(&out, "system.disk.write_time"), 240.0);
    }
}
