//! Turns an instance's samples into series: rates and increases from cumulative counters,
//! and the host, global and instance tags on everything.

pub mod agent_sketch;
mod counters;
pub mod window;

use counters::Counters;

use crate::model::{MetricKind, Payload, Sample, Series, SeriesKind, ServiceCheck};

/// The aggregation state of one check instance.
#[derive(Debug)]
pub struct Aggregator {
    tags: Vec<String>,
    counters: Counters,
}

impl Aggregator {
    /// An aggregator adding `tags` (host, global and instance tags, in that order) to every
    /// series. Of several `host:` tags the last wins: an instance tagged `host:db-3` reports
    /// for that host, as in Datadog.
    pub fn new(mut tags: Vec<String>) -> Self {
        one_host(&mut tags);
        tags.sort_unstable();
        tags.dedup();
        Self {
            tags,
            counters: Counters::default(),
        }
    }

    /// Series for one run at `timestamp_ms`. Counters yield nothing on their first run and
    /// nothing when they went backwards (a reset).
    pub fn series(&mut self, timestamp_ms: i64, samples: Vec<Sample>) -> Vec<Series> {
        let out = self.timestamped(samples.into_iter().map(|s| (s, timestamp_ms)));
        self.counters.end_run();
        out
    }

    /// Series for samples that carry their own times (pushed points); the caller ends runs
    /// with [`end_run`](Self::end_run).
    pub fn timestamped(
        &mut self,
        samples: impl ExactSizeIterator<Item = (Sample, i64)>,
    ) -> Vec<Series> {
        let mut out = Vec::with_capacity(samples.len());
        for (mut sample, timestamp_ms) in samples {
            let has_host = one_host(&mut sample.tags);
            sample.tags.sort_unstable();
            sample.tags.dedup();
            let (kind, value) = match sample.kind {
                MetricKind::Gauge => (SeriesKind::Gauge, Some(sample.value)),
                MetricKind::Count => (SeriesKind::Count, Some(sample.value)),
                MetricKind::Rate => {
                    let delta = self.counters.delta(&sample, timestamp_ms);
                    (SeriesKind::Rate, delta.and_then(|d| d.per_second()))
                }
                MetricKind::MonotonicCount => {
                    let delta = self.counters.delta(&sample, timestamp_ms);
                    (SeriesKind::Count, delta.map(|d| d.increase))
                }
            };
            if let Some(value) = value {
                out.push(Series {
                    name: sample.name,
                    kind,
                    value,
                    timestamp_ms,
                    tags: self.with_tags(sample.tags, has_host),
                });
            }
        }
        out
    }

    /// Ends a run: counters unseen for a while are forgotten.
    pub fn end_run(&mut self) {
        self.counters.end_run();
    }

    /// `tags` with this aggregator's added: sorted, without repeats, and with one `host:` (a
    /// `host:` of `tags` wins).
    pub fn tags(&self, mut tags: Vec<String>) -> Vec<String> {
        let has_host = one_host(&mut tags);
        tags.sort_unstable();
        tags.dedup();
        self.with_tags(tags, has_host)
    }

    /// A service check with this instance's tags added.
    pub fn service_check(&self, mut check: ServiceCheck) -> ServiceCheck {
        check.tags = self.tags(std::mem::take(&mut check.tags));
        check
    }

    /// One run's payload.
    pub fn payload(
        &mut self,
        timestamp_ms: i64,
        samples: Vec<Sample>,
        service_checks: Vec<ServiceCheck>,
    ) -> Payload {
        Payload {
            series: self.series(timestamp_ms, samples),
            service_checks: service_checks
                .into_iter()
                .map(|c| self.service_check(c))
                .collect(),
            ..Payload::default()
        }
    }

    /// Merges sorted `tags` with the aggregator's own (also sorted), without duplicates. A
    /// `host:` tag of the sample's replaces the instance's: the series belongs to that host.
    fn with_tags(&self, tags: Vec<String>, own_host: bool) -> Vec<String> {
        let mut merged = Vec::with_capacity(tags.len() + self.tags.len());
        let mut own = self
            .tags
            .iter()
            .filter(|t| !(own_host && is_host(t)))
            .peekable();
        for tag in tags {
            while let Some(o) = own.next_if(|o| **o < tag) {
                merged.push(o.clone());
            }
            own.next_if(|o| **o == tag);
            merged.push(tag);
        }
        merged.extend(own.cloned());
        merged
    }
}

fn is_host(tag: &str) -> bool {
    tag.starts_with("host:")
}

