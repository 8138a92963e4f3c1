//! An in-memory kernel multicast router, for tests that need no root (feature `fake`).
//!
//! A [`FakeKernel`] plays the kernel: it has interfaces, one table per (family, table id)
//! with at most one owner, VIF/MIF tables limited as Linux limits them, an MFC with counters,
//! and a forwarding model that raises upcalls the way the kernel does. Each [`Fake`] is one
//! process's routing socket(s) on it. Upcalls travel as the kernel's bytes and are decoded by
//! the real decoder; a real file descriptor becomes readable when one is queued, so event
//! loops can be tested too.
//!
//! ```
//! use mcroute::platform::fake::FakeKernel;
//! use mcroute::{Router, RouterOptions};
//!
//! let kernel = FakeKernel::new();
//! kernel.add_interface("a1");
//! kernel.add_interface("a2");
//! let mut router = Router::open(kernel.platform(), RouterOptions::default()).unwrap();
//! let a1 = router.add_vif("a1").unwrap();
//! assert_eq!(kernel.vifs(mcroute::Family::V4, 0).len(), 1);
//! # let _ = a1;
//! ```

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{IgmpPacket, IgmpSend, Incoming, MfcWriter, Platform};
use crate::error::{Error, Object, Result};
use crate::model::{
    Family, Interface, MfcEntry, RouteCounters, Vif, VifCounters, VifIndex, MAX_MIFS, MAX_VIFS,
};
use crate::wire::upcall::{self, Layout, Upcall, UpcallKind};

type Membership = (u32, IpAddr, Option<IpAddr>);

#[derive(Default)]
struct TableState {
    owner: u64,
    vifs: BTreeMap<u16, (Vif, VifCounters)>,
    mfc: HashMap<(IpAddr, IpAddr), (MfcEntry, RouteCounters)>,
    /// WRONGVIF upcalls asked for ([`Platform::set_wrong_vif_upcalls`]); off, as in the
    /// kernels, until then.
    wrong_vif_upcalls: bool,
}

/// A message queued on a routing socket.
enum Msg {
    /// The kernel's bytes (an upcall, or garbage injected by a test).
    Raw(Vec<u8>),
    /// A control packet from the network.
    Igmp(IgmpPacket),
}

struct Mailbox {
    queue: VecDeque<(Family, Msg)>,
    notify: UnixStream,
}

#[derive(Default)]
struct KernelState {
    interfaces: Vec<Interface>,
    tables: HashMap<(Family, u32), TableState>,
    next_owner: u64,
    mailboxes: HashMap<u64, Mailbox>,
    memberships: HashSet<Membership>,
    /// Capacity of every socket's upcall queue; beyond it upcalls are dropped as the kernel
    /// drops them when the receive buffer is full.
    queue_limit: usize,
    dropped_upcalls: u64,
    /// IGMP messages sent by the table owners: (table, packet with its outbound interface).
    sent_igmp: Vec<(u32, IgmpPacket)>,
    /// The most MFC entries a table takes; adding a new (S,G) beyond fails with `ENOMEM`,
    /// as the kernel's does when it cannot allocate one.
    mfc_limit: Option<usize>,
}

/// What the fake kernel did with a packet given to [`FakeKernel::receive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Forwarded out of these interface indexes.
    Forwarded(Vec<u32>),
    /// No route: a NOCACHE upcall was queued for the table's owner (if any).
    NoCache,
    /// The route's inbound interface is another one: a WRONGVIF upcall was queued.
    WrongVif,
    /// Not routed: no table owner, no VIF on the interface, a stop filter, or the wrong
    /// inbound interface while WRONGVIF upcalls are off.
    Dropped,
}

/// The fake kernel: shared state that every [`Fake`] platform handle talks to.
#[derive(Clone)]
pub struct FakeKernel {
    inner: Arc<Mutex<KernelState>>,
}

