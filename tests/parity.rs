//! Datadog parity, name for name: every metric Datadog's own checks send on this kind of host
//! (the lists in `tests/fixtures/datadog/`, with how each was made in its README) is sent by
//! `wasmon check system` or `wasmon check mysql` under the same name and kind, or is listed in
//! `tests/fixtures/datadog/exceptions.txt` with the reason. An exception that is no longer
//! needed fails the test too, so the file stays short and true. Where both read the same
//! quantity, the values agree.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use common::mariadb::MariaDb;
use common::{Layout, root};
use serde_json::Value;

/// How a series reaches a backend. Datadog's `monotonic_count` and `count` both arrive as
/// counts, and its `rate` as a per-second value.
fn arrives_as(datadog_type: &str) -> &'static str {
    match datadog_type {
        "gauge" => "gauge",
        "rate" => "rate",
        "count" | "monotonic_count" => "count",
        // `.avg .count .max .median .95percentile`; no check of wasmon's sends one.
        "histogram" => "histogram",
        other => panic!("unknown Datadog submission type {other:?}"),
    }
}

fn fixture(name: &str) -> String {
    let path = root().join("tests/fixtures/datadog").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A Datadog list: name → how it arrives.
fn datadog_list(file: &str) -> BTreeMap<String, &'static str> {
    fixture(file)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (name, kind) = l.split_once('\t').expect("name<TAB>type");
            (name.to_string(), arrives_as(kind))
        })
        .collect()
}

/// The Go core checks' names, with the kind read from the same source files
/// (`go-core-kinds.txt`: name, tab, sender call).
fn go_core_list() -> BTreeMap<String, &'static str> {
    let listed: BTreeSet<String> = fixture("dd-go-core-linux.txt")
        .lines()
        .filter_map(|l| l.split('\t').next().map(str::to_string))
        .collect();
    let kinds = datadog_list("go-core-kinds.txt");
    assert_eq!(
        listed,
        kinds.keys().cloned().collect(),
        "go-core-kinds.txt names exactly the names of dd-go-core-linux.txt"
    );
    kinds
}

/// `exceptions.txt`: list, tab, name, tab, reason.
fn exceptions(list: &str) -> BTreeMap<String, String> {
    fixture("exceptions.txt")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.splitn(3, '\t');
            let (file, name, reason) = (f.next()?, f.next()?, f.next()?);
            assert!(
                !reason.trim().is_empty(),
                "{l}: an exception needs a reason"
            );
            (file == list).then(|| (name.to_string(), reason.to_string()))
        })
        .collect()
}

/// What wasmon sent: name → the kinds it arrived as, from a `--json` report.
fn sent(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in doc["samples"].as_array().expect("samples") {
        out.entry(s["name"].as_str().unwrap().to_string())
            .or_default()
            .insert(s["kind"].as_str().unwrap().to_string());
    }
    out
}

/// Compares one Datadog list with what wasmon sent, printing the count matched; the problems.
fn compare(list: &str, datadog: &BTreeMap<String, &'static str>, doc: &Value) -> Vec<String> {
    let wasmon = sent(doc);
    let excepted = exceptions(list);
    let mut problems = Vec::new();
    let mut matched = 0;
    for (name, kind) in datadog {
        match (wasmon.get(name), excepted.get(name)) {
            (Some(kinds), None) if kinds.len() == 1 && kinds.contains(*kind) => matched += 1,
            (Some(kinds), None) => {
                problems.push(format!("{name}: Datadog sends a {kind}, wasmon {kinds:?}"))
            }
            (None, None) => problems.push(format!("{name}: not sent, and not an exception")),
            (Some(_), Some(_)) => {
                problems.push(format!("{name}: sent now, so its exception must go"))
            }
            (None, Some(_)) => {}
        }
    }
    for name in excepted.keys() {
        if !datadog.contains_key(name) {
            problems.push(format!(
                "{name}: an exception for a name {list} does not hold"
            ));
        }
    }
    eprintln!(
        "parity {list}: {matched} of {} Datadog names sent under the same name and kind, {} excepted",
        datadog.len(),
        excepted.len()
    );
    problems
        .into_iter()
        .map(|p| format!("{list}: {p}"))
        .collect()
}

