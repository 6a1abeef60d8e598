//! Sending one batch to a backend, and what a failure means for it: try again (after a
//! `Retry-After` if the server gave one) or drop it, because it will never be accepted.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};

use super::batch::Batch;
use super::{datadog, influx, opentsdb, remote_write};
use crate::config::{OpentsdbProtocol, SinkConfig};
use crate::error_chain::error_chain;
use crate::model::Series;

/// Why a batch was not delivered.
#[derive(Debug, Clone, PartialEq)]
pub enum SendError {
    /// Worth trying again: the backend is down, overloaded or slow.
    Retry {
        /// Why.
        reason: String,
        /// How long the server asked to wait.
        after: Option<Duration>,
    },
    /// Will never be accepted (a 4xx other than 408 and 429): dropped and counted.
    Reject(String),
}

impl SendError {
    /// The same error with what the server said appended, when it said anything.
    pub fn with_detail(self, detail: &str) -> Self {
        if detail.is_empty() {
            return self;
        }
        match self {
            Self::Retry { reason, after } => Self::Retry {
                reason: format!("{reason}: {detail}"),
                after,
            },
            Self::Reject(reason) => Self::Reject(format!("{reason}: {detail}")),
        }
    }

    /// A retryable failure without a requested wait.
    pub fn retry(reason: String) -> Self {
        Self::Retry {
            reason,
            after: None,
        }
    }
}

/// How an HTTP sink encodes a batch.
pub enum Encoding {
    /// Datadog v1 JSON, deflated: series, then service checks and events, below this base URL.
    Datadog(String),
    /// OpenTSDB `/api/put` JSON.
    OpentsdbHttp,
    /// Influx line protocol.
    Influx,
    /// Remote-write protobuf, snappy.
    RemoteWrite,
}

/// A backend a batch can be sent to.
pub enum Transport {
    /// An HTTP API.
    Http {
        /// Shared client (connection pool).
        client: reqwest::Client,
        /// The full URL posted to.
        url: String,
        /// Fixed headers (keys, tokens, content type).
        headers: HeaderMap,
        /// How the body is encoded.
        encoding: Encoding,
    },
    /// OpenTSDB's telnet protocol.
    Telnet(opentsdb::Telnet),
}

impl Transport {
    /// The transport of a remote sink; `None` for the console and scrape sinks.
    pub fn new(config: &SinkConfig, timeout: Duration) -> Result<Option<Self>, String> {
        // HTTPS uses rustls with ring, the one provider built in (installing it twice is a
        // no-op).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        let header = |v: &str| {
            HeaderValue::from_str(v).map_err(|_| format!("{v:?} is not a valid header value"))
        };
        let mut headers = HeaderMap::new();
        let (url, encoding) = match config {
            SinkConfig::Console {} | SinkConfig::Prometheus { .. } => return Ok(None),
            SinkConfig::Opentsdb {
                address,
                protocol: OpentsdbProtocol::Telnet,
                ..
            } => {
                return Ok(Some(Self::Telnet(opentsdb::Telnet::new(
                    address.clone(),
                    timeout,
                ))));
            }
            SinkConfig::Datadog { url, api_key, .. } => {
                headers.insert("DD-API-KEY", header(api_key)?);
                headers.insert(CONTENT_TYPE, header("application/json")?);
                headers.insert(CONTENT_ENCODING, header("deflate")?);
                let base = url.trim_end_matches('/').to_string();
                (
                    format!("{base}{}", datadog::SERIES_PATH),
                    Encoding::Datadog(base),
                )
            }
            SinkConfig::Opentsdb { address, .. } => {
                headers.insert(CONTENT_TYPE, header("application/json")?);
                headers.insert(CONTENT_ENCODING, header("gzip")?);
                (
                    format!("{}/api/put", address.trim_end_matches('/')),
                    Encoding::OpentsdbHttp,
                )
            }
            SinkConfig::Influx {
                url,
                database,
                org,
                bucket,
                token,
                ..
            } => {
                let base = url.trim_end_matches('/');
                let url = match (database, org, bucket) {
                    (_, Some(org), Some(bucket)) => {
                        format!("{base}/api/v2/write?org={org}&bucket={bucket}&precision=ms")
                    }
                    (Some(db), _, _) => format!("{base}/write?db={db}&precision=ms"),
                    _ => {
                        return Err("influx: set `database` (v1) or `org` and `bucket` (v2)".into());
                    }
                };
                if let Some(token) = token {
                    headers.insert("Authorization", header(&format!("Token {token}"))?);
                }
                headers.insert(CONTENT_TYPE, header("text/plain; charset=utf-8")?);
                headers.insert(CONTENT_ENCODING, header("gzip")?);
                (url, Encoding::Influx)
            }
            SinkConfig::PrometheusRemoteWrite { url, .. } => {
                headers.insert(CONTENT_TYPE, header("application/x-protobuf")?);
                headers.insert(CONTENT_ENCODING, header("snappy")?);
                headers.insert("X-Prometheus-Remote-Write-Version", header("0.1.0")?);
                (url.clone(), Encoding::RemoteWrite)
            }
        };
        Ok(Some(Self::Http {
            client,
            url,
            headers,
            encoding,
        }))
    }

    /// Whether the backend takes service checks, events and sketches as such (the others are
    /// sent [`crate::model::Payload::all_series`]).
    pub fn carries_service_checks(&self) -> bool {
        matches!(
            self,
            Self::Http {
                encoding: Encoding::Datadog(_),
                ..
            }
        )
    }

    /// Sends one batch; the bytes sent.
    pub async fn send(&mut self, batch: &Batch) -> Result<usize, SendError> {
        match self {
            Self::Telnet(telnet) => {
                telnet.send(&batch.series).await?;
                Ok(opentsdb::put_lines(&batch.series).len())
            }
            Self::Http {
                client,
                url,
                headers,
                encoding,
            } => {
                let mut bytes = 0;
                let reject = |e: String| SendError::Reject(format!("cannot encode: {e}"));
                if !batch.series.is_empty() {
                    let body = encode(encoding, &batch.series).map_err(reject)?;
                    bytes += post(client, url, headers, body).await?;
                }
                if let Encoding::Datadog(base) = encoding {
                    let io = |e: std::io::Error| reject(e.to_string());
                    if !batch.service_checks.is_empty() {
                        let body = datadog::encode_check_runs(&batch.service_checks).map_err(io)?;
                        let url = format!("{base}{}", datadog::CHECK_RUN_PATH);
                        bytes += post(client, &url, headers, body).await?;
                    }
                    let url = format!("{base}{}", datadog::EVENTS_PATH);
                    for event in &batch.events {
                        let body = datadog::encode_event(event).map_err(io)?;
                        bytes += post(client, &url, headers, body).await?;
                    }
                    if !batch.sketches.is_empty() {
                        let body = datadog::encode_sketches(&batch.sketches).map_err(io)?;
                        let url = format!("{base}{}", datadog::SKETCHES_PATH);
                        let mut headers = headers.clone();
                        headers.insert(
                            CONTENT_TYPE,
                            HeaderValue::from_static("application/x-protobuf"),
                        );
                        bytes += post(client, &url, &headers, body).await?;
                    }
                }
                Ok(bytes)
            }
        }
    }
}

