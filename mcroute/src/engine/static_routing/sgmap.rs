//! A hash map keyed by (S,G) that stores IPv4 keys in 8 bytes.
//!
//! An `(IpAddr, IpAddr)` key is 34 bytes; with 100,000 IPv4 routes most of a table keyed
//! by it would be key. [`SgMap`] keeps one table per family: IPv4 keys as one `u64`, IPv6
//! keys as two addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::FastMap;

/// (S,G).
pub(super) type SgKey = (IpAddr, IpAddr);

enum Split {
    V4(u64),
    V6((Ipv6Addr, Ipv6Addr)),
}

fn split(k: &SgKey) -> Split {
    match k {
        (IpAddr::V4(s), IpAddr::V4(g)) => {
            Split::V4(u64::from(u32::from(*s)) << 32 | u64::from(u32::from(*g)))
        }
        (s, g) => Split::V6((v6(*s), v6(*g))),
    }
}

fn v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

fn join4(k: u64) -> SgKey {
    (
        IpAddr::V4(Ipv4Addr::from((k >> 32) as u32)),
        IpAddr::V4(Ipv4Addr::from(k as u32)),
    )
}

/// Values by (S,G); see the module documentation.
#[derive(Debug, Clone)]
pub(super) struct SgMap<V> {
    v4: FastMap<u64, V>,
    v6: FastMap<(Ipv6Addr, Ipv6Addr), V>,
}

impl<V> Default for SgMap<V> {
    fn default() -> Self {
        SgMap {
            v4: FastMap::default(),
            v6: FastMap::default(),
        }
    }
}

impl<V> SgMap<V> {
    pub(super) fn get(&self, k: &SgKey) -> Option<&V> {
        match split(k) {
            Split::V4(k) => self.v4.get(&k),
            Split::V6(k) => self.v6.get(&k),
        }
    }

    pub(super) fn get_mut(&mut self, k: &SgKey) -> Option<&mut V> {
        match split(k) {
            Split::V4(k) => self.v4.get_mut(&k),
            Split::V6(k) => self.v6.get_mut(&k),
        }
    }

    pub(super) fn contains_key(&self, k: &SgKey) -> bool {
        self.get(k).is_some()
    }

    pub(super) fn insert(&mut self, k: SgKey, v: V) -> Option<V> {
        match split(&k) {
            Split::V4(k) => self.v4.insert(k, v),
            Split::V6(k) => self.v6.insert(k, v),
        }
    }

    pub(super) fn remove(&mut self, k: &SgKey) -> Option<V> {
        match split(k) {
            Split::V4(k) => self.v4.remove(&k),
            Split::V6(k) => self.v6.remove(&k),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn clear(&mut self) {
        self.v4.clear();
        self.v6.clear();
    }

    /// Makes room for `n` more IPv4 keys (the common case of a large configuration).
    pub(super) fn reserve(&mut self, n: usize) {
        self.v4.reserve(n);
    }

    /// Every entry, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (SgKey, &V)> + '_ {
        self.v4.iter().map(|(k, v)| (join4(*k), v)).chain(
            self.v6
                .iter()
                .map(|((s, g), v)| ((IpAddr::V6(*s), IpAddr::V6(*g)), v)),
        )
    }

    /// Every key, in no particular order.
    pub(super) fn keys(&self) -> impl Iterator<Item = SgKey> + '_ {
        self.iter().map(|(k, _)| k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_families_round_trip() {
        let mut m = SgMap::default();
        let k4: SgKey = ("192.0.2.1".parse().unwrap(), "225.1.2.3".parse().unwrap());
        let k6: SgKey = ("2001:db8::1".parse().unwrap(), "ff0e::1".parse().unwrap());
        assert_eq!(m.insert(k4, 1), None);
        assert_eq!(m.insert(k6, 2), None);
        assert_eq!(m.insert(k4, 3), Some(1));
        assert_eq!(m.get(&k4), Some(&3));
        *m.get_mut(&k6).unwrap() += 1;
        assert_eq!(m.get(&k6), Some(&3));
        let mut keys: Vec<SgKey> = m.keys().collect();
        keys.sort();
        assert_eq!(keys, vec![k4, k6]);
        assert_eq!(m.len(), 2);
        assert_eq!(m.remove(&k4), Some(3));
        assert!(!m.contains_key(&k4) && m.contains_key(&k6));
        m.clear();
        assert!(m.is_empty());
    }
}
