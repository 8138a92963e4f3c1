//! Linux: `include/uapi/linux/mroute.h` and `include/uapi/linux/mroute6.h`.
//!
//! A test (`tests/abi_c.rs`) compiles a C program against the installed headers and compares
//! every size and field offset here with the C compiler's.

use core::ffi::{c_int, c_uint, c_ulong};
use core::mem::size_of;

use super::{In6Addr, InAddr, MAXVIFS};

/// Base of the IPv4 `MRT_*` socket options.
pub const MRT_BASE: c_int = 200;
/// Activate the kernel multicast router on this socket (one socket per table).
pub const MRT_INIT: c_int = MRT_BASE;
/// Shut the multicast router down (flushes the table).
pub const MRT_DONE: c_int = MRT_BASE + 1;
/// Add a VIF (`vifctl`).
pub const MRT_ADD_VIF: c_int = MRT_BASE + 2;
/// Delete a VIF (`vifctl`).
pub const MRT_DEL_VIF: c_int = MRT_BASE + 3;
/// Add or replace an MFC entry (`mfcctl`).
pub const MRT_ADD_MFC: c_int = MRT_BASE + 4;
/// Delete an MFC entry (`mfcctl`).
pub const MRT_DEL_MFC: c_int = MRT_BASE + 5;
/// Read the multicast routing API version.
pub const MRT_VERSION: c_int = MRT_BASE + 6;
/// Activate PIM assert mode.
pub const MRT_ASSERT: c_int = MRT_BASE + 7;
/// Enable PIM code.
pub const MRT_PIM: c_int = MRT_BASE + 8;
/// Select the multicast routing table (before `MRT_INIT`).
pub const MRT_TABLE: c_int = MRT_BASE + 9;
/// Add a (*,*|G) proxy MFC entry.
pub const MRT_ADD_MFC_PROXY: c_int = MRT_BASE + 10;
/// Delete a (*,*|G) proxy MFC entry.
pub const MRT_DEL_MFC_PROXY: c_int = MRT_BASE + 11;
/// Flush MFC entries and/or VIFs (flags `MRT_FLUSH_*`).
pub const MRT_FLUSH: c_int = MRT_BASE + 12;

/// `MRT_FLUSH` flag: non-static MFC entries.
pub const MRT_FLUSH_MFC: c_int = 1;
/// `MRT_FLUSH` flag: static MFC entries.
pub const MRT_FLUSH_MFC_STATIC: c_int = 2;
/// `MRT_FLUSH` flag: non-static VIFs.
pub const MRT_FLUSH_VIFS: c_int = 4;
/// `MRT_FLUSH` flag: static VIFs.
pub const MRT_FLUSH_VIFS_STATIC: c_int = 8;

/// IPv6 `MRT6_*` options mirror the IPv4 ones on Linux.
pub const MRT6_BASE: c_int = 200;
/// Activate the IPv6 multicast router on this socket.
pub const MRT6_INIT: c_int = MRT6_BASE;
/// Shut the IPv6 multicast router down.
pub const MRT6_DONE: c_int = MRT6_BASE + 1;
/// Add a MIF (`mif6ctl`).
pub const MRT6_ADD_MIF: c_int = MRT6_BASE + 2;
/// Delete a MIF (`mifi_t`).
pub const MRT6_DEL_MIF: c_int = MRT6_BASE + 3;
/// Add or replace an MFC entry (`mf6cctl`).
pub const MRT6_ADD_MFC: c_int = MRT6_BASE + 4;
/// Delete an MFC entry (`mf6cctl`).
pub const MRT6_DEL_MFC: c_int = MRT6_BASE + 5;
/// Read the IPv6 multicast routing API version.
pub const MRT6_VERSION: c_int = MRT6_BASE + 6;
/// Activate PIM assert mode.
pub const MRT6_ASSERT: c_int = MRT6_BASE + 7;
/// Enable PIM code.
pub const MRT6_PIM: c_int = MRT6_BASE + 8;
/// Select the IPv6 multicast routing table (before `MRT6_INIT`).
pub const MRT6_TABLE: c_int = MRT6_BASE + 9;
/// Add a proxy MFC entry.
pub const MRT6_ADD_MFC_PROXY: c_int = MRT6_BASE + 10;
/// Delete a proxy MFC entry.
pub const MRT6_DEL_MFC_PROXY: c_int = MRT6_BASE + 11;
/// Flush MFC entries and/or MIFs.
pub const MRT6_FLUSH: c_int = MRT6_BASE + 12;

