//! FreeBSD: `sys/netinet/ip_mroute.h`, `sys/netinet6/ip6_mroute.h`, `sys/netinet6/in6_var.h`,
//! `sys/sys/sockio.h` and `sys/sys/ioccom.h`.
//!
//! The messages are built and read as bytes by plain functions compiled on every host, so
//! Linux CI checks them against byte fixtures written from the headers' field offsets; only
//! the system calls that carry them (`sys/freebsd.rs`) are FreeBSD-only. Integers are in
//! host order, addresses in network order, as in the C structures.

use core::ffi::{c_int, c_ulong};
use core::mem::{align_of, size_of};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{bsd_iowr, MAXVIFS};
use crate::error::{Error, Result};
use crate::model::{MfcEntry, Vif, VifIndex};

/// Activate the multicast router (`netinet/ip_mroute.h`).
pub(crate) const MRT_INIT: c_int = 100;
/// Shut down.
pub(crate) const MRT_DONE: c_int = 101;
/// Add a VIF.
pub(crate) const MRT_ADD_VIF: c_int = 102;
/// Delete a VIF.
pub(crate) const MRT_DEL_VIF: c_int = 103;
/// Add an MFC entry.
pub(crate) const MRT_ADD_MFC: c_int = 104;
/// Delete an MFC entry.
pub(crate) const MRT_DEL_MFC: c_int = 105;
/// PIM assert mode: WRONGVIF upcalls (`V_pim_assert_enabled`).
pub(crate) const MRT_ASSERT: c_int = 107;

/// Shut down IPv6 multicast routing (`netinet6/ip6_mroute.h`).
pub(crate) const MRT6_DONE: c_int = 101;
/// Add a MIF.
pub(crate) const MRT6_ADD_MIF: c_int = 102;
/// Delete a MIF.
pub(crate) const MRT6_DEL_MIF: c_int = 103;
/// Add an MFC entry.
pub(crate) const MRT6_ADD_MFC: c_int = 104;
/// Delete an MFC entry.
pub(crate) const MRT6_DEL_MFC: c_int = 105;
/// PIM: also what makes `ip6_mdq()` send WRONGMIF upcalls (`V_pim6`).
pub(crate) const MRT6_PIM: c_int = 107;
/// Activate the IPv6 multicast router.
pub(crate) const MRT6_INIT: c_int = 108;

/// Maximum VIFs.
pub(crate) const MAXVIFS_FREEBSD: usize = MAXVIFS;
/// Maximum MIFs.
pub(crate) const MAXMIFS: usize = 64;

/// VIF flag: IP-in-IP tunnel (refused by FreeBSD 7 and later with `EOPNOTSUPP`).
pub(crate) const VIFF_TUNNEL: u8 = 0x1;
/// VIF flag: PIM register.
pub(crate) const VIFF_REGISTER: u8 = 0x4;

/// `SO_RERROR` (`sys/socket.h`, FreeBSD 14): report receive-buffer overflows as `ENOBUFS`.
pub(crate) const SO_RERROR: c_int = 0x0002_0000;
/// `ICMP6_FILTER` (`netinet6/in6.h`); a set bit *passes* the type.
pub(crate) const ICMP6_FILTER: c_int = 18;

/// `sizeof(struct vifctl)`.
pub(crate) const VIFCTL_LEN: usize = 16;
/// `sizeof(struct mfcctl)`: no counters, 2 bytes of tail padding.
pub(crate) const MFCCTL_LEN: usize = 44;
/// `sizeof(struct mif6ctl)`.
pub(crate) const MIF6CTL_LEN: usize = 6;
/// `sizeof(struct sockaddr_in6)`.
pub(crate) const SOCKADDR_IN6_LEN: usize = 28;
/// `sizeof(struct mf6cctl)`.
pub(crate) const MF6CCTL_LEN: usize = 92;

/// `u_long`: 8 bytes on amd64 and arm64, 4 on i386.
const ULONG: usize = size_of::<c_ulong>();
/// Where the first `u_quad_t` after a 16-bit index lands (8 on amd64, 4 on i386).
const QUAD_AFTER_U16: usize = align_of::<u64>();

