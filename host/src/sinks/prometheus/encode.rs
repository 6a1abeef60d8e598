//! Prometheus' text exposition format: every series a gauge, without timestamps so that
//! Prometheus stamps its scrape.

use std::fmt::Write;

/// A series' labels as written after its name: `{key="value",...}`, or nothing.
pub fn labels(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (key, value)) in pairs.iter().enumerate() {
        out.push(if i == 0 { '{' } else { ',' });
        out.push_str(key);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    if !out.is_empty() {
        out.push('}');
    }
    out
}

/// The line that opens a family.
pub fn family(out: &mut String, name: &str) {
    let _ = writeln!(out, "# TYPE {name} gauge");
}

/// One series' line.
pub fn line(out: &mut String, name: &str, labels: &str, value: f64) {
    let _ = writeln!(out, "{name}{labels} {value:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let pairs = [("mount".to_string(), "/a \"b\"\\\n".to_string())];
        assert_eq!(labels(&pairs), "{mount=\"/a \\\"b\\\"\\\\\\n\"}");
        assert_eq!(labels(&[]), "");
        let mut out = String::new();
        family(&mut out, "disk_free");
        line(&mut out, "disk_free", &labels(&pairs[..1]), 1.5);
        assert_eq!(
            out,
            "# TYPE disk_free gauge\ndisk_free{mount=\"/a \\\"b\\\"\\\\\\n\"} 1.5\n"
        );
    }
}
