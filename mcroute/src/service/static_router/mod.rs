//! The static router as a service: a [`Router`], the [`StaticEngine`] and the control
//! protocol tied together, so a daemon (the `static-router` example, or any embedder) only
//! reads files, runs its event loop and handles signals.
//!
//! ```no_run
//! use std::time::Instant;
//! use mcroute::service::static_router::{read_config, LoadError, StaticService};
//! use mcroute::engine::static_routing::EngineOptions;
//! use mcroute::{platform::Native, Router, RouterOptions};
//!
//! let router = Router::open(Native::new()?, RouterOptions::dual_stack())?;
//! let mut svc = StaticService::new(router, EngineOptions::default());
//! svc.refresh_interfaces(Instant::now())?;
//! // Parse errors, then rule errors, each at `file:line:column` ([`LoadError`]).
//! let lines = |e: Vec<LoadError>| e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n");
//! let config = read_config("/etc/smcroute.conf".as_ref(), true).map_err(lines)?;
//! svc.apply_loaded(Instant::now(), config).map_err(lines)?;
//! loop {
//!     // poll the Router's fd (svc.router().as_fd()) and the control socket, then:
//!     svc.handle_upcalls(Instant::now())?;
//!     svc.handle_timeout(Instant::now());
//! #   break;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::config::smcroute::{self as conf, Directive, PhyintState};
use crate::config::Span;
use crate::ctl::{GroupRow, InterfaceRow, Request, Response, ShowWhat};
use crate::engine::mrdisc::{MrdiscConfig, MrdiscEngine, Repr as MrdiscRepr};
use crate::engine::static_routing::{
    Action, ConfigItem, EngineError, EngineOptions, IfPattern, JoinRule, Phyint, RouteRule,
    ScriptEvent, StaticConfig, StaticEngine,
};
use crate::error::Result;
use crate::model::Family;
use crate::model::MfcEntry;
use crate::platform::Platform;
use crate::router::{RouteBatch, Router};
use crate::service::mrdisc::MrdiscSocket;

pub mod exec;
mod show;

pub use show::{RoutesCursor, KERNEL_PAGE};

/// Parses one smcroute.conf text as [`conf::parse_source`] does, but a large text in two
/// halves at once, the second on a helper thread (the same AST and errors, in file order).
pub fn parse_source_parallel(
    text: &str,
    file: crate::config::FileId,
    path: &Path,
) -> (conf::Config, Vec<crate::config::ConfigError>) {
    if let Some(h) = conf::split_halves(text) {
        let parsed = std::thread::scope(|s| {
            let worker = std::thread::Builder::new()
                .name("mcroute-parse".into())
                .spawn_scoped(s, || conf::parse_part(h.tail, h.tail_first, 0, file, path))
                .ok()?;
            let head = conf::parse_part(h.head, 1, h.lines, file, path);
            Some(conf::join_parts(head, worker.join().ok()?))
        });
        if let Some(p) = parsed {
            return p;
        }
    }
    conf::parse_source(text, file, path)
}

/// A configuration read from smcroute.conf (and its includes), ready for the engine, with
/// the position of every item for error messages.
#[derive(Debug, Clone, Default)]
pub struct LoadedConfig {
    /// The desired state.
    pub config: StaticConfig,
    /// Whether the file existed (smcrouted runs without one).
    pub found: bool,
    files: Vec<PathBuf>,
    phyint_spans: Vec<Span>,
    route_spans: Vec<Span>,
    join_spans: Vec<Span>,
}

/// A configuration error at its place: the file could not be read or parsed, or the
/// static engine refuses a rule. `Display` gives `FILE:LINE:COLUMN: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A read or parse error of smcroute.conf or one of its includes.
    #[error(transparent)]
    Parse(#[from] crate::config::ConfigError),
    /// A rule the engine refuses, where it stands in the file.
    #[error("{}: {}", RuleSite(.file.as_deref(), *.line, *.column, *.item), .error)]
    Rule {
        /// The file of the rule (`None` for a rule without a place in a file).
        file: Option<PathBuf>,
        /// Its line, from 1.
        line: u32,
        /// Its column, from 1.
        column: u32,
        /// Which rule.
        item: ConfigItem,
        /// What is wrong with it.
        error: crate::engine::static_routing::RuleError,
    },
}

