//! `wasmon run`: the agent in the foreground, under systemd or any other supervisor.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use sd_notify::NotifyState;
use tokio::signal::unix::{SignalKind, signal};

use crate::agent::{Agent, PidFile, release_startup_pages, resident_bytes};
use crate::aggregate::Stage;
use crate::config::AgentConfig;
use crate::intake::Intake;
use crate::runtime::Runtime;
use crate::sinks::{ConsoleConfig, SinkConfig, Sinks};

/// When the start's code and data are let go of: the first runs of the checks are over.
const STARTUP_SETTLED: Duration = Duration::from_secs(30);

/// How often resident memory is held against `max_rss_mib`.
const MEMORY_CHECK: Duration = Duration::from_secs(5);
/// Exit status when the agent stops past its memory bound.
const OVER_MEMORY: u8 = 3;

/// Runs until SIGTERM or SIGINT, then stops cleanly; SIGHUP reloads and polls the registry
/// sources. Under systemd
/// (`Type=notify`) it says READY once its instances are started and its sinks are up,
/// RELOADING and READY around a reload, STOPPING at the end, and, with `WatchdogSec`, sends
/// keep-alives only while the agent's own loop answers. Past `max_rss_mib` it flushes and
/// exits with status 3. A dry run prints what would be sent and needs no disk buffers;
/// beside a running agent it also runs without the data folder's lock and without a control
/// API, so it leaves that agent's alone.
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
        vec![SinkConfig::Console(ConsoleConfig::default())]
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
    // Cranelift's peak memory stays in children; the daemon maps their artifacts.
    match std::env::current_exe() {
        Ok(exe) => crate::catalog::compile_in_children(exe),
        Err(e) => tracing::warn!("compiling in the agent itself: {e}"),
    }
    let sinks = Sinks::start(&sinks, &config.data_dir)?;
    let stage = Stage::new(config, sinks.sender());
    // Beside a running agent a dry run leaves its ports alone.
    let intake = match pidfile {
        Some(_) => Some(Intake::start(config, &stage).await?),
        None => None,
    };
    let stats = intake.as_ref().map(Intake::stats);
    let agent = Agent::start(config, &runtime, sinks, stage, stats).await;
    if pidfile.is_some()
        && let Err(e) = crate::control::start(config, agent.handle()).await
    {
        tracing::error!("control API not started: {e:#}");
    }
    notify(&[NotifyState::Ready]);
    tokio::spawn(async {
        tokio::time::sleep(STARTUP_SETTLED).await;
        let released = tokio::task::spawn_blocking(release_startup_pages)
            .await
            .unwrap_or_default();
        tracing::debug!(
            mib = released as f64 / f64::from(1 << 20),
            "let go of the pages only the start used"
        );
    });
    let watchdog = sd_notify::watchdog_enabled();
    // Keep-alives at half the watchdog's period; an hour when there is none (never ticks).
    let mut keepalive =
        tokio::time::interval(watchdog.map_or(Duration::from_secs(3600), |d| d / 2));
    let mut memory = tokio::time::interval(MEMORY_CHECK);
    let max_rss = config.max_rss_mib.saturating_mul(1 << 20) as f64;
    let mut code = ExitCode::SUCCESS;
    loop {
        tokio::select! {
            _ = terminate.recv() => { tracing::info!("SIGTERM: stopping"); break }
            _ = interrupt.recv() => { tracing::info!("SIGINT: stopping"); break }
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: reloading");
                notify(&[NotifyState::Reloading]);
                agent.handle().reload().await;
                // Polls run beside the loop: a slow registry never holds a signal.
                let handle = agent.handle();
                tokio::spawn(async move { handle.refresh_sources().await });
                notify(&[NotifyState::Ready]);
            }
            _ = keepalive.tick(), if watchdog.is_some() => {
                // Only an agent whose supervisor loop answers is alive: a wedged one is left
                // for systemd to restart.
                let wait = watchdog.unwrap_or_default() / 2;
                match tokio::time::timeout(wait, agent.handle().status()).await {
                    Ok(Some(_)) => notify(&[NotifyState::Watchdog]),
                    _ => tracing::warn!("the agent's loop did not answer: no watchdog keep-alive"),
                }
            }
            _ = memory.tick(), if max_rss > 0.0 => {
                if let Some(rss) = resident_bytes().filter(|rss| *rss > max_rss) {
                    tracing::error!(
                        "resident memory {:.0} MiB is past max_rss_mib ({}): flushing and \
                         exiting for the supervisor to restart the agent",
                        rss / f64::from(1 << 20),
                        config.max_rss_mib
                    );
                    code = ExitCode::from(OVER_MEMORY);
                    break;
                }
            }
        }
    }
    notify(&[NotifyState::Stopping]);
    // The intake's last window goes out before the sinks close.
    if let Some(intake) = intake {
        intake.stop().await;
    }
    agent.stop().await;
    tracing::info!("stopped");
    Ok(code)
}

/// Tells the service manager, when there is one (`NOTIFY_SOCKET`).
fn notify(state: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::warn!("cannot notify the service manager: {e}");
    }
}
