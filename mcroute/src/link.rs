//! Interfaces that come and go: a link monitor on the kernel's routing socket.
//!
//! smcrouted sees only the interfaces that exist when it starts or reloads. A
//! [`LinkMonitor`] tells a daemon the moment an interface appears, disappears, goes up or
//! down or changes its addresses, so it can give the interface its VIF and routes (or take
//! them away) without a SIGHUP:
//!
//! - Linux: an rtnetlink socket subscribed to `RTNLGRP_LINK`, `RTNLGRP_IPV4_IFADDR` and
//!   `RTNLGRP_IPV6_IFADDR` (`RTM_NEWLINK`, `RTM_DELLINK`, `RTM_NEWADDR`, `RTM_DELADDR`).
//! - FreeBSD: a `PF_ROUTE` socket with a 1 MiB buffer and `SO_RERROR` (FreeBSD 14; older
//!   kernels lose messages silently); `RTM_IFINFO`, `RTM_IFANNOUNCE`, `RTM_NEWADDR` and
//!   `RTM_DELADDR` become link and address events.
//!
//! If the socket overflows (events were lost), [`LinkEvent::Overrun`] says so: rescan.
//! The parsers ([`crate::wire::netlink`]) are pure functions of bytes and never panic.
//!
//! Link events that change nothing a router looks at are dropped: adding or deleting a VIF
//! or a membership makes both kernels announce the interface again with only
//! `IFF_ALLMULTI` changed (`if_allmulti()`, `dev_set_allmulti()`), and a daemon that
//! rescans on every event would rescan once per VIF change for nothing.
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

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::error::{Error, Result};
pub use crate::wire::netlink::LinkEvent;

/// A non-blocking subscription to the kernel's interface events.
pub struct LinkMonitor {
    sock: OwnedFd,
    buf: Vec<u8>,
    state: LinkState,
}

/// What the monitor last saw of each interface, to drop link messages that change nothing a
/// router cares about.
///
/// Adding or deleting a VIF or a membership makes the kernel call `if_allmulti()` (FreeBSD)
/// or `dev_set_allmulti()` (Linux), which announces the interface again (`RTM_IFINFO`,
/// `RTM_NEWLINK`) with only `IFF_ALLMULTI` changed. A daemon that rescans on every event
/// would rescan once per VIF change; the rescan changes nothing (so there is no loop), but
/// it is work for nothing. Such repeats are dropped here: a link event passes only when the
/// interface is new to the monitor or its name, `IFF_UP` or `IFF_MULTICAST` changed.
#[derive(Debug, Default)]
pub(crate) struct LinkState {
    known: HashMap<u32, (Option<String>, bool, bool)>,
}

impl LinkState {
    /// Keeps the events that say something new; an overrun forgets everything.
    pub(crate) fn filter(&mut self, events: Vec<LinkEvent>) -> Vec<LinkEvent> {
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            match &e {
                LinkEvent::Link {
                    index,
                    removed: true,
                    ..
                } => {
                    self.known.remove(index);
                }
                LinkEvent::Link {
                    index,
                    name,
                    up,
                    multicast,
                    removed: false,
                } => {
                    let old = self.known.get(index);
                    let name = name.clone().or_else(|| old.and_then(|o| o.0.clone()));
                    let now = (name, *up, *multicast);
                    if old == Some(&now) {
                        continue;
                    }
                    self.known.insert(*index, now);
                }
                LinkEvent::Overrun => self.known.clear(),
                LinkEvent::Address { .. } | LinkEvent::Changed => {}
            }
            out.push(e);
        }
        out
    }
}

impl LinkMonitor {
    /// Opens the routing socket and subscribes to link and address events.
    pub fn open() -> Result<LinkMonitor> {
        let sock = open_socket().map_err(|e| Error::io("opening the link monitor socket", e))?;
        Ok(LinkMonitor {
            sock,
            buf: vec![0; 64 * 1024],
            state: LinkState::default(),
        })
    }

