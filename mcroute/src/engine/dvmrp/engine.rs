//! The DVMRP engine: neighbours, routes, reverse path multicasting, prunes and grafts.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv4Addr;
use std::ops::Bound;
use std::time::{Duration, Instant};

use ipnet::Ipv4Net;

use super::table::{Phase, Route, RouteTable, Tick};
use super::*;
use crate::model::{OifSet, MAX_VIFS};
use crate::wire::dvmrp::{self as wire, Body, Capabilities, ReportRoute, Repr};
use crate::wire::upcall::{Upcall, UpcallKind};
use crate::wire::{WireError, ALL_DVMRP_ROUTERS};

#[derive(Debug, Clone)]
struct Neighbor {
    generation_id: u32,
    capabilities: Capabilities,
    version: (u8, u8),
    expires: Instant,
    two_way: bool,
    /// When it appeared or last restarted (mrouted's `al_ctime`): a probe that omits us
    /// within [`ONE_WAY_GRACE`] of it does not end the adjacency.
    since: Instant,
    /// `false` for a router we do not peer with: it cannot prune and the VIF has no
    /// `allow-nonpruners`.
    peer: bool,
    /// Flooded: a dependent for every route until the next [`DEPENDENT_CONFIRMATION`] tick,
    /// after which only the routes it poison-reverses count (mrouted route.c: a new
    /// neighbour is a subordinate for every route until it fails to confirm).
    flooded: bool,
}

#[derive(Debug)]
struct Vif {
    cfg: VifConfig,
    up: bool,
    neighbors: BTreeMap<Ipv4Addr, Neighbor>,
    /// Groups with local members (from the IGMP querier).
    members: BTreeSet<Ipv4Addr>,
    /// Reports from a `blaster` neighbour waiting to be taken: (sender, routes).
    blasted: VecDeque<(Ipv4Addr, Vec<ReportRoute>)>,
}

impl Vif {
    fn active(&self) -> bool {
        self.up && self.cfg.enabled
    }

    /// DVMRP messages are sent and taken here (a `passive` VIF too: it only holds its
    /// probes back until it hears a neighbour; a `force-leaf` VIF ignores every router).
    fn speaks_dvmrp(&self) -> bool {
        self.active() && !self.cfg.force_leaf
    }

    /// Probes go out: mrouted vif.c `send_probe_on_vif` holds them back on a `passive` VIF
    /// with no neighbour yet.
    fn may_probe(&self) -> bool {
        self.speaks_dvmrp() && !(self.cfg.passive && self.neighbors.is_empty())
    }

    /// The two-way neighbours we peer with.
    fn peers(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.neighbors
            .iter()
            .filter(|(_, n)| n.two_way && n.peer)
            .map(|(a, _)| *a)
    }

    fn is_peer(&self, addr: Ipv4Addr) -> bool {
        self.neighbors
            .get(&addr)
            .is_some_and(|n| n.two_way && n.peer)
    }

    fn scoped(&self, group: Ipv4Addr) -> bool {
        self.cfg.boundaries.iter().any(|b| b.contains(&group))
    }

    fn local_origins(&self) -> impl Iterator<Item = Ipv4Net> + '_ {
        std::iter::once(self.cfg.subnet.trunc()).chain(self.cfg.altnets.iter().map(|n| n.trunc()))
    }
}

#[derive(Debug, Clone)]
struct Graft {
    next: Instant,
    backoff: Duration,
}

/// A forwarding cache entry (S,G) (draft section 3.4).
#[derive(Debug, Clone)]
struct Flow {
    iif: VifId,
    gateway: Option<Ipv4Addr>,
    negative: bool,
    oifs: OifSet,
    installed: bool,
    expires: Instant,
    /// Prunes received from downstream neighbours: (VIF, neighbour) -> expiry.
    prunes: BTreeMap<(VifId, Ipv4Addr), Instant>,
    /// Expiry of the prune we sent upstream.
    pruned_upstream: Option<Instant>,
    graft: Option<Graft>,
    /// Its entry in the flow timer index.
    timer: Option<Instant>,
    /// When to look whether traffic still comes after our prune (`rexmit-prunes`).
    rexmit: Option<Instant>,
    /// The next prune retransmission back-off (mrouted's `gt_prune_rexmit`).
    prune_backoff: Duration,
    /// Taken out of the kernel on purpose (idle, or to catch traffic after a prune): put
    /// back by the next upcall, not by a recomputation.
    parked: bool,
    /// The kernel packet counter at the last check.
    packets: Option<u64>,
    /// A [`MfcAction::CheckCounters`] went out and is not answered yet.
    checking: bool,
}

impl Flow {
    /// The earliest time something about this flow needs attention.
    fn next_deadline(&self) -> Instant {
        let mut t = self.hold_until();
        for d in self
            .prunes
            .values()
            .copied()
            .chain(self.pruned_upstream)
            .chain(self.graft.as_ref().map(|g| g.next))
            .chain(self.rexmit)
        {
            t = t.min(d);
        }
        t
    }

    /// A flow lives while it is fresh or while prune state hangs on it (a pruned branch must
    /// be remembered to be grafted back).
    fn hold_until(&self) -> Instant {
        let mut t = self.expires;
        for d in self
            .prunes
            .values()
            .copied()
            .chain(self.pruned_upstream)
            .chain(self.graft.as_ref().map(|g| g.next))
        {
            t = t.max(d);
        }
        t
    }
}

/// The timers that exist once per VIF or once per engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Misc {
    Probe(VifId),
    ReportTick,
    Dependents,
    Blaster(VifId),
    Flash,
}

/// The next timer to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Misc(Misc),
    Neighbor(VifId, Ipv4Addr),
    /// Route deadlines passed: scan the table.
    Routes,
    Flow(Ipv4Addr, Ipv4Addr),
}

/// Route deadlines are checked at most this often (ms): one scan of the table a second at
/// most, however the deadlines are spread.
const ROUTE_SCAN_INTERVAL_MS: Tick = 1000;

/// The DVMRP protocol engine (sans-IO). See the [module documentation](super).
#[derive(Debug)]
pub struct Engine {
    config: Config,
    vifs: BTreeMap<VifId, Vif>,
    routes: RouteTable,
    flows: BTreeMap<(Ipv4Addr, Ipv4Addr), Flow>,
    /// group -> sources of its flows.
    by_group: BTreeMap<Ipv4Addr, BTreeSet<Ipv4Addr>>,
    /// Origins changed since the last flash or full report.
    changed: BTreeSet<Ipv4Net>,
    flash_scheduled: bool,
    last_flash: Option<Instant>,
    report_scheduled: bool,
    /// Timers: every index holds exactly one entry per object with a deadline (a new
    /// deadline moves the entry), so none grows beyond the objects it times. Route
    /// deadlines live in the routes themselves, in [`Tick`]s since `epoch`, found by a scan
    /// once the earliest has passed (no index entry per route at all).
    misc: BTreeMap<Misc, Instant>,
    neighbor_timers: BTreeSet<(Instant, VifId, Ipv4Addr)>,
    flow_timers: BTreeSet<(Instant, Ipv4Addr, Ipv4Addr)>,
    /// The first time the engine was given: route deadlines count from it.
    epoch: Option<Instant>,
    /// When the route table was last scanned for passed deadlines.
    last_route_scan: Option<Tick>,
    /// Whether the total route cap was logged since the table was last below it.
    route_cap_logged: bool,
    /// The paced full report: the next origin to send (`None`: from the start), the
    /// seconds into the interval, and the routes sent in it.
    report_cursor: Option<Ipv4Net>,
    report_second: u32,
    report_sent: usize,
    /// (origin, VIF, router) that poison-reversed the route since the last
    /// [`DEPENDENT_CONFIRMATION`] tick (mrouted's `rt_subordadv`).
    confirmed: BTreeSet<(Ipv4Net, VifId, Ipv4Addr)>,
    /// VIFs where our IGMP querier is the querier ([`Engine::set_querier`]), for mrinfo.
    querier_vifs: BTreeSet<VifId>,
    /// The response TTL and query id of the last mtrace query answered.
    last_mtrace_qid: Option<u32>,
    /// A small generator for the jitter of prune lifetimes (xorshift, seeded by the
    /// generation id: the engine stays deterministic for a given configuration).
    rng: u64,
    transmits: VecDeque<Transmit>,
    mfc: VecDeque<MfcAction>,
    stats: Stats,
}

fn sub(a: Instant, b: Instant) -> Duration {
    a.saturating_duration_since(b)
}

fn secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

/// Whether a reported origin can be a unicast subnet (not multicast, loopback or class E).
fn valid_origin(o: &Ipv4Net) -> bool {
    let a = o.addr();
    !(a.is_multicast() || a.is_loopback() || a.octets()[0] >= 240)
}

