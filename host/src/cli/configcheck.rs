//! `wasmon configcheck`: every config and module, valid or the exact error, and what would run.

use std::process::ExitCode;

use crate::catalog::{Catalog, check_configs, prepare};
use crate::config::AgentConfig;
use crate::registry::{SourceReport, Store};
use crate::runtime::Runtime;

/// Prints the plan and every problem; fails if there is any problem.
pub async fn configcheck(config: &AgentConfig) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::new()?;
    println!("conf.d:   {}", config.conf_d.display());
    let dirs: Vec<String> = config
        .checks_d
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    println!("checks.d: {}", dirs.join(", "));
    match &config.cluster {
        Some(c) => println!(
            "cluster:  group `{}` on etcd {} (lease {}s): instances with `cluster_check: true` \
             run on one live member each",
            c.group,
            c.etcd.join(", "),
            c.lease_secs
        ),
        None => println!("cluster:  none: instances with `cluster_check: true` run here"),
    }
    let catalog = Catalog::load(config, &runtime, None).await;
    let mut problems = catalog.problems.clone();
    problems.extend(sources(config));
    for entry in &catalog.entries {
        let m = &entry.module;
        println!(
            "\n{}  ({}, {} bytes, sha256 {}, compiled in {:?})",
            entry.file.check,
            m.path.display(),
            m.size,
            &m.sha256[..16],
            m.compile_time
        );
        println!("  imports: {}", m.capability_imports().join(", "));
        let (ready, instance_problems) = prepare(config, &runtime, entry).await;
        for p in &ready {
            let grants = if p.grants.is_empty() {
                "nothing".to_string()
            } else {
                p.grants.join(", ")
            };
            let cluster = entry
                .file
                .instances
                .get(p.index)
                .is_some_and(|i| i.cluster_check);
            println!(
                "  [{}] OK{}: every {:?}, timeout {:?}; granted: {grants}",
                p.index,
                if cluster { " (cluster check)" } else { "" },
                p.task.schedule.interval(),
                p.task.timeout
            );
        }
        for problem in &instance_problems {
            println!("  ERROR: {problem}");
        }
        problems.extend(instance_problems);
    }
    if problems.is_empty() {
        println!("\nall configs and modules are valid");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("\n{} problem(s):", problems.len());
        for problem in &problems {
            println!("  {problem}");
        }
        Ok(ExitCode::FAILURE)
    }
}

/// Prints each registry source as its poller last left it; a source whose check has no
/// config is a problem, since it would run nothing.
fn sources(config: &AgentConfig) -> Vec<String> {
    let configured: Vec<String> = check_configs(config)
        .map(|(found, _)| found.into_iter().map(|f| f.check).collect())
        .unwrap_or_default();
    let mut problems = Vec::new();
    for source in &config.sources {
        let report = SourceReport::from_store(&Store::new(&config.data_dir, &source.check), source);
        println!(
            "source:   `{}` from {} (every {}s)",
            source.check, source.reference, source.poll_secs
        );
        match (&report.digest, &report.key_id) {
            (Some(digest), Some(key)) => println!("  running {digest}, signed by key {key}"),
            _ => println!("  nothing verified yet"),
        }
        let polled = report
            .last_poll_ms
            .map_or("never".into(), |ms| format!("at unix ms {ms}"));
        println!(
            "  last poll {polled}: {}",
            report.last_error.as_deref().unwrap_or("ok")
        );
        if !configured.contains(&source.check) {
            problems.push(format!(
                "source `{}` ({}): no conf.d/{}.yaml and no inline `instances`, so it runs \
                 nothing",
                source.check, source.reference, source.check
            ));
        }
    }
    problems
}
