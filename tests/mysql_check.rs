//! The mysql check against real MariaDB servers (Debian's `mariadb-server`) on loopback
//! ports: a source with load and a replica of it, a monitoring user with the grants the
//! conf.d example documents, and the failures an operator meets.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::mariadb::MariaDb;
use common::{Layout, series, wait_for};
use serde_json::Value;

/// The grants of `conf.d/mysql.yaml.example`: Datadog's, plus SLAVE MONITOR (MariaDB 10.5.9+).
const GRANTS: &str = "CREATE USER 'datadog'@'127.0.0.1' IDENTIFIED BY 'dd-pass'; \
     GRANT REPLICATION CLIENT ON *.* TO 'datadog'@'127.0.0.1' WITH MAX_USER_CONNECTIONS 5; \
     GRANT PROCESS ON *.* TO 'datadog'@'127.0.0.1'; \
     GRANT SLAVE MONITOR ON *.* TO 'datadog'@'127.0.0.1'; \
     GRANT SELECT ON performance_schema.* TO 'datadog'@'127.0.0.1'; \
     GRANT SELECT ON app.* TO 'datadog'@'127.0.0.1'; \
     GRANT SELECT ON mysql.innodb_index_stats TO 'datadog'@'127.0.0.1'";

fn load(server: &MariaDb) {
    server.sql(
        "CREATE DATABASE IF NOT EXISTS app; \
         CREATE TABLE IF NOT EXISTS app.orders (id INT PRIMARY KEY AUTO_INCREMENT, kind VARCHAR(10), total INT) ENGINE=InnoDB; \
         INSERT INTO app.orders (kind, total) VALUES ('book', 10), ('book', 20), ('pen', 1); \
         SELECT COUNT(*) FROM app.orders; \
         CREATE TEMPORARY TABLE app.scratch (x INT); INSERT INTO app.scratch VALUES (1); SELECT * FROM app.scratch",
    );
}

fn instance(server: &MariaDb, options: &str) -> String {
    format!(
        "  - host: 127.0.0.1\n    port: {}\n    user: datadog\n    pass: dd-pass\n    tags: [\"db:{}\"]\n    options: {options}\n",
        server.port, server.port
    )
}

const ALL_OPTIONS: &str = "{replication: true, galera_cluster: true, extra_status_metrics: true, \
     extra_innodb_metrics: true, extra_performance_metrics: true, schema_size_metrics: true, \
     table_size_metrics: true, table_rows_stats_metrics: true, index_metrics: true}";

