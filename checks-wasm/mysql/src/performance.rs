//! `extra_performance_metrics` (from performance_schema) and `schema_size_metrics` /
//! `table_size_metrics` (from information_schema).

use wasmon_sdk::Output;
use wasmon_sdk::mysql::{self, QueryError};

use crate::db::number;

const QUERY_RUN_TIME: &str = "SELECT schema_name, SUM(sum_timer_wait) / SUM(count_star) / 1000000 \
     FROM performance_schema.events_statements_summary_by_digest \
     WHERE schema_name IS NOT NULL GROUP BY schema_name";
const DIGEST_AVERAGES: &str = "SELECT avg_timer_wait / 1000000 \
     FROM performance_schema.events_statements_summary_by_digest";
const USER_CONNECTIONS: &str = "SELECT processlist_user, processlist_host, processlist_db, \
     processlist_state, COUNT(*) FROM performance_schema.threads \
     WHERE processlist_user IS NOT NULL AND processlist_state IS NOT NULL \
     GROUP BY processlist_user, processlist_host, processlist_db, processlist_state";
const SCHEMA_SIZE: &str = "SELECT table_schema, IFNULL(SUM(data_length + index_length), 0) / 1024 / 1024 \
     FROM information_schema.tables \
     WHERE table_schema NOT IN ('performance_schema', 'information_schema') GROUP BY table_schema";
const TABLE_SIZE: &str = "SELECT table_schema, table_name, IFNULL(index_length, 0) / 1024 / 1024, \
     IFNULL(data_length, 0) / 1024 / 1024 FROM information_schema.tables \
     WHERE table_schema NOT IN ('mysql', 'performance_schema', 'information_schema', 'sys')";
/// The system schemas' tables, as Datadog's `system_table_size_metrics` reads them.
const SYSTEM_TABLE_SIZE: &str = "SELECT table_schema, table_name, IFNULL(index_length, 0) / 1024 / 1024, \
     IFNULL(data_length, 0) / 1024 / 1024 FROM information_schema.tables \
     WHERE table_schema IN ('mysql', 'performance_schema', 'information_schema')";
const DEADLOCKS: &str =
    "SELECT count FROM information_schema.INNODB_METRICS WHERE name = 'lock_deadlocks'";

const TABLE_ROWS: &str = "SELECT table_schema, table_name, rows_read, rows_changed \
     FROM information_schema.table_statistics";
const INDEX_SIZE: &str = "SELECT database_name, table_name, index_name, stat_value * @@innodb_page_size \
     FROM mysql.innodb_index_stats WHERE stat_name = 'size'";
const INDEX_USAGE: &str = "SELECT object_schema, object_name, index_name, count_read, count_update, count_delete \
     FROM performance_schema.table_io_waits_summary_by_index_usage \
     WHERE index_name IS NOT NULL AND object_schema NOT IN ('mysql', 'performance_schema')";

/// Average statement time per schema (µs) and the 95th percentile of the digests' averages
/// (µs).
pub fn collect_performance(out: &mut Output) -> Result<(), QueryError> {
    for row in mysql::query(QUERY_RUN_TIME)?.values {
        if let [Some(schema), Some(avg)] = &row[..]
            && let Some(avg) = number(avg)
        {
            out.gauge(
                "mysql.performance.query_run_time.avg",
                avg,
                &[&format!("schema:{schema}")],
            );
        }
    }
    let averages: Vec<f64> = mysql::query(DIGEST_AVERAGES)?
        .values
        .iter()
        .filter_map(|row| number(row.first()?.as_deref()?))
        .collect();
    if let Some(p95) = percentile(averages, 0.95) {
        out.gauge("mysql.performance.digest_95th_percentile.avg_us", p95, &[]);
    }
    Ok(())
}

