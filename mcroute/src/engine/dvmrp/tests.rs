//! An in-memory network of DVMRP engines with a fake clock, and protocol scenarios on it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ipnet::Ipv4Net;
use proptest::prelude::*;

use super::*;
use crate::engine::igmp::{MembershipEvent, Querier, QuerierConfig};
use crate::model::VifIndex;
use crate::wire;
use crate::wire::dvmrp::{Body, Repr};

pub(crate) struct Node {
    pub engine: Engine,
    pub mfc: BTreeMap<(Ipv4Addr, Ipv4Addr), MfcEntry>,
    /// The kernel's packet counter of each entry: packets it forwarded since installed.
    pub counters: BTreeMap<(Ipv4Addr, Ipv4Addr), u64>,
    /// How many times each entry was installed afresh (not replaced).
    pub installs: BTreeMap<(Ipv4Addr, Ipv4Addr), u32>,
    /// VIF -> link index.
    pub vifs: BTreeMap<VifId, usize>,
    pub cfgs: BTreeMap<VifId, VifConfig>,
}

pub(crate) struct Link {
    pub up: bool,
    pub subnet: Ipv4Net,
    pub attached: Vec<(usize, VifId)>,
}

/// A network of engines joined by links (a link with one router is a stub subnet).
pub(crate) struct Net {
    pub t0: Instant,
    pub now: Instant,
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
    /// DVMRP codes to drop in transit (to lose graft-acks, say).
    pub drop_codes: BTreeSet<u8>,
    /// Every DVMRP message delivered: (time offset, sender, code).
    pub log: Vec<(Duration, usize, u8)>,
    /// Every DVMRP message delivered, parsed: (sender, message).
    pub messages: Vec<(usize, Repr)>,
    /// IGMP queriers on (node, VIF).
    pub queriers: BTreeMap<(usize, VifId), Querier>,
}

pub(crate) fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

pub(crate) fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

impl Net {
    pub fn new(n: usize) -> Net {
        let t0 = Instant::now();
        Net {
            t0,
            now: t0,
            nodes: (0..n)
                .map(|i| Node {
                    engine: Engine::new(Config {
                        generation_id: 100 + i as u32,
                        ..Config::default()
                    }),
                    mfc: BTreeMap::new(),
                    counters: BTreeMap::new(),
                    installs: BTreeMap::new(),
                    vifs: BTreeMap::new(),
                    cfgs: BTreeMap::new(),
                })
                .collect(),
            links: Vec::new(),
            drop_codes: BTreeSet::new(),
            log: Vec::new(),
            messages: Vec::new(),
            queriers: BTreeMap::new(),
        }
    }

    /// Adds a link 198.18.L.0/24 joining `(node, metric)`s; node i's address is .(i+1).
    /// Returns the link index; the VIF of each node is its next free index.
    pub fn link(&mut self, members: &[(usize, u8)]) -> usize {
        let l = self.links.len();
        let subnet = Ipv4Net::new(Ipv4Addr::new(198, 18, l as u8, 0), 24).unwrap();
        let mut attached = Vec::new();
        for &(n, metric) in members {
            let vif = VifId(self.nodes[n].vifs.len() as u16);
            let local = Ipv4Addr::new(198, 18, l as u8, n as u8 + 1);
            let mut cfg = VifConfig::new(vif, local, subnet);
            cfg.metric = metric;
            self.nodes[n].engine.add_vif(cfg.clone()).unwrap();
            self.nodes[n].vifs.insert(vif, l);
            self.nodes[n].cfgs.insert(vif, cfg);
            attached.push((n, vif));
        }
        self.links.push(Link {
            up: true,
            subnet,
            attached,
        });
        l
    }

    /// The VIF of `node` on link `l`.
    pub fn vif(&self, node: usize, l: usize) -> VifId {
        *self.nodes[node]
            .vifs
            .iter()
            .find(|(_, &ll)| ll == l)
            .unwrap()
            .0
    }

    pub fn addr(&self, node: usize, l: usize) -> Ipv4Addr {
        self.nodes[node].cfgs[&self.vif(node, l)].local
    }

    pub fn start(&mut self) {
        let now = self.now;
        for n in &mut self.nodes {
            let vifs: Vec<VifId> = n.vifs.keys().copied().collect();
            for v in vifs {
                n.engine.interface_up(now, v);
            }
        }
        self.deliver();
    }

    pub fn at(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }

    /// Starts an IGMP querier on every router attached to link `l`.
    pub fn queriers_on(&mut self, l: usize) {
        let now = self.now;
        for &(n, v) in &self.links[l].attached {
            let mut q = Querier::new(QuerierConfig::new(self.nodes[n].cfgs[&v].local));
            q.start(now);
            self.queriers.insert((n, v), q);
        }
    }

    /// A host on link `l` sends an IGMP message: every querier there hears it.
    pub fn host_sends(&mut self, l: usize, host: Ipv4Addr, msg: wire::igmp::Repr) {
        let bytes = msg.to_bytes().unwrap();
        let now = self.now;
        for (&(n, v), q) in self.queriers.iter_mut() {
            if self.nodes[n].vifs[&v] == l {
                q.handle_packet(now, host, &bytes);
            }
        }
        self.deliver();
    }

    /// Moves IGMP queries between queriers and membership events into the engines.
    fn deliver_igmp(&mut self) {
        let now = self.now;
        let mut sent = Vec::new();
        for (&(n, v), q) in self.queriers.iter_mut() {
            while let Some(t) = q.poll_transmit() {
                sent.push((n, v, t));
            }
            while let Some(e) = q.poll_event() {
                let (g, joined) = match e {
                    MembershipEvent::Joined(g) => (g, true),
                    MembershipEvent::Left(g) => (g, false),
                };
                self.nodes[n].engine.local_membership(now, v, g, joined);
            }
        }
        for (n, v, t) in sent {
            let l = self.nodes[n].vifs[&v];
            for (&(m, mv), q) in self.queriers.iter_mut() {
                if m != n && self.nodes[m].vifs[&mv] == l && self.links[l].up {
                    q.handle_packet(now, t.src_v4().unwrap(), &t.payload);
                }
            }
        }
    }

    /// Moves every queued message to its receivers until the network is quiet.
    pub fn deliver(&mut self) {
        let mut queue: VecDeque<(usize, Transmit)> = VecDeque::new();
        loop {
            self.deliver_igmp();
            for (i, n) in self.nodes.iter_mut().enumerate() {
                while let Some(t) = n.engine.poll_transmit() {
                    queue.push_back((i, t));
                }
                while let Some(a) = n.engine.poll_mfc() {
                    match a {
                        MfcAction::Install(e) => {
                            let key = match (e.source(), e.group()) {
                                (std::net::IpAddr::V4(s), std::net::IpAddr::V4(g)) => (s, g),
                                _ => unreachable!(),
                            };
                            if n.mfc.insert(key, e).is_none() {
                                *n.installs.entry(key).or_default() += 1;
                                n.counters.insert(key, 0);
                            }
                        }
                        MfcAction::Remove { source, group } => {
                            n.mfc.remove(&(source, group));
                            n.counters.remove(&(source, group));
                        }
                        MfcAction::CheckCounters { source, group } => {
                            let c = n.counters.get(&(source, group)).copied();
                            let now = self.now;
                            n.engine.handle_counters(now, source, group, c);
                        }
                    }
                }
            }
            let Some((from, t)) = queue.pop_front() else {
                break;
            };
            assert_eq!(t.ttl, 1);
            let code = t.payload[1];
            if self.drop_codes.contains(&code) {
                continue;
            }
            let l = self.nodes[from].vifs[&t.vif().unwrap()];
            if !self.links[l].up {
                continue;
            }
            self.log.push((self.now - self.t0, from, code));
            self.messages.push((
                from,
                Repr::parse(&t.payload).expect("engines send valid messages"),
            ));
            let targets: Vec<(usize, VifId)> = self.links[l]
                .attached
                .iter()
                .copied()
                .filter(|&(m, v)| {
                    m != from
                        && (t.dst_v4().unwrap().is_multicast()
                            || self.nodes[m].cfgs[&v].local == t.dst_v4().unwrap())
                })
                .collect();
            for (m, v) in targets {
                let now = self.now;
                self.nodes[m]
                    .engine
                    .handle_packet(now, v, t.src_v4().unwrap(), &t.payload);
            }
        }
    }

    /// Runs timers and deliveries up to `secs` after the start.
    pub fn run_until(&mut self, secs: u64) {
        let end = self.at(secs);
        loop {
            self.deliver();
            let next = self
                .nodes
                .iter()
                .filter_map(|n| n.engine.poll_timeout())
                .chain(self.queriers.values().filter_map(Querier::poll_timeout))
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    let now = self.now;
                    for n in &mut self.nodes {
                        if n.engine.poll_timeout().is_some_and(|t| t <= now) {
                            n.engine.handle_timeout(now);
                        }
                    }
                    for q in self.queriers.values_mut() {
                        if q.poll_timeout().is_some_and(|t| t <= now) {
                            q.handle_timeout(now);
                        }
                    }
                }
                _ => break,
            }
        }
        self.now = self.now.max(end);
    }

    /// Sends one data packet from `source` into `node` on link `l` and floods it along the
    /// MFC entries (upcalling where there are none). Returns the links it was sent onto.
    pub fn send_data(
        &mut self,
        node: usize,
        l: usize,
        source: Ipv4Addr,
        group: Ipv4Addr,
    ) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([(node, self.vif(node, l))]);
        while let Some((n, vif)) = queue.pop_front() {
            if !seen.insert((n, vif)) {
                continue;
            }
            if !self.nodes[n].mfc.contains_key(&(source, group)) {
                let now = self.now;
                self.nodes[n].engine.handle_data(now, vif, source, group);
                self.deliver();
            }
            let Some(e) = self.nodes[n].mfc.get(&(source, group)) else {
                continue;
            };
            if e.iif() != VifIndex::Vif(vif) {
                continue;
            }
            *self.nodes[n].counters.entry((source, group)).or_default() += 1;
            let e = &self.nodes[n].mfc[&(source, group)];
            for (oif, _) in e.oifs().iter() {
                let ol = self.nodes[n].vifs[&VifId(oif)];
                if !self.links[ol].up {
                    continue;
                }
                out.insert(ol);
                for &(m, mv) in &self.links[ol].attached {
                    if m != n {
                        queue.push_back((m, mv));
                    }
                }
            }
        }
        out
    }

    pub fn mfc(&self, node: usize, s: Ipv4Addr, g: Ipv4Addr) -> Option<&MfcEntry> {
        self.nodes[node].mfc.get(&(s, g))
    }

    pub fn route(&self, node: usize, origin: Ipv4Net) -> Option<RouteInfo> {
        self.nodes[node].engine.route(origin)
    }
}

