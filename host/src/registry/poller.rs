//! One task per source: resolve the reference, and when it names a new manifest, pull it,
//! verify it and keep it in the store, then ask the agent to reconcile. Nothing is compiled or
//! run here: the supervisor finds the verified file as it finds a dropped one.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use oci_client::Reference;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::config::SourceConfig;
use super::oci::Registry;
use super::pull::{PullError, pull_verified};
use super::signature::TrustedKeys;
use super::state::{SourceReport, SourcesState};
use super::store::{Current, Store};
use crate::scheduler::now_ms;

/// First wait after a failed poll; it doubles up to the poll interval.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// What a successful poll found.
#[derive(Debug, PartialEq)]
pub enum Polled {
    /// The reference names what already runs.
    Unchanged,
    /// A new version was verified and kept.
    Installed(Current),
}

/// Everything one source's poll needs.
pub struct Follower {
    /// The source.
    pub source: SourceConfig,
    /// Its parsed reference.
    pub reference: Reference,
    /// Its registry.
    pub registry: Registry,
    /// The keys whose signatures are accepted.
    pub keys: Arc<TrustedKeys>,
    /// Where verified versions are kept.
    pub store: Store,
    /// Whether the agent can run a kept version (it compiles into the agent's cache).
    pub validate: Validate,
}

/// Loads a component file as the supervisor will, answering why it cannot.
pub type Validate = Arc<dyn Fn(&std::path::Path) -> Result<(), String> + Send + Sync>;

impl Follower {
    /// Resolves the reference and, if it names something new, pulls and verifies it. The
    /// signature is checked before the component is downloaded, its digest after.
    pub async fn poll(&self, state: &SourcesState) -> Result<Polled, PullError> {
        let manifest_digest = self.registry.resolve(&self.reference).await?;
        let current = self.store.current();
        if current.is_some_and(|c| {
            c.manifest_digest == manifest_digest && self.store.module(&c.digest).is_file()
        }) {
            return Ok(Polled::Unchanged);
        }
        let verified = pull_verified(
            &self.registry,
            &self.reference,
            &manifest_digest,
            &self.keys,
            self.source.max_bytes(),
            |digest| std::fs::read(self.store.module(digest)).ok(),
        )
        .await?;
        if verified.downloaded {
            let size = verified.bytes.len() as u64;
            state
                .counters
                .bytes_pulled
                .fetch_add(size, Ordering::Relaxed);
        }
        let current = Current {
            reference: self.source.reference.clone(),
            manifest_digest,
            digest: verified.digest,
            key_id: verified.key_id,
            verified_ms: now_ms(),
        };
        // Only a version the agent can run becomes the one a restart runs.
        let kept = self.store.keep(&current.digest, &verified.bytes)?;
        let validate = self.validate.clone();
        let loaded = tokio::task::spawn_blocking(move || validate(&kept))
            .await
            .unwrap_or_else(|e| Err(format!("loading it failed: {e}")));
        if let Err(reason) = loaded {
            self.store.forget(&current.digest);
            return Err(PullError::Unusable(reason));
        }
        self.store.install(&current)?;
        state.counters.pulls.fetch_add(1, Ordering::Relaxed);
        Ok(Polled::Installed(current))
    }

    /// The report after a poll that ended with `result`.
    fn report(&self, result: &Result<Polled, PullError>) -> SourceReport {
        SourceReport {
            last_poll_ms: Some(now_ms()),
            last_error: result.as_ref().err().map(ToString::to_string),
            ..SourceReport::of(&self.source, self.store.current())
        }
    }
}

/// Waits between polls: the interval after a good poll; after a failure, one second
/// doubling up to the interval.
#[derive(Debug)]
pub struct Backoff {
    interval: Duration,
    next_retry: Duration,
}

impl Backoff {
    /// Back-off for a source polled every `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            next_retry: FIRST_RETRY,
        }
    }

    /// How long to wait after a poll that `failed` or not.
    pub fn after(&mut self, failed: bool) -> Duration {
        if !failed {
            self.next_retry = FIRST_RETRY;
            return self.interval;
        }
        let wait = self.next_retry.min(self.interval);
        self.next_retry = (self.next_retry * 2).min(self.interval);
        wait
    }
}

/// Polls until `stop`: every interval, sooner after a failure (with back-off), and at once
/// on each refresh request, which is answered when that poll is done.
pub async fn follow(
    follower: Follower,
    state: Arc<SourcesState>,
    changed: Arc<dyn Fn() + Send + Sync>,
    mut refresh: mpsc::Receiver<oneshot::Sender<()>>,
    stop: CancellationToken,
) {
    let interval = Duration::from_secs_f64(follower.source.poll_secs);
    let mut backoff = Backoff::new(interval);
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    loop {
        let result = tokio::select! {
            result = follower.poll(&state) => result,
            () = stop.cancelled() => return,
        };
        let reference = &follower.source.reference;
        match &result {
            Ok(Polled::Installed(current)) => {
                tracing::info!(
                    check = follower.source.check,
                    reference,
                    digest = current.digest,
                    key = current.key_id,
                    "verified a pulled check"
                );
                changed();
            }
            Ok(Polled::Unchanged) => {}
            Err(e) if e.is_refusal() => {
                state
                    .counters
                    .verify_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    check = follower.source.check,
                    reference,
                    "refused a pulled check (the running version keeps running): {e}"
                );
            }
            Err(e) => {
                state.counters.poll_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(check = follower.source.check, reference, "poll failed: {e}");
            }
        }
        let report = follower.report(&result);
        follower.store.save_report(&report);
        state.set(report);
        for answer in waiting.drain(..) {
            let _ = answer.send(());
        }
        let wait = backoff.after(matches!(&result, Err(e) if !e.is_refusal()));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            Some(answer) = refresh.recv() => waiting.push(answer),
            () = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_from_a_second_up_to_the_interval() {
        let mut b = Backoff::new(Duration::from_secs(10));
        let waits: Vec<u64> = [true, true, true, true, true, false, true]
            .map(|failed| b.after(failed).as_secs())
            .to_vec();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refresh_polls_at_once_and_is_answered_after_the_poll() {
        // The agent installs the one TLS provider at start (cli::main); so does this test.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tmp = tempfile::tempdir().unwrap();
        let source: SourceConfig =
            serde_yaml::from_str("check: x\nreference: 127.0.0.1:9/x:1\ninsecure: true\n").unwrap();
        let reference = source.parsed().unwrap();
        let follower = Follower {
            registry: Registry::new(&source, &reference).unwrap(),
            reference,
            keys: Arc::new(TrustedKeys(Vec::new())),
            store: Store::new(tmp.path(), "x"),
            validate: Arc::new(|_| Ok(())),
            source,
        };
        let state = Arc::new(SourcesState::default());
        let (tx, rx) = mpsc::channel(1);
        let stop = CancellationToken::new();
        let task = tokio::spawn(follow(
            follower,
            state.clone(),
            Arc::new(|| {}),
            rx,
            stop.clone(),
        ));
        // Nothing listens on port 9: each poll fails and is counted.
        let (answer, answered) = oneshot::channel();
        tx.send(answer).await.unwrap();
        answered.await.unwrap();
        let errors = state.counters.poll_errors.load(Ordering::Relaxed);
        assert!(errors >= 2, "{errors}");
        let report = &state.reports()[0];
        assert!(report.last_error.as_deref().is_some_and(|e| !e.is_empty()));
        assert_eq!(report.digest, None);
        stop.cancel();
        task.await.unwrap();
    }
}