/// Connections per user, host, database and state (performance_schema), on every run as in
/// Datadog's check.
pub fn collect_user_connections(out: &mut Output) -> Result<(), QueryError> {
    for row in mysql::query(USER_CONNECTIONS)?.values {
        if let [user, host, schema, state, Some(count)] = &row[..]
            && let Some(count) = number(count)
        {
            let tag = |k: &str, v: &Option<String>| format!("{k}:{}", v.as_deref().unwrap_or(""));
            let tags = [
                tag("processlist_user", user),
                tag("processlist_host", host),
                tag("processlist_db", schema),
                tag("processlist_state", state),
            ];
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            out.gauge("mysql.performance.user_connections", count, &tags);
        }
    }
    Ok(())
}

/// InnoDB's deadlock counter (`information_schema.INNODB_METRICS`).
pub fn collect_deadlocks(out: &mut Output) -> Result<(), QueryError> {
    let rows = mysql::query(DEADLOCKS)?;
    if let Some(count) = rows
        .values
        .first()
        .and_then(|r| number(r.first()?.as_deref()?))
    {
        out.monotonic_count("mysql.innodb.deadlocks", count, &[]);
    }
    Ok(())
}

/// The nearest-rank percentile `q` of `values`.
fn percentile(mut values: Vec<f64>, q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = (q * values.len() as f64).ceil() as usize;
    values.get(rank.clamp(1, values.len()) - 1).copied()
}

/// Size of each schema in MiB.
pub fn collect_schema_sizes(out: &mut Output) -> Result<(), QueryError> {
    for row in mysql::query(SCHEMA_SIZE)?.values {
        if let [Some(schema), Some(size)] = &row[..]
            && let Some(size) = number(size)
        {
            out.gauge(
                "mysql.info.schema.size",
                size,
                &[&format!("schema:{schema}")],
            );
        }
    }
    Ok(())
}

/// Index and data size in MiB of each user table, or of each table of the system schemas.
pub fn collect_table_sizes(system: bool, out: &mut Output) -> Result<(), QueryError> {
    let statement = if system {
        SYSTEM_TABLE_SIZE
    } else {
        TABLE_SIZE
    };
    for row in mysql::query(statement)?.values {
        if let [Some(schema), Some(table), Some(index), Some(data)] = &row[..] {
            let tags = [format!("schema:{schema}"), format!("table:{table}")];
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            for (name, value) in [
                ("mysql.info.table.index_size", index),
                ("mysql.info.table.data_size", data),
            ] {
                if let Some(v) = number(value) {
                    out.gauge(name, v, &tags);
                }
            }
        }
    }
    Ok(())
}

/// Rows read and changed per table, as counters.
pub fn collect_table_rows(out: &mut Output) -> Result<(), QueryError> {
    for row in mysql::query(TABLE_ROWS)?.values {
        if let [Some(schema), Some(table), Some(read), Some(changed)] = &row[..] {
            let tags = [format!("schema:{schema}"), format!("table:{table}")];
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            for (name, value) in [
                ("mysql.info.table.rows.read", read),
                ("mysql.info.table.rows.changed", changed),
            ] {
                if let Some(v) = number(value) {
                    out.monotonic_count(name, v, &tags);
                }
            }
        }
    }
    Ok(())
}

/// InnoDB index sizes in bytes, and the reads, updates and deletes through each index since
/// the server started (when performance_schema is on), as gauges like Datadog's.
pub fn collect_indexes(performance_schema: bool, out: &mut Output) -> Result<(), QueryError> {
    let tags = |row: &[Option<String>]| -> Vec<String> {
        ["db", "table", "index"]
            .iter()
            .zip(row)
            .map(|(k, v)| format!("{k}:{}", v.as_deref().unwrap_or("")))
            .collect()
    };
    for row in mysql::query(INDEX_SIZE)?.values {
        if let Some(size) = row.get(3).cloned().flatten().as_deref().and_then(number) {
            let tags = tags(&row);
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            out.gauge("mysql.index.size", size, &tags);
        }
    }
    if !performance_schema {
        return Ok(());
    }
    for row in mysql::query(INDEX_USAGE)?.values {
        let t = tags(&row);
        let t: Vec<&str> = t.iter().map(String::as_str).collect();
        for (i, name) in [
            "mysql.index.reads",
            "mysql.index.updates",
            "mysql.index.deletes",
        ]
        .iter()
        .enumerate()
        {
            if let Some(v) = row
                .get(3 + i)
                .cloned()
                .flatten()
                .as_deref()
                .and_then(number)
            {
                out.gauge(name, v, &t);
            }
        }
    }
    Ok(())
}

