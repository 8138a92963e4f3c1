//! What a kernel multicast router can do, as a trait with one implementation per kernel.
//!
//! - `linux::Linux`: the real Linux kernel (`MRT_*`/`MRT6_*` on raw sockets).
//! - [`Fake`](fake::Fake) (feature `fake`): an in-memory kernel that enforces the same limits,
//!   for tests that need no root.
//! - `FreeBsd`: the FreeBSD kernel (see its module for what it supports).
//!
//! The [`Router`](crate::Router) drives any of them; most users never call a platform
//! directly.

use std::net::IpAddr;
use std::os::fd::BorrowedFd;

use crate::error::Result;
use crate::model::{Family, Interface, MfcEntry, RouteCounters, Vif, VifCounters, VifIndex};
use crate::upcall::Upcall;

#[cfg(any(test, feature = "fake"))]
pub mod fake;
#[cfg(target_os = "freebsd")]
pub mod freebsd;
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
pub mod ifaddrs;
mod joins;
#[cfg(target_os = "linux")]
pub mod linux;

/// The kernel this program runs on: `linux::Linux` or `freebsd::FreeBsd`.
#[cfg(target_os = "linux")]
pub type Native = linux::Linux;
/// The kernel this program runs on: `linux::Linux` or `freebsd::FreeBsd`.
#[cfg(target_os = "freebsd")]
pub type Native = freebsd::FreeBsd;

/// The default multicast routing table (what `-t 0` or no `-t` selects).
pub const DEFAULT_TABLE: u32 = 0;

/// A kernel multicast router: one table per family, owned by this process while open.
///
/// Every method names its object in errors. Implementations must release the tables when
/// dropped (the kernel then flushes the VIFs and routes).
pub trait Platform {
    /// Takes ownership of the multicast routing table `table` of `family` (`MRT_INIT`).
    ///
    /// Fails with [`Error::TableInUse`](crate::Error::TableInUse) when another socket holds
    /// it, and with [`Error::Unsupported`](crate::Error::Unsupported) for a non-default table
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

    /// A file descriptor that becomes readable when an upcall of any open family is queued.
    fn upcall_fd(&self) -> BorrowedFd<'_>;

    /// The network interfaces of the system (or of the fake kernel).
    fn interfaces(&self) -> Result<Vec<Interface>>;
}
