//! The static routing engine: smcrouted's semantics, sans-IO.
//!
//! [`StaticEngine`] holds the desired state (a [`StaticConfig`] plus what smcroutectl added at
//! run time), the system's interfaces, and its belief of what is installed: VIFs/MIFs by
//! interface name, MFC routes by (S,G), and group memberships. Every input returns the
//! [`Action`]s that bring the kernel to the desired state; the daemon executes them on a
//! [`Router`](crate::Router) ([`exec`](crate::service::static_router::exec) does it for any platform).
//!
//! # Names, not slots
//!
//! The engine reasons about interface *names* only. The Router owns VIF/MIF slot
//! allocation (lowest free slot); the daemon translates names to slots when it executes an
//! action ([`route_to_mfc`](crate::service::static_router::exec::route_to_mfc)) and slots to names when it hands over an upcall
//! ([`dispatch_upcall`](crate::service::static_router::exec::dispatch_upcall)). So the engine never has to mirror the kernel's slot table,
//! and a slot that the Router could not allocate simply drops that interface from the routes
//! (as smcroute does when the VIF table is exhausted).
//!
//! # Driving it
//!
//! ```text
//! engine = StaticEngine::new(options)
//! run(engine.set_interfaces(now, &router.interfaces()?))
//! run(engine.apply_config(now, &config)?)          // refuse a bad config: keep running
//! loop {
//!     wait for: upcall fd readable | IPC request | link event | engine.poll_timeout()
//!     upcall   => run(exec::dispatch_upcall(&mut engine, &router, now, &upcall))
//!     link     => run(engine.set_interfaces(now, &router.interfaces()?))
//!     SIGHUP   => match engine.apply_config(now, &parse(file)?) { Ok(a) => run(a), Err(e) => log(e) }
//!     IPC add  => run(engine.add_route(now, rule)?) ... remove_route, join, leave, flush
//!     timeout  => run(engine.handle_timeout(now, |s, g| router.route_counters(s, g).ok()))
//! }
//! run(actions) = for a in actions { exec::execute(&mut router, &a) or run the -e script }
//! ```
//!
//! # Decisions where smcroute is quirky
//!
//! - **Overlapping templates on removal** (quirk 6.2.9): when a template goes, each route it
//!   materialised is looked up again; if another (wider) template still covers it, the route
//!   takes that template's OIFs (replaced in place, or untouched when equal). Only routes that
//!   no template covers any more are removed (and relearned as a stop filter on the next
//!   packet). The same re-resolution runs whenever templates change, so a new template that
//!   comes earlier in order takes over its flows, and a template covering stop filters turns
//!   them into forwarding routes at once.
//! - **`flush`** (quirk 6.2.8): removes every dynamic route (learned and stop filters) at
//!   once, not in smcroute's two passes. A live flow is relearned through its next upcall;
//!   the kernel queues its first packets meanwhile.
//! - **Same (S,G) on several inbound interfaces** (#212): the kernel keys its MFC by (S,G),
//!   so one route per (S,G) is installed: the first (S,G) rule in order whose inbound
//!   interface has a VIF (for a wildcard inbound, the first matching interface by name). When
//!   it goes, the next one takes over.
//! - **Inbound in the outbound list** (quirk 6.2.10): an OIF named explicitly stays even if it
//!   is the inbound interface (as `mroute from a1 ... to a1` asks); one reached only through a
//!   wildcard (`to a+`) is left out for the inbound interface.
//! - **phyint ordering caveat**: phyint lines apply wherever they are in the file; the last
//!   matching line wins. A changed `ttl-threshold` reaches every MFC entry at once; the
//!   kernel VIF keeps the threshold it was created with (changing it would need deleting the
//!   VIF, which stops every flow on it). A changed `mrdisc` is applied ([`Action::SetMrdisc`])
//!   instead of being ignored for existing VIFs (quirk 6.2.11). `disable` wins over routes
//!   that name the interface.
//! - **VIFs**: allocated lazily for interfaces that a phyint enables or a route names (2.6).
//!   [`EngineOptions::enable_all`] (smcrouted 2.5 without `-N`) also gives every other
//!   multicast interface a VIF and MIF, but only with the slots left after the referenced
//!   ones, in interface index order, so it cannot starve configured interfaces (#71).
//!   Joins do not need a VIF and do not create one.
//! - **Interfaces that come and go**: routes and joins naming a missing interface wait
//!   ([`StaticEngine::pending`]) and are installed when [`StaticEngine::set_interfaces`]
//!   reports it. An interface deleted and recreated (new index) gets its VIF again and its
//!   routes back (quirk 6.2.13).
//! - **The `-e` script** runs `reload` after every applied configuration, the first one at
//!   startup included (quirk 6.2.7), and `install` when a template (not a miss) materialises
//!   a route.
//! - **Duplicate rules** in one configuration (same inbound, source and group) are merged,
//!   their OIFs united, as smcroutectl `add` merges.
//! - **Join ranges** expand to at most [`EngineOptions::join_limit`] memberships per rule and
//!   interface; larger ranges are configuration errors instead of hours of joins.

mod action;
mod config;
mod index;
mod kept;
mod slab;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::hash_map::Entry;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::ops::Bound;
use std::time::{Duration, Instant};

pub use action::{Action, Route, ScriptEvent};
pub use config::{
    validate, ConfigError, ConfigItem, IfPattern, JoinRule, Phyint, RouteRule, RuleError,
    StaticConfig, DEFAULT_JOIN_EXPANSION_LIMIT, MAX_IFNAME_LEN,
};

use crate::model::{Family, FastMap, FastSet, Interface, RouteCounters, MAX_VIFS};
use config::{fmt_net, nth_addr};
use index::{bits, Seqs, TemplateIndex};
use kept::{Kept, Name, Oifs};
use slab::Slab;

/// How the engine is set up (smcrouted's command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineOptions {
    /// Route IPv4 (VIFs).
    pub ipv4: bool,
    /// Route IPv6 (MIFs).
    pub ipv6: bool,
    /// Give every multicast-capable interface a VIF and MIF, not only those the configuration
    /// names (smcrouted 2.5 without `-N`). Off by default: 2.6 allocates lazily.
    pub enable_all: bool,
    /// The size of the VIF and of the MIF table (32 on Linux).
    pub max_vifs: usize,
    /// smcrouted `-c`: how long a learned route or stop filter may go without a packet
    /// before it is flushed (60 s by default); `None` (`-c 0`) never flushes.
    pub flush_interval: Option<Duration>,
    /// The most memberships one join rule may expand to on one interface.
    pub join_limit: u64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            ipv4: true,
            ipv6: true,
            enable_all: false,
            max_vifs: MAX_VIFS,
            flush_interval: Some(Duration::from_secs(60)),
            join_limit: DEFAULT_JOIN_EXPANSION_LIMIT,
        }
    }
}

