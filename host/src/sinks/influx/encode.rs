//! InfluxDB line protocol: `name,tag=value value=1.5 1700000000000` (millisecond precision),
//! one field named `value` per series.

use std::fmt::Write;

use crate::model::Series;
use crate::sinks::labels::pairs;

/// Escapes commas, spaces and equals signs in names, tag keys and tag values.
fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        if matches!(c, ',' | ' ' | '=' | '\\') {
            out.push('\\');
        }
        if c == '\n' {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
}

/// Line-protocol text for `series`.
pub fn encode(series: &[Series]) -> String {
    let mut out = String::with_capacity(series.len() * 80);
    for s in series {
        escape(&s.name, &mut out);
        for (k, v) in pairs(s, str::to_string) {
            if v.is_empty() {
                continue;
            }
            out.push(',');
            escape(&k, &mut out);
            out.push('=');
            escape(&v, &mut out);
        }
        let _ = writeln!(out, " value={:?} {}", s.value, s.timestamp_ms);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SeriesKind;

    #[test]
    fn escapes_and_sorts_tags() {
        let s = Series {
            name: "disk.free".into(),
            kind: SeriesKind::Gauge,
            value: 2.0,
            timestamp_ms: 1_700_000_000_000,
            tags: vec!["mount:/a b".into(), "host:h".into(), "k:v=w,x".into()],
        };
        assert_eq!(
            encode(&[s]),
            "disk.free,host=h,k=v\\=w\\,x,mount=/a\\ b value=2.0 1700000000000\n"
        );
    }
}
