//! The DVMRP routing table: origins keyed by prefix in a B-tree, with longest-prefix match by
//! probing only the prefix lengths present (at most 33 tree lookups, never a scan).
//!
//! Memory is what bounds a DVMRP router fed by a large or hostile neighbour, so a route is
//! kept as small as the protocol allows (32 bytes plus its key): the parent VIF in a byte,
//! one deadline in milliseconds since the table's epoch, and the other routers that report
//! it (for the forwarder election and poison reverse) inline when there is one, on the heap
//! only when there are more. The route timers are those deadlines and nothing else: no
//! index entry per route, so nothing can go stale and a refresh costs no allocation. The
//! table keeps a lower bound of the earliest deadline; when it passes, one scan ages every
//! route whose deadline passed and finds the next earliest (the engine scans at most once a
//! second, as mrouted ages its table on a timer tick).

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::INFINITY;
use crate::model::VifId;

/// Milliseconds since the engine's epoch (its first input).
pub(crate) type Tick = u64;

/// Another router that reports a route on one of our VIFs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Peer {
    vif: u8,
    addr: [u8; 4],
    /// Its reachable, non-poisoned metric for the route, 0 for none (the forwarder
    /// election, draft section 3.3.7).
    offer: u8,
    /// It poison-reversed the route to us: it depends on us (section 3.3.5).
    dependent: bool,
}

impl Peer {
    pub fn vif(&self) -> VifId {
        VifId(u16::from(self.vif))
    }

    pub fn addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.addr)
    }

    pub fn offer(&self) -> Option<u8> {
        (self.offer != 0).then_some(self.offer)
    }

    pub fn dependent(&self) -> bool {
        self.dependent
    }

    fn is(&self, vif: VifId, addr: Ipv4Addr) -> bool {
        u16::from(self.vif) == vif.0 && self.addr == addr.octets()
    }

    fn empty(&self) -> bool {
        self.offer == 0 && !self.dependent
    }
}

/// What a route's deadline means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// A directly connected subnet or altnet: no deadline.
    Local,
    /// Learned: becomes unreachable at the deadline unless refreshed.
    Live,
    /// Unreachable, still advertised: deleted at the deadline.
    HoldDown,
    /// Learned, no deadline set (only while being built).
    Idle,
}

/// One origin's route (draft section 3.3.1, the routing table).
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub metric: u8,
    parent: u8,
    /// `None` for a local subnet or altnet.
    gateway: Option<Ipv4Addr>,
    phase: Phase,
    /// The first peer inline; `rest` holds the others (rarely any).
    first: Option<Peer>,
    deadline: Tick,
    /// Boxed: a thin pointer costs 8 bytes in every route, a `Vec` 24.
    #[allow(clippy::box_collection)]
    rest: Option<Box<Vec<Peer>>>,
}

impl Route {
    /// A route through `parent` (and `gateway`, if learned), with no deadline yet.
    pub fn new(metric: u8, parent: VifId, gateway: Option<Ipv4Addr>) -> Route {
        Route {
            metric,
            parent: vif_byte(parent),
            gateway,
            phase: if gateway.is_some() {
                Phase::Idle
            } else {
                Phase::Local
            },
            first: None,
            deadline: 0,
            rest: None,
        }
    }

    pub fn reachable(&self) -> bool {
        self.metric < INFINITY
    }

    pub fn parent(&self) -> VifId {
        VifId(u16::from(self.parent))
    }

    pub fn gateway(&self) -> Option<Ipv4Addr> {
        self.gateway
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The deadline of [`Route::phase`] (meaningless for `Local` and `Idle`).
    pub fn deadline(&self) -> Tick {
        self.deadline
    }

    /// The routers that report this route on our VIFs.
    pub fn peers(&self) -> impl Iterator<Item = &Peer> + '_ {
        self.first
            .iter()
            .chain(self.rest.iter().flat_map(|v| v.iter()))
    }

