//! static-router: a drop-in smcrouted on mcroute.
//!
//! Same options, same /etc/smcroute.conf, same files (/run/smcroute.pid, /run/smcroute.sock),
//! sysexits codes of smcrouted(8). Everything that routes lives in the library
//! (`mcroute::service::static_router`); this file parses arguments, reads files, runs the
//! event loop and handles signals.

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcroute::ctl::server::{Access, CtlServer};
use mcroute::daemon::getopt::{getopt, Opt};
use mcroute::daemon::{drop_privileges, exit, exit_code, Logger, Paths, PidFile, Scripts};
use mcroute::engine::mrdisc::MrdiscConfig;
use mcroute::engine::static_routing::EngineOptions;
use mcroute::link::LinkMonitor;
use mcroute::platform::Native;
use mcroute::service::static_router::{check_file, read_config, Control, StaticService};
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
";

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

fn version() -> String {
    format!("static-router (mcroute) {}", env!("CARGO_PKG_VERSION"))
}

fn parse_args() -> Result<Opts, ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage_err = |msg: String| {
        eprintln!("static-router: {msg}\n{USAGE}");
        ExitCode::from(exit::USAGE)
    };
    let parsed = getopt(&args, "c:d:e:f:F:hi:I:l:m:nNp:P:st:u:vD:", &[])
        .map_err(|e| usage_err(e.to_string()))?;
    let mut o = Opts {
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
    let num = |c: char, v: &str| -> Result<u64, ExitCode> {
        v.parse::<u64>()
            .map_err(|_| usage_err(format!("-{c}: invalid number {v:?}")))
    };
    for opt in parsed {
        match opt {
            Opt::Short('c', Some(v)) => o.flush = num('c', &v)?,
            Opt::Short('d', Some(v)) => o.delay = num('d', &v)?,
            Opt::Short('e', Some(v)) => o.script = Some(PathBuf::from(v)),
            Opt::Short('f', Some(v)) => o.config = Some(PathBuf::from(v)),
            Opt::Short('F', Some(v)) => o.check = Some(PathBuf::from(v)),
            Opt::Short('h', _) => {
                print!("{USAGE}");
                return Err(ExitCode::SUCCESS);
            }
            Opt::Short('i' | 'I', Some(v)) => o.paths = Paths::for_ident(&v),
            Opt::Short('l', Some(v)) => {
                o.level = Logger::parse_level(&v)
                    .ok_or_else(|| usage_err(format!("-l: unknown log level {v:?}")))?
            }
            Opt::Short('m', Some(v)) => {
                let m = num('m', &v)?;
                if !(4..=180).contains(&m) {
                    return Err(usage_err(format!("-m: interval {m} out of range (4-180)")));
                }
                o.mrdisc_interval = m;
            }
            Opt::Short('n', _) => o.foreground = true,
            Opt::Short('N', _) => o.no_vifs = true,
            Opt::Short('p', Some(v)) => {
                o.user = Some(match v.split_once(':') {
                    Some((u, g)) => (u.to_string(), Some(g.to_string())),
                    None => (v, None),
                })
            }
            Opt::Short('P', Some(v)) => o.pidfile = Some(v),
            Opt::Short('s', _) => o.syslog = true,
            Opt::Short('t', Some(v)) => {
                o.table = u32::try_from(num('t', &v)?)
                    .map_err(|_| usage_err(format!("-t: table {v} out of range")))?
            }
            Opt::Short('u', Some(v)) => o.socket = Some(PathBuf::from(v)),
            Opt::Short('v', _) => {
                println!("{}", version());
                return Err(ExitCode::SUCCESS);
            }
            Opt::Short('D', _) => {}
            Opt::Free(w) => return Err(usage_err(format!("unexpected argument {w:?}"))),
            other => return Err(usage_err(format!("unexpected option {other:?}"))),
        }
    }
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
    let o = match parse_args() {
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
    let _ = Logger::init(
        &o.paths.ident,
        o.level,
        o.foreground,
        o.syslog || !o.foreground,
    );
    if !o.foreground {
        if let Err(e) = nix::unistd::daemon(false, false) {
            log::error!("cannot detach: {e}");
            return ExitCode::from(exit::OSERR);
        }
    }
    if o.delay > 0 {
        std::thread::sleep(Duration::from_secs(o.delay));
    }
    match run(&o) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => ExitCode::from(code),
    }
}

