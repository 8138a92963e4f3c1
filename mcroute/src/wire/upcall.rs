//! Kernel upcalls: what the multicast router tells its daemon through the routing socket.
//!
//! The decoders are pure functions of bytes. They never panic, and they reject anything
//! that is not an upcall (a real IGMP or ICMPv6 packet read from the same socket, a short
//! read, an unknown message type) with a typed [`WireError`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::WireError;
use crate::model::{Family, MifId, VifId, VifIndex};

/// Which kernel's upcall layout to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Linux `struct igmpmsg` (with `im_vif_hi`) and `struct mrt6msg`.
    Linux,
    /// FreeBSD `struct igmpmsg` (no `im_vif_hi`) and `struct mrt6msg`; type 4 is the
    /// bandwidth upcall, which mcroute does not use.
    FreeBsd,
}

impl Layout {
    /// The layout of the kernel this program was built for.
    pub const fn native() -> Layout {
        if cfg!(target_os = "freebsd") {
            Layout::FreeBsd
        } else {
            Layout::Linux
        }
    }
}

/// What the kernel is reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpcallKind {
    /// `IGMPMSG_NOCACHE` / `MRT6MSG_NOCACHE`: a packet for an (S,G) with no MFC entry.
    NoCache,
    /// `IGMPMSG_WRONGVIF` / `MRT6MSG_WRONGMIF`: a packet arrived on another interface than
    /// the entry's inbound one.
    WrongVif,
    /// `IGMPMSG_WHOLEPKT` / `MRT6MSG_WHOLEPKT`: a whole packet (PIM register).
    WholePacket,
    /// `IGMPMSG_WRVIFWHOLE` / `MRT6MSG_WRMIFWHOLE` (Linux): wrong interface, whole packet.
    WrongVifWhole,
}

impl UpcallKind {
    fn from_code(code: u8, layout: Layout) -> Option<UpcallKind> {
        match (code, layout) {
            (1, _) => Some(UpcallKind::NoCache),
            (2, _) => Some(UpcallKind::WrongVif),
            (3, _) => Some(UpcallKind::WholePacket),
            (4, Layout::Linux) => Some(UpcallKind::WrongVifWhole),
            _ => None,
        }
    }

    /// The kernel's message type code.
    pub fn code(self) -> u8 {
        match self {
            UpcallKind::NoCache => 1,
            UpcallKind::WrongVif => 2,
            UpcallKind::WholePacket => 3,
            UpcallKind::WrongVifWhole => 4,
        }
    }
}

impl fmt::Display for UpcallKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UpcallKind::NoCache => "NOCACHE",
            UpcallKind::WrongVif => "WRONGVIF",
            UpcallKind::WholePacket => "WHOLEPKT",
            UpcallKind::WrongVifWhole => "WRVIFWHOLE",
        })
    }
}

/// A decoded upcall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Upcall {
    /// An IPv4 upcall (`struct igmpmsg`).
    V4 {
        /// What happened.
        kind: UpcallKind,
        /// The VIF the packet arrived on.
        vif: VifId,
        /// The packet's source.
        source: Ipv4Addr,
        /// The packet's destination group.
        group: Ipv4Addr,
    },
    /// An IPv6 upcall (`struct mrt6msg`).
    V6 {
        /// What happened.
        kind: UpcallKind,
        /// The MIF the packet arrived on.
        mif: MifId,
        /// The packet's source.
        source: Ipv6Addr,
        /// The packet's destination group.
        group: Ipv6Addr,
    },
}

impl Upcall {
    /// What happened.
    pub fn kind(&self) -> UpcallKind {
        match *self {
            Upcall::V4 { kind, .. } | Upcall::V6 { kind, .. } => kind,
        }
    }

    /// The interface the packet arrived on.
    pub fn iif(&self) -> VifIndex {
        match *self {
            Upcall::V4 { vif, .. } => VifIndex::Vif(vif),
            Upcall::V6 { mif, .. } => VifIndex::Mif(mif),
        }
    }

    /// The packet's source.
    pub fn source(&self) -> IpAddr {
        match *self {
            Upcall::V4 { source, .. } => source.into(),
            Upcall::V6 { source, .. } => source.into(),
        }
    }

    /// The packet's group.
    pub fn group(&self) -> IpAddr {
        match *self {
            Upcall::V4 { group, .. } => group.into(),
            Upcall::V6 { group, .. } => group.into(),
        }
    }

    /// The address family.
    pub fn family(&self) -> Family {
        match self {
            Upcall::V4 { .. } => Family::V4,
            Upcall::V6 { .. } => Family::V6,
        }
    }

