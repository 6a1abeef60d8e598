//! `tcollector`: lines `metric timestamp value key=value ...`, validated as tcollector does:
//! name and tag characters, line length, a numeric value, and timestamps that never go back
//! for a series. Each line's own timestamp is what its series carries.

use std::collections::HashMap;

use wasmon_sdk::MetricKind;

use super::{Parsed, Point, number};

/// tcollector refuses lines this long or longer.
const MAX_LINE: usize = 1024;

/// Keeps the last timestamp of every series to refuse ones that go backwards.
#[derive(Debug, Default)]
pub struct Tcollector {
    last: HashMap<String, u64>,
}

fn name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
}

impl Tcollector {
    /// Parses the output.
    pub fn parse(&mut self, output: &str) -> Parsed {
        let mut parsed = Parsed::default();
        for line in output.lines().filter(|l| !l.trim().is_empty()) {
            match self.parse_line(line) {
                Ok(point) => parsed.points.push(point),
                Err(reason) => parsed.invalid(line, reason),
            }
        }
        parsed
    }

    fn parse_line(&mut self, line: &str) -> Result<Point, String> {
        if line.len() >= MAX_LINE {
            return Err(format!(
                "line of {} bytes, tcollector's limit is {MAX_LINE}",
                line.len()
            ));
        }
        let mut fields = line.split_whitespace();
        let (Some(name), Some(ts), Some(value)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err("expected `metric timestamp value [key=value ...]`".into());
        };
        if !name_ok(name) {
            return Err(format!(
                "metric name {name:?} has characters outside [-_./a-zA-Z0-9]"
            ));
        }
        let ts: u64 = ts
            .parse()
            .map_err(|_| format!("timestamp {ts:?} is not a whole number"))?;
        let value = number(value)?;
        let mut tags = Vec::new();
        for tag in fields {
            match tag.split_once('=') {
                Some((k, v)) if name_ok(k) && name_ok(v) => tags.push(format!("{k}:{v}")),
                _ => return Err(format!("tag {tag:?} is not key=value of [-_./a-zA-Z0-9]")),
            }
        }
        tags.sort();
        let key = format!("{name} {}", tags.join(" "));
        // Seconds and milliseconds both occur; compare in milliseconds.
        let ts_ms = if ts < 10_000_000_000 { ts * 1000 } else { ts };
        match self.last.get(&key) {
            Some(&last) if ts_ms < last => {
                return Err(format!("timestamp {ts} goes back in time for this series"));
            }
            _ => self.last.insert(key, ts_ms),
        };
        Ok(Point {
            name: name.into(),
            kind: MetricKind::Gauge,
            value,
            tags,
            timestamp_ms: i64::try_from(ts_ms).ok(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_lines_become_gauges_with_tags() {
        let mut t = Tcollector::default();
        let p = t.parse("proc.loadavg.1m 1700000000 0.42 host=a role=db\nsys.x 1700000000123 7\n");
        assert!(p.invalid.is_empty(), "{:?}", p.invalid);
        assert_eq!(p.points[0].name, "proc.loadavg.1m");
        assert_eq!(p.points[0].tags, ["host:a", "role:db"]);
        assert_eq!(p.points[1].value, 7.0);
        assert_eq!(p.points[0].timestamp_ms, Some(1_700_000_000_000), "seconds");
        assert_eq!(
            p.points[1].timestamp_ms,
            Some(1_700_000_000_123),
            "milliseconds"
        );
    }

    #[test]
    fn invalid_lines_are_refused_with_a_reason() {
        let mut t = Tcollector::default();
        let long = format!("a.b 1 1 k={}", "v".repeat(1100));
        let out = format!("bad name 1 1\nm 12x 1\nm 1 one\nm 1 1 k\nm 1 1 k=v!\nshort\n{long}\n");
        let p = t.parse(&out);
        assert!(p.points.is_empty());
        assert_eq!(p.invalid.len(), 7, "{:?}", p.invalid);
        assert!(p.invalid[6].reason.contains("limit is 1024"));
    }

    #[test]
    fn timestamps_may_not_go_back() {
        let mut t = Tcollector::default();
        assert_eq!(t.parse("m 100 1 a=1\nm 100 1 a=2\n").points.len(), 2);
        let p = t.parse("m 99 1 a=1\nm 101 1 a=2\n");
        assert_eq!(p.points.len(), 1);
        assert!(p.invalid[0].reason.contains("goes back"));
    }
}
