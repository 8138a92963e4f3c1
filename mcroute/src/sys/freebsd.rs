//! FreeBSD-only system calls: kqueue, the receive buffer, the ICMPv6 filter, FIBs.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use libc::c_int;
use nix::sys::event::{EvFlags, EventFilter, FilterFlag, KEvent, Kqueue};

use super::unix::{getsockopt, setsockopt};

/// `ICMP6_FILTER` on FreeBSD (`netinet6/in6.h`); a set bit *passes* the type.
const ICMP6_FILTER: c_int = 18;

/// Sets the receive buffer (bounded by `kern.ipc.maxsockbuf`); returns what was granted.
pub fn set_rcvbuf(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<usize> {
    let mut want = c_int::try_from(bytes).unwrap_or(c_int::MAX);
    // FreeBSD refuses sizes above the limit instead of capping them: halve until accepted.
    while want > 65536 && setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &want).is_err() {
        want /= 2;
    }
    let got: c_int = getsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF)?;
    Ok(got.max(0) as usize)
}

/// Makes an ICMPv6 raw socket deliver no ICMPv6 messages (upcalls still arrive).
pub fn icmp6_block_all(fd: BorrowedFd<'_>) -> io::Result<()> {
    let filter = [0u32; 8];
    setsockopt(fd, libc::IPPROTO_ICMPV6, ICMP6_FILTER, &filter)
}

/// Puts the socket in routing table (FIB) `fib` (`SO_SETFIB`).
pub fn set_fib(fd: BorrowedFd<'_>, fib: u32) -> io::Result<()> {
    let v = c_int::try_from(fib).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_SETFIB, &v)
}

/// A kqueue: one descriptor that is readable when any registered one is.
pub fn kqueue_create() -> io::Result<Kqueue> {
    Kqueue::new().map_err(io::Error::from)
}

/// Registers (`add`) or removes `fd` for readability on `kq`.
pub fn kqueue_change(kq: &Kqueue, fd: BorrowedFd<'_>, add: bool) -> io::Result<()> {
    let flags = if add {
        EvFlags::EV_ADD | EvFlags::EV_ENABLE
    } else {
        EvFlags::EV_DELETE
    };
    let ev = KEvent::new(
        fd.as_raw_fd() as usize,
        EventFilter::EVFILT_READ,
        flags,
        FilterFlag::empty(),
        0,
        0,
    );
    kq.kevent(&[ev], &mut [], None)
        .map(drop)
        .map_err(io::Error::from)
}

/// Non-blocking `recvmsg` into `buf` with the `IP_RECVIF` control message: the length
/// received and the index of the interface it arrived on (0 when absent). `Ok(None)` on
/// `EAGAIN`.
pub fn recv_with_ifindex(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Option<(usize, u32)>> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, SockaddrIn};
    let mut cmsg = nix::cmsg_space!(libc::sockaddr_dl);
    let mut iov = [io::IoSliceMut::new(buf)];
    let msg = match recvmsg::<SockaddrIn>(
        fd.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_DONTWAIT,
    ) {
        Ok(m) => m,
        Err(nix::errno::Errno::EAGAIN) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut ifindex = 0;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::Ipv4RecvIf(dl) = c {
                ifindex = u32::from(dl.sdl_index);
            }
        }
    }
    Ok(Some((msg.bytes, ifindex)))
}
