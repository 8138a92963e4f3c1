//! dvmrp-router: a drop-in mrouted (DVMRP multicast routing daemon) on mcroute.
//!
//! The front end only: it maps the options of mrouted(8) onto the library and runs the event
//! loop. Everything a router does lives in `mcroute::service::dvmrp`, the daemon plumbing
//! (options, logging, signals, PID file, control socket, systemd) in `mcroute::daemon`.
//!
//! Signals (as mrouted): HUP re-reads the configuration and restarts routing (a bad file
//! is reported and the running state kept), INT and TERM advertise every route as
//! unreachable to the neighbours and exit, USR1 writes the routing tables to
//! /run/NAME/NAME.dump, USR2 the forwarding cache to /run/NAME/NAME.cache (NAME is
//! `mrouted` unless `--ident` says otherwise), QUIT writes the routing tables to stderr
//! when debugging (`-d`) and is ignored otherwise. Exit codes as static-router's: 78 for a
//! configuration error, 64 for a usage error, 69/71/76/77 as the kernel answers.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use mcroute::ctl::{Request, Response};
use mcroute::daemon::cli::Cli;
use mcroute::daemon::getopt::LongArg;
use mcroute::daemon::{self, LogOptions, Logger, Paths, Runtime};
use mcroute::platform::Native;
use mcroute::service::dvmrp::{self as service, Plan, PlanOptions, Service, ServiceError};
use mcroute::Platform;

const USAGE: &str = "\
Usage: dvmrp-router [-fhMNprv] [-c FILE] [-d [LEVEL[,LEVEL...]]] [--ident NAME]
                    [--pidfile FILE] [--socket FILE] [--max-routes N]
                    [--max-neighbor-routes N]

A DVMRP multicast router (mrouted) on mcroute.

Options:
  -c, --config=FILE      Configuration file (default /etc/NAME.conf, NAME is mrouted)
  -d, --debug[=LEVELS]   Debug logging, stay in the foreground. LEVELS is a comma list of
                         packet, prunes, routes, rtdetail, peers, cache, timeout,
                         interface, groups, mtrace, igmp, icmp, rsrr, all; with no list:
                         igmp,cache,interface,groups,prunes,routes,peers
  -f, --foreground       Run in the foreground, do not detach
  -h, --help             This help
  -M, --missing-ok       Accepted for compatibility: a phyint naming a missing interface
                         is always a warning, and it is used when it appears
  -N, --no-interfaces    Disable all interfaces unless a phyint enables them
  -p                     Non-pruning mode: accepted for compatibility, ignored
  -r, --show-routes      Ask the running router (SIGUSR1) for its tables and print them
  -v, --version          Print the version
      --ident=NAME       Instance name: /etc/NAME.conf, /run/NAME.pid, /run/NAME.sock,
                         /run/NAME/NAME.dump and .cache (default mrouted)
      --pidfile=FILE     PID file (default /run/NAME.pid)
      --socket=FILE      Control socket for mcroutectl (default /run/NAME.sock)
      --max-routes=N     Most routes in the table (default 500000); more are ignored,
                         counted and logged once
      --max-neighbor-routes=N
                         Most routes learned through one neighbour (default 250000)

Signals: HUP reload, INT/TERM stop (routes withdrawn), USR1 route dump, USR2 cache dump,
QUIT the routing tables to stderr (with -d; ignored otherwise).
Under systemd (NOTIFY_SOCKET set) it reports READY=1, RELOADING=1, STOPPING=1, its route
and neighbour counts as STATUS=, and pings the watchdog.
";

const CLI: Cli = Cli {
    name: "dvmrp-router",
    version: concat!("dvmrp-router (mcroute) ", env!("CARGO_PKG_VERSION")),
    usage: USAGE,
    short: "c:d::fhMNprv",
    long: &[
        ("config", LongArg::Required),
        ("debug", LongArg::Optional),
        ("foreground", LongArg::None),
        ("help", LongArg::None),
        ("version", LongArg::None),
        ("missing-ok", LongArg::None),
        ("no-interfaces", LongArg::None),
        ("show-routes", LongArg::None),
        ("ident", LongArg::Required),
        ("pidfile", LongArg::Required),
        ("socket", LongArg::Required),
        ("max-routes", LongArg::Required),
        ("max-neighbor-routes", LongArg::Required),
    ],
};

