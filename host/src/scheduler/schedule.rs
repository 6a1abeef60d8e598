//! When an instance runs: every `interval` from a phase. Aligned schedules have phase 0, so
//! runs and their timestamps fall on multiples of the interval; others start at a random
//! phase to spread the load.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Run times of one instance, in Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    interval_ms: i64,
    phase_ms: i64,
}

impl Schedule {
    /// Runs at multiples of `interval` since the Unix epoch.
    pub fn aligned(interval: Duration) -> Self {
        Self {
            interval_ms: millis(interval).max(1),
            phase_ms: 0,
        }
    }

    /// Runs every `interval`, the first one `offset` after `now_ms`.
    pub fn starting(interval: Duration, now_ms: i64, offset: Duration) -> Self {
        let interval_ms = millis(interval).max(1);
        Self {
            interval_ms,
            phase_ms: (now_ms + millis(offset)).rem_euclid(interval_ms),
        }
    }

    /// Runs every `interval`, the first at a random point within one interval from `now_ms`.
    pub fn jittered(interval: Duration, now_ms: i64) -> Self {
        let offset = rand::random_range(0..millis(interval).max(1));
        Self::starting(interval, now_ms, Duration::from_millis(offset as u64))
    }

    /// The interval.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms as u64)
    }

    /// The first run time strictly after `after_ms`.
    pub fn next_after(&self, after_ms: i64) -> i64 {
        let k = (after_ms - self.phase_ms).div_euclid(self.interval_ms) + 1;
        self.phase_ms + k * self.interval_ms
    }

    /// Run times strictly between two runs: runs that were skipped.
    pub fn missed_between(&self, previous_ms: i64, next_ms: i64) -> u64 {
        ((next_ms - previous_ms) / self.interval_ms - 1).max(0) as u64
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S15: Duration = Duration::from_secs(15);

    #[test]
    fn aligned_runs_fall_on_multiples_of_the_interval() {
        let s = Schedule::aligned(S15);
        assert_eq!(s.next_after(1_700_000_007_123), 1_700_000_010_000);
        assert_eq!(s.next_after(1_700_000_010_000), 1_700_000_025_000);
        assert_eq!(s.next_after(1_700_000_009_999), 1_700_000_010_000);
        for t in [0, 1, 14_999, 123_456_789] {
            assert_eq!(s.next_after(t) % 15_000, 0);
        }
    }

    #[test]
    fn started_schedule_runs_first_at_the_offset() {
        let now = 1_000_123;
        let s = Schedule::starting(S15, now, Duration::ZERO);
        assert_eq!(s.next_after(now - 1), now);
        assert_eq!(s.next_after(now), now + 15_000);
        let s = Schedule::starting(S15, now, Duration::from_millis(500));
        assert_eq!(s.next_after(now - 1), now + 500);
    }

    #[test]
    fn jitter_stays_within_one_interval() {
        for _ in 0..100 {
            let now = 5_000_000;
            let first = Schedule::jittered(S15, now).next_after(now - 1);
            assert!((now..now + 15_000).contains(&first), "{first}");
        }
    }

    #[test]
    fn missed_runs_are_counted() {
        let s = Schedule::aligned(S15);
        assert_eq!(s.missed_between(15_000, 30_000), 0);
        assert_eq!(s.missed_between(15_000, 60_000), 2);
    }
}