/// `SIOCPROTOPRIVATE`: first protocol-private ioctl.
pub const SIOCPROTOPRIVATE: c_ulong = 0x89E0;
/// Read VIF counters (`sioc_vif_req`).
pub const SIOCGETVIFCNT: c_ulong = SIOCPROTOPRIVATE;
/// Read (S,G) counters (`sioc_sg_req`).
pub const SIOCGETSGCNT: c_ulong = SIOCPROTOPRIVATE + 1;
/// Read the RPF interface.
pub const SIOCGETRPF: c_ulong = SIOCPROTOPRIVATE + 2;
/// Read MIF counters (`sioc_mif_req6`).
pub const SIOCGETMIFCNT_IN6: c_ulong = SIOCPROTOPRIVATE;
/// Read IPv6 (S,G) counters (`sioc_sg_req6`).
pub const SIOCGETSGCNT_IN6: c_ulong = SIOCPROTOPRIVATE + 1;

/// Maximum VIFs (`MAXVIFS`).
pub const MAXVIFS_LINUX: usize = MAXVIFS;
/// Maximum MIFs (`MAXMIFS`).
pub const MAXMIFS: usize = 32;

/// VIF flag: tunnel (no longer supported by Linux: `MRT_ADD_VIF` fails).
pub const VIFF_TUNNEL: u8 = 0x1;
/// VIF flag: source-routed tunnel (unsupported).
pub const VIFF_SRCRT: u8 = 0x2;
/// VIF flag: PIM register VIF.
pub const VIFF_REGISTER: u8 = 0x4;
/// VIF flag: `vifc_lcl_ifindex` names the interface.
pub const VIFF_USE_IFINDEX: u8 = 0x8;
/// MIF flag: PIM register MIF.
pub const MIFF_REGISTER: u8 = 0x1;

/// Upcall: no MFC entry for (S,G).
pub const IGMPMSG_NOCACHE: u8 = 1;
/// Upcall: packet arrived on the wrong VIF.
pub const IGMPMSG_WRONGVIF: u8 = 2;
/// Upcall: whole packet (PIM register).
pub const IGMPMSG_WHOLEPKT: u8 = 3;
/// Upcall: wrong VIF, with the whole packet.
pub const IGMPMSG_WRVIFWHOLE: u8 = 4;
/// IPv6 upcall: no MFC entry.
pub const MRT6MSG_NOCACHE: u8 = 1;
/// IPv6 upcall: wrong MIF.
pub const MRT6MSG_WRONGMIF: u8 = 2;
/// IPv6 upcall: whole packet.
pub const MRT6MSG_WHOLEPKT: u8 = 3;
/// IPv6 upcall: wrong MIF, with the whole packet.
pub const MRT6MSG_WRMIFWHOLE: u8 = 4;

/// rtnetlink family of the IPv4 multicast routing table.
pub const RTNL_FAMILY_IPMR: u8 = 128;
/// rtnetlink family of the IPv6 multicast routing table.
pub const RTNL_FAMILY_IP6MR: u8 = 129;

/// `ICMP6_FILTER` socket option (level `IPPROTO_ICMPV6`).
pub const ICMP6_FILTER: c_int = 1;

/// `union { struct in_addr vifc_lcl_addr; int vifc_lcl_ifindex; }`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union VifcLcl {
    /// Local address (without `VIFF_USE_IFINDEX`).
    pub vifc_lcl_addr: InAddr,
    /// Interface index (with `VIFF_USE_IFINDEX`).
    pub vifc_lcl_ifindex: c_int,
}

