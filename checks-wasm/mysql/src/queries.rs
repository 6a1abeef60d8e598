//! The two statements every run makes, kept cheap: `SHOW GLOBAL STATUS` filtered to the
//! variables the check uses (a seventh of the server's work for the full list), and the
//! variables it uses read as `@@GLOBAL.name`, once the full `SHOW GLOBAL VARIABLES` of the
//! first run has told which exist (the full list costs the server several milliseconds).

use crate::config::Options;
use crate::metrics::{self, Table};

/// Status variables read to derive others (key cache, buffer pool, query cache, replicas).
const DERIVATION_INPUTS: [&str; 12] = [
    "Key_blocks_used",
    "Key_blocks_not_flushed",
    "Key_blocks_unused",
    "Innodb_page_size",
    "Innodb_buffer_pool_pages_total",
    "Innodb_buffer_pool_pages_free",
    "Innodb_buffer_pool_pages_data",
    "Innodb_buffer_pool_pages_dirty",
    "Qcache_hits",
    "Qcache_inserts",
    "Qcache_not_cached",
    "Slaves_connected",
];

/// Server variables the check reads.
pub const VARIABLES: [&str; 13] = [
    "version",
    "version_comment",
    "log_bin",
    "performance_schema",
    "innodb_buffer_pool_size",
    "key_cache_block_size",
    "key_buffer_size",
    "max_connections",
    "max_prepared_stmt_count",
    "query_cache_size",
    "table_open_cache",
    "thread_cache_size",
    "innodb_page_size",
];

/// `SHOW GLOBAL STATUS` for the variables the enabled families use.
pub fn status_statement(options: &Options) -> String {
    let tables: [(bool, Table); 6] = [
        (true, metrics::STATUS),
        (true, metrics::PERFORMANCE_SCHEMA),
        (!options.disable_innodb_metrics, metrics::INNODB),
        (options.extra_status_metrics, metrics::EXTRA_STATUS),
        (options.extra_innodb_metrics, metrics::EXTRA_INNODB),
        (options.galera_cluster, metrics::GALERA),
    ];
    let mut names: Vec<&str> = tables
        .iter()
        .filter(|(on, _)| *on)
        .flat_map(|(_, t)| t.iter().map(|(variable, _, _)| *variable))
        .chain(DERIVATION_INPUTS)
        .collect();
    names.sort_unstable();
    names.dedup();
    format!(
        "SHOW GLOBAL STATUS WHERE Variable_name IN ({})",
        quoted(&names)
    )
}

/// `SELECT @@GLOBAL.name AS name, ...` for `names`, which must exist on the server.
pub fn variables_statement(names: &[&str]) -> String {
    let columns: Vec<String> = names
        .iter()
        .map(|n| format!("@@GLOBAL.{n} AS `{n}`"))
        .collect();
    format!("SELECT {}", columns.join(", "))
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lists_what_the_options_need_once() {
        let default = status_statement(&Options::default());
        assert!(
            default.starts_with("SHOW GLOBAL STATUS WHERE Variable_name IN ('Aborted_clients'")
        );
        assert_eq!(default.matches("'Table_locks_waited'").count(), 1);
        assert!(default.contains("'Innodb_page_size'"));
        assert!(!default.contains("Handler_commit"));
        let extra = status_statement(&Options {
            extra_status_metrics: true,
            ..Options::default()
        });
        assert!(extra.contains("'Handler_commit'"));
    }

    #[test]
    fn variables_are_selected_by_name() {
        assert_eq!(
            variables_statement(&["version", "log_bin"]),
            "SELECT @@GLOBAL.version AS `version`, @@GLOBAL.log_bin AS `log_bin`"
        );
    }
}
