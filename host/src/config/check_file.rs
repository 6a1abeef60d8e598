//! A check's config file, `conf.d/<check>.yaml`: `init_config` and `instances`.
//!
//! Each instance mixes the host's keys (schedule, tags, limits, grants) with the check's own.
//! The file is read twice, both times streaming from the text so errors keep their line: once
//! for the host's keys, once as JSON for the check, with the host's keys removed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value};

use super::error::ConfigErrors;
use super::{ConfigError, yaml};
use crate::capabilities::{self, Grants, GrantsConfig, InstanceKeys};

/// Keys of an instance that belong to the host besides the capabilities' own
/// ([`capabilities::HOST_KEYS`]).
const OWN_KEYS: [&str; 7] = [
    "min_collection_interval",
    "timeout",
    "align",
    "tags",
    "limits",
    "grants",
    "cluster_check",
];

/// Keys of an instance that belong to the host: never passed to the check, and suggested when
/// a check's key looks like a misspelling of one.
fn host_keys() -> impl Iterator<Item = &'static str> {
    OWN_KEYS.into_iter().chain(
        capabilities::HOST_KEYS
            .iter()
            .flat_map(|keys| keys.iter().copied()),
    )
}

/// The host's keys of one instance, as written.
#[derive(Debug, Deserialize)]
struct HostKeys {
    /// Seconds between runs; the check's default when unset.
    #[serde(default)]
    min_collection_interval: Option<f64>,
    /// Seconds a run may take before it is stopped; the interval when unset.
    #[serde(default)]
    timeout: Option<f64>,
    /// Snap runs and their timestamps to multiples of the interval.
    #[serde(default)]
    align: bool,
    /// `key:value` tags added to every series of the instance.
    #[serde(default)]
    tags: Vec<String>,
    /// Resource limits of the instance's sandbox.
    #[serde(default)]
    limits: Limits,
    /// What the instance may reach outside its sandbox, under `grants:` (those granted by
    /// keys at the instance's top level are read by [`InstanceKeys::read`]).
    #[serde(default)]
    grants: GrantsConfig,
    /// Runs on one member of the agent's cluster group; the file's `cluster_check` when unset.
    #[serde(default)]
    cluster_check: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostView {
    #[serde(default)]
    #[allow(dead_code)]
    init_config: IgnoredAny,
    /// Every instance runs on one member of the cluster group (Datadog's key, at the top).
    #[serde(default)]
    cluster_check: bool,
    instances: Vec<HostKeys>,
}

#[derive(Debug, Deserialize)]
struct CheckView {
    #[serde(default)]
    init_config: Value,
    instances: Vec<Map<String, Value>>,
}

/// `limits:` of an instance; unset fields take the agent's `defaults`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Linear memory the instance may grow to, in MiB.
    pub memory_mib: Option<u32>,
    /// Samples one run may submit.
    pub max_samples: Option<u32>,
    /// Service checks one run may submit.
    pub max_service_checks: Option<u32>,
    /// Bytes of names, tags and messages one run may submit, in KiB.
    pub max_submit_kib: Option<u32>,
    /// Log lines (its own and what it prints) one run may write to the agent's log.
    pub max_log_lines: Option<u32>,
    /// Longest log line kept, in bytes; longer ones are cut.
    pub max_log_line_bytes: Option<u32>,
    /// Seconds `describe` and `init` may take.
    pub start_timeout: Option<f64>,
}

