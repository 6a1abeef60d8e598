//! Holding back a log line that repeats: the same line is let through once per window, so a
//! failure or a check's warning that recurs every run or batch cannot flood the log.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use tokio::time::Instant;

/// Lines remembered; past this the memory starts afresh.
const REMEMBERED: usize = 1024;

/// Hashes of lines let through lately and when.
#[derive(Debug)]
pub struct Repeats {
    window: Duration,
    seen: HashMap<u64, Instant>,
}

impl Repeats {
    /// Lets each distinct line through once per `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            seen: HashMap::new(),
        }
    }

    /// Whether `line` may be logged now; remembers it if so.
    pub fn admit(&mut self, line: &str) -> bool {
        let mut hasher = std::hash::DefaultHasher::new();
        line.hash(&mut hasher);
        let key = hasher.finish();
        let now = Instant::now();
        let window = self.window;
        let fresh = |at: &Instant| now.duration_since(*at) < window;
        if self.seen.get(&key).is_some_and(fresh) {
            return false;
        }
        if self.seen.len() >= REMEMBERED {
            self.seen.retain(|_, at| fresh(at));
            if self.seen.len() >= REMEMBERED {
                self.seen.clear();
            }
        }
        self.seen.insert(key, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_line_is_let_through_once_per_window() {
        let mut repeats = Repeats::new(Duration::from_secs(60));
        assert!(repeats.admit("a"));
        assert!(!repeats.admit("a"));
        assert!(repeats.admit("b"));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(repeats.admit("a"));
        for i in 0..REMEMBERED * 2 {
            repeats.admit(&i.to_string());
        }
        assert!(repeats.seen.len() <= REMEMBERED);
    }
}
