//! The Linux kernel multicast router (`net/ipv4/ipmr.c`, `net/ipv6/ip6mr.c`).

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use libc::c_int;

use super::joins::Memberships;
use super::unix::{c64, counter_err, level, mfc_op};
use super::{IgmpSend, Incoming, MfcWriter, Platform};
use crate::error::{Error, Object, Result};
use crate::model::{
    Family, Interface, MfcEntry, RouteCounters, Vif, VifCounters, VifIndex, MAX_MIFS, MAX_VIFS,
};
use crate::sys::abi::{linux as abi, In6Addr, InAddr};
use crate::sys::{linux as os, unix as sys};
use crate::wire::upcall::{self, Layout, Upcall};

/// Receive buffer asked for on the routing sockets: room for tens of thousands of queued
/// upcalls, so that a burst of new flows loses none.
pub const DEFAULT_RCVBUF: usize = 64 << 20;

/// How many memberships one join socket takes before a new one is opened: Linux refuses
/// more than `net.ipv4.igmp_max_memberships` (20 by default) per socket with `ENOBUFS`.
const JOINS_PER_SOCKET: usize = 20;

struct Table {
    sock: OwnedFd,
    table: u32,
}

/// The Linux kernel as a [`Platform`].
///
/// Opens one raw socket per family (`IPPROTO_IGMP` for IPv4, `IPPROTO_ICMPV6` for IPv6) and
/// takes `MRT_INIT`/`MRT6_INIT` on it; closing it (drop) releases the table and the kernel
/// flushes its VIFs and routes. Upcalls of both families wake one epoll descriptor.
pub struct Linux {
    v4: Option<Table>,
    v6: Option<Table>,
    epoll: OwnedFd,
    rcvbuf: usize,
    joins: Memberships,
    buf: Vec<u8>,
    /// Whether the IPv4 socket is set up for sending IGMP (`IP_HDRINCL`, no loopback).
    igmp_send_ready: bool,
    /// Per family: the socket's drop counter last seen (`SO_RXQ_OVFL`) and the upcalls
    /// known lost because the receive buffer was full.
    drops: [(u32, u64); 2],
}

/// Notes the socket's cumulative drop counter; reports upcalls lost since last time.
fn note_drops(slot: &mut (u32, u64), family: Family, seen: Option<u32>) {
    if let Some(d) = seen {
        let new = d.wrapping_sub(slot.0);
        if new > 0 {
            slot.1 += u64::from(new);
            log::warn!(
                "{family} routing socket buffer overflowed: {new} upcalls lost ({} in all); \
                 their flows get no route until their next packet",
                slot.1
            );
        }
        slot.0 = d;
    }
}

impl Linux {
    /// A Linux platform with no table open yet.
    pub fn new() -> Result<Linux> {
        Ok(Linux {
            v4: None,
            v6: None,
            epoll: os::epoll_create().map_err(|e| Error::io("creating epoll instance", e))?,
            rcvbuf: DEFAULT_RCVBUF,
            joins: Memberships::new(JOINS_PER_SOCKET),
            buf: vec![0; 65536],
            igmp_send_ready: false,
            drops: [(0, 0); 2],
        })
    }

    /// Sets the receive buffer size asked for on routing sockets opened afterwards.
    pub fn with_rcvbuf(mut self, bytes: usize) -> Linux {
        self.rcvbuf = bytes;
        self
    }

