//! The desired state of the static engine: phyints, multicast routes and group joins, as
//! smcroute.conf and smcroutectl describe them, in plain owned types.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::model::{Family, Interface, MAX_OIFS};

pub use crate::model::MAX_IFNAME_LEN;

/// The default cap on the memberships one join rule may expand to on one interface.
///
/// smcroute expands `mgroup ... group G/LEN` without a cap (a `/1` loops for hours); mcroute
/// refuses a rule whose range holds more than this many (source, group) pairs.
pub const DEFAULT_JOIN_EXPANSION_LIMIT: u64 = 4096;

/// The interface pattern type, shared with the smcroute.conf parser: see
/// [`crate::model::IfPattern`].
pub use crate::model::IfPattern;

/// Checks a pattern's name, as a rule error.
fn check_pattern(p: &IfPattern) -> Result<(), RuleError> {
    p.validate()
        .map_err(|_| RuleError::BadInterfaceName(p.to_string()))
}

/// `phyint IFNAME [enable|disable] [mrdisc] [ttl-threshold TTL]`.
///
/// The parser resolves smcroute's default (`enable` unless the daemon runs with `-N`) into
/// [`Phyint::enable`]. When several phyint lines match an interface, the last one wins, and
/// the line applies wherever it appears in the file (smcroute's "phyint first" ordering
/// caveat is not copied).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phyint {
    /// The interface or wildcard.
    pub pattern: IfPattern,
    /// `enable`: the interface gets a VIF and MIF even when no route names it. `disable`:
    /// it never gets one, and routes naming it skip it.
    pub enable: bool,
    /// Send RFC 4286 Multicast Router Discovery announcements (IPv4).
    pub mrdisc: bool,
    /// TTL threshold 1..=255: the VIF's threshold and the per-OIF TTL of every MFC entry
    /// that forwards out of the interface.
    pub ttl_threshold: u8,
}

impl Phyint {
    /// `phyint PATTERN enable` with threshold 1 and no mrdisc.
    pub fn new(pattern: impl Into<IfPattern>) -> Phyint {
        Phyint {
            pattern: pattern.into(),
            enable: true,
            mrdisc: false,
            ttl_threshold: 1,
        }
    }
}

/// `mroute from IIF [source S[/LEN]] group G[/LEN] [to OIF...]`.
///
/// A rule whose source and group are both full-length addresses is an (S,G) rule, written
/// to the kernel at once; every other form ((*,G), (*,G/LEN), (S/LEN,G), (S,G/LEN)...) is a
/// template matched against upcalls. A rule with no OIFs is a stop filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouteRule {
    /// The inbound interface (a wildcard makes one route per matching interface).
    pub iif: IfPattern,
    /// The source or source prefix; `None` (or the unspecified address, or `/0`) for (*,G).
    pub source: Option<IpNet>,
    /// The group or group prefix.
    pub group: IpNet,
    /// The outbound interfaces; empty for a stop filter.
    pub oifs: Vec<IfPattern>,
}

impl RouteRule {
    /// A rule from its parts.
    pub fn new(
        iif: impl Into<IfPattern>,
        source: Option<IpNet>,
        group: IpNet,
        oifs: impl IntoIterator<Item = IfPattern>,
    ) -> RouteRule {
        RouteRule {
            iif: iif.into(),
            source,
            group,
            oifs: oifs.into_iter().collect(),
        }
    }

    /// The address family (that of the group).
    pub fn family(&self) -> Family {
        Family::of(&self.group.addr())
    }

    /// Whether this is an (S,G) rule (installed at once) rather than a template: smcroute's
    /// `is_ssm`, a full-length source and a full-length group.
    pub fn is_sg(&self) -> bool {
        let max = self.family().max_prefix_len();
        match self.source {
            Some(s) => s.prefix_len() == max && self.group.prefix_len() == max,
            None => false,
        }
    }

