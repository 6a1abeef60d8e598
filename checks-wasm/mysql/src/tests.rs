//! The whole check over a canned server.

use std::collections::BTreeSet;

use wasmon_sdk::testing::mysql as server;
use wasmon_sdk::testing::{take_logs, take_metadata};
use wasmon_sdk::{MetricKind, Output, Status};

use crate::config::Options;
use crate::{Instance, Mysql, performance, queries};

/// A MariaDB 10.11 server with its binary log off.
fn serve() {
    serve_with(&[&["log_bin", "OFF"]])
}

/// A MariaDB 10.11 server with `extra` variables besides the usual ones.
fn serve_with(extra: &[&[&str]]) {
    server::answer(
        &queries::status_statement(&Options::default()),
        &["Variable_name", "Value"],
        &[
            &["Com_insert", "5"],
            &["Open_tables", "10"],
            &["Threads_connected", "3"],
            &["Innodb_page_size", "16384"],
            &["Innodb_buffer_pool_pages_total", "100"],
            &["Innodb_buffer_pool_pages_free", "25"],
            &["Key_blocks_unused", "96"],
            &["Qcache_hits", "0"],
            &["Qcache_inserts", "0"],
            &["Qcache_not_cached", "4"],
            &["Uptime", "3600"],
        ],
    );
    let usual: &[&[&str]] = &[
        &["version", "10.11.6-MariaDB-log"],
        &["version_comment", "Debian 12"],
        &["innodb_buffer_pool_size", "134217728"],
        &["max_connections", "151"],
        &["key_buffer_size", "131072"],
        &["key_cache_block_size", "1024"],
        &["sql_mode", "STRICT_TRANS_TABLES"],
    ];
    let variables: Vec<&[&str]> = usual.iter().chain(extra).copied().collect();
    performance::answer_no_indexes();
    server::answer(
        "SHOW GLOBAL VARIABLES",
        &["Variable_name", "Value"],
        &variables,
    );
    // Later runs read the variables the check uses, by name, in the check's order; as on a
    // real server, `@@GLOBAL.name` gives booleans as numbers where SHOW said ON or OFF.
    let known: Vec<&str> = queries::VARIABLES
        .into_iter()
        .filter(|v| variables.iter().any(|row| row[0] == *v))
        .collect();
    let values: Vec<&str> = known
        .iter()
        .map(
            |k| match variables.iter().find(|row| row[0] == *k).unwrap()[1] {
                "ON" => "1",
                "OFF" => "0",
                value => value,
            },
        )
        .collect();
    server::answer(&queries::variables_statement(&known), &known, &[&values]);
}

/// The server also answers `SHOW ENGINE INNODB STATUS`.
fn serve_innodb_status() {
    let text = include_str!("../tests/fixtures/innodb_status_mariadb_1011.txt");
    server::answer(
        "SHOW ENGINE INNODB STATUS",
        &["Type", "Name", "Status"],
        &[&["InnoDB", "", text]],
    );
    performance::answer_deadlocks("3");
}

fn value(out: &Output, name: &str) -> Option<(MetricKind, f64)> {
    out.samples()
        .iter()
        .find(|s| s.name == name)
        .map(|s| (s.kind, s.value))
}