const G: Ipv4Addr = Ipv4Addr::new(225, 1, 2, 3);

/// A line of `n` routers, each with a stub subnet (links 0..n) and links between neighbours
/// (links n..2n-1).
fn line(n: usize) -> Net {
    let mut net = Net::new(n);
    for i in 0..n {
        net.link(&[(i, 1)]);
    }
    for i in 0..n - 1 {
        net.link(&[(i, 1), (i + 1, 1)]);
    }
    net.start();
    net
}

fn stub(net: &Net, i: usize) -> Ipv4Net {
    net.links[i].subnet
}

#[test]
fn two_routers_converge() {
    let mut net = line(2);
    net.run_until(15);
    let (a, b) = (stub(&net, 0), stub(&net, 1));
    let ra = net.route(0, b).expect("A learnt B's stub");
    assert_eq!(ra.metric, 2);
    assert_eq!(ra.gateway, Some(net.addr(1, 2)));
    assert_eq!(ra.parent, net.vif(0, 2));
    let rb = net.route(1, a).expect("B learnt A's stub");
    assert_eq!(rb.metric, 2);
    // Local origins: metric 1, no gateway.
    let own = net.route(0, a).unwrap();
    assert_eq!((own.metric, own.gateway), (1, None));
    // Both adjacencies are two-way.
    assert!(net.nodes[0].engine.neighbors().all(|n| n.two_way));
    assert_eq!(net.nodes[0].engine.neighbors().count(), 1);
    // Poisoned reverse: B told A it depends on it for A's stub.
    assert_eq!(
        net.route(0, a).unwrap().dependents,
        vec![(net.vif(0, 2), net.addr(1, 2))]
    );
    // Three origins each: two stubs and the shared link.
    assert_eq!(net.nodes[0].engine.route_count(), 3);
    assert_eq!(net.nodes[1].engine.stats().not_neighbor, 0);
}

#[test]
fn three_routers_converge_and_forward() {
    let mut net = line(3);
    net.run_until(30);
    let c = stub(&net, 2);
    let a = stub(&net, 0);
    assert_eq!(net.route(0, c).unwrap().metric, 3);
    assert_eq!(net.route(2, a).unwrap().metric, 3);
    assert_eq!(net.route(0, stub(&net, 1)).unwrap().metric, 2);
    // The link between B and C (198.18.4.0/24) is 2 hops from A.
    assert_eq!(net.route(0, net.links[4].subnet).unwrap().metric, 2);
    // B relays A's stub to C; C depends on B, B on A.
    assert_eq!(
        net.route(1, a).unwrap().dependents,
        vec![(net.vif(1, 4), net.addr(2, 4))]
    );
    // A member behind C: traffic from A's stub reaches C's stub, nothing else.
    let (now, v) = (net.now, net.vif(2, 2));
    net.nodes[2].engine.local_membership(now, v, G, true);
    let src = ip("198.18.0.10");
    let out = net.send_data(0, 0, src, G);
    assert_eq!(out, BTreeSet::from([3, 4, 2]));
    // B has no member and no other downstream: nothing goes onto B's stub.
    let eb = net.mfc(1, src, G).unwrap();
    assert_eq!(eb.iif(), VifIndex::Vif(net.vif(1, 3)));
    assert_eq!(
        eb.oifs().iter().collect::<Vec<_>>(),
        vec![(net.vif(1, 4).0, 1)]
    );
}

#[test]
fn negative_cache_for_unknown_source() {
    let mut net = line(2);
    net.run_until(15);
    let out = net.send_data(0, 0, ip("203.0.113.9"), G);
    assert!(out.is_empty());
    let e = net.mfc(0, ip("203.0.113.9"), G).expect("a stop filter");
    assert!(e.oifs().is_empty());
    assert!(
        net.nodes[0]
            .engine
            .flow(ip("203.0.113.9"), G)
            .unwrap()
            .negative
    );
    // It goes away after the cache lifetime.
    net.run_until(15 + 301);
    assert!(net.mfc(0, ip("203.0.113.9"), G).is_none());
}

#[test]
fn triangle_reroutes_when_a_link_is_cut() {
    // A(0), B(1), C(2), each with a stub (links 0..3); A-B link 3, B-C link 4, A-C link 5.
    let mut net = Net::new(3);
    for i in 0..3 {
        net.link(&[(i, 1)]);
    }
    net.link(&[(0, 1), (1, 1)]);
    net.link(&[(1, 1), (2, 1)]);
    net.link(&[(0, 1), (2, 1)]);
    net.start();
    net.run_until(30);
    let c = stub(&net, 2);
    let r = net.route(0, c).unwrap();
    assert_eq!((r.metric, r.gateway), (2, Some(net.addr(2, 5))));
    net.links[5].up = false;
    let cut = 30;
    // Still believed at +30 s (neighbour time-out is 35 s)...
    net.run_until(cut + 30);
    assert_eq!(net.route(0, c).unwrap().gateway, Some(net.addr(2, 5)));
    // ...then the neighbour is lost, the route becomes unreachable, and B's path wins by the
    // next report.
    net.run_until(cut + 36 + 61);
    let r = net.route(0, c).unwrap();
    assert_eq!((r.metric, r.gateway), (3, Some(net.addr(1, 3))));
    assert_eq!(r.parent, net.vif(0, 3));
    assert_eq!(net.nodes[0].engine.stats().neighbor_timeouts, 1);
    // The A-C link subnet is still reachable via C's side through B (metric 3) and directly
    // attached at A (metric 1).
    assert_eq!(net.route(0, net.links[5].subnet).unwrap().metric, 1);
    // Repair: the direct path comes back.
    net.links[5].up = true;
    net.run_until(cut + 200);
    let r = net.route(0, c).unwrap();
    assert_eq!((r.metric, r.gateway), (2, Some(net.addr(2, 5))));
}

/// A single engine and a hand-driven neighbour at 192.0.2.2.
struct Solo {
    e: Engine,
    t0: Instant,
}

impl Solo {
    fn new() -> Solo {
        let t0 = Instant::now();
        let mut e = Engine::new(Config::default());
        e.add_vif(VifConfig::new(
            VifId(0),
            ip("192.0.2.1"),
            net("192.0.2.0/24"),
        ))
        .unwrap();
        e.add_vif(VifConfig::new(
            VifId(1),
            ip("198.51.100.1"),
            net("198.51.100.0/24"),
        ))
        .unwrap();
        e.interface_up(t0, VifId(0));
        e.interface_up(t0, VifId(1));
        Solo { e, t0 }
    }

    fn t(&self, s: u64) -> Instant {
        self.t0 + Duration::from_secs(s)
    }

    fn feed(&mut self, s: u64, body: Body) {
        let bytes = Repr::new(body).to_bytes().unwrap();
        let t = self.t(s);
        self.e.handle_timeout(t);
        self.e.handle_packet(t, VifId(0), ip("192.0.2.2"), &bytes);
    }

    fn probe(&mut self, s: u64) {
        self.feed(
            s,
            Body::Probe {
                generation_id: 7,
                neighbors: vec![ip("192.0.2.1")],
            },
        );
    }

    fn drain(&mut self) -> Vec<Transmit> {
        std::iter::from_fn(|| self.e.poll_transmit()).collect()
    }
}

fn report(routes: &[(&str, u8)]) -> Body {
    Body::Report {
        routes: routes
            .iter()
            .map(|(o, m)| wire::dvmrp::ReportRoute {
                origin: net(o),
                metric: *m,
            })
            .collect(),
    }
}

