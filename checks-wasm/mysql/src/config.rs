//! An instance of the mysql check, shaped like Datadog's `conf.d/mysql.yaml`. The host reads
//! the connection keys and keeps the secrets; the check sees `host`, `port`, `sock` and `user`
//! (or Datadog's `username`, which the host has made sure is not set as well).

use serde::Deserialize;
use serde::de::IgnoredAny;
use wasmon_sdk::CheckError;

/// One entry of `instances`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// Server host (the host connects; the check tags service checks with it).
    #[serde(default)]
    pub host: Option<String>,
    /// Server port.
    #[serde(default)]
    pub port: Option<u16>,
    /// Unix socket of a local server.
    #[serde(default)]
    pub sock: Option<String>,
    /// Login user (for messages only); `username` is Datadog's name for it.
    #[serde(default, alias = "username")]
    pub user: Option<String>,
    /// Which metric families to collect beyond the defaults.
    #[serde(default)]
    pub options: Options,
    /// Custom queries whose columns become metrics and tags (read them with `queries()`).
    #[serde(default)]
    pub(crate) queries: Option<Vec<CustomQuery>>,
    /// Datadog's name for `queries`.
    #[serde(default)]
    pub(crate) custom_queries: Option<Vec<CustomQuery>>,
    /// At most this many custom queries (20 when not given, as Datadog's).
    #[serde(default)]
    pub max_custom_queries: Option<usize>,
    /// Run the custom queries only, none of the check's own families.
    #[serde(default)]
    pub only_custom_queries: bool,
    /// Datadog's newer place for `options.index_metrics`: `index_metrics: {enabled: bool}`.
    #[serde(default)]
    pub(crate) index_metrics: Option<IndexMetrics>,
    // Datadog's keys wasmon refuses, saying what it does instead (see `datadog_only`).
    #[serde(default)]
    pub(crate) charset: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) read_timeout: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) reported_hostname: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) exclude_hostname: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) empty_default_hostname: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) database_identifier: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) propagate_agent_tags: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) disable_generic_tags: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) service: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) metric_patterns: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) additional_status: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) additional_variable: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) use_global_custom_queries: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) dbm: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) query_metrics: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) query_samples: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) query_activity: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) collect_settings: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) collect_schemas: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) schemas_collection: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) obfuscator_options: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) log_unobfuscated_queries: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) log_unobfuscated_plans: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) database_instance_collection_interval: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) aws: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) gcp: Option<IgnoredAny>,
    #[serde(default)]
    pub(crate) azure: Option<IgnoredAny>,
}

/// `index_metrics:` at the top of a Datadog instance.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexMetrics {
    /// Whether index sizes and use are collected.
    pub enabled: bool,
}

/// `options:`, as in Datadog's check, with its defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// Replica lag, replica threads and connected replicas.
    pub replication: bool,
    /// Only this replication channel (MySQL's channel, MariaDB's connection name).
    pub replication_channel: Option<String>,
    /// Galera cluster status (`wsrep_*`).
    pub galera_cluster: bool,
    /// Handlers, selects, sorts, query cache details, table cache hits and misses.
    pub extra_status_metrics: bool,
    /// Every InnoDB counter, from status variables and `SHOW ENGINE INNODB STATUS`.
    pub extra_innodb_metrics: bool,
    /// Query run time per schema, the digest 95th percentile and connections per user
    /// (needs `performance_schema`).
    pub extra_performance_metrics: bool,
    /// Size of each schema.
    pub schema_size_metrics: bool,
    /// Data and index size of each table.
    pub table_size_metrics: bool,
    /// Rows read and changed per table (MariaDB with `userstat=1`, Percona Server).
    pub table_rows_stats_metrics: bool,
    /// Size of each InnoDB index, and reads, updates and deletes through it (the latter need
    /// `performance_schema`). On unless turned off, as in Datadog's check.
    pub index_metrics: bool,
    /// With `table_size_metrics`, the tables of the system schemas too (`mysql`, `sys`).
    pub system_table_size_metrics: bool,
    /// Skip InnoDB entirely (servers without it).
    pub disable_innodb_metrics: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            replication: false,
            replication_channel: None,
            galera_cluster: false,
            extra_status_metrics: false,
            extra_innodb_metrics: false,
            extra_performance_metrics: false,
            schema_size_metrics: false,
            table_size_metrics: false,
            table_rows_stats_metrics: false,
            index_metrics: true,
            system_table_size_metrics: false,
            disable_innodb_metrics: false,
        }
    }
}

