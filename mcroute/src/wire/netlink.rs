//! Interface events from the kernel's routing socket, as pure decoders: rtnetlink (Linux)
//! and `PF_ROUTE` (FreeBSD) messages become [`LinkEvent`]s. They never panic; a truncated
//! or malformed message ends the walk. [`crate::link::LinkMonitor`] owns the socket.

use crate::model::Family;

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// An interface was added or changed (`RTM_NEWLINK`) or removed (`RTM_DELLINK`).
    Link {
        /// Interface index.
        index: u32,
        /// Its name, when the message carried one.
        name: Option<String>,
        /// `IFF_UP`.
        up: bool,
        /// `IFF_MULTICAST`.
        multicast: bool,
        /// The interface is gone.
        removed: bool,
    },
    /// An address was added to or removed from an interface.
    Address {
        /// Interface index.
        index: u32,
        /// The address family.
        family: Family,
        /// The address is gone.
        removed: bool,
    },
    /// Something about the interfaces changed (platforms whose messages say no more).
    Changed,
    /// The socket overflowed and events were lost: rescan everything.
    Overrun,
}

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const NLMSG_HDRLEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const IFADDRMSG_LEN: usize = 8;
const IFLA_IFNAME: u16 = 3;
const IFF_UP: u32 = 0x1;
const IFF_MULTICAST: u32 = 0x1000;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Decodes the rtnetlink messages in one datagram (Linux). Messages that are not link or
/// address messages are skipped; a truncated or malformed message ends the walk.
pub fn parse_rtnetlink(buf: &[u8]) -> Vec<LinkEvent> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + NLMSG_HDRLEN <= buf.len() {
        let Some(len) = u32_at(buf, off).map(|l| l as usize) else {
            break;
        };
        if len < NLMSG_HDRLEN || off + len > buf.len() {
            break;
        }
        let kind = u16_at(buf, off + 4).unwrap_or(0);
        let body = &buf[off + NLMSG_HDRLEN..off + len];
        match kind {
            RTM_NEWLINK | RTM_DELLINK => {
                if let Some(e) = parse_link(body, kind == RTM_DELLINK) {
                    out.push(e);
                }
            }
            RTM_NEWADDR | RTM_DELADDR if body.len() >= IFADDRMSG_LEN => {
                let family = match body[0] as i32 {
                    libc::AF_INET => Some(Family::V4),
                    libc::AF_INET6 => Some(Family::V6),
                    _ => None,
                };
                if let (Some(family), Some(index)) = (family, u32_at(body, 4)) {
                    out.push(LinkEvent::Address {
                        index,
                        family,
                        removed: kind == RTM_DELADDR,
                    });
                }
            }
            _ => {}
        }
        off += align4(len);
    }
    out
}

fn parse_link(body: &[u8], removed: bool) -> Option<LinkEvent> {
    if body.len() < IFINFOMSG_LEN {
        return None;
    }
    let index = u32_at(body, 4)?;
    let flags = u32_at(body, 8)?;
    let mut name = None;
    let mut off = IFINFOMSG_LEN;
    while off + 4 <= body.len() {
        let alen = u16_at(body, off)? as usize;
        let atype = u16_at(body, off + 2)? & 0x3fff;
        if alen < 4 || off + alen > body.len() {
            break;
        }
        if atype == IFLA_IFNAME {
            let v = &body[off + 4..off + alen];
            let v = v.split(|&c| c == 0).next().unwrap_or(&[]);
            name = std::str::from_utf8(v).ok().map(str::to_string);
        }
        off += align4(alen);
    }
    Some(LinkEvent::Link {
        index,
        name,
        up: flags & IFF_UP != 0,
        multicast: flags & IFF_MULTICAST != 0,
        removed,
    })
}

