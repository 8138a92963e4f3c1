//! Linux system calls for the multicast router: the only `unsafe` code of the Linux backend.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use libc::{c_int, c_void, socklen_t};

use crate::abi::linux as abi;

/// Runs a libc call, turning `-1` into the last OS error.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        #[allow(unused_unsafe)]
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 {
            Err(io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}

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

/// `setsockopt` with any plain-data value.
pub fn setsockopt<T: Copy>(
    fd: BorrowedFd<'_>,
    level: c_int,
    name: c_int,
    value: &T,
) -> io::Result<()> {
    syscall!(setsockopt(
        fd.as_raw_fd(),
        level,
        name,
        value as *const T as *const c_void,
        size_of::<T>() as socklen_t
    ))
    .map(drop)
}

/// `getsockopt` of a plain-data value.
pub fn getsockopt<T: Copy + Default>(
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

/// `ioctl` with a read-write argument.
pub fn ioctl_rw<T: Copy>(
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

/// Sets the receive buffer to `bytes`: `SO_RCVBUFFORCE` (root), else `SO_RCVBUF` (capped by
/// `net.core.rmem_max`). Returns the size the kernel reports afterwards.
pub fn set_rcvbuf(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<usize> {
    let want = c_int::try_from(bytes).unwrap_or(c_int::MAX);
    if setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &want).is_err() {
        setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &want)?;
    }
    let got: c_int = getsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF)?;
    Ok(got.max(0) as usize)
}

/// Makes an ICMPv6 raw socket deliver no ICMPv6 messages (upcalls still arrive).
pub fn icmp6_block_all(fd: BorrowedFd<'_>) -> io::Result<()> {
    // Linux semantics: a set bit blocks the type.
    let filter = [u32::MAX; 8];
    setsockopt(fd, libc::IPPROTO_ICMPV6, abi::ICMP6_FILTER, &filter)
}

fn sockaddr_storage_v4(addr: Ipv4Addr) -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr.octets()),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in fits in sockaddr_storage, which is suitably aligned.
    unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in, sin) };
    ss
}

fn sockaddr_storage_v6(addr: Ipv6Addr) -> libc::sockaddr_storage {
    // SAFETY: as above.
    let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
    let sin6 = libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as libc::sa_family_t,
        sin6_port: 0,
        sin6_flowinfo: 0,
        sin6_addr: libc::in6_addr {
            s6_addr: addr.octets(),
        },
        sin6_scope_id: 0,
    };
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

/// An epoll instance: one descriptor that is readable when any registered one is.
pub fn epoll_create() -> io::Result<OwnedFd> {
    let fd = syscall!(epoll_create1(libc::EPOLL_CLOEXEC))?;
    // SAFETY: a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Registers `fd` for readability on `epoll`.
pub fn epoll_add(epoll: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: fd.as_raw_fd() as u64,
    };
    syscall!(epoll_ctl(
        epoll.as_raw_fd(),
        libc::EPOLL_CTL_ADD,
        fd.as_raw_fd(),
        &mut ev
    ))
    .map(drop)
}

/// Removes `fd` from `epoll`.
pub fn epoll_del(epoll: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    syscall!(epoll_ctl(
        epoll.as_raw_fd(),
        libc::EPOLL_CTL_DEL,
        fd.as_raw_fd(),
        &mut ev
    ))
    .map(drop)
}

/// `if_nametoindex`; `None` when there is no such interface.
pub fn if_nametoindex(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: c is a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}
