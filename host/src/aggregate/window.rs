//! Aggregation over flush windows, for metrics that applications push (DogStatsD): every
//! sample of one series (a context: name, type and tags) within a window becomes one point —
//! gauges their last value, counts their sum as a per-second rate, sets their number of
//! distinct members, histograms and timings their aggregates and percentiles (from a DDSketch,
//! so memory per context is bounded), distributions a sketch in the Datadog agent's bins
//! ([`super::agent_sketch`]) with the same summaries for backends that take no sketches.
//! Points the client timestamped pass unaggregated. Past `max_contexts` new series are dropped
//! and counted; live ones go on.

use rustc_hash::FxHashSet;
use sketches_ddsketch::{Config as SketchConfig, DDSketch};
use wasmon_dogstatsd::{Contexts, Slot};

use super::Aggregator;
use super::agent_sketch::AgentSketch;
use crate::model::{Event, Payload, Series, SeriesKind, ServiceCheck, Sketch};

/// Distinct members one set keeps per window; more are dropped and counted.
pub const MAX_SET_MEMBERS: usize = 10_000;
/// Service checks and events one window keeps; more are dropped and counted.
pub const MAX_QUEUED: usize = 10_000;

/// One of a histogram's aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistogramAggregate {
    /// Largest value.
    Max,
    /// Smallest value.
    Min,
    /// 50th percentile.
    Median,
    /// Mean.
    Avg,
    /// Sum.
    Sum,
    /// How many values (weighted by the sample rate) the window had.
    Count,
}

impl HistogramAggregate {
    /// The series' suffix, as Datadog names it.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Max => ".max",
            Self::Min => ".min",
            Self::Median => ".median",
            Self::Avg => ".avg",
            Self::Sum => ".sum",
            Self::Count => ".count",
        }
    }
}

/// How windows summarise.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowConfig {
    /// Seconds a window lasts; counts become rates over it.
    pub flush_secs: f64,
    /// Aggregates each histogram, timing and distribution sends.
    pub aggregates: Vec<HistogramAggregate>,
    /// Percentiles each sends, in (0, 1), as `.<N>percentile`.
    pub percentiles: Vec<f64>,
    /// Live contexts at most.
    pub max_contexts: usize,
    /// Milliseconds an idle counter is still sent (as 0) before it is forgotten.
    pub counter_expiry_ms: i64,
}

/// What histograms, timings and distributions send unless configured otherwise (the Datadog
/// agent's `histogram_aggregates`).
pub const DEFAULT_AGGREGATES: [HistogramAggregate; 4] = [
    HistogramAggregate::Max,
    HistogramAggregate::Median,
    HistogramAggregate::Avg,
    HistogramAggregate::Count,
];
/// The percentiles they send unless configured otherwise (`histogram_percentiles`).
pub const DEFAULT_PERCENTILES: [f64; 1] = [0.95];

impl WindowConfig {
    /// One check run's window: the default summaries, and no limit but the run's own.
    pub fn per_run() -> Self {
        Self {
            flush_secs: 1.0,
            aggregates: DEFAULT_AGGREGATES.to_vec(),
            percentiles: DEFAULT_PERCENTILES.to_vec(),
            max_contexts: usize::MAX,
            counter_expiry_ms: 0,
        }
    }
}

/// Why a submission was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// A new series past `max_contexts`.
    ContextLimit,
    /// A set member past [`MAX_SET_MEMBERS`].
    SetLimit,
    /// A service check or event past [`MAX_QUEUED`].
    QueueLimit,
}

impl Dropped {
    /// Every reason, in the order [`index`](Self::index) numbers them.
    pub const ALL: [Self; 3] = [Self::ContextLimit, Self::SetLimit, Self::QueueLimit];

    /// Its position in [`ALL`](Self::ALL).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The `reason:` tag it is counted under.
    pub fn reason(self) -> &'static str {
        match self {
            Self::ContextLimit => "context_limit",
            Self::SetLimit => "set_limit",
            Self::QueueLimit => "queue_limit",
        }
    }
}

/// How a context aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    /// Last value.
    Gauge,
    /// Sum, sent as a rate.
    Count,
    /// Distinct members.
    Set,
    /// Aggregates and percentiles (histograms, timings).
    Summary,
    /// A sketch, sent as such where the backend takes it.
    Distribution,
}

impl Aggregation {
    fn code(self) -> u8 {
        match self {
            Self::Gauge => b'g',
            Self::Count => b'c',
            Self::Set => b's',
            Self::Summary => b'h',
            Self::Distribution => b'd',
        }
    }
}

