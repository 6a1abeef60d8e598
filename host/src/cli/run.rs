//! `wasmon run`: the agent in the foreground.

use std::process::ExitCode;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

use crate::agent::Agent;
use crate::config::{AgentConfig, SinkConfig};
use crate::runtime::Runtime;
use crate::sinks::Sinks;

/// Runs until SIGTERM or SIGINT, then stops cleanly.
pub async fn run(config: &AgentConfig, dry_run: bool) -> anyhow::Result<ExitCode> {
    let sinks = if dry_run {
        vec![SinkConfig::Console {}]
    } else {
        config.sinks.clone()
    };
    if sinks.is_empty() {
        tracing::warn!("no sinks configured: series are dropped (use --dry-run to print them)");
    }
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let runtime = Runtime::new()?;
    let agent = Agent::start(config, &runtime, Sinks::start(&sinks)).await;
    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
        _ = interrupt.recv() => tracing::info!("SIGINT: stopping"),
    }
    agent.stop().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
