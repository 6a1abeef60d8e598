//! `wasmon:check@0.1.0`'s `exec`, frozen: served by the newest implementation.

use crate::runtime::HostState;
use crate::runtime::bindings::newest as new;
use crate::runtime::bindings::v0_1::wasmon::check as old;

impl old::exec::Host for HostState {
    async fn run(&mut self) -> Result<old::exec::Outcome, String> {
        let o = new::exec::Host::run(self).await?;
        Ok(old::exec::Outcome {
            exit_code: o.exit_code,
            stdout: o.stdout,
            stderr: o.stderr,
            stdout_truncated: o.stdout_truncated,
            stderr_truncated: o.stderr_truncated,
            timed_out: o.timed_out,
            duration_us: o.duration_us,
        })
    }
}
