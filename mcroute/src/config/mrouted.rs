//! `mrouted.conf`: the configuration file of the DVMRP daemon mrouted (3.9 and 4.x).
//!
//! The format is free-form: white space, newlines included, is not significant, and `#`
//! starts a comment that runs to the end of the line. A `phyint` or `tunnel` statement takes
//! options until the next top-level keyword, so its options may continue on the following
//! lines:
//!
//! ```text
//! cache_lifetime SECONDS              # also cache-lifetime
//! prune-lifetime SECONDS              # also prune_lifetime
//! pruning on|off
//! noflood
//! rexmit-prunes [on|off]
//! name BOUNDARY-NAME 239.x.x.x/LEN
//! igmp-query-interval SECONDS
//! igmp-query-response-interval SECONDS  # also igmp-query-reponse-interval (mrouted 4.6)
//! igmp-query-last-member-interval SECONDS
//! igmp-robustness 2-10
//! router-timeout SECONDS              # the IGMP other-querier-present interval
//! no router-alert                     # also router-alert on|off
//! no phyint
//! phyint ADDRESS|IFNAME [enable|disable] [altnet NET/LEN] [boundary NAME|SCOPE/LEN]
//!        [metric 1-31] [advert-metric 0-31] [threshold 1-255] [rate-limit KBPS]
//!        [igmpv1|igmpv2|igmpv3] [passive] [force-leaf [on|off]] [noflood] [notransit]
//!        [blaster] [allow-nonpruners] [prune-lifetime SECONDS] [rexmit-prunes [on|off]]
//!        [static-group GROUP] [join-group GROUP] [accept|deny (NET/LEN [exact])+ [bidir]]
//! tunnel LOCAL-ADDRESS|IFNAME REMOTE-ADDRESS|HOSTNAME [the options of phyint that apply]
//! ```
//!
//! Every keyword with an underscore in mrouted 3.9 (`cache_lifetime`, `prune_lifetime`,
//! `rate_limit`, `advert_metric`, `force_leaf`, `rexmit_prunes`, `allow_nonpruners`) is also
//! accepted with a hyphen, as mrouted 4.x spells them. The printer uses the hyphens.
//!
//! ```
//! use mcroute::config::mrouted;
//!
//! let conf = mrouted::parse(
//!     "name LOCAL 239.255.0.0/16\n\
//!      phyint eth0 boundary LOCAL\n\
//!        altnet 192.0.2.0/26 metric 2   # options continue on the next line\n\
//!      phyint eth1 disable\n\
//!      tunnel 192.0.2.1 198.51.100.1 threshold 32 rate_limit 0\n",
//! )?;
//! assert_eq!(conf.phyints.len(), 2);
//! assert_eq!(conf.phyints[0].options.metric(), 2);
//! assert_eq!(conf.tunnels[0].options.threshold(), 32);
//! assert_eq!(conf.cache_lifetime(), 300);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Decisions where mrouted is loose or quirky
//!
//! - A clause given twice in one phyint or tunnel (`metric 2 ... metric 3`) and a global
//!   setting given twice are errors; mrouted keeps the last one silently.
//! - `noflood`, `rexmit-prunes` and `prune-lifetime` are global before the first `phyint` or
//!   `tunnel` and belong to the current phyint/tunnel after it, as in mrouted.
//! - Boundary names may be used before their `name` statement (mrouted requires the
//!   definition first); an unknown name is an error either way. Boundaries must lie within
//!   239.0.0.0/8, as mrouted requires.
//! - `phyint` and `tunnel` may come in any order (mrouted 3.9 requires phyints first; the
//!   AST keeps them in two lists, so VIF numbering follows mrouted's order anyway).
//! - `cache-lifetime` accepts 60..=86400 (the 4.x range; 3.9 wanted at least 300).
//! - The IGMP query response interval must be shorter than the query interval (RFC 3376
//!   section 8.3).
//! - `rexmit-prunes no phyint`: the `no` belongs to `no phyint`, not to `rexmit-prunes`
//!   (but in `rexmit-prunes no phyint eth0` it is the value, as `no phyint` takes no
//!   interface).
//! - A tunnel's remote end may be a host name; the parser keeps it as written, resolving
//!   it is the caller's business (the parser does no I/O).
//! - Options that apply only to physical interfaces (`enable`, `disable`, `altnet`,
//!   `igmpv1`..`igmpv3`, `force-leaf`, `static-group`) are errors on a tunnel.
//! - Left out: mrouted 3.8's `netmask`, `beside`, `srcrt`, `allow_black_holes` and the SNMP
//!   keywords (`sysName`...): they are reported as unknown.

use std::collections::HashMap;
use std::fmt;
use std::mem;
use std::net::Ipv4Addr;
use std::path::Path;

use ipnet::Ipv4Net;

use super::{
    check_ifname, decode, read_file, suggest, ConfigError, ConfigErrors, ErrorKind, ErrorList,
    FileId, Found, Span, Spanned, INPUT_NAME,
};

// ---------------------------------------------------------------------------------------------
// Defaults and ranges

/// Default `cache-lifetime`: seconds a kernel cache entry lives.
pub const DEFAULT_CACHE_LIFETIME: u32 = 300;
/// Default `prune-lifetime` in seconds (mrouted randomises it within 0.5..1.5 of this).
pub const DEFAULT_PRUNE_LIFETIME: u32 = 7200;
/// Default `igmp-query-interval` in seconds.
pub const DEFAULT_QUERY_INTERVAL: u32 = 125;
/// Default `igmp-query-response-interval` in seconds.
pub const DEFAULT_QUERY_RESPONSE_INTERVAL: u32 = 10;
/// Default `igmp-query-last-member-interval` in seconds.
pub const DEFAULT_LAST_MEMBER_INTERVAL: u32 = 1;
/// Default `igmp-robustness`.
pub const DEFAULT_ROBUSTNESS: u32 = 2;
/// Default `router-timeout`, the IGMP other-querier-present interval in seconds: robustness
/// × query interval + response interval / 2 with the default IGMP settings (mrouted's
/// `IGMP_OTHER_QUERIER_PRESENT_INTERVAL`, 255 s). With other IGMP settings and no
/// `router-timeout`, [`Config::router_timeout`] derives it from them.
pub const DEFAULT_ROUTER_TIMEOUT: u32 = 255;
/// Default VIF `metric`.
pub const DEFAULT_METRIC: u8 = 1;
/// Default VIF `threshold`.
pub const DEFAULT_THRESHOLD: u8 = 1;
/// Default `rate-limit` of a phyint, kbit/s (0: unlimited).
pub const DEFAULT_PHYINT_RATE_LIMIT: u32 = 0;
/// Default `rate-limit` of a tunnel, kbit/s.
pub const DEFAULT_TUNNEL_RATE_LIMIT: u32 = 500;
/// The largest `rate-limit`, kbit/s.
pub const MAX_RATE_LIMIT: u32 = 100_000;

// ---------------------------------------------------------------------------------------------
// The AST

/// A parsed mrouted.conf.
///
/// Global settings are `None` when not given; the methods of the same name return the
/// effective value with mrouted's default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// `cache_lifetime`/`cache-lifetime`, 60..=86400 (default 300).
    pub cache_lifetime: Option<Spanned<u32>>,
    /// `prune_lifetime`/`prune-lifetime` before any phyint or tunnel, 120..=86400 (default
    /// 7200).
    pub prune_lifetime: Option<Spanned<u32>>,
    /// `pruning on|off` (kept for compatibility; mrouted always prunes).
    pub pruning: Option<Spanned<bool>>,
    /// `noflood` before any phyint or tunnel: no initial flooding on every VIF.
    pub noflood: Option<Span>,
    /// `rexmit-prunes [on|off]` before any phyint or tunnel (bare: on).
    pub rexmit_prunes: Option<Spanned<bool>>,
    /// `igmp-query-interval`, 1..=1024 (default 125).
    pub igmp_query_interval: Option<Spanned<u32>>,
    /// `igmp-query-response-interval`, 1..=1024 and below the query interval (default 10).
    pub igmp_query_response_interval: Option<Spanned<u32>>,
    /// `igmp-query-last-member-interval`, 1..=1024 (default 1).
    pub igmp_query_last_member_interval: Option<Spanned<u32>>,
    /// `igmp-robustness`, 2..=10 (default 2).
    pub igmp_robustness: Option<Spanned<u32>>,
    /// `router-timeout`, 1..=1024: the IGMP other-querier-present interval (mrouted's
    /// meaning; default derived from the IGMP settings, 255 s).
    pub router_timeout: Option<Spanned<u32>>,
    /// `no router-alert`: send IGMP without the IP router alert option.
    pub no_router_alert: Option<Span>,
    /// `router-alert on|off` (mrouted 4.6's other spelling of the setting; the value's
    /// span). Given together with `no router-alert` it is an error.
    pub router_alert: Option<Spanned<bool>>,
    /// `no phyint`: every interface is disabled unless a `phyint ... enable` says otherwise.
    pub no_phyint: Option<Span>,
    /// `name` statements: named boundaries.
    pub names: Vec<BoundaryName>,
    /// `phyint` statements, in file order.
    pub phyints: Vec<Phyint>,
    /// `tunnel` statements, in file order.
    pub tunnels: Vec<Tunnel>,
}

/// `name BOUNDARY-NAME 239.x.x.x/LEN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundaryName {
    /// The position of the `name` keyword.
    pub span: Span,
    /// The name.
    pub name: Spanned<String>,
    /// The scoped range it stands for.
    pub scope: Spanned<Ipv4Net>,
}

