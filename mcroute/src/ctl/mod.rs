//! The control protocol between the daemons and their clients (`mcroutectl`).
//!
//! - [`Request`] and [`Response`]: typed messages (add/remove routes, join/leave, show
//!   routes/groups/interfaces with counters, flush, reload, kill, version). They derive serde:
//!   their JSON is both what travels on the socket and the `--json` output of `mcroutectl`
//!   (the schema documented in [`render`]).
//! - [`wire`]: mcroute's own framing over a UNIX stream socket: `"MCR" | version | flags |
//!   u32 length | JSON body`, versioned and size-limited; decoding never panics.
//! - [`server::CtlServer`]: what a daemon embeds: a listener that no client can stall
//!   (non-blocking, bounded buffers and work per client, idle clients closed, slots kept for
//!   root), with credentials checked by `SO_PEERCRED`. Long `show` replies are streamed in
//!   parts ([`parts`]) as the client reads, from a [`server::Cursor`] the daemon moves on.
//! - [`protocol`]: the seam for other clients' protocols: the server recognizes a
//!   connection's protocol from its first bytes and hands it to a decoder/encoder that
//!   produces the same typed requests ([`protocol::Native`] is mcroute's own).
//! - [`compat`]: SMCRoute 2.5's and mrouted 4.x's control protocols as pure codecs.
//! - [`client::CtlClient`]: what the CLI uses.
//! - [`command`]: smcroutectl's command syntax (`add IIF [SRC] GRP OIF...`, `s g`, ...) parsed
//!   into requests, and [`render`]: the human tables and the JSON schema of `show`.
//!
//! A new kind of reply (a new `show` view) is a new [`Response`] variant with serde
//! attributes that give it its JSON key, plus its arms in [`Response::rows`],
//! [`Response::append`] and the private part-cutting of [`parts`] if it is a list.

pub mod client;
pub mod command;
pub mod compat;
pub mod parts;
pub mod protocol;
pub mod render;
mod serial;
pub mod server;
pub mod wire;

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Serialize};

/// What `show` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShowWhat {
    /// Template rules, (S,G) rules and the kernel routes.
    Routes,
    /// Group memberships.
    Groups,
    /// Interfaces with their VIF/MIF (on dvmrp-router: the DVMRP VIF table).
    Interfaces,
    /// DVMRP neighbours (dvmrp-router).
    Neighbors,
    /// The forwarding cache with prune state (dvmrp-router).
    Mfc,
    /// mrouted 3.x's dump: VIFs, routes and cache in one text (dvmrp-router).
    Compat,
    /// IGMP: each interface's querier and the groups (dvmrp-router, mroutectl's `show igmp`).
    Igmp,
    /// IGMP groups with their last reporter, expiry and version (`show igmp groups`).
    #[serde(rename = "igmp-groups")]
    IgmpGroups,
    /// IGMP interfaces: querier, version, timers (`show igmp interfaces`).
    #[serde(rename = "igmp-interfaces")]
    IgmpInterfaces,
    /// A status summary in counts (dvmrp-router, mroutectl's `show`).
    Status,
}

impl ShowWhat {
    /// The name used on the wire and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            ShowWhat::Routes => "routes",
            ShowWhat::Groups => "groups",
            ShowWhat::Interfaces => "interfaces",
            ShowWhat::Neighbors => "neighbors",
            ShowWhat::Mfc => "mfc",
            ShowWhat::Compat => "compat",
            ShowWhat::Igmp => "igmp",
            ShowWhat::IgmpGroups => "igmp groups",
            ShowWhat::IgmpInterfaces => "igmp interfaces",
            ShowWhat::Status => "status",
        }
    }
}