    fn peer_mut(&mut self, vif: VifId, addr: Ipv4Addr) -> Option<&mut Peer> {
        if let Some(p) = self.first.as_mut().filter(|p| p.is(vif, addr)) {
            return Some(p);
        }
        self.rest
            .as_mut()
            .and_then(|v| v.iter_mut().find(|p| p.is(vif, addr)))
    }

    /// Changes what `addr` on `vif` says about the route; returns whether anything changed.
    fn update_peer(&mut self, vif: VifId, addr: Ipv4Addr, f: impl FnOnce(&mut Peer)) -> bool {
        if let Some(p) = self.peer_mut(vif, addr) {
            let before = *p;
            f(p);
            let after = *p;
            if after.empty() {
                self.remove_peer(vif, addr);
            }
            return before != after;
        }
        let mut p = Peer {
            vif: vif_byte(vif),
            addr: addr.octets(),
            offer: 0,
            dependent: false,
        };
        f(&mut p);
        if p.empty() {
            return false;
        }
        match (&mut self.first, &mut self.rest) {
            (None, _) => self.first = Some(p),
            (Some(_), Some(v)) => v.push(p),
            (Some(_), rest @ None) => *rest = Some(Box::new(vec![p])),
        }
        true
    }

    /// Records `addr`'s offer on `vif` (`None`: it offers nothing usable); returns whether
    /// it changed.
    pub fn set_offer(&mut self, vif: VifId, addr: Ipv4Addr, metric: Option<u8>) -> bool {
        let m = metric.unwrap_or(0);
        self.update_peer(vif, addr, |p| p.offer = m)
    }

    /// Records whether `addr` on `vif` depends on us for the route; returns whether it
    /// changed.
    pub fn set_dependent(&mut self, vif: VifId, addr: Ipv4Addr, dependent: bool) -> bool {
        self.update_peer(vif, addr, |p| p.dependent = dependent)
    }

    /// Forgets everything `addr` on `vif` said.
    pub fn remove_peer(&mut self, vif: VifId, addr: Ipv4Addr) {
        if self.first.is_some_and(|p| p.is(vif, addr)) {
            self.first = self.rest.as_mut().and_then(|v| v.pop());
        } else if let Some(v) = self.rest.as_mut() {
            v.retain(|p| !p.is(vif, addr));
        }
        if self.rest.as_ref().is_some_and(|v| v.is_empty()) {
            self.rest = None;
        }
    }

    /// Takes the peers of `other` (a route replaced in place).
    pub fn take_peers(&mut self, other: Route) {
        self.first = other.first;
        self.rest = other.rest;
    }
}

fn vif_byte(v: VifId) -> u8 {
    // The engine refuses VIFs beyond MAX_VIFS (32).
    u8::try_from(v.0).unwrap_or(u8::MAX)
}

/// How many routes a gateway gave us, and whether its cap was logged.
#[derive(Debug, Default, Clone, Copy)]
struct Count {
    routes: u32,
    capped: bool,
}

#[derive(Debug)]
pub(crate) struct RouteTable {
    map: BTreeMap<Ipv4Net, Route>,
    /// How many routes there are of each prefix length.
    per_len: [u32; 33],
    /// At or before the earliest deadline of a `Live` or `HoldDown` route (`None`: no
    /// route has one). Refreshes only move deadlines later, so it stays a lower bound;
    /// [`RouteTable::expired`] makes it exact again.
    earliest: Option<Tick>,
    /// Routes per gateway (learned routes only, hold-down included).
    per_gateway: HashMap<(u8, Ipv4Addr), Count>,
}

impl Default for RouteTable {
    fn default() -> Self {
        RouteTable {
            map: BTreeMap::new(),
            per_len: [0; 33],
            earliest: None,
            per_gateway: HashMap::new(),
        }
    }
}

impl RouteTable {
    pub fn get(&self, origin: &Ipv4Net) -> Option<&Route> {
        self.map.get(origin)
    }

    /// The route, to change its metric or peers. Its gateway, parent and deadline change
    /// through the table ([`RouteTable::set_upstream`], [`RouteTable::set_deadline`]), which
    /// keeps its indexes.
    pub fn get_mut(&mut self, origin: &Ipv4Net) -> Option<&mut Route> {
        self.map.get_mut(origin)
    }

