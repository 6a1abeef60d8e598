//! What every sink provides, and the macro that registers one: a sink is a folder whose
//! config implements [`Sink`], plus one line in `sinks!` (in `sinks/mod.rs`).

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::delivery::{Delivery, SinkStats, Transport};
use crate::model::Payload;

/// A sink's config: its name, its checks and how it starts.
pub trait Sink {
    /// `name:` as configured.
    fn name(&self) -> Option<&str>;

    /// Where it sends or listens, which its default name is made of; `None` names it by its
    /// type alone.
    fn destination(&self) -> Option<&str>;

    /// What is wrong with its own fields, as `(field, message)` relative to the sink.
    fn problems(&self) -> Vec<(String, String)>;

    /// The sink, ready to take its queue; an error says why it cannot start (a port taken).
    fn build(&self) -> Result<Built, String>;
}

/// A built sink.
pub enum Built {
    /// Takes its queue itself (the console, the scrape endpoint) and counts into its stats.
    Local(Box<dyn FnOnce(Queue) -> JoinHandle<()> + Send>),
    /// Sends batches through the shared delivery: disk buffer, order, retries, stats.
    Remote(Box<dyn Transport>, Delivery),
}

/// The payloads a sink is handed, and its counters.
pub struct Queue {
    payloads: mpsc::Receiver<Arc<Payload>>,
    stats: Arc<SinkStats>,
}

impl Queue {
    /// A queue taking from `payloads`.
    pub fn new(payloads: mpsc::Receiver<Arc<Payload>>, stats: Arc<SinkStats>) -> Self {
        Self { payloads, stats }
    }

    /// The next payload, once it leaves the queue's memory; `None` once every sender is gone.
    pub async fn recv(&mut self) -> Option<Arc<Payload>> {
        let payload = self.payloads.recv().await?;
        self.stats.unqueue(&payload);
        Some(payload)
    }

    /// The sink's counters.
    pub fn stats(&self) -> &Arc<SinkStats> {
        &self.stats
    }
}

impl Drop for Queue {
    /// A sink that ends early (its output gone) leaves nothing counted as queued.
    fn drop(&mut self) {
        self.payloads.close();
        while let Ok(payload) = self.payloads.try_recv() {
            self.stats.unqueue(&payload);
        }
    }
}

