//! The previous value of every cumulative counter of an instance.

use rustc_hash::FxHashMap;

use crate::model::Sample;

/// Runs a counter may go unseen before it is forgotten.
const STALE_AFTER_RUNS: u64 = 10;

#[derive(Debug, Clone, Copy)]
struct Last {
    value: f64,
    timestamp_ms: i64,
    run: u64,
}

/// The change of a counter since its previous run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delta {
    /// How much it grew.
    pub increase: f64,
    /// Over how many milliseconds.
    pub elapsed_ms: i64,
}

impl Delta {
    /// The increase per second; `None` when no time passed.
    pub fn per_second(&self) -> Option<f64> {
        (self.elapsed_ms > 0).then(|| self.increase * 1000.0 / self.elapsed_ms as f64)
    }
}

/// Previous values by series key (name and sorted tags).
#[derive(Debug, Default)]
pub struct Counters {
    last: FxHashMap<String, Last>,
    run: u64,
    /// Reused to build keys, so a known series costs no allocation.
    key: String,
}

impl Counters {
    /// Records `sample` (tags sorted) and returns its change since the previous run: `None` on
    /// the first sight and when the counter went backwards.
    pub fn delta(&mut self, sample: &Sample, timestamp_ms: i64) -> Option<Delta> {
        let now = Last {
            value: sample.value,
            timestamp_ms,
            run: self.run,
        };
        write_key(&mut self.key, sample);
        let before = match self.last.get_mut(self.key.as_str()) {
            Some(slot) => std::mem::replace(slot, now),
            None => {
                self.last.insert(self.key.clone(), now);
                return None;
            }
        };
        let increase = sample.value - before.value;
        (increase >= 0.0).then_some(Delta {
            increase,
            elapsed_ms: timestamp_ms - before.timestamp_ms,
        })
    }

    /// Ends a run, forgetting counters not seen for a while (series that went away).
    pub fn end_run(&mut self) {
        self.run += 1;
        if self.run.is_multiple_of(STALE_AFTER_RUNS) {
            let run = self.run;
            self.last.retain(|_, l| run - l.run <= STALE_AFTER_RUNS);
        }
    }
}

/// The series key: the name and the sorted tags, separated by a character tags never hold.
fn write_key(key: &mut String, sample: &Sample) {
    key.clear();
    key.push_str(&sample.name);
    for tag in &sample.tags {
        key.push('\u{1f}');
        key.push_str(tag);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Counters {
        fn len(&self) -> usize {
            self.last.len()
        }
    }
    use crate::model::MetricKind;

    #[test]
    fn vanished_series_are_forgotten() {
        let mut c = Counters::default();
        let s = |name: &str| Sample {
            name: name.into(),
            kind: MetricKind::Rate,
            value: 1.0,
            tags: vec![],
            timestamp_ms: None,
        };
        c.delta(&s("gone"), 0);
        for run in 1..=25 {
            c.delta(&s("kept"), run * 1000);
            c.end_run();
        }
        assert_eq!(c.len(), 1);
    }
}