#[test]
fn route_expires_after_200s_then_is_garbage_collected_at_340s() {
    // mrouted's ROUTE_EXPIRE_TIME and ROUTE_DISCARD_TIME (the draft: 140 s and +120 s).
    let mut s = Solo::new();
    s.probe(0);
    s.feed(1, report(&[("203.0.113.0/24", 4)]));
    let r = s.e.route(net("203.0.113.0/24")).unwrap();
    assert_eq!((r.metric, r.gateway), (5, Some(ip("192.0.2.2"))));
    // The neighbour stays (probes) but stops reporting the route.
    for t in (10..=200).step_by(10) {
        s.probe(t);
    }
    assert_eq!(s.e.route(net("203.0.113.0/24")).unwrap().metric, 5);
    s.e.handle_timeout(s.t(201));
    assert_eq!(s.e.route(net("203.0.113.0/24")).unwrap().metric, INFINITY);
    assert!(s.e.lookup(ip("203.0.113.7")).is_none());
    // The unreachable route is flashed at once with metric 32 on VIF 0 (the neighbour's).
    let flashed: Vec<_> = s
        .drain()
        .into_iter()
        .filter_map(|t| match Repr::parse(&t.payload).unwrap().body {
            Body::Report { routes } => Some(routes),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(flashed
        .iter()
        .any(|r| r.origin == net("203.0.113.0/24") && r.metric == INFINITY));
    // Hold-down: deleted 340 s after the last refresh.
    for t in (210..=330).step_by(10) {
        s.probe(t);
    }
    s.e.handle_timeout(s.t(340));
    assert!(s.e.route(net("203.0.113.0/24")).is_some());
    s.e.handle_timeout(s.t(342));
    assert!(s.e.route(net("203.0.113.0/24")).is_none());
}

#[test]
fn metrics_poison_reverse_and_split_horizon_on_the_wire() {
    let mut s = Solo::new();
    s.probe(0);
    s.drain();
    s.feed(1, report(&[("203.0.113.0/24", 4)]));
    let mut seen = BTreeMap::new();
    for t in [10, 20, 30, 40, 50, 60] {
        s.probe(t);
        for t in s.drain() {
            if let Body::Report { routes } = Repr::parse(&t.payload).unwrap().body {
                for r in routes {
                    seen.insert((t.vif().unwrap(), r.origin), r.metric);
                }
            }
        }
    }
    // Reported back to where it came from with metric + 32 (5 + 32).
    assert_eq!(seen.get(&(VifId(0), net("203.0.113.0/24"))), Some(&37));
    // VIF 1 has no neighbour: no reports there.
    assert!(!seen.keys().any(|(v, _)| *v == VifId(1)));
    assert_eq!(seen.get(&(VifId(0), net("198.51.100.0/24"))), Some(&1));
    // A connected subnet is not reported onto its own VIF (mrouted route.c), not even
    // poisoned.
    assert_eq!(seen.get(&(VifId(0), net("192.0.2.0/24"))), None);
}

#[test]
fn hostile_packets_are_counted_and_dropped() {
    let mut s = Solo::new();
    // A report before any probe: not a neighbour.
    s.feed(0, report(&[("203.0.113.0/24", 1)]));
    assert_eq!(s.e.stats().not_neighbor, 1);
    assert!(s.e.route(net("203.0.113.0/24")).is_none());
    s.probe(1);
    // Metric 0 and metric 64+ are ignored; a multicast origin too.
    s.feed(
        2,
        report(&[
            ("203.0.113.0/24", 0),
            ("198.18.0.0/24", 70),
            ("225.0.0.0/8", 1),
        ]),
    );
    assert_eq!(s.e.stats().bad_metric, 2);
    assert_eq!(s.e.stats().bad_origin, 1);
    assert_eq!(s.e.route_count(), 2);
    // Bad checksum.
    let mut bytes = Repr::new(report(&[("203.0.113.0/24", 1)]))
        .to_bytes()
        .unwrap();
    bytes[2] ^= 0x55;
    s.e.handle_packet(s.t(3), VifId(0), ip("192.0.2.2"), &bytes);
    assert_eq!(s.e.stats().bad_checksum, 1);
    // A huge route count that is not there: truncated.
    let mut huge = vec![0x13, 2, 0, 0, 0, 0x0e, 0xff, 3, 0xff, 0xff, 0];
    huge.extend(std::iter::repeat_n([198u8, 18, 0, 1], 300).flatten());
    crate::wire::fill_checksum(&mut huge);
    s.e.handle_packet(s.t(3), VifId(0), ip("192.0.2.2"), &huge);
    assert_eq!(s.e.stats().malformed, 1);
    // Major version 2.
    let mut old = Repr::new(report(&[("203.0.113.0/24", 1)]));
    old.major = 2;
    s.e.handle_packet(s.t(3), VifId(0), ip("192.0.2.2"), &old.to_bytes().unwrap());
    assert_eq!(s.e.stats().bad_version, 1);
    assert_eq!(s.e.route_count(), 2);
    // A prune for a flow we do not have.
    s.feed(
        4,
        Body::Prune {
            source: ip("198.51.100.9"),
            group: G,
            lifetime: 10,
            source_prefix: None,
        },
    );
    assert_eq!(s.e.stats().prunes_ignored, 1);
}

#[test]
fn designated_forwarder_on_a_lan() {
    // U(0) with a stub (link 0); U-R1 (link 1), U-R2 (link 2); LAN (link 3) with R1(1), R2(2).
    let mut net = Net::new(3);
    net.link(&[(0, 1)]);
    net.link(&[(0, 1), (1, 1)]);
    net.link(&[(0, 1), (2, 1)]);
    net.link(&[(1, 1), (2, 1)]);
    net.start();
    net.run_until(30);
    let u = stub(&net, 0);
    // Equal metrics (2): the lower address, R1 (198.18.3.2 < .3), forwards onto the LAN.
    assert_eq!(net.route(1, u).unwrap().metric, 2);
    assert_eq!(net.route(2, u).unwrap().metric, 2);
    assert!(net.nodes[1]
        .engine
        .is_designated_forwarder(u, net.vif(1, 3)));
    assert!(!net.nodes[2]
        .engine
        .is_designated_forwarder(u, net.vif(2, 3)));
    // A member on the LAN: only R1 forwards; R2 prunes towards U.
    for n in [1, 2] {
        let v = net.vif(n, 3);
        net.nodes[n].engine.local_membership(net.now, v, G, true);
    }
    let src = ip("198.18.0.10");
    let out = net.send_data(0, 0, src, G);
    assert!(out.contains(&3));
    assert!(net.mfc(1, src, G).unwrap().oifs().contains(net.vif(1, 3).0));
    assert!(net.mfc(2, src, G).unwrap().oifs().is_empty());
    assert!(net.nodes[2].engine.flow(src, G).unwrap().pruned_upstream);
    let eu = net.mfc(0, src, G).unwrap();
    assert_eq!(
        eu.oifs().iter().map(|(v, _)| v).collect::<Vec<_>>(),
        vec![net.vif(0, 1).0]
    );
}

#[test]
fn lan_with_two_routers_and_a_host() {
    // U(0) with the source's stub (link 0); U-R1 (link 1), U-R2 (link 2); LAN (link 3) with
    // R1(1), R2(2) and a host, served by the queriers of R1 and R2.
    let mut net = Net::new(3);
    net.link(&[(0, 1)]);
    net.link(&[(0, 1), (1, 1)]);
    net.link(&[(0, 1), (2, 1)]);
    net.link(&[(1, 1), (2, 1)]);
    net.start();
    net.queriers_on(3);
    net.run_until(30);
    // Querier election on the LAN: R1 (198.18.3.2) beats R2 (198.18.3.3).
    assert!(net.queriers[&(1, net.vif(1, 3))].is_querier());
    assert!(!net.queriers[&(2, net.vif(2, 3))].is_querier());
    let (host, src) = (ip("198.18.3.100"), ip("198.18.0.10"));
    // Past the first dependent confirmation: R1 floods R2 on the LAN no more (R2 never
    // poison-reverses the source's route there: it does to U).
    net.run_until(130);
    // Nobody listens yet: the LAN routers prune, U keeps the flow to itself.
    assert!(
        net.send_data(0, 0, src, G).len() == 2,
        "U sends to R1 and R2 once"
    );
    assert!(net.mfc(0, src, G).unwrap().oifs().is_empty(), "both pruned");
    // The host joins: both queriers see it; only R1, the forwarder, grafts and forwards.
    net.host_sends(3, host, wire::igmp::Repr::ReportV2 { group: G });
    assert_eq!(
        net.nodes[1]
            .engine
            .members(net.vif(1, 3))
            .collect::<Vec<_>>(),
        vec![G]
    );
    assert_eq!(
        net.nodes[2]
            .engine
            .members(net.vif(2, 3))
            .collect::<Vec<_>>(),
        vec![G]
    );
    assert_eq!(net.send_data(0, 0, src, G), BTreeSet::from([1, 3]));
    assert!(
        net.mfc(2, src, G).unwrap().oifs().is_empty(),
        "R2 is not the forwarder"
    );
    assert!(net.nodes[2].engine.flow(src, G).unwrap().pruned_upstream);
    // The host keeps answering general queries: still a member at 5 minutes.
    for t in (180..=420).step_by(60) {
        net.run_until(t);
        net.host_sends(3, host, wire::igmp::Repr::ReportV2 { group: G });
    }
    assert_eq!(net.send_data(0, 0, src, G), BTreeSet::from([1, 3]));
    // The host leaves: R1 queries the group twice, nobody answers, R1 prunes upstream.
    net.host_sends(3, host, wire::igmp::Repr::Leave { group: G });
    net.run_until(423);
    assert_eq!(net.nodes[1].engine.members(net.vif(1, 3)).count(), 0);
    assert_eq!(
        net.nodes[2].engine.members(net.vif(2, 3)).count(),
        0,
        "R2 followed"
    );
    assert!(
        net.mfc(0, src, G).unwrap().oifs().is_empty(),
        "U pruned again"
    );
    assert!(net.send_data(0, 0, src, G).is_empty());
}

#[test]
fn designated_forwarder_prefers_the_lower_metric() {
    let mut net = Net::new(3);
    net.link(&[(0, 1)]);
    net.link(&[(0, 1), (1, 5)]); // R1 receives from U at cost 5
    net.link(&[(0, 1), (2, 1)]);
    net.link(&[(1, 1), (2, 1)]);
    net.start();
    net.run_until(30);
    let u = stub(&net, 0);
    assert_eq!(net.route(1, u).unwrap().metric, 3); // via R2 and the LAN: 1 + 1 + 1
    assert_eq!(net.route(2, u).unwrap().metric, 2);
    assert!(net.nodes[2]
        .engine
        .is_designated_forwarder(u, net.vif(2, 3)));
    assert!(!net.nodes[1]
        .engine
        .is_designated_forwarder(u, net.vif(1, 3)));
}

#[test]
fn prune_when_last_member_leaves_and_graft_when_one_returns() {
    let mut net = line(3);
    net.run_until(30);
    let (c_stub_vif, src) = (net.vif(2, 2), ip("198.18.0.10"));
    net.nodes[2]
        .engine
        .local_membership(net.now, c_stub_vif, G, true);
    let out = net.send_data(0, 0, src, G);
    assert!(out.contains(&2));
    let a_to_b = net.vif(0, 3).0;
    assert!(net.mfc(0, src, G).unwrap().oifs().contains(a_to_b));

    // The last member leaves: C prunes to B, B (no one left) prunes to A.
    net.run_until(40);
    net.nodes[2]
        .engine
        .local_membership(net.now, c_stub_vif, G, false);
    net.deliver();
    assert!(net.mfc(2, src, G).unwrap().oifs().is_empty());
    assert!(net.mfc(1, src, G).unwrap().oifs().is_empty());
    assert!(
        net.mfc(0, src, G).unwrap().oifs().is_empty(),
        "A lost the OIF"
    );
    assert!(net.nodes[1].engine.flow(src, G).unwrap().pruned_upstream);
    assert_eq!(
        net.nodes[0].engine.flow(src, G).unwrap().pruned_by,
        vec![(net.vif(0, 3), net.addr(1, 3))]
    );
    assert!(net.send_data(0, 0, src, G).is_empty());

    // Still pruned well after the cache lifetime: prune state keeps the entries.
    net.run_until(40 + 400);
    assert!(net.mfc(0, src, G).unwrap().oifs().is_empty());

    // A member returns; lose the first graft-acks to see the retransmission.
    net.drop_codes.insert(wire::dvmrp::code::GRAFT_ACK);
    net.nodes[2]
        .engine
        .local_membership(net.now, c_stub_vif, G, true);
    net.deliver();
    assert!(net.nodes[2].engine.flow(src, G).unwrap().grafting);
    assert!(
        net.mfc(0, src, G).unwrap().oifs().contains(a_to_b),
        "OIF back"
    );
    let grafts_at_b = net.nodes[1].engine.stats().grafts;
    assert_eq!(grafts_at_b, 1);
    net.run_until(440 + 6);
    assert_eq!(
        net.nodes[1].engine.stats().grafts,
        2,
        "retransmitted after 5 s"
    );
    net.drop_codes.clear();
    net.run_until(440 + 6 + 11);
    assert_eq!(net.nodes[1].engine.stats().grafts, 3, "backed off to 10 s");
    assert!(!net.nodes[2].engine.flow(src, G).unwrap().grafting, "acked");
    assert!(!net.nodes[1].engine.flow(src, G).unwrap().grafting, "acked");
    net.run_until(440 + 60);
    assert_eq!(
        net.nodes[1].engine.stats().grafts,
        3,
        "no more after the ack"
    );
    assert_eq!(
        net.send_data(0, 0, src, G),
        BTreeSet::from([3, 4, 2]),
        "traffic flows to C again"
    );
}

fn prune_lifetimes(net: &Net, from: usize) -> Vec<u32> {
    net.messages
        .iter()
        .filter(|(n, _)| *n == from)
        .filter_map(|(_, m)| match m.body {
            Body::Prune { lifetime, .. } => Some(lifetime),
            _ => None,
        })
        .collect()
}

#[test]
fn prune_lifetime_is_the_minimum_downstream() {
    let mut net = line(3);
    net.run_until(30);
    let src = ip("198.18.0.10");
    net.send_data(0, 0, src, G);
    // C prunes with the default lifetime jittered into [0.5, 1.5) of 7200 s (mrouted's
    // JITTERED_VALUE); B forwards the prune with no more than what is left of C's.
    let c = prune_lifetimes(&net, 2);
    let b = prune_lifetimes(&net, 1);
    assert_eq!((c.len(), b.len()), (1, 1));
    assert!((3600..10800).contains(&c[0]), "{c:?}");
    assert!(b[0] <= c[0] && b[0] > 5, "{b:?} {c:?}");
    // Prune state holds the entries past the cache lifetime; when it is over and the
    // counters stood still, everything goes and the next packet starts over.
    net.run_until(30 + u64::from(c[0]) + 2 * 300 + 10);
    assert!(net.mfc(0, src, G).is_none());
    assert!(net.mfc(1, src, G).is_none());
    net.send_data(0, 0, src, G);
    assert_eq!(prune_lifetimes(&net, 1).len(), 2);
    assert!(net.mfc(0, src, G).unwrap().oifs().is_empty());
}

#[test]
fn shorter_downstream_prune_shortens_ours() {
    // A hand-driven downstream neighbour prunes with 300 s: we prune upstream with <= 300.
    let mut s = Solo::new();
    // The upstream is a second neighbour on VIF 1 (198.51.100.2) with the source's subnet.
    let up = ip("198.51.100.2");
    let t = s.t(0);
    let probe = |n: Ipv4Addr| {
        Repr::new(Body::Probe {
            generation_id: 1,
            neighbors: vec![n],
        })
        .to_bytes()
        .unwrap()
    };
    s.e.handle_packet(t, VifId(1), up, &probe(ip("198.51.100.1")));
    let rep = Repr::new(report(&[("203.0.113.0/24", 1)]))
        .to_bytes()
        .unwrap();
    s.e.handle_packet(t, VifId(1), up, &rep);
    s.probe(0);
    // The downstream neighbour depends on us for 203.0.113.0/24 (poisoned reverse: 2 + 32).
    s.feed(0, report(&[("203.0.113.0/24", 34)]));
    let src = ip("203.0.113.5");
    s.e.handle_data(t, VifId(1), src, G);
    assert!(s.e.flow(src, G).unwrap().oifs.contains(0));
    s.drain();
    s.feed(
        1,
        Body::Prune {
            source: src,
            group: G,
            lifetime: 300,
            source_prefix: None,
        },
    );
    let prunes: Vec<(Ipv4Addr, u32)> = s
        .drain()
        .into_iter()
        .filter_map(|t| match Repr::parse(&t.payload).unwrap().body {
            Body::Prune { lifetime, .. } => Some((t.dst_v4().unwrap(), lifetime)),
            _ => None,
        })
        .collect();
    assert_eq!(prunes, vec![(up, 300)]);
    assert!(s.e.flow(src, G).unwrap().oifs.is_empty());
}

#[test]
fn restarted_neighbor_prunes_are_forgotten() {
    let mut net = line(2);
    net.run_until(20);
    let src = ip("198.18.0.10");
    net.send_data(0, 0, src, G);
    let a_to_b = net.vif(0, 2).0;
    assert!(net.mfc(0, src, G).unwrap().oifs().is_empty(), "B pruned");
    // B restarts with a new generation id.
    let mut fresh = Engine::new(Config {
        generation_id: 999,
        ..Config::default()
    });
    for cfg in net.nodes[1].cfgs.values() {
        fresh.add_vif(cfg.clone()).unwrap();
    }
    net.nodes[1].engine = fresh;
    net.nodes[1].mfc.clear();
    let now = net.now;
    for v in [VifId(0), VifId(1)] {
        net.nodes[1].engine.interface_up(now, v);
    }
    net.deliver();
    assert_eq!(net.nodes[0].engine.stats().neighbor_restarts, 1);
    assert!(net.nodes[0]
        .engine
        .flow(src, G)
        .unwrap()
        .pruned_by
        .is_empty());
    assert!(
        net.mfc(0, src, G).unwrap().oifs().contains(a_to_b),
        "forwarding to B resumes"
    );
    // B relearns the table at once (A sends it the whole table).
    assert_eq!(net.route(1, stub(&net, 0)).unwrap().metric, 2);
}

#[test]
fn boundaries_block_scoped_groups() {
    let mut net = Net::new(2);
    net.link(&[(0, 1)]);
    net.link(&[(1, 1)]);
    net.link(&[(0, 1), (1, 1)]);
    // B's stub is a boundary for 239.0.0.0/8.
    let v = net.vif(1, 1);
    let mut fresh = Engine::new(Config::default());
    for (id, cfg) in net.nodes[1].cfgs.iter_mut() {
        if *id == v {
            cfg.boundaries.push(self::net("239.0.0.0/8"));
        }
        fresh.add_vif(cfg.clone()).unwrap();
    }
    net.nodes[1].engine = fresh;
    net.start();
    net.run_until(20);
    let scoped = ip("239.1.1.1");
    net.nodes[1]
        .engine
        .local_membership(net.now, v, scoped, true);
    net.nodes[1].engine.local_membership(net.now, v, G, true);
    let src = ip("198.18.0.10");
    assert!(
        net.send_data(0, 0, src, scoped).len() == 1,
        "only the A-B link"
    );
    assert!(net.mfc(1, src, scoped).unwrap().oifs().is_empty());
    assert!(net.send_data(0, 0, src, G).contains(&1));
}

#[test]
fn interface_down_withdraws_local_origin() {
    let mut net = line(2);
    net.run_until(15);
    let b = stub(&net, 1);
    assert_eq!(net.route(0, b).unwrap().metric, 2);
    let now = net.now;
    net.nodes[1].engine.interface_down(now, VifId(0));
    net.run_until(21);
    assert_eq!(
        net.route(0, b).unwrap().metric,
        INFINITY,
        "flashed unreachable"
    );
}

#[test]
fn ask_neighbors2_is_answered() {
    let mut s = Solo::new();
    s.probe(0);
    s.drain();
    s.feed(1, Body::AskNeighbors2);
    let replies: Vec<_> = s
        .drain()
        .into_iter()
        .filter(|t| t.payload[1] == wire::dvmrp::code::NEIGHBORS2)
        .collect();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].dst, ip("192.0.2.2"));
    let Body::Neighbors2 { blocks } = Repr::parse(&replies[0].payload).unwrap().body else {
        panic!()
    };
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].neighbors, vec![ip("192.0.2.2")]);
}

