//! Forwarding to a real VictoriaMetrics (Debian's `victoria-metrics`) in each protocol, through
//! an outage and a `kill -9`, past a disk budget, against a fault-injecting fake server, and
//! the scrape endpoint.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::mariadb::free_port;
use common::victoria::Victoria;
use common::{Agent, Layout, series, wait_for};

/// A check that emits known values every second, on whole seconds.
const EMIT: &str = "instances:\n  - {min_collection_interval: 1, align: true, value: 7.5}\n";

fn layout(sink: &str) -> Layout {
    let layout = Layout::new(&format!(
        "self_metrics_secs: 1\nsinks:\n  - {{type: console}}\n  - {sink}\n"
    ));
    layout.check_config("emit", EMIT);
    layout
}

/// `(timestamp_ms, value)` of every `test.emit.run_timestamp` the agent printed.
fn printed_runs(agent: &Agent) -> BTreeSet<(i64, u64)> {
    series(&agent.stdout(), "test.emit.run_timestamp", &[])
        .iter()
        .map(|l| ((l.timestamp * 1000.0) as i64, l.value as u64))
        .collect()
}

fn wait_runs(agent: &Agent, n: usize) {
    let ok = wait_for(Duration::from_secs(60), || {
        (printed_runs(agent).len() >= n).then_some(())
    });
    assert!(ok.is_some(), "fewer than {n} runs: {:?}", agent.stderr());
}

/// Runs the emit check into `sink` for a few seconds, then checks that VictoriaMetrics holds
/// every printed point under `name`, with its tags as labels.
fn round_trip(vm: &Victoria, sink: &str, name: &str) {
    let layout = layout(sink);
    let mut agent = layout.start_agent_with(&["run"]);
    wait_runs(&agent, 3);
    assert!(agent.stop(), "clean stop (flushes the sink)");
    let printed = printed_runs(&agent);
    let stored = vm.export(&format!("{{__name__=\"{name}\"}}"));
    assert_eq!(stored.len(), 1, "one series {name}: {stored:?}");
    let (labels, points) = &stored[0];
    assert_eq!(labels["host"], "test-host", "{labels}");
    assert_eq!(labels["env"], "test", "{labels}");
    let points: BTreeSet<(i64, u64)> = points.iter().map(|(t, v)| (*t, *v as u64)).collect();
    assert_eq!(points, printed, "every point, exactly");
    // The run's timestamp is the value: each point is stamped with its own run.
    assert!(points.iter().all(|(t, v)| *t as u64 == *v));
    let gauge_name = name.replace("run_timestamp", "gauge");
    let gauge = vm.export(&format!("{{__name__=\"{gauge_name}\"}}"));
    assert_eq!(gauge[0].0["source"], "emit");
    assert!(gauge[0].1.iter().all(|(_, v)| *v == 7.5));
}

#[test]
fn datadog() {
    let vm = Victoria::start();
    round_trip(
        &vm,
        &format!(
            "{{type: datadog, url: \"http://{}/datadog\", api_key: k}}",
            vm.http
        ),
        "test.emit.run_timestamp",
    );
}

#[test]
fn opentsdb_telnet() {
    let vm = Victoria::start();
    round_trip(
        &vm,
        &format!("{{type: opentsdb, address: \"{}\"}}", vm.telnet),
        "test.emit.run_timestamp",
    );
}

#[test]
fn opentsdb_http() {
    let vm = Victoria::start();
    round_trip(
        &vm,
        &format!(
            "{{type: opentsdb, protocol: http, address: \"http://{}\"}}",
            vm.opentsdb_http
        ),
        "test.emit.run_timestamp",
    );
}

#[test]
fn influx_v1_and_v2() {
    let vm = Victoria::start();
    round_trip(
        &vm,
        &format!(
            "{{type: influx, url: \"http://{}\", database: wasmon}}",
            vm.http
        ),
        "test.emit.run_timestamp",
    );
    let vm = Victoria::start();
    round_trip(
        &vm,
        &format!(
            "{{type: influx, url: \"http://{}\", org: ops, bucket: wasmon, token: t}}",
            vm.http
        ),
        "test.emit.run_timestamp",
    );
}

