//! DVMRP messages (draft-ietf-idmr-dvmrp-v3-11 section 3, IGMP type 0x13).
//!
//! Every message starts with the 8-byte header of section 3.1:
//!
//! ```text
//!  0               1               2               3
//! +---------------+---------------+-------------------------------+
//! |  Type (0x13)  |     Code      |           Checksum            |
//! +---------------+---------------+---------------+---------------+
//! |   Reserved    | Capabilities  | Minor Version | Major Version |
//! +---------------+---------------+---------------+---------------+
//! ```
//!
//! mrouted puts capabilities 0x0e (prune, generation id, mtrace; plus 0x01 leaf when it has
//! a single VIF with neighbours), minor version 0xff and major version 3 there (its
//! `MROUTED_LEVEL`, 0x000eff03 written in network order into the IGMP group field).

use std::net::Ipv4Addr;

use bitflags::bitflags;
use ipnet::Ipv4Net;

use super::{addr_at, check_len, fill_checksum, u16_at, u32_at, WireError};

/// The IGMP type of every DVMRP message.
pub const IGMP_TYPE_DVMRP: u8 = 0x13;
/// Length of the DVMRP header (section 3.1).
pub const HEADER_LEN: usize = 8;
/// The major version this codec speaks (section 3.1: 3).
pub const MAJOR_VERSION: u8 = 3;
/// The minor version compliant implementations send (section 3.1: 0xFF).
pub const MINOR_VERSION: u8 = 0xff;
/// Bit of a report's metric byte that ends a mask block (section 3.3.4 of the draft, and
/// mrouted's `dvmrp.h`).
pub const END_OF_BLOCK: u8 = 0x80;
/// The largest DVMRP message mrouted sends: 576-byte datagrams less a 60-byte IP header
/// (mrouted's `MAX_DVMRP_DATA_LEN` plus the 8-byte header).
pub const MAX_MESSAGE_LEN: usize = 576 - 60;

/// Message codes (section 3.1, table 1).
pub mod code {
    /// Neighbour discovery (section 3.2).
    pub const PROBE: u8 = 1;
    /// Route exchange (section 3.3).
    pub const REPORT: u8 = 2;
    /// Old-style neighbour request (mrinfo, obsolete).
    pub const ASK_NEIGHBORS: u8 = 3;
    /// Old-style neighbour reply (obsolete).
    pub const NEIGHBORS: u8 = 4;
    /// Neighbour request (mrinfo).
    pub const ASK_NEIGHBORS2: u8 = 5;
    /// Neighbour reply.
    pub const NEIGHBORS2: u8 = 6;
    /// Prune (section 3.5).
    pub const PRUNE: u8 = 7;
    /// Graft (section 3.6).
    pub const GRAFT: u8 = 8;
    /// Graft acknowledgement (section 3.6).
    pub const GRAFT_ACK: u8 = 9;
    /// Information request.
    pub const INFO_REQUEST: u8 = 10;
    /// Information reply.
    pub const INFO_REPLY: u8 = 11;
}

bitflags! {
    /// The capabilities byte of the header (section 3.2, and mrouted's later additions).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Capabilities: u8 {
        /// The sender is a leaf router (one VIF with neighbours).
        const LEAF = 0x01;
        /// The sender understands prunes.
        const PRUNE = 0x02;
        /// The sender sends generation ids in probes.
        const GENID = 0x04;
        /// The sender answers mtrace requests.
        const MTRACE = 0x08;
        /// The sender has an SNMP agent (mrouted 3.8).
        const SNMP = 0x10;
        /// The sender accepts and sends source masks in prunes and grafts (mrouted 3.9).
        const NETMASK = 0x20;
    }
}

impl Capabilities {
    /// What mrouted 3.9 and later put in their messages (0x0e).
    pub const MROUTED: Capabilities = Capabilities::PRUNE
        .union(Capabilities::GENID)
        .union(Capabilities::MTRACE);
}