/// Keeps only the last `host:` tag of `tags`; whether there is one.
fn one_host(tags: &mut Vec<String>) -> bool {
    let Some(last) = tags.iter().rposition(|t| is_host(t)) else {
        return false;
    };
    if tags[..last].iter().any(|t| is_host(t)) {
        let mut i = 0;
        tags.retain(|t| {
            i += 1;
            i - 1 == last || !is_host(t)
        });
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(name: &str, kind: MetricKind, value: f64, tags: &[&str]) -> Sample {
        Sample {
            name: name.into(),
            kind,
            value,
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn agg() -> Aggregator {
        Aggregator::new(vec!["host:h1".into(), "env:test".into()])
    }

    #[test]
    fn a_series_has_exactly_one_host() {
        let mut a = Aggregator::new(vec!["host:agent".into(), "host:db-3".into(), "x:1".into()]);
        let out = a.series(
            1000,
            vec![
                s("mine", MetricKind::Gauge, 1.0, &[]),
                s("forged", MetricKind::Gauge, 1.0, &["host:a", "host:forged"]),
            ],
        );
        assert_eq!(out[0].tags, ["host:db-3", "x:1"]);
        assert_eq!(out[1].tags, ["host:forged", "x:1"]);
    }

    #[test]
    fn gauges_and_counts_pass_through_with_all_tags() {
        let mut a = agg();
        let out = a.series(
            1000,
            vec![
                s("g", MetricKind::Gauge, 1.5, &["z:1", "a:2"]),
                s("c", MetricKind::Count, 3.0, &[]),
            ],
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].tags, ["a:2", "env:test", "host:h1", "z:1"]);
        assert_eq!(
            (out[0].kind, out[0].value, out[0].timestamp_ms),
            (SeriesKind::Gauge, 1.5, 1000)
        );
        assert_eq!((out[1].kind, out[1].value), (SeriesKind::Count, 3.0));
        let dup = a.series(
            1000,
            vec![s(
                "g",
                MetricKind::Gauge,
                1.0,
                &["host:h1", "zz", "env:test", "zz"],
            )],
        );
        assert_eq!(
            dup[0].tags,
            ["env:test", "host:h1", "zz"],
            "duplicates of any origin go"
        );
    }

    #[test]
    fn rate_is_per_second_change_and_skips_first_run_and_resets() {
        let mut a = agg();
        let r = |v| vec![s("r", MetricKind::Rate, v, &["d:x"])];
        assert!(a.series(10_000, r(100.0)).is_empty());
        let out = a.series(12_000, r(150.0));
        assert_eq!(out[0].value, 25.0);
        assert_eq!(out[0].kind, SeriesKind::Rate);
        assert!(a.series(14_000, r(20.0)).is_empty(), "a reset is dropped");
        assert_eq!(
            a.series(15_000, r(30.0))[0].value,
            10.0,
            "the reset value is the new base"
        );
    }

    #[test]
    fn monotonic_count_is_the_increase() {
        let mut a = agg();
        let m = |v| vec![s("m", MetricKind::MonotonicCount, v, &[])];
        assert!(a.series(1_000, m(5.0)).is_empty());
        let out = a.series(2_000, m(12.0));
        assert_eq!((out[0].kind, out[0].value), (SeriesKind::Count, 7.0));
        assert!(a.series(3_000, m(1.0)).is_empty());
        assert_eq!(a.series(4_000, m(4.0))[0].value, 3.0);
    }

    #[test]
    fn series_are_keyed_by_name_and_tags() {
        let mut a = agg();
        a.series(
            1_000,
            vec![
                s("r", MetricKind::Rate, 1.0, &["d:a"]),
                s("r", MetricKind::Rate, 100.0, &["d:b"]),
            ],
        );
        let out = a.series(
            2_000,
            vec![
                s("r", MetricKind::Rate, 3.0, &["d:a"]),
                s("r", MetricKind::Rate, 101.0, &["d:b"]),
            ],
        );
        let values: Vec<f64> = out.iter().map(|s| s.value).collect();
        assert_eq!(values, [2.0, 1.0]);
    }

    #[test]
    fn service_checks_get_instance_tags() {
        let a = agg();
        let c = a.service_check(ServiceCheck {
            name: "x".into(),
            status: crate::model::Status::Ok,
            message: String::new(),
            tags: vec!["k:v".into()],
            timestamp_ms: 5,
        });
        assert_eq!(c.tags, ["env:test", "host:h1", "k:v"]);
    }
}
