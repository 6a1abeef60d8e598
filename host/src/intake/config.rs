//! `dogstatsd:` and `push:` of `wasmon.yaml`: where the agent takes metrics that applications
//! push, and how it aggregates them.

use std::path::PathBuf;

use serde::Deserialize;

use crate::aggregate::window::{
    DEFAULT_AGGREGATES, DEFAULT_PERCENTILES, HistogramAggregate, WindowConfig,
};

/// The DogStatsD server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DogstatsdConfig {
    /// UDP address (`127.0.0.1:0` picks a free port); empty for none.
    pub listen: String,
    /// A Unix datagram socket to listen on too.
    pub socket: Option<PathBuf>,
    /// Bytes of the sockets' receive buffers (`SO_RCVBUF`); 0 keeps the system's.
    pub so_rcvbuf: usize,
    /// Largest datagram read, in bytes; longer ones are cut.
    pub buffer_size: usize,
    /// Seconds of one aggregation window.
    pub flush_secs: f64,
    /// What each histogram, timing and distribution sends.
    pub histogram_aggregates: Vec<HistogramAggregate>,
    /// Percentiles each sends, as `.<N>percentile`.
    pub histogram_percentiles: Vec<f64>,
    /// Live series (contexts) at most; new ones past it are dropped and counted.
    pub max_contexts: usize,
    /// Seconds an idle counter is still sent, as 0.
    pub expiry_secs: f64,
    /// Tags added to everything received.
    pub tags: Vec<String>,
}

impl Default for DogstatsdConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8125".into(),
            socket: None,
            so_rcvbuf: 0,
            buffer_size: 8192,
            flush_secs: 10.0,
            histogram_aggregates: DEFAULT_AGGREGATES.to_vec(),
            histogram_percentiles: DEFAULT_PERCENTILES.to_vec(),
            max_contexts: 100_000,
            expiry_secs: 300.0,
            tags: Vec::new(),
        }
    }
}

impl DogstatsdConfig {
    /// How its windows aggregate.
    pub fn window(&self) -> WindowConfig {
        WindowConfig {
            flush_secs: self.flush_secs,
            aggregates: self.histogram_aggregates.clone(),
            percentiles: self.histogram_percentiles.clone(),
            max_contexts: self.max_contexts,
            counter_expiry_ms: (self.expiry_secs * 1000.0) as i64,
        }
    }

    /// Whether it listens at all.
    pub fn enabled(&self) -> bool {
        !self.listen.is_empty() || self.socket.is_some()
    }

    /// What is wrong, as `(field, message)`, every problem at once.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, message: String| problems.push((field.into(), message));
        if let Some(message) = address_problem(&self.listen, "127.0.0.1:8125") {
            problem("listen", message);
        }
        if !(512..=1 << 20).contains(&self.buffer_size) {
            problem(
                "buffer_size",
                format!("{}: expected 512 to 1048576 bytes", self.buffer_size),
            );
        }
        if self.so_rcvbuf > 1 << 30 {
            problem(
                "so_rcvbuf",
                format!("{}: expected at most 1073741824 bytes", self.so_rcvbuf),
            );
        }
        if !(1.0..=3600.0).contains(&self.flush_secs) {
            problem(
                "flush_secs",
                format!("{}: expected 1 to 3600 seconds", self.flush_secs),
            );
        }
        for (i, p) in self.histogram_percentiles.iter().enumerate() {
            if !(*p > 0.0 && *p < 1.0) {
                problem(
                    &format!("histogram_percentiles[{i}]"),
                    format!("{p}: expected a fraction between 0 and 1, e.g. 0.95"),
                );
            }
        }
        if !(1..=10_000_000).contains(&self.max_contexts) {
            problem(
                "max_contexts",
                format!("{}: expected 1 to 10000000", self.max_contexts),
            );
        }
        if !(0.0..=86_400.0).contains(&self.expiry_secs) {
            problem(
                "expiry_secs",
                format!("{}: expected 0 to 86400 seconds", self.expiry_secs),
            );
        }
        problems.extend(tags_problems(&self.tags));
        problems
    }
}

/// The HTTP push API (Open-Falcon's `POST /v1/push`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushConfig {
    /// TCP address (`127.0.0.1:0` picks a free port); empty for none.
    pub listen: String,
    /// Largest body taken, in KiB; a larger one is answered 413.
    pub max_body_kib: usize,
    /// Most points one request may carry; more are answered 400.
    pub max_points: usize,
    /// Tags added to every point.
    pub tags: Vec<String>,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:1988".into(),
            max_body_kib: 4096,
            max_points: 10_000,
            tags: Vec::new(),
        }
    }
}

impl PushConfig {
    /// What is wrong, as `(field, message)`, every problem at once.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if let Some(message) = address_problem(&self.listen, "127.0.0.1:1988") {
            problems.push(("listen".into(), message));
        }
        if !(1..=1 << 20).contains(&self.max_body_kib) {
            problems.push((
                "max_body_kib".into(),
                format!("{}: expected 1 to 1048576 KiB", self.max_body_kib),
            ));
        }
        if !(1..=1_000_000).contains(&self.max_points) {
            problems.push((
                "max_points".into(),
                format!("{}: expected 1 to 1000000", self.max_points),
            ));
        }
        problems.extend(tags_problems(&self.tags));
        problems
    }
}

fn address_problem(listen: &str, example: &str) -> Option<String> {
    (!listen.is_empty() && listen.parse::<std::net::SocketAddr>().is_err()).then(|| {
        format!("{listen:?}: expected an address and port such as {example}, or \"\" for none")
    })
}

fn tags_problems(tags: &[String]) -> impl Iterator<Item = (String, String)> + '_ {
    tags.iter()
        .enumerate()
        .filter(|(_, tag)| {
            tag.is_empty()
                || tag.len() > crate::model::MAX_TAG_LEN
                || tag.chars().any(char::is_control)
        })
        .map(|(i, tag)| {
            (
                format!("tags[{i}]"),
                format!("{tag:?}: expected 1 to 200 characters, no control characters"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_named() {
        let config: DogstatsdConfig = serde_yaml::from_str(
            "listen: nowhere\nbuffer_size: 10\nflush_secs: 0\nhistogram_percentiles: [0.5, 95]\n\
             max_contexts: 0\ntags: [\"\"]\n",
        )
        .unwrap();
        let fields: Vec<String> = config.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "listen",
                "buffer_size",
                "flush_secs",
                "histogram_percentiles[1]",
                "max_contexts",
                "tags[0]"
            ]
        );
        assert!(DogstatsdConfig::default().problems().is_empty());
        assert!(PushConfig::default().problems().is_empty());
        let push: PushConfig = serde_yaml::from_str("listen: \"\"\nmax_points: 0\n").unwrap();
        assert_eq!(push.problems()[0].0, "max_points");
        assert!(serde_yaml::from_str::<PushConfig>("lisen: x").is_err());
        let aggregates: DogstatsdConfig =
            serde_yaml::from_str("histogram_aggregates: [min, sum, count]").unwrap();
        assert_eq!(aggregates.window().aggregates.len(), 3);
        assert!(serde_yaml::from_str::<DogstatsdConfig>("histogram_aggregates: [p99]").is_err());
    }
}
