//! The Multicast Router Discovery messages (RFC 4286 sections 3.2, 4.1 and 5.1), for IGMP
//! (IPv4) and ICMPv6 (IPv6), in the smoltcp style: a zero-copy [`Packet`] view whose
//! accessors never panic, and a validated [`Repr`] with `parse`, `emit` and `buffer_len`.
//!
//! ```text
//! Advertisement (8 bytes)             Solicitation / Termination (4 bytes)
//!  0       8       16              31  0       8       16              31
//! +-------+-------+---------------+   +-------+-------+---------------+
//! | Type  | Ad.Int|   Checksum    |   | Type  | Rsvd  |   Checksum    |
//! +-------+-------+---------------+   +-------+-------+---------------+
//! | Query Interval| Robustness Var|
//! +---------------+---------------+
//! ```
//!
//! The bytes are the IGMP or ICMPv6 message, without the IP header.
//!
//! # Checksums
//! - IGMP: the Internet checksum of the whole message. [`Repr::emit`] fills it and
//!   [`Repr::parse`] verifies it.
//! - ICMPv6: the checksum also covers the IPv6 pseudo-header (source, destination, length,
//!   next header 58), so it depends on the source address the kernel picks. Raw ICMPv6
//!   sockets compute it on send and verify it on receive, on Linux and FreeBSD alike
//!   (RFC 3542 section 3.1: the kernel must do it for `IPPROTO_ICMPV6` sockets). So
//!   [`Repr::emit`] leaves it zero and [`Repr::parse`] does not check it; code that builds
//!   or reads whole IPv6 packets uses [`Packet::fill_checksum_v6`] and
//!   [`Packet::verify_checksum_v6`] with the addresses.

use std::net::Ipv6Addr;

use crate::model::Family;
use crate::wire::checksum;

/// IGMP type of a Multicast Router Advertisement (RFC 4286 section 3.2).
pub const IGMP_ADVERTISEMENT: u8 = 0x30;
/// IGMP type of a Multicast Router Solicitation (RFC 4286 section 4.1).
pub const IGMP_SOLICITATION: u8 = 0x31;
/// IGMP type of a Multicast Router Termination (RFC 4286 section 5.1).
pub const IGMP_TERMINATION: u8 = 0x32;
/// ICMPv6 type of a Multicast Router Advertisement.
pub const ICMPV6_ADVERTISEMENT: u8 = 151;
/// ICMPv6 type of a Multicast Router Solicitation.
pub const ICMPV6_SOLICITATION: u8 = 152;
/// ICMPv6 type of a Multicast Router Termination.
pub const ICMPV6_TERMINATION: u8 = 153;

/// Length of an Advertisement.
pub const ADVERTISEMENT_LEN: usize = 8;
/// Length of a Solicitation or Termination.
pub const SHORT_LEN: usize = 4;

const IPPROTO_ICMPV6: u8 = 58;

pub use super::WireError;

/// The three message kinds, without their protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Multicast Router Advertisement.
    Advertisement,
    /// Multicast Router Solicitation.
    Solicitation,
    /// Multicast Router Termination.
    Termination,
}

impl Kind {
    /// The kind a type byte stands for in `family`'s protocol (IGMP or ICMPv6).
    pub fn from_type(family: Family, msg_type: u8) -> Option<Kind> {
        match (family, msg_type) {
            (Family::V4, IGMP_ADVERTISEMENT) | (Family::V6, ICMPV6_ADVERTISEMENT) => {
                Some(Kind::Advertisement)
            }
            (Family::V4, IGMP_SOLICITATION) | (Family::V6, ICMPV6_SOLICITATION) => {
                Some(Kind::Solicitation)
            }
            (Family::V4, IGMP_TERMINATION) | (Family::V6, ICMPV6_TERMINATION) => {
                Some(Kind::Termination)
            }
            _ => None,
        }
    }

    /// The type byte of this kind in `family`'s protocol.
    pub fn msg_type(self, family: Family) -> u8 {
        match (family, self) {
            (Family::V4, Kind::Advertisement) => IGMP_ADVERTISEMENT,
            (Family::V4, Kind::Solicitation) => IGMP_SOLICITATION,
            (Family::V4, Kind::Termination) => IGMP_TERMINATION,
            (Family::V6, Kind::Advertisement) => ICMPV6_ADVERTISEMENT,
            (Family::V6, Kind::Solicitation) => ICMPV6_SOLICITATION,
            (Family::V6, Kind::Termination) => ICMPV6_TERMINATION,
        }
    }
}

