//! What a kernel multicast router can do, as a trait with one implementation per kernel.
//!
//! - `linux::Linux`: the real Linux kernel (`MRT_*`/`MRT6_*` on raw sockets).
//! - [`Fake`](fake::Fake) (feature `fake`): an in-memory kernel that enforces the same limits,
//!   for tests that need no root.
//! - `FreeBsd`: the FreeBSD kernel (see its module for what it supports).
//!
//! The [`Router`](crate::Router) drives any of them; most users never call a platform
//! directly.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::BorrowedFd;

use crate::error::{Error, Result};
use crate::model::{Family, Interface, MfcEntry, RouteCounters, Vif, VifCounters, VifIndex};
use crate::wire::ip::Ipv4Header;
use crate::wire::upcall::{self, Layout, Upcall};
use crate::wire::WireError;

#[cfg(any(test, feature = "fake"))]
pub mod fake;
#[cfg(target_os = "freebsd")]
pub mod freebsd;
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
pub mod ifaddrs;
mod joins;
#[cfg(target_os = "linux")]
pub mod linux;
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
mod unix;

/// The kernel this program runs on: `linux::Linux` or `freebsd::FreeBsd`.
#[cfg(target_os = "linux")]
pub type Native = linux::Linux;
/// The kernel this program runs on: `linux::Linux` or `freebsd::FreeBsd`.
#[cfg(target_os = "freebsd")]
pub type Native = freebsd::FreeBsd;

/// The default multicast routing table (what `-t 0` or no `-t` selects).
pub const DEFAULT_TABLE: u32 = 0;

/// An IGMP message (IGMP proper, or DVMRP, which rides in IGMP) read from the IPv4 routing
/// socket, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgmpPacket {
    /// The interface it arrived on (Linux `IP_PKTINFO`, FreeBSD `IP_RECVIF`); 0 when the
    /// kernel did not say.
    pub ifindex: u32,
    /// The IP source.
    pub src: Ipv4Addr,
    /// The IP destination: a group, or our address for a unicast message.
    pub dst: Ipv4Addr,
    /// The IP TTL it arrived with.
    pub ttl: u8,
    /// Whether the IP header carried the Router Alert option.
    pub router_alert: bool,
    /// The IGMP message (the IP payload); its checksum is the reader's business.
    pub payload: Vec<u8>,
}

/// What a routing socket delivered: a kernel upcall or a control packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A kernel upcall (NOCACHE, WRONGVIF, ...).
    Upcall(Upcall),
    /// An IGMP or DVMRP message from the network.
    Igmp(IgmpPacket),
}

/// An IGMP message to send with [`Platform::send_igmp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IgmpSend<'a> {
    /// The interface to send a multicast message out of (for a unicast one the kernel's
    /// routing table decides; the interface is still recorded by the fake).
    pub ifindex: u32,
    /// The IP source: our address on that interface.
    pub src: Ipv4Addr,
    /// A group (224.0.0.4, 224.0.0.1, ...) or a neighbour's address.
    pub dst: Ipv4Addr,
    /// The IP TTL (1 on a subnet).
    pub ttl: u8,
    /// Whether to put the Router Alert option in the IP header (RFC 2113), as IGMP and
    /// mrouted do.
    pub router_alert: bool,
    /// The IGMP message, checksum included.
    pub payload: &'a [u8],
}

/// Adds MFC entries from a thread other than the platform's: see [`Platform::mfc_writer`].
pub trait MfcWriter: Send {
    /// Adds an MFC entry, replacing any entry with the same (S,G), as [`Platform::add_mfc`]
    /// does (with the same error).
    fn add_mfc(&mut self, entry: &MfcEntry) -> Result<()>;
}

/// A kernel multicast router: one table per family, owned by this process while open.
///
/// Every method names its object in errors. Implementations must release the tables when
/// dropped (the kernel then flushes the VIFs and routes).
pub trait Platform {
    /// Takes ownership of the multicast routing table `table` of `family` (`MRT_INIT`).
    ///
    /// Fails with [`Error::TableInUse`] when another socket holds
    /// it, and with [`Error::Unsupported`] for a non-default table
    /// where the platform has no tables.
    fn open(&mut self, family: Family, table: u32) -> Result<()>;

    /// Releases the table of `family` (`MRT_DONE`): the kernel flushes its VIFs and routes.
    fn close(&mut self, family: Family) -> Result<()>;

    /// Whether the table of `family` is open.
    fn is_open(&self, family: Family) -> bool;

    /// The size of the VIF (IPv4) or MIF (IPv6) table.
    fn max_vifs(&self, family: Family) -> usize;

    /// Adds a VIF or MIF.
    fn add_vif(&mut self, vif: &Vif) -> Result<()>;

    /// Deletes a VIF or MIF.
    fn del_vif(&mut self, vif: &Vif) -> Result<()>;

    /// Adds an MFC entry, replacing any entry with the same (S,G).
    fn add_mfc(&mut self, entry: &MfcEntry) -> Result<()>;

    /// Deletes the MFC entry with the entry's (S,G).
    fn del_mfc(&mut self, entry: &MfcEntry) -> Result<()>;

    /// A writer that adds MFC entries to this platform's open tables from another thread,
    /// so that a [`Router`](crate::Router) can hand a large batch of routes to a second core
    /// while its caller works out the next ones ([`Router::batch`](crate::Router::batch)).
    /// The writer stays valid while the tables are open; it must only be used while the
    /// platform itself changes nothing (the batch guarantees it).
    ///
    /// `Ok(None)`, the default, means entries go through [`Platform::add_mfc`] one by one.
    fn mfc_writer(&self) -> Result<Option<Box<dyn MfcWriter>>> {
        Ok(None)
    }

