//! FreeBSD: `sys/netinet/ip_mroute.h`, `sys/netinet6/ip6_mroute.h`, `sys/netinet6/in6_var.h`
//! and `sys/sys/ioccom.h`.
//!
//! The layouts are data only, compiled on every host, so the FreeBSD decoders are tested on
//! Linux from byte fixtures. The system calls that use them live in `sys/freebsd.rs`.

use core::ffi::{c_int, c_uint, c_ulong};
use core::mem::size_of;

use super::{bsd_iowr, In6Addr, InAddr, MAXVIFS};

/// Activate the multicast router (`netinet/ip_mroute.h`).
pub const MRT_INIT: c_int = 100;
/// Shut down.
pub const MRT_DONE: c_int = 101;
/// Add a VIF.
pub const MRT_ADD_VIF: c_int = 102;
/// Delete a VIF.
pub const MRT_DEL_VIF: c_int = 103;
/// Add an MFC entry.
pub const MRT_ADD_MFC: c_int = 104;
/// Delete an MFC entry.
pub const MRT_DEL_MFC: c_int = 105;
/// API version.
pub const MRT_VERSION: c_int = 106;
/// PIM assert mode.
pub const MRT_ASSERT: c_int = 107;
/// PIM (the same number as `MRT_ASSERT` on FreeBSD).
pub const MRT_PIM: c_int = MRT_ASSERT;
/// Supported API features.
pub const MRT_API_SUPPORT: c_int = 109;
/// Configure API features.
pub const MRT_API_CONFIG: c_int = 110;
/// Add a bandwidth upcall.
pub const MRT_ADD_BW_UPCALL: c_int = 111;
/// Delete a bandwidth upcall.
pub const MRT_DEL_BW_UPCALL: c_int = 112;

/// Old IPv6 init, kernel-internal (`netinet6/ip6_mroute.h`).
pub const MRT6_OINIT: c_int = 100;
/// Shut down.
pub const MRT6_DONE: c_int = 101;
/// Add a MIF.
pub const MRT6_ADD_MIF: c_int = 102;
/// Delete a MIF.
pub const MRT6_DEL_MIF: c_int = 103;
/// Add an MFC entry.
pub const MRT6_ADD_MFC: c_int = 104;
/// Delete an MFC entry.
pub const MRT6_DEL_MFC: c_int = 105;
/// PIM.
pub const MRT6_PIM: c_int = 107;
/// Activate the IPv6 multicast router.
pub const MRT6_INIT: c_int = 108;

/// Maximum VIFs.
pub const MAXVIFS_FREEBSD: usize = MAXVIFS;
/// Maximum MIFs.
pub const MAXMIFS: usize = 64;

/// VIF flag: IP-in-IP tunnel.
pub const VIFF_TUNNEL: u8 = 0x1;
/// VIF flag: source-routed tunnel.
pub const VIFF_SRCRT: u8 = 0x2;
/// VIF flag: PIM register.
pub const VIFF_REGISTER: u8 = 0x4;
/// MIF flag: PIM register.
pub const MIFF_REGISTER: u8 = 0x1;

/// Upcall: no cache entry.
pub const IGMPMSG_NOCACHE: u8 = 1;
/// Upcall: wrong VIF.
pub const IGMPMSG_WRONGVIF: u8 = 2;
/// Upcall: whole packet.
pub const IGMPMSG_WHOLEPKT: u8 = 3;
/// Upcall: bandwidth monitor (FreeBSD's use of type 4).
pub const IGMPMSG_BW_UPCALL: u8 = 4;
/// IPv6 upcall: no cache entry.
pub const MRT6MSG_NOCACHE: u8 = 1;
/// IPv6 upcall: wrong MIF.
pub const MRT6MSG_WRONGMIF: u8 = 2;
/// IPv6 upcall: whole packet.
pub const MRT6MSG_WHOLEPKT: u8 = 3;

/// `struct vifctl`: the VIF is named by its local address.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct vifctl {
    /// VIF index.
    pub vifc_vifi: u16,
    /// Flags.
    pub vifc_flags: u8,
    /// TTL threshold.
    pub vifc_threshold: u8,
    /// Rate limit, kbit/s.
    pub vifc_rate_limit: c_uint,
    /// Local address: identifies the interface.
    pub vifc_lcl_addr: InAddr,
    /// Tunnel remote.
    pub vifc_rmt_addr: InAddr,
}