/// `sizeof(struct sioc_sg_req)`: two `in_addr`, three `u_long`.
pub(crate) const SIOC_SG_REQ_LEN: usize = 8 + 3 * ULONG;
/// `sizeof(struct sioc_vif_req)`: `vifi_t` padded to a `u_long`, four `u_long`.
pub(crate) const SIOC_VIF_REQ_LEN: usize = 5 * ULONG;
/// `sizeof(struct sioc_sg_req6)`: two `sockaddr_in6`, three `u_quad_t`.
pub(crate) const SIOC_SG_REQ6_LEN: usize = 2 * SOCKADDR_IN6_LEN + 24;
/// `sizeof(struct sioc_mif_req6)`: `mifi_t` padded to a `u_quad_t`, four `u_quad_t`.
pub(crate) const SIOC_MIF_REQ6_LEN: usize = QUAD_AFTER_U16 + 32;

/// `SIOCGETVIFCNT = _IOWR('r', 15, struct sioc_vif_req)` (`sys/sockio.h`).
pub(crate) const SIOCGETVIFCNT: u64 = bsd_iowr(b'r', 15, SIOC_VIF_REQ_LEN);
/// `SIOCGETSGCNT = _IOWR('r', 16, struct sioc_sg_req)` (`sys/sockio.h`).
pub(crate) const SIOCGETSGCNT: u64 = bsd_iowr(b'r', 16, SIOC_SG_REQ_LEN);
/// `SIOCGETSGCNT_IN6 = _IOWR('u', 106, struct sioc_sg_req6)` (`netinet6/in6_var.h`).
pub(crate) const SIOCGETSGCNT_IN6: u64 = bsd_iowr(b'u', 106, SIOC_SG_REQ6_LEN);
/// `SIOCGETMIFCNT_IN6 = _IOWR('u', 107, struct sioc_mif_req6)` (`netinet6/in6_var.h`).
pub(crate) const SIOCGETMIFCNT_IN6: u64 = bsd_iowr(b'u', 107, SIOC_MIF_REQ6_LEN);

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_ne_bytes());
}

fn ulong_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w[..ULONG].copy_from_slice(&b[at..at + ULONG]);
    if ULONG == 8 {
        u64::from_ne_bytes(w)
    } else {
        u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]))
    }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(w)
}

/// `struct vifctl { vifi_t vifc_vifi; u_char vifc_flags, vifc_threshold; u_int
/// vifc_rate_limit; struct in_addr vifc_lcl_addr, vifc_rmt_addr; }`.
///
/// The rate limit is always 0: `add_vif()` refuses any other value with `EINVAL` ("rate
/// limiting is no longer supported").
pub(crate) fn vifctl(
    vifi: u16,
    flags: u8,
    threshold: u8,
    local: Ipv4Addr,
    remote: Ipv4Addr,
) -> [u8; VIFCTL_LEN] {
    let mut b = [0u8; VIFCTL_LEN];
    put_u16(&mut b, 0, vifi);
    b[2] = flags;
    b[3] = threshold;
    // 4..8: vifc_rate_limit = 0.
    b[8..12].copy_from_slice(&local.octets());
    b[12..16].copy_from_slice(&remote.octets());
    b
}

/// `struct mfcctl { struct in_addr mfcc_origin, mfcc_mcastgrp; vifi_t mfcc_parent; u_char
/// mfcc_ttls[MAXVIFS]; }`; `ttls` gives (VIF, threshold) pairs, those past `MAXVIFS` are
/// left out.
pub(crate) fn mfcctl(
    origin: Ipv4Addr,
    group: Ipv4Addr,
    parent: u16,
    ttls: impl IntoIterator<Item = (u16, u8)>,
) -> [u8; MFCCTL_LEN] {
    let mut b = [0u8; MFCCTL_LEN];
    b[0..4].copy_from_slice(&origin.octets());
    b[4..8].copy_from_slice(&group.octets());
    put_u16(&mut b, 8, parent);
    for (vif, ttl) in ttls {
        if usize::from(vif) < MAXVIFS {
            b[10 + usize::from(vif)] = ttl;
        }
    }
    b
}