proptest! {
    #[test]
    fn engine_never_panics_on_garbage(
        packets in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..64), 0u8..12, any::<bool>()), 0..40)
    ) {
        let mut s = Solo::new();
        s.probe(0);
        for (i, (mut b, code, fix)) in packets.into_iter().enumerate() {
            if b.len() >= 8 {
                b[0] = 0x13;
                b[1] = code;
                b[7] = 3;
            }
            if fix {
                crate::wire::fill_checksum(&mut b);
            }
            let t = s.t(i as u64);
            s.e.handle_packet(t, VifId(0), ip("192.0.2.2"), &b);
            s.e.handle_timeout(t);
        }
        s.drain();
    }
}

/// mrouted names the route's origin in prunes and grafts (12 bytes, no mask), not the
/// source host: they apply to every source of the group in that origin.
#[test]
fn prunes_and_grafts_naming_the_origin_as_mrouted_sends_them() {
    let mut s = Solo::new();
    s.probe(1);
    // The neighbour depends on us for our stub (poisoned reverse).
    s.feed(2, report(&[("198.51.100.0/24", 33)]));
    let (src, g) = (ip("198.51.100.7"), ip("225.1.2.3"));
    s.e.handle_data(s.t(3), VifId(1), src, g);
    assert!(s.e.flow(src, g).unwrap().oifs.contains(0));
    s.drain();
    s.feed(
        4,
        Body::Prune {
            source: ip("198.51.100.0"),
            group: g,
            lifetime: 7200,
            source_prefix: None,
        },
    );
    let f = s.e.flow(src, g).unwrap();
    assert!(f.oifs.is_empty(), "pruned: {f:?}");
    assert_eq!(f.pruned_by, vec![(VifId(0), ip("192.0.2.2"))]);
    s.feed(
        5,
        Body::Graft {
            source: ip("198.51.100.0"),
            group: g,
            source_prefix: None,
        },
    );
    assert!(s.e.flow(src, g).unwrap().oifs.contains(0), "grafted back");
    let acks: Vec<_> = s
        .drain()
        .into_iter()
        .filter_map(|t| Repr::parse(&t.payload).ok())
        .filter(|r| matches!(r.body, Body::GraftAck { source, .. } if source == ip("198.51.100.0")))
        .collect();
    assert_eq!(acks.len(), 1, "the ack echoes what the graft named");
    // A prune with a mask names the prefix; one for another origin names nothing.
    s.feed(
        6,
        Body::Prune {
            source: ip("203.0.113.0"),
            group: g,
            lifetime: 60,
            source_prefix: None,
        },
    );
    assert!(s.e.flow(src, g).unwrap().oifs.contains(0));
    s.feed(
        7,
        Body::Prune {
            source: ip("198.51.100.0"),
            group: g,
            lifetime: 60,
            source_prefix: Some(25),
        },
    );
    assert!(s.e.flow(src, g).unwrap().oifs.is_empty());
}

