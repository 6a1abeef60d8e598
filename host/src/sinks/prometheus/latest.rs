//! The latest value of every series, kept as Prometheus names it: a series seen before costs
//! one lookup of its name and tags as sent, and a scrape only writes values. A series not seen
//! for `expire` is dropped, so series that stop (a process gone, a pushed tag never sent again)
//! do not hold memory forever.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use super::encode;
use crate::model::Series;
use crate::sinks::labels::{pairs, prometheus_name};

/// One exposed series' value, and when it was last set.
struct Slot {
    value: f64,
    seen: Instant,
}

/// Every series' latest value, in exposition order.
pub struct Latest {
    /// The series as sent (name, then tags, NUL-separated) → its slot. Two spellings of one
    /// series (tags in another order, say) share the slot.
    by_key: HashMap<Box<str>, usize>,
    /// Family name → rendered labels → slot: the order `/metrics` lists them in.
    families: BTreeMap<Box<str>, BTreeMap<Box<str>, usize>>,
    slots: Vec<Slot>,
    /// Slots of expired series, to reuse.
    free: Vec<usize>,
    /// Series not set for this long are dropped; `None` keeps them.
    expire: Option<Duration>,
    /// The lookup key being built, reused.
    key: String,
}

impl Latest {
    pub fn new(expire: Option<Duration>) -> Self {
        Latest {
            by_key: HashMap::new(),
            families: BTreeMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            expire,
            key: String::new(),
        }
    }

    /// Sets `series`' latest value.
    pub fn set(&mut self, series: &Series, now: Instant) {
        self.key.clear();
        self.key.push_str(&series.name);
        for tag in &series.tags {
            self.key.push('\0');
            self.key.push_str(tag);
        }
        let slot = match self.by_key.get(self.key.as_str()) {
            Some(&slot) => slot,
            None => {
                let slot = self.place(series, now);
                self.by_key.insert(self.key.as_str().into(), slot);
                slot
            }
        };
        self.slots[slot] = Slot {
            value: series.value,
            seen: now,
        };
    }

    /// The slot of a series not looked up before: the one its Prometheus name already has, or
    /// a new one.
    fn place(&mut self, series: &Series, now: Instant) -> usize {
        let labels = encode::labels(&pairs(series, prometheus_name));
        let family = self
            .families
            .entry(prometheus_name(&series.name).into())
            .or_default();
        if let Some(&slot) = family.get(labels.as_str()) {
            return slot;
        }
        let fresh = Slot {
            value: series.value,
            seen: now,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = fresh;
                slot
            }
            None => {
                self.slots.push(fresh);
                self.slots.len() - 1
            }
        };
        family.insert(labels.into(), slot);
        slot
    }

    /// Drops the series not set since `expire` before `now`.
    pub fn expire(&mut self, now: Instant) {
        let Some(expire) = self.expire else {
            return;
        };
        let slots = &self.slots;
        let live = |slot: usize| now.saturating_duration_since(slots[slot].seen) < expire;
        let before = self.by_key.len();
        self.by_key.retain(|_, slot| live(*slot));
        if self.by_key.len() == before {
            return;
        }
        for family in self.families.values_mut() {
            family.retain(|_, slot| {
                let keep = live(*slot);
                if !keep {
                    self.free.push(*slot);
                }
                keep
            });
        }
        self.families.retain(|_, family| !family.is_empty());
    }

    /// The text exposition of every series.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, family) in &self.families {
            encode::family(&mut out, name);
            for (labels, &slot) in family {
                encode::line(&mut out, name, labels, self.slots[slot].value);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SeriesKind;

    fn series(name: &str, tags: &[&str], value: f64) -> Series {
        Series {
            name: name.into(),
            kind: SeriesKind::Gauge,
            value,
            timestamp_ms: 0,
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn the_latest_value_of_each_series_is_listed_by_family() {
        let now = Instant::now();
        let mut latest = Latest::new(None);
        latest.set(&series("system.load.1", &[], 1.0), now);
        latest.set(&series("disk.free", &["mount:/b"], 2.0), now);
        latest.set(&series("disk.free", &["mount:/a"], 3.0), now);
        latest.set(&series("system.load.1", &[], 4.0), now);
        assert_eq!(
            latest.render(),
            "# TYPE disk_free gauge\ndisk_free{mount=\"/a\"} 3.0\ndisk_free{mount=\"/b\"} 2.0\n\
             # TYPE system_load_1 gauge\nsystem_load_1 4.0\n"
        );
    }

    #[test]
    fn two_spellings_of_one_series_are_one_line() {
        let now = Instant::now();
        let mut latest = Latest::new(None);
        latest.set(&series("x", &["a:1", "b:2"], 1.0), now);
        latest.set(&series("x", &["b:2", "a:1"], 2.0), now);
        assert_eq!(latest.render(), "# TYPE x gauge\nx{a=\"1\",b=\"2\"} 2.0\n");
    }

    #[test]
    fn series_not_set_for_the_expiry_are_dropped_and_their_slots_reused() {
        let start = Instant::now();
        let mut latest = Latest::new(Some(Duration::from_secs(60)));
        latest.set(&series("gone", &["pid:1"], 1.0), start);
        latest.set(&series("kept", &[], 1.0), start);
        let later = start + Duration::from_secs(61);
        latest.set(&series("kept", &[], 2.0), later);
        latest.expire(later);
        assert_eq!(latest.render(), "# TYPE kept gauge\nkept 2.0\n");
        latest.set(&series("new", &[], 3.0), later);
        assert_eq!(latest.slots.len(), 2, "the expired slot is reused");
        latest.set(&series("gone", &["pid:1"], 4.0), later);
        assert!(latest.render().contains("gone{pid=\"1\"} 4.0\n"));
        assert_eq!(latest.by_key.len(), 3);
    }

    #[test]
    fn without_an_expiry_series_stay() {
        let start = Instant::now();
        let mut latest = Latest::new(None);
        latest.set(&series("x", &[], 1.0), start);
        latest.expire(start + Duration::from_secs(86_400));
        assert_eq!(latest.render(), "# TYPE x gauge\nx 1.0\n");
    }
}