/// `struct sockaddr_in6` with its BSD length byte: `sin6_len` 28, `sin6_family` `AF_INET6`
/// (28), port, flow information and scope 0.
pub(crate) fn sockaddr_in6(addr: Ipv6Addr) -> [u8; SOCKADDR_IN6_LEN] {
    let mut b = [0u8; SOCKADDR_IN6_LEN];
    b[0] = SOCKADDR_IN6_LEN as u8;
    b[1] = 28;
    b[8..24].copy_from_slice(&addr.octets());
    b
}

/// `struct mif6ctl { mifi_t mif6c_mifi; u_char mif6c_flags; u_short mif6c_pifi; }`.
pub(crate) fn mif6ctl(mifi: u16, flags: u8, pifi: u16) -> [u8; MIF6CTL_LEN] {
    let mut b = [0u8; MIF6CTL_LEN];
    put_u16(&mut b, 0, mifi);
    b[2] = flags;
    put_u16(&mut b, 4, pifi);
    b
}

/// `struct mf6cctl { struct sockaddr_in6 mf6cc_origin, mf6cc_mcastgrp; mifi_t mf6cc_parent;
/// struct if_set mf6cc_ifset; }`: `IF_SET()` puts MIF `n` at bit `n % 32` of word `n / 32`.
pub(crate) fn mf6cctl(
    origin: Ipv6Addr,
    group: Ipv6Addr,
    parent: u16,
    mifs: impl IntoIterator<Item = u16>,
) -> [u8; MF6CCTL_LEN] {
    let mut b = [0u8; MF6CCTL_LEN];
    b[0..28].copy_from_slice(&sockaddr_in6(origin));
    b[28..56].copy_from_slice(&sockaddr_in6(group));
    put_u16(&mut b, 56, parent);
    let mut words = [0u32; 8];
    for m in mifs {
        let m = usize::from(m);
        if m < 256 {
            words[m / 32] |= 1 << (m % 32);
        }
    }
    for (i, w) in words.iter().enumerate() {
        b[60 + 4 * i..64 + 4 * i].copy_from_slice(&w.to_ne_bytes());
    }
    b
}

/// Packets, bytes and wrong-interface arrivals of one entry, or a VIF's in/out counters.
pub(crate) type Counters = [u64; 4];

/// `struct sioc_sg_req { struct in_addr src, grp; u_long pktcnt, bytecnt, wrong_if; }`.
pub(crate) fn sioc_sg_req(src: Ipv4Addr, grp: Ipv4Addr) -> [u8; SIOC_SG_REQ_LEN] {
    let mut b = [0u8; SIOC_SG_REQ_LEN];
    b[0..4].copy_from_slice(&src.octets());
    b[4..8].copy_from_slice(&grp.octets());
    b
}

/// The packet, byte and wrong-interface counts of an answered [`sioc_sg_req`].
pub(crate) fn sioc_sg_req_counts(b: &[u8; SIOC_SG_REQ_LEN]) -> [u64; 3] {
    [0, 1, 2].map(|i| ulong_at(b, 8 + i * ULONG))
}

/// `struct sioc_vif_req { vifi_t vifi; u_long icount, ocount, ibytes, obytes; }`.
pub(crate) fn sioc_vif_req(vifi: u16) -> [u8; SIOC_VIF_REQ_LEN] {
    let mut b = [0u8; SIOC_VIF_REQ_LEN];
    put_u16(&mut b, 0, vifi);
    b
}

/// In packets, out packets, in bytes, out bytes of an answered [`sioc_vif_req`].
pub(crate) fn sioc_vif_req_counts(b: &[u8; SIOC_VIF_REQ_LEN]) -> Counters {
    [1, 2, 3, 4].map(|i| ulong_at(b, i * ULONG))
}

/// `struct sioc_sg_req6 { struct sockaddr_in6 src, grp; u_quad_t pktcnt, bytecnt, wrong_if; }`.
pub(crate) fn sioc_sg_req6(src: Ipv6Addr, grp: Ipv6Addr) -> [u8; SIOC_SG_REQ6_LEN] {
    let mut b = [0u8; SIOC_SG_REQ6_LEN];
    b[0..28].copy_from_slice(&sockaddr_in6(src));
    b[28..56].copy_from_slice(&sockaddr_in6(grp));
    b
}

