//! The FreeBSD kernel multicast router (`sys/netinet/ip_mroute.c`, `sys/netinet6/ip6_mroute.c`).
//!
//! Differences from Linux, each handled here:
//! - `MRT_*` options start at 100 and `MRT6_INIT` is 108 (`netinet/ip_mroute.h`,
//!   `netinet6/ip6_mroute.h`).
//! - A VIF is named by its local IPv4 address (`vifc_lcl_addr`): there is no
//!   `VIFF_USE_IFINDEX`, so an interface without an IPv4 address cannot get a VIF
//!   ([`Error::Unsupported`]).
//! - `struct mfcctl` is 44 bytes (no counters); `MRT_DEL_VIF`/`MRT6_DEL_MIF` take a bare index.
//! - Counters come from `SIOCGETSGCNT`/`SIOCGETVIFCNT` = `_IOWR('r', 16/15, ...)`
//!   (`sys/sockio.h`) and `SIOCGETSGCNT_IN6`/`SIOCGETMIFCNT_IN6` (`netinet6/in6_var.h`).
//! - Upcalls (`struct igmpmsg`) have no `im_vif_hi`; type 4 is the bandwidth upcall.
//! - There are no multicast routing tables (`MRT_TABLE`): a non-default table id selects the
//!   socket's FIB with `SO_SETFIB`, which is what `-t` means on FreeBSD.
//! - 64 MIFs, 32 VIFs; the ICMPv6 filter's bits pass rather than block.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use libc::c_int;
use nix::sys::event::Kqueue;

use super::joins::Memberships;
use super::unix::{c64, counter_err, level, mfc_op};
use super::{IgmpSend, Incoming, Platform};
use crate::error::{Error, Object, Result};
use crate::model::{Family, Interface, MfcEntry, RouteCounters, Vif, VifCounters, VifIndex};
use crate::sys::abi::{freebsd as abi, In6Addr, InAddr};
use crate::sys::{freebsd as os, unix as sys};
use crate::wire::upcall::{self, Layout, Upcall};

/// Receive buffer asked for on routing sockets (reduced to what `kern.ipc.maxsockbuf` allows).
pub const DEFAULT_RCVBUF: usize = 64 << 20;

/// FreeBSD allows `IP_MAX_MEMBERSHIPS` (4095) memberships per socket.
const JOINS_PER_SOCKET: usize = 4095;

struct Table {
    sock: OwnedFd,
    table: u32,
}

/// The FreeBSD kernel as a [`Platform`].
pub struct FreeBsd {
    v4: Option<Table>,
    v6: Option<Table>,
    kq: Kqueue,
    rcvbuf: usize,
    joins: Memberships,
    buf: Vec<u8>,
    /// Whether the IPv4 socket is set up for sending IGMP (`IP_HDRINCL`, no loopback).
    igmp_send_ready: bool,
}

impl FreeBsd {
    /// A FreeBSD platform with no table open yet.
    pub fn new() -> Result<FreeBsd> {
        Ok(FreeBsd {
            v4: None,
            v6: None,
            kq: os::kqueue_create().map_err(|e| Error::io("creating kqueue", e))?,
            rcvbuf: DEFAULT_RCVBUF,
            joins: Memberships::new(JOINS_PER_SOCKET),
            buf: vec![0; 65536],
            igmp_send_ready: false,
        })
    }

    /// The FIB (`-t`) held for `family`, if open.
    pub fn table_id(&self, family: Family) -> Option<u32> {
        self.table(family).map(|t| t.table)
    }

    fn table(&self, family: Family) -> Option<&Table> {
        match family {
            Family::V4 => self.v4.as_ref(),
            Family::V6 => self.v6.as_ref(),
        }
    }

    fn sock(&self, family: Family) -> Result<BorrowedFd<'_>> {
        self.table(family)
            .map(|t| t.sock.as_fd())
            .ok_or(Error::NotOpen(family))
    }
}

fn sin6(addr: Ipv6Addr) -> abi::sockaddr_in6 {
    abi::sockaddr_in6 {
        sin6_len: std::mem::size_of::<abi::sockaddr_in6>() as u8,
        sin6_family: abi::AF_INET6,
        sin6_addr: In6Addr::from(addr),
        ..Default::default()
    }
}

/// Encodes an IPv4 entry as the 44-byte FreeBSD `mfcctl`.
pub fn mfcctl(entry: &MfcEntry) -> Option<abi::mfcctl> {
    let (IpAddr::V4(s), IpAddr::V4(g)) = (entry.source(), entry.group()) else {
        return None;
    };
    let mut m = abi::mfcctl {
        mfcc_origin: InAddr::from(s),
        mfcc_mcastgrp: InAddr::from(g),
        mfcc_parent: entry.iif().index(),
        ..Default::default()
    };
    for (i, ttl) in entry.oifs().iter() {
        if let Some(slot) = m.mfcc_ttls.get_mut(usize::from(i)) {
            *slot = ttl;
        }
    }
    Some(m)
}

