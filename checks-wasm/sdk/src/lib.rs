//! The guest SDK for wasmon checks.
//!
//! A check is a type implementing [`Check`]; [`export_check!`] turns it into a component:
//!
//! ```ignore
//! use wasmon_sdk::{Check, CheckError, Descriptor, Output};
//!
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Instance { path: String }
//!
//! struct Hello;
//! impl Check for Hello {
//!     type InitConfig = wasmon_sdk::NoConfig;
//!     type Instance = Instance;
//!     fn describe() -> Descriptor { Descriptor::new("hello", env!("CARGO_PKG_VERSION"), 15, "says hello") }
//!     fn init(_: Self::InitConfig, _: Self::Instance) -> Result<Self, CheckError> { Ok(Hello) }
//!     fn run(&mut self, out: &mut Output) -> Result<(), CheckError> {
//!         out.gauge("hello.world", 1.0, &[]);
//!         Ok(())
//!     }
//! }
//! wasmon_sdk::export_check!(Hello);
//! ```
//!
//! Everything but the final `emit` calls is plain Rust, so a check's logic is unit-tested
//! natively with `cargo test`. The host's capabilities ([`files`], [`fs_usage`], [`exec`],
//! [`mysql`]) are typed helpers that, natively, answer from fakes a test sets up through
//! [`testing`]:
//!
//! ```ignore
//! wasmon_sdk::testing::files::put("/proc/loadavg", "0.50 0.40 0.30 1/99 123\n");
//! assert_eq!(wasmon_sdk::files::read_text("/proc/loadavg")?, "0.50 0.40 0.30 1/99 123\n");
//! ```

mod capabilities;
mod check;
mod config;
mod output;

/// The raw bindings generated from the `wasmon:check` WIT package.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/wasmon-check@0.2.0",
        world: "full-check",
        pub_export_macro: true,
        export_macro_name: "__export_world",
        default_bindings_module: "wasmon_sdk::bindings",
    });
}

pub use bindings::wasmon::check::types::{
    AlertType, CheckError, ConfigError, Descriptor, Event, EventPriority, LogLevel, MetricKind,
    Sample, ServiceCheck, Status,
};
pub use capabilities::{exec, files, fs_usage, mysql};
pub use check::{Check, NoConfig};
pub use config::parse_config;
pub use output::Output;

/// Writes one line to the agent's log, tagged with this check instance. Natively (in unit
/// tests) the line is kept for [`testing::take_logs`].
pub fn log(level: LogLevel, message: &str) {
    #[cfg(target_family = "wasm")]
    bindings::wasmon::check::emit::log(level, message);
    #[cfg(not(target_family = "wasm"))]
    testing::LOGS.with_borrow_mut(|logs| logs.push((level, message.to_string())));
}

/// Records a fact about what is monitored, such as a server's version. Natively (in unit
/// tests) it is kept for [`testing::take_metadata`].
pub fn metadata(key: &str, value: &str) {
    #[cfg(target_family = "wasm")]
    bindings::wasmon::check::emit::set_metadata(key, value);
    #[cfg(not(target_family = "wasm"))]
    testing::METADATA.with_borrow_mut(|m| m.push((key.to_string(), value.to_string())));
}

#[cfg(not(target_family = "wasm"))]
pub mod testing;

impl CheckError {
    /// The configuration is wrong as a whole: the instance stops until its config changes.
    pub fn config(message: impl Into<String>) -> Self {
        Self::Config(ConfigError {
            field: None,
            message: message.into(),
        })
    }

    /// Field `field` (its path, its section first: `instance.servers[1].port`) is wrong.
    pub fn config_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Config(ConfigError {
            field: Some(field.into()),
            message: message.into(),
        })
    }
}

/// As the agent prints it: `field: message`.
impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl Event {
    /// An informational event of normal priority at the run's time, without tags.
    pub fn new(title: &str, text: &str) -> Self {
        Self {
            title: title.to_string(),
            text: text.to_string(),
            timestamp_ms: None,
            priority: EventPriority::Normal,
            alert_type: AlertType::Info,
            aggregation_key: None,
            source_type_name: None,
            tags: Vec::new(),
        }
    }
}

impl Descriptor {
    /// A descriptor with the given name, version, default interval (seconds) and summary.
    pub fn new(name: &str, version: &str, default_interval_secs: u32, summary: &str) -> Self {
        Self {
            name: name.to_string(),
            version: version.to_string(),
            default_interval_secs,
            summary: summary.to_string(),
        }
    }
}

#[doc(hidden)]
pub mod __private {
    pub use crate::check::Runner;
}