/// A zero-copy view of an MRD message. Accessors read 0 for bytes the buffer lacks, so
/// they never panic; [`Packet::new_checked`] guarantees the bytes are there.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking its length.
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after checking that it holds the fixed part of its message type: 8
    /// bytes for an Advertisement (IGMP 0x30 or ICMPv6 151), otherwise 4.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, WireError> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the length as [`Packet::new_checked`] does.
    pub fn check_len(&self) -> Result<(), WireError> {
        let b = self.buffer.as_ref();
        let needed = match b.first() {
            Some(&IGMP_ADVERTISEMENT) | Some(&ICMPV6_ADVERTISEMENT) => ADVERTISEMENT_LEN,
            _ => SHORT_LEN,
        };
        if b.len() < needed {
            Err(WireError::Truncated {
                needed,
                got: b.len(),
            })
        } else {
            Ok(())
        }
    }

    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref().get(at).copied().unwrap_or(0)
    }

    fn u16_at(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.byte(at), self.byte(at + 1)])
    }

    /// The type byte.
    pub fn msg_type(&self) -> u8 {
        self.byte(0)
    }

    /// The Advertisement Interval in seconds (the reserved byte of the other messages).
    pub fn adv_interval(&self) -> u8 {
        self.byte(1)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(2)
    }

    /// The Query Interval field of an Advertisement, in seconds.
    pub fn query_interval(&self) -> u16 {
        self.u16_at(4)
    }

    /// The Robustness Variable field of an Advertisement.
    pub fn robustness(&self) -> u16 {
        self.u16_at(6)
    }

    /// Whether the IGMP checksum (over the whole buffer) is right.
    pub fn verify_checksum_v4(&self) -> bool {
        checksum::verify(self.buffer.as_ref())
    }

    /// Whether the ICMPv6 checksum (over the pseudo-header and the whole buffer) is right.
    pub fn verify_checksum_v6(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        checksum::verify(&with_pseudo_header(src, dst, self.buffer.as_ref()))
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_u16(&mut self, at: usize, v: u16) {
        if let Some(s) = self.buffer.as_mut().get_mut(at..at + 2) {
            s.copy_from_slice(&v.to_be_bytes());
        }
    }

    /// Fills in the IGMP checksum.
    pub fn fill_checksum_v4(&mut self) {
        self.set_u16(2, 0);
        let c = checksum::checksum(self.buffer.as_ref());
        self.set_u16(2, c);
    }

    /// Fills in the ICMPv6 checksum for a packet from `src` to `dst`.
    pub fn fill_checksum_v6(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        self.set_u16(2, 0);
        let c = checksum::checksum(&with_pseudo_header(src, dst, self.buffer.as_ref()));
        self.set_u16(2, c);
    }
}

/// The IPv6 pseudo-header (RFC 8200 section 8.1) followed by the ICMPv6 message.
fn with_pseudo_header(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(40 + msg.len());
    v.extend_from_slice(&src.octets());
    v.extend_from_slice(&dst.octets());
    v.extend_from_slice(&u32::try_from(msg.len()).unwrap_or(u32::MAX).to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, IPPROTO_ICMPV6]);
    v.extend_from_slice(msg);
    v
}

/// The fields of an Advertisement (RFC 4286 section 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Advertisement {
    /// The advertisement interval in seconds (4..=180 when we send it).
    pub interval: u8,
    /// The IGMP/MLD Query Interval in use on the interface, in seconds; 0 when the router
    /// runs no querier there.
    pub query_interval: u16,
    /// The IGMP/MLD Robustness Variable in use on the interface; 0 without a querier.
    pub robustness: u16,
}

/// A validated MRD message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Repr {
    /// "A multicast router is here" (to All-Snoopers).
    Advertisement(Advertisement),
    /// "Multicast routers, advertise yourselves" (to All-Routers).
    Solicitation,
    /// "This router stops forwarding multicast here" (to All-Snoopers).
    Termination,
}

