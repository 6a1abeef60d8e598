//! Sending one batch to a backend, and what a failure means for it: try again (after a
//! `Retry-After` if the server gave one) or drop it, because it will never be accepted.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

use super::batch::Batch;
use crate::error_chain::error_chain;

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
    fn with_detail(self, detail: &str) -> Self {
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

/// The bytes one batch put on the wire, or why it was not delivered.
pub type Sending<'a> = Pin<Box<dyn Future<Output = Result<usize, SendError>> + Send + 'a>>;

/// How a remote sink sends one batch; the shared delivery does the rest (disk buffer, order,
/// retries, stats).
pub trait Transport: Send {
    /// Whether the backend takes service checks, events and sketches as such; the others are
    /// sent [`crate::model::Payload::all_series`].
    fn carries_service_checks(&self) -> bool {
        false
    }

    /// Sends one batch.
    fn send<'a>(&'a mut self, batch: &'a Batch) -> Sending<'a>;
}

/// An HTTP API: one pooled client and the headers every request carries.
pub struct Http {
    client: reqwest::Client,
    headers: HeaderMap,
}

impl Http {
    /// A client whose requests time out after `timeout` and carry `headers`.
    pub fn new(timeout: Duration, headers: &[(&str, &str)]) -> Result<Self, String> {
        // HTTPS uses rustls with ring, the one provider built in (installing it twice is a
        // no-op).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("{name:?} is not a valid header name"))?;
            // The value is not repeated: it is often a secret.
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("the value of header {name} cannot be sent"))?;
            map.insert(name, value);
        }
        Ok(Self {
            client,
            headers: map,
        })
    }

    /// Posts `body` to `url` with the fixed headers, then `extra` over them.
    pub async fn post(
        &self,
        url: &str,
        extra: &[(HeaderName, HeaderValue)],
        body: Vec<u8>,
    ) -> Result<usize, SendError> {
        let mut headers = self.headers.clone();
        for (name, value) in extra {
            headers.insert(name, value.clone());
        }
        post(&self.client, url, &headers, body).await
    }
}

/// A body that could not be encoded: it never will be, so the batch is dropped.
pub fn unencodable(e: impl std::fmt::Display) -> SendError {
    SendError::Reject(format!("cannot encode: {e}"))
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

/// `data` gzip-compressed (fast level), in one write.
pub fn gzip(data: &[u8]) -> Result<Vec<u8>, String> {
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
fn classify(status: StatusCode, headers: &HeaderMap) -> Result<(), SendError> {
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
