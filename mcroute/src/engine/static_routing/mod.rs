//! The static routing engine: smcrouted's semantics, sans-IO.
//!
//! [`StaticEngine`] holds the desired state (a [`StaticConfig`] plus what smcroutectl added at
//! run time), the system's interfaces, and its belief of what is installed: VIFs/MIFs by
//! interface name, MFC routes by (S,G), and group memberships. Every input queues the
//! [`Action`]s that bring the kernel to the desired state ([`StaticEngine::poll_action`]);
//! the daemon executes them on a [`Router`](crate::Router).
//!
//! # Names, not slots
//!
//! The engine reasons about interface *names* only. The Router owns VIF/MIF slot
//! allocation (lowest free slot); the daemon translates names to slots when it executes an
//! action ([`route_to_mfc`](crate::service::static_router::exec::route_to_mfc)) and slots to
//! names when it hands over an upcall
//! ([`dispatch_upcall`](crate::service::static_router::exec::dispatch_upcall)). So the engine
//! never has to mirror the kernel's slot table,
//! and a slot that the Router could not allocate simply drops that interface from the routes
//! (as smcroute does when the VIF table is exhausted).
//!
//! # Driving it
//!
//! The engine follows the convention of every engine of the crate: inputs are
//! `handle_*(now, ...)` calls, outputs are queues the caller drains with `poll_*()`.
//!
//! ```text
//! engine = StaticEngine::new(options)
//! engine.handle_interfaces(now, &router.interfaces()?)
//! engine.handle_config(now, config)?               // refuse a bad config: keep running
//! run()
//! loop {
//!     wait for: upcall fd readable | IPC request | link event | engine.poll_timeout()
//!     upcall   => engine.handle_upcall(now, iif_name, source, group)   (or handle_wrong_vif)
//!     link     => engine.handle_interfaces(now, &router.interfaces()?)
//!     SIGHUP   => if let Err(e) = engine.handle_config(now, parse(file)?) { log(e) }
//!     IPC add  => engine.handle_add_route(now, rule)? ... remove, join, leave, flush
//!     timeout  => engine.handle_timeout(now);
//!                 while let Some((s, g)) = engine.poll_counters_request() {
//!                     engine.handle_counters(now, s, g, router.route_counters(s, g).ok())
//!                 }
//!     run()
//! }
//! run() = while let Some(a) = engine.poll_action() { execute a, or run the -e script }
//! ```
//!
//! Drain [`StaticEngine::poll_action`] after each input: the engine's state (what
//! [`StaticEngine::kernel_routes`] and the other queries report) is complete once it
//! returned `None`. The service in `service::static_router` does all this on a Router.
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
mod sgmap;
mod slab;
#[cfg(test)]
pub(crate) mod tests;
mod vifs;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

pub use action::{Action, Route, ScriptEvent};
pub use config::{
    validate, ConfigError, ConfigItem, IfPattern, JoinRule, Phyint, RouteRule, RuleError,
    StaticConfig, DEFAULT_JOIN_EXPANSION_LIMIT, MAX_IFNAME_LEN,
};

use crate::model::{Family, FastMap, Interface, RouteCounters, MAX_VIFS};
use config::{fmt_net, nth_addr};
use index::{bits, Seqs, TemplateIndex};
use kept::{Kept, Patterns, Rule};
use sgmap::{SgKey, SgMap};
use slab::Slab;
use vifs::{bit, Diff, VifState, VifTable};

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
    /// The size of the VIF and of the MIF table (32 on Linux; the engine handles at most 64).
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

/// Where an installed route stands in the order of [`StaticEngine::kernel_routes`]: whether
/// it is a stop filter (those come last), its family, group and source.
pub type RouteOrder = (bool, Family, IpAddr, IpAddr);

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
    /// An interface of a run-time rule (its inbound interface, an outbound interface named
    /// without a wildcard, or a join's interface) matches no interface on the system.
    #[error("unknown interface {0}")]
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

/// The (source, group) of a normalized template rule: with the inbound pattern, what
/// identifies it.
type RuleKey = (Option<ipnet::IpNet>, ipnet::IpNet);

fn rule_key(r: &RouteRule) -> RuleKey {
    (r.source, r.group)
}

/// The (S,G) of a normalized (S,G) rule, `None` for a template.
fn sg_key(r: &RouteRule) -> Option<SgKey> {
    match r.source {
        Some(s) if r.is_sg() => Some((s.addr(), r.group.addr())),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy)]
struct Installed {
    route: Kept,
    kind: RouteKind,
}

/// The flush timer's view of a learned route or stop filter.
#[derive(Debug, Clone, Copy)]
struct Idle {
    /// When the packet count was last seen to change (or the route was installed).
    since: Instant,
    /// The valid packet count then.
    packets: u64,
}

/// Which routes a change can affect.
enum Scope {
    All,
    Key(SgKey),
    /// The learned routes and stop filters whose group is in this prefix (what a template
    /// with this group prefix can affect).
    Dynamic(ipnet::IpNet),
    /// The VIFs only, even when they change.
    VifsOnly,
    /// The VIFs and the joins; every route if the VIFs change.
    Joins,
}

/// The order of [`sort_key`], as a key of [`StaticEngine::dynamic`]: family, group bits,
/// source bits (the key itself, ordered).
type DynKey = (Family, u128, u128);

const FAMILIES: [Family; 2] = [Family::V4, Family::V6];

/// The order routes are reconciled and reported in: family, group, source. (As integers,
/// which order as the addresses do.)
fn sort_key(k: &SgKey) -> DynKey {
    (Family::of(&k.1), bits(k.1), bits(k.0))
}

/// The (S,G) of a [`DynKey`].
fn key_of(d: &DynKey) -> SgKey {
    let addr = |b: u128| match d.0 {
        Family::V4 => IpAddr::V4(std::net::Ipv4Addr::from(b as u32)),
        Family::V6 => IpAddr::V6(std::net::Ipv6Addr::from(b)),
    };
    (addr(d.2), addr(d.1))
}

fn fmt_sg(source: Option<ipnet::IpNet>, group: ipnet::IpNet) -> String {
    match source {
        Some(s) => format!("({}, {})", fmt_net(s), fmt_net(group)),
        None => format!("(*, {})", fmt_net(group)),
    }
}

