//! Delivery for a remote sink: batches are written ahead to the sink's disk buffer, then sent
//! in order, each acknowledged only once the backend took it (at least once). Failures are
//! retried with capped exponential back-off and jitter (or the server's `Retry-After`);
//! answers that will never succeed are dropped and counted. On shutdown the sender keeps
//! going for a bounded time; what is left stays on disk for the next start.

mod batch;
mod config;
mod dedup;
mod stats;
mod transport;
mod wal;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::Rng;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use batch::Batch;
pub use config::Delivery;
use dedup::Dedup;
pub use stats::{SinkStats, StatsSnapshot};
pub use transport::{Http, SendError, Sending, Transport, gzip, unencodable};
use wal::Wal;

use super::sink::Queue;
use crate::repeats::Repeats;

/// The two tasks of a remote sink: the writer to its disk buffer, the sender from it.
pub struct Remote {
    /// Ends once the queue is closed and written out.
    pub writer: JoinHandle<()>,
    /// Ends once stopped and drained.
    pub sender: JoinHandle<()>,
}

impl Remote {
    /// Starts sink `name`'s delivery: its disk buffer under `data_dir/buffer/<name>`, and the
    /// tasks that fill it from `queue` and send it through `transport` until `stop`.
    pub fn start(
        name: &Arc<str>,
        transport: Box<dyn Transport>,
        delivery: Delivery,
        queue: Queue,
        data_dir: &Path,
        stop: &CancellationToken,
    ) -> Result<Self, String> {
        let dir = data_dir.join("buffer").join(&**name);
        let wal = Wal::open(&dir, delivery.disk_budget_mib.saturating_mul(1 << 20))
            .map_err(|e| format!("disk buffer {}: {e}", dir.display()))?;
        let buffer = Buffer::new(wal, queue.stats().clone());
        let carries_service_checks = transport.carries_service_checks();
        Ok(Self {
            writer: tokio::spawn(write_loop(
                name.clone(),
                queue,
                buffer.clone(),
                delivery.clone(),
                carries_service_checks,
            )),
            sender: tokio::spawn(send_loop(
                name.clone(),
                buffer,
                transport,
                delivery,
                stop.clone(),
            )),
        })
    }
}

/// How long a stopping agent keeps sending.
const DRAIN: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// The shared state of a sink's writer and sender.
struct Buffer {
    wal: Mutex<Wal>,
    written: Notify,
    stats: Arc<SinkStats>,
}

impl Buffer {
    /// A buffer over `wal`, counting into `stats`.
    fn new(wal: Wal, stats: Arc<SinkStats>) -> Arc<Self> {
        let buffer = Arc::new(Self {
            wal: Mutex::new(wal),
            written: Notify::new(),
            stats,
        });
        buffer.publish_disk(&buffer.wal());
        buffer
    }

    fn wal(&self) -> std::sync::MutexGuard<'_, Wal> {
        self.wal.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish_disk(&self, wal: &Wal) {
        use std::sync::atomic::Ordering::Relaxed;
        self.stats.disk_bytes.store(wal.disk_bytes(), Relaxed);
        self.stats
            .corrupt_records
            .store(wal.corrupt_records(), Relaxed);
    }

    /// Writes one batch ahead of sending it.
    fn write(&self, sink: &str, batch: &Batch) {
        use std::sync::atomic::Ordering::Relaxed;
        let data = match serde_json::to_vec(batch) {
            Ok(data) => data,
            Err(e) => {
                tracing::error!(sink, "cannot encode a batch for the disk buffer: {e}");
                return;
            }
        };
        let mut wal = self.wal();
        match wal.append(&data, batch.len() as u32) {
            Ok(dropped) if dropped.series > 0 => {
                self.stats.dropped.fetch_add(dropped.series, Relaxed);
                tracing::warn!(
                    sink,
                    dropped = dropped.series,
                    "disk buffer full: the oldest series were dropped"
                );
            }
            Ok(_) => {}
            Err(e) => {
                self.stats.dropped.fetch_add(batch.len() as u64, Relaxed);
                tracing::error!(
                    sink,
                    "cannot write the disk buffer: {e}; {} series lost",
                    batch.len()
                );
            }
        }
        self.publish_disk(&wal);
        drop(wal);
        self.written.notify_one();
    }
}

