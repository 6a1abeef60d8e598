//! The server as the collectors see it: statements in, rows out. The host's `mysql`
//! capability in a component; canned answers in unit tests.

use std::collections::HashMap;

use wasmon_sdk::mysql::{self, QueryError, Rows};

/// Something that answers SQL statements.
pub trait Db {
    /// Runs one statement.
    fn query(&mut self, statement: &str) -> Result<Rows, QueryError>;
    /// User and system CPU seconds of the server process, when it is local.
    fn server_cpu(&mut self) -> Result<(f64, f64), String>;
}

/// The connection the instance's config grants, through the host.
pub struct HostDb;

impl Db for HostDb {
    fn query(&mut self, statement: &str) -> Result<Rows, QueryError> {
        mysql::query(statement)
    }

    fn server_cpu(&mut self) -> Result<(f64, f64), String> {
        mysql::server_cpu().map(|t| (t.user_seconds, t.system_seconds))
    }
}

/// The rows of a two-column statement (`SHOW GLOBAL STATUS`, `SHOW GLOBAL VARIABLES`) as a
/// map from the first column to the second.
pub fn name_values(rows: Rows) -> HashMap<String, String> {
    rows.values
        .into_iter()
        .filter_map(|row| {
            let mut row = row.into_iter();
            Some((row.next()??, row.next()?.unwrap_or_default()))
        })
        .collect()
}

/// Each row as a map from column name to value.
pub fn records(rows: &Rows) -> Vec<HashMap<&str, Option<&str>>> {
    rows.values
        .iter()
        .map(|row| {
            rows.columns
                .iter()
                .map(String::as_str)
                .zip(row.iter().map(Option::as_deref))
                .collect()
        })
        .collect()
}

/// A server variable's value as a number: integers, decimals, and `ON`/`OFF`, `YES`/`NO`.
pub fn number(value: &str) -> Option<f64> {
    match value {
        "ON" | "YES" => Some(1.0),
        "OFF" | "NO" => Some(0.0),
        _ => value.parse().ok().filter(|v: &f64| v.is_finite()),
    }
}

/// The words of an error, for logs and service checks.
pub fn describe(error: &QueryError) -> String {
    match error {
        QueryError::Connect(m) => format!("cannot connect: {m}"),
        QueryError::Server(e) => format!("ERROR {} ({}): {}", e.code, e.state, e.message),
        QueryError::Lost(m) => format!("connection lost: {m}"),
        QueryError::NotGranted => "the instance declares no MySQL server (`host` or `sock`)".into(),
    }
}

#[cfg(test)]
pub mod fake {
    //! A server that answers from a table of statements.

    use super::*;
    use wasmon_sdk::mysql::ServerError;

    /// Canned answers; statements it does not know fail with `ER_SPECIFIC_ACCESS_DENIED`.
    #[derive(Default)]
    pub struct FakeDb {
        pub answers: HashMap<String, Rows>,
        pub asked: Vec<String>,
        /// When set, every statement fails to connect with this message.
        pub down: Option<String>,
    }

    impl FakeDb {
        pub fn answer(&mut self, statement: &str, columns: &[&str], rows: &[&[&str]]) {
            self.answers.insert(
                statement.to_string(),
                Rows {
                    columns: columns.iter().map(|c| c.to_string()).collect(),
                    values: rows
                        .iter()
                        .map(|r| {
                            r.iter()
                                .map(|v| (*v != "NULL").then(|| v.to_string()))
                                .collect()
                        })
                        .collect(),
                },
            );
        }
    }

    impl Db for FakeDb {
        fn query(&mut self, statement: &str) -> Result<Rows, QueryError> {
            self.asked.push(statement.to_string());
            if let Some(message) = &self.down {
                return Err(QueryError::Connect(message.clone()));
            }
            self.answers.get(statement).cloned().ok_or_else(|| {
                QueryError::Server(ServerError {
                    code: 1227,
                    state: "42000".into(),
                    message: "Access denied; you need (at least one of) the PROCESS privilege(s) for this operation".into(),
                })
            })
        }

        fn server_cpu(&mut self) -> Result<(f64, f64), String> {
            Err("not on this host".into())
        }
    }
}