/// A zero-copy view of a DVMRP message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking (accessors of missing fields return zero).
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after checking it holds the header and is of IGMP type 0x13.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, WireError> {
        let p = Packet::new_unchecked(buffer);
        check_len(p.buffer.as_ref(), HEADER_LEN)?;
        if p.msg_type() != IGMP_TYPE_DVMRP {
            return Err(WireError::UnknownType(p.msg_type()));
        }
        Ok(p)
    }

    /// The IGMP type (0x13).
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref().first().copied().unwrap_or(0)
    }

    /// The DVMRP code.
    pub fn code(&self) -> u8 {
        self.buffer.as_ref().get(1).copied().unwrap_or(0)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        u16_at(self.buffer.as_ref(), 2)
    }

    /// The capabilities byte (unknown bits kept).
    pub fn capabilities(&self) -> Capabilities {
        Capabilities::from_bits_retain(self.buffer.as_ref().get(5).copied().unwrap_or(0))
    }

    /// The minor version byte.
    pub fn minor_version(&self) -> u8 {
        self.buffer.as_ref().get(6).copied().unwrap_or(0)
    }

    /// The major version byte.
    pub fn major_version(&self) -> u8 {
        self.buffer.as_ref().get(7).copied().unwrap_or(0)
    }

    /// The bytes after the header.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(HEADER_LEN..).unwrap_or(&[])
    }

    /// Whether the IGMP checksum over the whole message is correct.
    pub fn verify_checksum(&self) -> bool {
        super::checksum::verify(self.buffer.as_ref())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

/// One route of a report: an origin subnet and the sender's metric to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReportRoute {
    /// The origin subnet (prefix length 0 or 8..=32: the format cannot carry 1..=7).
    pub origin: Ipv4Net,
    /// The metric (7 bits): 1..=31 reachable, 32 unreachable, 33..=63 poisoned reverse.
    pub metric: u8,
}

impl ReportRoute {
    /// Whether the report format can carry this origin (prefix length 0 or 8..=32, no host
    /// bits) and metric (below 128).
    pub fn is_encodable(&self) -> bool {
        let l = self.origin.prefix_len();
        // 0.0.0.0/8 would read back as the default route.
        let zero_eight = l == 8 && self.origin.addr().is_unspecified();
        (l == 0 || l >= 8)
            && !zero_eight
            && self.origin.trunc() == self.origin
            && self.metric < 0x80
    }

    /// Bytes of the origin on the wire: one per significant octet of the mask.
    fn origin_width(&self) -> usize {
        usize::from(self.origin.prefix_len().div_ceil(8).max(1))
    }
}

/// Flags of a [`NeighborBlock`] (mrouted's `DVMRP_NF_*`).
pub mod neighbor_flags {
    /// The neighbours are reached through a tunnel.
    pub const TUNNEL: u8 = 0x01;
    /// The tunnel uses IP source routing.
    pub const SRCRT: u8 = 0x02;
    /// The neighbour is a PIM router.
    pub const PIM: u8 = 0x04;
    /// The interface is down.
    pub const DOWN: u8 = 0x10;
    /// The interface is administratively disabled.
    pub const DISABLED: u8 = 0x20;
    /// The sender is the IGMP querier on the interface.
    pub const QUERIER: u8 = 0x40;
    /// The interface is a leaf: no DVMRP router there.
    pub const LEAF: u8 = 0x80;
}

/// One block of a neighbours reply: the sender's interface and its neighbours there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighborBlock {
    /// The sender's local address on the interface.
    pub local: Ipv4Addr,
    /// The interface's metric.
    pub metric: u8,
    /// The interface's TTL threshold.
    pub threshold: u8,
    /// Flags (`DVMRP_NF_*` of mrouted; not sent in the old-style reply).
    pub flags: u8,
    /// The neighbours.
    pub neighbors: Vec<Ipv4Addr>,
}

/// The body of a DVMRP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Probe (section 3.2): generation id and the neighbours heard on the interface.
    Probe {
        /// The sender's generation id: a change means it restarted.
        generation_id: u32,
        /// The neighbours the sender has heard on this interface.
        neighbors: Vec<Ipv4Addr>,
    },
    /// Route report (section 3.3).
    Report {
        /// The routes, in wire order.
        routes: Vec<ReportRoute>,
    },
    /// Old-style neighbour request.
    AskNeighbors,
    /// Old-style neighbour reply (blocks without flags).
    Neighbors {
        /// The blocks.
        blocks: Vec<NeighborBlock>,
    },
    /// Neighbour request (mrinfo).
    AskNeighbors2,
    /// Neighbour reply.
    Neighbors2 {
        /// The blocks.
        blocks: Vec<NeighborBlock>,
    },
    /// Prune (section 3.5).
    Prune {
        /// The source whose traffic to prune.
        source: Ipv4Addr,
        /// The group.
        group: Ipv4Addr,
        /// Prune lifetime in seconds.
        lifetime: u32,
        /// Source prefix length, when the optional netmask is present.
        source_prefix: Option<u8>,
    },
    /// Graft (section 3.6).
    Graft {
        /// The source.
        source: Ipv4Addr,
        /// The group.
        group: Ipv4Addr,
        /// Source prefix length, when the optional netmask is present.
        source_prefix: Option<u8>,
    },
    /// Graft acknowledgement (section 3.6).
    GraftAck {
        /// The source.
        source: Ipv4Addr,
        /// The group.
        group: Ipv4Addr,
        /// Source prefix length, when the optional netmask is present.
        source_prefix: Option<u8>,
    },
    /// Information request or reply (codes 10 and 11): kept undecoded.
    Info {
        /// The code (10 or 11).
        code: u8,
        /// The body.
        data: Vec<u8>,
    },
}

