//! The daemon side of DVMRP: what mrouted does around the protocol engine, for any
//! [`Platform`].
//!
//! - [`plan`]: from an mrouted.conf ([`crate::config::mrouted::Config`]) and the system's
//!   interfaces, the VIFs to run: automatic phyints on every multicast-capable, up,
//!   non-loopback interface with an IPv4 address, with the `phyint` options applied, and
//!   `tunnel` lines mapped onto existing IP-in-IP interfaces (see [`plan`] for why).
//! - [`Service`]: a running router: a [`Router`] with those VIFs, the DVMRP [`Engine`], one
//!   IGMP [`Querier`] per VIF, and the glue between them: control packets in and out of the
//!   routing socket, upcalls, MFC changes, membership events, timers.
//! - Views for the control socket ([`Service::handle_request`]) and mrouted's dump formats
//!   ([`Service::route_dump`] for SIGUSR1, [`Service::cache_dump`] for SIGUSR2).
//!
//! An event loop needs only [`Service::fd`] (readable when a message is queued),
//! [`Service::poll_timeout`], [`Service::handle_readable`] and [`Service::handle_timeout`]:
//!
//! ```no_run
//! use std::time::Instant;
//! use mcroute::config::mrouted;
//! use mcroute::service::dvmrp::{plan, PlanOptions, Service};
//! use mcroute::platform::Native;
//! use mcroute::Platform;
//!
//! let config = mrouted::parse("phyint eth2 disable\n")?;
//! let platform = Native::new()?;
//! let plan = plan(&config, &platform.interfaces()?, &PlanOptions::default())?;
//! let mut service = Service::start(platform, plan, Instant::now())?;
//! loop {
//!     // poll(service.fd(), until service.poll_timeout()) ...
//!     service.handle_readable(Instant::now())?;
//!     service.handle_timeout(Instant::now());
//! #   break;
//! }
//! service.shutdown(Instant::now()); // tells the neighbours our routes are gone
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use ipnet::{IpNet, Ipv4Net};

use crate::config::mrouted::{self, IgmpVersion, InterfaceRef, TunnelRemote, VifState};
use crate::ctl::{DvmrpRouteRow, DvmrpVifRow, MfcRow, NeighborRow, Request, Response, ShowWhat};
use crate::engine::dvmrp::{Config, Engine, MfcAction, RouteFilter, VifConfig, INFINITY};
use crate::engine::igmp::{MembershipEvent, Querier, QuerierConfig, Version};
use crate::engine::Transmit;
use crate::error::Error;
use crate::model::{Family, Interface, VifId, VifIndex};
use crate::platform::{IgmpPacket, IgmpSend, Incoming, Platform};
use crate::router::{Router, RouterOptions, VifOptions};
use crate::wire::dvmrp::{Capabilities, IGMP_TYPE_DVMRP};
use crate::wire::mtrace;
use crate::wire::{ALL_DVMRP_ROUTERS, ALL_IGMPV3_ROUTERS, ALL_ROUTERS};

/// Log target of neighbour events (mrouted's `-d peers`).
pub const LOG_PEERS: &str = "dvmrp::peers";
/// Log target of route changes (`-d routes`).
pub const LOG_ROUTES: &str = "dvmrp::routes";
/// Log target of packets in and out (`-d packet`).
pub const LOG_PACKET: &str = "dvmrp::packet";
/// Log target of forwarding cache changes (`-d cache`).
pub const LOG_CACHE: &str = "dvmrp::cache";
/// Log target of group membership changes (`-d groups`).
pub const LOG_GROUPS: &str = "dvmrp::groups";
/// Log target of VIF set-up (`-d interface`).
pub const LOG_INTERFACE: &str = "dvmrp::interface";
/// Log target of IGMP messages (`-d igmp`).
pub const LOG_IGMP: &str = "dvmrp::igmp";

/// Messages handled per [`Service::handle_readable`] call before timers get a turn.
const BATCH: usize = 256;

/// Options of [`plan`] that come from the command line rather than the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    /// `-M`: accepted for compatibility. A phyint naming an interface that does not exist
    /// is always a warning (as in mrouted 4.6); the interface becomes a VIF when it appears
    /// (the daemon re-plans on every link event).
    pub missing_ok: bool,
    /// mrouted `-N`: every interface is disabled unless a `phyint ... enable` names it (as
    /// `no phyint` in the file).
    pub no_interfaces: bool,
    /// The generation id to announce ([`new_generation_id`] at each start).
    pub generation_id: u32,
    /// dvmrp-router `--max-routes`: the most routes in the table (mrouted.conf has no such
    /// keyword); [`Config::max_routes`].
    pub max_routes: usize,
    /// dvmrp-router `--max-neighbor-routes`: the most routes learned through one
    /// neighbour; [`Config::max_routes_per_neighbor`].
    pub max_routes_per_neighbor: usize,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            missing_ok: false,
            no_interfaces: false,
            generation_id: new_generation_id(),
            max_routes: crate::engine::dvmrp::DEFAULT_MAX_ROUTES,
            max_routes_per_neighbor: crate::engine::dvmrp::DEFAULT_MAX_ROUTES_PER_NEIGHBOR,
        }
    }
}

/// A generation id for this start (draft section 3.2.1: it must change whenever the router
/// restarts, so that neighbours drop the state they hold for us): the wall clock mixed with
/// the process id, so that two starts in the same second differ too.
pub fn new_generation_id() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.as_secs() as u32) ^ t.subsec_nanos().rotate_left(13) ^ std::process::id().rotate_left(24)
}

/// One VIF to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VifPlan {
    /// The interface name.
    pub name: String,
    /// Its index.
    pub ifindex: u32,
    /// Our address on it.
    pub local: Ipv4Addr,
    /// Its subnet (a local origin).
    pub subnet: Ipv4Net,
    /// The metric (cost), 1..=31.
    pub metric: u8,
    /// The TTL threshold.
    pub threshold: u8,
    /// The rate limit in kbit/s (0: none).
    pub rate_limit: u32,
    /// Scoped group ranges not forwarded across it.
    pub boundaries: Vec<Ipv4Net>,
    /// More local subnets.
    pub altnets: Vec<Ipv4Net>,
    /// `passive`: no probes until a neighbour is heard here.
    pub passive: bool,
    /// `advert-metric`: added to the metrics reported here.
    pub advert_metric: u8,
    /// `noflood` (here or global).
    pub noflood: bool,
    /// `notransit`.
    pub notransit: bool,
    /// `blaster`.
    pub blaster: bool,
    /// `allow-nonpruners`.
    pub allow_nonpruners: bool,
    /// `rexmit-prunes` (global or here; phyints default off, tunnels on).
    pub rexmit_prunes: bool,
    /// `prune-lifetime` of this VIF, if given.
    pub prune_lifetime: Option<Duration>,
    /// `force-leaf`.
    pub force_leaf: bool,
    /// `accept`/`deny` route filter.
    pub filter: Option<RouteFilter>,
    /// `join-group`: groups the router joins on the interface itself (for IGMP-snooping
    /// switches that would not otherwise send it the traffic).
    pub join_groups: Vec<Ipv4Addr>,
    /// The far end, for a `tunnel` mapped onto an IP-in-IP interface.
    pub tunnel: Option<Ipv4Addr>,
    /// The IGMP querier settings.
    pub igmp: QuerierConfig,
    /// Groups forwarded here as if a member had joined (`static-group`).
    pub static_groups: Vec<Ipv4Addr>,
}

