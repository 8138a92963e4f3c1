//! static-router: a drop-in smcrouted on mcroute.
//!
//! Same options, same /etc/smcroute.conf, same files (/run/smcroute.pid, /run/smcroute.sock),
//! sysexits codes of smcrouted(8). Everything that routes lives in the library
//! (`mcroute::service::static_router`), the daemon plumbing in its daemon kit
//! (`mcroute::daemon`); this file maps the options onto them and runs the event loop.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mcroute::config::{FileSystem, Replay};
use mcroute::daemon::cli::{number, Cli};
use mcroute::daemon::keeper::{self, Keeper};
use mcroute::daemon::{
    check_pidfile, drop_privileges, exit, exit_code, LogOptions, Logger, Paths, Runtime, Scripts,
    Signals,
};
use mcroute::engine::mrdisc::MrdiscConfig;
use mcroute::engine::static_routing::EngineOptions;
use mcroute::platform::Native;
use mcroute::service::static_router::{
    check_file, read_config, reread_config, Control, LoadError, StaticService,
};
use mcroute::{Router, RouterOptions};

const USAGE: &str = "Usage: static-router [-nNhsv] [-c SEC] [-d SEC] [-e CMD] [-f FILE] [-F FILE]
                     [-i NAME] [-l LVL] [-m SEC] [-p USER[:GROUP]] [-P FILE] [-t ID] [-u FILE]

  -c SEC          Flush unused dynamic (*,G) routes every SEC seconds, default 60, 0 disables
  -d SEC          Startup delay: wait SEC seconds before probing interfaces
  -e CMD          Script to run on (re)load (`CMD reload`) and when a (*,G) rule installs a
                  route (`CMD install`, with $source and $group set)
  -f FILE         Configuration file, default /etc/NAME.conf (NAME is smcroute)
  -F FILE         Check the configuration file and exit: 0 when good, 78 on errors
  -h              Show this help text
  -i NAME         Identity: /etc/NAME.conf, /run/NAME.pid, /run/NAME.sock, syslog name
  -l LVL          Log level: none, err, notice, info, debug; default notice
  -m SEC          Multicast router discovery interval, 4-180 seconds, default 20
  -n              Run in the foreground, log to stderr
  -N              Create no VIFs by default: only interfaces enabled with phyint
  -p USER[:GROUP] Drop privileges to USER after start, keeping CAP_NET_ADMIN
  -P FILE         PID file (a name without / means /run/FILE.pid)
  -s              Log to syslog also in the foreground
  -t ID           Multicast routing table ID (Linux MRT_TABLE; a FIB on FreeBSD)
  -u FILE         Control socket, default /run/NAME.sock
  -v              Show the version

Under systemd (NOTIFY_SOCKET set) it reports READY=1 once the configured routes are in the
kernel, RELOADING=1 and STOPPING=1, its route counts as STATUS=, and pings the watchdog.
";

const CLI: Cli = Cli {
    name: "static-router",
    version: concat!("static-router (mcroute) ", env!("CARGO_PKG_VERSION")),
    usage: USAGE,
    short: "c:d:e:f:F:hi:I:l:m:nNp:P:st:u:vD:",
    long: &[],
};

struct Opts {
    flush: u64,
    delay: u64,
    script: Option<PathBuf>,
    config: Option<PathBuf>,
    check: Option<PathBuf>,
    paths: Paths,
    level: log::LevelFilter,
    mrdisc_interval: u64,
    foreground: bool,
    no_vifs: bool,
    user: Option<(String, Option<String>)>,
    pidfile: Option<String>,
    syslog: bool,
    table: u32,
    socket: Option<PathBuf>,
}