fn assert_none(problems: Vec<String>) {
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// Samples of `name` in the last run of a report: (value, tags).
fn last_run(doc: &Value, name: &str) -> Vec<(f64, Vec<String>)> {
    let samples = doc["samples"].as_array().unwrap();
    let last = samples.iter().filter_map(|s| s["timestamp"].as_i64()).max();
    samples
        .iter()
        .filter(|s| s["name"] == name && s["timestamp"].as_i64() == last)
        .map(|s| {
            let tags = s["tags"].as_array().unwrap();
            let tags = tags.iter().map(|t| t.as_str().unwrap().into()).collect();
            (s["value"].as_f64().unwrap(), tags)
        })
        .collect()
}

fn report(layout: &Layout, check: &str) -> Value {
    let out = layout.wasmon(&["check", check, "--times", "2", "--json"]);
    assert!(
        out.status.success(),
        "wasmon check {check} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("--json prints one JSON document")
}

/// The shipped system config, with Datadog's optional network family turned on.
fn system_report(connection_state: bool) -> Value {
    let layout = Layout::new("");
    let shipped = std::fs::read_to_string(root().join("conf.d/system.yaml")).unwrap();
    let config = if connection_state {
        shipped.replace(
            "min_collection_interval: 15",
            "min_collection_interval: 15\n    collect_connection_state: true",
        )
    } else {
        shipped
    };
    layout.check_config("system", &config);
    report(&layout, "system")
}

fn statvfs(path: &str) -> libc::statvfs {
    let c = std::ffi::CString::new(path).unwrap();
    // SAFETY: a valid C string and a zeroed out-parameter of the right type.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        assert_eq!(libc::statvfs(c.as_ptr(), &mut st), 0, "statvfs {path}");
        st
    }
}

fn proc_value(path: &str, key: &str) -> f64 {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{key} in {path}"))
}

#[test]
fn system_check_sends_what_datadogs_host_checks_send() {
    let doc = system_report(true);
    let mut problems = compare("dd-go-core-linux.txt", &go_core_list(), &doc);
    for list in ["dd-disk.txt", "dd-network.txt", "dd-linux-proc-extras.txt"] {
        problems.extend(compare(list, &datadog_list(list), &doc));
    }
    assert_none(problems);

    // The same quantities agree: memory and swap exactly, in MiB as Datadog's.
    for (name, key) in [
        ("system.mem.total", "MemTotal"),
        ("system.swap.total", "SwapTotal"),
    ] {
        let got = last_run(&doc, name)[0].0;
        assert_eq!(got, proc_value("/proc/meminfo", key) / 1024.0, "{name}");
    }
    // Disk totals exactly, in KiB as Datadog's, tagged by device and device_name.
    for (total, tags) in last_run(&doc, "system.disk.total") {
        let mount = tags
            .iter()
            .find_map(|t| t.strip_prefix("mount_point:"))
            .expect("mount_point tag");
        let st = statvfs(mount);
        let bytes = st.f_blocks as f64 * st.f_frsize as f64;
        assert_eq!(total, bytes / 1024.0, "{mount}");
        let device = tags.iter().find_map(|t| t.strip_prefix("device:")).unwrap();
        let base = device.rsplit('/').next().unwrap();
        assert!(tags.contains(&format!("device_name:{base}")), "{tags:?}");
    }
    // Gauges read from the same files agree.
    let file_max = std::fs::read_to_string("/proc/sys/fs/file-nr").unwrap();
    let file_max: f64 = file_max.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert_eq!(last_run(&doc, "system.fs.file_handles.max")[0].0, file_max);
    let conntrack_max: f64 = std::fs::read_to_string("/proc/sys/net/netfilter/nf_conntrack_max")
        .map(|s| s.trim().parse().unwrap())
        .unwrap_or(f64::NAN);
    if conntrack_max.is_finite() {
        assert_eq!(
            last_run(&doc, "system.net.conntrack.max")[0].0,
            conntrack_max
        );
    }
    for (mtu, tags) in last_run(&doc, "system.net.iface.mtu") {
        let iface = tags.iter().find_map(|t| t.strip_prefix("iface:")).unwrap();
        let want = std::fs::read_to_string(format!("/sys/class/net/{iface}/mtu")).unwrap();
        assert_eq!(mtu, want.trim().parse::<f64>().unwrap(), "{iface}");
    }
    // Counters as rates: never negative, and TCP's own segments out add up over a second.
    for name in [
        "system.net.tcp.out_segs",
        "system.net.ip.in_receives",
        "system.net.udp.in_datagrams",
    ] {
        let values = last_run(&doc, name);
        assert_eq!(values.len(), 1, "{name}: one series, untagged as Datadog's");
        assert!(values[0].0 >= 0.0, "{name}: {}", values[0].0);
    }
}

#[test]
fn connection_states_count_what_is_open() {
    let listeners: Vec<std::net::TcpListener> = (0..5)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let doc = system_report(true);
    let listening = last_run(&doc, "system.net.tcp4.listening")[0].0;
    assert!(
        listening >= listeners.len() as f64,
        "{listening} listening sockets, the test holds {}",
        listeners.len()
    );
    // Off by default, as in Datadog's network check, whose default list is then matched.
    let doc = system_report(false);
    assert!(last_run(&doc, "system.net.tcp4.listening").is_empty());
    let list = "dd-network-defaults.txt";
    assert_none(compare(list, &datadog_list(list), &doc));
}

/// The reference server: MariaDB with performance_schema and the binary log, not a replica,
/// `userstat` off, and a `datadog` user that can read one application schema.
fn reference_server() -> MariaDb {
    let server = MariaDb::start(&[
        "--log-bin=binlog",
        "--server-id=1",
        "--performance-schema=ON",
    ]);
    server.sql(
        "CREATE DATABASE testdb; \
         CREATE TABLE testdb.users (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(20), KEY by_name (name)) ENGINE=InnoDB; \
         INSERT INTO testdb.users (name) VALUES ('ada'), ('grace'), ('alan'); \
         CREATE USER 'datadog'@'127.0.0.1' IDENTIFIED BY 'datadog'; \
         GRANT REPLICATION CLIENT ON *.* TO 'datadog'@'127.0.0.1' WITH MAX_USER_CONNECTIONS 5; \
         GRANT PROCESS ON *.* TO 'datadog'@'127.0.0.1'; \
         GRANT SLAVE MONITOR ON *.* TO 'datadog'@'127.0.0.1'; \
         GRANT SELECT ON performance_schema.* TO 'datadog'@'127.0.0.1'; \
         GRANT SELECT ON testdb.* TO 'datadog'@'127.0.0.1'; \
         GRANT SELECT ON mysql.innodb_index_stats TO 'datadog'@'127.0.0.1'",
    );
    server.sql("USE testdb; SELECT name FROM users WHERE name = 'ada'; ANALYZE TABLE users");
    server
}

fn mysql_report(server: &MariaDb, options: &str) -> Value {
    let layout = Layout::new("");
    layout.check_config(
        "mysql",
        &format!(
            "instances:\n  - host: 127.0.0.1\n    port: {}\n    username: datadog\n    password: datadog\n{options}",
            server.port
        ),
    );
    report(&layout, "mysql")
}

#[test]
fn mysql_check_sends_what_datadogs_mysql_check_sends() {
    let server = reference_server();
    let defaults = mysql_report(&server, "");
    let mut problems = compare(
        "dd-mysql-defaults.txt",
        &datadog_list("dd-mysql-defaults.txt"),
        &defaults,
    );
    let all = mysql_report(
        &server,
        "    options:\n      replication: true\n      galera_cluster: true\n      \
         extra_status_metrics: true\n      extra_innodb_metrics: true\n      \
         extra_performance_metrics: true\n      schema_size_metrics: true\n      \
         table_size_metrics: true\n      table_rows_stats_metrics: true\n      \
         system_table_size_metrics: false\n",
    );
    problems.extend(compare(
        "dd-mysql-all-options.txt",
        &datadog_list("dd-mysql-all-options.txt"),
        &all,
    ));
    assert_none(problems);
    for (what, doc) in [("defaults", &defaults), ("all options", &all)] {
        let run = last_run(doc, "wasmon.check.run_time");
        eprintln!(
            "mysql run, {what}: {:?} (wasmon.check.run_time)",
            run.first().map(|r| r.0)
        );
    }

    // Tags as Datadog sets them, and values the server agrees with.
    let tables = last_run(&all, "mysql.info.table.data_size");
    assert!(
        tables
            .iter()
            .any(|(_, t)| t.contains(&"schema:testdb".into()) && t.contains(&"table:users".into())),
        "{tables:?}"
    );
    for (metric, variable) in [
        ("mysql.myisam.key_buffer_size", "key_buffer_size"),
        ("mysql.net.max_connections_available", "max_connections"),
    ] {
        let want = server.sql(&format!("SELECT @@{variable}"));
        assert_eq!(
            last_run(&defaults, metric)[0].0,
            want.trim().parse::<f64>().unwrap(),
            "{metric}"
        );
    }
}

#[test]
fn service_checks_match_datadogs() {
    let server = reference_server();
    for (list, options) in [
        ("service-checks-mysql-defaults.txt", ""),
        (
            "service-checks-mysql-all-options.txt",
            "    options:\n      replication: true\n",
        ),
    ] {
        let doc = mysql_report(&server, options);
        let sent: BTreeMap<String, BTreeSet<String>> = doc["service_checks"]
            .as_array()
            .unwrap()
            .iter()
            .fold(BTreeMap::new(), |mut m, c| {
                m.entry(c["name"].as_str().unwrap().to_string())
                    .or_default()
                    .insert(c["status"].as_str().unwrap().to_string());
                m
            });
        for line in fixture(list).lines().filter(|l| !l.is_empty()) {
            let (name, statuses) = line.split_once('\t').unwrap();
            for status in statuses.split(',').map(str::trim) {
                assert!(
                    sent.get(name).is_some_and(|s| s.contains(status)),
                    "{list}: {name} {status} not sent; sent {sent:?}"
                );
            }
        }
    }
}

#[test]
fn datadogs_mysql_config_carries_over() {
    let server = reference_server();
    // Every key of Datadog's instance that has a meaning here, with that meaning.
    let accepted = mysql_report(
        &server,
        "    tags: [\"env:parity\"]\n    min_collection_interval: 15\n    connect_timeout: 5\n    \
         max_custom_queries: 2\n    only_custom_queries: false\n    index_metrics: {enabled: false}\n    \
         options: {replication: true, replication_channel: \"\", galera_cluster: false, \
         extra_status_metrics: false, extra_innodb_metrics: false, disable_innodb_metrics: false, \
         schema_size_metrics: false, table_size_metrics: false, system_table_size_metrics: true, \
         table_rows_stats_metrics: false, extra_performance_metrics: false}\n    \
         custom_queries:\n      - query: SELECT COUNT(*) FROM testdb.users\n        \
         columns: [{name: users.count, type: gauge}]\n",
    );
    assert!(
        last_run(&accepted, "mysql.index.size").is_empty(),
        "index_metrics.enabled: false"
    );
    assert_eq!(last_run(&accepted, "mysql.users.count")[0].0, 3.0);
    let system_tables = last_run(&accepted, "mysql.info.table.data_size");
    assert!(
        system_tables
            .iter()
            .all(|(_, t)| t.iter().any(|t| t == "schema:mysql"
                || t == "schema:performance_schema"
                || t == "schema:information_schema")),
        "system_table_size_metrics alone: the system schemas only"
    );
    assert!(!system_tables.is_empty());
    // only_custom_queries: nothing but the queries, and the service check.
    let only = mysql_report(
        &server,
        "    only_custom_queries: true\n    custom_queries:\n      - query: SELECT 7\n        \
         columns: [{name: seven, type: gauge}]\n",
    );
    let names: BTreeSet<&str> = only["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .filter(|n| !n.starts_with("wasmon."))
        .collect();
    assert_eq!(names, BTreeSet::from(["mysql.seven"]));

    // Keys of Datadog's that wasmon does not do are refused, all at once, saying what instead.
    let layout = Layout::new("");
    layout.check_config(
        "mysql",
        &format!(
            "instances:\n  - host: 127.0.0.1\n    port: {}\n    username: datadog\n    password: datadog\n    \
             dbm: true\n    query_samples: {{enabled: true}}\n    reported_hostname: db-1\n",
            server.port
        ),
    );
    let out = layout.wasmon(&["check", "mysql", "--times", "1"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "`dbm` is Datadog's, not wasmon's",
        "`query_samples`",
        "`reported_hostname`",
        "host:NAME",
    ] {
        assert!(stderr.contains(expected), "{expected} in: {stderr}");
    }
}

/// README's table of the names the checks send that no Datadog list holds:
/// `| \`name\` | kind | unit | tags | meaning |` rows between the markers.
fn readme_metrics() -> BTreeMap<String, String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let table = readme
        .split("<!-- wasmon's own metrics -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- end -->").next())
        .expect("README holds the table of wasmon's own metrics between its markers");
    table
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((name.to_string(), cells.get(2)?.to_string()))
        })
        .collect()
}

