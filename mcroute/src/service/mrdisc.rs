//! The Multicast Router Discovery socket: raw IGMP (IPv4) or ICMPv6 (IPv6), sending with
//! TTL/hop limit 1 and the Router Alert option, receiving solicitations with the arriving
//! interface.

use std::collections::BTreeSet;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use libc::c_int;

use crate::engine::mrdisc::all_routers;
use crate::engine::Transmit;
use crate::error::{Error, Result};
use crate::model::Family;
use crate::sys::mrdisc as sys;
use crate::sys::unix;
use crate::wire::mrdisc::{Repr, ICMPV6_SOLICITATION};

/// The IPv4 Router Alert option (RFC 2113): type 148, length 4, value 0.
const IPV4_ROUTER_ALERT: [u8; 4] = [0x94, 0x04, 0x00, 0x00];

/// An IPv6 Hop-by-Hop Options header holding a Router Alert (RFC 2711) with value 0 (the
/// value MLD uses; RFC 4286 section 3.3 sends MRD like MLD), padded to 8 bytes with PadN.
/// The kernel fills in the next-header byte.
const IPV6_HBH_ROUTER_ALERT: [u8; 8] = [0, 0, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00];

/// A message received on an [`MrdiscSocket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// The family of the socket it came from.
    pub family: Family,
    /// The interface it arrived on.
    pub ifindex: u32,
    /// The sender.
    pub source: IpAddr,
    /// The message.
    pub message: Repr,
}

/// One raw socket per family for Multicast Router Discovery on any number of interfaces.
///
/// - IPv4: `IPPROTO_IGMP`, `IP_MULTICAST_TTL` 1, no loopback, the Router Alert in
///   `IP_OPTIONS`, `IP_PKTINFO` (FreeBSD: `IP_RECVIF`) for the arriving interface.
/// - IPv6: `IPPROTO_ICMPV6`, `IPV6_MULTICAST_HOPS` 1, no loopback, a Router Alert in a
///   sticky Hop-by-Hop header (`IPV6_HOPOPTS`), an `ICMP6_FILTER` that passes only
///   solicitations (type 152), `IPV6_RECVPKTINFO`. The kernel computes and checks the
///   ICMPv6 checksum.
///
/// [`join`](Self::join) the All-Routers group on each advertising interface to hear the
/// solicitations sent there. The socket is non-blocking: poll its descriptor
/// ([`AsFd`]) for readability and drain it with [`recv`](Self::recv).
///
/// ```no_run
/// use mcroute::service::mrdisc::MrdiscSocket;
/// use mcroute::Family;
/// let mut sock = MrdiscSocket::open(Family::V4)?; // needs CAP_NET_RAW
/// sock.join(2)?;
/// # Ok::<(), mcroute::Error>(())
/// ```
#[derive(Debug)]
pub struct MrdiscSocket {
    family: Family,
    fd: OwnedFd,
    joined: BTreeSet<u32>,
    buf: Vec<u8>,
}

fn io_err(op: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    move |e| Error::io(op, e)
}

impl MrdiscSocket {
    /// Opens and sets up the socket of `family`. Needs `CAP_NET_RAW` (root).
    pub fn open(family: Family) -> Result<MrdiscSocket> {
        let fd = match family {
            Family::V4 => open_v4(),
            Family::V6 => open_v6(),
        }
        .map_err(io_err(format!("opening the {family} MRD socket")))?;
        Ok(MrdiscSocket {
            family,
            fd,
            joined: BTreeSet::new(),
            buf: vec![0; 2048],
        })
    }

