//! The typed model of a kernel multicast router: VIFs and MIFs, MFC entries, source filters,
//! and counters.
//!
//! Everything here is plain data: no system calls. Addresses are [`std::net`] types and
//! prefixes are [`ipnet`] types; indexes into the kernel's interface tables are the
//! [`VifId`] (IPv4) and [`MifId`] (IPv6) newtypes.

#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bitflags::bitflags;
use ipnet::IpNet;

/// The largest number of VIFs the IPv4 kernel multicast router supports (Linux and FreeBSD).
pub const MAX_VIFS: usize = 32;
/// The largest number of MIFs the Linux IPv6 multicast router supports (FreeBSD has 64).
pub const MAX_MIFS: usize = 32;
/// The width of an [`OifSet`]: enough for every platform's VIF and MIF tables.
pub const MAX_OIFS: usize = 64;

/// An address family of the multicast router: each has its own kernel table and socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4: VIFs, `MRT_*` options, IGMP upcalls.
    V4,
    /// IPv6: MIFs, `MRT6_*` options, ICMPv6 upcalls.
    V6,
}

impl Family {
    /// 0 for IPv4, 1 for IPv6: the index of this family in a per-family array.
    pub const fn slot(self) -> usize {
        match self {
            Family::V4 => 0,
            Family::V6 => 1,
        }
    }

    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The unspecified ("any") address of the family, as used for (*,G).
    pub fn any(self) -> IpAddr {
        match self {
            Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }

    /// The length in bits of the family's addresses (32 or 128).
    pub fn max_prefix_len(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// Index of an IPv4 virtual interface (VIF) in the kernel's VIF table (`vifi_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VifId(pub u16);

/// Index of an IPv6 multicast interface (MIF) in the kernel's MIF table (`mifi_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MifId(pub u16);

impl fmt::Display for VifId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VIF {}", self.0)
    }
}

impl fmt::Display for MifId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MIF {}", self.0)
    }
}

/// A VIF or a MIF: an index into the interface table of one family.
///
/// MFC entries and upcalls of both families share code; this keeps the family with the
/// index so an IPv4 route can never name a MIF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VifIndex {
    /// An IPv4 VIF.
    Vif(VifId),
    /// An IPv6 MIF.
    Mif(MifId),
}

impl VifIndex {
    /// The family whose table this index refers to.
    pub fn family(self) -> Family {
        match self {
            VifIndex::Vif(_) => Family::V4,
            VifIndex::Mif(_) => Family::V6,
        }
    }

    /// The raw table index.
    pub fn index(self) -> u16 {
        match self {
            VifIndex::Vif(v) => v.0,
            VifIndex::Mif(m) => m.0,
        }
    }

    /// The index `i` in the table of `family`.
    pub fn new(family: Family, i: u16) -> VifIndex {
        match family {
            Family::V4 => VifIndex::Vif(VifId(i)),
            Family::V6 => VifIndex::Mif(MifId(i)),
        }
    }
}

impl From<VifId> for VifIndex {
    fn from(v: VifId) -> Self {
        VifIndex::Vif(v)
    }
}

impl From<MifId> for VifIndex {
    fn from(m: MifId) -> Self {
        VifIndex::Mif(m)
    }
}

impl fmt::Display for VifIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VifIndex::Vif(v) => v.fmt(f),
            VifIndex::Mif(m) => m.fmt(f),
        }
    }
}

bitflags! {
    /// Flags of an IPv4 VIF (`vifc_flags`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct VifFlags: u8 {
        /// `VIFF_TUNNEL`: an IP-in-IP tunnel to `remote` (refused by current Linux and
        /// FreeBSD kernels: use an ipip or gif(4) interface).
        const TUNNEL = 0x1;
        /// `VIFF_SRCRT`: source-routed tunnel (obsolete, refused by current kernels).
        const SRCRT = 0x2;
        /// `VIFF_REGISTER`: the PIM register VIF.
        const REGISTER = 0x4;
        /// `VIFF_USE_IFINDEX` (Linux only): the VIF is named by interface index, not address.
        const USE_IFINDEX = 0x8;
    }
}

bitflags! {
    /// Flags of an IPv6 MIF (`mif6c_flags`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct MifFlags: u8 {
        /// `MIFF_REGISTER`: the PIM register MIF.
        const REGISTER = 0x1;
    }
}

