//! The shared engine and the epoch thread that lets the host stop or pause a running guest.

use std::sync::{Arc, Weak};
use std::thread;
use std::time::Duration;

use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use super::HostState;
use super::bindings::FullCheckPre;
use super::linker::{LinkSet, Linkers};

/// How often the epoch advances: the granularity of time limits and of yields to tokio.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The engine every check shares, with its epoch ticker.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linkers: Arc<Linkers>,
    _ticker: Arc<Ticker>,
}

struct Ticker;

impl Runtime {
    /// A Cranelift engine with epoch interruption, and a thread ticking its epoch.
    pub fn new() -> anyhow::Result<Self> {
        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .wasm_component_model(true)
            // No component-model concurrency: cheaper calls, and checks do not need it.
            .concurrency_support(false)
            .max_wasm_stack(1 << 20);
        let engine = Engine::new(&config)?;
        let ticker = Arc::new(Ticker);
        spawn_ticker(engine.weak(), Arc::downgrade(&ticker))?;
        Ok(Self {
            engine,
            linkers: Arc::default(),
            _ticker: ticker,
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// `component` pre-linked with exactly the capabilities in `link`.
    pub(crate) fn pre(
        &self,
        link: LinkSet,
        component: &Component,
    ) -> anyhow::Result<FullCheckPre<HostState>> {
        self.linkers.pre(&self.engine, link, component)
    }
}

/// Ticks the epoch until the runtime is dropped.
fn spawn_ticker(engine: wasmtime::EngineWeak, alive: Weak<Ticker>) -> anyhow::Result<()> {
    thread::Builder::new()
        .name("wasmon-epoch".into())
        .spawn(move || {
            while alive.strong_count() > 0 {
                thread::sleep(EPOCH_TICK);
                match engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })?;
    Ok(())
}
