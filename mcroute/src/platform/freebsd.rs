//! The FreeBSD kernel multicast router (`sys/netinet/ip_mroute.c`, `sys/netinet6/ip6_mroute.c`).
//!
//! Differences from Linux, each handled here (see the README's platform table):
//! - `MRT_*` options start at 100 and `MRT6_INIT` is 108 (`netinet/ip_mroute.h`,
//!   `netinet6/ip6_mroute.h`).
//! - One multicast routing table per VNET: `mrt_ioctl()` ignores the FIB and `SO_SETFIB`
//!   changes only unicast lookups, so a table other than 0 is refused with
//!   [`Error::Unsupported`] (run a second router in its own vnet jail instead).
//! - A VIF is named by its local IPv4 address (`vifc_lcl_addr`, found with
//!   `ifa_ifwithaddr()`): there is no `VIFF_USE_IFINDEX`, an interface without an IPv4
//!   address cannot get a VIF ([`Error::Unsupported`]), and a VIF on an address that another
//!   interface also has is refused, since the kernel would put it on the first one.
//! - No VIF rate limit (`add_vif()` refuses a non-zero one: 0 is sent) and no kernel tunnels
//!   (`VIFF_TUNNEL` gets `EOPNOTSUPP`: use a gif(4) interface).
//! - `struct mfcctl` is 44 bytes (no counters); `MRT_DEL_VIF`/`MRT6_DEL_MIF` take a bare index.
//! - Counters come from `SIOCGETSGCNT`/`SIOCGETVIFCNT` = `_IOWR('r', 16/15, ...)`
//!   (`sys/sockio.h`) and `SIOCGETSGCNT_IN6`/`SIOCGETMIFCNT_IN6` (`netinet6/in6_var.h`).
//! - Upcalls (`struct igmpmsg`) have no `im_vif_hi`; type 4 is the bandwidth upcall. An
//!   IPv6 NOCACHE for a packet that arrived on no MIF carries `im6_mif == nummifs` (IPv4
//!   drops such packets in the kernel); those are dropped here.
//! - WRONGVIF upcalls need `MRT_ASSERT`, WRONGMIF ones `MRT6_PIM`.
//! - 64 MIFs, 32 VIFs; the ICMPv6 filter's bits pass rather than block.
//!
//! Every message is built and read by the plain functions of `sys::abi::freebsd`, which are
//! compiled and tested on every OS; only the system calls are FreeBSD's.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use libc::c_int;
use nix::sys::event::Kqueue;

use super::joins::Memberships;
use super::unix::{counter_err, level, mfc_op, unknown_mif, vif_address_conflict};
use super::{IgmpSend, Incoming, Platform};
use crate::error::{Error, Object, Result};
use crate::model::{Family, Interface, MfcEntry, RouteCounters, Vif, VifCounters, VifIndex};
use crate::sys::abi::freebsd as abi;
use crate::sys::{freebsd as os, unix as sys};
use crate::wire::upcall::{self, Layout, Upcall};

/// Receive buffer asked for on routing sockets (reduced to what `kern.ipc.maxsockbuf` allows).
pub const DEFAULT_RCVBUF: usize = 64 << 20;

/// FreeBSD allows `IP_MAX_MEMBERSHIPS` (4095) memberships per socket.
const JOINS_PER_SOCKET: usize = 4095;

/// The FreeBSD kernel as a [`Platform`].
pub struct FreeBsd {
    v4: Option<OwnedFd>,
    v6: Option<OwnedFd>,
    kq: Kqueue,
    rcvbuf: usize,
    joins: Memberships,
    buf: Vec<u8>,
    /// Whether the IPv4 socket is set up for sending IGMP (`IP_HDRINCL`, no loopback).
    igmp_send_ready: bool,
    /// The MIFs installed, to recognise NOCACHE upcalls from no MIF (`im6_mif == nummifs`).
    mifs: BTreeSet<u16>,
    /// Upcalls dropped because they came from no MIF.
    from_no_mif: u64,
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
            mifs: BTreeSet::new(),
            from_no_mif: 0,
        })
    }

    /// IPv6 NOCACHE upcalls dropped because their packet arrived on an interface that is not
    /// a MIF.
    pub fn upcalls_from_no_mif(&self) -> u64 {
        self.from_no_mif
    }

    fn table(&self, family: Family) -> Option<&OwnedFd> {
        match family {
            Family::V4 => self.v4.as_ref(),
            Family::V6 => self.v6.as_ref(),
        }
    }

    fn sock(&self, family: Family) -> Result<BorrowedFd<'_>> {
        self.table(family)
            .map(|t| t.as_fd())
            .ok_or(Error::NotOpen(family))
    }
}

