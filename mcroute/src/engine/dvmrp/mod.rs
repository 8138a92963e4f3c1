//! DVMRP (draft-ietf-idmr-dvmrp-v3-11) as a sans-IO engine, in the style of quinn-proto.
//!
//! The [`Engine`] owns no socket and reads no clock. The caller feeds it inputs, each with
//! the current time:
//! - [`Engine::handle_packet`]: a DVMRP message (the IGMP payload) received on a VIF,
//! - [`Engine::handle_upcall`] / [`Engine::handle_data`]: a kernel upcall for an (S,G),
//! - [`Engine::handle_timeout`]: the deadline returned by [`Engine::poll_timeout`] passed,
//! - [`Engine::interface_up`] / [`Engine::interface_down`]: a VIF changed state,
//! - [`Engine::local_membership`]: the IGMP querier saw a group joined or left,
//!
//! and drains its outputs: [`Engine::poll_transmit`] (messages to send, TTL 1, to
//! 224.0.0.4 or unicast to a neighbour), [`Engine::poll_mfc`] (MFC entries to install or
//! remove, and entries whose kernel packet counters it wants to see: answer with
//! [`Engine::handle_counters`]) and [`Engine::poll_timeout`] (when to call
//! [`Engine::handle_timeout`] next).
//!
//! # Where mrouted and the draft differ
//!
//! The draft (draft-ietf-idmr-dvmrp-v3-11) is the normative text, but the routers deployed
//! are mrouted 3.9 and 4.x, and this engine has to peer with them. Where the two differ,
//! the engine does what mrouted does, and says so where it does it: route expiry and
//! garbage collection times, flooding to every downstream neighbour until it confirms by
//! poison reverse, a connected subnet not reported onto its own VIF, reports paced over the
//! report interval, prune lifetimes and the prunes it ignores, grafts acknowledged from any
//! router, graft retransmission without a cap.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use mcroute::engine::dvmrp::{Config, Engine, VifConfig};
//! use mcroute::VifId;
//!
//! let t0 = Instant::now();
//! let mut engine = Engine::new(Config::default());
//! let vif = VifConfig::new(VifId(0), "192.0.2.1".parse()?, "192.0.2.0/24".parse()?);
//! engine.add_vif(vif)?;
//! engine.interface_up(t0, VifId(0));
//! let probe = engine.poll_transmit().expect("a probe goes out at once");
//! assert_eq!(probe.dst, mcroute::wire::ALL_DVMRP_ROUTERS);
//! assert_eq!(engine.poll_timeout(), Some(t0)); // the flash update of the new local route
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ipnet::Ipv4Net;

use crate::model::{MfcEntry, VifId};

mod engine;
mod table;
#[cfg(test)]
mod tests;

pub use engine::Engine;