/// `struct mfcctl` (44 bytes: no counters).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct mfcctl {
    /// Source.
    pub mfcc_origin: InAddr,
    /// Group.
    pub mfcc_mcastgrp: InAddr,
    /// Inbound VIF.
    pub mfcc_parent: u16,
    /// TTL thresholds.
    pub mfcc_ttls: [u8; MAXVIFS],
}

/// `struct sioc_sg_req`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct sioc_sg_req {
    /// Source.
    pub src: InAddr,
    /// Group.
    pub grp: InAddr,
    /// Packets.
    pub pktcnt: c_ulong,
    /// Bytes.
    pub bytecnt: c_ulong,
    /// Wrong interface.
    pub wrong_if: c_ulong,
}

/// `struct sioc_vif_req`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct sioc_vif_req {
    /// VIF index.
    pub vifi: u16,
    /// Packets in.
    pub icount: c_ulong,
    /// Packets out.
    pub ocount: c_ulong,
    /// Bytes in.
    pub ibytes: c_ulong,
    /// Bytes out.
    pub obytes: c_ulong,
}

/// `struct igmpmsg`: as Linux, but the fourth byte is unused (no `im_vif_hi`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct igmpmsg {
    /// Overlays the IP header.
    pub unused1: u32,
    /// Overlays the IP header.
    pub unused2: u32,
    /// `IGMPMSG_*`.
    pub im_msgtype: u8,
    /// Zero.
    pub im_mbz: u8,
    /// VIF index.
    pub im_vif: u8,
    /// Unused.
    pub unused3: u8,
    /// Source.
    pub im_src: InAddr,
    /// Group.
    pub im_dst: InAddr,
}

/// `struct mif6ctl` (no threshold, no rate limit).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct mif6ctl {
    /// MIF index.
    pub mif6c_mifi: u16,
    /// Flags.
    pub mif6c_flags: u8,
    /// Physical interface index.
    pub mif6c_pifi: u16,
}

/// BSD `struct sockaddr_in6` (starts with `sin6_len`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct sockaddr_in6 {
    /// Length of the structure (28).
    pub sin6_len: u8,
    /// `AF_INET6` (28 on FreeBSD).
    pub sin6_family: u8,
    /// Port.
    pub sin6_port: u16,
    /// Flow information.
    pub sin6_flowinfo: u32,
    /// Address.
    pub sin6_addr: In6Addr,
    /// Scope.
    pub sin6_scope_id: u32,
}

/// `AF_INET6` on FreeBSD.
pub const AF_INET6: u8 = 28;

/// `struct if_set` (256 bits).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct if_set {
    /// Bit per MIF.
    pub ifs_bits: [u32; 8],
}

/// `struct mf6cctl`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct mf6cctl {
    /// Source.
    pub mf6cc_origin: sockaddr_in6,
    /// Group.
    pub mf6cc_mcastgrp: sockaddr_in6,
    /// Inbound MIF.
    pub mf6cc_parent: u16,
    /// Outbound MIFs.
    pub mf6cc_ifset: if_set,
}

/// `struct mrt6msg` (identical to Linux).
pub type mrt6msg = super::linux::mrt6msg;

/// `struct sioc_sg_req6` (`u_quad_t` counters).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct sioc_sg_req6 {
    /// Source.
    pub src: sockaddr_in6,
    /// Group.
    pub grp: sockaddr_in6,
    /// Packets.
    pub pktcnt: u64,
    /// Bytes.
    pub bytecnt: u64,
    /// Wrong interface.
    pub wrong_if: u64,
}

/// `struct sioc_mif_req6` (`u_quad_t` counters).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct sioc_mif_req6 {
    /// MIF index.
    pub mifi: u16,
    /// Packets in.
    pub icount: u64,
    /// Packets out.
    pub ocount: u64,
    /// Bytes in.
    pub ibytes: u64,
    /// Bytes out.
    pub obytes: u64,
}

/// `SIOCGETVIFCNT = _IOWR('r', 15, struct sioc_vif_req)` (`sys/sockio.h`).
pub const SIOCGETVIFCNT: u64 = bsd_iowr(b'r', 15, size_of::<sioc_vif_req>());
/// `SIOCGETSGCNT = _IOWR('r', 16, struct sioc_sg_req)` (`sys/sockio.h`).
pub const SIOCGETSGCNT: u64 = bsd_iowr(b'r', 16, size_of::<sioc_sg_req>());
/// `SIOCGETSGCNT_IN6 = _IOWR('u', 106, struct sioc_sg_req6)` (`netinet6/in6_var.h`).
pub const SIOCGETSGCNT_IN6: u64 = bsd_iowr(b'u', 106, size_of::<sioc_sg_req6>());
/// `SIOCGETMIFCNT_IN6 = _IOWR('u', 107, struct sioc_mif_req6)` (`netinet6/in6_var.h`).
pub const SIOCGETMIFCNT_IN6: u64 = bsd_iowr(b'u', 107, size_of::<sioc_mif_req6>());