    /// The same rule with prefixes truncated, the "any" source written as `None` and
    /// duplicate OIFs dropped.
    pub fn normalized(&self) -> RouteRule {
        self.clone().into_normalized()
    }

    /// [`RouteRule::normalized`] without copying: the rule itself, normalized.
    pub fn into_normalized(mut self) -> RouteRule {
        self.source = normalize_source(self.source);
        self.group = self.group.trunc();
        if self.oifs.len() > 1 {
            let mut seen: Vec<IfPattern> = Vec::with_capacity(self.oifs.len());
            for o in std::mem::take(&mut self.oifs) {
                if !seen.contains(&o) {
                    seen.push(o);
                }
            }
            self.oifs = seen;
        }
        self
    }

    /// Checks that the rule makes sense: names, a multicast group, a unicast source of the
    /// same family, at most [`MAX_OIFS`] outbound interfaces.
    pub fn check(&self) -> Result<(), RuleError> {
        check_pattern(&self.iif)?;
        check_addresses(self.source, self.group)?;
        for o in &self.oifs {
            check_pattern(o)?;
        }
        if self.oifs.len() > MAX_OIFS {
            return Err(RuleError::TooManyOifs(self.oifs.len()));
        }
        Ok(())
    }
}

impl fmt::Display for RouteRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mroute from {}", self.iif)?;
        if let Some(s) = self.source {
            write!(f, " source {}", fmt_net(s))?;
        }
        write!(f, " group {}", fmt_net(self.group))?;
        if !self.oifs.is_empty() {
            f.write_str(" to")?;
            for o in &self.oifs {
                write!(f, " {o}")?;
            }
        }
        Ok(())
    }
}

/// `mgroup from IIF [source S[/LEN]] group G[/LEN]`: join a group (ASM) or a source and
/// group (SSM) on an interface; ranges expand to one membership per address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JoinRule {
    /// The interface or wildcard.
    pub iif: IfPattern,
    /// The source (SSM) or source range; `None` for ASM.
    pub source: Option<IpNet>,
    /// The group or group range.
    pub group: IpNet,
}

impl JoinRule {
    /// A join rule from its parts.
    pub fn new(iif: impl Into<IfPattern>, source: Option<IpNet>, group: IpNet) -> JoinRule {
        JoinRule {
            iif: iif.into(),
            source,
            group,
        }
    }

    /// The same rule with truncated prefixes and the "any" source written as `None`.
    pub fn normalized(&self) -> JoinRule {
        JoinRule {
            iif: self.iif.clone(),
            source: normalize_source(self.source),
            group: self.group.trunc(),
        }
    }

    /// The number of memberships the rule makes on each matching interface, or `None` when
    /// it does not fit in a `u64`.
    pub fn expansion(&self) -> Option<u64> {
        let max = Family::of(&self.group.addr()).max_prefix_len();
        let g = range_size(max, self.group.prefix_len())?;
        let s = match normalize_source(self.source) {
            Some(s) => range_size(max, s.prefix_len())?,
            None => 1,
        };
        g.checked_mul(s)
    }

    /// Checks names and addresses, and that the range holds at most `limit` memberships.
    pub fn check(&self, limit: u64) -> Result<(), RuleError> {
        check_pattern(&self.iif)?;
        check_addresses(self.source, self.group)?;
        match self.expansion() {
            Some(n) if n <= limit => Ok(()),
            n => Err(RuleError::JoinRangeTooLarge { count: n, limit }),
        }
    }
}

impl fmt::Display for JoinRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mgroup from {}", self.iif)?;
        if let Some(s) = self.source {
            write!(f, " source {}", fmt_net(s))?;
        }
        write!(f, " group {}", fmt_net(self.group))
    }
}

/// The desired state: what smcroute.conf (and its includes) say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticConfig {
    /// `phyint` lines, in file order.
    pub phyints: Vec<Phyint>,
    /// `mroute` lines, in file order (order decides between overlapping templates).
    pub routes: Vec<RouteRule>,
    /// `mgroup` / `ssmgroup` lines.
    pub joins: Vec<JoinRule>,
}