impl Default for FakeKernel {
    fn default() -> Self {
        FakeKernel::new()
    }
}

fn os_err(op: impl Into<String>, code: i32) -> Error {
    Error::io(op, io::Error::from_raw_os_error(code))
}

impl FakeKernel {
    /// A kernel with only a loopback interface.
    pub fn new() -> FakeKernel {
        let k = FakeKernel {
            inner: Arc::new(Mutex::new(KernelState {
                queue_limit: 1 << 20,
                ..Default::default()
            })),
        };
        k.state().interfaces.push(Interface {
            index: 1,
            name: "lo".into(),
            up: true,
            multicast: false,
            loopback: true,
            point_to_point: false,
            addrs: vec!["127.0.0.1/8".parse().unwrap()],
        });
        k
    }

    fn state(&self) -> MutexGuard<'_, KernelState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a multicast-capable, up interface and returns its index.
    pub fn add_interface(&self, name: &str) -> u32 {
        let mut s = self.state();
        let index = s.interfaces.iter().map(|i| i.index).max().unwrap_or(0) + 1;
        s.interfaces.push(Interface {
            index,
            name: name.to_string(),
            up: true,
            multicast: true,
            loopback: false,
            point_to_point: false,
            addrs: Vec::new(),
        });
        index
    }

    /// Adds an address to interface `name`.
    pub fn add_address(&self, name: &str, addr: ipnet::IpNet) {
        let mut s = self.state();
        if let Some(i) = s.interfaces.iter_mut().find(|i| i.name == name) {
            i.addrs.push(addr);
        }
    }

    /// Removes interface `name`; like the kernel, deletes every VIF on it.
    pub fn remove_interface(&self, name: &str) {
        let mut s = self.state();
        let Some(pos) = s.interfaces.iter().position(|i| i.name == name) else {
            return;
        };
        let idx = s.interfaces.remove(pos).index;
        for t in s.tables.values_mut() {
            t.vifs.retain(|_, (v, _)| v.ifindex != idx);
        }
        s.memberships.retain(|m| m.0 != idx);
    }

    /// Limits every socket's upcall queue to `n` messages (the kernel's receive buffer).
    pub fn set_upcall_queue_limit(&self, n: usize) {
        self.state().queue_limit = n;
    }

    /// Makes every table refuse new (S,G) entries beyond `n` (`ENOMEM`), or lifts the
    /// limit; replacing an entry already there still works.
    pub fn set_mfc_limit(&self, n: Option<usize>) {
        self.state().mfc_limit = n;
    }

    /// Upcalls dropped because a queue was full.
    pub fn dropped_upcalls(&self) -> u64 {
        self.state().dropped_upcalls
    }

    /// A new platform handle (one process's routing sockets).
    pub fn platform(&self) -> Fake {
        let (rx, tx) = UnixStream::pair().expect("socketpair");
        rx.set_nonblocking(true).expect("nonblocking");
        tx.set_nonblocking(true).expect("nonblocking");
        let mut s = self.state();
        s.next_owner += 1;
        let id = s.next_owner;
        s.mailboxes.insert(
            id,
            Mailbox {
                queue: VecDeque::new(),
                notify: tx,
            },
        );
        Fake {
            kernel: self.clone(),
            id,
            tables: [None, None],
            rx,
        }
    }

    /// The VIFs (IPv4) or MIFs (IPv6) of a table, in index order.
    pub fn vifs(&self, family: Family, table: u32) -> Vec<Vif> {
        self.state()
            .tables
            .get(&(family, table))
            .map(|t| t.vifs.values().map(|(v, _)| v.clone()).collect())
            .unwrap_or_default()
    }

    /// The MFC entries of a table, sorted by (S,G).
    pub fn routes(&self, family: Family, table: u32) -> Vec<MfcEntry> {
        let mut v: Vec<MfcEntry> = self
            .state()
            .tables
            .get(&(family, table))
            .map(|t| t.mfc.values().map(|(e, _)| e.clone()).collect())
            .unwrap_or_default();
        v.sort_by_key(|e| e.key());
        v
    }

