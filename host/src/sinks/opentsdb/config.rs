//! `type: opentsdb`.

use serde::Deserialize;

use crate::sinks::delivery::Delivery;
use crate::sinks::sink::url_problem;

/// OpenTSDB: telnet `put` lines (tcollector's protocol) or the HTTP `/api/put` API.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpentsdbConfig {
    /// The sink's name: its disk buffer's folder and its `sink:` tag. Defaults to the type and
    /// the destination (`opentsdb-tsd_4242`).
    #[serde(default)]
    pub name: Option<String>,
    /// `host:port` for telnet, or a base URL (`http://host:4242`) for HTTP.
    pub address: String,
    /// `telnet` or `http`.
    #[serde(default)]
    pub protocol: OpentsdbProtocol,
    /// Batching, buffering and retries.
    #[serde(default)]
    pub delivery: Delivery,
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

impl OpentsdbConfig {
    /// What is wrong with its fields.
    pub fn problems(&self) -> Vec<(String, String)> {
        let address = &self.address;
        let problem = match self.protocol {
            OpentsdbProtocol::Http => url_problem(address),
            OpentsdbProtocol::Telnet => address
                .rsplit_once(':')
                .is_none_or(|(_, port)| port.parse::<u16>().is_err())
                .then(|| format!("{address:?}: expected host:port for telnet")),
        };
        let problem = problem.map(|p| ("address".to_string(), p));
        problem
            .into_iter()
            .chain(self.delivery.problems())
            .collect()
    }
}
