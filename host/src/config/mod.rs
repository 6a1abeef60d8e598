//! Configuration: the agent's `wasmon.yaml` and the checks' `conf.d/<check>.yaml`.

mod agent;
mod check_file;
mod command;
mod error;
mod grants;
mod http;
mod log;
mod mysql;
mod secrets;
mod yaml;

pub use agent::{AgentConfig, ConfigOverrides, ControlConfig, DEFAULT_CONFIG, InstanceDefaults};
pub use check_file::{CheckFile, InstanceConfig, Limits, near_miss_hint};
pub use command::{CommandGrant, CommandLine, ExecOptions};
pub use error::{ConfigError, ConfigErrors};
pub use grants::{FileGrant, Grants, GrantsConfig, host_path as grants_host_path};
pub use http::{HttpGrant, HttpHost, HttpTarget, canonical as canonical_ip};
pub use log::{LogConfig, LogFile, LogFormat};
pub use mysql::{MysqlGrant, ServerAddress, SslConfig};