/// How a phyint or a tunnel's local end names its interface.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InterfaceRef {
    /// By its IPv4 address.
    Addr(Ipv4Addr),
    /// By its name.
    Name(String),
}

/// The remote end of a tunnel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TunnelRemote {
    /// An IPv4 address.
    Addr(Ipv4Addr),
    /// A host name with exactly one address, resolved by the caller.
    Host(String),
}

/// A `boundary`: a group range not forwarded across the VIF.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Boundary {
    /// A name defined by a `name` statement ([`Config::resolve_boundary`]).
    Name(String),
    /// A scoped range, within 239.0.0.0/8.
    Scope(Ipv4Net),
}

/// `altnet`: another subnet on the same interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AltNet {
    /// The network.
    pub addr: Ipv4Addr,
    /// Its length; `None` when written without one (then the interface's own mask applies).
    pub prefix_len: Option<u8>,
}

/// The IGMP version a phyint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IgmpVersion {
    /// `igmpv1`.
    V1,
    /// `igmpv2`.
    V2,
    /// `igmpv3` (mrouted 4.x's default).
    V3,
}

/// Whether a phyint is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VifState {
    /// `enable` (the default unless `no phyint` is given).
    Enable,
    /// `disable`.
    Disable,
}

/// Whether a route filter lists the routes to accept or those to deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterMode {
    /// `accept`: only the listed routes are accepted.
    Accept,
    /// `deny`: the listed routes are refused.
    Deny,
}

/// One route of a filter: `NET/LEN [exact]` (`default` is 0.0.0.0/0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FilterRoute {
    /// The route.
    pub prefix: Ipv4Net,
    /// `exact`: match only this prefix, not the more specific ones.
    pub exact: bool,
}

/// `accept|deny (NET/LEN [exact])+ [bidir]`: which DVMRP routes are taken from neighbours
/// on a VIF. Several `accept` (or `deny`) clauses add to one filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The position of the first `accept` or `deny`.
    pub span: Span,
    /// Accept or deny.
    pub mode: FilterMode,
    /// The routes.
    pub routes: Vec<Spanned<FilterRoute>>,
    /// `bidir`: filter the routes we advertise too.
    pub bidir: Option<Span>,
}

/// Options shared by phyints and tunnels.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VifOptions {
    /// `boundary`, as many as given.
    pub boundaries: Vec<Spanned<Boundary>>,
    /// `metric`, 1..=31 (default 1).
    pub metric: Option<Spanned<u8>>,
    /// `advert-metric`, 0..=31 (default 0): added to the metrics we advertise.
    pub advert_metric: Option<Spanned<u8>>,
    /// `threshold`, 1..=255 (default 1): the VIF's TTL threshold.
    pub threshold: Option<Spanned<u8>>,
    /// `rate-limit` in kbit/s, 0..=100000 (default 0 on a phyint, 500 on a tunnel).
    pub rate_limit: Option<Spanned<u32>>,
    /// `prune-lifetime` of this VIF, 120..=86400 (default: the global one).
    pub prune_lifetime: Option<Spanned<u32>>,
    /// `rexmit-prunes [on|off]` (bare: on).
    pub rexmit_prunes: Option<Spanned<bool>>,
    /// `passive`: no DVMRP probes on this VIF.
    pub passive: Option<Span>,
    /// `noflood`.
    pub noflood: Option<Span>,
    /// `notransit`: do not forward between this and other `notransit` VIFs.
    pub notransit: Option<Span>,
    /// `blaster`: the neighbour sends route reports in bursts; buffer them.
    pub blaster: Option<Span>,
    /// `allow-nonpruners`: peer with DVMRP routers that do not prune.
    pub allow_nonpruners: Option<Span>,
    /// `accept`/`deny` route filter.
    pub filter: Option<Filter>,
    /// `join-group GROUP` (phyint only, mrouted 4.6): groups the router itself joins on the
    /// interface, as a host would.
    pub join_groups: Vec<Spanned<Ipv4Addr>>,
}

impl VifOptions {
    /// The metric, 1 unless given.
    pub fn metric(&self) -> u8 {
        self.metric.map_or(DEFAULT_METRIC, |m| m.value)
    }

    /// The TTL threshold, 1 unless given.
    pub fn threshold(&self) -> u8 {
        self.threshold.map_or(DEFAULT_THRESHOLD, |m| m.value)
    }

    /// The advertised metric offset, 0 unless given.
    pub fn advert_metric(&self) -> u8 {
        self.advert_metric.map_or(0, |m| m.value)
    }
}

/// `phyint ADDRESS|IFNAME [options]`: settings of a physical interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phyint {
    /// The position of the `phyint` keyword.
    pub span: Span,
    /// The interface.
    pub interface: Spanned<InterfaceRef>,
    /// `enable` or `disable`.
    pub state: Option<Spanned<VifState>>,
    /// `altnet`, as many as given.
    pub altnets: Vec<Spanned<AltNet>>,
    /// `igmpv1`, `igmpv2` or `igmpv3`.
    pub igmp_version: Option<Spanned<IgmpVersion>>,
    /// `force-leaf [on|off]` (bare: on): treat the VIF as a leaf even with neighbours.
    pub force_leaf: Option<Spanned<bool>>,
    /// `static-group`, as many as given: groups joined permanently on this VIF.
    pub static_groups: Vec<Spanned<Ipv4Addr>>,
    /// The options shared with tunnels.
    pub options: VifOptions,
}

impl Phyint {
    /// The rate limit, 0 (unlimited) unless given.
    pub fn rate_limit(&self) -> u32 {
        self.options
            .rate_limit
            .map_or(DEFAULT_PHYINT_RATE_LIMIT, |r| r.value)
    }
}

/// `tunnel LOCAL REMOTE [options]`: an IP-in-IP tunnel to another DVMRP router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunnel {
    /// The position of the `tunnel` keyword.
    pub span: Span,
    /// The local end.
    pub local: Spanned<InterfaceRef>,
    /// The remote end.
    pub remote: Spanned<TunnelRemote>,
    /// The options.
    pub options: VifOptions,
}

impl Tunnel {
    /// The rate limit, 500 kbit/s unless given.
    pub fn rate_limit(&self) -> u32 {
        self.options
            .rate_limit
            .map_or(DEFAULT_TUNNEL_RATE_LIMIT, |r| r.value)
    }
}

fn value_or<T: Copy>(v: &Option<Spanned<T>>, default: T) -> T {
    v.as_ref().map_or(default, |v| v.value)
}

impl Config {
    /// The cache lifetime in seconds (default 300).
    pub fn cache_lifetime(&self) -> u32 {
        value_or(&self.cache_lifetime, DEFAULT_CACHE_LIFETIME)
    }

    /// The global prune lifetime in seconds (default 7200).
    pub fn prune_lifetime(&self) -> u32 {
        value_or(&self.prune_lifetime, DEFAULT_PRUNE_LIFETIME)
    }

    /// The IGMP query interval in seconds (default 125).
    pub fn igmp_query_interval(&self) -> u32 {
        value_or(&self.igmp_query_interval, DEFAULT_QUERY_INTERVAL)
    }

    /// The IGMP query response interval in seconds (default 10).
    pub fn igmp_query_response_interval(&self) -> u32 {
        value_or(
            &self.igmp_query_response_interval,
            DEFAULT_QUERY_RESPONSE_INTERVAL,
        )
    }

    /// The IGMP last member query interval in seconds (default 1).
    pub fn igmp_query_last_member_interval(&self) -> u32 {
        value_or(
            &self.igmp_query_last_member_interval,
            DEFAULT_LAST_MEMBER_INTERVAL,
        )
    }

    /// The IGMP robustness variable (default 2).
    pub fn igmp_robustness(&self) -> u32 {
        value_or(&self.igmp_robustness, DEFAULT_ROBUSTNESS)
    }

    /// The IGMP other-querier-present interval in seconds (`router-timeout`; mrouted's
    /// meaning of the keyword): as given, else robustness × query interval + response
    /// interval / 2 (RFC 2236 section 8.5; 255 s by default).
    pub fn router_timeout(&self) -> u32 {
        match &self.router_timeout {
            Some(v) => v.value,
            None => self
                .igmp_robustness()
                .saturating_mul(self.igmp_query_interval())
                .saturating_add(self.igmp_query_response_interval() / 2),
        }
    }

    /// Whether IGMP and DVMRP go out with the IP Router Alert option (`no router-alert`,
    /// `router-alert off`; default on).
    pub fn router_alert(&self) -> bool {
        self.no_router_alert.is_none() && self.router_alert.is_none_or(|v| v.value)
    }

    /// The group membership interval: robustness × query interval + response interval
    /// (260 s by default).
    pub fn group_membership_interval(&self) -> u32 {
        self.igmp_robustness()
            .saturating_mul(self.igmp_query_interval())
            .saturating_add(self.igmp_query_response_interval())
    }

    /// The range a boundary stands for: its scope, or the scope of the `name` it refers to.
    pub fn resolve_boundary(&self, boundary: &Boundary) -> Option<Ipv4Net> {
        match boundary {
            Boundary::Scope(s) => Some(*s),
            Boundary::Name(n) => self
                .names
                .iter()
                .find(|b| b.name.value == *n)
                .map(|b| b.scope.value),
        }
    }

