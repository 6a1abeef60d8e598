//! The agent's own configuration, `wasmon.yaml`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ConfigError, ConfigErrors, LogConfig, yaml};
use crate::cluster::ClusterConfig;
use crate::intake::{DogstatsdConfig, PushConfig};
use crate::registry::SourceConfig;
use crate::sinks::SinkConfig;

/// The agent's configuration. Relative paths are taken from the folder of the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Name of this host, added to every series as `host:<name>`; the system's when unset.
    pub hostname: Option<String>,
    /// `key:value` tags added to every series.
    pub tags: Vec<String>,
    /// Folder of check configs, `<check>.yaml` each.
    pub conf_d: PathBuf,
    /// Folders searched in order for `<check>.wasm`.
    pub checks_d: Vec<PathBuf>,
    /// Folder for the agent's own state (buffers, caches).
    pub data_dir: PathBuf,
    /// Where the host's /proc is mounted (e.g. `/host/proc` in a container).
    pub proc_root: PathBuf,
    /// Where the host's /sys is mounted.
    pub sys_root: PathBuf,
    /// Limits and schedule for instances that do not set their own.
    pub defaults: InstanceDefaults,
    /// Where series go. `wasmon run --dry-run` replaces them with the console.
    pub sinks: Vec<SinkConfig>,
    /// The control API (status, reload, adding and removing instances).
    pub control: ControlConfig,
    /// The DogStatsD server (UDP `127.0.0.1:8125` by default).
    pub dogstatsd: DogstatsdConfig,
    /// Open-Falcon's push API (`127.0.0.1:1988` by default).
    pub push: PushConfig,
    /// The etcd group whose live members share the instances marked `cluster_check: true`.
    pub cluster: Option<ClusterConfig>,
    /// Minisign public keys (`RW…` or a `.pub` file) whose signatures make a pulled check
    /// runnable.
    pub trusted_keys: Vec<String>,
    /// Checks pulled from OCI registries, verified against `trusted_keys`.
    pub sources: Vec<SourceConfig>,
    /// Seconds between full rescans of conf.d and the checks folders, besides watching them.
    pub rescan_secs: u64,
    /// Seconds between reports of the agent's own metrics (sinks, memory, CPU).
    pub self_metrics_secs: f64,
    /// The agent's own log.
    pub log: LogConfig,
    /// Resident memory, in MiB, past which the agent flushes its buffers and exits with
    /// status 3 for its supervisor to restart it; 0 for no bound (systemd's `MemoryMax`
    /// serves where it runs).
    pub max_rss_mib: u64,
    /// Where this config came from, to read it again on reload.
    #[serde(skip)]
    pub source: ConfigOverrides,
    /// Datadog's secret backend: the program that resolves `ENC[handle]` values (see
    /// secrets.rs), run directly; a relative path is taken from the file's folder.
    pub secret_backend_command: Option<PathBuf>,
    /// Seconds one run of the secret backend may take.
    pub secret_backend_timeout: u64,
    /// Bytes the secret backend may print.
    pub secret_backend_output_max_size: usize,
}

/// The control API's listening address. It also listens on `<data_dir>/wasmon.sock`; every
/// request needs the token in `<data_dir>/auth_token`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlConfig {
    /// Loopback address and port (`127.0.0.1:0` picks a free port); empty to disable TCP.
    pub listen: String,
}

impl Default for ControlConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:5790".into(),
        }
    }
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            hostname: None,
            tags: Vec::new(),
            conf_d: "conf.d".into(),
            checks_d: vec!["checks.d".into()],
            data_dir: "data".into(),
            proc_root: "/proc".into(),
            sys_root: "/sys".into(),
            defaults: InstanceDefaults::default(),
            sinks: Vec::new(),
            control: ControlConfig::default(),
            dogstatsd: DogstatsdConfig::default(),
            push: PushConfig::default(),
            cluster: None,
            trusted_keys: Vec::new(),
            sources: Vec::new(),
            rescan_secs: 30,
            self_metrics_secs: 15.0,
            secret_backend_command: None,
            secret_backend_timeout: 30,
            secret_backend_output_max_size: 1024 * 1024,
            log: LogConfig::default(),
            max_rss_mib: 0,
            source: ConfigOverrides::default(),
        }
    }
}

