//! Checks from registries. A component is trusted by its signature, never by where it came
//! from: what the agent runs is signed by a key the operator lists, verified before it is
//! compiled, and kept on disk so that a restart needs no network.

mod config;
mod oci;
mod poller;
mod pull;
mod signature;
mod state;
mod store;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::{DEFAULT_MAX_SIZE_MIB, SourceAuth, SourceConfig, problems};
pub use oci::{Pushed, Registry, RegistryError, signature_tag};
pub use pull::{PullError, Verified, pull_verified};
pub use signature::{KeyError, SignatureError, TrustedKey, TrustedKeys, digest_of};
pub use state::{SourceReport, SourcesState};
pub use store::{Current, Store};

use crate::config::AgentConfig;

/// How long a refresh waits for the polls it asked for.
const REFRESH_WAIT: Duration = Duration::from_secs(120);

type Changed = Arc<dyn Fn() + Send + Sync>;
pub use poller::Validate;

/// The pollers of every source in `wasmon.yaml`, replaced when a reload changes them.
pub struct Sources {
    state: Arc<SourcesState>,
    refresher: Refresher,
    changed: Changed,
    validate: Validate,
    /// The sources and keys the pollers were started with.
    running: (Vec<SourceConfig>, Vec<String>),
    /// Stops the current pollers (a child of the agent's shutdown).
    stop: CancellationToken,
    agent_stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// Asks every source to poll now.
#[derive(Clone, Default)]
pub struct Refresher {
    pollers: Arc<std::sync::Mutex<Vec<mpsc::Sender<oneshot::Sender<()>>>>>,
}

impl Refresher {
    /// Polls every source now; returns when each has polled (or after two minutes).
    pub async fn refresh(&self) {
        let pollers = self.pollers.lock().map(|p| p.clone()).unwrap_or_default();
        let mut answers = Vec::new();
        for poller in &pollers {
            let (tx, rx) = oneshot::channel();
            // A full queue already holds a refresh that has not run yet.
            if poller.try_send(tx).is_ok() {
                answers.push(rx);
            }
        }
        let _ = tokio::time::timeout(REFRESH_WAIT, async {
            for answer in answers {
                let _ = answer.await;
            }
        })
        .await;
    }
}

impl Sources {
    /// Starts one poller per source; a verified version becomes the one that runs when
    /// `validate` loads it, and then `changed` is called.
    pub fn start(
        config: &AgentConfig,
        changed: Changed,
        validate: Validate,
        stop: &CancellationToken,
    ) -> Self {
        let mut sources = Self {
            state: Arc::new(SourcesState::default()),
            refresher: Refresher::default(),
            changed,
            validate,
            running: (Vec::new(), Vec::new()),
            stop: stop.child_token(),
            agent_stop: stop.clone(),
            tasks: Vec::new(),
        };
        sources.spawn(config);
        sources
    }

    /// Replaces the pollers when `config`'s sources or trusted keys differ from theirs.
    pub fn apply(&mut self, config: &AgentConfig) {
        if (&config.sources, &config.trusted_keys) == (&self.running.0, &self.running.1) {
            return;
        }
        tracing::info!(
            sources = config.sources.len(),
            "wasmon.yaml: sources replaced"
        );
        self.stop.cancel();
        self.stop = self.agent_stop.child_token();
        self.tasks.clear();
        self.state.retain(|check| config.source_of(check).is_some());
        self.spawn(config);
    }

    /// Starts a poller per source of `config`. A source that cannot start (its credentials
    /// unreadable) is reported in its status.
    fn spawn(&mut self, config: &AgentConfig) {
        self.running = (config.sources.clone(), config.trusted_keys.clone());
        let keys = config
            .trusted_keys
            .iter()
            .filter_map(|k| TrustedKey::parse(k).ok())
            .collect();
        let keys = Arc::new(TrustedKeys(keys));
        let mut pollers = Vec::new();
        for source in &config.sources {
            let store = Store::new(&config.data_dir, &source.check);
            let registry = source
                .parsed()
                .map_err(RegistryError::Invalid)
                .and_then(|r| Registry::new(source, &r).map(|registry| (r, registry)));
            let (reference, registry) = match registry {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::error!(check = source.check, "source not polled: {e}");
                    self.state.set(SourceReport {
                        last_error: Some(e.to_string()),
                        ..SourceReport::from_store(&store, source)
                    });
                    continue;
                }
            };
            self.state.set(SourceReport::from_store(&store, source));
            let (tx, rx) = mpsc::channel(1);
            pollers.push(tx);
            let follower = poller::Follower {
                source: source.clone(),
                reference,
                registry,
                keys: keys.clone(),
                store,
                validate: self.validate.clone(),
            };
            self.tasks.push(tokio::spawn(poller::follow(
                follower,
                self.state.clone(),
                self.changed.clone(),
                rx,
                self.stop.clone(),
            )));
        }
        if let Ok(mut current) = self.refresher.pollers.lock() {
            *current = pollers;
        }
    }

    /// What each source did.
    pub fn state(&self) -> Arc<SourcesState> {
        self.state.clone()
    }

    /// A handle to poll every source now.
    pub fn refresher(&self) -> Refresher {
        self.refresher.clone()
    }

    /// Waits for the pollers, once stopped.
    pub async fn join(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// A registry for a command-line `reference`: plain HTTP when `insecure` (loopback only),
/// with `auth`.
pub fn connect(
    reference: &str,
    insecure: bool,
    auth: SourceAuth,
) -> Result<(oci_client::Reference, Registry), String> {
    let source = SourceConfig {
        check: "pulled".into(),
        reference: reference.into(),
        poll_secs: config::DEFAULT_POLL_SECS,
        auth,
        insecure,
        max_size_mib: DEFAULT_MAX_SIZE_MIB,
        init_config: None,
        instances: None,
    };
    if let Some((field, problem)) = source.problems().into_iter().next() {
        return Err(format!("{field}: {problem}"));
    }
    let parsed = source.parsed()?;
    let registry = Registry::new(&source, &parsed).map_err(|e| e.to_string())?;
    Ok((parsed, registry))
}

impl SourceReport {
    /// `source` running `current`, not yet polled.
    pub fn of(source: &SourceConfig, current: Option<Current>) -> Self {
        Self {
            check: source.check.clone(),
            reference: source.reference.clone(),
            digest: current.as_ref().map(|c| c.digest.clone()),
            key_id: current.map(|c| c.key_id),
            last_poll_ms: None,
            last_error: None,
        }
    }

    /// What the store holds for `source`, with the last poll it kept.
    pub fn from_store(store: &Store, source: &SourceConfig) -> Self {
        let last = store.last_report();
        Self {
            last_poll_ms: last.as_ref().and_then(|l| l.last_poll_ms),
            last_error: last.and_then(|l| l.last_error),
            ..Self::of(source, store.current())
        }
    }
}
