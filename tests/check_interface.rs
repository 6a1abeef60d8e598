//! Every released `wasmon:check` served side by side: a check built against 0.1.0 (raw
//! bindings, no SDK) runs unchanged beside 0.2.0 ones in one agent, and what only 0.2.0
//! carries (histograms, distributions, sets, a sample's own time, events, config errors that
//! name their field) reaches a real VictoriaMetrics and a fake Datadog intake as Datadog's
//! own checks would send it.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::datadog::{fake_datadog, sketches};
use common::victoria::Victoria;
use common::{Layout, guest, wait_for};
use serde_json::Value;

#[test]
fn a_0_1_0_check_runs_beside_a_0_2_0_one() {
    let vm = Victoria::start();
    let (intake, requests) = fake_datadog();
    let layout = Layout::new(&format!(
        "sinks:\n  - {{type: prometheus_remote_write, url: \"http://{}/api/v1/write\"}}\n  \
         - {{type: datadog, url: \"http://{intake}\", api_key: k, delivery: {{flush_secs: 0.2}}}}\n",
        vm.http
    ));
    layout.check_config(
        "emit",
        "instances:\n  - {min_collection_interval: 1, summaries: true}\n",
    );
    layout.check_config("legacy", "instances:\n  - {min_collection_interval: 1}\n");
    let mut agent = layout.start_agent_with(&["run"]);

    // The 0.1.0 check: its gauge, its rate (10 a run, a run a second) and its status.
    let (labels, gauge) = vm.first_point("test_legacy_gauge", &[("wit", "0.1.0")]);
    assert_eq!(gauge, 7.0);
    assert_eq!(labels["host"], "test-host");
    assert_eq!(vm.first_point("test_legacy_counter", &[]).1, 10.0);
    assert_eq!(
        vm.first_point("wasmon_check_status", &[("check", "legacy")])
            .1,
        0.0,
        "OK"
    );

    // The 0.2.0 check's run of 1..=100 as Datadog summarises a check's histogram.
    vm.assert_one_to_a_hundred("test_emit_histogram", &[("kind", "h")]);
    assert_eq!(
        vm.first_point("test_emit_distribution_avg", &[("kind", "d")])
            .1,
        50.5
    );
    assert_eq!(
        vm.first_point("test_emit_set", &[]).1,
        7.0,
        "7 distinct members"
    );
    // A gauge at its own time, 5 s before its run's.
    vm.first_point("test_emit_earlier", &[]);
    let at = |name: &str| -> Vec<(i64, f64)> {
        vm.export(&format!("{{__name__=\"{name}\"}}"))
            .into_iter()
            .flat_map(|(_, points)| points)
            .collect()
    };
    // Read before the runs, so that every point read has its run among them.
    let earlier = at("test_emit_earlier");
    let runs: BTreeSet<i64> = at("test_emit_run_timestamp")
        .iter()
        .map(|(_, run_ms)| *run_ms as i64)
        .collect();
    assert!(
        earlier
            .iter()
            .all(|(ts, v)| *v == 42.0 && runs.contains(&(ts + 5_000))),
        "{earlier:?} vs runs {runs:?}"
    );

    // Datadog gets the event, and the distribution as a sketch rather than as series.
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let seen = wait_for(Duration::from_secs(30), || {
        let seen = requests.lock().unwrap().clone();
        let has = |path: &str, needle: &str| {
            seen.iter()
                .any(|(p, b)| p == path && text(b).contains(needle))
        };
        (has("/api/v1/events", "emit ran")
            && has("/api/beta/sketches", "test.emit.distribution")
            && has("/api/v1/series", "test.legacy.gauge"))
        .then_some(seen)
    })
    .expect("the event, the sketch and the 0.1.0 check's series reached the Datadog intake");
    let event: Value = seen
        .iter()
        .find(|(p, _)| p == "/api/v1/events")
        .map(|(_, b)| serde_json::from_slice(b).unwrap())
        .unwrap();
    assert_eq!(event["title"], "emit ran");
    assert_eq!(event["alert_type"], "success");
    assert_eq!(event["aggregation_key"], "emit");
    assert_eq!(event["host"], "test-host");
    assert!(
        event["tags"]
            .as_array()
            .unwrap()
            .contains(&"source:emit".into()),
        "{event}"
    );
    let sketch = sketches(&seen)
        .into_iter()
        .find(|s| s.metric == "test.emit.distribution")
        .unwrap();
    let d = &sketch.dogsketches[0];
    assert_eq!((d.cnt, d.min, d.max, d.sum), (100, 1.0, 100.0, 5050.0));
    assert!(
        seen.iter()
            .filter(|(p, _)| p == "/api/v1/series")
            .all(|(_, b)| !text(b).contains("test.emit.distribution.avg")),
        "Datadog takes distributions as sketches"
    );
    assert!(agent.stop(), "a clean stop");
}

/// `wasmon check` of one instance, its stdout and stderr together.
fn check_once(layout: &Layout, module: &str, instance: &str) -> (bool, String) {
    let config = layout.dir.path().join(format!("{module}-try.yaml"));
    std::fs::write(&config, format!("instances:\n  - {instance}\n")).unwrap();
    let out = layout.wasmon(&[
        "check",
        "--wasm",
        guest(module).to_str().unwrap(),
        "--check-config",
        config.to_str().unwrap(),
    ]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

#[test]
fn config_errors_name_their_field_from_0_2_0_and_stay_text_in_0_1_0() {
    let layout = Layout::new("");
    let (ok, said) = check_once(&layout, "emit", "{value: \"high\"}");
    assert!(!ok, "{said}");
    assert!(
        said.contains("instance.value: invalid type: string \"high\", expected f64"),
        "{said}"
    );
    let (ok, said) = check_once(&layout, "legacy", "{refuse: \"refuse\"}");
    assert!(!ok, "{said}");
    assert!(said.contains("instance: refused as told"), "{said}");
    let (ok, said) = check_once(&layout, "legacy", "{}");
    assert!(ok, "{said}");

    let inspected = layout.wasmon(&["inspect", guest("legacy").to_str().unwrap()]);
    let inspected = String::from_utf8_lossy(&inspected.stdout);
    assert!(
        inspected.contains("a wasmon check (wasmon:check@0.1.0), world `plain-check`"),
        "{inspected}"
    );
    assert!(inspected.contains("wasmon:check/emit@0.1.0"), "{inspected}");
}
