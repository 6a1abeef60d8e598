//! Replication: lag and thread state of each replica channel, connected replicas, and the
//! `mysql.replication.replica_running` service check. MySQL 8.0.22+ and MariaDB 10.5.1+ name
//! the statements (and MySQL the columns) differently from older servers; both are handled.

use std::collections::HashMap;

use wasmon_sdk::mysql::{self, QueryError};
use wasmon_sdk::{Output, Status};

use crate::db::{flag, number, records};
use crate::server::{Flavor, Server};

/// The statement listing every replica channel of this server.
fn replica_status_statement(server: &Server) -> &'static str {
    if server.at_least(Flavor::Mariadb, (10, 5, 1)) {
        "SHOW ALL REPLICAS STATUS"
    } else if server.flavor == Flavor::Mariadb {
        "SHOW ALL SLAVES STATUS"
    } else if server.at_least(Flavor::Mysql, (8, 0, 22)) {
        "SHOW REPLICA STATUS"
    } else {
        "SHOW SLAVE STATUS"
    }
}

/// One replica channel as the server reports it.
#[derive(Debug, PartialEq)]
struct Channel {
    name: String,
    io_running: bool,
    sql_running: bool,
    seconds_behind: Option<f64>,
}

fn channels(server: &Server) -> Result<Vec<Channel>, QueryError> {
    let rows = mysql::query(replica_status_statement(server))?;
    Ok(records(&rows)
        .into_iter()
        .map(|r| {
            let field = |new: &str, old: &str| r.get(new).or_else(|| r.get(old)).copied().flatten();
            Channel {
                name: field("Channel_Name", "Connection_name")
                    .unwrap_or_default()
                    .to_string(),
                io_running: field("Replica_IO_Running", "Slave_IO_Running").is_some_and(flag),
                sql_running: field("Replica_SQL_Running", "Slave_SQL_Running").is_some_and(flag),
                seconds_behind: field("Seconds_Behind_Source", "Seconds_Behind_Master")
                    .and_then(number),
            }
        })
        .collect())
}

/// Replicas connected to this server: MariaDB counts them in `Slaves_connected`; MySQL lists
/// them.
fn replicas_connected(
    server: &Server,
    status: &HashMap<String, String>,
) -> Result<f64, QueryError> {
    if let Some(n) = status.get("Slaves_connected").and_then(|v| number(v)) {
        return Ok(n);
    }
    let statement = if server.at_least(Flavor::Mysql, (8, 0, 22)) {
        "SHOW REPLICAS"
    } else {
        "SHOW SLAVE HOSTS"
    };
    Ok(mysql::query(statement)?.values.len() as f64)
}

/// Collects replication metrics and the running service check.
pub fn collect(
    server: &Server,
    status: &HashMap<String, String>,
    channel: Option<&str>,
    log_bin: bool,
    service_tags: &[&str],
    out: &mut Output,
) -> Result<(), QueryError> {
    let mut channels = channels(server)?;
    if let Some(only) = channel {
        channels.retain(|c| c.name == only);
    }
    let replicas = replicas_connected(server, status)?;
    out.gauge("mysql.replication.replicas_connected", replicas, &[]);
    out.gauge("mysql.replication.slaves_connected", replicas, &[]);
    for c in &channels {
        let tag = format!(
            "channel:{}",
            if c.name.is_empty() {
                "default"
            } else {
                &c.name
            }
        );
        let tags = [tag.as_str()];
        if let Some(lag) = c.seconds_behind {
            out.gauge("mysql.replication.seconds_behind_source", lag, &tags);
            out.gauge("mysql.replication.seconds_behind_master", lag, &tags);
        }
        let running = f64::from(u8::from(c.io_running && c.sql_running));
        out.gauge("mysql.replication.replica_running", running, &tags);
    }
    for (mode, verdict, message) in verdicts(&channels, replicas, log_bin) {
        let mode = format!("replication_mode:{mode}");
        let ok = f64::from(u8::from(verdict == Status::Ok));
        out.gauge("mysql.replication.slave_running", ok, &[&mode]);
        let mut tags = service_tags.to_vec();
        tags.push(&mode);
        for name in [
            "mysql.replication.replica_running",
            "mysql.replication.slave_running",
        ] {
            out.service_check(name, verdict, &message, &tags);
        }
    }
    Ok(())
}

/// Datadog's verdicts. As a source (replicas connected, or not a replica at all): OK when
/// replicas are connected and the binary log is on, WARNING otherwise. As a replica: from its
/// threads. A server can be both.
fn verdicts(
    channels: &[Channel],
    replicas: f64,
    log_bin: bool,
) -> Vec<(&'static str, Status, String)> {
    let mut out = Vec::new();
    if replicas > 0.0 || channels.is_empty() {
        let (status, why) = match (replicas > 0.0, log_bin) {
            (true, true) => (
                Status::Ok,
                format!("source with {replicas} replica(s) connected"),
            ),
            (true, false) => (
                Status::Warning,
                format!("{replicas} replica(s) connected, but the binary log is off"),
            ),
            (false, _) => (
                Status::Warning,
                "no replica connected, and this server is not a replica".into(),
            ),
        };
        out.push(("source", status, why));
    }
    if !channels.is_empty() {
        let (status, why) = verdict(channels);
        out.push(("replica", status, why));
    }
    out
}