    /// Whether some process owns the table.
    pub fn is_owned(&self, family: Family, table: u32) -> bool {
        self.state().tables.contains_key(&(family, table))
    }

    /// The group memberships held, as (ifindex, group, source).
    pub fn memberships(&self) -> Vec<(u32, IpAddr, Option<IpAddr>)> {
        let mut v: Vec<_> = self.state().memberships.iter().copied().collect();
        v.sort();
        v
    }

    /// Queues an upcall for the owner of `table`, as the kernel would. Returns whether
    /// there was an owner to receive it.
    pub fn inject_upcall(&self, table: u32, u: Upcall) -> bool {
        self.inject_raw(u.family(), table, u.encode(Layout::Linux))
    }

    /// Queues arbitrary bytes on the routing socket of the owner of `table` (to test that
    /// the receive path survives garbage).
    pub fn inject_raw(&self, family: Family, table: u32, bytes: Vec<u8>) -> bool {
        let mut s = self.state();
        let Some(owner) = s.tables.get(&(family, table)).map(|t| t.owner) else {
            return false;
        };
        s.enqueue(owner, family, Msg::Raw(bytes));
        true
    }

    /// Delivers an IGMP (or DVMRP) message to the owner of the IPv4 table `table`, as if it
    /// arrived on interface `packet.ifindex`. Returns whether there was an owner.
    pub fn inject_igmp(&self, table: u32, packet: IgmpPacket) -> bool {
        let mut s = self.state();
        let Some(owner) = s.tables.get(&(Family::V4, table)).map(|t| t.owner) else {
            return false;
        };
        s.enqueue(owner, Family::V4, Msg::Igmp(packet));
        true
    }

    /// Takes the IGMP messages the table owners sent since the last call, oldest first, as
    /// (table, packet): `ifindex` is the interface it went out of, `ttl` and
    /// `router_alert` what the sender asked for.
    pub fn take_sent_igmp(&self) -> Vec<(u32, IgmpPacket)> {
        std::mem::take(&mut self.state().sent_igmp)
    }

    /// Simulates a multicast packet of `len` bytes from `source` to `group` arriving on
    /// interface `ifindex`, forwarding it as the kernel's MFC would, in table `table`.
    pub fn receive(
        &self,
        table: u32,
        ifindex: u32,
        source: IpAddr,
        group: IpAddr,
        len: u64,
    ) -> Delivery {
        let family = Family::of(&group);
        let mut s = self.state();
        let Some(t) = s.tables.get_mut(&(family, table)) else {
            return Delivery::Dropped;
        };
        let Some(iif) = t
            .vifs
            .iter()
            .find(|(_, (v, _))| v.ifindex == ifindex)
            .map(|(i, _)| *i)
        else {
            return Delivery::Dropped;
        };
        if let Some((_, c)) = t.vifs.get_mut(&iif) {
            c.in_packets += 1;
            c.in_bytes += len;
        }
        let owner = t.owner;
        let kind = match t.mfc.get_mut(&(source, group)) {
            Some((e, c)) if e.iif().index() == iif => {
                c.packets += 1;
                c.bytes += len;
                let oifs: Vec<u16> = e.oifs().iter().map(|(i, _)| i).collect();
                let mut out = Vec::new();
                for o in oifs {
                    if o == iif {
                        continue;
                    }
                    if let Some((v, vc)) = t.vifs.get_mut(&o) {
                        vc.out_packets += 1;
                        vc.out_bytes += len;
                        out.push(v.ifindex);
                    }
                }
                if out.is_empty() {
                    return Delivery::Dropped;
                }
                return Delivery::Forwarded(out);
            }
            Some((_, c)) => {
                c.wrong_if += 1;
                if !t.wrong_vif_upcalls {
                    return Delivery::Dropped;
                }
                UpcallKind::WrongVif
            }
            None => UpcallKind::NoCache,
        };
        let u = match (source, group) {
            (IpAddr::V4(s4), IpAddr::V4(g4)) => Upcall::V4 {
                kind,
                vif: crate::VifId(iif),
                source: s4,
                group: g4,
            },
            (IpAddr::V6(s6), IpAddr::V6(g6)) => Upcall::V6 {
                kind,
                mif: crate::MifId(iif),
                source: s6,
                group: g6,
            },
            _ => return Delivery::Dropped,
        };
        s.enqueue(owner, family, Msg::Raw(u.encode(Layout::Linux)));
        match kind {
            UpcallKind::WrongVif => Delivery::WrongVif,
            _ => Delivery::NoCache,
        }
    }
}

