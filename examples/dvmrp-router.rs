//! dvmrp-router: a drop-in mrouted (DVMRP multicast routing daemon) on mcroute.
//!
//! The front end only: it parses the options of mrouted(8), reads /etc/mrouted.conf, writes
//! the PID file, turns signals into calls and runs the event loop. Everything a router does
//! lives in `mcroute::service::dvmrp`.
//!
//! ```text
//! dvmrp-router [-fhMNpr] [-c FILE] [-d [LEVEL[,LEVEL...]]] [--ident NAME]
//!              [--pidfile FILE] [--socket FILE]
//! ```
//!
//! Signals (as mrouted): HUP re-reads the configuration and restarts routing (a bad file
//! is reported and the running state kept), INT and TERM advertise every route as
//! unreachable to the neighbours and exit, USR1 writes the routing tables to
//! /run/NAME/NAME.dump, USR2 the forwarding cache to /run/NAME/NAME.cache (NAME is
//! `mrouted` unless `--ident` says otherwise).

use std::io::Write as _;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcroute::config::mrouted;
use mcroute::ctl::server::{Access, CtlServer};
use mcroute::ctl::{Request, Response};
use mcroute::link::LinkMonitor;
use mcroute::platform::Native;
use mcroute::service::dvmrp::{
    self as service, new_generation_id, plan, Plan, PlanOptions, Service,
};
use mcroute::Platform;

const USAGE: &str = "\
Usage: dvmrp-router [-fhMNpr] [-c FILE] [-d [LEVEL[,LEVEL...]]] [--ident NAME]
                    [--pidfile FILE] [--socket FILE]

A DVMRP multicast router (mrouted) on mcroute.

Options:
  -c, --config=FILE      Configuration file (default /etc/NAME.conf, NAME is mrouted)
  -d, --debug[=LEVELS]   Debug logging, stay in the foreground. LEVELS is a comma list of
                         packet, prunes, routes, rtdetail, peers, cache, timeout,
                         interface, groups, mtrace, igmp, icmp, rsrr, all; with no list:
                         igmp,cache,interface,groups,prunes,routes,peers
  -f, --foreground       Run in the foreground, do not detach
  -h, --help             This help
  -M, --missing-ok       A phyint naming a missing interface is a warning, not an error
  -N, --no-interfaces    Disable all interfaces unless a phyint enables them
  -p                     Non-pruning mode: accepted for compatibility, ignored
  -r, --show-routes      Ask the running router (SIGUSR1) for its tables and print them
  -v, --version          Print the version
      --ident=NAME       Instance name: /etc/NAME.conf, /run/NAME.pid, /run/NAME.sock,
                         /run/NAME/NAME.dump and .cache (default mrouted)
      --pidfile=FILE     PID file (default /run/NAME.pid)
      --socket=FILE      Control socket for mcroutectl (default /run/NAME.sock)

Signals: HUP reload, INT/TERM stop (routes withdrawn), USR1 route dump, USR2 cache dump.
";

const DEBUG_LEVELS: &[&str] = &[
    "packet",
    "prunes",
    "routes",
    "rtdetail",
    "peers",
    "cache",
    "timeout",
    "interface",
    "groups",
    "mtrace",
    "igmp",
    "icmp",
    "rsrr",
    "all",
];
const DEFAULT_DEBUG: &[&str] = &[
    "igmp",
    "cache",
    "interface",
    "groups",
    "prunes",
    "routes",
    "peers",
];

#[derive(Debug, Default)]
struct Args {
    config: Option<PathBuf>,
    debug: Option<Vec<String>>,
    foreground: bool,
    help: bool,
    version: bool,
    missing_ok: bool,
    no_interfaces: bool,
    show_routes: bool,
    ident: Option<String>,
    pidfile: Option<PathBuf>,
    socket: Option<PathBuf>,
}

impl Args {
    fn ident(&self) -> &str {
        self.ident.as_deref().unwrap_or("mrouted")
    }
    fn config_path(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("/etc/{}.conf", self.ident())))
    }
    fn pid_path(&self) -> PathBuf {
        self.pidfile
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("/run/{}.pid", self.ident())))
    }
    fn socket_path(&self) -> PathBuf {
        self.socket
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("/run/{}.sock", self.ident())))
    }
    fn dump_path(&self, ext: &str) -> PathBuf {
        let n = self.ident();
        PathBuf::from(format!("/run/{n}/{n}.{ext}"))
    }
}