/// Encodes an IPv6 entry as the FreeBSD `mf6cctl`.
pub fn mf6cctl(entry: &MfcEntry) -> Option<abi::mf6cctl> {
    let (IpAddr::V6(s), IpAddr::V6(g)) = (entry.source(), entry.group()) else {
        return None;
    };
    let mut m = abi::mf6cctl {
        mf6cc_origin: sin6(s),
        mf6cc_mcastgrp: sin6(g),
        mf6cc_parent: entry.iif().index(),
        ..Default::default()
    };
    for (i, _) in entry.oifs().iter() {
        let i = usize::from(i);
        if i < 256 {
            m.mf6cc_ifset.ifs_bits[i / 32] |= 1 << (i % 32);
        }
    }
    Some(m)
}

impl Platform for FreeBsd {
    fn open(&mut self, family: Family, table: u32) -> Result<()> {
        if self.table(family).is_some() {
            return Err(Error::already_exists(Object::RoutingSocket(family)));
        }
        let (domain, proto, init) = match family {
            Family::V4 => (libc::AF_INET, libc::IPPROTO_IGMP, abi::MRT_INIT),
            Family::V6 => (libc::AF_INET6, libc::IPPROTO_ICMPV6, abi::MRT6_INIT),
        };
        let sock = sys::raw_socket(domain, proto)
            .map_err(|e| Error::io(format!("opening {family} multicast routing socket"), e))?;
        if table != super::DEFAULT_TABLE {
            os::set_fib(sock.as_fd(), table)
                .map_err(|e| Error::io(format!("selecting FIB {table} (SO_SETFIB)"), e))?;
        }
        let one: c_int = 1;
        sys::setsockopt(sock.as_fd(), level(family), init, &one).map_err(|e| {
            match e.raw_os_error() {
                Some(libc::EADDRINUSE) => Error::TableInUse { family, table },
                Some(libc::ENOPROTOOPT) | Some(libc::EOPNOTSUPP) => Error::NoKernelSupport {
                    what: format!("{family} multicast routing (kldload ip_mroute / ip6_mroute)"),
                    source: e,
                },
                _ => Error::io(format!("initialising {family} multicast routing"), e),
            }
        })?;
        if family == Family::V4 {
            // Control packets arriving beside the upcalls carry their interface.
            sys::setsockopt(sock.as_fd(), libc::IPPROTO_IP, libc::IP_RECVIF, &one)
                .map_err(|e| Error::io("setting IP_RECVIF on the IPv4 routing socket", e))?;
        }
        if family == Family::V6 {
            os::icmp6_block_all(sock.as_fd())
                .map_err(|e| Error::io("setting ICMP6_FILTER on the IPv6 routing socket", e))?;
        }
        let got = os::set_rcvbuf(sock.as_fd(), self.rcvbuf)
            .map_err(|e| Error::io("setting the routing socket's receive buffer", e))?;
        if got < self.rcvbuf {
            log::warn!(
                "{family} routing socket receive buffer is {got} bytes: raise kern.ipc.maxsockbuf \
                 or bursts of new flows may lose upcalls"
            );
        }
        os::kqueue_change(&self.kq, sock.as_fd(), true)
            .map_err(|e| Error::io("registering the routing socket with kqueue", e))?;
        let t = Table { sock, table };
        match family {
            Family::V4 => self.v4 = Some(t),
            Family::V6 => self.v6 = Some(t),
        }
        Ok(())
    }

    fn close(&mut self, family: Family) -> Result<()> {
        let t = match family {
            Family::V4 => {
                self.igmp_send_ready = false;
                self.v4.take()
            }
            Family::V6 => self.v6.take(),
        }
        .ok_or(Error::NotOpen(family))?;
        let _ = os::kqueue_change(&self.kq, t.sock.as_fd(), false);
        let done = match family {
            Family::V4 => abi::MRT_DONE,
            Family::V6 => abi::MRT6_DONE,
        };
        let zero: c_int = 0;
        let res = sys::setsockopt(t.sock.as_fd(), level(family), done, &zero);
        drop(t);
        res.map_err(|e| Error::io(format!("shutting down {family} multicast routing"), e))
    }

    fn is_open(&self, family: Family) -> bool {
        self.table(family).is_some()
    }

    fn max_vifs(&self, family: Family) -> usize {
        match family {
            Family::V4 => abi::MAXVIFS_FREEBSD,
            Family::V6 => abi::MAXMIFS,
        }
    }

