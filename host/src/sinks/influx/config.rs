//! `type: influx`.

use serde::Deserialize;

use crate::sinks::delivery::Delivery;
use crate::sinks::sink::{header_problem, url_problem};

/// InfluxDB line protocol over HTTP, v1 (`/write`) or v2 (`/api/v2/write`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfluxConfig {
    /// The sink's name: its disk buffer's folder and its `sink:` tag. Defaults to the type and
    /// the destination (`influx-127.0.0.1_8086`).
    #[serde(default)]
    pub name: Option<String>,
    /// Base URL, e.g. `http://127.0.0.1:8086`.
    pub url: String,
    /// v1: the database.
    #[serde(default)]
    pub database: Option<String>,
    /// v2: the organisation.
    #[serde(default)]
    pub org: Option<String>,
    /// v2: the bucket.
    #[serde(default)]
    pub bucket: Option<String>,
    /// v2: the token, sent as `Authorization: Token ...`.
    #[serde(default)]
    pub token: Option<String>,
    /// Batching, buffering and retries.
    #[serde(default)]
    pub delivery: Delivery,
}

impl InfluxConfig {
    /// What is wrong with its fields.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if let Some(problem) = url_problem(&self.url) {
            problems.push(("url".into(), problem));
        }
        if self.write_url().is_none() {
            problems.push((
                "database".into(),
                "set `database` (InfluxDB 1.x) or `org` and `bucket` (2.x)".into(),
            ));
        }
        if let Some(problem) = self.token.as_deref().and_then(header_problem) {
            problems.push(("token".into(), problem));
        }
        problems.extend(self.delivery.problems());
        problems
    }

    /// Where batches are posted: v2's when `org` and `bucket` are set, else v1's.
    pub fn write_url(&self) -> Option<String> {
        let base = self.url.trim_end_matches('/');
        match (&self.database, &self.org, &self.bucket) {
            (_, Some(org), Some(bucket)) => Some(format!(
                "{base}/api/v2/write?org={org}&bucket={bucket}&precision=ms"
            )),
            (Some(db), _, _) => Some(format!("{base}/write?db={db}&precision=ms")),
            _ => None,
        }
    }
}