/// Takes payloads from the sink's queue and writes each to the buffer at once, so that a
/// `kill -9` loses nothing that left the checks. A sink that takes no service checks, events
/// and sketches as such gets [`Payload::all_series`].
async fn write_loop(
    sink: Arc<str>,
    mut queue: Queue,
    buffer: Arc<Buffer>,
    delivery: Delivery,
    carries_service_checks: bool,
) {
    let mut dedup =
        (delivery.dedup_secs > 0.0).then(|| Dedup::new((delivery.dedup_secs * 1000.0) as i64));
    while let Some(payload) = queue.recv().await {
        let mut series = if carries_service_checks {
            payload.series.clone()
        } else {
            payload.all_series().collect()
        };
        if let Some(dedup) = &mut dedup {
            let mut kept = Vec::with_capacity(series.len());
            dedup.filter(&series, &mut kept);
            series = kept;
        }
        let max = delivery.batch_max_series;
        while !series.is_empty() {
            let rest = series.split_off(max.min(series.len()));
            let batch = Batch {
                series: std::mem::replace(&mut series, rest),
                ..Batch::default()
            };
            buffer.write(&sink, &batch);
        }
        let batch = Batch {
            series: Vec::new(),
            service_checks: payload.service_checks.clone(),
            events: payload.events.clone(),
            sketches: payload.sketches.clone(),
        };
        if carries_service_checks && !batch.is_empty() {
            buffer.write(&sink, &batch);
        }
    }
}

/// How often the same failure is logged.
const REPEAT_LOG: Duration = Duration::from_secs(60);

/// ±10 %.
fn jittered(d: Duration) -> Duration {
    d.mul_f64(rand::rng().random_range(0.9..1.1))
}

/// The next batch: records from the buffer up to `max_series` series (at least one record),
/// with the last record taken, to acknowledge once sent.
fn next_batch(
    buffer: &Buffer,
    max_series: usize,
    sink: &str,
) -> std::io::Result<Option<(Batch, wal::Record)>> {
    let records = buffer.wal().peek_series(max_series as u64)?;
    let mut batch = Batch::default();
    let mut last = None;
    for record in records {
        match Batch::decode(&record.data) {
            // Service checks and events go in batches of their own, so that a backend that
            // refuses them costs no series.
            Ok(more) if last.is_some() && more.series.is_empty() != batch.series.is_empty() => {
                break;
            }
            Ok(more) => batch.extend(more),
            Err(e) => tracing::error!(sink, "a corrupt batch in the disk buffer is skipped: {e}"),
        }
        last = Some(record);
    }
    Ok(last.map(|record| (batch, record)))
}