/// A virtual interface of either family, as installed in the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vif {
    /// The slot in the kernel table (VIF for IPv4, MIF for IPv6).
    pub id: VifIndex,
    /// The interface index (`if_nametoindex`).
    pub ifindex: u32,
    /// The interface name, for messages and lookups.
    pub name: String,
    /// TTL threshold: packets are forwarded out of this interface only when their TTL is
    /// greater than this. 1 by default.
    pub threshold: u8,
    /// Rate limit in kbit/s, 0 for none. No current kernel applies it: Linux ignores it,
    /// FreeBSD refuses a non-zero one (its backend sends 0).
    pub rate_limit: u32,
    /// IPv4 VIF flags (empty for a MIF).
    pub flags: VifFlags,
    /// IPv6 MIF flags (empty for a VIF).
    pub mif_flags: MifFlags,
    /// The local IPv4 address: required by FreeBSD to name the VIF, and the tunnel's local
    /// end. `None` where the interface has no address (Linux names VIFs by index).
    pub local: Option<Ipv4Addr>,
    /// The remote end of a tunnel VIF.
    pub remote: Option<Ipv4Addr>,
}

impl Vif {
    /// A plain VIF (IPv4) or MIF (IPv6) on an interface with threshold 1 and no rate limit.
    pub fn new(id: VifIndex, ifindex: u32, name: impl Into<String>) -> Vif {
        Vif {
            id,
            ifindex,
            name: name.into(),
            threshold: 1,
            rate_limit: 0,
            flags: VifFlags::empty(),
            mif_flags: MifFlags::empty(),
            local: None,
            remote: None,
        }
    }
}

/// The output interfaces of an MFC entry, each with its TTL threshold.
///
/// A threshold of 0 (or 255) means "do not forward on this interface"; `n` in 1..=254 means
/// "forward when the packet's TTL is greater than `n`". This mirrors `mfcc_ttls[]` of the
/// kernel. The set is a fixed array, so copying and comparing it allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OifSet {
    ttls: [u8; MAX_OIFS],
}

impl Default for OifSet {
    fn default() -> Self {
        OifSet {
            ttls: [0; MAX_OIFS],
        }
    }
}

impl OifSet {
    /// An empty set: a route with it is a "stop filter" that drops the flow.
    pub fn new() -> OifSet {
        OifSet::default()
    }

    /// Adds (or changes) interface `index` with TTL threshold `ttl` (0 removes it).
    ///
    /// Indexes at or beyond [`MAX_OIFS`] are ignored: no kernel can name them.
    pub fn set(&mut self, index: u16, ttl: u8) {
        if let Some(slot) = self.ttls.get_mut(usize::from(index)) {
            *slot = if ttl == 255 { 0 } else { ttl };
        }
    }

    /// Removes interface `index`.
    pub fn remove(&mut self, index: u16) {
        self.set(index, 0);
    }

    /// The TTL threshold of interface `index`, or `None` when it is not in the set.
    pub fn get(&self, index: u16) -> Option<u8> {
        match self.ttls.get(usize::from(index)) {
            Some(&t) if t != 0 => Some(t),
            _ => None,
        }
    }

    /// Whether interface `index` is in the set.
    pub fn contains(&self, index: u16) -> bool {
        self.get(index).is_some()
    }

    /// Whether the set is empty (a stop filter).
    pub fn is_empty(&self) -> bool {
        self.ttls.iter().all(|&t| t == 0)
    }

    /// The number of interfaces in the set.
    pub fn len(&self) -> usize {
        self.ttls.iter().filter(|&&t| t != 0).count()
    }

    /// The interfaces and their thresholds, in index order.
    pub fn iter(&self) -> impl Iterator<Item = (u16, u8)> + '_ {
        self.ttls
            .iter()
            .enumerate()
            .filter(|(_, &t)| t != 0)
            .map(|(i, &t)| (i as u16, t))
    }

    /// Adds every interface of `other` (keeping `other`'s thresholds).
    pub fn merge(&mut self, other: &OifSet) {
        for (i, t) in other.iter() {
            self.set(i, t);
        }
    }

    /// The raw TTL vector, as the kernel takes it.
    pub fn ttls(&self) -> &[u8; MAX_OIFS] {
        &self.ttls
    }
}

