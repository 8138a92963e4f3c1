//! System calls of the Multicast Router Discovery socket ([`crate::service::mrdisc::MrdiscSocket`]):
//! `sendto` to a multicast group and `recvmsg` with the arriving interface's index.
//!
//! The socket options (TTL, Router Alert, ICMPv6 filter...) go through the safe
//! [`super::unix::setsockopt`]; only the two calls that need pointers into buffers live here.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, BorrowedFd};

use libc::{c_int, c_void, socklen_t};

/// `IP_OPTIONS` (`netinet/in.h`).
#[cfg(target_os = "linux")]
pub const IP_OPTIONS: c_int = libc::IP_OPTIONS;
/// `IP_OPTIONS` (`netinet/in.h`).
#[cfg(target_os = "freebsd")]
pub const IP_OPTIONS: c_int = 1;

/// `IPV6_HOPOPTS` (RFC 3542 sticky Hop-by-Hop options header).
#[cfg(target_os = "linux")]
pub const IPV6_HOPOPTS: c_int = libc::IPV6_HOPOPTS;
/// `IPV6_HOPOPTS` (RFC 3542 sticky Hop-by-Hop options header, `netinet6/in6.h`).
#[cfg(target_os = "freebsd")]
pub const IPV6_HOPOPTS: c_int = 49;

/// The socket option that makes `recvmsg` report the arriving interface of IPv4 packets:
/// `IP_PKTINFO` on Linux, `IP_RECVIF` on FreeBSD.
#[cfg(target_os = "linux")]
pub const IP_RECV_IFINDEX: c_int = libc::IP_PKTINFO;
/// The socket option that makes `recvmsg` report the arriving interface of IPv4 packets:
/// `IP_PKTINFO` on Linux, `IP_RECVIF` on FreeBSD.
#[cfg(target_os = "freebsd")]
pub const IP_RECV_IFINDEX: c_int = libc::IP_RECVIF;

/// The `ICMP6_FILTER` value that passes only ICMPv6 type `pass` (Linux: a set bit blocks).
#[cfg(target_os = "linux")]
pub fn icmp6_filter_only(pass: u8) -> [u32; 8] {
    let mut f = [u32::MAX; 8];
    if let Some(w) = f.get_mut(usize::from(pass >> 5)) {
        *w &= !(1u32 << (pass & 31));
    }
    f
}

/// The `ICMP6_FILTER` value that passes only ICMPv6 type `pass` (FreeBSD: a set bit passes).
#[cfg(target_os = "freebsd")]
pub fn icmp6_filter_only(pass: u8) -> [u32; 8] {
    let mut f = [0u32; 8];
    if let Some(w) = f.get_mut(usize::from(pass >> 5)) {
        *w |= 1u32 << (pass & 31);
    }
    f
}

/// `ICMP6_FILTER` (level `IPPROTO_ICMPV6`).
#[cfg(target_os = "linux")]
pub const ICMP6_FILTER: c_int = 1;
/// `ICMP6_FILTER` (level `IPPROTO_ICMPV6`).
#[cfg(target_os = "freebsd")]
pub const ICMP6_FILTER: c_int = 18;

fn sockaddr(addr: IpAddr) -> (libc::sockaddr_storage, socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
    match addr {
        IpAddr::V4(a) => {
            // SAFETY: plain data; all-zero is valid.
            let mut sin: libc::sockaddr_in = unsafe { zeroed() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
            #[cfg(target_os = "freebsd")]
            {
                sin.sin_len = size_of::<libc::sockaddr_in>() as u8;
            }
            // SAFETY: sockaddr_in fits in sockaddr_storage, which is suitably aligned.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in, sin) };
            (ss, size_of::<libc::sockaddr_in>() as socklen_t)
        }
        IpAddr::V6(a) => {
            // SAFETY: plain data; all-zero is valid.
            let mut sin6: libc::sockaddr_in6 = unsafe { zeroed() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_addr.s6_addr = a.octets();
            #[cfg(target_os = "freebsd")]
            {
                sin6.sin6_len = size_of::<libc::sockaddr_in6>() as u8;
            }
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in6, sin6) };
            (ss, size_of::<libc::sockaddr_in6>() as socklen_t)
        }
    }
}