impl LoadError {
    /// The configuration at `path` could not be read (`error`), as a whole.
    pub fn unreadable(path: &Path, error: &io::Error) -> LoadError {
        LoadError::Parse(crate::config::ConfigError::new(
            path,
            0,
            0,
            crate::config::ErrorKind::Io {
                path: path.to_path_buf(),
                kind: error.kind(),
                message: error.to_string(),
            },
        ))
    }
}

/// Where a refused rule stands: `file:line:column`, or the rule's own name.
struct RuleSite<'a>(Option<&'a Path>, u32, u32, ConfigItem);

impl std::fmt::Display for RuleSite<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(file) => write!(f, "{}:{}:{}", file.display(), self.1, self.2),
            None => write!(f, "{}", self.3),
        }
    }
}

/// Every error of a configuration, in file order.
pub type LoadErrors = Vec<LoadError>;

impl LoadedConfig {
    /// The engine's rule errors `errors`, each placed at its rule's file, line and column.
    pub fn locate(&self, errors: &[crate::engine::static_routing::ConfigError]) -> LoadErrors {
        errors.iter().map(|e| self.located(e)).collect()
    }

    fn located(&self, e: &crate::engine::static_routing::ConfigError) -> LoadError {
        let span = match e.item {
            ConfigItem::Phyint(i) => self.phyint_spans.get(i),
            ConfigItem::Route(i) => self.route_spans.get(i),
            ConfigItem::Join(i) => self.join_spans.get(i),
        };
        LoadError::Rule {
            file: span.map(|s| {
                self.files
                    .get(s.file.0 as usize)
                    .cloned()
                    .unwrap_or_default()
            }),
            line: span.map_or(0, |s| s.line),
            column: span.map_or(0, |s| s.column),
            item: e.item,
            error: e.error.clone(),
        }
    }
}

/// Turns parsed directives into the engine's desired state. `default_enable` is what a
/// `phyint` line without `enable`/`disable` means (smcrouted: enable, unless `-N`). The
/// directives are consumed: their interface names move into the rules.
pub fn from_directives(directives: Vec<Directive>, default_enable: bool) -> LoadedConfig {
    let mut out = LoadedConfig::default();
    out.config.routes.reserve(directives.len());
    out.route_spans.reserve(directives.len());
    for d in directives {
        match d {
            Directive::Phyint(p) => {
                out.config.phyints.push(Phyint {
                    ttl_threshold: p.threshold(),
                    pattern: p.interface.value,
                    enable: p
                        .state
                        .map_or(default_enable, |s| s.value == PhyintState::Enable),
                    mrdisc: p.mrdisc.is_some(),
                });
                out.phyint_spans.push(p.span);
            }
            Directive::Mroute(m) => {
                let source = m.source_range();
                out.config.routes.push(RouteRule {
                    iif: m.from.value,
                    source,
                    group: m.group.value,
                    // A new vector of the exact size: collecting in place would keep the
                    // parser's larger buffer (the spans make its elements bigger).
                    oifs: {
                        let mut oifs = Vec::with_capacity(m.to.len());
                        oifs.extend(m.to.into_iter().map(|o| o.value));
                        oifs
                    },
                });
                out.route_spans.push(m.span);
            }
            Directive::Mgroup(g) => {
                let source = g.source_range();
                out.config
                    .joins
                    .push(JoinRule::new(g.from.value, source, g.group.value));
                out.join_spans.push(g.span);
            }
            Directive::Include(_) => {}
        }
    }
    out
}

/// Reads smcroute.conf at `path` with its includes and checks it against the engine's
/// options and the interfaces it knows. Every error is returned, as `file:line:column:
/// message`. A missing file is an empty configuration (`found` false), as smcrouted runs
/// without one.
pub fn load_config<P: Platform>(
    path: &Path,
    default_enable: bool,
    service: &StaticService<P>,
) -> std::result::Result<LoadedConfig, LoadErrors> {
    let cfg = read_config(path, default_enable)?;
    service
        .engine
        .validate(&cfg.config)
        .map_err(|e| cfg.locate(&e))?;
    Ok(cfg)
}

