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
//! igmp-query-response-interval SECONDS
//! igmp-query-last-member-interval SECONDS
//! igmp-robustness 2-10
//! router-timeout SECONDS
//! no router-alert
//! no phyint
//! phyint ADDRESS|IFNAME [enable|disable] [altnet NET/LEN] [boundary NAME|SCOPE/LEN]
//!        [metric 1-31] [advert-metric 0-31] [threshold 1-255] [rate-limit KBPS]
//!        [igmpv1|igmpv2|igmpv3] [passive] [force-leaf [on|off]] [noflood] [notransit]
//!        [blaster] [allow-nonpruners] [prune-lifetime SECONDS] [rexmit-prunes [on|off]]
//!        [static-group GROUP] [accept|deny (NET/LEN [exact])+ [bidir]]
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

use std::fmt;
use std::fs;
use std::net::Ipv4Addr;
use std::path::Path;

use ipnet::Ipv4Net;

use super::{
    check_ifname, is_space, parse_decimal, suggest, ConfigError, ConfigErrors, ErrorKind, FileId,
    Found, Span, Spanned, INPUT_NAME,
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
/// Default `router-timeout`: seconds of silence after which a DVMRP neighbour is lost.
pub const DEFAULT_ROUTER_TIMEOUT: u32 = 35;
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
    /// `router-timeout`, 1..=1024 (default 35).
    pub router_timeout: Option<Spanned<u32>>,
    /// `no router-alert`: send IGMP without the IP router alert option.
    pub no_router_alert: Option<Span>,
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

    /// The DVMRP neighbour timeout in seconds (default 35).
    pub fn router_timeout(&self) -> u32 {
        value_or(&self.router_timeout, DEFAULT_ROUTER_TIMEOUT)
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
        for s in [&mut self.pruning, &mut self.rexmit_prunes]
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
/// [`ErrorKind::Io`] with `io::ErrorKind::NotFound` to do the same).
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let bytes = fs::read(path).map_err(|e| {
        ConfigErrors(vec![ConfigError::new(
            path,
            0,
            0,
            ErrorKind::Io {
                path: path.to_path_buf(),
                kind: e.kind(),
                message: e.to_string(),
            },
        )])
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let (config, errors) = parse_source(&text, FileId(0), path);
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Parses mrouted.conf text read from `path` (used in errors only) with file id `file`
/// (used in spans). Returns what parsed (a bad value is left out, the rest of its statement
/// kept) and every error.
pub fn parse_source(text: &str, file: FileId, path: &Path) -> (Config, Vec<ConfigError>) {
    let mut p = Parser {
        toks: tokenize(text),
        pos: 0,
        file,
        path,
        errors: Vec::new(),
        config: Config::default(),
        boundary_refs: Vec::new(),
        end: end_position(text),
    };
    p.run();
    p.check();
    (p.config, p.errors)
}

#[derive(Clone, Copy)]
struct Tok<'a> {
    text: &'a str,
    line: u32,
    column: u32,
}

fn tokenize(text: &str) -> Vec<Tok<'_>> {
    // About one token per 6 bytes of a typical file: growing the vector by doubling from
    // empty copied it over and over (a quarter of the time on a 100,000-line file).
    let mut toks = Vec::with_capacity(text.len() / 6);
    for (i, line) in text.split('\n').enumerate() {
        let lineno = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let bytes = line.as_bytes();
        let mut j = 0;
        loop {
            while bytes.get(j).is_some_and(|&b| is_space(b)) {
                j += 1;
            }
            if j >= bytes.len() || bytes.get(j) == Some(&b'#') {
                break;
            }
            let start = j;
            while bytes.get(j).is_some_and(|&b| !is_space(b)) {
                j += 1;
            }
            if let Some(text) = line.get(start..j) {
                toks.push(Tok {
                    text,
                    line: lineno,
                    column: u32::try_from(start + 1).unwrap_or(u32::MAX),
                });
            }
        }
    }
    toks
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
];

/// Top-level keywords that belong to the current phyint or tunnel inside one.
const BLOCK_TOO: &[&str] = &[
    "noflood",
    "rexmit_prunes",
    "rexmit-prunes",
    "prune_lifetime",
    "prune-lifetime",
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
];

fn is_keyword(word: &str) -> bool {
    TOP_LEVEL.contains(&word) || VIF_OPTIONS.contains(&word) || PHYINT_ONLY.contains(&word)
}

fn looks_numeric(word: &str) -> bool {
    word.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

struct Parser<'a, 'p> {
    toks: Vec<Tok<'a>>,
    pos: usize,
    file: FileId,
    path: &'p Path,
    errors: Vec<ConfigError>,
    config: Config,
    /// Boundary names used, checked against the `name` statements at the end.
    boundary_refs: Vec<(String, Span)>,
    end: (u32, u32),
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

/// Which statement a block of options belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Phyint,
    Tunnel,
}

impl<'a> Parser<'a, '_> {
    fn peek(&self) -> Option<Tok<'a>> {
        self.toks.get(self.pos).copied()
    }

    fn peek2(&self) -> Option<Tok<'a>> {
        self.toks.get(self.pos + 1).copied()
    }

    fn bump(&mut self) -> Option<Tok<'a>> {
        let t = self.peek();
        if t.is_some() {
            self.pos += 1;
        }
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
            None => (self.end.0, self.end.1, Found::EndOfFile),
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
            Some(t) if !is_keyword(t.text) => {
                self.pos += 1;
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
        match parse_decimal(t.text) {
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
        match t.text {
            "on" | "yes" => Some(Spanned::new(true, self.span(&t))),
            "off" | "no" => Some(Spanned::new(false, self.span(&t))),
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
        let value = match self.peek().map(|t| t.text) {
            Some("on" | "yes") => Some(true),
            Some("off") => Some(false),
            Some("no") => match self.peek2().map(|t| t.text) {
                Some("router-alert") => None,
                Some("phyint") => match self.toks.get(self.pos + 2) {
                    Some(t) if !is_keyword(t.text) => Some(false),
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

    fn run(&mut self) {
        while let Some(t) = self.bump() {
            self.statement(t);
        }
    }

    /// Skips to the next token that is a keyword (after an unknown word), so that one
    /// mistake gives one error.
    fn recover(&mut self) {
        while let Some(t) = self.peek() {
            if is_keyword(t.text) {
                return;
            }
            self.pos += 1;
        }
    }

    fn statement(&mut self, t: Tok<'a>) {
        let mut config = std::mem::take(&mut self.config);
        match t.text {
            "cache_lifetime" | "cache-lifetime" => {
                self.set_number(&mut config.cache_lifetime, &t, &CACHE_LIFETIME)
            }
            "prune_lifetime" | "prune-lifetime" => {
                self.set_number(&mut config.prune_lifetime, &t, &PRUNE_LIFETIME)
            }
            "igmp-query-interval" => {
                self.set_number(&mut config.igmp_query_interval, &t, &QUERY_INTERVAL)
            }
            "igmp-query-response-interval" => self.set_number(
                &mut config.igmp_query_response_interval,
                &t,
                &RESPONSE_INTERVAL,
            ),
            "igmp-query-last-member-interval" => self.set_number(
                &mut config.igmp_query_last_member_interval,
                &t,
                &LAST_MEMBER_INTERVAL,
            ),
            "igmp-robustness" => self.set_number(&mut config.igmp_robustness, &t, &ROBUSTNESS),
            "router-timeout" => self.set_number(&mut config.router_timeout, &t, &ROUTER_TIMEOUT),
            "pruning" => {
                if let Some(b) = self.boolean("\"pruning\"") {
                    self.set_once(&mut config.pruning, &t, b);
                }
            }
            "noflood" => self.flag(&mut config.noflood, &t, t.text),
            "rexmit_prunes" | "rexmit-prunes" => {
                let b = self.optional_boolean(&t);
                self.set_once(&mut config.rexmit_prunes, &t, b);
            }
            "no" => match self.peek().map(|n| n.text) {
                Some("phyint") => {
                    self.pos += 1;
                    self.flag(&mut config.no_phyint, &t, "no phyint");
                }
                Some("router-alert") => {
                    self.pos += 1;
                    self.flag(&mut config.no_router_alert, &t, "no router-alert");
                }
                _ => {
                    let found = self.peek();
                    self.expected(found, "\"phyint\" or \"router-alert\"", "\"no\"");
                    if found.is_some_and(|t| !is_keyword(t.text)) {
                        self.pos += 1;
                    }
                }
            },
            "name" => {
                if let Some(n) = self.name(t, &config) {
                    config.names.push(n);
                }
            }
            "phyint" => {
                let p = self.phyint(t);
                config.phyints.extend(p);
            }
            "tunnel" => {
                let tun = self.tunnel(t);
                config.tunnels.extend(tun);
            }
            other => {
                self.error(
                    &t,
                    ErrorKind::UnknownKeyword {
                        context: "statement",
                        found: other.to_owned(),
                        suggestion: suggest(other, TOP_LEVEL),
                    },
                );
                self.recover();
            }
        }
        self.config = config;
    }

    fn name(&mut self, kw: Tok<'a>, config: &Config) -> Option<BoundaryName> {
        let n = self.value("a boundary name", "\"name\"")?;
        if looks_numeric(n.text) || n.text.contains('/') {
            self.expected(Some(n), "a boundary name", "\"name\"");
            // The scope may follow anyway; take it so it is not read as a statement.
            if self.peek().is_some_and(|t| !is_keyword(t.text)) {
                self.pos += 1;
            }
            return None;
        }
        let scope = self.value("a scoped range (239.x.x.x/LEN)", "the boundary name");
        let scope = scope.and_then(|s| self.scope(s, "the boundary name"));
        if let Some(first) = config.names.iter().find(|b| b.name.value == n.text) {
            self.error(
                &n,
                ErrorKind::DuplicateName {
                    name: n.text.to_owned(),
                    first_line: first.span.line,
                },
            );
            return None;
        }
        Some(BoundaryName {
            span: self.span(&kw),
            name: Spanned::new(n.text.to_owned(), self.span(&n)),
            scope: scope?,
        })
    }

    /// `A.B.C.D/LEN` (or a bare address, as /32, when `bare_ok`).
    fn ipv4_prefix(text: &str, bare_ok: bool) -> Result<(Ipv4Addr, Option<u8>), bool> {
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None if bare_ok => (text, None),
            None => return Err(false),
        };
        let addr: Ipv4Addr = addr.parse().map_err(|_| false)?;
        match len {
            None => Ok((addr, None)),
            Some(l) => match parse_decimal(l) {
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
            return match t.text.parse::<Ipv4Addr>() {
                Ok(a) => Some(Spanned::new(InterfaceRef::Addr(a), self.span(&t))),
                Err(_) => {
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

    fn phyint(&mut self, kw: Tok<'a>) -> Option<Phyint> {
        let interface = self.interface("\"phyint\"");
        let placeholder = Spanned::new(InterfaceRef::Name(String::new()), self.span(&kw));
        let mut p = Phyint {
            span: self.span(&kw),
            interface: interface.clone().unwrap_or(placeholder),
            state: None,
            altnets: Vec::new(),
            igmp_version: None,
            force_leaf: None,
            static_groups: Vec::new(),
            options: VifOptions::default(),
        };
        let mut options = VifOptions::default();
        self.block(Block::Phyint, &mut options, Some(&mut p));
        p.options = options;
        // Without an interface the options were parsed for their errors only.
        interface.map(|_| p)
    }

    fn tunnel(&mut self, kw: Tok<'a>) -> Option<Tunnel> {
        let local = self.interface("\"tunnel\"");
        let remote = if local.is_some() { self.remote() } else { None };
        let mut options = VifOptions::default();
        self.block(Block::Tunnel, &mut options, None);
        Some(Tunnel {
            span: self.span(&kw),
            local: local?,
            remote: remote?,
            options,
        })
    }

    fn remote(&mut self) -> Option<Spanned<TunnelRemote>> {
        const EXPECTED: &str = "a remote address or host name";
        let t = self.value(EXPECTED, "the tunnel's local end")?;
        if t.text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            if let Ok(a) = t.text.parse::<Ipv4Addr>() {
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

    /// The options of a phyint (`extras` is the phyint) or a tunnel (`extras` is `None`),
    /// up to the next top-level keyword.
    fn block(&mut self, block: Block, o: &mut VifOptions, mut phyint: Option<&mut Phyint>) {
        let context = match block {
            Block::Phyint => "phyint option",
            Block::Tunnel => "tunnel option",
        };
        while let Some(t) = self.peek() {
            if TOP_LEVEL.contains(&t.text) && !BLOCK_TOO.contains(&t.text) {
                return;
            }
            self.pos += 1;
            if PHYINT_ONLY.contains(&t.text) {
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
                        if matches!(t.text, "altnet" | "static-group")
                            && self.peek().is_some_and(|v| !is_keyword(v.text))
                        {
                            self.pos += 1;
                        }
                    }
                }
                continue;
            }
            match t.text {
                "boundary" => {
                    if let Some(v) = self.value("a boundary name or scoped range", "\"boundary\"") {
                        if looks_numeric(v.text) || v.text.contains('/') {
                            if let Some(s) = self.scope(v, "\"boundary\"") {
                                o.boundaries
                                    .push(Spanned::new(Boundary::Scope(s.value), s.span));
                            }
                        } else {
                            let span = self.span(&v);
                            self.boundary_refs.push((v.text.to_owned(), span));
                            o.boundaries
                                .push(Spanned::new(Boundary::Name(v.text.to_owned()), span));
                        }
                    }
                }
                "metric" => self.set_number(&mut o.metric, &t, &METRIC),
                "advert_metric" | "advert-metric" => {
                    self.set_number(&mut o.advert_metric, &t, &ADVERT_METRIC)
                }
                "threshold" => self.set_number(&mut o.threshold, &t, &THRESHOLD),
                "rate_limit" | "rate-limit" => self.set_number(&mut o.rate_limit, &t, &RATE_LIMIT),
                "prune_lifetime" | "prune-lifetime" => {
                    self.set_number(&mut o.prune_lifetime, &t, &PRUNE_LIFETIME)
                }
                "rexmit_prunes" | "rexmit-prunes" => {
                    let b = self.optional_boolean(&t);
                    self.set_once(&mut o.rexmit_prunes, &t, b);
                }
                "passive" => self.flag(&mut o.passive, &t, t.text),
                "noflood" => self.flag(&mut o.noflood, &t, t.text),
                "notransit" => self.flag(&mut o.notransit, &t, t.text),
                "blaster" => self.flag(&mut o.blaster, &t, t.text),
                "allow_nonpruners" | "allow-nonpruners" => {
                    self.flag(&mut o.allow_nonpruners, &t, t.text)
                }
                "accept" | "deny" => self.filter(t, o),
                "bidir" => match &mut o.filter {
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
                other => {
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
                            found: other.to_owned(),
                            suggestion: suggest(other, &candidates),
                        },
                    );
                    self.recover();
                }
            }
        }
    }

    fn phyint_option(&mut self, t: Tok<'a>, p: &mut Phyint) {
        match t.text {
            "enable" | "disable" => {
                let v = if t.text == "enable" {
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
            "igmpv1" | "igmpv2" | "igmpv3" => {
                let v = match t.text {
                    "igmpv1" => IgmpVersion::V1,
                    "igmpv2" => IgmpVersion::V2,
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
            "force_leaf" | "force-leaf" => {
                let b = self.optional_boolean(&t);
                self.set_once(&mut p.force_leaf, &t, b);
            }
            "altnet" => {
                const EXPECTED: &str = "a network (ADDRESS/LEN)";
                if let Some(v) = self.value(EXPECTED, "\"altnet\"") {
                    match Self::ipv4_prefix(v.text, true) {
                        Ok((addr, prefix_len)) => p
                            .altnets
                            .push(Spanned::new(AltNet { addr, prefix_len }, self.span(&v))),
                        Err(true) => self.prefix_len_error(&v),
                        Err(false) => self.expected(Some(v), EXPECTED, "\"altnet\""),
                    }
                }
            }
            "static-group" => {
                const EXPECTED: &str = "an IPv4 multicast group";
                if let Some(v) = self.value(EXPECTED, "\"static-group\"") {
                    match v.text.parse::<Ipv4Addr>() {
                        Ok(g) if g.is_multicast() => {
                            p.static_groups.push(Spanned::new(g, self.span(&v)))
                        }
                        _ => self.expected(Some(v), EXPECTED, "\"static-group\""),
                    }
                }
            }
            _ => {}
        }
    }

    fn filter(&mut self, kw: Tok<'a>, o: &mut VifOptions) {
        const EXPECTED: &str = "a route (ADDRESS/LEN or \"default\")";
        let mode = if kw.text == "accept" {
            FilterMode::Accept
        } else {
            FilterMode::Deny
        };
        let after = if kw.text == "accept" {
            "\"accept\""
        } else {
            "\"deny\""
        };
        let mut routes = Vec::new();
        let mut bad_route = false;
        while let Some(t) = self.peek() {
            if is_keyword(t.text) || t.text == "exact" {
                break;
            }
            self.pos += 1;
            let prefix = if t.text == "default" {
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
            let exact = self.peek().is_some_and(|n| n.text == "exact");
            if exact {
                self.pos += 1;
            }
            if let Some(prefix) = prefix {
                routes.push(Spanned::new(FilterRoute { prefix, exact }, self.span(&t)));
            }
        }
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
    fn check(&mut self) {
        let refs = std::mem::take(&mut self.boundary_refs);
        for (name, span) in refs {
            if !self.config.names.iter().any(|b| b.name.value == name) {
                self.error_at(span.line, span.column, ErrorKind::UnknownBoundary { name });
            }
        }
        if let Some(r) = self.config.igmp_query_response_interval {
            let qi = self.config.igmp_query_interval();
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
        self.errors.sort_by_key(|e| (e.line, e.column));
    }
}

#[cfg(test)]
mod tests;