    /// Every event queued now (empty when none), without blocking.
    pub fn recv(&mut self) -> Result<Vec<LinkEvent>> {
        let mut out = Vec::new();
        loop {
            match crate::sys::unix::recv(self.sock.as_fd(), &mut self.buf) {
                Ok(Some(0)) | Ok(None) => return Ok(self.state.filter(out)),
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
    let fd = socket(
        AddressFamily::Route,
        SockType::Raw,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // Room for a burst of events (the default is 8 KiB), and an overflow reported as
    // ENOBUFS, which becomes LinkEvent::Overrun, instead of events lost in silence.
    let _ = crate::sys::freebsd::set_rcvbuf(fd.as_fd(), 1 << 20);
    if let Err(e) = crate::sys::freebsd::set_rerror(fd.as_fd()) {
        log::warn!(
            "SO_RERROR on the routing socket: {e}; lost interface events will go unnoticed \
             (FreeBSD 14 reports them)"
        );
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::netlink::parse_route_socket;

    /// `RTM_IFINFO` (`struct if_msghdr`, amd64) for `index` with `flags`.
    #[cfg(target_endian = "little")]
    fn ifinfo(index: u8, flags: u32) -> Vec<u8> {
        let mut m = vec![168, 0, 5, 0x0e, 0, 0, 0, 0];
        m.extend_from_slice(&flags.to_le_bytes());
        m.extend_from_slice(&[index, 0, 0, 0]);
        m.resize(168, 0);
        m
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn allmulti_announcements_are_dropped() {
        const UP_MULTICAST: u32 = 0x1 | 0x8000;
        const ALLMULTI: u32 = 0x200;
        let mut st = LinkState::default();
        // First sight of an interface: passes (one rescan).
        assert_eq!(
            st.filter(parse_route_socket(&ifinfo(3, UP_MULTICAST)))
                .len(),
            1
        );
        // A VIF was added: if_allmulti() announces it again, IFF_ALLMULTI set, twice over.
        let mut again = ifinfo(3, UP_MULTICAST | ALLMULTI);
        again.extend(ifinfo(3, UP_MULTICAST | ALLMULTI));
        assert!(st.filter(parse_route_socket(&again)).is_empty());
        // Down is news; so is a departure, and the interface coming back.
        assert_eq!(st.filter(parse_route_socket(&ifinfo(3, 0x8000))).len(), 1);
        let gone = LinkEvent::Link {
            index: 3,
            name: Some("em0".into()),
            up: false,
            multicast: false,
            removed: true,
        };
        assert_eq!(st.filter(vec![gone.clone()]), vec![gone]);
        assert_eq!(
            st.filter(parse_route_socket(&ifinfo(3, UP_MULTICAST)))
                .len(),
            1
        );
        // Addresses and overruns always pass, and an overrun forgets what was seen.
        let addr = LinkEvent::Address {
            index: 3,
            family: crate::model::Family::V4,
            removed: false,
        };
        assert_eq!(
            st.filter(vec![addr.clone(), LinkEvent::Overrun]),
            vec![addr, LinkEvent::Overrun]
        );
        assert_eq!(
            st.filter(parse_route_socket(&ifinfo(3, UP_MULTICAST)))
                .len(),
            1
        );
    }

    /// The rescan an announcement triggers changes nothing the second time, so the VIF it
    /// might add cannot announce the interface again and again.
    #[test]
    fn a_rescan_with_nothing_new_changes_nothing() {
        use crate::engine::static_routing::{EngineOptions, RouteRule, StaticConfig};
        use crate::platform::fake::FakeKernel;
        use crate::service::static_router::StaticService;
        use crate::{Router, RouterOptions};
        let kernel = FakeKernel::new();
        kernel.add_interface("eth0");
        kernel.add_interface("eth1");
        let router = Router::open(kernel.platform(), RouterOptions::default()).unwrap();
        let mut svc = StaticService::new(router, EngineOptions::default());
        let now = std::time::Instant::now();
        let config = StaticConfig {
            routes: vec![RouteRule::new(
                "eth0",
                Some("192.0.2.1/32".parse().unwrap()),
                "239.1.1.1/32".parse().unwrap(),
                ["eth1".into()],
            )],
            ..Default::default()
        };
        svc.refresh_interfaces(now).unwrap();
        svc.apply(now, &config).unwrap();
        svc.refresh_interfaces(now).unwrap();
        let (vifs, actions) = (svc.router().vifs().count(), svc.stats().actions);
        assert_eq!(vifs, 2);
        for _ in 0..3 {
            svc.refresh_interfaces(now).unwrap();
        }
        assert_eq!(
            svc.stats().actions,
            actions,
            "a rescan with nothing new did something"
        );
        assert_eq!(svc.router().vifs().count(), vifs);
        assert_eq!(kernel.vifs(crate::model::Family::V4, 0).len(), 2);
    }
}