/// A configuration applied at start-up, whose (S,G) rules are filed one at a time as the
/// caller drains [`StaticEngine::poll_action`]: each route goes out as soon as its rule is
/// filed, while the next ones are still to be read.
#[derive(Debug)]
struct Startup {
    now: Instant,
    routes: std::vec::IntoIter<RouteRule>,
    joins: Vec<JoinRule>,
    /// The removals of VIFs that go, for after the routes.
    removed_vifs: Vec<Action>,
    /// (S,G)s whose route a rule after the first may change.
    later: Vec<SgKey>,
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
/// engine.handle_interfaces(now, &[iface(2, "eth0"), iface(3, "eth1")]);
/// let config = StaticConfig {
///     routes: vec![RouteRule::new(
///         "eth0", None, "239.1.0.0/16".parse()?, [IfPattern::new("eth1")],
///     )],
///     ..Default::default()
/// };
/// engine.handle_config(now, config).expect("valid");
/// let actions: Vec<Action> = std::iter::from_fn(|| engine.poll_action()).collect();
/// assert_eq!(actions.len(), 3); // the two VIFs, then the script's `reload`
/// // The kernel reports a new flow on eth0: the (*,G) rule answers.
/// engine.handle_upcall(now, "eth0", "192.0.2.7".parse()?, "239.1.2.3".parse()?);
/// let action = engine.poll_action().expect("a route");
/// assert_eq!(action.to_string(), "add route (192.0.2.7, 239.1.2.3) from eth0 to eth1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct StaticEngine {
    options: EngineOptions,
    interfaces: BTreeMap<String, Interface>,
    phyints: Vec<Phyint>,
    rules: Slab<Rule>,
    patterns: Patterns,
    /// The (S,G) rules by (S,G), whatever their inbound pattern, in configuration order:
    /// the identity of a rule for merging and removal.
    sg_rules: SgMap<Seqs>,
    /// The same for the templates, by (source, group) prefixes.
    tpl_rules: FastMap<RuleKey, Seqs>,
    templates: TemplateIndex,
    /// Reference counts of the interface patterns rules name, per family.
    refs: [FastMap<IfPattern, usize>; 2],
    /// The VIFs and MIFs wanted, by interface name and engine slot.
    vifs: [VifTable; 2],
    routes: SgMap<Installed>,
    /// The learned routes and stop filters (the routes a template can change, and the only
    /// ones the flush timer looks at), ordered by group: a template's routes are a range.
    dynamic: BTreeMap<DynKey, Idle>,
    join_rules: BTreeMap<u64, StoredJoin>,
    join_ids: FastMap<JoinRule, u64>,
    next_join_seq: u64,
    memberships: FastMap<JoinedGroup, usize>,
    next_flush: Option<Instant>,
    actions: VecDeque<Action>,
    counter_requests: VecDeque<SgKey>,
    startup: Option<Startup>,
    /// The interfaces that want a VIF (or MIF) and found no free slot, already warned about:
    /// the warning is logged once, not at every interface event.
    starved: BTreeSet<(Family, String)>,
}

/// The VIFs (and MIFs) wanted, by interface name, per family.
type DesiredVifs = [BTreeMap<String, VifState>; 2];