/// `struct vifctl`: argument of `MRT_ADD_VIF` / `MRT_DEL_VIF`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct vifctl {
    /// VIF index.
    pub vifc_vifi: u16,
    /// `VIFF_*` flags.
    pub vifc_flags: u8,
    /// TTL threshold.
    pub vifc_threshold: u8,
    /// Rate limit (unused by Linux).
    pub vifc_rate_limit: c_uint,
    /// Local address or interface index.
    pub vifc_lcl: VifcLcl,
    /// Tunnel remote address.
    pub vifc_rmt_addr: InAddr,
}

/// `struct mfcctl`: argument of `MRT_ADD_MFC` / `MRT_DEL_MFC` (60 bytes; a 58-byte
/// struct without the padding is refused with `EINVAL`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct mfcctl {
    /// Source.
    pub mfcc_origin: InAddr,
    /// Group.
    pub mfcc_mcastgrp: InAddr,
    /// Inbound VIF.
    pub mfcc_parent: u16,
    /// TTL thresholds per VIF.
    pub mfcc_ttls: [u8; MAXVIFS],
    /// Packet count (unused on add).
    pub mfcc_pkt_cnt: c_uint,
    /// Byte count.
    pub mfcc_byte_cnt: c_uint,
    /// Wrong-interface count.
    pub mfcc_wrong_if: c_uint,
    /// Expiry.
    pub mfcc_expire: c_int,
}

/// `struct sioc_sg_req`: argument of `SIOCGETSGCNT`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct sioc_sg_req {
    /// Source.
    pub src: InAddr,
    /// Group.
    pub grp: InAddr,
    /// Packets forwarded.
    pub pktcnt: c_ulong,
    /// Bytes forwarded.
    pub bytecnt: c_ulong,
    /// Packets that arrived on the wrong interface.
    pub wrong_if: c_ulong,
}

/// `struct sioc_vif_req`: argument of `SIOCGETVIFCNT`.
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

/// `struct igmpmsg`: an IPv4 upcall, read from the routing socket.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct igmpmsg {
    /// Overlays the IP header's first word.
    pub unused1: u32,
    /// Overlays the IP header's second word.
    pub unused2: u32,
    /// `IGMPMSG_*`, at the IP header's TTL.
    pub im_msgtype: u8,
    /// Zero, at the IP header's protocol byte: what tells an upcall from a packet.
    pub im_mbz: u8,
    /// Low byte of the VIF index.
    pub im_vif: u8,
    /// High byte of the VIF index.
    pub im_vif_hi: u8,
    /// Source.
    pub im_src: InAddr,
    /// Group.
    pub im_dst: InAddr,
}

/// `struct mif6ctl`: argument of `MRT6_ADD_MIF`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct mif6ctl {
    /// MIF index.
    pub mif6c_mifi: u16,
    /// `MIFF_*` flags.
    pub mif6c_flags: u8,
    /// TTL threshold.
    pub vifc_threshold: u8,
    /// Physical interface index.
    pub mif6c_pifi: u16,
    /// Rate limit (unused).
    pub vifc_rate_limit: c_uint,
}

/// Linux `struct sockaddr_in6`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct sockaddr_in6 {
    /// `AF_INET6`.
    pub sin6_family: u16,
    /// Port, network order.
    pub sin6_port: u16,
    /// Flow information.
    pub sin6_flowinfo: u32,
    /// Address.
    pub sin6_addr: In6Addr,
    /// Scope.
    pub sin6_scope_id: u32,
}

/// `struct if_set`: a 256-bit interface mask.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct if_set {
    /// Bit `i` set: MIF `i` is an output interface.
    pub ifs_bits: [u32; 8],
}

/// `struct mf6cctl`: argument of `MRT6_ADD_MFC` / `MRT6_DEL_MFC`.
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

