//! The calls of etcd's v3 API that membership needs, through etcd's HTTP/JSON gateway
//! (`/v3/...`: keys and values base64, 64-bit integers as strings), over reqwest. The
//! endpoints are tried in turn; the one that answered is asked first next time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use crate::error_chain::error_chain;

/// Longest a unary call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// Most bytes one answer, or one watch message, may hold.
const MAX_MESSAGE: usize = 1 << 20;

/// What went wrong talking to etcd.
#[derive(Debug, thiserror::Error)]
#[error("etcd {endpoint}: {message}")]
pub struct EtcdError {
    /// The endpoint asked last.
    pub endpoint: String,
    /// What it said, or why it said nothing.
    pub message: String,
}

/// A client of one etcd cluster.
pub struct Etcd {
    client: reqwest::Client,
    endpoints: Vec<String>,
    current: AtomicUsize,
}

/// A key and its value, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// Its value.
    pub value: String,
}

/// An open watch: it yields when something under its prefix changed.
pub struct Watch {
    response: reqwest::Response,
    buffer: Vec<u8>,
    endpoint: String,
}

impl Etcd {
    /// A client of the cluster at `endpoints` (client URLs).
    pub fn new(endpoints: &[String]) -> Result<Self, EtcdError> {
        // `https://` endpoints use rustls with ring, the one provider built in.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(CALL_TIMEOUT)
            .build()
            .map_err(|e| EtcdError {
                endpoint: endpoints.join(","),
                message: format!("cannot build an HTTP client: {e}"),
            })?;
        Ok(Self {
            client,
            endpoints: endpoints
                .iter()
                .map(|e| e.trim_end_matches('/').to_string())
                .collect(),
            current: AtomicUsize::new(0),
        })
    }

    /// A lease of `ttl_secs`; its id.
    pub async fn grant(&self, ttl_secs: u64) -> Result<i64, EtcdError> {
        let answer = self.call("lease/grant", json!({"TTL": ttl_secs})).await?;
        integer(&answer["ID"]).ok_or_else(|| self.error(format!("no lease id in {answer}")))
    }

    /// Keeps lease `id` alive; whether it still was.
    pub async fn keep_alive(&self, id: i64) -> Result<bool, EtcdError> {
        let answer = self
            .call("lease/keepalive", json!({"ID": id.to_string()}))
            .await?;
        Ok(integer(&answer["result"]["TTL"]).is_some_and(|ttl| ttl > 0))
    }

    /// Ends lease `id` now, deleting its keys.
    pub async fn revoke(&self, id: i64) -> Result<(), EtcdError> {
        self.call("lease/revoke", json!({"ID": id.to_string()}))
            .await
            .map(drop)
    }

    /// Sets `key` to `value`, held by lease `lease`.
    pub async fn put(&self, key: &str, value: &str, lease: i64) -> Result<(), EtcdError> {
        let body = json!({"key": BASE64.encode(key), "value": BASE64.encode(value), "lease": lease.to_string()});
        self.call("kv/put", body).await.map(drop)
    }