fn check_json(layout: &Layout, times: &str) -> Value {
    let out = layout.wasmon(&["check", "mysql", "--times", times, "--json"]);
    assert!(
        out.status.success(),
        "wasmon check mysql failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

/// Samples named `name` whose tags include `tag`.
fn values(doc: &Value, name: &str, tag: &str) -> Vec<f64> {
    doc["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == name && s["tags"].as_array().unwrap().iter().any(|t| t == tag))
        .map(|s| s["value"].as_f64().unwrap())
        .collect()
}

fn service_check<'a>(doc: &'a Value, name: &str, tag: &str) -> &'a Value {
    doc["service_checks"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|c| c["name"] == name && c["tags"].as_array().unwrap().iter().any(|t| t == tag))
        .unwrap_or_else(|| panic!("no service check {name} with {tag}"))
}

#[test]
fn source_and_replica_with_every_option() {
    let source = MariaDb::start(&[
        "--log-bin=binlog",
        "--server-id=1",
        "--performance-schema=ON",
        "--userstat=1",
    ]);
    let replica = MariaDb::start(&["--server-id=2"]);
    replica.replicate_from(&source);
    source.sql("CREATE DATABASE app");
    source.sql(GRANTS);
    load(&source);
    let layout = Layout::new("");
    layout.check_config(
        "mysql",
        &format!(
            "instances:\n{}{}    queries:\n      - query: SELECT kind, COUNT(*), SUM(total) FROM app.orders GROUP BY kind ORDER BY kind\n        columns:\n          - {{name: kind, type: tag}}\n          - {{name: orders.count, type: gauge}}\n          - {{name: orders.total, type: gauge}}\n        tags: [\"team:shop\"]\n{}",
            instance(&source, ALL_OPTIONS),
            "",
            instance(&replica, ALL_OPTIONS)
        ),
    );
    // Load while the check runs, so rates have something to show.
    let inserts_before = source.status("Com_insert");
    let done = std::sync::atomic::AtomicBool::new(false);
    let doc = std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                source.sql("USE app; INSERT INTO orders (kind, total) VALUES ('ink', 0)");
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let doc = check_json(&layout, "2");
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        doc
    });
    let src = format!("db:{}", source.port);
    let rep = format!("db:{}", replica.port);
    assert!(source.status("Com_insert") > inserts_before);

    // Rates: inserts happened between the runs.
    let com_insert = values(&doc, "mysql.performance.com_insert", &src);
    assert_eq!(com_insert.len(), 1, "one rate, from the second run");
    assert!(com_insert[0] > 0.0, "com_insert rate {com_insert:?}");
    assert!(values(&doc, "mysql.performance.created_tmp_tables", &src)[0] > 0.0);
    // Gauges equal what the server says, read right after (the servers are idle by then).
    let open_tables = values(&doc, "mysql.performance.open_tables", &src);
    assert_eq!(
        open_tables.last().copied(),
        Some(source.status("Open_tables"))
    );
    assert_eq!(
        values(&doc, "mysql.net.max_connections_available", &src)[0],
        151.0
    );
    assert_eq!(
        service_check(&doc, "mysql.can_connect", &src)["status"],
        "OK"
    );
    assert_eq!(
        service_check(&doc, "mysql.can_connect", &rep)["status"],
        "OK"
    );
    // InnoDB from the status text and from status variables.
    assert_eq!(
        values(&doc, "mysql.innodb.buffer_pool_total", &src)[0],
        source.status("Innodb_buffer_pool_pages_total") * source.status("Innodb_page_size")
    );
    assert!(!values(&doc, "mysql.innodb.checkpoint_age", &src).is_empty());
    // Binary logs on the source.
    assert!(values(&doc, "mysql.binlog.disk_use", &src)[0] > 0.0);
    // Replication: the replica's lag and threads, the source's connected replica.
    assert_eq!(
        values(&doc, "mysql.replication.seconds_behind_master", &rep).last(),
        Some(&0.0)
    );
    assert_eq!(
        values(&doc, "mysql.replication.replicas_connected", &src).last(),
        Some(&1.0)
    );
    let running = service_check(&doc, "mysql.replication.replica_running", &rep);
    assert_eq!(running["status"], "OK", "{running}");
    assert_eq!(
        service_check(&doc, "mysql.replication.slave_running", &src)["status"],
        "OK"
    );
    // Performance schema is on for the source.
    assert!(!values(&doc, "mysql.performance.query_run_time.avg", &src).is_empty());
    assert!(
        !values(
            &doc,
            "mysql.performance.digest_95th_percentile.avg_us",
            &src
        )
        .is_empty()
    );
    // Schema and table sizes.
    assert!(values(&doc, "mysql.info.schema.size", "schema:app").len() >= 2);
    assert!(!values(&doc, "mysql.info.table.data_size", "table:orders").is_empty());
    assert!(values(&doc, "mysql.info.table.rows.changed", "table:orders")[0] > 0.0);
    assert!(!values(&doc, "mysql.index.size", "index:PRIMARY").is_empty());
    // Custom query: one series per kind, with the query's tags.
    let books = values(&doc, "mysql.orders.count", "kind:book");
    assert_eq!(books.last(), Some(&2.0));
    assert_eq!(
        values(&doc, "mysql.orders.total", "kind:pen").last(),
        Some(&1.0)
    );
    assert!(!values(&doc, "mysql.orders.total", "team:shop").is_empty());
    // The server is local: its CPU time, found through its pid file.
    assert!(!values(&doc, "mysql.performance.cpu_time", &src).is_empty());

    let names: BTreeSet<&str> = doc["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .filter(|n| n.starts_with("mysql."))
        .collect();
    println!("{} distinct mysql.* metric names:", names.len());
    for name in &names {
        println!("  {name}");
    }
    assert!(names.len() >= 160, "{} names", names.len());

    // Every run sends every family: from the second run on, the server's switches were read
    // back as 1/0 instead of ON/OFF, and the binlog and performance-schema families stopped.
    let again = check_json(&layout, "3");
    let mut runs: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for s in again["samples"].as_array().unwrap() {
        let tags = s["tags"].as_array().unwrap();
        if tags.iter().any(|t| *t == *src) {
            let name = s["name"].as_str().unwrap().to_string();
            runs.entry(s["timestamp"].as_i64().unwrap())
                .or_default()
                .insert(name);
        }
    }
    let runs: Vec<&BTreeSet<String>> = runs.values().collect();
    assert_eq!(runs.len(), 3, "three runs");
    for run in &runs {
        assert!(run.contains("mysql.binlog.disk_use"), "{run:?}");
        assert!(
            run.contains("mysql.performance.query_run_time.avg"),
            "{run:?}"
        );
    }
    assert_eq!(
        runs[1], runs[2],
        "the second and third runs send the same names"
    );
}

