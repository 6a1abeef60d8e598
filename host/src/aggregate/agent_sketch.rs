//! Distributions as the Datadog agent keeps them: a DDSketch whose bins are keyed by the
//! agent's own mapping (relative accuracy 1/128, values below 1e-9 in bin 0, keys rounded half
//! to even, at most 4096 bins, the lowest merged first). Datadog's sketches intake reads the
//! bins by that mapping, so a distribution goes to it bin for bin; no published crate keys bins
//! this way (`sketches-ddsketch` ports sketches-go, whose keys and bins do not line up with the
//! agent's, and keeps them private), which is why this store is the agent's and small.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The agent's ε: half the relative width of a bin.
const EPS: f64 = 1.0 / 128.0;
/// Smallest value with a bin of its own.
const MIN_VALUE: f64 = 1.0e-9;
/// Bins a sketch keeps at most.
const BIN_LIMIT: usize = 4096;
/// The largest key (the agent's `+Inf` bin).
const MAX_KEY: i32 = i16::MAX as i32;

fn gamma() -> f64 {
    1.0 + 2.0 * EPS
}

fn gamma_ln() -> f64 {
    (2.0 * EPS).ln_1p()
}

fn norm_bias() -> i32 {
    -((MIN_VALUE.ln() / gamma_ln()).floor() as i32) + 1
}

fn norm_min() -> f64 {
    gamma().powi(1 - norm_bias())
}

/// The agent's key of `v`.
pub fn key(v: f64) -> i32 {
    if v < 0.0 {
        return -key(-v);
    }
    if v < norm_min() {
        return 0;
    }
    let rounded = (v.ln() / gamma_ln()).round_ties_even() as i32;
    rounded.saturating_add(norm_bias()).clamp(1, MAX_KEY)
}

/// The smallest value of bin `k`.
pub fn lower_bound(k: i32) -> f64 {
    if k < 0 {
        return -lower_bound(-k);
    }
    if k == 0 {
        return 0.0;
    }
    if k >= MAX_KEY {
        return f64::INFINITY;
    }
    gamma().powi(k - norm_bias())
}

/// One distribution's values in a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentSketch {
    bins: BTreeMap<i32, u64>,
    count: u64,
    min: f64,
    max: f64,
    sum: f64,
}

impl AgentSketch {
    /// Adds `v`, `n` times.
    pub fn insert(&mut self, v: f64, n: u64) {
        if n == 0 || !v.is_finite() {
            return;
        }
        if self.count == 0 {
            (self.min, self.max) = (v, v);
        }
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.count += n;
        self.sum += v * n as f64;
        *self.bins.entry(key(v)).or_default() += n;
        while self.bins.len() > BIN_LIMIT {
            let Some((_, lowest)) = self.bins.pop_first() else {
                break;
            };
            if let Some(mut next) = self.bins.first_entry() {
                *next.get_mut() += lowest;
            }
        }
    }

    /// How many values.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The smallest, largest, sum and mean; `None` when empty.
    pub fn summary(&self) -> Option<(f64, f64, f64, f64)> {
        (self.count > 0).then(|| (self.min, self.max, self.sum, self.sum / self.count as f64))
    }

    /// The value at quantile `q` (0 to 1), within the bins' accuracy and the exact bounds.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        if q <= 0.0 {
            return Some(self.min);
        }
        if q >= 1.0 {
            return Some(self.max);
        }
        let rank = q * (self.count - 1) as f64;
        let mut seen = 0u64;
        for (k, n) in &self.bins {
            seen += n;
            if seen as f64 > rank {
                let low = lower_bound(*k);
                let mid = if *k == 0 {
                    0.0
                } else {
                    low * 2.0 * gamma() / (1.0 + gamma())
                };
                return Some(mid.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// The bins as Datadog's `Dogsketch` has them: keys and their counts.
    pub fn bins(&self) -> (Vec<i32>, Vec<u32>) {
        self.bins
            .iter()
            .map(|(k, n)| (*k, u32::try_from(*n).unwrap_or(u32::MAX)))
            .unzip()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_agent_mapping() {
        assert_eq!(norm_bias(), 1338, "the agent's bias for 1e-9 at ε 1/128");
        assert_eq!(key(0.0), 0);
        assert_eq!(key(1e-12), 0);
        assert_eq!(key(1.0), norm_bias());
        assert_eq!(key(-1.0), -norm_bias());
        assert_eq!(key(f64::MAX), MAX_KEY);
        for v in [1e-6, 0.5, 1.0, 3.0, 1234.5, 1e9] {
            let k = key(v);
            let (low, high) = (lower_bound(k), lower_bound(k + 1));
            let relative = (v - (low + high) / 2.0).abs() / v;
            assert!(relative <= 1.0 / 64.0, "{v} in bin {k} [{low}, {high})");
        }
    }

    #[test]
    fn quantiles_within_the_accuracy_and_exact_summaries() {
        let mut s = AgentSketch::default();
        for v in 1..=100 {
            s.insert(f64::from(v), 1);
        }
        assert_eq!(s.summary(), Some((1.0, 100.0, 5050.0, 50.5)));
        for (q, want) in [(0.5, 50.0), (0.95, 95.0), (0.99, 99.0)] {
            let got = s.quantile(q).unwrap();
            assert!((got - want).abs() / want < 0.02, "p{q}: {got}");
        }
        assert_eq!(s.quantile(1.0), Some(100.0));
        let (k, n) = s.bins();
        assert_eq!(n.iter().map(|n| u64::from(*n)).sum::<u64>(), 100);
        assert!(k.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn bins_are_bounded() {
        let mut s = AgentSketch::default();
        let mut v = 1e-8;
        while v < 1e30 {
            s.insert(v, 1);
            v *= 1.01;
        }
        assert!(s.bins().0.len() <= BIN_LIMIT);
        assert_eq!(
            s.bins().1.iter().map(|n| u64::from(*n)).sum::<u64>(),
            s.count(),
            "merged bins keep their counts"
        );
    }
}