impl StaticEngine {
    /// An engine with no interfaces and an empty configuration.
    pub fn new(options: EngineOptions) -> StaticEngine {
        StaticEngine {
            options,
            interfaces: BTreeMap::new(),
            phyints: Vec::new(),
            rules: Slab::default(),
            patterns: Patterns::default(),
            sg_rules: SgMap::default(),
            tpl_rules: FastMap::default(),
            templates: TemplateIndex::default(),
            refs: [FastMap::default(), FastMap::default()],
            vifs: [VifTable::default(), VifTable::default()],
            routes: SgMap::default(),
            dynamic: BTreeMap::new(),
            join_rules: BTreeMap::new(),
            join_ids: FastMap::default(),
            next_join_seq: 0,
            memberships: FastMap::default(),
            next_flush: None,
            actions: VecDeque::new(),
            counter_requests: VecDeque::new(),
            startup: None,
            starved: BTreeSet::new(),
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
    /// without changing anything. [`StaticEngine::handle_config`] does this first.
    pub fn validate(&self, config: &StaticConfig) -> Result<(), Vec<ConfigError>> {
        config::validate_with(
            config,
            |n| self.interfaces.get(n).map(|i| i.multicast),
            self.options.ipv4,
            self.options.ipv6,
            self.options.join_limit,
        )
    }

    // ----- outputs -----------------------------------------------------------------------

    /// The next thing to do, in order; `None` when everything asked so far was handed out.
    ///
    /// VIFs are added before the routes that use them and removed after; a route is removed
    /// before its inbound VIF goes. At start-up ([`StaticEngine::handle_config`] with no
    /// route installed) the rules are filed as this is called: each route is handed out as
    /// soon as its rule is filed.
    pub fn poll_action(&mut self) -> Option<Action> {
        loop {
            if let Some(a) = self.actions.pop_front() {
                return Some(a);
            }
            if !self.startup_step() {
                return None;
            }
        }
    }

    /// The next (S,G) whose kernel counters the flush timer needs: answer each with
    /// [`StaticEngine::handle_counters`]. Filled by [`StaticEngine::handle_timeout`].
    pub fn poll_counters_request(&mut self) -> Option<(IpAddr, IpAddr)> {
        self.counter_requests.pop_front()
    }

    /// When [`StaticEngine::handle_timeout`] next needs to run, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_flush
    }

    fn emit(&mut self, a: Action) {
        self.actions.push_back(a);
    }

    // ----- inputs ------------------------------------------------------------------------

    /// Tells the engine the system's interfaces (at startup and after every link event).
    ///
    /// New interfaces get the VIFs, routes and joins that waited for them; vanished ones
    /// lose theirs; an interface recreated with a new index gets its VIF again.
    pub fn handle_interfaces(&mut self, now: Instant, interfaces: &[Interface]) {
        self.finish_startup();
        self.interfaces = interfaces
            .iter()
            .map(|i| (i.name.clone(), i.clone()))
            .collect();
        self.refresh(now, Scope::All);
    }

    /// Applies a (new) configuration as a minimal diff against the current state.
    ///
    /// Validates first: on error nothing changes and the running routes stay. Otherwise
    /// unchanged routes and joins are not touched, changed OIF sets are replaced, removed
    /// ones removed, new ones added; learned routes follow their templates (see the module
    /// documentation); rules and joins added at run time are dropped, as smcroute drops them.
    /// The last action is [`ScriptEvent::Reload`]. The rules are moved into the engine.
    ///
    /// A configuration equal to the one applied (rule by rule) changes nothing: only
    /// [`ScriptEvent::Reload`] is queued.
    pub fn handle_config(
        &mut self,
        now: Instant,
        config: StaticConfig,
    ) -> Result<(), Vec<ConfigError>> {
        self.finish_startup();
        self.validate(&config)?;
        if self.is_applied(&config) {
            self.emit(Action::RunScript(ScriptEvent::Reload));
            return Ok(());
        }
        let StaticConfig {
            phyints,
            routes,
            joins,
        } = config;
        self.rules.clear();
        self.patterns.clear();
        self.sg_rules.clear();
        self.tpl_rules.clear();
        self.sg_rules.reserve(routes.len());
        self.rules.reserve(routes.len());
        self.templates = TemplateIndex::default();
        self.phyints = phyints;
        if self.routes.is_empty() {
            // Nothing installed (start-up): the VIFs follow from the phyints and the
            // patterns the rules name, so they go first, and each (S,G) route goes out as
            // soon as its rule is filed (see `Startup`).
            self.refs = referenced_patterns(&routes);
            let removed_vifs = self.refresh(now, Scope::VifsOnly);
            self.refs = [FastMap::default(), FastMap::default()];
            self.startup = Some(Startup {
                now,
                routes: routes.into_iter(),
                joins,
                removed_vifs,
                later: Vec::new(),
            });
            return Ok(());
        }
        self.refs = [FastMap::default(), FastMap::default()];
        for r in routes {
            self.insert_rule(r.into_normalized(), Origin::Config);
        }
        self.set_joins(&joins);
        self.refresh(now, Scope::All);
        self.emit(Action::RunScript(ScriptEvent::Reload));
        Ok(())
    }

    /// Whether `config` is what the engine runs: the same phyints, rules and joins in the
    /// same order (after normalization), and nothing added at run time.
    fn is_applied(&self, config: &StaticConfig) -> bool {
        if config.phyints != self.phyints {
            return false;
        }
        let mut rules = self.rules.values();
        for r in &config.routes {
            match rules.next() {
                Some(k) if k.origin == Origin::Config && self.patterns.same(k, r) => {}
                _ => return false,
            }
        }
        if rules.next().is_some() {
            return false;
        }
        let mut joins = self.join_rules.values();
        config.joins.iter().all(|j| {
            joins
                .next()
                .is_some_and(|k| k.origin == Origin::Config && k.rule == j.normalized())
        }) && joins.next().is_none()
    }

    fn set_joins(&mut self, joins: &[JoinRule]) {
        self.join_rules.clear();
        self.join_ids.clear();
        self.next_join_seq = 0;
        for j in joins {
            let j = j.normalized();
            if !self.join_ids.contains_key(&j) {
                self.insert_join(j, Origin::Config);
            }
        }
    }

    /// Files the next start-up rule (or ends the start-up); false when there is no start-up.
    fn startup_step(&mut self) -> bool {
        let Some(st) = &mut self.startup else {
            return false;
        };
        let now = st.now;
        let Some(r) = st.routes.next() else {
            self.end_startup();
            return true;
        };
        let rule = r.into_normalized();
        let key = sg_key(&rule);
        let (seq, first) = self.insert_rule(rule, Origin::Config);
        match key {
            // The first rule of an (S,G): its route now.
            Some(k) if first => {
                let desired = self.desired_from(k, &Seqs::one(seq));
                self.reconcile_key(now, k, desired, &Default::default());
            }
            // A later one may change it: at the end.
            Some(k) => {
                if let Some(st) = &mut self.startup {
                    st.later.push(k);
                }
            }
            None => {}
        }
        true
    }

    /// Ends the start-up: the (S,G)s later rules changed, the VIFs that go, the joins and
    /// the script's `reload`. The outcome is that of a full pass over every (S,G).
    fn end_startup(&mut self) {
        let Some(st) = self.startup.take() else {
            return;
        };
        let mut later = st.later;
        later.sort_unstable_by_key(sort_key);
        later.dedup();
        for k in later {
            let desired = self.desired_static(k);
            self.reconcile_key(st.now, k, desired, &Default::default());
        }
        for a in st.removed_vifs {
            self.emit(a);
        }
        self.set_joins(&st.joins);
        // Every route is as a full pass would leave it; the VIFs were computed from the
        // same rules (a pass over every route follows if they differ after all).
        self.refresh(st.now, Scope::Joins);
        self.emit(Action::RunScript(ScriptEvent::Reload));
    }

    /// Files every start-up rule still waiting (before any other input).
    fn finish_startup(&mut self) {
        while self.startup.is_some() {
            self.startup_step();
        }
    }

    /// Answers a NOCACHE upcall: (S,G) arrived on interface `iif` and the kernel has no route.
    ///
    /// The first template in configuration order whose inbound pattern matches `iif`, whose
    /// group prefix covers G and whose source prefix (if any) covers S gives the route
    /// (plus [`ScriptEvent::Install`]); on a miss, a stop filter is installed so the kernel
    /// stops asking. The lookup is hashed: its cost depends on the number of distinct prefix
    /// lengths in use, not on the number of rules.
    pub fn handle_upcall(&mut self, now: Instant, iif: &str, source: IpAddr, group: IpAddr) {
        self.finish_startup();
        let family = Family::of(&group);
        if Family::of(&source) != family
            || !group.is_multicast()
            || !self.family_enabled(family)
            || !self.vifs[family.slot()].contains(iif)
        {
            log::debug!("ignoring upcall ({source}, {group}) on {iif}: no VIF or bad addresses");
            return;
        }
        let key = (source, group);
        if let Some(inst) = self.routes.get(&key) {
            if self.vifs[family.slot()].name(inst.route.iif) == iif
                || inst.kind == RouteKind::Static
            {
                // A second upcall queued before the route went in, or a static route that
                // owns the (S,G): nothing to do.
                return;
            }
        }
        self.learn(now, iif, source, group);
    }

    /// Answers a WRONGVIF upcall: (S,G) arrived on `iif`, but its route comes in elsewhere.
    ///
    /// As smcroute 2.6 does (#143): if the route was learned (not an (S,G) rule) and a
    /// template for the arrival interface covers (S,G), the route moves to that interface.
    pub fn handle_wrong_vif(&mut self, now: Instant, iif: &str, source: IpAddr, group: IpAddr) {
        self.finish_startup();
        let family = Family::of(&group);
        if Family::of(&source) != family || !self.vifs[family.slot()].contains(iif) {
            return;
        }
        match self.routes.get(&(source, group)) {
            Some(inst)
                if inst.kind != RouteKind::Static
                    && self.vifs[family.slot()].name(inst.route.iif) != iif => {}
            _ => return,
        }
        if self.templates.lookup(iif, source, group).is_none() {
            return;
        }
        self.learn(now, iif, source, group);
    }

    fn learn(&mut self, now: Instant, iif: &str, source: IpAddr, group: IpAddr) {
        let key = (source, group);
        let family = Family::of(&group);
        // The callers checked that `iif` has a VIF.
        let Some((iif_slot, _)) = self.vifs[family.slot()].get(iif) else {
            return;
        };
        let (kept, kind) = match self.templates.lookup(iif, source, group) {
            Some(seq) => match self.rules.get(&seq) {
                Some(r) => (self.build_route(r, family, iif_slot), RouteKind::Learned),
                None => (Kept::stop_filter(iif_slot), RouteKind::StopFilter),
            },
            None => {
                log::info!(
                    "multicast from {source}, group {group}, on {iif} does not match any (*,G) rule"
                );
                (Kept::stop_filter(iif_slot), RouteKind::StopFilter)
            }
        };
        let route = self.route_of(key, kept);
        let existed = self
            .routes
            .insert(key, Installed { route: kept, kind })
            .is_some();
        self.dynamic.insert(
            sort_key(&key),
            Idle {
                since: now,
                packets: 0,
            },
        );
        self.arm_flush(now);
        self.emit(if existed {
            Action::ReplaceRoute(route)
        } else {
            Action::AddRoute(route)
        });
        if kind == RouteKind::Learned {
            self.emit(Action::RunScript(ScriptEvent::Install { source, group }));
        }
    }

    fn arm_flush(&mut self, now: Instant) {
        if self.next_flush.is_none() {
            if let Some(d) = self.options.flush_interval.filter(|d| !d.is_zero()) {
                self.next_flush = now.checked_add(d);
            }
        }
    }

    /// Runs the cache flush timer (smcrouted `-c`): every learned route and stop filter
    /// that has gone a whole flush interval without being seen to move is due for a check
    /// of its kernel counters: [`StaticEngine::poll_counters_request`] lists them, and
    /// [`StaticEngine::handle_counters`] removes those whose valid packet count did not
    /// move. An idle route goes between one and two intervals after its last packet, as in
    /// smcroute. Does nothing before [`StaticEngine::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.finish_startup();
        let Some(deadline) = self.next_flush else {
            return;
        };
        if now < deadline {
            return;
        }
        let Some(interval) = self.options.flush_interval.filter(|d| !d.is_zero()) else {
            self.next_flush = None;
            return;
        };
        let due: Vec<SgKey> = self
            .dynamic
            .iter()
            .filter(|(_, idle)| now.saturating_duration_since(idle.since) >= interval)
            .map(|(k, _)| key_of(k))
            .collect();
        self.counter_requests.extend(due);
        self.next_flush = if !self.dynamic.is_empty() {
            now.checked_add(interval)
        } else {
            None
        };
    }

