//! Host implementations of the wasmon interfaces a check may import: one module per
//! capability. A capability is linked into an instance only when its config grants it, and
//! each call is checked against the grant again.

mod emit;
mod exec;
mod files;
mod fs_usage;
mod http;
mod mysql;
mod v0_1;

pub use exec::run_command;
pub use http::HttpGate;
pub use mysql::MysqlClient;
