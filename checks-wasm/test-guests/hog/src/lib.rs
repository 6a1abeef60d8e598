//! Allocates without end: the host must stop it at its memory limit.

use wasmon_sdk::{Check, CheckError, Descriptor, NoConfig, Output};

/// The memory hog test check.
pub struct Hog {
    kept: Vec<Vec<u8>>,
}

impl Check for Hog {
    type InitConfig = NoConfig;
    type Instance = NoConfig;

    fn describe() -> Descriptor {
        Descriptor::new("hog", "1.0.0", 1, "allocates without end")
    }

    fn init(_: NoConfig, _: NoConfig) -> Result<Self, CheckError> {
        Ok(Self { kept: Vec::new() })
    }

    fn run(&mut self, _: &mut Output) -> Result<(), CheckError> {
        loop {
            self.kept.push(vec![1u8; 1 << 20]);
        }
    }
}

wasmon_sdk::export_check!(Hog);