/// What to run: the VIFs and the engine settings, and what was noticed on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The VIFs, in mrouted's order (phyints by interface, then tunnels).
    pub vifs: Vec<VifPlan>,
    /// Interfaces left out, with why (disabled, no IPv4 address, down...).
    pub skipped: Vec<(String, String)>,
    /// Warnings to log (a missing interface with `-M`, ...).
    pub warnings: Vec<String>,
    /// The engine settings.
    pub engine: Config,
    /// Whether IGMP and DVMRP go out with the Router Alert option (`no router-alert`).
    pub router_alert: bool,
}

/// Why a configuration cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A tunnel that cannot be set up on this kernel.
    #[error("line {line}: {message}")]
    Tunnel {
        /// The line of the tunnel.
        line: u32,
        /// What is wrong and what to do.
        message: String,
    },
    /// A boundary name with no `name` statement.
    #[error("line {line}: unknown boundary name {name}")]
    UnknownBoundary {
        /// The line.
        line: u32,
        /// The name.
        name: String,
    },
    /// mrouted needs two VIFs to route between.
    #[error(
        "found {0} usable virtual interface(s), need at least two: check that the interfaces \
         are up, multicast-capable and have an IPv4 address, and that phyints are not disabled"
    )]
    TooFewVifs(usize),
    /// More VIFs than the kernel's table holds.
    #[error("{0} virtual interfaces, the kernel holds at most 32")]
    TooManyVifs(usize),
}

/// The IGMP version of a VIF: `igmp-version` if given, else IGMPv3 (mrouted 4.x's default).
fn version(v: Option<IgmpVersion>) -> Version {
    match v {
        Some(IgmpVersion::V1) => Version::V1,
        Some(IgmpVersion::V2) => Version::V2,
        Some(IgmpVersion::V3) | None => Version::V3,
    }
}

fn secs(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}

/// The subnet of `addr` on `iface` (its first IPv4 prefix containing it).
fn subnet_of(iface: &Interface, addr: Ipv4Addr) -> Ipv4Net {
    iface
        .addrs
        .iter()
        .find_map(|n| match n {
            IpNet::V4(n) if n.addr() == addr => Some(n.trunc()),
            _ => None,
        })
        .unwrap_or_else(|| Ipv4Net::from(addr))
}

fn has_v4(iface: &Interface, a: Ipv4Addr) -> bool {
    iface
        .addrs
        .iter()
        .any(|n| matches!(n, IpNet::V4(n) if n.addr() == a))
}

fn matches_ref(iface: &Interface, r: &InterfaceRef) -> bool {
    match r {
        InterfaceRef::Name(n) => iface.name == *n,
        InterfaceRef::Addr(a) => has_v4(iface, *a),
    }
}

fn ref_text(r: &InterfaceRef) -> String {
    match r {
        InterfaceRef::Name(n) => n.clone(),
        InterfaceRef::Addr(a) => a.to_string(),
    }
}

/// What to do instead of a kernel tunnel (neither kernel has `VIFF_TUNNEL` any more): the
/// commands that make an IP-in-IP interface on the OS this runs on.
fn tunnel_howto(remote: Ipv4Addr) -> String {
    if cfg!(target_os = "freebsd") {
        format!(
            "this kernel has no VIFF_TUNNEL: create a gif(4) interface and name it in the \
             tunnel line, e.g.\n  ifconfig gif0 create\n  ifconfig gif0 tunnel LOCAL-ADDR \
             {remote}\n  ifconfig gif0 inet LOCAL-TUNNEL-ADDR REMOTE-TUNNEL-ADDR netmask \
             255.255.255.252 up\nthen write `tunnel gif0 {remote}` (the same on the other end)"
        )
    } else {
        format!(
            "this kernel has no VIFF_TUNNEL: create an IP-in-IP interface and name it in \
             the tunnel line, e.g.\n  ip tunnel add mrt0 mode ipip local LOCAL-ADDR remote \
             {remote}\n  ip addr add LOCAL-TUNNEL-ADDR/30 dev mrt0\n  ip link set mrt0 \
             multicast on up\nthen write `tunnel mrt0 {remote}` (the same on the other end)"
        )
    }
}