/// Sends the buffer's batches in order until `stop` is cancelled (after the writer has
/// finished), then for at most [`DRAIN`] more.
async fn send_loop(
    sink: Arc<str>,
    buffer: Arc<Buffer>,
    mut transport: Box<dyn Transport>,
    delivery: Delivery,
    stop: CancellationToken,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let stats = buffer.stats.clone();
    let carries_service_checks = transport.carries_service_checks();
    let mut backoff = FIRST_BACKOFF;
    let mut drain_until: Option<tokio::time::Instant> = None;
    let mut repeats = Repeats::new(REPEAT_LOG);
    loop {
        if drain_until.is_none() && stop.is_cancelled() {
            drain_until = Some(tokio::time::Instant::now() + DRAIN);
        }
        if drain_until.is_some_and(|at| tokio::time::Instant::now() >= at) {
            break;
        }
        let next = next_batch(&buffer, delivery.batch_max_series, &sink);
        let (batch, record) = match next {
            Ok(Some(next)) => next,
            Ok(None) if drain_until.is_some() => break,
            Ok(None) => {
                tokio::select! {
                    () = buffer.written.notified() => {}
                    () = stop.cancelled() => {}
                }
                // Let a batch fill for the flush interval, unless stopping.
                if !stop.is_cancelled()
                    && buffer.wal().pending_series() < delivery.batch_max_series as u64
                {
                    tokio::select! {
                        () = tokio::time::sleep(jittered(delivery.flush())) => {}
                        () = stop.cancelled() => {}
                    }
                }
                continue;
            }
            Err(e) => {
                tracing::error!(%sink, "cannot read the disk buffer: {e}");
                tokio::select! {
                    () = tokio::time::sleep(delivery.retry_max()) => {}
                    () = stop.cancelled(), if drain_until.is_none() => {}
                }
                if drain_until.is_some() {
                    break;
                }
                continue;
            }
        };
        // A backend that takes series only has nothing to send in a batch without any (one a
        // sink of another type left in a buffer of the same name).
        if batch.is_empty() || (!carries_service_checks && batch.series.is_empty()) {
            acknowledge(&buffer, &record, &sink);
            continue;
        }
        let sent = match drain_until {
            Some(at) => tokio::time::timeout_at(at, transport.send(&batch))
                .await
                .unwrap_or_else(|_| Err(SendError::retry("stopping".into()))),
            None => transport.send(&batch).await,
        };
        match sent {
            Ok(bytes) => {
                stats.sent.fetch_add(batch.len() as u64, Relaxed);
                stats.sent_bytes.fetch_add(bytes as u64, Relaxed);
                acknowledge(&buffer, &record, &sink);
                backoff = FIRST_BACKOFF;
            }
            Err(SendError::Reject(reason)) => {
                stats.failed.fetch_add(1, Relaxed);
                stats.dropped.fetch_add(batch.len() as u64, Relaxed);
                tracing::warn!(%sink, series = batch.len(), "batch dropped: {reason}");
                stats.set_error(format!("batch dropped: {reason}"));
                acknowledge(&buffer, &record, &sink);
            }
            Err(SendError::Retry { reason, after }) => {
                stats.failed.fetch_add(1, Relaxed);
                stats.retried.fetch_add(1, Relaxed);
                let wait = after
                    .unwrap_or_else(|| jittered(backoff))
                    .min(delivery.retry_max());
                // The same failure again is logged once a minute, not every batch.
                if repeats.admit(&reason) {
                    tracing::warn!(%sink, "send failed, retrying in {wait:?}: {reason}");
                }
                stats.set_error(format!("send failed: {reason}"));
                backoff = (backoff * 2).min(delivery.retry_max());
                // A stopping agent never waits past its drain deadline.
                let resume = tokio::time::Instant::now() + wait;
                let resume = drain_until.map_or(resume, |at| resume.min(at));
                tokio::select! {
                    () = tokio::time::sleep_until(resume) => {}
                    () = stop.cancelled(), if drain_until.is_none() => {}
                }
            }
        }
    }
    let left = buffer.wal().pending_series();
    if left > 0 {
        tracing::info!(%sink, series = left, "left in the disk buffer for the next start");
    }
}

