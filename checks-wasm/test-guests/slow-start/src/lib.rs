//! A module whose `describe` never returns: the host must give up on it at its start timeout
//! without holding up any other module.

use wasmon_sdk::{Check, CheckError, Descriptor, NoConfig, Output};

/// The slow-start test check.
pub struct SlowStart;

impl Check for SlowStart {
    type InitConfig = NoConfig;
    type Instance = NoConfig;

    fn describe() -> Descriptor {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }

    fn init(_: NoConfig, _: NoConfig) -> Result<Self, CheckError> {
        Ok(Self)
    }

    fn run(&mut self, _: &mut Output) -> Result<(), CheckError> {
        Ok(())
    }
}

wasmon_sdk::export_check!(SlowStart);