    /// The kernel's counters of (S,G), as [`StaticEngine::poll_counters_request`] asked for
    /// them (`None` when they cannot be read: the route is considered gone). A learned route
    /// or stop filter whose valid packet count (`packets - wrong_if`) did not move since it
    /// was last seen is removed.
    pub fn handle_counters(
        &mut self,
        now: Instant,
        source: IpAddr,
        group: IpAddr,
        counters: Option<RouteCounters>,
    ) {
        self.finish_startup();
        let key = (source, group);
        let Some(interval) = self.options.flush_interval.filter(|d| !d.is_zero()) else {
            return;
        };
        let Some(idle) = self.dynamic.get_mut(&sort_key(&key)) else {
            return;
        };
        if now.saturating_duration_since(idle.since) < interval {
            return;
        }
        match counters.map(|c| c.packets.saturating_sub(c.wrong_if)) {
            Some(valid) if valid != idle.packets => {
                idle.packets = valid;
                idle.since = now;
            }
            _ => {
                if let Some(gone) = self.remove_installed(key) {
                    let route = self.route_of(key, gone.route);
                    log::info!("flushing idle route {route}");
                    self.emit(remove_action(route));
                }
                if self.dynamic.is_empty() {
                    self.next_flush = None;
                }
            }
        }
    }

    /// `smcroutectl flush`: removes every learned route and stop filter now. Live flows are
    /// relearned through their next upcall.
    pub fn handle_flush(&mut self, _now: Instant) {
        self.finish_startup();
        self.next_flush = None;
        self.counter_requests.clear();
        let keys: Vec<SgKey> = std::mem::take(&mut self.dynamic)
            .keys()
            .map(key_of)
            .collect();
        for k in keys {
            if let Some(i) = self.routes.remove(&k) {
                let route = self.route_of(k, i.route);
                self.emit(remove_action(route));
            }
        }
    }

    /// The keys of the dynamic index, in its order (tests).
    #[cfg(test)]
    fn dynamic_keys(&self) -> Vec<SgKey> {
        self.dynamic.keys().map(key_of).collect()
    }