    /// Sets every span to the default, so that configs compare equal when they say the
    /// same thing.
    pub fn erase_spans(&mut self) {
        let z = Span::default();
        for s in [
            &mut self.cache_lifetime,
            &mut self.prune_lifetime,
            &mut self.igmp_query_interval,
            &mut self.igmp_query_response_interval,
            &mut self.igmp_query_last_member_interval,
            &mut self.igmp_robustness,
            &mut self.router_timeout,
        ]
        .into_iter()
        .flatten()
        {
            s.span = z;
        }
        for s in [
            &mut self.pruning,
            &mut self.rexmit_prunes,
            &mut self.router_alert,
        ]
        .into_iter()
        .flatten()
        {
            s.span = z;
        }
        for s in [
            &mut self.noflood,
            &mut self.no_router_alert,
            &mut self.no_phyint,
        ]
        .into_iter()
        .flatten()
        {
            *s = z;
        }
        for n in &mut self.names {
            n.span = z;
            n.name.span = z;
            n.scope.span = z;
        }
        for p in &mut self.phyints {
            p.span = z;
            p.interface.span = z;
            if let Some(s) = &mut p.state {
                s.span = z;
            }
            for a in &mut p.altnets {
                a.span = z;
            }
            if let Some(s) = &mut p.igmp_version {
                s.span = z;
            }
            if let Some(s) = &mut p.force_leaf {
                s.span = z;
            }
            for g in &mut p.static_groups {
                g.span = z;
            }
            erase_options(&mut p.options);
        }
        for t in &mut self.tunnels {
            t.span = z;
            t.local.span = z;
            t.remote.span = z;
            erase_options(&mut t.options);
        }
    }
}

fn erase_options(o: &mut VifOptions) {
    let z = Span::default();
    for b in &mut o.boundaries {
        b.span = z;
    }
    for s in [&mut o.metric, &mut o.advert_metric, &mut o.threshold]
        .into_iter()
        .flatten()
    {
        s.span = z;
    }
    for s in [&mut o.rate_limit, &mut o.prune_lifetime]
        .into_iter()
        .flatten()
    {
        s.span = z;
    }
    if let Some(s) = &mut o.rexmit_prunes {
        s.span = z;
    }
    for s in [
        &mut o.passive,
        &mut o.noflood,
        &mut o.notransit,
        &mut o.blaster,
        &mut o.allow_nonpruners,
    ]
    .into_iter()
    .flatten()
    {
        *s = z;
    }
    for g in &mut o.join_groups {
        g.span = z;
    }
    if let Some(f) = &mut o.filter {
        f.span = z;
        if let Some(b) = &mut f.bidir {
            *b = z;
        }
        for r in &mut f.routes {
            r.span = z;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Printing

impl fmt::Display for InterfaceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterfaceRef::Addr(a) => a.fmt(f),
            InterfaceRef::Name(n) => f.write_str(n),
        }
    }
}

impl fmt::Display for TunnelRemote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelRemote::Addr(a) => a.fmt(f),
            TunnelRemote::Host(n) => f.write_str(n),
        }
    }
}

impl fmt::Display for Boundary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Boundary::Name(n) => f.write_str(n),
            Boundary::Scope(s) => s.fmt(f),
        }
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

impl fmt::Display for VifOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.boundaries {
            write!(f, " boundary {}", b.value)?;
        }
        if let Some(v) = self.metric {
            write!(f, " metric {}", v.value)?;
        }
        if let Some(v) = self.advert_metric {
            write!(f, " advert-metric {}", v.value)?;
        }
        if let Some(v) = self.threshold {
            write!(f, " threshold {}", v.value)?;
        }
        if let Some(v) = self.rate_limit {
            write!(f, " rate-limit {}", v.value)?;
        }
        if let Some(v) = self.prune_lifetime {
            write!(f, " prune-lifetime {}", v.value)?;
        }
        if let Some(v) = self.rexmit_prunes {
            write!(f, " rexmit-prunes {}", on_off(v.value))?;
        }
        for (flag, word) in [
            (self.passive, "passive"),
            (self.noflood, "noflood"),
            (self.notransit, "notransit"),
            (self.blaster, "blaster"),
            (self.allow_nonpruners, "allow-nonpruners"),
        ] {
            if flag.is_some() {
                write!(f, " {word}")?;
            }
        }
        for g in &self.join_groups {
            write!(f, " join-group {}", g.value)?;
        }
        if let Some(filter) = &self.filter {
            f.write_str(match filter.mode {
                FilterMode::Accept => " accept",
                FilterMode::Deny => " deny",
            })?;
            for r in &filter.routes {
                write!(f, " {}", r.value.prefix)?;
                if r.value.exact {
                    f.write_str(" exact")?;
                }
            }
            if filter.bidir.is_some() {
                f.write_str(" bidir")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Phyint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "phyint {}", self.interface.value)?;
        match self.state.map(|s| s.value) {
            Some(VifState::Enable) => f.write_str(" enable")?,
            Some(VifState::Disable) => f.write_str(" disable")?,
            None => {}
        }
        for a in &self.altnets {
            match a.value.prefix_len {
                Some(l) => write!(f, " altnet {}/{}", a.value.addr, l)?,
                None => write!(f, " altnet {}", a.value.addr)?,
            }
        }
        match self.igmp_version.map(|v| v.value) {
            Some(IgmpVersion::V1) => f.write_str(" igmpv1")?,
            Some(IgmpVersion::V2) => f.write_str(" igmpv2")?,
            Some(IgmpVersion::V3) => f.write_str(" igmpv3")?,
            None => {}
        }
        if let Some(v) = self.force_leaf {
            write!(f, " force-leaf {}", on_off(v.value))?;
        }
        for g in &self.static_groups {
            write!(f, " static-group {}", g.value)?;
        }
        self.options.fmt(f)
    }
}

impl fmt::Display for Tunnel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tunnel {} {}", self.local.value, self.remote.value)?;
        self.options.fmt(f)
    }
}

/// Prints the file in a form [`parse`] reads back to the same AST (spans aside; comments
/// are not kept): global settings, names, phyints, then tunnels, one statement a line.
impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let numbers = [
            ("cache-lifetime", &self.cache_lifetime),
            ("prune-lifetime", &self.prune_lifetime),
            ("igmp-query-interval", &self.igmp_query_interval),
            (
                "igmp-query-response-interval",
                &self.igmp_query_response_interval,
            ),
            (
                "igmp-query-last-member-interval",
                &self.igmp_query_last_member_interval,
            ),
            ("igmp-robustness", &self.igmp_robustness),
            ("router-timeout", &self.router_timeout),
        ];
        for (word, v) in numbers {
            if let Some(v) = v {
                writeln!(f, "{word} {}", v.value)?;
            }
        }
        if let Some(v) = self.pruning {
            writeln!(f, "pruning {}", on_off(v.value))?;
        }
        if self.noflood.is_some() {
            writeln!(f, "noflood")?;
        }
        if let Some(v) = self.rexmit_prunes {
            writeln!(f, "rexmit-prunes {}", on_off(v.value))?;
        }
        if self.no_router_alert.is_some() {
            writeln!(f, "no router-alert")?;
        }
        if let Some(v) = self.router_alert {
            writeln!(f, "router-alert {}", on_off(v.value))?;
        }
        if self.no_phyint.is_some() {
            writeln!(f, "no phyint")?;
        }
        for n in &self.names {
            writeln!(f, "name {} {}", n.name.value, n.scope.value)?;
        }
        for p in &self.phyints {
            writeln!(f, "{p}")?;
        }
        for t in &self.tunnels {
            writeln!(f, "{t}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Parses mrouted.conf text (named [`INPUT_NAME`] in errors, file id 0). Returns the AST, or
/// every error found.
pub fn parse(text: &str) -> Result<Config, ConfigErrors> {
    let (config, errors) = parse_source(text, FileId(0), Path::new(INPUT_NAME));
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Reads and parses the file at `path`. A file that cannot be read is an error at line 0
/// (mrouted runs with defaults when its file does not exist; check for
/// [`ErrorKind::Io`] with `io::ErrorKind::NotFound` to do the same). As for smcroute.conf,
/// only a regular file of at most [`MAX_FILE_SIZE`](super::MAX_FILE_SIZE) bytes of UTF-8
/// is read ([`read_file`](super::read_file)): a byte that is not UTF-8 is an error at its
/// line and column.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let (bytes, _) =
        read_file(path).map_err(|kind| ConfigErrors(vec![ConfigError::new(path, 0, 0, kind)]))?;
    let (text, mut errors) = decode(&bytes, path);
    let (config, parse_errors) = parse_source(&text, FileId(0), path);
    if errors.is_empty() && parse_errors.is_empty() {
        return Ok(config);
    }
    errors.extend(parse_errors);
    errors.sort_by_key(|e| (e.line, e.column));
    Err(ConfigErrors(super::cap_errors(errors, path)))
}

/// Parses mrouted.conf text read from `path` (used in errors only) with file id `file`
/// (used in spans). Returns what parsed (a bad value is left out, the rest of its statement
/// kept) and every error.
pub fn parse_source(text: &str, file: FileId, path: &Path) -> (Config, Vec<ConfigError>) {
    let mut lexer = Lexer::new(text);
    let next = lexer.next_token();
    let mut p = Parser {
        text,
        lexer,
        next,
        file,
        path,
        errors: ErrorList::default(),
        boundary_refs: Vec::new(),
        names: Names::default(),
        scratch: Scratch::default(),
    };
    let mut config = Config::default();
    // A text full of these words but with few statements must not reserve a fortune: at
    // most two bytes per byte of text for each list (the token vector of the old parser
    // took four).
    let (phyints, tunnels) = count_vifs(text);
    let budget = text.len().saturating_mul(2);
    config
        .phyints
        .reserve_exact(phyints.min(budget / mem::size_of::<Phyint>()));
    config
        .tunnels
        .reserve_exact(tunnels.min(budget / mem::size_of::<Tunnel>()));
    p.run(&mut config);
    p.check(&config);
    (config, p.errors.finish(path))
}

// ---------------------------------------------------------------------------------------------
// Tokens
//
// The text is tokenised lazily, one token ahead of the parser, straight from the bytes: no
// token vector, no per-line split. Keywords are recognised once, when the token is read,
// so the parser matches on a small enum instead of comparing strings against the keyword
// lists over and over.

/// A word of the file, with its position (the column counts bytes, from 1).
#[derive(Clone, Copy)]
struct Tok<'a> {
    text: &'a str,
    line: u32,
    column: u32,
    kw: Kw,
}

/// What a token is: one of the keywords (both spellings of a keyword are one variant, the
/// text of the token keeps the spelling), one of the words with a meaning after some
/// keyword (`exact`, `default`, `on`...; not keywords: they do not end a value list), or
/// any other word.
// Eight bytes, so that a token has no padding: copying padding bytes took odd-sized moves
// that stalled the loads after them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u64)]
enum Kw {
    // Top level.
    CacheLifetime,
    PruneLifetime,
    Pruning,
    Noflood,
    RexmitPrunes,
    Name,
    Phyint,
    Tunnel,
    No,
    IgmpQueryInterval,
    IgmpQueryResponseInterval,
    IgmpQueryLastMemberInterval,
    IgmpRobustness,
    RouterTimeout,
    RouterAlert,
    // VIF options (`prune-lifetime`, `rexmit-prunes` and `noflood` are above).
    Boundary,
    Metric,
    AdvertMetric,
    Threshold,
    RateLimit,
    Passive,
    Notransit,
    Blaster,
    AllowNonpruners,
    Accept,
    Deny,
    Bidir,
    // Phyint only.
    Enable,
    Disable,
    Altnet,
    Igmpv1,
    Igmpv2,
    Igmpv3,
    ForceLeaf,
    StaticGroup,
    JoinGroup,
    // Not keywords.
    Exact,
    Default,
    On,
    Off,
    Yes,
    Word,
}

/// The end of the word that goes on at `from`: the offset of the first [`blank`] byte at
/// or after it, or the length of the text. Eight bytes at a time: words are short, but
/// a byte-by-byte loop spent most of its time deciding when to stop.
#[inline(always)]
fn word_end(bytes: &[u8], mut from: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const LOW7: u64 = ONES * 0x7f;
    const HIGH: u64 = ONES * 0x80;
    while let Some(chunk) = bytes.get(from..from + 8) {
        let mut eight = [0; 8];
        eight.copy_from_slice(chunk);
        let x = u64::from_le_bytes(eight);
        // The high bit of each byte below 0x21 (white space and control characters),
        // exactly: the additions cannot carry from one byte into the next.
        let low = !(((x & LOW7) + ONES * (0x80 - 0x21)) | x) & HIGH;
        if low == 0 {
            from += 8;
            continue;
        }
        // The first such byte: blank, or a control character inside the word.
        let at = from + (low.trailing_zeros() / 8) as usize;
        if bytes.get(at).is_some_and(|&b| blank(b)) {
            return at;
        }
        from = at + 1;
    }
    bytes
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| blank(b)))
        .map_or(bytes.len(), |n| from + n)
}