/// A request from a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Add a route, or add OIFs to an existing identical one.
    Add {
        /// Inbound interface (may be a `+` wildcard).
        iif: String,
        /// Source (prefix), `None` for (*,G).
        #[serde(with = "serial::opt_net")]
        source: Option<IpNet>,
        /// Group (prefix).
        #[serde(with = "serial::net")]
        group: IpNet,
        /// Outbound interfaces.
        oifs: Vec<String>,
    },
    /// Remove a route (no OIFs) or some of its OIFs.
    Remove {
        /// Inbound interface.
        iif: String,
        /// Source (prefix), `None` for (*,G).
        #[serde(with = "serial::opt_net")]
        source: Option<IpNet>,
        /// Group (prefix).
        #[serde(with = "serial::net")]
        group: IpNet,
        /// OIFs to remove; empty removes the route.
        oifs: Vec<String>,
    },
    /// Join a group (SSM with a source).
    Join {
        /// Interface.
        iif: String,
        /// Source (prefix) for SSM.
        #[serde(with = "serial::opt_net")]
        source: Option<IpNet>,
        /// Group (prefix).
        #[serde(with = "serial::net")]
        group: IpNet,
    },
    /// Leave a group.
    Leave {
        /// Interface.
        iif: String,
        /// Source (prefix) for SSM.
        #[serde(with = "serial::opt_net")]
        source: Option<IpNet>,
        /// Group (prefix).
        #[serde(with = "serial::net")]
        group: IpNet,
    },
    /// List state.
    Show {
        /// What to list.
        what: ShowWhat,
        /// Include counters.
        detail: bool,
    },
    /// Flush dynamic routes learned from (*,G) rules.
    Flush,
    /// Reload the configuration file.
    Reload,
    /// Stop the daemon.
    Kill,
    /// The daemon's version.
    Version,
    /// Show (`None`) or set the debug levels at run time (dvmrp-router: mrouted's `-d`
    /// levels, comma-separated, or `none`), mroutectl's `debug`.
    Debug {
        /// The levels to set.
        levels: Option<String>,
    },
    /// Show (`None`) or set the log level at run time (none, err, notice, info, debug),
    /// mroutectl's `log`.
    Log {
        /// The level to set.
        level: Option<String>,
    },
}

/// One row of a route table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRow {
    /// Source (prefix); `None` for (*,G).
    #[serde(with = "serial::opt_net")]
    pub source: Option<IpNet>,
    /// Group (prefix).
    #[serde(with = "serial::net")]
    pub group: IpNet,
    /// Inbound interface.
    pub iif: String,
    /// Outbound interfaces (empty: a stop filter).
    pub oifs: Vec<String>,
    /// The rule's interfaces (inbound, or outbound named without a wildcard) that have no
    /// VIF (or MIF): more interfaces than the kernel has slots, or `phyint ... disable`.
    /// The rule cannot forward through them; `show` marks it. (In JSON only when not
    /// empty.)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub no_vif: Vec<String>,
    /// Packets forwarded (with `detail`, kernel routes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packets: Option<u64>,
    /// Bytes forwarded (with `detail`, kernel routes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// The three route tables of `show routes`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RouteTables {
    /// (*,G) and prefix templates, matched against upcalls (`asm` in JSON).
    #[serde(rename = "asm")]
    pub templates: Vec<RouteRow>,
    /// (S,G) rules from the configuration and the control socket (`ssm` in JSON).
    #[serde(rename = "ssm")]
    pub rules: Vec<RouteRow>,
    /// What is installed in the kernel: active routes first, then stop filters.
    pub kernel: Vec<RouteRow>,
}

/// One group membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRow {
    /// Source (prefix) of an SSM join.
    #[serde(with = "serial::opt_net")]
    pub source: Option<IpNet>,
    /// Group (prefix).
    #[serde(with = "serial::net")]
    pub group: IpNet,
    /// Interface.
    pub iif: String,
}

/// One interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceRow {
    /// Interface index.
    pub index: u32,
    /// Name.
    pub name: String,
    /// IPv4 VIF, if any.
    pub vif: Option<u16>,
    /// IPv6 MIF, if any.
    pub mif: Option<u16>,
}

/// One DVMRP VIF (`show interfaces` answered by dvmrp-router).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DvmrpVifRow {
    /// The VIF number.
    pub vif: u16,
    /// The interface name.
    pub name: String,
    /// Our address on it (`address` in JSON).
    #[serde(rename = "address")]
    pub local: Ipv4Addr,
    /// The directly connected subnet.
    pub subnet: Ipv4Net,
    /// Its metric (cost).
    pub metric: u8,
    /// Its TTL threshold.
    pub threshold: u8,
    /// Its rate limit in kbit/s (0: none).
    pub rate_limit: u32,
    /// Flags in mrouted's words: `querier`, `leaf`, `down`, `disabled`, `passive`, `tunnel`.
    pub flags: Vec<String>,
    /// The DVMRP neighbours heard on it.
    pub neighbors: Vec<Ipv4Addr>,
    /// Groups with local members.
    pub groups: Vec<Ipv4Addr>,
    /// Administratively scoped ranges not forwarded across it.
    pub boundaries: Vec<Ipv4Net>,
    /// The querier on its subnet (us or another router), if IGMP runs there.
    pub querier: Option<Ipv4Addr>,
    /// Kernel counters: packets in, packets out, bytes in, bytes out (with `-d`; in JSON
    /// the fields `pkts_in`, `pkts_out`, `bytes_in`, `bytes_out` of the row).
    #[serde(flatten, with = "serial::vif_counters")]
    pub counters: Option<[u64; 4]>,
}

