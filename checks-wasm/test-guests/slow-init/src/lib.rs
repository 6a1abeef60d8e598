//! A module whose `init` takes as long as its instance says (`init_ms`): a prepare that is
//! still in flight when the agent's next pass comes.

use std::time::{Duration, Instant};

use wasmon_sdk::{Check, CheckError, Descriptor, NoConfig, Output};

/// The instance's keys.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// How long `init` works before it returns.
    #[serde(default)]
    init_ms: u64,
}

/// The slow-init test check.
pub struct SlowInit;

impl Check for SlowInit {
    type InitConfig = NoConfig;
    type Instance = Instance;

    fn describe() -> Descriptor {
        Descriptor::new("slow_init", "1.0.0", 1, "takes init_ms to start")
    }

    fn init(_: NoConfig, instance: Instance) -> Result<Self, CheckError> {
        let until = Instant::now() + Duration::from_millis(instance.init_ms);
        let mut n: u64 = 0;
        while Instant::now() < until {
            n = std::hint::black_box(n.wrapping_add(1));
        }
        Ok(Self)
    }

    fn run(&mut self, out: &mut Output) -> Result<(), CheckError> {
        out.gauge("test.slow_init.ran", 1.0, &[]);
        Ok(())
    }
}

wasmon_sdk::export_check!(SlowInit);
