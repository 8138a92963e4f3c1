//! Wire codecs for the IPv4 multicast routing control protocols: IGMP v1/v2/v3 and DVMRP.
//!
//! Every format comes in the smoltcp style: a zero-copy `Packet<T: AsRef<[u8]>>` view with
//! `new_checked` (length checks, so that its accessors never panic) and a validated `Repr`
//! with `parse`, `emit` and `buffer_len`. Parsers are pure functions of bytes: they never
//! panic, verify the IGMP checksum, and reject what they do not understand with a typed
//! [`WireError`].
//!
//! The bytes are the IGMP message (what follows the IP header); the IP header is the
//! platform's business (protocol 2, TTL 1, Router Alert).

#![forbid(unsafe_code)]

use std::net::Ipv4Addr;

pub mod checksum;
pub mod dvmrp;
pub mod igmp;
pub mod ip;
pub mod mrdisc;
pub mod mtrace;
pub mod netlink;
pub mod upcall;

/// IP protocol number of IGMP (which carries DVMRP too).
pub const IPPROTO_IGMP: u8 = 2;

/// All-systems group: general queries go there (RFC 1112, RFC 2236 section 2).
pub const ALL_SYSTEMS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 1);
/// All-routers group: IGMPv2 leaves go there (RFC 2236 section 3).
pub const ALL_ROUTERS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 2);
/// All-DVMRP-routers group (draft-ietf-idmr-dvmrp-v3-11 section 3.1).
pub const ALL_DVMRP_ROUTERS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 4);
/// The IGMPv3 report destination (RFC 3376 section 4.2.14).
pub const ALL_IGMPV3_ROUTERS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 22);

/// An error decoding or encoding a message: the one error type of every codec in [`wire`](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The buffer is shorter than the message needs.
    #[error("message truncated: {needed} bytes needed, {got} available")]
    Truncated {
        /// Bytes the message needs.
        needed: usize,
        /// Bytes there are.
        got: usize,
    },
    /// The checksum (IGMP, or ICMPv6 for MRD) does not match the message.
    #[error("bad checksum")]
    BadChecksum,
    /// An IGMP type this codec does not know.
    #[error("unknown IGMP type {0:#04x}")]
    UnknownType(u8),
    /// A DVMRP code this codec does not know.
    #[error("unknown DVMRP code {0}")]
    UnknownCode(u8),
    /// A field that is out of its range or a body that does not fit its structure.
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// Not a Multicast Router Discovery type (another IGMP or ICMPv6 message).
    #[error("not an MRD message: type {0:#04x}")]
    NotMrd(u8),
    /// The buffer given to `emit` is too small.
    #[error("buffer too small: {needed} bytes needed, {got} available")]
    BufferTooSmall {
        /// Bytes the message needs.
        needed: usize,
        /// Bytes there are.
        got: usize,
    },
    /// The must-be-zero byte of a kernel upcall is set: this is a real IGMP/ICMPv6 packet
    /// read from the routing socket, not an upcall.
    #[error("not an upcall (a protocol packet)")]
    NotAnUpcall,
    /// A kernel upcall type this decoder does not know.
    #[error("unknown upcall type {0}")]
    UnknownUpcall(u8),
    /// The value cannot be represented on the wire (e.g. a prefix the DVMRP report format
    /// cannot carry, or a buffer too small for `emit`).
    #[error("cannot encode: {0}")]
    Unencodable(&'static str),
}

/// Any message read from the IGMP socket: plain IGMP or DVMRP (IGMP type 0x13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// An IGMP query, report or leave.
    Igmp(igmp::Repr),
    /// A DVMRP message.
    Dvmrp(dvmrp::Repr),
}

impl Message {
    /// Parses an IGMP message, dispatching on its type byte.
    pub fn parse(bytes: &[u8]) -> Result<Message, WireError> {
        match bytes.first() {
            None => Err(WireError::Truncated { needed: 8, got: 0 }),
            Some(&dvmrp::IGMP_TYPE_DVMRP) => dvmrp::Repr::parse(bytes).map(Message::Dvmrp),
            Some(_) => igmp::Repr::parse(bytes).map(Message::Igmp),
        }
    }
}

/// Reads a big-endian IPv4 address at `at` (caller checked the length).
pub(crate) fn addr_at(b: &[u8], at: usize) -> Ipv4Addr {
    match b.get(at..at + 4) {
        Some(s) => Ipv4Addr::new(s[0], s[1], s[2], s[3]),
        None => Ipv4Addr::UNSPECIFIED,
    }
}

/// Reads a big-endian u32 at `at` (caller checked the length).
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(s) => u32::from_be_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

/// Reads a big-endian u16 at `at` (caller checked the length).
pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(s) => u16::from_be_bytes([s[0], s[1]]),
        None => 0,
    }
}

pub(crate) fn check_len(b: &[u8], needed: usize) -> Result<(), WireError> {
    if b.len() < needed {
        Err(WireError::Truncated {
            needed,
            got: b.len(),
        })
    } else {
        Ok(())
    }
}

/// Writes the checksum of `msg` (whose bytes 2..4 are the checksum field) into it.
pub(crate) fn fill_checksum(msg: &mut [u8]) {
    if msg.len() >= 4 {
        msg[2] = 0;
        msg[3] = 0;
        let c = checksum::checksum(msg);
        msg[2..4].copy_from_slice(&c.to_be_bytes());
    }
}
