//! Linux-only system calls: epoll, forced receive buffers, the ICMPv6 filter.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use libc::c_int;

use super::unix::{getsockopt, ioctl_rw, setsockopt};
use crate::sys::abi::linux as abi;

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

// The counter requests. Linux's ipmr_ioctl()/ip6mr_ioctl() copy exactly one struct of the
// request's type in and out, and the abi structs mirror those (tests check them against the
// C headers), so each call below keeps ioctl_rw's contract.

/// `SIOCGETSGCNT`: fills in the counters of the (S,G) named in `req`.
pub(crate) fn sg_count(fd: BorrowedFd<'_>, req: &mut abi::sioc_sg_req) -> io::Result<()> {
    // SAFETY: SIOCGETSGCNT reads and writes one struct sioc_sg_req (see above).
    unsafe { ioctl_rw(fd, abi::SIOCGETSGCNT, req) }
}

/// `SIOCGETVIFCNT`: fills in the counters of the VIF named in `req`.
pub(crate) fn vif_count(fd: BorrowedFd<'_>, req: &mut abi::sioc_vif_req) -> io::Result<()> {
    // SAFETY: SIOCGETVIFCNT reads and writes one struct sioc_vif_req.
    unsafe { ioctl_rw(fd, abi::SIOCGETVIFCNT, req) }
}

/// `SIOCGETSGCNT_IN6` on an IPv6 socket: the counters of an IPv6 (S,G).
pub(crate) fn sg_count6(fd: BorrowedFd<'_>, req: &mut abi::sioc_sg_req6) -> io::Result<()> {
    // SAFETY: SIOCGETSGCNT_IN6 reads and writes one struct sioc_sg_req6.
    unsafe { ioctl_rw(fd, abi::SIOCGETSGCNT_IN6, req) }
}

/// `SIOCGETMIFCNT_IN6` on an IPv6 socket: the counters of a MIF.
pub(crate) fn mif_count6(fd: BorrowedFd<'_>, req: &mut abi::sioc_mif_req6) -> io::Result<()> {
    // SAFETY: SIOCGETMIFCNT_IN6 reads and writes one struct sioc_mif_req6.
    unsafe { ioctl_rw(fd, abi::SIOCGETMIFCNT_IN6, req) }
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

#[cfg(feature = "daemon")]
const CAP_NET_ADMIN: u32 = 12;
#[cfg(feature = "daemon")]
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[cfg(feature = "daemon")]
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: c_int,
}

#[cfg(feature = "daemon")]
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

#[cfg(feature = "daemon")]
/// Becomes `uid`/`gid` (supplementary groups cleared) keeping only `CAP_NET_ADMIN`.
pub fn drop_to_net_admin(uid: u32, gid: u32) -> io::Result<()> {
    // Keep the permitted set across setuid.
    syscall!(prctl(
        libc::PR_SET_KEEPCAPS,
        1 as libc::c_ulong,
        0 as libc::c_ulong,
        0 as libc::c_ulong,
        0 as libc::c_ulong
    ))?;
    let groups = [gid as libc::gid_t];
    syscall!(setgroups(1, groups.as_ptr()))?;
    syscall!(setgid(gid as libc::gid_t))?;
    syscall!(setuid(uid as libc::uid_t))?;
    let hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let bit = 1u32 << CAP_NET_ADMIN;
    let data = [
        CapData {
            effective: bit,
            permitted: bit,
            inheritable: 0,
        },
        CapData::default(),
    ];
    // SAFETY: capset with a v3 header and two data words, as capget(2) documents.
    let r = unsafe { libc::syscall(libc::SYS_capset, &hdr as *const CapHeader, data.as_ptr()) };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    syscall!(prctl(
        libc::PR_SET_KEEPCAPS,
        0 as libc::c_ulong,
        0 as libc::c_ulong,
        0 as libc::c_ulong,
        0 as libc::c_ulong
    ))?;
    Ok(())
}

/// What [`recv_meta`] learned besides the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvMeta {
    /// Bytes received.
    pub len: usize,
    /// The arriving interface (`IP_PKTINFO`), 0 when absent.
    pub ifindex: u32,
    /// The socket's cumulative drop count (`SO_RXQ_OVFL`), when enabled.
    pub drops: Option<u32>,
}

/// Non-blocking `recvmsg` reading the `IP_PKTINFO` and `SO_RXQ_OVFL` control messages.
/// `Ok(None)` on `EAGAIN`.
pub fn recv_meta(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Option<RecvMeta>> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, SockaddrStorage};
    let mut cmsg = nix::cmsg_space!(libc::in_pktinfo, u32);
    let mut iov = [io::IoSliceMut::new(buf)];
    let msg = match recvmsg::<SockaddrStorage>(
        fd.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_DONTWAIT,
    ) {
        Ok(m) => m,
        Err(nix::errno::Errno::EAGAIN) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut meta = RecvMeta {
        len: msg.bytes,
        ifindex: 0,
        drops: None,
    };
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            match c {
                ControlMessageOwned::Ipv4PacketInfo(info) => {
                    meta.ifindex = u32::try_from(info.ipi_ifindex).unwrap_or(0)
                }
                ControlMessageOwned::RxqOvfl(n) => meta.drops = Some(n),
                _ => {}
            }
        }
    }
    Ok(Some(meta))
}
