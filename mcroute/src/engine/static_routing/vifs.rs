//! The VIFs (or MIFs) the engine wants in one family, each in a small engine slot.
//!
//! Routes name their interfaces by these slots (an inbound slot and a bitset of outbound
//! slots) instead of by name, so a route is a few bytes and owns no memory. The slots are
//! the engine's own, not the kernel's: the Router allocates the kernel's, by name.
//!
//! A slot freed by a refresh may be given to another interface in the same refresh; the
//! slot is then reported as reused, so that the routes still naming it are reconciled as
//! changed (see [`Diff`]).

use std::collections::BTreeMap;
use std::ops::Bound;

/// The most slots: outbound sets are `u64` bitsets.
pub(super) const MAX_SLOTS: usize = 64;

/// What the engine wants of one VIF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct VifState {
    pub(super) ifindex: u32,
    pub(super) threshold: u8,
    pub(super) mrdisc: bool,
}

#[derive(Debug, Clone)]
struct Slot {
    name: Box<str>,
    state: VifState,
}

/// The VIFs of one family: by name (ordered, for wildcard ranges) and by slot.
#[derive(Debug, Clone, Default)]
pub(super) struct VifTable {
    by_name: BTreeMap<Box<str>, u8>,
    slots: Vec<Option<Slot>>,
}

/// Slot masks of what a refresh changed, for reconciling the routes that use them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Diff {
    /// Slots whose interface was recreated (new index): routes using them are added again.
    pub(super) reset: u64,
    /// Slots whose meaning changed for outbound sets (a new threshold, or a slot freed and
    /// given to another interface): routes sending out of them are replaced.
    pub(super) oifs: u64,
    /// Slots given to another interface: routes coming in on them are replaced.
    pub(super) iif: u64,
}

impl Diff {
    /// Whether a route from `iif` to `oifs` must be written again even if its slots are
    /// the same.
    pub(super) fn touches(&self, iif: u8, oifs: u64) -> bool {
        bit(iif) & (self.reset | self.iif) != 0 || oifs & (self.reset | self.oifs) != 0
    }

    /// Whether the route must be added (its interface was recreated) rather than replaced.
    pub(super) fn resets(&self, iif: u8, oifs: u64) -> bool {
        (bit(iif) | oifs) & self.reset != 0
    }
}

/// The bit of slot `s`.
pub(super) fn bit(s: u8) -> u64 {
    1u64.checked_shl(u32::from(s)).unwrap_or(0)
}

impl VifTable {
    /// The slot and state of interface `name`.
    pub(super) fn get(&self, name: &str) -> Option<(u8, &VifState)> {
        let &s = self.by_name.get(name)?;
        Some((s, &self.slot(s)?.state))
    }

    /// Whether `name` has a VIF.
    pub(super) fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    fn slot(&self, s: u8) -> Option<&Slot> {
        self.slots.get(usize::from(s))?.as_ref()
    }

    /// The interface of slot `s`.
    pub(super) fn name(&self, s: u8) -> &str {
        self.slot(s).map_or("", |v| &v.name)
    }

    /// The threshold of slot `s`.
    pub(super) fn threshold(&self, s: u8) -> u8 {
        self.slot(s).map_or(1, |v| v.state.threshold)
    }

    /// Every VIF, by name: (name, slot, state).
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, u8, &VifState)> + '_ {
        self.by_name
            .iter()
            .filter_map(|(n, &s)| Some((&**n, s, &self.slot(s)?.state)))
    }

    /// The VIFs whose name starts with `prefix`, by name.
    pub(super) fn prefix_range<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, u8)> + 'a {
        self.by_name
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, &s)| (&**k, s))
    }

    /// Makes the table `desired`: names that stay keep their slots (and take the new
    /// state), names that go free theirs, new names take the lowest free slots (those
    /// freed just now included, which the returned reuse mask lists). Names beyond
    /// [`MAX_SLOTS`] are left out.
    pub(super) fn set(&mut self, desired: BTreeMap<String, VifState>) -> u64 {
        let mut freed = 0u64;
        let gone: Vec<Box<str>> = self
            .by_name
            .keys()
            .filter(|n| !desired.contains_key(&***n))
            .cloned()
            .collect();
        for n in gone {
            if let Some(s) = self.by_name.remove(&n) {
                self.slots[usize::from(s)] = None;
                freed |= bit(s);
            }
        }
        let mut reused = 0u64;
        for (name, state) in desired {
            if let Some(&s) = self.by_name.get(name.as_str()) {
                if let Some(Some(slot)) = self.slots.get_mut(usize::from(s)) {
                    slot.state = state;
                }
                continue;
            }
            let free = match self.slots.iter().position(Option::is_none) {
                Some(i) => i,
                None if self.slots.len() < MAX_SLOTS => {
                    self.slots.push(None);
                    self.slots.len() - 1
                }
                None => {
                    log::warn!("no engine slot left for {name}");
                    continue;
                }
            };
            let s = free as u8;
            reused |= bit(s) & freed;
            let name: Box<str> = name.into_boxed_str();
            self.by_name.insert(name.clone(), s);
            self.slots[free] = Some(Slot { name, state });
        }
        reused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(ifindex: u32, threshold: u8) -> VifState {
        VifState {
            ifindex,
            threshold,
            mrdisc: false,
        }
    }

    #[test]
    fn slots_stay_and_freed_ones_are_reported_when_reused() {
        let mut t = VifTable::default();
        let want = |v: &[(&str, u32)]| -> BTreeMap<String, VifState> {
            v.iter().map(|(n, i)| (n.to_string(), st(*i, 1))).collect()
        };
        assert_eq!(t.set(want(&[("a1", 2), ("a2", 3)])), 0);
        assert_eq!(t.get("a1").map(|(s, _)| s), Some(0));
        assert_eq!(t.get("a2").map(|(s, _)| s), Some(1));
        // a1 goes and b1 comes in the same refresh: b1 takes slot 0, reported reused.
        assert_eq!(t.set(want(&[("a2", 3), ("b1", 4)])), bit(0));
        assert_eq!(t.name(0), "b1");
        assert_eq!(t.get("a2").map(|(s, _)| s), Some(1));
        assert_eq!(
            t.prefix_range("a").map(|(n, _)| n).collect::<Vec<_>>(),
            ["a2"]
        );
        assert_eq!(t.iter().count(), 2);
        assert!(!t.contains("a1"));
        assert_eq!(t.set(BTreeMap::new()), 0);
        assert_eq!(t.iter().count(), 0);
    }
}
