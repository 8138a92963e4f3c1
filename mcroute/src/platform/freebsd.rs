//! The FreeBSD kernel multicast router: a placeholder until the FreeBSD backend lands.
//!
//! The ABI layouts are in [`crate::abi::freebsd`]; the system calls are not written yet, so
//! every operation returns [`Error::Unsupported`].

use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::Platform;
use crate::error::{Error, Result};
use crate::model::{Family, Interface, MfcEntry, RouteCounters, Vif, VifCounters, VifIndex};
use crate::upcall::Upcall;

/// The FreeBSD kernel (not implemented yet: every call is [`Error::Unsupported`]).
pub struct FreeBsd {
    wake: OwnedFd,
}

impl FreeBsd {
    /// A FreeBSD platform handle.
    pub fn new() -> Result<FreeBsd> {
        let (a, _b) = std::os::unix::net::UnixStream::pair()
            .map_err(|e| Error::io("creating wake-up socket", e))?;
        Ok(FreeBsd { wake: a.into() })
    }
}

impl Platform for FreeBsd {
    fn open(&mut self, _: Family, _: u32) -> Result<()> {
        Err(Error::Unsupported("the FreeBSD backend"))
    }
    fn close(&mut self, f: Family) -> Result<()> {
        Err(Error::NotOpen(f))
    }
    fn is_open(&self, _: Family) -> bool {
        false
    }
    fn max_vifs(&self, f: Family) -> usize {
        match f {
            Family::V4 => 32,
            Family::V6 => 64,
        }
    }
    fn add_vif(&mut self, _: &Vif) -> Result<()> {
        Err(Error::Unsupported("the FreeBSD backend"))
    }
    fn del_vif(&mut self, _: &Vif) -> Result<()> {
        Err(Error::Unsupported("the FreeBSD backend"))
    }
    fn add_mfc(&mut self, _: &MfcEntry) -> Result<()> {
        Err(Error::Unsupported("the FreeBSD backend"))
    }
    fn del_mfc(&mut self, _: &MfcEntry) -> Result<()> {
        Err(Error::Unsupported("the FreeBSD backend"))
    }
    fn route_counters(&self, _: IpAddr, _: IpAddr) -> Result<RouteCounters> {
        Err(Error::Unsupported("the FreeBSD backend"))
    }
    fn vif_counters(&self, _: VifIndex) -> Result<VifCounters> {
        Err(Error::Unsupported("the FreeBSD backend"))
    }
    fn join(&mut self, _: u32, _: IpAddr, _: Option<IpAddr>) -> Result<()> {
        Err(Error::Unsupported("the FreeBSD backend"))
    }
    fn leave(&mut self, _: u32, _: IpAddr, _: Option<IpAddr>) -> Result<()> {
        Err(Error::Unsupported("the FreeBSD backend"))
    }
    fn recv_upcall(&mut self, f: Family) -> Result<Option<Upcall>> {
        Err(Error::NotOpen(f))
    }
    fn upcall_fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }
    fn interfaces(&self) -> Result<Vec<Interface>> {
        Err(Error::Unsupported("the FreeBSD backend"))
    }
}
