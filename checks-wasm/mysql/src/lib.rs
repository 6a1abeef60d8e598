//! The mysql check: Datadog's mysql metrics, names and kinds, from MySQL 5.6+ and MariaDB
//! 10+, through the host's `mysql` capability (the check never holds credentials and cannot
//! connect anywhere else).
//!
//! Every run: `mysql.can_connect`, global status and variables, InnoDB (status variables and
//! `SHOW ENGINE INNODB STATUS`), binary log size, and the families its `options` turn on. A
//! family the monitoring user lacks the privilege for is lost alone, with one warning until it
//! works again.

mod config;
mod custom;
mod datadog_only;
mod db;
mod innodb;
mod metrics;
mod performance;
mod queries;
mod replication;
mod server;

use std::collections::{BTreeSet, HashMap};

use wasmon_sdk::mysql::{self, QueryError};
use wasmon_sdk::{Check, CheckError, Descriptor, LogLevel, NoConfig, Output, Status};

pub use config::Instance;
use db::{describe, name_values};
use metrics::Table;
use server::{Server, Values};

/// The mysql check.
pub struct Mysql {
    config: Instance,
    /// Query-cache counters of the previous run.
    qcache: Option<[f64; 3]>,
    /// Families that failed and were warned about; a family warns again after it recovers.
    warned: BTreeSet<String>,
    /// The server's version as last reported in metadata.
    reported_version: Option<String>,
    /// The filtered `SHOW GLOBAL STATUS` of the enabled families.
    status_statement: String,
    /// The statement reading the variables this server has; `None` until a full `SHOW GLOBAL
    /// VARIABLES` has told which exist (again after the server was unreachable).
    variables_statement: Option<String>,
}

impl Check for Mysql {
    type InitConfig = NoConfig;
    type Instance = Instance;

    fn describe() -> Descriptor {
        Descriptor::new(
            "mysql",
            env!("CARGO_PKG_VERSION"),
            15,
            "MySQL and MariaDB: status, InnoDB, replication, Galera, performance schema, custom queries",
        )
    }

    fn init(_: NoConfig, config: Instance) -> Result<Self, CheckError> {
        config.validate()?;
        Ok(Self::new(config))
    }

    fn run(&mut self, out: &mut Output) -> Result<(), CheckError> {
        self.collect(out)
    }
}

/// Why a run stopped: the server could not be reached.
struct Unreachable(String);

impl Mysql {
    /// The check over the server `config` declares.
    pub fn new(config: Instance) -> Self {
        Self {
            qcache: None,
            warned: BTreeSet::new(),
            reported_version: None,
            status_statement: queries::status_statement(&config.options),
            variables_statement: None,
            config,
        }
    }

    /// The variables the check reads: all of them once, then only those, by name.
    fn variables(&mut self) -> Result<HashMap<String, String>, Unreachable> {
        if let Some(statement) = &self.variables_statement {
            let rows = mysql::query(statement).map_err(unreachable)?;
            let values = rows.values.into_iter().next().unwrap_or_default();
            return Ok(rows
                .columns
                .into_iter()
                .zip(values)
                .filter_map(|(name, value)| Some((name, value?)))
                .collect());
        }
        let all = name_values(mysql::query("SHOW GLOBAL VARIABLES").map_err(unreachable)?);
        let present: Vec<&str> = queries::VARIABLES
            .into_iter()
            .filter(|v| all.contains_key(*v))
            .collect();
        self.variables_statement = Some(queries::variables_statement(&present));
        Ok(all)
    }

    /// One run: `mysql.can_connect` and every family.
    pub fn collect(&mut self, out: &mut Output) -> Result<(), CheckError> {
        let tags = self.config.service_tags();
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        match self.collect_families(out, &tags) {
            Ok(()) => {
                out.service_check("mysql.can_connect", Status::Ok, "", &tags);
                Ok(())
            }
            Err(Unreachable(message)) => {
                // The server may come back upgraded: learn its variables again.
                self.variables_statement = None;
                out.service_check("mysql.can_connect", Status::Critical, &message, &tags);
                Err(CheckError::Transient(message))
            }
        }
    }

