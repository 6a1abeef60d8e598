//! `type: prometheus_remote_write`.

use serde::Deserialize;

use crate::sinks::delivery::Delivery;
use crate::sinks::sink::url_problem;

/// Prometheus remote write 1.0 (protobuf, snappy).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteWriteConfig {
    /// The sink's name: its disk buffer's folder and its `sink:` tag. Defaults to the type and
    /// the destination (`prometheus_remote_write-127.0.0.1_8428_api_v1_write`).
    #[serde(default)]
    pub name: Option<String>,
    /// The write URL, e.g. `http://127.0.0.1:8428/api/v1/write`.
    pub url: String,
    /// Batching, buffering and retries.
    #[serde(default)]
    pub delivery: Delivery,
}

impl RemoteWriteConfig {
    /// What is wrong with its fields.
    pub fn problems(&self) -> Vec<(String, String)> {
        let url = url_problem(&self.url).map(|p| ("url".to_string(), p));
        url.into_iter().chain(self.delivery.problems()).collect()
    }
}
