//! The figures issue targets are judged by: host overhead of a warm run, a whole system check
//! run, a fresh instance per run, aggregation throughput, compile and cached-load times.
//!
//! `cargo xtask build-checks && cargo bench -p wasmon --bench agent --profile dev`
//! (the dev profile has optimised dependencies; see the workspace Cargo.toml).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmon::aggregate::Aggregator;
use wasmon::capabilities::{Grants, GrantsConfig, InstanceKeys};
use wasmon::model::{MetricKind, Sample};
use wasmon::runtime::{Capabilities, CheckInstance, CheckModule, InstanceSpec, RunLimits, Runtime};

fn guest(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../target/wasm32-wasip2/guest/{name}.wasm"));
    assert!(
        path.is_file(),
        "{} missing: run `cargo xtask build-checks`",
        path.display()
    );
    path
}

/// Median and 99th percentile of `samples`.
fn stats(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

fn report(what: &str, samples: Vec<Duration>) {
    let n = samples.len();
    let (median, p99) = stats(samples);
    println!("{what:<58} median {median:>10.1?}  p99 {p99:>10.1?}  (n={n})");
}

fn spec(label: &str, grants: Grants, instance_config: &str) -> InstanceSpec {
    InstanceSpec {
        label: label.into(),
        capabilities: Arc::new(Capabilities::new(grants, "/proc".into(), "/sys".into())),
        memory_bytes: 64 << 20,
        limits: RunLimits {
            max_samples: 100_000,
            max_service_checks: 1_000,
            max_submit_bytes: 64 << 20,
            max_log_lines: 100,
            max_log_line_bytes: 4096,
        },
        init_config: "null".into(),
        instance_config: instance_config.into(),
        start_timeout: Duration::from_secs(10),
    }
}

fn system_grants() -> Grants {
    let yaml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf.d/system.yaml"),
    )
    .unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
    let grants: GrantsConfig =
        serde_yaml::from_value(doc["instances"][0]["grants"].clone()).unwrap();
    Grants::parse(&grants, &InstanceKeys::default()).unwrap()
}

