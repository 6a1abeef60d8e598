//! The one aggregation stage between the producers (check instances, the push API, start
//! failure reports) and the sinks. Each producer's series state lives here, keyed by producer
//! and series: counters become rates and increases, a run's histograms, distributions and sets
//! are summarised, and every series gets the host name and global tags, built once for all
//! producers (and again, for all of them at once, when a reload changes them).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use super::Aggregator;
use crate::config::AgentConfig;
use crate::model::{Event, Payload, Sample, ServiceCheck};
use crate::sinks::PayloadSender;

/// The stage; clones share it.
#[derive(Clone)]
pub struct Stage {
    shared: Arc<Shared>,
}

struct Shared {
    /// `host:NAME`, then the agent's global tags.
    base: RwLock<Arc<[String]>>,
    /// Each live producer's own tags and series state.
    producers: Mutex<HashMap<u64, Producing>>,
    next_id: AtomicU64,
    sinks: PayloadSender,
}

struct Producing {
    own_tags: Vec<String>,
    aggregator: Aggregator,
}

impl Stage {
    /// A stage tagging with `config`'s host name and global tags, sending to `sinks`.
    pub fn new(config: &AgentConfig, sinks: PayloadSender) -> Self {
        Self {
            shared: Arc::new(Shared {
                base: RwLock::new(base_tags(config).into()),
                producers: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(0),
                sinks,
            }),
        }
    }

    /// `host:NAME` and the global tags, in that order.
    pub fn base_tags(&self) -> Arc<[String]> {
        self.shared
            .base
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Tags every producer's later series with `config`'s host name and global tags.
    pub fn retag(&self, config: &AgentConfig) {
        let base: Arc<[String]> = base_tags(config).into();
        // Under the producers' lock, so that a producer made meanwhile has the new tags.
        let mut producers = self.shared.lock();
        for producing in producers.values_mut() {
            producing
                .aggregator
                .retag(joined(&base, &producing.own_tags));
        }
        *self
            .shared
            .base
            .write()
            .unwrap_or_else(PoisonError::into_inner) = base;
    }

    /// A producer whose series also carry `own_tags` (an instance's `tags:`); its state is
    /// forgotten when it is dropped.
    pub fn producer(&self, own_tags: Vec<String>) -> Producer {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let mut producers = self.shared.lock();
        let aggregator = Aggregator::new(joined(&self.base_tags(), &own_tags));
        producers.insert(
            id,
            Producing {
                own_tags,
                aggregator,
            },
        );
        drop(producers);
        Producer {
            id,
            shared: self.shared.clone(),
        }
    }

    /// Where series that need no aggregation go (the agent's own, DogStatsD's flushes).
    pub fn sinks(&self) -> &PayloadSender {
        &self.shared.sinks
    }

    /// How many producers have state here.
    #[cfg(test)]
    fn producers(&self) -> usize {
        self.shared.lock().len()
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Producing>> {
        self.producers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// One producer's way into the stage.
pub struct Producer {
    id: u64,
    shared: Arc<Shared>,
}

impl Producer {
    /// Sends one run's output at `timestamp_ms` (a sample's own time wins).
    pub async fn run(
        &self,
        timestamp_ms: i64,
        samples: Vec<Sample>,
        service_checks: Vec<ServiceCheck>,
        events: Vec<Event>,
    ) {
        let payload = self.payload(timestamp_ms, samples, service_checks, events);
        self.shared.sinks.send(payload).await;
    }

    /// One run's output as the sinks would get it, without sending it.
    pub fn payload(
        &self,
        timestamp_ms: i64,
        samples: Vec<Sample>,
        service_checks: Vec<ServiceCheck>,
        events: Vec<Event>,
    ) -> Payload {
        self.aggregate(|a| a.payload(timestamp_ms, samples, service_checks, events))
    }

    /// Sends points that carry their own times; `end_run` then forgets counters unseen for a
    /// while, as the end of a check's run does.
    pub async fn points(&self, samples: Vec<(Sample, i64)>, end_run: bool) {
        let series = self.aggregate(|a| {
            let series = a.timestamped(samples.into_iter());
            if end_run {
                a.end_run();
            }
            series
        });
        let payload = Payload {
            series,
            ..Payload::default()
        };
        self.shared.sinks.send(payload).await;
    }

    fn aggregate<T>(&self, f: impl FnOnce(&mut Aggregator) -> T) -> T {
        let mut producers = self.shared.lock();
        let producing = producers
            .get_mut(&self.id)
            .expect("a producer's state lives until it is dropped");
        f(&mut producing.aggregator)
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.shared.lock().remove(&self.id);
    }
}

/// `host:NAME` and `config`'s global tags.
fn base_tags(config: &AgentConfig) -> Vec<String> {
    let mut tags = vec![format!("host:{}", config.hostname())];
    tags.extend(config.tags.iter().cloned());
    tags
}

fn joined(base: &[String], own: &[String]) -> Vec<String> {
    base.iter().chain(own).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MetricKind;

    fn config(hostname: &str, tags: &[&str]) -> AgentConfig {
        AgentConfig {
            hostname: Some(hostname.into()),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..AgentConfig::default()
        }
    }

    fn rate(value: f64) -> Vec<Sample> {
        vec![Sample {
            name: "r".into(),
            kind: MetricKind::Rate,
            value,
            tags: Vec::new(),
            timestamp_ms: None,
        }]
    }

    fn series(producer: &Producer, at: i64, value: f64) -> Vec<(f64, Vec<String>)> {
        let payload = producer.payload(at, rate(value), Vec::new(), Vec::new());
        payload
            .series
            .into_iter()
            .map(|s| (s.value, s.tags))
            .collect()
    }

    #[test]
    fn producers_share_the_base_tags_and_keep_their_own_counters() {
        let stage = Stage::new(&config("h1", &["env:a"]), PayloadSender::default());
        let web = stage.producer(vec!["role:web".into()]);
        let db = stage.producer(vec!["host:db-3".into()]);
        assert!(
            series(&web, 1_000, 10.0).is_empty(),
            "a first counter value"
        );
        assert!(series(&db, 1_000, 500.0).is_empty());
        assert_eq!(
            series(&web, 2_000, 14.0),
            [(
                4.0,
                vec!["env:a".into(), "host:h1".into(), "role:web".into()]
            )]
        );
        assert_eq!(
            series(&db, 2_000, 501.0),
            [(1.0, vec!["env:a".into(), "host:db-3".into()])],
            "an instance's own host wins"
        );
        stage.retag(&config("h2", &["env:b"]));
        assert_eq!(
            series(&web, 3_000, 15.0),
            [(
                1.0,
                vec!["env:b".into(), "host:h2".into(), "role:web".into()]
            )],
            "a reload retags every producer and keeps its counters"
        );
        assert_eq!(&*stage.base_tags(), ["host:h2", "env:b"]);
    }

    #[test]
    fn a_dropped_producer_is_forgotten() {
        let stage = Stage::new(&config("h1", &[]), PayloadSender::default());
        let first = stage.producer(Vec::new());
        let second = stage.producer(Vec::new());
        assert_eq!(stage.producers(), 2);
        drop(first);
        assert_eq!(stage.producers(), 1);
        drop(second);
        assert_eq!(stage.producers(), 0);
    }
}
