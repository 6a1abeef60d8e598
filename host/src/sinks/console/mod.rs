//! The console sink: one line per series or service check on standard output (the dry run).

mod config;
mod encode;

use std::io::Write;
use std::sync::atomic::Ordering::Relaxed;

pub use config::ConsoleConfig;
use encode::{format_series, format_service_check};

use super::sink::{Built, Queue, Sink};

impl Sink for ConsoleConfig {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn destination(&self) -> Option<&str> {
        None
    }

    fn problems(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    fn build(&self) -> Result<Built, String> {
        Ok(Built::Local(Box::new(|queue| tokio::spawn(run(queue)))))
    }
}

/// Prints payloads until the queue closes.
async fn run(mut queue: Queue) {
    while let Some(payload) = queue.recv().await {
        let mut text = String::new();
        let summaries = payload.sketches.iter().flat_map(|s| &s.summary);
        let mut lines = 0;
        for series in payload.series.iter().chain(summaries) {
            text.push_str(&format_series(series));
            text.push('\n');
            lines += 1;
        }
        for check in &payload.service_checks {
            text.push_str(&format_service_check(check));
            text.push('\n');
            lines += 1;
        }
        let mut stdout = std::io::stdout().lock();
        if stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            // Standard output is gone (a closed pipe): nothing left to print to.
            queue.stats().failed.fetch_add(1, Relaxed);
            queue.stats().set_error("standard output is closed".into());
            return;
        }
        queue.stats().sent.fetch_add(lines, Relaxed);
        queue
            .stats()
            .sent_bytes
            .fetch_add(text.len() as u64, Relaxed);
    }
}
