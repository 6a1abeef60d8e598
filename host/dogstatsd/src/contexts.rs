//! Which series a metric belongs to: its context, the name, an aggregation code and the tags in
//! order without repeats, kept as one key `name \0 code {\0 tag}`. Each live context holds a
//! slot number, so that whoever aggregates keeps its values in a plain vector. Beside the
//! parser because, with it, this is what every line costs: it is compiled optimised in every
//! profile, and nothing here is generic over the caller's types.

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;

/// Where a context's values live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// A context seen before.
    Live(usize),
    /// A new context: its slot may have held a forgotten one.
    New(usize),
}

/// A new context past the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// The live contexts of one aggregation window, at most `limit`.
pub struct Contexts {
    slots: HashMap<Box<str>, usize, FxBuildHasher>,
    free: Vec<usize>,
    next: usize,
    limit: usize,
    key: String,
    /// The last line's context as written and its slot: a run of lines of one series (a busy
    /// metric, as a client packs it into a datagram) skips building and hashing its key.
    last: Option<Written>,
}

/// A context as a line writes it: name, aggregation code, and the tags field unparsed.
struct Written {
    name: String,
    code: u8,
    tags: String,
    slot: usize,
}

impl Contexts {
    /// No contexts, at most `limit` live at once.
    pub fn new(limit: usize) -> Self {
        Self {
            slots: HashMap::default(),
            free: Vec::new(),
            next: 0,
            limit,
            key: String::new(),
            last: None,
        }
    }