/// Reads smcroute.conf at `path` with its includes, without checking the rules against the
/// engine: parse errors only, at `file:line:column` ([`LoadError`]). A missing file is an empty
/// configuration (`found` false). [`StaticService::apply_loaded`] checks and applies it,
/// with the same located messages for rule errors; this pair is the daemon's fast path
/// (one check, no copy of the rules).
pub fn read_config(
    path: &Path,
    default_enable: bool,
) -> std::result::Result<LoadedConfig, LoadErrors> {
    read(path, default_enable, true, &mut crate::config::FileSystem)
}

/// Reads smcroute.conf again for a reload (SIGHUP, `mcroutectl reload`), from `source`:
/// the file system, or a [`Replay`](crate::config::Replay) of what a process that kept
/// its privileges read. Unlike at start-up, a file that does not exist (or cannot be read)
/// is an error: the caller keeps the running configuration rather than removing every
/// route. An empty file is an empty configuration.
pub fn reread_config(
    path: &Path,
    default_enable: bool,
    source: &mut dyn crate::config::Source,
) -> std::result::Result<LoadedConfig, LoadErrors> {
    read(path, default_enable, false, source)
}

/// Reads `path` with its includes and turns it into the engine's state, every parse error
/// at `file:line:column` ([`LoadError`]). With `missing_ok`, a file that does not exist is an
/// empty configuration.
fn read(
    path: &Path,
    default_enable: bool,
    missing_ok: bool,
    source: &mut dyn crate::config::Source,
) -> std::result::Result<LoadedConfig, LoadErrors> {
    let (loaded, errors) = conf::load_from(path, &parse_source_parallel, source);
    if missing_ok
        && errors.len() == 1
        && errors[0].line == 0
        && matches!(&errors[0].kind, crate::config::ErrorKind::Io { kind, .. } if *kind == io::ErrorKind::NotFound)
    {
        return Ok(LoadedConfig::default());
    }
    if !errors.is_empty() {
        return Err(errors.into_iter().map(LoadError::Parse).collect());
    }
    let mut cfg = from_directives(loaded.directives, default_enable);
    cfg.found = true;
    cfg.files = loaded.files;
    Ok(cfg)
}

/// What a control request asks the daemon itself to do, beyond the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Nothing more.
    None,
    /// Reload the configuration (as SIGHUP).
    Reload,
    /// Exit (as SIGTERM).
    Kill,
}

/// Counts of what the service did, for logs and `show`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceStats {
    /// Upcalls handled.
    pub upcalls: u64,
    /// Actions executed.
    pub actions: u64,
    /// Actions the kernel refused.
    pub failed_actions: u64,
}

/// The most upcalls read before the routes they give are installed.
pub const UPCALL_ROUND: usize = 1024;

/// Multicast Router Discovery on the interfaces whose `phyint` says `mrdisc`: the sans-IO
/// engine and one socket per family, opened when first needed.
struct Mrdisc {
    engine: MrdiscEngine,
    socks: [Option<MrdiscSocket>; 2],
    enabled: HashMap<(Family, String), u32>,
}

impl Mrdisc {
    fn enable(&mut self, now: Instant, family: Family, name: &str, ifindex: u32) {
        if self.enabled.contains_key(&(family, name.to_string())) {
            return;
        }
        let sock = match &mut self.socks[family.slot()] {
            Some(s) => s,
            slot @ None => match MrdiscSocket::open(family) {
                Ok(s) => slot.insert(s),
                Err(e) => {
                    log::error!("mrdisc on {name}: {e}");
                    return;
                }
            },
        };
        if let Err(e) = sock.join(ifindex) {
            log::warn!("mrdisc on {name}: {e}");
        }
        self.engine.enable(now, family, ifindex);
        self.enabled.insert((family, name.to_string()), ifindex);
        log::info!("{family} multicast router discovery on {name}");
    }