    /// The family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Joins All-Routers (224.0.0.2 / ff02::2) on `ifindex`, where snoopers send
    /// solicitations (RFC 4286 section 4). Joining twice is not an error.
    pub fn join(&mut self, ifindex: u32) -> Result<()> {
        if self.joined.contains(&ifindex) {
            return Ok(());
        }
        let group = all_routers(self.family);
        match unix::membership(self.fd.as_fd(), true, ifindex, group, None) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => {}
            Err(e) => {
                return Err(Error::io(
                    format!("joining {group} on ifindex {ifindex}"),
                    e,
                ))
            }
        }
        self.joined.insert(ifindex);
        Ok(())
    }

    /// Leaves All-Routers on `ifindex`. Leaving an interface that was not joined, or that
    /// is gone, is not an error.
    pub fn leave(&mut self, ifindex: u32) -> Result<()> {
        if !self.joined.remove(&ifindex) {
            return Ok(());
        }
        let group = all_routers(self.family);
        match unix::membership(self.fd.as_fd(), false, ifindex, group, None) {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EADDRNOTAVAIL) | Some(libc::ENODEV) | Some(libc::ENXIO)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(Error::io(
                format!("leaving {group} on ifindex {ifindex}"),
                e,
            )),
        }
    }

    /// Sends what the engine asked for: out of its interface (an [`Egress::Interface`](crate::engine::Egress::Interface)),
    /// to its destination. A full socket buffer (`EAGAIN`) drops the message, as a lost
    /// packet would be.
    pub fn send(&self, tx: &Transmit) -> Result<()> {
        let ifindex = tx.ifindex().unwrap_or(0);
        let what = || {
            let kind = Repr::parse(self.family, &tx.payload).map(|m| m.kind());
            format!("sending an MRD {kind:?} on ifindex {ifindex}")
        };
        if tx.family() != self.family || tx.ifindex().is_none() {
            return Err(Error::io(
                what(),
                io::Error::new(io::ErrorKind::InvalidInput, "wrong address family"),
            ));
        }
        let fd = self.fd.as_fd();
        match self.family {
            Family::V4 => {
                let mreq = ip_mreqn(ifindex);
                unix::setsockopt(fd, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &mreq)
            }
            Family::V6 => {
                let idx = c_int::try_from(ifindex).unwrap_or(0);
                unix::setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF, &idx)
            }
        }
        .map_err(|e| Error::io(what(), e))?;
        sys::send_to(fd, &tx.payload, tx.dst).map_err(|e| Error::io(what(), e))?;
        Ok(())
    }

    /// Receives the next MRD message, without blocking; `Ok(None)` when there is none for
    /// now. Other IGMP messages on the IPv4 socket, malformed messages and messages whose
    /// interface is unknown are skipped.
    pub fn recv(&mut self) -> Result<Option<Received>> {
        // Bounded, so that a flood of other IGMP cannot keep the caller here: the
        // descriptor stays readable and the caller comes back.
        for _ in 0..256 {
            let meta = match sys::recv_from(self.fd.as_fd(), &mut self.buf).map_err(io_err(
                format!("receiving on the {} MRD socket", self.family),
            ))? {
                Some(m) => m,
                None => return Ok(None),
            };
            let data = self.buf.get(..meta.len).unwrap_or(&[]);
            let payload = match self.family {
                Family::V4 => strip_ipv4_header(data),
                Family::V6 => Some(data),
            };
            let (Some(payload), Some(ifindex)) = (payload, meta.ifindex) else {
                continue;
            };
            match Repr::parse(self.family, payload) {
                Ok(message) => {
                    return Ok(Some(Received {
                        family: self.family,
                        ifindex,
                        source: meta.source,
                        message,
                    }))
                }
                Err(e) => log::trace!("ignoring a message on the MRD socket: {e}"),
            }
        }
        Ok(None)
    }
}

impl AsFd for MrdiscSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The IGMP bytes of a raw IPv4 datagram (its header, options included, cut off).
fn strip_ipv4_header(data: &[u8]) -> Option<&[u8]> {
    let first = *data.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    if ihl < 20 {
        return None;
    }
    data.get(ihl..)
}

fn ip_mreqn(ifindex: u32) -> libc::ip_mreqn {
    libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: c_int::try_from(ifindex).unwrap_or(0),
    }
}

fn open_v4() -> io::Result<OwnedFd> {
    let fd = unix::raw_socket(libc::AF_INET, libc::IPPROTO_IGMP)?;
    let b = fd.as_fd();
    unix::setsockopt(b, libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, &1u8)?;
    unix::setsockopt(b, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, &0u8)?;
    unix::setsockopt(b, libc::IPPROTO_IP, sys::IP_OPTIONS, &IPV4_ROUTER_ALERT)?;
    unix::setsockopt(b, libc::IPPROTO_IP, sys::IP_RECV_IFINDEX, &(1 as c_int))?;
    Ok(fd)
}

fn open_v6() -> io::Result<OwnedFd> {
    let fd = unix::raw_socket(libc::AF_INET6, libc::IPPROTO_ICMPV6)?;
    let b = fd.as_fd();
    unix::setsockopt(
        b,
        libc::IPPROTO_IPV6,
        libc::IPV6_MULTICAST_HOPS,
        &(1 as c_int),
    )?;
    unix::setsockopt(
        b,
        libc::IPPROTO_IPV6,
        libc::IPV6_MULTICAST_LOOP,
        &(0 as c_int),
    )?;
    unix::setsockopt(
        b,
        libc::IPPROTO_IPV6,
        sys::IPV6_HOPOPTS,
        &IPV6_HBH_ROUTER_ALERT,
    )?;
    let filter = sys::icmp6_filter_only(ICMPV6_SOLICITATION);
    unix::setsockopt(b, libc::IPPROTO_ICMPV6, sys::ICMP6_FILTER, &filter)?;
    unix::setsockopt(b, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, &(1 as c_int))?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_is_cut_with_its_options() {
        let mut d = vec![0x46, 0, 0, 0];
        d.resize(24, 0);
        d.extend_from_slice(&[0x31, 0, 0xce, 0xff]);
        assert_eq!(strip_ipv4_header(&d), Some(&[0x31, 0, 0xce, 0xff][..]));
        assert_eq!(strip_ipv4_header(&[0x45]), None);
        assert_eq!(strip_ipv4_header(&[0x60; 40]), None);
        assert_eq!(strip_ipv4_header(&[0x41; 40]), None);
        assert_eq!(strip_ipv4_header(&[]), None);
    }

    #[test]
    fn icmp6_filter_passes_only_solicitations() {
        let f = sys::icmp6_filter_only(ICMPV6_SOLICITATION);
        // 152 = word 4, bit 24.
        let bit = |t: u8| f[usize::from(t >> 5)] & (1 << (t & 31)) != 0;
        #[cfg(target_os = "linux")]
        assert!(!bit(152) && bit(151) && bit(130) && bit(0));
        #[cfg(target_os = "freebsd")]
        assert!(bit(152) && !bit(151) && !bit(130) && !bit(0));
    }
}
