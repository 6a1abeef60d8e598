//! Configuration: the agent's `wasmon.yaml` and the checks' `conf.d/<check>.yaml`.

mod agent;
mod check_file;
mod error;
mod log;
mod secrets;
mod yaml;

pub use agent::{AgentConfig, ConfigOverrides, ControlConfig, DEFAULT_CONFIG, InstanceDefaults};
pub use check_file::{CheckFile, InstanceConfig, Limits, near_miss_hint};
pub use error::{ConfigError, ConfigErrors};
pub use log::{LogConfig, LogFile, LogFormat};
pub(crate) use secrets::Document;