    /// Live contexts.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The slot of context `name`, `code`, `tags` (in any order; repeats count once).
    pub fn slot(
        &mut self,
        name: &str,
        code: u8,
        tags: &mut dyn Iterator<Item = &str>,
    ) -> Result<Slot, Full> {
        self.key.clear();
        self.key.push_str(name);
        self.key.push('\0');
        self.key.push(char::from(code));
        // Tags already in order (most clients keep them so) go straight into the key; others
        // are sorted first.
        let head = self.key.len();
        let mut previous: Option<&str> = None;
        let mut unordered = None;
        for tag in &mut *tags {
            if previous.is_some_and(|p| p >= tag) {
                unordered = Some(tag);
                break;
            }
            self.key.push('\0');
            self.key.push_str(tag);
            previous = Some(tag);
        }
        if let Some(first) = unordered {
            let taken = self.key.split_off(head);
            let mut all: Vec<&str> = taken.split('\0').skip(1).collect();
            all.push(first);
            for tag in tags {
                all.push(tag);
            }
            all.sort_unstable();
            all.dedup();
            for tag in all {
                self.key.push('\0');
                self.key.push_str(tag);
            }
        }
        if let Some(slot) = self.slots.get(self.key.as_str()) {
            return Ok(Slot::Live(*slot));
        }
        if self.slots.len() >= self.limit {
            return Err(Full);
        }
        let slot = self.free.pop().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        });
        self.slots.insert(self.key.as_str().into(), slot);
        Ok(Slot::New(slot))
    }

    /// The slot of a line's context: `name`, `code`, and its tags field as written, parsed by
    /// `tags` (see [`Self::slot`]); the line before's slot when it wrote the same.
    pub fn slot_of_line(
        &mut self,
        name: &str,
        code: u8,
        written: &str,
        tags: &mut dyn Iterator<Item = &str>,
    ) -> Result<Slot, Full> {
        if let Some(last) = &self.last
            && last.code == code
            && last.name == name
            && last.tags == written
        {
            return Ok(Slot::Live(last.slot));
        }
        let found = self.slot(name, code, tags)?;
        let (Slot::Live(slot) | Slot::New(slot)) = found;
        let last = self.last.get_or_insert_with(|| Written {
            name: String::new(),
            code,
            tags: String::new(),
            slot,
        });
        last.name.clear();
        last.name.push_str(name);
        last.tags.clear();
        last.tags.push_str(written);
        (last.code, last.slot) = (code, slot);
        Ok(found)
    }

    /// Keeps the contexts `keep` says (given each key's name, tags and slot), freeing the
    /// slots of the others.
    pub fn retain(
        &mut self,
        keep: &mut dyn FnMut(&str, &mut dyn Iterator<Item = &str>, usize) -> bool,
    ) {
        self.last = None;
        let free = &mut self.free;
        self.slots.retain(|key, slot| {
            let mut parts = key.split('\0');
            let name = parts.next().unwrap_or_default();
            parts.next();
            let kept = keep(name, &mut parts, *slot);
            if !kept {
                free.push(*slot);
            }
            kept
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(c: &mut Contexts, name: &str, tags: &[&str]) -> Result<Slot, Full> {
        c.slot(name, b'c', &mut tags.iter().copied())
    }

    #[test]
    fn tag_order_and_repeats_name_one_context() {
        let mut c = Contexts::new(10);
        assert_eq!(slot(&mut c, "hits", &["a:1", "b:2"]), Ok(Slot::New(0)));
        assert_eq!(
            slot(&mut c, "hits", &["b:2", "a:1", "a:1"]),
            Ok(Slot::Live(0))
        );
        assert_eq!(slot(&mut c, "hits", &["a:1"]), Ok(Slot::New(1)));
        assert_eq!(
            c.slot("hits", b'g', &mut ["a:1"].into_iter()),
            Ok(Slot::New(2))
        );
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn a_run_of_lines_of_one_context_keeps_its_slot_until_contexts_are_dropped() {
        let mut c = Contexts::new(10);
        let line = |c: &mut Contexts, name: &str, code: u8, written: &str| {
            c.slot_of_line(
                name,
                code,
                written,
                &mut written.split(',').filter(|t| !t.is_empty()),
            )
        };
        assert_eq!(line(&mut c, "hits", b'c', "b:2,a:1"), Ok(Slot::New(0)));
        assert_eq!(line(&mut c, "hits", b'c', "b:2,a:1"), Ok(Slot::Live(0)));
        // Written otherwise, the same context; another name, code or tag, another.
        assert_eq!(line(&mut c, "hits", b'c', "a:1,b:2"), Ok(Slot::Live(0)));
        assert_eq!(line(&mut c, "hits", b'g', "a:1,b:2"), Ok(Slot::New(1)));
        assert_eq!(line(&mut c, "hit", b'g', "a:1,b:2"), Ok(Slot::New(2)));
        assert_eq!(line(&mut c, "hit", b'g', "a:1,b:3"), Ok(Slot::New(3)));
        // Once the contexts are dropped, the line before's slot is forgotten with them.
        c.retain(&mut |_, _, _| false);
        assert_eq!(line(&mut c, "hit", b'g', "a:1,b:3"), Ok(Slot::New(3)));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn the_limit_holds_and_freed_slots_are_reused() {
        let mut c = Contexts::new(2);
        slot(&mut c, "a", &[]).unwrap();
        slot(&mut c, "b", &["z", "y"]).unwrap();
        assert_eq!(slot(&mut c, "c", &[]), Err(Full));
        assert_eq!(
            slot(&mut c, "a", &[]),
            Ok(Slot::Live(0)),
            "a live one goes on"
        );
        let mut seen = Vec::new();
        c.retain(&mut |name, tags, slot| {
            seen.push((name.to_string(), tags.collect::<Vec<_>>().join(","), slot));
            name == "b"
        });
        seen.sort();
        assert_eq!(
            seen,
            [
                ("a".into(), String::new(), 0),
                ("b".into(), "y,z".into(), 1)
            ]
        );
        assert_eq!(slot(&mut c, "c", &[]), Ok(Slot::New(0)), "a freed slot");
        assert_eq!(slot(&mut c, "d", &[]), Err(Full));
    }
}
