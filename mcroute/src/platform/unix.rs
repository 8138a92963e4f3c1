//! Pieces the Linux and FreeBSD backends share: socket option levels, error wording, and
//! sending IGMP with a hand-built IP header.

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::BorrowedFd;

use libc::c_int;

use super::IgmpSend;
use crate::error::{Error, Object, Result};
use crate::model::{Family, Interface, MfcEntry};
use crate::sys::unix as sys;
use crate::wire::upcall::Upcall;

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
        // FreeBSD's SIOCGETSGCNT_IN6 says ESRCH.
        Some(libc::EADDRNOTAVAIL) | Some(libc::ENOENT) | Some(libc::EINVAL) | Some(libc::ESRCH) => {
            Error::not_found(object)
        }
        _ => Error::io(format!("reading counters of {object}"), e),
    }
}

/// The interface other than `ifindex` that also has IPv4 address `local`, if any: a kernel
/// that finds a VIF's interface by address (FreeBSD's `ifa_ifwithaddr()`) would put the VIF
/// there instead.
#[cfg_attr(not(target_os = "freebsd"), allow(dead_code))]
pub(crate) fn vif_address_conflict(
    interfaces: &[Interface],
    ifindex: u32,
    local: Ipv4Addr,
) -> Option<&str> {
    interfaces
        .iter()
        .find(|i| i.index != ifindex && i.addrs.iter().any(|a| a.addr() == IpAddr::V4(local)))
        .map(|i| i.name.as_str())
}

/// Whether `u` is an IPv6 upcall for a packet that arrived on no MIF: FreeBSD's
/// `X_ip6_mforward()` reports those with `im6_mif == nummifs`, one past the highest MIF, a
/// slot that is never installed.
#[cfg_attr(not(target_os = "freebsd"), allow(dead_code))]
pub(crate) fn unknown_mif(u: &Upcall, mifs: &BTreeSet<u16>) -> bool {
    matches!(u, Upcall::V6 { mif, .. } if !mifs.contains(&mif.0))
}

/// Widens a kernel counter (`unsigned long`, 32 or 64 bits) to `u64`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MifId, VifId, VifIndex};
    use crate::wire::upcall::UpcallKind;

    fn iface(index: u32, name: &str, addrs: &[&str]) -> Interface {
        Interface {
            index,
            name: name.into(),
            up: true,
            multicast: true,
            loopback: false,
            point_to_point: false,
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn a_vif_address_another_interface_shares_is_found() {
        let ifs = [
            iface(1, "em0", &["192.0.2.1/24", "2001:db8::1/64"]),
            iface(2, "em1", &["192.0.2.1/24"]),
            iface(3, "em2", &["198.51.100.1/24"]),
        ];
        let a = "192.0.2.1".parse().unwrap();
        assert_eq!(vif_address_conflict(&ifs, 2, a), Some("em0"));
        assert_eq!(vif_address_conflict(&ifs, 1, a), Some("em1"));
        assert_eq!(
            vif_address_conflict(&ifs, 3, "198.51.100.1".parse().unwrap()),
            None
        );
    }

    #[test]
    fn nocache_from_no_mif_is_recognised() {
        let mifs: BTreeSet<u16> = [0, 1, 3].into_iter().collect();
        let v6 = |m| Upcall::V6 {
            kind: UpcallKind::NoCache,
            mif: MifId(m),
            source: "2001:db8::1".parse().unwrap(),
            group: "ff0e::1".parse().unwrap(),
        };
        // nummifs is 4: a packet from an interface that is not a MIF says 4.
        assert!(unknown_mif(&v6(4), &mifs));
        assert!(!unknown_mif(&v6(3), &mifs));
        let v4 = Upcall::V4 {
            kind: UpcallKind::NoCache,
            vif: VifId(7),
            source: "192.0.2.1".parse().unwrap(),
            group: "239.1.1.1".parse().unwrap(),
        };
        assert!(!unknown_mif(&v4, &mifs));
    }

    #[test]
    fn freebsd_esrch_is_not_found() {
        let e = counter_err(
            Object::Vif(VifIndex::Mif(MifId(1))),
            io::Error::from_raw_os_error(libc::ESRCH),
        );
        assert!(matches!(e, Error::NotFound { .. }), "{e}");
    }
}