/// Defaults applied to every instance that does not set its own `limits`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InstanceDefaults {
    /// Linear memory an instance may grow to, in MiB.
    pub memory_mib: u32,
    /// Samples one run may submit; the rest are dropped and counted.
    pub max_samples: u32,
    /// Service checks one run may submit; the rest are dropped and counted.
    pub max_service_checks: u32,
    /// KiB of names, tags and messages one run may submit; the rest is dropped and counted.
    pub max_submit_kib: u32,
    /// Log lines one run may write to the agent's log; the rest are dropped and counted.
    pub max_log_lines: u32,
    /// Longest log line, in bytes; longer ones are cut.
    pub max_log_line_bytes: u32,
    /// Seconds `describe` and `init` may take before the start fails.
    pub start_timeout: f64,
    /// Start each instance at a random offset within its interval, spreading the load.
    pub jitter: bool,
}

impl Default for InstanceDefaults {
    fn default() -> Self {
        Self {
            memory_mib: 64,
            max_samples: 10_000,
            max_service_checks: 1_000,
            max_submit_kib: 4_096,
            max_log_lines: 100,
            max_log_line_bytes: 4_096,
            start_timeout: 5.0,
            jitter: true,
        }
    }
}

/// Sets `fresh` back to `running`, naming `key` in `pending` when they differed.
fn keep<T: PartialEq + Clone>(
    pending: &mut Vec<&'static str>,
    key: &'static str,
    fresh: &mut T,
    running: &T,
) {
    if fresh != running {
        pending.push(key);
        fresh.clone_from(running);
    }
}

/// Command-line options that override the config file.
#[derive(Debug, Clone, Default)]
pub struct ConfigOverrides {
    /// The config file; `./wasmon.yaml` when it exists, else built-in defaults.
    pub config: Option<PathBuf>,
    /// Replaces `conf_d`.
    pub conf_d: Option<PathBuf>,
    /// Replace `checks_d`.
    pub checks_d: Vec<PathBuf>,
}

/// The file looked for when no `--config` is given.
pub const DEFAULT_CONFIG: &str = "wasmon.yaml";

impl AgentConfig {
    /// Loads the config file (if any) and applies the overrides.
    pub fn load(overrides: &ConfigOverrides) -> Result<Self, ConfigErrors> {
        let file = overrides.config.clone().or_else(|| {
            Path::new(DEFAULT_CONFIG)
                .is_file()
                .then(|| DEFAULT_CONFIG.into())
        });
        let mut config = match &file {
            Some(path) => Self::read(path)?,
            None => Self::default(),
        };
        if let Some(conf_d) = &overrides.conf_d {
            config.conf_d = conf_d.clone();
        }
        if !overrides.checks_d.is_empty() {
            config.checks_d = overrides.checks_d.clone();
        }
        config.source = overrides.clone();
        Ok(config)
    }

