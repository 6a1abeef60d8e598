//! Statements over the one MySQL or MariaDB connection an instance's config declares.

pub use crate::bindings::wasmon::check::mysql::{CpuTimes, QueryError, Rows, ServerError};

#[cfg(target_family = "wasm")]
use crate::bindings::wasmon::check::mysql as host;
#[cfg(not(target_family = "wasm"))]
use fake as host;

/// Runs one statement and returns all its rows.
pub fn query(statement: &str) -> Result<Rows, QueryError> {
    host::query(statement)
}

/// The server process's CPU time, when it runs on this host.
pub fn server_cpu() -> Result<CpuTimes, String> {
    host::server_cpu()
}

/// A server that answers from a table of statements, on the test's thread. A statement it was
/// not given fails as a missing privilege does (`ERROR 1227`).
#[cfg(not(target_family = "wasm"))]
pub mod fake {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::{CpuTimes, QueryError, Rows, ServerError};

    #[derive(Default)]
    struct Server {
        answers: HashMap<String, Rows>,
        asked: Vec<String>,
        down: Option<String>,
        cpu: Option<CpuTimes>,
    }

    thread_local! {
        static SERVER: RefCell<Server> = RefCell::default();
    }

    /// Answers `statement` with `columns` and `rows`, where the text `NULL` is a NULL.
    pub fn answer(statement: &str, columns: &[&str], rows: &[&[&str]]) {
        let rows = Rows {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            values: rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|v| (*v != "NULL").then(|| v.to_string()))
                        .collect()
                })
                .collect(),
        };
        SERVER.with_borrow_mut(|s| s.answers.insert(statement.to_string(), rows));
    }

    /// Every statement fails to connect with `message` (`None`: the server is back).
    pub fn down(message: Option<&str>) {
        SERVER.with_borrow_mut(|s| s.down = message.map(str::to_string));
    }

    /// The server's CPU time from now on (by default it is not on this host).
    pub fn cpu(user_seconds: f64, system_seconds: f64) {
        let times = CpuTimes {
            user_seconds,
            system_seconds,
        };
        SERVER.with_borrow_mut(|s| s.cpu = Some(times));
    }

    /// The statements run since the last call, in order.
    pub fn take_asked() -> Vec<String> {
        SERVER.with_borrow_mut(|s| std::mem::take(&mut s.asked))
    }

    /// Forgets every answer and statement; the server is up and not local.
    pub fn reset() {
        SERVER.set(Server::default());
    }

    pub(super) fn query(statement: &str) -> Result<Rows, QueryError> {
        SERVER.with_borrow_mut(|s| {
            s.asked.push(statement.to_string());
            if let Some(message) = &s.down {
                return Err(QueryError::Connect(message.clone()));
            }
            s.answers.get(statement).cloned().ok_or_else(|| {
                QueryError::Server(ServerError {
                    code: 1227,
                    state: "42000".into(),
                    message: "Access denied; you need (at least one of) the PROCESS privilege(s) for this operation".into(),
                })
            })
        })
    }

    pub(super) fn server_cpu() -> Result<CpuTimes, String> {
        SERVER
            .with_borrow(|s| s.cpu)
            .ok_or_else(|| "not on this host".into())
    }
}
