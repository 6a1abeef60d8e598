//! Prometheus' text exposition format: every series a gauge, without timestamps so that
//! Prometheus stamps its scrape.

use std::fmt::Write;

use super::Values;

/// The exposition of `latest`.
pub fn render(latest: &Values) -> String {
    let mut out = String::new();
    for (name, series) in latest {
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (labels, value) in series {
            out.push_str(name);
            if !labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let v = v
                        .replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\n', "\\n");
                    let _ = write!(out, "{k}=\"{v}\"");
                }
                out.push('}');
            }
            let _ = writeln!(out, " {value:?}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn text_exposition_escapes_label_values() {
        let mut latest = BTreeMap::new();
        latest.insert(
            "disk_free".to_string(),
            BTreeMap::from([(vec![("mount".to_string(), "/a \"b\"\\".to_string())], 1.5)]),
        );
        assert_eq!(
            render(&latest),
            "# TYPE disk_free gauge\ndisk_free{mount=\"/a \\\"b\\\"\\\\\"} 1.5\n"
        );
    }
}