impl KernelState {
    fn enqueue(&mut self, owner: u64, family: Family, msg: Msg) {
        let limit = self.queue_limit;
        let Some(mb) = self.mailboxes.get_mut(&owner) else {
            return;
        };
        if mb.queue.len() >= limit {
            self.dropped_upcalls += 1;
            return;
        }
        mb.queue.push_back((family, msg));
        let _ = mb.notify.write(&[1]);
    }

    fn table_mut(&mut self, family: Family, table: Option<u32>) -> Result<&mut TableState> {
        let table = table.ok_or(Error::NotOpen(family))?;
        self.tables
            .get_mut(&(family, table))
            .ok_or(Error::NotOpen(family))
    }
}

/// One process's routing sockets on a [`FakeKernel`].
pub struct Fake {
    kernel: FakeKernel,
    id: u64,
    tables: [Option<u32>; 2],
    rx: UnixStream,
}

impl Fake {
    /// The kernel this handle talks to.
    pub fn kernel(&self) -> &FakeKernel {
        &self.kernel
    }
}

/// `MRT_ADD_MFC` on the fake kernel, for a platform with the tables `tables`.
fn fake_add_mfc(kernel: &FakeKernel, tables: &[Option<u32>; 2], entry: &MfcEntry) -> Result<()> {
    let family = entry.family();
    let table = tables[family.slot()];
    let max = match family {
        Family::V4 => MAX_VIFS,
        Family::V6 => MAX_MIFS,
    };
    let mut s = kernel.state();
    let limit = s.mfc_limit;
    let t = s.table_mut(family, table)?;
    let op = || {
        format!(
            "adding MFC ({}, {}) from {}",
            entry.source(),
            entry.group(),
            entry.iif()
        )
    };
    if usize::from(entry.iif().index()) >= max {
        return Err(os_err(op(), libc::ENFILE));
    }
    let old = t.mfc.get(&entry.key()).map(|(_, c)| *c);
    if old.is_none() && limit.is_some_and(|n| t.mfc.len() >= n) {
        return Err(os_err(op(), libc::ENOMEM));
    }
    t.mfc
        .insert(entry.key(), (entry.clone(), old.unwrap_or_default()));
    Ok(())
}

/// The [`MfcWriter`] of [`Fake`]: the same kernel and tables.
struct FakeWriter {
    kernel: FakeKernel,
    tables: [Option<u32>; 2],
}

impl MfcWriter for FakeWriter {
    fn add_mfc(&mut self, entry: &MfcEntry) -> Result<()> {
        fake_add_mfc(&self.kernel, &self.tables, entry)
    }
}

impl Platform for Fake {
    fn open(&mut self, family: Family, table: u32) -> Result<()> {
        if self.tables[family.slot()].is_some() {
            return Err(Error::already_exists(Object::RoutingSocket(family)));
        }
        let mut s = self.kernel.state();
        if s.tables.contains_key(&(family, table)) {
            return Err(Error::TableInUse { family, table });
        }
        s.tables.insert(
            (family, table),
            TableState {
                owner: self.id,
                ..Default::default()
            },
        );
        self.tables[family.slot()] = Some(table);
        Ok(())
    }