fn parse_levels(s: &str) -> Option<Vec<String>> {
    let v: Vec<String> = s.split(',').map(|x| x.trim().to_string()).collect();
    v.iter()
        .all(|l| DEBUG_LEVELS.contains(&l.as_str()))
        .then_some(v)
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut a = Args::default();
    let mut i = 0;
    let value = |i: &mut usize, opt: &str, inline: Option<&str>| -> Result<String, String> {
        if let Some(v) = inline {
            return Ok(v.to_string());
        }
        *i += 1;
        argv.get(*i)
            .cloned()
            .ok_or_else(|| format!("option {opt} needs a value"))
    };
    while i < argv.len() {
        let arg = argv[i].as_str();
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            match name {
                "config" => a.config = Some(value(&mut i, arg, inline)?.into()),
                "debug" => {
                    a.debug = Some(match inline {
                        None => DEFAULT_DEBUG.iter().map(|s| s.to_string()).collect(),
                        Some(v) => {
                            parse_levels(v).ok_or(format!("unknown debug level in {v:?}"))?
                        }
                    })
                }
                "foreground" => a.foreground = true,
                "help" => a.help = true,
                "version" => a.version = true,
                "missing-ok" => a.missing_ok = true,
                "no-interfaces" => a.no_interfaces = true,
                "show-routes" => a.show_routes = true,
                "ident" => a.ident = Some(value(&mut i, arg, inline)?),
                "pidfile" => a.pidfile = Some(value(&mut i, arg, inline)?.into()),
                "socket" => a.socket = Some(value(&mut i, arg, inline)?.into()),
                _ => return Err(format!("unknown option {arg}")),
            }
        } else if let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            let chars: Vec<char> = short.chars().collect();
            let mut k = 0;
            while k < chars.len() {
                let rest: String = chars[k + 1..].iter().collect();
                let inline = (!rest.is_empty()).then_some(rest.as_str());
                match chars[k] {
                    'c' => {
                        a.config = Some(value(&mut i, "-c", inline)?.into());
                        break;
                    }
                    'd' => {
                        if let Some(v) = inline {
                            a.debug = Some(
                                parse_levels(v).ok_or(format!("unknown debug level in {v:?}"))?,
                            );
                            break;
                        }
                        // An optional argument: the next word, if it is a list of levels.
                        match argv.get(i + 1).and_then(|w| parse_levels(w)) {
                            Some(l) => {
                                a.debug = Some(l);
                                i += 1;
                            }
                            None => {
                                a.debug =
                                    Some(DEFAULT_DEBUG.iter().map(|s| s.to_string()).collect())
                            }
                        }
                    }
                    'f' => a.foreground = true,
                    'h' => a.help = true,
                    'v' => a.version = true,
                    'M' => a.missing_ok = true,
                    'N' => a.no_interfaces = true,
                    'p' => {} // non-pruning mode: kept for compatibility only (mrouted(8))
                    'r' => a.show_routes = true,
                    c => return Err(format!("unknown option -{c}")),
                }
                k += 1;
            }
        } else {
            return Err(format!("unexpected argument {arg:?}"));
        }
        i += 1;
    }
    Ok(a)
}

/// A stderr logger: info and above always; debug and trace for the targets the `-d`
/// levels select.
struct Logger {
    targets: Vec<&'static str>,
    all: bool,
}

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Info
            || self.all
            || self.targets.iter().any(|t| m.target().starts_with(t))
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            let _ = writeln!(
                std::io::stderr(),
                "dvmrp-router[{}]: {:<5} {}",
                std::process::id(),
                r.level(),
                r.args()
            );
        }
    }
    fn flush(&self) {}
}

fn init_logger(debug: &Option<Vec<String>>) {
    let levels = debug.clone().unwrap_or_default();
    let mut targets = Vec::new();
    for l in &levels {
        let t: &[&'static str] = match l.as_str() {
            "packet" => &[service::LOG_PACKET, service::LOG_IGMP],
            "prunes" | "cache" => &[service::LOG_CACHE],
            "routes" | "rtdetail" => &[service::LOG_ROUTES],
            "peers" => &[service::LOG_PEERS],
            "interface" => &[service::LOG_INTERFACE],
            "groups" => &[service::LOG_GROUPS],
            "igmp" => &[service::LOG_IGMP],
            _ => &[],
        };
        targets.extend_from_slice(t);
    }
    let logger = Logger {
        all: levels.iter().any(|l| l == "all"),
        targets,
    };
    let max = if debug.is_some() {
        log::LevelFilter::Trace
    } else {
        log::LevelFilter::Info
    };
    if log::set_logger(Box::leak(Box::new(logger))).is_ok() {
        log::set_max_level(max);
    }
}