/// The packet, byte and wrong-interface counts of an answered [`sioc_sg_req6`].
pub(crate) fn sioc_sg_req6_counts(b: &[u8; SIOC_SG_REQ6_LEN]) -> [u64; 3] {
    [0, 1, 2].map(|i| u64_at(b, 56 + 8 * i))
}

/// `struct sioc_mif_req6 { mifi_t mifi; u_quad_t icount, ocount, ibytes, obytes; }`.
pub(crate) fn sioc_mif_req6(mifi: u16) -> [u8; SIOC_MIF_REQ6_LEN] {
    let mut b = [0u8; SIOC_MIF_REQ6_LEN];
    put_u16(&mut b, 0, mifi);
    b
}

/// In packets, out packets, in bytes, out bytes of an answered [`sioc_mif_req6`].
pub(crate) fn sioc_mif_req6_counts(b: &[u8; SIOC_MIF_REQ6_LEN]) -> Counters {
    [0, 1, 2, 3].map(|i| u64_at(b, QUAD_AFTER_U16 + 8 * i))
}

/// The argument length a BSD ioctl request carries (`IOCPARM_LEN`, `sys/ioccom.h`).
pub(crate) const fn iocparm_len(request: u64) -> usize {
    ((request >> 16) & 0x1fff) as usize
}

/// The `vifctl` of `vif`: FreeBSD names the interface by its IPv4 address and has no rate
/// limit, no kernel tunnels and no `VIFF_USE_IFINDEX`.
///
/// A register VIF needs a non-null address too (`add_vif()` checks for `INADDR_ANY` before
/// it looks at `VIFF_REGISTER`) but never uses it: one without an address of its own gets
/// 127.0.0.1.
pub(crate) fn vifctl_of(vif: &Vif) -> Result<[u8; VIFCTL_LEN]> {
    let VifIndex::Vif(id) = vif.id else {
        return Err(Error::Unsupported("an IPv6 MIF as an IPv4 VIF"));
    };
    let flags = vif.flags.bits();
    if flags & super::linux::VIFF_USE_IFINDEX != 0 {
        return Err(Error::Unsupported("VIFF_USE_IFINDEX on FreeBSD"));
    }
    if flags & VIFF_TUNNEL != 0 {
        return Err(Error::Unsupported(
            "a kernel tunnel VIF (VIFF_TUNNEL): FreeBSD refuses it; make a gif(4) interface",
        ));
    }
    let local = match vif.local {
        Some(a) if !a.is_unspecified() => a,
        _ if flags & VIFF_REGISTER != 0 => Ipv4Addr::LOCALHOST,
        _ => {
            return Err(Error::Unsupported(
                "a VIF on an interface without an IPv4 address (FreeBSD names VIFs by address)",
            ))
        }
    };
    Ok(vifctl(
        id.0,
        flags,
        vif.threshold,
        local,
        vif.remote.unwrap_or(Ipv4Addr::UNSPECIFIED),
    ))
}

/// The `mif6ctl` of `vif` (a MIF names its interface by index).
pub(crate) fn mif6ctl_of(vif: &Vif) -> Result<[u8; MIF6CTL_LEN]> {
    let VifIndex::Mif(id) = vif.id else {
        return Err(Error::Unsupported("an IPv4 VIF as an IPv6 MIF"));
    };
    let pifi = u16::try_from(vif.ifindex)
        .map_err(|_| Error::Unsupported("IPv6 MIF on an interface index above 65535"))?;
    Ok(mif6ctl(id.0, vif.mif_flags.bits(), pifi))
}

/// The `mfcctl` of an IPv4 entry (`None` for IPv6).
pub(crate) fn mfcctl_of(entry: &MfcEntry) -> Option<[u8; MFCCTL_LEN]> {
    match (entry.source(), entry.group()) {
        (IpAddr::V4(s), IpAddr::V4(g)) => {
            Some(mfcctl(s, g, entry.iif().index(), entry.oifs().iter()))
        }
        _ => None,
    }
}