fn parse_args(args: &[String]) -> Result<Opts, ExitCode> {
    let defaults = Opts {
        flush: 60,
        delay: 0,
        script: None,
        config: None,
        check: None,
        paths: Paths::for_ident("smcroute"),
        level: log::LevelFilter::Warn,
        mrdisc_interval: 20,
        foreground: false,
        no_vifs: false,
        user: None,
        pidfile: None,
        syslog: false,
        table: 0,
        socket: None,
    };
    let mut o = CLI.parse(args, defaults, |o, opt, value| {
        let v = value.unwrap_or_default();
        match opt {
            "c" => o.flush = number(opt, &v)?,
            "d" => o.delay = number(opt, &v)?,
            "e" => o.script = Some(PathBuf::from(v)),
            "f" => o.config = Some(PathBuf::from(v)),
            "F" => o.check = Some(PathBuf::from(v)),
            "i" | "I" => o.paths = Paths::for_ident(&v),
            "l" => o.level = Logger::parse_level(&v).ok_or(format!("-l: unknown level {v:?}"))?,
            "m" => {
                o.mrdisc_interval = number(opt, &v)?;
                if !(4..=180).contains(&o.mrdisc_interval) {
                    return Err(format!("-m: interval {v} out of range (4-180)"));
                }
            }
            "n" => o.foreground = true,
            "N" => o.no_vifs = true,
            "p" => {
                o.user = Some(match v.split_once(':') {
                    Some((u, g)) => (u.to_string(), Some(g.to_string())),
                    None => (v, None),
                })
            }
            "P" => o.pidfile = Some(v),
            "s" => o.syslog = true,
            "t" => o.table = number(opt, &v)?,
            "u" => o.socket = Some(PathBuf::from(v)),
            _ => {} // -D: accepted, as smcrouted does
        }
        Ok(())
    })?;
    // -i sets every path; -f, -P, -u override one each, whatever the order.
    if let Some(c) = o.config.take() {
        o.paths.config = c;
    }
    if let Some(p) = o.pidfile.take() {
        o.paths.set_pidfile(&p);
    }
    if let Some(s) = o.socket.take() {
        o.paths.socket = s;
    }
    Ok(o)
}

fn main() -> ExitCode {
    // With -p USER the daemon starts a copy of itself that stays root (the keeper): it
    // reads the configuration on reloads and removes the PID file and socket at exit.
    if let Some(code) = keeper::serve_if_keeper() {
        return code;
    }
    // Signals first: a SIGHUP or SIGTERM during start-up (a large file takes a while) is
    // kept for later instead of killing the process with exit 129 or 143.
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("static-router: signal handlers: {e}");
            return ExitCode::from(exit::OSERR);
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match parse_args(&args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    if let Some(file) = &o.check {
        return match check_file(file, !o.no_vifs) {
            Ok(_) => {
                println!("{}: OK", file.display());
                ExitCode::SUCCESS
            }
            Err(errors) => {
                for e in &errors {
                    println!("{e}");
                }
                println!("{}: {} error(s)", file.display(), errors.len());
                ExitCode::from(exit::CONFIG)
            }
        };
    }
    let _ = Logger::install(LogOptions {
        syslog: o.syslog || !o.foreground,
        ..LogOptions::new(&o.paths.ident, o.level, o.foreground)
    });
    // Another instance running: leave its sockets and routes alone (smcrouted's 69).
    if let Err(e) = check_pidfile(&o.paths.pidfile) {
        log::error!("{e}");
        return ExitCode::from(exit::UNAVAILABLE);
    }
    if !o.foreground {
        if let Err(e) = mcroute::daemon::detach() {
            log::error!("cannot detach: {e}");
            return ExitCode::from(exit::OSERR);
        }
    }
    if o.delay > 0 && signals.sleep(Duration::from_secs(o.delay)) {
        log::info!("exiting: stopped during the start-up delay");
        return ExitCode::SUCCESS;
    }
    match run(&o, signals) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => ExitCode::from(code),
    }
}