    fn disable(&mut self, now: Instant, family: Family, name: &str) {
        if let Some(ifindex) = self.enabled.remove(&(family, name.to_string())) {
            self.engine.disable(now, family, ifindex);
            if let Some(s) = &mut self.socks[family.slot()] {
                let _ = s.leave(ifindex);
            }
        }
    }

    fn flush(&mut self) {
        while let Some(tx) = self.engine.poll_transmit() {
            if let Some(s) = &self.socks[tx.family().slot()] {
                if let Err(e) = s.send(&tx) {
                    log::warn!("mrdisc: {e}");
                }
            }
        }
    }
}

/// Executes one engine action through a route batch: scripts are queued, mrdisc follows
/// the VIFs (its packets go out at the next [`Mrdisc::flush`]), failures are logged and
/// counted (a refused route may be known only at [`RouteBatch::finish`]:
/// [`report_refused`]).
fn run_action<P: Platform>(
    batch: &mut RouteBatch<'_, P>,
    stats: &mut ServiceStats,
    scripts: &mut Vec<ScriptEvent>,
    mrdisc: &mut Option<Mrdisc>,
    now: Instant,
    action: Action,
) {
    stats.actions += 1;
    if let Err(e) = exec::execute_in(batch, &action) {
        log::warn!("{action}: {e}");
        stats.failed_actions += 1;
    }
    match action {
        Action::RunScript(e) => scripts.push(e),
        Action::AddVif {
            family,
            name,
            ifindex,
            mrdisc: true,
            ..
        } => {
            if let Some(m) = mrdisc {
                m.enable(now, family, &name, ifindex);
            }
        }
        Action::RemoveVif { family, name } => {
            if let Some(m) = mrdisc {
                m.disable(now, family, &name);
            }
        }
        Action::SetMrdisc {
            family,
            name,
            enable,
        } => {
            if let Some(m) = mrdisc {
                if enable {
                    if let Some(v) = batch.get().vif_by_name(family, &name) {
                        m.enable(now, family, &name, v.ifindex);
                    }
                } else {
                    m.disable(now, family, &name);
                }
            }
        }
        _ => {}
    }
}

/// Logs and counts the routes the kernel refused in a batch.
fn report_refused(stats: &mut ServiceStats, refused: Vec<(MfcEntry, crate::Error)>) {
    for (e, err) in &refused {
        log::warn!("add route ({}, {}): {err}", e.source(), e.group());
    }
    stats.failed_actions += refused.len() as u64;
}

/// The static router: Router + engine + control requests (+ mrdisc when enabled).
pub struct StaticService<P: Platform> {
    router: Router<P>,
    engine: StaticEngine,
    scripts: Vec<ScriptEvent>,
    mrdisc: Option<Mrdisc>,
    stats: ServiceStats,
    version: String,
}