    fn close(&mut self, family: Family) -> Result<()> {
        let table = self.tables[family.slot()]
            .take()
            .ok_or(Error::NotOpen(family))?;
        let mut s = self.kernel.state();
        s.tables.remove(&(family, table));
        if let Some(mb) = s.mailboxes.get_mut(&self.id) {
            mb.queue.retain(|(f, _)| *f != family);
        }
        Ok(())
    }

    fn is_open(&self, family: Family) -> bool {
        self.tables[family.slot()].is_some()
    }

    fn max_vifs(&self, family: Family) -> usize {
        match family {
            Family::V4 => MAX_VIFS,
            Family::V6 => MAX_MIFS,
        }
    }

    fn add_vif(&mut self, vif: &Vif) -> Result<()> {
        let family = vif.id.family();
        let max = self.max_vifs(family);
        let table = self.tables[family.slot()];
        let op = format!("adding {} ({})", vif.id, vif.name);
        let mut s = self.kernel.state();
        if !s.interfaces.iter().any(|i| i.index == vif.ifindex) {
            return Err(os_err(op, libc::ENODEV));
        }
        let t = s.table_mut(family, table)?;
        let i = vif.id.index();
        if usize::from(i) >= max {
            return Err(os_err(op, libc::ENFILE));
        }
        if t.vifs.contains_key(&i) {
            return Err(os_err(op, libc::EADDRINUSE));
        }
        t.vifs.insert(i, (vif.clone(), VifCounters::default()));
        Ok(())
    }

    fn del_vif(&mut self, vif: &Vif) -> Result<()> {
        let family = vif.id.family();
        let table = self.tables[family.slot()];
        let op = format!("deleting {} ({})", vif.id, vif.name);
        let mut s = self.kernel.state();
        let t = s.table_mut(family, table)?;
        match t.vifs.remove(&vif.id.index()) {
            Some(_) => Ok(()),
            None => Err(os_err(op, libc::EADDRNOTAVAIL)),
        }
    }

    fn add_mfc(&mut self, entry: &MfcEntry) -> Result<()> {
        fake_add_mfc(&self.kernel, &self.tables, entry)
    }

    fn mfc_writer(&self) -> Result<Option<Box<dyn MfcWriter>>> {
        Ok(Some(Box::new(FakeWriter {
            kernel: self.kernel.clone(),
            tables: self.tables,
        })))
    }

    fn del_mfc(&mut self, entry: &MfcEntry) -> Result<()> {
        let family = entry.family();
        let table = self.tables[family.slot()];
        let mut s = self.kernel.state();
        let t = s.table_mut(family, table)?;
        match t.mfc.remove(&entry.key()) {
            Some(_) => Ok(()),
            None => Err(Error::not_found(Object::Route {
                source: entry.source(),
                group: entry.group(),
            })),
        }
    }

    fn route_counters(&self, source: IpAddr, group: IpAddr) -> Result<RouteCounters> {
        let family = Family::of(&group);
        let table = self.tables[family.slot()];
        let mut s = self.kernel.state();
        let t = s.table_mut(family, table)?;
        t.mfc
            .get(&(source, group))
            .map(|(_, c)| *c)
            .ok_or_else(|| Error::not_found(Object::Route { source, group }))
    }

    fn vif_counters(&self, vif: VifIndex) -> Result<VifCounters> {
        let family = vif.family();
        let table = self.tables[family.slot()];
        let mut s = self.kernel.state();
        let t = s.table_mut(family, table)?;
        t.vifs
            .get(&vif.index())
            .map(|(_, c)| *c)
            .ok_or_else(|| Error::not_found(Object::Vif(vif)))
    }