    /// The routing socket of `family`, for protocol I/O beside the router (IGMP, DVMRP).
    pub fn socket(&self, family: Family) -> Option<BorrowedFd<'_>> {
        self.table(family).map(|t| t.sock.as_fd())
    }

    /// The table id held for `family`, if open.
    pub fn table_id(&self, family: Family) -> Option<u32> {
        self.table(family).map(|t| t.table)
    }

    /// The receive buffer the kernel granted on `family`'s socket.
    pub fn rcvbuf(&self, family: Family) -> Result<usize> {
        let t = self.table_or_err(family)?;
        let got: c_int = sys::getsockopt(t.sock.as_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF)
            .map_err(|e| Error::io("reading SO_RCVBUF", e))?;
        Ok(got.max(0) as usize)
    }

    /// The multicast routing API version the kernel reports (`MRT_VERSION`, 0x305 today).
    pub fn version(&self) -> Result<u32> {
        let t = self.table_or_err(Family::V4)?;
        let v: c_int = sys::getsockopt(t.sock.as_fd(), libc::IPPROTO_IP, abi::MRT_VERSION)
            .map_err(|e| Error::io("reading MRT_VERSION", e))?;
        Ok(v as u32)
    }

    fn table(&self, family: Family) -> Option<&Table> {
        match family {
            Family::V4 => self.v4.as_ref(),
            Family::V6 => self.v6.as_ref(),
        }
    }

    fn table_or_err(&self, family: Family) -> Result<&Table> {
        self.table(family).ok_or(Error::NotOpen(family))
    }

    fn sock(&self, family: Family) -> Result<BorrowedFd<'_>> {
        Ok(self.table_or_err(family)?.sock.as_fd())
    }
}

/// `MRT_ADD_MFC` / `MRT6_ADD_MFC` of `entry` on the table socket `sock`.
fn add_mfc_on(sock: BorrowedFd<'_>, entry: &MfcEntry) -> Result<()> {
    match entry.family() {
        Family::V4 => {
            let c = mfcctl(entry).expect("IPv4 entry");
            sys::setsockopt(sock, libc::IPPROTO_IP, abi::MRT_ADD_MFC, &c)
        }
        Family::V6 => {
            let c = mf6cctl(entry).expect("IPv6 entry");
            sys::setsockopt(sock, libc::IPPROTO_IPV6, abi::MRT6_ADD_MFC, &c)
        }
    }
    .map_err(|e| Error::io(mfc_op(true, entry), e))
}

/// The [`MfcWriter`] of [`Linux`]: duplicates of its table sockets.
struct Writer {
    socks: [Option<OwnedFd>; 2],
}

impl MfcWriter for Writer {
    fn add_mfc(&mut self, entry: &MfcEntry) -> Result<()> {
        let family = entry.family();
        let sock = self.socks[family.slot()]
            .as_ref()
            .ok_or(Error::NotOpen(family))?;
        add_mfc_on(sock.as_fd(), entry)
    }
}

fn sin6(addr: std::net::Ipv6Addr) -> abi::sockaddr_in6 {
    abi::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as u16,
        sin6_addr: In6Addr::from(addr),
        ..Default::default()
    }
}