#[derive(Debug, Default)]
struct Args {
    config: Option<PathBuf>,
    debug: Option<Vec<String>>,
    foreground: bool,
    plan: PlanOptions,
    show_routes: bool,
    ident: Option<String>,
    pidfile: Option<PathBuf>,
    socket: Option<PathBuf>,
}

/// A route cap: a positive number.
fn count(v: &str) -> Result<usize, String> {
    v.parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("expected a positive number of routes, found {v:?}"))
}

fn parse_args(args: &[String]) -> Result<(Args, Paths), ExitCode> {
    let mut a = CLI.parse(args, Args::default(), |a, opt, value| {
        match (opt, value) {
            ("c" | "config", Some(v)) => a.config = Some(v.into()),
            ("d" | "debug", v) => a.debug = Some(service::debug_levels(v.as_deref())?),
            ("f" | "foreground", _) => a.foreground = true,
            ("M" | "missing-ok", _) => a.plan.missing_ok = true,
            ("N" | "no-interfaces", _) => a.plan.no_interfaces = true,
            ("p", _) => {} // non-pruning mode: kept for compatibility only (mrouted(8))
            ("r" | "show-routes", _) => a.show_routes = true,
            ("ident", Some(v)) => a.ident = Some(v),
            ("pidfile", Some(v)) => a.pidfile = Some(v.into()),
            ("socket", Some(v)) => a.socket = Some(v.into()),
            ("max-routes", Some(v)) => a.plan.max_routes = count(&v)?,
            ("max-neighbor-routes", Some(v)) => a.plan.max_routes_per_neighbor = count(&v)?,
            (other, _) => return Err(format!("unexpected option {other}")),
        }
        Ok(())
    })?;
    // --ident sets every path; --config, --pidfile, --socket override one each.
    let mut paths = Paths::for_ident(a.ident.as_deref().unwrap_or("mrouted"));
    if let Some(c) = a.config.take() {
        paths.config = c;
    }
    if let Some(p) = a.pidfile.take() {
        paths.pidfile = p;
    }
    if let Some(s) = a.socket.take() {
        paths.socket = s;
    }
    Ok((a, paths))
}

fn make_plan(
    args: &Args,
    paths: &Paths,
    interfaces: &[mcroute::Interface],
) -> Result<Plan, String> {
    let opts = PlanOptions {
        generation_id: service::new_generation_id(),
        ..args.plan.clone()
    };
    service::plan_file(&paths.config, interfaces, &opts)
}

fn reload(args: &Args, paths: &Paths, svc: &mut Service<Native>) -> Result<(), String> {
    let interfaces = svc.router().interfaces().map_err(|e| e.to_string())?;
    let p = make_plan(args, paths, &interfaces)?;
    svc.reload(p, Instant::now()).map_err(|e| e.to_string())?;
    log::info!("reloaded {}", paths.config.display());
    Ok(())
}

