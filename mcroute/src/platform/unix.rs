//! Pieces the Linux and FreeBSD backends share: socket option levels, error wording, and
//! sending IGMP with a hand-built IP header.

use std::io;
use std::os::fd::BorrowedFd;

use libc::c_int;

use super::IgmpSend;
use crate::error::{Error, Object, Result};
use crate::model::{Family, MfcEntry};
use crate::sys::unix as sys;

/// The socket option level of `family`'s multicast routing options.
pub(crate) fn level(family: Family) -> c_int {
    match family {
        Family::V4 => libc::IPPROTO_IP,
        Family::V6 => libc::IPPROTO_IPV6,
    }
}

/// "adding MFC (S, G) from VIF n", for errors.
pub(crate) fn mfc_op(add: bool, entry: &MfcEntry) -> String {
    format!(
        "{} MFC ({}, {}) from {}",
        if add { "adding" } else { "deleting" },
        entry.source(),
        entry.group(),
        entry.iif()
    )
}

/// A counter ioctl's error about `object`: "no such entry" errnos become
/// [`Error::NotFound`].
pub(crate) fn counter_err(object: Object, e: io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::EADDRNOTAVAIL) | Some(libc::ENOENT) | Some(libc::EINVAL) => {
            Error::not_found(object)
        }
        _ => Error::io(format!("reading counters of {object}"), e),
    }
}

/// Widens a kernel counter (`unsigned long`, 32 or 64 bits) to `u64`.
pub(crate) fn c64<T: Into<u64>>(x: T) -> u64 {
    x.into()
}

/// Sends an IGMP message on the IPv4 routing socket `fd` with our own IP header (TTL, Router
/// Alert), out of `packet.ifindex` for a group. The first call sets `IP_HDRINCL` and turns
/// multicast loopback off (`ready` remembers it), so our own messages do not come back as if
/// a neighbour sent them.
pub(crate) fn send_igmp(fd: BorrowedFd<'_>, ready: &mut bool, packet: &IgmpSend<'_>) -> Result<()> {
    let op = || {
        format!(
            "sending IGMP from {} to {} on interface {}",
            packet.src, packet.dst, packet.ifindex
        )
    };
    if !*ready {
        let one: c_int = 1;
        sys::setsockopt(fd, libc::IPPROTO_IP, libc::IP_HDRINCL, &one)
            .map_err(|e| Error::io("setting IP_HDRINCL on the IPv4 routing socket", e))?;
        sys::setsockopt(fd, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, &0u8)
            .map_err(|e| Error::io("clearing IP_MULTICAST_LOOP on the routing socket", e))?;
        *ready = true;
    }
    if packet.dst.is_multicast() {
        sys::set_multicast_if_v4(fd, packet.ifindex).map_err(|e| Error::io(op(), e))?;
    }
    // Linux, and FreeBSD 11 and later, take ip_len and ip_off in network order.
    let datagram = super::igmp_datagram(packet);
    sys::sendto_v4(fd, &datagram, packet.dst).map_err(|e| Error::io(op(), e))?;
    Ok(())
}