/// Probe interval (draft section 3.2 and table 2: 10 s).
pub const PROBE_INTERVAL: Duration = Duration::from_secs(10);
/// Neighbour time-out interval (table 2: 35 s; mrouted's `NEIGHBOR_EXPIRE_TIME` of 30 s
/// checked on a 5 s tick comes to 30..35 s).
pub const NEIGHBOR_TIMEOUT: Duration = Duration::from_secs(35);
/// How long a neighbour whose probe omits us stays a two-way neighbour after it appeared or
/// restarted (mrouted vif.c: 20 s; the draft drops the adjacency at once).
pub const ONE_WAY_GRACE: Duration = Duration::from_secs(20);
/// Minimum interval between flash (triggered) updates (table 2: 5 s).
pub const MIN_FLASH_INTERVAL: Duration = Duration::from_secs(5);
/// Full route report interval (section 3.3 and table 2: 60 s). mrouted does not send the
/// table in one burst: it sends a share of it every [`REPORT_TICK`] so that the whole table
/// goes out once per interval (main.c `fasttimer`); so does the engine.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(60);
/// The pace of the full report: a share of the table every second.
pub const REPORT_TICK: Duration = Duration::from_secs(1);
/// Routes per chunk of the paced full report (about one 516-byte message).
pub const REPORT_CHUNK: usize = 64;
/// A route not refreshed for this long becomes unreachable. mrouted: 200 s
/// (`ROUTE_EXPIRE_TIME`); the draft's table 2 says 140 s.
pub const ROUTE_EXPIRATION: Duration = Duration::from_secs(200);
/// A route not refreshed for this long may switch to another gateway reporting the same
/// metric (mrouted's `ROUTE_SWITCH_TIME`).
pub const ROUTE_SWITCH_TIME: Duration = Duration::from_secs(140);
/// An unreachable route is still advertised (with metric infinity) this long before it is
/// deleted: mrouted discards a route 340 s after its last refresh (`ROUTE_DISCARD_TIME`),
/// 140 s after it expired (the draft: 2 x the report interval).
pub const ROUTE_HOLDDOWN: Duration = Duration::from_secs(140);
/// Downstream routers not re-confirmed by poison reverse within this long stop being
/// dependents (mrouted route.c: two report intervals).
pub const DEPENDENT_CONFIRMATION: Duration = Duration::from_secs(120);
/// Prunes with a lifetime of this or less are neither sent nor honoured (mrouted's
/// `MIN_PRUNE_LIFE`, one 5 s timer tick).
pub const MIN_PRUNE_LIFETIME: Duration = Duration::from_secs(5);
/// First retransmission of a prune on a `rexmit-prunes` VIF, doubled each time (mrouted's
/// `PRUNE_REXMIT_VAL`, jittered).
pub const PRUNE_RETRANSMIT: Duration = Duration::from_secs(3);
/// Reports from a `blaster` neighbour wait this long, then are taken
/// [`BLASTER_BATCH`] a second (mrouted route.c).
pub const BLASTER_DELAY: Duration = Duration::from_secs(5);
/// Reports from a `blaster` neighbour taken per second.
pub const BLASTER_BATCH: usize = 5;
/// Default lifetime of the prunes we send (section 3.5 and table 2: less than 2 hours;
/// mrouted's `AVERAGE_PRUNE_LIFETIME`, 7200 s).
pub const DEFAULT_PRUNE_LIFETIME: Duration = Duration::from_secs(7200);
/// Initial graft retransmission time, doubled on each retransmission (table 2: 5 s with
/// exponential back-off).
pub const GRAFT_RETRANSMIT: Duration = Duration::from_secs(5);
/// How long a forwarding cache entry lives before the engine looks at its kernel packet
/// counter (mrouted's `DEFAULT_CACHE_LIFETIME`, 300 s; `cache-lifetime` in mrouted.conf).
/// An entry whose counter moved lives on; one whose counter stood still is removed.
pub const DEFAULT_CACHE_LIFETIME: Duration = Duration::from_secs(300);
/// The infinity metric: unreachable (section 3.3.2: 32). Reported metrics above it are
/// poisoned reverse (metric + 32).
pub const INFINITY: u8 = 32;
/// Default cap on the routing table ([`Config::max_routes`]): about 50 MB of routes, ten
/// times the largest DVMRP networks ran.
pub const DEFAULT_MAX_ROUTES: usize = 500_000;
/// Default cap on the routes learned through one neighbour
/// ([`Config::max_routes_per_neighbor`]).
pub const DEFAULT_MAX_ROUTES_PER_NEIGHBOR: usize = 250_000;
/// Default cap on the neighbours of one VIF ([`Config::max_neighbors_per_vif`]).
pub const DEFAULT_MAX_NEIGHBORS_PER_VIF: usize = 256;
/// TTL of every DVMRP message we send (section 3.1: one hop).
pub const TTL: u8 = 1;

/// Global engine settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Our generation id (section 3.2.1): the caller picks a new one at each start, e.g. from
    /// the wall clock, so that neighbours see the restart.
    pub generation_id: u32,
    /// Average lifetime of the prunes we send ([`DEFAULT_PRUNE_LIFETIME`]; each prune gets
    /// a lifetime drawn in [0.5, 1.5) of it, as mrouted's `JITTERED_VALUE`).
    pub prune_lifetime: Duration,
    /// Forwarding cache entry lifetime ([`DEFAULT_CACHE_LIFETIME`]).
    pub cache_lifetime: Duration,
    /// Whether we send prunes (mrouted.conf `pruning on|off`).
    pub pruning: bool,
    /// Largest report message in bytes, header included (mrouted: 516).
    pub report_budget: usize,
    /// Most routes in the table; new origins beyond it are ignored and counted
    /// ([`Stats::route_limit`]). mrouted has no such limit; [`DEFAULT_MAX_ROUTES`].
    pub max_routes: usize,
    /// Most routes learned through one neighbour, so that one broken or hostile router
    /// cannot fill the table; [`DEFAULT_MAX_ROUTES_PER_NEIGHBOR`].
    pub max_routes_per_neighbor: usize,
    /// Most neighbours heard on one VIF (probes from more addresses are counted in
    /// [`Stats::neighbor_limit`] and dropped); [`DEFAULT_MAX_NEIGHBORS_PER_VIF`].
    pub max_neighbors_per_vif: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            generation_id: 1,
            prune_lifetime: DEFAULT_PRUNE_LIFETIME,
            cache_lifetime: DEFAULT_CACHE_LIFETIME,
            pruning: true,
            report_budget: crate::wire::dvmrp::MAX_MESSAGE_LEN,
            max_routes: DEFAULT_MAX_ROUTES,
            max_routes_per_neighbor: DEFAULT_MAX_ROUTES_PER_NEIGHBOR,
            max_neighbors_per_vif: DEFAULT_MAX_NEIGHBORS_PER_VIF,
        }
    }
}