/// Works out the VIFs an mrouted.conf asks for on these interfaces.
///
/// - Every up, multicast-capable, non-loopback interface with an IPv4 address becomes a VIF
///   (mrouted's automatic phyints), unless `no phyint` or `-N` disables them by default or a
///   `phyint ... disable` names it. Point-to-point interfaces (IP-in-IP, GRE) are included
///   like any other when they are multicast-capable.
/// - `tunnel LOCAL REMOTE`: Linux has no `VIFF_TUNNEL` (FreeBSD dropped it too), so a tunnel
///   must be an IP-in-IP (or GRE) interface the administrator created, with multicast on.
///   LOCAL names that interface, by name or by its address; REMOTE is the neighbour at the
///   far end. A LOCAL that is an ordinary (not point-to-point) interface is refused with
///   the commands to create the tunnel interface. Host names are not resolved here: write
///   the address.
/// - Fewer than two VIFs is an error, as in mrouted.
pub fn plan(
    config: &mrouted::Config,
    interfaces: &[Interface],
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    let default_enabled = config.no_phyint.is_none() && !options.no_interfaces;
    let mut out = Plan {
        vifs: Vec::new(),
        skipped: Vec::new(),
        warnings: Vec::new(),
        engine: Config {
            generation_id: options.generation_id,
            prune_lifetime: secs(config.prune_lifetime()),
            cache_lifetime: secs(config.cache_lifetime()),
            pruning: true,
            max_routes: options.max_routes,
            max_routes_per_neighbor: options.max_routes_per_neighbor,
            ..Config::default()
        },
        router_alert: config.router_alert(),
    };
    // Global `rexmit-prunes [on|off]` and `noflood` (mrouted cfparse.y: set on every
    // phyint; tunnels retransmit unless `rexmit-prunes off`).
    let global_rexmit = config.rexmit_prunes.map(|r| r.value);
    let global_noflood = config.noflood.is_some();
    let filter_of = |o: &mrouted::VifOptions| {
        o.filter.as_ref().map(|f| RouteFilter {
            accept: f.mode == mrouted::FilterMode::Accept,
            routes: f
                .routes
                .iter()
                .map(|r| (r.value.prefix, r.value.exact))
                .collect(),
            bidir: f.bidir.is_some(),
        })
    };
    if config.pruning.as_ref().is_some_and(|p| !p.value) {
        out.warnings
            .push("`pruning off` is no longer supported (as in mrouted): pruning stays on".into());
    }
    let igmp = |local: Ipv4Addr, v: Option<IgmpVersion>| QuerierConfig {
        local,
        version: version(v),
        robustness: u8::try_from(config.igmp_robustness()).unwrap_or(u8::MAX),
        query_interval: secs(config.igmp_query_interval()),
        query_response_interval: secs(config.igmp_query_response_interval()),
        last_member_query_interval: secs(config.igmp_query_last_member_interval()),
        // mrouted's `router-timeout` is the IGMP other-querier-present interval.
        other_querier_present: config.router_timeout.map(|t| secs(t.value)),
    };
    // mrouted's rate limit is parsed but no kernel applies it: one warning per statement.
    for (what, name, o) in config
        .phyints
        .iter()
        .map(|p| ("phyint", ref_text(&p.interface.value), &p.options))
        .chain(
            config
                .tunnels
                .iter()
                .map(|t| ("tunnel", ref_text(&t.local.value), &t.options)),
        )
    {
        if let Some(r) = o.rate_limit.filter(|r| r.value != 0) {
            out.warnings.push(format!(
                "line {}: {what} {name}: rate-limit {} is not applied: the kernel multicast \
                 router has no VIF rate limit (FreeBSD refuses one, so 0 is sent; Linux \
                 ignores it)",
                r.span.line, r.value
            ));
        }
    }
    for p in &config.phyints {
        if !interfaces
            .iter()
            .any(|i| matches_ref(i, &p.interface.value))
        {
            out.warnings.push(format!(
                "line {}: phyint {}: no such interface (yet): it is used when it appears",
                p.span.line,
                ref_text(&p.interface.value)
            ));
        }
    }
    let resolve = |b: &crate::config::Spanned<mrouted::Boundary>| {
        config
            .resolve_boundary(&b.value)
            .ok_or_else(|| PlanError::UnknownBoundary {
                line: b.span.line,
                name: match &b.value {
                    mrouted::Boundary::Name(n) => n.clone(),
                    mrouted::Boundary::Scope(s) => s.to_string(),
                },
            })
    };
    let tunnel_ifaces: Vec<u32> = config
        .tunnels
        .iter()
        .filter_map(|t| {
            interfaces
                .iter()
                .find(|i| i.point_to_point && matches_ref(i, &t.local.value))
                .map(|i| i.index)
        })
        .collect();
    let mut sorted: Vec<&Interface> = interfaces.iter().collect();
    sorted.sort_by_key(|i| i.index);
    for iface in sorted {
        if iface.loopback {
            continue;
        }
        if tunnel_ifaces.contains(&iface.index) {
            continue; // configured by its tunnel line below
        }
        let phyint = config
            .phyints
            .iter()
            .find(|p| matches_ref(iface, &p.interface.value));
        let enabled = match phyint.and_then(|p| p.state.as_ref()) {
            Some(s) => s.value == VifState::Enable,
            None => default_enabled,
        };
        let skip = |why: &str| (iface.name.clone(), why.to_string());
        let local = match phyint.map(|p| &p.interface.value) {
            Some(InterfaceRef::Addr(a)) => Some(*a),
            _ => iface.ipv4(),
        };
        let why = if !enabled {
            Some("disabled")
        } else if !iface.multicast {
            Some("not multicast-capable")
        } else if !iface.up {
            Some("down")
        } else if local.is_none() {
            Some("no IPv4 address")
        } else {
            None
        };
        if let Some(why) = why {
            out.skipped.push(skip(why));
            continue;
        }
        let local = local.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let subnet = subnet_of(iface, local);
        let mut v = VifPlan {
            name: iface.name.clone(),
            ifindex: iface.index,
            local,
            subnet,
            metric: mrouted::DEFAULT_METRIC,
            threshold: mrouted::DEFAULT_THRESHOLD,
            rate_limit: mrouted::DEFAULT_PHYINT_RATE_LIMIT,
            boundaries: Vec::new(),
            altnets: Vec::new(),
            passive: false,
            advert_metric: 0,
            noflood: global_noflood,
            notransit: false,
            blaster: false,
            allow_nonpruners: false,
            rexmit_prunes: global_rexmit.unwrap_or(false),
            prune_lifetime: None,
            force_leaf: false,
            filter: None,
            join_groups: Vec::new(),
            tunnel: None,
            igmp: igmp(local, None),
            static_groups: Vec::new(),
        };
        if let Some(p) = phyint {
            apply_options(&mut v, &p.options);
            v.filter = filter_of(&p.options);
            v.force_leaf = p.force_leaf.is_some_and(|f| f.value);
            v.join_groups = p.options.join_groups.iter().map(|g| g.value).collect();
            v.metric = p.options.metric();
            v.threshold = p.options.threshold();
            v.rate_limit = p.rate_limit();
            v.passive = p.options.passive.is_some();
            v.igmp = igmp(local, p.igmp_version.as_ref().map(|x| x.value));
            v.static_groups = p.static_groups.iter().map(|g| g.value).collect();
            for b in &p.options.boundaries {
                v.boundaries.push(resolve(b)?);
            }
            for a in &p.altnets {
                let len = a.value.prefix_len.unwrap_or(subnet.prefix_len());
                if let Ok(n) = Ipv4Net::new(a.value.addr, len) {
                    v.altnets.push(n.trunc());
                }
            }
        }
        out.vifs.push(v);
    }
    for t in &config.tunnels {
        let line = t.span.line;
        let local_text = ref_text(&t.local.value);
        let remote = match &t.remote.value {
            TunnelRemote::Addr(a) => *a,
            TunnelRemote::Host(h) => {
                return Err(PlanError::Tunnel {
                    line,
                    message: format!(
                        "tunnel {local_text} {h}: write the remote end as an address \
                         (host names are not resolved)"
                    ),
                })
            }
        };
        let iface = interfaces.iter().find(|i| matches_ref(i, &t.local.value));
        let howto = tunnel_howto(remote);
        let iface = match iface {
            Some(i) if i.point_to_point => i,
            Some(i) => {
                return Err(PlanError::Tunnel {
                    line,
                    message: format!(
                        "tunnel {local_text} {remote}: {} is not a tunnel interface; {howto}",
                        i.name
                    ),
                })
            }
            None => {
                return Err(PlanError::Tunnel {
                    line,
                    message: format!("tunnel {local_text} {remote}: no such interface; {howto}"),
                })
            }
        };
        let Some(local) = iface.ipv4() else {
            return Err(PlanError::Tunnel {
                line,
                message: format!(
                    "tunnel {local_text} {remote}: {} has no IPv4 address",
                    iface.name
                ),
            });
        };
        if !iface.multicast || !iface.up {
            return Err(PlanError::Tunnel {
                line,
                message: format!(
                    "tunnel {local_text} {remote}: {} must be up and multicast-capable \
                     (ip link set {} multicast on up)",
                    iface.name, iface.name
                ),
            });
        }
        let mut v = VifPlan {
            name: iface.name.clone(),
            ifindex: iface.index,
            local,
            subnet: subnet_of(iface, local),
            metric: t.options.metric(),
            threshold: t.options.threshold(),
            rate_limit: t.rate_limit(),
            boundaries: Vec::new(),
            altnets: Vec::new(),
            passive: t.options.passive.is_some(),
            advert_metric: 0,
            noflood: global_noflood,
            notransit: false,
            blaster: false,
            allow_nonpruners: false,
            rexmit_prunes: global_rexmit.unwrap_or(true),
            prune_lifetime: None,
            force_leaf: false,
            filter: filter_of(&t.options),
            join_groups: Vec::new(),
            tunnel: Some(remote),
            igmp: igmp(local, None),
            static_groups: Vec::new(),
        };
        apply_options(&mut v, &t.options);
        for b in &t.options.boundaries {
            v.boundaries.push(resolve(b)?);
        }
        out.vifs.push(v);
    }
    if out.vifs.len() < 2 {
        return Err(PlanError::TooFewVifs(out.vifs.len()));
    }
    if out.vifs.len() > crate::model::MAX_VIFS {
        return Err(PlanError::TooManyVifs(out.vifs.len()));
    }
    if out.vifs.iter().all(|v| v.tunnel.is_some()) {
        out.warnings
            .push("every VIF is a tunnel: more direct tunnels would do better".into());
    }
    Ok(out)
}

