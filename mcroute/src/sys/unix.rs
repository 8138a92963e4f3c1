//! System calls shared by the Unix backends (Linux, FreeBSD).
//!
//! Socket options and ioctl arguments are [`Plain`] data: [`setsockopt`] and [`getsockopt`]
//! are safe for any option because the kernel never reads or writes more than the value's
//! size and any bytes it writes make a valid value. [`ioctl_rw`] is `unsafe` (the size the
//! kernel writes is set by the request, which only the caller can vouch for); the typed
//! counter requests of `sys::linux` and `sys::freebsd` are its only callers.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use libc::{c_int, c_void, socklen_t};

/// Opens a non-blocking raw socket.
pub fn raw_socket(domain: c_int, protocol: c_int) -> io::Result<OwnedFd> {
    let fd = syscall!(socket(
        domain,
        libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        protocol
    ))?;
    // SAFETY: socket() returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens a UDP socket (used for group joins).
pub fn udp_socket(domain: c_int) -> io::Result<OwnedFd> {
    let fd = syscall!(socket(
        domain,
        libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        0
    ))?;
    // SAFETY: as above.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Plain data the kernel may read and write as bytes: a socket option or ioctl argument.
///
/// # Safety
///
/// Implement only for types with no pointers, references or interior mutability, for
/// which every bit pattern of every field is a valid value (integers, arrays of integers,
/// `#[repr(C)]` structs and unions of those), so that whatever bytes the kernel writes into
/// one leave a valid value.
pub(crate) unsafe trait Plain: Copy + 'static {}

// SAFETY: integers and arrays of them: every bit pattern is valid, nothing is a pointer.
unsafe impl Plain for u8 {}
// SAFETY: as above.
unsafe impl Plain for u16 {}
// SAFETY: as above.
unsafe impl Plain for u32 {}
// SAFETY: as above.
unsafe impl Plain for c_int {}
// SAFETY: as above.
unsafe impl<T: Plain, const N: usize> Plain for [T; N] {}
// SAFETY: `struct ip_mreqn`: two in_addr and an int.
unsafe impl Plain for libc::ip_mreqn {}
// SAFETY: `struct group_req`: an interface index and a sockaddr_storage (bytes).
unsafe impl Plain for libc::group_req {}
// SAFETY: `struct group_source_req`: an index and two sockaddr_storage.
unsafe impl Plain for libc::group_source_req {}

/// `setsockopt(2)` of `value`, which the kernel reads as a whole.
///
/// Safe for any option: the kernel reads at most `size_of::<T>()` bytes, and the few
/// options that write back into their argument (FreeBSD's `MRT_API_CONFIG`) write into a
/// private copy, which [`Plain`] makes sound. No option mcroute sets takes a pointer.
pub(crate) fn setsockopt<T: Plain>(
    fd: BorrowedFd<'_>,
    level: c_int,
    name: c_int,
    value: &T,
) -> io::Result<()> {
    let mut copy = *value;
    // The pointer is to a live, writable T of size_of::<T>() bytes; any bytes the kernel
    // writes into it leave a valid T (Plain).
    syscall!(setsockopt(
        fd.as_raw_fd(),
        level,
        name,
        &mut copy as *mut T as *const c_void,
        size_of::<T>() as socklen_t
    ))
    .map(drop)
}

/// `getsockopt(2)` of a plain-data value: the kernel writes at most `size_of::<T>()` bytes
/// (the length passed), and any bytes make a valid [`Plain`] value.
pub(crate) fn getsockopt<T: Plain + Default>(
    fd: BorrowedFd<'_>,
    level: c_int,
    name: c_int,
) -> io::Result<T> {
    let mut value = T::default();
    let mut len = size_of::<T>() as socklen_t;
    syscall!(getsockopt(
        fd.as_raw_fd(),
        level,
        name,
        &mut value as *mut T as *mut c_void,
        &mut len
    ))?;
    Ok(value)
}

/// `ioctl(2)` whose argument the kernel reads and writes in place.
///
/// # Safety
///
/// `request` must be a request whose argument is a `T`: the kernel reads and writes at
/// most `size_of::<T>()` bytes at `arg` and follows no pointer inside it. (Linux sizes
/// `SIOCGETSGCNT` and friends by the kernel's own struct, not by anything in the request,
/// so only the caller can know.)
pub(crate) unsafe fn ioctl_rw<T: Plain>(
    fd: BorrowedFd<'_>,
    request: libc::c_ulong,
    arg: &mut T,
) -> io::Result<()> {
    syscall!(ioctl(
        fd.as_raw_fd(),
        request as _,
        arg as *mut T as *mut c_void
    ))
    .map(drop)
}

/// Non-blocking `recv` into `buf`; `Ok(None)` on `EAGAIN`.
pub fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Option<usize>> {
    match syscall!(recv(
        fd.as_raw_fd(),
        buf.as_mut_ptr() as *mut c_void,
        buf.len(),
        libc::MSG_DONTWAIT
    )) {
        Ok(n) => Ok(Some(n as usize)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

fn sockaddr_storage_v4(addr: Ipv4Addr) -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
    // SAFETY: plain data; all-zero is valid.
    let mut sin: libc::sockaddr_in = unsafe { zeroed() };
    sin.sin_family = libc::AF_INET as libc::sa_family_t;
    sin.sin_addr.s_addr = u32::from_ne_bytes(addr.octets());
    #[cfg(target_os = "freebsd")]
    {
        sin.sin_len = size_of::<libc::sockaddr_in>() as u8;
    }
    // SAFETY: sockaddr_in fits in sockaddr_storage, which is suitably aligned.
    unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in, sin) };
    ss
}

fn sockaddr_storage_v6(addr: Ipv6Addr) -> libc::sockaddr_storage {
    // SAFETY: as above.
    let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
    // SAFETY: plain data; all-zero is valid.
    let mut sin6: libc::sockaddr_in6 = unsafe { zeroed() };
    sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sin6.sin6_addr.s6_addr = addr.octets();
    #[cfg(target_os = "freebsd")]
    {
        sin6.sin6_len = size_of::<libc::sockaddr_in6>() as u8;
    }
    // SAFETY: sockaddr_in6 fits in sockaddr_storage.
    unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in6, sin6) };
    ss
}