const _: () = assert!(size_of::<vifctl>() == 16);
const _: () = assert!(size_of::<mfcctl>() == 44);
const _: () = assert!(size_of::<igmpmsg>() == 20);
const _: () = assert!(size_of::<mif6ctl>() == 6);
const _: () = assert!(size_of::<sockaddr_in6>() == 28);
const _: () = assert!(size_of::<mf6cctl>() == 92);
const _: () = assert!(size_of::<sioc_sg_req6>() == 80);
const _: () = assert!(size_of::<sioc_mif_req6>() == 40);
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<sioc_sg_req>() == 32);
    assert!(size_of::<sioc_vif_req>() == 40);
};

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    /// Field offsets as FreeBSD's headers lay them out on amd64 (computed by hand from
    /// `netinet/ip_mroute.h` and `netinet6/ip6_mroute.h`: natural alignment, no packing).
    #[test]
    fn field_offsets_match_freebsd_headers() {
        assert_eq!(offset_of!(vifctl, vifc_rate_limit), 4);
        assert_eq!(offset_of!(vifctl, vifc_lcl_addr), 8);
        assert_eq!(offset_of!(vifctl, vifc_rmt_addr), 12);
        assert_eq!(offset_of!(mfcctl, mfcc_parent), 8);
        assert_eq!(offset_of!(mfcctl, mfcc_ttls), 10);
        assert_eq!(offset_of!(igmpmsg, im_msgtype), 8);
        assert_eq!(offset_of!(igmpmsg, im_mbz), 9);
        assert_eq!(offset_of!(igmpmsg, im_vif), 10);
        assert_eq!(offset_of!(igmpmsg, im_src), 12);
        assert_eq!(offset_of!(igmpmsg, im_dst), 16);
        assert_eq!(offset_of!(mif6ctl, mif6c_flags), 2);
        assert_eq!(offset_of!(mif6ctl, mif6c_pifi), 4);
        assert_eq!(offset_of!(sockaddr_in6, sin6_family), 1);
        assert_eq!(offset_of!(sockaddr_in6, sin6_addr), 8);
        assert_eq!(offset_of!(mf6cctl, mf6cc_mcastgrp), 28);
        assert_eq!(offset_of!(mf6cctl, mf6cc_parent), 56);
        assert_eq!(offset_of!(mf6cctl, mf6cc_ifset), 60);
        assert_eq!(offset_of!(sioc_sg_req6, pktcnt), 56);
        assert_eq!(offset_of!(sioc_mif_req6, icount), 8);
    }

    #[test]
    fn freebsd_igmpmsg_fixture_decodes_without_vif_hi() {
        use crate::wire::upcall::{decode_v4, Layout, UpcallKind};
        // A NOCACHE upcall as FreeBSD's X_ip_mforward() builds it: IP header copied over the
        // first 8 bytes, then msgtype 1, mbz 0, vif 3, an unused byte (here garbage: 0x7f,
        // which Linux would read as vif_hi), source 198.51.100.7, group 239.1.2.3.
        let bytes = [
            0x45, 0x00, 0x00, 0x54, 0xab, 0xcd, 0x00, 0x00, 1, 0, 3, 0x7f, 198, 51, 100, 7, 239, 1,
            2, 3,
        ];
        let u = decode_v4(&bytes, Layout::FreeBsd).unwrap();
        assert_eq!(u.kind(), UpcallKind::NoCache);
        assert_eq!(u.iif().index(), 3);
        assert_eq!(
            u.source(),
            "198.51.100.7".parse::<std::net::IpAddr>().unwrap()
        );
        assert_eq!(u.group(), "239.1.2.3".parse::<std::net::IpAddr>().unwrap());
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn ioctl_codes_match_freebsd_headers() {
        // Values as computed by FreeBSD's <sys/ioccom.h> on amd64.
        assert_eq!(SIOCGETVIFCNT, 0xc028_720f);
        assert_eq!(SIOCGETSGCNT, 0xc020_7210);
        assert_eq!(SIOCGETSGCNT_IN6, 0xc050_756a);
        assert_eq!(SIOCGETMIFCNT_IN6, 0xc028_756b);
    }
}