#[test]
fn four_routers_in_a_ring_converge_and_reroute() {
    // A(0) B(1) C(2) D(3), each with a stub (links 0..4), in a ring A-B (4), B-C (5),
    // C-D (6), D-A (7) whose D-A link costs 3. Then the A-B link is cut.
    let mut net = Net::new(4);
    for i in 0..4 {
        net.link(&[(i, 1)]);
    }
    let ab = net.link(&[(0, 1), (1, 1)]);
    net.link(&[(1, 1), (2, 1)]);
    net.link(&[(2, 1), (3, 1)]);
    let da = net.link(&[(3, 3), (0, 3)]);
    net.start();
    net.run_until(60);
    // Every router has a route to every stub and every link subnet (8 origins).
    for n in 0..4 {
        assert_eq!(net.nodes[n].engine.route_count(), 8, "router {n}");
    }
    // A to C's stub: two hops via B (1 + 1 + 1 = 3), not via D (3 + 1 + 1 = 5).
    let c = stub(&net, 2);
    let r = net.route(0, c).unwrap();
    assert_eq!((r.metric, r.gateway), (3, Some(net.addr(1, ab))));
    // A to D's stub: directly over the expensive link (3 + 1 = 4) ties with B-C-D
    // (1 + 1 + 1 + 1 = 4); whichever wins, the metric is 4.
    assert_eq!(net.route(0, stub(&net, 3)).unwrap().metric, 4);
    // Cut A-B: after the neighbour time-out and a report, A reaches C through D.
    net.links[ab].up = false;
    net.run_until(60 + 36 + 61);
    let r = net.route(0, c).unwrap();
    assert_eq!((r.metric, r.gateway), (5, Some(net.addr(3, da))));
    // B still reaches A's stub, now around the ring: B-C-D-A = 1 + 1 + 3 + 1 = 6.
    assert_eq!(net.route(1, stub(&net, 0)).unwrap().metric, 6);
    // No metric ever exceeds infinity for a reachable route.
    for n in 0..4 {
        for r in net.nodes[n].engine.routes() {
            assert!(r.metric <= 32, "router {n}: {r:?}");
        }
    }
}

proptest! {
    /// Whatever a neighbour reports, in whatever order: no route's metric exceeds infinity,
    /// and every route learned from the neighbour is reported back to it poisoned (metric
    /// plus infinity), never as a usable path.
    #[test]
    fn route_table_invariants(steps in proptest::collection::vec(
        proptest::collection::vec((0u8..8, 0u8..70), 1..6), 1..12)) {
        let mut s = Solo::new();
        s.probe(0);
        for (i, routes) in steps.iter().enumerate() {
            // Steps 5 s apart: with the 70 s window below, nothing reaches the 140 s expiry.
            let t = 1 + i as u64 * 5;
            let named: Vec<(String, u8)> = routes
                .iter()
                .map(|(o, m)| (format!("203.0.113.{}/32", o * 16), *m))
                .collect();
            let refs: Vec<(&str, u8)> = named.iter().map(|(o, m)| (o.as_str(), *m)).collect();
            s.feed(t, report(&refs));
            s.probe(t + 1);
            // Earlier flash updates describe earlier states: look only at the final report.
            s.drain();
            for r in s.e.routes() {
                prop_assert!(r.metric <= 32, "{r:?}");
            }
        }
        // The next full report: everything learned from 192.0.2.2 goes back poisoned.
        let learned: BTreeMap<Ipv4Net, u8> = s
            .e
            .routes()
            .filter(|r| r.gateway == Some(ip("192.0.2.2")))
            .map(|r| (r.origin, r.metric))
            .collect();
        // Keep the neighbour alive for a full report period and collect what goes out.
        let last = steps.len() as u64 * 5;
        let mut sent = Vec::new();
        for t in (last + 10..=last + 70).step_by(10) {
            s.probe(t);
            sent.extend(s.drain());
        }
        let mut checked = 0;
        for tx in sent {
            if tx.vif() != Some(VifId(0)) {
                continue;
            }
            if let Body::Report { routes } = Repr::parse(&tx.payload).unwrap().body {
                for r in routes {
                    if let Some(m) = learned.get(&r.origin) {
                        checked += 1;
                        prop_assert!(r.metric >= 32, "{:?} reported back unpoisoned ({m})", r.origin);
                        if *m < 32 {
                            prop_assert_eq!(r.metric, m + 32);
                        }
                    }
                }
            }
        }
        let reachable = learned.values().filter(|m| **m < 32).count();
        prop_assert!(checked >= reachable, "only {checked} of {reachable} learned routes reported back");
    }
}

/// A report of `n` made-up /24 origins under 10.0.0.0/8 starting at `from`.
fn many_routes(from: u32, n: u32, metric: u8) -> Body {
    Body::Report {
        routes: (from..from + n)
            .map(|i| wire::dvmrp::ReportRoute {
                origin: Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + (i << 8)), 24).unwrap(),
                metric,
            })
            .collect(),
    }
}

#[test]
fn refreshes_never_leave_stale_timers() {
    let mut s = Solo::new();
    s.probe(0);
    // 300 routes refreshed every second for 100 s (a neighbour repeating itself).
    for t in 1..=100 {
        s.feed(t, many_routes(0, 300, 3));
        if t % 10 == 0 {
            s.probe(t);
        }
        s.drain();
    }
    assert_eq!(s.e.route_count(), 302);
    // No timer entry per route at all (their deadlines live in the routes): one for the
    // neighbour, the probes, the report and the flash at most.
    assert!(
        s.e.timer_entries() <= 1 + 2 + 2,
        "{} timer entries",
        s.e.timer_entries()
    );
    // The neighbour goes quiet: routes expire, are held down, then deleted, and every
    // index shrinks with them.
    for t in (110..=400).step_by(10) {
        s.e.handle_timeout(s.t(t));
        s.drain();
    }
    assert_eq!(s.e.route_count(), 2);
    assert!(s.e.timer_entries() <= 2 + 2, "{}", s.e.timer_entries());
}

#[test]
fn route_caps_per_neighbor_and_in_total() {
    let mut s = Solo::new();
    s.e = Engine::new(Config {
        max_routes: 150,
        max_routes_per_neighbor: 100,
        ..Config::default()
    });
    for (v, local, subnet) in [
        (0, "192.0.2.1", "192.0.2.0/24"),
        (1, "198.51.100.1", "198.51.100.0/24"),
    ] {
        s.e.add_vif(VifConfig::new(VifId(v), ip(local), net(subnet)))
            .unwrap();
        s.e.interface_up(s.t0, VifId(v));
    }
    s.probe(0);
    s.feed(1, many_routes(0, 300, 3));
    // 2 local routes + 100 from the neighbour; the other 200 are counted, not stored.
    assert_eq!(s.e.route_count(), 102);
    assert_eq!(s.e.stats().route_limit, 200);
    // Refreshing the routes it has is not refused.
    s.feed(2, many_routes(0, 100, 3));
    assert_eq!(s.e.stats().route_limit, 200);
    // A second neighbour on the other VIF fills the table to its total cap.
    let probe = Repr::new(Body::Probe {
        generation_id: 9,
        neighbors: vec![ip("198.51.100.1")],
    })
    .to_bytes()
    .unwrap();
    s.e.handle_packet(s.t(3), VifId(1), ip("198.51.100.2"), &probe);
    let rep = Repr::new(many_routes(1000, 80, 3)).to_bytes().unwrap();
    s.e.handle_packet(s.t(3), VifId(1), ip("198.51.100.2"), &rep);
    assert_eq!(s.e.route_count(), 150);
    assert_eq!(s.e.stats().route_limit, 200 + 32);
}

#[test]
fn probe_storm_is_capped() {
    let mut s = Solo::new();
    s.e = Engine::new(Config {
        max_neighbors_per_vif: 10,
        ..Config::default()
    });
    s.e.add_vif(VifConfig::new(
        VifId(0),
        ip("192.0.2.1"),
        net("192.0.2.0/24"),
    ))
    .unwrap();
    s.e.interface_up(s.t0, VifId(0));
    for i in 2..200u8 {
        let probe = Repr::new(Body::Probe {
            generation_id: u32::from(i),
            neighbors: vec![],
        })
        .to_bytes()
        .unwrap();
        s.e.handle_packet(s.t(1), VifId(0), Ipv4Addr::new(192, 0, 2, i), &probe);
    }
    assert_eq!(s.e.neighbors().count(), 10);
    assert_eq!(s.e.stats().neighbor_limit, 188);
}

#[test]
fn other_major_versions_are_counted_never_fatal() {
    // mrouted 4.6 crashes on some of these; we count and drop them, whatever the code.
    let mut s = Solo::new();
    s.probe(0);
    let bodies = [
        Body::Probe {
            generation_id: 1,
            neighbors: vec![ip("192.0.2.1")],
        },
        report(&[("203.0.113.0/24", 1)]),
        Body::AskNeighbors2,
        Body::Prune {
            source: ip("198.51.100.9"),
            group: G,
            lifetime: 10,
            source_prefix: None,
        },
        Body::Graft {
            source: ip("198.51.100.9"),
            group: G,
            source_prefix: None,
        },
    ];
    let mut n = 0;
    for major in [0u8, 1, 2, 4, 255] {
        for minor in [0u8, 1, 255] {
            for b in &bodies {
                let mut r = Repr::new(b.clone());
                r.major = major;
                r.minor = minor;
                let bytes = r.to_bytes().unwrap();
                s.e.handle_packet(s.t(1), VifId(0), ip("192.0.2.2"), &bytes);
                // Truncated after the header as well.
                let mut short = bytes[..8.min(bytes.len())].to_vec();
                crate::wire::fill_checksum(&mut short);
                s.e.handle_packet(s.t(1), VifId(0), ip("192.0.2.2"), &short);
                n += 1;
            }
        }
    }
    let st = *s.e.stats();
    assert!(st.bad_version >= n, "{st:?}");
    assert_eq!(st.bad_version + st.malformed, 2 * n, "{st:?}");
    assert!(s.e.route(net("203.0.113.0/24")).is_none());
}