impl fmt::Debug for OifSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// An error in the typed model: a value the kernel would refuse or misread.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The group is not a multicast address.
    #[error("{0} is not a multicast group")]
    NotMulticast(IpAddr),
    /// The source is a multicast address.
    #[error("source {0} is a multicast address")]
    MulticastSource(IpAddr),
    /// Source and group (or interface) are of different families.
    #[error("{origin} and {group} are of different address families")]
    FamilyMismatch {
        /// The source address.
        origin: IpAddr,
        /// The group address.
        group: IpAddr,
    },
    /// The inbound or an outbound interface belongs to the other family's table.
    #[error("{index} cannot be used for an {family} route")]
    WrongTable {
        /// The interface index given.
        index: VifIndex,
        /// The family of the route.
        family: Family,
    },
    /// An interface index beyond what any kernel supports.
    #[error("{0} is beyond the interface table")]
    IndexOutOfRange(VifIndex),
}

/// An entry of the kernel's multicast forwarding cache: (S,G), inbound VIF, outbound VIFs.
///
/// The kernel identifies an entry by (source, group); adding an entry whose (S,G) exists
/// replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MfcEntry {
    source: IpAddr,
    group: IpAddr,
    iif: VifIndex,
    oifs: OifSet,
}

impl MfcEntry {
    /// An IPv4 entry with no outbound VIFs yet.
    ///
    /// ```
    /// use mcroute::{MfcEntry, VifId};
    /// let route = MfcEntry::v4("192.0.2.10".parse().unwrap(), "225.1.2.3".parse().unwrap(), VifId(0))
    ///     .unwrap()
    ///     .with_oif(VifId(1), 1);
    /// assert!(route.oifs().contains(1));
    /// ```
    pub fn v4(source: Ipv4Addr, group: Ipv4Addr, iif: VifId) -> Result<MfcEntry, ModelError> {
        MfcEntry::new(source.into(), group.into(), iif.into())
    }

    /// An IPv6 entry with no outbound MIFs yet.
    pub fn v6(source: Ipv6Addr, group: Ipv6Addr, iif: MifId) -> Result<MfcEntry, ModelError> {
        MfcEntry::new(source.into(), group.into(), iif.into())
    }

    /// An entry of either family; checks that the source, group and inbound interface agree
    /// and that the group is multicast and the source is not.
    pub fn new(source: IpAddr, group: IpAddr, iif: VifIndex) -> Result<MfcEntry, ModelError> {
        let family = Family::of(&group);
        if Family::of(&source) != family {
            return Err(ModelError::FamilyMismatch {
                origin: source,
                group,
            });
        }
        if !group.is_multicast() {
            return Err(ModelError::NotMulticast(group));
        }
        if source.is_multicast() {
            return Err(ModelError::MulticastSource(source));
        }
        if iif.family() != family {
            return Err(ModelError::WrongTable { index: iif, family });
        }
        if usize::from(iif.index()) >= MAX_OIFS {
            return Err(ModelError::IndexOutOfRange(iif));
        }
        Ok(MfcEntry {
            source,
            group,
            iif,
            oifs: OifSet::new(),
        })
    }

    /// Adds outbound interface `oif` with TTL threshold `ttl` (builder style).
    ///
    /// An interface of the other family is ignored; use [`MfcEntry::add_oif`] to see the error.
    pub fn with_oif(mut self, oif: impl Into<VifIndex>, ttl: u8) -> MfcEntry {
        let _ = self.add_oif(oif.into(), ttl);
        self
    }

    /// Adds outbound interface `oif` with TTL threshold `ttl`.
    pub fn add_oif(&mut self, oif: VifIndex, ttl: u8) -> Result<(), ModelError> {
        if oif.family() != self.family() {
            return Err(ModelError::WrongTable {
                index: oif,
                family: self.family(),
            });
        }
        if usize::from(oif.index()) >= MAX_OIFS {
            return Err(ModelError::IndexOutOfRange(oif));
        }
        self.oifs.set(oif.index(), ttl);
        Ok(())
    }

    /// Replaces the outbound set.
    pub fn set_oifs(&mut self, oifs: OifSet) {
        self.oifs = oifs;
    }

    /// Changes the inbound interface (it must be of the route's family).
    pub fn set_iif(&mut self, iif: VifIndex) -> Result<(), ModelError> {
        if iif.family() != self.family() {
            return Err(ModelError::WrongTable {
                index: iif,
                family: self.family(),
            });
        }
        self.iif = iif;
        Ok(())
    }

