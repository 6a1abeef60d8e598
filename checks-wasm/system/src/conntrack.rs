//! Connection tracking limits and use from /proc/sys/net/netfilter/nf_conntrack_*, as
//! Datadog's network check sends them by default: every file whose name holds `max` or
//! `count`, as `system.net.conntrack.<name>`.

use wasmon_sdk::Output;

use crate::listed::Listed;

/// The files' patterns, one per word a reported name holds; absent when the conntrack module
/// is not loaded. Only these are read: the folder holds some forty settings.
pub const PATTERNS: [&str; 2] = [
    "/proc/sys/net/netfilter/nf_conntrack_*max*",
    "/proc/sys/net/netfilter/nf_conntrack_*count*",
];

/// `(name, value)` of each reported setting, e.g. `("max", 262144.0)`; the folder is listed
/// as `listed` says.
pub fn read(listed: &mut Listed, now_ms: i64) -> Vec<(String, f64)> {
    let mut settings: Vec<(String, f64)> = (listed.read(&PATTERNS, 32, now_ms, 0).into_iter())
        .filter_map(|(path, content)| {
            let name = path.rsplit('/').next()?.strip_prefix("nf_conntrack_")?;
            let value = std::str::from_utf8(&content).ok()?.trim().parse().ok()?;
            Some((name.to_string(), value))
        })
        .collect();
    settings.sort_by(|a, b| a.0.cmp(&b.0));
    settings.dedup_by(|a, b| a.0 == b.0);
    settings
}

/// Emits `system.net.conntrack.*` gauges.
pub fn emit(settings: &[(String, f64)], out: &mut Output) {
    for (name, value) in settings {
        out.gauge(&format!("system.net.conntrack.{name}"), *value, &[]);
    }
}

#[cfg(test)]
mod tests {
    use wasmon_sdk::testing::files;

    #[test]
    fn only_the_limits_and_counts_are_read_once_each() {
        let dir = "/proc/sys/net/netfilter";
        for (name, value) in [
            ("max", "262144"),
            ("count", "12"),
            ("expect_max", "4096"),
            ("buckets", "65536"),
            ("tcp_timeout_established", "432000"),
        ] {
            files::put(&format!("{dir}/nf_conntrack_{name}"), format!("{value}\n"));
        }
        assert_eq!(
            super::read(&mut Default::default(), 0),
            [
                ("count".to_string(), 12.0),
                ("expect_max".to_string(), 4096.0),
                ("max".to_string(), 262144.0),
            ]
        );
    }
}
