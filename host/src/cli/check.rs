//! `wasmon check NAME`: run a check's instances now and show what they produce.

use std::process::ExitCode;
use std::time::Duration;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

use std::path::{Path, PathBuf};

use crate::aggregate::{Producer, Stage};
use crate::catalog::{Catalog, Entry, ModuleCache, find_module, missing_module, prepare};
use crate::config::{AgentConfig, CheckFile};
use crate::model::{Event, Payload, SeriesKind, Status};
use crate::runtime::Runtime;
use crate::scheduler::now_ms;
use crate::sinks::PayloadSender;

/// One series in `--json` output.
#[derive(Debug, Serialize)]
struct JsonSample<'a> {
    name: &'a str,
    kind: SeriesKind,
    value: f64,
    tags: &'a [String],
    /// Unix seconds.
    timestamp: i64,
}

/// One service check in `--json` output.
#[derive(Debug, Serialize)]
struct JsonServiceCheck<'a> {
    name: &'a str,
    status: Status,
    message: &'a str,
    tags: &'a [String],
    timestamp: i64,
}

#[derive(Debug, Serialize)]
struct JsonReport<'a> {
    samples: Vec<JsonSample<'a>>,
    service_checks: Vec<JsonServiceCheck<'a>>,
    /// As they leave for backends that take events.
    events: Vec<&'a Event>,
}