/// What one line observed: numbers at a sample rate, or a set's member.
pub enum Observed<'m, I> {
    /// Values, and the client's sample rate in (0, 1].
    Numbers(I, f64),
    /// One member of a set.
    Member(&'m str),
}

enum Value {
    Gauge(f64),
    Count(f64),
    Set(FxHashSet<Box<str>>),
    Summary(Box<DDSketch>),
    Distribution(Box<AgentSketch>),
}

struct Context {
    value: Value,
    /// Whether anything arrived in this window.
    fresh: bool,
    /// When something last arrived.
    updated_ms: i64,
}

/// The current window of pushed metrics.
pub struct Window {
    config: WindowConfig,
    tagger: Aggregator,
    /// Which slot of `values` each live series has.
    contexts: Contexts,
    values: Vec<Context>,
    timestamped: Vec<Series>,
    service_checks: Vec<ServiceCheck>,
    events: Vec<Event>,
}

impl Window {
    /// An empty window adding `tags` (host, global and intake tags) to everything.
    pub fn new(config: WindowConfig, tags: Vec<String>) -> Self {
        Self {
            contexts: Contexts::new(config.max_contexts),
            config,
            tagger: Aggregator::new(tags),
            values: Vec::new(),
            timestamped: Vec::new(),
            service_checks: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Live contexts.
    pub fn contexts(&self) -> usize {
        self.contexts.len()
    }

    /// Adds what one line observed of one series at `now_ms`.
    pub fn add<'a>(
        &mut self,
        name: &str,
        aggregation: Aggregation,
        mut tags: impl Iterator<Item = &'a str>,
        observed: Observed<'_, impl Iterator<Item = f64>>,
        now_ms: i64,
    ) -> Result<(), Dropped> {
        let slot = self
            .contexts
            .slot(name, aggregation.code(), &mut tags)
            .map_err(|_| Dropped::ContextLimit)?;
        self.observe(slot, aggregation, observed, now_ms)
    }

    /// Adds what a DogStatsD line observed, its tags field as written: a run of lines of one
    /// series finds its context without building its key again.
    pub fn add_line(
        &mut self,
        name: &str,
        aggregation: Aggregation,
        written_tags: &str,
        observed: Observed<'_, impl Iterator<Item = f64>>,
        now_ms: i64,
    ) -> Result<(), Dropped> {
        let slot = self
            .contexts
            .slot_of_line(
                name,
                aggregation.code(),
                written_tags,
                &mut wasmon_dogstatsd::tags(written_tags),
            )
            .map_err(|_| Dropped::ContextLimit)?;
        self.observe(slot, aggregation, observed, now_ms)
    }

    fn observe(
        &mut self,
        slot: Slot,
        aggregation: Aggregation,
        observed: Observed<'_, impl Iterator<Item = f64>>,
        now_ms: i64,
    ) -> Result<(), Dropped> {
        let context = match slot {
            Slot::Live(i) => &mut self.values[i],
            Slot::New(i) => {
                let value = match aggregation {
                    Aggregation::Gauge => Value::Gauge(0.0),
                    Aggregation::Count => Value::Count(0.0),
                    Aggregation::Set => Value::Set(FxHashSet::default()),
                    Aggregation::Summary => {
                        Value::Summary(Box::new(DDSketch::new(SketchConfig::defaults())))
                    }
                    Aggregation::Distribution => Value::Distribution(Box::default()),
                };
                let context = Context {
                    value,
                    fresh: false,
                    updated_ms: now_ms,
                };
                if i == self.values.len() {
                    self.values.push(context);
                } else {
                    self.values[i] = context;
                }
                &mut self.values[i]
            }
        };
        context.fresh = true;
        context.updated_ms = now_ms;
        match (&mut context.value, observed) {
            (Value::Gauge(last), Observed::Numbers(values, _)) => {
                if let Some(v) = values.last() {
                    *last = v;
                }
            }
            (Value::Count(sum), Observed::Numbers(values, rate)) => {
                *sum += values.sum::<f64>() / rate;
            }
            (Value::Set(members), Observed::Member(member)) if !members.contains(member) => {
                if members.len() >= MAX_SET_MEMBERS {
                    return Err(Dropped::SetLimit);
                }
                members.insert(member.into());
            }
            (Value::Summary(sketch), Observed::Numbers(values, rate)) => {
                for v in values {
                    sketch.add_with_count(v, weight(rate));
                }
            }
            (Value::Distribution(sketch), Observed::Numbers(values, rate)) => {
                for v in values {
                    sketch.insert(v, weight(rate));
                }
            }
            // A member already counted, or (the caller's slip) numbers for a set or a member for
            // numbers.
            _ => {}
        }
        Ok(())
    }

    /// A point the client timestamped: sent as is at the next flush (a count as a rate over
    /// the window, as the Datadog agent does).
    pub fn add_timestamped(
        &mut self,
        name: &str,
        aggregation: Aggregation,
        tags: Vec<String>,
        value: f64,
        timestamp_ms: i64,
    ) -> Result<(), Dropped> {
        if self.timestamped.len() >= self.config.max_contexts {
            return Err(Dropped::ContextLimit);
        }
        let (kind, value) = match aggregation {
            Aggregation::Count => (SeriesKind::Rate, value / self.config.flush_secs),
            _ => (SeriesKind::Gauge, value),
        };
        self.timestamped.push(Series {
            name: name.into(),
            kind,
            value,
            timestamp_ms,
            tags: self.tagger.tags(tags),
        });
        Ok(())
    }

    /// A service check, sent at the next flush.
    pub fn add_service_check(&mut self, mut check: ServiceCheck) -> Result<(), Dropped> {
        if self.service_checks.len() >= MAX_QUEUED {
            return Err(Dropped::QueueLimit);
        }
        check.tags = self.tagger.tags(std::mem::take(&mut check.tags));
        self.service_checks.push(check);
        Ok(())
    }

    /// An event, sent at the next flush.
    pub fn add_event(&mut self, mut event: Event) -> Result<(), Dropped> {
        if self.events.len() >= MAX_QUEUED {
            return Err(Dropped::QueueLimit);
        }
        event.tags = self.tagger.tags(std::mem::take(&mut event.tags));
        self.events.push(event);
        Ok(())
    }

    /// Ends the window that started at `timestamp_ms`: what it aggregated, timestamped
    /// with its start. Idle counters are sent as 0 until they expire; other idle contexts
    /// are forgotten.
    pub fn flush(&mut self, timestamp_ms: i64) -> Payload {
        let Self {
            config,
            tagger,
            contexts,
            values,
            ..
        } = self;
        let mut series = std::mem::take(&mut self.timestamped);
        let mut sketches = Vec::new();
        contexts.retain(&mut |name, parts, slot| {
            let context = &mut values[slot];
            if !context.fresh {
                let idle = timestamp_ms.saturating_sub(context.updated_ms);
                if !matches!(context.value, Value::Count(_)) || idle >= config.counter_expiry_ms {
                    return false;
                }
            }
            let tags = tagger.tags(parts.map(String::from).collect());
            let mut point = |suffix: &str, kind, value| {
                series.push(Series {
                    name: format!("{name}{suffix}"),
                    kind,
                    value,
                    timestamp_ms,
                    tags: tags.clone(),
                });
            };
            match &mut context.value {
                Value::Gauge(v) => point("", SeriesKind::Gauge, *v),
                Value::Count(sum) => {
                    point("", SeriesKind::Rate, *sum / config.flush_secs);
                    *sum = 0.0;
                }
                Value::Set(members) => point("", SeriesKind::Gauge, members.len() as f64),
                Value::Summary(sketch) => summarise(sketch.as_ref(), config, &mut point),
                Value::Distribution(sketch) => {
                    let mut summary = Vec::new();
                    summarise(sketch.as_ref(), config, &mut |suffix: &str, kind, value| {
                        summary.push(Series {
                            name: format!("{name}{suffix}"),
                            kind,
                            value,
                            timestamp_ms,
                            tags: tags.clone(),
                        });
                    });
                    let (min, max, sum, _) = sketch.summary().unwrap_or_default();
                    let (keys, counts) = sketch.bins();
                    sketches.push(Sketch {
                        name: name.into(),
                        tags: tags.clone(),
                        timestamp_ms,
                        count: sketch.count(),
                        min,
                        max,
                        sum,
                        keys,
                        counts,
                        summary,
                    });
                }
            }
            context.fresh = false;
            // Counters live on to be sent as 0 while idle; the rest start afresh, and their
            // sets and sketches are given back now rather than when the slot is reused.
            let keep = matches!(context.value, Value::Count(_));
            if !keep {
                context.value = Value::Gauge(0.0);
            }
            keep
        });
        Payload {
            series,
            service_checks: std::mem::take(&mut self.service_checks),
            events: std::mem::take(&mut self.events),
            sketches,
        }
    }
}

/// How many values one value stands for at `sample_rate`.
fn weight(sample_rate: f64) -> u64 {
    (1.0 / sample_rate).round().max(1.0) as u64
}

/// What a summary is made from: DDSketch for histograms, the agent's sketch for distributions.
trait Quantiles {
    /// How many values (weighted).
    fn count(&self) -> f64;
    /// Smallest, largest and sum.
    fn bounds(&self) -> Option<(f64, f64, f64)>;
    /// The value at quantile `q`.
    fn quantile(&self, q: f64) -> Option<f64>;
}

impl Quantiles for DDSketch {
    fn count(&self) -> f64 {
        DDSketch::count(self) as f64
    }

