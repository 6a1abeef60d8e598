//! `trusted_keys:` and `sources:` in `wasmon.yaml`: where checks are pulled from, and whose
//! signatures make them runnable.

use std::path::PathBuf;
use std::str::FromStr;

use oci_client::Reference;
use serde::Deserialize;

use super::signature::TrustedKey;

/// One check pulled from an OCI registry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The check this component is: it runs the instances of `conf.d/<check>.yaml`.
    pub check: String,
    /// `registry[:port]/repository:tag` (followed at each poll) or `…@sha256:<hex>` (pinned).
    pub reference: String,
    /// Seconds between polls of the tag.
    #[serde(default = "default_poll_secs")]
    pub poll_secs: f64,
    /// The registry's credentials.
    #[serde(default)]
    pub auth: SourceAuth,
    /// Plain HTTP instead of HTTPS: only for a registry on loopback.
    #[serde(default)]
    pub insecure: bool,
    /// Largest component accepted, in MiB.
    #[serde(default = "default_max_size_mib")]
    pub max_size_mib: u64,
    /// The check's `init_config`, with `instances` written here.
    #[serde(default)]
    pub init_config: Option<serde_yaml::Value>,
    /// The check's instances, written here instead of in `conf.d/<check>.yaml`.
    #[serde(default)]
    pub instances: Option<Vec<serde_yaml::Value>>,
}

/// How the agent authenticates to a registry: written as `username` + `password`, `token`,
/// or `docker_config`; nothing for anonymous.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(try_from = "AuthFields")]
pub enum SourceAuth {
    /// No credentials (a bearer token is still fetched when the registry asks for one).
    #[default]
    Anonymous,
    /// A user name and password (`${VAR}` and `ENC[…]` work here).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// A bearer token sent as it is.
    Bearer(String),
    /// The registry's entry in a Docker-style `config.json` (`auths.<registry>.auth`).
    DockerConfig(PathBuf),
}

/// `auth:` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthFields {
    /// A user name, with `password`.
    username: Option<String>,
    /// The password (`${VAR}` and `ENC[…]` work here).
    password: Option<String>,
    /// A bearer token.
    token: Option<String>,
    /// A Docker-style `config.json`.
    docker_config: Option<PathBuf>,
}

impl TryFrom<AuthFields> for SourceAuth {
    type Error = String;

    fn try_from(f: AuthFields) -> Result<Self, String> {
        match (f.username, f.password, f.token, f.docker_config) {
            (None, None, None, None) => Ok(Self::Anonymous),
            (Some(username), Some(password), None, None) => Ok(Self::Basic { username, password }),
            (None, None, Some(token), None) => Ok(Self::Bearer(token)),
            (None, None, None, Some(path)) => Ok(Self::DockerConfig(path)),
            (Some(_), None, None, None) | (None, Some(_), None, None) => {
                Err("`username` and `password` go together".into())
            }
            _ => Err(
                "give one of `username` + `password`, `token` or `docker_config`, not several"
                    .into(),
            ),
        }
    }
}

/// Seconds between polls when a source does not say.
pub const DEFAULT_POLL_SECS: f64 = 300.0;
/// Largest component, in MiB, when a source does not say.
pub const DEFAULT_MAX_SIZE_MIB: u64 = 64;

fn default_poll_secs() -> f64 {
    DEFAULT_POLL_SECS
}

fn default_max_size_mib() -> u64 {
    DEFAULT_MAX_SIZE_MIB
}

/// Shortest poll interval accepted, in seconds.
const MIN_POLL_SECS: f64 = 1.0;
/// Longest poll interval accepted: a day.
const MAX_POLL_SECS: f64 = 86_400.0;
/// Largest `max_size_mib` accepted.
const MAX_SIZE_MIB: u64 = 1_024;

impl SourceConfig {
    /// The parsed reference.
    pub fn parsed(&self) -> Result<Reference, String> {
        let reference = Reference::from_str(&self.reference)
            .map_err(|e| format!("{:?}: not an OCI reference: {e}", self.reference))?;
        if reference.tag().is_none() && reference.digest().is_none() {
            return Err(format!(
                "{:?}: name a tag (`:1`) or a digest (`@sha256:…`)",
                self.reference
            ));
        }
        Ok(reference)
    }