#[test]
fn prometheus_remote_write() {
    let vm = Victoria::start();
    round_trip(
        &vm,
        &format!(
            "{{type: prometheus_remote_write, url: \"http://{}/api/v1/write\"}}",
            vm.http
        ),
        "test_emit_run_timestamp",
    );
}

#[test]
fn an_outage_and_a_kill_lose_nothing() {
    let mut vm = Victoria::start();
    let sink = format!(
        "{{type: prometheus_remote_write, name: remote, url: \"http://{}/api/v1/write\", delivery: {{retry_max_secs: 1}}}}",
        vm.http
    );
    let layout = layout(&sink);
    let mut first = layout.start_agent_with(&["run"]);
    wait_runs(&first, 2);
    vm.stop();
    // The backend is down for a while: batches go to the disk buffer.
    let before = printed_runs(&first).len();
    wait_runs(&first, before + 4);
    first.kill();
    let mut printed = printed_runs(&first);
    vm.restart();
    let mut second = layout.start_agent_with(&["run"]);
    wait_runs(&second, 3);
    // The buffer drains: the queued disk bytes go back to zero.
    let drained = wait_for(Duration::from_secs(60), || {
        series(
            &second.stdout(),
            "wasmon.sink.queued_disk_bytes",
            &["sink=remote"],
        )
        .last()
        .filter(|l| l.value == 0.0)
        .map(|_| ())
    });
    assert!(drained.is_some(), "the disk buffer emptied");
    assert!(second.stop());
    printed.extend(printed_runs(&second));
    let stored = vm.export("{__name__=\"test_emit_run_timestamp\"}");
    let mut counts: BTreeMap<(i64, u64), usize> = BTreeMap::new();
    for (t, v) in &stored[0].1 {
        *counts.entry((*t, *v as u64)).or_default() += 1;
    }
    let stored_points: BTreeSet<(i64, u64)> = counts.keys().copied().collect();
    let missing: Vec<_> = printed.difference(&stored_points).collect();
    assert!(missing.is_empty(), "lost: {missing:?}");
    // At least once: only the batch in flight at the kill may arrive twice.
    assert!(counts.values().all(|n| *n <= 2), "{counts:?}");
}

#[test]
fn past_the_disk_budget_the_oldest_go_and_are_counted() {
    // Nothing listens on this port: every batch stays buffered.
    let sink = format!(
        "{{type: influx, name: remote, url: \"http://127.0.0.1:{}\", database: d, delivery: {{disk_budget_mib: 1, retry_max_secs: 1}}}}",
        free_port()
    );
    let layout = Layout::new(&format!(
        "self_metrics_secs: 1\nsinks:\n  - {{type: console}}\n  - {sink}\n"
    ));
    layout.check_config(
        "emit",
        "instances:\n  - {min_collection_interval: 1, extra: 5000}\n",
    );
    let agent = layout.start_agent_with(&["run"]);
    let dropped = wait_for(Duration::from_secs(90), || {
        let lines = agent.stdout();
        let dropped: f64 = series(&lines, "wasmon.sink.dropped", &["sink=remote"])
            .iter()
            .map(|l| l.value)
            .sum();
        (dropped > 0.0).then_some(lines)
    })
    .expect("series dropped past the budget");
    let disk = series(&dropped, "wasmon.sink.queued_disk_bytes", &["sink=remote"]);
    assert!(!disk.is_empty(), "no wasmon.sink.queued_disk_bytes");
    assert!(
        disk.iter().all(|l| l.value <= (1 << 20) as f64 + 300_000.0),
        "the buffer stays near its budget: {:?}",
        disk.iter().map(|l| l.value).collect::<Vec<_>>()
    );
    let rss = series(&dropped, "wasmon.agent.rss_bytes", &[]);
    assert!(!rss.is_empty(), "no wasmon.agent.rss_bytes");
    assert!(rss.iter().all(|l| l.value < 200e6), "memory stays bounded");
    let log = agent.stderr().join("\n");
    assert!(
        log.contains("disk buffer full: the oldest series were dropped"),
        "{log}"
    );
}

