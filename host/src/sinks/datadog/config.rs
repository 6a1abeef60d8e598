//! `type: datadog`.

use serde::Deserialize;

use crate::sinks::delivery::Delivery;
use crate::sinks::sink::{header_problem, url_problem};

/// Datadog's APIs: series, service checks, events and distributions.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatadogConfig {
    /// The sink's name: its disk buffer's folder and its `sink:` tag. Defaults to the type and
    /// the destination (`datadog-api.datadoghq.com`).
    #[serde(default)]
    pub name: Option<String>,
    /// Base URL, e.g. `https://api.datadoghq.com` (or a proxy, or VictoriaMetrics'
    /// `http://host:8428/datadog`).
    pub url: String,
    /// The API key, sent as `DD-API-KEY`.
    #[serde(default)]
    pub api_key: String,
    /// Batching, buffering and retries.
    #[serde(default)]
    pub delivery: Delivery,
}

impl DatadogConfig {
    /// What is wrong with its fields.
    pub fn problems(&self) -> Vec<(String, String)> {
        let url = url_problem(&self.url).map(|p| ("url".to_string(), p));
        let key = header_problem(&self.api_key).map(|p| ("api_key".to_string(), p));
        url.into_iter()
            .chain(key)
            .chain(self.delivery.problems())
            .collect()
    }
}
