//! Loops forever: the host must stop it at its timeout.

use wasmon_sdk::{Check, CheckError, Descriptor, NoConfig, Output};

/// The spin test check.
pub struct Spin;

impl Check for Spin {
    type InitConfig = NoConfig;
    type Instance = NoConfig;

    fn describe() -> Descriptor {
        Descriptor::new("spin", "1.0.0", 1, "never returns")
    }

    fn init(_: NoConfig, _: NoConfig) -> Result<Self, CheckError> {
        Ok(Self)
    }

    fn run(&mut self, _: &mut Output) -> Result<(), CheckError> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

wasmon_sdk::export_check!(Spin);