/// `RTM_VERSION` of FreeBSD 5 and later (`net/route.h`).
const RTM_VERSION: u8 = 5;
const BSD_RTM_NEWADDR: u8 = 0xc;
const BSD_RTM_DELADDR: u8 = 0xd;
const RTM_IFINFO: u8 = 0xe;
const RTM_IFANNOUNCE: u8 = 0x11;
/// `IFF_UP` and `IFF_MULTICAST` as FreeBSD numbers them (`net/if.h`).
const BSD_IFF_UP: u32 = 0x1;
const BSD_IFF_MULTICAST: u32 = 0x8000;
/// `AF_INET` and `AF_INET6` on FreeBSD.
const BSD_AF_INET: u8 = 2;
const BSD_AF_INET6: u8 = 28;
/// `RTAX_IFA`: the interface address among the sockaddrs after an `ifa_msghdr`.
const RTAX_IFA: u32 = 5;
const RTAX_MAX: u32 = 8;
/// `sizeof(struct ifa_msghdr)`: msglen, version, type, addrs, flags, index, spare, metric.
const IFA_MSGHDR_LEN: usize = 20;
/// `IFNAMSIZ`.
const BSD_IFNAMSIZ: usize = 16;
/// `if_announcemsghdr.ifan_what` of a departing interface.
const IFAN_DEPARTURE: u16 = 1;

/// `SA_SIZE()` of `net/route.h`: a sockaddr in a routing message takes its length rounded
/// up to a `long`, and a zero-length one a whole `long`.
fn sa_size(len: usize) -> usize {
    let w = core::mem::size_of::<core::ffi::c_long>();
    if len == 0 {
        w
    } else {
        1 + ((len - 1) | (w - 1))
    }
}

/// Decodes FreeBSD routing-socket messages (`struct if_msghdr`, `ifa_msghdr`,
/// `if_announcemsghdr`, each starting `u_short msglen; u_char version; u_char type`):
///
/// - `RTM_IFINFO` becomes [`LinkEvent::Link`] with the interface's index and its `IFF_UP`
///   and `IFF_MULTICAST` flags (no name);
/// - `RTM_IFANNOUNCE` of a departure becomes a removed [`LinkEvent::Link`] with the name, an
///   arrival [`LinkEvent::Changed`] (its flags come with the `RTM_IFINFO` that follows);
/// - `RTM_NEWADDR`/`RTM_DELADDR` become [`LinkEvent::Address`] with the family of the
///   address (`RTAX_IFA`), or [`LinkEvent::Changed`] when it is neither IPv4 nor IPv6.
///
/// Other messages (routes) and messages of another `RTM_VERSION` are skipped; a length that
/// points past the buffer ends the walk.
pub fn parse_route_socket(buf: &[u8]) -> Vec<LinkEvent> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 4 <= buf.len() {
        let Some(len) = u16_at(buf, off).map(usize::from) else {
            break;
        };
        if len < 4 || off + len > buf.len() {
            break;
        }
        let msg = &buf[off..off + len];
        off += len;
        if msg[2] == RTM_VERSION {
            if let Some(e) = route_message(msg) {
                out.push(e);
            }
        }
    }
    out
}

fn route_message(m: &[u8]) -> Option<LinkEvent> {
    match m[3] {
        RTM_IFINFO => {
            let flags = u32_at(m, 8)?;
            Some(LinkEvent::Link {
                index: u32::from(u16_at(m, 12)?),
                name: None,
                up: flags & BSD_IFF_UP != 0,
                multicast: flags & BSD_IFF_MULTICAST != 0,
                removed: false,
            })
        }
        RTM_IFANNOUNCE => {
            let index = u32::from(u16_at(m, 4)?);
            let name = m.get(6..6 + BSD_IFNAMSIZ)?;
            let name = name.split(|&c| c == 0).next().unwrap_or(&[]);
            if u16_at(m, 6 + BSD_IFNAMSIZ)? != IFAN_DEPARTURE {
                return Some(LinkEvent::Changed);
            }
            Some(LinkEvent::Link {
                index,
                name: std::str::from_utf8(name).ok().map(str::to_string),
                up: false,
                multicast: false,
                removed: true,
            })
        }
        kind @ (BSD_RTM_NEWADDR | BSD_RTM_DELADDR) => {
            let addrs = u32_at(m, 4)?;
            let index = u32::from(u16_at(m, 12)?);
            let family = m.get(IFA_MSGHDR_LEN..).and_then(|sa| ifa_family(sa, addrs));
            Some(match family {
                Some(family) => LinkEvent::Address {
                    index,
                    family,
                    removed: kind == BSD_RTM_DELADDR,
                },
                None => LinkEvent::Changed,
            })
        }
        _ => None,
    }
}