/// Whether `word` is `lit`: a comparison of a fixed size, which the compiler does with a
/// few integer comparisons instead of a call to `memcmp`.
#[inline(always)]
fn is<const N: usize>(word: &[u8], lit: &[u8; N]) -> bool {
    <&[u8; N]>::try_from(word).is_ok_and(|w| w == lit)
}

/// Returns the keyword of the first literal `word` is.
macro_rules! pick {
    ($word:ident; $($lit:literal => $kw:ident),+ $(,)?) => {{
        $(
            if is($word, $lit) {
                return Kw::$kw;
            }
        )+
    }};
}

impl Kw {
    /// Recognises a word (exactly as [`TOP_LEVEL`], [`VIF_OPTIONS`] and [`PHYINT_ONLY`]
    /// spell the keywords: case matters).
    fn of(word: &[u8]) -> Kw {
        // Most values are numbers or addresses: one comparison sends them away. Then the
        // length picks the few keywords to compare with (fixed-size comparisons, no calls).
        if !word.first().is_some_and(u8::is_ascii_lowercase) {
            return Kw::Word;
        }
        match word.len() {
            2 => pick!(word; b"no" => No, b"on" => On),
            3 => pick!(word; b"off" => Off, b"yes" => Yes),
            4 => pick!(word; b"name" => Name, b"deny" => Deny),
            5 => pick!(word; b"bidir" => Bidir, b"exact" => Exact),
            6 => pick!(word;
                b"phyint" => Phyint,
                b"tunnel" => Tunnel,
                b"metric" => Metric,
                b"accept" => Accept,
                b"enable" => Enable,
                b"altnet" => Altnet,
                b"igmpv1" => Igmpv1,
                b"igmpv2" => Igmpv2,
                b"igmpv3" => Igmpv3,
            ),
            7 => pick!(word;
                b"pruning" => Pruning,
                b"noflood" => Noflood,
                b"passive" => Passive,
                b"blaster" => Blaster,
                b"disable" => Disable,
                b"default" => Default,
            ),
            8 => pick!(word; b"boundary" => Boundary),
            9 => pick!(word; b"threshold" => Threshold, b"notransit" => Notransit),
            10 => pick!(word;
                b"rate_limit" => RateLimit,
                b"rate-limit" => RateLimit,
                b"force_leaf" => ForceLeaf,
                b"force-leaf" => ForceLeaf,
                b"join-group" => JoinGroup,
            ),
            12 => pick!(word; b"static-group" => StaticGroup, b"router-alert" => RouterAlert),
            13 => pick!(word;
                b"rexmit_prunes" => RexmitPrunes,
                b"rexmit-prunes" => RexmitPrunes,
                b"advert_metric" => AdvertMetric,
                b"advert-metric" => AdvertMetric,
            ),
            14 => pick!(word;
                b"cache_lifetime" => CacheLifetime,
                b"cache-lifetime" => CacheLifetime,
                b"prune_lifetime" => PruneLifetime,
                b"prune-lifetime" => PruneLifetime,
                b"router-timeout" => RouterTimeout,
            ),
            15 => pick!(word; b"igmp-robustness" => IgmpRobustness),
            16 => pick!(word;
                b"allow_nonpruners" => AllowNonpruners,
                b"allow-nonpruners" => AllowNonpruners,
            ),
            19 => pick!(word; b"igmp-query-interval" => IgmpQueryInterval),
            // mrouted 4.6's grammar knows only its misspelling; both are taken.
            27 => pick!(word; b"igmp-query-reponse-interval" => IgmpQueryResponseInterval),
            28 => pick!(word; b"igmp-query-response-interval" => IgmpQueryResponseInterval),
            31 => pick!(word; b"igmp-query-last-member-interval" => IgmpQueryLastMemberInterval),
            _ => {}
        }
        Kw::Word
    }

    /// In [`TOP_LEVEL`], [`VIF_OPTIONS`] or [`PHYINT_ONLY`]: ends a list of values.
    fn is_keyword(self) -> bool {
        !matches!(
            self,
            Kw::Exact | Kw::Default | Kw::On | Kw::Off | Kw::Yes | Kw::Word
        )
    }

    /// In [`TOP_LEVEL`].
    fn is_top_level(self) -> bool {
        matches!(
            self,
            Kw::CacheLifetime
                | Kw::PruneLifetime
                | Kw::Pruning
                | Kw::Noflood
                | Kw::RexmitPrunes
                | Kw::Name
                | Kw::Phyint
                | Kw::Tunnel
                | Kw::No
                | Kw::IgmpQueryInterval
                | Kw::IgmpQueryResponseInterval
                | Kw::IgmpQueryLastMemberInterval
                | Kw::IgmpRobustness
                | Kw::RouterTimeout
                | Kw::RouterAlert
        )
    }

    /// A top-level keyword that ends a phyint or tunnel block (the others, `noflood`,
    /// `rexmit-prunes` and `prune-lifetime`, belong to the block inside one).
    fn ends_block(self) -> bool {
        self.is_top_level() && !matches!(self, Kw::Noflood | Kw::RexmitPrunes | Kw::PruneLifetime)
    }

    /// In [`PHYINT_ONLY`].
    fn is_phyint_only(self) -> bool {
        matches!(
            self,
            Kw::Enable
                | Kw::Disable
                | Kw::Altnet
                | Kw::Igmpv1
                | Kw::Igmpv2
                | Kw::Igmpv3
                | Kw::ForceLeaf
                | Kw::StaticGroup
                | Kw::JoinGroup
        )
    }
}

/// `config::is_space`, inlined into the lexer's loops: space, tab, newline, vertical tab,
/// form feed, carriage return.
#[inline(always)]
fn blank(b: u8) -> bool {
    const MASK: u64 = 1 << b' ' | 1 << b'\t' | 1 << b'\n' | 1 << 0x0b | 1 << 0x0c | 1 << b'\r';
    b < 64 && MASK & (1 << b) != 0
}

