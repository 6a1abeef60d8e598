//! `grants.http`: the hosts and ports an instance may send `wasi:http` requests to, with a
//! timeout and a cap on response size.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::uri::Authority;
use serde::Deserialize;

use super::Http;
use crate::capabilities::{Capability, Grantable};

/// `grants.http:` of an instance, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpGrantConfig {
    /// `host:port` pairs requests may go to: `127.0.0.1:8080`, `[::1]:9200`,
    /// `localhost:80`. A name is resolved by the agent at every request, and the request goes
    /// only to the addresses it resolves to that pass the check again.
    pub allow: Vec<String>,
    /// Seconds one request may take, from connecting to the last byte of the response; never
    /// longer than what is left of the run's timeout.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: f64,
    /// The largest response body accepted, in bytes; a longer one fails the request.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: u64,
}

fn default_timeout_secs() -> f64 {
    10.0
}

fn default_max_response_bytes() -> u64 {
    4 << 20
}

/// Where a request may go: a host (a name or an address) and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    /// The host, lower case; an address when the entry is one.
    pub host: HttpHost,
    /// The port.
    pub port: u16,
}

/// The host part of an allowed target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpHost {
    /// A DNS name, lower case.
    Name(String),
    /// An IP address.
    Ip(IpAddr),
}

impl HttpTarget {
    /// Parses `host:port` (`[v6]:port` for IPv6), with `default_port` when none is written.
    pub fn parse(text: &str, default_port: Option<u16>) -> Result<Self, String> {
        let authority: Authority = text
            .parse()
            .map_err(|e| format!("{text:?} is not `host:port`: {e}"))?;
        if text.contains('@') {
            return Err(format!("{text:?}: `user@` is not allowed here"));
        }
        let port = authority
            .port_u16()
            .or(default_port)
            .ok_or_else(|| format!("{text:?} has no port: write `host:port`"))?;
        let host = authority.host();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let host = match bare.parse::<IpAddr>() {
            Ok(ip) => HttpHost::Ip(canonical(ip)),
            Err(_) if host.starts_with('[') => {
                return Err(format!("{text:?}: {host} is not an IPv6 address"));
            }
            Err(_) => HttpHost::Name(host.to_ascii_lowercase()),
        };
        Ok(Self { host, port })
    }
}

impl std::fmt::Display for HttpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.host {
            HttpHost::Name(name) => write!(f, "{name}:{}", self.port),
            HttpHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            HttpHost::Ip(ip) => write!(f, "{ip}:{}", self.port),
        }
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) is the IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Validated `grants.http`.
#[derive(Debug, Clone)]
pub struct HttpGrant {
    /// Where requests may go.
    pub allow: Vec<HttpTarget>,
    /// The longest a request may take.
    pub timeout: Duration,
    /// The largest response body accepted.
    pub max_response_bytes: u64,
}

impl HttpGrant {
    /// Validates the written grant; each problem is `(field, message)`.
    pub fn parse(config: &HttpGrantConfig) -> Result<Self, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let mut allow = Vec::new();
        for (i, text) in config.allow.iter().enumerate() {
            match HttpTarget::parse(text, None) {
                Ok(target) => allow.push(target),
                Err(message) => errors.push((format!("grants.http.allow[{i}]"), message)),
            }
        }
        if config.allow.is_empty() {
            errors.push((
                "grants.http.allow".into(),
                "expected at least one `host:port`".into(),
            ));
        }
        let timeout = Duration::try_from_secs_f64(config.timeout_secs)
            .ok()
            .filter(|t| !t.is_zero());
        if timeout.is_none() {
            errors.push((
                "grants.http.timeout_secs".into(),
                format!(
                    "expected a positive number of seconds, not {}",
                    config.timeout_secs
                ),
            ));
        }
        if config.max_response_bytes == 0 {
            errors.push((
                "grants.http.max_response_bytes".into(),
                "expected a positive number of bytes".into(),
            ));
        }
        match timeout {
            Some(timeout) if errors.is_empty() => Ok(Self {
                allow,
                timeout,
                max_response_bytes: config.max_response_bytes,
            }),
            _ => Err(errors),
        }
    }

    /// One line for `configcheck` and `inspect`.
    fn describe(&self) -> String {
        let targets: Vec<String> = self.allow.iter().map(ToString::to_string).collect();
        format!(
            "HTTP to {} (timeout {:?}, responses up to {} bytes)",
            targets.join(", "),
            self.timeout,
            self.max_response_bytes
        )
    }
}

impl Grantable for Http {
    const CAPABILITY: Capability = super::HTTP;
    type Config = Option<HttpGrantConfig>;
    type Granted = Option<Arc<HttpGrant>>;

    fn parse(
        config: &Option<HttpGrantConfig>,
    ) -> Result<Option<Arc<HttpGrant>>, Vec<(String, String)>> {
        config
            .as_ref()
            .map(|c| HttpGrant::parse(c).map(Arc::new))
            .transpose()
    }

    fn describe(granted: &Option<Arc<HttpGrant>>) -> Vec<String> {
        granted.iter().map(|h| h.describe()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_names_addresses_and_ports() {
        let t = HttpTarget::parse("LocalHost:8080", None).unwrap();
        assert_eq!(t.host, HttpHost::Name("localhost".into()));
        assert_eq!(t.port, 8080);
        let t = HttpTarget::parse("[::1]:9200", None).unwrap();
        assert_eq!(t.host, HttpHost::Ip("::1".parse().unwrap()));
        assert_eq!(t.to_string(), "[::1]:9200");
        let t = HttpTarget::parse("[::ffff:10.0.0.1]:80", None).unwrap();
        assert_eq!(t.host, HttpHost::Ip("10.0.0.1".parse().unwrap()));
        assert_eq!(
            HttpTarget::parse("example.com", Some(443)).unwrap().port,
            443
        );
    }

    #[test]
    fn bad_targets_say_what_is_expected() {
        assert!(
            HttpTarget::parse("example.com", None)
                .unwrap_err()
                .contains("no port")
        );
        assert!(HttpTarget::parse("a b:80", None).is_err());
        assert!(HttpTarget::parse("user@host:80", None).is_err());
        assert!(HttpTarget::parse("[nope]:80", None).is_err());
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let problems = HttpGrant::parse(&HttpGrantConfig {
            allow: vec!["localhost:80".into(), "nohost".into()],
            timeout_secs: -1.0,
            max_response_bytes: 0,
        })
        .unwrap_err();
        let fields: Vec<_> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "grants.http.allow[1]",
                "grants.http.timeout_secs",
                "grants.http.max_response_bytes"
            ]
        );
    }
}
