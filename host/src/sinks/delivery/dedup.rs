//! tcollector's dedup: a series whose value has not changed is held back for up to the
//! interval; the held point is sent just before a change (so a graph draws the flat line up to
//! the change), and at least one point goes out every interval.

use std::collections::HashMap;

use crate::model::Series;

struct Last {
    value: f64,
    sent_ms: i64,
    held: Option<Series>,
}

/// Dedup state of one sink.
pub struct Dedup {
    interval_ms: i64,
    last: HashMap<(String, Vec<String>), Last>,
}

impl Dedup {
    /// Holds unchanged values for up to `interval_ms`.
    pub fn new(interval_ms: i64) -> Self {
        Self {
            interval_ms,
            last: HashMap::new(),
        }
    }

    /// The points of `series` to send now.
    pub fn filter(&mut self, series: &[Series], out: &mut Vec<Series>) {
        for s in series {
            let key = (s.name.clone(), s.tags.clone());
            match self.last.get_mut(&key) {
                Some(last)
                    if last.value == s.value
                        && s.timestamp_ms - last.sent_ms < self.interval_ms =>
                {
                    last.held = Some(s.clone());
                }
                Some(last) => {
                    if let Some(held) = last.held.take()
                        && last.value != s.value
                    {
                        out.push(held);
                    }
                    last.value = s.value;
                    last.sent_ms = s.timestamp_ms;
                    out.push(s.clone());
                }
                None => {
                    self.last.insert(
                        key,
                        Last {
                            value: s.value,
                            sent_ms: s.timestamp_ms,
                            held: None,
                        },
                    );
                    out.push(s.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SeriesKind;

    fn point(ts: i64, value: f64) -> Series {
        Series {
            name: "m".into(),
            kind: SeriesKind::Gauge,
            value,
            timestamp_ms: ts,
            tags: vec!["host:h".into()],
        }
    }

    #[test]
    fn unchanged_values_are_held_and_the_last_sent_before_a_change() {
        let mut dedup = Dedup::new(10_000);
        let mut out = Vec::new();
        for (ts, v) in [
            (0, 1.0),
            (1000, 1.0),
            (2000, 1.0),
            (3000, 2.0),
            (4000, 2.0),
            (14_000, 2.0),
        ] {
            dedup.filter(&[point(ts, v)], &mut out);
        }
        let sent: Vec<(i64, f64)> = out.iter().map(|s| (s.timestamp_ms, s.value)).collect();
        // 0: first; 2000: the held point before the change; 3000: the change; 14000: the
        // interval since 3000 has passed.
        assert_eq!(sent, [(0, 1.0), (2000, 1.0), (3000, 2.0), (14_000, 2.0)]);
    }
}
