//! Multicast traceroute (mtrace) messages: IGMP type 0x1f (query and request, travelling
//! hop by hop towards the source) and 0x1e (response, going back to the requester), as in
//! draft-ietf-idmr-traceroute-ipm (the format mrouted and its `mtrace` speak).
//!
//! ```text
//!  0               1               2               3
//! +---------------+---------------+-------------------------------+
//! |  Type 0x1f/1e |    Hops       |           Checksum            |
//! +---------------+---------------+-------------------------------+
//! |                        Multicast Group                        |
//! +---------------------------------------------------------------+
//! |                        Source Address                         |
//! +---------------------------------------------------------------+
//! |                      Destination Address                      |
//! +---------------------------------------------------------------+
//! |                       Response Address                        |
//! +---------------+-----------------------------------------------+
//! | Response TTL  |                  Query ID                     |
//! +---------------+-----------------------------------------------+
//! |  response blocks of 32 bytes, one per hop already traced ...  |
//! ```
//!
//! A message with no response block is a query (from the requester to the last-hop router);
//! one with blocks is a request in transit (type 0x1f) or the response (type 0x1e). "Hops"
//! is the most blocks the trace may collect.
//!
//! mrouted reads the response TTL and query id through a C bit-field whose layout depends on
//! the host's byte order (on little-endian hosts it takes the TTL from the last of the four
//! bytes). The codec keeps those four bytes as they came ([`Query::ttl_qid`]) so that a trace
//! passes through unchanged, and its accessors read them as the draft lays them out.

use std::net::Ipv4Addr;

use super::{addr_at, check_len, fill_checksum, u32_at, WireError};

/// IGMP type of a query or a request in transit.
pub const TYPE_QUERY: u8 = 0x1f;
/// IGMP type of a response on its way back to the requester.
pub const TYPE_RESPONSE: u8 = 0x1e;
/// Bytes of the IGMP header plus the query fields.
pub const QUERY_LEN: usize = 24;
/// Bytes of one response block.
pub const BLOCK_LEN: usize = 32;
/// Routing protocol code of DVMRP in a response block.
pub const PROTO_DVMRP: u8 = 1;
/// An unknown counter ("all ones", as mrouted sends when it cannot read one).
pub const NO_COUNT: u32 = u32::MAX;

/// Forwarding codes of a response block (`tr_rflags`).
pub mod fwd {
    /// No error.
    pub const NO_ERROR: u8 = 0x00;
    /// The trace arrived on an interface that is not the one towards the destination.
    pub const WRONG_IF: u8 = 0x01;
    /// This router sent a prune upstream for the source and group.
    pub const PRUNE_SENT: u8 = 0x02;
    /// Downstream routers pruned the outgoing interface.
    pub const PRUNE_RCVD: u8 = 0x03;
    /// The group is administratively scoped at this router.
    pub const SCOPED: u8 = 0x04;
    /// No route to the source.
    pub const NO_ROUTE: u8 = 0x05;
    /// This router is not the last hop for the destination.
    pub const WRONG_LAST_HOP: u8 = 0x06;
    /// Not forwarding this source and group onto the outgoing interface.
    pub const NOT_FORWARDING: u8 = 0x07;
    /// No room for another block: the previous block's code says so.
    pub const NO_SPACE: u8 = 0x81;
    /// The upstream router does not answer mtrace.
    pub const OLD_ROUTER: u8 = 0x82;
    /// Tracing is administratively prohibited.
    pub const ADMIN_PROHIB: u8 = 0x83;
}

/// The query part of every mtrace message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    /// IGMP type: [`TYPE_QUERY`] or [`TYPE_RESPONSE`].
    pub msg_type: u8,
    /// The most response blocks the trace may collect (the IGMP code byte).
    pub max_hops: u8,
    /// The group traced (0.0.0.0 for "any").
    pub group: Ipv4Addr,
    /// The source traced towards.
    pub source: Ipv4Addr,
    /// The receiver the trace starts from.
    pub destination: Ipv4Addr,
    /// Where the response goes (unicast, or a multicast group).
    pub response_addr: Ipv4Addr,
    /// The response TTL and query id, as the four bytes came (see the module notes).
    pub ttl_qid: u32,
}

impl Query {
    /// The response TTL as the draft places it (first byte).
    pub fn response_ttl(&self) -> u8 {
        (self.ttl_qid >> 24) as u8
    }

    /// The query id as the draft places it (last three bytes).
    pub fn query_id(&self) -> u32 {
        self.ttl_qid & 0x00ff_ffff
    }

    /// Sets the response TTL and query id as the draft places them.
    pub fn set_ttl_qid(&mut self, ttl: u8, qid: u32) {
        self.ttl_qid = (u32::from(ttl) << 24) | (qid & 0x00ff_ffff);
    }
}

