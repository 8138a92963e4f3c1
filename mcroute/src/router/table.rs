//! The Router's own table of the routes it installed, compact.
//!
//! An [`MfcEntry`] is about a hundred bytes (two addresses and a TTL for each of 64
//! interfaces); a table of 100,000 of them, keyed by a 34-byte (S,G), was the largest thing
//! a daemon kept. Here an entry is 8 bytes: the inbound slot and the number of its outbound
//! set, the sets being stored once each with a reference count (a large configuration has a
//! handful of distinct ones); IPv4 keys are one `u64`. Entries are rebuilt when asked for.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::{Family, FastMap, MfcEntry, OifSet, VifIndex};

/// A stored route: the inbound slot and the number of its outbound set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    iif: u16,
    oifs: u32,
}

/// The outbound sets in use, each once, with the number of routes that use it.
#[derive(Debug, Default)]
struct OifSets {
    sets: Vec<(OifSet, u32)>,
    ids: FastMap<OifSet, u32>,
    free: Vec<u32>,
}

impl OifSets {
    /// The number of `set`, counted once more.
    fn take(&mut self, set: &OifSet) -> u32 {
        if let Some(&id) = self.ids.get(set) {
            self.sets[id as usize].1 += 1;
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.sets[id as usize] = (*set, 1);
                id
            }
            None => {
                self.sets.push((*set, 1));
                (self.sets.len() - 1) as u32
            }
        };
        self.ids.insert(*set, id);
        id
    }

    /// Set `id` is used once less.
    fn release(&mut self, id: u32) {
        let Some((set, n)) = self.sets.get_mut(id as usize) else {
            return;
        };
        *n -= 1;
        if *n == 0 {
            self.ids.remove(set);
            self.free.push(id);
        }
    }

    fn get(&self, id: u32) -> OifSet {
        self.sets.get(id as usize).map(|s| s.0).unwrap_or_default()
    }
}

enum Key {
    V4(u64),
    V6((Ipv6Addr, Ipv6Addr)),
}

fn key(source: IpAddr, group: IpAddr) -> Key {
    match (source, group) {
        (IpAddr::V4(s), IpAddr::V4(g)) => {
            Key::V4(u64::from(u32::from(s)) << 32 | u64::from(u32::from(g)))
        }
        (s, g) => Key::V6((v6(s), v6(g))),
    }
}

fn v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// How a table holds the (S,G) of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Held {
    /// Not at all.
    No,
    /// With this very route.
    Same,
    /// With another route.
    Other,
}

/// Routes by (S,G); see the module documentation.
#[derive(Debug, Default)]
pub(super) struct RouteTable {
    v4: FastMap<u64, Slot>,
    v6: FastMap<(Ipv6Addr, Ipv6Addr), Slot>,
    sets: OifSets,
}

impl RouteTable {
    fn slot(&self, source: IpAddr, group: IpAddr) -> Option<Slot> {
        match key(source, group) {
            Key::V4(k) => self.v4.get(&k).copied(),
            Key::V6(k) => self.v6.get(&k).copied(),
        }
    }

    fn entry(&self, source: IpAddr, group: IpAddr, slot: Slot) -> MfcEntry {
        let family = Family::of(&group);
        let mut e = MfcEntry::new(source, group, VifIndex::new(family, slot.iif))
            .expect("a stored route was valid when it was added");
        e.set_oifs(self.sets.get(slot.oifs));
        e
    }

    /// The route of (S,G).
    pub(super) fn get(&self, source: IpAddr, group: IpAddr) -> Option<MfcEntry> {
        let slot = self.slot(source, group)?;
        Some(self.entry(source, group, slot))
    }

    /// Whether the table holds exactly `e`.
    pub(super) fn holds(&self, e: &MfcEntry) -> bool {
        self.held(e) == Held::Same
    }

