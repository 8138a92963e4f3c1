//! The Router: the typed API over any [`Platform`].

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd};

use crate::error::{Error, Object, Result};
use crate::model::{
    Family, FastMap, FastSet, Interface, MfcEntry, MifId, RouteCounters, Vif, VifCounters, VifId,
    VifIndex,
};
use crate::platform::{IgmpSend, Incoming, Platform, DEFAULT_TABLE};
use crate::wire::upcall::Upcall;

mod batch;
mod table;
pub use batch::RouteBatch;
use table::RouteTable;

/// What a [`Router`] opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterOptions {
    /// Open the IPv4 table.
    pub ipv4: bool,
    /// Open the IPv6 table.
    pub ipv6: bool,
    /// The multicast routing table id (Linux `MRT_TABLE`); 0 is the default table.
    pub table: u32,
}

impl Default for RouterOptions {
    /// IPv4 only, default table.
    fn default() -> Self {
        RouterOptions {
            ipv4: true,
            ipv6: false,
            table: DEFAULT_TABLE,
        }
    }
}

impl RouterOptions {
    /// IPv4 and IPv6, default table.
    pub fn dual_stack() -> RouterOptions {
        RouterOptions {
            ipv4: true,
            ipv6: true,
            table: DEFAULT_TABLE,
        }
    }

    /// The same options on table `table`.
    pub fn table(self, table: u32) -> RouterOptions {
        RouterOptions { table, ..self }
    }
}

/// Settings of a VIF or MIF added by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VifOptions {
    /// TTL threshold (1 by default): forward only packets whose TTL is greater.
    pub threshold: u8,
    /// Rate limit in kbit/s, 0 for none.
    pub rate_limit: u32,
}

impl Default for VifOptions {
    fn default() -> Self {
        VifOptions {
            threshold: 1,
            rate_limit: 0,
        }
    }
}

/// A group membership held by the router: (interface index, group, optional source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Membership {
    /// The interface index.
    pub ifindex: u32,
    /// The group.
    pub group: IpAddr,
    /// The source, for an SSM join.
    pub source: Option<IpAddr>,
}

