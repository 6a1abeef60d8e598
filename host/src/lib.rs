//! wasmon: a host monitoring agent whose checks are WebAssembly components, each in its own
//! sandbox with only the capabilities its configuration grants.

pub mod agent;
pub mod aggregate;
pub mod capabilities;
pub mod catalog;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod control;
pub mod error_chain;
pub mod intake;
pub mod model;
pub mod registry;
pub mod repeats;
pub mod runtime;
pub mod scheduler;
pub mod sinks;