impl Platform for FreeBsd {
    fn open(&mut self, family: Family, table: u32) -> Result<()> {
        if self.table(family).is_some() {
            return Err(Error::already_exists(Object::RoutingSocket(family)));
        }
        if table != super::DEFAULT_TABLE {
            return Err(Error::Unsupported(
                "a multicast routing table other than 0 (FreeBSD has one per vnet; run another \
                 router in its own vnet jail)",
            ));
        }
        let (domain, proto, init) = match family {
            Family::V4 => (libc::AF_INET, libc::IPPROTO_IGMP, abi::MRT_INIT),
            Family::V6 => (libc::AF_INET6, libc::IPPROTO_ICMPV6, abi::MRT6_INIT),
        };
        let sock = sys::raw_socket(domain, proto)
            .map_err(|e| Error::io(format!("opening {family} multicast routing socket"), e))?;
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
        // An overflowing buffer is reported (ENOBUFS on the next read) rather than silent;
        // FreeBSD before 14 has no SO_RERROR.
        if let Err(e) = os::set_rerror(sock.as_fd()) {
            log::debug!("SO_RERROR on the {family} routing socket: {e}");
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
        match family {
            Family::V4 => self.v4 = Some(sock),
            Family::V6 => {
                self.mifs.clear();
                self.v6 = Some(sock)
            }
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
        let _ = os::kqueue_change(&self.kq, t.as_fd(), false);
        let done = match family {
            Family::V4 => abi::MRT_DONE,
            Family::V6 => abi::MRT6_DONE,
        };
        let zero: c_int = 0;
        let res = sys::setsockopt(t.as_fd(), level(family), done, &zero);
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
            VifIndex::Vif(_) => {
                let c = abi::vifctl_of(vif)?;
                if vif.rate_limit != 0 {
                    log::debug!("{}: FreeBSD has no VIF rate limit; sending 0", op());
                }
                if let Some(local) = vif
                    .local
                    .filter(|_| !vif.flags.contains(crate::VifFlags::REGISTER))
                {
                    if let Some(other) =
                        vif_address_conflict(&self.interfaces()?, vif.ifindex, local)
                    {
                        return Err(Error::io(
                            op(),
                            std::io::Error::new(
                                std::io::ErrorKind::AddrInUse,
                                format!(
                                    "{local} is also an address of {other}, and FreeBSD names a \
                                     VIF by its address (the VIF would land on {other}): give {} \
                                     an address of its own",
                                    vif.name
                                ),
                            ),
                        ));
                    }
                }
                sys::setsockopt(
                    self.sock(Family::V4)?,
                    libc::IPPROTO_IP,
                    abi::MRT_ADD_VIF,
                    &c,
                )
                .map_err(|e| Error::io(op(), e))
            }
            VifIndex::Mif(id) => {
                let c = abi::mif6ctl_of(vif)?;
                sys::setsockopt(
                    self.sock(Family::V6)?,
                    libc::IPPROTO_IPV6,
                    abi::MRT6_ADD_MIF,
                    &c,
                )
                .map_err(|e| Error::io(op(), e))?;
                self.mifs.insert(id.0);
                Ok(())
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
            )
            .inspect(|()| {
                self.mifs.remove(&idx);
            }),
        }
        .map_err(|e| Error::io(op(), e))
    }

    fn add_mfc(&mut self, entry: &MfcEntry) -> Result<()> {
        match entry.family() {
            Family::V4 => sys::setsockopt(
                self.sock(Family::V4)?,
                libc::IPPROTO_IP,
                abi::MRT_ADD_MFC,
                &abi::mfcctl_of(entry).expect("IPv4 entry"),
            ),
            Family::V6 => sys::setsockopt(
                self.sock(Family::V6)?,
                libc::IPPROTO_IPV6,
                abi::MRT6_ADD_MFC,
                &abi::mf6cctl_of(entry).expect("IPv6 entry"),
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
                &abi::mfcctl_of(entry).expect("IPv4 entry"),
            ),
            Family::V6 => sys::setsockopt(
                self.sock(Family::V6)?,
                libc::IPPROTO_IPV6,
                abi::MRT6_DEL_MFC,
                &abi::mf6cctl_of(entry).expect("IPv6 entry"),
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
        let [packets, bytes, wrong_if] = match (source, group) {
            (IpAddr::V4(s), IpAddr::V4(g)) => {
                let mut req = abi::sioc_sg_req(s, g);
                os::ioctl_iowr(self.sock(Family::V4)?, abi::SIOCGETSGCNT, &mut req)
                    .map_err(|e| counter_err(op(), e))?;
                abi::sioc_sg_req_counts(&req)
            }
            (IpAddr::V6(s), IpAddr::V6(g)) => {
                let mut req = abi::sioc_sg_req6(s, g);
                os::ioctl_iowr(self.sock(Family::V6)?, abi::SIOCGETSGCNT_IN6, &mut req)
                    .map_err(|e| counter_err(op(), e))?;
                abi::sioc_sg_req6_counts(&req)
            }
            _ => {
                return Err(crate::model::ModelError::FamilyMismatch {
                    origin: source,
                    group,
                }
                .into())
            }
        };
        Ok(RouteCounters {
            packets,
            bytes,
            wrong_if,
        })
    }

    fn vif_counters(&self, vif: VifIndex) -> Result<VifCounters> {
        let op = || Object::Vif(vif);
        let [in_packets, out_packets, in_bytes, out_bytes] = match vif {
            VifIndex::Vif(id) => {
                let mut req = abi::sioc_vif_req(id.0);
                os::ioctl_iowr(self.sock(Family::V4)?, abi::SIOCGETVIFCNT, &mut req)
                    .map_err(|e| counter_err(op(), e))?;
                abi::sioc_vif_req_counts(&req)
            }
            VifIndex::Mif(id) => {
                let mut req = abi::sioc_mif_req6(id.0);
                os::ioctl_iowr(self.sock(Family::V6)?, abi::SIOCGETMIFCNT_IN6, &mut req)
                    .map_err(|e| counter_err(op(), e))?;
                abi::sioc_mif_req6_counts(&req)
            }
        };
        Ok(VifCounters {
            in_packets,
            out_packets,
            in_bytes,
            out_bytes,
        })
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
            let n = match sys::recv(t.as_fd(), &mut self.buf) {
                Ok(Some(n)) => n,
                Ok(None) => return Ok(None),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    log::warn!("{family} routing socket overflowed: upcalls were lost");
                    continue;
                }
                Err(e) => return Err(Error::io(format!("receiving {family} upcalls"), e)),
            };
            match upcall::decode(family, &self.buf[..n], Layout::FreeBsd) {
                Ok(u) if unknown_mif(&u, &self.mifs) => {
                    self.from_no_mif += 1;
                    log::trace!("dropping {u}: the packet arrived on no MIF");
                }
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
            let (n, ifindex) = match os::recv_with_ifindex(t.as_fd(), &mut self.buf) {
                Ok(Some(x)) => x,
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
            if let Some(m) = super::classify_v4(&self.buf[..n], ifindex, Layout::FreeBsd) {
                return Ok(Some(m));
            }
        }
    }

    fn send_igmp(&mut self, packet: &IgmpSend<'_>) -> Result<()> {
        let fd = match &self.v4 {
            Some(t) => t.as_fd(),
            None => return Err(Error::NotOpen(Family::V4)),
        };
        super::unix::send_igmp(fd, &mut self.igmp_send_ready, packet)
    }

    fn set_wrong_vif_upcalls(&mut self, family: Family, on: bool) -> Result<()> {
        // ip_mdq() sends WRONGVIF only with V_pim_assert_enabled (MRT_ASSERT), ip6_mdq()
        // WRONGMIF only with V_pim6 (MRT6_PIM).
        let (opt, name) = match family {
            Family::V4 => (abi::MRT_ASSERT, "MRT_ASSERT"),
            Family::V6 => (abi::MRT6_PIM, "MRT6_PIM"),
        };
        let v = c_int::from(on);
        sys::setsockopt(self.sock(family)?, level(family), opt, &v)
            .map_err(|e| Error::io(format!("setting {name} to {v}"), e))
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