/// A multicast router: the kernel tables of one or two families, owned while the Router
/// lives, with the VIFs, routes and joins it installed.
///
/// Forwarding between two interfaces takes a few lines (root needed on Linux):
///
/// ```no_run
/// use mcroute::{MfcEntry, Router, RouterOptions, platform::Native};
///
/// let mut router = Router::open(Native::new()?, RouterOptions::default())?;
/// let eth0 = router.add_vif("eth0")?;
/// let eth1 = router.add_vif("eth1")?;
/// let route = MfcEntry::v4("192.0.2.10".parse()?, "225.1.2.3".parse()?, eth0)?.with_oif(eth1, 1);
/// router.add_route(route)?;
/// // Routes stay in /proc/net/ip_mr_cache while `router` lives; watch for new flows:
/// while let Some(upcall) = router.recv_upcall()? {
///     println!("{upcall}");
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The Router keeps its own view of what it installed (VIFs by slot and interface, routes
/// hashed by (S,G)), so lookups never scan. Dropping it releases the tables, and the kernel
/// flushes everything it installed.
pub struct Router<P: Platform> {
    platform: P,
    options: RouterOptions,
    vifs: BTreeMap<VifIndex, Vif>,
    by_ifindex: FastMap<(Family, u32), VifIndex>,
    /// The slots of each interface name, per family (IPv4 first), ascending.
    by_name: [FastMap<String, Vec<VifIndex>>; 2],
    routes: RouteTable,
    joins: FastSet<Membership>,
    next_family: usize,
}

impl<P: Platform> Router<P> {
    /// Opens the tables `options` asks for on `platform`.
    ///
    /// Fails with [`Error::TableInUse`] when another process holds a table.
    pub fn open(mut platform: P, options: RouterOptions) -> Result<Router<P>> {
        if options.ipv4 {
            platform.open(Family::V4, options.table)?;
        }
        if options.ipv6 {
            if let Err(e) = platform.open(Family::V6, options.table) {
                if options.ipv4 {
                    let _ = platform.close(Family::V4);
                }
                return Err(e);
            }
        }
        Ok(Router {
            platform,
            options,
            vifs: BTreeMap::new(),
            by_ifindex: FastMap::default(),
            by_name: [FastMap::default(), FastMap::default()],
            routes: RouteTable::default(),
            joins: FastSet::default(),
            next_family: 0,
        })
    }

    /// The options the router was opened with.
    pub fn options(&self) -> RouterOptions {
        self.options
    }

    /// Whether the table of `family` is open.
    pub fn is_open(&self, family: Family) -> bool {
        self.platform.is_open(family)
    }

    /// The platform, for backend-specific calls.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// The platform, mutably. Changes made through it bypass the Router's bookkeeping.
    pub fn platform_mut(&mut self) -> &mut P {
        &mut self.platform
    }

    /// The system's interfaces.
    pub fn interfaces(&self) -> Result<Vec<Interface>> {
        self.platform.interfaces()
    }

    /// Looks an interface up by name.
    pub fn interface(&self, name: &str) -> Result<Interface> {
        self.platform
            .interfaces()?
            .into_iter()
            .find(|i| i.name == name)
            .ok_or_else(|| Error::NoSuchInterface(name.to_string()))
    }

    /// Adds an IPv4 VIF on interface `name` with default settings.
    pub fn add_vif(&mut self, name: &str) -> Result<VifId> {
        match self.add_vif_with(Family::V4, name, VifOptions::default())? {
            VifIndex::Vif(v) => Ok(v),
            VifIndex::Mif(_) => unreachable!("IPv4 slot"),
        }
    }

    /// Adds an IPv6 MIF on interface `name` with default settings.
    pub fn add_mif(&mut self, name: &str) -> Result<MifId> {
        match self.add_vif_with(Family::V6, name, VifOptions::default())? {
            VifIndex::Mif(m) => Ok(m),
            VifIndex::Vif(_) => unreachable!("IPv6 slot"),
        }
    }

    /// Adds a VIF (IPv4) or MIF (IPv6) on interface `name` in the lowest free slot.
    ///
    /// If the interface already has one, returns it unchanged.
    pub fn add_vif_with(
        &mut self,
        family: Family,
        name: &str,
        opts: VifOptions,
    ) -> Result<VifIndex> {
        let iface = self.interface(name)?;
        self.add_vif_on(family, &iface, opts)
    }

    /// Adds a VIF or MIF on an interface already looked up.
    ///
    /// If the interface already has one, returns it unchanged. A VIF still recorded for the
    /// same index under another name (an interface that vanished and whose index the kernel
    /// gave to a new one) is removed first.
    pub fn add_vif_on(
        &mut self,
        family: Family,
        iface: &Interface,
        opts: VifOptions,
    ) -> Result<VifIndex> {
        if !self.platform.is_open(family) {
            return Err(Error::NotOpen(family));
        }
        if let Some(&id) = self.by_ifindex.get(&(family, iface.index)) {
            if self.vifs.get(&id).is_none_or(|v| v.name == iface.name) {
                return Ok(id);
            }
            // The index belonged to an interface that is gone (the kernel dropped its VIF)
            // and now names another one: forget the stale VIF and its routes.
            let _ = self.remove_vif(id);
        }
        if !iface.multicast {
            return Err(Error::NotMulticastCapable(iface.name.clone()));
        }
        let max = self.platform.max_vifs(family);
        let slot = (0..max as u16)
            .map(|i| VifIndex::new(family, i))
            .find(|id| !self.vifs.contains_key(id))
            .ok_or_else(|| Error::VifTableFull {
                family,
                name: iface.name.clone(),
                max,
            })?;
        let mut vif = Vif::new(slot, iface.index, iface.name.clone());
        vif.threshold = opts.threshold;
        vif.rate_limit = opts.rate_limit;
        vif.local = iface.ipv4();
        self.platform.add_vif(&vif)?;
        log::debug!("added {} on {}", slot, iface.name);
        self.by_ifindex.insert((family, iface.index), slot);
        let slots = self.by_name[family.slot()]
            .entry(iface.name.clone())
            .or_default();
        slots.push(slot);
        slots.sort_unstable();
        self.vifs.insert(slot, vif);
        Ok(slot)
    }

    /// Removes a VIF or MIF. Routes that come in on it are deleted; routes that go out of it
    /// lose it (and are rewritten in the kernel). Returns the routes that were deleted.
    pub fn remove_vif(&mut self, id: VifIndex) -> Result<Vec<MfcEntry>> {
        let vif = self
            .vifs
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found(Object::Vif(id)))?;
        let mut removed = Vec::new();
        let affected: Vec<(IpAddr, IpAddr)> = self
            .routes
            .iter()
            .filter(|e| {
                e.iif() == id || (e.family() == id.family() && e.oifs().contains(id.index()))
            })
            .map(|e| e.key())
            .collect();
        for key in affected {
            let Some(mut e) = self.routes.get(key.0, key.1) else {
                continue;
            };
            if e.iif() == id {
                self.remove_route(key.0, key.1)?;
                removed.push(e);
            } else {
                let mut oifs = *e.oifs();
                oifs.remove(id.index());
                e.set_oifs(oifs);
                self.add_route(e)?;
            }
        }
        let res = self.platform.del_vif(&vif);
        // Whatever the kernel says, the slot is ours to forget: if the interface is gone the
        // kernel already dropped the VIF (and answers EADDRNOTAVAIL), and keeping a record of
        // it would block the slot and the interface's name forever.
        self.vifs.remove(&id);
        self.by_ifindex.remove(&(id.family(), vif.ifindex));
        let names = &mut self.by_name[id.family().slot()];
        if let Some(slots) = names.get_mut(vif.name.as_str()) {
            slots.retain(|&s| s != id);
            if slots.is_empty() {
                names.remove(vif.name.as_str());
            }
        }
        match res {
            Ok(()) => Ok(removed),
            Err(Error::Io { source, .. }) if source.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {
                Ok(removed)
            }
            Err(e) => Err(e),
        }
    }

    /// The VIF or MIF in slot `id`.
    pub fn vif(&self, id: VifIndex) -> Option<&Vif> {
        self.vifs.get(&id)
    }

    /// The VIF or MIF of `family` on interface `name`.
    pub fn vif_by_name(&self, family: Family, name: &str) -> Option<&Vif> {
        self.by_name[family.slot()]
            .get(name)
            .and_then(|slots| slots.first())
            .and_then(|id| self.vifs.get(id))
    }

    /// The VIF or MIF of `family` on interface index `ifindex`.
    pub fn vif_by_ifindex(&self, family: Family, ifindex: u32) -> Option<&Vif> {
        self.by_ifindex
            .get(&(family, ifindex))
            .and_then(|id| self.vifs.get(id))
    }

    /// Every VIF and MIF, IPv4 first, in slot order.
    pub fn vifs(&self) -> impl Iterator<Item = &Vif> {
        self.vifs.values()
    }

    /// Adds a route, or replaces the route with the same (S,G).
    ///
    /// The inbound and outbound interfaces must be VIFs this router added.
    pub fn add_route(&mut self, entry: MfcEntry) -> Result<()> {
        self.check_route_vifs(&entry)?;
        if self.routes.holds(&entry) {
            return Ok(());
        }
        self.platform.add_mfc(&entry)?;
        self.routes.insert(&entry);
        Ok(())
    }

    /// Adds many routes through a [`RouteBatch`]: the same checks and results as
    /// [`Router::add_route`], but once the batch is large the kernel calls run on a second
    /// thread (where the platform offers an [`MfcWriter`](crate::platform::MfcWriter)),
    /// overlapping with the caller's work on the next routes. This is how a daemon installs
    /// a configuration of 100,000 routes at start-up.
    pub fn batch(&mut self) -> RouteBatch<'_, P> {
        RouteBatch::new(self)
    }

    /// Checks that the VIFs of a route are this router's.
    fn check_route_vifs(&self, entry: &MfcEntry) -> Result<()> {
        if !self.vifs.contains_key(&entry.iif()) {
            return Err(Error::not_found(Object::RouteVif {
                vif: entry.iif(),
                inbound: true,
                source: entry.source(),
                group: entry.group(),
            }));
        }
        let family = entry.family();
        if let Some((i, _)) = entry
            .oifs()
            .iter()
            .find(|(i, _)| !self.vifs.contains_key(&VifIndex::new(family, *i)))
        {
            return Err(Error::not_found(Object::RouteVif {
                vif: VifIndex::new(family, i),
                inbound: false,
                source: entry.source(),
                group: entry.group(),
            }));
        }
        Ok(())
    }

    /// Makes room for at least `additional` more routes in the Router's own table, so that
    /// adding many at once (a configuration at startup) does not grow it step by step.
    pub fn reserve_routes(&mut self, additional: usize) {
        self.routes.reserve(additional);
    }

    /// Removes the route (S,G) and returns it.
    pub fn remove_route(&mut self, source: IpAddr, group: IpAddr) -> Result<MfcEntry> {
        let e = self
            .routes
            .get(source, group)
            .ok_or_else(|| Error::not_found(Object::Route { source, group }))?;
        match self.platform.del_mfc(&e) {
            Ok(()) | Err(Error::NotFound { .. }) => {}
            Err(err) => return Err(err),
        }
        self.routes.remove(source, group);
        Ok(e)
    }

    /// The route (S,G), if installed.
    pub fn route(&self, source: IpAddr, group: IpAddr) -> Option<MfcEntry> {
        self.routes.get(source, group)
    }

    /// Every installed route, in no particular order. (The Router keeps them compact: each
    /// is rebuilt as it is listed.)
    pub fn routes(&self) -> impl Iterator<Item = MfcEntry> + '_ {
        self.routes.iter()
    }

    /// The number of installed routes.
    pub fn route_count(&self) -> usize {
        self.routes.len()
    }

    /// The kernel's counters of route (S,G).
    pub fn route_counters(&self, source: IpAddr, group: IpAddr) -> Result<RouteCounters> {
        self.platform.route_counters(source, group)
    }

    /// The kernel's counters of a VIF or MIF.
    pub fn vif_counters(&self, id: VifIndex) -> Result<VifCounters> {
        self.platform.vif_counters(id)
    }

    /// Joins `group` on interface `name` (ASM, or SSM when `source` is given).
    pub fn join(&mut self, name: &str, group: IpAddr, source: Option<IpAddr>) -> Result<()> {
        let iface = self.interface(name)?;
        self.join_on(iface.index, group, source)
    }

    /// Joins `group` on interface index `ifindex`.
    pub fn join_on(&mut self, ifindex: u32, group: IpAddr, source: Option<IpAddr>) -> Result<()> {
        check_membership(group, source)?;
        let m = Membership {
            ifindex,
            group,
            source,
        };
        if self.joins.contains(&m) {
            return Err(Error::already_exists(Object::Membership {
                source,
                group,
                ifindex: None,
            }));
        }
        self.platform.join(ifindex, group, source)?;
        self.joins.insert(m);
        Ok(())
    }

    /// Leaves what [`Router::join`] joined.
    pub fn leave(&mut self, name: &str, group: IpAddr, source: Option<IpAddr>) -> Result<()> {
        let iface = self.interface(name)?;
        self.leave_on(iface.index, group, source)
    }

    /// Leaves on interface index `ifindex`.
    pub fn leave_on(&mut self, ifindex: u32, group: IpAddr, source: Option<IpAddr>) -> Result<()> {
        let m = Membership {
            ifindex,
            group,
            source,
        };
        if !self.joins.contains(&m) {
            return Err(Error::not_found(Object::Membership {
                source,
                group,
                ifindex: None,
            }));
        }
        self.platform.leave(ifindex, group, source)?;
        self.joins.remove(&m);
        Ok(())
    }

    /// The memberships held.
    pub fn memberships(&self) -> impl Iterator<Item = &Membership> {
        self.joins.iter()
    }

    /// Upcalls the kernel dropped, in both families, because the routing socket's receive
    /// buffer was full: flows whose first packets got no route.
    pub fn lost_upcalls(&self) -> u64 {
        self.platform.lost_upcalls(Family::V4) + self.platform.lost_upcalls(Family::V6)
    }

    /// Receives one upcall of any open family without blocking; `Ok(None)` when none is
    /// queued. Families take turns, so a storm on one cannot starve the other.
    pub fn recv_upcall(&mut self) -> Result<Option<Upcall>> {
        let order = [Family::V4, Family::V6];
        for k in 0..2 {
            let f = order[(self.next_family + k) % 2];
            if !self.platform.is_open(f) {
                continue;
            }
            if let Some(u) = self.platform.recv_upcall(f)? {
                self.next_family = (self.next_family + k + 1) % 2;
                return Ok(Some(u));
            }
        }
        Ok(None)
    }

    /// Receives one message of any open family without blocking: an upcall, or an IGMP
    /// packet (DVMRP included) with the interface it arrived on. `Ok(None)` when none is
    /// queued. Families take turns as in [`Router::recv_upcall`].
    ///
    /// A protocol daemon (DVMRP, an IGMP querier) uses this instead of
    /// [`Router::recv_upcall`], which skips the control packets.
    pub fn recv(&mut self) -> Result<Option<Incoming>> {
        let order = [Family::V4, Family::V6];
        for k in 0..2 {
            let f = order[(self.next_family + k) % 2];
            if !self.platform.is_open(f) {
                continue;
            }
            if let Some(m) = self.platform.recv(f)? {
                self.next_family = (self.next_family + k + 1) % 2;
                return Ok(Some(m));
            }
        }
        Ok(None)
    }

    /// Sends an IGMP message (IGMP or DVMRP) from the IPv4 routing socket: see
    /// [`Platform::send_igmp`].
    pub fn send_igmp(&mut self, packet: &IgmpSend<'_>) -> Result<()> {
        self.platform.send_igmp(packet)
    }
}