/// `struct mrt6msg`: an IPv6 upcall.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct mrt6msg {
    /// Zero: what tells an upcall from an ICMPv6 message.
    pub im6_mbz: u8,
    /// `MRT6MSG_*`.
    pub im6_msgtype: u8,
    /// MIF index.
    pub im6_mif: u16,
    /// Padding.
    pub im6_pad: u32,
    /// Source.
    pub im6_src: In6Addr,
    /// Group.
    pub im6_dst: In6Addr,
}

/// `struct sioc_sg_req6`: argument of `SIOCGETSGCNT_IN6`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct sioc_sg_req6 {
    /// Source.
    pub src: sockaddr_in6,
    /// Group.
    pub grp: sockaddr_in6,
    /// Packets.
    pub pktcnt: c_ulong,
    /// Bytes.
    pub bytecnt: c_ulong,
    /// Wrong interface.
    pub wrong_if: c_ulong,
}

/// `struct sioc_mif_req6`: argument of `SIOCGETMIFCNT_IN6`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct sioc_mif_req6 {
    /// MIF index.
    pub mifi: u16,
    /// Packets in.
    pub icount: c_ulong,
    /// Packets out.
    pub ocount: c_ulong,
    /// Bytes in.
    pub ibytes: c_ulong,
    /// Bytes out.
    pub obytes: c_ulong,
}

const _: () = assert!(size_of::<vifctl>() == 16);
const _: () = assert!(size_of::<mfcctl>() == 60);
const _: () = assert!(size_of::<igmpmsg>() == 20);
const _: () = assert!(size_of::<mif6ctl>() == 12);
const _: () = assert!(size_of::<sockaddr_in6>() == 28);
const _: () = assert!(size_of::<if_set>() == 32);
const _: () = assert!(size_of::<mf6cctl>() == 92);
const _: () = assert!(size_of::<mrt6msg>() == 40);
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<sioc_sg_req>() == 32);
    assert!(size_of::<sioc_vif_req>() == 40);
    assert!(size_of::<sioc_sg_req6>() == 80);
    assert!(size_of::<sioc_mif_req6>() == 40);
};
#[cfg(target_pointer_width = "32")]
const _: () = {
    assert!(size_of::<sioc_sg_req>() == 20);
    assert!(size_of::<sioc_vif_req>() == 20);
    assert!(size_of::<sioc_sg_req6>() == 68);
    assert!(size_of::<sioc_mif_req6>() == 20);
};

impl Default for vifctl {
    fn default() -> Self {
        vifctl {
            vifc_vifi: 0,
            vifc_flags: 0,
            vifc_threshold: 0,
            vifc_rate_limit: 0,
            vifc_lcl: VifcLcl {
                vifc_lcl_ifindex: 0,
            },
            vifc_rmt_addr: InAddr::default(),
        }
    }
}

impl Default for mfcctl {
    fn default() -> Self {
        mfcctl {
            mfcc_origin: InAddr::default(),
            mfcc_mcastgrp: InAddr::default(),
            mfcc_parent: 0,
            mfcc_ttls: [0; MAXVIFS],
            mfcc_pkt_cnt: 0,
            mfcc_byte_cnt: 0,
            mfcc_wrong_if: 0,
            mfcc_expire: 0,
        }
    }
}

// SAFETY: each is a #[repr(C)] aggregate of integers, integer arrays, in_addr/in6_addr and
// (vifctl) a union of an in_addr and an int: no pointers, every bit pattern valid.
unsafe impl crate::sys::unix::Plain for vifctl {}
// SAFETY: as above.
unsafe impl crate::sys::unix::Plain for mfcctl {}
// SAFETY: as above.
unsafe impl crate::sys::unix::Plain for mif6ctl {}
// SAFETY: as above.
unsafe impl crate::sys::unix::Plain for mf6cctl {}
// SAFETY: as above.
unsafe impl crate::sys::unix::Plain for sioc_sg_req {}
// SAFETY: as above.
unsafe impl crate::sys::unix::Plain for sioc_vif_req {}
// SAFETY: as above.
unsafe impl crate::sys::unix::Plain for sioc_sg_req6 {}
// SAFETY: as above.
unsafe impl crate::sys::unix::Plain for sioc_mif_req6 {}