// ---- mrouted's rules (issue 17) ---------------------------------------------------------------

const UP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const DOWN: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

impl Solo {
    /// VIF 0 (192.0.2.1/24, downstream side) and VIF 1 (198.51.100.1/24, upstream side),
    /// with their settings changed by `f0` and `f1`.
    fn with(f0: impl Fn(&mut VifConfig), f1: impl Fn(&mut VifConfig)) -> Solo {
        let t0 = Instant::now();
        let mut e = Engine::new(Config::default());
        let mut c0 = VifConfig::new(VifId(0), ip("192.0.2.1"), net("192.0.2.0/24"));
        f0(&mut c0);
        let mut c1 = VifConfig::new(VifId(1), ip("198.51.100.1"), net("198.51.100.0/24"));
        f1(&mut c1);
        e.add_vif(c0).unwrap();
        e.add_vif(c1).unwrap();
        e.interface_up(t0, VifId(0));
        e.interface_up(t0, VifId(1));
        Solo { e, t0 }
    }

    fn from(&mut self, s: u64, vif: VifId, src: Ipv4Addr, body: Body) {
        let bytes = Repr::new(body).to_bytes().unwrap();
        let t = self.t(s);
        self.e.handle_timeout(t);
        self.e.handle_packet(t, vif, src, &bytes);
    }

    /// The upstream neighbour 198.51.100.2 on VIF 1 probes (listing us) and reports
    /// 203.0.113.0/24 at metric 1.
    fn upstream(&mut self, s: u64) {
        self.from(
            s,
            VifId(1),
            UP,
            Body::Probe {
                generation_id: 9,
                neighbors: vec![ip("198.51.100.1")],
            },
        );
        self.from(s, VifId(1), UP, report(&[("203.0.113.0/24", 1)]));
    }

    fn sent(&mut self) -> Vec<(Transmit, Body)> {
        self.drain()
            .into_iter()
            .map(|t| {
                let b = Repr::parse(&t.payload).unwrap().body;
                (t, b)
            })
            .collect()
    }

    fn mfc_actions(&mut self) -> Vec<MfcAction> {
        std::iter::from_fn(|| self.e.poll_mfc()).collect()
    }
}

fn prunes_in(sent: &[(Transmit, Body)]) -> Vec<(Ipv4Addr, Ipv4Addr, u32, Option<u8>)> {
    sent.iter()
        .filter_map(|(t, b)| match b {
            Body::Prune {
                source,
                lifetime,
                source_prefix,
                ..
            } => Some((t.dst_v4().unwrap(), *source, *lifetime, *source_prefix)),
            _ => None,
        })
        .collect()
}

const SRC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 5);

#[test]
fn prune_names_the_origin_with_its_mask_and_a_jittered_lifetime() {
    let mut s = Solo::new();
    s.upstream(0);
    s.drain();
    // No member, no downstream router: the first packet is pruned upstream.
    let t = s.t(1);
    s.e.handle_data(t, VifId(1), SRC, G);
    let p = prunes_in(&s.sent());
    assert_eq!(p.len(), 1);
    let (dst, source, lifetime, mask) = p[0];
    assert_eq!((dst, source, mask), (UP, ip("203.0.113.0"), Some(24)));
    assert!((3600..10800).contains(&lifetime), "{lifetime}");
    assert_eq!(s.e.stats().prunes_sent, 1);
}

#[test]
fn prune_lifetime_of_the_interface_is_honoured() {
    // prune-lifetime 300 on the upstream VIF: [150, 450).
    let mut lifetimes = BTreeSet::new();
    for seed in 0..20u32 {
        let t0 = Instant::now();
        let mut e = Engine::new(Config {
            generation_id: seed,
            ..Config::default()
        });
        e.add_vif(VifConfig::new(
            VifId(0),
            ip("192.0.2.1"),
            net("192.0.2.0/24"),
        ))
        .unwrap();
        let mut up = VifConfig::new(VifId(1), ip("198.51.100.1"), net("198.51.100.0/24"));
        up.prune_lifetime = Some(Duration::from_secs(300));
        e.add_vif(up).unwrap();
        e.interface_up(t0, VifId(0));
        e.interface_up(t0, VifId(1));
        let mut s = Solo { e, t0 };
        s.upstream(0);
        s.drain();
        let t = s.t(1);
        s.e.handle_data(t, VifId(1), SRC, G);
        for (_, _, l, _) in prunes_in(&s.sent()) {
            assert!((150..450).contains(&l), "{l}");
            lifetimes.insert(l);
        }
    }
    assert!(lifetimes.len() > 5, "jittered: {lifetimes:?}");
}

/// A downstream neighbour on VIF 0 that depends on us for 203.0.113.0/24, and a flow of
/// SRC to G forwarded to it.
fn solo_with_downstream(f0: impl Fn(&mut VifConfig), f1: impl Fn(&mut VifConfig)) -> Solo {
    let mut s = Solo::with(f0, f1);
    s.upstream(0);
    s.probe(0);
    s.feed(0, report(&[("203.0.113.0/24", 34)]));
    let t = s.t(0);
    s.e.handle_data(t, VifId(1), SRC, G);
    assert!(s.e.flow(SRC, G).unwrap().oifs.contains(0));
    s.drain();
    s
}

fn prune(lifetime: u32) -> Body {
    Body::Prune {
        source: SRC,
        group: G,
        lifetime,
        source_prefix: None,
    }
}

#[test]
fn prunes_of_five_seconds_or_less_are_ignored() {
    let mut s = solo_with_downstream(|_| {}, |_| {});
    s.feed(1, prune(5));
    assert_eq!(s.e.stats().prunes_too_short, 1);
    assert!(s.e.flow(SRC, G).unwrap().oifs.contains(0));
    s.feed(1, prune(6));
    assert!(s.e.flow(SRC, G).unwrap().oifs.is_empty());
    assert_eq!(s.e.stats().prunes, 1);
}

#[test]
fn prunes_from_a_router_that_is_not_a_child_are_ignored() {
    let mut s = solo_with_downstream(|_| {}, |_| {});
    // The upstream router prunes us on the parent VIF: not a child.
    s.from(1, VifId(1), UP, prune(100));
    assert_eq!(s.e.stats().prunes_not_child, 1);
    assert!(s.e.flow(SRC, G).unwrap().oifs.contains(0));
    // A third router on VIF 0 offers a better metric: it is the designated forwarder there,
    // so VIF 0 is no longer our child, and a prune from there is not ours to take.
    let other = ip("192.0.2.3");
    s.from(
        2,
        VifId(0),
        other,
        Body::Probe {
            generation_id: 3,
            neighbors: vec![ip("192.0.2.1")],
        },
    );
    s.from(2, VifId(0), other, report(&[("203.0.113.0/24", 1)]));
    s.feed(3, prune(100));
    assert_eq!(s.e.stats().prunes_not_child, 2);
}

#[test]
fn prunes_for_a_scoped_group_are_ignored() {
    let scoped = ip("239.1.1.1");
    let mut s = Solo::with(|c| c.boundaries = vec![net("239.1.0.0/16")], |_| {});
    s.upstream(0);
    s.probe(0);
    s.feed(0, report(&[("203.0.113.0/24", 34)]));
    let t = s.t(0);
    s.e.handle_data(t, VifId(1), SRC, scoped);
    s.feed(
        1,
        Body::Prune {
            source: SRC,
            group: scoped,
            lifetime: 100,
            source_prefix: None,
        },
    );
    assert_eq!(s.e.stats().prunes_scoped, 1);
}

#[test]
fn lost_prunes_are_retransmitted_on_rexmit_prunes_vifs() {
    for rexmit in [false, true] {
        let mut s = Solo::with(|_| {}, |c| c.rexmit_prunes = rexmit);
        s.upstream(0);
        s.drain();
        let t = s.t(1);
        s.e.handle_data(t, VifId(1), SRC, G);
        let first = prunes_in(&s.sent());
        assert_eq!(first.len(), 1);
        s.mfc_actions();
        // A few seconds later the engine looks again (mrouted: a jittered 3 s): with
        // rexmit-prunes it takes the kernel entry out, so that traffic still coming upcalls.
        s.e.handle_timeout(s.t(6));
        let removed = s
            .mfc_actions()
            .iter()
            .any(|a| matches!(a, MfcAction::Remove { source, .. } if *source == SRC));
        assert_eq!(removed, rexmit, "rexmit {rexmit}");
        // Traffic still comes (the upstream router never got our prune).
        let t = s.t(7);
        s.e.handle_data(t, VifId(1), SRC, G);
        let again = prunes_in(&s.sent());
        if rexmit {
            assert_eq!(again.len(), 1, "retransmitted");
            // With what is left of the lifetime.
            assert!(again[0].2 <= first[0].2 - 5 && again[0].2 >= first[0].2 - 7);
            assert_eq!(s.e.stats().prunes_retransmitted, 1);
        } else {
            assert!(again.is_empty());
        }
    }
}

#[test]
fn grafts_are_acknowledged_from_any_router() {
    let mut s = Solo::new();
    let stranger = ip("192.0.2.77");
    s.from(
        1,
        VifId(0),
        stranger,
        Body::Graft {
            source: ip("203.0.113.0"),
            group: G,
            source_prefix: None,
        },
    );
    let acks: Vec<_> = s
        .sent()
        .into_iter()
        .filter(|(_, b)| matches!(b, Body::GraftAck { .. }))
        .map(|(t, _)| t.dst_v4().unwrap())
        .collect();
    assert_eq!(acks, vec![stranger]);
    assert_eq!(s.e.stats().grafts_from_strangers, 1);
}

