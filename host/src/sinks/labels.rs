//! Tags as label pairs, and names as the label-based backends accept them.

use crate::model::Series;

/// `key:value` as `(key, value)`; a bare tag `x` as `(x, "true")`.
pub fn split_tag(tag: &str) -> (&str, &str) {
    tag.split_once(':').unwrap_or((tag, "true"))
}

/// `name` with every character outside `allowed` replaced by `_`.
pub fn sanitize(name: &str, allowed: impl Fn(char) -> bool) -> String {
    name.chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .collect()
}

/// A Prometheus metric or label name: `[a-zA-Z_:][a-zA-Z0-9_:]*` (dots and dashes become `_`).
pub fn prometheus_name(name: &str) -> String {
    let mut out = sanitize(name, |c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Characters OpenTSDB allows in names, tag keys and tag values.
pub fn opentsdb_char(c: char) -> bool {
    c.is_alphanumeric() || "-_./".contains(c)
}

/// The series' tags as sorted, de-duplicated pairs, keys made valid by `key`.
pub fn pairs(series: &Series, key: impl Fn(&str) -> String) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = series
        .tags
        .iter()
        .map(|t| {
            let (k, v) = split_tag(t);
            (key(k), v.to_string())
        })
        .collect();
    pairs.sort();
    pairs.dedup_by(|a, b| a.0 == b.0);
    pairs
}

/// A series as Prometheus names it: its metric name, and its tags as labels sorted by name.
pub fn prometheus_series(s: &Series) -> (String, Vec<(String, String)>) {
    (prometheus_name(&s.name), pairs(s, prometheus_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tags() {
        assert_eq!(split_tag("env:prod"), ("env", "prod"));
        assert_eq!(split_tag("url:http://x"), ("url", "http://x"));
        assert_eq!(split_tag("canary"), ("canary", "true"));
        assert_eq!(prometheus_name("system.cpu.user-x"), "system_cpu_user_x");
        assert_eq!(prometheus_name("9lives"), "_9lives");
        assert_eq!(sanitize("a b:c", opentsdb_char), "a_b_c");
    }
}