/// The `mf6cctl` of an IPv6 entry (`None` for IPv4); every outbound MIF is set (FreeBSD
/// has no per-MIF threshold).
pub(crate) fn mf6cctl_of(entry: &MfcEntry) -> Option<[u8; MF6CCTL_LEN]> {
    match (entry.source(), entry.group()) {
        (IpAddr::V6(s), IpAddr::V6(g)) => Some(mf6cctl(
            s,
            g,
            entry.iif().index(),
            entry.oifs().iter().map(|(m, _)| m),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    // Fixtures: every byte written out from the headers' field offsets (little-endian amd64,
    // natural alignment, no packing); `vifi_t`/`mifi_t` are `u_short`.

    #[test]
    #[cfg(target_endian = "little")]
    fn vifctl_fixture() {
        let b = vifctl(3, VIFF_REGISTER, 1, v4("192.0.2.1"), Ipv4Addr::UNSPECIFIED);
        assert_eq!(
            b,
            [
                3, 0,    // vifc_vifi
                0x04, // vifc_flags
                1,    // vifc_threshold
                0, 0, 0, 0, // vifc_rate_limit: always 0
                192, 0, 2, 1, // vifc_lcl_addr
                0, 0, 0, 0, // vifc_rmt_addr
            ]
        );
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn mfcctl_fixture() {
        let b = mfcctl(
            v4("198.51.100.7"),
            v4("239.1.2.3"),
            2,
            [(0, 1), (5, 64), (31, 2), (32, 9)],
        );
        let mut want = vec![198, 51, 100, 7, 239, 1, 2, 3, 2, 0];
        let mut ttls = [0u8; 32];
        ttls[0] = 1;
        ttls[5] = 64;
        ttls[31] = 2; // VIF 32 is beyond MAXVIFS and left out
        want.extend_from_slice(&ttls);
        want.extend_from_slice(&[0, 0]); // tail padding to 44
        assert_eq!(b.to_vec(), want);
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn mif6ctl_and_mf6cctl_fixtures() {
        assert_eq!(mif6ctl(7, 0, 300), [7, 0, 0, 0, 0x2c, 0x01]);
        let b = mf6cctl(v6("2001:db8::10"), v6("ff0e::1:2"), 1, [0, 2, 33, 63]);
        let sin6 = |a: [u8; 16]| {
            let mut s = vec![28, 28, 0, 0, 0, 0, 0, 0];
            s.extend_from_slice(&a);
            s.extend_from_slice(&[0, 0, 0, 0]);
            s
        };
        let mut want = sin6(v6("2001:db8::10").octets());
        want.extend(sin6(v6("ff0e::1:2").octets()));
        want.extend_from_slice(&[1, 0, 0, 0]); // mf6cc_parent, padding
        want.extend_from_slice(&[0x05, 0, 0, 0]); // ifs_bits[0]: MIFs 0 and 2
        want.extend_from_slice(&[0x02, 0, 0, 0x80]); // ifs_bits[1]: MIFs 33 and 63
        want.extend_from_slice(&[0; 24]); // ifs_bits[2..8]
        assert_eq!(b.to_vec(), want);
    }

    #[test]
    #[cfg(all(target_endian = "little", target_pointer_width = "64"))]
    fn counter_requests_fixtures() {
        let mut sg = sioc_sg_req(v4("192.0.2.10"), v4("225.1.2.3"));
        assert_eq!(sg[..8], [192, 0, 2, 10, 225, 1, 2, 3]);
        assert_eq!(sg.len(), 32);
        sg[8] = 5; // pktcnt
        sg[16] = 0xe8; // bytecnt 1000
        sg[17] = 0x03;
        sg[24] = 1; // wrong_if
        assert_eq!(sioc_sg_req_counts(&sg), [5, 1000, 1]);

        let mut vr = sioc_vif_req(4);
        assert_eq!(vr.len(), 40);
        assert_eq!(vr[..2], [4, 0]);
        for (i, at) in [8, 16, 24, 32].into_iter().enumerate() {
            vr[at] = i as u8 + 1;
        }
        assert_eq!(sioc_vif_req_counts(&vr), [1, 2, 3, 4]);

        let mut sg6 = sioc_sg_req6(v6("2001:db8::1"), v6("ff0e::5"));
        assert_eq!(sg6.len(), 80);
        assert_eq!(sg6[..2], [28, 28]);
        assert_eq!(sg6[28..30], [28, 28]);
        assert_eq!(sg6[36..52], v6("ff0e::5").octets());
        sg6[56] = 9;
        sg6[64] = 8;
        sg6[72] = 7;
        assert_eq!(sioc_sg_req6_counts(&sg6), [9, 8, 7]);

        let mut mr = sioc_mif_req6(2);
        assert_eq!(mr.len(), 40);
        mr[8] = 1;
        mr[39] = 0x01; // obytes, most significant byte
        assert_eq!(sioc_mif_req6_counts(&mr), [1, 0, 0, 1 << 56]);
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn ioctl_codes_match_freebsd_headers() {
        // Values as computed by FreeBSD's <sys/ioccom.h> on amd64.
        assert_eq!(SIOCGETVIFCNT, 0xc028_720f);
        assert_eq!(SIOCGETSGCNT, 0xc020_7210);
        assert_eq!(SIOCGETSGCNT_IN6, 0xc050_756a);
        assert_eq!(SIOCGETMIFCNT_IN6, 0xc028_756b);
        assert_eq!(iocparm_len(SIOCGETSGCNT_IN6), SIOC_SG_REQ6_LEN);
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn model_encoders() {
        use crate::model::{MifId, VifFlags, VifId};
        let mut vif = Vif::new(VifId(2).into(), 7, "em1");
        vif.local = Some(v4("198.51.100.1"));
        vif.rate_limit = 500; // mrouted's tunnel default: FreeBSD would say EINVAL
        vif.threshold = 16;
        let b = vifctl_of(&vif).unwrap();
        assert_eq!(b, [2, 0, 0, 16, 0, 0, 0, 0, 198, 51, 100, 1, 0, 0, 0, 0]);
        // A register VIF without an address gets a non-null one.
        let mut reg = Vif::new(VifId(3).into(), 0, "register_vif0");
        reg.flags = VifFlags::REGISTER;
        assert_eq!(vifctl_of(&reg).unwrap()[8..12], [127, 0, 0, 1]);
        // No address, a kernel tunnel, VIFF_USE_IFINDEX: refused before the kernel sees them.
        vif.local = None;
        assert!(matches!(vifctl_of(&vif), Err(Error::Unsupported(_))));
        vif.local = Some(v4("198.51.100.1"));
        vif.flags = VifFlags::TUNNEL;
        assert!(matches!(vifctl_of(&vif), Err(Error::Unsupported(_))));
        vif.flags = VifFlags::USE_IFINDEX;
        assert!(matches!(vifctl_of(&vif), Err(Error::Unsupported(_))));

        let mif = Vif::new(MifId(4).into(), 9, "em0");
        assert_eq!(mif6ctl_of(&mif).unwrap(), [4, 0, 0, 0, 9, 0]);
        assert!(mif6ctl_of(&vif).is_err());

        let e = MfcEntry::v4(v4("192.0.2.9"), v4("232.1.1.1"), VifId(1))
            .unwrap()
            .with_oif(VifId(0), 1)
            .with_oif(VifId(4), 3);
        let b = mfcctl_of(&e).unwrap();
        assert_eq!(b[..12], [192, 0, 2, 9, 232, 1, 1, 1, 1, 0, 1, 0]);
        assert_eq!(b[14], 3);
        assert!(mf6cctl_of(&e).is_none());
        let e6 = MfcEntry::v6(v6("2001:db8::9"), v6("ff0e::9"), MifId(0))
            .unwrap()
            .with_oif(MifId(1), 1)
            .with_oif(MifId(40), 1);
        let b = mf6cctl_of(&e6).unwrap();
        assert_eq!(b[56..58], [0, 0]);
        assert_eq!(b[60..68], [0x02, 0, 0, 0, 0, 0x01, 0, 0]);
    }
}
