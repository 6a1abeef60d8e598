//! Connection tracking limits and use from /proc/sys/net/netfilter/nf_conntrack_*, as
//! Datadog's network check sends them by default: every file whose name holds `max` or
//! `count`, as `system.net.conntrack.<name>`.

use wasmon_sdk::{Output, files};

/// The files' pattern; absent when the conntrack module is not loaded.
pub const PATTERN: &str = "/proc/sys/net/netfilter/nf_conntrack_*";

/// `(name, value)` of each reported setting, e.g. `("max", 262144.0)`.
pub fn read() -> Vec<(String, f64)> {
    let Ok(found) = files::read_matching(PATTERN, 32) else {
        return Vec::new();
    };
    let mut settings: Vec<(String, f64)> = found
        .iter()
        .filter_map(|f| {
            let name = f.path.rsplit('/').next()?.strip_prefix("nf_conntrack_")?;
            (name.contains("max") || name.contains("count")).then_some(())?;
            let value = std::str::from_utf8(&f.content).ok()?.trim().parse().ok()?;
            Some((name.to_string(), value))
        })
        .collect();
    settings.sort_by(|a, b| a.0.cmp(&b.0));
    settings
}

/// Emits `system.net.conntrack.*` gauges.
pub fn emit(settings: &[(String, f64)], out: &mut Output) {
    for (name, value) in settings {
        out.gauge(&format!("system.net.conntrack.{name}"), *value, &[]);
    }
}