/// Where a rule came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The configuration file: kept across reloads while the file has it.
    Config,
    /// smcroutectl at run time: dropped by the next reload, as smcroute does.
    Runtime,
}

/// A route rule as the engine holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRule {
    /// The rule, normalized (truncated prefixes, `None` for any source).
    pub rule: RouteRule,
    /// Where it came from.
    pub origin: Origin,
}

/// A join rule as the engine holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredJoin {
    /// The rule, normalized.
    pub rule: JoinRule,
    /// Where it came from.
    pub origin: Origin,
}

/// Why a route is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteKind {
    /// An (S,G) rule: permanent.
    Static,
    /// Materialised from a template on an upcall: flushed when idle.
    Learned,
    /// No template matched the upcall: a stop filter, flushed when idle.
    StopFilter,
}

/// A route the engine believes is in the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledRoute {
    /// The route.
    pub route: Route,
    /// Why it is there.
    pub kind: RouteKind,
}

/// One membership the engine holds (a join rule expanded on one interface).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JoinedGroup {
    /// The interface.
    pub name: String,
    /// The source of an SSM join.
    pub source: Option<IpAddr>,
    /// The group.
    pub group: IpAddr,
}

/// A VIF or MIF the engine wants, by interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VifInfo {
    /// Which table.
    pub family: Family,
    /// The interface.
    pub name: String,
    /// Its index.
    pub ifindex: u32,
    /// The TTL threshold used for it in MFC entries.
    pub threshold: u8,
    /// Multicast Router Discovery on it.
    pub mrdisc: bool,
}

/// A rule that waits for an interface (`smcroutectl show pending`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    /// A route rule whose inbound interface, or a named outbound one, has no VIF yet.
    Route {
        /// The rule.
        rule: RouteRule,
        /// The interfaces it waits for.
        missing: Vec<IfPattern>,
    },
    /// A join rule whose interface does not exist.
    Join(JoinRule),
}

/// Why a run-time request (smcroutectl) was refused. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The rule itself is wrong.
    #[error(transparent)]
    Invalid(#[from] RuleError),
    /// The inbound interface (or the join's interface) matches no interface on the system.
    #[error("inbound {0} is not a known interface")]
    UnknownInterface(String),
    /// `remove` named a rule the engine does not have.
    #[error("no such route: {0}")]
    NoSuchRoute(String),
    /// `join` of something already joined.
    #[error("already joined: {0}")]
    AlreadyJoined(String),
    /// `leave` of something not joined.
    #[error("no group to leave: {0}")]
    NotJoined(String),
}

/// The (source, group) of a normalized rule: with the inbound pattern, what identifies it.
/// An (S,G) rule's key is (`Some(S/32)`, `G/32`) (or /128), which no template has.
type RuleKey = (Option<ipnet::IpNet>, ipnet::IpNet);

fn rule_key(r: &RouteRule) -> RuleKey {
    (r.source, r.group)
}

/// The rule key of the (S,G) rules of an (S,G).
fn sg_rule_key(key: SgKey) -> RuleKey {
    (Some(ipnet::IpNet::from(key.0)), ipnet::IpNet::from(key.1))
}