/// One DVMRP neighbour (`show neighbors`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeighborRow {
    /// Its address (`address` in JSON).
    #[serde(rename = "address")]
    pub addr: Ipv4Addr,
    /// The VIF it is on.
    pub vif: u16,
    /// The interface name.
    pub interface: String,
    /// DVMRP (major, minor) version it speaks (`"3.255"` in JSON).
    #[serde(with = "serial::version")]
    pub version: (u8, u8),
    /// Its generation id.
    pub generation_id: u32,
    /// Flags: `leaf`, `prune`, `genid`, `mtrace`, `snmp`, `netmask` (capabilities) and
    /// `two-way` when it lists us.
    pub flags: Vec<String>,
    /// Seconds since we first heard it.
    pub uptime: u64,
    /// Seconds until it is lost unless heard again.
    pub expires: u64,
}

/// One DVMRP route (`show routes` answered by dvmrp-router).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DvmrpRouteRow {
    /// The origin subnet.
    pub origin: Ipv4Net,
    /// The upstream router; `None` for a directly connected subnet.
    pub gateway: Option<Ipv4Addr>,
    /// The metric (32: unreachable, in hold-down).
    pub metric: u8,
    /// The VIF towards the origin.
    pub parent: u16,
    /// Its interface name.
    pub interface: String,
    /// Child VIFs (where we forward this origin's traffic as designated forwarder), each
    /// with whether downstream routers depend on us there (`false`: a leaf, `*` in
    /// mrouted's dump; `{"vif":N,"leaf":BOOL}` in JSON).
    #[serde(with = "serial::children")]
    pub children: Vec<(u16, bool)>,
    /// Downstream routers that depend on us for it: (VIF, router).
    #[serde(with = "serial::dependents")]
    pub dependents: Vec<(u16, Ipv4Addr)>,
    /// Seconds until it expires unless refreshed (`None`: local, or in hold-down).
    pub expires: Option<u64>,
}

/// One forwarding cache entry with its prune state (`show mfc`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfcRow {
    /// The source.
    pub source: Ipv4Addr,
    /// The group.
    pub group: Ipv4Addr,
    /// The origin subnet it is routed by (`None`: no route, a negative entry).
    pub origin: Option<Ipv4Net>,
    /// The inbound interface.
    pub iif: String,
    /// The outbound interfaces.
    pub oifs: Vec<String>,
    /// Seconds until the entry times out without traffic.
    pub expires: u64,
    /// Seconds since it was created.
    pub uptime: u64,
    /// Seconds left of the prune we sent upstream, if we pruned.
    pub upstream_prune: Option<u64>,
    /// Whether a graft is waiting for its acknowledgement.
    pub grafting: bool,
    /// Downstream routers that pruned it: (interface, router).
    #[serde(with = "serial::pruned_by")]
    pub pruned_by: Vec<(String, Ipv4Addr)>,
    /// Packets and bytes forwarded (with `-d`; the fields `packets` and `bytes` of the row
    /// in JSON).
    #[serde(flatten, with = "serial::flow_counters")]
    pub counters: Option<(u64, u64)>,
}

/// One interface's IGMP querier (`show igmp interfaces`, dvmrp-router).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IgmpInterfaceRow {
    /// The interface name.
    pub interface: String,
    /// The querier's address.
    pub querier: Ipv4Addr,
    /// Whether we are the querier.
    pub local: bool,
    /// The IGMP version we query with (1, 2 or 3).
    pub version: u8,
    /// Groups with members.
    pub groups: usize,
    /// Seconds until the other querier is considered gone (`None`: we are the querier).
    pub querier_expires: Option<u64>,
    /// Seconds until our next general query (`None`: another router queries).
    pub next_query: Option<u64>,
}

/// One group with members (`show igmp groups`, dvmrp-router).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IgmpGroupRow {
    /// The interface name.
    pub interface: String,
    /// The group.
    pub group: Ipv4Addr,
    /// The host whose report was heard last.
    pub reporter: Ipv4Addr,
    /// Seconds until the membership ends unless a report comes.
    pub expires: u64,
    /// The group's compatibility mode: the oldest IGMP version a member speaks.
    pub version: u8,
    /// Whether group-specific queries run after a leave.
    pub leaving: bool,
}

/// `show igmp`: both IGMP tables.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IgmpTables {
    /// The querier of each interface.
    pub interfaces: Vec<IgmpInterfaceRow>,
    /// The groups with members.
    pub groups: Vec<IgmpGroupRow>,
}