/// Answers InnoDB's deadlock counter with `count`.
#[cfg(test)]
pub fn answer_deadlocks(count: &str) {
    wasmon_sdk::testing::mysql::answer(DEADLOCKS, &["count"], &[&[count]]);
}

/// A server whose user sees no InnoDB index.
#[cfg(test)]
pub fn answer_no_indexes() {
    wasmon_sdk::testing::mysql::answer(INDEX_SIZE, &["d", "t", "i", "size"], &[]);
    wasmon_sdk::testing::mysql::answer(INDEX_USAGE, &["d", "t", "i", "r", "u", "x"], &[]);
}

/// Answers the statements of [`collect_performance`] and [`collect_user_connections`]: one
/// schema, three digests, one user.
#[cfg(test)]
pub fn answer_performance() {
    wasmon_sdk::testing::mysql::answer(
        QUERY_RUN_TIME,
        &["schema_name", "avg"],
        &[&["app", "125.5"]],
    );
    wasmon_sdk::testing::mysql::answer(DIGEST_AVERAGES, &["avg"], &[&["10"], &["20"], &["1000"]]);
    wasmon_sdk::testing::mysql::answer(
        USER_CONNECTIONS,
        &["u", "h", "d", "s", "n"],
        &[&["dd", "localhost", "NULL", "Sleep", "2"]],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmon_sdk::testing::mysql as server;

    #[test]
    fn index_sizes_and_usage_are_tagged() {
        server::answer(
            INDEX_SIZE,
            &["d", "t", "i", "s"],
            &[&["app", "orders", "PRIMARY", "16384"]],
        );
        server::answer(
            INDEX_USAGE,
            &["d", "t", "i", "r", "u", "x"],
            &[&["app", "orders", "PRIMARY", "7", "2", "0"]],
        );
        let mut out = Output::new(0);
        collect_indexes(true, &mut out).unwrap();
        let got: Vec<_> = out
            .samples()
            .iter()
            .map(|s| (s.name.as_str(), s.value))
            .collect();
        assert_eq!(
            got,
            [
                ("mysql.index.size", 16384.0),
                ("mysql.index.reads", 7.0),
                ("mysql.index.updates", 2.0),
                ("mysql.index.deletes", 0.0),
            ]
        );
        assert_eq!(
            out.samples()[0].tags,
            ["db:app", "table:orders", "index:PRIMARY"]
        );
    }

    #[test]
    fn nearest_rank_percentile() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(v, 0.95), Some(19.0));
        assert_eq!(percentile(vec![5.0], 0.95), Some(5.0));
        assert_eq!(percentile(vec![], 0.95), None);
    }

    #[test]
    fn performance_schema_rows_become_tagged_gauges() {
        answer_performance();
        let mut out = Output::new(0);
        collect_performance(&mut out).unwrap();
        collect_user_connections(&mut out).unwrap();
        let got: Vec<_> = out
            .samples()
            .iter()
            .map(|s| (s.name.as_str(), s.value, s.tags.join(",")))
            .collect();
        assert_eq!(
            got,
            [
                ("mysql.performance.query_run_time.avg", 125.5, "schema:app".into()),
                ("mysql.performance.digest_95th_percentile.avg_us", 1000.0, String::new()),
                (
                    "mysql.performance.user_connections",
                    2.0,
                    "processlist_user:dd,processlist_host:localhost,processlist_db:,processlist_state:Sleep".into()
                ),
            ]
        );
    }
}
