//! Metrics that applications push, end to end: the official DogStatsD client for Python and
//! raw datagrams into `wasmon run`, aggregated per flush window and read back from a real
//! VictoriaMetrics (remote write) and a fake Datadog intake (series, check runs, events);
//! Open-Falcon's push API with a real HTTP client, good and bad bodies; the context limit.

use crate::common;

use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::datadog::{fake_datadog, sketches};
use common::mariadb::free_port;
use common::victoria::Victoria;
use common::{Agent, Layout, wait_for};
use serde_json::Value;

const FLUSH_SECS: u64 = 10;

/// What the Python client sends in one window: once loaded (which a busy machine may make
/// slow), it waits until 2 s into the next window, so that its lines land in one even when
/// the agent's flush at the window's start runs late (lines are windowed as they are read).
const CLIENT: &str = r#"
import sys, time
from datadog.dogstatsd import DogStatsd
# Lines packed into datagrams of at most 1432 bytes, as buffering clients send them: a burst
# of one datagram a line can overflow a default socket buffer before the agent reads it.
s = DogStatsd(host="127.0.0.1", port=int(sys.argv[1]), disable_telemetry=True,
              disable_buffering=False)
window = float(sys.argv[2])
time.sleep(window - time.time() % window + 2)
for _ in range(50):
    s.increment("app.hits", tags=["route:home"])
for v in range(1, 101):
    s.histogram("app.latency", v, tags=["route:home"])
    s.distribution("app.size", v)
for user in ["a", "b", "c", "a", "d", "e", "f", "g", "b"]:
    s.set("app.users", user)
s.gauge("app.temp", 21.5, tags=["room:lab"])
s.service_check("app.up", 1, tags=["svc:api"], message="slow")
s.event("deploy", "v2 out\nall good", alert_type="success", tags=["team:ops"])
s.flush_buffered_metrics()
s.close_socket()
"#;

fn python_client(port: u16) {
    let status = Command::new("python3")
        .args(["-c", CLIENT, &port.to_string(), &FLUSH_SECS.to_string()])
        .status()
        .expect("python3 (the datadog package is installed by `cargo xtask test`)");
    assert!(status.success(), "the Python client failed");
}

/// The Datadog agent's bin key of `v` (ε 1/128, smallest value 1e-9: bias 1338).
fn agent_key(v: f64) -> i32 {
    (v.ln() / (1.0f64 / 64.0).ln_1p()).round_ties_even() as i32 + 1338
}