#[test]
fn downstream_routers_are_flooded_until_they_fail_to_confirm() {
    for noflood in [false, true] {
        let mut s = Solo::with(|c| c.noflood = noflood, |_| {});
        s.upstream(0);
        // A two-way router on VIF 0 that never poison-reverses anything.
        s.probe(0);
        let t = s.t(1);
        s.e.handle_data(t, VifId(1), SRC, G);
        let forwarded = s.e.flow(SRC, G).unwrap().oifs.contains(0);
        assert_eq!(forwarded, !noflood, "noflood {noflood}");
        // Two report intervals without confirmation: it is dropped.
        for t in (10..=250).step_by(10) {
            s.probe(t);
            s.upstream(t);
            s.e.handle_data(s.t(t), VifId(1), SRC, G);
        }
        assert!(s.e.flow(SRC, G).unwrap().oifs.is_empty());
        assert!(s
            .e
            .route(net("203.0.113.0/24"))
            .unwrap()
            .dependents
            .is_empty());
    }
    // One that confirms by poison reverse stays a dependent.
    let mut s = Solo::new();
    s.upstream(0);
    for t in (0..=250).step_by(10) {
        s.probe(t);
        s.upstream(t);
        s.feed(t, report(&[("203.0.113.0/24", 34)]));
    }
    assert_eq!(
        s.e.route(net("203.0.113.0/24")).unwrap().dependents,
        vec![(VifId(0), DOWN)]
    );
}

#[test]
fn full_reports_are_paced_across_the_interval() {
    let mut s = Solo::new();
    s.probe(0);
    // Upstream teaches us 10,000 routes.
    s.from(
        0,
        VifId(1),
        UP,
        Body::Probe {
            generation_id: 9,
            neighbors: vec![ip("198.51.100.1")],
        },
    );
    let routes: Vec<String> = (0..10_000u32)
        .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
        .collect();
    for chunk in routes.chunks(50) {
        let r: Vec<(&str, u8)> = chunk.iter().map(|o| (o.as_str(), 1)).collect();
        s.from(0, VifId(1), UP, report(&r));
    }
    s.drain();
    // Let the flash updates and the first cycle pass, then watch one whole cycle.
    let up_probe = Body::Probe {
        generation_id: 9,
        neighbors: vec![ip("198.51.100.1")],
    };
    for t in 1..=120 {
        s.probe(t);
        s.from(t, VifId(1), UP, up_probe.clone());
    }
    s.drain();
    let mut per_second = Vec::new();
    let mut seen: BTreeMap<Ipv4Net, u32> = BTreeMap::new();
    for t in 121..=180 {
        s.probe(t);
        s.from(t, VifId(1), UP, up_probe.clone());
        let mut n = 0;
        for (tx, b) in s.sent() {
            if tx.vif().unwrap() != VifId(0) || tx.dst_v4().unwrap() != wire::ALL_DVMRP_ROUTERS {
                continue;
            }
            if let Body::Report { routes } = b {
                n += 1;
                for r in routes {
                    *seen.entry(r.origin).or_default() += 1;
                }
            }
        }
        per_second.push(n);
    }
    // Every route went out in the minute, and no second carried more than a few messages
    // (10,003 routes / 60 s: about 167 routes, 3 chunks a second).
    assert!(seen.len() >= 10_000, "{}", seen.len());
    assert!(per_second.iter().all(|&n| n <= 6), "{per_second:?}");
    assert!(
        per_second.iter().filter(|&&n| n > 0).count() >= 50,
        "{per_second:?}"
    );
}

#[test]
fn equal_metric_gateway_takes_over_after_140s_without_refresh() {
    let mut s = Solo::new();
    let a = ip("192.0.2.2");
    let b = ip("192.0.2.3");
    for n in [a, b] {
        s.from(
            0,
            VifId(0),
            n,
            Body::Probe {
                generation_id: 4,
                neighbors: vec![ip("192.0.2.1")],
            },
        );
    }
    s.from(0, VifId(0), a, report(&[("203.0.113.0/24", 3)]));
    // b reports the same metric: a keeps it (lower address).
    for t in (10..=130).step_by(10) {
        for n in [a, b] {
            s.from(
                t,
                VifId(0),
                n,
                Body::Probe {
                    generation_id: 4,
                    neighbors: vec![ip("192.0.2.1")],
                },
            );
        }
        s.from(t, VifId(0), b, report(&[("203.0.113.0/24", 3)]));
        assert_eq!(
            s.e.route(net("203.0.113.0/24")).unwrap().gateway,
            Some(a),
            "at {t}"
        );
    }
    // a has been silent about it for 140 s: b takes over at its next report.
    s.from(141, VifId(0), b, report(&[("203.0.113.0/24", 3)]));
    assert_eq!(s.e.route(net("203.0.113.0/24")).unwrap().gateway, Some(b));
}

#[test]
fn a_probe_that_omits_us_is_forgiven_for_20s() {
    let mut s = Solo::new();
    s.probe(0);
    let omit = Body::Probe {
        generation_id: 7,
        neighbors: vec![],
    };
    s.feed(10, omit.clone());
    assert!(s.e.neighbors().all(|n| n.two_way), "10 s after it appeared");
    s.feed(21, omit);
    assert!(
        s.e.neighbors().all(|n| !n.two_way),
        "21 s after it appeared"
    );
}

#[test]
fn a_version_change_is_a_restart() {
    let mut s = Solo::new();
    s.probe(0);
    let bytes = Repr {
        capabilities: wire::dvmrp::Capabilities::MROUTED,
        minor: 6,
        major: 3,
        body: Body::Probe {
            generation_id: 7,
            neighbors: vec![ip("192.0.2.1")],
        },
    }
    .to_bytes()
    .unwrap();
    let t = s.t(5);
    s.e.handle_packet(t, VifId(0), DOWN, &bytes);
    assert_eq!(s.e.stats().neighbor_restarts, 1);
}

#[test]
fn an_active_flow_survives_its_cache_lifetime_and_an_idle_one_goes() {
    let mut net = line(2);
    net.run_until(15);
    // A member behind B.
    let (now, v) = (net.now, net.vif(1, 1));
    net.nodes[1].engine.local_membership(now, v, G, true);
    let src = ip("198.18.0.10");
    // A packet every 10 s for 1000 s: more than three cache lifetimes.
    for t in (20..=1000).step_by(10) {
        net.run_until(t);
        assert!(net.send_data(0, 0, src, G).contains(&1), "at {t}");
    }
    for n in 0..2 {
        assert_eq!(
            net.nodes[n].installs[&(src, G)],
            1,
            "router {n} reinstalled"
        );
        assert!(net.nodes[n].engine.stats().flows_kept_active >= 3);
    }
    // Traffic stops: within two lifetimes (the counter moved in the first), it is gone.
    net.run_until(1000 + 2 * 300 + 10);
    assert!(net.mfc(0, src, G).is_none());
    assert!(net.nodes[0].engine.flow(src, G).is_none());
}

#[test]
fn counters_never_answered_count_as_idle() {
    let mut s = Solo::new();
    s.probe(0);
    s.feed(0, report(&[("203.0.113.0/24", 34)]));
    s.upstream(0);
    let t = s.t(1);
    s.e.handle_data(t, VifId(1), SRC, G);
    s.mfc_actions();
    for t in (10..=300).step_by(10) {
        s.probe(t);
        s.feed(t, report(&[("203.0.113.0/24", 34)]));
        s.upstream(t);
    }
    s.mfc_actions();
    s.e.handle_timeout(s.t(302));
    assert!(s
        .mfc_actions()
        .iter()
        .any(|a| matches!(a, MfcAction::CheckCounters { .. })));
    // No answer: at the end of the next lifetime the flow goes.
    for t in (310..=610).step_by(10) {
        s.probe(t);
        s.feed(t, report(&[("203.0.113.0/24", 34)]));
        s.upstream(t);
    }
    assert!(s.e.flow(SRC, G).is_none());
}

#[test]
fn advert_metric_is_added_to_what_we_report() {
    let mut s = Solo::with(|c| c.advert_metric = 5, |_| {});
    s.upstream(0);
    s.probe(0);
    let mut seen = BTreeMap::new();
    for t in (0..=60).step_by(10) {
        s.probe(t);
        s.upstream(t);
        for (tx, b) in s.sent() {
            if let Body::Report { routes } = b {
                for r in routes {
                    seen.insert((tx.vif().unwrap(), r.origin), r.metric);
                }
            }
        }
    }
    // Learnt at 2 (1 + the VIF metric), reported at 2 + 5 on VIF 0.
    assert_eq!(seen.get(&(VifId(0), net("203.0.113.0/24"))), Some(&7));
    assert_eq!(seen.get(&(VifId(0), net("198.51.100.0/24"))), Some(&6));
}

#[test]
fn notransit_vifs_carry_no_transit_between_them() {
    let mut s = Solo::with(|c| c.notransit = true, |c| c.notransit = true);
    s.upstream(0);
    s.probe(0);
    let mut seen = BTreeMap::new();
    for t in (0..=60).step_by(10) {
        s.probe(t);
        s.upstream(t);
        s.feed(t, report(&[("203.0.113.0/24", 34)]));
        for (tx, b) in s.sent() {
            if let Body::Report { routes } = b {
                for r in routes {
                    seen.insert((tx.vif().unwrap(), r.origin), r.metric);
                }
            }
        }
    }
    // Learnt on notransit VIF 1, reported unreachable on notransit VIF 0...
    assert_eq!(
        seen.get(&(VifId(0), net("203.0.113.0/24"))),
        Some(&INFINITY)
    );
    // ...and the router there is no dependent, poison reverse or not.
    assert!(s
        .e
        .route(net("203.0.113.0/24"))
        .unwrap()
        .dependents
        .is_empty());
    // Local subnets still go.
    assert_eq!(seen.get(&(VifId(0), net("198.51.100.0/24"))), Some(&1));
}

