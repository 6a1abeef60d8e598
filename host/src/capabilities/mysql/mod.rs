//! `wasmon:check/mysql`: statements over the one MySQL or MariaDB connection an instance's
//! config declares. The host holds the driver, the credentials and the connection; the
//! connection outlives runs and Store rebuilds, and is made again after it breaks.

mod config;
mod v0_1;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use mysql_async::prelude::Queryable;
use mysql_async::{ClientIdentity, Conn, OptsBuilder, Row, SslOpts};
use tokio::sync::Mutex;

use super::{Capability, Grant, Link};
use crate::runtime::bindings::{link_interfaces, newest_wit};
use crate::runtime::{HostState, wit};
pub use config::{ConnectionKeys, MysqlGrant, ServerAddress, SslConfig};
use wit::mysql::{CpuTimes, QueryError, Rows, ServerError};

/// The mysql capability, as registered.
pub struct Mysql;

/// Queries on the instance's one MySQL server.
pub const MYSQL: Capability = Capability {
    interfaces: &["mysql"],
    grant: Some(Grant {
        granted: |grants| grants.mysql.is_some(),
        missing: "MySQL server",
        hint: "host: ... (or sock: ...), user: ..., pass: ...",
    }),
    always_linked: false,
    link: Link::PerVersion(|linker, version| link_interfaces!(linker, version, mysql)),
    worlds: &["mysql-check", "full-check"],
    wit: Some(newest_wit!("mysql.wit")),
};

/// An instance's MySQL server: its grant and, once made, its connection.
#[derive(Clone)]
pub struct MysqlClient {
    grant: Arc<MysqlGrant>,
    conn: Arc<Mutex<Option<Conn>>>,
}

impl fmt::Debug for MysqlClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MysqlClient({:?})", self.grant)
    }
}

impl MysqlClient {
    /// A client that connects on its first statement.
    pub fn new(grant: MysqlGrant) -> Self {
        Self {
            grant: Arc::new(grant),
            conn: Arc::default(),
        }
    }

    /// Runs `statement`, connecting first if needed, and gives up at `deadline`. A connection
    /// that broke or timed out is dropped, so the next statement connects again.
    pub async fn query(
        &self,
        statement: &str,
        deadline: Option<Instant>,
    ) -> Result<Rows, QueryError> {
        let mut slot = self.conn.lock().await;
        let conn = match slot.take() {
            Some(conn) => conn,
            None => self.connect(deadline).await?,
        };
        let mut conn = conn;
        let answer = match deadline {
            Some(at) => tokio::time::timeout_at(at.into(), run(&mut conn, statement))
                .await
                .unwrap_or_else(|_| Err(Lost("the run's deadline passed".into()))),
            None => run(&mut conn, statement).await,
        };
        match answer {
            Ok(rows) => {
                *slot = Some(conn);
                Ok(rows)
            }
            Err(Lost(message)) => Err(QueryError::Lost(message)),
            Err(Refused(error)) => {
                *slot = Some(conn);
                Err(QueryError::Server(error))
            }
        }
    }

    async fn connect(&self, deadline: Option<Instant>) -> Result<Conn, QueryError> {
        let grant = &self.grant;
        let mut opts = OptsBuilder::default()
            .user(grant.user.clone())
            .pass(grant.pass.clone())
            .prefer_socket(false)
            .stmt_cache_size(0);
        opts = match &grant.address {
            ServerAddress::Tcp { host, port } => opts.ip_or_hostname(host.clone()).tcp_port(*port),
            ServerAddress::Socket(path) => opts.socket(Some(path.display().to_string())),
        };
        if let Some(ssl) = &grant.ssl {
            let mut tls = SslOpts::default()
                .with_danger_skip_domain_validation(!ssl.check_hostname.unwrap_or(true));
            if let Some(ca) = &ssl.ca {
                tls = tls.with_root_certs(vec![ca.clone().into()]);
            }
            if let (Some(cert), Some(key)) = (&ssl.cert, &ssl.key) {
                tls = tls.with_client_identity(Some(ClientIdentity::new(
                    cert.clone().into(),
                    key.clone().into(),
                )));
            }
            opts = opts.ssl_opts(tls);
        }
        let limit = match deadline {
            Some(at) => grant
                .connect_timeout
                .min(at.saturating_duration_since(Instant::now())),
            None => grant.connect_timeout,
        };
        match tokio::time::timeout(limit, Conn::new(opts)).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(mysql_async::Error::Server(e))) => Err(QueryError::Connect(e.message)),
            Ok(Err(e)) => Err(QueryError::Connect(e.to_string())),
            Err(_) => Err(QueryError::Connect(format!(
                "no answer from {} within {limit:?}",
                grant.display()
            ))),
        }
    }

    /// CPU time of the server's process, found through its `pid_file`, when it is local.
    pub async fn server_cpu(
        &self,
        proc_root: &Path,
        deadline: Option<Instant>,
    ) -> Result<CpuTimes, String> {
        if !self.grant.is_local() {
            return Err(format!("{} is not on this host", self.grant.display()));
        }
        let rows = self
            .query("SELECT @@pid_file", deadline)
            .await
            .map_err(|e| format!("cannot ask the server for its pid file: {e:?}"))?;
        let pid_file = rows
            .values
            .first()
            .and_then(|row| row.first().cloned().flatten())
            .ok_or("the server has no pid_file")?;
        let pid = tokio::fs::read_to_string(&pid_file)
            .await
            .map_err(|e| format!("{pid_file}: {e}"))?;
        let pid: u32 = pid
            .trim()
            .parse()
            .map_err(|_| format!("{pid_file}: {:?} is not a process id", pid.trim()))?;
        let stat = tokio::fs::read_to_string(proc_root.join(pid.to_string()).join("stat"))
            .await
            .map_err(|e| format!("process {pid} of {pid_file}: {e}"))?;
        cpu_times(&stat).ok_or_else(|| format!("process {pid}: not a MySQL server's stat line"))
    }
}