fn status(layout: &Layout) -> Value {
    let out = layout.wasmon(&["status", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn start(layout: &Layout, args: &[&str]) -> Agent {
    let agent = layout.start_agent_with(args);
    let listening = agent.wait_for_stderr(Duration::from_secs(30), |l| {
        l.contains("dogstatsd: listening")
    });
    assert!(listening.is_some(), "{:?}", agent.stderr());
    agent
}

#[test]
fn the_python_client_reads_back_as_datadog_aggregates() {
    let vm = Victoria::start();
    let (intake, requests) = fake_datadog();
    let port = free_port();
    let layout = Layout::new(&format!(
        "dogstatsd: {{listen: \"127.0.0.1:{port}\", flush_secs: {FLUSH_SECS}, tags: [\"via:dsd\"]}}\n\
         sinks:\n  - {{type: prometheus_remote_write, url: \"http://{}/api/v1/write\"}}\n  \
         - {{type: datadog, url: \"http://{intake}\", api_key: k, delivery: {{flush_secs: 0.2}}}}\n",
        vm.http
    ));
    layout.check_config(
        "emit",
        "instances:\n  - {min_collection_interval: 1, value: 1}\n",
    );
    let mut agent = start(&layout, &["run"]);
    python_client(port);
    // Raw lines beside the client's: bad ones are counted, the rest of the datagram kept.
    let raw = UdpSocket::bind("127.0.0.1:0").unwrap();
    raw.send_to(
        b"app.raw:3|c\nnot a line\napp.raw:4|c\napp.bad:1|zz\napp.ts:7|g|T1700000000\n",
        ("127.0.0.1", port),
    )
    .unwrap();

    let (labels, hits) = vm.first_point("app_hits", &[("route", "home")]);
    assert_eq!(hits, 5.0, "50 increments in a 10 s window: 5 a second");
    assert_eq!(labels["host"], "test-host");
    assert_eq!(labels["env"], "test");
    assert_eq!(labels["via"], "dsd");
    assert_eq!(vm.first_point("app_raw", &[]).1, 0.7);
    vm.assert_one_to_a_hundred("app_latency", &[]);
    assert_eq!(vm.first_point("app_size_avg", &[]).1, 50.5);
    assert_eq!(
        vm.first_point("app_users", &[]).1,
        7.0,
        "7 distinct members"
    );
    assert_eq!(vm.first_point("app_temp", &[("room", "lab")]).1, 21.5);
    // A service check travels as a series where the backend knows none.
    let (labels, up) = vm.first_point("app_up", &[("svc", "api")]);
    assert_eq!(up, 1.0, "WARNING");
    assert_eq!(labels["host"], "test-host");
    let ts = vm.export("{__name__=\"app_ts\"}");
    assert_eq!(
        ts[0].1,
        [(1_700_000_000_000, 7.0)],
        "|T passes unaggregated"
    );
    // Checks' own service checks reach backends too, and so do the intake's counters.
    assert_eq!(
        vm.first_point("wasmon_check_status", &[("check", "emit")])
            .1,
        0.0
    );
    // The client's 262 lines (packed into a few datagrams), counted as lines and packets.
    let counted = |name: &str, least: f64| {
        wait_for(Duration::from_secs(30), || {
            let all = vm.export(&format!("{{__name__=\"{name}\"}}"));
            let total: f64 = all
                .iter()
                .flat_map(|(_, points)| points.iter().map(|p| p.1))
                .sum();
            (total >= least).then_some(total)
        })
    };
    assert!(
        counted("wasmon_dogstatsd_lines", 260.0).is_some()
            && counted("wasmon_dogstatsd_packets", 2.0).is_some(),
        "the intake counts what it took"
    );

    let report = wait_for(Duration::from_secs(20), || {
        let doc = status(&layout);
        let intake = doc["intake"].clone();
        (intake["parse_errors"]["no_type"] == 1).then_some(intake)
    })
    .expect("the refused lines are counted in the status");
    assert_eq!(report["parse_errors"]["bad_type"], 1);
    assert_eq!(report["service_checks"], 1);
    assert_eq!(report["events"], 1);
    assert!(
        report["listening"][0]
            .as_str()
            .is_some_and(|a| a.ends_with(&format!(":{port}"))),
        "{report}"
    );
    let refused = agent.stderr().join("\n");
    assert!(
        refused.contains("not a line"),
        "the first refusal is logged: {refused}"
    );
    assert_eq!(
        refused.matches("a line was refused").count(),
        2,
        "once per reason"
    );

    // The Datadog sink gets the series, the check run and the event as Datadog's API has them.
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let seen = wait_for(Duration::from_secs(30), || {
        let seen = requests.lock().unwrap().clone();
        (seen.iter().any(|(p, _)| p == "/api/v1/events")
            && seen.iter().any(|(p, _)| p == "/api/beta/sketches")
            && seen
                .iter()
                .any(|(p, b)| p == "/api/v1/check_run" && text(b).contains("app.up")))
        .then_some(seen)
    })
    .expect("check run, event and sketch reached the Datadog intake");
    let json = |b: &[u8]| -> Value { serde_json::from_slice(b).unwrap() };
    let check_run: Value = seen
        .iter()
        .find(|(p, b)| p == "/api/v1/check_run" && text(b).contains("app.up"))
        .map(|(_, b)| json(b))
        .unwrap();
    let run = check_run
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "app.up")
        .unwrap();
    assert_eq!(run["status"], 1);
    assert_eq!(run["message"], "slow");
    assert_eq!(run["host_name"], "test-host");
    assert!(run["tags"].as_array().unwrap().contains(&"svc:api".into()));
    let event: Value = seen
        .iter()
        .find(|(p, _)| p == "/api/v1/events")
        .map(|(_, b)| json(b))
        .unwrap();
    assert_eq!(event["title"], "deploy");
    assert_eq!(event["text"], "v2 out\nall good");
    assert_eq!(event["alert_type"], "success");
    let series: Vec<Value> = seen
        .iter()
        .filter(|(p, _)| p == "/api/v1/series")
        .flat_map(|(_, b)| json(b)["series"].as_array().cloned().unwrap_or_default())
        .collect();
    let hits = series.iter().find(|s| s["metric"] == "app.hits").unwrap();
    assert_eq!(
        (hits["type"].clone(), hits["points"][0][1].clone()),
        ("rate".into(), 5.0.into())
    );
    assert!(
        series
            .iter()
            .all(|s| s["metric"] != "app.up" && s["metric"] != "app.size.avg"),
        "Datadog takes service checks and distributions as such, not as series"
    );
    // The distribution as the agent's sketch: exact summaries, and the agent's own bins.
    let sketches = sketches(&seen);
    let size = sketches.iter().find(|s| s.metric == "app.size").unwrap();
    assert_eq!(size.host, "test-host");
    let d = &size.dogsketches[0];
    assert_eq!(
        (d.cnt, d.min, d.max, d.sum, d.avg),
        (100, 1.0, 100.0, 5050.0, 50.5)
    );
    let mut bins = std::collections::BTreeMap::new();
    for v in 1..=100 {
        *bins.entry(agent_key(f64::from(v))).or_insert(0u32) += 1;
    }
    assert_eq!(d.k, bins.keys().copied().collect::<Vec<_>>());
    assert_eq!(d.n, bins.values().copied().collect::<Vec<_>>());
    assert!(agent.stop(), "a clean stop");
}

#[test]
fn the_context_limit_bounds_what_is_kept() {
    let port = free_port();
    let layout = Layout::new(&format!(
        "dogstatsd: {{listen: \"127.0.0.1:{port}\", flush_secs: 1, max_contexts: 100}}\n"
    ));
    let mut agent = start(&layout, &["run", "--dry-run"]);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for batch in 0..50 {
        let datagram: String = (0..20)
            .map(|i| format!("ctx.many:1|c|#n:{}\n", batch * 20 + i))
            .collect();
        socket
            .send_to(datagram.as_bytes(), ("127.0.0.1", port))
            .unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    let report = wait_for(Duration::from_secs(20), || {
        let intake = status(&layout)["intake"].clone();
        (intake["lines"] == 1000).then_some(intake)
    })
    .expect("every line taken");
    assert_eq!(report["dropped"]["context_limit"], 900, "{report}");
    let printed = wait_for(Duration::from_secs(10), || {
        let lines = common::series(&agent.stdout(), "ctx.many", &[]);
        (!lines.is_empty()).then_some(lines)
    })
    .expect("the kept series are sent");
    let kept: std::collections::BTreeSet<String> = printed
        .iter()
        .flat_map(|l| l.fields.iter().filter(|f| f.starts_with("n=")).cloned())
        .collect();
    assert_eq!(kept.len(), 100, "only the first contexts live");
    let shown = layout.wasmon(&["status"]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("dropped: context_limit 900"), "{shown}");
    assert!(agent.stop());
}

#[test]
fn a_unix_socket_takes_datagrams_too() {
    let layout = Layout::new("dogstatsd: {listen: \"\", socket: dsd.socket, flush_secs: 1}\n");
    let mut agent = start(&layout, &["run", "--dry-run"]);
    let socket = std::os::unix::net::UnixDatagram::unbound().unwrap();
    let path = layout.dir.path().join("dsd.socket");
    for _ in 0..3 {
        socket
            .send_to(b"uds.hits:2|c|#via:uds\n_sc|uds.up|0\n", &path)
            .unwrap();
    }
    let line = agent.wait_for_stdout(Duration::from_secs(10), |l| l.starts_with("uds.hits "));
    let line = common::Line::parse(&line.expect("the socket's counter is sent")).unwrap();
    assert_eq!(line.value, 6.0, "3 × 2 in a 1 s window");
    assert!(line.has("via=uds") && line.has("kind=rate"), "{line:?}");
    let check = agent.wait_for_stdout(Duration::from_secs(5), |l| {
        l.contains("SERVICE_CHECK uds.up")
    });
    assert!(check.is_some_and(|c| c.contains(" OK ")));
    assert!(agent.stop());
    assert!(
        !path.exists()
            || std::os::unix::net::UnixDatagram::unbound()
                .unwrap()
                .send_to(b"x:1|c", &path)
                .is_err(),
        "nothing listens after the stop"
    );
}

/// `POST /v1/push` with a real HTTP client.
fn push(addr: &str, body: &str) -> (u16, String) {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, urllib.request, urllib.error\n\
             r = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method='POST')\n\
             try:\n    resp = urllib.request.urlopen(r); print(resp.status); print(resp.read().decode(), end='')\n\
             except urllib.error.HTTPError as e:\n    print(e.code); print(e.read().decode(), end='')\n",
            &format!("http://{addr}/v1/push"),
            body,
        ])
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (code, body) = text.split_once('\n').unwrap_or((&text, ""));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn open_falcon_push_takes_whole_bodies_or_none() {
    let vm = Victoria::start();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let layout = Layout::new(&format!(
        "push: {{listen: \"{addr}\", max_body_kib: 1, max_points: 3}}\n\
         sinks:\n  - {{type: prometheus_remote_write, url: \"http://{}/api/v1/write\"}}\n  - {{type: console}}\n",
        vm.http
    ));
    let mut agent = start(&layout, &["run"]);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let point = |metric: &str, ts: u64, value: &str, kind: &str| {
        format!(
            r#"{{"metric":"{metric}","endpoint":"web-7","timestamp":{ts},"step":60,"value":{value},"counterType":"{kind}","tags":"idc=bj,svc=api"}}"#
        )
    };
    let first = format!(
        "[{},{}]",
        point("falcon.load", now - 20, "1.5", "GAUGE"),
        point("falcon.bytes", now - 20, "1000", "COUNTER")
    );
    assert_eq!(push(&addr, &first), (200, "success".into()));
    let second = format!(
        "[{}]",
        point("falcon.bytes", now - 10, "\"1600\"", "COUNTER")
    );
    assert_eq!(push(&addr, &second), (200, "success".into()));
    let (labels, load) = vm.first_point("falcon_load", &[]);
    assert_eq!(load, 1.5);
    assert_eq!(
        (labels["host"].clone(), labels["idc"].clone()),
        ("web-7".into(), "bj".into())
    );
    let bytes = vm.export("{__name__=\"falcon_bytes\"}");
    assert_eq!(
        bytes[0].1,
        [((now - 10) as i64 * 1000, 60.0)],
        "a counter is its per-second rate between pushes"
    );

    // Refusals: each names its reason, and nothing of a refused body is taken.
    let half_bad = format!(
        "[{},{}]",
        point("falcon.half", now, "1", "GAUGE"),
        point("falcon.half", now, "\"x\"", "GAUGE")
    );
    let (code, reason) = push(&addr, &half_bad);
    assert_eq!(code, 400);
    assert!(reason.contains("points[1]: value"), "{reason}");
    let (code, reason) = push(&addr, "");
    assert_eq!((code, reason.trim()), (400, "body is blank"));
    let (code, reason) = push(&addr, "{not json");
    assert_eq!(code, 400);
    assert!(reason.starts_with("cannot decode body"), "{reason}");
    let four = format!(
        "[{}]",
        vec![point("falcon.many", now, "1", "GAUGE"); 4].join(",")
    );
    let (code, reason) = push(&addr, &four);
    assert_eq!(code, 400);
    assert!(reason.contains("max_points"), "{reason}");
    let big = format!("[{}]", " ".repeat(2000));
    assert_eq!(push(&addr, &big).0, 413);
    let (code, reason) = push(
        &addr,
        &format!("[{}]", point("falcon.x", now, "1", "DERIVE")),
    );
    assert_eq!(code, 400);
    assert!(reason.contains("counterType"), "{reason}");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        vm.export("{__name__=~\"falcon_(half|many)\"}").is_empty(),
        "a refused body is not half taken"
    );
    let report = status(&layout)["intake"].clone();
    assert_eq!(
        (
            report["push_requests"].clone(),
            report["push_refused"].clone()
        ),
        (8.into(), 6.into())
    );
    assert_eq!(report["push_points"], 3);
    assert!(agent.stop());
}

#[test]
fn a_taken_port_fails_the_start_naming_its_key() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let layout = Layout::new(&format!("dogstatsd: {{listen: \"127.0.0.1:{port}\"}}\n"));
    let out = layout.wasmon(&["run"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("dogstatsd.listen"), "{stderr}");
    let layout = Layout::new("dogstatsd: {flush_secs: 0}\n");
    let out = layout.wasmon(&["configcheck"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("dogstatsd.flush_secs"), "{text}");
}