async fn time_runs(instance: &mut CheckInstance, n: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        let report = instance.run(i as i64 * 1000, Duration::from_secs(10)).await;
        samples.push(started.elapsed());
        assert!(report.result.is_ok(), "{:?}", report.result);
        black_box(report.output);
    }
    samples
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let runtime = Runtime::new().unwrap();
    let engine = runtime.engine();

    // Compile, and load from a serialized (cached) artifact.
    let system_path = guest("system");
    for name in ["system", "shell"] {
        let path = guest(name);
        let compiles: Vec<Duration> = (0..5)
            .map(|_| {
                let started = Instant::now();
                black_box(CheckModule::load(engine, &path).unwrap());
                started.elapsed()
            })
            .collect();
        report(
            &format!("compile the {name} component (Cranelift)"),
            compiles,
        );
    }
    let system = CheckModule::load(engine, &system_path).unwrap();
    let artifact = system.component.serialize().unwrap();
    let loads: Vec<Duration> = (0..50)
        .map(|_| {
            let started = Instant::now();
            // SAFETY: the bytes were produced by `serialize` of this engine just above.
            black_box(
                unsafe { wasmtime::component::Component::deserialize(engine, &artifact) }.unwrap(),
            );
            started.elapsed()
        })
        .collect();
    report(
        "load the compiled system component from its artifact",
        loads,
    );

    rt.block_on(async {
        // A warm run of a guest that does almost nothing: the host's overhead per run.
        let emit = CheckModule::load(engine, &guest("emit")).unwrap();
        let mut warm = CheckInstance::new(&runtime, &emit, spec("emit", Grants::default(), "{}"))
            .await
            .unwrap();
        time_runs(&mut warm, 1000).await;
        report(
            "warm run, 5 samples + 1 service check (emit guest)",
            time_runs(&mut warm, 20_000).await,
        );

        // A fresh instance per run instead: instantiate + init + run.
        let fresh: Vec<Duration> = {
            let mut samples = Vec::new();
            for i in 0..2000 {
                let started = Instant::now();
                let mut instance =
                    CheckInstance::new(&runtime, &emit, spec("emit", Grants::default(), "{}"))
                        .await
                        .unwrap();
                black_box(instance.run(i, Duration::from_secs(10)).await.output);
                samples.push(started.elapsed());
            }
            samples
        };
        report(
            "fresh instance per run (link + instantiate + init + run)",
            fresh,
        );

        // The whole system check, host and guest.
        let mut sys = CheckInstance::new(&runtime, &system, spec("system", system_grants(), "{}"))
            .await
            .unwrap();
        time_runs(&mut sys, 50).await;
        let cpu_before = cpu_time();
        let runs = time_runs(&mut sys, 1000).await;
        let cpu = (cpu_time() - cpu_before) / 1000;
        report("system check run (host + guest, all metric families)", runs);
        let procs = std::fs::read_dir("/proc").unwrap().count();
        println!(
            "{:<58} {cpu:>10.1?} per run ({procs} entries in /proc)",
            "system check CPU time (user + system)"
        );
        let mut every_5 = CheckInstance::new(
            &runtime,
            &system,
            spec(
                "system",
                system_grants(),
                r#"{"process_states_every": 1000000}"#,
            ),
        )
        .await
        .unwrap();
        time_runs(&mut every_5, 50).await;
        report(
            "system check run without the /proc/PID scan",
            time_runs(&mut every_5, 1000).await,
        );
    });

    // The shell check running `true`: spawn (as the host measures it) versus the rest.
    rt.block_on(async {
        let shell = CheckModule::load(engine, &guest("shell")).unwrap();
        let command = wasmon::capabilities::CommandGrant::parse(
            &wasmon::capabilities::CommandLine::Argv(vec!["true".into()]),
            &wasmon::capabilities::ExecOptions::default(),
        )
        .unwrap();
        let grants = Grants {
            exec: Some(command),
            ..Grants::default()
        };
        let mut instance = CheckInstance::new(
            &runtime,
            &shell,
            spec("shell", grants.clone(), r#"{"format": "json"}"#),
        )
        .await
        .unwrap();
        time_runs(&mut instance, 20).await;
        report(
            "shell check run of `true` (spawn + wait + guest)",
            time_runs(&mut instance, 300).await,
        );
        let command = grants.exec.as_ref().unwrap();
        let mut spawns = Vec::new();
        for _ in 0..300 {
            let outcome = wasmon::capabilities::run_command(command).await.unwrap();
            spawns.push(Duration::from_micros(outcome.duration_us));
        }
        report(
            "  of which spawn to exit of `true` (host exec capability)",
            spawns,
        );
        let direct: Vec<Duration> = (0..300)
            .map(|_| {
                let started = Instant::now();
                std::process::Command::new("true").status().unwrap();
                started.elapsed()
            })
            .collect();
        report("spawning `true` directly (std::process::Command)", direct);
    });

    // Aggregation: a mix of kinds over 10 000 series, a run of 10 000 samples at a time.
    let batch: Vec<Sample> = (0..10_000)
        .map(|i| Sample {
            name: format!("bench.metric.{}", i % 100),
            kind: [
                MetricKind::Gauge,
                MetricKind::Rate,
                MetricKind::MonotonicCount,
                MetricKind::Count,
            ][i % 4],
            value: i as f64,
            tags: vec![format!("device:d{}", i / 100), "role:bench".into()],
            timestamp_ms: None,
        })
        .collect();
    let mut aggregator = Aggregator::new(vec!["host:bench".into(), "env:bench".into()]);
    let runs = 100;
    let batches: Vec<Vec<Sample>> = (0..runs)
        .map(|run| {
            batch
                .iter()
                .cloned()
                .map(|mut s| {
                    s.value += run as f64;
                    s
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    for (run, samples) in batches.into_iter().enumerate() {
        black_box(aggregator.payload(run as i64 * 1000, samples, Vec::new(), Vec::new()));
    }
    let per_second = (runs * batch.len()) as f64 / started.elapsed().as_secs_f64();
    println!(
        "{:<58} {:>10.0} samples/s on one core",
        "aggregation (tags, rates, increases)", per_second
    );
}

/// User + system CPU time of this process, from /proc/self/stat (clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<u64> = after_comm
        .split(' ')
        .skip(11)
        .take(2)
        .map(|f| f.parse().unwrap())
        .collect();
    Duration::from_millis((fields[0] + fields[1]) * 10)
}