impl<P: Platform> StaticService<P> {
    /// A service over an open router.
    ///
    /// Asks the kernel for WRONGVIF upcalls on every open table
    /// ([`Platform::set_wrong_vif_upcalls`]): a learned route moves to the interface its
    /// traffic arrives on (smcroute #143). Where the platform cannot, that is logged and
    /// routes stay where their first packet came in.
    pub fn new(mut router: Router<P>, options: EngineOptions) -> StaticService<P> {
        for family in [Family::V4, Family::V6] {
            if router.is_open(family) {
                if let Err(e) = router.platform_mut().set_wrong_vif_upcalls(family, true) {
                    log::warn!("{family}: {e}: learned routes will not follow their traffic");
                }
            }
        }
        StaticService {
            router,
            engine: StaticEngine::new(options),
            scripts: Vec::new(),
            mrdisc: None,
            stats: ServiceStats::default(),
            version: format!("mcroute {}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Sets the version string `version` requests answer with.
    pub fn set_version(&mut self, v: impl Into<String>) {
        self.version = v.into();
    }

    /// The router.
    pub fn router(&self) -> &Router<P> {
        &self.router
    }

    /// The engine.
    pub fn engine(&self) -> &StaticEngine {
        &self.engine
    }

    /// What the service did so far.
    pub fn stats(&self) -> ServiceStats {
        self.stats
    }

    /// Turns on Multicast Router Discovery (RFC 4286) on the interfaces whose `phyint`
    /// says `mrdisc` (`-m SEC` sets the interval): IGMP advertisements for IPv4, ICMPv6 for
    /// IPv6. Call before applying the configuration.
    pub fn enable_mrdisc(&mut self, config: MrdiscConfig) {
        self.mrdisc = Some(Mrdisc {
            engine: MrdiscEngine::new(config),
            socks: [None, None],
            enabled: HashMap::new(),
        });
    }

    /// Executes every action the engine has queued, through one route batch.
    fn run(&mut self, now: Instant) {
        let mut batch = self.router.batch();
        while let Some(a) = self.engine.poll_action() {
            run_action(
                &mut batch,
                &mut self.stats,
                &mut self.scripts,
                &mut self.mrdisc,
                now,
                a,
            );
        }
        report_refused(&mut self.stats, batch.finish());
        if let Some(m) = &mut self.mrdisc {
            m.flush();
        }
    }

    /// Script events (`-e CMD`) to run, oldest first.
    pub fn take_script_events(&mut self) -> Vec<ScriptEvent> {
        std::mem::take(&mut self.scripts)
    }

    /// The descriptors of the mrdisc sockets, to poll for solicitations.
    pub fn mrdisc_fds(&self) -> Vec<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.mrdisc
            .iter()
            .flat_map(|m| m.socks.iter().flatten().map(|s| s.as_fd()))
            .collect()
    }

    /// Answers solicitations and sends due advertisements.
    pub fn handle_mrdisc(&mut self, now: Instant) {
        let Some(m) = &mut self.mrdisc else { return };
        for sock in m.socks.iter_mut().flatten() {
            loop {
                match sock.recv() {
                    Ok(Some(rx)) => {
                        if rx.message == MrdiscRepr::Solicitation {
                            m.engine.handle_solicitation(now, rx.family, rx.ifindex);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        log::warn!("mrdisc: {e}");
                        break;
                    }
                }
            }
        }
        m.engine.handle_timeout(now);
        m.flush();
    }

    /// Sends mrdisc terminations on every interface (at exit).
    pub fn shutdown(&mut self, now: Instant) {
        if let Some(m) = &mut self.mrdisc {
            m.engine.shutdown(now);
            m.flush();
        }
    }

    /// Re-reads the system's interfaces and lets the engine add or withdraw what depends
    /// on them.
    pub fn refresh_interfaces(&mut self, now: Instant) -> Result<()> {
        let ifs = self.router.interfaces()?;
        self.engine.handle_interfaces(now, &ifs);
        self.run(now);
        Ok(())
    }

    /// Applies a configuration as a minimal diff; returns the number of kernel changes
    /// (VIFs, routes, joins) it took. On error nothing changes.
    pub fn apply(
        &mut self,
        now: Instant,
        config: &StaticConfig,
    ) -> std::result::Result<usize, Vec<crate::engine::static_routing::ConfigError>> {
        self.apply_owned(now, config.clone())
    }

    /// Checks and applies a configuration read by [`read_config`]; rule errors come back
    /// at `file:line:column` ([`LoadError`]), and then nothing changed.
    pub fn apply_loaded(
        &mut self,
        now: Instant,
        mut loaded: LoadedConfig,
    ) -> std::result::Result<usize, LoadErrors> {
        let config = std::mem::take(&mut loaded.config);
        let applied = self.apply_moved(now, config).map_err(|e| loaded.locate(&e));
        drop(loaded);
        crate::sys::release_free_memory();
        applied
    }

    /// [`StaticService::apply`] for a configuration the caller no longer needs: the rules
    /// move into the engine instead of being copied, and each kernel change is made as soon
    /// as the engine knows it ([`StaticEngine::poll_action`] at start-up), so no list of 100,000
    /// pending routes is built first. This is the start-up and reload path of the daemon.
    pub fn apply_owned(
        &mut self,
        now: Instant,
        config: StaticConfig,
    ) -> std::result::Result<usize, Vec<crate::engine::static_routing::ConfigError>> {
        let applied = self.apply_moved(now, config);
        // Reading a file leaves many freed pages behind (the parser's and the rules' own
        // allocations); hand them back, or a daemon of 100,000 routes keeps twice the
        // memory it uses.
        crate::sys::release_free_memory();
        applied
    }

    /// [`StaticService::apply_owned`] without giving memory back.
    fn apply_moved(
        &mut self,
        now: Instant,
        config: StaticConfig,
    ) -> std::result::Result<usize, Vec<crate::engine::static_routing::ConfigError>> {
        let StaticService {
            router,
            engine,
            scripts,
            mrdisc,
            stats,
            ..
        } = self;
        // Room for the (S,G) rules in the Router's own table, grown once.
        let sg = config.routes.iter().filter(|r| r.is_sg()).count();
        router.reserve_routes(sg.saturating_sub(router.route_count()));
        let mut n = 0;
        // A large configuration's routes go to the kernel from a second thread while the
        // engine works out the next ones (see RouteBatch).
        engine.handle_config(now, config)?;
        let mut batch = router.batch();
        while let Some(a) = engine.poll_action() {
            if !matches!(a, Action::RunScript(_)) {
                n += 1;
            }
            run_action(&mut batch, stats, scripts, mrdisc, now, a);
        }
        report_refused(stats, batch.finish());
        if let Some(m) = mrdisc {
            m.flush();
        }
        Ok(n)
    }

    /// Handles every queued upcall; returns how many.
    ///
    /// The kernel holds the first packets of a new flow only while the flow waits for its
    /// route, so a burst of upcalls is answered as one: every queued upcall is read (up to
    /// [`UPCALL_ROUND`] at a time, so that the first routes do not wait for a whole storm),
    /// then the routes they give are installed in one batch, before anything else.
    pub fn handle_upcalls(&mut self, now: Instant) -> Result<usize> {
        let mut n = 0;
        loop {
            let mut round = 0;
            while round < UPCALL_ROUND {
                let Some(u) = self.router.recv_upcall()? else {
                    break;
                };
                round += 1;
                exec::dispatch_upcall(&mut self.engine, &self.router, now, &u);
            }
            n += round;
            self.stats.upcalls += round as u64;
            self.run(now);
            if round < UPCALL_ROUND {
                return Ok(n);
            }
        }
    }

    /// One line for a service manager's status (`STATUS=`): the kernel routes, VIFs/MIFs
    /// and group memberships. Cheap: three counts.
    pub fn status(&self) -> String {
        format!(
            "{} kernel routes, {} VIFs, {} joins",
            self.router.route_count(),
            self.router.vifs().count(),
            self.router.memberships().count()
        )
    }

    /// Every descriptor the event loop must wait on for this service: the Router's (upcalls)
    /// and the mrdisc sockets.
    pub fn fds(&self) -> Vec<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        let mut v = vec![self.router.as_fd()];
        v.extend(self.mrdisc_fds());
        v
    }

    /// When [`StaticService::handle_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let m = self.mrdisc.as_ref().and_then(|m| m.engine.poll_timeout());
        [self.engine.poll_timeout(), m].into_iter().flatten().min()
    }

    /// Runs due timers (the flush of unused learned routes).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.engine.handle_timeout(now);
        exec::answer_counters(&mut self.engine, &self.router, now);
        self.run(now);
        self.handle_mrdisc(now);
    }

