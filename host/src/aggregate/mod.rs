//! Turns a producer's samples into series: rates and increases from cumulative counters,
//! summaries of each run's histograms, distributions and sets, and the host, global and
//! instance tags on everything.

pub mod agent_sketch;
mod counters;
mod stage;
pub mod window;

use counters::Counters;
pub use stage::{Producer, Stage};
use window::{Aggregation, Observed, Window, WindowConfig};

use crate::model::{Event, MetricKind, Payload, Sample, Series, SeriesKind, ServiceCheck};

/// The aggregation state of one check instance.
pub struct Aggregator {
    tags: Vec<String>,
    counters: Counters,
    /// The run's histograms, distributions and sets, summarised when the run ends.
    window: Option<Box<Window>>,
}

impl Aggregator {
    /// An aggregator adding `tags` (host, global and instance tags, in that order) to every
    /// series. Of several `host:` tags the last wins: an instance tagged `host:db-3` reports
    /// for that host, as in Datadog.
    pub fn new(tags: Vec<String>) -> Self {
        let mut aggregator = Self {
            tags: Vec::new(),
            counters: Counters::default(),
            window: None,
        };
        aggregator.retag(tags);
        aggregator
    }

    /// Adds `tags` (host, global and instance tags, in that order) instead from now on.
    pub fn retag(&mut self, mut tags: Vec<String>) {
        one_host(&mut tags);
        tags.sort_unstable();
        tags.dedup();
        self.tags = tags;
        // The run's window tags with what it was made with: the next run makes a new one.
        self.window = None;
    }

    /// Series for one run at `timestamp_ms` (a sample's own time wins). Counters yield nothing
    /// on their first run and nothing when they went backwards (a reset). Histogram,
    /// distribution and set samples wait in the run's window until [`Self::payload`].
    fn series(&mut self, timestamp_ms: i64, samples: Vec<Sample>) -> Vec<Series> {
        let out = self.timestamped(samples.into_iter().map(|s| {
            let at = s.timestamp_ms.unwrap_or(timestamp_ms);
            (s, at)
        }));
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
                MetricKind::Histogram | MetricKind::Distribution | MetricKind::Set => {
                    self.summarise(&sample, timestamp_ms);
                    continue;
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

    /// Adds a histogram, distribution or set sample to the run's window, which holds no more
    /// than the run submitted (a set's members past [`window::MAX_SET_MEMBERS`] excepted, as
    /// the WIT says).
    fn summarise(&mut self, sample: &Sample, timestamp_ms: i64) {
        let window = self.window.get_or_insert_with(|| {
            Box::new(Window::new(WindowConfig::per_run(), self.tags.clone()))
        });
        let tags = sample.tags.iter().map(String::as_str);
        let mut numbers = |aggregation| {
            let observed = Observed::Numbers(std::iter::once(sample.value), 1.0);
            window.add(
                &sample.name,
                aggregation,
                tags.clone(),
                observed,
                timestamp_ms,
            )
        };
        // The only possible refusal is a set's member past its limit, which the WIT documents.
        let _ = match sample.kind {
            MetricKind::Histogram => numbers(Aggregation::Summary),
            MetricKind::Distribution => numbers(Aggregation::Distribution),
            _ => {
                let member = sample.value.to_string();
                let observed = Observed::<std::iter::Empty<f64>>::Member(&member);
                window.add(
                    &sample.name,
                    Aggregation::Set,
                    tags.clone(),
                    observed,
                    timestamp_ms,
                )
            }
        };
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

    /// One run's payload: its series (with the summaries of its histograms, distributions
    /// and sets), its distributions' sketches, service checks and events.
    pub fn payload(
        &mut self,
        timestamp_ms: i64,
        samples: Vec<Sample>,
        service_checks: Vec<ServiceCheck>,
        events: Vec<Event>,
    ) -> Payload {
        let mut series = self.series(timestamp_ms, samples);
        let mut sketches = Vec::new();
        if let Some(window) = self.window.as_mut().filter(|w| w.contexts() > 0) {
            let summaries = window.flush(timestamp_ms);
            series.extend(summaries.series);
            sketches = summaries.sketches;
        }
        Payload {
            series,
            service_checks: service_checks
                .into_iter()
                .map(|c| self.service_check(c))
                .collect(),
            events: events
                .into_iter()
                .map(|mut e| {
                    e.tags = self.tags(std::mem::take(&mut e.tags));
                    e
                })
                .collect(),
            sketches,
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
            timestamp_ms: None,
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
    fn a_runs_histograms_distributions_and_sets_are_summarised_then_forgotten() {
        let mut a = agg();
        let mut run = Vec::new();
        for v in 1..=100 {
            run.push(s("h", MetricKind::Histogram, f64::from(v), &["k:1"]));
            run.push(s("d", MetricKind::Distribution, f64::from(v), &[]));
        }
        for member in [1.0, 2.0, 2.0, 3.0] {
            run.push(s("set", MetricKind::Set, member, &[]));
        }
        let p = a.payload(5_000, run, Vec::new(), Vec::new());
        let all: Vec<Series> = p.all_series().collect();
        let value = |name: &str| {
            let found: Vec<_> = all.iter().filter(|s| s.name == name).collect();
            assert_eq!(found.len(), 1, "{name}: {all:?}");
            assert_eq!(found[0].timestamp_ms, 5_000);
            found[0].value
        };
        assert_eq!(value("h.avg"), 50.5);
        assert_eq!(value("h.max"), 100.0);
        assert_eq!(value("h.count"), 100.0);
        assert!((value("h.95percentile") - 95.0).abs() <= 1.5);
        assert_eq!(value("set"), 3.0);
        assert_eq!(
            value("d.avg"),
            50.5,
            "summaries for backends without sketches"
        );
        assert_eq!(p.sketches.len(), 1);
        assert_eq!((p.sketches[0].count, p.sketches[0].sum), (100, 5050.0));
        let h = p.series.iter().find(|s| s.name == "h.max").unwrap();
        assert_eq!(h.tags, ["env:test", "host:h1", "k:1"]);
        let next = a.payload(6_000, Vec::new(), Vec::new(), Vec::new());
        assert!(
            next.series.is_empty() && next.sketches.is_empty(),
            "{next:?}"
        );
    }

    #[test]
    fn a_samples_own_time_wins_and_rates_run_between_such_times() {
        let mut a = agg();
        let at = |kind, value, ts| Sample {
            timestamp_ms: Some(ts),
            ..s("x", kind, value, &[])
        };
        let out = a.series(10_000, vec![at(MetricKind::Gauge, 1.0, 4_000)]);
        assert_eq!(out[0].timestamp_ms, 4_000);
        a.series(10_000, vec![at(MetricKind::Rate, 100.0, 4_000)]);
        let out = a.series(20_000, vec![at(MetricKind::Rate, 150.0, 9_000)]);
        assert_eq!((out[0].value, out[0].timestamp_ms), (10.0, 9_000));
    }

    #[test]
    fn events_get_instance_tags() {
        let mut a = agg();
        let event = Event {
            title: "t".into(),
            text: String::new(),
            timestamp_ms: 1,
            priority: None,
            alert_type: None,
            aggregation_key: None,
            source_type_name: None,
            tags: vec!["k:v".into()],
        };
        let p = a.payload(1, Vec::new(), Vec::new(), vec![event]);
        assert_eq!(p.events[0].tags, ["env:test", "host:h1", "k:v"]);
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