/// Registers the sinks: `"type" => Variant(Config)` each, generating [`SinkConfig`].
macro_rules! sinks {
    ($($(#[$doc:meta])* $kind:literal => $variant:ident($config:ty),)+) => {
        /// One destination for series: `type:` picks the sink, its other keys are the sink's.
        #[derive(Debug, Clone, PartialEq, serde::Deserialize)]
        #[serde(tag = "type")]
        pub enum SinkConfig {
            $($(#[$doc])* #[serde(rename = $kind)] $variant($config),)+
        }

        impl SinkConfig {
            /// `datadog`, `influx`, ... as written in `type`.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $kind,)+
                }
            }

            fn sink(&self) -> &dyn Sink {
                match self {
                    $(Self::$variant(config) => config,)+
                }
            }
        }
    };
}
pub(super) use sinks;

impl super::SinkConfig {
    /// The sink's name (its `sink:` tag, and a remote sink's disk buffer folder): as
    /// configured, else its type and destination (`influx-127.0.0.1_8086`), so that adding a
    /// sink renames no other.
    pub fn name(&self) -> String {
        let sink = self.sink();
        match (sink.name(), sink.destination()) {
            (Some(name), _) => name.to_string(),
            (None, Some(destination)) => format!("{}-{}", self.kind(), slug(destination)),
            (None, None) => self.kind().to_string(),
        }
    }

    /// What is wrong with this sink, as `(field, message)` (fields relative to the sink).
    pub fn problems(&self) -> Vec<(String, String)> {
        let sink = self.sink();
        let mut problems = Vec::new();
        if let Some(problem) = sink.name().and_then(name_problem) {
            problems.push(("name".into(), problem));
        }
        problems.extend(sink.problems());
        problems
    }

    /// The sink, ready to start.
    pub fn build(&self) -> Result<Built, String> {
        self.sink().build()
    }
}

/// Why `value` cannot be sent as an HTTP header's value, if it cannot (the value itself is
/// not repeated: it is often a secret).
pub(super) fn header_problem(value: &str) -> Option<String> {
    reqwest::header::HeaderValue::from_str(value)
        .is_err()
        .then(|| {
            "cannot be sent in an HTTP header (a newline or another control character?)".into()
        })
}

/// Why `text` is not an `http://` or `https://` URL, if it is not.
pub(super) fn url_problem(text: &str) -> Option<String> {
    match reqwest::Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => None,
        Ok(u) => Some(format!(
            "{text:?}: expected http:// or https://, not {}://",
            u.scheme()
        )),
        Err(e) => Some(format!("{text:?} is not a URL: {e}")),
    }
}

/// Longest sink name.
const MAX_NAME: usize = 80;

/// A destination as a folder name: `http://127.0.0.1:8428/api/v1/write` →
/// `127.0.0.1_8428_api_v1_write`.
fn slug(destination: &str) -> String {
    let bare = destination
        .split_once("://")
        .map_or(destination, |(_, rest)| rest)
        .trim_end_matches('/');
    bare.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(MAX_NAME)
        .collect()
}

/// Why `name` cannot name a sink, if it cannot.
fn name_problem(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    (!ok).then(|| {
        format!("{name:?}: expected 1 to {MAX_NAME} of A-Z a-z 0-9 . _ - (it names a folder)")
    })
}

#[cfg(test)]
mod tests {
    use crate::sinks::SinkConfig;

    fn problems(yaml: &str) -> Vec<String> {
        let sink: SinkConfig = serde_yaml::from_str(yaml).unwrap();
        sink.problems().into_iter().map(|(f, _)| f).collect()
    }

    #[test]
    fn each_sink_checks_its_fields() {
        assert!(problems("{type: influx, url: 'http://h:8086', database: d}").is_empty());
        assert_eq!(
            problems("{type: influx, url: 'h:8086'}"),
            ["url", "database"]
        );
        assert_eq!(problems("{type: opentsdb, address: tsd}"), ["address"]);
        assert_eq!(problems("{type: prometheus, listen: nowhere}"), ["listen"]);
        assert_eq!(
            problems("{type: influx, url: 'http://h:8086', database: d, name: '../x'}"),
            ["name"]
        );
        assert_eq!(
            problems(
                "{type: datadog, url: 'https://api.datadoghq.com', delivery: {flush_secs: 0, batch_max_series: 0}}"
            ),
            ["delivery.flush_secs", "delivery.batch_max_series"]
        );
        // A key that cannot be a header is refused without being repeated.
        let sink: SinkConfig =
            serde_yaml::from_str("{type: datadog, url: 'http://h', api_key: \"s3cret\\n\"}")
                .unwrap();
        let problems = sink.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "api_key");
        assert!(!problems[0].1.contains("s3cret"), "{problems:?}");
    }

    #[test]
    fn a_name_depends_on_the_sink_alone() {
        let sink = |yaml: &str| serde_yaml::from_str::<SinkConfig>(yaml).unwrap().name();
        assert_eq!(
            sink("{type: prometheus_remote_write, url: 'http://127.0.0.1:8428/api/v1/write'}"),
            "prometheus_remote_write-127.0.0.1_8428_api_v1_write"
        );
        assert_eq!(
            sink("{type: opentsdb, address: 'tsd:4242', name: tsd}"),
            "tsd"
        );
        assert_eq!(sink("{type: console}"), "console");
        assert_eq!(sink("{type: prometheus}"), "prometheus-127.0.0.1_9273");
    }

    #[test]
    fn every_sink_refuses_an_unknown_key() {
        for yaml in [
            "{type: console, colour: red}",
            "{type: prometheus, colour: red}",
            "{type: datadog, url: 'http://h', colour: red}",
            "{type: influx, url: 'http://h', database: d, colour: red}",
            "{type: opentsdb, address: 'h:4242', colour: red}",
            "{type: prometheus_remote_write, url: 'http://h', colour: red}",
        ] {
            let error = serde_yaml::from_str::<SinkConfig>(yaml).unwrap_err();
            assert!(
                error.to_string().contains("unknown field `colour`"),
                "{yaml}: {error}"
            );
        }
    }
}