/// One hop of a trace (32 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// When the query arrived: NTP timestamp, 16 bits of seconds and 16 of fraction.
    pub arrival: u32,
    /// The router's address on the interface the traffic comes in on (towards the source).
    pub in_addr: Ipv4Addr,
    /// The router's address on the interface the traffic goes out on (towards the receiver).
    pub out_addr: Ipv4Addr,
    /// The upstream router towards the source (0.0.0.0 if none).
    pub prev_hop: Ipv4Addr,
    /// Packets received on the incoming interface.
    pub in_packets: u32,
    /// Packets sent on the outgoing interface.
    pub out_packets: u32,
    /// Packets of this source and group forwarded.
    pub sg_packets: u32,
    /// The routing protocol ([`PROTO_DVMRP`]).
    pub protocol: u8,
    /// The TTL a packet needs to be forwarded on the outgoing interface.
    pub fwd_ttl: u8,
    /// The source mask length (mrouted: bits of the route's mask, with flag bits above).
    pub src_mask: u8,
    /// The forwarding code ([`fwd`]).
    pub fwd_code: u8,
}

impl Default for Block {
    /// Addresses 0.0.0.0, counters zero, protocol and codes zero.
    fn default() -> Block {
        Block {
            arrival: 0,
            in_addr: Ipv4Addr::UNSPECIFIED,
            out_addr: Ipv4Addr::UNSPECIFIED,
            prev_hop: Ipv4Addr::UNSPECIFIED,
            in_packets: 0,
            out_packets: 0,
            sg_packets: 0,
            protocol: 0,
            fwd_ttl: 0,
            src_mask: 0,
            fwd_code: 0,
        }
    }
}

/// A whole mtrace message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr {
    /// The query fields.
    pub query: Query,
    /// The blocks of the hops traced so far, nearest the receiver first.
    pub blocks: Vec<Block>,
}

impl Repr {
    /// Decodes an mtrace message (the IGMP message: header, query, blocks).
    ///
    /// Fails on a wrong type, a bad checksum, a length that is not the query plus whole
    /// blocks, or more blocks than 255.
    pub fn parse(bytes: &[u8]) -> Result<Repr, WireError> {
        check_len(bytes, QUERY_LEN)?;
        let msg_type = bytes[0];
        if msg_type != TYPE_QUERY && msg_type != TYPE_RESPONSE {
            return Err(WireError::UnknownType(msg_type));
        }
        if !super::checksum::verify(bytes) {
            return Err(WireError::BadChecksum);
        }
        let rest = bytes.len() - QUERY_LEN;
        if rest % BLOCK_LEN != 0 {
            return Err(WireError::Malformed(
                "mtrace length is not the query plus whole blocks",
            ));
        }
        let n = rest / BLOCK_LEN;
        if n > 255 {
            return Err(WireError::Malformed("more than 255 mtrace blocks"));
        }
        let query = Query {
            msg_type,
            max_hops: bytes[1],
            group: addr_at(bytes, 4),
            source: addr_at(bytes, 8),
            destination: addr_at(bytes, 12),
            response_addr: addr_at(bytes, 16),
            ttl_qid: u32_at(bytes, 20),
        };
        let blocks = (0..n)
            .map(|i| {
                let b = QUERY_LEN + i * BLOCK_LEN;
                Block {
                    arrival: u32_at(bytes, b),
                    in_addr: addr_at(bytes, b + 4),
                    out_addr: addr_at(bytes, b + 8),
                    prev_hop: addr_at(bytes, b + 12),
                    in_packets: u32_at(bytes, b + 16),
                    out_packets: u32_at(bytes, b + 20),
                    sg_packets: u32_at(bytes, b + 24),
                    protocol: bytes[b + 28],
                    fwd_ttl: bytes[b + 29],
                    src_mask: bytes[b + 30],
                    fwd_code: bytes[b + 31],
                }
            })
            .collect();
        Ok(Repr { query, blocks })
    }

