//! The one command an instance's config lists (its `command` key).

pub use crate::bindings::wasmon::check::exec::Outcome;

#[cfg(target_family = "wasm")]
use crate::bindings::wasmon::check::exec as host;
#[cfg(not(target_family = "wasm"))]
use fake as host;

/// Runs the instance's command; an error says why it could not be started.
pub fn run() -> Result<Outcome, String> {
    host::run()
}

/// The command a unit test gives its check, on the test's thread.
#[cfg(not(target_family = "wasm"))]
pub mod fake {
    use std::cell::RefCell;

    use super::Outcome;

    thread_local! {
        static ANSWER: RefCell<Option<Result<Outcome, String>>> = const { RefCell::new(None) };
    }

    /// What `run` answers from now on.
    pub fn answer(answer: Result<Outcome, String>) {
        ANSWER.set(Some(answer));
    }

    /// A command that exited with `code`, printing `stdout` and `stderr` in 1 ms.
    pub fn exited(code: i32, stdout: &str, stderr: &str) -> Outcome {
        Outcome {
            exit_code: Some(code),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
            stdout_truncated: false,
            stderr_truncated: false,
            timed_out: false,
            duration_us: 1_000,
        }
    }

    pub(super) fn run() -> Result<Outcome, String> {
        ANSWER
            .with_borrow(Clone::clone)
            .unwrap_or_else(|| Err("the instance's config grants no command (`command:`)".into()))
    }
}