    pub fn insert(&mut self, origin: Ipv4Net, route: Route) {
        let (gw, parent) = (route.gateway, route.parent);
        let deadline = route.timed().then_some(route.deadline);
        if let Some(old) = self.map.insert(origin, route) {
            self.unindex(&old);
        } else {
            self.per_len[usize::from(origin.prefix_len())] += 1;
        }
        if let Some(t) = deadline {
            self.lower_earliest(t);
        }
        if let Some(g) = gw {
            self.per_gateway.entry((parent, g)).or_default().routes += 1;
        }
    }

    pub fn remove(&mut self, origin: &Ipv4Net) -> Option<Route> {
        let r = self.map.remove(origin)?;
        self.per_len[usize::from(origin.prefix_len())] -= 1;
        self.unindex(&r);
        if self.map.is_empty() {
            // Give the indexes' memory back with the last route.
            self.per_gateway = HashMap::new();
            self.earliest = None;
        }
        Some(r)
    }

    fn unindex(&mut self, r: &Route) {
        if let Some(g) = r.gateway {
            self.uncount(r.parent, g);
        }
    }

    fn uncount(&mut self, parent: u8, g: Ipv4Addr) {
        if let Some(c) = self.per_gateway.get_mut(&(parent, g)) {
            c.routes = c.routes.saturating_sub(1);
            if c.routes == 0 {
                self.per_gateway.remove(&(parent, g));
                if self.per_gateway.capacity() > 64
                    && self.per_gateway.len() * 4 < self.per_gateway.capacity()
                {
                    self.per_gateway.shrink_to_fit();
                }
            }
        }
    }

    /// Moves a route to a new parent VIF and gateway.
    pub fn set_upstream(&mut self, origin: &Ipv4Net, parent: VifId, gateway: Option<Ipv4Addr>) {
        let Some(r) = self.map.get_mut(origin) else {
            return;
        };
        let (old_parent, old_gw) = (r.parent, r.gateway);
        r.parent = vif_byte(parent);
        r.gateway = gateway;
        let new_parent = r.parent;
        if (old_parent, old_gw) == (new_parent, gateway) {
            return;
        }
        if let Some(g) = old_gw {
            self.uncount(old_parent, g);
        }
        if let Some(g) = gateway {
            self.per_gateway.entry((new_parent, g)).or_default().routes += 1;
        }
    }

    /// Sets a route's phase and deadline.
    pub fn set_deadline(&mut self, origin: &Ipv4Net, phase: Phase, deadline: Tick) {
        let Some(r) = self.map.get_mut(origin) else {
            return;
        };
        r.phase = phase;
        r.deadline = deadline;
        if r.timed() {
            self.lower_earliest(deadline);
        }
    }

    fn lower_earliest(&mut self, t: Tick) {
        self.earliest = Some(self.earliest.map_or(t, |e| e.min(t)));
    }

    /// At or before the earliest route deadline (`None`: no route has one).
    pub fn next_deadline(&self) -> Option<Tick> {
        self.earliest
    }

    /// The routes whose deadline is at or before `now`, by one scan of the table, which also
    /// finds the earliest deadline after `now`. The caller gives each a new deadline or
    /// removes it.
    pub fn expired(&mut self, now: Tick) -> Vec<Ipv4Net> {
        let mut due = Vec::new();
        let mut next: Option<Tick> = None;
        for (o, r) in &self.map {
            if !r.timed() {
                continue;
            }
            if r.deadline <= now {
                due.push(*o);
            } else {
                next = Some(next.map_or(r.deadline, |n| n.min(r.deadline)));
            }
        }
        self.earliest = next;
        due
    }

    /// How many routes `gateway` on `vif` gave us (hold-down included).
    pub fn routes_from(&self, vif: VifId, gateway: Ipv4Addr) -> usize {
        self.per_gateway
            .get(&(vif_byte(vif), gateway))
            .map_or(0, |c| c.routes as usize)
    }