/// `config::parse_decimal` without the second pass of `str::parse`: digits only (no sign,
/// no spaces), at most 19 of them.
fn decimal(token: &str) -> Option<u64> {
    let b = token.as_bytes();
    if b.is_empty() || b.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &d in b {
        if !d.is_ascii_digit() {
            return None;
        }
        // 19 digits fit in a u64.
        n = n * 10 + u64::from(d - b'0');
    }
    Some(n)
}

/// Reads the tokens of a text one at a time: white space ([`blank`]) separates them,
/// and a `#` at the start of a token starts a comment that runs to the end of the line.
#[derive(Clone)]
struct Lexer<'a> {
    text: &'a str,
    /// The byte offset of the first byte not read yet.
    pos: usize,
    /// The line of `pos`, from 1.
    line: u32,
    /// The byte offset where that line starts.
    line_start: usize,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Lexer<'a> {
        Lexer {
            text,
            pos: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// The byte range of the next word, or `None` at the end of the text.
    #[inline(always)]
    fn next_word(&mut self) -> Option<(usize, usize)> {
        let bytes = self.text.as_bytes();
        let mut i = self.pos;
        // White space, newlines and comments.
        loop {
            let Some(&b) = bytes.get(i) else {
                self.pos = i;
                return None;
            };
            if b > b' ' {
                if b != b'#' {
                    break;
                }
                // A comment: on to the newline, which the next round counts.
                i = bytes
                    .get(i..)
                    .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
                    .map_or(bytes.len(), |n| i + n);
                continue;
            }
            if !blank(b) {
                // A control character starts a word.
                break;
            }
            i += 1;
            if b == b'\n' {
                self.line = self.line.saturating_add(1);
                self.line_start = i;
            }
        }
        let start = i;
        let end = word_end(bytes, start + 1);
        self.pos = end;
        Some((start, end))
    }

    #[inline(always)]
    fn next_token(&mut self) -> Option<Tok<'a>> {
        let (start, end) = self.next_word()?;
        // Both ends are next to ASCII bytes (or the ends of the text): char boundaries.
        let text = self.text.get(start..end)?;
        Some(Tok {
            text,
            line: self.line,
            column: u32::try_from(start - self.line_start + 1).unwrap_or(u32::MAX),
            kw: Kw::of(text.as_bytes()),
        })
    }
}

/// At least as many as the `phyint` and `tunnel` statements of the text: the times the
/// words appear in it, even inside other words or comments. The vectors of these large
/// structs are then allocated once (growing them by doubling copied them over and over and
/// left the heap fragmented).
///
/// A quick scan, eight bytes at a time, for the pairs `hy` (of `phyint`) and `nn` (of
/// `tunnel`), which are rare, with the whole word checked around each one.
fn count_vifs(text: &str) -> (usize, usize) {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const LOW7: u64 = ONES * 0x7f;
    const HIGH: u64 = ONES * 0x80;
    /// The high bit of each byte of `x` that is `b`, exactly.
    #[inline(always)]
    fn bytes_equal(x: u64, b: u8) -> u64 {
        let t = x ^ (ONES * u64::from(b));
        !(((t & LOW7) + LOW7) | t) & HIGH
    }
    let bytes = text.as_bytes();
    let (mut phyints, mut tunnels) = (0, 0);
    let mut count_at = |k: usize| {
        // `k` is where the pair starts.
        if k.checked_sub(1).and_then(|s| bytes.get(s..s + 6)) == Some(b"phyint") {
            phyints += 1;
        } else if k.checked_sub(2).and_then(|s| bytes.get(s..s + 6)) == Some(b"tunnel") {
            tunnels += 1;
        }
    };
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut eight = [0; 8];
        eight.copy_from_slice(chunk);
        let x = u64::from_le_bytes(eight);
        let n = bytes_equal(x, b'n');
        // Byte j is `h` and byte j + 1 is `y`, or both are `n` (j < 7: the pair at byte
        // 7 is in the next window, which starts there).
        let mut pairs = (bytes_equal(x, b'h') & (bytes_equal(x, b'y') >> 8)) | (n & (n >> 8));
        while pairs != 0 {
            count_at(i + pairs.trailing_zeros() as usize / 8);
            pairs &= pairs - 1;
        }
        i += 7;
    }
    while i + 1 < bytes.len() {
        if matches!(bytes.get(i..i + 2), Some(b"hy" | b"nn")) {
            count_at(i);
        }
        i += 1;
    }
    (phyints, tunnels)
}

/// The line and column just past the end of the text, for "found end of file".
fn end_position(text: &str) -> (u32, u32) {
    let line = text.split('\n').count();
    let last = text.rsplit('\n').next().unwrap_or("");
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(last.len() + 1).unwrap_or(u32::MAX),
    )
}

const TOP_LEVEL: &[&str] = &[
    "cache_lifetime",
    "cache-lifetime",
    "prune_lifetime",
    "prune-lifetime",
    "pruning",
    "noflood",
    "rexmit_prunes",
    "rexmit-prunes",
    "name",
    "phyint",
    "tunnel",
    "no",
    "igmp-query-interval",
    "igmp-query-response-interval",
    "igmp-query-last-member-interval",
    "igmp-robustness",
    "router-timeout",
    "router-alert",
    "igmp-query-reponse-interval",
];

const VIF_OPTIONS: &[&str] = &[
    "boundary",
    "metric",
    "advert_metric",
    "advert-metric",
    "threshold",
    "rate_limit",
    "rate-limit",
    "prune_lifetime",
    "prune-lifetime",
    "rexmit_prunes",
    "rexmit-prunes",
    "passive",
    "noflood",
    "notransit",
    "blaster",
    "allow_nonpruners",
    "allow-nonpruners",
    "accept",
    "deny",
    "bidir",
];

const PHYINT_ONLY: &[&str] = &[
    "enable",
    "disable",
    "altnet",
    "igmpv1",
    "igmpv2",
    "igmpv3",
    "force_leaf",
    "force-leaf",
    "static-group",
    "join-group",
];

fn has_slash(word: &str) -> bool {
    word.bytes().any(|b| b == b'/')
}