    /// The source address (S).
    pub fn source(&self) -> IpAddr {
        self.source
    }

    /// The group address (G).
    pub fn group(&self) -> IpAddr {
        self.group
    }

    /// The family of the entry.
    pub fn family(&self) -> Family {
        Family::of(&self.group)
    }

    /// The inbound interface (the kernel's `parent`).
    pub fn iif(&self) -> VifIndex {
        self.iif
    }

    /// The outbound interfaces with their TTL thresholds.
    pub fn oifs(&self) -> &OifSet {
        &self.oifs
    }

    /// The key the kernel identifies the entry by.
    pub fn key(&self) -> (IpAddr, IpAddr) {
        (self.source, self.group)
    }
}

impl fmt::Display for MfcEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {}) from {}", self.source, self.group, self.iif)
    }
}

/// Whether a source filter lists the sources to accept or the sources to refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterMode {
    /// Only the listed sources (SSM, IGMPv3/MLDv2 INCLUDE).
    Include,
    /// Every source but the listed ones (ASM is EXCLUDE with an empty list).
    Exclude,
}

/// A source filter: INCLUDE or EXCLUDE mode with a set of source prefixes, as IGMPv3/MLDv2
/// and smcroute's (S/LEN,G) rules use.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceFilter {
    mode: FilterMode,
    sources: BTreeSet<IpNet>,
}

impl SourceFilter {
    /// Any source: EXCLUDE {} (an ASM join or a (*,G) rule).
    pub fn any() -> SourceFilter {
        SourceFilter {
            mode: FilterMode::Exclude,
            sources: BTreeSet::new(),
        }
    }

    /// Only the given sources: INCLUDE {S...} (an SSM join or an (S,G) rule).
    pub fn include(sources: impl IntoIterator<Item = IpNet>) -> SourceFilter {
        SourceFilter {
            mode: FilterMode::Include,
            sources: sources.into_iter().map(|n| n.trunc()).collect(),
        }
    }

    /// Every source but the given ones: EXCLUDE {S...}.
    pub fn exclude(sources: impl IntoIterator<Item = IpNet>) -> SourceFilter {
        SourceFilter {
            mode: FilterMode::Exclude,
            sources: sources.into_iter().map(|n| n.trunc()).collect(),
        }
    }

    /// The filter mode.
    pub fn mode(&self) -> FilterMode {
        self.mode
    }

    /// The listed source prefixes.
    pub fn sources(&self) -> impl Iterator<Item = &IpNet> {
        self.sources.iter()
    }

    /// Whether this filter accepts traffic from `source`.
    pub fn accepts(&self, source: IpAddr) -> bool {
        let listed = self.sources.iter().any(|n| n.contains(&source));
        match self.mode {
            FilterMode::Include => listed,
            FilterMode::Exclude => !listed,
        }
    }

    /// Whether the filter is source-specific (INCLUDE mode), i.e. an SSM join.
    pub fn is_ssm(&self) -> bool {
        self.mode == FilterMode::Include
    }
}

/// Counters of one MFC entry (`SIOCGETSGCNT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RouteCounters {
    /// Packets forwarded by the entry.
    pub packets: u64,
    /// Bytes forwarded by the entry.
    pub bytes: u64,
    /// Packets of the flow that arrived on the wrong interface.
    pub wrong_if: u64,
}

/// Counters of one VIF or MIF (`SIOCGETVIFCNT`, `SIOCGETMIFCNT_IN6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VifCounters {
    /// Packets received on the interface for multicast routing.
    pub in_packets: u64,
    /// Packets sent out of the interface.
    pub out_packets: u64,
    /// Bytes received.
    pub in_bytes: u64,
    /// Bytes sent.
    pub out_bytes: u64,
}

/// A network interface as the platform sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// `IFF_UP`.
    pub up: bool,
    /// `IFF_MULTICAST`.
    pub multicast: bool,
    /// `IFF_LOOPBACK`.
    pub loopback: bool,
    /// `IFF_POINTOPOINT`.
    pub point_to_point: bool,
    /// The interface's addresses with their prefix lengths.
    pub addrs: Vec<IpNet>,
}

