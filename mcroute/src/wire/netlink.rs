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

/// Decodes FreeBSD routing-socket messages (`struct rt_msghdr` and friends start with
/// `u_short msglen; u_char version; u_char type`): interface announcements, interface
/// state and address changes become [`LinkEvent::Changed`].
pub fn parse_route_socket(buf: &[u8]) -> Vec<LinkEvent> {
    const RTM_NEWADDR: u8 = 0xc;
    const RTM_DELADDR: u8 = 0xd;
    const RTM_IFINFO: u8 = 0xe;
    const RTM_IFANNOUNCE: u8 = 0x11;
    let mut out = Vec::new();
    let mut off = 0;
    while off + 4 <= buf.len() {
        let Some(len) = u16_at(buf, off).map(usize::from) else {
            break;
        };
        if len < 4 || off + len > buf.len() {
            break;
        }
        if matches!(
            buf[off + 3],
            RTM_NEWADDR | RTM_DELADDR | RTM_IFINFO | RTM_IFANNOUNCE
        ) && out.last() != Some(&LinkEvent::Changed)
        {
            out.push(LinkEvent::Changed);
        }
        off += len;
    }
    out
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

    #[test]
    fn freebsd_route_socket_messages() {
        // rt_msghdr-like: msglen 8, version 5, type RTM_IFANNOUNCE; then RTM_ADD (1).
        let buf = [8u8, 0, 5, 0x11, 0, 0, 0, 0, 8, 0, 5, 0x1, 0, 0, 0, 0];
        let mut b = buf;
        b[0..2].copy_from_slice(&8u16.to_ne_bytes());
        b[8..10].copy_from_slice(&8u16.to_ne_bytes());
        assert_eq!(parse_route_socket(&b), vec![LinkEvent::Changed]);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_rtnetlink(&bytes);
            let _ = parse_route_socket(&bytes);
        }
    }
}