fn run(o: &Opts, signals: Signals) -> Result<(), u8> {
    let router = Router::open(
        Native::new().map_err(|e| fatal(&e, exit_code(&e)))?,
        RouterOptions::dual_stack().table(o.table),
    )
    .map_err(|e| fatal(&e, exit_code(&e)))?;
    let options = EngineOptions {
        enable_all: !o.no_vifs,
        flush_interval: (o.flush > 0).then(|| Duration::from_secs(o.flush)),
        ..EngineOptions::default()
    };
    let mut svc = StaticService::new(router, options);
    svc.set_version(CLI.version);
    match MrdiscConfig::new(o.mrdisc_interval) {
        Ok(c) => svc.enable_mrdisc(c),
        Err(e) => return Err(fatal(&format!("-m: {e}"), exit::USAGE)),
    }
    let mut scripts = Scripts::new(o.script.clone());
    svc.refresh_interfaces(Instant::now())
        .map_err(|e| fatal(&e, exit_code(&e)))?;
    // Errors at startup are fatal (78), so a typo never starts a router with half its
    // routes; a missing file starts an empty router, as smcrouted does. Read, check and
    // apply in one pass: each route reaches the kernel as soon as the engine has it.
    let cfg =
        read_config(&o.paths.config, !o.no_vifs).map_err(|errors| config_errors(o, &errors))?;
    if !cfg.found {
        log::warn!(
            "configuration file {} does not exist, continuing without it",
            o.paths.config.display()
        );
    }
    svc.apply_loaded(Instant::now(), cfg)
        .map_err(|errors| config_errors(o, &errors))?;
    // Interfaces that appear or go later get their VIFs and routes without a SIGHUP.
    if signals.stop_requested() {
        log::info!("exiting: stopped during start-up");
        return Ok(());
    }
    let mut rt =
        Runtime::start_with(signals, &o.paths.socket).map_err(|e| fatal(&e, exit::OSERR))?;
    // The real smcroutectl works against the control socket too (SMCRoute 2.5's IPC).
    rt.ctl
        .add_protocol(mcroute::ctl::compat::Foreign::Smcroute.detector());
    for e in svc.take_script_events() {
        scripts.run(&e);
    }
    // Ready: every configured route is in the kernel.
    rt.ready(&o.paths.pidfile, &svc.status())
        .map_err(|e| fatal(&e, exit::OSERR))?;
    log::info!(
        "{} ready: {} kernel routes, control socket {}",
        CLI.version,
        svc.router().route_count(),
        o.paths.socket.display()
    );
    let mut keeper = None;
    if let Some((user, group)) = &o.user {
        // Before the drop: what still needs root after it goes through the keeper.
        keeper = Some(
            Keeper::spawn(&o.paths.config, &o.paths.pidfile, &o.paths.socket)
                .map_err(|e| fatal(&format!("cannot start the keeper: {e}"), exit::OSERR))?,
        );
        drop_privileges(user, group.as_deref()).map_err(|e| {
            fatal(
                &format!("cannot drop privileges to {user}: {e}"),
                exit::OSERR,
            )
        })?;
    }
    loop {
        let ev = rt.wait(&svc.fds(), svc.poll_timeout());
        let now = Instant::now();
        if !ev.links.is_empty() {
            log::debug!("interface events: {:?}", ev.links);
            if let Err(e) = svc.refresh_interfaces(now) {
                log::error!("rescanning interfaces: {e}");
            }
        }
        if let Err(e) = svc.handle_upcalls(now) {
            log::error!("{e}");
        }
        let control = svc.serve_ctl(&mut rt.ctl);
        if ev.stop || control == Control::Kill {
            log::info!("exiting");
            rt.stopping();
            svc.shutdown(Instant::now());
            break;
        }
        if ev.reload || control == Control::Reload {
            rt.notify.reloading();
            reload(o, &mut svc, keeper.as_mut());
            rt.notify.ready(&svc.status());
        }
        svc.handle_timeout(Instant::now());
        for e in svc.take_script_events() {
            scripts.run(&e);
        }
        scripts.reap();
        rt.notify.status_with(|| svc.status());
    }
    Ok(())
}

/// SIGHUP: re-read interfaces and the file; a file with errors changes nothing.
fn reload(o: &Opts, svc: &mut StaticService<Native>, keeper: Option<&mut Keeper>) {
    let now = Instant::now();
    if let Err(e) = svc.refresh_interfaces(now) {
        log::error!("reload: {e}");
    }
    // A file that is gone is refused like one with errors: the running routes stay. After
    // -p USER the keeper (still root) reads the files.
    let read = match keeper {
        None => reread_config(&o.paths.config, !o.no_vifs, &mut FileSystem),
        Some(k) => match k.load() {
            Ok(t) => reread_config(&o.paths.config, !o.no_vifs, &mut Replay::new(t)),
            Err(e) => Err(vec![LoadError::unreadable(
                &o.paths.config,
                &std::io::Error::other(format!("the keeper could not read it: {e}")),
            )]),
        },
    };
    let result = read.and_then(|cfg| svc.apply_loaded(now, cfg));
    match result {
        Ok(n) => log::info!("reloaded {}: {n} change(s)", o.paths.config.display()),
        Err(errors) => {
            for e in &errors {
                log::error!("{e}");
            }
            log::error!(
                "reload refused: {} error(s) in {}, keeping the running configuration",
                errors.len(),
                o.paths.config.display()
            );
        }
    }
}

/// Logs the errors of the configuration file and gives the exit code (78).
fn config_errors(o: &Opts, errors: &[LoadError]) -> u8 {
    for e in errors {
        log::error!("{e}");
    }
    let msg = format!(
        "{}: {} error(s), not starting",
        o.paths.config.display(),
        errors.len()
    );
    fatal(&msg, exit::CONFIG)
}

fn fatal(msg: &dyn std::fmt::Display, code: u8) -> u8 {
    log::error!("{msg}");
    code
}