fn sockaddr_storage(addr: IpAddr) -> libc::sockaddr_storage {
    match addr {
        IpAddr::V4(a) => sockaddr_storage_v4(a),
        IpAddr::V6(a) => sockaddr_storage_v6(a),
    }
}

/// `MCAST_JOIN_GROUP`/`MCAST_LEAVE_GROUP` (ASM) or `MCAST_JOIN_SOURCE_GROUP`/
/// `MCAST_LEAVE_SOURCE_GROUP` (SSM) on `ifindex`, protocol-independent.
pub fn membership(
    fd: BorrowedFd<'_>,
    join: bool,
    ifindex: u32,
    group: IpAddr,
    source: Option<IpAddr>,
) -> io::Result<()> {
    let level = match group {
        IpAddr::V4(_) => libc::IPPROTO_IP,
        IpAddr::V6(_) => libc::IPPROTO_IPV6,
    };
    match source {
        None => {
            let req = libc::group_req {
                gr_interface: ifindex,
                gr_group: sockaddr_storage(group),
            };
            let name = if join {
                libc::MCAST_JOIN_GROUP
            } else {
                libc::MCAST_LEAVE_GROUP
            };
            setsockopt(fd, level, name, &req)
        }
        Some(src) => {
            let req = libc::group_source_req {
                gsr_interface: ifindex,
                gsr_group: sockaddr_storage(group),
                gsr_source: sockaddr_storage(src),
            };
            let name = if join {
                libc::MCAST_JOIN_SOURCE_GROUP
            } else {
                libc::MCAST_LEAVE_SOURCE_GROUP
            };
            setsockopt(fd, level, name, &req)
        }
    }
}

/// `if_nametoindex`; `None` when there is no such interface.
pub fn if_nametoindex(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: c is a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}

#[cfg(feature = "daemon")]
/// `openlog(ident, LOG_PID, LOG_DAEMON)`. The identity string is kept for the life of the
/// process, as syslog(3) requires.
pub fn openlog(ident: &str) {
    let c = std::ffi::CString::new(ident.replace('\0', "")).unwrap_or_default();
    let leaked: &'static std::ffi::CStr = Box::leak(c.into_boxed_c_str());
    // SAFETY: the string lives forever.
    unsafe { libc::openlog(leaked.as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
}

#[cfg(feature = "daemon")]
/// `syslog(priority, "%s", msg)`.
pub fn syslog(priority: c_int, msg: &str) {
    let c = std::ffi::CString::new(msg.replace('\0', "")).unwrap_or_default();
    // SAFETY: "%s" with one valid C string argument.
    unsafe { libc::syslog(priority, c"%s".as_ptr(), c.as_ptr()) };
}

/// `sendto` of `buf` to IPv4 address `dst` (port 0, as raw sockets want).
pub fn sendto_v4(fd: BorrowedFd<'_>, buf: &[u8], dst: Ipv4Addr) -> io::Result<usize> {
    let ss = sockaddr_storage_v4(dst);
    let n = syscall!(sendto(
        fd.as_raw_fd(),
        buf.as_ptr() as *const c_void,
        buf.len(),
        0,
        &ss as *const libc::sockaddr_storage as *const libc::sockaddr,
        size_of::<libc::sockaddr_in>() as socklen_t
    ))?;
    Ok(n as usize)
}

/// `IP_MULTICAST_IF` by interface index (`struct ip_mreqn`, Linux and FreeBSD).
pub fn set_multicast_if_v4(fd: BorrowedFd<'_>, ifindex: u32) -> io::Result<()> {
    let req = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: c_int::try_from(ifindex)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
    };
    setsockopt(fd, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &req)
}
