//! Outgoing `wasi:http` requests, allowed only where the instance's `grants.http` says.
//!
//! Every request is checked twice: its `host:port` against the allow-list, then the addresses
//! the host resolves the name to (a listed name may not lead to a link-local, multicast or
//! unspecified address, e.g. a cloud metadata service, unless that address is listed too).
//! The agent then connects to a checked address itself, so no second lookup can send the
//! request elsewhere. Each request is bounded by the grant's timeout and what is left of the
//! run, and its response body by the grant's size cap.

mod config;

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::Scheme;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Sleep;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::{Capability, Grant, Link};
use config::canonical as canonical_ip;
pub use config::{HttpGrant, HttpHost, HttpTarget};

/// The HTTP capability, as registered.
pub struct Http;

/// Outgoing `wasi:http` requests to the hosts `grants.http` lists.
pub const HTTP: Capability = Capability {
    interfaces: &[],
    grant: Some(Grant {
        granted: |grants| grants.http.is_some(),
        missing: "HTTP hosts",
        hint: "grants: {http: [...]}",
    }),
    always_linked: true,
    link: Link::Once(wasmtime_wasi_http::p2::add_only_http_to_linker_async),
    worlds: &[],
    wit: None,
};

/// The `wasi:http` hooks of one Store: the grant and the current call's deadline.
pub struct HttpGate {
    grant: Option<Arc<HttpGrant>>,
    label: Arc<str>,
    /// When the current call into the guest must stop.
    pub(crate) deadline: Option<Instant>,
    /// Nanoseconds spent in requests (until their response head) since the last take.
    spent: Arc<AtomicU64>,
}

impl HttpGate {
    /// Requests allowed by `grant`; none without one.
    pub fn new(grant: Option<Arc<HttpGrant>>, label: Arc<str>) -> Self {
        Self {
            grant,
            label,
            deadline: None,
            spent: Arc::default(),
        }
    }

    /// Time spent in requests since the last call.
    pub fn take_spent(&self) -> Duration {
        Duration::from_nanos(self.spent.swap(0, Ordering::Relaxed))
    }
}

type Response = http::Response<WasiBody>;
type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

impl WasiHttpHooks for HttpGate {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> Box<dyn Future<Output = Result<(Response, IoFuture), Error>> + Send> {
        let grant = self.grant.clone();
        let label = self.label.clone();
        let run_deadline = self.deadline;
        let spent = self.spent.clone();
        Box::new(async move {
            let uri = request.uri().to_string();
            let started = Instant::now();
            let result = match grant {
                None => Err(Refusal::Denied(
                    "this instance has no `grants.http`".to_string(),
                )),
                Some(grant) => send_granted(&grant, run_deadline, request).await,
            };
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            spent.fetch_add(nanos, Ordering::Relaxed);
            result
                .map(|response| (response, Box::new(async { Ok(()) }) as IoFuture))
                .map_err(|refusal| {
                    tracing::warn!(check = %label, "HTTP request to {uri}: {refusal}");
                    refusal.into()
                })
        })
    }
}

/// Why a request failed, for the agent's log; the guest gets the matching `wasi:http` code.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("refused: {0}")]
    Denied(String),
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
    #[error("cannot resolve {0}: {1}")]
    Dns(String, std::io::Error),
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("TLS: {0}")]
    Tls(std::io::Error),
    #[error("the response has {0} bytes, over grants.http.max_response_bytes ({1})")]
    TooLarge(u64, u64),
    #[error("{0}")]
    Protocol(String),
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Denied(_) => Error::HttpRequestDenied,
            Refusal::Timeout(_) => Error::ConnectionTimeout,
            Refusal::Dns(_, e) => Error::DnsError {
                rcode: Some(e.to_string()),
                info_code: None,
            },
            Refusal::Connect(e) => Error::Connect(e),
            Refusal::Tls(e) => Error::Tls(e),
            Refusal::TooLarge(_, cap) => Error::HttpResponseBodySize(Some(cap)),
            Refusal::Protocol(m) => Error::InternalError(Some(m)),
        }
    }
}