    fn collect_families(&mut self, out: &mut Output, tags: &[&str]) -> Result<(), Unreachable> {
        let status = name_values(mysql::query(&self.status_statement).map_err(unreachable)?);
        if self.config.only_custom_queries {
            // The status statement above still tells whether the server answers.
            self.collect_custom(out);
            return Ok(());
        }
        let variables = self.variables()?;
        let server = Server::detect(&variables);
        self.report_version(&server);
        let mut values = server::numbers(&status, &variables);
        let options = &self.config.options;
        let innodb =
            !options.disable_innodb_metrics && variables.contains_key("innodb_buffer_pool_size");
        if innodb {
            // Both need PROCESS: one family, one warning.
            let text = self.family("innodb_status", || {
                let rows = mysql::query("SHOW ENGINE INNODB STATUS")?;
                performance::collect_deadlocks(out)?;
                Ok(db::records(&rows)
                    .first()
                    .and_then(|r| r.get("Status").copied().flatten())
                    .map(str::to_string)
                    .unwrap_or_default())
            })?;
            for (key, value) in innodb::parse(&text.unwrap_or_default()) {
                values.insert(key.to_string(), value);
            }
            server::derive_buffer_pool(&mut values);
        }
        server::derive_key_cache(&mut values);
        server::derive_qcache(&mut values, &mut self.qcache);
        let options = &self.config.options;
        let performance_schema = variables
            .get("performance_schema")
            .map(String::as_str)
            .is_some_and(db::flag);
        let tables: [(bool, Table); 8] = [
            (true, metrics::STATUS),
            (true, metrics::VARIABLES),
            (true, metrics::SYNTHETIC),
            (innodb, metrics::INNODB),
            (options.extra_status_metrics, metrics::EXTRA_STATUS),
            (
                innodb && options.extra_innodb_metrics,
                metrics::EXTRA_INNODB,
            ),
            (options.galera_cluster, metrics::GALERA),
            (performance_schema, metrics::PERFORMANCE_SCHEMA),
        ];
        for (_, table) in tables.iter().filter(|(on, _)| *on) {
            emit_table(table, &values, out);
        }
        if variables
            .get("log_bin")
            .map(String::as_str)
            .is_some_and(db::flag)
        {
            self.family("binlog", || {
                let rows = mysql::query("SHOW BINARY LOGS")?;
                let size: f64 = db::records(&rows)
                    .iter()
                    .filter_map(|r| db::number(r.get("File_size").copied().flatten()?))
                    .sum();
                out.gauge("mysql.binlog.disk_use", size, &[]);
                Ok(())
            })?;
        }
        self.collect_options(&server, &status, &variables, tags, out)?;
        if is_local(&self.config) {
            match mysql::server_cpu() {
                Ok(mysql::CpuTimes {
                    user_seconds: user,
                    system_seconds: system,
                }) => {
                    self.warned.remove("process");
                    out.rate("mysql.performance.user_time", user, &[]);
                    out.rate("mysql.performance.kernel_time", system, &[]);
                    out.rate("mysql.performance.cpu_time", user + system, &[]);
                }
                Err(reason) => self.warn_once("process", &format!("no server CPU time: {reason}")),
            }
        }
        Ok(())
    }

    fn collect_options(
        &mut self,
        server: &Server,
        status: &HashMap<String, String>,
        variables: &HashMap<String, String>,
        tags: &[&str],
        out: &mut Output,
    ) -> Result<(), Unreachable> {
        let options = &self.config.options;
        let (replication, performance, schemas, tables) = (
            options.replication,
            options.extra_performance_metrics,
            options.schema_size_metrics,
            options.table_size_metrics,
        );
        let (table_rows, indexes) = (
            options.table_rows_stats_metrics,
            self.config.index_metrics(),
        );
        let system_tables = options.system_table_size_metrics;
        let performance_schema = variables
            .get("performance_schema")
            .map(String::as_str)
            .is_some_and(db::flag);
        if replication {
            let log_bin = variables
                .get("log_bin")
                .map(String::as_str)
                .is_some_and(db::flag);
            let channel = self.config.options.replication_channel.clone();
            self.family("replication", || {
                replication::collect(server, status, channel.as_deref(), log_bin, tags, out)
            })?;
        }
        if performance {
            if performance_schema {
                self.family("performance_schema", || {
                    performance::collect_performance(out)
                })?;
            } else {
                self.warn_once(
                    "performance_schema",
                    "extra_performance_metrics: performance_schema is off on this server (set performance_schema=ON and restart it)",
                );
            }
        }
        if schemas {
            self.family("schema_size", || performance::collect_schema_sizes(out))?;
        }
        for (on, system) in [(tables, false), (system_tables, true)] {
            if on {
                self.family("table_size", || {
                    performance::collect_table_sizes(system, out)
                })?;
            }
        }
        if performance_schema {
            self.family("performance_schema", || {
                performance::collect_user_connections(out)
            })?;
        }
        if table_rows {
            self.family("table_rows_stats", || performance::collect_table_rows(out))?;
        }
        if indexes {
            self.family("index", || {
                performance::collect_indexes(performance_schema, out)
            })?;
        }
        self.collect_custom(out);
        Ok(())
    }