#[test]
fn a_run_reports_status_variables_innodb_and_metadata() {
    serve();
    serve_innodb_status();
    let mut check = Mysql::new(Instance::default());
    let mut out = Output::new(0);
    check.collect(&mut out).unwrap();
    assert_eq!(
        value(&out, "mysql.performance.com_insert"),
        Some((MetricKind::Rate, 5.0))
    );
    assert_eq!(
        value(&out, "mysql.performance.open_tables"),
        Some((MetricKind::Gauge, 10.0))
    );
    assert_eq!(
        value(&out, "mysql.net.max_connections_available"),
        Some((MetricKind::Gauge, 151.0))
    );
    assert_eq!(
        value(&out, "mysql.performance.key_cache_utilization"),
        Some((MetricKind::Gauge, 0.25))
    );
    // The InnoDB status text gives the buffer pool pages; bytes and utilisation follow.
    assert_eq!(
        value(&out, "mysql.innodb.buffer_pool_total"),
        Some((MetricKind::Gauge, 8112.0 * 16384.0))
    );
    assert_eq!(
        value(&out, "mysql.performance.qcache.utilization"),
        Some((MetricKind::Gauge, 0.0))
    );
    // Extra InnoDB metrics are off by default.
    assert_eq!(value(&out, "mysql.innodb.history_list_length"), None);
    let sc = &out.service_checks()[0];
    assert_eq!(
        (sc.name.as_str(), sc.status, sc.tags.clone()),
        (
            "mysql.can_connect",
            Status::Ok,
            vec!["server:localhost".to_string(), "port:3306".to_string()]
        )
    );
    let metadata = take_metadata();
    assert!(metadata.contains(&("version".into(), "10.11.6".into())));
    assert!(metadata.contains(&("flavor".into(), "MariaDB".into())));
    // The second run reads only the variables it uses, and sends metadata again only when
    // the version changes.
    let mut out = Output::new(1);
    check.collect(&mut out).unwrap();
    assert_eq!(
        value(&out, "mysql.net.max_connections_available"),
        Some((MetricKind::Gauge, 151.0))
    );
    assert!(take_metadata().is_empty());
    assert_eq!(
        server::take_asked()
            .iter()
            .filter(|q| *q == "SHOW GLOBAL VARIABLES")
            .count(),
        1
    );
}

#[test]
fn a_missing_privilege_loses_one_family_and_warns_once() {
    serve();
    let mut check = Mysql::new(Instance::default());
    for run in 0..3 {
        let mut out = Output::new(run);
        check.collect(&mut out).unwrap();
        assert!(value(&out, "mysql.performance.com_insert").is_some());
        assert_eq!(out.service_checks()[0].status, Status::Ok);
    }
    let logs = take_logs();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(logs[0].1.contains("innodb_status"), "{}", logs[0].1);
    assert!(logs[0].1.contains("grant PROCESS"), "{}", logs[0].1);
}

#[test]
fn an_unreachable_server_is_critical_with_its_message() {
    serve();
    server::down(Some(
        "Access denied for user 'dd'@'localhost' (using password: YES)",
    ));
    let mut check = Mysql::new(Instance::default());
    let mut out = Output::new(0);
    assert!(check.collect(&mut out).is_err());
    let sc = &out.service_checks()[0];
    assert_eq!(sc.status, Status::Critical);
    assert!(
        sc.message.contains("Access denied for user 'dd'"),
        "{}",
        sc.message
    );
    assert!(out.samples().is_empty());
}

#[test]
fn later_runs_keep_every_family_when_booleans_read_as_numbers() {
    serve_with(&[&["log_bin", "ON"], &["performance_schema", "ON"]]);
    serve_innodb_status();
    server::answer(
        "SHOW BINARY LOGS",
        &["Log_name", "File_size"],
        &[
            &["mariadb-bin.000001", "1024"],
            &["mariadb-bin.000002", "2048"],
        ],
    );
    performance::answer_performance();
    let config = Instance {
        options: Options {
            extra_performance_metrics: true,
            ..Options::default()
        },
        ..Instance::default()
    };
    let mut check = Mysql::new(config);
    let runs: Vec<Output> = (0..4)
        .map(|run| {
            let mut out = Output::new(run * 15_000);
            check.collect(&mut out).unwrap();
            out
        })
        .collect();
    let names: Vec<BTreeSet<&str>> = runs
        .iter()
        .map(|out| out.samples().iter().map(|s| s.name.as_str()).collect())
        .collect();
    // The first run reads SHOW GLOBAL VARIABLES, the others `@@GLOBAL.name`; values derived
    // from the previous run appear from the second on, which sets the standard.
    for (run, got) in names.iter().enumerate() {
        for family in [
            "mysql.binlog.disk_use",
            "mysql.performance.query_run_time.avg",
        ] {
            assert!(got.contains(family), "run {run} lacks {family}");
        }
    }
    for (run, later) in names.iter().enumerate().skip(2) {
        assert_eq!(
            later.symmetric_difference(&names[1]).collect::<Vec<_>>(),
            Vec::<&&str>::new(),
            "run {run} differs from run 1"
        );
    }
    assert_eq!(
        value(&runs[3], "mysql.binlog.disk_use"),
        Some((MetricKind::Gauge, 3072.0))
    );
    let logs = take_logs();
    assert!(logs.is_empty(), "{logs:?}");
}
