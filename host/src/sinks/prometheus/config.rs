//! `type: prometheus`.

use serde::Deserialize;

/// A Prometheus scrape endpoint (`/metrics`) with the latest value of every series.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// The sink's name, its `sink:` tag; by default `prometheus-` and the address.
    #[serde(default)]
    pub name: Option<String>,
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Seconds after which a series no longer sent leaves `/metrics`; 0 keeps every series.
    #[serde(default = "default_expire_secs")]
    pub expire_secs: u64,
}

fn default_expire_secs() -> u64 {
    300
}

fn default_listen() -> String {
    "127.0.0.1:9273".into()
}

impl PrometheusConfig {
    /// How long a series no longer sent stays listed, if it goes at all.
    pub fn expire(&self) -> Option<std::time::Duration> {
        (self.expire_secs > 0).then(|| std::time::Duration::from_secs(self.expire_secs))
    }

    /// What is wrong with its fields.
    pub fn problems(&self) -> Vec<(String, String)> {
        let listen = &self.listen;
        if listen.parse::<std::net::SocketAddr>().is_ok() {
            return Vec::new();
        }
        vec![(
            "listen".into(),
            format!("{listen:?}: expected an address and port such as 127.0.0.1:9273"),
        )]
    }
}
