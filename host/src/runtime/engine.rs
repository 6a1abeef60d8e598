//! The shared engine and the epoch thread that lets the host stop or pause a running guest.
//! The thread ticks only while some call is inside a guest: an agent between runs spends no
//! CPU on it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use wasmtime::{Config, Engine};

use super::CheckModule;
use super::bindings::CheckPre;
use super::linker::{LinkSet, Linkers};

/// How often the epoch advances: the granularity of time limits and of yields to tokio.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The engine every check shares, with its epoch ticker.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linkers: Arc<Linkers>,
    ticker: Arc<TickerHandle>,
}

/// What the epoch thread and the calls into guests share.
#[derive(Default)]
pub(crate) struct Ticker {
    /// Calls inside a guest now, and whether the runtime is gone.
    state: Mutex<TickerState>,
    wake: Condvar,
    /// Epochs ticked so far.
    ticks: AtomicU64,
}

#[derive(Default)]
struct TickerState {
    active: usize,
    stopped: bool,
}

/// Ends the epoch thread when the last clone of the runtime goes.
struct TickerHandle(Arc<Ticker>);

impl Drop for TickerHandle {
    fn drop(&mut self) {
        self.0.lock().stopped = true;
        self.0.wake.notify_all();
    }
}

/// Keeps the epoch ticking while held: one for each call inside a guest.
pub(crate) struct Ticking(Arc<Ticker>);

impl Ticker {
    fn lock(&self) -> MutexGuard<'_, TickerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ticks until the returned guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> Ticking {
        let mut state = self.lock();
        state.active += 1;
        if state.active == 1 {
            self.wake.notify_all();
        }
        Ticking(self.clone())
    }
}

impl Drop for Ticking {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.active = state.active.saturating_sub(1);
    }
}

/// The agent's engine: Cranelift, epoch interruption, components without concurrency. An
/// artifact compiled by one loads in every other (a compiling child's in the daemon's).
pub fn engine() -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .wasm_component_model(true)
        // No component-model concurrency: cheaper calls, and checks do not need it.
        .concurrency_support(false)
        .max_wasm_stack(1 << 20);
    Ok(Engine::new(&config)?)
}

impl Runtime {
    /// A Cranelift engine with epoch interruption, and a thread ticking its epoch.
    pub fn new() -> anyhow::Result<Self> {
        let engine = engine()?;
        let ticker = Arc::new(Ticker::default());
        spawn_ticker(engine.weak(), ticker.clone())?;
        Ok(Self {
            engine,
            linkers: Arc::default(),
            ticker: Arc::new(TickerHandle(ticker)),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The epoch ticker, for calls into guests to hold while they run.
    pub(crate) fn ticker(&self) -> &Arc<Ticker> {
        &self.ticker.0
    }

    /// `module` pre-linked with exactly the capabilities in `link`, in its WIT version.
    pub(crate) fn pre(&self, link: LinkSet, module: &CheckModule) -> anyhow::Result<CheckPre> {
        self.linkers
            .pre(&self.engine, link, module.wit_version, &module.component)
    }
}

/// Ticks the epoch while a guest runs, waits on the condition variable while none does, and
/// ends when the runtime is dropped.
fn spawn_ticker(engine: wasmtime::EngineWeak, ticker: Arc<Ticker>) -> anyhow::Result<()> {
    thread::Builder::new()
        .name("wasmon-epoch".into())
        .spawn(move || {
            loop {
                {
                    let mut state = ticker.lock();
                    while state.active == 0 && !state.stopped {
                        state = ticker
                            .wake
                            .wait(state)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                    if state.stopped {
                        return;
                    }
                }
                thread::sleep(EPOCH_TICK);
                match engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => return,
                }
                ticker.ticks.fetch_add(1, Ordering::Relaxed);
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticks(runtime: &Runtime) -> u64 {
        runtime.ticker().ticks.load(Ordering::Relaxed)
    }

    #[test]
    fn the_epoch_ticks_only_while_a_guest_runs() {
        let runtime = Runtime::new().unwrap();
        thread::sleep(EPOCH_TICK * 10);
        assert_eq!(ticks(&runtime), 0, "ticked with no guest running");
        let running = runtime.ticker().enter();
        thread::sleep(EPOCH_TICK * 10);
        let ticked = ticks(&runtime);
        assert!(ticked >= 3, "{ticked} ticks in 100 ms with a guest running");
        drop(running);
        thread::sleep(EPOCH_TICK * 3);
        let settled = ticks(&runtime);
        thread::sleep(EPOCH_TICK * 10);
        assert_eq!(
            ticks(&runtime),
            settled,
            "kept ticking after the guest returned"
        );
    }
}