impl Body {
    /// The DVMRP code of this body.
    pub fn code(&self) -> u8 {
        match self {
            Body::Probe { .. } => code::PROBE,
            Body::Report { .. } => code::REPORT,
            Body::AskNeighbors => code::ASK_NEIGHBORS,
            Body::Neighbors { .. } => code::NEIGHBORS,
            Body::AskNeighbors2 => code::ASK_NEIGHBORS2,
            Body::Neighbors2 { .. } => code::NEIGHBORS2,
            Body::Prune { .. } => code::PRUNE,
            Body::Graft { .. } => code::GRAFT,
            Body::GraftAck { .. } => code::GRAFT_ACK,
            Body::Info { code, .. } => *code,
        }
    }
}

/// A validated DVMRP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr {
    /// The sender's capabilities.
    pub capabilities: Capabilities,
    /// Minor version (0xff from version 3 implementations).
    pub minor: u8,
    /// Major version (3).
    pub major: u8,
    /// The message.
    pub body: Body,
}

fn mask_to_prefix(mask: u32) -> Option<u8> {
    let inv = !mask;
    if inv & inv.wrapping_add(1) == 0 {
        Some(mask.leading_ones() as u8)
    } else {
        None
    }
}

fn prefix_to_mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    }
}

fn parse_report(b: &[u8]) -> Result<Vec<ReportRoute>, WireError> {
    let mut routes = Vec::new();
    let mut at = 0;
    while at < b.len() {
        // A block: 3 low-order bytes of the mask (the first octet is always 255).
        check_len(b, at + 3)?;
        let mask = 0xff00_0000 | u32::from_be_bytes([0, b[at], b[at + 1], b[at + 2]]);
        let len = mask_to_prefix(mask).ok_or(WireError::Malformed("non-contiguous mask"))?;
        at += 3;
        let width = usize::from(len.div_ceil(8));
        loop {
            check_len(b, at + width + 1)?;
            let mut o = [0u8; 4];
            o[..width].copy_from_slice(&b[at..at + width]);
            let metric_byte = b[at + width];
            at += width + 1;
            let origin = u32::from_be_bytes(o);
            // A mask of 00 00 00 with origin 0 is the default route (mrouted).
            let plen = if len == 8 && origin == 0 { 0 } else { len };
            if origin & !prefix_to_mask(plen) != 0 {
                return Err(WireError::Malformed("origin has bits outside its mask"));
            }
            let origin = Ipv4Net::new(Ipv4Addr::from(origin), plen)
                .map_err(|_| WireError::Malformed("bad prefix"))?;
            routes.push(ReportRoute {
                origin,
                metric: metric_byte & !END_OF_BLOCK,
            });
            if metric_byte & END_OF_BLOCK != 0 {
                break;
            }
        }
    }
    Ok(routes)
}

fn parse_neighbors(b: &[u8], with_flags: bool) -> Result<Vec<NeighborBlock>, WireError> {
    let fixed = if with_flags { 8 } else { 7 };
    let mut blocks = Vec::new();
    let mut at = 0;
    while at < b.len() {
        check_len(b, at + fixed)?;
        let n = usize::from(b[at + fixed - 1]);
        check_len(b, at + fixed + 4 * n)?;
        blocks.push(NeighborBlock {
            local: addr_at(b, at),
            metric: b[at + 4],
            threshold: b[at + 5],
            flags: if with_flags { b[at + 6] } else { 0 },
            neighbors: (0..n).map(|i| addr_at(b, at + fixed + 4 * i)).collect(),
        });
        at += fixed + 4 * n;
    }
    Ok(blocks)
}