/// Posts one body; the bytes sent, or what the answer means for the batch.
async fn post(
    client: &reqwest::Client,
    url: &str,
    headers: &HeaderMap,
    body: Vec<u8>,
) -> Result<usize, SendError> {
    let bytes = body.len();
    let response = client
        .post(url)
        .headers(headers.clone())
        .body(body)
        .send()
        .await
        .map_err(|e| SendError::retry(format!("{url}: {}", error_chain(&e))))?;
    if let Err(refused) = classify(response.status(), response.headers()) {
        return Err(refused.with_detail(&body_excerpt(response).await));
    }
    Ok(bytes)
}

fn encode(encoding: &Encoding, series: &[Series]) -> Result<Vec<u8>, String> {
    match encoding {
        Encoding::Datadog(_) => datadog::encode(series).map_err(|e| e.to_string()),
        Encoding::OpentsdbHttp => gzip(&opentsdb::http_body(series).map_err(|e| e.to_string())?),
        Encoding::Influx => gzip(influx::encode(series).as_bytes()),
        Encoding::RemoteWrite => remote_write::encode(series).map_err(|e| e.to_string()),
    }
}

/// `data` gzip-compressed (fast level), in one write.
fn gzip(data: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 8),
        flate2::Compression::fast(),
    );
    encoder.write_all(data).map_err(|e| e.to_string())?;
    encoder.finish().map_err(|e| e.to_string())
}

/// Bytes of a refusal's body kept for the log.
const EXCERPT: usize = 256;

/// The start of a response's body, on one line (what the server said was wrong).
async fn body_excerpt(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < EXCERPT {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(EXCERPT);
    String::from_utf8_lossy(&body)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// 2xx delivered; 408, 429 and 5xx retried (after `Retry-After` seconds when given); any
/// other answer rejected.
pub fn classify(status: StatusCode, headers: &HeaderMap) -> Result<(), SendError> {
    if status.is_success() {
        return Ok(());
    }
    let reason = format!("the server answered {status}");
    if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        let after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        return Err(SendError::Retry { reason, after });
    }
    Err(SendError::Reject(reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified() {
        let empty = HeaderMap::new();
        assert_eq!(classify(StatusCode::NO_CONTENT, &empty), Ok(()));
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, &empty),
            Err(SendError::Retry { after: None, .. })
        ));
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert!(matches!(
            classify(StatusCode::TOO_MANY_REQUESTS, &headers),
            Err(SendError::Retry { after: Some(d), .. }) if d == Duration::from_secs(7)
        ));
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, &empty),
            Err(SendError::Reject(_))
        ));
        assert!(matches!(
            classify(StatusCode::NOT_FOUND, &empty).map_err(|e| e.with_detail("unsupported path")),
            Err(SendError::Reject(r)) if r == "the server answered 404 Not Found: unsupported path"
        ));
    }

    #[derive(Debug)]
    struct Sending(std::io::Error);

    impl std::fmt::Display for Sending {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("error sending request")
        }
    }

    impl std::error::Error for Sending {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn an_error_says_its_causes() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(
            error_chain(&Sending(refused)),
            "error sending request: refused"
        );
    }
}