    /// Encodes the upcall as the kernel would deliver it (the header only, without the
    /// copied packet). Used by the fake kernel and by test fixtures.
    pub fn encode(&self, layout: Layout) -> Vec<u8> {
        match *self {
            Upcall::V4 {
                kind,
                vif,
                source,
                group,
            } => {
                let mut b = vec![0u8; V4_LEN];
                // The kernel copies the IP header over the first 8 bytes.
                b[0] = 0x45;
                b[8] = kind.code();
                b[9] = 0;
                b[10] = (vif.0 & 0xff) as u8;
                if layout == Layout::Linux {
                    b[11] = (vif.0 >> 8) as u8;
                }
                b[12..16].copy_from_slice(&source.octets());
                b[16..20].copy_from_slice(&group.octets());
                b
            }
            Upcall::V6 {
                kind,
                mif,
                source,
                group,
            } => {
                let mut b = vec![0u8; V6_LEN];
                b[1] = kind.code();
                b[2..4].copy_from_slice(&mif.0.to_ne_bytes());
                b[8..24].copy_from_slice(&source.octets());
                b[24..40].copy_from_slice(&group.octets());
                b
            }
        }
    }
}

impl fmt::Display for Upcall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, {}) on {}",
            self.kind(),
            self.source(),
            self.group(),
            self.iif()
        )
    }
}

/// Length of `struct igmpmsg`.
pub const V4_LEN: usize = 20;
/// Length of `struct mrt6msg`.
pub const V6_LEN: usize = 40;