    /// Whether this is a query on its way to the last-hop router (no block yet).
    pub fn is_query(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Bytes [`Repr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        QUERY_LEN + BLOCK_LEN * self.blocks.len()
    }

    /// Encodes into `buf` (checksum included); returns the length written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = self.buffer_len();
        if self.blocks.len() > 255 {
            return Err(WireError::Unencodable("more than 255 mtrace blocks"));
        }
        let Some(out) = buf.get_mut(..len) else {
            return Err(WireError::Unencodable("buffer too small"));
        };
        let q = &self.query;
        out[0] = q.msg_type;
        out[1] = q.max_hops;
        out[2] = 0;
        out[3] = 0;
        out[4..8].copy_from_slice(&q.group.octets());
        out[8..12].copy_from_slice(&q.source.octets());
        out[12..16].copy_from_slice(&q.destination.octets());
        out[16..20].copy_from_slice(&q.response_addr.octets());
        out[20..24].copy_from_slice(&q.ttl_qid.to_be_bytes());
        for (i, b) in self.blocks.iter().enumerate() {
            let o = &mut out[QUERY_LEN + i * BLOCK_LEN..QUERY_LEN + (i + 1) * BLOCK_LEN];
            o[0..4].copy_from_slice(&b.arrival.to_be_bytes());
            o[4..8].copy_from_slice(&b.in_addr.octets());
            o[8..12].copy_from_slice(&b.out_addr.octets());
            o[12..16].copy_from_slice(&b.prev_hop.octets());
            o[16..20].copy_from_slice(&b.in_packets.to_be_bytes());
            o[20..24].copy_from_slice(&b.out_packets.to_be_bytes());
            o[24..28].copy_from_slice(&b.sg_packets.to_be_bytes());
            o[28] = b.protocol;
            o[29] = b.fwd_ttl;
            o[30] = b.src_mask;
            o[31] = b.fwd_code;
        }
        fill_checksum(out);
        Ok(len)
    }

    /// Encodes into a new vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut v = vec![0; self.buffer_len()];
        self.emit(&mut v)?;
        Ok(v)
    }
}

/// An NTP-style 32-bit timestamp (16 bits of seconds since 1900, 16 of fraction) from
/// seconds and microseconds since the Unix epoch, as mrouted fills `tr_qarr`.
pub fn ntp_short(unix_secs: u64, micros: u32) -> u32 {
    const JAN_1970: u64 = 2_208_988_800;
    let secs = (unix_secs.wrapping_add(JAN_1970) & 0xffff) as u32;
    let frac = ((u64::from(micros.min(999_999)) << 16) / 1_000_000) as u32;
    (secs << 16) | (frac & 0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Repr {
        let mut q = Query {
            msg_type: TYPE_QUERY,
            max_hops: 32,
            group: Ipv4Addr::new(239, 1, 2, 3),
            source: Ipv4Addr::new(192, 0, 2, 10),
            destination: Ipv4Addr::new(198, 51, 100, 20),
            response_addr: Ipv4Addr::new(198, 51, 100, 20),
            ttl_qid: 0,
        };
        q.set_ttl_qid(64, 0x00ab_cdef);
        Repr {
            query: q,
            blocks: Vec::new(),
        }
    }

    #[test]
    fn a_query_is_24_bytes_and_reads_back() {
        let r = sample();
        let b = r.to_bytes().unwrap();
        assert_eq!(b.len(), QUERY_LEN);
        assert_eq!(&b[20..24], &[64, 0xab, 0xcd, 0xef]);
        let back = Repr::parse(&b).unwrap();
        assert!(back.is_query());
        assert_eq!(back.query.response_ttl(), 64);
        assert_eq!(back.query.query_id(), 0xab_cdef);
        assert_eq!(back, r);
    }

    #[test]
    fn blocks_round_trip_and_bad_lengths_are_refused() {
        let mut r = sample();
        r.query.msg_type = TYPE_RESPONSE;
        r.blocks.push(Block {
            arrival: 0x1234_5678,
            in_addr: Ipv4Addr::new(192, 0, 2, 1),
            out_addr: Ipv4Addr::new(198, 51, 100, 1),
            prev_hop: Ipv4Addr::UNSPECIFIED,
            in_packets: 5,
            out_packets: 6,
            sg_packets: NO_COUNT,
            protocol: PROTO_DVMRP,
            fwd_ttl: 1,
            src_mask: 24,
            fwd_code: fwd::NO_ERROR,
        });
        let b = r.to_bytes().unwrap();
        assert_eq!(b.len(), QUERY_LEN + BLOCK_LEN);
        assert_eq!(Repr::parse(&b).unwrap(), r);
        // A block cut short.
        let mut cut = b[..b.len() - 4].to_vec();
        fill_checksum(&mut cut);
        assert!(matches!(Repr::parse(&cut), Err(WireError::Malformed(_))));
        // A flipped bit.
        let mut bad = b.clone();
        bad[30] ^= 1;
        assert_eq!(Repr::parse(&bad), Err(WireError::BadChecksum));
        // Not mtrace.
        let mut other = b;
        other[0] = 0x11;
        fill_checksum(&mut other);
        assert_eq!(Repr::parse(&other), Err(WireError::UnknownType(0x11)));
        assert!(matches!(
            Repr::parse(&[0x1f; 10]),
            Err(WireError::Truncated { .. })
        ));
    }

    #[test]
    fn ntp_timestamp_fraction() {
        assert_eq!(ntp_short(0, 500_000) & 0xffff, 0x8000);
        assert_eq!(ntp_short(0, 0) >> 16, (2_208_988_800u64 & 0xffff) as u32);
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_what_parses_round_trips(data in prop::collection::vec(any::<u8>(), 0..200)) {
            let mut fixed = data.clone();
            if fixed.len() >= 4 {
                fixed[0] = TYPE_QUERY;
                fill_checksum(&mut fixed);
            }
            for bytes in [&data[..], &fixed[..]] {
                if let Ok(r) = Repr::parse(bytes) {
                    let out = r.to_bytes().unwrap();
                    prop_assert_eq!(out.len(), bytes.len());
                    prop_assert_eq!(Repr::parse(&out), Ok(r));
                }
            }
        }
    }
}