/// Parses source, group and the optional mask of prunes and grafts.
fn parse_sg(b: &[u8], fixed: usize) -> Result<(Ipv4Addr, Ipv4Addr, Option<u8>), WireError> {
    check_len(b, fixed)?;
    let mask = match b.len() - fixed {
        0 => None,
        4 => Some(
            mask_to_prefix(u32_at(b, fixed))
                .ok_or(WireError::Malformed("non-contiguous source mask"))?,
        ),
        _ => return Err(WireError::Malformed("trailing bytes")),
    };
    Ok((addr_at(b, 0), addr_at(b, 4), mask))
}

impl Repr {
    /// A message with mrouted's header values: capabilities 0x0e, version 3.255.
    pub fn new(body: Body) -> Repr {
        Repr {
            capabilities: Capabilities::MROUTED,
            minor: MINOR_VERSION,
            major: MAJOR_VERSION,
            body,
        }
    }

    /// Parses and validates a DVMRP message (the whole IGMP message), checksum included.
    pub fn parse(bytes: &[u8]) -> Result<Repr, WireError> {
        let p = Packet::new_checked(bytes)?;
        if !p.verify_checksum() {
            return Err(WireError::BadChecksum);
        }
        let b = p.payload();
        let body = match p.code() {
            code::PROBE => {
                check_len(b, 4)?;
                if (b.len() - 4) % 4 != 0 {
                    return Err(WireError::Malformed("probe neighbour list not 4-aligned"));
                }
                Body::Probe {
                    generation_id: u32_at(b, 0),
                    neighbors: (4..b.len()).step_by(4).map(|i| addr_at(b, i)).collect(),
                }
            }
            code::REPORT => Body::Report {
                routes: parse_report(b)?,
            },
            code::ASK_NEIGHBORS => Body::AskNeighbors,
            code::ASK_NEIGHBORS2 => Body::AskNeighbors2,
            code::NEIGHBORS => Body::Neighbors {
                blocks: parse_neighbors(b, false)?,
            },
            code::NEIGHBORS2 => Body::Neighbors2 {
                blocks: parse_neighbors(b, true)?,
            },
            code::PRUNE => {
                check_len(b, 12)?;
                let lifetime = u32_at(b, 8);
                let mut without_lifetime = b[..8].to_vec();
                without_lifetime.extend_from_slice(&b[12..]);
                let (source, group, source_prefix) = parse_sg(&without_lifetime, 8)?;
                Body::Prune {
                    source,
                    group,
                    lifetime,
                    source_prefix,
                }
            }
            code::GRAFT | code::GRAFT_ACK => {
                let (source, group, source_prefix) = parse_sg(b, 8)?;
                if p.code() == code::GRAFT {
                    Body::Graft {
                        source,
                        group,
                        source_prefix,
                    }
                } else {
                    Body::GraftAck {
                        source,
                        group,
                        source_prefix,
                    }
                }
            }
            c @ (code::INFO_REQUEST | code::INFO_REPLY) => Body::Info {
                code: c,
                data: b.to_vec(),
            },
            c => return Err(WireError::UnknownCode(c)),
        };
        Ok(Repr {
            capabilities: p.capabilities(),
            minor: p.minor_version(),
            major: p.major_version(),
            body,
        })
    }

    fn body_len(&self) -> usize {
        match &self.body {
            Body::Probe { neighbors, .. } => 4 + 4 * neighbors.len(),
            Body::Report { routes } => {
                let mut len = 0;
                let mut prev: Option<u8> = None;
                for r in routes {
                    let l = r.origin.prefix_len();
                    if prev != Some(l) {
                        len += 3;
                        prev = Some(l);
                    }
                    len += r.origin_width() + 1;
                }
                len
            }
            Body::AskNeighbors | Body::AskNeighbors2 => 0,
            Body::Neighbors { blocks } => blocks.iter().map(|b| 7 + 4 * b.neighbors.len()).sum(),
            Body::Neighbors2 { blocks } => blocks.iter().map(|b| 8 + 4 * b.neighbors.len()).sum(),
            Body::Prune { source_prefix, .. } => 12 + if source_prefix.is_some() { 4 } else { 0 },
            Body::Graft { source_prefix, .. } | Body::GraftAck { source_prefix, .. } => {
                8 + if source_prefix.is_some() { 4 } else { 0 }
            }
            Body::Info { data, .. } => data.len(),
        }
    }

