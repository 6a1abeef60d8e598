//! What a check may reach outside its sandbox: one folder per capability, each with its host
//! implementation, its grant's config and its [`Capability`] value, listed once below. A
//! capability is linked into an instance only when its config grants it (or, for those every
//! language runtime imports, linked always and checked on each call), and each call is checked
//! against the grant again.

mod capability;
mod emit;
mod exec;
mod files;
mod fs_usage;
mod http;
mod mysql;
mod registry;

pub use capability::{Capability, Grant, Grantable, Link, WitFile};
pub use exec::{CommandGrant, CommandLine, ExecKeys, ExecOptions, run_command};
pub use files::{FileGrants, KeptFiles, host_path};
pub use http::{HttpGate, HttpGrant, HttpHost, HttpTarget};
pub use mysql::{ConnectionKeys, MysqlClient, MysqlGrant, ServerAddress, SslConfig};

registry::capabilities! {
    always { emit::EMIT }
    grants {
        files: files::Files,
        fs_usage: fs_usage::FsUsage,
        http: http::Http,
    }
    instance {
        exec: exec::Exec,
        mysql: mysql::Mysql,
    }
}