/// User and system CPU seconds of a mysqld or mariadbd `/proc/PID/stat` line.
fn cpu_times(stat: &str) -> Option<CpuTimes> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?;
    if !matches!(comm, "mysqld" | "mariadbd") {
        return None;
    }
    let fields: Vec<&str> = stat.get(close + 2..)?.split(' ').collect();
    // After the command: state is field 3, utime 14 and stime 15 (1-based, man proc).
    let ticks = |i: usize| fields.get(i - 3)?.parse::<f64>().ok();
    let hz = rustix::param::clock_ticks_per_second() as f64;
    Some(CpuTimes {
        user_seconds: ticks(14)? / hz,
        system_seconds: ticks(15)? / hz,
    })
}

/// Why a statement on an open connection failed.
enum Failure {
    /// The connection is no longer usable.
    Lost(String),
    /// The server refused the statement; the connection is fine.
    Refused(ServerError),
}
use Failure::{Lost, Refused};

async fn run(conn: &mut Conn, statement: &str) -> Result<Rows, Failure> {
    let classify = |e: mysql_async::Error| match e {
        mysql_async::Error::Server(e) => Refused(ServerError {
            code: e.code,
            state: e.state,
            message: e.message,
        }),
        other => Lost(other.to_string()),
    };
    let mut result = conn.query_iter(statement).await.map_err(classify)?;
    let columns = result
        .columns()
        .map(|cols| cols.iter().map(|c| c.name_str().into_owned()).collect())
        .unwrap_or_default();
    let rows: Vec<Row> = result.collect().await.map_err(classify)?;
    result.drop_result().await.map_err(classify)?;
    let values = rows
        .into_iter()
        .map(|row| row.unwrap_raw().into_iter().map(text).collect())
        .collect();
    Ok(Rows { columns, values })
}

/// A text-protocol value as text.
fn text(value: Option<mysql_async::Value>) -> Option<String> {
    use mysql_async::Value;
    match value? {
        Value::NULL => None,
        Value::Bytes(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        other => Some(other.as_sql(true)),
    }
}

impl wit::mysql::Host for HostState {
    async fn query(&mut self, statement: String) -> Result<Rows, QueryError> {
        let Some(client) = self.capabilities.mysql.clone() else {
            return Err(QueryError::NotGranted);
        };
        let started = Instant::now();
        let answer = client.query(&statement, self.deadline).await;
        self.output.host_time += started.elapsed();
        answer
    }

    async fn server_cpu(&mut self) -> Result<CpuTimes, String> {
        let Some(client) = self.capabilities.mysql.clone() else {
            return Err("no MySQL server is granted to this instance".into());
        };
        let started = Instant::now();
        let answer = client
            .server_cpu(&self.capabilities.proc_root, self.deadline)
            .await;
        self.output.host_time += started.elapsed();
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_times_of_a_server_only() {
        let hz = rustix::param::clock_ticks_per_second() as f64;
        let line =
            "812 (mariadbd) S 1 812 812 0 -1 4194624 9012 0 3 0 250 130 0 0 20 0 9 0 1234 1 2";
        let t = cpu_times(line).unwrap();
        assert_eq!(t.user_seconds, 250.0 / hz);
        assert_eq!(t.system_seconds, 130.0 / hz);
        assert!(cpu_times(&line.replace("mariadbd", "bash")).is_none());
    }
}