    /// The length of the emitted message, header included.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.body_len()
    }

    /// Writes the message (checksum included) at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = self.buffer_len();
        if buf.len() < len {
            return Err(WireError::Unencodable("buffer too small"));
        }
        let out = &mut buf[..len];
        out.fill(0);
        out[0] = IGMP_TYPE_DVMRP;
        out[1] = self.body.code();
        out[5] = self.capabilities.bits();
        out[6] = self.minor;
        out[7] = self.major;
        let b = &mut out[HEADER_LEN..];
        match &self.body {
            Body::Probe {
                generation_id,
                neighbors,
            } => {
                b[..4].copy_from_slice(&generation_id.to_be_bytes());
                for (i, n) in neighbors.iter().enumerate() {
                    put(b, 4 + 4 * i, *n);
                }
            }
            Body::Report { routes } => emit_report(routes, b)?,
            Body::AskNeighbors | Body::AskNeighbors2 => {}
            Body::Neighbors { blocks } => emit_neighbors(blocks, false, b)?,
            Body::Neighbors2 { blocks } => emit_neighbors(blocks, true, b)?,
            Body::Prune {
                source,
                group,
                lifetime,
                source_prefix,
            } => {
                put(b, 0, *source);
                put(b, 4, *group);
                b[8..12].copy_from_slice(&lifetime.to_be_bytes());
                put_mask(b, 12, *source_prefix)?;
            }
            Body::Graft {
                source,
                group,
                source_prefix,
            }
            | Body::GraftAck {
                source,
                group,
                source_prefix,
            } => {
                put(b, 0, *source);
                put(b, 4, *group);
                put_mask(b, 8, *source_prefix)?;
            }
            Body::Info { code: c, data } => {
                if !matches!(*c, code::INFO_REQUEST | code::INFO_REPLY) {
                    return Err(WireError::UnknownCode(*c));
                }
                b.copy_from_slice(data);
            }
        }
        fill_checksum(out);
        Ok(len)
    }

    /// The emitted message as a new vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut v = vec![0; self.buffer_len()];
        self.emit(&mut v)?;
        Ok(v)
    }
}

/// Writes `a` at `b[at..at + 4]` (the caller sized `b` with [`Repr::buffer_len`]).
fn put(b: &mut [u8], at: usize, a: Ipv4Addr) {
    b[at..at + 4].copy_from_slice(&a.octets());
}

/// Writes the mask of prefix length `p`, if any, at `b[at..at + 4]`.
fn put_mask(b: &mut [u8], at: usize, p: Option<u8>) -> Result<(), WireError> {
    if let Some(l) = p {
        if l > 32 {
            return Err(WireError::Unencodable("prefix length above 32"));
        }
        b[at..at + 4].copy_from_slice(&prefix_to_mask(l).to_be_bytes());
    }
    Ok(())
}

/// The body of a report: routes grouped in blocks of one mask, each origin in as few bytes
/// as its prefix needs, the last of a block flagged.
fn emit_report(routes: &[ReportRoute], b: &mut [u8]) -> Result<(), WireError> {
    let mut at = 0;
    for (i, r) in routes.iter().enumerate() {
        if !r.is_encodable() {
            return Err(WireError::Unencodable(
                "route prefix length 1..=7, host bits, or metric above 127",
            ));
        }
        let l = r.origin.prefix_len();
        let first = i == 0 || routes[i - 1].origin.prefix_len() != l;
        let last = routes.get(i + 1).map(|n| n.origin.prefix_len()) != Some(l);
        if first {
            // The default route goes in a 00 00 00 block, like a /8.
            let m = prefix_to_mask(l.max(8)).to_be_bytes();
            b[at..at + 3].copy_from_slice(&m[1..]);
            at += 3;
        }
        let w = r.origin_width();
        b[at..at + w].copy_from_slice(&r.origin.addr().octets()[..w]);
        b[at + w] = r.metric | if last { END_OF_BLOCK } else { 0 };
        at += w + 1;
    }
    Ok(())
}

/// The body of a Neighbors (or, with `flags`, Neighbors2) reply.
fn emit_neighbors(blocks: &[NeighborBlock], flags: bool, b: &mut [u8]) -> Result<(), WireError> {
    let mut at = 0;
    for blk in blocks {
        let n = u8::try_from(blk.neighbors.len())
            .map_err(|_| WireError::Unencodable("more than 255 neighbours"))?;
        put(b, at, blk.local);
        b[at + 4] = blk.metric;
        b[at + 5] = blk.threshold;
        at += 6;
        if flags {
            b[at] = blk.flags;
            at += 1;
        }
        b[at] = n;
        at += 1;
        for a in &blk.neighbors {
            put(b, at, *a);
            at += 4;
        }
    }
    Ok(())
}