/// The (S,G) of an (S,G) rule's key, `None` for a template's.
fn sg_of(key: &RuleKey) -> Option<SgKey> {
    match key {
        (Some(s), g)
            if s.prefix_len() == s.max_prefix_len() && g.prefix_len() == g.max_prefix_len() =>
        {
            Some((s.addr(), g.addr()))
        }
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct VifState {
    ifindex: u32,
    threshold: u8,
    mrdisc: bool,
}

#[derive(Debug, Clone)]
struct Installed {
    route: Kept,
    kind: RouteKind,
    /// When the packet count was last seen to change (or the route was installed).
    since: Instant,
    /// The valid packet count then.
    packets: u64,
}

type SgKey = (IpAddr, IpAddr);

/// Which routes a change can affect.
enum Scope {
    All,
    Key(SgKey),
    /// The learned routes and stop filters whose group is in this prefix (what a template
    /// with this group prefix can affect).
    Dynamic(ipnet::IpNet),
    /// The VIFs only, even when they change.
    VifsOnly,
}

/// The order of [`sort_key`], as a key of [`StaticEngine::dynamic`].
type DynKey = (Family, u128, Family, u128);

const FAMILIES: [Family; 2] = [Family::V4, Family::V6];

/// The order routes are reconciled and reported in: family, group, source. (As integers,
/// which order as the addresses do.)
fn sort_key(k: &SgKey) -> (Family, u128, Family, u128) {
    (Family::of(&k.1), bits(k.1), Family::of(&k.0), bits(k.0))
}

fn fmt_sg(source: Option<ipnet::IpNet>, group: ipnet::IpNet) -> String {
    match source {
        Some(s) => format!("({}, {})", fmt_net(s), fmt_net(group)),
        None => format!("(*, {})", fmt_net(group)),
    }
}

/// The static routing engine. See the [module documentation](self).
///
/// ```
/// use std::time::Instant;
/// use mcroute::engine::static_routing::*;
/// use mcroute::Interface;
///
/// let iface = |index, name: &str| Interface {
///     index, name: name.into(), up: true, multicast: true,
///     loopback: false, point_to_point: false, addrs: vec![],
/// };
/// let now = Instant::now();
/// let mut engine = StaticEngine::new(EngineOptions::default());
/// engine.set_interfaces(now, &[iface(2, "eth0"), iface(3, "eth1")]);
/// let config = StaticConfig {
///     routes: vec![RouteRule::new(
///         "eth0", None, "239.1.0.0/16".parse()?, [IfPattern::new("eth1")],
///     )],
///     ..Default::default()
/// };
/// let actions = engine.apply_config(now, &config).expect("valid");
/// assert_eq!(actions.len(), 3); // the two VIFs, then the script's `reload`
/// // The kernel reports a new flow on eth0: the (*,G) rule answers.
/// let actions = engine.handle_upcall(now, "eth0", "192.0.2.7".parse()?, "239.1.2.3".parse()?);
/// assert_eq!(actions[0].to_string(), "add route (192.0.2.7, 239.1.2.3) from eth0 to eth1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct StaticEngine {
    options: EngineOptions,
    interfaces: BTreeMap<String, Interface>,
    phyints: Vec<Phyint>,
    rules: Slab<StoredRule>,
    /// The rules by (source, group), whatever their inbound pattern: the identity of a rule
    /// for merging and removal, and the (S,G) rules of an (S,G) in configuration order.
    by_key: FastMap<RuleKey, Seqs>,
    templates: TemplateIndex,
    /// Reference counts of the interface patterns rules name, per family.
    refs: [FastMap<IfPattern, usize>; 2],
    /// The VIFs and MIFs wanted, by interface name (shared with the routes that use them).
    vifs: [BTreeMap<Name, VifState>; 2],
    routes: FastMap<SgKey, Installed>,
    /// The learned routes and stop filters (the routes a template can change, and the only
    /// ones the flush timer looks at), ordered by group: a template's routes are a range.
    dynamic: BTreeMap<DynKey, SgKey>,
    join_rules: BTreeMap<u64, StoredJoin>,
    join_ids: FastMap<JoinRule, u64>,
    next_join_seq: u64,
    memberships: FastMap<JoinedGroup, usize>,
    next_flush: Option<Instant>,
}

impl StaticEngine {
    /// An engine with no interfaces and an empty configuration.
    pub fn new(options: EngineOptions) -> StaticEngine {
        StaticEngine {
            options,
            interfaces: BTreeMap::new(),
            phyints: Vec::new(),
            rules: Slab::default(),
            by_key: FastMap::default(),
            templates: TemplateIndex::default(),
            refs: [FastMap::default(), FastMap::default()],
            vifs: [BTreeMap::new(), BTreeMap::new()],
            routes: FastMap::default(),
            dynamic: BTreeMap::new(),
            join_rules: BTreeMap::new(),
            join_ids: FastMap::default(),
            next_join_seq: 0,
            memberships: FastMap::default(),
            next_flush: None,
        }
    }

    /// The options the engine was made with.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    fn family_enabled(&self, f: Family) -> bool {
        match f {
            Family::V4 => self.options.ipv4,
            Family::V6 => self.options.ipv6,
        }
    }

    /// Checks a configuration against the engine's options and the interfaces it knows,
    /// without changing anything. [`StaticEngine::apply_config`] does this first.
    pub fn validate(&self, config: &StaticConfig) -> Result<(), Vec<ConfigError>> {
        config::validate_with(
            config,
            |n| self.interfaces.get(n).map(|i| i.multicast),
            self.options.ipv4,
            self.options.ipv6,
            self.options.join_limit,
        )
    }

    // ----- inputs ------------------------------------------------------------------------

    /// Tells the engine the system's interfaces (at startup and after every link event).
    ///
    /// New interfaces get the VIFs, routes and joins that waited for them; vanished ones
    /// lose theirs; an interface recreated with a new index gets its VIF again.
    pub fn set_interfaces(&mut self, now: Instant, interfaces: &[Interface]) -> Vec<Action> {
        self.interfaces = interfaces
            .iter()
            .map(|i| (i.name.clone(), i.clone()))
            .collect();
        self.refresh(now, Scope::All)
    }

    /// Applies a (new) configuration as a minimal diff against the current state.
    ///
    /// Validates first: on error nothing changes and the running routes stay. Otherwise
    /// unchanged routes and joins are not touched, changed OIF sets are replaced, removed
    /// ones removed, new ones added; learned routes follow their templates (see the module
    /// documentation); rules and joins added at run time are dropped, as smcroute drops them.
    /// Ends with [`ScriptEvent::Reload`].
    pub fn apply_config(
        &mut self,
        now: Instant,
        config: &StaticConfig,
    ) -> Result<Vec<Action>, Vec<ConfigError>> {
        let mut actions = Vec::new();
        self.apply_config_with(now, config.clone(), &mut |a| actions.push(a))?;
        Ok(actions)
    }

    /// [`StaticEngine::apply_config`] for a configuration the caller gives away, with each
    /// action handed to `sink` as soon as it is known instead of collected: the rules are
    /// moved into the engine rather than copied, and a daemon can execute the first route
    /// while the engine works out the next. The actions and their order are the same.
    ///
    /// On error nothing changes and `sink` is not called.
    pub fn apply_config_with(
        &mut self,
        now: Instant,
        config: StaticConfig,
        sink: &mut dyn FnMut(Action),
    ) -> Result<(), Vec<ConfigError>> {
        self.validate(&config)?;
        let StaticConfig {
            phyints,
            routes,
            joins,
        } = config;
        self.rules.clear();
        self.by_key.clear();
        self.by_key.reserve(routes.len());
        self.rules.reserve(routes.len());
        self.templates = TemplateIndex::default();
        self.phyints = phyints;
        // Nothing installed (start-up): the VIFs follow from the phyints and the patterns
        // the rules name, so they go first and each (S,G) route goes out as soon as its rule
        // is filed, while the next rules are still being read (a daemon's kernel calls then
        // overlap with this work). The pass over every (S,G) at the end changes only what a
        // later rule changed (OIFs merged from a duplicate, say), so the outcome is the same.
        let early = self.routes.is_empty();
        let mut removed_vifs = Vec::new();
        if early {
            self.refs = referenced_patterns(&routes);
            // VIFs that go are removed after the routes, as in a full pass.
            removed_vifs = self.refresh_into(now, Scope::VifsOnly, sink);
        }
        self.refs = [FastMap::default(), FastMap::default()];
        let no_reset = FastSet::default();
        for r in routes {
            let rule = r.into_normalized();
            let key = match (early && rule.is_sg(), rule.source) {
                (true, Some(s)) => Some((s.addr(), rule.group.addr())),
                _ => None,
            };
            let (seq, first) = self.insert_rule(rule, Origin::Config);
            // The first rule of an (S,G) (no route for it yet); later ones wait for the
            // final pass.
            let Some(k) = key.filter(|_| first) else {
                continue;
            };
            let desired = self.desired_from(k, &Seqs::one(seq));
            if let Some(a) = self.reconcile_key(now, k, desired, &no_reset) {
                sink(a);
            }
        }
        removed_vifs.into_iter().for_each(&mut *sink);
        self.join_rules.clear();
        self.join_ids.clear();
        self.next_join_seq = 0;
        for j in &joins {
            let j = j.normalized();
            if !self.join_ids.contains_key(&j) {
                self.insert_join(j, Origin::Config);
            }
        }
        let _ = self.refresh_into(now, Scope::All, sink);
        sink(Action::RunScript(ScriptEvent::Reload));
        Ok(())
    }

    /// Answers a NOCACHE upcall: (S,G) arrived on interface `iif` and the kernel has no route.
    ///
    /// The first template in configuration order whose inbound pattern matches `iif`, whose
    /// group prefix covers G and whose source prefix (if any) covers S gives the route
    /// (plus [`ScriptEvent::Install`]); on a miss, a stop filter is installed so the kernel
    /// stops asking. The lookup is hashed: its cost depends on the number of distinct prefix
    /// lengths in use, not on the number of rules.
    pub fn handle_upcall(
        &mut self,
        now: Instant,
        iif: &str,
        source: IpAddr,
        group: IpAddr,
    ) -> Vec<Action> {
        let family = Family::of(&group);
        if Family::of(&source) != family
            || !group.is_multicast()
            || !self.family_enabled(family)
            || !self.vifs[family.slot()].contains_key(iif)
        {
            log::debug!("ignoring upcall ({source}, {group}) on {iif}: no VIF or bad addresses");
            return Vec::new();
        }
        let key = (source, group);
        if let Some(inst) = self.routes.get(&key) {
            if &*inst.route.iif == iif || inst.kind == RouteKind::Static {
                // A second upcall queued before the route went in, or a static route that
                // owns the (S,G): nothing to do.
                return Vec::new();
            }
        }
        self.learn(now, iif, source, group)
    }

    /// Answers a WRONGVIF upcall: (S,G) arrived on `iif`, but its route comes in elsewhere.
    ///
    /// As smcroute 2.6 does (#143): if the route was learned (not an (S,G) rule) and a
    /// template for the arrival interface covers (S,G), the route moves to that interface.
    pub fn handle_wrong_vif(
        &mut self,
        now: Instant,
        iif: &str,
        source: IpAddr,
        group: IpAddr,
    ) -> Vec<Action> {
        let family = Family::of(&group);
        if Family::of(&source) != family || !self.vifs[family.slot()].contains_key(iif) {
            return Vec::new();
        }
        match self.routes.get(&(source, group)) {
            Some(inst) if inst.kind != RouteKind::Static && &*inst.route.iif != iif => {}
            _ => return Vec::new(),
        }
        if self.templates.lookup(iif, source, group).is_none() {
            return Vec::new();
        }
        self.learn(now, iif, source, group)
    }

    fn learn(&mut self, now: Instant, iif: &str, source: IpAddr, group: IpAddr) -> Vec<Action> {
        let key = (source, group);
        // The callers checked that `iif` has a VIF.
        let Some(iif) = self.vif_name(Family::of(&group), iif) else {
            return Vec::new();
        };
        let (kept, kind) = match self.templates.lookup(&iif, source, group) {
            Some(seq) => match self.rules.get(&seq) {
                Some(r) => (
                    self.build_route(&r.rule, &iif, source, group),
                    RouteKind::Learned,
                ),
                None => (Kept::stop_filter(iif, source, group), RouteKind::StopFilter),
            },
            None => {
                log::info!(
                    "multicast from {source}, group {group}, on {iif} does not match any (*,G) rule"
                );
                (Kept::stop_filter(iif, source, group), RouteKind::StopFilter)
            }
        };
        let route = kept.to_route();
        let existed = self
            .routes
            .insert(
                key,
                Installed {
                    route: kept,
                    kind,
                    since: now,
                    packets: 0,
                },
            )
            .is_some();
        self.dynamic.insert(sort_key(&key), key);
        self.arm_flush(now);
        let mut actions = vec![if existed {
            Action::ReplaceRoute(route)
        } else {
            Action::AddRoute(route)
        }];
        if kind == RouteKind::Learned {
            actions.push(Action::RunScript(ScriptEvent::Install { source, group }));
        }
        actions
    }

    fn arm_flush(&mut self, now: Instant) {
        if self.next_flush.is_none() {
            if let Some(d) = self.options.flush_interval.filter(|d| !d.is_zero()) {
                self.next_flush = now.checked_add(d);
            }
        }
    }

    /// When [`StaticEngine::handle_timeout`] next needs to run, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_flush
    }

    /// Runs the cache flush timer (smcrouted `-c`): every learned route and stop filter
    /// whose valid packet count (`packets - wrong_if`, as `counters` reads it from the
    /// kernel) has not moved for a whole flush interval is removed. An idle route goes
    /// between one and two intervals after its last packet, as in smcroute. A route whose
    /// counters cannot be read is considered gone. Does nothing before
    /// [`StaticEngine::poll_timeout`].
    pub fn handle_timeout(
        &mut self,
        now: Instant,
        mut counters: impl FnMut(IpAddr, IpAddr) -> Option<RouteCounters>,
    ) -> Vec<Action> {
        let Some(deadline) = self.next_flush else {
            return Vec::new();
        };
        if now < deadline {
            return Vec::new();
        }
        let Some(interval) = self.options.flush_interval.filter(|d| !d.is_zero()) else {
            self.next_flush = None;
            return Vec::new();
        };
        let keys: Vec<SgKey> = self.dynamic.values().copied().collect();
        let mut actions = Vec::new();
        for key in keys {
            let Some(inst) = self.routes.get_mut(&key) else {
                continue;
            };
            if now.saturating_duration_since(inst.since) < interval {
                continue;
            }
            match counters(key.0, key.1).map(|c| c.packets.saturating_sub(c.wrong_if)) {
                Some(valid) if valid != inst.packets => {
                    inst.packets = valid;
                    inst.since = now;
                }
                _ => {
                    if let Some(gone) = self.remove_installed(key) {
                        log::info!("flushing idle route {}", gone.route.to_route());
                        actions.push(remove_action(&gone.route));
                    }
                }
            }
        }
        self.next_flush = if !self.dynamic.is_empty() {
            now.checked_add(interval)
        } else {
            None
        };
        actions
    }

    /// `smcroutectl flush`: removes every learned route and stop filter now. Live flows are
    /// relearned through their next upcall.
    pub fn flush(&mut self) -> Vec<Action> {
        self.next_flush = None;
        let keys: Vec<SgKey> = std::mem::take(&mut self.dynamic).into_values().collect();
        keys.iter()
            .filter_map(|k| self.routes.remove(k))
            .map(|i| remove_action(&i.route))
            .collect()
    }

    /// The keys of the dynamic index, in its order (tests).
    #[cfg(test)]
    fn dynamic_keys(&self) -> Vec<SgKey> {
        self.dynamic.values().copied().collect()
    }

    /// The learned routes and stop filters, found by a pass over every route, in the
    /// index's order (tests).
    #[cfg(test)]
    fn non_static_keys(&self) -> Vec<SgKey> {
        let mut keys: Vec<SgKey> = self
            .routes
            .iter()
            .filter(|(_, i)| i.kind != RouteKind::Static)
            .map(|(k, _)| *k)
            .collect();
        keys.sort_by_key(sort_key);
        keys
    }

    /// Removes the installed route of `key`, from the dynamic index too.
    fn remove_installed(&mut self, key: SgKey) -> Option<Installed> {
        let gone = self.routes.remove(&key)?;
        if gone.kind != RouteKind::Static {
            self.dynamic.remove(&sort_key(&key));
        }
        Some(gone)
    }

    /// `smcroutectl add`: adds a rule at run time, or merges its OIFs into an existing rule
    /// with the same inbound interface, source and group.
    ///
    /// The inbound interface must exist (wildcards: match one); outbound interfaces that do
    /// not exist yet wait for it. Returns the actions, or an error with nothing changed.
    pub fn add_route(&mut self, now: Instant, rule: RouteRule) -> Result<Vec<Action>, EngineError> {
        self.check_runtime_rule(&rule)?;
        let rule = rule.normalized();
        if !self.interfaces.keys().any(|n| rule.iif.matches(n)) {
            return Err(EngineError::UnknownInterface(rule.iif.to_string()));
        }
        let scope = scope_of(&rule);
        self.insert_rule(rule, Origin::Runtime);
        Ok(self.refresh(now, scope))
    }

    /// `smcroutectl remove`: without OIFs, removes the rule and what it installed; with OIFs,
    /// removes only those from the rule (which stays, as a stop filter when none remain).
    pub fn remove_route(
        &mut self,
        now: Instant,
        rule: &RouteRule,
    ) -> Result<Vec<Action>, EngineError> {
        rule.check()?;
        let rule = rule.normalized();
        let Some(seq) = self.find_rule(&rule) else {
            return Err(EngineError::NoSuchRoute(rule.to_string()));
        };
        let scope = scope_of(&rule);
        if rule.oifs.is_empty() {
            self.remove_rule(seq);
        } else {
            let family = rule.family().slot();
            if let Some(stored) = self.rules.get_mut(&seq) {
                let before = std::mem::take(&mut stored.rule.oifs);
                let (gone, kept): (Vec<IfPattern>, Vec<IfPattern>) =
                    before.into_iter().partition(|o| rule.oifs.contains(o));
                stored.rule.oifs = kept;
                for o in gone {
                    unref(&mut self.refs[family], &o);
                }
            }
        }
        Ok(self.refresh(now, scope))
    }

    /// `smcroutectl join`: joins a group (or range) on an interface at run time.
    pub fn join(&mut self, rule: JoinRule) -> Result<Vec<Action>, EngineError> {
        rule.check(self.options.join_limit)?;
        let family = Family::of(&rule.group.addr());
        if !self.family_enabled(family) {
            return Err(RuleError::FamilyDisabled(family).into());
        }
        let rule = rule.normalized();
        if self.join_ids.contains_key(&rule) {
            return Err(EngineError::AlreadyJoined(format!(
                "{} on {}",
                fmt_sg(rule.source, rule.group),
                rule.iif
            )));
        }
        if !self
            .interfaces
            .values()
            .any(|i| i.multicast && rule.iif.matches(&i.name))
        {
            return Err(EngineError::UnknownInterface(rule.iif.to_string()));
        }
        let mut actions = Vec::new();
        for m in self.expand_join(&rule) {
            let n = self.memberships.entry(m.clone()).or_default();
            *n += 1;
            if *n == 1 {
                actions.push(join_action(m));
            }
        }
        self.insert_join(rule, Origin::Runtime);
        Ok(actions)
    }

    /// `smcroutectl leave`: leaves what a join rule (from the file or run time) joined. The
    /// rule must be repeated exactly (interface, source, group and lengths).
    pub fn leave(&mut self, rule: &JoinRule) -> Result<Vec<Action>, EngineError> {
        let rule = rule.normalized();
        let Some(seq) = self.join_ids.remove(&rule) else {
            return Err(EngineError::NotJoined(format!(
                "{} on {}",
                fmt_sg(rule.source, rule.group),
                rule.iif
            )));
        };
        self.join_rules.remove(&seq);
        let mut actions = Vec::new();
        for m in self.expand_join(&rule) {
            if let Some(n) = self.memberships.get_mut(&m) {
                *n -= 1;
                if *n == 0 {
                    self.memberships.remove(&m);
                    actions.push(leave_action(m));
                }
            }
        }
        Ok(actions)
    }

    // ----- queries (smcroutectl show) ----------------------------------------------------

    /// The template rules ((*,G) and the other non-(S,G) forms), in configuration order.
    pub fn template_rules(&self) -> impl Iterator<Item = &StoredRule> {
        self.rules.values().filter(|r| !r.rule.is_sg())
    }

    /// The (S,G) rules, in configuration order.
    pub fn sg_rules(&self) -> impl Iterator<Item = &StoredRule> {
        self.rules.values().filter(|r| r.rule.is_sg())
    }

    /// The routes the engine believes are in the kernel: forwarding routes first, then stop
    /// filters, each sorted by family, group and source.
    pub fn kernel_routes(&self) -> Vec<InstalledRoute> {
        let mut v: Vec<InstalledRoute> = self
            .routes
            .values()
            .map(|i| InstalledRoute {
                route: i.route.to_route(),
                kind: i.kind,
            })
            .collect();
        v.sort_by(|a, b| {
            (
                a.route.is_stop_filter(),
                a.route.family(),
                a.route.group,
                a.route.source,
            )
                .cmp(&(
                    b.route.is_stop_filter(),
                    b.route.family(),
                    b.route.group,
                    b.route.source,
                ))
        });
        v
    }

    /// The installed route of (S,G), if any.
    pub fn route(&self, source: IpAddr, group: IpAddr) -> Option<InstalledRoute> {
        self.routes.get(&(source, group)).map(|i| InstalledRoute {
            route: i.route.to_route(),
            kind: i.kind,
        })
    }

    /// The join rules, in order.
    pub fn join_rules(&self) -> impl Iterator<Item = &StoredJoin> {
        self.join_rules.values()
    }

    /// Every membership held (join rules expanded), sorted.
    pub fn memberships(&self) -> Vec<JoinedGroup> {
        let mut v: Vec<JoinedGroup> = self.memberships.keys().cloned().collect();
        v.sort();
        v
    }

    /// The VIFs (IPv4 first) and MIFs the engine wants, by interface name. The slots are the
    /// Router's ([`Router::vif_by_name`](crate::Router::vif_by_name)).
    pub fn vifs(&self) -> Vec<VifInfo> {
        FAMILIES
            .iter()
            .flat_map(|&family| {
                self.vifs[family.slot()]
                    .iter()
                    .map(move |(name, v)| VifInfo {
                        family,
                        name: name.to_string(),
                        ifindex: v.ifindex,
                        threshold: v.threshold,
                        mrdisc: v.mrdisc,
                    })
            })
            .collect()
    }

    /// Whether interface `name` has a VIF (IPv4) or MIF (IPv6) in the engine's view.
    pub fn has_vif(&self, family: Family, name: &str) -> bool {
        self.vifs[family.slot()].contains_key(name)
    }

    /// Rules waiting for an interface (`smcroutectl show pending`).
    pub fn pending(&self) -> Vec<Pending> {
        let mut out = Vec::new();
        for r in self.rules.values() {
            let vifs = &self.vifs[r.rule.family().slot()];
            let mut missing = Vec::new();
            if !vifs.keys().any(|n| r.rule.iif.matches(n)) {
                missing.push(r.rule.iif.clone());
            }
            for o in &r.rule.oifs {
                if let IfPattern::Name(n) = o {
                    if !vifs.contains_key(n.as_str()) && !missing.contains(o) {
                        missing.push(o.clone());
                    }
                }
            }
            if !missing.is_empty() {
                out.push(Pending::Route {
                    rule: r.rule.clone(),
                    missing,
                });
            }
        }
        for j in self.join_rules.values() {
            if !self
                .interfaces
                .values()
                .any(|i| i.multicast && j.rule.iif.matches(&i.name))
            {
                out.push(Pending::Join(j.rule.clone()));
            }
        }
        out
    }

    // ----- rules -------------------------------------------------------------------------

    fn check_runtime_rule(&self, rule: &RouteRule) -> Result<(), RuleError> {
        rule.check()?;
        if !self.family_enabled(rule.family()) {
            return Err(RuleError::FamilyDisabled(rule.family()));
        }
        for p in std::iter::once(&rule.iif).chain(rule.oifs.iter()) {
            if let IfPattern::Name(n) = p {
                if self.interfaces.get(n).is_some_and(|i| !i.multicast) {
                    return Err(RuleError::NotMulticastCapable(n.clone()));
                }
            }
        }
        Ok(())
    }

    /// The rule with the same inbound pattern, source and group as the normalized `rule`.
    fn find_rule(&self, rule: &RouteRule) -> Option<u64> {
        with_iif(&self.rules, self.by_key.get(&rule_key(rule))?, &rule.iif)
    }

    /// Adds a normalized rule, or merges its OIFs into the identical one. Returns its
    /// sequence number, and whether it is the first rule of its (source, group).
    fn insert_rule(&mut self, rule: RouteRule, origin: Origin) -> (u64, bool) {
        let family = rule.family().slot();
        let seq = self.rules.next_seq();
        // One probe of the index: the rules of this (source, group), if any.
        let first = match self.by_key.entry(rule_key(&rule)) {
            Entry::Occupied(mut o) => {
                if let Some(existing) = with_iif(&self.rules, o.get(), &rule.iif) {
                    if let Some(stored) = self.rules.get_mut(&existing) {
                        for o in rule.oifs {
                            if !stored.rule.oifs.contains(&o) {
                                add_ref(&mut self.refs[family], &o);
                                stored.rule.oifs.push(o);
                            }
                        }
                    }
                    return (existing, false);
                }
                // Sequence numbers only grow: pushing keeps each list in configuration order.
                o.get_mut().push(seq);
                false
            }
            Entry::Vacant(v) => {
                v.insert(Seqs::one(seq));
                true
            }
        };
        for p in std::iter::once(&rule.iif).chain(rule.oifs.iter()) {
            add_ref(&mut self.refs[family], p);
        }
        if !rule.is_sg() {
            self.templates
                .insert(seq, &rule.iif, rule.source, rule.group);
        }
        self.rules.push(StoredRule { rule, origin });
        (seq, first)
    }

    fn remove_rule(&mut self, seq: u64) {
        let Some(stored) = self.rules.remove(&seq) else {
            return;
        };
        let rule = stored.rule;
        let family = rule.family().slot();
        let key = rule_key(&rule);
        if let Some(seqs) = self.by_key.get_mut(&key) {
            if seqs.remove(seq) {
                self.by_key.remove(&key);
            }
        }
        for p in std::iter::once(&rule.iif).chain(rule.oifs.iter()) {
            unref(&mut self.refs[family], p);
        }
        if !rule.is_sg() {
            self.templates
                .remove(seq, &rule.iif, rule.source, rule.group);
        }
    }

    fn insert_join(&mut self, rule: JoinRule, origin: Origin) {
        let seq = self.next_join_seq;
        self.next_join_seq += 1;
        self.join_ids.insert(rule.clone(), seq);
        self.join_rules.insert(seq, StoredJoin { rule, origin });
    }

    fn expand_join(&self, rule: &JoinRule) -> Vec<JoinedGroup> {
        let Some(count) = rule.expansion().filter(|&n| n <= self.options.join_limit) else {
            return Vec::new();
        };
        let family = Family::of(&rule.group.addr());
        let max = family.max_prefix_len();
        let groups = 1u64 << (max - rule.group.prefix_len()).min(63);
        let sources = count / groups.max(1);
        let mut out = Vec::new();
        for iface in self.interfaces.values() {
            if !iface.multicast || !rule.iif.matches(&iface.name) {
                continue;
            }
            for gi in 0..groups {
                let group = nth_addr(rule.group, gi);
                match rule.source {
                    None => out.push(JoinedGroup {
                        name: iface.name.clone(),
                        source: None,
                        group,
                    }),
                    Some(s) => {
                        for si in 0..sources {
                            out.push(JoinedGroup {
                                name: iface.name.clone(),
                                source: Some(nth_addr(s, si)),
                                group,
                            });
                        }
                    }
                }
            }
        }
        out
    }

    // ----- reconciliation ----------------------------------------------------------------

    fn phyint_for(&self, name: &str) -> Option<&Phyint> {
        self.phyints.iter().rev().find(|p| p.pattern.matches(name))
    }

    /// The name of `name`'s VIF (or MIF), shared, if it has one.
    fn vif_name(&self, family: Family, name: &str) -> Option<Name> {
        self.vifs[family.slot()]
            .get_key_value(name)
            .map(|(k, _)| Name::clone(k))
    }

    fn desired_vifs(&self) -> [BTreeMap<Name, VifState>; 2] {
        let mut out = [BTreeMap::new(), BTreeMap::new()];
        let mut by_index: Vec<&Interface> = self.interfaces.values().collect();
        by_index.sort_by_key(|i| (i.index, i.name.as_str()));
        for family in FAMILIES {
            if !self.family_enabled(family) {
                continue;
            }
            let refs = &self.refs[family.slot()];
            let mut first = Vec::new();
            let mut rest = Vec::new();
            for iface in &by_index {
                if !iface.multicast {
                    continue;
                }
                let phy = self.phyint_for(&iface.name);
                if phy.is_some_and(|p| !p.enable) {
                    continue;
                }
                let referenced = phy.is_some() || refs.keys().any(|p| p.matches(&iface.name));
                if referenced {
                    first.push((*iface, phy));
                } else if self.options.enable_all {
                    rest.push((*iface, phy));
                }
            }
            if first.len() > self.options.max_vifs {
                for (i, _) in &first[self.options.max_vifs..] {
                    log::warn!("not enough {family} interface slots for {}", i.name);
                }
            }
            for (iface, phy) in first.into_iter().chain(rest).take(self.options.max_vifs) {
                // Keep the name the routes already share, if there is one.
                let name = self
                    .vif_name(family, &iface.name)
                    .unwrap_or_else(|| Name::from(iface.name.as_str()));
                out[family.slot()].insert(
                    name,
                    VifState {
                        ifindex: iface.index,
                        threshold: phy.map_or(1, |p| p.ttl_threshold.max(1)),
                        mrdisc: phy.is_some_and(|p| p.mrdisc),
                    },
                );
            }
        }
        out
    }

    /// Recomputes the VIFs and brings the routes of `scope` (and, for `All`, the joins) to
    /// the desired state.
    fn refresh(&mut self, now: Instant, scope: Scope) -> Vec<Action> {
        let mut actions = Vec::new();
        let _ = self.refresh_into(now, scope, &mut |a| actions.push(a));
        actions
    }

    /// [`StaticEngine::refresh`], each action handed to `sink` in order. With
    /// [`Scope::VifsOnly`] the removals of VIFs that go are returned instead, for the caller
    /// to emit after the routes; otherwise nothing is returned.
    #[must_use]
    fn refresh_into(
        &mut self,
        now: Instant,
        mut scope: Scope,
        sink: &mut dyn FnMut(Action),
    ) -> Vec<Action> {
        let desired = self.desired_vifs();
        let mut pre = Vec::new();
        let mut post = Vec::new();
        let mut reset: FastSet<(Family, String)> = FastSet::default();
        let mut changed = false;
        for family in FAMILIES {
            let old = &self.vifs[family.slot()];
            let new = &desired[family.slot()];
            for (name, o) in old {
                match new.get(name) {
                    None => {
                        changed = true;
                        post.push(Action::RemoveVif {
                            family,
                            name: name.to_string(),
                        });
                    }
                    Some(n) if n.ifindex != o.ifindex => {
                        changed = true;
                        reset.insert((family, name.to_string()));
                        pre.push(Action::RemoveVif {
                            family,
                            name: name.to_string(),
                        });
                        pre.push(add_vif(family, name, n));
                    }
                    Some(n) => {
                        if n.threshold != o.threshold {
                            changed = true;
                        }
                        if n.mrdisc != o.mrdisc {
                            pre.push(Action::SetMrdisc {
                                family,
                                name: name.to_string(),
                                enable: n.mrdisc,
                            });
                        }
                    }
                }
            }
            for (name, n) in new {
                if !old.contains_key(name) {
                    changed = true;
                    pre.push(add_vif(family, name, n));
                }
            }
        }
        self.vifs = desired;
        if changed && !matches!(scope, Scope::VifsOnly) {
            scope = Scope::All;
        }
        pre.into_iter().for_each(&mut *sink);
        match scope {
            Scope::VifsOnly => return post,
            Scope::Key(k) => {
                let desired = self.desired_static(k);
                if let Some(a) = self.reconcile_key(now, k, desired, &reset) {
                    sink(a);
                }
            }
            Scope::Dynamic(groups) => {
                // Only the dynamic routes in the template's group range: a range of the
                // ordered index, not a pass over every installed route.
                let family = Family::of(&groups.addr());
                let lo = (family, bits(groups.network()), Family::V4, 0);
                let hi = (family, bits(groups.broadcast()), Family::V6, u128::MAX);
                let keys: Vec<SgKey> = self.dynamic.range(lo..=hi).map(|(_, k)| *k).collect();
                for k in keys {
                    let desired = self.desired_static(k);
                    if let Some(a) = self.reconcile_key(now, k, desired, &reset) {
                        sink(a);
                    }
                }
            }
            Scope::All => {
                // Every (S,G) with a rule (with its rules, taken in one pass over the index
                // rather than a lookup a key), then every installed one without.
                let mut keys: Vec<(SgKey, Option<Seqs>)> =
                    Vec::with_capacity(self.by_key.len() + self.routes.len());
                keys.extend(
                    self.by_key
                        .iter()
                        .filter_map(|(k, seqs)| Some((sg_of(k)?, Some(seqs.clone())))),
                );
                let by_key = &self.by_key;
                keys.extend(
                    self.routes
                        .keys()
                        .filter(|k| !by_key.contains_key(&sg_rule_key(**k)))
                        .map(|k| (*k, None)),
                );
                // The keys are distinct: an unstable sort gives the one order.
                keys.sort_unstable_by_key(|(k, _)| sort_key(k));
                self.routes
                    .reserve(keys.len().saturating_sub(self.routes.len()));
                for (k, seqs) in keys {
                    let desired = seqs.and_then(|s| self.desired_from(k, &s));
                    if let Some(a) = self.reconcile_key(now, k, desired, &reset) {
                        sink(a);
                    }
                }
                std::mem::take(&mut post).into_iter().for_each(&mut *sink);
                self.reconcile_joins().into_iter().for_each(&mut *sink);
            }
        }
        post.into_iter().for_each(sink);
        Vec::new()
    }

    /// The route an (S,G) rule gives (S,G), if one can be installed.
    fn desired_static(&self, key: SgKey) -> Option<Kept> {
        self.desired_from(key, self.by_key.get(&sg_rule_key(key))?)
    }

    /// The route the (S,G) rules `seqs` of (S,G) give, if one can be installed.
    fn desired_from(&self, key: SgKey, seqs: &Seqs) -> Option<Kept> {
        let family = Family::of(&key.1);
        let vifs = &self.vifs[family.slot()];
        for seq in seqs.as_slice() {
            let Some(stored) = self.rules.get(seq) else {
                continue;
            };
            let iif = match &stored.rule.iif {
                IfPattern::Name(n) => vifs.get_key_value(n.as_str()).map(|(k, _)| k),
                IfPattern::Prefix(p) => prefix_range(vifs, p).next().map(|(k, _)| k),
            };
            if let Some(iif) = iif {
                return Some(self.build_route(&stored.rule, iif, key.0, key.1));
            }
        }
        None
    }

    fn build_route(&self, rule: &RouteRule, iif: &Name, source: IpAddr, group: IpAddr) -> Kept {
        let vifs = &self.vifs[rule.family().slot()];
        let oifs = match rule.oifs.as_slice() {
            // The common case, without a list.
            [IfPattern::Name(n)] => match vifs.get_key_value(n.as_str()) {
                Some((k, v)) => Oifs::One(Name::clone(k), v.threshold),
                None => Oifs::None,
            },
            pats => {
                let mut oifs: Vec<(Name, u8)> = Vec::with_capacity(pats.len());
                for p in pats {
                    match p {
                        IfPattern::Name(n) => {
                            if let Some((k, v)) = vifs.get_key_value(n.as_str()) {
                                oifs.push((Name::clone(k), v.threshold));
                            }
                        }
                        IfPattern::Prefix(pre) => {
                            for (n, v) in prefix_range(vifs, pre) {
                                if n != iif {
                                    oifs.push((Name::clone(n), v.threshold));
                                }
                            }
                        }
                    }
                }
                oifs.sort();
                oifs.dedup_by(|a, b| a.0 == b.0);
                Oifs::from_sorted(oifs)
            }
        };
        Kept {
            source,
            group,
            iif: Name::clone(iif),
            oifs,
        }
    }

    /// Brings the route of one (S,G) to the desired state; `desired` is what its (S,G)
    /// rules give ([`StaticEngine::desired_static`]).
    fn reconcile_key(
        &mut self,
        now: Instant,
        key: SgKey,
        desired: Option<Kept>,
        reset: &FastSet<(Family, String)>,
    ) -> Option<Action> {
        let family = Family::of(&key.1);
        let touched = |r: &Kept| reset.iter().any(|(f, n)| *f == family && r.uses(n));
        // A new route takes one probe of the table.
        if let Entry::Vacant(v) = self.routes.entry(key) {
            let r = desired?;
            let action = Action::AddRoute(r.to_route());
            v.insert(Installed {
                route: r,
                kind: RouteKind::Static,
                since: now,
                packets: 0,
            });
            return Some(action);
        }
        let inst = self.routes.get(&key)?;
        let was_reset = touched(&inst.route);
        let (want, kind) = match desired {
            Some(r) => (Some(r), RouteKind::Static),
            None => match inst.kind {
                RouteKind::Static => (None, RouteKind::Static),
                RouteKind::Learned | RouteKind::StopFilter => {
                    let iif = &inst.route.iif;
                    if !self.vifs[family.slot()].contains_key(&**iif) {
                        (None, inst.kind)
                    } else {
                        match self
                            .templates
                            .lookup(iif, key.0, key.1)
                            .and_then(|seq| self.rules.get(&seq))
                        {
                            Some(stored) => (
                                Some(self.build_route(&stored.rule, iif, key.0, key.1)),
                                RouteKind::Learned,
                            ),
                            None if inst.kind == RouteKind::StopFilter => {
                                (Some(inst.route.clone()), RouteKind::StopFilter)
                            }
                            None => (None, RouteKind::Learned),
                        }
                    }
                }
            },
        };
        match want {
            None => {
                let gone = self.remove_installed(key)?;
                Some(remove_action(&gone.route))
            }
            Some(r) => {
                let inst = self.routes.get_mut(&key)?;
                let changed = inst.route != r;
                if (inst.kind == RouteKind::Static) != (kind == RouteKind::Static) {
                    if kind == RouteKind::Static {
                        self.dynamic.remove(&sort_key(&key));
                    } else {
                        self.dynamic.insert(sort_key(&key), key);
                    }
                }
                inst.kind = kind;
                if changed || was_reset {
                    let route = r.to_route();
                    inst.route = r;
                    Some(if was_reset {
                        Action::AddRoute(route)
                    } else {
                        Action::ReplaceRoute(route)
                    })
                } else {
                    None
                }
            }
        }
    }

    fn reconcile_joins(&mut self) -> Vec<Action> {
        let mut desired: FastMap<JoinedGroup, usize> = FastMap::default();
        for j in self.join_rules.values() {
            for m in self.expand_join(&j.rule) {
                *desired.entry(m).or_default() += 1;
            }
        }
        let mut leaves: Vec<JoinedGroup> = self
            .memberships
            .keys()
            .filter(|m| !desired.contains_key(*m))
            .cloned()
            .collect();
        let mut joins: Vec<JoinedGroup> = desired
            .keys()
            .filter(|m| !self.memberships.contains_key(*m))
            .cloned()
            .collect();
        leaves.sort();
        joins.sort();
        self.memberships = desired;
        leaves
            .into_iter()
            .map(leave_action)
            .chain(joins.into_iter().map(join_action))
            .collect()
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Config => "config",
            Origin::Runtime => "runtime",
        })
    }
}

