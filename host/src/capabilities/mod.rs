//! Host implementations of the wasmon interfaces a check may import: one module per
//! capability. A capability is linked into an instance only when its config grants it, and
//! each call is checked against the grant again.

mod capability;
mod emit;
mod exec;
mod files;
mod fs_usage;
mod http;
mod mysql;
mod v0_1;

pub use capability::{Capability, Grant, Link, WitFile};
pub use exec::run_command;
pub use http::HttpGate;
pub use mysql::MysqlClient;

/// Every capability, in the order grants are checked: one line each.
pub static ALL: &[&Capability] = &[
    &emit::EMIT,
    &files::FILES,
    &fs_usage::FS_USAGE,
    &http::HTTP,
    &exec::EXEC,
    &mysql::MYSQL,
];