#[test]
fn deny_and_accept_filters_with_exact_and_bidir() {
    let filter = |accept, routes: &[(&str, bool)], bidir| RouteFilter {
        accept,
        routes: routes.iter().map(|(r, e)| (net(r), *e)).collect(),
        bidir,
    };
    // deny 203.0.113.0/24: the route is taken as unreachable.
    let mut s = Solo::with(
        |_| {},
        |c| c.filter = Some(filter(false, &[("203.0.113.0/24", false)], false)),
    );
    s.upstream(0);
    assert!(s.e.route(net("203.0.113.0/24")).is_none());
    assert_eq!(s.e.stats().routes_filtered, 1);
    // deny 203.0.0.0/16 (not exact) covers it; exact does not.
    let mut s = Solo::with(
        |_| {},
        |c| c.filter = Some(filter(false, &[("203.0.0.0/16", false)], false)),
    );
    s.upstream(0);
    assert!(s.e.route(net("203.0.113.0/24")).is_none());
    let mut s = Solo::with(
        |_| {},
        |c| c.filter = Some(filter(false, &[("203.0.0.0/16", true)], false)),
    );
    s.upstream(0);
    assert!(s.e.route(net("203.0.113.0/24")).is_some());
    // accept only 198.18.0.0/15: the route is not in it.
    let mut s = Solo::with(
        |_| {},
        |c| c.filter = Some(filter(true, &[("198.18.0.0/15", false)], false)),
    );
    s.upstream(0);
    assert!(s.e.route(net("203.0.113.0/24")).is_none());
    // bidir deny on VIF 0: learnt on VIF 1, but not reported on VIF 0.
    let mut s = Solo::with(
        |c| c.filter = Some(filter(false, &[("203.0.113.0/24", true)], true)),
        |_| {},
    );
    s.upstream(0);
    s.probe(0);
    let mut reported = BTreeSet::new();
    for t in (0..=60).step_by(10) {
        s.probe(t);
        s.upstream(t);
        for (tx, b) in s.sent() {
            if let (VifId(0), Body::Report { routes }) = (tx.vif().unwrap(), b) {
                reported.extend(routes.iter().map(|r| r.origin));
            }
        }
    }
    assert!(s.e.route(net("203.0.113.0/24")).is_some());
    assert!(!reported.contains(&net("203.0.113.0/24")));
    assert!(reported.contains(&net("198.51.100.0/24")));
}

#[test]
fn force_leaf_ignores_routers_and_sends_no_probes() {
    let mut s = Solo::with(|c| c.force_leaf = true, |_| {});
    assert!(!s.sent().iter().any(|(t, _)| t.vif().unwrap() == VifId(0)));
    s.probe(1);
    s.feed(1, report(&[("192.0.2.128/25", 1)]));
    assert_eq!(s.e.neighbors().count(), 0);
    assert!(s.e.stats().force_leaf_ignored >= 2);
    s.e.handle_timeout(s.t(30));
    assert!(!s.sent().iter().any(|(t, _)| t.vif().unwrap() == VifId(0)));
}

#[test]
fn passive_waits_until_the_other_end_is_heard() {
    let mut s = Solo::with(|c| c.passive = true, |_| {});
    let probes_on_0 = |s: &mut Solo| {
        s.sent()
            .iter()
            .filter(|(t, b)| t.vif().unwrap() == VifId(0) && matches!(b, Body::Probe { .. }))
            .count()
    };
    assert_eq!(probes_on_0(&mut s), 0);
    s.e.handle_timeout(s.t(25));
    assert_eq!(probes_on_0(&mut s), 0, "quiet while alone");
    // The other end speaks: we answer, and the adjacency comes up.
    s.feed(
        26,
        Body::Probe {
            generation_id: 7,
            neighbors: vec![],
        },
    );
    assert_eq!(probes_on_0(&mut s), 1);
    s.probe(27);
    assert!(s.e.neighbors().all(|n| n.two_way));
    s.e.handle_timeout(s.t(40));
    assert!(probes_on_0(&mut s) >= 1);
}

#[test]
fn routers_that_cannot_prune_are_not_peered_with_unless_allowed() {
    for allow in [false, true] {
        let mut s = Solo::with(|c| c.allow_nonpruners = allow, |_| {});
        let bytes = Repr {
            capabilities: wire::dvmrp::Capabilities::GENID,
            minor: 0xff,
            major: 3,
            body: Body::Probe {
                generation_id: 7,
                neighbors: vec![ip("192.0.2.1")],
            },
        }
        .to_bytes()
        .unwrap();
        let t = s.t(1);
        s.e.handle_packet(t, VifId(0), DOWN, &bytes);
        s.feed(2, report(&[("192.0.2.128/25", 1)]));
        assert_eq!(
            s.e.route(net("192.0.2.128/25")).is_some(),
            allow,
            "allow-nonpruners {allow}"
        );
    }
}

#[test]
fn blaster_reports_wait_and_are_taken_five_a_second() {
    let mut s = Solo::with(|c| c.blaster = true, |_| {});
    s.probe(0);
    for i in 0..12u8 {
        let o = format!("192.0.2.{}/32", 128 + i);
        s.feed(0, report(&[(o.as_str(), 1)]));
    }
    assert_eq!(s.e.stats().blaster_queued, 12);
    assert_eq!(s.e.route_count(), 2);
    s.e.handle_timeout(s.t(5));
    assert_eq!(s.e.route_count(), 2 + 5);
    s.e.handle_timeout(s.t(6));
    assert_eq!(s.e.route_count(), 2 + 10);
    s.e.handle_timeout(s.t(7));
    assert_eq!(s.e.route_count(), 2 + 12);
}

#[test]
fn threshold_255_is_taken() {
    let mut e = Engine::new(Config::default());
    let mut c = VifConfig::new(VifId(0), ip("192.0.2.1"), net("192.0.2.0/24"));
    c.threshold = 255;
    e.add_vif(c).unwrap();
    let mut c = VifConfig::new(VifId(1), ip("198.51.100.1"), net("198.51.100.0/24"));
    c.threshold = 0;
    assert!(e.add_vif(c).is_err());
}

#[test]
fn mrinfo_answer_lists_every_vif_with_querier_and_leaf_flags() {
    let mut s = Solo::new();
    s.probe(0);
    s.e.set_querier(VifId(1), true);
    s.drain();
    s.from(1, VifId(0), ip("192.0.2.99"), Body::AskNeighbors2);
    let replies: Vec<_> = s
        .sent()
        .into_iter()
        .filter_map(|(t, b)| match b {
            Body::Neighbors2 { blocks } => Some((t.dst_v4().unwrap(), blocks)),
            _ => None,
        })
        .collect();
    assert_eq!(replies.len(), 1);
    let (dst, blocks) = &replies[0];
    assert_eq!(*dst, ip("192.0.2.99"));
    assert_eq!(blocks.len(), 2);
    use wire::dvmrp::neighbor_flags as nf;
    assert_eq!(blocks[0].neighbors, vec![DOWN]);
    assert_eq!(blocks[0].flags & (nf::LEAF | nf::QUERIER), 0);
    // The leaf VIF is listed with neighbour 0.0.0.0, as mrinfo shows "(local)".
    assert_eq!(blocks[1].local, ip("198.51.100.1"));
    assert_eq!(blocks[1].neighbors, vec![Ipv4Addr::UNSPECIFIED]);
    assert_eq!(
        blocks[1].flags & (nf::LEAF | nf::QUERIER),
        nf::LEAF | nf::QUERIER
    );
}

#[test]
fn mtrace_goes_hop_by_hop_to_the_source_and_back_to_the_requester() {
    use crate::wire::mtrace::{self as mt, fwd};
    let mut net = line(3);
    net.run_until(30);
    let receiver = ip("198.18.2.100");
    let source = ip("198.18.0.10");
    let mut q = mt::Query {
        msg_type: mt::TYPE_QUERY,
        max_hops: 32,
        group: G,
        source,
        destination: receiver,
        response_addr: receiver,
        ttl_qid: 0,
    };
    q.set_ttl_qid(64, 0x12345);
    let query = mt::Repr {
        query: q,
        blocks: Vec::new(),
    }
    .to_bytes()
    .unwrap();
    // The last hop (C) hears it on its stub, multicast to all routers.
    let c = net.nodes[2]
        .engine
        .handle_mtrace(receiver, ip("224.0.0.2"), &query)
        .expect("C answers");
    assert_eq!(c.message.query.msg_type, mt::TYPE_QUERY);
    assert_eq!(c.dst, net.addr(1, 4), "on to B");
    assert_eq!(c.src, net.addr(2, 4));
    // The same query again (another copy): ignored.
    assert!(net.nodes[2]
        .engine
        .handle_mtrace(receiver, ip("224.0.0.2"), &query)
        .is_none());
    // B, then A.
    let bytes = c.message.to_bytes().unwrap();
    let b = net.nodes[1]
        .engine
        .handle_mtrace(c.src, c.dst, &bytes)
        .unwrap();
    assert_eq!(b.dst, net.addr(0, 3), "on to A");
    let bytes = b.message.to_bytes().unwrap();
    let a = net.nodes[0]
        .engine
        .handle_mtrace(b.src, b.dst, &bytes)
        .unwrap();
    assert_eq!(a.message.query.msg_type, mt::TYPE_RESPONSE);
    assert_eq!(a.dst, receiver);
    let hops: Vec<(Ipv4Addr, Ipv4Addr, Ipv4Addr, u8)> = a
        .message
        .blocks
        .iter()
        .map(|b| (b.in_addr, b.out_addr, b.prev_hop, b.fwd_code))
        .collect();
    assert_eq!(
        hops,
        vec![
            (
                net.addr(2, 4),
                net.addr(2, 2),
                net.addr(1, 4),
                fwd::NO_ERROR
            ),
            (
                net.addr(1, 3),
                net.addr(1, 4),
                net.addr(0, 3),
                fwd::NO_ERROR
            ),
            (
                net.addr(0, 0),
                net.addr(0, 3),
                Ipv4Addr::UNSPECIFIED,
                fwd::NO_ERROR
            ),
        ]
    );
    assert!(a
        .message
        .blocks
        .iter()
        .all(|b| b.src_mask == 24 && b.protocol == mt::PROTO_DVMRP));
    assert_eq!(a.counters.in_vif, Some(net.vif(0, 0)));
    assert_eq!(a.counters.out_vif, Some(net.vif(0, 3)));
    // No route to the source: the first router answers at once with NO_ROUTE.
    q.source = ip("203.0.113.1");
    q.set_ttl_qid(64, 0x777);
    let bytes = mt::Repr {
        query: q,
        blocks: Vec::new(),
    }
    .to_bytes()
    .unwrap();
    let c_stub = net.addr(2, 2);
    let r = net.nodes[2]
        .engine
        .handle_mtrace(receiver, c_stub, &bytes)
        .unwrap();
    assert_eq!(r.message.query.msg_type, mt::TYPE_RESPONSE);
    assert_eq!(r.message.blocks[0].fwd_code, fwd::NO_ROUTE);
    // Garbage is counted, not answered.
    assert!(net.nodes[2]
        .engine
        .handle_mtrace(receiver, c_stub, &[0x1f; 30])
        .is_none());
    assert!(net.nodes[2].engine.stats().mtrace_dropped >= 2);
}