/// Where in a [`StaticConfig`] an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigItem {
    /// `phyints[i]`.
    Phyint(usize),
    /// `routes[i]`.
    Route(usize),
    /// `joins[i]`.
    Join(usize),
}

impl fmt::Display for ConfigItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigItem::Phyint(i) => write!(f, "phyint #{}", i + 1),
            ConfigItem::Route(i) => write!(f, "mroute #{}", i + 1),
            ConfigItem::Join(i) => write!(f, "mgroup #{}", i + 1),
        }
    }
}

/// What is wrong with one rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// Empty, too long, or containing `/`, `:` or whitespace.
    #[error("invalid interface name {0:?}")]
    BadInterfaceName(String),
    /// The group (prefix) is not entirely multicast.
    #[error("invalid multicast group {0}")]
    NotMulticast(IpNet),
    /// The source is a multicast address.
    #[error("invalid source address {0}: multicast")]
    MulticastSource(IpNet),
    /// Source and group of different families.
    #[error("source {origin} and group {group} are of different address families")]
    FamilyMismatch {
        /// The source.
        origin: IpNet,
        /// The group.
        group: IpNet,
    },
    /// A TTL threshold of 0 (smcroute accepts 1..255).
    #[error("ttl-threshold {0} out of range (1-255)")]
    TtlThreshold(u8),
    /// More outbound interfaces than any kernel has VIFs.
    #[error("{0} outbound interfaces: at most {MAX_OIFS}", MAX_OIFS = MAX_OIFS)]
    TooManyOifs(usize),
    /// A join range larger than the cap.
    #[error("join range of {} memberships exceeds the limit of {limit}", count.map_or("more than 2^64".to_string(), |c| c.to_string()))]
    JoinRangeTooLarge {
        /// The number of memberships (`None`: more than `u64` holds).
        count: Option<u64>,
        /// The cap.
        limit: u64,
    },
    /// The interface exists but cannot do multicast (no `IFF_MULTICAST`).
    #[error("interface {0} is not multicast capable")]
    NotMulticastCapable(String),
    /// The engine was set up without this address family.
    #[error("{0} multicast routing is not enabled")]
    FamilyDisabled(Family),
}

/// An error in a [`StaticConfig`]: which item, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{item}: {error}")]
pub struct ConfigError {
    /// The item.
    pub item: ConfigItem,
    /// The problem.
    pub error: RuleError,
}

/// Checks a configuration before anything is changed, with the default options (both
/// families, [`DEFAULT_JOIN_EXPANSION_LIMIT`]).
///
/// Interfaces that do not exist are not errors: their routes and joins wait until the
/// interface appears. An exactly named interface that exists but cannot do multicast is an
/// error, as `smcrouted -F` counts it.
pub fn validate(config: &StaticConfig, interfaces: &[Interface]) -> Result<(), Vec<ConfigError>> {
    let by_name: std::collections::HashMap<&str, bool> = interfaces
        .iter()
        .map(|i| (i.name.as_str(), i.multicast))
        .collect();
    validate_with(
        config,
        |n| by_name.get(n).copied(),
        true,
        true,
        DEFAULT_JOIN_EXPANSION_LIMIT,
    )
}

