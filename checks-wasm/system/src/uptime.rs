//! Seconds since boot from /proc/uptime.

use wasmon_sdk::Output;

/// Parses the first field of /proc/uptime.
pub fn parse(text: &str) -> Result<f64, String> {
    text.split_ascii_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("expected seconds, got {text:?}"))
}

/// Emits `system.uptime`.
pub fn emit(seconds: f64, out: &mut Output) {
    out.gauge("system.uptime", seconds, &[]);
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_seconds() {
        assert_eq!(super::parse("350735.47 234388.90\n"), Ok(350735.47));
        assert!(super::parse("").is_err());
    }
}