/// Configuration of one VIF (an mrouted.conf `phyint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VifConfig {
    /// The kernel VIF.
    pub vif: VifId,
    /// Our address on it.
    pub local: Ipv4Addr,
    /// The directly connected subnet: reported as a local origin.
    pub subnet: Ipv4Net,
    /// Cost of receiving over this VIF, 1..=31 (`metric`, default 1).
    pub metric: u8,
    /// TTL threshold for forwarding out of it, 1..=254 (`threshold`, default 1).
    pub threshold: u8,
    /// Administratively scoped group ranges not forwarded across it (`boundary`).
    pub boundaries: Vec<Ipv4Net>,
    /// More subnets on the same interface, reported as local origins (`altnet`).
    pub altnets: Vec<Ipv4Net>,
    /// Whether DVMRP runs here at all (`enable`/`disable`).
    pub enabled: bool,
    /// `passive` (mrouted.conf(5)): no probe goes out until a neighbour is heard on the VIF;
    /// then DVMRP runs as anywhere else.
    pub passive: bool,
    /// Added to the metrics we report on this VIF, 0..=31 (`advert-metric`).
    pub advert_metric: u8,
    /// `noflood`: forward to downstream routers only once they confirm by poison reverse
    /// that they depend on us (by default they are flooded until they fail to confirm).
    pub noflood: bool,
    /// `notransit`: no transit between this VIF and other `notransit` VIFs: routes learnt on
    /// one are reported unreachable on the others, whose routers are never our dependents
    /// for them.
    pub notransit: bool,
    /// `blaster`: the neighbours here send their reports in bursts; queue them and take
    /// them [`BLASTER_BATCH`] a second.
    pub blaster: bool,
    /// `allow-nonpruners`: peer with routers that cannot prune (refused by default).
    pub allow_nonpruners: bool,
    /// `rexmit-prunes`: retransmit a prune when traffic shows it was lost (default off on a
    /// phyint, on on a tunnel).
    pub rexmit_prunes: bool,
    /// `prune-lifetime` of the prunes sent upstream on this VIF (`None`: the global one).
    pub prune_lifetime: Option<Duration>,
    /// `force-leaf`: ignore every DVMRP router here and send no probes.
    pub force_leaf: bool,
    /// `accept`/`deny` route filter for the reports heard here.
    pub filter: Option<RouteFilter>,
}

/// An `accept` or `deny` route filter of a VIF (mrouted.conf(5)): routes reported by the
/// neighbours on the VIF that the filter rejects are taken as unreachable; with `bidir`,
/// the routes it rejects are not reported on the VIF either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteFilter {
    /// `true` for `accept` (only the routes listed), `false` for `deny` (all but them).
    pub accept: bool,
    /// The routes: a prefix and whether only that exact origin matches (`exact`) or any
    /// origin within it.
    pub routes: Vec<(Ipv4Net, bool)>,
    /// `bidir`: the filter applies to what we report on the VIF too.
    pub bidir: bool,
}

impl RouteFilter {
    /// Whether `origin` matches one of the routes.
    pub fn matches(&self, origin: Ipv4Net) -> bool {
        self.routes.iter().any(|(p, exact)| {
            if *exact {
                p.trunc() == origin.trunc()
            } else {
                p.trunc().contains(&origin.network())
            }
        })
    }

    /// Whether the filter rejects `origin`.
    pub fn rejects(&self, origin: Ipv4Net) -> bool {
        self.matches(origin) != self.accept
    }
}

impl VifConfig {
    /// A VIF with mrouted's defaults: metric 1, threshold 1, enabled.
    pub fn new(vif: VifId, local: Ipv4Addr, subnet: Ipv4Net) -> VifConfig {
        VifConfig {
            vif,
            local,
            subnet: subnet.trunc(),
            metric: 1,
            threshold: 1,
            boundaries: Vec::new(),
            altnets: Vec::new(),
            enabled: true,
            passive: false,
            advert_metric: 0,
            noflood: false,
            notransit: false,
            blaster: false,
            allow_nonpruners: false,
            rexmit_prunes: false,
            prune_lifetime: None,
            force_leaf: false,
            filter: None,
        }
    }
}

