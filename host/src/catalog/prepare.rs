//! From a check config and its module to instances ready to run.

use std::sync::Arc;
use std::time::Duration;

use super::Entry;
use crate::config::{AgentConfig, CheckFile, InstanceConfig, near_miss_hint};
use crate::runtime::{
    Capabilities, CheckInstance, CheckModule, InstanceError, InstanceSpec, RunLimits, Runtime,
};
use crate::scheduler::{InstanceTask, Schedule, SharedStatus, now_ms};

/// Interval when neither the instance nor the check says.
const FALLBACK_INTERVAL: Duration = Duration::from_secs(15);

/// An instance ready to run, and what it was given.
pub struct Prepared<R = CheckInstance> {
    /// The check's name.
    pub check: String,
    /// Position in `instances`.
    pub index: usize,
    /// The instance and its schedule.
    pub task: InstanceTask<R>,
    /// What it may reach, in words.
    pub grants: Vec<String>,
    /// sha256 of the module.
    pub sha256: String,
    /// The check's own version, as it describes itself.
    pub version: String,
}

/// Instantiates every instance of a check; each failure becomes a problem naming the file,
/// the instance and, where it can be found, the line.
pub async fn prepare(
    config: &AgentConfig,
    runtime: &Runtime,
    entry: &Entry,
) -> (Vec<Prepared>, Vec<String>) {
    let mut ready = Vec::new();
    let mut problems = Vec::new();
    for instance in &entry.file.instances {
        match prepare_instance(config, runtime, &entry.file, &entry.module, instance).await {
            Ok(p) => ready.push(p),
            Err(e) => problems.push(e),
        }
    }
    (ready, problems)
}

/// Instantiates one instance; a failure is described with its file, instance and line.
pub async fn prepare_instance(
    config: &AgentConfig,
    runtime: &Runtime,
    file: &CheckFile,
    module: &CheckModule,
    instance: &InstanceConfig,
) -> Result<Prepared, String> {
    prepare_one(config, runtime, file, module, instance)
        .await
        .map_err(|e| {
            let error = describe_error(file, instance.index, &e);
            match near_miss_hint(instance) {
                Some(hint) => format!("{error}; {hint}"),
                None => error,
            }
        })
}

async fn prepare_one(
    config: &AgentConfig,
    runtime: &Runtime,
    file: &CheckFile,
    module: &CheckModule,
    instance: &InstanceConfig,
) -> Result<Prepared, InstanceError> {
    let label: Arc<str> = format!("{}[{}]", file.check, instance.index).into();
    let limits = &instance.limits;
    let defaults = &config.defaults;
    let start_timeout = seconds(limits.start_timeout.unwrap_or(defaults.start_timeout));
    let kib = limits.max_submit_kib.unwrap_or(defaults.max_submit_kib) as usize;
    let spec = InstanceSpec {
        label,
        capabilities: Arc::new(Capabilities::new(
            instance.grants.clone(),
            config.proc_root.clone(),
            config.sys_root.clone(),
        )),
        memory_bytes: limits.memory_mib.unwrap_or(config.defaults.memory_mib) as usize
            * 1024
            * 1024,
        limits: RunLimits {
            max_samples: limits.max_samples.unwrap_or(defaults.max_samples) as usize,
            max_service_checks: limits
                .max_service_checks
                .unwrap_or(defaults.max_service_checks) as usize,
            max_submit_bytes: kib.saturating_mul(1024),
            max_log_lines: limits.max_log_lines.unwrap_or(defaults.max_log_lines) as usize,
            max_log_line_bytes: limits
                .max_log_line_bytes
                .unwrap_or(defaults.max_log_line_bytes) as usize,
        },
        init_config: file.init_config.to_string(),
        instance_config: instance.check_config.to_string(),
        start_timeout,
    };
    let checked = CheckInstance::new(runtime, module, spec).await?;
    let default = checked.descriptor().default_interval_secs;
    let version = checked.descriptor().version.clone();
    let interval = instance.interval.unwrap_or(if default > 0 {
        Duration::from_secs(u64::from(default))
    } else {
        FALLBACK_INTERVAL
    });
    let schedule = if instance.align {
        Schedule::aligned(interval)
    } else if config.defaults.jitter {
        Schedule::jittered(interval, now_ms())
    } else {
        Schedule::starting(interval, now_ms(), Duration::ZERO)
    };
    Ok(Prepared {
        check: file.check.clone(),
        index: instance.index,
        task: InstanceTask {
            instance: checked,
            schedule,
            // A run may take up to its interval unless the instance says otherwise.
            timeout: instance.timeout.unwrap_or(interval),
            tags: instance.tags.clone(),
            identity: identity(file, instance),
            status: SharedStatus::default(),
        },
        grants: instance.grants.describe(),
        sha256: module.sha256.clone(),
        version,
    })
}

/// What an instance that cannot start reports with: its identity tags and an interval (its
/// own, else the fallback, since the check could not say).
pub fn failure_report(file: &CheckFile, instance: &InstanceConfig) -> (Vec<String>, Duration) {
    (
        identity(file, instance),
        instance.interval.unwrap_or(FALLBACK_INTERVAL),
    )
}

/// `check:<name>` and `instance:<index>`.
fn identity(file: &CheckFile, instance: &InstanceConfig) -> Vec<String> {
    vec![
        format!("check:{}", file.check),
        format!("instance:{}", instance.index),
    ]
}

/// A start timeout in seconds as a duration; the config checks refuse what is not positive.
fn seconds(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::from_secs(5))
}

/// `conf.d/x.yaml:7: instances[0]: the check refused its config: ...`
fn describe_error(file: &CheckFile, index: usize, error: &InstanceError) -> String {
    let message = error.to_string();
    let line =
        field_named_in(&message).and_then(|f| file.line_of(&format!("instances[{index}].{f}")));
    match line {
        Some(line) => format!(
            "{}:{line}: instances[{index}]: {message}",
            file.path.display()
        ),
        None => format!("{}: instances[{index}]: {message}", file.path.display()),
    }
}

/// The field a check's error names: `field `a.b`: ...` or `unknown field `x``, or both.
fn field_named_in(message: &str) -> Option<String> {
    let quoted = |after: &str| {
        let start = message.find(after)? + after.len();
        Some(message[start..start + message[start..].find('`')?].to_string())
    };
    match (quoted(": field `"), quoted("unknown field `")) {
        (Some(parent), Some(unknown)) => Some(format!("{parent}.{unknown}")),
        (Some(field), None) | (None, Some(field)) => Some(field),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn field_names_are_found_in_check_errors() {
        let named = |m| super::field_named_in(m);
        assert_eq!(
            named("instance: unknown field `prot`, expected").as_deref(),
            Some("prot")
        );
        assert_eq!(
            named("instance: field `a.b`: invalid type").as_deref(),
            Some("a.b")
        );
        assert_eq!(
            named("instance: field `a`: unknown field `c`").as_deref(),
            Some("a.c")
        );
        assert_eq!(named("nothing"), None);
    }
}