/// Encodes `routes` as report messages of at most `max_len` bytes each (header included),
/// as section 3.3 and mrouted do: routes sorted by mask then origin, a block per mask,
/// a block split across messages repeating its mask when a message is full.
///
/// Routes the format cannot carry (see [`ReportRoute::is_encodable`]) are skipped.
/// `max_len` below 16 (header, a mask, the largest origin and its metric) is an error.
///
/// ```
/// use mcroute::wire::dvmrp::{report_messages, Capabilities, Repr, Body, ReportRoute};
/// let routes: Vec<ReportRoute> = (0..200u32)
///     .map(|i| ReportRoute { origin: format!("198.18.{}.0/24", i).parse().unwrap(), metric: 1 })
///     .collect();
/// let msgs = report_messages(Capabilities::MROUTED, &routes, 516).unwrap();
/// assert!(msgs.len() > 1 && msgs.iter().all(|m| m.len() <= 516));
/// let back: usize = msgs.iter().map(|m| match Repr::parse(m).unwrap().body {
///     Body::Report { routes } => routes.len(), _ => 0 }).sum();
/// assert_eq!(back, 200);
/// ```
pub fn report_messages(
    capabilities: Capabilities,
    routes: &[ReportRoute],
    max_len: usize,
) -> Result<Vec<Vec<u8>>, WireError> {
    if max_len < HEADER_LEN + 3 + 5 {
        return Err(WireError::Unencodable("report budget too small"));
    }
    let mut sorted: Vec<ReportRoute> = routes
        .iter()
        .copied()
        .filter(ReportRoute::is_encodable)
        .collect();
    sorted.sort_by_key(|r| (r.origin.prefix_len(), u32::from(r.origin.addr())));
    sorted.dedup_by_key(|r| r.origin);
    let mut out = Vec::new();
    let mut current: Vec<ReportRoute> = Vec::new();
    let mut len = HEADER_LEN;
    let mut prev_len: Option<u8> = None;
    for r in sorted {
        let l = r.origin.prefix_len();
        let cost = r.origin_width() + 1 + if prev_len != Some(l) { 3 } else { 0 };
        if len + cost > max_len {
            let repr = Repr {
                capabilities,
                minor: MINOR_VERSION,
                major: MAJOR_VERSION,
                body: Body::Report {
                    routes: std::mem::take(&mut current),
                },
            };
            out.push(repr.to_bytes()?);
            len = HEADER_LEN;
            prev_len = None;
        }
        len += r.origin_width() + 1 + if prev_len != Some(l) { 3 } else { 0 };
        prev_len = Some(l);
        current.push(r);
    }
    if !current.is_empty() {
        let repr = Repr {
            capabilities,
            minor: MINOR_VERSION,
            major: MAJOR_VERSION,
            body: Body::Report { routes: current },
        };
        out.push(repr.to_bytes()?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }
    fn n(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn golden_probe() {
        let mut bytes = vec![
            0x13, 0x01, 0, 0, // type DVMRP, code probe, checksum (below)
            0x00, 0x0e, 0xff, 0x03, // reserved, caps prune|genid|mtrace, minor 0xff, major 3
            0x12, 0x34, 0x56, 0x78, // generation id
            192, 0, 2, 2, // neighbour 192.0.2.2
        ];
        fill_checksum(&mut bytes);
        let r = Repr::parse(&bytes).unwrap();
        assert_eq!(
            r,
            Repr::new(Body::Probe {
                generation_id: 0x1234_5678,
                neighbors: vec![a("192.0.2.2")]
            })
        );
        assert_eq!(r.to_bytes().unwrap(), bytes);
        bytes[9] ^= 1;
        assert_eq!(Repr::parse(&bytes), Err(WireError::BadChecksum));
    }

    #[test]
    fn golden_report() {
        let mut bytes = vec![
            0x13, 0x02, 0, 0, 0x00, 0x0e, 0xff, 0x03, // header, code 2 report
            0x00, 0x00, 0x00, // mask 255.0.0.0 block (here: the default route)
            0x00, 0x81, // origin 0 (default route), metric 1 | end of block
            0xff, 0xff, 0x00, // mask 255.255.255.0
            198, 51, 100, 0x02, // origin 198.51.100.0/24, metric 2
            203, 0, 113, 0xa1, // origin 203.0.113.0/24, metric 33 (poisoned) | end
            0xff, 0xff, 0xf0, // mask 255.255.255.240
            192, 0, 2, 16, 0x9f, // origin 192.0.2.16/28, metric 31 | end
        ];
        fill_checksum(&mut bytes);
        let r = Repr::parse(&bytes).unwrap();
        let want = vec![
            ReportRoute {
                origin: n("0.0.0.0/0"),
                metric: 1,
            },
            ReportRoute {
                origin: n("198.51.100.0/24"),
                metric: 2,
            },
            ReportRoute {
                origin: n("203.0.113.0/24"),
                metric: 33,
            },
            ReportRoute {
                origin: n("192.0.2.16/28"),
                metric: 31,
            },
        ];
        assert_eq!(
            r.body,
            Body::Report {
                routes: want.clone()
            }
        );
        assert_eq!(r.to_bytes().unwrap(), bytes);
        // A /8 origin is one byte with a 00 00 00 mask.
        let eight = Repr::new(Body::Report {
            routes: vec![ReportRoute {
                origin: n("10.0.0.0/8"),
                metric: 3,
            }],
        })
        .to_bytes()
        .unwrap();
        assert_eq!(&eight[8..], &[0, 0, 0, 10, 0x83]);
    }

    #[test]
    fn golden_prune_graft() {
        let mut bytes = vec![
            0x13, 0x07, 0, 0, 0x00, 0x0e, 0xff, 0x03, // header, code 7 prune
            192, 0, 2, 10, // source
            225, 1, 2, 3, // group
            0, 0, 0x1c, 0x20, // lifetime 7200 s
            255, 255, 255, 0, // optional source mask /24
        ];
        fill_checksum(&mut bytes);
        let r = Repr::parse(&bytes).unwrap();
        assert_eq!(
            r.body,
            Body::Prune {
                source: a("192.0.2.10"),
                group: a("225.1.2.3"),
                lifetime: 7200,
                source_prefix: Some(24)
            }
        );
        assert_eq!(r.to_bytes().unwrap(), bytes);
        let mut graft = vec![
            0x13, 0x08, 0, 0, 0x00, 0x0e, 0xff, 0x03, // header, code 8 graft
            192, 0, 2, 10, 225, 1, 2, 3, // source, group
        ];
        fill_checksum(&mut graft);
        assert_eq!(
            Repr::parse(&graft).unwrap().body,
            Body::Graft {
                source: a("192.0.2.10"),
                group: a("225.1.2.3"),
                source_prefix: None
            }
        );
        graft.push(0);
        fill_checksum(&mut graft);
        assert_eq!(
            Repr::parse(&graft),
            Err(WireError::Malformed("trailing bytes"))
        );
    }

    #[test]
    fn rejects_hostile_input() {
        let mut unknown = vec![0x13, 42, 0, 0, 0, 0x0e, 0xff, 3];
        fill_checksum(&mut unknown);
        assert_eq!(Repr::parse(&unknown), Err(WireError::UnknownCode(42)));
        // A report block that never ends.
        let mut open = vec![
            0x13, 2, 0, 0, 0, 0x0e, 0xff, 3, 0xff, 0xff, 0, 198, 51, 100, 1,
        ];
        fill_checksum(&mut open);
        assert!(matches!(
            Repr::parse(&open),
            Err(WireError::Truncated { .. })
        ));
        // A non-contiguous mask.
        let mut holes = vec![
            0x13, 2, 0, 0, 0, 0x0e, 0xff, 3, 0x00, 0xff, 0, 198, 51, 100, 0x81,
        ];
        fill_checksum(&mut holes);
        assert_eq!(
            Repr::parse(&holes),
            Err(WireError::Malformed("non-contiguous mask"))
        );
        // Report bodies are not walked past the header of an IGMP query.
        assert_eq!(
            Repr::parse(&[0x11, 0, 0, 0, 0, 0, 0, 0]),
            Err(WireError::UnknownType(0x11))
        );
    }

    #[test]
    fn report_split_respects_budget() {
        let routes: Vec<ReportRoute> = (0..300u32)
            .map(|i| ReportRoute {
                origin: Ipv4Net::new(Ipv4Addr::from(0xc612_0000 + (i << 8)), 24).unwrap(),
                metric: (i % 31 + 1) as u8,
            })
            .chain((0..20u32).map(|i| ReportRoute {
                origin: Ipv4Net::new(Ipv4Addr::from(0xc612_0000 + (i << 4)), 28).unwrap(),
                metric: 2,
            }))
            .collect();
        let msgs = report_messages(Capabilities::MROUTED, &routes, 100).unwrap();
        let mut back = Vec::new();
        for m in &msgs {
            assert!(m.len() <= 100);
            let Body::Report { routes } = Repr::parse(m).unwrap().body else {
                panic!()
            };
            back.extend(routes);
        }
        let mut want = routes.clone();
        want.sort_by_key(|r| (r.origin.prefix_len(), u32::from(r.origin.addr())));
        assert_eq!(back, want);
        // 8 header + 3 mask + 4 per /24 route: 22 routes fit in 100 bytes.
        assert_eq!(msgs[0].len(), 8 + 3 + 22 * 4);
        assert!(report_messages(Capabilities::MROUTED, &routes, 10).is_err());
    }

    fn arb_route() -> impl Strategy<Value = ReportRoute> {
        (any::<u32>(), prop_oneof![Just(0u8), 8u8..=32], 0u8..128)
            .prop_map(|(a, l, m)| ReportRoute {
                origin: Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc(),
                metric: m,
            })
            .prop_filter("encodable", ReportRoute::is_encodable)
    }

    fn arb_addr() -> impl Strategy<Value = Ipv4Addr> {
        any::<u32>().prop_map(Ipv4Addr::from)
    }

    fn arb_body() -> impl Strategy<Value = Body> {
        let block = (
            arb_addr(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            prop::collection::vec(arb_addr(), 0..4),
        )
            .prop_map(
                |(local, metric, threshold, flags, neighbors)| NeighborBlock {
                    local,
                    metric,
                    threshold,
                    flags,
                    neighbors,
                },
            );
        prop_oneof![
            (any::<u32>(), prop::collection::vec(arb_addr(), 0..6)).prop_map(|(g, n)| {
                Body::Probe {
                    generation_id: g,
                    neighbors: n,
                }
            }),
            prop::collection::vec(arb_route(), 0..40).prop_map(|routes| Body::Report { routes }),
            Just(Body::AskNeighbors2),
            prop::collection::vec(block, 0..3).prop_map(|blocks| Body::Neighbors2 { blocks }),
            (
                arb_addr(),
                arb_addr(),
                any::<u32>(),
                prop::option::of(0u8..=32)
            )
                .prop_map(|(source, group, lifetime, source_prefix)| Body::Prune {
                    source,
                    group,
                    lifetime,
                    source_prefix
                }),
            (arb_addr(), arb_addr(), prop::option::of(0u8..=32)).prop_map(
                |(source, group, source_prefix)| Body::Graft {
                    source,
                    group,
                    source_prefix
                }
            ),
            (arb_addr(), arb_addr(), prop::option::of(0u8..=32)).prop_map(
                |(source, group, source_prefix)| Body::GraftAck {
                    source,
                    group,
                    source_prefix
                }
            ),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(body in arb_body(), caps in any::<u8>()) {
            // Consecutive routes of one prefix length form one block; the parser sees them
            // as one block whatever their order, so the round trip is exact.
            let r = Repr { capabilities: Capabilities::from_bits_retain(caps), minor: 0xff, major: 3, body };
            let b = r.to_bytes().unwrap();
            prop_assert_eq!(b.len(), r.buffer_len());
            prop_assert_eq!(Repr::parse(&b).unwrap(), r);
        }

        #[test]
        fn split_round_trip(routes in prop::collection::vec(arb_route(), 0..200), budget in 16usize..600) {
            let msgs = report_messages(Capabilities::MROUTED, &routes, budget).unwrap();
            let mut back = std::collections::BTreeSet::new();
            for m in &msgs {
                prop_assert!(m.len() <= budget);
                if let Body::Report { routes } = Repr::parse(m).unwrap().body {
                    back.extend(routes.into_iter().map(|r| r.origin));
                }
            }
            let want: std::collections::BTreeSet<_> = routes.iter().map(|r| r.origin).collect();
            prop_assert_eq!(back, want);
        }

        #[test]
        fn never_panics(mut b in prop::collection::vec(any::<u8>(), 0..80), code in 0u8..14) {
            if b.len() >= 2 { b[0] = IGMP_TYPE_DVMRP; b[1] = code; }
            fill_checksum(&mut b);
            let _ = Repr::parse(&b);
        }
    }
}