impl Interface {
    /// The first IPv4 address, if any.
    pub fn ipv4(&self) -> Option<Ipv4Addr> {
        self.addrs.iter().find_map(|a| match a.addr() {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
    }
}

/// The longest interface name Linux and the BSDs accept (`IFNAMSIZ - 1`).
pub const MAX_IFNAME_LEN: usize = 15;

/// Checks an interface name (without a wildcard `+`): not empty, at most
/// [`MAX_IFNAME_LEN`] bytes, no `/`, not starting with `#` (which would read back as a
/// comment), no white space or control characters.
pub(crate) fn check_ifname(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        Err("empty name")
    } else if name.len() > MAX_IFNAME_LEN {
        Err("longer than 15 bytes")
    } else if name.contains('/') {
        Err("contains \"/\"")
    } else if name.starts_with('#') {
        Err("starts with \"#\"")
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err("contains white space")
    } else {
        Ok(())
    }
}

/// An interface name, or an iptables-style wildcard: a name ending in `+` matches every
/// interface whose name starts with the part before the `+` (`eth+` matches `eth0`, `eth15`
/// and `ethfoo`; `+` alone matches every interface; a `+` elsewhere is a literal character).
///
/// A Linux alias name (`eth0:1`) names its base interface (`eth0`), as smcroute does.
///
/// This one type serves the smcroute.conf parser ([`crate::config::smcroute`], which builds
/// it with the validating [`IfPattern::parse`]) and the static engine
/// ([`crate::engine::static_routing`], whose rules may be built with the infallible
/// [`IfPattern::new`] and are checked by the engine's validation).
///
/// ```
/// use mcroute::model::IfPattern;
/// let p = IfPattern::parse("eth+").unwrap();
/// assert!(p.is_wildcard() && p.matches("eth15") && !p.matches("wlan0"));
/// assert_eq!(p.to_string(), "eth+");
/// assert_eq!(IfPattern::new("eth0:1"), IfPattern::new("eth0"));
/// assert!(!IfPattern::new("eth0").matches("eth01"));
/// assert_eq!(IfPattern::parse("0123456789abcdef"), Err("longer than 15 bytes"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IfPattern {
    /// Exactly this interface.
    Name(String),
    /// Every interface whose name starts with this prefix (written `prefix+`).
    Prefix(String),
}

impl IfPattern {
    /// Builds a pattern as smcroute writes it, without checking it: a trailing `+` is a
    /// wildcard, and `:alias` is cut off a name. [`IfPattern::validate`] (or the static
    /// engine's validation) reports a bad name later.
    pub fn new(text: &str) -> IfPattern {
        if let Some(prefix) = text.strip_suffix('+') {
            IfPattern::Prefix(prefix.to_string())
        } else {
            let base = text.split(':').next().unwrap_or(text);
            IfPattern::Name(base.to_string())
        }
    }

    /// Builds a pattern as [`IfPattern::new`] does and checks it; the error says what is
    /// wrong with the name (`"empty name"`, `"longer than 15 bytes"`, ...).
    pub fn parse(text: &str) -> Result<IfPattern, &'static str> {
        let p = IfPattern::new(text);
        p.validate()?;
        Ok(p)
    }

    /// Checks the name (or a wildcard's prefix): not empty (a wildcard's prefix may be), at
    /// most [`MAX_IFNAME_LEN`] bytes, no `/`, `:`, white space or control characters, not
    /// starting with `#`.
    pub fn validate(&self) -> Result<(), &'static str> {
        match self {
            IfPattern::Name(n) => check_ifname(n),
            IfPattern::Prefix(p) if p.is_empty() => Ok(()),
            IfPattern::Prefix(p) => check_ifname(p),
        }?;
        if self.name().contains(':') {
            return Err("contains \":\"");
        }
        // `a+:1` is the alias of a name `a+`, which would print as the wildcard `a+`.
        if matches!(self, IfPattern::Name(n) if n.ends_with('+')) {
            return Err("ends with \"+\" before its alias (a wildcard has no alias)");
        }
        Ok(())
    }

    /// Whether the interface `ifname` matches: equal to the name, or for a wildcard,
    /// starting with the prefix.
    pub fn matches(&self, ifname: &str) -> bool {
        match self {
            IfPattern::Name(n) => n == ifname,
            IfPattern::Prefix(p) => ifname.starts_with(p.as_str()),
        }
    }

    /// Whether this is a wildcard (written with a trailing `+`).
    pub fn is_wildcard(&self) -> bool {
        matches!(self, IfPattern::Prefix(_))
    }

    /// The name, or for a wildcard the prefix before the `+`.
    pub fn name(&self) -> &str {
        match self {
            IfPattern::Name(n) | IfPattern::Prefix(n) => n,
        }
    }

    /// The same as [`IfPattern::name`].
    pub fn text(&self) -> &str {
        self.name()
    }
}

