//! Panics on every run: the host must contain it and rebuild the instance.

use wasmon_sdk::{Check, CheckError, Descriptor, NoConfig, Output};

/// The trap test check.
pub struct Trap;

impl Check for Trap {
    type InitConfig = NoConfig;
    type Instance = NoConfig;

    fn describe() -> Descriptor {
        Descriptor::new("trap", "1.0.0", 1, "panics")
    }

    fn init(_: NoConfig, _: NoConfig) -> Result<Self, CheckError> {
        Ok(Self)
    }

    fn run(&mut self, out: &mut Output) -> Result<(), CheckError> {
        out.gauge("test.trap.before_panic", 1.0, &[]);
        panic!("boom: the trap check always panics");
    }
}

wasmon_sdk::export_check!(Trap);