/// One instance, validated.
#[derive(Debug, Clone)]
pub struct InstanceConfig {
    /// Position in `instances`.
    pub index: usize,
    /// Interval from the config; the check's default applies when `None`.
    pub interval: Option<Duration>,
    /// Run timeout from the config; the interval applies when `None`.
    pub timeout: Option<Duration>,
    /// Whether runs snap to multiples of the interval.
    pub align: bool,
    /// Tags for every series of the instance.
    pub tags: Vec<String>,
    /// Limits as written.
    pub limits: Limits,
    /// What the instance may reach.
    pub grants: Grants,
    /// The check's own keys, as a JSON object.
    pub check_config: Value,
    /// Hash of `init_config` and everything the instance says: it changes when either does.
    pub fingerprint: u64,
    /// Runs on exactly one live member of the agent's cluster group.
    pub cluster_check: bool,
    /// sha256 of what the instance says (and its rank among identical ones): with the check's
    /// name, it names the instance alike on every agent with the same config.
    pub identity: String,
    /// Keys given to the check that look like a misspelt wasmon key, with that key
    /// (`grant` → `grants`), to say so if the instance does not start.
    pub near_misses: Vec<(String, &'static str)>,
}

/// The check's keys that are one or two edits from a wasmon key (and not one).
fn near_misses(own: &Map<String, Value>) -> Vec<(String, &'static str)> {
    own.keys()
        .filter_map(|key| {
            host_keys()
                .map(|host| (strsim::damerau_levenshtein(key, host), host))
                .filter(|(d, host)| *d > 0 && *d <= 2 && host.len() > 2 * d)
                .min()
                .map(|(_, host)| (key.clone(), host))
        })
        .collect()
}

/// What to add to an error about an instance that did not start: its keys that look like
/// misspelt wasmon keys, and the keys wasmon itself takes.
pub fn near_miss_hint(instance: &InstanceConfig) -> Option<String> {
    if instance.near_misses.is_empty() {
        return None;
    }
    let guesses: Vec<String> = instance
        .near_misses
        .iter()
        .map(|(key, host)| format!("`{key}` is not a wasmon key: did you mean `{host}`?"))
        .collect();
    Some(format!(
        "{} (wasmon's own keys: {})",
        guesses.join("; "),
        host_keys().collect::<Vec<_>>().join(", ")
    ))
}

/// A parsed `conf.d/<check>.yaml`.
#[derive(Debug, Clone)]
pub struct CheckFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The check it configures: the file's stem.
    pub check: String,
    /// The file's text, to point at fields only the check knows.
    pub text: String,
    /// `init_config` as JSON (`null` when absent).
    pub init_config: Value,
    /// Every instance.
    pub instances: Vec<InstanceConfig>,
}

impl CheckFile {
    /// Reads and validates a check config, reporting every problem found.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::file(path, format!("cannot read: {e}")))?;
        Self::parse(path, text)
    }

    /// Parses a check config from its text.
    pub fn parse(path: &Path, text: String) -> Result<Self, ConfigErrors> {
        let check = check_name(path)?;
        // `${VAR}` and `ENC[handle]` resolved once for both views (secrets.rs).
        let document = super::secrets::resolve(path, &text)?;
        let hosts: HostView = document.parse()?;
        let checks: CheckView = document.parse()?;
        if hosts.instances.is_empty() {
            return Err(ConfigError::field(
                path,
                yaml::find_key_line(&text, "instances", 1),
                "instances",
                "is empty: list at least one instance",
            )
            .into());
        }
        let mut errors = Vec::new();
        let mut instances = Vec::new();
        let mut seen = Vec::new();
        let keys = InstanceKeys::read(&document, hosts.instances.len())?;
        for (index, ((host, mut own), keys)) in hosts
            .instances
            .into_iter()
            .zip(checks.instances)
            .zip(keys)
            .enumerate()
        {
            // Everything the instance says, as JSON (objects keep their keys sorted).
            let said = Value::Object(own.clone()).to_string();
            let fingerprint = fingerprint(&checks.init_config, &said);
            let identity = identity(&said, &mut seen);
            let secret = capabilities::SECRET_KEYS
                .iter()
                .flat_map(|k| k.iter().copied());
            for key in host_keys().chain(secret) {
                own.remove(key);
            }
            let mut fail = |field: &str, message: String| {
                let field = format!("instances[{index}].{field}");
                errors.push(ConfigError::field(
                    path,
                    yaml::locate(&text, &field),
                    field,
                    message,
                ));
            };
            let interval = seconds(host.min_collection_interval)
                .map_err(|m| fail("min_collection_interval", m))
                .ok()
                .flatten();
            let timeout = seconds(host.timeout)
                .map_err(|m| fail("timeout", m))
                .ok()
                .flatten();
            if let Err(m) = seconds(host.limits.start_timeout) {
                fail("limits.start_timeout", m);
            }
            for (i, tag) in host.tags.iter().enumerate() {
                if tag.is_empty() || tag.chars().any(char::is_whitespace) {
                    fail(
                        &format!("tags[{i}]"),
                        format!("{tag:?}: expected `key:value` without spaces"),
                    );
                }
            }
            let grants = Grants::parse(&host.grants, &keys).unwrap_or_else(|problems| {
                for (field, message) in problems {
                    fail(&field, message);
                }
                Grants::default()
            });
            let near_misses = near_misses(&own);
            instances.push(InstanceConfig {
                index,
                near_misses,
                interval,
                timeout,
                align: host.align,
                tags: host.tags,
                limits: host.limits,
                grants,
                check_config: Value::Object(own),
                fingerprint,
                cluster_check: host.cluster_check.unwrap_or(hosts.cluster_check),
                identity,
            });
        }
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Ok(Self {
            path: path.to_path_buf(),
            check,
            text,
            init_config: checks.init_config,
            instances,
        })
    }

    /// The same config for check `name` (a config tried under another file name).
    pub fn named(mut self, name: &str) -> Self {
        self.check = name.to_string();
        self
    }

    /// The line of a dotted field path (`instances[0].port`) in this file.
    pub fn line_of(&self, field: &str) -> Option<usize> {
        yaml::locate(&self.text, field)
    }
}