/// Checks, resolves, connects and sends, all within the grant's timeout and the run's.
async fn send_granted(
    grant: &HttpGrant,
    run_deadline: Option<Instant>,
    mut request: http::Request<WasiBody>,
) -> Result<Response, Refusal> {
    let limit = run_deadline.map_or(grant.timeout, |d| {
        grant
            .timeout
            .min(d.saturating_duration_since(Instant::now()))
    });
    let deadline = tokio::time::Instant::now() + limit;
    let tls = request.uri().scheme() == Some(&Scheme::HTTPS);
    let target = request
        .uri()
        .authority()
        .ok_or_else(|| Refusal::Denied("the request names no host".into()))
        .and_then(|a| {
            HttpTarget::parse(a.as_str(), Some(if tls { 443 } else { 80 })).map_err(Refusal::Denied)
        })?;
    if !grant.allow.iter().any(|t| t.port == target.port) {
        return Err(Refusal::Denied(format!(
            "{target} is not in grants.http.allow"
        )));
    }
    let attempt = async {
        let resolved = resolve(&target).await?;
        let addresses = admit(grant, &target, &resolved).map_err(Refusal::Denied)?;
        let stream = connect(&addresses).await?;
        *request.uri_mut() = request.uri().path_and_query().map_or_else(
            || http::Uri::from_static("/"),
            |p| p.as_str().parse().unwrap_or_default(),
        );
        if tls {
            let stream = handshake_tls(&target, stream).await?;
            exchange(stream, request).await
        } else {
            exchange(stream, request).await
        }
    };
    let response = tokio::time::timeout_at(deadline, attempt)
        .await
        .map_err(|_| Refusal::Timeout(limit))??;
    let cap = grant.max_response_bytes;
    if let Some(length) = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .filter(|&length| length > cap)
    {
        return Err(Refusal::TooLarge(length, cap));
    }
    Ok(response.map(|incoming| {
        Bounded {
            incoming,
            left: cap,
            cap,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
        }
        .boxed_unsync()
    }))
}

/// The addresses `target` stands for: itself, or what its name resolves to.
async fn resolve(target: &HttpTarget) -> Result<Vec<IpAddr>, Refusal> {
    match &target.host {
        HttpHost::Ip(ip) => Ok(vec![*ip]),
        HttpHost::Name(name) => Ok(tokio::net::lookup_host((name.as_str(), target.port))
            .await
            .map_err(|e| Refusal::Dns(name.clone(), e))?
            .map(|a| canonical_ip(a.ip()))
            .collect()),
    }
}

/// The addresses among `resolved` that a request to `target` may connect to: those listed
/// themselves, and, when `target` is listed by name, those that are not special.
pub fn admit(
    grant: &HttpGrant,
    target: &HttpTarget,
    resolved: &[IpAddr],
) -> Result<Vec<SocketAddr>, String> {
    let name_listed = matches!(target.host, HttpHost::Name(_)) && grant.allow.contains(target);
    let listed = |ip: IpAddr| {
        grant.allow.contains(&HttpTarget {
            host: HttpHost::Ip(ip),
            port: target.port,
        })
    };
    let mut refused = Vec::new();
    let admitted: Vec<SocketAddr> = resolved
        .iter()
        .filter(|&&ip| {
            let ok = listed(ip) || (name_listed && !special(ip));
            if !ok {
                refused.push(ip.to_string());
            }
            ok
        })
        .map(|&ip| SocketAddr::new(ip, target.port))
        .collect();
    if admitted.is_empty() {
        return Err(if refused.is_empty() {
            format!("{target} resolves to no address")
        } else if name_listed {
            format!(
                "{target} resolves to {}: link-local, multicast or unspecified addresses must be listed in grants.http.allow themselves",
                refused.join(", ")
            )
        } else {
            format!(
                "{target} (resolving to {}) is not in grants.http.allow",
                refused.join(", ")
            )
        });
    }
    Ok(admitted)
}

/// Addresses a name may not lead to unless listed: link-local (cloud metadata services live
/// there), multicast, broadcast, unspecified.
fn special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_link_local() || v4.is_multicast() || v4.is_broadcast() || v4.is_unspecified()
        }
        IpAddr::V6(v6) => v6.is_unicast_link_local() || v6.is_multicast() || v6.is_unspecified(),
    }
}

/// The first of `addresses` that accepts a connection.
async fn connect(addresses: &[SocketAddr]) -> Result<TcpStream, Refusal> {
    let mut last = None;
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(Refusal::Connect(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "no address")
    })))
}

