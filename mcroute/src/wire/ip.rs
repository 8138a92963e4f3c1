//! The IPv4 header around IGMP and DVMRP messages, as the routing socket reads and writes it.
//!
//! A raw `IPPROTO_IGMP` socket delivers whole IP datagrams, and with `IP_HDRINCL` it sends
//! them: this module splits a received datagram into its header fields and payload
//! ([`Ipv4Header::parse`]) and builds the header of an outgoing one ([`Ipv4Header::emit`]),
//! with the Router Alert option (RFC 2113) that IGMP (RFC 2236 section 2) and mrouted put on
//! every message.
//!
//! ```
//! use mcroute::wire::ip::Ipv4Header;
//!
//! let h = Ipv4Header::igmp("192.0.2.1".parse()?, "224.0.0.4".parse()?, 1, true);
//! let mut datagram = h.emit(12);
//! datagram.extend_from_slice(&[0x13, 1, 0, 0, 0, 0, 0xff, 3, 0, 0, 0, 1]);
//! let (parsed, payload) = Ipv4Header::parse(&datagram)?;
//! assert_eq!(parsed, h);
//! assert_eq!(payload.len(), 12);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::net::Ipv4Addr;

use super::{addr_at, check_len, checksum, WireError, IPPROTO_IGMP};

/// Length of an IPv4 header without options.
pub const MIN_HEADER_LEN: usize = 20;
/// The Router Alert option (RFC 2113): type 148, length 4, value 0.
pub const ROUTER_ALERT: [u8; 4] = [0x94, 0x04, 0x00, 0x00];

/// The fields of an IPv4 header that IGMP and DVMRP care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Time to live.
    pub ttl: u8,
    /// The protocol number (2 for IGMP).
    pub protocol: u8,
    /// Whether the options carry Router Alert.
    pub router_alert: bool,
}

impl Ipv4Header {
    /// The header of an IGMP message from `src` to `dst`.
    pub fn igmp(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, router_alert: bool) -> Ipv4Header {
        Ipv4Header {
            src,
            dst,
            ttl,
            protocol: IPPROTO_IGMP,
            router_alert,
        }
    }

    /// The header length this header is emitted with.
    pub fn header_len(&self) -> usize {
        MIN_HEADER_LEN + if self.router_alert { 4 } else { 0 }
    }

    /// Splits a datagram into its header and its payload (the bytes after the header, up to
    /// the total length when the datagram carries more, e.g. link padding). The header
    /// checksum is not verified: the kernel did. Never panics.
    pub fn parse(bytes: &[u8]) -> Result<(Ipv4Header, &[u8]), WireError> {
        check_len(bytes, MIN_HEADER_LEN)?;
        if bytes[0] >> 4 != 4 {
            return Err(WireError::Malformed("not an IPv4 header"));
        }
        let ihl = usize::from(bytes[0] & 0x0f) * 4;
        if ihl < MIN_HEADER_LEN {
            return Err(WireError::Malformed("IPv4 header length below 20"));
        }
        check_len(bytes, ihl)?;
        // Some kernels hand raw sockets the total length in host order, or without the
        // header: trust it only when it is consistent, else take what was received.
        let total = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        let end = if (ihl..=bytes.len()).contains(&total) {
            total
        } else {
            bytes.len()
        };
        let mut router_alert = false;
        let mut opts = &bytes[MIN_HEADER_LEN..ihl];
        while let Some(&kind) = opts.first() {
            match kind {
                0 => break,
                1 => opts = &opts[1..],
                _ => {
                    let len = usize::from(*opts.get(1).unwrap_or(&0));
                    if len < 2 || len > opts.len() {
                        return Err(WireError::Malformed("bad IPv4 option length"));
                    }
                    if kind == ROUTER_ALERT[0] {
                        router_alert = true;
                    }
                    opts = &opts[len..];
                }
            }
        }
        Ok((
            Ipv4Header {
                src: addr_at(bytes, 12),
                dst: addr_at(bytes, 16),
                ttl: bytes[8],
                protocol: bytes[9],
                router_alert,
            },
            &bytes[ihl..end],
        ))
    }

    /// The header bytes (checksum filled in, identification 0 for the kernel to fill, Don't
    /// Fragment clear) for a payload of `payload_len` bytes. Append the payload to send.
    pub fn emit(&self, payload_len: usize) -> Vec<u8> {
        let hl = self.header_len();
        let total = u16::try_from(hl + payload_len).unwrap_or(u16::MAX);
        let mut h = Vec::with_capacity(hl + payload_len);
        h.push(0x40 | (hl / 4) as u8);
        h.push(0xc0); // precedence: internetwork control, as mrouted sends
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&[0, 0, 0, 0]); // id, flags and fragment offset
        h.push(self.ttl);
        h.push(self.protocol);
        h.extend_from_slice(&[0, 0]);
        h.extend_from_slice(&self.src.octets());
        h.extend_from_slice(&self.dst.octets());
        if self.router_alert {
            h.extend_from_slice(&ROUTER_ALERT);
        }
        let c = checksum::checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emitted_header_checks_out() {
        let h = Ipv4Header::igmp(
            "198.51.100.1".parse().unwrap(),
            "224.0.0.4".parse().unwrap(),
            1,
            true,
        );
        let b = h.emit(8);
        assert_eq!(b.len(), 24);
        assert_eq!(b[0], 0x46);
        assert_eq!(u16::from_be_bytes([b[2], b[3]]), 32);
        assert_eq!(checksum::checksum(&b), 0, "a valid header sums to zero");
        assert_eq!(&b[20..24], &ROUTER_ALERT);
        let plain = Ipv4Header {
            router_alert: false,
            ..h
        };
        assert_eq!(plain.emit(0).len(), 20);
    }

    #[test]
    fn parse_stops_at_total_length_and_skips_options() {
        let h = Ipv4Header::igmp(
            "192.0.2.9".parse().unwrap(),
            "225.1.2.3".parse().unwrap(),
            1,
            true,
        );
        let mut d = h.emit(8);
        d.extend_from_slice(&[0x16, 0, 0, 0, 225, 1, 2, 3]);
        d.extend_from_slice(&[0; 6]); // padding
        let (p, payload) = Ipv4Header::parse(&d).unwrap();
        assert_eq!(p, h);
        assert_eq!(payload, &[0x16, 0, 0, 0, 225, 1, 2, 3]);
        // A total length that does not fit: take the bytes received.
        d[2] = 0xff;
        assert_eq!(Ipv4Header::parse(&d).unwrap().1.len(), 14);
        assert!(Ipv4Header::parse(&[0x45; 10]).is_err());
        assert!(Ipv4Header::parse(&[0x60; 40]).is_err());
        let mut bad = d.clone();
        bad[21] = 9; // option longer than the header
        assert!(Ipv4Header::parse(&bad).is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = Ipv4Header::parse(&bytes);
        }

        #[test]
        fn round_trip(src: u32, dst: u32, ttl: u8, ra: bool, n in 0usize..64) {
            let h = Ipv4Header::igmp(Ipv4Addr::from(src), Ipv4Addr::from(dst), ttl, ra);
            let mut d = h.emit(n);
            d.extend(std::iter::repeat_n(7u8, n));
            let (p, payload) = Ipv4Header::parse(&d).unwrap();
            prop_assert_eq!(p, h);
            prop_assert_eq!(payload.len(), n);
        }
    }
}