    fn add_vif(&mut self, vif: &Vif) -> Result<()> {
        let op = || format!("adding {} ({})", vif.id, vif.name);
        match vif.id {
            VifIndex::Vif(id) => {
                let flags = vif.flags.bits();
                if flags & crate::sys::abi::linux::VIFF_USE_IFINDEX != 0 {
                    return Err(Error::Unsupported("VIFF_USE_IFINDEX on FreeBSD"));
                }
                let local = match vif.local {
                    Some(a) => a,
                    None if flags & abi::VIFF_REGISTER != 0 => Ipv4Addr::UNSPECIFIED,
                    None => {
                        return Err(Error::Unsupported(
                            "a VIF on an interface without an IPv4 address (FreeBSD names VIFs by address)",
                        ))
                    }
                };
                let c = abi::vifctl {
                    vifc_vifi: id.0,
                    vifc_flags: flags,
                    vifc_threshold: vif.threshold,
                    vifc_rate_limit: vif.rate_limit,
                    vifc_lcl_addr: InAddr::from(local),
                    vifc_rmt_addr: InAddr::from(vif.remote.unwrap_or(Ipv4Addr::UNSPECIFIED)),
                };
                sys::setsockopt(
                    self.sock(Family::V4)?,
                    libc::IPPROTO_IP,
                    abi::MRT_ADD_VIF,
                    &c,
                )
                .map_err(|e| Error::io(op(), e))
            }
            VifIndex::Mif(id) => {
                let c = abi::mif6ctl {
                    mif6c_mifi: id.0,
                    mif6c_flags: vif.mif_flags.bits(),
                    mif6c_pifi: u16::try_from(vif.ifindex).map_err(|_| {
                        Error::Unsupported("IPv6 MIF on an interface index above 65535")
                    })?,
                };
                sys::setsockopt(
                    self.sock(Family::V6)?,
                    libc::IPPROTO_IPV6,
                    abi::MRT6_ADD_MIF,
                    &c,
                )
                .map_err(|e| Error::io(op(), e))
            }
        }
    }

    fn del_vif(&mut self, vif: &Vif) -> Result<()> {
        let op = || format!("deleting {} ({})", vif.id, vif.name);
        let idx: u16 = vif.id.index();
        match vif.id {
            VifIndex::Vif(_) => sys::setsockopt(
                self.sock(Family::V4)?,
                libc::IPPROTO_IP,
                abi::MRT_DEL_VIF,
                &idx,
            ),
            VifIndex::Mif(_) => sys::setsockopt(
                self.sock(Family::V6)?,
                libc::IPPROTO_IPV6,
                abi::MRT6_DEL_MIF,
                &idx,
            ),
        }
        .map_err(|e| Error::io(op(), e))
    }

    fn add_mfc(&mut self, entry: &MfcEntry) -> Result<()> {
        match entry.family() {
            Family::V4 => sys::setsockopt(
                self.sock(Family::V4)?,
                libc::IPPROTO_IP,
                abi::MRT_ADD_MFC,
                &mfcctl(entry).expect("IPv4 entry"),
            ),
            Family::V6 => sys::setsockopt(
                self.sock(Family::V6)?,
                libc::IPPROTO_IPV6,
                abi::MRT6_ADD_MFC,
                &mf6cctl(entry).expect("IPv6 entry"),
            ),
        }
        .map_err(|e| Error::io(mfc_op(true, entry), e))
    }

