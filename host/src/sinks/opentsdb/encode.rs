//! OpenTSDB: telnet `put` lines over a kept TCP connection (tcollector's protocol, probed with
//! `version` when the connection is made), or JSON to `/api/put`. OpenTSDB needs at least one
//! tag per point; every series here has `host`.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::labels::{opentsdb_char, pairs, sanitize};
use super::transport::SendError;
use crate::model::Series;

fn tags(s: &Series) -> Vec<(String, String)> {
    pairs(s, |k| sanitize(k, opentsdb_char))
        .into_iter()
        .map(|(k, v)| (k, sanitize(&v, opentsdb_char)))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// `put name ts value k=v ...` lines, timestamps in seconds as tcollector sends them (some
/// telnet listeners, VictoriaMetrics' among them, take nothing else).
pub fn put_lines(series: &[Series]) -> String {
    let mut out = String::with_capacity(series.len() * 80);
    for s in series {
        let seconds = s.timestamp_ms.div_euclid(1000);
        let _ = write!(out, "put {} {seconds} {:?}", s.name, s.value);
        for (k, v) in tags(s) {
            let _ = write!(out, " {k}={v}");
        }
        out.push('\n');
    }
    out
}

#[derive(Serialize)]
struct Point<'a> {
    metric: &'a str,
    timestamp: i64,
    value: f64,
    tags: std::collections::BTreeMap<String, String>,
}

/// The `/api/put` JSON body.
pub fn http_body(series: &[Series]) -> serde_json::Result<Vec<u8>> {
    let points: Vec<Point> = series
        .iter()
        .map(|s| Point {
            metric: &s.name,
            timestamp: s.timestamp_ms,
            value: s.value,
            tags: tags(s).into_iter().collect(),
        })
        .collect();
    serde_json::to_vec(&points)
}

/// A telnet connection, made (and probed) on first use and again after it breaks.
///
/// Telnet has no acknowledgements: a batch counts as delivered once written to the socket, so
/// a server that dies right after may lose it. The HTTP protocol is at least once.
pub struct Telnet {
    address: String,
    timeout: Duration,
    stream: Option<BufReader<TcpStream>>,
    /// Whether the server answers `version` (OpenTSDB does; listeners that only take `put`,
    /// such as VictoriaMetrics', answer it as a bad HTTP request and hang up).
    probe: bool,
}

impl Telnet {
    /// Connects lazily to `address`.
    pub fn new(address: String, timeout: Duration) -> Self {
        Self {
            address,
            timeout,
            stream: None,
            probe: true,
        }
    }

    async fn open(&self) -> Result<BufReader<TcpStream>, SendError> {
        let stream = tokio::time::timeout(self.timeout, TcpStream::connect(&self.address))
            .await
            .map_err(|_| SendError::retry(format!("{}: connect timed out", self.address)))?
            .map_err(|e| {
                SendError::retry(format!(
                    "{}: {}",
                    self.address,
                    crate::error_chain::error_chain(&e)
                ))
            })?;
        Ok(BufReader::new(stream))
    }

    /// Connects; while the server is known to answer it, probes with `version` first
    /// (tcollector's liveness check).
    async fn connect(&mut self) -> Result<BufReader<TcpStream>, SendError> {
        let mut stream = self.open().await?;
        if !self.probe {
            return Ok(stream);
        }
        let fail = |e: std::io::Error| SendError::retry(format!("{e}"));
        stream
            .get_mut()
            .write_all(b"version\n")
            .await
            .map_err(fail)?;
        let mut line = String::new();
        match tokio::time::timeout(self.timeout, stream.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 && !line.starts_with("HTTP/") => Ok(stream),
            Ok(Ok(_)) => {
                tracing::info!(
                    address = %self.address,
                    "the server does not answer `version`; sending without the probe"
                );
                self.probe = false;
                self.open().await
            }
            _ => Err(SendError::retry(format!(
                "{}: no answer to `version`",
                self.address
            ))),
        }
    }

    /// Writes the batch; a broken connection is dropped so the next batch reconnects.
    pub async fn send(&mut self, series: &[Series]) -> Result<(), SendError> {
        let mut stream = match self.stream.take() {
            Some(stream) => stream,
            None => self.connect().await?,
        };
        let lines = put_lines(series);
        let written = tokio::time::timeout(self.timeout, async {
            stream.get_mut().write_all(lines.as_bytes()).await?;
            stream.get_mut().flush().await
        })
        .await;
        match written {
            Ok(Ok(())) => {
                self.stream = Some(stream);
                Ok(())
            }
            Ok(Err(e)) => Err(SendError::retry(format!("{}: {e}", self.address))),
            Err(_) => Err(SendError::retry(format!(
                "{}: write timed out",
                self.address
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SeriesKind;

    #[test]
    fn put_lines_sanitise_tags() {
        let s = Series {
            name: "mysql.performance.user_connections".into(),
            kind: SeriesKind::Gauge,
            value: 3.0,
            timestamp_ms: 1_700_000_000_250,
            tags: vec!["host:db-1".into(), "state:Sending data".into()],
        };
        assert_eq!(
            put_lines(std::slice::from_ref(&s)),
            "put mysql.performance.user_connections 1700000000 3.0 host=db-1 state=Sending_data\n"
        );
        let json: serde_json::Value = serde_json::from_slice(&http_body(&[s]).unwrap()).unwrap();
        assert_eq!(json[0]["tags"]["state"], "Sending_data");
        assert_eq!(json[0]["timestamp"], 1_700_000_000_250i64);
    }
}