impl fmt::Display for IfPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IfPattern::Name(n) => f.write_str(n),
            IfPattern::Prefix(p) => write!(f, "{p}+"),
        }
    }
}

impl fmt::Debug for IfPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IfPattern({self})")
    }
}

impl From<&str> for IfPattern {
    fn from(s: &str) -> Self {
        IfPattern::new(s)
    }
}

impl std::str::FromStr for IfPattern {
    type Err = std::convert::Infallible;
    /// The same as [`IfPattern::new`]: never fails.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(IfPattern::new(s))
    }
}

// ---------------------------------------------------------------------------------------------
// Hashing for the library's internal maps

/// The [`BuildHasher`](std::hash::BuildHasher) of the library's internal hash maps (routes by
/// (S,G), rules, VIFs): a multiply-rotate hash over 64-bit words with a strong final mix,
/// several times faster than the standard library's SipHash on the short keys these maps use
/// (addresses, prefixes, interface names).
///
/// Each instance is keyed with a random seed drawn from the standard library's
/// [`RandomState`](std::hash::RandomState), so the bucket of a key cannot be predicted from
/// outside the process: upcalls carry addresses that anyone on a link can choose.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastState {
    seed: u64,
}

impl Default for FastState {
    fn default() -> Self {
        use std::hash::BuildHasher;
        FastState {
            seed: std::hash::RandomState::new().hash_one(0x6d63_726f_7574_6573_u64),
        }
    }
}

impl std::hash::BuildHasher for FastState {
    type Hasher = FastHasher;

    #[inline]
    fn build_hasher(&self) -> FastHasher {
        FastHasher { state: self.seed }
    }
}

/// The hasher [`FastState`] builds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastHasher {
    state: u64,
}

/// An odd multiplier with well spread bits (2^64 divided by the golden ratio).
const FAST_MUL: u64 = 0x9e37_79b9_7f4a_7c15;

impl FastHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.state = (self.state ^ word).wrapping_mul(FAST_MUL).rotate_left(29);
    }
}

impl std::hash::Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
        // The last 1 to 7 bytes as one word, from (possibly overlapping) loads rather than a
        // copy; the length keeps "a" and "a\0" apart.
        let rest = chunks.remainder();
        let n = rest.len();
        let word = match n {
            0 => return,
            1..=3 => {
                u64::from(rest[0]) | u64::from(rest[n / 2]) << 8 | u64::from(rest[n - 1]) << 16
            }
            _ => {
                let lo = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
                let hi = u32::from_le_bytes([rest[n - 4], rest[n - 3], rest[n - 2], rest[n - 1]]);
                u64::from(lo) | u64::from(hi) << 32
            }
        };
        self.mix(word ^ ((n as u64) << 59));
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }

    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.mix(i as u64);
        self.mix((i >> 64) as u64);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // A full avalanche (the 64-bit finaliser of MurmurHash3), so that the low bits the
        // table indexes with depend on every input bit.
        let mut x = self.state;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }
}