#[test]
fn failures_are_reported_and_contained() {
    let mut server = MariaDb::start(&[]);
    server.sql(
        GRANTS
            .replace("GRANT PROCESS ON *.* TO 'datadog'@'127.0.0.1'; ", "")
            .as_str(),
    );
    let layout = Layout::new("");
    layout.check_config(
        "mysql",
        &format!(
            "instances:\n{}    min_collection_interval: 1\n  - host: 127.0.0.1\n    port: {}\n    user: datadog\n    pass: wrong\n    min_collection_interval: 1\n",
            instance(&server, "{}"),
            server.port
        ),
    );
    let mut agent = layout.start_agent();
    let good = format!("db={}", server.port);
    // The wrong password: CRITICAL with the server's message; the other instance is fine.
    let denied = agent.wait_for_stdout(Duration::from_secs(30), |l| {
        l.starts_with("SERVICE_CHECK mysql.can_connect")
            && l.contains("CRITICAL")
            && l.contains("Access denied for user 'datadog'")
    });
    assert!(
        denied.is_some_and(|l| !l.contains(&good)),
        "the instance with the wrong password"
    );
    agent
        .wait_for_stdout(Duration::from_secs(30), |l| {
            l.starts_with("SERVICE_CHECK mysql.can_connect")
                && l.contains(" OK ")
                && l.contains(&good)
        })
        .expect("the good instance connects");
    // No PROCESS privilege: InnoDB status is lost, with one warning, and nothing else is.
    let lines = wait_for(Duration::from_secs(30), || {
        let lines = agent.stdout();
        (series(&lines, "mysql.performance.com_select", &[&good]).len() >= 3).then_some(lines)
    })
    .expect("three runs of the good instance");
    assert!(!series(&lines, "mysql.performance.threads_connected", &[&good]).is_empty());
    let warnings: Vec<String> = agent
        .stderr()
        .into_iter()
        .filter(|l| l.contains("innodb_status metrics not collected"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("grant PROCESS"), "{}", warnings[0]);

    // The server dies: CRITICAL, then it comes back and so do the samples.
    server.stop();
    agent
        .wait_for_stdout(Duration::from_secs(30), |l| {
            l.starts_with("SERVICE_CHECK mysql.can_connect")
                && l.contains("CRITICAL")
                && l.contains(&good)
        })
        .expect("CRITICAL while the server is down");
    server.restart();
    let before = agent.stdout().len();
    let back = wait_for(Duration::from_secs(30), || {
        agent.stdout()[before..]
            .iter()
            .find(|l| {
                l.starts_with("SERVICE_CHECK mysql.can_connect")
                    && l.contains(" OK ")
                    && l.contains(&good)
            })
            .cloned()
    });
    assert!(back.is_some(), "reconnected after the restart");
    assert!(agent.stop(), "the agent ran throughout");
}

#[test]
fn the_example_config_is_valid() {
    let layout = Layout::new("");
    let example =
        std::fs::read_to_string(common::root().join("conf.d/mysql.yaml.example")).unwrap();
    layout.check_config("mysql", &example);
    let out = layout.wasmon(&["configcheck"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("granted: query MySQL as datadog@127.0.0.1:3306"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("<password>"),
        "the password is never shown"
    );
}
