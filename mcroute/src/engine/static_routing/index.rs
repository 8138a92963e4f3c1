//! The hashed index of template rules that answers upcalls.
//!
//! A template is filed under (inbound pattern, family, group prefix length, masked group,
//! source prefix length, masked source). A lookup for (iif, S, G) probes, for every distinct
//! (group length, source length) pair present and every inbound pattern that can match the
//! interface name (the exact name, plus each wildcard prefix of the name whose length is in
//! use), one hash bucket. The cost depends on the number of distinct prefix lengths, never on
//! the number of rules. Each bucket keeps its rules' sequence numbers sorted, so the first
//! rule in configuration order wins.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;

use super::config::IfPattern;
use crate::model::{Family, FastMap};

/// The most inbound patterns one interface name can match: the exact name plus one wildcard
/// per prefix length (`""` up to the 15-byte maximum).
const MAX_IDS: usize = super::config::MAX_IFNAME_LEN + 2;

/// "No source" in a key: (*,G) templates.
const NO_SOURCE: u8 = u8::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    iif: u32,
    family: Family,
    glen: u8,
    group: u128,
    slen: u8,
    source: u128,
}

/// The address as an integer (IPv4 in the low 32 bits).
pub(super) fn bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// `bits` with only the first `len` of `max` bits kept.
pub(super) fn mask(bits: u128, len: u8, max: u8) -> u128 {
    if len == 0 {
        return 0;
    }
    let len = len.min(max);
    let host = u32::from(max - len);
    let all: u128 = if max >= 128 {
        u128::MAX
    } else {
        (1u128 << max) - 1
    };
    let netmask = all & !(u128::MAX.checked_shr(128 - host).unwrap_or(0));
    bits & netmask
}

/// Templates hashed by (iif, prefixes); see the module documentation.
#[derive(Debug, Default)]
pub(super) struct TemplateIndex {
    exact: FastMap<String, u32>,
    prefix: FastMap<String, u32>,
    next_id: u32,
    /// Reference counts of the wildcard prefix lengths in use.
    wild_lens: BTreeMap<usize, usize>,
    /// Reference counts of the (group length, source length) pairs in use, per family.
    pairs: [BTreeMap<(u8, u8), usize>; 2],
    buckets: FastMap<Key, BTreeSet<u64>>,
}

impl TemplateIndex {
    fn pattern_id(&mut self, p: &IfPattern) -> u32 {
        let (map, text) = match p {
            IfPattern::Name(n) => (&mut self.exact, n),
            IfPattern::Prefix(n) => (&mut self.prefix, n),
        };
        if let Some(&id) = map.get(text.as_str()) {
            return id;
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        map.insert(text.clone(), id);
        id
    }

    fn key(&mut self, iif: &IfPattern, source: Option<IpNet>, group: IpNet) -> Key {
        let family = Family::of(&group.addr());
        let max = family.max_prefix_len();
        let (slen, sbits) = match source {
            Some(s) => (s.prefix_len(), mask(bits(s.addr()), s.prefix_len(), max)),
            None => (NO_SOURCE, 0),
        };
        Key {
            iif: self.pattern_id(iif),
            family,
            glen: group.prefix_len(),
            group: mask(bits(group.addr()), group.prefix_len(), max),
            slen,
            source: sbits,
        }
    }

    /// Files template `seq`.
    pub(super) fn insert(
        &mut self,
        seq: u64,
        iif: &IfPattern,
        source: Option<IpNet>,
        group: IpNet,
    ) {
        let key = self.key(iif, source, group);
        if self.buckets.entry(key).or_default().insert(seq) {
            *self.pairs[key.family.slot()]
                .entry((key.glen, key.slen))
                .or_default() += 1;
            if let IfPattern::Prefix(p) = iif {
                *self.wild_lens.entry(p.len()).or_default() += 1;
            }
        }
    }

    /// Removes template `seq`.
    pub(super) fn remove(
        &mut self,
        seq: u64,
        iif: &IfPattern,
        source: Option<IpNet>,
        group: IpNet,
    ) {
        let key = self.key(iif, source, group);
        let Some(set) = self.buckets.get_mut(&key) else {
            return;
        };
        if !set.remove(&seq) {
            return;
        }
        if set.is_empty() {
            self.buckets.remove(&key);
        }
        let pairs = &mut self.pairs[key.family.slot()];
        if let Some(n) = pairs.get_mut(&(key.glen, key.slen)) {
            *n -= 1;
            if *n == 0 {
                pairs.remove(&(key.glen, key.slen));
            }
        }
        if let IfPattern::Prefix(p) = iif {
            if let Some(n) = self.wild_lens.get_mut(&p.len()) {
                *n -= 1;
                if *n == 0 {
                    self.wild_lens.remove(&p.len());
                }
            }
        }
    }

    /// The first template (lowest sequence number) whose inbound pattern matches `iif`, whose
    /// group prefix covers `group` and whose source prefix (if any) covers `source`.
    pub(super) fn lookup(&self, iif: &str, source: IpAddr, group: IpAddr) -> Option<u64> {
        let family = Family::of(&group);
        if Family::of(&source) != family {
            return None;
        }
        let max = family.max_prefix_len();
        // The inbound pattern ids that can match: at most one exact, plus one per wildcard
        // prefix length in use (names are at most 15 bytes, so this stays small).
        // No allocation: a fixed array (validated prefixes are at most 15 bytes long).
        let mut ids = [0u32; MAX_IDS];
        let mut n = 0;
        if let Some(&id) = self.exact.get(iif) {
            ids[0] = id;
            n = 1;
        }
        for &len in self.wild_lens.keys() {
            if len > iif.len() || n >= MAX_IDS {
                break;
            }
            if let Some(&id) = iif.get(..len).and_then(|p| self.prefix.get(p)) {
                ids[n] = id;
                n += 1;
            }
        }
        let ids = &ids[..n];
        if ids.is_empty() {
            return None;
        }
        let (g, s) = (bits(group), bits(source));
        let mut best: Option<u64> = None;
        for &(glen, slen) in self.pairs[family.slot()].keys() {
            let gm = mask(g, glen, max);
            let sm = if slen == NO_SOURCE {
                0
            } else {
                mask(s, slen, max)
            };
            for &id in ids {
                let key = Key {
                    iif: id,
                    family,
                    glen,
                    group: gm,
                    slen,
                    source: sm,
                };
                if let Some(&first) = self.buckets.get(&key).and_then(|b| b.first()) {
                    best = Some(best.map_or(first, |b| b.min(first)));
                }
            }
        }
        best
    }

    /// The number of templates filed.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.buckets.values().map(|b| b.len()).sum()
    }
}