/// An interface appeared, went or changed addresses: if that changes the VIFs, restart the
/// protocol on the new set (as mrouted would need a restart for), else carry on.
fn links_changed(args: &Args, paths: &Paths, svc: &mut Service<Native>) -> Result<(), String> {
    let interfaces = svc.router().interfaces().map_err(|e| e.to_string())?;
    let p = make_plan(args, paths, &interfaces)?;
    svc.reload_if_vifs_changed(p, Instant::now())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A fatal error: the exit code (sysexits, as static-router) and the message.
type Fatal = (u8, String);

fn os_err(e: impl std::fmt::Display) -> Fatal {
    (daemon::exit::OSERR, e.to_string())
}

fn run(args: &Args, paths: &Paths) -> Result<(), Fatal> {
    let platform = Native::new().map_err(|e| (daemon::exit_code(&e), e.to_string()))?;
    let interfaces = platform.interfaces().map_err(os_err)?;
    let p = make_plan(args, paths, &interfaces).map_err(|e| (daemon::exit::CONFIG, e))?;
    if !args.foreground && args.debug.is_none() {
        daemon::detach().map_err(|e| os_err(format!("detaching: {e}")))?;
    }
    let mut svc = Service::start(platform, p, Instant::now()).map_err(|e| match &e {
        ServiceError::Kernel(k) => (daemon::exit_code(k), e.to_string()),
        ServiceError::Config(_) => (daemon::exit::CONFIG, e.to_string()),
    })?;
    log::info!(
        "{} started, generation id {:#x}",
        CLI.version,
        svc.engine().config().generation_id
    );
    let mut rt = Runtime::start(&paths.socket).map_err(os_err)?;
    // The real mroutectl works against the control socket too (mrouted 4.x's IPC).
    rt.ctl
        .add_protocol(mcroute::ctl::compat::Foreign::Mrouted.detector());
    // mrouted(8): QUIT dumps the routing tables to stderr when debugging, else is ignored.
    rt.signals.catch_quit().map_err(os_err)?;
    rt.ready(&paths.pidfile, &svc.status()).map_err(os_err)?;
    loop {
        let ev = rt.wait(&[svc.fd()], svc.poll_timeout());
        if ev.stop {
            break;
        }
        if ev.reload {
            rt.notify.reloading();
            if let Err(e) = reload(args, paths, &mut svc) {
                log::error!("reload failed, keeping the running configuration: {e}");
            }
            rt.notify.ready(&svc.status());
        }
        let now = Instant::now();
        if ev.quit && args.debug.is_some() {
            let _ = write!(
                std::io::stderr(),
                "{}\n{}",
                svc.route_dump(now),
                svc.cache_dump(now)
            );
        }
        for (wanted, ext, dump) in [(ev.usr1, "dump", true), (ev.usr2, "cache", false)] {
            if wanted {
                let text = if dump {
                    svc.route_dump(now)
                } else {
                    svc.cache_dump(now)
                };
                if let Err(e) = daemon::write_atomic(&paths.runtime_file(ext), &text) {
                    log::error!("writing the {ext} file: {e}");
                }
            }
        }
        if !ev.links.is_empty() {
            if let Err(e) = links_changed(args, paths, &mut svc) {
                log::error!("interfaces changed, keeping the running VIFs: {e}");
            }
        }
        if let Err(e) = svc.handle_all_readable(Instant::now()) {
            log::error!("{e}");
        }
        if svc.poll_timeout().is_some_and(|t| t <= Instant::now()) {
            svc.handle_timeout(Instant::now());
        }
        let mut stop = false;
        let notify = &mut rt.notify;
        rt.ctl.poll(|req, _peer| match req {
            Request::Kill => {
                stop = true;
                Response::Ok
            }
            Request::Reload => {
                notify.reloading();
                let r = match reload(args, paths, &mut svc) {
                    Ok(()) => Response::Ok,
                    Err(e) => Response::Error(format!("reload failed, nothing changed: {e}")),
                };
                notify.ready(&svc.status());
                r
            }
            Request::Debug { levels } => service::debug_command(levels.as_deref()),
            Request::Log { level } => service::log_command(level.as_deref()),
            other => svc
                .handle_request(other, Instant::now())
                .unwrap_or_else(|| Response::Error("unsupported".into())),
        });
        if stop {
            break;
        }
        rt.notify.status_with(|| svc.status());
    }
    log::info!("stopping: withdrawing routes");
    rt.stopping();
    svc.shutdown(Instant::now());
    Ok(())
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (args, paths) = match parse_args(&argv) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let foreground = args.foreground || args.debug.is_some() || args.show_routes;
    // Errors before detaching reach the terminal; after it, stderr is /dev/null.
    let mut log = LogOptions::new(&paths.ident, log::LevelFilter::Info, foreground);
    log.stderr = true;
    if let Some(levels) = &args.debug {
        log.level = log::LevelFilter::Trace;
        log.debug_targets = service::debug_targets(levels);
    }
    let _ = Logger::install(log);
    let res = if args.show_routes {
        daemon::request_dump(&paths.pidfile, &paths.runtime_file("dump"))
            .map(|t| print!("{t}"))
            .map_err(os_err)
    } else {
        run(&args, &paths)
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, e)) => {
            log::error!("{e}");
            ExitCode::from(code)
        }
    }
}