/// Reads the configuration: a missing file means mrouted's defaults, as in mrouted.
fn read_config(path: &Path) -> Result<mrouted::Config, String> {
    if !path.exists() {
        log::info!("{} not found: using the defaults", path.display());
        return Ok(mrouted::Config::default());
    }
    mrouted::load(path).map_err(|e| e.to_string().trim_end().to_string())
}

fn make_plan(args: &Args, interfaces: &[mcroute::Interface]) -> Result<Plan, String> {
    let config = read_config(&args.config_path())?;
    let opts = PlanOptions {
        missing_ok: args.missing_ok,
        no_interfaces: args.no_interfaces,
        generation_id: new_generation_id(),
    };
    let p = plan(&config, interfaces, &opts)
        .map_err(|e| format!("{}: {e}", args.config_path().display()))?;
    for w in &p.warnings {
        log::warn!("{w}");
    }
    for (name, why) in &p.skipped {
        log::info!("{name}: not used ({why})");
    }
    Ok(p)
}

/// Writes `text` to `path` atomically (a temporary file renamed over it).
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// `-r`: signals the running router and prints its fresh dump.
fn show_routes(args: &Args) -> Result<(), String> {
    let pidfile = args.pid_path();
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .map_err(|e| format!("{}: {e} (is the router running?)", pidfile.display()))?
        .trim()
        .parse()
        .map_err(|_| format!("{}: not a process id", pidfile.display()))?;
    let dump = args.dump_path("dump");
    let before = std::fs::metadata(&dump).and_then(|m| m.modified()).ok();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGUSR1,
    )
    .map_err(|e| format!("signalling process {pid}: {e}"))?;
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        let now = std::fs::metadata(&dump).and_then(|m| m.modified()).ok();
        if now.is_some() && now != before {
            let text = std::fs::read_to_string(&dump).map_err(|e| e.to_string())?;
            print!("{text}");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "{} was not updated by process {pid}",
        dump.display()
    ))
}

struct Signals {
    hup: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
    usr1: Arc<AtomicBool>,
    usr2: Arc<AtomicBool>,
    wake: UnixStream,
}

fn signals() -> std::io::Result<Signals> {
    let (rx, tx) = UnixStream::pair()?;
    rx.set_nonblocking(true)?;
    let s = Signals {
        hup: Arc::default(),
        term: Arc::default(),
        usr1: Arc::default(),
        usr2: Arc::default(),
        wake: rx,
    };
    use signal_hook::consts::*;
    for (sig, flag) in [
        (SIGHUP, &s.hup),
        (SIGINT, &s.term),
        (SIGTERM, &s.term),
        (SIGUSR1, &s.usr1),
        (SIGUSR2, &s.usr2),
    ] {
        signal_hook::flag::register(sig, flag.clone())?;
        signal_hook::low_level::pipe::register(sig, tx.try_clone()?)?;
    }
    Ok(s)
}

fn take(flag: &AtomicBool) -> bool {
    flag.swap(false, Ordering::SeqCst)
}

fn reload(args: &Args, svc: &mut Service<Native>) -> Result<(), String> {
    let interfaces = svc.router().interfaces().map_err(|e| e.to_string())?;
    let p = make_plan(args, &interfaces)?;
    svc.reload(p, Instant::now()).map_err(|e| e.to_string())?;
    log::info!("reloaded {}", args.config_path().display());
    Ok(())
}

/// The interfaces a plan runs on: what a link event must change for a reload.
fn vif_key(p: &Plan) -> Vec<(String, u32, std::net::Ipv4Addr, ipnet::Ipv4Net)> {
    p.vifs
        .iter()
        .map(|v| (v.name.clone(), v.ifindex, v.local, v.subnet))
        .collect()
}