/// Runs `name`'s instances `times` times, a second apart; fails if any run failed.
pub async fn check(
    config: &AgentConfig,
    target: &Target,
    only: Option<usize>,
    times: u32,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::new()?;
    let name = target.name()?;
    let name = name.as_str();
    let catalog = match (&target.wasm, &target.check_config) {
        (None, None) => Catalog::load(config, &runtime, Some(name)).await,
        (wasm, check_config) => {
            trial(
                config,
                &runtime,
                name,
                wasm.as_deref(),
                check_config.as_deref(),
            )
            .await
        }
    };
    let mut problems = catalog.problems.clone();
    let Some(entry) = catalog.entries.first() else {
        if problems.is_empty() {
            problems.push(format!(
                "no config `{name}.yaml` in {}",
                config.conf_d.display()
            ));
        }
        anyhow::bail!("{}", problems.join("\n"));
    };
    let (mut prepared, instance_problems) = prepare(config, &runtime, entry).await;
    problems.extend(instance_problems);
    prepared.retain(|p| only.is_none_or(|i| p.index == i));
    if prepared.is_empty() {
        if problems.is_empty() {
            problems.push(format!(
                "{name} has no instance {}",
                only.unwrap_or_default()
            ));
        }
        anyhow::bail!("{}", problems.join("\n"));
    }
    for problem in &problems {
        tracing::error!("{problem}");
    }

    // Aggregated as the agent would, printed instead of sent.
    let stage = Stage::new(config, PayloadSender::default());
    let producers: Vec<Producer> = prepared
        .iter()
        .map(|p| stage.producer(p.task.tags.clone()))
        .collect();
    let mut payloads = Vec::new();
    let mut failed = !problems.is_empty();
    for run in 0..times {
        if run > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        for (p, producer) in prepared.iter_mut().zip(&producers) {
            let timestamp = now_ms();
            let report = p.task.instance.run(timestamp, p.task.timeout).await;
            failed |= report.result.is_err();
            let (samples, checks, events) = p.task.output(timestamp, report, 0);
            payloads.push(producer.payload(timestamp, samples, checks, events));
        }
    }
    if json {
        print_json(&payloads)?;
    } else {
        print_tables(&payloads, times);
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// What `wasmon check` runs: an installed check, or a component and config being tried.
#[derive(Debug)]
pub struct Target {
    /// The check's name.
    pub name: Option<String>,
    /// A component file instead of the installed module.
    pub wasm: Option<PathBuf>,
    /// A config file instead of `conf.d/<name>.yaml`.
    pub check_config: Option<PathBuf>,
}

impl Target {
    /// The given name, or the component file's.
    fn name(&self) -> anyhow::Result<String> {
        match (&self.name, &self.wasm) {
            (Some(name), _) => Ok(name.clone()),
            (None, Some(wasm)) => wasm
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string)
                .ok_or_else(|| anyhow::anyhow!("{}: no file name", wasm.display())),
            (None, None) => anyhow::bail!("name a check, or give --wasm FILE"),
        }
    }
}

/// A catalog of one check from files outside conf.d and checks_d: `wasm` (else the installed
/// module) with `check_config` (else conf.d's, else one empty instance).
async fn trial(
    config: &AgentConfig,
    runtime: &Runtime,
    name: &str,
    wasm: Option<&Path>,
    check_config: Option<&Path>,
) -> Catalog {
    let mut catalog = Catalog::default();
    let default_config = config.conf_d.join(format!("{name}.yaml"));
    let file = match check_config {
        Some(path) => CheckFile::load(path).map(|f| f.named(name)),
        None if default_config.is_file() => CheckFile::load(&default_config),
        None => CheckFile::parse(&default_config, "instances:\n  - {}\n".into()),
    };
    let file = match file {
        Ok(file) => file,
        Err(errors) => {
            catalog
                .problems
                .extend(errors.0.iter().map(ToString::to_string));
            return catalog;
        }
    };
    let path = match wasm {
        Some(path) => path.to_path_buf(),
        None => match find_module(config, name) {
            Some(path) => path,
            None => {
                catalog.problems.push(missing_module(config, &file));
                return catalog;
            }
        },
    };
    let cache = ModuleCache::new(runtime.engine(), &config.data_dir);
    match cache.load_off_thread(runtime.engine(), path).await {
        Ok((module, _)) => catalog.entries.push(Entry { file, module }),
        Err(problem) => catalog.problems.push(problem),
    }
    catalog
}

fn print_json(payloads: &[Payload]) -> anyhow::Result<()> {
    let report = JsonReport {
        samples: payloads
            .iter()
            .flat_map(Payload::metric_series)
            .map(|s| JsonSample {
                name: &s.name,
                kind: s.kind,
                value: s.value,
                tags: &s.tags,
                timestamp: s.timestamp_ms.div_euclid(1000),
            })
            .collect(),
        service_checks: payloads
            .iter()
            .flat_map(|p| &p.service_checks)
            .map(|c| JsonServiceCheck {
                name: &c.name,
                status: c.status,
                message: &c.message,
                tags: &c.tags,
                timestamp: c.timestamp_ms.div_euclid(1000),
            })
            .collect(),
        events: payloads.iter().flat_map(|p| &p.events).collect(),
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn print_tables(payloads: &[Payload], times: u32) {
    let mut series = Table::new();
    series
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(["NAME", "KIND", "VALUE", "TAGS"]);
    for s in payloads.iter().flat_map(Payload::metric_series) {
        let kind = match s.kind {
            SeriesKind::Gauge => "gauge",
            SeriesKind::Count => "count",
            SeriesKind::Rate => "rate",
        };
        series.add_row([
            s.name.clone(),
            kind.into(),
            s.value.to_string(),
            s.tags.join(" "),
        ]);
    }
    println!("{series}");
    let mut checks = Table::new();
    checks.load_preset(UTF8_FULL_CONDENSED).set_header([
        "SERVICE CHECK",
        "STATUS",
        "MESSAGE",
        "TAGS",
    ]);
    for c in payloads.iter().flat_map(|p| &p.service_checks) {
        checks.add_row([
            c.name.clone(),
            c.status.as_str().into(),
            c.message.clone(),
            c.tags.join(" "),
        ]);
    }
    println!("{checks}");
    for e in payloads.iter().flat_map(|p| &p.events) {
        println!(
            "event: {} [{}] {} {}",
            e.title,
            e.alert_type.as_deref().unwrap_or("info"),
            e.text,
            e.tags.join(" ")
        );
    }
    if times == 1 {
        println!("(rates need two runs: add `--times 2` to see them)");
    }
}