/// A configuration the engine refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Metric outside 1..=31.
    #[error("{0}: metric {1} outside 1..=31")]
    Metric(VifId, u8),
    /// Threshold 0 (mrouted.conf takes 1..=255; 255 forwards nothing, as there).
    #[error("{0}: threshold {1} outside 1..=255")]
    Threshold(VifId, u8),
    /// `advert-metric` above 31.
    #[error("{0}: advert-metric {1} outside 0..=31")]
    AdvertMetric(VifId, u8),
    /// The VIF is already configured.
    #[error("{0} is already configured")]
    Duplicate(VifId),
    /// The VIF index is beyond what the kernel supports.
    #[error("{0} is beyond the VIF table")]
    OutOfRange(VifId),
}

pub use crate::engine::{Egress, Transmit};

/// What to do with an mtrace request ([`Engine::handle_mtrace`]): the message with our
/// block added, and where it goes. The caller fills in what the engine cannot know: the
/// block's arrival time and the kernel's counters named in [`MtraceReply::counters`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtraceReply {
    /// The message to send: type 0x1e (response to the requester) or 0x1f (the request
    /// forwarded to the next router upstream), our block last.
    pub message: crate::wire::mtrace::Repr,
    /// The IP source to send from.
    pub src: Ipv4Addr,
    /// The IP destination: the requester's response address or the upstream router.
    pub dst: Ipv4Addr,
    /// The IP TTL: the response TTL for a multicast response address, else 64.
    pub ttl: u8,
    /// For a multicast destination: the VIF to send it on.
    pub vif: Option<VifId>,
    /// The counters for our block.
    pub counters: MtraceCounters,
}

/// The kernel counters an mtrace block reports (`None`: leave [`crate::wire::mtrace::NO_COUNT`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MtraceCounters {
    /// Input packets of this VIF go in the block's `in_packets`.
    pub in_vif: Option<VifId>,
    /// Output packets of this VIF go in `out_packets`.
    pub out_vif: Option<VifId>,
    /// The packet counter of this (S,G) goes in `sg_packets`.
    pub flow: Option<(Ipv4Addr, Ipv4Addr)>,
}

/// A change to the kernel's multicast forwarding cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MfcAction {
    /// Add or replace the entry for its (S,G).
    Install(MfcEntry),
    /// Delete the entry for (S,G).
    Remove {
        /// The source.
        source: Ipv4Addr,
        /// The group.
        group: Ipv4Addr,
    },
    /// The entry's cache lifetime ran out: read its packet counter from the kernel and
    /// give it to [`Engine::handle_counters`] (mrouted prune.c `age_table_entry`). An
    /// entry whose counter moved is kept, so that an active flow is never deleted and
    /// reinstalled; one whose counter stood still, or that gets no answer before its
    /// next cache lifetime ends, is removed.
    CheckCounters {
        /// The source.
        source: Ipv4Addr,
        /// The group.
        group: Ipv4Addr,
    },
}