    /// How the table holds the (S,G) of `e`, in one probe.
    pub(super) fn held(&self, e: &MfcEntry) -> Held {
        match self.slot(e.source(), e.group()) {
            None => Held::No,
            Some(s) if s.iif == e.iif().index() && self.sets.ids.get(e.oifs()) == Some(&s.oifs) => {
                Held::Same
            }
            Some(_) => Held::Other,
        }
    }

    /// Stores `e`, replacing the route of its (S,G); returns whether there was one.
    pub(super) fn insert(&mut self, e: &MfcEntry) -> bool {
        let new = Slot {
            iif: e.iif().index(),
            oifs: self.sets.take(e.oifs()),
        };
        let old = match key(e.source(), e.group()) {
            Key::V4(k) => self.v4.insert(k, new),
            Key::V6(k) => self.v6.insert(k, new),
        };
        if let Some(old) = old {
            self.sets.release(old.oifs);
        }
        old.is_some()
    }

    /// Takes the route of (S,G) out.
    pub(super) fn remove(&mut self, source: IpAddr, group: IpAddr) -> Option<MfcEntry> {
        let slot = match key(source, group) {
            Key::V4(k) => self.v4.remove(&k),
            Key::V6(k) => self.v6.remove(&k),
        }?;
        let e = self.entry(source, group, slot);
        self.sets.release(slot.oifs);
        Some(e)
    }

    /// Every route, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = MfcEntry> + '_ {
        let v4 = self.v4.iter().map(|(k, s)| {
            let source = IpAddr::V4(Ipv4Addr::from((k >> 32) as u32));
            let group = IpAddr::V4(Ipv4Addr::from(*k as u32));
            self.entry(source, group, *s)
        });
        let v6 = self
            .v6
            .iter()
            .map(|((s, g), slot)| self.entry(IpAddr::V6(*s), IpAddr::V6(*g), *slot));
        v4.chain(v6)
    }

    pub(super) fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Makes room for `n` more routes (IPv4, the common case of a large configuration).
    pub(super) fn reserve(&mut self, n: usize) {
        self.v4.reserve(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MifId, VifId};

    #[test]
    fn entries_round_trip_and_sets_are_shared_and_freed() {
        let mut t = RouteTable::default();
        let a = MfcEntry::v4(
            "192.0.2.1".parse().unwrap(),
            "225.1.1.1".parse().unwrap(),
            VifId(0),
        )
        .unwrap()
        .with_oif(VifId(1), 1)
        .with_oif(VifId(3), 4);
        let b = MfcEntry::v4(
            "192.0.2.2".parse().unwrap(),
            "225.1.1.1".parse().unwrap(),
            VifId(2),
        )
        .unwrap()
        .with_oif(VifId(1), 1)
        .with_oif(VifId(3), 4);
        let c = MfcEntry::v6(
            "2001:db8::1".parse().unwrap(),
            "ff0e::1".parse().unwrap(),
            MifId(1),
        )
        .unwrap();
        assert!(!t.insert(&a));
        assert!(!t.insert(&b));
        assert!(!t.insert(&c));
        assert_eq!(t.sets.ids.len(), 2, "a and b share their set");
        assert_eq!(t.get(a.source(), a.group()), Some(a.clone()));
        assert_eq!(t.get(c.source(), c.group()), Some(c.clone()));
        assert!(t.holds(&b));
        assert_eq!(t.held(&b.clone().with_oif(VifId(9), 1)), Held::Other);
        let b2 = b.clone().with_oif(VifId(5), 1);
        assert!(!t.holds(&b2));
        assert!(t.insert(&b2));
        assert_eq!(t.sets.ids.len(), 3);
        assert_eq!(t.remove(a.source(), a.group()), Some(a.clone()));
        assert_eq!(t.sets.ids.len(), 2, "a's set is freed with its last route");
        let mut all: Vec<MfcEntry> = t.iter().collect();
        all.sort_by_key(|e| e.key());
        assert_eq!(all, vec![b2, c]);
        assert_eq!(t.len(), 2);
        assert!(t.insert(&b));
        assert_eq!(t.sets.free.len(), 1, "a freed number is reused");
    }
}
