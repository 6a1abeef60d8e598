//! Where payloads go. Every sink runs behind its own bounded queue, so a slow or dead sink
//! never holds up another. Remote sinks write each batch ahead to their own disk buffer under
//! `<data_dir>/buffer/<sink>` and send from there (see [`delivery`]).

mod batch;
mod console;
mod datadog;
mod dedup;
mod delivery;
mod influx;
mod labels;
mod opentsdb;
mod prometheus;
mod remote_write;
mod stats;
mod transport;
mod wal;

use std::path::Path;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{Delivery, SinkConfig};
use crate::model::Payload;

pub use console::{format_series, format_service_check};
pub use datadog::{Dogsketch, SketchPayload, SketchSeries};
pub use stats::{SinkStats, StatsSnapshot};

/// Payloads a sink's queue holds before senders wait.
const QUEUE_PAYLOADS: usize = 1024;

/// One sink's queue, and the counters that track what waits in it.
struct Queue {
    tx: mpsc::Sender<Arc<Payload>>,
    stats: Option<Arc<SinkStats>>,
}

/// Hands payloads to every sink.
#[derive(Clone)]
pub struct PayloadSender {
    queues: Arc<Vec<Queue>>,
}

impl PayloadSender {
    /// Queues a payload for every sink, waiting while a queue is full.
    pub async fn send(&self, payload: Payload) {
        let bytes = delivery::payload_bytes(&payload);
        let payload = Arc::new(payload);
        for queue in self.queues.iter() {
            if let Some(stats) = &queue.stats {
                stats
                    .memory_bytes
                    .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
            }
            // A sink whose task has ended drops what it is sent.
            let _ = queue.tx.send(payload.clone()).await;
        }
    }
}

/// A remote sink's name and counters.
#[derive(Clone)]
pub struct SinkHandle {
    /// The sink's `name:`, or its type and destination.
    pub name: Arc<str>,
    /// Its counters.
    pub stats: Arc<SinkStats>,
}

/// The running sinks.
pub struct Sinks {
    sender: PayloadSender,
    writers: Vec<JoinHandle<()>>,
    senders: Vec<JoinHandle<()>>,
    stop: CancellationToken,
    handles: Vec<SinkHandle>,
    orphans: Vec<OrphanBuffer>,
}

/// A disk buffer under `data_dir/buffer` that no configured sink owns.
#[derive(Debug, Clone, PartialEq)]
pub struct OrphanBuffer {
    /// Its folder: the name of the sink that wrote it.
    pub folder: String,
    /// What it holds on disk.
    pub bytes: u64,
}

impl std::fmt::Display for OrphanBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self { folder, bytes } = self;
        write!(
            f,
            "disk buffer {folder} ({bytes} bytes) belongs to no configured sink: name a sink \
             `{folder}` (`name:`) to deliver it, or delete the folder"
        )
    }
}

impl Sinks {
    /// Starts every configured sink; remote sinks buffer under `data_dir`. An error names the
    /// sink that could not start.
    pub fn start(configs: &[SinkConfig], data_dir: &Path) -> anyhow::Result<Self> {
        let mut queues = Vec::new();
        let mut writers = Vec::new();
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        let stop = CancellationToken::new();
        for config in configs {
            let (tx, rx) = mpsc::channel(QUEUE_PAYLOADS);
            let mut stats = None;
            match config {
                SinkConfig::Console {} => writers.push(tokio::spawn(console::run(rx))),
                SinkConfig::Prometheus { listen } => {
                    writers.push(tokio::spawn(prometheus::run(listen.clone(), rx)));
                }
                SinkConfig::Datadog { delivery, .. }
                | SinkConfig::Opentsdb { delivery, .. }
                | SinkConfig::Influx { delivery, .. }
                | SinkConfig::PrometheusRemoteWrite { delivery, .. } => {
                    let name: Arc<str> = config.name().unwrap_or_default().into();
                    let remote = Remote::start(&name, config, delivery, rx, data_dir, &stop)?;
                    writers.push(remote.writer);
                    senders.push(remote.sender);
                    stats = Some(remote.handle.stats.clone());
                    handles.push(remote.handle);
                }
            }
            queues.push(Queue { tx, stats });
        }
        let orphans = orphan_buffers(data_dir, &handles);
        for orphan in &orphans {
            let folder = data_dir.join("buffer").join(&orphan.folder);
            tracing::warn!(folder = %folder.display(), "{orphan}");
        }
        Ok(Self {
            sender: PayloadSender {
                queues: Arc::new(queues),
            },
            writers,
            senders,
            stop,
            handles,
            orphans,
        })
    }