fn looks_numeric(word: &str) -> bool {
    word.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

/// A dotted-quad IPv4 address, exactly as `str::parse::<Ipv4Addr>` reads it (four decimal
/// octets of one to three digits, no leading zeros, nothing else), without its generic
/// machinery.
fn parse_ipv4(text: &str) -> Option<Ipv4Addr> {
    let b = text.as_bytes();
    if b.len() > 15 {
        return None;
    }
    // The octets so far, in a register (an array of bytes read back as a word stalled).
    let mut addr: u32 = 0;
    let mut dots = 0;
    let mut value: u32 = 0;
    let mut digits = 0;
    for &c in b {
        if c == b'.' {
            if digits == 0 || dots == 3 || value > 255 {
                return None;
            }
            addr = addr << 8 | value;
            dots += 1;
            value = 0;
            digits = 0;
        } else if c.is_ascii_digit() {
            // No leading zeros ("0" alone is fine), at most three digits.
            if (digits == 1 && value == 0) || digits == 3 {
                return None;
            }
            value = value * 10 + u32::from(c - b'0');
            digits += 1;
        } else {
            return None;
        }
    }
    if digits == 0 || dots != 3 || value > 255 {
        return None;
    }
    Some(Ipv4Addr::from(addr << 8 | value))
}

struct Parser<'a, 'p> {
    text: &'a str,
    /// Positioned just after `next`.
    lexer: Lexer<'a>,
    /// The next token, `None` at the end.
    next: Option<Tok<'a>>,
    file: FileId,
    path: &'p Path,
    errors: ErrorList,
    /// Boundary names used before their `name` statement, checked at the end.
    boundary_refs: Vec<(&'a str, Span)>,
    /// The `name` statements kept so far.
    names: Names<'a>,
    /// The lists of the statement being read: they are copied to vectors of the right size
    /// at its end, so that each list is allocated once, and no larger than needed.
    scratch: Scratch,
}

/// The names of the `name` statements kept so far, with their lines.
#[derive(Default)]
struct Names<'a> {
    list: Vec<(&'a str, u32)>,
    /// By name, their index in `list`: a linear search each time was quadratic in the
    /// number of names.
    index: HashMap<&'a str, usize>,
}

impl<'a> Names<'a> {
    /// Up to this many names a linear search is faster than hashing.
    const LINEAR: usize = 8;

    /// The line of the `name` statement of this name.
    fn find(&self, name: &str) -> Option<u32> {
        if self.list.len() <= Self::LINEAR {
            self.list.iter().find(|n| n.0 == name).map(|n| n.1)
        } else {
            self.index
                .get(name)
                .and_then(|&i| self.list.get(i))
                .map(|n| n.1)
        }
    }

    fn add(&mut self, name: &'a str, line: u32) {
        self.index.insert(name, self.list.len());
        self.list.push((name, line));
    }
}

/// See [`Parser::scratch`].
#[derive(Default)]
struct Scratch {
    boundaries: Vec<Spanned<Boundary>>,
    altnets: Vec<Spanned<AltNet>>,
    static_groups: Vec<Spanned<Ipv4Addr>>,
    join_groups: Vec<Spanned<Ipv4Addr>>,
    routes: Vec<Spanned<FilterRoute>>,
}

/// Moves the items of a scratch vector to a new vector of their number (the scratch vector
/// keeps its room for the next statement).
fn exact<T>(scratch: &mut Vec<T>) -> Vec<T> {
    let mut items = Vec::with_capacity(scratch.len());
    items.append(scratch);
    items
}

/// The range of a number-valued keyword.
struct Range {
    what: &'static str,
    expected: &'static str,
    after: &'static str,
    min: u64,
    max: u64,
}

const CACHE_LIFETIME: Range = Range {
    what: "cache-lifetime",
    expected: "a number of seconds (60-86400)",
    after: "\"cache-lifetime\"",
    min: 60,
    max: 86400,
};
const PRUNE_LIFETIME: Range = Range {
    what: "prune-lifetime",
    expected: "a number of seconds (120-86400)",
    after: "\"prune-lifetime\"",
    min: 120,
    max: 86400,
};
const QUERY_INTERVAL: Range = Range {
    what: "igmp-query-interval",
    expected: "a number of seconds (1-1024)",
    after: "\"igmp-query-interval\"",
    min: 1,
    max: 1024,
};
const RESPONSE_INTERVAL: Range = Range {
    what: "igmp-query-response-interval",
    expected: "a number of seconds (1-1024)",
    after: "\"igmp-query-response-interval\"",
    min: 1,
    max: 1024,
};
const LAST_MEMBER_INTERVAL: Range = Range {
    what: "igmp-query-last-member-interval",
    expected: "a number of seconds (1-1024)",
    after: "\"igmp-query-last-member-interval\"",
    min: 1,
    max: 1024,
};
const ROBUSTNESS: Range = Range {
    what: "igmp-robustness",
    expected: "a robustness value (2-10)",
    after: "\"igmp-robustness\"",
    min: 2,
    max: 10,
};
const ROUTER_TIMEOUT: Range = Range {
    what: "router-timeout",
    expected: "a number of seconds (1-1024)",
    after: "\"router-timeout\"",
    min: 1,
    max: 1024,
};
const METRIC: Range = Range {
    what: "metric",
    expected: "a metric (1-31)",
    after: "\"metric\"",
    min: 1,
    max: 31,
};
const ADVERT_METRIC: Range = Range {
    what: "advert-metric",
    expected: "a metric (0-31)",
    after: "\"advert-metric\"",
    min: 0,
    max: 31,
};
const THRESHOLD: Range = Range {
    what: "threshold",
    expected: "a TTL threshold (1-255)",
    after: "\"threshold\"",
    min: 1,
    max: 255,
};
const RATE_LIMIT: Range = Range {
    what: "rate-limit",
    expected: "a rate in kbit/s (0-100000)",
    after: "\"rate-limit\"",
    min: 0,
    max: MAX_RATE_LIMIT as u64,
};

/// The settings only a phyint has, gathered while its options are read (its lists go to
/// [`Parser::scratch`]).
#[derive(Default)]
struct PhyintOnly {
    state: Option<Spanned<VifState>>,
    igmp_version: Option<Spanned<IgmpVersion>>,
    force_leaf: Option<Spanned<bool>>,
}

/// Which statement a block of options belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Phyint,
    Tunnel,
}

impl<'a> Parser<'a, '_> {
    #[inline(always)]
    fn peek(&self) -> Option<Tok<'a>> {
        // Field by field: a copy of the whole token read it back with wider loads than
        // the lexer wrote it with, which stalled on every token.
        self.next.as_ref().map(|t| Tok {
            text: t.text,
            line: t.line,
            column: t.column,
            kw: t.kw,
        })
    }

    /// The token after the next one (rare: the lexer is copied to read ahead).
    fn peek2(&self) -> Option<Tok<'a>> {
        self.next?;
        self.lexer.clone().next_token()
    }

    /// The token after that.
    fn peek3(&self) -> Option<Tok<'a>> {
        self.next?;
        let mut lexer = self.lexer.clone();
        lexer.next_token()?;
        lexer.next_token()
    }

    /// Consumes the next token.
    fn advance(&mut self) {
        if self.next.is_some() {
            self.next = self.lexer.next_token();
        }
    }

    fn bump(&mut self) -> Option<Tok<'a>> {
        let t = self.peek();
        self.advance();
        t
    }

    fn span(&self, t: &Tok<'_>) -> Span {
        Span::new(self.file, t.line, t.column)
    }

    fn error_at(&mut self, line: u32, column: u32, kind: ErrorKind) {
        self.errors
            .push(ConfigError::new(self.path, line, column, kind));
    }

    fn error(&mut self, t: &Tok<'_>, kind: ErrorKind) {
        self.error_at(t.line, t.column, kind);
    }

    /// `expected X after Y, found Z` at the token found, or at the end of the file.
    fn expected(&mut self, found: Option<Tok<'_>>, expected: &'static str, after: &'static str) {
        let (line, column, found) = match found {
            Some(t) => (t.line, t.column, Found::Token(t.text.to_owned())),
            None => {
                let (line, column) = end_position(self.text);
                (line, column, Found::EndOfFile)
            }
        };
        self.error_at(
            line,
            column,
            ErrorKind::Expected {
                expected,
                after,
                found,
            },
        );
    }

    /// The next token as a value: consumed unless it is a keyword (then a missing value
    /// is reported and parsing goes on with the keyword).
    fn value(&mut self, expected: &'static str, after: &'static str) -> Option<Tok<'a>> {
        match self.peek() {
            Some(t) if !t.kw.is_keyword() => {
                self.advance();
                Some(t)
            }
            other => {
                self.expected(other, expected, after);
                None
            }
        }
    }

    fn number(&mut self, r: &Range) -> Option<Spanned<u64>> {
        let t = self.value(r.expected, r.after)?;
        match decimal(t.text) {
            Some(n) if (r.min..=r.max).contains(&n) => Some(Spanned::new(n, self.span(&t))),
            Some(_) => {
                self.error(
                    &t,
                    ErrorKind::OutOfRange {
                        what: r.what,
                        value: t.text.to_owned(),
                        min: r.min,
                        max: r.max,
                    },
                );
                None
            }
            None => {
                self.expected(Some(t), r.expected, r.after);
                None
            }
        }
    }

    /// Sets a once-only setting, reporting a duplicate.
    fn set_once<T>(&mut self, slot: &mut Option<Spanned<T>>, kw: &Tok<'_>, v: Spanned<T>) {
        if let Some(first) = slot {
            let kind = ErrorKind::Duplicate {
                keyword: kw.text.to_owned(),
                first_line: first.span.line,
                first_column: first.span.column,
            };
            self.error(kw, kind);
        } else {
            *slot = Some(v);
        }
    }

    fn flag(&mut self, slot: &mut Option<Span>, kw: &Tok<'_>, keyword: &str) {
        if let Some(first) = *slot {
            self.error(
                kw,
                ErrorKind::Duplicate {
                    keyword: keyword.to_owned(),
                    first_line: first.line,
                    first_column: first.column,
                },
            );
        } else {
            *slot = Some(self.span(kw));
        }
    }

    fn set_number<T: TryFrom<u64>>(
        &mut self,
        slot: &mut Option<Spanned<T>>,
        kw: &Tok<'_>,
        r: &Range,
    ) {
        if let Some(n) = self.number(r) {
            if let Ok(v) = T::try_from(n.value) {
                self.set_once(slot, kw, Spanned::new(v, n.span));
            }
        }
    }

    /// `on|off|yes|no` after `kw`, required.
    fn boolean(&mut self, after: &'static str) -> Option<Spanned<bool>> {
        let t = self.value("\"on\" or \"off\"", after)?;
        match t.kw {
            Kw::On | Kw::Yes => Some(Spanned::new(true, self.span(&t))),
            Kw::Off | Kw::No => Some(Spanned::new(false, self.span(&t))),
            _ => {
                self.expected(Some(t), "\"on\" or \"off\"", after);
                None
            }
        }
    }

    /// An optional `on|off|yes|no` after `kw` (bare: on). `no` followed by `router-alert`,
    /// or by `phyint` without an interface after it, is the next statement (`no phyint`),
    /// not the value.
    fn optional_boolean(&mut self, kw: &Tok<'_>) -> Spanned<bool> {
        let value = match self.peek().map(|t| t.kw) {
            Some(Kw::On | Kw::Yes) => Some(true),
            Some(Kw::Off) => Some(false),
            Some(Kw::No) => match self.peek2().map(|t| t.kw) {
                Some(Kw::RouterAlert) => None,
                Some(Kw::Phyint) => match self.peek3() {
                    Some(t) if !t.kw.is_keyword() => Some(false),
                    _ => None,
                },
                _ => Some(false),
            },
            _ => None,
        };
        match value {
            Some(v) => {
                let t = self.bump();
                Spanned::new(v, t.map_or(self.span(kw), |t| self.span(&t)))
            }
            None => Spanned::new(true, self.span(kw)),
        }
    }

    fn run(&mut self, config: &mut Config) {
        while let Some(t) = self.bump() {
            self.statement(t, config);
        }
    }

    /// Skips to the next token that is a keyword (after an unknown word), so that one
    /// mistake gives one error.
    fn recover(&mut self) {
        while let Some(t) = self.peek() {
            if t.kw.is_keyword() {
                return;
            }
            self.advance();
        }
    }

    fn statement(&mut self, t: Tok<'a>, config: &mut Config) {
        match t.kw {
            Kw::CacheLifetime => self.set_number(&mut config.cache_lifetime, &t, &CACHE_LIFETIME),
            Kw::PruneLifetime => self.set_number(&mut config.prune_lifetime, &t, &PRUNE_LIFETIME),
            Kw::IgmpQueryInterval => {
                self.set_number(&mut config.igmp_query_interval, &t, &QUERY_INTERVAL)
            }
            Kw::IgmpQueryResponseInterval => self.set_number(
                &mut config.igmp_query_response_interval,
                &t,
                &RESPONSE_INTERVAL,
            ),
            Kw::IgmpQueryLastMemberInterval => self.set_number(
                &mut config.igmp_query_last_member_interval,
                &t,
                &LAST_MEMBER_INTERVAL,
            ),
            Kw::IgmpRobustness => self.set_number(&mut config.igmp_robustness, &t, &ROBUSTNESS),
            Kw::RouterTimeout => self.set_number(&mut config.router_timeout, &t, &ROUTER_TIMEOUT),
            Kw::RouterAlert => {
                if let Some(b) = self.boolean("\"router-alert\"") {
                    if let Some(first) = config.no_router_alert {
                        self.error(
                            &t,
                            ErrorKind::Duplicate {
                                keyword: "router-alert".into(),
                                first_line: first.line,
                                first_column: first.column,
                            },
                        );
                    } else {
                        self.set_once(&mut config.router_alert, &t, b);
                    }
                }
            }
            Kw::Pruning => {
                if let Some(b) = self.boolean("\"pruning\"") {
                    self.set_once(&mut config.pruning, &t, b);
                }
            }
            Kw::Noflood => self.flag(&mut config.noflood, &t, t.text),
            Kw::RexmitPrunes => {
                let b = self.optional_boolean(&t);
                self.set_once(&mut config.rexmit_prunes, &t, b);
            }
            Kw::No => match self.peek().map(|n| n.kw) {
                Some(Kw::Phyint) => {
                    self.advance();
                    self.flag(&mut config.no_phyint, &t, "no phyint");
                }
                Some(Kw::RouterAlert) => {
                    self.advance();
                    if let Some(first) = config.router_alert {
                        self.error(
                            &t,
                            ErrorKind::Duplicate {
                                keyword: "router-alert".into(),
                                first_line: first.span.line,
                                first_column: first.span.column,
                            },
                        );
                    } else {
                        self.flag(&mut config.no_router_alert, &t, "no router-alert");
                    }
                }
                _ => {
                    let found = self.peek();
                    self.expected(found, "\"phyint\" or \"router-alert\"", "\"no\"");
                    if found.is_some_and(|t| !t.kw.is_keyword()) {
                        self.advance();
                    }
                }
            },
            Kw::Name => {
                if let Some(n) = self.name(t) {
                    config.names.push(n);
                }
            }
            Kw::Phyint => self.phyint(t, &mut config.phyints),
            Kw::Tunnel => self.tunnel(t, &mut config.tunnels),
            _ => {
                self.error(
                    &t,
                    ErrorKind::UnknownKeyword {
                        context: "statement",
                        found: t.text.to_owned(),
                        suggestion: suggest(t.text, TOP_LEVEL),
                    },
                );
                self.recover();
            }
        }
    }

    fn name(&mut self, kw: Tok<'a>) -> Option<BoundaryName> {
        let n = self.value("a boundary name", "\"name\"")?;
        if looks_numeric(n.text) || has_slash(n.text) {
            self.expected(Some(n), "a boundary name", "\"name\"");
            // The scope may follow anyway; take it so it is not read as a statement.
            if self.peek().is_some_and(|t| !t.kw.is_keyword()) {
                self.advance();
            }
            return None;
        }
        let scope = self.value("a scoped range (239.x.x.x/LEN)", "the boundary name");
        let scope = scope.and_then(|s| self.scope(s, "the boundary name"));
        if let Some(first_line) = self.names.find(n.text) {
            self.error(
                &n,
                ErrorKind::DuplicateName {
                    name: n.text.to_owned(),
                    first_line,
                },
            );
            return None;
        }
        let scope = scope?;
        // The caller keeps it.
        self.names.add(n.text, kw.line);
        Some(BoundaryName {
            span: self.span(&kw),
            name: Spanned::new(n.text.to_owned(), self.span(&n)),
            scope,
        })
    }

    /// `A.B.C.D/LEN` (or a bare address, as /32, when `bare_ok`).
    fn ipv4_prefix(text: &str, bare_ok: bool) -> Result<(Ipv4Addr, Option<u8>), bool> {
        let slash = text.bytes().position(|b| b == b'/');
        let (addr, len) = match slash.and_then(|i| Some((text.get(..i)?, text.get(i + 1..)?))) {
            Some((a, l)) => (a, Some(l)),
            None if bare_ok => (text, None),
            None => return Err(false),
        };
        let addr = parse_ipv4(addr).ok_or(false)?;
        match len {
            None => Ok((addr, None)),
            Some(l) => match decimal(l) {
                Some(n) if n <= 32 && l.len() <= 2 => Ok((addr, Some(n as u8))),
                // A well-formed address with a bad length: say so.
                _ => Err(true),
            },
        }
    }

    fn prefix_len_error(&mut self, t: &Tok<'_>) {
        self.error(
            t,
            ErrorKind::PrefixLength {
                token: t.text.to_owned(),
                max: 32,
            },
        );
    }

    /// A boundary range: within 239.0.0.0/8.
    fn scope(&mut self, t: Tok<'_>, after: &'static str) -> Option<Spanned<Ipv4Net>> {
        match Self::ipv4_prefix(t.text, false) {
            Ok((addr, Some(len))) => {
                let net = Ipv4Net::new(addr, len).ok()?;
                if len < 8 || addr.octets()[0] != 239 {
                    self.error(
                        &t,
                        ErrorKind::BoundaryNotScoped {
                            token: t.text.to_owned(),
                        },
                    );
                    return None;
                }
                Some(Spanned::new(net, self.span(&t)))
            }
            Err(true) => {
                self.prefix_len_error(&t);
                None
            }
            _ => {
                self.expected(Some(t), "a scoped range (239.x.x.x/LEN)", after);
                None
            }
        }
    }

    /// The interface of a phyint or the local end of a tunnel.
    fn interface(&mut self, after: &'static str) -> Option<Spanned<InterfaceRef>> {
        let t = self.value("an interface name or address", after)?;
        if t.text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return match parse_ipv4(t.text) {
                Some(a) => Some(Spanned::new(InterfaceRef::Addr(a), self.span(&t))),
                None => {
                    self.expected(Some(t), "an interface name or address", after);
                    None
                }
            };
        }
        match check_ifname(t.text) {
            Ok(()) => Some(Spanned::new(
                InterfaceRef::Name(t.text.to_owned()),
                self.span(&t),
            )),
            Err(reason) => {
                self.error(
                    &t,
                    ErrorKind::InvalidInterface {
                        name: t.text.to_owned(),
                        reason,
                    },
                );
                None
            }
        }
    }

    /// A phyint statement, added to `phyints` unless its interface is missing or bad.
    fn phyint(&mut self, kw: Tok<'a>, phyints: &mut Vec<Phyint>) {
        let interface = self.interface("\"phyint\"");
        let mut extra = PhyintOnly::default();
        let mut options = VifOptions::default();
        self.block(Block::Phyint, &mut options, Some(&mut extra));
        let altnets = exact(&mut self.scratch.altnets);
        let static_groups = exact(&mut self.scratch.static_groups);
        // Without an interface the options were parsed for their errors only.
        if let Some(interface) = interface {
            phyints.push(Phyint {
                span: self.span(&kw),
                interface,
                state: extra.state,
                altnets,
                igmp_version: extra.igmp_version,
                force_leaf: extra.force_leaf,
                static_groups,
                options,
            });
        }
    }

    /// A tunnel statement, added to `tunnels` unless one of its ends is missing or bad.
    fn tunnel(&mut self, kw: Tok<'a>, tunnels: &mut Vec<Tunnel>) {
        let local = self.interface("\"tunnel\"");
        let remote = if local.is_some() { self.remote() } else { None };
        let mut options = VifOptions::default();
        self.block(Block::Tunnel, &mut options, None);
        if let (Some(local), Some(remote)) = (local, remote) {
            tunnels.push(Tunnel {
                span: self.span(&kw),
                local,
                remote,
                options,
            });
        }
    }

    fn remote(&mut self) -> Option<Spanned<TunnelRemote>> {
        const EXPECTED: &str = "a remote address or host name";
        let t = self.value(EXPECTED, "the tunnel's local end")?;
        if t.text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            if let Some(a) = parse_ipv4(t.text) {
                return Some(Spanned::new(TunnelRemote::Addr(a), self.span(&t)));
            }
        } else if t.text.len() <= 253
            && t.text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return Some(Spanned::new(
                TunnelRemote::Host(t.text.to_owned()),
                self.span(&t),
            ));
        }
        self.expected(Some(t), EXPECTED, "the tunnel's local end");
        None
    }

    /// The options of a phyint (`phyint` takes its own settings) or a tunnel (`phyint` is
    /// `None`), up to the next top-level keyword.
    fn block(&mut self, block: Block, o: &mut VifOptions, mut phyint: Option<&mut PhyintOnly>) {
        let context = match block {
            Block::Phyint => "phyint option",
            Block::Tunnel => "tunnel option",
        };
        while let Some(t) = self.peek() {
            if t.kw.ends_block() {
                break;
            }
            self.advance();
            if t.kw.is_phyint_only() {
                match phyint.as_deref_mut() {
                    Some(p) => self.phyint_option(t, p),
                    None => {
                        self.error(
                            &t,
                            ErrorKind::NotAllowed {
                                keyword: t.text.to_owned(),
                                directive: "a tunnel",
                            },
                        );
                        // Skip its value, if it takes one.
                        if matches!(t.kw, Kw::Altnet | Kw::StaticGroup | Kw::JoinGroup)
                            && self.peek().is_some_and(|v| !v.kw.is_keyword())
                        {
                            self.advance();
                        }
                    }
                }
                continue;
            }
            match t.kw {
                Kw::Boundary => {
                    if let Some(v) = self.value("a boundary name or scoped range", "\"boundary\"") {
                        if looks_numeric(v.text) || has_slash(v.text) {
                            if let Some(s) = self.scope(v, "\"boundary\"") {
                                self.scratch
                                    .boundaries
                                    .push(Spanned::new(Boundary::Scope(s.value), s.span));
                            }
                        } else {
                            let span = self.span(&v);
                            // A name not defined yet must be by the end of the file.
                            if self.names.find(v.text).is_none() {
                                self.boundary_refs.push((v.text, span));
                            }
                            self.scratch
                                .boundaries
                                .push(Spanned::new(Boundary::Name(v.text.to_owned()), span));
                        }
                    }
                }
                Kw::Metric => self.set_number(&mut o.metric, &t, &METRIC),
                Kw::AdvertMetric => self.set_number(&mut o.advert_metric, &t, &ADVERT_METRIC),
                Kw::Threshold => self.set_number(&mut o.threshold, &t, &THRESHOLD),
                Kw::RateLimit => self.set_number(&mut o.rate_limit, &t, &RATE_LIMIT),
                Kw::PruneLifetime => self.set_number(&mut o.prune_lifetime, &t, &PRUNE_LIFETIME),
                Kw::RexmitPrunes => {
                    let b = self.optional_boolean(&t);
                    self.set_once(&mut o.rexmit_prunes, &t, b);
                }
                Kw::Passive => self.flag(&mut o.passive, &t, t.text),
                Kw::Noflood => self.flag(&mut o.noflood, &t, t.text),
                Kw::Notransit => self.flag(&mut o.notransit, &t, t.text),
                Kw::Blaster => self.flag(&mut o.blaster, &t, t.text),
                Kw::AllowNonpruners => self.flag(&mut o.allow_nonpruners, &t, t.text),
                Kw::Accept | Kw::Deny => self.filter(t, o),
                Kw::Bidir => match &mut o.filter {
                    Some(f) => match f.bidir {
                        Some(first) => self.error(
                            &t,
                            ErrorKind::Duplicate {
                                keyword: "bidir".into(),
                                first_line: first.line,
                                first_column: first.column,
                            },
                        ),
                        None => f.bidir = Some(Span::new(self.file, t.line, t.column)),
                    },
                    None => self.error(&t, ErrorKind::BidirWithoutFilter),
                },
                _ => {
                    let mut candidates: Vec<&'static str> = VIF_OPTIONS.to_vec();
                    if block == Block::Phyint {
                        candidates.extend_from_slice(PHYINT_ONLY);
                    }
                    candidates.extend_from_slice(TOP_LEVEL);
                    candidates.push("exact");
                    self.error(
                        &t,
                        ErrorKind::UnknownKeyword {
                            context,
                            found: t.text.to_owned(),
                            suggestion: suggest(t.text, &candidates),
                        },
                    );
                    self.recover();
                }
            }
        }
        o.boundaries = exact(&mut self.scratch.boundaries);
        o.join_groups = exact(&mut self.scratch.join_groups);
    }

    fn phyint_option(&mut self, t: Tok<'a>, p: &mut PhyintOnly) {
        match t.kw {
            Kw::Enable | Kw::Disable => {
                let v = if t.kw == Kw::Enable {
                    VifState::Enable
                } else {
                    VifState::Disable
                };
                match p.state {
                    Some(prev) if prev.value != v => self.error(
                        &t,
                        ErrorKind::Conflict {
                            keyword: t.text.to_owned(),
                            previous: match prev.value {
                                VifState::Enable => "enable".into(),
                                VifState::Disable => "disable".into(),
                            },
                        },
                    ),
                    _ => {
                        let span = self.span(&t);
                        self.set_once(&mut p.state, &t, Spanned::new(v, span));
                    }
                }
            }
            Kw::Igmpv1 | Kw::Igmpv2 | Kw::Igmpv3 => {
                let v = match t.kw {
                    Kw::Igmpv1 => IgmpVersion::V1,
                    Kw::Igmpv2 => IgmpVersion::V2,
                    _ => IgmpVersion::V3,
                };
                match p.igmp_version {
                    Some(prev) if prev.value != v => {
                        let previous = match prev.value {
                            IgmpVersion::V1 => "igmpv1",
                            IgmpVersion::V2 => "igmpv2",
                            IgmpVersion::V3 => "igmpv3",
                        };
                        self.error(
                            &t,
                            ErrorKind::Conflict {
                                keyword: t.text.to_owned(),
                                previous: previous.into(),
                            },
                        )
                    }
                    _ => {
                        let span = self.span(&t);
                        self.set_once(&mut p.igmp_version, &t, Spanned::new(v, span));
                    }
                }
            }
            Kw::ForceLeaf => {
                let b = self.optional_boolean(&t);
                self.set_once(&mut p.force_leaf, &t, b);
            }
            Kw::Altnet => {
                const EXPECTED: &str = "a network (ADDRESS/LEN)";
                if let Some(v) = self.value(EXPECTED, "\"altnet\"") {
                    match Self::ipv4_prefix(v.text, true) {
                        Ok((addr, prefix_len)) => self
                            .scratch
                            .altnets
                            .push(Spanned::new(AltNet { addr, prefix_len }, self.span(&v))),
                        Err(true) => self.prefix_len_error(&v),
                        Err(false) => self.expected(Some(v), EXPECTED, "\"altnet\""),
                    }
                }
            }
            Kw::StaticGroup => {
                const EXPECTED: &str = "an IPv4 multicast group";
                if let Some(v) = self.value(EXPECTED, "\"static-group\"") {
                    match parse_ipv4(v.text) {
                        Some(g) if g.is_multicast() => self
                            .scratch
                            .static_groups
                            .push(Spanned::new(g, self.span(&v))),
                        _ => self.expected(Some(v), EXPECTED, "\"static-group\""),
                    }
                }
            }
            Kw::JoinGroup => {
                const EXPECTED: &str = "an IPv4 multicast group";
                if let Some(v) = self.value(EXPECTED, "\"join-group\"") {
                    match parse_ipv4(v.text) {
                        Some(g) if g.is_multicast() => self
                            .scratch
                            .join_groups
                            .push(Spanned::new(g, self.span(&v))),
                        _ => self.expected(Some(v), EXPECTED, "\"join-group\""),
                    }
                }
            }
            _ => {}
        }
    }

    fn filter(&mut self, kw: Tok<'a>, o: &mut VifOptions) {
        const EXPECTED: &str = "a route (ADDRESS/LEN or \"default\")";
        let (mode, after) = if kw.kw == Kw::Accept {
            (FilterMode::Accept, "\"accept\"")
        } else {
            (FilterMode::Deny, "\"deny\"")
        };
        let mut bad_route = false;
        while let Some(t) = self.peek() {
            if t.kw.is_keyword() || t.kw == Kw::Exact {
                break;
            }
            self.advance();
            let prefix = if t.kw == Kw::Default {
                Some(Ipv4Net::default())
            } else {
                match Self::ipv4_prefix(t.text, false) {
                    Ok((addr, Some(len))) => Ipv4Net::new(addr, len).ok(),
                    Err(true) => {
                        self.prefix_len_error(&t);
                        bad_route = true;
                        None
                    }
                    _ => {
                        self.expected(Some(t), EXPECTED, after);
                        bad_route = true;
                        None
                    }
                }
            };
            let exact = self.peek().is_some_and(|n| n.kw == Kw::Exact);
            if exact {
                self.advance();
            }
            if let Some(prefix) = prefix {
                let route = Spanned::new(FilterRoute { prefix, exact }, self.span(&t));
                self.scratch.routes.push(route);
            }
        }
        let routes = exact(&mut self.scratch.routes);
        if routes.is_empty() {
            if !bad_route {
                let found = self.peek();
                self.expected(found, EXPECTED, after);
            }
            return;
        }
        match &mut o.filter {
            None => {
                o.filter = Some(Filter {
                    span: self.span(&kw),
                    mode,
                    routes,
                    bidir: None,
                })
            }
            Some(f) if f.mode == mode => f.routes.extend(routes),
            Some(_) => self.error(&kw, ErrorKind::AcceptAndDeny),
        }
    }

    /// Checks that need the whole file: boundary names, and the response interval against
    /// the query interval.
    fn check(&mut self, config: &Config) {
        let refs = mem::take(&mut self.boundary_refs);
        for (name, span) in refs {
            if self.names.find(name).is_none() {
                self.error_at(
                    span.line,
                    span.column,
                    ErrorKind::UnknownBoundary {
                        name: name.to_owned(),
                    },
                );
            }
        }
        if let Some(r) = config.igmp_query_response_interval {
            let qi = config.igmp_query_interval();
            if r.value >= qi {
                self.error_at(
                    r.span.line,
                    r.span.column,
                    ErrorKind::OutOfRange {
                        what: "igmp-query-response-interval",
                        value: r.value.to_string(),
                        min: 1,
                        max: u64::from(qi).saturating_sub(1),
                    },
                );
            }
        }
        self.errors.sort();
    }
}

#[cfg(test)]
mod reference;

#[cfg(test)]
mod tests;