impl Repr {
    /// The message kind.
    pub fn kind(&self) -> Kind {
        match self {
            Repr::Advertisement(_) => Kind::Advertisement,
            Repr::Solicitation => Kind::Solicitation,
            Repr::Termination => Kind::Termination,
        }
    }

    /// Parses an IGMP (`Family::V4`) or ICMPv6 (`Family::V6`) MRD message. The IGMP
    /// checksum is verified; the ICMPv6 one is not (the kernel verified it: see the
    /// [module documentation](self)). Trailing bytes are allowed, as IGMP allows them, and
    /// the reserved byte is ignored.
    pub fn parse(family: Family, bytes: &[u8]) -> Result<Repr, WireError> {
        let p = Packet::new_checked(bytes)?;
        let kind = Kind::from_type(family, p.msg_type()).ok_or(WireError::NotMrd(p.msg_type()))?;
        if family == Family::V4 && !p.verify_checksum_v4() {
            return Err(WireError::BadChecksum);
        }
        Ok(match kind {
            Kind::Advertisement => Repr::Advertisement(Advertisement {
                interval: p.adv_interval(),
                query_interval: p.query_interval(),
                robustness: p.robustness(),
            }),
            Kind::Solicitation => Repr::Solicitation,
            Kind::Termination => Repr::Termination,
        })
    }

    /// The length of the emitted message.
    pub fn buffer_len(&self) -> usize {
        match self {
            Repr::Advertisement(_) => ADVERTISEMENT_LEN,
            Repr::Solicitation | Repr::Termination => SHORT_LEN,
        }
    }

    /// Writes the message at the start of `buf` and returns its length. For IGMP the
    /// checksum is filled in; for ICMPv6 it is left zero for the kernel to compute.
    pub fn emit(&self, family: Family, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = self.buffer_len();
        let got = buf.len();
        let out = buf
            .get_mut(..len)
            .ok_or(WireError::BufferTooSmall { needed: len, got })?;
        out.fill(0);
        let mut p = Packet::new_unchecked(out);
        if let Some(b) = p.buffer.first_mut() {
            *b = self.kind().msg_type(family);
        }
        if let Repr::Advertisement(a) = self {
            if let Some(b) = p.buffer.get_mut(1) {
                *b = a.interval;
            }
            p.set_u16(4, a.query_interval);
            p.set_u16(6, a.robustness);
        }
        if family == Family::V4 {
            p.fill_checksum_v4();
        }
        Ok(len)
    }