/// A [`HashMap`](std::collections::HashMap) with the [`FastState`] hasher.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, FastState>;
/// A [`HashSet`](std::collections::HashSet) with the [`FastState`] hasher.
pub(crate) type FastSet<K> = std::collections::HashSet<K, FastState>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_hasher_spreads_and_is_keyed() {
        use std::hash::BuildHasher;
        let a = FastState::default();
        let b = FastState::default();
        let k: (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "225.1.2.3".parse().unwrap());
        assert_eq!(a.hash_one(k), a.hash_one(k));
        assert_ne!(a.hash_one(k), b.hash_one(k));
        assert_ne!(a.hash_one("a"), a.hash_one("a\0"));
        // Keys that differ in one high bit land in different low bits.
        let low = |h: u64| h & 0xffff;
        let mut seen = std::collections::HashSet::new();
        for i in 0..256u32 {
            let g = IpAddr::V4(Ipv4Addr::from(0xe100_0000 | (i << 16)));
            seen.insert(low(a.hash_one((k.0, g))));
        }
        assert!(seen.len() > 250);
        let mut m: FastMap<(IpAddr, IpAddr), u32> = FastMap::default();
        m.insert(k, 1);
        assert_eq!(m.get(&k), Some(&1));
    }

    #[test]
    fn oifset_basics() {
        let mut s = OifSet::new();
        assert!(s.is_empty());
        s.set(3, 1);
        s.set(0, 5);
        s.set(200, 1); // ignored: out of range
        assert_eq!(s.len(), 2);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(0, 5), (3, 1)]);
        s.set(3, 255);
        assert!(!s.contains(3));
        s.remove(0);
        assert!(s.is_empty());
    }

    #[test]
    fn mfc_entry_validation() {
        let s4: IpAddr = "192.0.2.1".parse().unwrap();
        let g4: IpAddr = "225.1.2.3".parse().unwrap();
        let g6: IpAddr = "ff0e::1".parse().unwrap();
        assert!(MfcEntry::new(s4, g4, VifId(0).into()).is_ok());
        assert_eq!(
            MfcEntry::new(s4, g6, VifId(0).into()),
            Err(ModelError::FamilyMismatch {
                origin: s4,
                group: g6
            })
        );
        assert_eq!(
            MfcEntry::new(s4, s4, VifId(0).into()),
            Err(ModelError::NotMulticast(s4))
        );
        assert_eq!(
            MfcEntry::new(g4, g4, VifId(0).into()),
            Err(ModelError::MulticastSource(g4))
        );
        assert!(matches!(
            MfcEntry::new(s4, g4, MifId(0).into()),
            Err(ModelError::WrongTable { .. })
        ));
        let mut e = MfcEntry::new(s4, g4, VifId(0).into()).unwrap();
        assert!(e.add_oif(MifId(1).into(), 1).is_err());
        assert!(e.add_oif(VifId(70).into(), 1).is_err());
        e.add_oif(VifId(2).into(), 3).unwrap();
        assert_eq!(e.oifs().get(2), Some(3));
    }

    #[test]
    fn source_filter_modes() {
        let any = SourceFilter::any();
        assert!(any.accepts("192.0.2.1".parse().unwrap()));
        assert!(!any.is_ssm());
        let inc = SourceFilter::include(["192.0.2.0/24".parse().unwrap()]);
        assert!(inc.is_ssm());
        assert!(inc.accepts("192.0.2.77".parse().unwrap()));
        assert!(!inc.accepts("198.51.100.1".parse().unwrap()));
        let exc = SourceFilter::exclude(["192.0.2.7/32".parse().unwrap()]);
        assert!(!exc.accepts("192.0.2.7".parse().unwrap()));
        assert!(exc.accepts("192.0.2.8".parse().unwrap()));
    }

    #[test]
    fn if_pattern() {
        let p = IfPattern::parse("eth+").unwrap();
        assert!(p.matches("eth0") && p.matches("ethfoo") && !p.matches("et"));
        assert_eq!(IfPattern::parse("+").unwrap().name(), "");
        assert!(IfPattern::parse("+").unwrap().matches(""));
        let mid = IfPattern::parse("e+th").unwrap();
        assert!(!mid.is_wildcard() && mid.matches("e+th"));
        assert_eq!(IfPattern::parse("eth0:1").unwrap(), IfPattern::new("eth0"));
        assert_eq!(IfPattern::parse(""), Err("empty name"));
        assert_eq!(IfPattern::parse(":1"), Err("empty name"));
        assert_eq!(IfPattern::parse("eth0:+"), Err("contains \":\""));
        assert_eq!(IfPattern::parse("a/b"), Err("contains \"/\""));
        assert_eq!(IfPattern::parse("#a"), Err("starts with \"#\""));
        assert_eq!(IfPattern::parse("a b"), Err("contains white space"));
        assert_eq!(IfPattern::parse("a\u{1}"), Err("contains white space"));
        assert!(IfPattern::parse("0123456789abcde+").is_ok());
        assert_eq!(
            IfPattern::parse("0123456789abcdef"),
            Err("longer than 15 bytes")
        );
        assert_eq!(format!("{:?}", IfPattern::new("a+")), "IfPattern(a+)");
    }
}