fn scope_of(rule: &RouteRule) -> Scope {
    match (rule.is_sg(), rule.source) {
        (true, Some(s)) => Scope::Key((s.addr(), rule.group.addr())),
        _ => Scope::Dynamic(rule.group),
    }
}

/// Of the rules `seqs` (one (source, group)), the one whose inbound pattern is `iif`.
fn with_iif(rules: &Slab<StoredRule>, seqs: &Seqs, iif: &IfPattern) -> Option<u64> {
    seqs.as_slice()
        .iter()
        .copied()
        .find(|s| rules.get(s).is_some_and(|r| r.rule.iif == *iif))
}

/// The interface patterns `routes` name, per family (each counted once): what decides the
/// VIFs, before the rules are filed.
fn referenced_patterns(routes: &[RouteRule]) -> [FastMap<IfPattern, usize>; 2] {
    let mut refs = [FastMap::default(), FastMap::default()];
    let mut last: Option<(usize, &IfPattern)> = None;
    for r in routes {
        let f = r.family().slot();
        for p in std::iter::once(&r.iif).chain(r.oifs.iter()) {
            // Consecutive rules mostly name the same interfaces: skip the hash then.
            if last == Some((f, p)) {
                continue;
            }
            last = Some((f, p));
            let map: &mut FastMap<IfPattern, usize> = &mut refs[f];
            if !map.contains_key(p) {
                map.insert(p.clone(), 1);
            }
        }
    }
    refs
}