    /// The learned routes and stop filters, found by a pass over every route, in the
    /// index's order (tests).
    #[cfg(test)]
    fn non_static_keys(&self) -> Vec<SgKey> {
        let mut keys: Vec<SgKey> = self
            .routes
            .iter()
            .filter(|(_, i)| i.kind != RouteKind::Static)
            .map(|(k, _)| k)
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
    /// The inbound interface must exist (wildcards: match one), and so must every outbound
    /// interface named without a wildcard (a configuration file's rules may name interfaces
    /// that come later). Queues the actions, or fails with nothing changed.
    pub fn handle_add_route(&mut self, now: Instant, rule: RouteRule) -> Result<(), EngineError> {
        self.finish_startup();
        self.check_runtime_rule(&rule)?;
        let rule = rule.into_normalized();
        if !self.interfaces.keys().any(|n| rule.iif.matches(n)) {
            return Err(EngineError::UnknownInterface(rule.iif.to_string()));
        }
        // A typo in an OIF (`add eth0 S G nope0`) is refused, not installed as a stop
        // filter; a wildcard OIF waits for its interfaces.
        if let Some(oif) = rule
            .oifs
            .iter()
            .find(|o| !o.is_wildcard() && !self.interfaces.contains_key(o.name()))
        {
            return Err(EngineError::UnknownInterface(oif.to_string()));
        }
        let scope = scope_of(&rule);
        self.insert_rule(rule, Origin::Runtime);
        self.refresh(now, scope);
        Ok(())
    }

    /// `smcroutectl remove`: without OIFs, removes the rule and what it installed; with OIFs,
    /// removes only those from the rule (which stays, as a stop filter when none remain).
    pub fn handle_remove_route(
        &mut self,
        now: Instant,
        rule: &RouteRule,
    ) -> Result<(), EngineError> {
        self.finish_startup();
        rule.check()?;
        let rule = rule.normalized();
        let Some(seq) = self.find_rule(&rule) else {
            return Err(EngineError::NoSuchRoute(rule.to_string()));
        };
        let scope = scope_of(&rule);
        if rule.oifs.is_empty() {
            self.remove_rule(seq);
        } else {
            self.remove_oifs(seq, &rule.oifs);
        }
        self.refresh(now, scope);
        Ok(())
    }

    /// Takes `oifs` out of the outbound list of rule `seq`.
    fn remove_oifs(&mut self, seq: u64, oifs: &[IfPattern]) {
        let Some(stored) = self.rules.get(&seq) else {
            return;
        };
        let family = Family::of(&stored.group.addr()).slot();
        let mut kept = Vec::new();
        for &p in self.patterns.list(stored.oifs) {
            let pat = self.patterns.pat(p);
            if oifs.contains(pat) {
                unref(&mut self.refs[family], pat);
            } else {
                kept.push(p);
            }
        }
        let list = self.patterns.intern_list(&kept);
        if let Some(stored) = self.rules.get_mut(&seq) {
            stored.oifs = list;
        }
    }

    /// `smcroutectl join`: joins a group (or range) on an interface at run time.
    pub fn handle_join(&mut self, _now: Instant, rule: JoinRule) -> Result<(), EngineError> {
        self.finish_startup();
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
        for m in self.expand_join(&rule) {
            let n = self.memberships.entry(m.clone()).or_default();
            *n += 1;
            if *n == 1 {
                self.emit(join_action(m));
            }
        }
        self.insert_join(rule, Origin::Runtime);
        Ok(())
    }

    /// `smcroutectl leave`: leaves what a join rule (from the file or run time) joined. The
    /// rule must be repeated exactly (interface, source, group and lengths).
    pub fn handle_leave(&mut self, _now: Instant, rule: &JoinRule) -> Result<(), EngineError> {
        self.finish_startup();
        let rule = rule.normalized();
        let Some(seq) = self.join_ids.remove(&rule) else {
            return Err(EngineError::NotJoined(format!(
                "{} on {}",
                fmt_sg(rule.source, rule.group),
                rule.iif
            )));
        };
        self.join_rules.remove(&seq);
        for m in self.expand_join(&rule) {
            if let Some(n) = self.memberships.get_mut(&m) {
                *n -= 1;
                if *n == 0 {
                    self.memberships.remove(&m);
                    self.emit(leave_action(m));
                }
            }
        }
        Ok(())
    }

    // ----- queries (smcroutectl show) ----------------------------------------------------

    /// The rules, in configuration order, in their public form.
    fn stored_rules(&self) -> impl Iterator<Item = (bool, StoredRule)> + '_ {
        self.rules_from(0).map(|(_, r)| (r.rule.is_sg(), r))
    }

