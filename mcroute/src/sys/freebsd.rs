//! FreeBSD-only system calls: kqueue, the receive buffer, the ICMPv6 filter, the routing
//! socket's overflow reports, the multicast-routing counter requests.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use libc::c_int;
use nix::sys::event::{EvFlags, EventFilter, FilterFlag, KEvent, Kqueue};

use super::abi::freebsd::{iocparm_len, ICMP6_FILTER, SO_RERROR};
use super::unix::{getsockopt, ioctl_rw, setsockopt};

/// An `_IOWR` request whose argument is the `N` bytes of `arg`, read and written in place.
/// Fails with `EINVAL` unless the request's encoded length (`IOCPARM_LEN`) is `N`.
pub(crate) fn ioctl_iowr<const N: usize>(
    fd: BorrowedFd<'_>,
    request: u64,
    arg: &mut [u8; N],
) -> io::Result<()> {
    if iocparm_len(request) != N {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: FreeBSD's ioctl(2) copies exactly IOCPARM_LEN(request) bytes in and out of
    // the argument (kern_ioctl, IOC_INOUT), which is N here, and a byte array takes any bytes.
    unsafe { ioctl_rw(fd, request as libc::c_ulong, arg) }
}

/// Asks the kernel to report a receive-buffer overflow as `ENOBUFS` on the next read
/// (`SO_RERROR`, FreeBSD 14); without it a routing socket loses messages silently.
pub(crate) fn set_rerror(fd: BorrowedFd<'_>) -> io::Result<()> {
    setsockopt(fd, libc::SOL_SOCKET, SO_RERROR, &(1 as c_int))
}

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
    // Room for any `sockaddr_dl` the kernel may attach (it can be longer than libc's 54-byte
    // struct: the name and the link-level address share `sdl_data`).
    let mut cmsg = nix::cmsg_space!([u8; 128]);
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
