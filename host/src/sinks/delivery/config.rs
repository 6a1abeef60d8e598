//! `sinks:` of `wasmon.yaml`: where series go, and how each sink batches, buffers and retries.

use std::time::Duration;

use serde::Deserialize;

/// One destination for series.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkConfig {
    /// Prints every series and service check to standard output, one line each.
    Console {},
    /// Datadog's series API (`/api/v1/series`, deflate-compressed JSON).
    Datadog {
        /// The sink's name: its disk buffer's folder and its `sink:` tag. Defaults to the type and
        /// the destination (`influx-127.0.0.1_8086`), so that adding a sink renames no other.
        #[serde(default)]
        name: Option<String>,
        /// Base URL, e.g. `https://api.datadoghq.com` (or a proxy, or VictoriaMetrics'
        /// `http://host:8428/datadog`).
        url: String,
        /// The API key, sent as `DD-API-KEY`.
        #[serde(default)]
        api_key: String,
        /// Batching, buffering and retries.
        #[serde(default)]
        delivery: Delivery,
    },
    /// OpenTSDB: telnet `put` lines (tcollector's protocol) or the HTTP `/api/put` API.
    Opentsdb {
        /// The sink's name: its disk buffer's folder and its `sink:` tag. Defaults to the type and
        /// the destination (`influx-127.0.0.1_8086`), so that adding a sink renames no other.
        #[serde(default)]
        name: Option<String>,
        /// `host:port` for telnet, or a base URL (`http://host:4242`) for HTTP.
        address: String,
        /// `telnet` or `http`.
        #[serde(default)]
        protocol: OpentsdbProtocol,
        /// Batching, buffering and retries.
        #[serde(default)]
        delivery: Delivery,
    },
    /// InfluxDB line protocol over HTTP, v1 (`/write`) or v2 (`/api/v2/write`).
    Influx {
        /// The sink's name: its disk buffer's folder and its `sink:` tag. Defaults to the type and
        /// the destination (`influx-127.0.0.1_8086`), so that adding a sink renames no other.
        #[serde(default)]
        name: Option<String>,
        /// Base URL, e.g. `http://127.0.0.1:8086`.
        url: String,
        /// v1: the database.
        #[serde(default)]
        database: Option<String>,
        /// v2: the organisation.
        #[serde(default)]
        org: Option<String>,
        /// v2: the bucket.
        #[serde(default)]
        bucket: Option<String>,
        /// v2: the token, sent as `Authorization: Token ...`.
        #[serde(default)]
        token: Option<String>,
        /// Batching, buffering and retries.
        #[serde(default)]
        delivery: Delivery,
    },
    /// Prometheus remote write 1.0 (protobuf, snappy).
    PrometheusRemoteWrite {
        /// The sink's name: its disk buffer's folder and its `sink:` tag. Defaults to the type and
        /// the destination (`influx-127.0.0.1_8086`), so that adding a sink renames no other.
        #[serde(default)]
        name: Option<String>,
        /// The write URL, e.g. `http://127.0.0.1:8428/api/v1/write`.
        url: String,
        /// Batching, buffering and retries.
        #[serde(default)]
        delivery: Delivery,
    },
    /// A Prometheus scrape endpoint (`/metrics`) with the latest value of every series.
    Prometheus {
        /// Address to listen on.
        #[serde(default = "default_prometheus_listen")]
        listen: String,
    },
}

fn default_prometheus_listen() -> String {
    "127.0.0.1:9273".into()
}

/// OpenTSDB's two ways in.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpentsdbProtocol {
    /// `put metric ts value k=v` lines over TCP.
    #[default]
    Telnet,
    /// JSON to `/api/put`.
    Http,
}

/// How a sink batches, buffers and retries.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Delivery {
    /// Most series in one request.
    pub batch_max_series: usize,
    /// Seconds a partial batch waits for more series (±10% jitter).
    pub flush_secs: f64,
    /// Disk the buffer may use, in MiB; past it the oldest series are dropped and counted.
    pub disk_budget_mib: u64,
    /// Seconds one request may take.
    pub request_timeout_secs: f64,
    /// Longest wait between retries, in seconds (the wait doubles from 0.5 s, with jitter).
    pub retry_max_secs: f64,
    /// Hold back a series whose value has not changed for up to this many seconds (tcollector's
    /// dedup); the last value is sent before a change. 0 sends every point.
    pub dedup_secs: f64,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            batch_max_series: 5000,
            flush_secs: 1.0,
            disk_budget_mib: 256,
            request_timeout_secs: 10.0,
            retry_max_secs: 60.0,
            dedup_secs: 0.0,
        }
    }
}

impl Delivery {
    /// The flush interval.
    pub fn flush(&self) -> Duration {
        Duration::from_secs_f64(self.flush_secs)
    }

    /// The request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.request_timeout_secs)
    }

    /// The longest back-off.
    pub fn retry_max(&self) -> Duration {
        Duration::from_secs_f64(self.retry_max_secs)
    }
}