fn add_ref(refs: &mut FastMap<IfPattern, usize>, p: &IfPattern) {
    match refs.get_mut(p) {
        Some(n) => *n += 1,
        None => {
            refs.insert(p.clone(), 1);
        }
    }
}

fn unref(refs: &mut FastMap<IfPattern, usize>, p: &IfPattern) {
    if let Some(n) = refs.get_mut(p) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            refs.remove(p);
        }
    }
}

fn prefix_range<'a, V>(
    map: &'a BTreeMap<Name, V>,
    prefix: &'a str,
) -> impl Iterator<Item = (&'a Name, &'a V)> + 'a {
    map.range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
        .take_while(move |(k, _)| k.starts_with(prefix))
}

fn remove_action(r: &Kept) -> Action {
    Action::RemoveRoute {
        source: r.source,
        group: r.group,
        iif: r.iif.to_string(),
    }
}

fn add_vif(family: Family, name: &str, v: &VifState) -> Action {
    Action::AddVif {
        family,
        name: name.to_string(),
        ifindex: v.ifindex,
        threshold: v.threshold,
        mrdisc: v.mrdisc,
    }
}

fn join_action(m: JoinedGroup) -> Action {
    Action::Join {
        name: m.name,
        source: m.source,
        group: m.group,
    }
}

fn leave_action(m: JoinedGroup) -> Action {
    Action::Leave {
        name: m.name,
        source: m.source,
        group: m.group,
    }
}
