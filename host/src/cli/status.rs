//! `wasmon status`: what the running agent runs, through its control API.

use std::process::ExitCode;

use anyhow::Context;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use crate::agent::StatusReport;
use crate::config::AgentConfig;
use crate::control::{address_path, read_token};

/// Asks the agent using this config's data folder for its status and prints it.
pub async fn status(config: &AgentConfig, json: bool) -> anyhow::Result<ExitCode> {
    let token = read_token(&config.data_dir)?;
    let addr_file = address_path(&config.data_dir);
    let addr = std::fs::read_to_string(&addr_file).with_context(|| {
        format!(
            "cannot read {} (is the agent running?)",
            addr_file.display()
        )
    })?;
    let response = reqwest::Client::new()
        .get(format!("http://{}/v1/status", addr.trim()))
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("the agent at {} does not answer", addr.trim()))?
        .error_for_status()?;
    let report: StatusReport = response.json().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "wasmon pid {}, {} instance(s)",
        report.pid,
        report.instances.len()
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "INSTANCE",
        "STATE",
        "VERSION",
        "SHA256",
        "EVERY",
        "RUNS",
        "FAILED",
        "LAST RUN",
        "LAST ERROR",
    ]);
    for i in &report.instances {
        let s = &i.status;
        table.add_row([
            format!("{}[{}]", i.check, i.index),
            format!("{:?}", s.state).to_lowercase(),
            i.version.clone(),
            i.sha256.chars().take(12).collect(),
            format!("{}s", i.interval_secs),
            s.runs.to_string(),
            s.failures.to_string(),
            s.last_run_ms.map_or("-".into(), ago),
            s.last_error.clone().unwrap_or_default(),
        ]);
    }
    println!("{table}");
    for i in &report.instances {
        for warning in &i.status.warnings {
            println!("warning: {}[{}]: {warning}", i.check, i.index);
        }
    }
    if !report.sinks.is_empty() {
        let mut sinks = Table::new();
        sinks.load_preset(UTF8_FULL_CONDENSED).set_header([
            "SINK",
            "SENT",
            "FAILED",
            "DROPPED",
            "QUEUED (DISK)",
            "LAST ERROR",
        ]);
        for s in &report.sinks {
            sinks.add_row([
                s.name.clone(),
                s.stats.sent.to_string(),
                s.stats.failed.to_string(),
                s.stats.dropped.to_string(),
                format!("{} B", s.stats.disk_bytes),
                s.last_error.clone().unwrap_or_default(),
            ]);
        }
        println!("{sinks}");
    }
    if !report.sources.is_empty() {
        let mut sources = Table::new();
        sources.load_preset(UTF8_FULL_CONDENSED).set_header([
            "SOURCE",
            "REFERENCE",
            "RUNNING",
            "SIGNED BY",
            "LAST POLL",
            "LAST ERROR",
        ]);
        for s in &report.sources {
            sources.add_row([
                s.check.clone(),
                s.reference.clone(),
                s.digest
                    .as_deref()
                    .map_or("-".into(), |d| d.chars().take(19).collect()),
                s.key_id.clone().unwrap_or_else(|| "-".into()),
                s.last_poll_ms.map_or("never".into(), ago),
                s.last_error.clone().unwrap_or_default(),
            ]);
        }
        println!("{sources}");
    }
    if let Some(c) = &report.cluster {
        let etcd = match (c.connected, &c.last_error) {
            (true, _) => "etcd connected".to_string(),
            (false, Some(e)) => format!("etcd LOST ({e}): keeping the current share"),
            (false, None) => "not joined yet".to_string(),
        };
        println!(
            "cluster group {} as {}: {etcd}; {} member(s): {}; {} rebalance(s)",
            c.group,
            c.member,
            c.members.len(),
            c.members.join(", "),
            c.rebalances
        );
        println!("cluster instances here: {}", c.owned.join(", "));
    }
    if let Some(intake) = report.intake.as_ref().filter(|i| !i.listening.is_empty()) {
        println!("{}", intake_line(intake));
    }
    for problem in &report.problems {
        println!("problem: {problem}");
    }
    Ok(ExitCode::SUCCESS)
}

/// What applications pushed, on one line: the counters, and only the refusals and drops
/// that happened.
fn intake_line(i: &crate::intake::IntakeReport) -> String {
    let nonzero = |counts: &std::collections::BTreeMap<String, u64>| {
        let shown: Vec<String> = counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(reason, n)| format!("{reason} {n}"))
            .collect();
        if shown.is_empty() {
            "none".into()
        } else {
            shown.join(", ")
        }
    };
    format!(
        "intake on {}: {} packet(s), {} line(s), {} event(s), {} service check(s), {} context(s), \
         flush {:.1} ms; refused: {}; dropped: {}; push: {} request(s), {} point(s), {} refused",
        i.listening.join(", "),
        i.packets,
        i.lines,
        i.events,
        i.service_checks,
        i.contexts,
        i.flush_ms,
        nonzero(&i.parse_errors),
        nonzero(&i.dropped),
        i.push_requests,
        i.push_points,
        i.push_refused
    )
}

/// `1.5s ago`.
fn ago(ms: i64) -> String {
    format!(
        "{:.1}s ago",
        (crate::scheduler::now_ms() - ms) as f64 / 1000.0
    )
}
