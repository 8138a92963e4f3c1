//! The kernel multicast-routing ABI, as plain `#[repr(C)]` data.
//!
//! Neither `libc` nor `nix` defines these types, so mcroute does. Both layouts are compiled
//! on every host (they are only data), which lets the pure decoders and the layout tests of
//! each OS run anywhere; only the system calls in `sys` are per-OS.
//!
//! Every struct carries a compile-time size check against the C header it mirrors.

#![allow(non_camel_case_types)]
// Each OS module mirrors its headers whole (the C check compares every item), so not every
// constant has a user on every OS.
#![allow(dead_code)]

#[cfg(all(test, target_os = "linux"))]
mod c_check;
pub mod freebsd;
pub mod linux;

/// `struct in_addr`: an IPv4 address in network byte order.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InAddr {
    /// The address, network byte order.
    pub s_addr: u32,
}

impl From<std::net::Ipv4Addr> for InAddr {
    fn from(a: std::net::Ipv4Addr) -> Self {
        InAddr {
            s_addr: u32::from_ne_bytes(a.octets()),
        }
    }
}

impl From<InAddr> for std::net::Ipv4Addr {
    fn from(a: InAddr) -> Self {
        std::net::Ipv4Addr::from(a.s_addr.to_ne_bytes())
    }
}

/// `struct in6_addr`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct In6Addr {
    /// The address bytes.
    pub s6_addr: [u8; 16],
}

impl From<std::net::Ipv6Addr> for In6Addr {
    fn from(a: std::net::Ipv6Addr) -> Self {
        In6Addr {
            s6_addr: a.octets(),
        }
    }
}

impl From<In6Addr> for std::net::Ipv6Addr {
    fn from(a: In6Addr) -> Self {
        std::net::Ipv6Addr::from(a.s6_addr)
    }
}

/// `u_char` TTL vector length of `mfcctl` on both OSes (`MAXVIFS`).
pub const MAXVIFS: usize = 32;

/// Builds a FreeBSD/BSD `_IOWR(group, num, len)` ioctl request code.
pub const fn bsd_iowr(group: u8, num: u8, len: usize) -> u64 {
    const IOC_INOUT: u64 = 0x8000_0000 | 0x4000_0000;
    const IOCPARM_MASK: u64 = 0x1fff;
    IOC_INOUT | (((len as u64) & IOCPARM_MASK) << 16) | ((group as u64) << 8) | num as u64
}