    /// Answers a control request. `Reload` and `Kill` are acknowledged and returned as a
    /// [`Control`] for the daemon to act on.
    pub fn control(&mut self, now: Instant, req: &Request) -> (Response, Control) {
        let engine_err = |e: EngineError| Response::Error(e.to_string());
        let oifs = |v: &[String]| v.iter().map(|o| IfPattern::new(o)).collect::<Vec<_>>();
        let resp = match req {
            Request::Add {
                iif,
                source,
                group,
                oifs: o,
            } => {
                let rule = RouteRule::new(IfPattern::new(iif), *source, *group, oifs(o));
                match self.engine.handle_add_route(now, rule) {
                    Ok(()) => {
                        self.run(now);
                        Response::Ok
                    }
                    Err(e) => engine_err(e),
                }
            }
            Request::Remove {
                iif,
                source,
                group,
                oifs: o,
            } => {
                let rule = RouteRule::new(IfPattern::new(iif), *source, *group, oifs(o));
                match self.engine.handle_remove_route(now, &rule) {
                    Ok(()) => {
                        self.run(now);
                        Response::Ok
                    }
                    Err(e) => engine_err(e),
                }
            }
            Request::Join { iif, source, group } => {
                if !self.interface_exists(iif) {
                    Response::Error(format!("unknown interface {iif}"))
                } else {
                    match self
                        .engine
                        .handle_join(now, JoinRule::new(IfPattern::new(iif), *source, *group))
                    {
                        Ok(()) => {
                            self.run(now);
                            Response::Ok
                        }
                        Err(e) => engine_err(e),
                    }
                }
            }
            Request::Leave { iif, source, group } => {
                match self
                    .engine
                    .handle_leave(now, &JoinRule::new(IfPattern::new(iif), *source, *group))
                {
                    Ok(()) => {
                        self.run(now);
                        Response::Ok
                    }
                    Err(e) => engine_err(e),
                }
            }
            Request::Show { what, detail } => self.show(*what, *detail),
            Request::Flush => {
                self.engine.handle_flush(now);
                self.run(now);
                Response::Ok
            }
            Request::Version => Response::Version(self.version.clone()),
            Request::Reload => return (Response::Ok, Control::Reload),
            Request::Kill => return (Response::Ok, Control::Kill),
            Request::Debug { .. } | Request::Log { .. } => Response::Error(
                "static-router sets its log level with -l at start (debug and log are \
                 dvmrp-router's)"
                    .into(),
            ),
        };
        (resp, Control::None)
    }