fn acknowledge(buffer: &Buffer, record: &wal::Record, sink: &str) {
    let mut wal = buffer.wal();
    if let Err(e) = wal.ack(record) {
        tracing::error!(sink, "cannot record delivery in the disk buffer: {e}");
    }
    buffer.publish_disk(&wal);
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::atomic::Ordering::Relaxed;

    use tokio::sync::mpsc;
    use tokio::time::Instant;

    use super::*;
    use crate::model::{Payload, Series, SeriesKind};

    /// Answers each send with the next scripted answer (then `Ok`), noting when it was asked.
    struct Scripted {
        answers: VecDeque<Result<usize, SendError>>,
        asked: Arc<Mutex<Vec<Instant>>>,
    }

    impl Transport for Scripted {
        fn send<'a>(&'a mut self, _: &'a Batch) -> Sending<'a> {
            self.asked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Instant::now());
            let answer = self.answers.pop_front().unwrap_or(Ok(1));
            Box::pin(async move { answer })
        }
    }

    fn payload(value: f64) -> Payload {
        Payload {
            series: vec![Series {
                name: "test.delivery".into(),
                kind: SeriesKind::Gauge,
                value,
                timestamp_ms: 1_700_000_000_000,
                tags: Vec::new(),
            }],
            ..Payload::default()
        }
    }

    struct Running {
        payloads: mpsc::Sender<Arc<Payload>>,
        stats: Arc<SinkStats>,
        asked: Arc<Mutex<Vec<Instant>>>,
        remote: Remote,
        stop: CancellationToken,
        _dir: tempfile::TempDir,
    }

    fn start(answers: Vec<Result<usize, SendError>>) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let (payloads, rx) = mpsc::channel(8);
        let stats = Arc::new(SinkStats::default());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let transport = Scripted {
            answers: answers.into(),
            asked: asked.clone(),
        };
        let delivery = Delivery {
            batch_max_series: 1,
            retry_max_secs: 4.0,
            ..Delivery::default()
        };
        let stop = CancellationToken::new();
        let remote = Remote::start(
            &Arc::from("test"),
            Box::new(transport),
            delivery,
            Queue::new(rx, stats.clone()),
            dir.path(),
            &stop,
        )
        .unwrap();
        Running {
            payloads,
            stats,
            asked,
            remote,
            stop,
            _dir: dir,
        }
    }

    fn retry(after: Option<u64>) -> Result<usize, SendError> {
        Err(SendError::Retry {
            reason: "down".into(),
            after: after.map(Duration::from_secs),
        })
    }

    /// Waits (in paused time) until the transport was asked `n` times; the times asked.
    async fn asked(running: &Running, n: usize) -> Vec<Instant> {
        for _ in 0..10_000 {
            let asked = running.asked.lock().unwrap().clone();
            if asked.len() >= n {
                return asked;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the transport was not asked {n} times");
    }

    #[tokio::test(start_paused = true)]
    async fn retries_back_off_doubling_to_the_cap_and_honour_retry_after() {
        let running = start(vec![
            retry(None),
            retry(None),
            retry(None),
            retry(None),
            retry(Some(2)),
            retry(Some(60)),
        ]);
        running.payloads.send(Arc::new(payload(1.0))).await.unwrap();
        let asked = asked(&running, 7).await;
        let waits: Vec<f64> = asked
            .windows(2)
            .map(|w| (w[1] - w[0]).as_secs_f64())
            .collect();
        // 0.5, 1, 2, then the 4 s cap, each ±10 %; then the server's 2 s; its 60 s is capped.
        let expected = [0.5, 1.0, 2.0, 4.0];
        for (wait, expected) in waits.iter().zip(expected) {
            assert!(
                (expected * 0.9..=expected * 1.1 + 0.011).contains(wait),
                "{waits:?}"
            );
        }
        assert!((2.0..2.02).contains(&waits[4]), "{waits:?}");
        assert!((4.0..4.02).contains(&waits[5]), "{waits:?}");
        let stats = running.stats.snapshot();
        assert_eq!((stats.retried, stats.failed, stats.sent), (6, 6, 1));
        running.stop.cancel();
        drop(running.payloads);
        running.remote.writer.await.unwrap();
        running.remote.sender.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_batch_is_dropped_and_counted_and_the_next_goes_on() {
        let running = start(vec![Err(SendError::Reject("400".into()))]);
        running.payloads.send(Arc::new(payload(1.0))).await.unwrap();
        running.payloads.send(Arc::new(payload(2.0))).await.unwrap();
        asked(&running, 2).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let stats = running.stats.snapshot();
        assert_eq!((stats.dropped, stats.sent, stats.retried), (1, 1, 0));
        assert_eq!(
            running.stats.last_error().as_deref(),
            Some("batch dropped: 400")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stopping_sink_sends_for_at_most_the_drain_time_and_keeps_the_rest() {
        let running = start(vec![retry(Some(60)); 100]);
        running.payloads.send(Arc::new(payload(1.0))).await.unwrap();
        asked(&running, 1).await;
        drop(running.payloads);
        running.remote.writer.await.unwrap();
        let stopped = Instant::now();
        running.stop.cancel();
        running.remote.sender.await.unwrap();
        assert!(stopped.elapsed() <= DRAIN, "{:?}", stopped.elapsed());
        let asked = running.asked.lock().unwrap().clone();
        assert!(
            asked.iter().any(|at| *at >= stopped),
            "it kept sending while draining: {asked:?}"
        );
        assert!(running.stats.disk_bytes.load(Relaxed) > 0, "left on disk");
    }
}