/// The VIF options phyints and tunnels share, onto a VIF's plan.
fn apply_options(v: &mut VifPlan, o: &mrouted::VifOptions) {
    v.advert_metric = o.advert_metric();
    v.noflood |= o.noflood.is_some();
    v.notransit = o.notransit.is_some();
    v.blaster = o.blaster.is_some();
    v.allow_nonpruners = o.allow_nonpruners.is_some();
    if let Some(r) = o.rexmit_prunes {
        v.rexmit_prunes = r.value;
    }
    v.prune_lifetime = o.prune_lifetime.map(|p| secs(p.value));
}

/// Why the service failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The kernel refused something.
    #[error(transparent)]
    Kernel(#[from] Error),
    /// The engine refused a VIF's settings.
    #[error("{0}")]
    Config(#[from] crate::engine::dvmrp::ConfigError),
}

/// Counters of the service (beyond the engine's and the queriers').
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceStats {
    /// Upcalls received.
    pub upcalls: u64,
    /// DVMRP messages received.
    pub dvmrp_in: u64,
    /// IGMP messages received.
    pub igmp_in: u64,
    /// Messages sent.
    pub sent: u64,
    /// Messages that could not be sent.
    pub send_errors: u64,
    /// Messages from an interface with no VIF, or from ourselves.
    pub ignored: u64,
    /// MFC changes the kernel refused.
    pub mfc_errors: u64,
    /// mtrace messages for someone else that the kernel handed us (Router Alert), sent on.
    pub mtrace_relayed: u64,
}

struct Slot {
    plan: VifPlan,
    querier: Querier,
    joined: Vec<Ipv4Addr>,
}

/// A running DVMRP router. See the [module documentation](self).
pub struct Service<P: Platform> {
    router: Router<P>,
    engine: Engine,
    plan: Plan,
    slots: BTreeMap<VifId, Slot>,
    by_ifindex: HashMap<u32, VifId>,
    started: Instant,
    neighbors_seen: BTreeMap<(VifId, Ipv4Addr), Instant>,
    flows_created: HashMap<(Ipv4Addr, Ipv4Addr), Instant>,
    stats: ServiceStats,
    /// The most routes since the heap was last trimmed ([`Service::handle_timeout`]).
    route_peak: usize,
}

impl<P: Platform> Service<P> {
    /// Opens the IPv4 multicast routing table on `platform`, adds the VIFs of `plan`, joins
    /// the routers' groups on them, and starts DVMRP and the IGMP queriers: probes and
    /// queries go out at once.
    pub fn start(platform: P, plan: Plan, now: Instant) -> Result<Service<P>, ServiceError> {
        let router = Router::open(platform, RouterOptions::default())?;
        let mut s = Service {
            router,
            engine: Engine::new(plan.engine.clone()),
            plan,
            slots: BTreeMap::new(),
            by_ifindex: HashMap::new(),
            started: now,
            neighbors_seen: BTreeMap::new(),
            flows_created: HashMap::new(),
            stats: ServiceStats::default(),
            route_peak: 0,
        };
        s.setup(now)?;
        Ok(s)
    }

    fn setup(&mut self, now: Instant) -> Result<(), ServiceError> {
        let interfaces = self.router.interfaces()?;
        for vp in self.plan.vifs.clone() {
            let iface = interfaces
                .iter()
                .find(|i| i.index == vp.ifindex)
                .ok_or_else(|| Error::NoSuchInterface(vp.name.clone()))?;
            let opts = VifOptions {
                threshold: vp.threshold,
                rate_limit: vp.rate_limit,
            };
            let id = match self.router.add_vif_on(Family::V4, iface, opts)? {
                VifIndex::Vif(v) => v,
                VifIndex::Mif(_) => unreachable!("an IPv4 VIF"),
            };
            let mut cfg = VifConfig::new(id, vp.local, vp.subnet);
            cfg.metric = vp.metric;
            cfg.threshold = vp.threshold;
            cfg.boundaries = vp.boundaries.clone();
            cfg.altnets = vp.altnets.clone();
            cfg.passive = vp.passive;
            cfg.advert_metric = vp.advert_metric;
            cfg.noflood = vp.noflood;
            cfg.notransit = vp.notransit;
            cfg.blaster = vp.blaster;
            cfg.allow_nonpruners = vp.allow_nonpruners;
            cfg.rexmit_prunes = vp.rexmit_prunes;
            cfg.prune_lifetime = vp.prune_lifetime;
            cfg.force_leaf = vp.force_leaf;
            cfg.filter = vp.filter.clone();
            self.engine.add_vif(cfg)?;
            // A passive VIF listens for DVMRP too: it wakes up when it hears a neighbour.
            let mut groups = vec![ALL_ROUTERS, ALL_IGMPV3_ROUTERS, ALL_DVMRP_ROUTERS];
            groups.extend(vp.join_groups.iter().copied());
            let mut joined = Vec::new();
            for g in groups {
                match self.router.join_on(vp.ifindex, g.into(), None) {
                    Ok(()) | Err(Error::AlreadyExists { .. }) => joined.push(g),
                    Err(e) => log::warn!(target: LOG_INTERFACE, "joining {g} on {}: {e}", vp.name),
                }
            }
            log::info!(
                target: LOG_INTERFACE,
                "{id} on {} ({} {}, metric {}, threshold {}{})",
                vp.name,
                vp.local,
                vp.subnet,
                vp.metric,
                vp.threshold,
                if vp.passive { ", passive" } else { "" }
            );
            self.by_ifindex.insert(vp.ifindex, id);
            self.slots.insert(
                id,
                Slot {
                    querier: Querier::new(vp.igmp.clone()),
                    plan: vp,
                    joined,
                },
            );
        }
        let ids: Vec<VifId> = self.slots.keys().copied().collect();
        for id in ids {
            self.engine.interface_up(now, id);
            if let Some(slot) = self.slots.get_mut(&id) {
                if slot.plan.tunnel.is_none() {
                    slot.querier.start(now);
                }
                for g in slot.plan.static_groups.clone() {
                    self.engine.local_membership(now, id, g, true);
                }
            }
        }
        self.pump(now);
        Ok(())
    }

    /// Tears every VIF, route and join down (the kernel flushes the MFC with the VIFs).
    fn teardown(&mut self) {
        let keys: Vec<_> = self
            .router
            .routes()
            .map(|e| (e.source(), e.group()))
            .collect();
        for (s, g) in keys {
            let _ = self.router.remove_route(s, g);
        }
        for (id, slot) in std::mem::take(&mut self.slots) {
            for g in &slot.joined {
                let _ = self.router.leave_on(slot.plan.ifindex, (*g).into(), None);
            }
            if let Err(e) = self.router.remove_vif(id.into()) {
                log::warn!(target: LOG_INTERFACE, "removing {id} ({}): {e}", slot.plan.name);
            }
        }
        self.by_ifindex.clear();
        self.neighbors_seen.clear();
        self.flows_created.clear();
    }

    /// mrouted's SIGHUP: restarts on a new plan (from a re-read configuration), with a new
    /// generation id so that the neighbours resend their routes and forget our prunes.
    /// Compute the plan first: a bad file leaves the running router untouched.
    pub fn reload(&mut self, plan: Plan, now: Instant) -> Result<(), ServiceError> {
        self.teardown();
        self.engine = Engine::new(plan.engine.clone());
        self.plan = plan;
        self.setup(now)
    }

    /// Goes off the air as mrouted does on SIGINT/SIGTERM: every route is reported
    /// unreachable to every neighbour, then the tables are released.
    pub fn shutdown(mut self, now: Instant) {
        self.engine.shutdown(now);
        while let Some(t) = self.engine.poll_transmit() {
            self.send(t.vif(), &t);
        }
        self.teardown();
    }

    /// A descriptor that is readable when an upcall or a control packet is queued.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.router.as_fd()
    }

    /// The router, for queries.
    pub fn router(&self) -> &Router<P> {
        &self.router
    }

    /// The DVMRP engine, for queries.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The plan running.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The counters.
    pub fn stats(&self) -> &ServiceStats {
        &self.stats
    }

    /// The IGMP querier of `vif`.
    pub fn querier(&self, vif: VifId) -> Option<&Querier> {
        self.slots.get(&vif).map(|s| &s.querier)
    }

    /// When [`Service::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.slots
            .values()
            .filter_map(|s| s.querier.poll_timeout())
            .chain(self.engine.poll_timeout())
            .min()
    }

    /// Runs the timers due at `now` and sends what they produce.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.engine.handle_timeout(now);
        for s in self.slots.values_mut() {
            s.querier.handle_timeout(now);
        }
        self.pump(now);
        self.release_memory();
    }

    /// Once the routing table has shrunk to half of a peak of 10,000 routes or more (a
    /// neighbour's routes expired), gives the freed heap pages back to the kernel: the
    /// table's maps free their nodes as routes go, but the C allocator keeps the pages.
    fn release_memory(&mut self) {
        let n = self.engine.route_count();
        self.route_peak = self.route_peak.max(n);
        if self.route_peak >= 10_000 && n <= self.route_peak / 2 {
            self.flows_created.shrink_to_fit();
            crate::sys::release_free_memory();
            self.route_peak = n;
        }
    }

    /// Handles the queued upcalls and control packets (up to a batch; call again while the
    /// descriptor stays readable). Returns how many were handled.
    pub fn handle_readable(&mut self, now: Instant) -> Result<usize, ServiceError> {
        let mut n = 0;
        while n < BATCH {
            let Some(m) = self.router.recv()? else {
                break;
            };
            n += 1;
            match m {
                Incoming::Upcall(u) => {
                    self.stats.upcalls += 1;
                    log::debug!(target: LOG_CACHE, "upcall: {u}");
                    self.engine.handle_upcall(now, &u);
                }
                Incoming::Igmp(p) => self.handle_igmp(now, &p),
            }
            self.pump(now);
        }
        Ok(n)
    }

    /// A control packet read by the caller (or a test): dispatched by the VIF it arrived
    /// on to the DVMRP engine or the IGMP querier.
    pub fn handle_igmp(&mut self, now: Instant, p: &IgmpPacket) {
        if matches!(
            p.payload.first(),
            Some(&(mtrace::TYPE_QUERY | mtrace::TYPE_RESPONSE))
        ) {
            self.handle_mtrace(now, p);
            return;
        }
        let vif = self.by_ifindex.get(&p.ifindex).copied().or_else(|| {
            // No interface given: the VIF whose subnet holds the source, as mrouted does.
            self.slots
                .iter()
                .find(|(_, s)| s.plan.subnet.contains(&p.src) || s.plan.tunnel == Some(p.src))
                .map(|(id, _)| *id)
        });
        let ask_neighbors = p.payload.first() == Some(&IGMP_TYPE_DVMRP)
            && p.payload.get(1) == Some(&crate::wire::dvmrp::code::ASK_NEIGHBORS2);
        // mrinfo asks from anywhere, this host included: answer from the first VIF.
        let vif = vif.or_else(|| {
            ask_neighbors
                .then(|| self.slots.keys().next().copied())
                .flatten()
        });
        let Some(vif) = vif else {
            self.stats.ignored += 1;
            return;
        };
        if !ask_neighbors && self.slots.values().any(|s| s.plan.local == p.src) {
            self.stats.ignored += 1;
            return;
        }
        if p.payload.first() == Some(&IGMP_TYPE_DVMRP) {
            self.stats.dvmrp_in += 1;
            log::trace!(target: LOG_PACKET, "DVMRP from {} to {} on {vif}", p.src, p.dst);
            self.engine.handle_packet(now, vif, p.src, &p.payload);
        } else if let Some(s) = self.slots.get_mut(&vif) {
            self.stats.igmp_in += 1;
            log::trace!(target: LOG_IGMP, "IGMP from {} to {} on {vif}", p.src, p.dst);
            s.querier.handle_packet(now, p.src, &p.payload);
        }
    }

    /// Sends an engine's or a querier's message out of `vif` (the DVMRP engine names its
    /// VIF; a querier's is the one it serves).
    fn send(&mut self, vif: Option<VifId>, t: &Transmit) {
        if let (Some(vif), Some(src), Some(dst)) = (vif, t.src_v4(), t.dst_v4()) {
            self.transmit(vif, src, dst, t.ttl, &t.payload);
        }
    }

    /// An mtrace message (IGMP 0x1f or 0x1e). A Linux router whose socket did `MRT_INIT`
    /// is handed every passing packet with the Router Alert option instead of forwarding
    /// it: one addressed to someone else is sent on (without the option, so that the next
    /// Linux router forwards it). Queries and requests for us go to the engine, and its
    /// answer out with our block's counters filled in.
    fn handle_mtrace(&mut self, now: Instant, p: &IgmpPacket) {
        let ours = |a: Ipv4Addr, s: &Self| {
            s.slots.values().any(|x| x.plan.local == a)
                || s.router.interfaces().is_ok_and(|ifs| {
                    ifs.iter().any(|i| {
                        i.addrs
                            .iter()
                            .any(|n| matches!(n, IpNet::V4(n) if n.addr() == a))
                    })
                })
        };
        if !p.dst.is_multicast() && !ours(p.dst, self) {
            if p.ttl > 1 {
                self.stats.mtrace_relayed += 1;
                log::debug!(target: LOG_PACKET, "mtrace from {} to {}: relayed", p.src, p.dst);
                self.send_raw(0, p.src, p.dst, p.ttl - 1, false, &p.payload);
            }
            return;
        }
        if p.payload.first() != Some(&mtrace::TYPE_QUERY) {
            // A response for a client on this host: its own socket has it.
            return;
        }
        let Some(reply) = self.engine.handle_mtrace(p.src, p.dst, &p.payload) else {
            return;
        };
        let mut msg = reply.message;
        if let Some(b) = msg.blocks.last_mut() {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            b.arrival = mtrace::ntp_short(t.as_secs(), t.subsec_micros());
            if let Some(v) = reply.counters.in_vif {
                if let Ok(c) = self.router.vif_counters(v.into()) {
                    b.in_packets = c.in_packets as u32;
                }
            }
            if let Some(v) = reply.counters.out_vif {
                if let Ok(c) = self.router.vif_counters(v.into()) {
                    b.out_packets = c.out_packets as u32;
                }
            }
            if let Some((s, g)) = reply.counters.flow {
                if let Ok(c) = self.router.route_counters(s.into(), g.into()) {
                    b.sg_packets = c.packets as u32;
                }
            }
        }
        let Ok(bytes) = msg.to_bytes() else {
            return;
        };
        let _ = now;
        let ifindex = reply
            .vif
            .and_then(|v| self.slots.get(&v))
            .map_or(0, |s| s.plan.ifindex);
        log::debug!(
            target: LOG_PACKET,
            "mtrace for {} from {}: {} to {}",
            msg.query.source,
            msg.query.destination,
            if msg.query.msg_type == mtrace::TYPE_QUERY { "request on" } else { "response" },
            reply.dst
        );
        let multicast = reply.dst.is_multicast();
        self.send_raw(
            ifindex,
            reply.src,
            reply.dst,
            reply.ttl,
            multicast && self.plan.router_alert,
            &bytes,
        );
    }

    fn send_raw(
        &mut self,
        ifindex: u32,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ttl: u8,
        router_alert: bool,
        payload: &[u8],
    ) {
        match self.router.send_igmp(&IgmpSend {
            ifindex,
            src,
            dst,
            ttl,
            router_alert,
            payload,
        }) {
            Ok(()) => self.stats.sent += 1,
            Err(e) => {
                self.stats.send_errors += 1;
                log::warn!(target: LOG_PACKET, "{e}");
            }
        }
    }

    fn transmit(&mut self, vif: VifId, src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, payload: &[u8]) {
        let Some(slot) = self.slots.get(&vif) else {
            return;
        };
        let ifindex = slot.plan.ifindex;
        // Router Alert on multicast only: a Linux router on the way hands a passing
        // unicast packet with the option to its routing daemon instead of forwarding it
        // (which is why mrouted's mtrace needs `no router-alert` through Linux routers).
        let r = self.router.send_igmp(&IgmpSend {
            ifindex,
            src,
            dst,
            ttl: if dst.is_multicast() { ttl } else { ttl.max(64) },
            router_alert: self.plan.router_alert && dst.is_multicast(),
            payload,
        });
        match r {
            Ok(()) => {
                self.stats.sent += 1;
                log::trace!(target: LOG_PACKET, "sent {} bytes to {dst} on {vif}", payload.len());
            }
            Err(e) => {
                self.stats.send_errors += 1;
                log::warn!(target: LOG_PACKET, "{e}");
            }
        }
    }

    /// Moves outputs along until everything is quiet: querier events to the engine, the
    /// engine's and queriers' messages to the wire, MFC changes to the kernel.
    fn pump(&mut self, now: Instant) {
        for _ in 0..64 {
            let mut events = Vec::new();
            let mut queries = Vec::new();
            for (id, s) in self.slots.iter_mut() {
                while let Some(e) = s.querier.poll_event() {
                    events.push((*id, e));
                }
                while let Some(q) = s.querier.poll_transmit() {
                    queries.push((*id, q));
                }
            }
            let mut progress = !events.is_empty() || !queries.is_empty();
            for (id, e) in events {
                let (g, joined) = match e {
                    MembershipEvent::Joined(g) => (g, true),
                    MembershipEvent::Left(g) => (g, false),
                };
                log::info!(
                    target: LOG_GROUPS,
                    "{id}: group {g} {}",
                    if joined { "joined" } else { "left" }
                );
                self.engine.local_membership(now, id, g, joined);
            }
            for (id, q) in queries {
                self.send(Some(id), &q);
            }
            while let Some(t) = self.engine.poll_transmit() {
                progress = true;
                self.send(t.vif(), &t);
            }
            while let Some(a) = self.engine.poll_mfc() {
                progress = true;
                self.apply(now, a);
            }
            if !progress {
                break;
            }
        }
        for (id, s) in &self.slots {
            self.engine
                .set_querier(*id, s.plan.tunnel.is_none() && s.querier.is_querier());
        }
        self.track_neighbors(now);
    }

    fn apply(&mut self, now: Instant, a: MfcAction) {
        match a {
            MfcAction::Install(e) => {
                let (s, g) = (e.source(), e.group());
                let key = match (s, g) {
                    (std::net::IpAddr::V4(s), std::net::IpAddr::V4(g)) => (s, g),
                    _ => return,
                };
                log::debug!(target: LOG_CACHE, "install {e}");
                self.flows_created.entry(key).or_insert(now);
                if let Err(err) = self.router.add_route(e) {
                    self.stats.mfc_errors += 1;
                    log::warn!(target: LOG_CACHE, "{err}");
                }
            }
            MfcAction::CheckCounters { source, group } => {
                let packets = self
                    .router
                    .route_counters(source.into(), group.into())
                    .ok()
                    .map(|c| c.packets);
                log::debug!(target: LOG_CACHE, "({source}, {group}) lifetime over, {packets:?} packets");
                self.engine.handle_counters(now, source, group, packets);
            }
            MfcAction::Remove { source, group } => {
                log::debug!(target: LOG_CACHE, "remove ({source}, {group})");
                self.flows_created.remove(&(source, group));
                match self.router.remove_route(source.into(), group.into()) {
                    Ok(_) | Err(Error::NotFound { .. }) => {}
                    Err(err) => {
                        self.stats.mfc_errors += 1;
                        log::warn!(target: LOG_CACHE, "{err}");
                    }
                }
            }
        }
    }

    fn track_neighbors(&mut self, now: Instant) {
        let current: Vec<(VifId, Ipv4Addr, bool)> = self
            .engine
            .neighbors()
            .map(|n| (n.vif, n.addr, n.two_way))
            .collect();
        for (vif, addr, two_way) in &current {
            if let std::collections::btree_map::Entry::Vacant(e) =
                self.neighbors_seen.entry((*vif, *addr))
            {
                log::info!(
                    target: LOG_PEERS,
                    "new neighbor {addr} on {vif}{}",
                    if *two_way { "" } else { " (one-way)" }
                );
                e.insert(now);
            }
        }
        let gone: Vec<(VifId, Ipv4Addr)> = self
            .neighbors_seen
            .keys()
            .filter(|(v, a)| !current.iter().any(|(cv, ca, _)| cv == v && ca == a))
            .copied()
            .collect();
        for k in gone {
            log::info!(target: LOG_PEERS, "neighbor {} on {} lost", k.1, k.0);
            self.neighbors_seen.remove(&k);
        }
    }

    // ----------------------------------------------------------------------------------
    // Views

    fn vif_name(&self, vif: VifId) -> String {
        self.slots
            .get(&vif)
            .map_or_else(|| vif.to_string(), |s| s.plan.name.clone())
    }

    /// The child VIFs of a route: where we forward its traffic (designated forwarder, up,
    /// not the parent), each with whether a downstream router depends on us there.
    fn children(&self, r: &crate::engine::dvmrp::RouteInfo) -> Vec<(u16, bool)> {
        if r.metric >= INFINITY {
            return Vec::new();
        }
        self.slots
            .keys()
            .filter(|id| {
                **id != r.parent
                    && self.engine.is_vif_active(**id)
                    && self.engine.is_designated_forwarder(r.origin, **id)
            })
            .map(|id| (id.0, r.dependents.iter().any(|(v, _)| v == id)))
            .collect()
    }

    /// `show interfaces`: the VIF table.
    pub fn vif_rows(&self, detail: bool) -> Vec<DvmrpVifRow> {
        let leaf = self.engine.is_leaf();
        self.slots
            .iter()
            .map(|(id, s)| {
                let mut flags = Vec::new();
                if s.plan.tunnel.is_some() {
                    flags.push("tunnel".to_string());
                }
                if s.plan.passive {
                    flags.push("passive".into());
                }
                if !self.engine.is_vif_active(*id) {
                    flags.push("down".into());
                }
                if s.querier.is_querier() && s.plan.tunnel.is_none() {
                    flags.push("querier".into());
                }
                if leaf {
                    flags.push("leaf".into());
                }
                let counters = detail
                    .then(|| self.router.vif_counters((*id).into()).ok())
                    .flatten()
                    .map(|c| [c.in_packets, c.out_packets, c.in_bytes, c.out_bytes]);
                DvmrpVifRow {
                    vif: id.0,
                    name: s.plan.name.clone(),
                    local: s.plan.local,
                    subnet: s.plan.subnet,
                    metric: s.plan.metric,
                    threshold: s.plan.threshold,
                    rate_limit: s.plan.rate_limit,
                    flags,
                    neighbors: self
                        .engine
                        .neighbors()
                        .filter(|n| n.vif == *id)
                        .map(|n| n.addr)
                        .collect(),
                    groups: s.querier.groups().collect(),
                    boundaries: s.plan.boundaries.clone(),
                    querier: (s.plan.tunnel.is_none()).then(|| s.querier.querier_addr()),
                    counters,
                }
            })
            .collect()
    }

    /// `show neighbors`.
    pub fn neighbor_rows(&self, now: Instant) -> Vec<NeighborRow> {
        self.engine
            .neighbors()
            .map(|n| {
                let mut flags = Vec::new();
                for (bit, name) in [
                    (Capabilities::LEAF, "leaf"),
                    (Capabilities::PRUNE, "prune"),
                    (Capabilities::GENID, "genid"),
                    (Capabilities::MTRACE, "mtrace"),
                ] {
                    if n.capabilities.contains(bit) {
                        flags.push(name.to_string());
                    }
                }
                if n.two_way {
                    flags.push("two-way".into());
                }
                let since = self
                    .neighbors_seen
                    .get(&(n.vif, n.addr))
                    .copied()
                    .unwrap_or(now);
                NeighborRow {
                    addr: n.addr,
                    vif: n.vif.0,
                    interface: self.vif_name(n.vif),
                    version: n.version,
                    generation_id: n.generation_id,
                    flags,
                    uptime: now.saturating_duration_since(since).as_secs(),
                    expires: n.expires.saturating_duration_since(now).as_secs(),
                }
            })
            .collect()
    }

    /// `show routes`: the DVMRP routing table.
    pub fn route_rows(&self, now: Instant) -> Vec<DvmrpRouteRow> {
        self.engine
            .routes()
            .map(|r| DvmrpRouteRow {
                origin: r.origin,
                gateway: r.gateway,
                metric: r.metric,
                parent: r.parent.0,
                interface: self.vif_name(r.parent),
                children: self.children(&r),
                dependents: r.dependents.iter().map(|(v, a)| (v.0, *a)).collect(),
                expires: r
                    .expires
                    .map(|t| t.saturating_duration_since(now).as_secs()),
            })
            .collect()
    }

    /// `show mfc`: the forwarding cache with prune state.
    pub fn mfc_rows(&self, now: Instant, detail: bool) -> Vec<MfcRow> {
        self.engine
            .flows()
            .map(|f| {
                let counters = detail
                    .then(|| {
                        self.router
                            .route_counters(f.source.into(), f.group.into())
                            .ok()
                    })
                    .flatten()
                    .map(|c| (c.packets, c.bytes));
                let created = self
                    .flows_created
                    .get(&(f.source, f.group))
                    .copied()
                    .unwrap_or(now);
                MfcRow {
                    source: f.source,
                    group: f.group,
                    origin: (!f.negative)
                        .then(|| self.engine.lookup(f.source).map(|r| r.origin))
                        .flatten(),
                    iif: self.vif_name(f.iif),
                    oifs: f
                        .oifs
                        .iter()
                        .map(|(i, _)| self.vif_name(VifId(i)))
                        .collect(),
                    expires: f.expires.saturating_duration_since(now).as_secs(),
                    uptime: now.saturating_duration_since(created).as_secs(),
                    upstream_prune: f
                        .upstream_prune_expires
                        .map(|t| t.saturating_duration_since(now).as_secs()),
                    grafting: f.grafting,
                    pruned_by: f
                        .pruned_by
                        .iter()
                        .map(|(v, a)| (self.vif_name(*v), *a))
                        .collect(),
                    counters,
                }
            })
            .collect()
    }

    /// The answer to a control request this service can answer: the `show` views and
    /// `version`. `None` for what the daemon handles itself (`reload`, `kill`, `debug`,
    /// `log`); an error for static-routing requests.
    pub fn handle_request(&self, req: &Request, now: Instant) -> Option<Response> {
        Some(match req {
            Request::Show { what, detail } => match what {
                ShowWhat::Interfaces => Response::DvmrpInterfaces(self.vif_rows(*detail)),
                ShowWhat::Neighbors => Response::Neighbors(self.neighbor_rows(now)),
                ShowWhat::Routes => Response::DvmrpRoutes(self.route_rows(now)),
                ShowWhat::Mfc => Response::Mfc(self.mfc_rows(now, *detail)),
                ShowWhat::Compat => {
                    Response::Compat(format!("{}{}", self.route_dump(now), self.cache_dump(now)))
                }
                ShowWhat::Groups => Response::Groups(
                    self.slots
                        .values()
                        .flat_map(|s| {
                            s.querier.groups().map(|g| crate::ctl::GroupRow {
                                source: None,
                                group: IpNet::from(std::net::IpAddr::V4(g)),
                                iif: s.plan.name.clone(),
                            })
                        })
                        .collect(),
                ),
                ShowWhat::Igmp => Response::Igmp(self.igmp_tables(now)),
                ShowWhat::IgmpGroups => Response::Igmp(crate::ctl::IgmpTables {
                    interfaces: Vec::new(),
                    ..self.igmp_tables(now)
                }),
                ShowWhat::IgmpInterfaces => Response::Igmp(crate::ctl::IgmpTables {
                    groups: Vec::new(),
                    ..self.igmp_tables(now)
                }),
                ShowWhat::Status => Response::Status(self.dvmrp_status(now)),
            },
            Request::Version => Response::Version(self.version_line(now)),
            Request::Reload | Request::Kill | Request::Debug { .. } | Request::Log { .. } => {
                return None
            }
            other => Response::Error(format!(
                "{}: not supported by a DVMRP router (routes are learnt, not configured)",
                other.to_string().split(' ').next().unwrap_or("request")
            )),
        })
    }

    // ----------------------------------------------------------------------------------
    // mrouted's dumps

    /// The SIGUSR1 dump (mrouted's `mrouted.dump`): the virtual interface table and the
    /// multicast routing table, in the layout of mrouted's manual page.
    pub fn route_dump(&self, now: Instant) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Virtual Interface Table");
        let _ = writeln!(
            out,
            " Vif  Local-Address                    Metric  Thresh  Flags"
        );
        for row in self.vif_rows(true) {
            let what = match self.slots.get(&VifId(row.vif)).and_then(|s| s.plan.tunnel) {
                Some(r) => format!("tunnel: {r}"),
                None => format!("subnet: {}", fmt_origin(&row.subnet)),
            };
            let _ = writeln!(
                out,
                " {:>2}   {:<15} {:<18} {:>4}  {:>6}     {}",
                row.vif,
                row.local.to_string(),
                what,
                row.metric,
                row.threshold,
                row.flags.join(" ")
            );
            let pad = " ".repeat(25);
            if !row.neighbors.is_empty() {
                let peers: Vec<String> = self
                    .engine
                    .neighbors()
                    .filter(|n| n.vif.0 == row.vif)
                    .map(|n| format!("{} ({}.{})", n.addr, n.version.0, n.version.1))
                    .collect();
                let _ = writeln!(out, "{pad} peers: {}", peers.join(" "));
            }
            if !row.boundaries.is_empty() {
                let b: Vec<String> = row.boundaries.iter().map(fmt_origin).collect();
                let _ = writeln!(out, "{pad} boundaries: {}", b.join(" : "));
            }
            if !row.groups.is_empty() {
                let g: Vec<String> = row.groups.iter().map(|g| g.to_string()).collect();
                let _ = writeln!(out, "{pad} groups: {}", g.join(" "));
            }
            if let Some(c) = row.counters {
                let _ = writeln!(out, "{pad}pkts in: {}", c[0]);
                let _ = writeln!(out, "{pad}pkts out: {}", c[1]);
            }
        }
        let routes = self.route_rows(now);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Multicast Routing Table ({} entr{})",
            routes.len(),
            if routes.len() == 1 { "y" } else { "ies" }
        );
        let _ = writeln!(
            out,
            " Origin-Subnet      From-Gateway    Metric Tmr In-Vif  Out-Vifs"
        );
        for r in &routes {
            let metric = if r.metric >= INFINITY {
                "  NR".to_string()
            } else {
                format!("{:>4}", r.metric)
            };
            // Tmr: seconds since the last update, as mrouted counts (local: 0).
            let tmr = r.expires.map_or(0, |e| {
                crate::engine::dvmrp::ROUTE_EXPIRATION
                    .as_secs()
                    .saturating_sub(e)
            });
            let children: Vec<String> = r
                .children
                .iter()
                .map(|(v, deps)| format!("{v}{}", if *deps { "" } else { "*" }))
                .collect();
            let _ = writeln!(
                out,
                " {:<18} {:<15} {}  {:>4} {:>4}    {}",
                fmt_origin(&r.origin),
                r.gateway.map_or(String::new(), |g| g.to_string()),
                metric,
                tmr,
                r.parent,
                children.join(" ")
            );
        }
        out
    }

    /// The SIGUSR2 dump (mrouted's `mrouted.cache`): the forwarding cache in the layout of
    /// mrouted's manual page (`P` after the inbound VIF: pruned upstream; `p` after an
    /// outbound VIF: pruned by the routers there).
    pub fn cache_dump(&self, now: Instant) -> String {
        let mut out = String::new();
        let flows: Vec<_> = self.engine.flows().collect();
        let _ = writeln!(
            out,
            "Multicast Routing Cache Table ({} entr{})",
            flows.len(),
            if flows.len() == 1 { "y" } else { "ies" }
        );
        let _ = writeln!(
            out,
            " Origin             Mcast-group     CTmr  Age   Ptmr  IVif  Forwvifs"
        );
        for f in &flows {
            let route = self.engine.lookup(f.source).filter(|_| !f.negative);
            let origin = route
                .as_ref()
                .map_or_else(|| Ipv4Net::from(f.source), |r| r.origin);
            let created = self
                .flows_created
                .get(&(f.source, f.group))
                .copied()
                .unwrap_or(now);
            let ptmr = f.upstream_prune_expires.map_or("-".to_string(), |t| {
                short_time(t.saturating_duration_since(now))
            });
            let mut fwd = Vec::new();
            for (i, _) in f.oifs.iter() {
                fwd.push(i.to_string());
            }
            let mut pruned: Vec<u16> = f.pruned_by.iter().map(|(v, _)| v.0).collect();
            pruned.dedup();
            for v in pruned {
                if !f.oifs.contains(v) {
                    fwd.push(format!("{v}p"));
                }
            }
            let ivif = if route.is_none() {
                "-".to_string()
            } else {
                format!("{}{}", f.iif.0, if f.pruned_upstream { "P" } else { "" })
            };
            let _ = writeln!(
                out,
                " {:<18} {:<15} {:<5} {:<5} {:<5} {:<5} {}",
                fmt_origin(&origin),
                f.group.to_string(),
                short_time(f.expires.saturating_duration_since(now)),
                short_time(now.saturating_duration_since(created)),
                ptmr,
                ivif,
                fwd.join(" ")
            );
            let _ = writeln!(out, ">{}", f.source);
        }
        out
    }
}

/// An origin as mrouted prints it: the significant octets only (`36.2`), with `/len` when
/// the mask is not on an octet boundary.
pub fn fmt_origin(n: &Ipv4Net) -> String {
    let len = n.prefix_len();
    let o = n.network().octets();
    let octets = usize::from(len.div_ceil(8)).max(1);
    let s: Vec<String> = o[..octets].iter().map(|b| b.to_string()).collect();
    if len % 8 == 0 {
        s.join(".")
    } else {
        format!("{}/{len}", s.join("."))
    }
}

fn short_time(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86400)
    }
}

impl<P: Platform> Service<P> {
    /// How long the service has run.
    pub fn uptime(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }
}

mod frontend;
mod views;
pub use frontend::{debug_levels, debug_targets, plan_file, DEBUG_LEVELS, DEFAULT_DEBUG};
#[cfg(feature = "daemon")]
pub use views::{debug_command, log_command};

pub mod client;
#[cfg(test)]
mod tests;