impl Engine {
    /// An engine with no VIFs.
    pub fn new(config: Config) -> Engine {
        let rng = u64::from(config.generation_id) ^ 0x9e37_79b9_7f4a_7c15;
        Engine {
            config,
            vifs: BTreeMap::new(),
            routes: RouteTable::default(),
            flows: BTreeMap::new(),
            by_group: BTreeMap::new(),
            changed: BTreeSet::new(),
            flash_scheduled: false,
            last_flash: None,
            report_scheduled: false,
            misc: BTreeMap::new(),
            neighbor_timers: BTreeSet::new(),
            flow_timers: BTreeSet::new(),
            epoch: None,
            last_route_scan: None,
            route_cap_logged: false,
            report_cursor: None,
            report_second: 0,
            report_sent: 0,
            confirmed: BTreeSet::new(),
            querier_vifs: BTreeSet::new(),
            last_mtrace_qid: None,
            rng,
            transmits: VecDeque::new(),
            mfc: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Adds a VIF, down: call [`Engine::interface_up`] to start DVMRP on it.
    pub fn add_vif(&mut self, cfg: VifConfig) -> Result<(), ConfigError> {
        if !(1..INFINITY).contains(&cfg.metric) {
            return Err(ConfigError::Metric(cfg.vif, cfg.metric));
        }
        if cfg.threshold == 0 {
            return Err(ConfigError::Threshold(cfg.vif, cfg.threshold));
        }
        if cfg.advert_metric >= INFINITY {
            return Err(ConfigError::AdvertMetric(cfg.vif, cfg.advert_metric));
        }
        if usize::from(cfg.vif.0) >= MAX_VIFS {
            return Err(ConfigError::OutOfRange(cfg.vif));
        }
        if self.vifs.contains_key(&cfg.vif) {
            return Err(ConfigError::Duplicate(cfg.vif));
        }
        self.vifs.insert(
            cfg.vif,
            Vif {
                cfg,
                up: false,
                neighbors: BTreeMap::new(),
                members: BTreeSet::new(),
                blasted: VecDeque::new(),
            },
        );
        Ok(())
    }

    /// The number of routes in the table (hold-down included).
    pub fn route_count(&self) -> usize {
        self.routes.len()
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Entries in every timer index (for tests: never more than the objects timed).
    #[cfg(test)]
    pub(crate) fn timer_entries(&self) -> usize {
        self.misc.len() + self.neighbor_timers.len() + self.flow_timers.len()
    }

    // ----------------------------------------------------------------------------------
    // Outputs

    /// The next message to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next change to the kernel's forwarding cache, if any.
    pub fn poll_mfc(&mut self) -> Option<MfcAction> {
        self.mfc.pop_front()
    }

    /// When [`Engine::handle_timeout`] must be called next (`None`: nothing is pending).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_due().map(|(t, _)| t)
    }

    /// The earliest timer and its deadline (ties in a fixed order: per-VIF and global
    /// timers, neighbours, routes, flows).
    fn next_due(&self) -> Option<(Instant, Due)> {
        let misc = self.misc.iter().map(|(m, t)| (*t, Due::Misc(*m))).min();
        let nbr = self
            .neighbor_timers
            .first()
            .map(|&(t, v, a)| (t, Due::Neighbor(v, a)));
        // Route deadlines: one scan when the earliest has passed, at most once a second.
        let route = self.routes.next_deadline().and_then(|t| {
            let t = t.max(
                self.last_route_scan
                    .map_or(0, |s| s + ROUTE_SCAN_INTERVAL_MS),
            );
            Some((self.instant(t)?, Due::Routes))
        });
        let flow = self
            .flow_timers
            .first()
            .map(|&(t, s, g)| (t, Due::Flow(s, g)));
        [misc, nbr, route, flow].into_iter().flatten().min()
    }

    /// Sets the engine's epoch on its first input (route deadlines count from it).
    fn clock(&mut self, now: Instant) -> Tick {
        let epoch = *self.epoch.get_or_insert(now);
        u64::try_from(now.saturating_duration_since(epoch).as_millis()).unwrap_or(u64::MAX)
    }

    fn tick_after(&mut self, now: Instant, d: Duration) -> Tick {
        self.clock(now)
            .saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// A tick as an instant (`None` before the first input, when no deadline exists).
    fn instant(&self, t: Tick) -> Option<Instant> {
        self.epoch.map(|e| e + Duration::from_millis(t))
    }

    // ----------------------------------------------------------------------------------
    // Queries

    /// The route to `origin` exactly.
    pub fn route(&self, origin: Ipv4Net) -> Option<RouteInfo> {
        let origin = origin.trunc();
        self.routes
            .get(&origin)
            .map(|r| route_info(self.epoch, origin, r))
    }

    /// The reachable route a packet from `source` is checked against (longest prefix match).
    pub fn lookup(&self, source: Ipv4Addr) -> Option<RouteInfo> {
        self.routes
            .lookup(source)
            .map(|(o, r)| route_info(self.epoch, o, r))
    }

    /// Every route, in prefix order.
    pub fn routes(&self) -> impl Iterator<Item = RouteInfo> + '_ {
        self.routes
            .iter()
            .map(|(o, r)| route_info(self.epoch, *o, r))
    }

    /// The neighbours heard on every VIF.
    pub fn neighbors(&self) -> impl Iterator<Item = NeighborInfo> + '_ {
        self.vifs.iter().flat_map(|(id, v)| {
            v.neighbors.iter().map(|(a, n)| NeighborInfo {
                vif: *id,
                addr: *a,
                generation_id: n.generation_id,
                capabilities: n.capabilities,
                version: n.version,
                two_way: n.two_way,
                expires: n.expires,
            })
        })
    }

    /// Whether we are the designated forwarder for `origin` onto `vif` (section 3.3.7).
    pub fn is_designated_forwarder(&self, origin: Ipv4Net, vif: VifId) -> bool {
        match self.routes.get(&origin.trunc()) {
            Some(r) => r.reachable() && r.parent() != vif && self.is_df(r, vif),
            None => false,
        }
    }

    /// The forwarding state of (S,G).
    pub fn flow(&self, source: Ipv4Addr, group: Ipv4Addr) -> Option<FlowInfo> {
        self.flows
            .get(&(source, group))
            .map(|f| flow_info(source, group, f))
    }

    /// Every forwarding cache entry, ordered by (source, group).
    pub fn flows(&self) -> impl Iterator<Item = FlowInfo> + '_ {
        self.flows.iter().map(|((s, g), f)| flow_info(*s, *g, f))
    }

    /// The number of forwarding cache entries.
    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// Whether `vif` is up and enabled.
    pub fn is_vif_active(&self, vif: VifId) -> bool {
        self.vifs.get(&vif).is_some_and(Vif::active)
    }

    /// Whether at most one VIF has neighbours (we advertise the leaf capability).
    pub fn is_leaf(&self) -> bool {
        self.capabilities().contains(Capabilities::LEAF)
    }

    /// Going off the air (what mrouted does on exit, and draft section 3.3.6 allows): every
    /// route is advertised as unreachable to every neighbour at once, so that they switch to
    /// another path without waiting for our routes to expire. Drain
    /// [`Engine::poll_transmit`] afterwards and send them; the engine is of no further use.
    pub fn shutdown(&mut self, now: Instant) {
        let _ = now;
        for (_, r) in self.routes.iter_mut() {
            r.metric = INFINITY;
        }
        self.send_full_reports();
        self.misc.clear();
        self.neighbor_timers.clear();
        self.flow_timers.clear();
        let origins: Vec<Ipv4Net> = self.routes.iter().map(|(o, _)| *o).collect();
        for o in origins {
            self.routes.set_deadline(&o, Phase::Idle, 0);
        }
    }

    /// Tells the engine whether we are the IGMP querier on `vif` (for the querier flag of
    /// mrinfo answers).
    pub fn set_querier(&mut self, vif: VifId, querier: bool) {
        if querier {
            self.querier_vifs.insert(vif);
        } else {
            self.querier_vifs.remove(&vif);
        }
    }