/// A replica: OK when every thread runs, WARNING when some do, CRITICAL when none does.
fn verdict(channels: &[Channel]) -> (Status, String) {
    let running = channels
        .iter()
        .map(|c| usize::from(c.io_running) + usize::from(c.sql_running))
        .sum::<usize>();
    let describe = channels
        .iter()
        .map(|c| {
            let yes = |b: bool| if b { "Yes" } else { "No" };
            format!(
                "{}IO thread {}, SQL thread {}",
                if c.name.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", c.name)
                },
                yes(c.io_running),
                yes(c.sql_running)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let status = match running {
        0 => Status::Critical,
        n if n == channels.len() * 2 => Status::Ok,
        _ => Status::Warning,
    };
    (status, describe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmon_sdk::testing::mysql as server;

    fn mariadb() -> Server {
        Server {
            flavor: Flavor::Mariadb,
            version: (10, 11, 6),
            raw_version: "10.11.6-MariaDB".into(),
        }
    }

    #[test]
    fn statements_by_flavour_and_version() {
        let s = |flavor, version| Server {
            flavor,
            version,
            raw_version: String::new(),
        };
        assert_eq!(
            replica_status_statement(&mariadb()),
            "SHOW ALL REPLICAS STATUS"
        );
        assert_eq!(
            replica_status_statement(&s(Flavor::Mariadb, (10, 4, 30))),
            "SHOW ALL SLAVES STATUS"
        );
        assert_eq!(
            replica_status_statement(&s(Flavor::Mysql, (8, 0, 22))),
            "SHOW REPLICA STATUS"
        );
        assert_eq!(
            replica_status_statement(&s(Flavor::Mysql, (5, 7, 44))),
            "SHOW SLAVE STATUS"
        );
    }

    #[test]
    fn a_lagging_replica_with_one_thread_down_warns() {
        server::answer(
            "SHOW ALL REPLICAS STATUS",
            &[
                "Connection_name",
                "Slave_IO_Running",
                "Slave_SQL_Running",
                "Seconds_Behind_Master",
            ],
            &[&["", "Yes", "No", "NULL"], &["eu", "Yes", "Yes", "7"]],
        );
        let status = HashMap::from([("Slaves_connected".to_string(), "0".to_string())]);
        let mut out = Output::new(0);
        collect(&mariadb(), &status, None, false, &["server:db"], &mut out).unwrap();
        let lag: Vec<_> = out
            .samples()
            .iter()
            .filter(|s| s.name == "mysql.replication.seconds_behind_master")
            .map(|s| (s.value, s.tags.clone()))
            .collect();
        assert_eq!(lag, [(7.0, vec!["channel:eu".to_string()])]);
        let sc = &out.service_checks()[0];
        assert_eq!(sc.status, Status::Warning);
        assert_eq!(
            sc.message,
            "IO thread Yes, SQL thread No; eu: IO thread Yes, SQL thread Yes"
        );
        // `options.replication_channel` keeps one channel.
        let mut out = Output::new(0);
        collect(&mariadb(), &status, Some("eu"), false, &[], &mut out).unwrap();
        let replica = out
            .service_checks()
            .iter()
            .rfind(|c| c.tags.contains(&"replication_mode:replica".to_string()));
        assert_eq!(replica.map(|c| c.status), Some(Status::Ok));
    }

    #[test]
    fn a_source_with_replicas_is_ok_and_mysql_8_columns_are_read() {
        let status = |replicas, log_bin| {
            let v = verdicts(&[], replicas, log_bin);
            assert_eq!(v.len(), 1);
            (v[0].0, v[0].1)
        };
        assert_eq!(status(2.0, true), ("source", Status::Ok));
        assert_eq!(status(2.0, false), ("source", Status::Warning));
        assert_eq!(
            status(0.0, true),
            ("source", Status::Warning),
            "as Datadog's"
        );
        server::answer(
            "SHOW REPLICA STATUS",
            &[
                "Channel_Name",
                "Replica_IO_Running",
                "Replica_SQL_Running",
                "Seconds_Behind_Source",
            ],
            &[&["", "Yes", "Yes", "0"]],
        );
        server::answer("SHOW REPLICAS", &["Server_Id"], &[]);
        let server = Server {
            flavor: Flavor::Mysql,
            version: (8, 0, 36),
            raw_version: "8.0.36".into(),
        };
        let mut out = Output::new(0);
        collect(&server, &HashMap::new(), None, true, &[], &mut out).unwrap();
        assert_eq!(out.service_checks()[0].status, Status::Ok);
        assert!(
            out.samples()
                .iter()
                .any(|s| s.name == "mysql.replication.seconds_behind_source" && s.value == 0.0)
        );
    }
}
