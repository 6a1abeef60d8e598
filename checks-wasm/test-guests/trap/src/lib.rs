//! Panics on every run (or, with `alternate`, on runs in even seconds): the host must contain
//! it and rebuild the instance, which then runs again.

use serde::Deserialize;
use wasmon_sdk::{Check, CheckError, Descriptor, NoConfig, Output};

/// The instance config.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Instance {
    /// Panic only on runs scheduled in an even second, succeed on the others.
    pub alternate: bool,
}

/// The trap test check.
pub struct Trap {
    alternate: bool,
}

impl Check for Trap {
    type InitConfig = NoConfig;
    type Instance = Instance;

    fn describe() -> Descriptor {
        Descriptor::new("trap", "1.0.0", 1, "panics")
    }

    fn init(_: NoConfig, config: Instance) -> Result<Self, CheckError> {
        Ok(Self {
            alternate: config.alternate,
        })
    }

    fn run(&mut self, out: &mut Output) -> Result<(), CheckError> {
        out.gauge("test.trap.before_panic", 1.0, &[]);
        let even = (out.timestamp_ms() / 1000) % 2 == 0;
        if self.alternate && !even {
            return Ok(());
        }
        panic!("boom: the trap check always panics");
    }
}

wasmon_sdk::export_check!(Trap);