    /// The template rules ((*,G) and the other non-(S,G) forms), in configuration order.
    pub fn template_rules(&self) -> impl Iterator<Item = StoredRule> + '_ {
        self.stored_rules().filter(|(sg, _)| !sg).map(|(_, r)| r)
    }

    /// The (S,G) rules, in configuration order.
    pub fn sg_rules(&self) -> impl Iterator<Item = StoredRule> + '_ {
        self.stored_rules().filter(|(sg, _)| *sg).map(|(_, r)| r)
    }

    /// The number of installed routes.
    pub fn route_count(&self) -> usize {
        self.routes.len()
    }

    /// The routes the engine believes are in the kernel: forwarding routes first, then stop
    /// filters, each sorted by family, group and source.
    pub fn kernel_routes(&self) -> Vec<InstalledRoute> {
        let mut keys: Vec<(bool, DynKey, RouteKind, Kept)> = self
            .routes
            .iter()
            .map(|(k, i)| (i.route.oifs == 0, sort_key(&k), i.kind, i.route))
            .collect();
        keys.sort_unstable_by_key(|(stop, k, ..)| (*stop, *k));
        keys.into_iter()
            .map(|(_, k, kind, r)| InstalledRoute {
                route: self.route_of(key_of(&k), r),
                kind,
            })
            .collect()
    }

    /// The installed routes that come after `after` in the order of
    /// [`StaticEngine::kernel_routes`] (from the first with `None`), at most `limit`: a page
    /// of a listing that resumes where it stopped even if the table changed meanwhile,
    /// without copying the table. Time: one pass over the routes, O(n log limit).
    pub fn kernel_routes_after(
        &self,
        after: Option<RouteOrder>,
        limit: usize,
    ) -> Vec<InstalledRoute> {
        // Compared as integers (the order of the addresses), the stop-filter flag first.
        let after = after.map(|(stop, _, group, source)| (stop, sort_key(&(source, group))));
        let limit = limit.max(1);
        let mut page = std::collections::BinaryHeap::with_capacity(limit + 1);
        for (key, i) in self.routes.iter() {
            let k = (i.route.oifs == 0, sort_key(&key));
            if after.is_some_and(|a| k <= a) {
                continue;
            }
            if page.len() < limit {
                page.push(k);
            } else if page.peek().is_some_and(|last| k < *last) {
                page.pop();
                page.push(k);
            }
        }
        page.into_sorted_vec()
            .into_iter()
            .filter_map(|(_, k)| {
                let (source, group) = key_of(&k);
                self.route(source, group)
            })
            .collect()
    }

    /// The rules from sequence number `seq` on, with their numbers, in configuration order
    /// (to resume a listing: the next one starts at the last number plus one).
    pub fn rules_from(&self, seq: u64) -> impl Iterator<Item = (u64, StoredRule)> + '_ {
        self.rules.iter_from(seq).map(|(n, r)| {
            let rule = self.patterns.rule(r);
            (
                n,
                StoredRule {
                    rule,
                    origin: r.origin,
                },
            )
        })
    }

    /// The installed route of (S,G), if any.
    pub fn route(&self, source: IpAddr, group: IpAddr) -> Option<InstalledRoute> {
        let key = (source, group);
        self.routes.get(&key).map(|i| InstalledRoute {
            route: self.route_of(key, i.route),
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
                    .map(move |(name, _, v)| VifInfo {
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
        self.vifs[family.slot()].contains(name)
    }

    /// Rules waiting for an interface (`smcroutectl show pending`).
    pub fn pending(&self) -> Vec<Pending> {
        let mut out = Vec::new();
        for r in self.rules.values() {
            let rule = self.patterns.rule(r);
            let vifs = &self.vifs[rule.family().slot()];
            let mut missing = Vec::new();
            if !vifs.iter().any(|(n, ..)| rule.iif.matches(n)) {
                missing.push(rule.iif.clone());
            }
            for o in &rule.oifs {
                if let IfPattern::Name(n) = o {
                    if !vifs.contains(n) && !missing.contains(o) {
                        missing.push(o.clone());
                    }
                }
            }
            if !missing.is_empty() {
                out.push(Pending::Route { rule, missing });
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

    /// The rules with the same source and group as the normalized `rule`, if any.
    fn seqs_of(&self, rule: &RouteRule) -> Option<&Seqs> {
        match sg_key(rule) {
            Some(k) => self.sg_rules.get(&k),
            None => self.tpl_rules.get(&rule_key(rule)),
        }
    }

    /// The rule with the same inbound pattern, source and group as the normalized `rule`.
    fn find_rule(&self, rule: &RouteRule) -> Option<u64> {
        let iif = self.patterns.find(&rule.iif)?;
        with_iif(&self.rules, self.seqs_of(rule)?, iif)
    }

    /// Adds a normalized rule, or merges its OIFs into the identical one. Returns its
    /// sequence number, and whether it is the first rule of its (source, group).
    fn insert_rule(&mut self, rule: RouteRule, origin: Origin) -> (u64, bool) {
        if let Some(existing) = self.find_rule(&rule) {
            self.merge_oifs(existing, rule.oifs);
            return (existing, false);
        }
        let seq = self.rules.next_seq();
        let first = match sg_key(&rule) {
            Some(k) => match self.sg_rules.get_mut(&k) {
                // Sequence numbers only grow: pushing keeps each list in configuration order.
                Some(s) => {
                    s.push(seq);
                    false
                }
                None => {
                    self.sg_rules.insert(k, Seqs::one(seq));
                    true
                }
            },
            None => match self.tpl_rules.get_mut(&rule_key(&rule)) {
                Some(s) => {
                    s.push(seq);
                    false
                }
                None => {
                    self.tpl_rules.insert(rule_key(&rule), Seqs::one(seq));
                    true
                }
            },
        };
        let family = rule.family().slot();
        for p in std::iter::once(&rule.iif).chain(rule.oifs.iter()) {
            add_ref(&mut self.refs[family], p);
        }
        if !rule.is_sg() {
            self.templates
                .insert(seq, &rule.iif, rule.source, rule.group);
        }
        let kept = self.patterns.keep(rule, origin);
        self.rules.push(kept);
        (seq, first)
    }

    /// Adds the outbound patterns of `oifs` that rule `seq` lacks.
    fn merge_oifs(&mut self, seq: u64, oifs: Vec<IfPattern>) {
        let Some(stored) = self.rules.get(&seq) else {
            return;
        };
        let family = Family::of(&stored.group.addr()).slot();
        let mut list = self.patterns.list(stored.oifs).to_vec();
        let before = list.len();
        for o in oifs {
            let id = self.patterns.intern(o);
            if !list.contains(&id) {
                add_ref(&mut self.refs[family], self.patterns.pat(id));
                list.push(id);
            }
        }
        if list.len() != before {
            let id = self.patterns.intern_list(&list);
            if let Some(stored) = self.rules.get_mut(&seq) {
                stored.oifs = id;
            }
        }
    }

    fn remove_rule(&mut self, seq: u64) {
        let Some(stored) = self.rules.remove(&seq) else {
            return;
        };
        let rule = self.patterns.rule(&stored);
        let family = rule.family().slot();
        let emptied = match sg_key(&rule) {
            Some(k) => self.sg_rules.get_mut(&k).map(|s| (s.remove(seq), Some(k))),
            None => self
                .tpl_rules
                .get_mut(&rule_key(&rule))
                .map(|s| (s.remove(seq), None)),
        };
        match emptied {
            Some((true, Some(k))) => {
                self.sg_rules.remove(&k);
            }
            Some((true, None)) => {
                self.tpl_rules.remove(&rule_key(&rule));
            }
            _ => {}
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

    /// The VIFs wanted, and the interfaces that want one but find no free slot.
    fn desired_vifs(&self) -> (DesiredVifs, BTreeSet<(Family, String)>) {
        let mut starved = BTreeSet::new();
        let mut out = [BTreeMap::new(), BTreeMap::new()];
        let mut by_index: Vec<&Interface> = self.interfaces.values().collect();
        by_index.sort_by_key(|i| (i.index, i.name.as_str()));
        let max = self.options.max_vifs.min(vifs::MAX_SLOTS);
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
            if first.len() > max {
                for (i, _) in &first[max..] {
                    starved.insert((family, i.name.clone()));
                }
            }
            for (iface, phy) in first.into_iter().chain(rest).take(max) {
                out[family.slot()].insert(
                    iface.name.clone(),
                    VifState {
                        ifindex: iface.index,
                        threshold: phy.map_or(1, |p| p.ttl_threshold.max(1)),
                        mrdisc: phy.is_some_and(|p| p.mrdisc),
                    },
                );
            }
        }
        (out, starved)
    }

    /// Brings the VIFs to the desired state: the actions to take before the routes
    /// (`pre`), after them (`post`), and what changed for the routes, per family.
    fn update_vifs(&mut self) -> (Vec<Action>, Vec<Action>, [Change; 2], bool) {
        let (desired, starved) = self.desired_vifs();
        for (family, name) in starved.difference(&self.starved) {
            log::warn!("not enough {family} interface slots for {name}: it gets no VIF");
        }
        // An interface that got its slot (or went) is warned about again if it loses it.
        self.starved = starved;
        let mut pre = Vec::new();
        let mut post = Vec::new();
        let mut changes = [Change::default(), Change::default()];
        let mut changed = false;
        for (family, new) in FAMILIES.into_iter().zip(desired) {
            let old = &self.vifs[family.slot()];
            let change = &mut changes[family.slot()];
            for (name, s, o) in old.iter() {
                match new.get(name) {
                    None => {
                        changed = true;
                        change.gone.push((s, name.into()));
                        post.push(Action::RemoveVif {
                            family,
                            name: name.to_string(),
                        });
                    }
                    Some(n) if n.ifindex != o.ifindex => {
                        changed = true;
                        change.diff.reset |= bit(s);
                        pre.push(Action::RemoveVif {
                            family,
                            name: name.to_string(),
                        });
                        pre.push(add_vif(family, name, n));
                    }
                    Some(n) => {
                        if n.threshold != o.threshold {
                            changed = true;
                            change.diff.oifs |= bit(s);
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
            for (name, n) in &new {
                if !old.contains(name) {
                    changed = true;
                    pre.push(add_vif(family, name, n));
                }
            }
            let reused = self.vifs[family.slot()].set(new);
            change.diff.oifs |= reused;
            change.diff.iif |= reused;
        }
        (pre, post, changes, changed)
    }

    /// Recomputes the VIFs and brings the routes of `scope` (and, for `All`, the joins) to
    /// the desired state, queueing the actions. With [`Scope::VifsOnly`] the removals of
    /// VIFs that go are returned instead, for the caller to queue after the routes;
    /// otherwise nothing is returned.
    fn refresh(&mut self, now: Instant, mut scope: Scope) -> Vec<Action> {
        let (pre, post, changes, changed) = self.update_vifs();
        if changed && !matches!(scope, Scope::VifsOnly) {
            scope = Scope::All;
        }
        self.actions.extend(pre);
        match scope {
            Scope::VifsOnly => return post,
            Scope::Joins => {
                self.actions.extend(post);
                let joins = self.reconcile_joins();
                self.actions.extend(joins);
                return Vec::new();
            }
            Scope::Key(k) => {
                let desired = self.desired_static(k);
                self.reconcile_key(now, k, desired, &changes);
            }
            Scope::Dynamic(groups) => {
                // Only the dynamic routes in the template's group range: a range of the
                // ordered index, not a pass over every installed route.
                let family = Family::of(&groups.addr());
                let lo = (family, bits(groups.network()), 0);
                let hi = (family, bits(groups.broadcast()), u128::MAX);
                let keys: Vec<SgKey> = self
                    .dynamic
                    .range(lo..=hi)
                    .map(|(k, _)| key_of(k))
                    .collect();
                for k in keys {
                    let desired = self.desired_static(k);
                    self.reconcile_key(now, k, desired, &changes);
                }
            }
            Scope::All => {
                // Every (S,G) with a rule, then every installed one without, in order.
                let mut keys: Vec<SgKey> =
                    Vec::with_capacity(self.sg_rules.len() + self.routes.len());
                keys.extend(self.sg_rules.keys());
                let sg_rules = &self.sg_rules;
                keys.extend(self.routes.keys().filter(|k| !sg_rules.contains_key(k)));
                // The keys are distinct: an unstable sort gives the one order.
                keys.sort_unstable_by_key(sort_key);
                for k in keys {
                    let desired = self.desired_static(k);
                    self.reconcile_key(now, k, desired, &changes);
                }
                self.actions.extend(post);
                let joins = self.reconcile_joins();
                self.actions.extend(joins);
                return Vec::new();
            }
        }
        self.actions.extend(post);
        Vec::new()
    }

    /// The route an (S,G) rule gives (S,G), if one can be installed.
    fn desired_static(&self, key: SgKey) -> Option<Kept> {
        self.desired_from(key, self.sg_rules.get(&key)?)
    }

    /// The route the (S,G) rules `seqs` of (S,G) give, if one can be installed.
    fn desired_from(&self, key: SgKey, seqs: &Seqs) -> Option<Kept> {
        let family = Family::of(&key.1);
        let vifs = &self.vifs[family.slot()];
        for seq in seqs.as_slice() {
            let Some(stored) = self.rules.get(seq) else {
                continue;
            };
            let iif = match self.patterns.pat(stored.iif) {
                IfPattern::Name(n) => vifs.get(n).map(|(s, _)| s),
                IfPattern::Prefix(p) => vifs.prefix_range(p).next().map(|(_, s)| s),
            };
            if let Some(iif) = iif {
                return Some(self.build_route(stored, family, iif));
            }
        }
        None
    }

    /// The route rule `rule` gives from inbound slot `iif`.
    fn build_route(&self, rule: &Rule, family: Family, iif: u8) -> Kept {
        let vifs = &self.vifs[family.slot()];
        let mut oifs = 0u64;
        for p in self.patterns.list_pats(rule.oifs) {
            match p {
                IfPattern::Name(n) => {
                    if let Some((s, _)) = vifs.get(n) {
                        oifs |= bit(s);
                    }
                }
                IfPattern::Prefix(pre) => {
                    for (_, s) in vifs.prefix_range(pre) {
                        if s != iif {
                            oifs |= bit(s);
                        }
                    }
                }
            }
        }
        Kept { iif, oifs }
    }

    /// The public form of the route `kept` of `key`, with interface names and thresholds.
    fn route_of(&self, key: SgKey, kept: Kept) -> Route {
        self.route_named(key, kept, None)
    }

    /// [`StaticEngine::route_of`], the inbound name taken from `gone` when its slot went in
    /// the refresh under way.
    fn route_named(&self, key: SgKey, kept: Kept, gone: Option<&Change>) -> Route {
        let vifs = &self.vifs[Family::of(&key.1).slot()];
        let iif = gone
            .and_then(|c| c.gone_name(kept.iif))
            .unwrap_or_else(|| vifs.name(kept.iif));
        let mut oifs = Vec::with_capacity(kept.oifs.count_ones() as usize);
        let mut rest = kept.oifs;
        while rest != 0 {
            let s = rest.trailing_zeros() as u8;
            rest &= rest - 1;
            oifs.push((String::from(vifs.name(s)), vifs.threshold(s)));
        }
        if oifs.len() > 1 {
            oifs.sort();
        }
        Route {
            source: key.0,
            group: key.1,
            iif: String::from(iif),
            oifs,
        }
    }

    /// Brings the route of one (S,G) to the desired state; `desired` is what its (S,G)
    /// rules give ([`StaticEngine::desired_static`]); `changes` what the refresh under way
    /// changed in the VIFs.
    fn reconcile_key(
        &mut self,
        now: Instant,
        key: SgKey,
        desired: Option<Kept>,
        changes: &[Change; 2],
    ) {
        let family = Family::of(&key.1);
        let change = &changes[family.slot()];
        let Some(inst) = self.routes.get(&key).copied() else {
            // A new route.
            if let Some(r) = desired {
                self.routes.insert(
                    key,
                    Installed {
                        route: r,
                        kind: RouteKind::Static,
                    },
                );
                let route = self.route_of(key, r);
                self.emit(Action::AddRoute(route));
            }
            return;
        };
        let (want, kind) = match desired {
            Some(r) => (Some(r), RouteKind::Static),
            None => self.dynamic_desired(key, inst, change),
        };
        let Some(r) = want else {
            if let Some(gone) = self.remove_installed(key) {
                let route = self.route_named(key, gone.route, Some(change));
                self.emit(remove_action(route));
            }
            return;
        };
        let (was_reset, touched) = (
            change.diff.resets(inst.route.iif, inst.route.oifs),
            change.diff.touches(inst.route.iif, inst.route.oifs),
        );
        if (inst.kind == RouteKind::Static) != (kind == RouteKind::Static) {
            if kind == RouteKind::Static {
                self.dynamic.remove(&sort_key(&key));
            } else {
                self.dynamic.insert(
                    sort_key(&key),
                    Idle {
                        since: now,
                        packets: 0,
                    },
                );
            }
        }
        let changed = inst.route != r || touched;
        if let Some(i) = self.routes.get_mut(&key) {
            i.kind = kind;
            if changed || was_reset {
                i.route = r;
            }
        }
        if changed || was_reset {
            let route = self.route_of(key, r);
            self.emit(if was_reset {
                Action::AddRoute(route)
            } else {
                Action::ReplaceRoute(route)
            });
        }
    }

    /// What a route without an (S,G) rule becomes: a learned route or stop filter is looked
    /// up again in the templates (see the module documentation); a static one goes.
    fn dynamic_desired(
        &self,
        key: SgKey,
        inst: Installed,
        change: &Change,
    ) -> (Option<Kept>, RouteKind) {
        if inst.kind == RouteKind::Static {
            return (None, RouteKind::Static);
        }
        let family = Family::of(&key.1);
        let vifs = &self.vifs[family.slot()];
        let s = inst.route.iif;
        // The inbound VIF went (its slot freed, or given to another interface).
        if change.gone_name(s).is_some() || vifs.name(s).is_empty() {
            return (None, inst.kind);
        }
        match self
            .templates
            .lookup(vifs.name(s), key.0, key.1)
            .and_then(|seq| self.rules.get(&seq))
        {
            Some(stored) => (
                Some(self.build_route(stored, family, s)),
                RouteKind::Learned,
            ),
            None if inst.kind == RouteKind::StopFilter => (Some(inst.route), RouteKind::StopFilter),
            None => (None, RouteKind::Learned),
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

/// What a refresh changed in the VIFs of one family, for the routes.
#[derive(Debug, Default)]
struct Change {
    diff: Diff,
    /// The slots freed, with the names they had.
    gone: Vec<(u8, Box<str>)>,
}

impl Change {
    /// The name slot `s` had, if it was freed.
    fn gone_name(&self, s: u8) -> Option<&str> {
        self.gone.iter().find(|(g, _)| *g == s).map(|(_, n)| &**n)
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
    match sg_key(rule) {
        Some(k) => Scope::Key(k),
        None => Scope::Dynamic(rule.group),
    }
}

/// Of the rules `seqs` (one (source, group)), the one whose inbound pattern is `iif`.
fn with_iif(rules: &Slab<Rule>, seqs: &Seqs, iif: kept::PatId) -> Option<u64> {
    seqs.as_slice()
        .iter()
        .copied()
        .find(|s| rules.get(s).is_some_and(|r| r.iif == iif))
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

fn remove_action(r: Route) -> Action {
    Action::RemoveRoute {
        source: r.source,
        group: r.group,
        iif: r.iif,
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