impl SinkConfig {
    /// What is wrong with this sink, as `(field, message)` (fields relative to the sink).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if let Some(problem) = self.name().as_deref().and_then(name_problem) {
            problems.push(("name".into(), problem));
        }
        let mut url = |field: &str, text: &str| match reqwest::Url::parse(text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            Ok(u) => problems.push((
                field.into(),
                format!(
                    "{text:?}: expected http:// or https://, not {}://",
                    u.scheme()
                ),
            )),
            Err(e) => problems.push((field.into(), format!("{text:?} is not a URL: {e}"))),
        };
        let delivery = match self {
            Self::Console {} => None,
            Self::Prometheus { listen } => {
                if listen.parse::<std::net::SocketAddr>().is_err() {
                    problems.push((
                        "listen".into(),
                        format!("{listen:?}: expected an address and port such as 127.0.0.1:9273"),
                    ));
                }
                None
            }
            Self::Datadog {
                url: u, delivery, ..
            }
            | Self::PrometheusRemoteWrite {
                url: u, delivery, ..
            } => {
                url("url", u);
                Some(delivery)
            }
            Self::Opentsdb {
                address,
                protocol,
                delivery,
                ..
            } => {
                match protocol {
                    OpentsdbProtocol::Http => url("address", address),
                    OpentsdbProtocol::Telnet => {
                        if address
                            .rsplit_once(':')
                            .is_none_or(|(_, port)| port.parse::<u16>().is_err())
                        {
                            problems.push((
                                "address".into(),
                                format!("{address:?}: expected host:port for telnet"),
                            ));
                        }
                    }
                }
                Some(delivery)
            }
            Self::Influx {
                url: u,
                database,
                org,
                bucket,
                delivery,
                ..
            } => {
                url("url", u);
                if database.is_none() && (org.is_none() || bucket.is_none()) {
                    problems.push((
                        "database".into(),
                        "set `database` (InfluxDB 1.x) or `org` and `bucket` (2.x)".into(),
                    ));
                }
                Some(delivery)
            }
        };
        if let Some(d) = delivery {
            let seconds = [
                ("delivery.flush_secs", d.flush_secs, 0.01, 3600.0),
                (
                    "delivery.request_timeout_secs",
                    d.request_timeout_secs,
                    0.1,
                    600.0,
                ),
                ("delivery.retry_max_secs", d.retry_max_secs, 0.5, 3600.0),
            ];
            for (field, value, least, most) in seconds {
                if !(least..=most).contains(&value) {
                    problems.push((
                        field.into(),
                        format!("{value}: expected seconds between {least} and {most}"),
                    ));
                }
            }
            if d.batch_max_series == 0 {
                problems.push((
                    "delivery.batch_max_series".into(),
                    "0: expected at least 1".into(),
                ));
            }
            if d.disk_budget_mib == 0 {
                problems.push((
                    "delivery.disk_budget_mib".into(),
                    "0: expected at least 1".into(),
                ));
            }
            if !(0.0..=86_400.0).contains(&d.dedup_secs) {
                problems.push((
                    "delivery.dedup_secs".into(),
                    format!("{}: expected seconds between 0 and 86400", d.dedup_secs),
                ));
            }
        }
        problems
    }

    /// A remote sink's name: as configured, else its type and destination. `None` for the
    /// console and the scrape endpoint, which keep no buffer.
    pub fn name(&self) -> Option<String> {
        let (name, destination) = match self {
            Self::Console {} | Self::Prometheus { .. } => return None,
            Self::Datadog { name, url, .. }
            | Self::Influx { name, url, .. }
            | Self::PrometheusRemoteWrite { name, url, .. } => (name, url),
            Self::Opentsdb { name, address, .. } => (name, address),
        };
        Some(match name {
            Some(name) => name.clone(),
            None => format!("{}-{}", self.kind(), slug(destination)),
        })
    }

    /// `datadog`, `influx`, ... as written in `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Console {} => "console",
            Self::Datadog { .. } => "datadog",
            Self::Opentsdb { .. } => "opentsdb",
            Self::Influx { .. } => "influx",
            Self::PrometheusRemoteWrite { .. } => "prometheus_remote_write",
            Self::Prometheus { .. } => "prometheus",
        }
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
pub fn name_problem(name: &str) -> Option<String> {
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
    use super::*;

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
    }

    #[test]
    fn a_name_depends_on_the_sink_alone() {
        let sink = |yaml: &str| serde_yaml::from_str::<SinkConfig>(yaml).unwrap().name();
        assert_eq!(
            sink("{type: prometheus_remote_write, url: 'http://127.0.0.1:8428/api/v1/write'}")
                .as_deref(),
            Some("prometheus_remote_write-127.0.0.1_8428_api_v1_write")
        );
        assert_eq!(
            sink("{type: opentsdb, address: 'tsd:4242', name: tsd}").as_deref(),
            Some("tsd")
        );
        assert_eq!(sink("{type: console}"), None);
    }
}