/// An interface appeared, went or changed addresses: if that changes the VIFs, restart the
/// protocol on the new set (as mrouted would need a restart for), else carry on.
fn links_changed(args: &Args, svc: &mut Service<Native>) -> Result<(), String> {
    let interfaces = svc.router().interfaces().map_err(|e| e.to_string())?;
    let p = make_plan(args, &interfaces)?;
    if vif_key(&p) != vif_key(svc.plan()) {
        log::info!(
            "interfaces changed: now {:?}",
            vif_key(&p).iter().map(|k| &k.0).collect::<Vec<_>>()
        );
        svc.reload(p, Instant::now()).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn run(args: &Args) -> Result<(), String> {
    let platform = Native::new().map_err(|e| e.to_string())?;
    let interfaces = platform.interfaces().map_err(|e| e.to_string())?;
    let p = make_plan(args, &interfaces)?;
    let sig = signals().map_err(|e| format!("installing signal handlers: {e}"))?;
    if !args.foreground && args.debug.is_none() {
        // Detach, keeping stderr for the log (redirect it, or run under a supervisor).
        #[allow(deprecated)]
        nix::unistd::daemon(false, true).map_err(|e| format!("detaching: {e}"))?;
    }
    let mut svc = Service::start(platform, p, Instant::now()).map_err(|e| e.to_string())?;
    log::info!(
        "dvmrp-router (mcroute {}) started, generation id {:#x}",
        env!("CARGO_PKG_VERSION"),
        svc.engine().config().generation_id
    );
    let mut ctl =
        CtlServer::bind(&args.socket_path(), Access::default()).map_err(|e| e.to_string())?;
    let mut links = LinkMonitor::open().map_err(|e| e.to_string())?;
    let pidfile = args.pid_path();
    write_atomic(&pidfile, &format!("{}\n", std::process::id()))
        .map_err(|e| format!("{}: {e}", pidfile.display()))?;
    let mut stop = false;
    while !stop {
        if take(&sig.term) {
            break;
        }
        if take(&sig.hup) {
            if let Err(e) = reload(args, &mut svc) {
                log::error!("reload failed, keeping the running configuration: {e}");
            }
        }
        let now = Instant::now();
        if take(&sig.usr1) {
            if let Err(e) = write_atomic(&args.dump_path("dump"), &svc.route_dump(now)) {
                log::error!("writing the route dump: {e}");
            }
        }
        if take(&sig.usr2) {
            if let Err(e) = write_atomic(&args.dump_path("cache"), &svc.cache_dump(now)) {
                log::error!("writing the cache dump: {e}");
            }
        }
        if svc.poll_timeout().is_some_and(|t| t <= now) {
            svc.handle_timeout(now);
        }
        let deadline = [svc.poll_timeout(), ctl.next_deadline()]
            .into_iter()
            .flatten()
            .min();
        let wait = deadline.map_or(Duration::from_secs(1), |d| {
            d.saturating_duration_since(Instant::now()) + Duration::from_millis(1)
        });
        let wait = nix::poll::PollTimeout::try_from(wait.min(Duration::from_secs(1)))
            .unwrap_or(nix::poll::PollTimeout::MAX);
        {
            let mut fds = vec![
                nix::poll::PollFd::new(svc.fd(), nix::poll::PollFlags::POLLIN),
                nix::poll::PollFd::new(sig.wake.as_fd(), nix::poll::PollFlags::POLLIN),
                nix::poll::PollFd::new(links.as_fd(), nix::poll::PollFlags::POLLIN),
            ];
            for f in ctl.fds() {
                fds.push(nix::poll::PollFd::new(f, nix::poll::PollFlags::POLLIN));
            }
            match nix::poll::poll(&mut fds, wait) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(format!("poll: {e}")),
            }
        }
        let mut drain = [0u8; 64];
        while matches!(std::io::Read::read(&mut &sig.wake, &mut drain), Ok(n) if n > 0) {}
        match links.recv() {
            Ok(events) if !events.is_empty() => {
                if let Err(e) = links_changed(args, &mut svc) {
                    log::error!("interfaces changed, keeping the running VIFs: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => log::error!("{e}"),
        }
        loop {
            match svc.handle_readable(Instant::now()) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    log::error!("{e}");
                    break;
                }
            }
        }
        ctl.poll(|req, _peer| {
            let now = Instant::now();
            match req {
                Request::Kill => {
                    stop = true;
                    Response::Ok
                }
                Request::Reload => match reload(args, &mut svc) {
                    Ok(()) => Response::Ok,
                    Err(e) => Response::Error(format!("reload failed, nothing changed: {e}")),
                },
                other => svc
                    .handle_request(other, now)
                    .unwrap_or_else(|| Response::Error("unsupported".into())),
            }
        });
    }
    log::info!("stopping: withdrawing routes");
    svc.shutdown(Instant::now());
    let _ = std::fs::remove_file(&pidfile);
    let _ = std::fs::remove_file(args.socket_path());
    Ok(())
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("dvmrp-router: {e}\n\n{USAGE}");
            return ExitCode::from(64);
        }
    };
    if args.help {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.version {
        println!("dvmrp-router (mcroute) {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    init_logger(&args.debug);
    let res = if args.show_routes {
        show_routes(&args)
    } else {
        run(&args)
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dvmrp-router: {e}");
            ExitCode::from(71)
        }
    }
}