    /// Every key under `prefix`, and the store's revision they were read at.
    pub async fn list(&self, prefix: &str) -> Result<(Vec<KeyValue>, i64), EtcdError> {
        let answer = self.call("kv/range", range(prefix)).await?;
        let revision = integer(&answer["header"]["revision"])
            .ok_or_else(|| self.error(format!("no revision in {answer}")))?;
        let decode = |v: &Value| {
            let bytes = BASE64.decode(v.as_str().unwrap_or_default()).ok()?;
            String::from_utf8(bytes).ok()
        };
        let kvs = answer["kvs"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        let pairs = kvs
            .iter()
            .filter_map(|kv| {
                Some(KeyValue {
                    key: decode(&kv["key"])?,
                    value: decode(&kv["value"]).unwrap_or_default(),
                })
            })
            .collect();
        Ok((pairs, revision))
    }

    /// Watches `prefix` for changes after `revision`.
    pub async fn watch(&self, prefix: &str, revision: i64) -> Result<Watch, EtcdError> {
        let mut request = range(prefix);
        request["start_revision"] = json!((revision + 1).to_string());
        let (response, endpoint) = self
            .send("watch", json!({"create_request": request}), None)
            .await?;
        Ok(Watch {
            response,
            buffer: Vec::new(),
            endpoint,
        })
    }

    /// A unary call: its answer as JSON.
    async fn call(&self, path: &str, body: Value) -> Result<Value, EtcdError> {
        let (response, endpoint) = self.send(path, body, Some(CALL_TIMEOUT)).await?;
        let failed = |message: String| EtcdError {
            endpoint: endpoint.clone(),
            message,
        };
        if response.content_length().unwrap_or(0) > MAX_MESSAGE as u64 {
            return Err(failed(format!("{path}: answer past {MAX_MESSAGE} bytes")));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| failed(format!("{path}: {}", error_chain(&e))))?;
        let answer: Value = serde_json::from_slice(&bytes)
            .map_err(|e| failed(format!("{path}: not JSON ({e})")))?;
        if let Some(error) = answer.get("error") {
            return Err(failed(format!("{path}: {error}")));
        }
        Ok(answer)
    }

    /// Sends to the endpoints in turn, from the last that answered, until one does.
    async fn send(
        &self,
        path: &str,
        body: Value,
        timeout: Option<Duration>,
    ) -> Result<(reqwest::Response, String), EtcdError> {
        let first = self.current.load(Ordering::Relaxed);
        let mut last = None;
        for n in 0..self.endpoints.len() {
            let at = (first + n) % self.endpoints.len();
            let endpoint = &self.endpoints[at];
            let mut request = self
                .client
                .post(format!("{endpoint}/v3/{path}"))
                .body(body.to_string());
            if let Some(timeout) = timeout {
                request = request.timeout(timeout);
            }
            match request.send().await {
                Ok(response) if response.status().is_success() => {
                    self.current.store(at, Ordering::Relaxed);
                    return Ok((response, endpoint.clone()));
                }
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    last = Some(EtcdError {
                        endpoint: endpoint.clone(),
                        message: format!("{path}: {status}: {}", text.trim()),
                    });
                }
                Err(e) => {
                    last = Some(EtcdError {
                        endpoint: endpoint.clone(),
                        message: format!("{path}: {}", error_chain(&e)),
                    });
                }
            }
        }
        Err(last.unwrap_or_else(|| self.error("no endpoint configured".into())))
    }

    /// An error about the endpoint asked last.
    pub fn error(&self, message: String) -> EtcdError {
        let at = self.current.load(Ordering::Relaxed);
        EtcdError {
            endpoint: self.endpoints.get(at).cloned().unwrap_or_default(),
            message,
        }
    }
}

impl Watch {
    /// Waits for the next change (a message with events); an error when the stream ends.
    pub async fn changed(&mut self) -> Result<(), EtcdError> {
        loop {
            while let Some(message) = self.next_message()? {
                if let Some(error) = message.get("error") {
                    return Err(self.failed(format!("watch: {error}")));
                }
                let result = &message["result"];
                if result["canceled"].as_bool() == Some(true) {
                    return Err(self.failed(format!("watch canceled: {result}")));
                }
                if result["events"].as_array().is_some_and(|e| !e.is_empty()) {
                    return Ok(());
                }
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => self.buffer.extend_from_slice(&chunk),
                Ok(None) => return Err(self.failed("watch ended".into())),
                Err(e) => return Err(self.failed(format!("watch: {}", error_chain(&e)))),
            }
            if self.buffer.len() > MAX_MESSAGE {
                return Err(self.failed(format!("watch message past {MAX_MESSAGE} bytes")));
            }
        }
    }

    /// The next whole JSON message in the buffer, if one has arrived.
    fn next_message(&mut self) -> Result<Option<Value>, EtcdError> {
        let mut stream = serde_json::Deserializer::from_slice(&self.buffer).into_iter::<Value>();
        match stream.next() {
            Some(Ok(message)) => {
                let used = stream.byte_offset();
                self.buffer.drain(..used);
                Ok(Some(message))
            }
            Some(Err(e)) if e.is_eof() => Ok(None),
            None => Ok(None),
            Some(Err(e)) => Err(self.failed(format!("watch: not JSON ({e})"))),
        }
    }

    fn failed(&self, message: String) -> EtcdError {
        EtcdError {
            endpoint: self.endpoint.clone(),
            message,
        }
    }
}

/// A range request for every key under `prefix`.
fn range(prefix: &str) -> Value {
    let mut end = prefix.as_bytes().to_vec();
    // The first key after every key with the prefix: its last byte plus one.
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    json!({"key": BASE64.encode(prefix), "range_end": BASE64.encode(end)})
}

/// An int64 as the gateway writes it (a string), or as a number.
fn integer(value: &Value) -> Option<i64> {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| value.as_i64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_ranges_to_its_successor() {
        let request = range("/wasmon/g/");
        assert_eq!(request["key"], BASE64.encode("/wasmon/g/"));
        assert_eq!(request["range_end"], BASE64.encode("/wasmon/g0"));
    }

    #[test]
    fn integers_come_as_strings_or_numbers() {
        assert_eq!(integer(&json!("7587")), Some(7587));
        assert_eq!(integer(&json!(12)), Some(12));
        assert_eq!(integer(&json!(null)), None);
    }
}