    fn bounds(&self) -> Option<(f64, f64, f64)> {
        Some((self.min()?, self.max()?, self.sum()?))
    }

    fn quantile(&self, q: f64) -> Option<f64> {
        DDSketch::quantile(self, q).ok().flatten()
    }
}

impl Quantiles for AgentSketch {
    fn count(&self) -> f64 {
        AgentSketch::count(self) as f64
    }

    fn bounds(&self) -> Option<(f64, f64, f64)> {
        self.summary().map(|(min, max, sum, _)| (min, max, sum))
    }

    fn quantile(&self, q: f64) -> Option<f64> {
        AgentSketch::quantile(self, q)
    }
}

fn summarise(
    sketch: &dyn Quantiles,
    config: &WindowConfig,
    point: &mut dyn FnMut(&str, SeriesKind, f64),
) {
    let count = sketch.count();
    let Some((min, max, sum)) = sketch.bounds().filter(|_| count > 0.0) else {
        return;
    };
    for aggregate in &config.aggregates {
        let (kind, value) = match aggregate {
            HistogramAggregate::Max => (SeriesKind::Gauge, Some(max)),
            HistogramAggregate::Min => (SeriesKind::Gauge, Some(min)),
            HistogramAggregate::Median => (SeriesKind::Gauge, sketch.quantile(0.5)),
            HistogramAggregate::Avg => (SeriesKind::Gauge, Some(sum / count)),
            HistogramAggregate::Sum => (SeriesKind::Gauge, Some(sum)),
            HistogramAggregate::Count => (SeriesKind::Count, Some(count)),
        };
        if let Some(value) = value {
            point(aggregate.suffix(), kind, value);
        }
    }
    for p in &config.percentiles {
        if let Some(value) = sketch.quantile(*p) {
            point(
                &format!(".{:.0}percentile", p * 100.0),
                SeriesKind::Gauge,
                value,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> WindowConfig {
        WindowConfig {
            flush_secs: 10.0,
            aggregates: vec![
                HistogramAggregate::Max,
                HistogramAggregate::Median,
                HistogramAggregate::Avg,
                HistogramAggregate::Count,
            ],
            percentiles: vec![0.95],
            max_contexts: 100,
            counter_expiry_ms: 300_000,
        }
    }

    fn window() -> Window {
        Window::new(config(), vec!["host:h".into(), "env:test".into()])
    }

    fn add(w: &mut Window, name: &str, agg: Aggregation, tags: &[&str], v: f64) {
        w.add(
            name,
            agg,
            tags.iter().copied(),
            Observed::Numbers([v].into_iter(), 1.0),
            0,
        )
        .unwrap();
    }

    fn value(p: &Payload, name: &str) -> f64 {
        p.series
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} in {:?}", p.series))
            .value
    }

    #[test]
    fn gauges_counts_and_sets_per_window() {
        let mut w = window();
        for i in 0..50 {
            add(&mut w, "hits", Aggregation::Count, &["b:2", "a:1"], 1.0);
            add(&mut w, "temp", Aggregation::Gauge, &[], f64::from(i));
        }
        let halved = Observed::Numbers([2.0].into_iter(), 0.5);
        w.add(
            "hits",
            Aggregation::Count,
            ["a:1", "b:2", "a:1"].into_iter(),
            halved,
            0,
        )
        .unwrap();
        for member in ["u1", "u2", "u1", "u3", "u4", "u5", "u6", "u7", "u7"] {
            let member = Observed::<std::iter::Empty<f64>>::Member(member);
            w.add("users", Aggregation::Set, std::iter::empty(), member, 0)
                .unwrap();
        }
        assert_eq!(w.contexts(), 3, "tag order and repeats make no new series");
        let p = w.flush(10_000);
        let hits = p.series.iter().find(|s| s.name == "hits").unwrap();
        assert_eq!((hits.kind, hits.value), (SeriesKind::Rate, 5.4));
        assert_eq!(hits.tags, ["a:1", "b:2", "env:test", "host:h"]);
        assert_eq!(hits.timestamp_ms, 10_000);
        assert_eq!(value(&p, "temp"), 49.0);
        assert_eq!(value(&p, "users"), 7.0);
        assert_eq!(w.contexts(), 1, "only the counter lives on");
        let next = w.flush(20_000);
        assert_eq!(next.series.len(), 1, "only the idle counter is sent again");
        assert_eq!(value(&next, "hits"), 0.0);
        assert_eq!(w.contexts(), 1);
        assert!(
            w.flush(400_000).series.is_empty(),
            "an expired counter is forgotten"
        );
        assert_eq!(w.contexts(), 0);
    }

    #[test]
    fn histograms_as_the_datadog_agent_reports_them() {
        let mut w = window();
        for v in 1..=100 {
            add(&mut w, "lat", Aggregation::Summary, &[], f64::from(v));
        }
        let p = w.flush(0);
        assert_eq!(value(&p, "lat.avg"), 50.5);
        assert_eq!(value(&p, "lat.max"), 100.0);
        let count = p.series.iter().find(|s| s.name == "lat.count").unwrap();
        assert_eq!((count.kind, count.value), (SeriesKind::Count, 100.0));
        let median = value(&p, "lat.median");
        assert!((median - 50.0).abs() <= 1.0, "{median}");
        let p95 = value(&p, "lat.95percentile");
        assert!((p95 - 95.0).abs() <= 1.5, "{p95}");
        assert_eq!(p.series.len(), 5);
        assert!(w.flush(10_000).series.is_empty());
    }

    #[test]
    fn distributions_are_sketches_with_their_summaries() {
        let mut w = window();
        for v in 1..=100 {
            add(
                &mut w,
                "size",
                Aggregation::Distribution,
                &["a:1"],
                f64::from(v),
            );
        }
        let p = w.flush(10_000);
        assert!(
            p.series.is_empty(),
            "a distribution is a sketch, not series"
        );
        let sketch = &p.sketches[0];
        assert_eq!((sketch.name.as_str(), sketch.count), ("size", 100));
        assert_eq!((sketch.min, sketch.max, sketch.sum), (1.0, 100.0, 5050.0));
        assert_eq!(sketch.tags, ["a:1", "env:test", "host:h"]);
        assert_eq!(
            sketch.counts.iter().map(|n| u64::from(*n)).sum::<u64>(),
            100
        );
        let avg = sketch
            .summary
            .iter()
            .find(|s| s.name == "size.avg")
            .unwrap();
        assert_eq!(avg.value, 50.5);
        assert_eq!(sketch.summary.len(), 5);
        let all: Vec<Series> = p.all_series().collect();
        assert_eq!(all.len(), 5, "backends without sketches get the summary");
    }

    #[test]
    fn the_context_limit_drops_new_series_only() {
        let mut w = Window::new(
            WindowConfig {
                max_contexts: 2,
                ..config()
            },
            vec![],
        );
        add(&mut w, "a", Aggregation::Gauge, &[], 1.0);
        add(&mut w, "b", Aggregation::Gauge, &[], 1.0);
        let one = Observed::Numbers([1.0].into_iter(), 1.0);
        let third = w.add("c", Aggregation::Gauge, std::iter::empty(), one, 0);
        assert_eq!(third, Err(Dropped::ContextLimit));
        add(&mut w, "a", Aggregation::Gauge, &[], 2.0);
        assert_eq!(w.flush(0).series.len(), 2);
        add(&mut w, "c", Aggregation::Gauge, &[], 1.0);
        assert_eq!(w.contexts(), 1, "a flush frees the contexts it sent");
    }

    #[test]
    fn timestamped_points_and_the_host_tag() {
        let mut w = window();
        w.add_timestamped(
            "t",
            Aggregation::Count,
            vec!["host:other".into()],
            20.0,
            5_000,
        )
        .unwrap();
        let p = w.flush(10_000);
        assert_eq!(p.series[0].timestamp_ms, 5_000);
        assert_eq!(p.series[0].value, 2.0);
        assert_eq!(p.series[0].tags, ["env:test", "host:other"]);
    }
}