    /// The emitted message as a new vector (see [`Repr::emit`]).
    pub fn to_bytes(&self, family: Family) -> Vec<u8> {
        let mut v = vec![0; self.buffer_len()];
        // Cannot fail: the vector has the right length.
        let _ = self.emit(family, &mut v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ADV: Repr = Repr::Advertisement(Advertisement {
        interval: 20,
        query_interval: 125,
        robustness: 2,
    });

    #[test]
    fn golden_igmp() {
        // 0x3014 + 0x007d + 0x0002 = 0x3093, complemented 0xcf6c.
        assert_eq!(
            ADV.to_bytes(Family::V4),
            [0x30, 0x14, 0xcf, 0x6c, 0x00, 0x7d, 0x00, 0x02]
        );
        assert_eq!(
            Repr::Solicitation.to_bytes(Family::V4),
            [0x31, 0, 0xce, 0xff]
        );
        assert_eq!(
            Repr::Termination.to_bytes(Family::V4),
            [0x32, 0, 0xcd, 0xff]
        );
        // smcrouted's advertisement (spec 3.9): interval 20, querier fields zero, and
        // padded to 8 bytes.
        let smcroute = [0x30, 0x14, 0xcf, 0xeb, 0, 0, 0, 0];
        assert_eq!(
            Repr::parse(Family::V4, &smcroute),
            Ok(Repr::Advertisement(Advertisement {
                interval: 20,
                query_interval: 0,
                robustness: 0
            }))
        );
        // A solicitation padded to 8 bytes (a struct igmp) is still a solicitation.
        let padded = [0x31, 0, 0xce, 0xff, 0, 0, 0, 0];
        assert_eq!(Repr::parse(Family::V4, &padded), Ok(Repr::Solicitation));
    }

    #[test]
    fn golden_icmpv6() {
        // The kernel computes the checksum: emit leaves it zero.
        assert_eq!(
            ADV.to_bytes(Family::V6),
            [151, 20, 0, 0, 0x00, 0x7d, 0x00, 0x02]
        );
        assert_eq!(Repr::Solicitation.to_bytes(Family::V6), [152, 0, 0, 0]);
        assert_eq!(Repr::Termination.to_bytes(Family::V6), [153, 0, 0, 0]);
        // With the pseudo-header: fe80::1 -> ff02::6a.
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let dst: Ipv6Addr = "ff02::6a".parse().unwrap();
        let mut p = Packet::new_unchecked(ADV.to_bytes(Family::V6));
        p.fill_checksum_v6(src, dst);
        // Sum: fe80 + 0001 + ff02 + 006a + 0008 (length) + 003a (next header)
        //      + 9714 + 007d + 0002 = 0x2_95c2 -> 0x95c4, complemented 0x6a3b.
        assert_eq!(p.checksum(), 0x6a3b);
        assert!(p.verify_checksum_v6(src, dst));
        let other: Ipv6Addr = "fe80::2".parse().unwrap();
        assert!(!p.verify_checksum_v6(other, dst));
        assert_eq!(Repr::parse(Family::V6, &p.into_inner()), Ok(ADV));
    }

    #[test]
    fn errors() {
        assert_eq!(
            Repr::parse(Family::V4, &[]),
            Err(WireError::Truncated { needed: 4, got: 0 })
        );
        assert_eq!(
            Repr::parse(Family::V4, &[0x30, 0x14, 0xcf, 0xeb]),
            Err(WireError::Truncated { needed: 8, got: 4 })
        );
        assert_eq!(
            Repr::parse(Family::V4, &[0x31, 0, 0xce, 0xfe]),
            Err(WireError::BadChecksum)
        );
        // An IGMPv2 query is not MRD; nor is an ICMPv6 type used with the wrong family.
        assert_eq!(
            Repr::parse(Family::V4, &[0x11, 100, 0xee, 0x9b, 0, 0, 0, 0]),
            Err(WireError::NotMrd(0x11))
        );
        assert_eq!(
            Repr::parse(Family::V4, &[152, 0, 0, 0]),
            Err(WireError::NotMrd(152))
        );
        assert_eq!(
            ADV.emit(Family::V4, &mut [0u8; 7]),
            Err(WireError::BufferTooSmall { needed: 8, got: 7 })
        );
        // Accessors of an unchecked short packet read zeros instead of panicking.
        let p = Packet::new_unchecked([0x30u8]);
        assert_eq!(
            (p.query_interval(), p.robustness(), p.checksum()),
            (0, 0, 0)
        );
    }

    fn arb_repr() -> impl Strategy<Value = Repr> {
        prop_oneof![
            (any::<u8>(), any::<u16>(), any::<u16>()).prop_map(|(i, q, r)| {
                Repr::Advertisement(Advertisement {
                    interval: i,
                    query_interval: q,
                    robustness: r,
                })
            }),
            Just(Repr::Solicitation),
            Just(Repr::Termination),
        ]
    }

    fn arb_family() -> impl Strategy<Value = Family> {
        prop_oneof![Just(Family::V4), Just(Family::V6)]
    }

    proptest! {
        #[test]
        fn round_trip(repr in arb_repr(), family in arb_family()) {
            let bytes = repr.to_bytes(family);
            prop_assert_eq!(bytes.len(), repr.buffer_len());
            prop_assert_eq!(Repr::parse(family, &bytes), Ok(repr));
        }

        #[test]
        fn round_trip_v6_with_checksum(repr in arb_repr(), a in any::<u128>(), b in any::<u128>()) {
            let (src, dst) = (Ipv6Addr::from(a), Ipv6Addr::from(b));
            let mut p = Packet::new_unchecked(repr.to_bytes(Family::V6));
            p.fill_checksum_v6(src, dst);
            prop_assert!(p.verify_checksum_v6(src, dst));
            prop_assert_eq!(Repr::parse(Family::V6, &p.into_inner()), Ok(repr));
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..32), family in arb_family()) {
            if let Ok(r) = Repr::parse(family, &bytes) {
                // Whatever parses re-emits to the same fixed part.
                let again = r.to_bytes(family);
                prop_assert_eq!(again.first(), bytes.first());
            }
        }
    }
}