/// A fake backend answering each request from a script, recording what it accepted.
fn fake_server(script: Vec<&'static str>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let record = accepted.clone();
    std::thread::spawn(move || {
        let mut script = script.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Some(body) = read_request(&mut stream) else {
                continue;
            };
            let answer = script.next().unwrap_or("200");
            match answer {
                "reset" => drop(stream),
                "slow" => {
                    std::thread::sleep(Duration::from_secs(3));
                    drop(stream);
                }
                "503-long" => {
                    let _ = stream.write_all(
                        b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 60\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
                "429" => {
                    let _ = stream.write_all(
                        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
                code => {
                    if code == "200" {
                        record.lock().unwrap().push(body);
                    }
                    let _ = stream.write_all(
                        format!(
                            "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    );
                }
            }
        }
    });
    (addr, accepted)
}

/// A request's gzip-compressed body, as text.
fn read_request(stream: &mut std::net::TcpStream) -> Option<String> {
    let (_, body) = common::read_request(stream)?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

#[test]
fn faults_are_retried_and_refusals_dropped() {
    // One batch each: 500, 429 (Retry-After: 1), reset, slow (past the 1 s timeout): all
    // retried; then 400: dropped and counted; then everything is accepted.
    let (addr, accepted) = fake_server(vec!["500", "429", "reset", "slow", "200", "400"]);
    let sink = format!(
        "{{type: influx, name: remote, url: \"http://{addr}\", database: d, delivery: {{request_timeout_secs: 1, retry_max_secs: 1, flush_secs: 0.5}}}}"
    );
    let layout = layout(&sink);
    let mut agent = layout.start_agent_with(&["run"]);
    let lines = wait_for(Duration::from_secs(60), || {
        let lines = agent.stdout();
        let total = |name: &str| -> f64 {
            series(&lines, name, &["sink=remote"])
                .iter()
                .map(|l| l.value)
                .sum()
        };
        // The self-metrics go out every second: wait for the report of what was sent, too.
        let reported = total("wasmon.sink.dropped") > 0.0 && total("wasmon.sink.sent") > 0.0;
        (reported && accepted.lock().unwrap().len() >= 3).then_some(lines)
    })
    .expect("a refusal counted and later batches accepted");
    let total = |name: &str| -> f64 {
        series(&lines, name, &["sink=remote"])
            .iter()
            .map(|l| l.value)
            .sum()
    };
    assert!(
        total("wasmon.sink.retried") >= 4.0,
        "retried {}",
        total("wasmon.sink.retried")
    );
    assert!(total("wasmon.sink.failed") >= 5.0);
    assert!(total("wasmon.sink.sent") > 0.0);
    assert!(agent.stop());
    // The first accepted body is the batch that failed four times, holding the first run:
    // nothing was lost before it.
    let first = accepted.lock().unwrap()[0].clone();
    let (first_ms, first_value) = *printed_runs(&agent).iter().next().expect("a printed run");
    let point = format!("value={:?} {first_ms}", first_value as f64);
    assert!(
        first
            .lines()
            .any(|l| l.starts_with("test.emit.run_timestamp,") && l.ends_with(&point)),
        "the first run's point {point} is not in the first accepted body:\n{first}"
    );
    let log = agent.stderr().join("\n");
    assert!(log.contains("the server answered 400"), "{log}");
    assert!(
        log.contains("send failed, retrying in 1s: the server answered 429 Too Many Requests"),
        "{log}"
    );
}

#[test]
fn a_dead_sink_does_not_hold_up_shutdown() {
    // Every request is told to come back in 60 s (the longest back-off allowed).
    let (addr, _) = fake_server(vec!["503-long"; 1000]);
    let sink = format!(
        "{{type: influx, url: \"http://{addr}\", database: d, delivery: {{retry_max_secs: 60, flush_secs: 0.2}}}}"
    );
    let layout = layout(&sink);
    let mut agent = layout.start_agent_with(&["run"]);
    agent
        .wait_for_stderr(Duration::from_secs(30), |l| {
            l.contains("send failed, retrying in 60s")
        })
        .expect("the sink waits for its Retry-After");
    let asked = std::time::Instant::now();
    assert!(agent.stop(), "clean stop");
    let took = asked.elapsed();
    // The sink drains for 5 s at most, whatever its back-off; the rest stays on disk.
    assert!(took < Duration::from_secs(9), "stopping took {took:?}");
    let log = agent.stderr().join("\n");
    assert!(
        log.contains("left in the disk buffer for the next start"),
        "{log}"
    );
}

#[test]
fn the_scrape_endpoint_serves_the_latest_values() {
    let listen = format!("127.0.0.1:{}", free_port());
    let layout = layout(&format!("{{type: prometheus, listen: \"{listen}\"}}"));
    let mut agent = layout.start_agent_with(&["run"]);
    wait_runs(&agent, 2);
    let (code, body) = common::http(&listen, "GET", "/metrics", None, None);
    assert_eq!(code, 200);
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string())))
        .expect("valid text exposition");
    let value = |name: &str| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name)
            .map(|s| (s.value.clone(), s.labels.clone()))
    };
    let (gauge, labels) = value("test_emit_gauge").expect("test_emit_gauge");
    assert!(
        matches!(gauge, prometheus_parse::Value::Gauge(v) if v == 7.5),
        "{gauge:?}"
    );
    assert_eq!(labels.get("source"), Some("emit"));
    assert_eq!(labels.get("host"), Some("test-host"));
    // The latest run's timestamp: no older than the last printed run.
    let (latest, _) = value("test_emit_run_timestamp").unwrap();
    let printed = printed_runs(&agent);
    let last_printed = printed.iter().next_back().unwrap().1 as f64;
    assert!(matches!(latest, prometheus_parse::Value::Gauge(v) if v >= last_printed));
    // The endpoint reports what it took and served, as every sink does.
    let tag = format!("sink=prometheus-{}", listen.replace(':', "_"));
    let served = wait_for(Duration::from_secs(20), || {
        let lines = agent.stdout();
        let total =
            |name: &str| -> f64 { series(&lines, name, &[&tag]).iter().map(|l| l.value).sum() };
        let served = total("wasmon.sink.sent_bytes");
        (total("wasmon.sink.sent") > 0.0 && served >= body.len() as f64).then_some(served)
    });
    assert!(served.is_some(), "the scrape endpoint's own counters");
    assert!(agent.stop());
}

#[test]
fn the_scrape_endpoint_drops_series_no_longer_sent() {
    let listen = format!("127.0.0.1:{}", free_port());
    let port = free_port();
    let layout = Layout::new(&format!(
        "dogstatsd: {{listen: \"127.0.0.1:{port}\", flush_secs: 1}}\n\
         sinks:\n  - {{type: prometheus, listen: \"{listen}\", expire_secs: 2}}\n"
    ));
    layout.check_config("emit", EMIT);
    let mut agent = layout.start_agent_with(&["run"]);
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let listed = |body: &str, name: &str| body.lines().any(|l| l.starts_with(name));
    let scrape = || common::http(&listen, "GET", "/metrics", None, None).1;
    // Sent until it is listed (the listener may not be up yet), then never again.
    let shown = wait_for(Duration::from_secs(30), || {
        socket
            .send_to(b"pushed.once:5|g|#pid:7", ("127.0.0.1", port))
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let body = scrape();
        listed(&body, "pushed_once{").then_some(body)
    });
    assert!(shown.is_some(), "the pushed gauge is listed");
    let gone = wait_for(Duration::from_secs(30), || {
        let body = scrape();
        (!listed(&body, "pushed_once{")).then_some(body)
    })
    .expect("the series no longer sent leaves /metrics");
    assert!(
        listed(&gone, "test_emit_gauge{"),
        "what is still sent stays: {gone}"
    );
    assert!(agent.stop());
}

#[test]
fn a_sink_that_cannot_start_stops_the_start_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let layout = layout(&format!(
        "{{type: prometheus, listen: \"{listen}\", name: scrape}}"
    ));
    let mut agent = layout.start_agent_with(&["run"]);
    let code = agent.wait_exit(Duration::from_secs(30));
    let stderr = agent.stderr().join("\n");
    assert!(code.is_some_and(|c| c != 0), "{code:?}: {stderr}");
    assert!(
        stderr.contains(&format!("sink scrape: cannot listen on {listen}")),
        "{stderr}"
    );
    drop(taken);
}

#[test]
fn a_bad_sink_is_refused_with_its_field() {
    let layout = Layout::new("sinks:\n  - {type: influx, url: \"http://127.0.0.1:8086\"}\n");
    let out = layout.wasmon(&["configcheck"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!(
            "{}:9: sinks[0].database: set `database` (InfluxDB 1.x) or `org` and `bucket` (2.x)",
            layout.config().display()
        )),
        "{stderr}"
    );
}