/// The sequence numbers of the rules filed under one key, in ascending (configuration)
/// order. Nearly always one, which is kept inline: no allocation per rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seqs {
    One(u64),
    Many(Vec<u64>),
}

impl Seqs {
    /// A list of one.
    pub(super) fn one(seq: u64) -> Seqs {
        Seqs::One(seq)
    }

    /// The numbers, ascending.
    pub(super) fn as_slice(&self) -> &[u64] {
        match self {
            Seqs::One(s) => std::slice::from_ref(s),
            Seqs::Many(v) => v,
        }
    }

    /// Adds `seq`, which must be above every number in the list.
    pub(super) fn push(&mut self, seq: u64) {
        match self {
            Seqs::One(s) => *self = Seqs::Many(vec![*s, seq]),
            Seqs::Many(v) => v.push(seq),
        }
    }

    /// Removes `seq`; returns whether the list is now empty.
    pub(super) fn remove(&mut self, seq: u64) -> bool {
        match self {
            Seqs::One(s) => *s == seq,
            Seqs::Many(v) => {
                v.retain(|&x| x != seq);
                if let [only] = v.as_slice() {
                    *self = Seqs::One(*only);
                }
                matches!(self, Seqs::Many(v) if v.is_empty())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn masks() {
        assert_eq!(mask(0xe101_0203, 24, 32), 0xe101_0200);
        assert_eq!(mask(0xe101_0203, 32, 32), 0xe101_0203);
        assert_eq!(mask(0xe101_0203, 0, 32), 0);
        assert_eq!(mask(0xe101_0203, 4, 32), 0xe000_0000);
        let v6 = bits(ip("ff0e::1:2"));
        assert_eq!(mask(v6, 128, 128), v6);
        assert_eq!(mask(v6, 112, 128), bits(ip("ff0e::1:0")));
        assert_eq!(mask(v6, 8, 128), bits(ip("ff00::")));
    }

    #[test]
    fn first_in_order_wins_and_removal() {
        let mut ix = TemplateIndex::default();
        let a1 = IfPattern::new("a1");
        let wild = IfPattern::new("a+");
        ix.insert(5, &a1, None, "225.1.2.0/24".parse().unwrap());
        ix.insert(3, &wild, None, "225.0.0.0/8".parse().unwrap());
        ix.insert(9, &a1, None, "225.1.2.3/32".parse().unwrap());
        assert_eq!(ix.lookup("a1", ip("192.0.2.1"), ip("225.1.2.3")), Some(3));
        assert_eq!(ix.lookup("a2", ip("192.0.2.1"), ip("225.1.2.3")), Some(3));
        assert_eq!(ix.lookup("b1", ip("192.0.2.1"), ip("225.1.2.3")), None);
        ix.remove(3, &wild, None, "225.0.0.0/8".parse().unwrap());
        assert_eq!(ix.lookup("a1", ip("192.0.2.1"), ip("225.1.2.3")), Some(5));
        assert_eq!(ix.lookup("a2", ip("192.0.2.1"), ip("225.1.2.3")), None);
        ix.remove(5, &a1, None, "225.1.2.0/24".parse().unwrap());
        assert_eq!(ix.lookup("a1", ip("192.0.2.1"), ip("225.1.2.3")), Some(9));
        ix.remove(9, &a1, None, "225.1.2.3/32".parse().unwrap());
        assert_eq!(ix.len(), 0);
        assert!(ix.pairs.iter().all(|p| p.is_empty()));
        assert!(ix.wild_lens.is_empty());
    }
}
