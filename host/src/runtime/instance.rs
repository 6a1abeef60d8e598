//! One check instance: a Store with its limits, the component instantiated in it, and the
//! calls into it, each bounded in time. A Store that trapped is dropped and rebuilt.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, UpdateDeadline};

use super::bindings::{Check, CheckPre};
use super::engine::Ticker;
use super::host_state::{Capabilities, MemoryLimitExceeded, RunLimits, RunOutput};
use super::{
    CheckError, CheckModule, ConfigError, Descriptor, HostState, InstanceError, LinkSet, RunError,
};
use crate::runtime::Runtime;

/// Everything needed to build (and rebuild) an instance.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    /// `check[index]`, for logs.
    pub label: Arc<str>,
    /// What it may reach.
    pub capabilities: Arc<Capabilities>,
    /// Memory limit in bytes.
    pub memory_bytes: usize,
    /// What one run may submit and log.
    pub limits: RunLimits,
    /// `init_config` as JSON.
    pub init_config: String,
    /// The instance's own config as JSON.
    pub instance_config: String,
    /// Time `describe` and `init` may take.
    pub start_timeout: Duration,
}

/// The error the epoch callback stops a guest with.
#[derive(Debug, thiserror::Error)]
#[error("deadline reached")]
struct DeadlineReached;

struct Live {
    store: Store<HostState>,
    check: Check,
    ticker: Arc<Ticker>,
}

/// A running check instance.
pub struct CheckInstance {
    pre: CheckPre,
    runtime: Runtime,
    spec: InstanceSpec,
    descriptor: Descriptor,
    live: Option<Live>,
}

/// The outcome of one run.
#[derive(Debug)]
pub struct RunReport {
    /// What the check submitted (also when the run failed half-way).
    pub output: RunOutput,
    /// Whether the run succeeded.
    pub result: Result<(), RunError>,
    /// Wall time of the run, a rebuild included.
    pub duration: Duration,
}

impl CheckInstance {
    /// Links exactly the granted capabilities, instantiates, describes and initialises.
    pub async fn new(
        runtime: &Runtime,
        module: &CheckModule,
        spec: InstanceSpec,
    ) -> Result<Self, InstanceError> {
        let link = LinkSet::granted(&spec.capabilities.grants);
        module.check_grants(link)?;
        let pre = link_component(runtime, module, link)?;
        let mut live = instantiate(runtime, &pre, &spec)
            .await
            .map_err(InstanceError::Start)?;
        let descriptor = call_describe(&mut live, spec.start_timeout)
            .await
            .map_err(InstanceError::Start)?;
        match call_init(&mut live, &spec).await {
            Ok(()) => {}
            Err(RunError::Config(message)) => return Err(InstanceError::Config(message)),
            Err(e) => return Err(InstanceError::Start(e)),
        }
        Ok(Self {
            pre,
            runtime: runtime.clone(),
            spec,
            descriptor,
            live: Some(live),
        })
    }

    /// What the check said about itself.
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    /// The instance's label, `check[index]`.
    pub fn label(&self) -> &Arc<str> {
        &self.spec.label
    }

    /// Runs the check once, stopping it after `timeout`. A Store that trapped, timed out or hit
    /// its memory limit is rebuilt (and the check initialised again) before the next run.
    pub async fn run(&mut self, timestamp_ms: i64, timeout: Duration) -> RunReport {
        let started = Instant::now();
        let live = match self.live.take() {
            Some(live) => Ok(live),
            None => rebuild(&self.runtime, &self.pre, &self.spec).await,
        };
        let mut live = match live {
            Ok(live) => live,
            Err(e) => {
                return RunReport {
                    output: RunOutput::default(),
                    result: Err(e),
                    duration: started.elapsed(),
                };
            }
        };
        let state = live.store.data_mut();
        state.output = RunOutput::default();
        state.run_timestamp_ms = timestamp_ms;
        let result = guarded(&mut live, timeout, async |live: &mut Live| {
            live.check.run(&mut live.store, timestamp_ms).await
        })
        .await;
        let result = flatten(result);
        let state = live.store.data_mut();
        state.log_guest_output();
        let output = state.take_output();
        if !matches!(&result, Err(e) if e.poisons_instance()) {
            self.live = Some(live);
        }
        RunReport {
            output,
            result,
            duration: started.elapsed(),
        }
    }
}

/// A fresh Store for an instance whose previous one trapped, initialised again.
async fn rebuild(runtime: &Runtime, pre: &CheckPre, spec: &InstanceSpec) -> Result<Live, RunError> {
    let mut live = instantiate(runtime, pre, spec).await?;
    call_init(&mut live, spec).await?;
    Ok(live)
}

/// Calls `describe` in a Store linked with every capability but granted nothing.
pub async fn describe(
    runtime: &Runtime,
    module: &CheckModule,
) -> Result<Descriptor, InstanceError> {
    let pre = link_component(runtime, module, LinkSet::all())?;
    let spec = InstanceSpec {
        label: "inspect".into(),
        capabilities: Arc::default(),
        memory_bytes: 64 << 20,
        limits: RunLimits::NOTHING,
        init_config: String::new(),
        instance_config: String::new(),
        start_timeout: Duration::from_secs(10),
    };
    let mut live = instantiate(runtime, &pre, &spec)
        .await
        .map_err(InstanceError::Start)?;
    call_describe(&mut live, spec.start_timeout)
        .await
        .map_err(InstanceError::Start)
}

/// The component pre-linked with the capabilities in `link`.
fn link_component(
    runtime: &Runtime,
    module: &CheckModule,
    link: LinkSet,
) -> Result<CheckPre, InstanceError> {
    runtime
        .pre(link, module)
        .map_err(|e| InstanceError::Start(RunError::Trap(format!("{e:#}"))))
}