    /// The largest component accepted, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_size_mib * 1024 * 1024
    }

    /// Every problem of the entry, as `(field, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if !valid_check_name(&self.check) {
            problems.push((
                "check".into(),
                format!(
                    "{:?}: a check name is letters, digits, `_` and `-`",
                    self.check
                ),
            ));
        }
        match self.parsed() {
            Ok(reference) => {
                if self.insecure && !is_loopback(reference.resolve_registry()) {
                    problems.push((
                        "insecure".into(),
                        format!(
                            "plain HTTP is only for a registry on loopback, not {}",
                            reference.resolve_registry()
                        ),
                    ));
                }
            }
            Err(e) => problems.push(("reference".into(), e)),
        }
        if !(MIN_POLL_SECS..=MAX_POLL_SECS).contains(&self.poll_secs) {
            problems.push((
                "poll_secs".into(),
                format!(
                    "{}: expected seconds between {MIN_POLL_SECS} and {MAX_POLL_SECS}",
                    self.poll_secs
                ),
            ));
        }
        if self.init_config.is_some() && self.instances.is_none() {
            problems.push((
                "init_config".into(),
                "goes with `instances`: without them the check's config is conf.d's".into(),
            ));
        }
        if !(1..=MAX_SIZE_MIB).contains(&self.max_size_mib) {
            problems.push((
                "max_size_mib".into(),
                format!(
                    "{}: expected MiB between 1 and {MAX_SIZE_MIB}",
                    self.max_size_mib
                ),
            ));
        }
        problems
    }
}

/// Every problem of `trusted_keys` and `sources`, as `(field, message)`.
pub fn problems(trusted_keys: &[String], sources: &[SourceConfig]) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for (i, key) in trusted_keys.iter().enumerate() {
        if let Err(e) = TrustedKey::parse(key) {
            problems.push((format!("trusted_keys[{i}]"), e.to_string()));
        }
    }
    if !sources.is_empty() && trusted_keys.is_empty() {
        problems.push((
            "trusted_keys".into(),
            "is empty, so no pulled check could run: list the minisign public keys whose \
             signatures you trust"
                .into(),
        ));
    }
    for (i, source) in sources.iter().enumerate() {
        for (field, message) in source.problems() {
            problems.push((format!("sources[{i}].{field}"), message));
        }
        if let Some(first) = sources[..i].iter().position(|s| s.check == source.check) {
            problems.push((
                format!("sources[{i}].check"),
                format!(
                    "{:?} is already pulled by sources[{first}]: a check has one source",
                    source.check
                ),
            ));
        }
    }
    problems
}

fn valid_check_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Whether a registry's host is a loopback name or address.
fn is_loopback(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => registry,
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(yaml: &str) -> SourceConfig {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn the_defaults_and_every_auth_form_parse() {
        let s = source("check: disk\nreference: 127.0.0.1:5000/checks/disk:1\n");
        assert_eq!((s.poll_secs, s.max_size_mib), (300.0, 64));
        assert_eq!(s.auth, SourceAuth::Anonymous);
        assert!(s.problems().is_empty(), "{:?}", s.problems());
        let s = source("check: d\nreference: r.io/d:1\nauth: {username: u, password: p}");
        assert!(matches!(s.auth, SourceAuth::Basic { .. }));
        let s = source("check: d\nreference: r.io/d:1\nauth: {token: t}");
        assert_eq!(s.auth, SourceAuth::Bearer("t".into()));
        for bad in [
            "{username: u}",
            "{token: t, docker_config: /c.json}",
            "{user: u}",
        ] {
            let yaml = format!("check: d\nreference: r.io/d:1\nauth: {bad}");
            assert!(
                serde_yaml::from_str::<SourceConfig>(&yaml).is_err(),
                "{bad}"
            );
        }
        let s = source("check: d\nreference: r.io/d:1\nauth: {docker_config: /c.json}");
        assert_eq!(s.auth, SourceAuth::DockerConfig("/c.json".into()));
        let e = serde_yaml::from_str::<SourceConfig>("check: d\nreference: r/d:1\npoll: 5\n");
        assert!(e.unwrap_err().to_string().contains("unknown field `poll`"));
    }

    #[test]
    fn plain_http_is_refused_off_loopback_and_every_problem_is_named() {
        let s = source(
            "check: di.sk\nreference: registry.example.com/d:1\ninsecure: true\npoll_secs: 0\n\
             max_size_mib: 0\n",
        );
        let fields: Vec<String> = s.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["check", "insecure", "poll_secs", "max_size_mib"]);
        for loopback in ["127.0.0.1:5000", "localhost:5000", "127.0.0.2"] {
            let s = source(&format!(
                "check: d\nreference: \"{loopback}/d:1\"\ninsecure: true\n"
            ));
            assert!(s.problems().is_empty(), "{loopback}: {:?}", s.problems());
        }
    }

    #[test]
    fn sources_need_trusted_keys_and_one_source_per_check() {
        let s = source("check: d\nreference: 127.0.0.1:5000/d:1\n");
        let fields: Vec<String> = problems(&[], &[s.clone(), s])
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(fields, ["trusted_keys", "sources[1].check"]);
        let bad = problems(&["RWnot-a-key".into()], &[]);
        assert_eq!(bad[0].0, "trusted_keys[0]");
    }
}