/// `sendto(fd, bytes, dst)`; `Ok(None)` on `EAGAIN`.
pub fn send_to(fd: BorrowedFd<'_>, bytes: &[u8], dst: IpAddr) -> io::Result<Option<usize>> {
    let (ss, len) = sockaddr(dst);
    match syscall!(sendto(
        fd.as_raw_fd(),
        bytes.as_ptr() as *const c_void,
        bytes.len(),
        0,
        &ss as *const libc::sockaddr_storage as *const libc::sockaddr,
        len
    )) {
        Ok(n) => Ok(Some(n as usize)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

/// What [`recv_from`] learnt about a datagram besides its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvMeta {
    /// Bytes received (for raw IPv4 sockets, the IP header included).
    pub len: usize,
    /// The sender's address.
    pub source: IpAddr,
    /// The arriving interface's index, when the kernel reported it.
    pub ifindex: Option<u32>,
}

/// Non-blocking `recvmsg` that also reads the interface index from the control messages
/// (`IP_PKTINFO`, `IP_RECVIF` or `IPV6_PKTINFO`, whichever was enabled); `Ok(None)` on
/// `EAGAIN`.
pub fn recv_from(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Option<RecvMeta>> {
    // SAFETY: plain data; all-zero is valid.
    let mut name: libc::sockaddr_storage = unsafe { zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut c_void,
        iov_len: buf.len(),
    };
    // u64 elements keep the control buffer aligned for cmsghdr.
    let mut control = [0u64; 32];
    // SAFETY: plain data; all-zero is valid.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_name = &mut name as *mut libc::sockaddr_storage as *mut c_void;
    msg.msg_namelen = size_of::<libc::sockaddr_storage>() as socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut c_void;
    msg.msg_controllen = size_of::<[u64; 32]>() as _;
    let n = match syscall!(recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT)) {
        Ok(n) => n as usize,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
        Err(e) => return Err(e),
    };
    let source = match c_int::from(name.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in (family AF_INET) into the storage.
            let sin = unsafe { &*(&name as *const _ as *const libc::sockaddr_in) };
            IpAddr::V4(Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes()))
        }
        libc::AF_INET6 => {
            // SAFETY: the kernel wrote a sockaddr_in6 (family AF_INET6).
            let sin6 = unsafe { &*(&name as *const _ as *const libc::sockaddr_in6) };
            IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr))
        }
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    let mut ifindex = None;
    // SAFETY: msg describes the control buffer the kernel filled; the CMSG_* macros stay
    // within msg_controllen, and each data read is bounds-checked against cmsg_len.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let hdr = &*cmsg;
            let data = libc::CMSG_DATA(cmsg);
            let data_len = (hdr.cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
            #[cfg(target_os = "linux")]
            if hdr.cmsg_level == libc::IPPROTO_IP
                && hdr.cmsg_type == libc::IP_PKTINFO
                && data_len >= size_of::<libc::in_pktinfo>()
            {
                let info = std::ptr::read_unaligned(data as *const libc::in_pktinfo);
                ifindex = u32::try_from(info.ipi_ifindex).ok();
            }
            #[cfg(target_os = "freebsd")]
            if hdr.cmsg_level == libc::IPPROTO_IP
                && hdr.cmsg_type == libc::IP_RECVIF
                && data_len >= 4
            {
                // struct sockaddr_dl: sdl_len, sdl_family, then the u16 sdl_index.
                let idx = std::ptr::read_unaligned(data.add(2) as *const u16);
                ifindex = Some(u32::from(idx));
            }
            if hdr.cmsg_level == libc::IPPROTO_IPV6
                && hdr.cmsg_type == libc::IPV6_PKTINFO
                && data_len >= size_of::<libc::in6_pktinfo>()
            {
                let info = std::ptr::read_unaligned(data as *const libc::in6_pktinfo);
                ifindex = Some(info.ipi6_ifindex as u32);
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(Some(RecvMeta {
        len: n.min(buf.len()),
        source,
        ifindex,
    }))
}