    /// The groups with local members on `vif`.
    pub fn members(&self, vif: VifId) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.vifs
            .get(&vif)
            .into_iter()
            .flat_map(|v| v.members.iter().copied())
    }

    // ----------------------------------------------------------------------------------
    // Inputs: interfaces and membership

    /// A VIF came up (or was enabled): its subnet and altnets become local origins and probing
    /// starts (section 3.2).
    pub fn interface_up(&mut self, now: Instant, vif: VifId) {
        self.clock(now);
        let Some(v) = self.vifs.get_mut(&vif) else {
            return;
        };
        if v.up {
            return;
        }
        v.up = true;
        if !v.cfg.enabled {
            return;
        }
        let metric = v.cfg.metric;
        let origins: Vec<Ipv4Net> = v.local_origins().collect();
        for o in origins {
            let keep = self.routes.remove(&o);
            let mut r = Route::new(metric, vif, None);
            if let Some(old) = keep {
                r.take_peers(old);
            }
            self.routes.insert(o, r);
            self.route_changed(now, o);
        }
        if self.vifs[&vif].speaks_dvmrp() {
            if self.vifs[&vif].may_probe() {
                self.send_probe(vif);
            }
            self.misc.insert(Misc::Probe(vif), now + PROBE_INTERVAL);
        }
        if !self.report_scheduled {
            self.report_scheduled = true;
            self.misc.insert(Misc::ReportTick, now + REPORT_TICK);
            self.misc
                .insert(Misc::Dependents, now + DEPENDENT_CONFIRMATION);
        }
        self.recompute_all_flows(now);
    }

    /// A VIF went down (or was disabled): its neighbours are lost and its local origins
    /// become unreachable.
    pub fn interface_down(&mut self, now: Instant, vif: VifId) {
        let Some(v) = self.vifs.get_mut(&vif) else {
            return;
        };
        if !v.up {
            return;
        }
        v.up = false;
        let neighbors: Vec<(Ipv4Addr, Instant)> =
            v.neighbors.iter().map(|(a, n)| (*a, n.expires)).collect();
        let origins: Vec<Ipv4Net> = v.local_origins().collect();
        v.neighbors.clear();
        self.misc.remove(&Misc::Probe(vif));
        for (n, expires) in neighbors {
            self.neighbor_timers.remove(&(expires, vif, n));
            self.forget_neighbor(now, vif, n);
        }
        for o in origins {
            if let Some(r) = self.routes.get(&o) {
                if r.gateway().is_none() && r.parent() == vif {
                    self.make_unreachable(now, o);
                }
            }
        }
        self.recompute_all_flows(now);
    }

    /// The IGMP querier on `vif` saw `group` joined (`true`) or left (`false`): forwarding
    /// onto `vif` starts (grafting if needed) or stops (pruning if needed).
    pub fn local_membership(&mut self, now: Instant, vif: VifId, group: Ipv4Addr, joined: bool) {
        let Some(v) = self.vifs.get_mut(&vif) else {
            return;
        };
        let changed = if joined {
            v.members.insert(group)
        } else {
            v.members.remove(&group)
        };
        if changed {
            let sources: Vec<Ipv4Addr> = self
                .by_group
                .get(&group)
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default();
            for s in sources {
                self.recompute_flow(now, s, group);
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // Inputs: upcalls

    /// A kernel upcall: NOCACHE and WRONGVIF create or refresh the (S,G) forwarding entry.
    pub fn handle_upcall(&mut self, now: Instant, upcall: &Upcall) {
        if let Upcall::V4 {
            kind: UpcallKind::NoCache | UpcallKind::WrongVif,
            vif,
            source,
            group,
        } = *upcall
        {
            self.handle_data(now, vif, source, group);
        }
    }

    /// A packet from `source` to `group` arrived on `vif` with no (or the wrong) MFC entry:
    /// install one by reverse path multicasting (section 3.4). A source with no route gets a
    /// negative entry (an empty outbound set: the kernel drops the flow).
    pub fn handle_data(&mut self, now: Instant, vif: VifId, source: Ipv4Addr, group: Ipv4Addr) {
        self.stats.upcalls += 1;
        if !group.is_multicast()
            || source.is_multicast()
            || Ipv4Net::new(Ipv4Addr::new(224, 0, 0, 0), 24)
                .map(|n| n.contains(&group))
                .unwrap_or(false)
        {
            return;
        }
        let expires = now + self.config.cache_lifetime;
        match self.flows.get_mut(&(source, group)) {
            Some(f) => {
                f.expires = expires;
                let was_parked = f.parked;
                f.parked = false;
                if was_parked && f.pruned_upstream.is_some_and(|t| t > now) && f.oifs.is_empty() {
                    // Traffic still comes after our prune and a retransmission check took
                    // the entry out: the prune was lost; say it again (mrouted prune.c
                    // `send_prune`, rexmitting).
                    self.retransmit_prune(now, source, group);
                }
            }
            None => {
                self.flows.insert(
                    (source, group),
                    Flow {
                        iif: vif,
                        gateway: None,
                        negative: true,
                        oifs: OifSet::new(),
                        installed: false,
                        expires,
                        prunes: BTreeMap::new(),
                        pruned_upstream: None,
                        graft: None,
                        timer: None,
                        rexmit: None,
                        prune_backoff: PRUNE_RETRANSMIT,
                        parked: false,
                        packets: None,
                        checking: false,
                    },
                );
                self.by_group.entry(group).or_default().insert(source);
            }
        }
        self.recompute_flow(now, source, group);
    }

    // ----------------------------------------------------------------------------------
    // Inputs: packets

    /// A DVMRP message (the whole IGMP message) from `src` arrived on `vif`.
    ///
    /// Anything malformed, from a non-neighbour or otherwise suspicious is counted in
    /// [`Stats`] and dropped.
    pub fn handle_packet(&mut self, now: Instant, vif: VifId, src: Ipv4Addr, bytes: &[u8]) {
        self.stats.received += 1;
        let Some(v) = self.vifs.get(&vif) else {
            self.stats.inactive_vif += 1;
            return;
        };
        if !v.active() {
            self.stats.inactive_vif += 1;
            return;
        }
        if src == v.cfg.local {
            return; // our own message looped back
        }
        let force_leaf = v.cfg.force_leaf;
        let repr = match Repr::parse(bytes) {
            Ok(r) => r,
            Err(WireError::BadChecksum) => {
                self.stats.bad_checksum += 1;
                return;
            }
            Err(WireError::UnknownCode(_) | WireError::UnknownType(_)) => {
                self.stats.unknown_code += 1;
                return;
            }
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        if repr.major != wire::MAJOR_VERSION {
            self.stats.bad_version += 1;
            return;
        }
        let two_way = v.is_peer(src);
        if force_leaf {
            // mrouted vif.c: "ignore all neighbors on vifs forced into leaf mode"; a graft
            // is still acknowledged (prune.c acknowledges every graft).
            if let Body::Graft {
                source,
                group,
                source_prefix,
            } = repr.body
            {
                self.on_graft(now, vif, src, (source, source_prefix), group);
            } else if let Body::AskNeighbors2 = repr.body {
                self.answer_ask_neighbors(vif, src);
            } else {
                self.stats.force_leaf_ignored += 1;
            }
            return;
        }
        match repr.body {
            Body::Probe {
                generation_id,
                neighbors,
            } => {
                self.stats.probes += 1;
                let version = (repr.major, repr.minor);
                self.on_probe(
                    now,
                    vif,
                    src,
                    generation_id,
                    repr.capabilities,
                    version,
                    &neighbors,
                );
            }
            Body::AskNeighbors2 => self.answer_ask_neighbors(vif, src),
            // mrouted prune.c `accept_graft`: every graft is acknowledged, whoever sent it.
            Body::Graft {
                source,
                group,
                source_prefix,
            } => {
                if !two_way {
                    self.stats.grafts_from_strangers += 1;
                }
                self.on_graft(now, vif, src, (source, source_prefix), group)
            }
            _ if !two_way => self.stats.not_neighbor += 1,
            Body::Report { routes } => {
                self.stats.reports += 1;
                let Some(v) = self.vifs.get_mut(&vif) else {
                    return;
                };
                if v.cfg.blaster {
                    // mrouted route.c `queue_blaster_report`.
                    self.stats.blaster_queued += 1;
                    let first = v.blasted.is_empty();
                    v.blasted.push_back((src, routes));
                    if first {
                        self.misc.insert(Misc::Blaster(vif), now + BLASTER_DELAY);
                    }
                    return;
                }
                self.on_report(now, vif, src, routes);
            }
            Body::Prune {
                source,
                group,
                lifetime,
                source_prefix,
            } => self.on_prune(now, vif, src, (source, source_prefix), group, lifetime),
            Body::GraftAck {
                source,
                group,
                source_prefix,
            } => {
                for key in self.flows_named((source, source_prefix), group) {
                    if let Some(f) = self.flows.get_mut(&key) {
                        if f.gateway == Some(src) && f.graft.is_some() {
                            self.stats.graft_acks += 1;
                            f.graft = None;
                        }
                    }
                }
            }
            _ => {}
        }
    }

    // ----------------------------------------------------------------------------------
    // Inputs: time

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.clock(now);
        while let Some((t, due)) = self.next_due() {
            if t > now {
                break;
            }
            match due {
                Due::Misc(m) => {
                    self.misc.remove(&m);
                    match m {
                        Misc::Probe(vif) => {
                            if self.vifs.get(&vif).is_some_and(Vif::speaks_dvmrp) {
                                if self.vifs[&vif].may_probe() {
                                    self.send_probe(vif);
                                }
                                self.misc.insert(Misc::Probe(vif), now + PROBE_INTERVAL);
                            }
                        }
                        Misc::ReportTick => {
                            self.report_tick();
                            // From the tick's own time: a caller that comes late catches up.
                            self.misc.insert(Misc::ReportTick, t + REPORT_TICK);
                        }
                        Misc::Dependents => {
                            self.expire_dependents(now);
                            self.misc
                                .insert(Misc::Dependents, t + DEPENDENT_CONFIRMATION);
                        }
                        Misc::Blaster(vif) => self.blaster_tick(now, vif),
                        Misc::Flash => self.flash(now),
                    }
                }
                Due::Neighbor(vif, addr) => {
                    self.neighbor_timers.remove(&(t, vif, addr));
                    let expired = self
                        .vifs
                        .get(&vif)
                        .and_then(|v| v.neighbors.get(&addr))
                        .is_some_and(|n| n.expires <= now);
                    if expired {
                        self.stats.neighbor_timeouts += 1;
                        if let Some(v) = self.vifs.get_mut(&vif) {
                            v.neighbors.remove(&addr);
                        }
                        self.forget_neighbor(now, vif, addr);
                        self.recompute_all_flows(now);
                    }
                }
                Due::Routes => {
                    let t = self.clock(now);
                    self.last_route_scan = Some(t);
                    for origin in self.routes.expired(t) {
                        self.route_timer(now, origin);
                    }
                }
                Due::Flow(s, g) => {
                    self.flow_timers.remove(&(t, s, g));
                    if let Some(f) = self.flows.get_mut(&(s, g)) {
                        f.timer = None;
                    }
                    self.flow_timer(now, s, g);
                }
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // Neighbours (section 3.2)

    #[allow(clippy::too_many_arguments)]
    fn on_probe(
        &mut self,
        now: Instant,
        vif: VifId,
        src: Ipv4Addr,
        generation_id: u32,
        capabilities: Capabilities,
        version: (u8, u8),
        listed: &[Ipv4Addr],
    ) {
        let Some(v) = self.vifs.get_mut(&vif) else {
            return;
        };
        let lists_us = listed.contains(&v.cfg.local);
        // mrouted vif.c: a router that cannot prune (the prune capability bit, required since
        // 3.5) is not peered with unless the VIF allows it.
        let peer = v.cfg.allow_nonpruners
            || capabilities.contains(Capabilities::PRUNE)
            || (version.0 == 3 && version.1 < 5);
        let expires = now + NEIGHBOR_TIMEOUT;
        let previous = v.neighbors.get(&src).map(|n| n.expires);
        if previous.is_none() && v.neighbors.len() >= self.config.max_neighbors_per_vif {
            // A probe storm from made-up addresses: each would cost a neighbour entry.
            self.stats.neighbor_limit += 1;
            return;
        }
        let was_empty = v.neighbors.is_empty();
        let (new, restarted, was_two_way, two_way) = match v.neighbors.get_mut(&src) {
            None => {
                v.neighbors.insert(
                    src,
                    Neighbor {
                        generation_id,
                        capabilities,
                        version,
                        expires,
                        two_way: lists_us,
                        since: now,
                        peer,
                        flooded: false,
                    },
                );
                (true, false, false, lists_us && peer)
            }
            Some(n) => {
                // mrouted vif.c: a new generation id, or a new version, means the router
                // restarted (the draft speaks of the generation id only).
                let restarted = n.generation_id != generation_id || n.version != version;
                let was = n.two_way && n.peer && !restarted;
                if restarted {
                    n.since = now;
                }
                n.generation_id = generation_id;
                n.capabilities = capabilities;
                n.version = version;
                n.expires = expires;
                n.peer = peer;
                // mrouted vif.c: a probe that omits us ends the adjacency only once the
                // neighbour has been up for 20 s (it may not have heard us yet after its
                // restart); the draft ends it at once.
                n.two_way = lists_us || (n.two_way && now < n.since + ONE_WAY_GRACE);
                (false, restarted, was, n.two_way && n.peer)
            }
        };
        if !peer {
            self.stats.nonpruners += 1;
        }
        if let Some(old) = previous {
            self.neighbor_timers.remove(&(old, vif, src));
        }
        self.neighbor_timers.insert((expires, vif, src));
        if restarted {
            // Section 3.2.1: a new generation id means the neighbour lost its state: forget
            // its prunes, re-send ours, and send it our whole table (below, once two-way).
            self.stats.neighbor_restarts += 1;
            self.neighbor_restarted(now, vif, src);
        }
        if (new || restarted || (was_empty && self.vifs[&vif].cfg.passive))
            && self.vifs[&vif].may_probe()
        {
            // Let it hear us at once, so that it becomes two-way without waiting 10 s (and a
            // passive VIF wakes up now that the other end is heard).
            self.send_probe(vif);
        }
        if two_way && !was_two_way {
            self.send_report_to(vif, src);
            // Flooded until it confirms (mrouted route.c `add_neighbor_to_routes`), unless
            // the VIF is `noflood`.
            if let Some(n) = self
                .vifs
                .get_mut(&vif)
                .and_then(|v| v.neighbors.get_mut(&src))
            {
                n.flooded = true;
            }
            self.recompute_all_flows(now);
        } else if !two_way && was_two_way {
            // It no longer hears us: adjacency lost.
            self.forget_neighbor(now, vif, src);
            self.recompute_all_flows(now);
        }
    }

    /// A neighbour restarted: its prunes are void and it forgot ours.
    fn neighbor_restarted(&mut self, now: Instant, vif: VifId, addr: Ipv4Addr) {
        let keys: Vec<(Ipv4Addr, Ipv4Addr)> = self.flows.keys().copied().collect();
        for k in keys {
            if let Some(f) = self.flows.get_mut(&k) {
                f.prunes.remove(&(vif, addr));
                if f.gateway == Some(addr) && f.iif == vif {
                    f.pruned_upstream = None;
                    f.rexmit = None;
                }
            }
            self.recompute_flow(now, k.0, k.1);
        }
    }

    /// Drops what we learnt from a neighbour that is gone (or no longer two-way).
    fn forget_neighbor(&mut self, now: Instant, vif: VifId, addr: Ipv4Addr) {
        let mut lost = Vec::new();
        for (o, r) in self.routes.iter_mut() {
            r.remove_peer(vif, addr);
            if r.gateway() == Some(addr) && r.parent() == vif && r.reachable() {
                lost.push(*o);
            }
        }
        self.confirmed
            .retain(|(_, v, a)| !(*v == vif && *a == addr));
        for o in lost {
            self.make_unreachable(now, o);
        }
        for f in self.flows.values_mut() {
            f.prunes.remove(&(vif, addr));
            if f.gateway == Some(addr) {
                f.pruned_upstream = None;
                f.graft = None;
                f.rexmit = None;
            }
        }
    }

    /// Whether `vif` must not carry transit traffic of `r` (mrouted's `AVOID_TRANSIT`): both
    /// it and the route's parent are `notransit`, and the route is learnt, not local.
    fn avoid_transit(&self, r: &Route, vif: VifId) -> bool {
        r.gateway().is_some()
            && self.vifs.get(&vif).is_some_and(|v| v.cfg.notransit)
            && self.vifs.get(&r.parent()).is_some_and(|v| v.cfg.notransit)
    }

    /// Whether `addr` on `vif` is a downstream router of `r` we forward to: it poison-
    /// reversed the route to us (and that was not dropped for want of confirmation), or it
    /// is still flooded (new on a VIF without `noflood`). Never on a VIF the route must not
    /// transit onto.
    fn is_dependent(&self, r: &Route, vif: VifId, addr: Ipv4Addr) -> bool {
        let Some(v) = self.vifs.get(&vif) else {
            return false;
        };
        if vif == r.parent() || self.avoid_transit(r, vif) || !v.is_peer(addr) {
            return false;
        }
        let flooded = !v.cfg.noflood && v.neighbors.get(&addr).is_some_and(|n| n.flooded);
        flooded
            || r.peers()
                .any(|p| p.vif() == vif && p.addr() == addr && p.dependent())
    }

    /// Every [`DEPENDENT_CONFIRMATION`]: dependents that did not poison-reverse the route
    /// since the last time are dropped, and new neighbours stop being flooded (mrouted
    /// route.c `age_routes`).
    fn expire_dependents(&mut self, now: Instant) {
        let confirmed = std::mem::take(&mut self.confirmed);
        let mut changed = false;
        for v in self.vifs.values_mut() {
            for n in v.neighbors.values_mut() {
                changed |= std::mem::replace(&mut n.flooded, false);
            }
        }
        let mut drop = Vec::new();
        for (o, r) in self.routes.iter() {
            for p in r.peers() {
                if p.dependent() && !confirmed.contains(&(*o, p.vif(), p.addr())) {
                    drop.push((*o, p.vif(), p.addr()));
                }
            }
        }
        for (o, vif, addr) in drop {
            if let Some(r) = self.routes.get_mut(&o) {
                changed |= r.set_dependent(vif, addr, false);
            }
        }
        if changed {
            self.recompute_all_flows(now);
        }
    }

    fn answer_ask_neighbors(&mut self, vif: VifId, src: Ipv4Addr) {
        let querier = self.querier_vifs.clone();
        let blocks = self
            .vifs
            .iter()
            .map(|(id, v)| {
                let mut flags = 0u8;
                if !v.up {
                    flags |= wire::neighbor_flags::DOWN;
                }
                if !v.cfg.enabled {
                    flags |= wire::neighbor_flags::DISABLED;
                }
                if querier.contains(id) {
                    flags |= wire::neighbor_flags::QUERIER;
                }
                let peers: Vec<Ipv4Addr> = v.peers().take(255).collect();
                if peers.is_empty() || v.cfg.force_leaf {
                    flags |= wire::neighbor_flags::LEAF;
                }
                // mrouted vif.c `accept_neighbor_request2`: a VIF with no neighbour is
                // listed too, with the neighbour 0.0.0.0, so that mrinfo shows every VIF.
                let neighbors = if peers.is_empty() {
                    vec![Ipv4Addr::UNSPECIFIED]
                } else {
                    peers
                };
                wire::NeighborBlock {
                    local: v.cfg.local,
                    metric: v.cfg.metric,
                    threshold: v.cfg.threshold,
                    flags,
                    neighbors,
                }
            })
            .collect();
        self.send(vif, src, Body::Neighbors2 { blocks });
    }

    // ----------------------------------------------------------------------------------
    // Routes (section 3.3)

    fn on_report(&mut self, now: Instant, vif: VifId, nbr: Ipv4Addr, routes: Vec<ReportRoute>) {
        for r in routes {
            self.on_route(now, vif, nbr, r);
        }
    }

    /// Takes up to [`BLASTER_BATCH`] queued reports of a `blaster` VIF.
    fn blaster_tick(&mut self, now: Instant, vif: VifId) {
        let mut batch = Vec::new();
        if let Some(v) = self.vifs.get_mut(&vif) {
            for _ in 0..BLASTER_BATCH {
                match v.blasted.pop_front() {
                    Some(x) => batch.push(x),
                    None => break,
                }
            }
        }
        for (src, routes) in batch {
            // The sender may have gone while its reports waited.
            if self.vifs.get(&vif).is_some_and(|v| v.is_peer(src)) {
                self.on_report(now, vif, src, routes);
            }
        }
        if self.vifs.get(&vif).is_some_and(|v| !v.blasted.is_empty()) {
            self.misc
                .insert(Misc::Blaster(vif), now + Duration::from_secs(1));
        }
    }

    fn on_route(&mut self, now: Instant, vif: VifId, nbr: Ipv4Addr, rr: ReportRoute) {
        self.stats.routes_received += 1;
        let mut m = rr.metric;
        if m == 0 || m >= 2 * INFINITY {
            self.stats.bad_metric += 1;
            return;
        }
        let origin = rr.origin.trunc();
        if !valid_origin(&origin) {
            self.stats.bad_origin += 1;
            return;
        }
        let Some(v) = self.vifs.get(&vif) else {
            return;
        };
        let vif_metric = v.cfg.metric;
        // mrouted route.c `accept_report`: only reachable, non-poisoned routes are filtered;
        // one the filter rejects counts as unreachable.
        if m < INFINITY && v.cfg.filter.as_ref().is_some_and(|f| f.rejects(origin)) {
            self.stats.routes_filtered += 1;
            m = INFINITY;
        }
        let poisoned = m > INFINITY;
        let effective = if poisoned {
            INFINITY
        } else {
            m.saturating_add(vif_metric).min(INFINITY)
        };
        let now_tick = self.clock(now);
        let transit_blocked = self
            .routes
            .get(&origin)
            .is_some_and(|r| r.parent() != vif && self.avoid_transit(r, vif));
        let mut recompute = false;
        let mut mark_changed = false;
        let mut unreachable = false;
        let mut refresh = false;
        // Section 3.3.7: what other routers on the VIF offer, for the forwarder election.
        let offer = if poisoned || m >= INFINITY {
            None
        } else {
            Some(m)
        };
        if let Some(r) = self.routes.get_mut(&origin) {
            // Section 3.3.5: a poisoned reverse report says the sender depends on us
            // (never across `notransit` VIFs).
            if !transit_blocked {
                recompute |= r.set_dependent(vif, nbr, poisoned);
                if poisoned {
                    self.confirmed.insert((origin, vif, nbr));
                }
            }
            recompute |= r.set_offer(vif, nbr, offer);
            let (gateway, parent, metric) = (r.gateway(), r.parent(), r.metric);
            // mrouted route.c `update_route`: after ROUTE_SWITCH_TIME without a refresh, a
            // gateway reporting the same metric takes over.
            let switch_ms = u64::try_from((ROUTE_EXPIRATION - ROUTE_SWITCH_TIME).as_millis())
                .unwrap_or(u64::MAX);
            let stale =
                r.phase() == Phase::Live && now_tick.saturating_add(switch_ms) >= r.deadline();
            if gateway.is_none() {
                // A directly connected subnet: always ours.
            } else if gateway == Some(nbr) && parent == vif {
                if effective < INFINITY {
                    if metric != effective {
                        r.metric = effective;
                        recompute = true;
                        mark_changed = true;
                    }
                    refresh = true;
                } else if r.reachable() {
                    unreachable = true;
                }
            } else if effective < INFINITY
                && (effective < metric
                    || metric >= INFINITY
                    || (effective == metric && (gateway.is_some_and(|g| nbr < g) || stale)))
            {
                // A better path (section 3.3.3): switch upstream, unless that neighbour is
                // at its cap.
                if self.capped(vif, nbr, false) {
                    return;
                }
                if let Some(r) = self.routes.get_mut(&origin) {
                    r.metric = effective;
                }
                self.routes.set_upstream(&origin, vif, Some(nbr));
                refresh = true;
                mark_changed = true;
                recompute = true;
            }
        } else if effective < INFINITY {
            if self.capped(vif, nbr, true) {
                return;
            }
            let mut r = Route::new(effective, vif, Some(nbr));
            r.set_offer(vif, nbr, offer);
            self.routes.insert(origin, r);
            refresh = true;
            mark_changed = true;
            recompute = true;
        }
        if refresh {
            let exp = self.tick_after(now, ROUTE_EXPIRATION);
            self.routes.set_deadline(&origin, Phase::Live, exp);
        }
        if mark_changed {
            self.changed_later(origin);
        }
        if unreachable {
            // make_unreachable recomputes the flows itself.
            self.make_unreachable(now, origin);
            recompute = false;
        }
        self.flush_changed(now);
        if recompute {
            self.recompute_origin(now, origin);
        }
    }

    /// Marks a route changed; [`Engine::flush_changed`] schedules the flash update.
    fn changed_later(&mut self, origin: Ipv4Net) {
        self.changed.insert(origin);
    }

    fn flush_changed(&mut self, now: Instant) {
        if !self.changed.is_empty() && !self.flash_scheduled {
            self.flash_scheduled = true;
            let at = self
                .last_flash
                .map_or(now, |t| (t + MIN_FLASH_INTERVAL).max(now));
            self.misc.insert(Misc::Flash, at);
        }
    }

    fn route_changed(&mut self, now: Instant, origin: Ipv4Net) {
        self.changed_later(origin);
        self.flush_changed(now);
    }

    /// Section 3.3.6: the route expired or its upstream is gone: advertise it as unreachable
    /// during hold-down, then delete it.
    fn make_unreachable(&mut self, now: Instant, origin: Ipv4Net) {
        let Some(r) = self.routes.get_mut(&origin) else {
            return;
        };
        r.metric = INFINITY;
        let gc = self.tick_after(now, ROUTE_HOLDDOWN);
        self.routes.set_deadline(&origin, Phase::HoldDown, gc);
        self.route_changed(now, origin);
        self.recompute_origin(now, origin);
    }

    /// A route's deadline passed: it becomes unreachable, or, after hold-down, goes.
    fn route_timer(&mut self, now: Instant, origin: Ipv4Net) {
        let Some(r) = self.routes.get(&origin) else {
            return;
        };
        match r.phase() {
            Phase::Live => self.make_unreachable(now, origin),
            Phase::HoldDown => {
                self.routes.remove(&origin);
                self.changed.remove(&origin);
            }
            // Never indexed: nothing to do.
            Phase::Local | Phase::Idle => {}
        }
    }

    /// Whether a new route (`new`) or a switch to `nbr` would pass a cap: the routes from
    /// one neighbour ([`Config::max_routes_per_neighbor`]) or in all
    /// ([`Config::max_routes`]). Counted, and logged once when a cap is reached.
    fn capped(&mut self, vif: VifId, nbr: Ipv4Addr, new: bool) -> bool {
        let total = self.routes.len();
        if new && total >= self.config.max_routes {
            self.stats.route_limit += 1;
            if !std::mem::replace(&mut self.route_cap_logged, true) {
                log::warn!(
                    "DVMRP route table full ({total} routes, max-routes): new routes are \
                     ignored until some expire"
                );
            }
            return true;
        }
        if new {
            self.route_cap_logged = false;
        }
        let from = self.routes.routes_from(vif, nbr);
        if from >= self.config.max_routes_per_neighbor {
            self.stats.route_limit += 1;
            if self.routes.mark_capped(vif, nbr) {
                log::warn!(
                    "neighbor {nbr} on {vif} reached {from} routes (max-routes-per-neighbor): \
                     its further routes are ignored"
                );
            }
            return true;
        }
        false
    }

    /// The metric we report for `r` on `vif`, or `None` when it is not reported there
    /// (mrouted route.c `report_chunk`): a connected subnet is not reported onto its own
    /// VIF, nor a route a `bidir` filter rejects; `advert-metric` is added; a route that must
    /// not transit onto the VIF goes as unreachable; on the VIF towards the origin it is
    /// poisoned (metric + 32, section 3.3.5).
    fn advertised(&self, origin: Ipv4Net, r: &Route, vif: VifId) -> Option<u8> {
        let v = self.vifs.get(&vif)?;
        if r.gateway().is_none() && r.parent() == vif {
            return None;
        }
        if v.cfg
            .filter
            .as_ref()
            .is_some_and(|f| f.bidir && f.rejects(origin))
        {
            return None;
        }
        let mut metric = r.metric.saturating_add(v.cfg.advert_metric).min(INFINITY);
        if r.parent() != vif && self.avoid_transit(r, vif) {
            metric = INFINITY;
        }
        Some(if r.parent() == vif && metric != INFINITY {
            metric + INFINITY
        } else {
            metric
        })
    }

    fn report_routes<'a>(
        &self,
        vif: VifId,
        origins: impl Iterator<Item = &'a Ipv4Net>,
    ) -> Vec<ReportRoute> {
        origins
            .filter_map(|o| {
                let r = self.routes.get(o)?;
                self.advertised(*o, r, vif)
                    .map(|metric| ReportRoute { origin: *o, metric })
            })
            .collect()
    }

    fn send_report(&mut self, vif: VifId, dst: Ipv4Addr, routes: &[ReportRoute]) {
        if routes.is_empty() {
            return;
        }
        let caps = self.capabilities();
        if let Ok(msgs) = wire::report_messages(caps, routes, self.config.report_budget) {
            for m in msgs {
                self.push(vif, dst, m);
            }
        }
    }

    fn send_report_to(&mut self, vif: VifId, dst: Ipv4Addr) {
        let origins: Vec<Ipv4Net> = self.routes.iter().map(|(o, _)| *o).collect();
        let routes = self.report_routes(vif, origins.iter());
        self.send_report(vif, dst, &routes);
    }

    /// VIFs where reports go: DVMRP is on and a peer is there.
    fn report_vifs(&self) -> Vec<VifId> {
        self.vifs
            .iter()
            .filter(|(_, v)| v.speaks_dvmrp() && v.peers().next().is_some())
            .map(|(id, _)| *id)
            .collect()
    }

    fn send_full_reports(&mut self) {
        let origins: Vec<Ipv4Net> = self.routes.iter().map(|(o, _)| *o).collect();
        for vif in self.report_vifs() {
            let routes = self.report_routes(vif, origins.iter());
            self.send_report(vif, ALL_DVMRP_ROUTERS, &routes);
        }
        self.changed.clear();
    }

    /// One second of the paced full report (mrouted main.c `fasttimer`): by second `t` of
    /// the interval, `routes × t / 60` of the table have gone out, in chunks of
    /// [`REPORT_CHUNK`] routes from where the last chunk ended; in the last second, all
    /// that is left.
    fn report_tick(&mut self) {
        self.report_second += 1;
        let n = self.routes.len();
        let last = self.report_second >= secs(REPORT_INTERVAL);
        let target = if last {
            n
        } else {
            n * self.report_second as usize / secs(REPORT_INTERVAL) as usize
        };
        while self.report_sent < target {
            let chunk = self.next_chunk();
            if chunk.is_empty() {
                break;
            }
            self.report_sent += chunk.len();
            for vif in self.report_vifs() {
                let routes = self.report_routes(vif, chunk.iter());
                self.send_report(vif, ALL_DVMRP_ROUTERS, &routes);
            }
        }
        if last {
            self.report_second = 0;
            self.report_sent = 0;
        }
    }

    /// The next [`REPORT_CHUNK`] origins after the cursor, wrapping round to the start of
    /// the table once at its end.
    fn next_chunk(&mut self) -> Vec<Ipv4Net> {
        let from = match self.report_cursor {
            Some(c) => Bound::Excluded(c),
            None => Bound::Unbounded,
        };
        let chunk: Vec<Ipv4Net> = self
            .routes
            .range((from, Bound::Unbounded))
            .take(REPORT_CHUNK)
            .map(|(o, _)| *o)
            .collect();
        if chunk.is_empty() && self.report_cursor.is_some() {
            self.report_cursor = None;
            return self.next_chunk();
        }
        self.report_cursor = chunk.last().copied();
        chunk
    }

    /// Section 3.3.4: a triggered update of the changed routes, at most every 5 s.
    fn flash(&mut self, now: Instant) {
        self.flash_scheduled = false;
        if self.changed.is_empty() {
            return;
        }
        let changed = std::mem::take(&mut self.changed);
        for vif in self.report_vifs() {
            let routes = self.report_routes(vif, changed.iter());
            self.send_report(vif, ALL_DVMRP_ROUTERS, &routes);
        }
        self.last_flash = Some(now);
    }

    /// Section 3.3.7: we forward onto `vif` for `r` when no router there offers a better
    /// (metric, address) pair than ours.
    fn is_df(&self, r: &Route, vif: VifId) -> bool {
        let Some(v) = self.vifs.get(&vif) else {
            return false;
        };
        let ours = (r.metric, v.cfg.local);
        r.peers()
            .all(|p| p.vif() != vif || p.offer().is_none_or(|m| ours < (m, p.addr())))
    }

    /// Whether `vif` is a child of `r`: not its parent, up, and we are the designated
    /// forwarder there (mrouted's `rt_children`).
    fn is_child(&self, r: &Route, vif: VifId) -> bool {
        r.reachable()
            && vif != r.parent()
            && self.vifs.get(&vif).is_some_and(Vif::active)
            && self.is_df(r, vif)
    }

    // ----------------------------------------------------------------------------------
    // Forwarding, prunes and grafts (sections 3.4 to 3.6)

    fn recompute_all_flows(&mut self, now: Instant) {
        let keys: Vec<(Ipv4Addr, Ipv4Addr)> = self.flows.keys().copied().collect();
        for (s, g) in keys {
            self.recompute_flow(now, s, g);
        }
    }

    /// Recomputes every flow whose source lies in `origin`.
    fn recompute_origin(&mut self, now: Instant, origin: Ipv4Net) {
        let lo = (origin.network(), Ipv4Addr::UNSPECIFIED);
        let hi = (origin.broadcast(), Ipv4Addr::BROADCAST);
        let keys: Vec<(Ipv4Addr, Ipv4Addr)> = self.flows.range(lo..=hi).map(|(k, _)| *k).collect();
        for (s, g) in keys {
            self.recompute_flow(now, s, g);
        }
    }

    /// The outbound set of (S,G) for route `r` (section 3.4): child VIFs where we are the
    /// designated forwarder, not across a boundary, with local members or with downstream
    /// routers (flooded or confirmed dependents) that have not pruned.
    fn compute_oifs(&self, r: &Route, flow: &Flow, now: Instant, group: Ipv4Addr) -> OifSet {
        let mut oifs = OifSet::new();
        if self.vifs.get(&r.parent()).is_some_and(|v| v.scoped(group)) {
            return oifs;
        }
        for (id, v) in &self.vifs {
            if *id == r.parent() || !v.active() || v.scoped(group) || !self.is_df(r, *id) {
                continue;
            }
            let members = v.members.contains(&group);
            let downstream = v.peers().any(|d| {
                self.is_dependent(r, *id, d) && flow.prunes.get(&(*id, d)).is_none_or(|&t| t <= now)
            });
            if members || downstream {
                oifs.set(id.0, v.cfg.threshold);
            }
        }
        oifs
    }

    /// A prune lifetime drawn in [0.5, 1.5) of `avg` (mrouted prune.c `JITTERED_VALUE`).
    fn jitter(&mut self, avg: Duration) -> Duration {
        // xorshift64
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        let ms = u64::try_from(avg.as_millis()).unwrap_or(u64::MAX).max(1);
        Duration::from_millis(ms / 2 + x % ms)
    }

    /// The lifetime of a prune we send for `flow` upstream on `parent`: the VIF's
    /// `prune-lifetime` (else the global one) jittered, and no longer than the shortest
    /// downstream prune (draft section 3.5; mrouted prune.c `send_prune`).
    fn prune_lifetime(&mut self, parent: VifId, flow_prunes: Option<Duration>) -> Duration {
        let avg = self
            .vifs
            .get(&parent)
            .and_then(|v| v.cfg.prune_lifetime)
            .unwrap_or(self.config.prune_lifetime);
        let l = self.jitter(avg);
        flow_prunes.map_or(l, |d| d.min(l))
    }

    fn recompute_flow(&mut self, now: Instant, source: Ipv4Addr, group: Ipv4Addr) {
        let Some(flow) = self.flows.get(&(source, group)) else {
            return;
        };
        let (iif, gateway, negative, oifs, origin) = match self.routes.lookup(source) {
            Some((o, r)) => (
                r.parent(),
                r.gateway(),
                false,
                self.compute_oifs(r, flow, now, group),
                Some(o),
            ),
            None => (flow.iif, None, true, OifSet::new(), None),
        };
        let gw_prunes = gateway.is_some_and(|g| {
            self.vifs
                .get(&iif)
                .and_then(|v| v.neighbors.get(&g))
                .is_some_and(|n| n.capabilities.contains(Capabilities::PRUNE))
        });
        let min_downstream = flow
            .prunes
            .values()
            .filter(|&&t| t > now)
            .map(|&t| sub(t, now))
            .min();
        let pruned = if flow.gateway == gateway {
            flow.pruned_upstream
        } else {
            None
        };
        let can_prune = gw_prunes && self.config.pruning && !flow.parked;
        let want_prune = can_prune && oifs.is_empty() && pruned.is_none();
        // Another flow of the same origin and group already pruned upstream (one prune names
        // the whole origin): share its expiry instead of sending another.
        let shared = if want_prune {
            origin.and_then(|o| self.origin_prune(o, group, now))
        } else {
            None
        };
        let lifetime = if want_prune && shared.is_none() {
            Some(self.prune_lifetime(iif, min_downstream))
        } else {
            None
        };
        let rexmit_on = self.vifs.get(&iif).is_some_and(|v| v.cfg.rexmit_prunes);
        let first_rexmit = if rexmit_on {
            Some(self.jitter(PRUNE_RETRANSMIT))
        } else {
            None
        };
        let cache_lifetime = self.config.cache_lifetime;
        let Some(flow) = self.flows.get_mut(&(source, group)) else {
            return;
        };
        // A parked entry stays out of the kernel until traffic upcalls, unless it has
        // somewhere to go now (a graft).
        let install = !flow.parked || !oifs.is_empty();
        let changed = install && (!flow.installed || flow.iif != iif || flow.oifs != oifs);
        if flow.gateway != gateway {
            flow.pruned_upstream = None;
            flow.graft = None;
            flow.rexmit = None;
        }
        flow.iif = iif;
        flow.gateway = gateway;
        flow.negative = negative;
        flow.oifs = oifs;
        if install {
            flow.installed = true;
            flow.parked = false;
        }
        let mut send = None;
        if let (Some(gw), true) = (gateway, gw_prunes && self.config.pruning) {
            if want_prune {
                if let Some(until) = shared {
                    flow.pruned_upstream = Some(until);
                    flow.graft = None;
                } else if let Some(l) = lifetime.filter(|l| *l > MIN_PRUNE_LIFETIME) {
                    // Section 3.5: nothing downstream wants it: prune upstream, naming the
                    // origin network with its mask. mrouted sends no mask (12 bytes) and
                    // takes one (16 bytes); the draft allows either.
                    flow.pruned_upstream = Some(now + l);
                    flow.graft = None;
                    flow.prune_backoff = PRUNE_RETRANSMIT;
                    flow.rexmit = None;
                    if let Some(first) = first_rexmit.filter(|_| l > PRUNE_RETRANSMIT) {
                        // mrouted prune.c `send_prune`: look again after a jittered 3 s,
                        // doubling each time.
                        flow.rexmit = Some(now + first);
                        flow.prune_backoff = PRUNE_RETRANSMIT.saturating_mul(2);
                    }
                    let o = origin.unwrap_or_else(|| Ipv4Net::from(source));
                    send = Some((
                        gw,
                        Body::Prune {
                            source: o.network(),
                            group,
                            lifetime: secs(l),
                            source_prefix: Some(o.prefix_len()),
                        },
                    ));
                }
                // A lifetime of 5 s or less is not worth a prune (mrouted: "too short").
            } else if !oifs.is_empty() && flow.pruned_upstream.is_some() {
                // Section 3.6: a pruned branch wants it again: graft, retransmitted until acked.
                flow.pruned_upstream = None;
                flow.rexmit = None;
                // Traffic is about to flow again: give the entry a fresh cache lifetime.
                flow.expires = flow.expires.max(now + cache_lifetime);
                flow.graft = Some(Graft {
                    next: now + GRAFT_RETRANSMIT,
                    backoff: GRAFT_RETRANSMIT,
                });
                let o = origin.unwrap_or_else(|| Ipv4Net::from(source));
                send = Some((
                    gw,
                    Body::Graft {
                        source: o.network(),
                        group,
                        source_prefix: Some(o.prefix_len()),
                    },
                ));
            }
        }
        let deadline = flow.next_deadline();
        if changed {
            if let Ok(mut e) = MfcEntry::v4(source, group, iif) {
                e.set_oifs(oifs);
                self.mfc.push_back(MfcAction::Install(e));
            }
        }
        if let Some((gw, body)) = send {
            if matches!(body, Body::Prune { .. }) {
                self.stats.prunes_sent += 1;
            }
            self.send(iif, gw, body);
        }
        self.set_flow_timer(source, group, deadline);
    }

    /// The expiry of a prune sent upstream for another flow of `origin` and `group`.
    fn origin_prune(&self, origin: Ipv4Net, group: Ipv4Addr, now: Instant) -> Option<Instant> {
        self.by_group.get(&group)?.iter().find_map(|s| {
            if !origin.contains(s) {
                return None;
            }
            self.flows
                .get(&(*s, group))
                .and_then(|f| f.pruned_upstream)
                .filter(|t| *t > now)
        })
    }

    /// Resends the prune of (S,G) with what is left of its lifetime, if its parent VIF has
    /// `rexmit-prunes` (mrouted prune.c `send_prune` when it is retransmitting).
    fn retransmit_prune(&mut self, now: Instant, source: Ipv4Addr, group: Ipv4Addr) {
        let Some(f) = self.flows.get(&(source, group)) else {
            return;
        };
        let (Some(gw), Some(until)) = (f.gateway, f.pruned_upstream) else {
            return;
        };
        let iif = f.iif;
        let backoff = f.prune_backoff;
        if !self.vifs.get(&iif).is_some_and(|v| v.cfg.rexmit_prunes) {
            return;
        }
        let left = sub(until, now);
        if left <= MIN_PRUNE_LIFETIME {
            return;
        }
        let origin = self
            .routes
            .lookup(source)
            .map_or_else(|| Ipv4Net::from(source), |(o, _)| o);
        let wait = self.jitter(backoff);
        if let Some(f) = self.flows.get_mut(&(source, group)) {
            if left > backoff {
                f.rexmit = Some(now + wait);
                f.prune_backoff = backoff.saturating_mul(2);
            }
        }
        self.stats.prunes_retransmitted += 1;
        self.send(
            iif,
            gw,
            Body::Prune {
                source: origin.network(),
                group,
                lifetime: secs(left),
                source_prefix: Some(origin.prefix_len()),
            },
        );
    }

    /// Takes (S,G)'s entry out of the kernel until traffic upcalls again.
    fn park(&mut self, source: Ipv4Addr, group: Ipv4Addr) {
        if let Some(f) = self.flows.get_mut(&(source, group)) {
            f.parked = true;
            if f.installed {
                f.installed = false;
                self.mfc.push_back(MfcAction::Remove { source, group });
            }
        }
    }

    /// Moves the flow's entry in the flow timer index to `at`.
    fn set_flow_timer(&mut self, source: Ipv4Addr, group: Ipv4Addr, at: Instant) {
        let Some(f) = self.flows.get_mut(&(source, group)) else {
            return;
        };
        if f.timer == Some(at) {
            return;
        }
        if let Some(old) = f.timer.replace(at) {
            self.flow_timers.remove(&(old, source, group));
        }
        self.flow_timers.insert((at, source, group));
    }

    fn flow_timer(&mut self, now: Instant, source: Ipv4Addr, group: Ipv4Addr) {
        let cache_lifetime = self.config.cache_lifetime;
        let Some(flow) = self.flows.get_mut(&(source, group)) else {
            return;
        };
        flow.prunes.retain(|_, t| *t > now);
        let mut park = false;
        if flow.pruned_upstream.is_some_and(|t| t <= now) {
            // mrouted prune.c: "upstream prune tmo": the kernel entry goes; traffic that
            // comes again upcalls, and is pruned again if still unwanted.
            flow.pruned_upstream = None;
            flow.rexmit = None;
            park = flow.oifs.is_empty();
        }
        let mut resend = None;
        if let (Some(g), Some(gw)) = (flow.graft.as_mut(), flow.gateway) {
            if g.next <= now {
                // mrouted prune.c `age_table_entry`: the interval doubles, with no cap.
                g.backoff = g.backoff.saturating_mul(2);
                g.next = now + g.backoff;
                resend = Some((flow.iif, gw));
            }
        }
        if flow.rexmit.is_some_and(|t| t <= now) {
            // mrouted prune.c `rexmit_prune`: still not forwarding after the prune: take the
            // kernel entry out, so that traffic that still comes (the prune was lost)
            // upcalls and the prune is said again.
            flow.rexmit = None;
            park |= flow.oifs.is_empty() && flow.pruned_upstream.is_some();
        }
        let mut delete = false;
        if flow.expires <= now {
            if flow.negative || !flow.installed {
                // A stop filter, or an entry not in the kernel: nothing to count.
                delete = flow.hold_until() <= now;
            } else if flow.checking {
                // The counter was asked for a lifetime ago and never came: take the flow
                // as idle.
                flow.checking = false;
                delete = flow.hold_until() <= now;
                park = true;
            } else {
                // mrouted prune.c `age_table_entry`: before deleting, look at the kernel's
                // packet counter; an active flow lives on.
                flow.checking = true;
                flow.expires = now + cache_lifetime;
                self.mfc
                    .push_back(MfcAction::CheckCounters { source, group });
            }
        }
        if delete {
            self.delete_flow(source, group);
            return;
        }
        if park {
            self.park(source, group);
        }
        if let Some((vif, gw)) = resend {
            let origin = self
                .routes
                .lookup(source)
                .map_or_else(|| Ipv4Net::from(source), |(o, _)| o);
            self.send(
                vif,
                gw,
                Body::Graft {
                    source: origin.network(),
                    group,
                    source_prefix: Some(origin.prefix_len()),
                },
            );
        }
        self.recompute_flow(now, source, group);
    }

    fn delete_flow(&mut self, source: Ipv4Addr, group: Ipv4Addr) {
        let Some(f) = self.flows.remove(&(source, group)) else {
            return;
        };
        if let Some(t) = f.timer {
            self.flow_timers.remove(&(t, source, group));
        }
        if let Some(s) = self.by_group.get_mut(&group) {
            s.remove(&source);
            if s.is_empty() {
                self.by_group.remove(&group);
            }
        }
        if f.installed || !f.parked {
            self.mfc.push_back(MfcAction::Remove { source, group });
        }
    }

    /// The kernel's packet counter of (S,G), asked for by [`MfcAction::CheckCounters`]
    /// (`None`: the kernel has no such entry or could not say). A counter that moved since
    /// the last look keeps the entry for another cache lifetime; one that stood still
    /// removes it, or, while prune state holds the flow, takes only the kernel entry out.
    pub fn handle_counters(
        &mut self,
        now: Instant,
        source: Ipv4Addr,
        group: Ipv4Addr,
        packets: Option<u64>,
    ) {
        let cache_lifetime = self.config.cache_lifetime;
        let Some(flow) = self.flows.get_mut(&(source, group)) else {
            return;
        };
        if !flow.checking {
            return;
        }
        flow.checking = false;
        if packets.is_some() && packets != flow.packets {
            flow.packets = packets;
            flow.expires = now + cache_lifetime;
            self.stats.flows_kept_active += 1;
            self.set_flow_timer(source, group, now + cache_lifetime);
            return;
        }
        flow.expires = now;
        if flow.hold_until() <= now {
            self.delete_flow(source, group);
        } else {
            self.park(source, group);
            if let Some(f) = self.flows.get(&(source, group)) {
                let d = f.next_deadline();
                self.set_flow_timer(source, group, d);
            }
        }
    }

    /// The flows a prune, graft or graft-ack names: (S,G) itself when we have it; else,
    /// as mrouted reads them (it sends the route's origin, not the host, and no mask), every
    /// flow of G whose source lies in the source prefix, or in the origin of the route the
    /// source address falls in.
    fn flows_named(
        &self,
        (source, prefix): (Ipv4Addr, Option<u8>),
        group: Ipv4Addr,
    ) -> Vec<(Ipv4Addr, Ipv4Addr)> {
        if prefix.is_none_or(|p| p == 32) && self.flows.contains_key(&(source, group)) {
            return vec![(source, group)];
        }
        let net = match prefix {
            Some(p) => Ipv4Net::new(source, p).ok().map(|n| n.trunc()),
            None => self.routes.lookup(source).map(|(o, _)| o),
        };
        let Some(net) = net else {
            return Vec::new();
        };
        self.by_group
            .get(&group)
            .map(|srcs| {
                srcs.iter()
                    .filter(|s| net.contains(*s))
                    .map(|s| (*s, group))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn on_prune(
        &mut self,
        now: Instant,
        vif: VifId,
        nbr: Ipv4Addr,
        source: (Ipv4Addr, Option<u8>),
        group: Ipv4Addr,
        lifetime: u32,
    ) {
        // mrouted prune.c `accept_prune`: a lifetime of 5 s or less is not worth it.
        let lifetime = Duration::from_secs(u64::from(lifetime));
        if lifetime <= MIN_PRUNE_LIFETIME {
            self.stats.prunes_too_short += 1;
            return;
        }
        // ...nor a prune for a group scoped on the VIF it came on.
        if self.vifs.get(&vif).is_some_and(|v| v.scoped(group)) {
            self.stats.prunes_scoped += 1;
            return;
        }
        let keys = self.flows_named(source, group);
        let mut accepted = false;
        let mut not_child = false;
        for (s, g) in keys {
            let child = self
                .routes
                .lookup(s)
                .is_some_and(|(_, r)| self.is_child(r, vif));
            let Some(flow) = self.flows.get_mut(&(s, g)) else {
                continue;
            };
            if flow.negative {
                continue;
            }
            // ...nor one from a router on a VIF that is not a child of the route: the
            // sender is upstream, or another router forwards onto that VIF.
            if !child {
                not_child = true;
                continue;
            }
            accepted = true;
            flow.prunes.insert((vif, nbr), now + lifetime);
            self.recompute_flow(now, s, g);
        }
        if accepted {
            self.stats.prunes += 1;
        } else if not_child {
            self.stats.prunes_not_child += 1;
        } else {
            self.stats.prunes_ignored += 1;
        }
    }

    fn on_graft(
        &mut self,
        now: Instant,
        vif: VifId,
        nbr: Ipv4Addr,
        source: (Ipv4Addr, Option<u8>),
        group: Ipv4Addr,
    ) {
        self.stats.grafts += 1;
        // Section 3.6: every graft is acknowledged, state or not, with what it named.
        self.send(
            vif,
            nbr,
            Body::GraftAck {
                source: source.0,
                group,
                source_prefix: source.1,
            },
        );
        if self.vifs.get(&vif).is_some_and(|v| v.scoped(group)) {
            return;
        }
        for (s, g) in self.flows_named(source, group) {
            if let Some(flow) = self.flows.get_mut(&(s, g)) {
                flow.prunes.remove(&(vif, nbr));
                flow.expires = flow.expires.max(now + self.config.cache_lifetime);
                self.recompute_flow(now, s, g);
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // mtrace (draft-ietf-idmr-traceroute-ipm; mrouted prune.c `accept_mtrace`)

    /// The VIF whose subnet (or altnet) holds `addr`.
    fn vif_of(&self, addr: Ipv4Addr) -> Option<VifId> {
        self.vifs
            .iter()
            .find(|(_, v)| v.active() && v.local_origins().any(|o| o.contains(&addr)))
            .map(|(id, _)| *id)
    }

    /// An mtrace query or request (IGMP type 0x1f) from `src` to `dst` (one of our
    /// addresses, or a group such as 224.0.0.2). Returns what to send, or `None` when it
    /// is not ours to answer (a multicast query for a receiver we are not the last hop
    /// of, a duplicate, a trace already full, a malformed message).
    ///
    /// As mrouted: the last-hop router (whose VIF holds the receiver and is a child of
    /// the route to the source) answers the query; each router adds its block and sends
    /// the request on to its upstream router for the source, unicast, until the origin's
    /// router, a router with no route, or the hop limit, which send the response to the
    /// requester.
    pub fn handle_mtrace(
        &mut self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        bytes: &[u8],
    ) -> Option<MtraceReply> {
        use crate::wire::mtrace::{self as mt, fwd};
        let Ok(mut msg) = mt::Repr::parse(bytes) else {
            self.stats.mtrace_dropped += 1;
            return None;
        };
        if msg.query.msg_type != mt::TYPE_QUERY
            || msg.blocks.len() >= usize::from(msg.query.max_hops)
        {
            self.stats.mtrace_dropped += 1;
            return None;
        }
        let q = msg.query;
        let group = q.group;
        let route = self.routes.lookup(q.source).map(|(o, r)| (o, r.clone()));
        let mut code = fwd::NO_ERROR;
        let out_vif = if msg.is_query() {
            // mrouted remembers the last query id to ignore the copies a multicast query
            // brings over several VIFs.
            if self.last_mtrace_qid == Some(q.ttl_qid) {
                self.stats.mtrace_dropped += 1;
                return None;
            }
            if route.is_none() && dst.is_multicast() {
                self.stats.mtrace_dropped += 1;
                return None;
            }
            match self.vif_of(q.destination) {
                None => {
                    if dst.is_multicast() {
                        self.stats.mtrace_dropped += 1;
                        return None;
                    }
                    code = fwd::WRONG_IF;
                    None
                }
                Some(v) => {
                    if route.as_ref().is_some_and(|(_, r)| !self.is_child(r, v)) {
                        if dst.is_multicast() {
                            self.stats.mtrace_dropped += 1;
                            return None;
                        }
                        code = fwd::WRONG_IF;
                    }
                    Some(v)
                }
            }
        } else {
            // A request in transit came from the downstream router on one of our VIFs.
            if dst.is_multicast() {
                self.stats.mtrace_dropped += 1;
                return None;
            }
            let v = self.vif_of(src);
            if v.is_none() {
                code = fwd::WRONG_IF;
            }
            v
        };
        self.last_mtrace_qid = Some(q.ttl_qid);
        let mut block = mt::Block {
            protocol: mt::PROTO_DVMRP,
            fwd_code: code,
            in_packets: mt::NO_COUNT,
            out_packets: mt::NO_COUNT,
            sg_packets: mt::NO_COUNT,
            ..mt::Block::default()
        };
        let mut counters = MtraceCounters {
            out_vif,
            ..MtraceCounters::default()
        };
        match out_vif.and_then(|v| self.vifs.get(&v)) {
            Some(v) => {
                block.out_addr = v.cfg.local;
                block.fwd_ttl = v.cfg.threshold;
            }
            None => block.out_addr = dst,
        }
        // Scoping and pruning.
        let scoped_out =
            out_vif.is_some_and(|v| self.vifs.get(&v).is_some_and(|v| v.scoped(group)));
        match self.flows.get(&(q.source, group)) {
            Some(f) if !f.negative => {
                counters.flow = Some((q.source, group));
                if scoped_out {
                    block.fwd_code = fwd::SCOPED;
                } else if f.pruned_upstream.is_some() {
                    block.fwd_code = fwd::PRUNE_SENT;
                } else if let Some(v) = out_vif.filter(|v| !f.oifs.contains(v.0)) {
                    let pruned_below = self.vifs.get(&v).is_some_and(|vv| {
                        vv.peers().next().is_some()
                            && vv.peers().all(|p| f.prunes.contains_key(&(v, p)))
                    });
                    block.fwd_code = if pruned_below {
                        fwd::PRUNE_RCVD
                    } else {
                        fwd::NOT_FORWARDING
                    };
                }
            }
            _ => {
                let scoped_in = route.as_ref().is_some_and(|(_, r)| {
                    self.vifs.get(&r.parent()).is_some_and(|v| v.scoped(group))
                });
                if scoped_out || scoped_in {
                    block.fwd_code = fwd::SCOPED;
                } else if let (Some((_, r)), Some(v)) = (&route, out_vif) {
                    if !self.is_child(r, v) {
                        block.fwd_code = fwd::NOT_FORWARDING;
                    }
                }
            }
        }
        // The route towards the source.
        let mut upstream = None;
        let mut ip_src = dst;
        match &route {
            None => {
                block.in_addr = Ipv4Addr::UNSPECIFIED;
                block.fwd_code = fwd::NO_ROUTE;
                block.prev_hop = Ipv4Addr::UNSPECIFIED;
            }
            Some((o, r)) => {
                counters.in_vif = Some(r.parent());
                block.src_mask = o.prefix_len();
                let local = self.vifs.get(&r.parent()).map(|v| v.cfg.local);
                ip_src = local.unwrap_or(dst);
                block.in_addr = ip_src;
                block.prev_hop = r.gateway().unwrap_or(Ipv4Addr::UNSPECIFIED);
                if out_vif.is_some_and(|v| !self.is_child(r, v)) {
                    block.fwd_code = fwd::WRONG_IF;
                }
                if !r.reachable() {
                    block.fwd_code = fwd::NO_ROUTE;
                } else {
                    upstream = r.gateway().map(|g| (r.parent(), g));
                }
            }
        }
        let full = msg.blocks.len() + 1 >= usize::from(q.max_hops);
        // mrouted sends the response once the route is directly connected (its test is
        // "metric 1"; here: no gateway, which also holds for a connected subnet with a
        // higher VIF metric).
        let (msg_type, to) = match upstream {
            Some((vif, gw)) if !full => {
                let can = self
                    .vifs
                    .get(&vif)
                    .and_then(|v| v.neighbors.get(&gw))
                    .is_some_and(|n| n.capabilities.contains(Capabilities::MTRACE));
                if can {
                    (mt::TYPE_QUERY, gw)
                } else {
                    block.fwd_code = fwd::OLD_ROUTER;
                    (mt::TYPE_RESPONSE, q.response_addr)
                }
            }
            _ => (mt::TYPE_RESPONSE, q.response_addr),
        };
        msg.query.msg_type = msg_type;
        msg.blocks.push(block);
        self.stats.mtrace += 1;
        let multicast = to.is_multicast();
        let vif = if multicast {
            // Any multicast-capable VIF that is up (mrouted: its first phyint).
            out_vif.or_else(|| {
                self.vifs
                    .iter()
                    .find(|(_, v)| v.active())
                    .map(|(id, _)| *id)
            })
        } else {
            None
        };
        if ip_src.is_multicast() || ip_src.is_unspecified() {
            ip_src = vif
                .or(out_vif)
                .and_then(|v| self.vifs.get(&v))
                .map_or(Ipv4Addr::UNSPECIFIED, |v| v.cfg.local);
        }
        Some(MtraceReply {
            message: msg,
            src: ip_src,
            dst: to,
            // mrouted's mtrace on a little-endian host puts the response TTL in the last of
            // the four bytes (a C bit-field), the draft in the first: take the larger.
            ttl: if multicast {
                q.response_ttl().max((q.ttl_qid & 0xff) as u8).max(1)
            } else {
                64
            },
            vif,
            counters,
        })
    }

    // ----------------------------------------------------------------------------------
    // Sending

    /// Our capabilities: mrouted's, plus leaf when at most one VIF has neighbours.
    fn capabilities(&self) -> Capabilities {
        let with_neighbors = self
            .vifs
            .values()
            .filter(|v| v.peers().next().is_some())
            .count();
        let mut caps = Capabilities::MROUTED;
        if with_neighbors <= 1 {
            caps |= Capabilities::LEAF;
        }
        caps
    }

    fn send_probe(&mut self, vif: VifId) {
        let Some(v) = self.vifs.get(&vif) else {
            return;
        };
        let neighbors = v.neighbors.keys().copied().collect();
        let body = Body::Probe {
            generation_id: self.config.generation_id,
            neighbors,
        };
        self.send(vif, ALL_DVMRP_ROUTERS, body);
    }

    fn send(&mut self, vif: VifId, dst: Ipv4Addr, body: Body) {
        let repr = Repr {
            capabilities: self.capabilities(),
            minor: wire::MINOR_VERSION,
            major: wire::MAJOR_VERSION,
            body,
        };
        if let Ok(bytes) = repr.to_bytes() {
            self.push(vif, dst, bytes);
        }
    }

    fn push(&mut self, vif: VifId, dst: Ipv4Addr, payload: Vec<u8>) {
        let Some(v) = self.vifs.get(&vif) else {
            return;
        };
        if !v.active() {
            return;
        }
        self.stats.sent += 1;
        self.transmits.push_back(Transmit {
            egress: Egress::Vif(vif),
            src: Some(v.cfg.local.into()),
            dst: dst.into(),
            ttl: TTL,
            payload,
        });
    }
}

fn flow_info(source: Ipv4Addr, group: Ipv4Addr, f: &Flow) -> FlowInfo {
    FlowInfo {
        source,
        group,
        iif: f.iif,
        oifs: f.oifs,
        gateway: f.gateway,
        negative: f.negative,
        pruned_upstream: f.pruned_upstream.is_some(),
        grafting: f.graft.is_some(),
        pruned_by: f.prunes.keys().copied().collect(),
        expires: f.expires,
        upstream_prune_expires: f.pruned_upstream,
    }
}

fn route_info(epoch: Option<Instant>, origin: Ipv4Net, r: &Route) -> RouteInfo {
    let at = |phase| {
        (r.phase() == phase)
            .then(|| epoch.map(|e| e + Duration::from_millis(r.deadline())))
            .flatten()
    };
    let mut dependents: Vec<(VifId, Ipv4Addr)> = r
        .peers()
        .filter(|p| p.dependent())
        .map(|p| (p.vif(), p.addr()))
        .collect();
    dependents.sort_unstable();
    RouteInfo {
        expires: at(Phase::Live),
        holddown_until: at(Phase::HoldDown),
        origin,
        metric: r.metric,
        parent: r.parent(),
        gateway: r.gateway(),
        dependents,
    }
}
