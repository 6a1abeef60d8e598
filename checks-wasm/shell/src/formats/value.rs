//! `value`: each line is a number, optionally followed by `key:value` tags (whitespace or
//! comma separated), and becomes a gauge named `metric_name` — the original ant-agent shell
//! plugin's format.

use wasmon_sdk::MetricKind;

use super::{Parsed, Point, number};

/// Parses the output.
pub fn parse(output: &str, metric_name: &str) -> Parsed {
    let mut parsed = Parsed::default();
    for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut fields = line
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|f| !f.is_empty());
        let Some(first) = fields.next() else { continue };
        let value = match number(first) {
            Ok(v) => v,
            Err(reason) => {
                parsed.invalid(line, reason);
                continue;
            }
        };
        let tags: Vec<String> = fields.map(str::to_string).collect();
        if let Some(bad) = tags.iter().find(|t| {
            t.split_once(':')
                .is_none_or(|(k, v)| k.is_empty() || v.is_empty())
        }) {
            parsed.invalid(line, format!("tag {bad:?} is not key:value"));
            continue;
        }
        parsed.points.push(Point {
            name: metric_name.into(),
            kind: MetricKind::Gauge,
            value,
            tags,
            timestamp_ms: None,
        });
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_with_optional_tags() {
        let p = parse(
            "42\n3.5 level:error file:/var/log/x\n\n7,k:v\nNaN\nabc\n1 notatag\n",
            "log.errors",
        );
        let values: Vec<f64> = p.points.iter().map(|p| p.value).collect();
        assert_eq!(values, [42.0, 3.5, 7.0]);
        assert_eq!(p.points[1].tags, ["level:error", "file:/var/log/x"]);
        assert_eq!(p.points[2].tags, ["k:v"]);
        assert!(
            p.points
                .iter()
                .all(|p| p.name == "log.errors" && p.kind == MetricKind::Gauge)
        );
        let reasons: Vec<&str> = p.invalid.iter().map(|i| i.line.as_str()).collect();
        assert_eq!(reasons, ["NaN", "abc", "1 notatag"]);
    }
}