    /// Disk buffers under `data_dir/buffer` that no configured sink owns.
    pub fn orphans(&self) -> &[OrphanBuffer] {
        &self.orphans
    }

    /// A handle that sends to every sink.
    pub fn sender(&self) -> PayloadSender {
        self.sender.clone()
    }

    /// The remote sinks, for the agent's own metrics.
    pub fn handles(&self) -> Vec<SinkHandle> {
        self.handles.clone()
    }

    /// Once every sender is gone: writes what is queued to the disk buffers, sends for at
    /// most a few seconds more, and leaves the rest on disk for the next start.
    pub async fn close(self) {
        drop(self.sender);
        for task in self.writers {
            let _ = task.await;
        }
        self.stop.cancel();
        for task in self.senders {
            let _ = task.await;
        }
    }
}

/// The two tasks of a remote sink.
struct Remote {
    writer: JoinHandle<()>,
    sender: JoinHandle<()>,
    handle: SinkHandle,
}

impl Remote {
    fn start(
        name: &Arc<str>,
        config: &SinkConfig,
        delivery: &Delivery,
        queue: mpsc::Receiver<Arc<Payload>>,
        data_dir: &Path,
        stop: &CancellationToken,
    ) -> anyhow::Result<Self> {
        let stats = Arc::new(SinkStats::default());
        let dir = data_dir.join("buffer").join(&**name);
        let wal = wal::Wal::open(&dir, delivery.disk_budget_mib.saturating_mul(1 << 20))
            .map_err(|e| anyhow::anyhow!("sink {name}: disk buffer {}: {e}", dir.display()))?;
        let buffer = delivery::Buffer::new(wal, stats.clone());
        let transport = transport::Transport::new(config, delivery.request_timeout())
            .map_err(|e| anyhow::anyhow!("sink {name}: {e}"))?
            .ok_or_else(|| anyhow::anyhow!("sink {name}: not a remote sink"))?;
        let carries_service_checks = transport.carries_service_checks();
        Ok(Self {
            writer: tokio::spawn(delivery::write_loop(
                name.clone(),
                queue,
                buffer.clone(),
                delivery.clone(),
                carries_service_checks,
            )),
            sender: tokio::spawn(delivery::send_loop(
                name.clone(),
                buffer,
                transport,
                delivery.clone(),
                stop.clone(),
            )),
            handle: SinkHandle {
                name: name.clone(),
                stats,
            },
        })
    }
}

/// Buffer folders that hold data but belong to none of `sinks`.
fn orphan_buffers(data_dir: &Path, sinks: &[SinkHandle]) -> Vec<OrphanBuffer> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("buffer")) else {
        return Vec::new();
    };
    let mut orphans: Vec<OrphanBuffer> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            if sinks.iter().any(|s| *s.name == *name) {
                return None;
            }
            let bytes: u64 = std::fs::read_dir(e.path())
                .ok()?
                .filter_map(|f| f.ok()?.metadata().ok())
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len())
                .sum();
            Some(OrphanBuffer {
                folder: name,
                bytes,
            })
        })
        .collect();
    orphans.sort_by(|a, b| a.folder.cmp(&b.folder));
    orphans
}
