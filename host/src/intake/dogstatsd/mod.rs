//! The DogStatsD server: sockets feed one aggregation window (see
//! [`crate::aggregate::window`]), flushed to the sinks every `flush_secs` on the clock's
//! multiples of it, with the intake's own counters beside.

mod receive;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use receive::{Intake, Receiver, Socket, kernel_drops};
pub use wasmon_dogstatsd::{Line, ParseError, lines};

use super::config::DogstatsdConfig;
use super::stats::{IntakeReport, IntakeStats};
use crate::aggregate::window::Window;
use crate::scheduler::now_ms;
use crate::sinks::PayloadSender;

/// How often the kernel's drop counts are read.
const DROPS_EVERY: Duration = Duration::from_secs(5);

/// A running server.
pub struct Dogstatsd {
    receivers: Vec<Receiver>,
    flusher: JoinHandle<()>,
    stop: CancellationToken,
}

impl Dogstatsd {
    /// Binds the configured sockets and starts receiving and flushing. `tags` (host and
    /// global) and the server's own `tags` go on everything received; `own_tags` on its
    /// self-metrics.
    pub fn start(
        config: &DogstatsdConfig,
        tags: Vec<String>,
        own_tags: Vec<String>,
        stats: Arc<IntakeStats>,
        sender: PayloadSender,
    ) -> anyhow::Result<Self> {
        let mut sockets = Vec::new();
        if !config.listen.is_empty() {
            let socket = Socket::udp(&config.listen, config.so_rcvbuf).map_err(|e| {
                anyhow::anyhow!(
                    "dogstatsd.listen: cannot listen on UDP {}: {e}",
                    config.listen
                )
            })?;
            sockets.push(socket);
        }
        if let Some(path) = &config.socket {
            let socket = Socket::unix(path, config.so_rcvbuf).map_err(|e| {
                anyhow::anyhow!("dogstatsd.socket: cannot listen on {}: {e}", path.display())
            })?;
            sockets.push(socket);
        }
        let mut all_tags = tags;
        all_tags.extend(config.tags.iter().cloned());
        let intake = Arc::new(Intake::new(Window::new(config.window(), all_tags), stats));
        let stop = CancellationToken::new();
        let mut addresses = Vec::new();
        let mut receivers = Vec::new();
        let inodes: Vec<u64> = sockets.iter().filter_map(Socket::udp_inode).collect();
        for socket in sockets {
            let address = socket.address();
            tracing::info!("dogstatsd: listening on {address}");
            addresses.push(address);
            receivers.push(socket.receive(intake.clone(), config.buffer_size)?);
        }
        intake
            .stats
            .listening
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(addresses);
        let flusher = tokio::spawn(flush_loop(
            intake,
            Duration::from_secs_f64(config.flush_secs),
            inodes,
            own_tags,
            sender,
            stop.clone(),
        ));
        Ok(Self {
            receivers,
            flusher,
            stop,
        })
    }

    /// Stops receiving and flushes the last window.
    pub async fn stop(self) {
        for receiver in self.receivers {
            receiver.stop().await;
        }
        self.stop.cancel();
        let _ = self.flusher.await;
    }
}

/// The start of the window `now_ms` lies in.
fn window_start(now_ms: i64, flush_ms: i64) -> i64 {
    now_ms - now_ms.rem_euclid(flush_ms)
}

/// Flushes each window when it ends, and once more when stopped.
async fn flush_loop(
    intake: Arc<Intake>,
    flush: Duration,
    inodes: Vec<u64>,
    own_tags: Vec<String>,
    sender: PayloadSender,
    stop: CancellationToken,
) {
    let flush_ms = flush.as_millis() as i64;
    let mut before = IntakeReport::default();
    let mut drops = tokio::time::interval(DROPS_EVERY);
    let mut start = window_start(now_ms(), flush_ms);
    loop {
        let wait = Duration::from_millis((start + flush_ms - now_ms()).max(0) as u64);
        let stopping = tokio::select! {
            () = tokio::time::sleep(wait) => false,
            () = stop.cancelled() => true,
            _ = drops.tick() => {
                intake.stats.socket_drops.store(kernel_drops(&inodes), Relaxed);
                continue;
            }
        };
        let started = std::time::Instant::now();
        let (mut payload, contexts) = {
            let mut window = intake.window();
            (window.flush(start), window.contexts())
        };
        let stats = &intake.stats;
        stats.contexts.store(contexts as u64, Relaxed);
        stats
            .flush_micros
            .store(started.elapsed().as_micros() as u64, Relaxed);
        let report = stats.report();
        payload
            .series
            .extend(report.series(&before, &own_tags, start));
        before = report;
        sender.send(payload).await;
        if stopping {
            return;
        }
        start = window_start(now_ms(), flush_ms).max(start + flush_ms);
    }
}