/// [`validate`] with the engine's options; `multicast(name)` says whether the interface
/// `name` exists (`Some`) and can do multicast (a map lookup, so checking a rule does not
/// depend on the number of interfaces).
pub(super) fn validate_with(
    config: &StaticConfig,
    multicast: impl Fn(&str) -> Option<bool>,
    ipv4: bool,
    ipv6: bool,
    join_limit: u64,
) -> Result<(), Vec<ConfigError>> {
    let mut errors = Vec::new();
    let family_ok = |f: Family| match f {
        Family::V4 => ipv4,
        Family::V6 => ipv6,
    };
    let multicast_ok = |p: &IfPattern| -> Result<(), RuleError> {
        if let IfPattern::Name(n) = p {
            if multicast(n) == Some(false) {
                return Err(RuleError::NotMulticastCapable(n.clone()));
            }
        }
        Ok(())
    };
    for (i, p) in config.phyints.iter().enumerate() {
        let item = ConfigItem::Phyint(i);
        let r = check_pattern(&p.pattern).and_then(|_| {
            if p.ttl_threshold == 0 {
                Err(RuleError::TtlThreshold(0))
            } else if p.enable {
                multicast_ok(&p.pattern)
            } else {
                Ok(())
            }
        });
        if let Err(error) = r {
            errors.push(ConfigError { item, error });
        }
    }
    for (i, r) in config.routes.iter().enumerate() {
        let item = ConfigItem::Route(i);
        let res = r
            .check()
            .and_then(|_| {
                if family_ok(r.family()) {
                    Ok(())
                } else {
                    Err(RuleError::FamilyDisabled(r.family()))
                }
            })
            .and_then(|_| multicast_ok(&r.iif))
            .and_then(|_| r.oifs.iter().try_for_each(multicast_ok));
        if let Err(error) = res {
            errors.push(ConfigError { item, error });
        }
    }
    for (i, j) in config.joins.iter().enumerate() {
        let item = ConfigItem::Join(i);
        let fam = Family::of(&j.group.addr());
        let res = j
            .check(join_limit)
            .and_then(|_| {
                if family_ok(fam) {
                    Ok(())
                } else {
                    Err(RuleError::FamilyDisabled(fam))
                }
            })
            .and_then(|_| multicast_ok(&j.iif));
        if let Err(error) = res {
            errors.push(ConfigError { item, error });
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn check_addresses(source: Option<IpNet>, group: IpNet) -> Result<(), RuleError> {
    if !group.network().is_multicast() || !group.broadcast().is_multicast() {
        return Err(RuleError::NotMulticast(group));
    }
    if let Some(s) = source {
        if Family::of(&s.addr()) != Family::of(&group.addr()) {
            return Err(RuleError::FamilyMismatch { origin: s, group });
        }
        if s.addr().is_multicast() {
            return Err(RuleError::MulticastSource(s));
        }
    }
    Ok(())
}

/// `None` for (*,G): no source, the unspecified address, or a `/0` prefix.
pub(super) fn normalize_source(source: Option<IpNet>) -> Option<IpNet> {
    source
        .filter(|s| !s.addr().is_unspecified() && s.prefix_len() != 0)
        .map(|s| s.trunc())
}

fn range_size(max: u8, len: u8) -> Option<u64> {
    let bits = max.checked_sub(len)?;
    1u64.checked_shl(u32::from(bits)).filter(|_| bits < 64)
}

/// A prefix as smcroute prints it: without `/len` when it is a single address.
pub(crate) fn fmt_net(n: IpNet) -> String {
    if n.prefix_len() == n.max_prefix_len() {
        n.addr().to_string()
    } else {
        n.to_string()
    }
}

/// The `index`-th address of `net` (no bounds check beyond wrapping inside the family).
pub(super) fn nth_addr(net: IpNet, index: u64) -> IpAddr {
    match net {
        IpNet::V4(n) => {
            let base = u32::from(n.network());
            IpAddr::V4(base.wrapping_add(index as u32).into())
        }
        IpNet::V6(n) => {
            let base = u128::from(n.network());
            IpAddr::V6(base.wrapping_add(u128::from(index)).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse()
            .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
            .unwrap()
    }

    #[test]
    fn patterns() {
        assert_eq!(IfPattern::new("eth+"), IfPattern::Prefix("eth".into()));
        assert!(IfPattern::new("eth+").matches("ethfoo"));
        assert!(IfPattern::new("+").matches("anything"));
        assert!(!IfPattern::new("eth0").matches("eth01"));
        assert_eq!(IfPattern::new("eth0:1").to_string(), "eth0");
        assert_eq!(IfPattern::new("a+").to_string(), "a+");
        assert!(check_pattern(&IfPattern::new("")).is_err());
        assert!(check_pattern(&IfPattern::new("a-very-long-interface-name")).is_err());
        assert!(check_pattern(&IfPattern::new("a/b")).is_err());
        assert!(check_pattern(&IfPattern::new("eth0")).is_ok());
    }

    #[test]
    fn rule_classification_and_checks() {
        let r = RouteRule::new("a1", Some(net("192.0.2.1")), net("225.1.2.3"), []);
        assert!(r.is_sg());
        let r = RouteRule::new("a1", Some(net("192.0.2.1/24")), net("225.1.2.3"), []);
        assert!(!r.is_sg());
        assert_eq!(r.normalized().source, Some(net("192.0.2.0/24")));
        let r = RouteRule::new("a1", Some(net("0.0.0.0")), net("225.1.2.3"), []);
        assert_eq!(r.normalized().source, None);
        let bad = RouteRule::new("a1", None, net("192.0.2.1"), []);
        assert_eq!(bad.check(), Err(RuleError::NotMulticast(net("192.0.2.1"))));
        let bad = RouteRule::new("a1", None, net("192.0.0.0/2"), []);
        assert!(bad.check().is_err());
        let ok = RouteRule::new("a1", None, net("224.0.0.0/4"), []);
        assert!(ok.check().is_ok());
        let mixed = RouteRule::new("a1", Some(net("2001:db8::1")), net("225.1.2.3"), []);
        assert!(matches!(
            mixed.check(),
            Err(RuleError::FamilyMismatch { .. })
        ));
        let msrc = RouteRule::new("a1", Some(net("225.0.0.1")), net("225.1.2.3"), []);
        assert!(matches!(msrc.check(), Err(RuleError::MulticastSource(_))));
    }

    #[test]
    fn join_expansion_sizes() {
        let j = JoinRule::new("a1", Some(net("192.0.2.10")), net("225.1.2.40/24"));
        assert_eq!(j.expansion(), Some(256));
        let j = JoinRule::new("a1", Some(net("192.0.2.1/30")), net("225.1.2.3/30"));
        assert_eq!(j.expansion(), Some(16));
        let j = JoinRule::new("a1", None, net("225.0.0.0/1"));
        assert!(j.check(DEFAULT_JOIN_EXPANSION_LIMIT).is_err());
        let j = JoinRule::new("a1", None, net("ff0e::/8"));
        assert_eq!(j.expansion(), None);
        assert_eq!(
            j.check(10),
            Err(RuleError::JoinRangeTooLarge {
                count: None,
                limit: 10
            })
        );
    }

    #[test]
    fn validate_collects_every_error() {
        let ifs = vec![Interface {
            index: 1,
            name: "lo".into(),
            up: true,
            multicast: false,
            loopback: true,
            point_to_point: false,
            addrs: vec![],
        }];
        let cfg = StaticConfig {
            phyints: vec![Phyint {
                ttl_threshold: 0,
                ..Phyint::new("a1")
            }],
            routes: vec![
                RouteRule::new("lo", None, net("225.1.2.3"), []),
                RouteRule::new("missing0", None, net("225.1.2.3"), [IfPattern::new("a2")]),
            ],
            joins: vec![JoinRule::new("a1", None, net("192.0.2.1"))],
        };
        let errs = validate(&cfg, &ifs).unwrap_err();
        assert_eq!(
            errs,
            vec![
                ConfigError {
                    item: ConfigItem::Phyint(0),
                    error: RuleError::TtlThreshold(0)
                },
                ConfigError {
                    item: ConfigItem::Route(0),
                    error: RuleError::NotMulticastCapable("lo".into())
                },
                ConfigError {
                    item: ConfigItem::Join(0),
                    error: RuleError::NotMulticast(net("192.0.2.1"))
                },
            ]
        );
        assert!(validate(&StaticConfig::default(), &ifs).is_ok());
    }
}