    fn interface_exists(&self, pattern: &str) -> bool {
        let p = IfPattern::new(pattern);
        self.router
            .interfaces()
            .map(|ifs| ifs.iter().any(|i| p.matches(&i.name)))
            .unwrap_or(false)
    }

    /// The reply to `show`.
    pub fn show(&self, what: ShowWhat, detail: bool) -> Response {
        match what {
            ShowWhat::Routes => Response::Routes(self.route_tables(detail)),
            ShowWhat::Groups => Response::Groups(
                self.engine
                    .join_rules()
                    .map(|j| GroupRow {
                        source: j.rule.source,
                        group: j.rule.group,
                        iif: j.rule.iif.to_string(),
                    })
                    .collect(),
            ),
            ShowWhat::Interfaces => {
                let ifs = self.router.interfaces().unwrap_or_default();
                Response::Interfaces(
                    ifs.iter()
                        .map(|i| InterfaceRow {
                            index: i.index,
                            name: i.name.clone(),
                            vif: self
                                .router
                                .vif_by_ifindex(Family::V4, i.index)
                                .map(|v| v.id.index()),
                            mif: self
                                .router
                                .vif_by_ifindex(Family::V6, i.index)
                                .map(|v| v.id.index()),
                        })
                        .collect(),
                )
            }
            ShowWhat::Neighbors
            | ShowWhat::Mfc
            | ShowWhat::Compat
            | ShowWhat::Igmp
            | ShowWhat::IgmpGroups
            | ShowWhat::IgmpInterfaces
            | ShowWhat::Status => Response::Error(format!(
                "show {} is a DVMRP view: static-router has no DVMRP neighbours",
                what.name()
            )),
        }
    }
}

/// Checks a configuration file without a kernel (`-F`): parse errors and rule errors
/// (checked against the system's interfaces), at `file:line:column` ([`LoadError`]) lines.
pub fn check_file(
    path: &Path,
    default_enable: bool,
) -> std::result::Result<LoadedConfig, LoadErrors> {
    let ifs = crate::platform::ifaddrs::list_interfaces().unwrap_or_default();
    let cfg = read(path, default_enable, false, &mut crate::config::FileSystem)?;
    crate::engine::static_routing::validate(&cfg.config, &ifs).map_err(|e| cfg.locate(&e))?;
    Ok(cfg)
}

#[cfg(test)]
mod tests;