/// Decodes an IPv4 upcall (`struct igmpmsg`) from the start of `buf`.
///
/// Bytes after the header (the copy of the packet the kernel appends) are ignored.
///
/// ```
/// use mcroute::wire::upcall::{decode_v4, Layout, UpcallKind};
/// let mut b = [0u8; 20];
/// b[8] = 1; // NOCACHE
/// b[10] = 2; // VIF 2
/// b[12..16].copy_from_slice(&[192, 0, 2, 10]);
/// b[16..20].copy_from_slice(&[225, 1, 2, 3]);
/// let u = decode_v4(&b, Layout::Linux).unwrap();
/// assert_eq!(u.kind(), UpcallKind::NoCache);
/// assert_eq!(u.iif().index(), 2);
/// ```
pub fn decode_v4(buf: &[u8], layout: Layout) -> Result<Upcall, WireError> {
    let b: &[u8; V4_LEN] =
        buf.get(..V4_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(WireError::Truncated {
                needed: V4_LEN,
                got: buf.len(),
            })?;
    if b[9] != 0 {
        return Err(WireError::NotAnUpcall);
    }
    let kind = UpcallKind::from_code(b[8], layout).ok_or(WireError::UnknownUpcall(b[8]))?;
    let hi = match layout {
        Layout::Linux => u16::from(b[11]) << 8,
        Layout::FreeBsd => 0,
    };
    Ok(Upcall::V4 {
        kind,
        vif: VifId(hi | u16::from(b[10])),
        source: Ipv4Addr::new(b[12], b[13], b[14], b[15]),
        group: Ipv4Addr::new(b[16], b[17], b[18], b[19]),
    })
}

/// Decodes an IPv6 upcall (`struct mrt6msg`) from the start of `buf`.
pub fn decode_v6(buf: &[u8], layout: Layout) -> Result<Upcall, WireError> {
    let b: &[u8; V6_LEN] =
        buf.get(..V6_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(WireError::Truncated {
                needed: V6_LEN,
                got: buf.len(),
            })?;
    if b[0] != 0 {
        return Err(WireError::NotAnUpcall);
    }
    let kind = UpcallKind::from_code(b[1], layout).ok_or(WireError::UnknownUpcall(b[1]))?;
    let mut src = [0u8; 16];
    let mut grp = [0u8; 16];
    src.copy_from_slice(&b[8..24]);
    grp.copy_from_slice(&b[24..40]);
    Ok(Upcall::V6 {
        kind,
        mif: MifId(u16::from_ne_bytes([b[2], b[3]])),
        source: Ipv6Addr::from(src),
        group: Ipv6Addr::from(grp),
    })
}

/// Decodes an upcall of `family`.
pub fn decode(family: Family, buf: &[u8], layout: Layout) -> Result<Upcall, WireError> {
    match family {
        Family::V4 => decode_v4(buf, layout),
        Family::V6 => decode_v6(buf, layout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A NOCACHE upcall as Linux 6.x delivers it: the first 8 bytes are the copied IP
    /// header (version/IHL 0x45, TOS, length, id, frag), then type 1, mbz 0, VIF 1.
    const LINUX_NOCACHE: [u8; 28] = [
        0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00, // copied header
        0x01, 0x00, 0x01, 0x00, // msgtype, mbz, vif, vif_hi
        192, 0, 2, 10, // source
        225, 1, 2, 3, // group
        0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, // trailing packet bytes
    ];

    #[test]
    fn linux_v4_fixture() {
        let u = decode_v4(&LINUX_NOCACHE, Layout::Linux).unwrap();
        assert_eq!(
            u,
            Upcall::V4 {
                kind: UpcallKind::NoCache,
                vif: VifId(1),
                source: Ipv4Addr::new(192, 0, 2, 10),
                group: Ipv4Addr::new(225, 1, 2, 3),
            }
        );
    }

    #[test]
    fn vif_hi_only_on_linux() {
        let mut b = LINUX_NOCACHE;
        b[11] = 1;
        assert_eq!(decode_v4(&b, Layout::Linux).unwrap().iif().index(), 257);
        assert_eq!(decode_v4(&b, Layout::FreeBsd).unwrap().iif().index(), 1);
    }

    #[test]
    fn type4_differs_by_layout() {
        let mut b = LINUX_NOCACHE;
        b[8] = 4;
        assert_eq!(
            decode_v4(&b, Layout::Linux).unwrap().kind(),
            UpcallKind::WrongVifWhole
        );
        assert_eq!(
            decode_v4(&b, Layout::FreeBsd),
            Err(WireError::UnknownUpcall(4))
        );
    }

    #[test]
    fn real_igmp_packet_is_not_an_upcall() {
        // An IGMPv2 report as read from a raw IGMP socket: IP header with protocol 2.
        let pkt = [
            0x46, 0xc0, 0x00, 0x20, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0x00, 0x00, 192, 0, 2, 1,
            224, 0, 0, 22, 0x94, 0x04, 0, 0, 0x16, 0, 0xfa, 0xfc, 239, 1, 1, 1,
        ];
        assert_eq!(decode_v4(&pkt, Layout::Linux), Err(WireError::NotAnUpcall));
    }

    #[test]
    fn v6_fixture_and_icmp6() {
        let u = Upcall::V6 {
            kind: UpcallKind::WrongVif,
            mif: MifId(3),
            source: "2001:db8::10".parse().unwrap(),
            group: "ff0e::1:2".parse().unwrap(),
        };
        let b = u.encode(Layout::Linux);
        assert_eq!(b.len(), 40);
        assert_eq!(b[0], 0);
        assert_eq!(b[1], 2);
        assert_eq!(decode_v6(&b, Layout::Linux), Ok(u));
        assert_eq!(decode_v6(&b, Layout::FreeBsd), Ok(u));
        // An ICMPv6 echo request: type 128 in the first byte.
        let mut icmp = [0u8; 48];
        icmp[0] = 128;
        assert_eq!(decode_v6(&icmp, Layout::Linux), Err(WireError::NotAnUpcall));
        assert_eq!(
            decode_v6(&b[..39], Layout::Linux),
            Err(WireError::Truncated {
                needed: 40,
                got: 39
            })
        );
    }

    /// What FreeBSD's `X_ip_mforward()` and `ip_mdq()` hand the daemon: `m_copym()` of the
    /// packet's IP header (`ip_hl << 2` bytes, options included), then `im_msgtype`,
    /// `im_mbz` and `im_vif` written over bytes 8, 9 and 10 (TTL, protocol and the high
    /// byte of the checksum). Byte 11, FreeBSD's `unused3`, keeps the checksum's low byte.
    fn freebsd_v4_upcall(header: &[u8], kind: u8, vif: u8) -> Vec<u8> {
        let mut b = header.to_vec();
        b[8] = kind;
        b[9] = 0;
        b[10] = vif;
        b
    }

    /// The IP header of a UDP datagram 198.51.100.7 -> 239.1.2.3, TTL 64, checksum 0xabcd.
    const UDP_HEADER: [u8; 20] = [
        0x45, 0x00, 0x00, 0x54, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x11, 0xab, 0xcd, 198, 51, 100, 7,
        239, 1, 2, 3,
    ];

    #[test]
    fn freebsd_v4_upcalls_are_copied_ip_headers() {
        let src = Ipv4Addr::new(198, 51, 100, 7);
        let grp = Ipv4Addr::new(239, 1, 2, 3);
        for (code, kind) in [(1, UpcallKind::NoCache), (2, UpcallKind::WrongVif)] {
            let b = freebsd_v4_upcall(&UDP_HEADER, code, 3);
            assert_eq!(b[11], 0xcd, "byte 11 is the checksum's low byte");
            let want = Upcall::V4 {
                kind,
                vif: VifId(3),
                source: src,
                group: grp,
            };
            assert_eq!(decode_v4(&b, Layout::FreeBsd), Ok(want));
            // Linux would take byte 11 as im_vif_hi.
            assert_eq!(decode_v4(&b, Layout::Linux).unwrap().iif().index(), 0xcd03);
        }
        // A header with options (Router Alert, ip_hl 6): 24 bytes copied, same offsets.
        let mut opt = UDP_HEADER.to_vec();
        opt[0] = 0x46;
        opt.extend_from_slice(&[0x94, 0x04, 0, 0]);
        let b = freebsd_v4_upcall(&opt, 1, 31);
        assert_eq!(b.len(), 24);
        assert_eq!(
            decode_v4(&b, Layout::FreeBsd),
            Ok(Upcall::V4 {
                kind: UpcallKind::NoCache,
                vif: VifId(31),
                source: src,
                group: grp,
            })
        );
        // Type 4 is FreeBSD's bandwidth upcall (struct bw_upcall), not WRVIFWHOLE.
        let b = freebsd_v4_upcall(&UDP_HEADER, 4, 0);
        assert_eq!(
            decode_v4(&b, Layout::FreeBsd),
            Err(WireError::UnknownUpcall(4))
        );
    }

    /// What FreeBSD's `X_ip6_mforward()` hands the daemon: `m_copym()` of the 40-byte IPv6
    /// header with `im6_mbz`, `im6_msgtype` and `im6_mif` (host order) written over bytes
    /// 0..4; `im6_pad` (4..8) keeps the payload length, next header and hop limit.
    #[test]
    fn freebsd_v6_upcalls_are_copied_ipv6_headers() {
        let src: Ipv6Addr = "2001:db8::10".parse().unwrap();
        let grp: Ipv6Addr = "ff0e::1:2".parse().unwrap();
        let mut h = vec![0x60, 0x0a, 0xbc, 0xde, 0x00, 0x10, 0x11, 0x3f];
        h.extend_from_slice(&src.octets());
        h.extend_from_slice(&grp.octets());
        for (code, kind) in [(1, UpcallKind::NoCache), (2, UpcallKind::WrongVif)] {
            let mut b = h.clone();
            b[0] = 0;
            b[1] = code;
            b[2..4].copy_from_slice(&5u16.to_ne_bytes());
            let want = Upcall::V6 {
                kind,
                mif: MifId(5),
                source: src,
                group: grp,
            };
            assert_eq!(decode_v6(&b, Layout::FreeBsd), Ok(want));
        }
        // Unchanged, the header is not an upcall (its first byte is the version).
        assert_eq!(decode_v6(&h, Layout::FreeBsd), Err(WireError::NotAnUpcall));
    }

    proptest! {
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            for layout in [Layout::Linux, Layout::FreeBsd] {
                let _ = decode_v4(&bytes, layout);
                let _ = decode_v6(&bytes, layout);
            }
        }

        #[test]
        fn v4_round_trip(kind in 1u8..=4, vif in 0u16..32, s: [u8; 4], g in 224u8..240, rest: [u8; 3]) {
            let u = Upcall::V4 {
                kind: UpcallKind::from_code(kind, Layout::Linux).unwrap(),
                vif: VifId(vif),
                source: Ipv4Addr::from(s),
                group: Ipv4Addr::new(g, rest[0], rest[1], rest[2]),
            };
            prop_assert_eq!(decode_v4(&u.encode(Layout::Linux), Layout::Linux), Ok(u));
        }

        #[test]
        fn v6_round_trip(kind in 1u8..=3, mif in 0u16..64, s: [u8; 16], g: [u8; 15]) {
            let mut grp = [0xffu8; 16];
            grp[1..].copy_from_slice(&g);
            let u = Upcall::V6 {
                kind: UpcallKind::from_code(kind, Layout::FreeBsd).unwrap(),
                mif: MifId(mif),
                source: Ipv6Addr::from(s),
                group: Ipv6Addr::from(grp),
            };
            prop_assert_eq!(decode_v6(&u.encode(Layout::FreeBsd), Layout::FreeBsd), Ok(u));
        }
    }
}