/// `show status` of dvmrp-router: what mroutectl's `show` summarizes, in counts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DvmrpStatus {
    /// The daemon's version string.
    pub version: String,
    /// Seconds since it started.
    pub uptime: u64,
    /// VIFs running.
    pub vifs: usize,
    /// DVMRP neighbours (two-way or not).
    pub neighbors: usize,
    /// Routes in the table (hold-down included).
    pub routes: usize,
    /// Forwarding cache entries.
    pub mfc: usize,
    /// Groups with members, over every interface.
    pub groups: usize,
    /// DVMRP messages received.
    pub received: u64,
    /// DVMRP messages dropped as malformed, with a bad checksum, an unknown code or
    /// another major version.
    pub dropped: u64,
    /// Route entries ignored at a route cap (`--max-routes`, `--max-neighbor-routes`).
    pub route_limit: u64,
}

/// A reply from the daemon. As JSON (the `--json` schema of [`render`]), one object whose
/// single key names the kind: `{"routes":{...}}`, `{"vifs":[...]}`, ...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// Done.
    Ok,
    /// Refused or failed, with a one-line reason.
    Error(String),
    /// The daemon's version string.
    Version(String),
    /// `show routes`.
    Routes(RouteTables),
    /// `show groups`.
    Groups(Vec<GroupRow>),
    /// `show interfaces`.
    Interfaces(Vec<InterfaceRow>),
    /// `show interfaces` from dvmrp-router: the DVMRP VIF table (`vifs` in JSON).
    #[serde(rename = "vifs")]
    DvmrpInterfaces(Vec<DvmrpVifRow>),
    /// `show neighbors`.
    Neighbors(Vec<NeighborRow>),
    /// `show routes` from dvmrp-router: the DVMRP routing table.
    DvmrpRoutes(Vec<DvmrpRouteRow>),
    /// `show mfc`.
    Mfc(Vec<MfcRow>),
    /// `show compat`: mrouted 3.x's dump text.
    Compat(String),
    /// `show igmp`, `show igmp groups`, `show igmp interfaces` (the tables asked for).
    Igmp(IgmpTables),
    /// `show status` from dvmrp-router.
    Status(DvmrpStatus),
    /// A line of text: the debug levels or log level in force.
    Text(String),
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sg = |f: &mut fmt::Formatter<'_>, s: &Option<IpNet>, g: &IpNet| match s {
            Some(s) => write!(f, " {} {}", fmt_net(s), fmt_net(g)),
            None => write!(f, " {}", fmt_net(g)),
        };
        match self {
            Request::Add {
                iif,
                source,
                group,
                oifs,
            }
            | Request::Remove {
                iif,
                source,
                group,
                oifs,
            } => {
                f.write_str(if matches!(self, Request::Add { .. }) {
                    "add "
                } else {
                    "remove "
                })?;
                f.write_str(iif)?;
                sg(f, source, group)?;
                for o in oifs {
                    write!(f, " {o}")?;
                }
                Ok(())
            }
            Request::Join { iif, source, group } | Request::Leave { iif, source, group } => {
                f.write_str(if matches!(self, Request::Join { .. }) {
                    "join "
                } else {
                    "leave "
                })?;
                f.write_str(iif)?;
                sg(f, source, group)
            }
            Request::Show { what, detail } => {
                write!(
                    f,
                    "show {}{}",
                    what.name(),
                    if *detail { " -d" } else { "" }
                )
            }
            Request::Flush => f.write_str("flush"),
            Request::Reload => f.write_str("reload"),
            Request::Kill => f.write_str("kill"),
            Request::Version => f.write_str("version"),
            Request::Debug { levels } => match levels {
                Some(l) => write!(f, "debug {l}"),
                None => f.write_str("debug"),
            },
            Request::Log { level } => match level {
                Some(l) => write!(f, "log {l}"),
                None => f.write_str("log"),
            },
        }
    }
}

/// Prints a prefix as smcroute does: the bare address for a host prefix, `addr/len` else.
pub fn fmt_net(n: &IpNet) -> String {
    if n.prefix_len() == n.max_prefix_len() {
        n.addr().to_string()
    } else {
        n.to_string()
    }
}

/// Prints a (S,G) pair: `(S, G)` or `(*, G)`.
pub fn fmt_sg(source: &Option<IpNet>, group: &IpNet) -> String {
    match source {
        Some(s) => format!("({}, {})", fmt_net(s), fmt_net(group)),
        None => format!("(*, {})", fmt_net(group)),
    }
}