    fn join(&mut self, ifindex: u32, group: IpAddr, source: Option<IpAddr>) -> Result<()> {
        let mut s = self.kernel.state();
        if !s.interfaces.iter().any(|i| i.index == ifindex) {
            return Err(Error::NoSuchInterface(format!("index {ifindex}")));
        }
        if !s.memberships.insert((ifindex, group, source)) {
            return Err(Error::already_exists(Object::Membership {
                source,
                group,
                ifindex: Some(ifindex),
            }));
        }
        Ok(())
    }

    fn leave(&mut self, ifindex: u32, group: IpAddr, source: Option<IpAddr>) -> Result<()> {
        if self
            .kernel
            .state()
            .memberships
            .remove(&(ifindex, group, source))
        {
            Ok(())
        } else {
            Err(Error::not_found(Object::Membership {
                source,
                group,
                ifindex: Some(ifindex),
            }))
        }
    }

    fn recv_upcall(&mut self, family: Family) -> Result<Option<Upcall>> {
        loop {
            match self.recv(family)? {
                None => return Ok(None),
                Some(Incoming::Upcall(u)) => return Ok(Some(u)),
                Some(Incoming::Igmp(_)) => continue,
            }
        }
    }

    fn recv(&mut self, family: Family) -> Result<Option<Incoming>> {
        if !self.is_open(family) {
            return Err(Error::NotOpen(family));
        }
        loop {
            let msg = {
                let mut s = self.kernel.state();
                let Some(mb) = s.mailboxes.get_mut(&self.id) else {
                    return Ok(None);
                };
                let Some(pos) = mb.queue.iter().position(|(f, _)| *f == family) else {
                    return Ok(None);
                };
                mb.queue.remove(pos).map(|(_, b)| b)
            };
            let mut one = [0u8; 1];
            let _ = (&self.rx).read(&mut one);
            let bytes = match msg {
                None => return Ok(None),
                Some(Msg::Igmp(p)) => return Ok(Some(Incoming::Igmp(p))),
                Some(Msg::Raw(b)) => b,
            };
            match upcall::decode(family, &bytes, Layout::Linux) {
                Ok(u) => return Ok(Some(Incoming::Upcall(u))),
                Err(e) => log::debug!("fake: dropping non-upcall message: {e}"),
            }
        }
    }

    fn send_igmp(&mut self, packet: &IgmpSend<'_>) -> Result<()> {
        let table = self.tables[Family::V4.slot()].ok_or(Error::NotOpen(Family::V4))?;
        let mut s = self.kernel.state();
        if packet.dst.is_multicast() && !s.interfaces.iter().any(|i| i.index == packet.ifindex) {
            return Err(os_err(
                format!(
                    "sending IGMP from {} to {} on interface {}",
                    packet.src, packet.dst, packet.ifindex
                ),
                libc::ENODEV,
            ));
        }
        s.sent_igmp.push((
            table,
            IgmpPacket {
                ifindex: packet.ifindex,
                src: packet.src,
                dst: packet.dst,
                ttl: packet.ttl,
                router_alert: packet.router_alert,
                payload: packet.payload.to_vec(),
            },
        ));
        Ok(())
    }

    fn upcall_fd(&self) -> BorrowedFd<'_> {
        self.rx.as_fd()
    }

    fn set_wrong_vif_upcalls(&mut self, family: Family, on: bool) -> Result<()> {
        let table = self.tables[family.slot()];
        self.kernel
            .state()
            .table_mut(family, table)?
            .wrong_vif_upcalls = on;
        Ok(())
    }

    fn lost_upcalls(&self, _family: Family) -> u64 {
        self.kernel.dropped_upcalls()
    }

    fn interfaces(&self) -> Result<Vec<Interface>> {
        Ok(self.kernel.state().interfaces.clone())
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        for f in [Family::V4, Family::V6] {
            if self.is_open(f) {
                let _ = self.close(f);
            }
        }
        self.kernel.state().mailboxes.remove(&self.id);
    }
}