impl<P: Platform> AsFd for Router<P> {
    /// A descriptor that is readable when an upcall is queued: register it with any event
    /// loop, then call [`Router::recv_upcall`] until it returns `None`.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.platform.upcall_fd()
    }
}

fn check_membership(group: IpAddr, source: Option<IpAddr>) -> Result<()> {
    use crate::model::ModelError;
    if !group.is_multicast() {
        return Err(ModelError::NotMulticast(group).into());
    }
    if let Some(s) = source {
        if Family::of(&s) != Family::of(&group) {
            return Err(ModelError::FamilyMismatch { origin: s, group }.into());
        }
        if s.is_multicast() {
            return Err(ModelError::MulticastSource(s).into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::fake::{Delivery, FakeKernel};
    use crate::wire::upcall::UpcallKind;

    fn kernel() -> FakeKernel {
        let k = FakeKernel::new();
        k.add_interface("a1");
        k.add_interface("a2");
        k.add_interface("a3");
        k
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwards_sg_route_on_fake() {
        let k = kernel();
        let mut r = Router::open(k.platform(), RouterOptions::default()).unwrap();
        let a1 = r.add_vif("a1").unwrap();
        let a2 = r.add_vif("a2").unwrap();
        assert_eq!((a1, a2), (VifId(0), VifId(1)));
        // Adding again returns the same slot.
        assert_eq!(r.add_vif("a1").unwrap(), a1);
        let e = MfcEntry::v4(
            "192.0.2.10".parse().unwrap(),
            "225.1.2.3".parse().unwrap(),
            a1,
        )
        .unwrap()
        .with_oif(a2, 1);
        r.add_route(e.clone()).unwrap();
        assert_eq!(k.routes(Family::V4, 0), vec![e]);
        let a1_idx = r.vif(a1.into()).unwrap().ifindex;
        let a2_idx = r.vif(a2.into()).unwrap().ifindex;
        assert_eq!(
            k.receive(0, a1_idx, ip("192.0.2.10"), ip("225.1.2.3"), 100),
            Delivery::Forwarded(vec![a2_idx])
        );
        let c = r.route_counters(ip("192.0.2.10"), ip("225.1.2.3")).unwrap();
        assert_eq!((c.packets, c.bytes), (1, 100));
        let vc = r.vif_counters(a2.into()).unwrap();
        assert_eq!(vc.out_packets, 1);
        // Wrong interface counts and, once asked for, raises WRONGVIF.
        assert_eq!(
            k.receive(0, a2_idx, ip("192.0.2.10"), ip("225.1.2.3"), 100),
            Delivery::Dropped
        );
        r.platform_mut()
            .set_wrong_vif_upcalls(Family::V4, true)
            .unwrap();
        assert_eq!(
            k.receive(0, a2_idx, ip("192.0.2.10"), ip("225.1.2.3"), 100),
            Delivery::WrongVif
        );
        let u = r.recv_upcall().unwrap().unwrap();
        assert_eq!(u.kind(), UpcallKind::WrongVif);
        assert_eq!(
            r.route_counters(ip("192.0.2.10"), ip("225.1.2.3"))
                .unwrap()
                .wrong_if,
            2
        );
    }

    #[test]
    fn nocache_upcall_names_vif_source_group() {
        let k = kernel();
        let mut r = Router::open(k.platform(), RouterOptions::dual_stack()).unwrap();
        r.add_vif("a1").unwrap();
        let m = r.add_mif("a2").unwrap();
        assert_eq!(r.recv_upcall().unwrap(), None);
        let a2_idx = r.vif(m.into()).unwrap().ifindex;
        assert_eq!(
            k.receive(0, a2_idx, ip("2001:db8::1"), ip("ff0e::42"), 64),
            Delivery::NoCache
        );
        let u = r.recv_upcall().unwrap().unwrap();
        assert_eq!(u.kind(), UpcallKind::NoCache);
        assert_eq!(u.iif(), VifIndex::Mif(m));
        assert_eq!(u.source(), ip("2001:db8::1"));
        assert_eq!(u.group(), ip("ff0e::42"));
        assert_eq!(r.recv_upcall().unwrap(), None);
    }

    #[test]
    fn garbage_on_the_socket_is_skipped() {
        let k = kernel();
        let mut r = Router::open(k.platform(), RouterOptions::default()).unwrap();
        assert!(k.inject_raw(Family::V4, 0, vec![1, 2, 3]));
        let mut igmp = vec![0u8; 32];
        igmp[9] = 2; // protocol IGMP: a real packet
        assert!(k.inject_raw(Family::V4, 0, igmp));
        let u = Upcall::V4 {
            kind: UpcallKind::NoCache,
            vif: VifId(0),
            source: "192.0.2.1".parse().unwrap(),
            group: "225.0.0.1".parse().unwrap(),
        };
        assert!(k.inject_upcall(0, u));
        assert_eq!(r.recv_upcall().unwrap(), Some(u));
        assert_eq!(r.recv_upcall().unwrap(), None);
    }

    #[test]
    fn control_packets_beside_upcalls() {
        use crate::platform::IgmpPacket;
        let k = kernel();
        let mut r = Router::open(k.platform(), RouterOptions::default()).unwrap();
        let a1 = r.add_vif("a1").unwrap();
        let idx = r.vif(a1.into()).unwrap().ifindex;
        let p = IgmpPacket {
            ifindex: idx,
            src: "192.0.2.7".parse().unwrap(),
            dst: "224.0.0.4".parse().unwrap(),
            ttl: 1,
            router_alert: true,
            payload: vec![0x13, 1, 0, 0],
        };
        assert!(k.inject_igmp(0, p.clone()));
        k.receive(0, idx, ip("192.0.2.1"), ip("225.9.9.9"), 10);
        assert_eq!(r.recv().unwrap(), Some(Incoming::Igmp(p.clone())));
        assert!(matches!(r.recv().unwrap(), Some(Incoming::Upcall(_))));
        assert_eq!(r.recv().unwrap(), None);
        // recv_upcall skips control packets.
        k.inject_igmp(0, p);
        assert_eq!(r.recv_upcall().unwrap(), None);
        r.send_igmp(&IgmpSend {
            ifindex: idx,
            src: "192.0.2.254".parse().unwrap(),
            dst: "224.0.0.4".parse().unwrap(),
            ttl: 1,
            router_alert: true,
            payload: &[1, 2, 3],
        })
        .unwrap();
        let sent = k.take_sent_igmp();
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].0, sent[0].1.ifindex, sent[0].1.ttl), (0, idx, 1));
        assert!(k.take_sent_igmp().is_empty());
    }

    #[test]
    fn one_owner_per_table() {
        let k = kernel();
        let r1 = Router::open(k.platform(), RouterOptions::default()).unwrap();
        match Router::open(k.platform(), RouterOptions::default()) {
            Err(Error::TableInUse { family, table }) => {
                assert_eq!((family, table), (Family::V4, 0))
            }
            other => panic!("expected TableInUse, got {:?}", other.map(|_| ())),
        }
        // Another table works.
        let r2 = Router::open(k.platform(), RouterOptions::default().table(7)).unwrap();
        assert!(k.is_owned(Family::V4, 7));
        drop(r1);
        assert!(!k.is_owned(Family::V4, 0));
        // Released on drop: now it can be opened again.
        Router::open(k.platform(), RouterOptions::default()).unwrap();
        drop(r2);
        assert!(!k.is_owned(Family::V4, 7));
    }

    #[test]
    fn vif_table_limit_is_32() {
        let k = FakeKernel::new();
        for i in 0..33 {
            k.add_interface(&format!("v{i}"));
        }
        let mut r = Router::open(k.platform(), RouterOptions::default()).unwrap();
        for i in 0..32 {
            r.add_vif(&format!("v{i}")).unwrap();
        }
        match r.add_vif("v32") {
            Err(Error::VifTableFull { max, .. }) => assert_eq!(max, 32),
            other => panic!("expected VifTableFull, got {other:?}"),
        }
        assert!(matches!(r.add_vif("nope"), Err(Error::NoSuchInterface(_))));
        assert!(matches!(
            r.add_vif("lo"),
            Err(Error::NotMulticastCapable(_))
        ));
    }

    #[test]
    fn removing_a_vif_fixes_routes() {
        let k = kernel();
        let mut r = Router::open(k.platform(), RouterOptions::default()).unwrap();
        let a1 = r.add_vif("a1").unwrap();
        let a2 = r.add_vif("a2").unwrap();
        let a3 = r.add_vif("a3").unwrap();
        let g: std::net::Ipv4Addr = "225.1.1.1".parse().unwrap();
        let s: std::net::Ipv4Addr = "192.0.2.1".parse().unwrap();
        r.add_route(
            MfcEntry::v4(s, g, a1)
                .unwrap()
                .with_oif(a2, 1)
                .with_oif(a3, 1),
        )
        .unwrap();
        let g2: std::net::Ipv4Addr = "225.1.1.2".parse().unwrap();
        r.add_route(MfcEntry::v4(s, g2, a2).unwrap().with_oif(a1, 1))
            .unwrap();
        let removed = r.remove_vif(a2.into()).unwrap();
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].group(), IpAddr::V4(g2));
        let left = k.routes(Family::V4, 0);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].oifs().iter().collect::<Vec<_>>(), vec![(2, 1)]);
        assert_eq!(k.vifs(Family::V4, 0).len(), 2);
        // The slot is reused.
        assert_eq!(r.add_vif("a2").unwrap(), a2);
    }

    #[test]
    fn routes_must_use_known_vifs() {
        let k = kernel();
        let mut r = Router::open(k.platform(), RouterOptions::default()).unwrap();
        let a1 = r.add_vif("a1").unwrap();
        let e = MfcEntry::v4(
            "192.0.2.1".parse().unwrap(),
            "225.1.1.1".parse().unwrap(),
            a1,
        )
        .unwrap()
        .with_oif(VifId(5), 1);
        assert!(matches!(r.add_route(e), Err(Error::NotFound { .. })));
        assert!(matches!(
            r.remove_route(ip("192.0.2.1"), ip("225.1.1.1")),
            Err(Error::NotFound { .. })
        ));
        assert!(k.routes(Family::V4, 0).is_empty());
        // IPv6 not open.
        assert!(matches!(r.add_mif("a1"), Err(Error::NotOpen(Family::V6))));
    }

    #[test]
    fn joins_and_leaves() {
        let k = kernel();
        let mut r = Router::open(k.platform(), RouterOptions::dual_stack()).unwrap();
        r.join("a1", ip("225.1.2.3"), None).unwrap();
        r.join("a1", ip("232.1.1.1"), Some(ip("192.0.2.1")))
            .unwrap();
        r.join("a2", ip("ff0e::1"), None).unwrap();
        assert!(matches!(
            r.join("a1", ip("225.1.2.3"), None),
            Err(Error::AlreadyExists { .. })
        ));
        assert!(matches!(
            r.join("a1", ip("192.0.2.1"), None),
            Err(Error::Model(_))
        ));
        assert_eq!(k.memberships().len(), 3);
        r.leave("a1", ip("225.1.2.3"), None).unwrap();
        assert!(matches!(
            r.leave("a1", ip("225.1.2.3"), None),
            Err(Error::NotFound { .. })
        ));
        assert_eq!(k.memberships().len(), 2);
    }

    #[test]
    fn upcall_fd_becomes_readable() {
        let k = kernel();
        let mut r = Router::open(k.platform(), RouterOptions::default()).unwrap();
        let a1 = r.add_vif("a1").unwrap();
        let idx = r.vif(a1.into()).unwrap().ifindex;
        let readable = |r: &Router<crate::platform::fake::Fake>| {
            let mut fds = [nix::poll::PollFd::new(
                r.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO).unwrap() == 1
        };
        assert!(!readable(&r));
        k.receive(0, idx, ip("192.0.2.1"), ip("225.9.9.9"), 10);
        assert!(readable(&r));
        assert!(r.recv_upcall().unwrap().is_some());
        assert!(!readable(&r));
    }

    /// Found by the `static_engine` fuzz target: an interface vanishes and a new one gets
    /// its index; the new interface's VIF must be its own, not the stale one.
    #[test]
    fn reused_ifindex_gets_a_new_vif() {
        let k = FakeKernel::new();
        k.add_interface("a1");
        let mut r = Router::open(k.platform(), RouterOptions::default()).unwrap();
        let a1 = r.add_vif("a1").unwrap();
        k.remove_interface("a1");
        let index = k.add_interface("b0");
        assert_eq!(
            r.vif(a1.into()).unwrap().ifindex,
            index,
            "the fake reuses the index"
        );
        let b0 = r.add_vif("b0").unwrap();
        assert_eq!(r.vif(b0.into()).unwrap().name, "b0");
        assert!(r.vif_by_name(Family::V4, "a1").is_none());
        assert_eq!(r.vifs().count(), 1);
    }
}
