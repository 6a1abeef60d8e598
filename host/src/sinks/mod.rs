//! Where payloads go. Every sink runs behind its own bounded queue, so a slow or dead sink
//! never holds up another. Remote sinks write each batch ahead to their own disk buffer under
//! `<data_dir>/buffer/<sink>` and send from there (see [`delivery`]).

mod console;
mod datadog;
mod delivery;
mod influx;
mod labels;
mod opentsdb;
mod prometheus;
mod remote_write;
mod sink;

use std::path::Path;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use console::ConsoleConfig;
pub use datadog::{Dogsketch, SketchPayload, SketchSeries};
pub use delivery::{SinkStats, StatsSnapshot};
use sink::{Built, Queue, Sink, sinks};

use crate::model::Payload;

sinks! {
    /// Prints every series and service check to standard output, one line each.
    "console" => Console(console::ConsoleConfig),
    /// Datadog's APIs: series, service checks, events and distributions.
    "datadog" => Datadog(datadog::DatadogConfig),
    /// OpenTSDB: telnet `put` lines (tcollector's protocol) or the HTTP `/api/put` API.
    "opentsdb" => Opentsdb(opentsdb::OpentsdbConfig),
    /// InfluxDB line protocol over HTTP, v1 or v2.
    "influx" => Influx(influx::InfluxConfig),
    /// Prometheus remote write 1.0 (protobuf, snappy).
    "prometheus_remote_write" => PrometheusRemoteWrite(remote_write::RemoteWriteConfig),
    /// A Prometheus scrape endpoint (`/metrics`) with the latest value of every series.
    "prometheus" => Prometheus(prometheus::PrometheusConfig),
}

/// Payloads a sink's queue holds before senders wait.
const QUEUE_PAYLOADS: usize = 1024;

/// One sink's queue, and the counters that track what waits in it.
struct QueueSender {
    tx: mpsc::Sender<Arc<Payload>>,
    stats: Arc<SinkStats>,
}

/// Hands payloads to every sink (the default has none: `wasmon check` prints instead).
#[derive(Clone, Default)]
pub struct PayloadSender {
    queues: Arc<Vec<QueueSender>>,
}

impl PayloadSender {
    /// Queues a payload for every sink, waiting while a queue is full.
    pub async fn send(&self, payload: Payload) {
        let payload = Arc::new(payload);
        for queue in self.queues.iter() {
            queue.stats.queue(&payload);
            // A sink whose task has ended drops what it is sent.
            if queue.tx.send(payload.clone()).await.is_err() {
                queue.stats.unqueue(&payload);
            }
        }
    }
}

/// A sink's name and counters.
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
    /// Starts every configured sink; remote sinks buffer under `data_dir`. Every sink is checked
    /// and built before any starts; an error names the sink that could not start.
    pub fn start(configs: &[SinkConfig], data_dir: &Path) -> anyhow::Result<Self> {
        let mut built = Vec::new();
        for config in configs {
            let name: Arc<str> = config.name().into();
            if let Some((field, message)) = config.problems().into_iter().next() {
                anyhow::bail!("sink {name}: {field}: {message}");
            }
            let sink = config
                .build()
                .map_err(|e| anyhow::anyhow!("sink {name}: {e}"))?;
            built.push((name, sink));
        }
        let mut queues = Vec::new();
        let mut writers = Vec::new();
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        let mut buffers = Vec::new();
        let stop = CancellationToken::new();
        for (name, sink) in built {
            let (tx, rx) = mpsc::channel(QUEUE_PAYLOADS);
            let stats = Arc::new(SinkStats::default());
            let queue = Queue::new(rx, stats.clone());
            match sink {
                Built::Local(run) => writers.push(run(queue)),
                Built::Remote(transport, delivery) => {
                    let remote =
                        delivery::Remote::start(&name, transport, delivery, queue, data_dir, &stop)
                            .map_err(|e| anyhow::anyhow!("sink {name}: {e}"))?;
                    writers.push(remote.writer);
                    senders.push(remote.sender);
                    buffers.push(name.clone());
                }
            }
            queues.push(QueueSender {
                tx,
                stats: stats.clone(),
            });
            handles.push(SinkHandle { name, stats });
        }
        let orphans = orphan_buffers(data_dir, &buffers);
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

    /// Every sink's name and counters, for the agent's own metrics and its status.
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

/// Buffer folders that hold data but belong to none of the remote sinks `owners`.
fn orphan_buffers(data_dir: &Path, owners: &[Arc<str>]) -> Vec<OrphanBuffer> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("buffer")) else {
        return Vec::new();
    };
    let mut orphans: Vec<OrphanBuffer> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            if owners.iter().any(|owner| **owner == *name) {
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