    /// Reads one config file, resolving its relative paths against its folder.
    pub fn read(path: &Path) -> Result<Self, ConfigErrors> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::file(path, format!("cannot read: {e}")))?;
        let mut config: Self = if text.trim().is_empty() {
            Self::default()
        } else {
            // `${VAR}` and `ENC[handle]` resolved (secrets.rs).
            super::secrets::parse_agent(path, &text)?
        };
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut config.conf_d,
            &mut config.data_dir,
            &mut config.proc_root,
            &mut config.sys_root,
        ] {
            *p = base.join(&*p);
        }
        for p in &mut config.checks_d {
            *p = base.join(&*p);
        }
        if let Some(file) = &mut config.log.file {
            file.path = base.join(&file.path);
        }
        if let Some(socket) = &mut config.dogstatsd.socket {
            *socket = base.join(&*socket);
        }
        for key in config
            .trusted_keys
            .iter_mut()
            .filter(|k| !k.starts_with("RW"))
        {
            *key = base.join(&*key).to_string_lossy().into_owned();
        }
        for source in &mut config.sources {
            if let crate::registry::SourceAuth::DockerConfig(file) = &mut source.auth {
                *file = base.join(&*file);
            }
        }
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(ConfigErrors(
                problems
                    .into_iter()
                    .map(|(field, message)| {
                        let line = yaml::locate_nearest(&text, &field);
                        ConfigError::field(path, line, field, message)
                    })
                    .collect(),
            ));
        }
        Ok(config)
    }

    /// Every problem with the config's values, as `(field, message)`: all at once, so that
    /// one edit can mend them all; a value out of range is refused, never clamped.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut within = |prefix: &str, found: Vec<(String, String)>| {
            problems.extend(
                found
                    .into_iter()
                    .map(|(field, message)| (format!("{prefix}{field}"), message)),
            );
        };
        for (i, sink) in self.sinks.iter().enumerate() {
            within(&format!("sinks[{i}]."), sink.problems());
        }
        within("", self.log.problems());
        within("dogstatsd.", self.dogstatsd.problems());
        within("push.", self.push.problems());
        if let Some(cluster) = &self.cluster {
            within("cluster.", cluster.problems());
        }
        within(
            "",
            crate::registry::problems(&self.trusted_keys, &self.sources),
        );
        let start = self.defaults.start_timeout;
        if !(0.01..=86_400.0).contains(&start) {
            problems.push((
                "defaults.start_timeout".into(),
                format!("{start}: expected seconds between 0.01 and 86400"),
            ));
        }
        if !(1..=86_400).contains(&self.rescan_secs) {
            problems.push((
                "rescan_secs".into(),
                format!("{}: expected seconds between 1 and 86400", self.rescan_secs),
            ));
        }
        let metrics = self.self_metrics_secs;
        if !(0.1..=86_400.0).contains(&metrics) {
            problems.push((
                "self_metrics_secs".into(),
                format!("{metrics}: expected seconds between 0.1 and 86400"),
            ));
        }
        let names: Vec<String> = self.sinks.iter().map(SinkConfig::name).collect();
        for (j, name) in names.iter().enumerate() {
            if let Some(i) = names[..j].iter().position(|n| n == name) {
                // Named by the sink, whose `name:` may be a default and nowhere in the file.
                problems.push((
                    format!("sinks[{j}]"),
                    format!(
                        "its name {name:?} already names sinks[{i}]; give one of them another \
                         `name:` (it names the sink's disk buffer and its `sink:` tag)"
                    ),
                ));
            }
        }
        problems
    }

    /// What a reload applies: `self` with the keys that take effect only at a restart kept as
    /// in `running`, and the names of those that differ.
    pub fn reloadable(mut self, running: &Self) -> (Self, Vec<&'static str>) {
        let mut pending = Vec::new();
        let r = running;
        keep(&mut pending, "sinks", &mut self.sinks, &r.sinks);
        keep(
            &mut pending,
            "control",
            &mut self.control.listen,
            &r.control.listen,
        );
        keep(&mut pending, "data_dir", &mut self.data_dir, &r.data_dir);
        keep(&mut pending, "cluster", &mut self.cluster, &r.cluster);
        keep(&mut pending, "dogstatsd", &mut self.dogstatsd, &r.dogstatsd);
        keep(&mut pending, "push", &mut self.push, &r.push);
        keep(
            &mut pending,
            "rescan_secs",
            &mut self.rescan_secs,
            &r.rescan_secs,
        );
        let metrics = &mut self.self_metrics_secs;
        keep(
            &mut pending,
            "self_metrics_secs",
            metrics,
            &r.self_metrics_secs,
        );
        (self, pending)
    }

    /// A hash of what every instance inherits from the agent (host name, tags, roots,
    /// defaults): instances restart when it changes.
    pub fn inherited_fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        (
            self.hostname(),
            &self.tags,
            &self.proc_root,
            &self.sys_root,
            format!("{:?}", self.defaults),
        )
            .hash(&mut hasher);
        hasher.finish()
    }

    /// The registry source that provides `check`, if one does.
    pub fn source_of(&self, check: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.check == check)
    }

    /// The host name series carry.
    pub fn hostname(&self) -> String {
        match &self.hostname {
            Some(h) => h.clone(),
            None => rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("wasmon.yaml");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn relative_paths_follow_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let path = write(
            &dir,
            "conf_d: my.d\nchecks_d: [a, /abs]\ntags: [env:test]\n",
        );
        let c = AgentConfig::read(&path).unwrap();
        assert_eq!(c.conf_d, dir.join("my.d"));
        assert_eq!(c.checks_d, [dir.join("a"), PathBuf::from("/abs")]);
        assert_eq!(c.tags, ["env:test"]);
        assert_eq!(c.defaults.memory_mib, 64);
    }

    #[test]
    fn unknown_field_is_named_with_its_line() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let path = write(&dir, "tags: []\nconfd: x\n");
        let e = only(AgentConfig::read(&path).unwrap_err());
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("unknown field `confd`"), "{e}");
        assert_eq!(e.field, None);
        let path = write(&dir, "sinks:\n  - type: kafka\n");
        let e = only(AgentConfig::read(&path).unwrap_err());
        assert_eq!(e.field.as_deref(), Some("sinks[0].type"), "{e}");
        assert!(e.message.contains("unknown variant `kafka`"), "{e}");
    }

    fn only(errors: ConfigErrors) -> ConfigError {
        let [error] = <[ConfigError; 1]>::try_from(errors.0).expect("one error");
        error
    }

    #[test]
    fn every_problem_is_named_at_once_and_nothing_is_clamped() {
        let tmp = tempfile::tempdir().unwrap();
        let path = write(
            tmp.path(),
            "rescan_secs: 0\n\
             self_metrics_secs: 100000\n\
             sinks:\n  \
               - {type: influx, url: 'http://h:8086', database: d, delivery: {flush_secs: 7200}}\n  \
               - type: prometheus\n    listen: nowhere\n  \
               - {type: influx, url: 'http://h:8086', database: e}\n\
             log: {level: loud}\n\
             dogstatsd:\n  flush_secs: 0\n",
        );
        let errors = AgentConfig::read(&path).unwrap_err().0;
        let found: Vec<(&str, Option<usize>)> = errors
            .iter()
            .map(|e| (e.field.as_deref().unwrap_or_default(), e.line))
            .collect();
        assert_eq!(
            found,
            [
                ("sinks[0].delivery.flush_secs", Some(4)),
                ("sinks[1].listen", Some(6)),
                ("log.level", Some(8)),
                ("dogstatsd.flush_secs", Some(10)),
                ("rescan_secs", Some(1)),
                ("self_metrics_secs", Some(2)),
                ("sinks[2]", Some(7)),
            ],
            "{}",
            ConfigErrors(errors.clone())
        );
    }

    #[test]
    fn the_readme_example_shows_the_defaults() {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("`wasmon.yaml` is the agent's:")
            .expect("the README shows wasmon.yaml");
        let block = &readme[start..];
        let yaml = &block[block.find("```yaml\n").unwrap() + 8..];
        let yaml = &yaml[..yaml.find("```").unwrap()];
        let shown: AgentConfig = serde_yaml::from_str(yaml).unwrap();
        let default = AgentConfig::default();
        assert_eq!(shown.proc_root, default.proc_root);
        assert_eq!(shown.sys_root, default.sys_root);
        assert_eq!(shown.rescan_secs, default.rescan_secs);
        assert_eq!(shown.self_metrics_secs, default.self_metrics_secs);
        assert_eq!(shown.control.listen, default.control.listen);
        assert_eq!(shown.dogstatsd, default.dogstatsd);
        assert_eq!(shown.push, default.push);
        assert_eq!(shown.log, default.log);
        assert_eq!(shown.max_rss_mib, default.max_rss_mib);
        let (s, d) = (&shown.defaults, &default.defaults);
        assert_eq!(
            (
                s.memory_mib,
                s.max_samples,
                s.max_service_checks,
                s.max_submit_kib
            ),
            (
                d.memory_mib,
                d.max_samples,
                d.max_service_checks,
                d.max_submit_kib
            )
        );
        assert_eq!(
            (
                s.max_log_lines,
                s.max_log_line_bytes,
                s.start_timeout,
                s.jitter
            ),
            (
                d.max_log_lines,
                d.max_log_line_bytes,
                d.start_timeout,
                d.jitter
            )
        );
    }
}