#[test]
fn wasmons_own_names_are_documented() {
    let server = reference_server();
    let all_options = "    options: {replication: true, extra_status_metrics: true, \
        extra_innodb_metrics: true, extra_performance_metrics: true, schema_size_metrics: true, \
        table_size_metrics: true}\n";
    let docs = [system_report(true), mysql_report(&server, all_options)];
    let datadog: BTreeSet<String> = [
        "dd-go-core-linux.txt",
        "dd-disk.txt",
        "dd-network.txt",
        "dd-linux-proc-extras.txt",
        "dd-mysql-all-options.txt",
    ]
    .iter()
    .flat_map(|f| {
        fixture(f)
            .lines()
            .filter_map(|l| l.split('\t').next().map(str::to_string))
            .collect::<Vec<_>>()
    })
    .collect();
    let documented = readme_metrics();
    let mut problems = Vec::new();
    let mut own = BTreeSet::new();
    for doc in &docs {
        for (name, kinds) in sent(doc) {
            if datadog.contains(&name) || name.starts_with("wasmon.") {
                continue;
            }
            let kind = kinds.into_iter().next().unwrap();
            match documented.get(&name) {
                Some(k) if *k == kind => {}
                Some(k) => problems.push(format!("{name}: README says {k}, sent as {kind}")),
                None => problems.push(format!("| `{name}` | {kind} | ? | ? | ? |: not in README")),
            }
            own.insert(name);
        }
    }
    for name in documented.keys() {
        if !own.contains(name) {
            problems.push(format!("{name}: in README, not sent"));
        }
    }
    assert_none(problems);
}
