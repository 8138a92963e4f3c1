//! The DVMRP routing table: origins keyed by prefix in a B-tree, with longest-prefix match by
//! probing only the prefix lengths present (at most 33 tree lookups, never a scan).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Instant;

use ipnet::Ipv4Net;

use super::INFINITY;
use crate::model::VifId;

/// One origin's route (draft section 3.3.1, the routing table).
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub metric: u8,
    pub parent: VifId,
    /// `None` for a local subnet or altnet.
    pub gateway: Option<Ipv4Addr>,
    /// When it becomes unreachable unless refreshed (learned routes only).
    pub expires: Option<Instant>,
    /// When it is deleted (while in hold-down).
    pub gc_at: Option<Instant>,
    /// Downstream routers that poison-reversed it to us (section 3.3.5).
    pub dependents: BTreeMap<VifId, BTreeSet<Ipv4Addr>>,
    /// Metrics other routers on each VIF report for it (for designated forwarder election,
    /// section 3.3.7): only their non-poisoned, reachable metrics.
    pub offers: BTreeMap<VifId, BTreeMap<Ipv4Addr, u8>>,
}

impl Route {
    pub fn new(metric: u8, parent: VifId, gateway: Option<Ipv4Addr>) -> Route {
        Route {
            metric,
            parent,
            gateway,
            expires: None,
            gc_at: None,
            dependents: BTreeMap::new(),
            offers: BTreeMap::new(),
        }
    }

    pub fn reachable(&self) -> bool {
        self.metric < INFINITY
    }
}

#[derive(Debug)]
pub(crate) struct RouteTable {
    map: BTreeMap<Ipv4Net, Route>,
    /// How many routes there are of each prefix length.
    per_len: [u32; 33],
}

impl Default for RouteTable {
    fn default() -> Self {
        RouteTable {
            map: BTreeMap::new(),
            per_len: [0; 33],
        }
    }
}

impl RouteTable {
    pub fn get(&self, origin: &Ipv4Net) -> Option<&Route> {
        self.map.get(origin)
    }

    pub fn get_mut(&mut self, origin: &Ipv4Net) -> Option<&mut Route> {
        self.map.get_mut(origin)
    }

    pub fn insert(&mut self, origin: Ipv4Net, route: Route) {
        if self.map.insert(origin, route).is_none() {
            self.per_len[usize::from(origin.prefix_len())] += 1;
        }
    }

    pub fn remove(&mut self, origin: &Ipv4Net) -> Option<Route> {
        let r = self.map.remove(origin);
        if r.is_some() {
            self.per_len[usize::from(origin.prefix_len())] -= 1;
        }
        r
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Ipv4Net, &Route)> {
        self.map.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Ipv4Net, &mut Route)> {
        self.map.iter_mut()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The longest reachable origin containing `addr`.
    pub fn lookup(&self, addr: Ipv4Addr) -> Option<(Ipv4Net, &Route)> {
        for len in (0..=32u8).rev() {
            if self.per_len[usize::from(len)] == 0 {
                continue;
            }
            let Ok(net) = Ipv4Net::new(addr, len) else {
                continue;
            };
            let net = net.trunc();
            if let Some(r) = self.map.get(&net) {
                if r.reachable() {
                    return Some((net, r));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn longest_prefix_wins_and_unreachable_is_skipped() {
        let mut t = RouteTable::default();
        t.insert(
            "198.18.0.0/15".parse().unwrap(),
            Route::new(3, VifId(0), None),
        );
        t.insert(
            "198.18.4.0/24".parse().unwrap(),
            Route::new(2, VifId(1), None),
        );
        let a: Ipv4Addr = "198.18.4.9".parse().unwrap();
        assert_eq!(
            t.lookup(a).unwrap().0,
            "198.18.4.0/24".parse::<Ipv4Net>().unwrap()
        );
        t.get_mut(&"198.18.4.0/24".parse().unwrap()).unwrap().metric = INFINITY;
        assert_eq!(
            t.lookup(a).unwrap().0,
            "198.18.0.0/15".parse::<Ipv4Net>().unwrap()
        );
        assert!(t.lookup("192.0.2.1".parse().unwrap()).is_none());
        t.remove(&"198.18.0.0/15".parse().unwrap());
        assert!(t.lookup(a).is_none());
        assert_eq!(t.len(), 1);
    }

    proptest! {
        #[test]
        fn lookup_matches_a_scan(
            nets in prop::collection::vec((any::<u32>(), 0u8..=32), 0..40),
            probes in prop::collection::vec(any::<u32>(), 1..20),
        ) {
            let mut t = RouteTable::default();
            for (a, l) in &nets {
                let n = Ipv4Net::new(Ipv4Addr::from(*a), *l).unwrap().trunc();
                t.insert(n, Route::new(1, VifId(0), None));
            }
            for p in probes {
                let a = Ipv4Addr::from(p);
                let want = t.iter().filter(|(n, _)| n.contains(&a)).map(|(n, _)| *n)
                    .max_by_key(|n| n.prefix_len());
                prop_assert_eq!(t.lookup(a).map(|(n, _)| n), want);
            }
        }
    }
}