/// Counters of what the engine received, sent and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages given to [`Engine::handle_packet`].
    pub received: u64,
    /// Messages queued for sending.
    pub sent: u64,
    /// Dropped: bad IGMP checksum.
    pub bad_checksum: u64,
    /// Dropped: truncated or malformed.
    pub malformed: u64,
    /// Dropped: an unknown DVMRP code or a non-DVMRP IGMP type.
    pub unknown_code: u64,
    /// Dropped: a major version other than 3.
    pub bad_version: u64,
    /// Dropped: arrived on a VIF that is down, disabled, passive or unknown.
    pub inactive_vif: u64,
    /// Dropped: a report, prune or graft from a router that is not a two-way neighbour.
    pub not_neighbor: u64,
    /// Route entries ignored: metric 0 or above 63.
    pub bad_metric: u64,
    /// Route entries ignored: multicast, loopback or reserved origin.
    pub bad_origin: u64,
    /// Probes accepted.
    pub probes: u64,
    /// Reports accepted.
    pub reports: u64,
    /// Route entries processed.
    pub routes_received: u64,
    /// Prunes accepted.
    pub prunes: u64,
    /// Prunes for an (S,G) we have no state for, or from the upstream side.
    pub prunes_ignored: u64,
    /// Prunes ignored: a lifetime of [`MIN_PRUNE_LIFETIME`] or less.
    pub prunes_too_short: u64,
    /// Prunes ignored: the sender's VIF is not a child of the route (we are not its
    /// designated forwarder there).
    pub prunes_not_child: u64,
    /// Prunes ignored: the group is scoped (a boundary) on the VIF they came on.
    pub prunes_scoped: u64,
    /// Prunes sent upstream.
    pub prunes_sent: u64,
    /// Prunes retransmitted (`rexmit-prunes`).
    pub prunes_retransmitted: u64,
    /// Grafts acknowledged from routers that are not two-way neighbours.
    pub grafts_from_strangers: u64,
    /// Route entries taken as unreachable by an `accept`/`deny` filter.
    pub routes_filtered: u64,
    /// Reports queued on a `blaster` VIF.
    pub blaster_queued: u64,
    /// Probes from routers refused as neighbours: they cannot prune
    /// (no `allow-nonpruners`).
    pub nonpruners: u64,
    /// DVMRP messages from routers on a `force-leaf` VIF, ignored.
    pub force_leaf_ignored: u64,
    /// Forwarding cache entries kept at the end of their lifetime because their kernel
    /// packet counter moved.
    pub flows_kept_active: u64,
    /// mtrace requests answered or forwarded.
    pub mtrace: u64,
    /// mtrace requests dropped (malformed, duplicate, full, not for us).
    pub mtrace_dropped: u64,
    /// Grafts accepted.
    pub grafts: u64,
    /// Graft acknowledgements accepted.
    pub graft_acks: u64,
    /// Neighbours that restarted (new generation id).
    pub neighbor_restarts: u64,
    /// Neighbours lost by time-out.
    pub neighbor_timeouts: u64,
    /// Upcalls handled.
    pub upcalls: u64,
    /// Route entries ignored because a route cap was reached ([`Config::max_routes`],
    /// [`Config::max_routes_per_neighbor`]).
    pub route_limit: u64,
    /// Probes from new neighbours dropped because the VIF has
    /// [`Config::max_neighbors_per_vif`] already.
    pub neighbor_limit: u64,
}

/// A route of the DVMRP routing table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// The origin subnet.
    pub origin: Ipv4Net,
    /// Our metric to it (1..=31, or [`INFINITY`] during hold-down).
    pub metric: u8,
    /// The VIF towards the origin (the inbound VIF of its traffic).
    pub parent: VifId,
    /// The upstream router, `None` for a directly connected subnet or altnet.
    pub gateway: Option<Ipv4Addr>,
    /// Downstream routers we forward its traffic to: at first every router on the child
    /// VIFs (flooding, unless `noflood`), then those that confirm by poison reverse.
    pub dependents: Vec<(VifId, Ipv4Addr)>,
    /// When it becomes unreachable unless refreshed (`None` for a local subnet, or while in
    /// hold-down).
    pub expires: Option<Instant>,
    /// When it is deleted, while in hold-down (unreachable, still advertised).
    pub holddown_until: Option<Instant>,
}

/// A DVMRP neighbour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighborInfo {
    /// The VIF it was heard on.
    pub vif: VifId,
    /// Its address.
    pub addr: Ipv4Addr,
    /// Its generation id.
    pub generation_id: u32,
    /// Its capabilities.
    pub capabilities: crate::wire::dvmrp::Capabilities,
    /// Its (major, minor) version.
    pub version: (u8, u8),
    /// Whether it lists us in its probes.
    pub two_way: bool,
    /// When it is lost unless heard again.
    pub expires: Instant,
}

/// A forwarding cache entry, as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowInfo {
    /// The source.
    pub source: Ipv4Addr,
    /// The group.
    pub group: Ipv4Addr,
    /// The inbound VIF.
    pub iif: VifId,
    /// The outbound VIFs with their thresholds.
    pub oifs: crate::model::OifSet,
    /// The upstream router, if any.
    pub gateway: Option<Ipv4Addr>,
    /// Whether we have no route to the source (a negative cache entry / stop filter).
    pub negative: bool,
    /// Whether we have pruned it upstream.
    pub pruned_upstream: bool,
    /// Whether a graft is waiting for its acknowledgement.
    pub grafting: bool,
    /// Downstream neighbours with a live prune: (VIF, neighbour).
    pub pruned_by: Vec<(VifId, Ipv4Addr)>,
    /// When the entry times out unless traffic refreshes it (prune state may hold it
    /// longer).
    pub expires: Instant,
    /// When the prune we sent upstream runs out.
    pub upstream_prune_expires: Option<Instant>,
}