fn mfcctl(entry: &MfcEntry) -> Option<abi::mfcctl> {
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

fn mf6cctl(entry: &MfcEntry) -> Option<abi::mf6cctl> {
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

impl Platform for Linux {
    fn open(&mut self, family: Family, table: u32) -> Result<()> {
        if self.is_open(family) {
            return Err(Error::already_exists(Object::RoutingSocket(family)));
        }
        let (domain, proto, opt_table, opt_init) = match family {
            Family::V4 => (
                libc::AF_INET,
                libc::IPPROTO_IGMP,
                abi::MRT_TABLE,
                abi::MRT_INIT,
            ),
            Family::V6 => (
                libc::AF_INET6,
                libc::IPPROTO_ICMPV6,
                abi::MRT6_TABLE,
                abi::MRT6_INIT,
            ),
        };
        let sock = sys::raw_socket(domain, proto)
            .map_err(|e| Error::io(format!("opening {family} multicast routing socket"), e))?;
        if table != super::DEFAULT_TABLE {
            sys::setsockopt(sock.as_fd(), level(family), opt_table, &table).map_err(|e| match e
                .raw_os_error()
            {
                Some(libc::ENOPROTOOPT) => Error::NoKernelSupport {
                    what: format!("{family} multicast routing table {table}"),
                    source: e,
                },
                _ => Error::io(
                    format!("selecting {family} multicast routing table {table}"),
                    e,
                ),
            })?;
        }
        let one: c_int = 1;
        sys::setsockopt(sock.as_fd(), level(family), opt_init, &one).map_err(|e| {
            match e.raw_os_error() {
                Some(libc::EADDRINUSE) => Error::TableInUse { family, table },
                Some(libc::ENOPROTOOPT) | Some(libc::EOPNOTSUPP) => Error::NoKernelSupport {
                    what: format!("{family} multicast routing"),
                    source: e,
                },
                _ => Error::io(
                    format!("initialising {family} multicast routing (table {table})"),
                    e,
                ),
            }
        })?;
        if family == Family::V4 {
            // Control packets arriving beside the upcalls carry their interface.
            sys::setsockopt(sock.as_fd(), libc::IPPROTO_IP, libc::IP_PKTINFO, &one)
                .map_err(|e| Error::io("setting IP_PKTINFO on the IPv4 routing socket", e))?;
        }
        // Count what the kernel drops when the receive buffer is full (SO_RXQ_OVFL), so
        // lost upcalls are reported instead of vanishing.
        sys::setsockopt(sock.as_fd(), libc::SOL_SOCKET, libc::SO_RXQ_OVFL, &one)
            .map_err(|e| Error::io("setting SO_RXQ_OVFL on the routing socket", e))?;
        if family == Family::V6 {
            os::icmp6_block_all(sock.as_fd())
                .map_err(|e| Error::io("setting ICMP6_FILTER on the IPv6 routing socket", e))?;
        }
        let got = os::set_rcvbuf(sock.as_fd(), self.rcvbuf)
            .map_err(|e| Error::io("setting the routing socket's receive buffer", e))?;
        if got < self.rcvbuf {
            log::warn!(
                "{family} routing socket receive buffer is {got} bytes, less than the {} asked for: \
                 run as root or raise net.core.rmem_max, or bursts of new flows may lose upcalls",
                self.rcvbuf
            );
        }
        os::epoll_add(self.epoll.as_fd(), sock.as_fd())
            .map_err(|e| Error::io("registering the routing socket with epoll", e))?;
        let t = Table { sock, table };
        match family {
            Family::V4 => self.v4 = Some(t),
            Family::V6 => self.v6 = Some(t),
        }
        log::debug!("opened {family} multicast routing table {table}");
        Ok(())
    }

    fn close(&mut self, family: Family) -> Result<()> {
        let t = match family {
            Family::V4 => {
                self.igmp_send_ready = false;
                self.v4.take()
            }
            Family::V6 => self.v6.take(),
        };
        let Some(t) = t else {
            return Err(Error::NotOpen(family));
        };
        let _ = os::epoll_del(self.epoll.as_fd(), t.sock.as_fd());
        let opt = match family {
            Family::V4 => abi::MRT_DONE,
            Family::V6 => abi::MRT6_DONE,
        };
        let res = sys::setsockopt(t.sock.as_fd(), level(family), opt, &0 as &c_int);
        drop(t);
        res.map_err(|e| Error::io(format!("shutting down {family} multicast routing"), e))
    }

    fn is_open(&self, family: Family) -> bool {
        self.table(family).is_some()
    }

    fn max_vifs(&self, family: Family) -> usize {
        match family {
            Family::V4 => MAX_VIFS,
            Family::V6 => MAX_MIFS,
        }
    }

    fn add_vif(&mut self, vif: &Vif) -> Result<()> {
        let max = self.max_vifs(vif.id.family());
        let op = || format!("adding {} ({})", vif.id, vif.name);
        let add_err = |e: io::Error| match e.raw_os_error() {
            // The kernel says ENFILE ("Too many open files in system") for a slot past MAXVIFS.
            Some(libc::ENFILE) => Error::io(
                op(),
                io::Error::other(format!("slot beyond the kernel's table of {max} (ENFILE)")),
            ),
            Some(libc::EADDRINUSE) => Error::already_exists(Object::Vif(vif.id)),
            _ => Error::io(op(), e),
        };
        match vif.id {
            VifIndex::Vif(id) => {
                let mut flags = vif.flags.bits();
                let lcl = if flags & abi::VIFF_REGISTER != 0 {
                    abi::VifcLcl {
                        vifc_lcl_addr: InAddr::from(
                            vif.local.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
                        ),
                    }
                } else {
                    flags |= abi::VIFF_USE_IFINDEX;
                    abi::VifcLcl {
                        vifc_lcl_ifindex: vif.ifindex as c_int,
                    }
                };
                if flags & abi::VIFF_TUNNEL != 0 {
                    return Err(Error::Unsupported("VIFF_TUNNEL (use an ipip interface)"));
                }
                let c = abi::vifctl {
                    vifc_vifi: id.0,
                    vifc_flags: flags,
                    vifc_threshold: vif.threshold,
                    vifc_rate_limit: vif.rate_limit,
                    vifc_lcl: lcl,
                    vifc_rmt_addr: InAddr::from(
                        vif.remote.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
                    ),
                };
                sys::setsockopt(
                    self.sock(Family::V4)?,
                    libc::IPPROTO_IP,
                    abi::MRT_ADD_VIF,
                    &c,
                )
                .map_err(add_err)
            }
            VifIndex::Mif(id) => {
                let c = abi::mif6ctl {
                    mif6c_mifi: id.0,
                    mif6c_flags: vif.mif_flags.bits(),
                    vifc_threshold: vif.threshold,
                    mif6c_pifi: u16::try_from(vif.ifindex).map_err(|_| {
                        Error::Unsupported("IPv6 MIF on an interface index above 65535")
                    })?,
                    vifc_rate_limit: vif.rate_limit,
                };
                sys::setsockopt(
                    self.sock(Family::V6)?,
                    libc::IPPROTO_IPV6,
                    abi::MRT6_ADD_MIF,
                    &c,
                )
                .map_err(add_err)
            }
        }
    }

    fn del_vif(&mut self, vif: &Vif) -> Result<()> {
        let op = || format!("deleting {} ({})", vif.id, vif.name);
        match vif.id {
            VifIndex::Vif(id) => {
                let c = abi::vifctl {
                    vifc_vifi: id.0,
                    ..Default::default()
                };
                sys::setsockopt(
                    self.sock(Family::V4)?,
                    libc::IPPROTO_IP,
                    abi::MRT_DEL_VIF,
                    &c,
                )
                .map_err(|e| Error::io(op(), e))
            }
            VifIndex::Mif(id) => {
                // MRT6_DEL_MIF takes a bare mifi_t.
                sys::setsockopt(
                    self.sock(Family::V6)?,
                    libc::IPPROTO_IPV6,
                    abi::MRT6_DEL_MIF,
                    &id.0,
                )
                .map_err(|e| Error::io(op(), e))
            }
        }
    }

    fn add_mfc(&mut self, entry: &MfcEntry) -> Result<()> {
        add_mfc_on(self.sock(entry.family())?, entry)
    }

    fn mfc_writer(&self) -> Result<Option<Box<dyn MfcWriter>>> {
        // Duplicates of the table sockets: the same sockets (the kernel knows a table's
        // owner by socket, not by descriptor), usable from another thread without
        // borrowing the platform.
        let dup = |family| {
            self.table(family)
                .map(|t| t.sock.try_clone())
                .transpose()
                .map_err(|e| Error::io("duplicating the multicast routing socket", e))
        };
        Ok(Some(Box::new(Writer {
            socks: [dup(Family::V4)?, dup(Family::V6)?],
        })))
    }

    fn del_mfc(&mut self, entry: &MfcEntry) -> Result<()> {
        match entry.family() {
            Family::V4 => {
                let c = mfcctl(entry).expect("IPv4 entry");
                sys::setsockopt(
                    self.sock(Family::V4)?,
                    libc::IPPROTO_IP,
                    abi::MRT_DEL_MFC,
                    &c,
                )
            }
            Family::V6 => {
                let c = mf6cctl(entry).expect("IPv6 entry");
                sys::setsockopt(
                    self.sock(Family::V6)?,
                    libc::IPPROTO_IPV6,
                    abi::MRT6_DEL_MFC,
                    &c,
                )
            }
        }
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) => Error::not_found(Object::Route {
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
                os::sg_count(self.sock(Family::V4)?, &mut req).map_err(|e| counter_err(op(), e))?;
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
                os::sg_count6(self.sock(Family::V6)?, &mut req)
                    .map_err(|e| counter_err(op(), e))?;
                Ok(RouteCounters {
                    packets: c64(req.pktcnt),
                    bytes: c64(req.bytecnt),
                    wrong_if: c64(req.wrong_if),
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
                os::vif_count(self.sock(Family::V4)?, &mut req)
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
                os::mif_count6(self.sock(Family::V6)?, &mut req)
                    .map_err(|e| counter_err(op(), e))?;
                Ok(VifCounters {
                    in_packets: c64(req.icount),
                    out_packets: c64(req.ocount),
                    in_bytes: c64(req.ibytes),
                    out_bytes: c64(req.obytes),
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
            let n = match os::recv_meta(t.sock.as_fd(), &mut self.buf) {
                Ok(Some(m)) => {
                    note_drops(&mut self.drops[family.slot()], family, m.drops);
                    m.len
                }
                Ok(None) => return Ok(None),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    log::warn!("{family} routing socket overflowed: upcalls were lost");
                    continue;
                }
                Err(e) => return Err(Error::io(format!("receiving {family} upcalls"), e)),
            };
            match upcall::decode(family, &self.buf[..n], Layout::Linux) {
                Ok(u) => return Ok(Some(u)),
                Err(crate::wire::WireError::NotAnUpcall) => continue,
                Err(e) => {
                    log::debug!("dropping {family} message of {n} bytes: {e}");
                    continue;
                }
            }
        }
    }

    fn recv(&mut self, family: Family) -> Result<Option<Incoming>> {
        if family == Family::V6 {
            return Ok(self.recv_upcall(family)?.map(Incoming::Upcall));
        }
        let t = self.v4.as_ref().ok_or(Error::NotOpen(family))?;
        loop {
            let (n, ifindex) = match os::recv_meta(t.sock.as_fd(), &mut self.buf) {
                Ok(Some(m)) => {
                    note_drops(&mut self.drops[0], family, m.drops);
                    (m.len, m.ifindex)
                }
                Ok(None) => return Ok(None),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    log::warn!("{family} routing socket overflowed: messages were lost");
                    continue;
                }
                Err(e) => {
                    return Err(Error::io(
                        format!("receiving on the {family} routing socket"),
                        e,
                    ))
                }
            };
            if let Some(m) = super::classify_v4(&self.buf[..n], ifindex, Layout::Linux) {
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
        self.epoll.as_fd()
    }

    fn set_wrong_vif_upcalls(&mut self, family: Family, on: bool) -> Result<()> {
        let sock = self.sock(family)?;
        let (pim, assert) = match family {
            Family::V4 => (abi::MRT_PIM, abi::MRT_ASSERT),
            Family::V6 => (abi::MRT6_PIM, abi::MRT6_ASSERT),
        };
        let v = c_int::from(on);
        match sys::setsockopt(sock, level(family), pim, &v) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => {
                // No CONFIG_IP_PIMSM_V1/V2 (IPV6_PIMSM_V2): assert mode alone.
                if on {
                    log::warn!(
                        "{family}: the kernel has no PIM support; WRONGVIF upcalls come only \
                         for arrivals on one of a route's outbound interfaces"
                    );
                }
                sys::setsockopt(sock, level(family), assert, &v)
                    .map_err(|e| Error::io(format!("setting {family} MRT_ASSERT to {v}"), e))
            }
            Err(e) => Err(Error::io(format!("setting {family} MRT_PIM to {v}"), e)),
        }
    }

    fn lost_upcalls(&self, family: Family) -> u64 {
        self.drops[family.slot()].1
    }

    fn interfaces(&self) -> Result<Vec<Interface>> {
        super::ifaddrs::list_interfaces()
    }
}

impl Drop for Linux {
    fn drop(&mut self) {
        for f in [Family::V4, Family::V6] {
            if self.is_open(f) {
                let _ = self.close(f);
            }
        }
    }
}
