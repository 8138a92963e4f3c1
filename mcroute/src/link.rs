//! Interfaces that come and go: a link monitor on the kernel's routing socket.
//!
//! smcrouted sees only the interfaces that exist when it starts or reloads. A
//! [`LinkMonitor`] tells a daemon the moment an interface appears, disappears, goes up or
//! down or changes its addresses, so it can give the interface its VIF and routes (or take
//! them away) without a SIGHUP:
//!
//! - Linux: an rtnetlink socket subscribed to `RTNLGRP_LINK`, `RTNLGRP_IPV4_IFADDR` and
//!   `RTNLGRP_IPV6_IFADDR` (`RTM_NEWLINK`, `RTM_DELLINK`, `RTM_NEWADDR`, `RTM_DELADDR`).
//! - FreeBSD: a `PF_ROUTE` socket; `RTM_IFANNOUNCE`, `RTM_IFINFO`, `RTM_NEWADDR` and
//!   `RTM_DELADDR` messages become [`LinkEvent::Changed`], after which the daemon rescans.
//!
//! If the socket overflows (events were lost), [`LinkEvent::Overrun`] says so: rescan.
//! The parsers are pure functions of bytes and never panic.
//!
//! ```no_run
//! use mcroute::link::LinkMonitor;
//! let mut mon = LinkMonitor::open()?;
//! // poll mon's descriptor (AsFd) with the rest of the event loop, then:
//! for event in mon.recv()? {
//!     println!("{event:?}"); // then rescan interfaces: StaticService::refresh_interfaces
//! }
//! # Ok::<(), mcroute::Error>(())
//! ```

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::error::{Error, Result};
pub use crate::wire::netlink::LinkEvent;

/// A non-blocking subscription to the kernel's interface events.
pub struct LinkMonitor {
    sock: OwnedFd,
    buf: Vec<u8>,
}

impl LinkMonitor {
    /// Opens the routing socket and subscribes to link and address events.
    pub fn open() -> Result<LinkMonitor> {
        let sock = open_socket().map_err(|e| Error::io("opening the link monitor socket", e))?;
        Ok(LinkMonitor {
            sock,
            buf: vec![0; 64 * 1024],
        })
    }

    /// Every event queued now (empty when none), without blocking.
    pub fn recv(&mut self) -> Result<Vec<LinkEvent>> {
        let mut out = Vec::new();
        loop {
            match crate::sys::unix::recv(self.sock.as_fd(), &mut self.buf) {
                Ok(Some(0)) | Ok(None) => return Ok(out),
                Ok(Some(n)) => out.extend(parse(&self.buf[..n])),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    log::warn!("link monitor socket overflowed: interface events were lost");
                    out.push(LinkEvent::Overrun);
                }
                Err(e) => return Err(Error::io("receiving interface events", e)),
            }
        }
    }
}

impl AsFd for LinkMonitor {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl std::os::fd::AsRawFd for LinkMonitor {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.sock)
    }
}

#[cfg(target_os = "linux")]
fn parse(buf: &[u8]) -> Vec<LinkEvent> {
    crate::wire::netlink::parse_rtnetlink(buf)
}

#[cfg(target_os = "freebsd")]
fn parse(buf: &[u8]) -> Vec<LinkEvent> {
    crate::wire::netlink::parse_route_socket(buf)
}

#[cfg(target_os = "linux")]
fn open_socket() -> std::io::Result<OwnedFd> {
    use nix::sys::socket::{
        bind, socket, AddressFamily, NetlinkAddr, SockFlag, SockProtocol, SockType,
    };
    const RTMGRP_LINK: u32 = 0x1;
    const RTMGRP_IPV4_IFADDR: u32 = 0x10;
    const RTMGRP_IPV6_IFADDR: u32 = 0x100;
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )?;
    bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &NetlinkAddr::new(0, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR),
    )?;
    // Room for a burst of events (many interfaces created at once).
    let _ =
        crate::sys::unix::setsockopt(fd.as_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, &(1i32 << 20));
    Ok(fd)
}

#[cfg(target_os = "freebsd")]
fn open_socket() -> std::io::Result<OwnedFd> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    Ok(socket(
        AddressFamily::Route,
        SockType::Raw,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?)
}