    /// Reads the counters of the MFC entry (S,G).
    fn route_counters(&self, source: IpAddr, group: IpAddr) -> Result<RouteCounters>;

    /// Reads the counters of a VIF or MIF.
    fn vif_counters(&self, vif: VifIndex) -> Result<VifCounters>;

    /// Joins `group` on interface `ifindex`: ASM without a source, SSM with one.
    fn join(&mut self, ifindex: u32, group: IpAddr, source: Option<IpAddr>) -> Result<()>;

    /// Leaves what [`Platform::join`] joined.
    fn leave(&mut self, ifindex: u32, group: IpAddr, source: Option<IpAddr>) -> Result<()>;

    /// Receives one upcall of `family` without blocking: `Ok(None)` when none is queued.
    /// Messages that are not upcalls (protocol packets on the same socket) are skipped.
    fn recv_upcall(&mut self, family: Family) -> Result<Option<Upcall>>;

    /// Receives one message of `family` without blocking: an upcall or, for IPv4, an IGMP
    /// packet (DVMRP included) with the interface it arrived on. `Ok(None)` when none is
    /// queued.
    ///
    /// The default returns upcalls only, for platforms without control-packet input.
    fn recv(&mut self, family: Family) -> Result<Option<Incoming>> {
        Ok(self.recv_upcall(family)?.map(Incoming::Upcall))
    }

    /// Sends an IGMP message (IGMP or DVMRP) from the IPv4 routing socket: out of
    /// `packet.ifindex` to a group, or to a unicast neighbour, with the TTL and Router Alert
    /// option asked for. The IPv4 table must be open.
    ///
    /// The default fails with [`Error::Unsupported`].
    fn send_igmp(&mut self, packet: &IgmpSend<'_>) -> Result<()> {
        let _ = packet;
        Err(Error::Unsupported("sending IGMP on this platform"))
    }

    /// A file descriptor that becomes readable when an upcall of any open family is queued.
    /// The same descriptor for the platform's whole life.
    fn upcall_fd(&self) -> BorrowedFd<'_>;

    /// Asks the kernel for WRONGVIF (IPv4) or WRONGMIF (IPv6) upcalls on `family`'s table, or
    /// stops them: a packet of an (S,G) whose route comes in on another VIF is reported, at
    /// most once every 3 seconds per route. Kernels send none until asked. The static
    /// router asks, so a learned route follows its traffic to another interface (smcroute
    /// #143); the DVMRP router does not.
    ///
    /// - Linux: `MRT_PIM`/`MRT6_PIM`, which also sets `mroute_do_assert` and reports an
    ///   arrival on any VIF. A kernel without PIM support gets `MRT_ASSERT`/`MRT6_ASSERT`
    ///   instead (logged), which reports only arrivals on one of the route's outbound VIFs.
    /// - FreeBSD: `MRT_ASSERT` (IPv4, any VIF) and `MRT6_PIM` (IPv6, any MIF).
    ///
    /// The default fails with [`Error::Unsupported`].
    fn set_wrong_vif_upcalls(&mut self, family: Family, on: bool) -> Result<()> {
        let _ = (family, on);
        Err(Error::Unsupported("WRONGVIF upcalls on this platform"))
    }

    /// Upcalls of `family` the kernel dropped because the routing socket's receive buffer
    /// was full (detected with `SO_RXQ_OVFL` on Linux; 0 where the platform cannot tell).
    fn lost_upcalls(&self, family: Family) -> u64 {
        let _ = family;
        0
    }

    /// The network interfaces of the system (or of the fake kernel).
    fn interfaces(&self) -> Result<Vec<Interface>>;
}

/// Sorts a message read from the IPv4 routing socket: an upcall, an IGMP packet, or
/// something to skip (`None`, logged).
#[cfg_attr(not(any(target_os = "linux", target_os = "freebsd")), allow(dead_code))]
pub(crate) fn classify_v4(bytes: &[u8], ifindex: u32, layout: Layout) -> Option<Incoming> {
    match upcall::decode(Family::V4, bytes, layout) {
        Ok(u) => return Some(Incoming::Upcall(u)),
        Err(WireError::NotAnUpcall) => {}
        Err(e) => {
            log::debug!("dropping IPv4 message of {} bytes: {e}", bytes.len());
            return None;
        }
    }
    match Ipv4Header::parse(bytes) {
        Ok((h, payload)) if h.protocol == crate::wire::IPPROTO_IGMP => {
            Some(Incoming::Igmp(IgmpPacket {
                ifindex,
                src: h.src,
                dst: h.dst,
                ttl: h.ttl,
                router_alert: h.router_alert,
                payload: payload.to_vec(),
            }))
        }
        Ok((h, _)) => {
            log::debug!("dropping IP protocol {} packet from {}", h.protocol, h.src);
            None
        }
        Err(e) => {
            log::debug!("dropping IPv4 message of {} bytes: {e}", bytes.len());
            None
        }
    }
}

/// The datagram (IP header with `IP_HDRINCL`, then the IGMP message) for `packet`.
pub(crate) fn igmp_datagram(packet: &IgmpSend<'_>) -> Vec<u8> {
    let h = Ipv4Header::igmp(packet.src, packet.dst, packet.ttl, packet.router_alert);
    let mut d = h.emit(packet.payload.len());
    d.extend_from_slice(packet.payload);
    d
}