    /// Marks the gateway's cap as reached; returns whether it was not marked before (the
    /// caller logs once).
    pub fn mark_capped(&mut self, vif: VifId, gateway: Ipv4Addr) -> bool {
        match self.per_gateway.get_mut(&(vif_byte(vif), gateway)) {
            Some(c) => !std::mem::replace(&mut c.capped, true),
            None => false,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Ipv4Net, &Route)> {
        self.map.iter()
    }

    /// The routes whose origins lie in `range` (in prefix order).
    pub fn range(
        &self,
        range: (std::ops::Bound<Ipv4Net>, std::ops::Bound<Ipv4Net>),
    ) -> impl Iterator<Item = (&Ipv4Net, &Route)> {
        self.map.range(range)
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

    /// Gateways with routes counted, for tests.
    #[cfg(test)]
    pub fn gateways_counted(&self) -> usize {
        self.per_gateway.len()
    }
}

impl Route {
    fn timed(&self) -> bool {
        matches!(self.phase, Phase::Live | Phase::HoldDown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_route_is_32_bytes() {
        assert!(
            std::mem::size_of::<Route>() <= 32,
            "{}",
            std::mem::size_of::<Route>()
        );
    }

    #[test]
    fn peers_are_inline_until_a_second_one_and_vanish_when_empty() {
        let mut r = Route::new(3, VifId(1), Some(Ipv4Addr::new(192, 0, 2, 2)));
        let (a, b) = (Ipv4Addr::new(192, 0, 2, 2), Ipv4Addr::new(192, 0, 2, 3));
        assert!(r.set_offer(VifId(1), a, Some(2)));
        assert!(!r.set_offer(VifId(1), a, Some(2)));
        assert!(r.rest.is_none());
        assert!(r.set_dependent(VifId(1), b, true));
        assert!(r.rest.is_some());
        assert_eq!(r.peers().count(), 2);
        // The inline one goes: the other moves in and the heap part is freed.
        assert!(r.set_offer(VifId(1), a, None));
        assert!(r.rest.is_none());
        assert_eq!(r.peers().map(|p| p.addr()).collect::<Vec<_>>(), vec![b]);
        assert!(r.set_dependent(VifId(1), b, false));
        assert_eq!(r.peers().count(), 0);
        // Nothing to record: nothing stored.
        assert!(!r.set_dependent(VifId(1), b, false));
        assert!(r.first.is_none());
    }

    #[test]
    fn deadlines_are_found_by_one_scan_and_refreshes_cost_nothing() {
        let mut t = RouteTable::default();
        let gw = Ipv4Addr::new(192, 0, 2, 2);
        let o: Ipv4Net = "198.18.4.0/24".parse().unwrap();
        let p: Ipv4Net = "198.18.5.0/24".parse().unwrap();
        t.insert(o, Route::new(2, VifId(0), Some(gw)));
        t.insert(p, Route::new(2, VifId(0), Some(gw)));
        for i in 0..1000 {
            t.set_deadline(&o, Phase::Live, 140_000 + i * 10);
        }
        t.set_deadline(&p, Phase::Live, 150_000);
        // A lower bound until a scan makes it exact.
        assert_eq!(t.next_deadline(), Some(140_000));
        assert_eq!(t.expired(140_000), Vec::<Ipv4Net>::new());
        assert_eq!(t.next_deadline(), Some(149_990));
        assert_eq!(t.expired(149_995), vec![o]);
        assert_eq!(t.next_deadline(), Some(150_000));
        t.set_deadline(&o, Phase::HoldDown, 300_000);
        assert_eq!(t.routes_from(VifId(0), gw), 2);
        t.set_upstream(&o, VifId(1), Some(Ipv4Addr::new(198, 51, 100, 2)));
        assert_eq!(t.routes_from(VifId(0), gw), 1);
        t.remove(&o);
        t.remove(&p);
        assert_eq!(t.gateways_counted(), 0);
        assert_eq!(t.next_deadline(), None);
    }

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
