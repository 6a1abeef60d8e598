//! tcollector's protocol: `put` lines over a kept TCP connection, probed with `version` when
//! the connection is made.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::encode::put_lines;
use crate::model::Series;
use crate::sinks::delivery::{Batch, SendError, Sending, Transport};

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

    /// Writes `series`; a broken connection is dropped so the next batch reconnects.
    async fn write(&mut self, series: &[Series]) -> Result<usize, SendError> {
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
                Ok(lines.len())
            }
            Ok(Err(e)) => Err(SendError::retry(format!("{}: {e}", self.address))),
            Err(_) => Err(SendError::retry(format!(
                "{}: write timed out",
                self.address
            ))),
        }
    }
}

impl Transport for Telnet {
    fn send<'a>(&'a mut self, batch: &'a Batch) -> Sending<'a> {
        Box::pin(self.write(&batch.series))
    }
}
