//! `wasmon run`: the agent in the foreground.

use std::process::ExitCode;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

use crate::agent::{Agent, PidFile};
use crate::config::{AgentConfig, SinkConfig};
use crate::runtime::Runtime;
use crate::sinks::Sinks;

/// Runs until SIGTERM or SIGINT, then stops cleanly; SIGHUP reloads. A dry run prints what
/// would be sent and needs no disk buffers; beside a running agent it also runs without the
/// data folder's lock and without a control API, so it leaves that agent's alone.
pub async fn run(config: &AgentConfig, dry_run: bool) -> anyhow::Result<ExitCode> {
    let pidfile = match PidFile::acquire(&config.data_dir) {
        Ok(pidfile) => Some(pidfile),
        Err(e) if dry_run => {
            tracing::info!("dry run beside the running agent, without a control API: {e:#}");
            None
        }
        Err(e) => return Err(e),
    };
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
    let mut hangup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    let runtime = Runtime::new()?;
    let sinks = Sinks::start(&sinks, &config.data_dir)?;
    let agent = Agent::start(config, &runtime, sinks).await;
    if pidfile.is_some()
        && let Err(e) = crate::control::start(config, agent.handle()).await
    {
        tracing::error!("control API not started: {e:#}");
    }
    loop {
        tokio::select! {
            _ = terminate.recv() => { tracing::info!("SIGTERM: stopping"); break }
            _ = interrupt.recv() => { tracing::info!("SIGINT: stopping"); break }
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: reloading");
                agent.handle().reload().await;
            }
        }
    }
    agent.stop().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
