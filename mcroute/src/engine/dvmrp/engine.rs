//! The DVMRP engine: neighbours, routes, reverse path multicasting, prunes and grafts.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv4Addr;
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
}

#[derive(Debug)]
struct Vif {
    cfg: VifConfig,
    up: bool,
    neighbors: BTreeMap<Ipv4Addr, Neighbor>,
    /// Groups with local members (from the IGMP querier).
    members: BTreeSet<Ipv4Addr>,
}

impl Vif {
    fn active(&self) -> bool {
        self.up && self.cfg.enabled
    }

    fn speaks_dvmrp(&self) -> bool {
        self.active() && !self.cfg.passive
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
    Report,
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
        if !(1..=254).contains(&cfg.threshold) {
            return Err(ConfigError::Threshold(cfg.vif, cfg.threshold));
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
        if !self.vifs[&vif].cfg.passive {
            self.send_probe(vif);
            self.misc.insert(Misc::Probe(vif), now + PROBE_INTERVAL);
        }
        if !self.report_scheduled {
            self.report_scheduled = true;
            self.misc.insert(Misc::Report, now + REPORT_INTERVAL);
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
            Some(f) => f.expires = expires,
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
        if !v.speaks_dvmrp() {
            self.stats.inactive_vif += 1;
            return;
        }
        if src == v.cfg.local {
            return; // our own message looped back
        }
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
        let two_way = v.neighbors.get(&src).is_some_and(|n| n.two_way);
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
            _ if !two_way => self.stats.not_neighbor += 1,
            Body::Report { routes } => {
                self.stats.reports += 1;
                for r in routes {
                    self.on_route(now, vif, src, r);
                }
            }
            Body::Prune {
                source,
                group,
                lifetime,
                source_prefix,
            } => self.on_prune(now, vif, src, (source, source_prefix), group, lifetime),
            Body::Graft {
                source,
                group,
                source_prefix,
            } => self.on_graft(now, vif, src, (source, source_prefix), group),
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
                                self.send_probe(vif);
                                self.misc.insert(Misc::Probe(vif), now + PROBE_INTERVAL);
                            }
                        }
                        Misc::Report => {
                            self.send_full_reports();
                            self.misc.insert(Misc::Report, now + REPORT_INTERVAL);
                        }
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
        let expires = now + NEIGHBOR_TIMEOUT;
        let previous = v.neighbors.get(&src).map(|n| n.expires);
        if previous.is_none() && v.neighbors.len() >= self.config.max_neighbors_per_vif {
            // A probe storm from made-up addresses: each would cost a neighbour entry.
            self.stats.neighbor_limit += 1;
            return;
        }
        let (new, restarted, was_two_way, prev_two_way) = match v.neighbors.get_mut(&src) {
            None => {
                v.neighbors.insert(
                    src,
                    Neighbor {
                        generation_id,
                        capabilities,
                        version,
                        expires,
                        two_way: lists_us,
                    },
                );
                (true, false, false, false)
            }
            Some(n) => {
                let restarted = n.generation_id != generation_id;
                let prev = n.two_way;
                let was = n.two_way && !restarted;
                n.generation_id = generation_id;
                n.capabilities = capabilities;
                n.version = version;
                n.expires = expires;
                n.two_way = lists_us;
                (false, restarted, was, prev)
            }
        };
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
        if new || restarted {
            // Let it hear us at once, so that it becomes two-way without waiting 10 s.
            self.send_probe(vif);
        }
        if lists_us && !was_two_way {
            self.send_report_to(vif, src);
        }
        if !lists_us && was_two_way {
            // It no longer hears us: adjacency lost.
            self.forget_neighbor(now, vif, src);
        }
        if lists_us != prev_two_way || new {
            // Forwarding to dependent routers needs two-way adjacency.
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
        for o in lost {
            self.make_unreachable(now, o);
        }
        for f in self.flows.values_mut() {
            f.prunes.remove(&(vif, addr));
            if f.gateway == Some(addr) {
                f.pruned_upstream = None;
                f.graft = None;
            }
        }
    }

    fn answer_ask_neighbors(&mut self, vif: VifId, src: Ipv4Addr) {
        let blocks = self
            .vifs
            .values()
            .map(|v| {
                let mut flags = 0u8;
                if !v.up {
                    flags |= 0x10; // DVMRP_NF_DOWN
                }
                if !v.cfg.enabled {
                    flags |= 0x20; // DVMRP_NF_DISABLED
                }
                wire::NeighborBlock {
                    local: v.cfg.local,
                    metric: v.cfg.metric,
                    threshold: v.cfg.threshold,
                    flags,
                    neighbors: v.neighbors.keys().copied().take(255).collect(),
                }
            })
            .collect();
        self.send(vif, src, Body::Neighbors2 { blocks });
    }

    // ----------------------------------------------------------------------------------
    // Routes (section 3.3)

    fn on_route(&mut self, now: Instant, vif: VifId, nbr: Ipv4Addr, rr: ReportRoute) {
        self.stats.routes_received += 1;
        let m = rr.metric;
        if m == 0 || m >= 2 * INFINITY {
            self.stats.bad_metric += 1;
            return;
        }
        let origin = rr.origin.trunc();
        if !valid_origin(&origin) {
            self.stats.bad_origin += 1;
            return;
        }
        let Some(vif_metric) = self.vifs.get(&vif).map(|v| v.cfg.metric) else {
            return;
        };
        let poisoned = m > INFINITY;
        let effective = if poisoned {
            INFINITY
        } else {
            m.saturating_add(vif_metric).min(INFINITY)
        };
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
            // Section 3.3.5: a poisoned reverse report says the sender depends on us.
            recompute |= r.set_dependent(vif, nbr, poisoned);
            recompute |= r.set_offer(vif, nbr, offer);
            let (gateway, parent, metric) = (r.gateway(), r.parent(), r.metric);
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
                && (effective < metric || (effective == metric && gateway.is_some_and(|g| nbr < g)))
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

    /// The metric we report for a route on `vif`: poisoned reverse towards the upstream
    /// (section 3.3.5), infinity during hold-down.
    fn advertised(r: &Route, vif: VifId) -> u8 {
        if !r.reachable() {
            INFINITY
        } else if r.gateway().is_some() && r.parent() == vif {
            r.metric + INFINITY
        } else {
            r.metric
        }
    }

    fn report_routes<'a>(
        &self,
        vif: VifId,
        origins: impl Iterator<Item = &'a Ipv4Net>,
    ) -> Vec<ReportRoute> {
        origins
            .filter_map(|o| {
                self.routes.get(o).map(|r| ReportRoute {
                    origin: *o,
                    metric: Self::advertised(r, vif),
                })
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

    /// VIFs where reports go: DVMRP is on and a neighbour is there.
    fn report_vifs(&self) -> Vec<VifId> {
        self.vifs
            .iter()
            .filter(|(_, v)| v.speaks_dvmrp() && !v.neighbors.is_empty())
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
    /// designated forwarder, not across a boundary, with local members or with dependent
    /// downstream routers that have not pruned.
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
            let downstream = r.peers().any(|p| {
                let d = p.addr();
                p.vif() == *id
                    && p.dependent()
                    && v.neighbors.get(&d).is_some_and(|n| n.two_way)
                    && flow.prunes.get(&(*id, d)).is_none_or(|&t| t <= now)
            });
            if members || downstream {
                oifs.set(id.0, v.cfg.threshold);
            }
        }
        oifs
    }

    fn recompute_flow(&mut self, now: Instant, source: Ipv4Addr, group: Ipv4Addr) {
        let Some(flow) = self.flows.get(&(source, group)) else {
            return;
        };
        let (iif, gateway, negative, oifs) = match self.routes.lookup(source) {
            Some((_, r)) => (
                r.parent(),
                r.gateway(),
                false,
                self.compute_oifs(r, flow, now, group),
            ),
            None => (flow.iif, None, true, OifSet::new()),
        };
        let gw_prunes = gateway.is_some_and(|g| {
            self.vifs
                .get(&iif)
                .and_then(|v| v.neighbors.get(&g))
                .is_some_and(|n| n.capabilities.contains(Capabilities::PRUNE))
        });
        let min_downstream = flow.prunes.values().map(|&t| sub(t, now)).min();
        let prune_lifetime = min_downstream
            .map_or(self.config.prune_lifetime, |d| {
                d.min(self.config.prune_lifetime)
            })
            .max(Duration::from_secs(1));
        let pruning = self.config.pruning;
        let cache_lifetime = self.config.cache_lifetime;
        let Some(flow) = self.flows.get_mut(&(source, group)) else {
            return;
        };
        let changed = !flow.installed || flow.iif != iif || flow.oifs != oifs;
        if flow.gateway != gateway {
            flow.pruned_upstream = None;
            flow.graft = None;
        }
        flow.iif = iif;
        flow.gateway = gateway;
        flow.negative = negative;
        flow.oifs = oifs;
        flow.installed = true;
        let mut send = None;
        if let (Some(gw), true, true) = (gateway, gw_prunes, pruning) {
            if oifs.is_empty() && flow.pruned_upstream.is_none() {
                // Section 3.5: nothing downstream wants it: prune upstream.
                flow.pruned_upstream = Some(now + prune_lifetime);
                flow.graft = None;
                send = Some((
                    gw,
                    Body::Prune {
                        source,
                        group,
                        lifetime: secs(prune_lifetime),
                        source_prefix: None,
                    },
                ));
            } else if !oifs.is_empty() && flow.pruned_upstream.is_some() {
                // Section 3.6: a pruned branch wants it again: graft, retransmitted until acked.
                flow.pruned_upstream = None;
                // Traffic is about to flow again: give the entry a fresh cache lifetime.
                flow.expires = flow.expires.max(now + cache_lifetime);
                flow.graft = Some(Graft {
                    next: now + GRAFT_RETRANSMIT,
                    backoff: GRAFT_RETRANSMIT,
                });
                send = Some((
                    gw,
                    Body::Graft {
                        source,
                        group,
                        source_prefix: None,
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
            self.send(iif, gw, body);
        }
        self.set_flow_timer(source, group, deadline);
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
        let Some(flow) = self.flows.get_mut(&(source, group)) else {
            return;
        };
        flow.prunes.retain(|_, t| *t > now);
        if flow.pruned_upstream.is_some_and(|t| t <= now) {
            flow.pruned_upstream = None;
        }
        let mut resend = None;
        if let (Some(g), Some(gw)) = (flow.graft.as_mut(), flow.gateway) {
            if g.next <= now {
                g.backoff = (g.backoff * 2).min(MAX_GRAFT_RETRANSMIT);
                g.next = now + g.backoff;
                resend = Some((flow.iif, gw));
            }
        }
        if flow.hold_until() <= now {
            self.flows.remove(&(source, group));
            if let Some(s) = self.by_group.get_mut(&group) {
                s.remove(&source);
                if s.is_empty() {
                    self.by_group.remove(&group);
                }
            }
            self.mfc.push_back(MfcAction::Remove { source, group });
            return;
        }
        if let Some((vif, gw)) = resend {
            self.send(
                vif,
                gw,
                Body::Graft {
                    source,
                    group,
                    source_prefix: None,
                },
            );
        }
        self.recompute_flow(now, source, group);
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
        let keys = self.flows_named(source, group);
        let mut accepted = false;
        for (s, g) in keys {
            let Some(flow) = self.flows.get_mut(&(s, g)) else {
                continue;
            };
            if flow.iif == vif || flow.negative {
                continue;
            }
            accepted = true;
            let lifetime = Duration::from_secs(u64::from(lifetime.max(1)));
            flow.prunes.insert((vif, nbr), now + lifetime);
            self.recompute_flow(now, s, g);
        }
        if accepted {
            self.stats.prunes += 1;
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
        for (s, g) in self.flows_named(source, group) {
            if let Some(flow) = self.flows.get_mut(&(s, g)) {
                flow.prunes.remove(&(vif, nbr));
                self.recompute_flow(now, s, g);
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // Sending

    /// Our capabilities: mrouted's, plus leaf when at most one VIF has neighbours.
    fn capabilities(&self) -> Capabilities {
        let with_neighbors = self
            .vifs
            .values()
            .filter(|v| !v.neighbors.is_empty())
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
        if !v.speaks_dvmrp() {
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