/// One custom query, as Datadog's `custom_queries` entries are written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomQuery {
    /// The statement.
    pub query: String,
    /// One entry per column of the result, in order; an empty entry skips its column.
    pub columns: Vec<Column>,
    /// Tags added to every metric of the query.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// What a column of a custom query is.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// Metric name after `mysql.`, or the tag key.
    #[serde(default)]
    pub name: Option<String>,
    /// `gauge`, `rate`, `count`, `monotonic_count` or `tag`.
    #[serde(default, rename = "type")]
    pub kind: Option<ColumnKind>,
}

/// The kind of a custom query column.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// A value as it is.
    Gauge,
    /// A counter sent as a per-second rate.
    Rate,
    /// A number of events.
    Count,
    /// A counter sent as its increase.
    MonotonicCount,
    /// The column's text becomes the tag `name:value`.
    Tag,
}

impl Instance {
    /// Problems serde cannot see, each naming its field.
    pub fn validate(&self) -> Result<(), CheckError> {
        let refused = crate::datadog_only::problems(self);
        if !refused.is_empty() {
            return Err(CheckError::config(refused.join("; ")));
        }
        let max = self.max_custom_queries.unwrap_or(20);
        if self.queries().len() > max {
            return Err(CheckError::config_field(
                format!("instance.{}", self.queries_key()),
                format!(
                    "{} queries, more than max_custom_queries ({max})",
                    self.queries().len()
                ),
            ));
        }
        if self.queries.is_some() && self.custom_queries.is_some() {
            return Err(CheckError::config(
                "`queries` and `custom_queries` (Datadog's name) are the same key: set one",
            ));
        }
        let key = self.queries_key();
        for (i, q) in self.queries().iter().enumerate() {
            if q.query.trim().is_empty() {
                return Err(CheckError::config_field(
                    format!("instance.{key}[{i}].query"),
                    "is empty",
                ));
            }
            if q.columns.is_empty() {
                return Err(CheckError::config_field(
                    format!("instance.{key}[{i}].columns"),
                    "list one entry per column of the result",
                ));
            }
            for (j, c) in q.columns.iter().enumerate() {
                if c.name.is_some() != c.kind.is_some() {
                    return Err(CheckError::config_field(
                        format!("instance.{key}[{i}].columns[{j}]"),
                        "give both `name` and `type`, or neither to skip the column",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether index metrics are collected: `options.index_metrics`, unless Datadog's
    /// top-level `index_metrics.enabled` says otherwise.
    pub fn index_metrics(&self) -> bool {
        self.index_metrics
            .as_ref()
            .map_or(self.options.index_metrics, |i| i.enabled)
    }

    /// The custom queries, under either name.
    pub fn queries(&self) -> &[CustomQuery] {
        self.queries
            .as_deref()
            .or(self.custom_queries.as_deref())
            .unwrap_or_default()
    }

    /// The key the custom queries were given under, for messages.
    pub fn queries_key(&self) -> &'static str {
        if self.custom_queries.is_some() {
            "custom_queries"
        } else {
            "queries"
        }
    }

    /// The tags of service checks: `server:` and `port:`, as Datadog's check sets them.
    pub fn service_tags(&self) -> Vec<String> {
        let server = self.host.as_deref().unwrap_or("localhost");
        let port = match (&self.sock, self.port) {
            (Some(_), _) if self.host.is_none() => "unix_socket".to_string(),
            (_, port) => port.unwrap_or(3306).to_string(),
        };
        vec![format!("server:{server}"), format!("port:{port}")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmon_sdk::parse_config;

    fn message(e: CheckError) -> String {
        match e {
            CheckError::Config(e) => e.to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn datadog_shape_parses() {
        let i: Instance = parse_config(
            "instance",
            r#"{"host":"127.0.0.1","port":3307,"user":"datadog",
                "options":{"replication":true,"extra_innodb_metrics":true},
                "queries":[{"query":"SELECT a, b FROM t","columns":[{"name":"t.a","type":"gauge"},{"name":"b","type":"tag"}],"tags":["k:v"]}]}"#,
        )
        .unwrap();
        i.validate().unwrap();
        assert!(i.options.replication && i.options.extra_innodb_metrics);
        assert_eq!(i.queries()[0].columns[1].kind, Some(ColumnKind::Tag));
        assert_eq!(i.service_tags(), ["server:127.0.0.1", "port:3307"]);
    }

    #[test]
    fn errors_name_the_field() {
        let e =
            parse_config::<Instance>("instance", r#"{"options":{"replicaton":true}}"#).unwrap_err();
        assert!(message(e).contains("options"), "names the section");
        let e = parse_config::<Instance>(
            "instance",
            r#"{"queries":[{"query":"SELECT 1","columns":[{"name":"x","type":"histogram"}]}]}"#,
        )
        .unwrap_err();
        assert!(message(e).contains("queries[0].columns[0].type"));
        let i: Instance = parse_config(
            "instance",
            r#"{"queries":[{"query":"SELECT 1","columns":[{"name":"x"}]}]}"#,
        )
        .unwrap();
        assert!(message(i.validate().unwrap_err()).starts_with("instance.queries[0].columns[0]: "));
    }

    #[test]
    fn datadogs_key_names_are_aliases() {
        // Datadog's example: `username`, and `custom_queries` with a skipped column (`{}`).
        let i: Instance = parse_config(
            "instance",
            r#"{"host":"localhost","username":"datadog",
                "custom_queries":[{"query":"SELECT foo, COUNT(*), 1 FROM table.events GROUP BY foo",
                    "columns":[{"name":"foo","type":"tag"},{"name":"event.total","type":"gauge"},{}],
                    "tags":["test:mysql"]}]}"#,
        )
        .unwrap();
        i.validate().unwrap();
        assert_eq!(i.user.as_deref(), Some("datadog"));
        assert_eq!(i.queries_key(), "custom_queries");
        let q = &i.queries()[0];
        assert_eq!(q.columns[1].name.as_deref(), Some("event.total"));
        assert_eq!(q.columns[1].kind, Some(ColumnKind::Gauge));
        assert!(q.columns[2].name.is_none() && q.columns[2].kind.is_none());
        assert_eq!(q.tags, ["test:mysql"]);
        // Problems name the key as written.
        let i: Instance = parse_config(
            "instance",
            r#"{"custom_queries":[{"query":" ","columns":[{}]}]}"#,
        )
        .unwrap();
        assert_eq!(
            message(i.validate().unwrap_err()),
            "instance.custom_queries[0].query: is empty"
        );
        let i: Instance = parse_config("instance", r#"{"queries":[]}"#).unwrap();
        assert_eq!((i.queries_key(), i.queries().len()), ("queries", 0));
    }

    #[test]
    fn both_spellings_of_queries_are_an_error() {
        let i: Instance = parse_config(
            "instance",
            r#"{"queries":[{"query":"SELECT 1","columns":[{}]}],"custom_queries":[]}"#,
        )
        .unwrap();
        let m = message(i.validate().unwrap_err());
        assert!(
            m.contains("`queries`") && m.contains("`custom_queries`"),
            "{m}"
        );
    }

    #[test]
    fn socket_servers_are_tagged_as_such() {
        let i = Instance {
            sock: Some("/run/mysqld/mysqld.sock".into()),
            ..Instance::default()
        };
        assert_eq!(i.service_tags(), ["server:localhost", "port:unix_socket"]);
    }
}