/// A stable hash of `init_config` and an instance's whole config, as JSON.
fn fingerprint(init_config: &Value, instance: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&init_config.to_string(), &mut hasher);
    std::hash::Hash::hash(instance, &mut hasher);
    std::hash::Hasher::finish(&hasher)
}

/// The hex sha256 of an instance's whole config, with `#n` for the n-th repeat of one seen
/// before in the same file.
fn identity(instance: &str, seen: &mut Vec<String>) -> String {
    use sha2::{Digest, Sha256};
    let digest = hex::encode(Sha256::digest(instance));
    let repeats = seen.iter().filter(|d| **d == digest).count();
    seen.push(digest.clone());
    match repeats {
        0 => digest,
        n => format!("{digest}#{n}"),
    }
}

/// `conf.d/mysql.yaml` configures the check `mysql`.
fn check_name(path: &Path) -> Result<String, ConfigError> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let valid = !stem.is_empty()
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(stem.to_string())
    } else {
        Err(ConfigError::file(
            path,
            "a check name is letters, digits, `_` and `-`",
        ))
    }
}

fn seconds(value: Option<f64>) -> Result<Option<Duration>, String> {
    match value {
        None => Ok(None),
        Some(v) if (0.01..=86_400.0).contains(&v) => Ok(Some(Duration::from_secs_f64(v))),
        Some(v) => Err(format!("{v}: expected seconds between 0.01 and 86400")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CheckFile, ConfigErrors> {
        CheckFile::parse(Path::new("conf.d/demo.yaml"), text.to_string())
    }

    #[test]
    fn host_keys_are_split_from_the_checks_own() {
        let f = parse(
            "init_config:\n  a: 1\ninstances:\n  - min_collection_interval: 5\n    tags: [env:x]\n    \
             grants: {files: [/proc/stat], fs_usage: true}\n    port: 3306\n    align: true\n",
        )
        .unwrap();
        assert_eq!(f.check, "demo");
        assert_eq!(f.init_config, serde_json::json!({"a": 1}));
        let i = &f.instances[0];
        assert_eq!(i.interval, Some(Duration::from_secs(5)));
        assert!(i.align);
        assert_eq!(i.tags, ["env:x"]);
        assert!(i.grants.fs_usage);
        assert_eq!(i.check_config, serde_json::json!({"port": 3306}));
    }

    #[test]
    fn every_error_is_reported_with_file_line_and_field() {
        let e = parse(
            "instances:\n  - min_collection_interval: -1\n    tags: [\"a b\"]\n  - grants:\n      files: [/proc/1/environ]\n",
        )
        .unwrap_err();
        let text = e.to_string();
        assert_eq!(e.0.len(), 3, "{text}");
        assert!(
            text.contains(
                "conf.d/demo.yaml:2: instances[0].min_collection_interval: -1: expected seconds"
            ),
            "{text}"
        );
        assert!(text.contains("instances[0].tags[0]"), "{text}");
        assert!(
            text.contains("conf.d/demo.yaml:5: instances[1].grants.files[0]"),
            "{text}"
        );
        assert!(
            text.contains("conf.d/demo.yaml:3: instances[0].tags[0]"),
            "{text}"
        );
    }

    #[test]
    fn fingerprints_follow_each_instance() {
        let a = parse("instances:\n  - port: 1\n  - port: 2\n").unwrap();
        let b = parse("instances:\n  - port: 1\n  - port: 3\n").unwrap();
        let c = parse("init_config: {x: 1}\ninstances:\n  - port: 1\n  - port: 2\n").unwrap();
        assert_eq!(a.instances[0].fingerprint, b.instances[0].fingerprint);
        assert_ne!(a.instances[1].fingerprint, b.instances[1].fingerprint);
        assert_ne!(a.instances[0].fingerprint, c.instances[0].fingerprint);
    }

    #[test]
    fn identities_follow_what_an_instance_says_not_where_it_is() {
        let a = parse("instances:\n  - port: 1\n  - port: 2\n  - port: 1\n").unwrap();
        let b = parse(
            "cluster_check: true\ninstances:\n  - port: 2\n  - port: 1\n    cluster_check: false\n",
        )
        .unwrap();
        let ids = |f: &CheckFile| {
            f.instances
                .iter()
                .map(|i| i.identity.clone())
                .collect::<Vec<_>>()
        };
        let (a, b) = (ids(&a), ids(&b));
        assert_eq!(a[1], b[0]);
        assert_eq!(a[2], format!("{}#1", a[0]));
        assert_ne!(a[0], b[1], "the instance's own keys are part of it");
        let b = parse(
            "cluster_check: true\ninstances:\n  - port: 2\n  - port: 1\n    cluster_check: false\n",
        )
        .unwrap();
        assert!(b.instances[0].cluster_check);
        assert!(!b.instances[1].cluster_check);
        assert!(b.instances[1].check_config.get("cluster_check").is_none());
    }

    #[test]
    fn a_command_is_a_grant() {
        let f = parse(
            "instances:\n  - command: [\"true\"]\n    exec: {timeout: 2}\n    metric_name: x\n",
        )
        .unwrap();
        let i = &f.instances[0];
        let grant = i.grants.exec.as_ref().unwrap();
        assert_eq!(grant.argv, ["true"]);
        assert_eq!(grant.timeout, Duration::from_secs(2));
        assert_eq!(i.check_config, serde_json::json!({"metric_name": "x"}));
        let e = parse("instances:\n  - exec: {shell: true}\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("demo.yaml:2: instances[0].exec: is set but there is no `command`"),
            "{e}"
        );
        let e = parse("instances:\n  - command: \"x\"\n    exec: {shel: true}\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("instances[0].exec: unknown field `shel`"),
            "{e}"
        );
    }

    #[test]
    fn every_capabilitys_problem_is_named_at_once_in_list_order() {
        let e = parse(
            "instances:\n  - grants:\n      files: [rel]\n      http:\n        allow: []\n    \
             exec: {timeout: 1}\n    sock: rel.sock\n",
        )
        .unwrap_err();
        let text = e.to_string();
        let fields = [
            "demo.yaml:3: instances[0].grants.files[0]",
            "demo.yaml:5: instances[0].grants.http.allow",
            "demo.yaml:6: instances[0].exec",
            "demo.yaml:7: instances[0].sock",
        ];
        let mut at = 0;
        for field in fields {
            let found = text[at..].find(field).map(|i| at + i);
            assert!(found.is_some(), "{field} (in order) in {text}");
            at = found.unwrap_or(at);
        }
    }

    #[test]
    fn typos_and_broken_yaml() {
        let e = parse("instance:\n  - {}\n").unwrap_err();
        assert!(e.to_string().contains("conf.d/demo.yaml:1: unknown field `instance`, expected one of `init_config`, `cluster_check`, `instances`"), "{e}");
        let e = parse("instances:\n  - limits: {memory_mb: 3}\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("instances[0].limits: unknown field `memory_mb`"),
            "{e}"
        );
        let e = parse("instances: [\n").unwrap_err();
        assert!(e.0[0].line.is_some(), "{e}");
        let e = parse("instances: []\n").unwrap_err();
        assert!(e.to_string().contains("instances: is empty"), "{e}");
        let e = parse("instances:\n  - min_collection_interval: soon\n").unwrap_err();
        assert!(e.to_string().contains(":2: instances[0].min_collection_interval: invalid type: string \"soon\", expected f64"), "{e}");
    }

    #[test]
    fn misspelt_wasmon_keys_are_named_with_a_guess() {
        let file = parse(
            "instances:\n  - min_colection_interval: 1\n    grant: {files: [x]}\n    port: 1\n",
        )
        .unwrap();
        let instance = &file.instances[0];
        assert_eq!(
            instance.near_misses,
            [
                ("grant".to_string(), "grants"),
                (
                    "min_colection_interval".to_string(),
                    "min_collection_interval"
                )
            ]
        );
        let hint = near_miss_hint(instance).unwrap();
        assert!(
            hint.contains("`grant` is not a wasmon key: did you mean `grants`?"),
            "{hint}"
        );
        assert!(hint.contains("wasmon's own keys: min_collection_interval, timeout"));
        let fine = parse("instances:\n  - port: 1\n").unwrap();
        assert_eq!(near_miss_hint(&fine.instances[0]), None);
    }
}