    fn del_mfc(&mut self, entry: &MfcEntry) -> Result<()> {
        match entry.family() {
            Family::V4 => sys::setsockopt(
                self.sock(Family::V4)?,
                libc::IPPROTO_IP,
                abi::MRT_DEL_MFC,
                &mfcctl(entry).expect("IPv4 entry"),
            ),
            Family::V6 => sys::setsockopt(
                self.sock(Family::V6)?,
                libc::IPPROTO_IPV6,
                abi::MRT6_DEL_MFC,
                &mf6cctl(entry).expect("IPv6 entry"),
            ),
        }
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::EADDRNOTAVAIL) => Error::not_found(Object::Route {
                source: entry.source(),
                group: entry.group(),
            }),
            _ => Error::io(mfc_op(false, entry), e),
        })
    }

    fn route_counters(&self, source: IpAddr, group: IpAddr) -> Result<RouteCounters> {
        let op = || Object::Route { source, group };
        match (source, group) {
            (IpAddr::V4(s), IpAddr::V4(g)) => {
                let mut req = abi::sioc_sg_req {
                    src: InAddr::from(s),
                    grp: InAddr::from(g),
                    ..Default::default()
                };
                sys::ioctl_rw(self.sock(Family::V4)?, abi::SIOCGETSGCNT as _, &mut req)
                    .map_err(|e| counter_err(op(), e))?;
                Ok(RouteCounters {
                    packets: c64(req.pktcnt),
                    bytes: c64(req.bytecnt),
                    wrong_if: c64(req.wrong_if),
                })
            }
            (IpAddr::V6(s), IpAddr::V6(g)) => {
                let mut req = abi::sioc_sg_req6 {
                    src: sin6(s),
                    grp: sin6(g),
                    ..Default::default()
                };
                sys::ioctl_rw(self.sock(Family::V6)?, abi::SIOCGETSGCNT_IN6 as _, &mut req)
                    .map_err(|e| counter_err(op(), e))?;
                Ok(RouteCounters {
                    packets: req.pktcnt,
                    bytes: req.bytecnt,
                    wrong_if: req.wrong_if,
                })
            }
            _ => Err(crate::model::ModelError::FamilyMismatch {
                origin: source,
                group,
            }
            .into()),
        }
    }

    fn vif_counters(&self, vif: VifIndex) -> Result<VifCounters> {
        let op = || Object::Vif(vif);
        match vif {
            VifIndex::Vif(id) => {
                let mut req = abi::sioc_vif_req {
                    vifi: id.0,
                    ..Default::default()
                };
                sys::ioctl_rw(self.sock(Family::V4)?, abi::SIOCGETVIFCNT as _, &mut req)
                    .map_err(|e| counter_err(op(), e))?;
                Ok(VifCounters {
                    in_packets: c64(req.icount),
                    out_packets: c64(req.ocount),
                    in_bytes: c64(req.ibytes),
                    out_bytes: c64(req.obytes),
                })
            }
            VifIndex::Mif(id) => {
                let mut req = abi::sioc_mif_req6 {
                    mifi: id.0,
                    ..Default::default()
                };
                sys::ioctl_rw(
                    self.sock(Family::V6)?,
                    abi::SIOCGETMIFCNT_IN6 as _,
                    &mut req,
                )
                .map_err(|e| counter_err(op(), e))?;
                Ok(VifCounters {
                    in_packets: req.icount,
                    out_packets: req.ocount,
                    in_bytes: req.ibytes,
                    out_bytes: req.obytes,
                })
            }
        }
    }

    fn join(&mut self, ifindex: u32, group: IpAddr, source: Option<IpAddr>) -> Result<()> {
        self.joins.join(ifindex, group, source)
    }

    fn leave(&mut self, ifindex: u32, group: IpAddr, source: Option<IpAddr>) -> Result<()> {
        self.joins.leave(ifindex, group, source)
    }

    fn recv_upcall(&mut self, family: Family) -> Result<Option<Upcall>> {
        let t = match family {
            Family::V4 => self.v4.as_ref(),
            Family::V6 => self.v6.as_ref(),
        }
        .ok_or(Error::NotOpen(family))?;
        loop {
            let n = match sys::recv(t.sock.as_fd(), &mut self.buf) {
                Ok(Some(n)) => n,
                Ok(None) => return Ok(None),
                Err(e) => return Err(Error::io(format!("receiving {family} upcalls"), e)),
            };
            match upcall::decode(family, &self.buf[..n], Layout::FreeBsd) {
                Ok(u) => return Ok(Some(u)),
                Err(e) => log::debug!("dropping {family} message of {n} bytes: {e}"),
            }
        }
    }

    fn recv(&mut self, family: Family) -> Result<Option<Incoming>> {
        if family == Family::V6 {
            return Ok(self.recv_upcall(family)?.map(Incoming::Upcall));
        }
        let t = self.v4.as_ref().ok_or(Error::NotOpen(family))?;
        loop {
            let (n, ifindex) = match os::recv_with_ifindex(t.sock.as_fd(), &mut self.buf) {
                Ok(Some(x)) => x,
                Ok(None) => return Ok(None),
                Err(e) => {
                    return Err(Error::io(
                        format!("receiving on the {family} routing socket"),
                        e,
                    ))
                }
            };
            if let Some(m) = super::classify_v4(&self.buf[..n], ifindex, Layout::FreeBsd) {
                return Ok(Some(m));
            }
        }
    }

    fn send_igmp(&mut self, packet: &IgmpSend<'_>) -> Result<()> {
        let fd = match &self.v4 {
            Some(t) => t.sock.as_fd(),
            None => return Err(Error::NotOpen(Family::V4)),
        };
        super::unix::send_igmp(fd, &mut self.igmp_send_ready, packet)
    }

    fn upcall_fd(&self) -> BorrowedFd<'_> {
        self.kq.as_fd()
    }

    fn interfaces(&self) -> Result<Vec<Interface>> {
        super::ifaddrs::list_interfaces()
    }
}

impl Drop for FreeBsd {
    fn drop(&mut self) {
        for f in [Family::V4, Family::V6] {
            if self.is_open(f) {
                let _ = self.close(f);
            }
        }
    }
}