    /// Runs each custom query; one that fails warns once and the others go on.
    fn collect_custom(&mut self, out: &mut Output) {
        let key = self.config.queries_key();
        for i in 0..self.config.queries().len() {
            let query = &self.config.queries()[i];
            let result = custom::collect(query, out);
            let family = format!("{key}[{i}]");
            match result {
                Ok(()) => {
                    self.warned.remove(&family);
                }
                Err(message) => self.warn_once(&family, &format!("{family}: {message}")),
            }
        }
    }

    /// Runs one family: a server refusal (a missing privilege) loses the family with one
    /// warning until it works again; a lost connection ends the run.
    fn family<T>(
        &mut self,
        name: &str,
        collect: impl FnOnce() -> Result<T, QueryError>,
    ) -> Result<Option<T>, Unreachable> {
        match collect() {
            Ok(value) => {
                self.warned.remove(name);
                Ok(Some(value))
            }
            Err(QueryError::Server(e)) => {
                let hint = privilege_hint(name, e.code);
                self.warn_once(
                    name,
                    &format!("{name} metrics not collected: {}{hint}", e.message),
                );
                Ok(None)
            }
            Err(other) => Err(unreachable(other)),
        }
    }

    fn warn_once(&mut self, family: &str, message: &str) {
        if self.warned.insert(family.to_string()) {
            wasmon_sdk::log(LogLevel::Warn, message);
        }
    }

    fn report_version(&mut self, server: &Server) {
        if self.reported_version.as_deref() != Some(server.raw_version.as_str()) {
            wasmon_sdk::metadata("version", &server.version_string());
            wasmon_sdk::metadata("version.raw", &server.raw_version);
            wasmon_sdk::metadata(
                "flavor",
                match server.flavor {
                    server::Flavor::Mariadb => "MariaDB",
                    server::Flavor::Mysql => "MySQL",
                },
            );
            self.reported_version = Some(server.raw_version.clone());
        }
    }
}

fn unreachable(error: QueryError) -> Unreachable {
    Unreachable(describe(&error))
}

/// What to grant for a family refused with `ER_SPECIFIC_ACCESS_DENIED` or similar.
fn privilege_hint(family: &str, code: u16) -> &'static str {
    const ACCESS_DENIED: [u16; 4] = [1044, 1142, 1227, 1045];
    if !ACCESS_DENIED.contains(&code) {
        return "";
    }
    match family {
        "innodb_status" => " (grant PROCESS)",
        "binlog" => " (grant REPLICATION CLIENT, or BINLOG MONITOR on MariaDB 10.5.2+)",
        "replication" => " (grant REPLICATION CLIENT, and SLAVE MONITOR on MariaDB 10.5.9+)",
        "performance_schema" => " (grant SELECT ON performance_schema.*)",
        "index" => " (grant SELECT ON mysql.innodb_index_stats)",
        _ => "",
    }
}

/// Whether the server runs here: a socket, or a loopback host, as Datadog decides it.
fn is_local(config: &Instance) -> bool {
    config.sock.is_some() && config.host.is_none()
        || matches!(
            config.host.as_deref(),
            Some("localhost" | "127.0.0.1" | "::1" | "0.0.0.0")
        )
}

/// One sample per row of `table` whose variable the server gave.
fn emit_table(table: Table, values: &Values, out: &mut Output) {
    for (variable, metric, kind) in table {
        if let Some(value) = values.get(*variable) {
            out.sample(metric, *kind, *value, &[]);
        }
    }
}

wasmon_sdk::export_check!(Mysql);

#[cfg(test)]
mod tests;
