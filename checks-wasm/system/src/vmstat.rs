//! Paging and swapping from /proc/vmstat, as Datadog's Go checks read it through gopsutil:
//! pages counted in 4 KiB units, swap in MiB, paging in bytes.

use wasmon_sdk::Output;

/// The counters used.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct VmStat {
    pub pgpgin: f64,
    pub pgpgout: f64,
    pub pswpin: f64,
    pub pswpout: f64,
}

/// Parses /proc/vmstat (`name value` lines).
pub fn parse(text: &str) -> VmStat {
    let mut v = VmStat::default();
    for line in text.lines() {
        let Some((name, value)) = line.split_once(' ') else {
            continue;
        };
        let Ok(value) = value.trim().parse() else {
            continue;
        };
        match name {
            "pgpgin" => v.pgpgin = value,
            "pgpgout" => v.pgpgout = value,
            "pswpin" => v.pswpin = value,
            "pswpout" => v.pswpout = value,
            _ => {}
        }
    }
    v
}

/// gopsutil's page: 4 KiB, whatever the machine's page size.
const PAGE: f64 = 4096.0;

/// Emits `system.swap.swap_{in,out}` (MiB/s) and `system.io.block_{in,out}` (bytes/s) rates.
pub fn emit(v: &VmStat, out: &mut Output) {
    let mib = 1024.0 * 1024.0;
    out.rate("system.swap.swap_in", v.pswpin * PAGE / mib, &[]);
    out.rate("system.swap.swap_out", v.pswpout * PAGE / mib, &[]);
    out.rate("system.io.block_in", v.pgpgin * PAGE, &[]);
    out.rate("system.io.block_out", v.pgpgout * PAGE, &[]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_four_counters() {
        let v = parse("nr_free_pages 100\npgpgin 3150921\npgpgout 42\npswpin 256\npswpout 0\n");
        assert_eq!(v.pgpgin, 3150921.0);
        let mut out = Output::new(0);
        emit(&v, &mut out);
        assert_eq!(out.samples()[0].value, 1.0, "256 pages of 4 KiB are 1 MiB");
        assert_eq!(out.samples()[3].value, 42.0 * 4096.0);
    }
}