async fn handshake_tls(
    target: &HttpTarget,
    stream: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Refusal> {
    let config = tls_config().map_err(|e| Refusal::Tls(std::io::Error::other(e.clone())))?;
    let name = match &target.host {
        HttpHost::Ip(ip) => rustls::pki_types::ServerName::from(*ip),
        HttpHost::Name(name) => rustls::pki_types::ServerName::try_from(name.clone())
            .map_err(|e| Refusal::Tls(std::io::Error::other(e)))?,
    };
    tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(Refusal::Tls)
}

/// The TLS client settings (the system's verifier), made on the first HTTPS request and
/// shared by every later one.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, &'static rustls::Error> {
    use rustls_platform_verifier::ConfigVerifierExt;
    static CONFIG: std::sync::OnceLock<Result<Arc<rustls::ClientConfig>, rustls::Error>> =
        std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| rustls::ClientConfig::with_platform_verifier().map(Arc::new))
        .as_ref()
        .map(Arc::clone)
}

/// One HTTP/1.1 exchange over `stream`; the connection is driven by its own task.
async fn exchange(
    stream: impl AsyncRead + AsyncWrite + Send + Unpin + 'static,
    request: http::Request<WasiBody>,
) -> Result<http::Response<hyper::body::Incoming>, Refusal> {
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| Refusal::Protocol(e.to_string()))?;
    tokio::spawn(connection);
    sender
        .send_request(request)
        .await
        .map_err(|e| Refusal::Protocol(e.to_string()))
}

/// A response body cut off at the size cap and the request's deadline.
struct Bounded {
    incoming: hyper::body::Incoming,
    left: u64,
    cap: u64,
    deadline: Pin<Box<Sleep>>,
}

impl Body for Bounded {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Error::ConnectionReadTimeout)));
        }
        let frame = match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(Error::Hyper(e)))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        if let Some(data) = frame.data_ref() {
            let length = data.len() as u64;
            if length > self.left {
                return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(self.cap)))));
            }
            self.left -= length;
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(allow: &[&str]) -> HttpGrant {
        HttpGrant {
            allow: allow.iter().map(|s| target(s)).collect(),
            timeout: std::time::Duration::from_secs(1),
            max_response_bytes: 1024,
        }
    }

    fn target(text: &str) -> HttpTarget {
        HttpTarget::parse(text, None).unwrap()
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn a_listed_address_is_admitted_alone() {
        let g = grant(&["127.0.0.1:8080"]);
        let ok = admit(&g, &target("127.0.0.1:8080"), &ips(&["127.0.0.1"])).unwrap();
        assert_eq!(ok, ["127.0.0.1:8080".parse().unwrap()]);
        assert!(admit(&g, &target("127.0.0.2:8080"), &ips(&["127.0.0.2"])).is_err());
    }

    #[test]
    fn an_unlisted_name_goes_only_to_listed_addresses() {
        let g = grant(&["127.0.0.1:8080"]);
        let ok = admit(&g, &target("localhost:8080"), &ips(&["::1", "127.0.0.1"])).unwrap();
        assert_eq!(ok, ["127.0.0.1:8080".parse().unwrap()]);
        let e = admit(&g, &target("evil.example:8080"), &ips(&["10.1.2.3"])).unwrap_err();
        assert!(e.contains("not in grants.http.allow"), "{e}");
    }

    #[test]
    fn a_listed_name_may_not_lead_to_metadata_or_multicast() {
        let g = grant(&["metrics.example:80"]);
        let e = admit(
            &g,
            &target("metrics.example:80"),
            &ips(&["169.254.169.254", "fe80::1", "224.0.0.1", "0.0.0.0"]),
        )
        .unwrap_err();
        assert!(e.contains("169.254.169.254"), "{e}");
        let ok = admit(
            &g,
            &target("metrics.example:80"),
            &ips(&["169.254.169.254", "10.0.0.7"]),
        )
        .unwrap();
        assert_eq!(ok, ["10.0.0.7:80".parse().unwrap()]);
        let g = grant(&["metrics.example:80", "169.254.169.254:80"]);
        assert_eq!(
            admit(
                &g,
                &target("metrics.example:80"),
                &ips(&["169.254.169.254"])
            )
            .unwrap()
            .len(),
            1
        );
    }

    #[test]
    fn the_port_must_match() {
        let g = grant(&["localhost:8080"]);
        assert!(admit(&g, &target("localhost:8081"), &ips(&["127.0.0.1"])).is_err());
    }
}