async fn instantiate(
    runtime: &Runtime,
    pre: &CheckPre,
    spec: &InstanceSpec,
) -> Result<Live, RunError> {
    let state = HostState::new(
        spec.label.clone(),
        spec.capabilities.clone(),
        spec.memory_bytes,
        spec.limits,
    );
    let mut store = Store::new(runtime.engine(), state);
    store.limiter(|s| &mut s.limiter);
    store.epoch_deadline_callback(|ctx| match ctx.data().deadline {
        Some(deadline) if Instant::now() >= deadline => Err(wasmtime::Error::new(DeadlineReached)),
        _ => Ok(UpdateDeadline::Yield(1)),
    });
    store.data_mut().deadline = Some(Instant::now() + spec.start_timeout);
    store.set_epoch_deadline(1);
    let ticking = runtime.ticker().enter();
    let instantiated = pre.instantiate(&mut store).await;
    drop(ticking);
    let check = match instantiated {
        Ok(check) => check,
        Err(e) => {
            return Err(classify(
                e,
                spec.start_timeout,
                &store.data().guest_output.peek(),
            ));
        }
    };
    Ok(Live {
        store,
        check,
        ticker: runtime.ticker().clone(),
    })
}

async fn call_describe(live: &mut Live, timeout: Duration) -> Result<Descriptor, RunError> {
    guarded(live, timeout, async |live: &mut Live| {
        live.check.describe(&mut live.store).await
    })
    .await
}

async fn call_init(live: &mut Live, spec: &InstanceSpec) -> Result<(), RunError> {
    let result = guarded(live, spec.start_timeout, async |live: &mut Live| {
        live.check
            .init(&mut live.store, &spec.init_config, &spec.instance_config)
            .await
    })
    .await;
    flatten(result)
}

/// How long past its deadline a call blocked in the host is let run before it is dropped.
const BLOCKED_GRACE: Duration = Duration::from_millis(100);

/// Runs `call` with a deadline `timeout` from now; a failure is classified.
async fn guarded<R>(
    live: &mut Live,
    timeout: Duration,
    call: impl AsyncFnOnce(&mut Live) -> wasmtime::Result<R>,
) -> Result<R, RunError> {
    live.store.data_mut().deadline = Some(Instant::now() + timeout);
    live.store.set_epoch_deadline(1);
    let _ticking = live.ticker.enter();
    // The epoch callback stops a guest that computes; one waiting in the host (a sleep, a
    // request) is stopped by dropping the call, after which the Store is rebuilt.
    let result = tokio::time::timeout(timeout + BLOCKED_GRACE, call(live))
        .await
        .unwrap_or_else(|_| Err(wasmtime::Error::new(DeadlineReached)));
    live.store.data_mut().deadline = None;
    result.map_err(|e| classify(e, timeout, &live.store.data().guest_output.peek()))
}

/// Longest field path a config error names; longer ones are cut.
const MAX_FIELD_PATH: usize = 200;

/// Merges the guest's own error into the run's.
fn flatten(result: Result<Result<(), CheckError>, RunError>) -> Result<(), RunError> {
    match result? {
        Ok(()) => Ok(()),
        Err(CheckError::Config(ConfigError {
            field: Some(mut field),
            message,
        })) => {
            // The check's own words: a field path is short, whatever the check says.
            field.truncate(field.floor_char_boundary(MAX_FIELD_PATH));
            Err(RunError::Config(format!("{field}: {message}")))
        }
        Err(CheckError::Config(ConfigError {
            field: None,
            message,
        })) => Err(RunError::Config(message)),
        Err(CheckError::Transient(m)) => Err(RunError::Transient(m)),
        Err(CheckError::Permanent(m)) => Err(RunError::Permanent(m)),
    }
}

/// Why a call into the guest failed, in words a person can act on.
fn classify(error: wasmtime::Error, timeout: Duration, guest_log: &str) -> RunError {
    if error.downcast_ref::<DeadlineReached>().is_some() {
        return RunError::Timeout(timeout);
    }
    if let Some(limit) = error.downcast_ref::<MemoryLimitExceeded>() {
        return RunError::MemoryLimit(limit.0);
    }
    let what = match error.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{error:#}"),
    };
    match panic_message(guest_log) {
        Some(panic) => RunError::Trap(format!("{what}; the guest said: {panic}")),
        None => RunError::Trap(what),
    }
}

/// The panic message a Rust guest printed before trapping, on one line.
fn panic_message(guest_log: &str) -> Option<String> {
    let start = guest_log.rfind("panicked at")?;
    let text = guest_log[start..]
        .lines()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    Some(text.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_errors_field_is_named_and_bounded() {
        let config = |field: Option<&str>| {
            flatten(Ok(Err(CheckError::Config(ConfigError {
                field: field.map(String::from),
                message: "expected a port".into(),
            }))))
        };
        let said = |r: Result<(), RunError>| match r {
            Err(RunError::Config(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            said(config(Some("instance.port"))),
            "instance.port: expected a port"
        );
        assert_eq!(said(config(None)), "expected a port");
        let long = said(config(Some(&"é".repeat(500))));
        assert_eq!(long.len(), MAX_FIELD_PATH + ": expected a port".len());
    }

    #[test]
    fn panic_message_is_found_and_joined() {
        let log = "hello\nthread '<unnamed>' panicked at src/lib.rs:5:9:\nboom\nnote: run with RUST_BACKTRACE\n";
        assert_eq!(
            panic_message(log).as_deref(),
            Some("panicked at src/lib.rs:5:9: boom")
        );
        assert_eq!(panic_message("nothing"), None);
    }
}