/// The family of the `RTAX_IFA` sockaddr among those `addrs` says follow.
fn ifa_family(mut sa: &[u8], addrs: u32) -> Option<Family> {
    for i in 0..RTAX_MAX {
        if addrs & (1 << i) == 0 {
            continue;
        }
        if i == RTAX_IFA {
            return match *sa.get(1)? {
                BSD_AF_INET => Some(Family::V4),
                BSD_AF_INET6 => Some(Family::V6),
                _ => None,
            };
        }
        sa = sa.get(sa_size(usize::from(*sa.first()?))..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn nlmsg(kind: u16, body: &[u8]) -> Vec<u8> {
        let len = NLMSG_HDRLEN + body.len();
        let mut m = Vec::new();
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(body);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    fn ifinfo(index: u32, flags: u32, name: &str) -> Vec<u8> {
        let mut b = vec![0u8; IFINFOMSG_LEN];
        b[4..8].copy_from_slice(&index.to_ne_bytes());
        b[8..12].copy_from_slice(&flags.to_ne_bytes());
        let alen = 4 + name.len() + 1;
        b.extend_from_slice(&(alen as u16).to_ne_bytes());
        b.extend_from_slice(&IFLA_IFNAME.to_ne_bytes());
        b.extend_from_slice(name.as_bytes());
        b.push(0);
        while b.len() % 4 != 0 {
            b.push(0);
        }
        b
    }

    #[test]
    fn link_and_address_messages() {
        let mut buf = nlmsg(RTM_NEWLINK, &ifinfo(7, IFF_UP | IFF_MULTICAST, "veth7"));
        buf.extend(nlmsg(RTM_DELLINK, &ifinfo(8, 0, "gone0")));
        let mut addr = vec![0u8; IFADDRMSG_LEN];
        addr[0] = libc::AF_INET6 as u8;
        addr[4..8].copy_from_slice(&7u32.to_ne_bytes());
        buf.extend(nlmsg(RTM_NEWADDR, &addr));
        buf.extend(nlmsg(99, &[1, 2, 3, 4]));
        assert_eq!(
            parse_rtnetlink(&buf),
            vec![
                LinkEvent::Link {
                    index: 7,
                    name: Some("veth7".into()),
                    up: true,
                    multicast: true,
                    removed: false
                },
                LinkEvent::Link {
                    index: 8,
                    name: Some("gone0".into()),
                    up: false,
                    multicast: false,
                    removed: true
                },
                LinkEvent::Address {
                    index: 7,
                    family: Family::V6,
                    removed: false
                },
            ]
        );
        // A length field pointing past the end stops the walk without panicking.
        let mut bad = nlmsg(RTM_NEWLINK, &ifinfo(1, 0, "x"));
        bad[0] = 0xff;
        assert!(parse_rtnetlink(&bad).is_empty());
    }

    // FreeBSD routing-socket fixtures (amd64, little-endian), every byte from the field
    // offsets of `struct if_msghdr`, `ifa_msghdr` and `if_announcemsghdr` in `net/if.h`, and
    // the sockaddrs as `rtsock.c` lays them out (each `SA_SIZE()`, a multiple of 8).

    /// `RTM_IFINFO` for index 3 with IFF_UP|BROADCAST|RUNNING|SIMPLEX|MULTICAST (0x8843), as
    /// `if_allmulti()` also sends it; the 152-byte `struct if_data` follows, zeroed here.
    fn bsd_ifinfo(index: u8, flags: [u8; 4]) -> Vec<u8> {
        let mut m = vec![168, 0, 5, 0x0e, 0, 0, 0, 0];
        m.extend_from_slice(&flags);
        m.extend_from_slice(&[index, 0, 0, 0]);
        m.resize(168, 0);
        m
    }

    #[test]
    #[cfg(all(target_endian = "little", target_pointer_width = "64"))]
    fn freebsd_route_socket_fixtures() {
        let mut buf = bsd_ifinfo(3, [0x43, 0x88, 0, 0]);
        // RTM_IFANNOUNCE, departure of index 4 "em1".
        let mut ann = vec![24, 0, 5, 0x11, 4, 0];
        let mut name = [0u8; 16];
        name[..3].copy_from_slice(b"em1");
        ann.extend_from_slice(&name);
        ann.extend_from_slice(&[1, 0]); // IFAN_DEPARTURE
        buf.extend_from_slice(&ann);
        // RTM_NEWADDR of 192.0.2.1/24 on index 1: addrs NETMASK|IFP|IFA|BRD (0xb4).
        let mut na = vec![
            0, 0, 5, 0x0c, 0xb4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
        ];
        na.extend_from_slice(&[7, 2, 0, 0, 255, 255, 255, 0]); // netmask, sa_len 7 -> 8
        let mut dl = vec![17, 18, 1, 0, 6, 3, 6, 0]; // sockaddr_dl "em0", 6-byte MAC
        dl.extend_from_slice(b"em0");
        dl.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
        dl.resize(24, 0); // sa_len 17 -> 24
        na.extend_from_slice(&dl);
        na.extend_from_slice(&[16, 2, 0, 0, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]); // IFA
        na.extend_from_slice(&[16, 2, 0, 0, 192, 0, 2, 255, 0, 0, 0, 0, 0, 0, 0, 0]); // BRD
        na[0] = na.len() as u8;
        buf.extend_from_slice(&na);
        // RTM_DELADDR of 2001:db8::1 on index 2: addrs IFA only, a 28-byte sockaddr_in6.
        let mut da = vec![
            0, 0, 5, 0x0d, 0x20, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
        ];
        da.extend_from_slice(&[28, 28, 0, 0, 0, 0, 0, 0]);
        da.extend_from_slice(
            &"2001:db8::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        da.extend_from_slice(&[0; 4]);
        da[0] = da.len() as u8;
        buf.extend_from_slice(&da);
        // RTM_ADD (a route) and a message of another RTM_VERSION: skipped.
        buf.extend_from_slice(&[8, 0, 5, 0x01, 0, 0, 0, 0]);
        buf.extend_from_slice(&[8, 0, 4, 0x0e, 0, 0, 0, 0]);
        assert_eq!(
            parse_route_socket(&buf),
            vec![
                LinkEvent::Link {
                    index: 3,
                    name: None,
                    up: true,
                    multicast: true,
                    removed: false
                },
                LinkEvent::Link {
                    index: 4,
                    name: Some("em1".into()),
                    up: false,
                    multicast: false,
                    removed: true
                },
                LinkEvent::Address {
                    index: 1,
                    family: Family::V4,
                    removed: false
                },
                LinkEvent::Address {
                    index: 2,
                    family: Family::V6,
                    removed: true
                },
            ]
        );
        // An arrival, and an address message whose IFA is cut off, say only "changed".
        let mut arrive = ann.clone();
        arrive[22] = 0;
        assert_eq!(parse_route_socket(&arrive), vec![LinkEvent::Changed]);
        let cut = &na[..na.len() - 32]; // neither IFA nor BRD
        let mut cut = cut.to_vec();
        cut[0] = cut.len() as u8;
        assert_eq!(parse_route_socket(&cut), vec![LinkEvent::Changed]);
        // Linux's IFF_MULTICAST bit (0x1000) is not FreeBSD's.
        assert_eq!(
            parse_route_socket(&bsd_ifinfo(9, [0x01, 0x10, 0, 0])),
            vec![LinkEvent::Link {
                index: 9,
                name: None,
                up: true,
                multicast: false,
                removed: false
            }]
        );
    }

    proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_rtnetlink(&bytes);
            let _ = parse_route_socket(&bytes);
        }
    }
}