fn run(o: &Opts) -> Result<(), u8> {
    let router = Router::open(
        Native::new().map_err(|e| fatal(&e.to_string(), exit_code(&e)))?,
        RouterOptions::dual_stack().table(o.table),
    )
    .map_err(|e| fatal(&e.to_string(), exit_code(&e)))?;
    let options = EngineOptions {
        enable_all: !o.no_vifs,
        flush_interval: (o.flush > 0).then(|| Duration::from_secs(o.flush)),
        ..EngineOptions::default()
    };
    let mut svc = StaticService::new(router, options);
    svc.set_version(version());
    match MrdiscConfig::new(o.mrdisc_interval) {
        Ok(c) => svc.enable_mrdisc(c),
        Err(e) => return Err(fatal(&format!("-m: {e}"), exit::USAGE)),
    }
    let mut scripts = Scripts::new(o.script.clone());
    svc.refresh_interfaces(Instant::now())
        .map_err(|e| fatal(&e.to_string(), exit_code(&e)))?;

    // The configuration: errors at startup are fatal (78), so a typo never starts a router
    // with half its routes; a missing file starts an empty router, as smcrouted does.
    // Read, check and apply in one pass: the rules move into the engine and each route
    // reaches the kernel as soon as the engine has it.
    let t_load = Instant::now();
    let cfg =
        read_config(&o.paths.config, !o.no_vifs).map_err(|errors| config_errors(o, &errors))?;
    if !cfg.found {
        log::warn!(
            "configuration file {} does not exist, continuing without it",
            o.paths.config.display()
        );
    }
    log::debug!(
        "read {} in {:?}",
        o.paths.config.display(),
        t_load.elapsed()
    );
    let t_apply = Instant::now();
    svc.apply_loaded(Instant::now(), cfg)
        .map_err(|errors| config_errors(o, &errors))?;
    log::debug!("applied the configuration in {:?}", t_apply.elapsed());
    // Interfaces that appear or go later get their VIFs and routes without a SIGHUP.
    let mut links = LinkMonitor::open().map_err(|e| fatal(&e.to_string(), exit::OSERR))?;
    let mut ctl = CtlServer::bind(&o.paths.socket, Access::default())
        .map_err(|e| fatal(&e.to_string(), exit::OSERR))?;

    // Signals: flags set by the handlers, and a socket that wakes the poll.
    let (wake_rx, wake_tx) = UnixStream::pair().map_err(|e| fatal(&e.to_string(), exit::OSERR))?;
    let _ = wake_rx.set_nonblocking(true);
    let hup = Arc::new(AtomicBool::new(false));
    let term = Arc::new(AtomicBool::new(false));
    for (sig, flag) in [
        (signal_hook::consts::SIGHUP, &hup),
        (signal_hook::consts::SIGINT, &term),
        (signal_hook::consts::SIGTERM, &term),
    ] {
        let reg = signal_hook::flag::register(sig, Arc::clone(flag))
            .and_then(|_| signal_hook::low_level::pipe::register(sig, wake_tx.try_clone()?));
        reg.map_err(|e| fatal(&format!("signal handler: {e}"), exit::OSERR))?;
    }

    for e in svc.take_script_events() {
        scripts.run(&e);
    }
    // Ready: every configured route is in the kernel.
    let _pid = PidFile::create(&o.paths.pidfile).map_err(|e| {
        fatal(
            &format!("PID file {}: {e}", o.paths.pidfile.display()),
            exit::OSERR,
        )
    })?;
    log::info!(
        "{} ready: {} kernel routes, control socket {}",
        version(),
        svc.router().route_count(),
        o.paths.socket.display()
    );
    if let Some((user, group)) = &o.user {
        drop_privileges(user, group.as_deref()).map_err(|e| {
            fatal(
                &format!("cannot drop privileges to {user}: {e}"),
                exit::OSERR,
            )
        })?;
    }

    loop {
        let now = Instant::now();
        let deadline = [svc.poll_timeout(), ctl.next_deadline()]
            .into_iter()
            .flatten()
            .min();
        let timeout = deadline.map_or(nix::poll::PollTimeout::NONE, |d| {
            let ms = d.saturating_duration_since(now).as_millis().min(60_000) as u16;
            nix::poll::PollTimeout::from(ms.max(1))
        });
        {
            let mut fds = vec![
                nix::poll::PollFd::new(svc.router().as_fd(), nix::poll::PollFlags::POLLIN),
                nix::poll::PollFd::new(wake_rx.as_fd(), nix::poll::PollFlags::POLLIN),
                nix::poll::PollFd::new(links.as_fd(), nix::poll::PollFlags::POLLIN),
            ];
            fds.extend(
                ctl.fds()
                    .into_iter()
                    .chain(svc.mrdisc_fds())
                    .map(|f| nix::poll::PollFd::new(f, nix::poll::PollFlags::POLLIN)),
            );
            match nix::poll::poll(&mut fds, timeout) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(fatal(&format!("poll: {e}"), exit::OSERR)),
            }
        }
        let mut drain = [0u8; 64];
        while std::io::Read::read(&mut &wake_rx, &mut drain).is_ok_and(|n| n > 0) {}

        let now = Instant::now();
        match links.recv() {
            Ok(events) if !events.is_empty() => {
                log::debug!("interface events: {events:?}");
                if let Err(e) = svc.refresh_interfaces(now) {
                    log::error!("rescanning interfaces: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => log::error!("{e}"),
        }
        if let Err(e) = svc.handle_upcalls(now) {
            log::error!("{e}");
        }
        let mut control = Control::None;
        ctl.poll(|req, _peer| {
            let (resp, c) = svc.control(Instant::now(), req);
            if c != Control::None {
                control = c;
            }
            resp
        });
        if term.swap(false, Ordering::SeqCst) || control == Control::Kill {
            log::info!("exiting");
            svc.shutdown(Instant::now());
            break;
        }
        if hup.swap(false, Ordering::SeqCst) || control == Control::Reload {
            reload(o, &mut svc);
        }
        svc.handle_timeout(Instant::now());
        for e in svc.take_script_events() {
            scripts.run(&e);
        }
        scripts.reap();
    }
    Ok(())
}

/// SIGHUP: re-read interfaces and the file; a file with errors changes nothing.
fn reload(o: &Opts, svc: &mut StaticService<Native>) {
    let now = Instant::now();
    if let Err(e) = svc.refresh_interfaces(now) {
        log::error!("reload: {e}");
    }
    let result =
        read_config(&o.paths.config, !o.no_vifs).and_then(|cfg| svc.apply_loaded(now, cfg));
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
fn config_errors(o: &Opts, errors: &[String]) -> u8 {
    for e in errors {
        log::error!("{e}");
    }
    fatal(
        &format!(
            "{}: {} error(s), not starting",
            o.paths.config.display(),
            errors.len()
        ),
        exit::CONFIG,
    )
}

fn fatal(msg: &str, code: u8) -> u8 {
    log::error!("{msg}");
    code
}
