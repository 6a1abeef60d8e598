//! Which live member runs which cluster instance: rendezvous (highest-random-weight) hashing
//! of the instance's identity over the members' names. Every agent that sees the same members
//! computes the same owner, and a member joining or leaving moves only its own share.

use sha2::{Digest, Sha256};

/// The members this agent knows, itself among them once it has joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    me: String,
    /// Sorted and unique, each with its name's hash.
    members: Vec<(String, u64)>,
}

impl Assignment {
    /// `me` in a group of `members` (sorted and made unique here).
    pub fn new(me: &str, members: impl IntoIterator<Item = String>) -> Self {
        let mut names: Vec<String> = members.into_iter().collect();
        names.sort();
        names.dedup();
        Self {
            me: me.to_string(),
            members: names
                .into_iter()
                .map(|name| {
                    let hash = hash64(&name);
                    (name, hash)
                })
                .collect(),
        }
    }

    /// Before the first look at the group: no member known, nothing owned.
    pub fn unknown(me: &str) -> Self {
        Self::new(me, [])
    }

    /// The members' names, sorted.
    pub fn members(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|(name, _)| name.as_str())
    }

    /// The member that runs the instance with this identity, if any member is known.
    pub fn owner(&self, identity: &str) -> Option<&str> {
        let instance = hash64(identity);
        self.members
            .iter()
            .max_by_key(|(name, member)| (weight(*member, instance), name))
            .map(|(name, _)| name.as_str())
    }

    /// Whether this agent runs the instance with this identity.
    pub fn owns(&self, identity: &str) -> bool {
        self.owner(identity) == Some(self.me.as_str())
    }
}

/// The first 8 bytes of the sha256 of `text`: the same on every agent and every build.
pub fn hash64(text: &str) -> u64 {
    let digest = Sha256::digest(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// A member's weight for an instance: splitmix64's finaliser over both hashes, so that no
/// member's weights follow another's.
fn weight(member: u64, instance: u64) -> u64 {
    let mut z = member ^ instance.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("agent-{i}")).collect()
    }

    fn identities(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("mysql/{i:x}")).collect()
    }

    #[test]
    fn every_agent_agrees_on_one_owner() {
        let members = group(3);
        let views: Vec<Assignment> = members
            .iter()
            .map(|me| Assignment::new(me, members.iter().rev().cloned()))
            .collect();
        for id in identities(100) {
            let owners = views.iter().filter(|v| v.owns(&id)).count();
            assert_eq!(owners, 1, "{id}");
        }
        assert!(!Assignment::unknown("agent-0").owns("mysql/0"));
        assert_eq!(Assignment::unknown("agent-0").owner("mysql/0"), None);
    }

    #[test]
    fn the_spread_is_even() {
        let members = group(4);
        let assignment = Assignment::new("agent-0", members.clone());
        let ids = identities(10_000);
        for member in &members {
            let share = ids
                .iter()
                .filter(|id| assignment.owner(id) == Some(member.as_str()))
                .count();
            assert!((2_200..2_800).contains(&share), "{member}: {share}");
        }
    }

    /// One of 1,000 members leaves: only its own instances move, about a thousandth.
    /// (`cargo bench --bench cluster` measures the same with 100,000 instances.)
    #[test]
    fn a_member_leaving_moves_only_its_share() {
        let members = group(1_000);
        let before = Assignment::new("agent-0", members.clone());
        let after = Assignment::new("agent-0", members[1..].iter().cloned());
        let ids = identities(10_000);
        let mut moved = 0;
        for id in &ids {
            let (was, is) = (before.owner(id), after.owner(id));
            if was != is {
                assert_eq!(was, Some("agent-0"), "{id} moved from a member that stayed");
                moved += 1;
            }
        }
        let theirs = ids
            .iter()
            .filter(|id| before.owner(id) == Some("agent-0"))
            .count();
        assert_eq!(moved, theirs);
        assert!(moved < 40, "{moved} of 10,000 moved");
    }

    #[test]
    fn a_member_joining_takes_only_from_the_others() {
        let members = group(3);
        let before = Assignment::new("agent-0", members.clone());
        let after = Assignment::new("agent-0", group(4));
        let ids = identities(4_000);
        let mut taken = 0;
        for id in &ids {
            if before.owner(id) != after.owner(id) {
                assert_eq!(after.owner(id), Some("agent-3"));
                taken += 1;
            }
        }
        assert!((800..1_200).contains(&taken), "the newcomer took {taken}");
    }
}
