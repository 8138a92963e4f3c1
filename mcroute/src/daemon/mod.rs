//! What the mcroute daemons share, so that the example frontends stay thin and other
//! embedders can reuse it: identity-derived file paths, PID files, a logger for stderr or
//! syslog, privilege dropping, the `-e` script hook, the sysexits codes, and the services
//! that tie a [`Router`](crate::Router), an engine and the control socket together.

pub mod getopt;

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use crate::engine::static_routing::ScriptEvent;

/// sysexits(3) codes, as smcrouted's manual page uses them.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Invalid command line option, or missing argument.
    pub const USAGE: u8 = 64;
    /// Multicast routing socket (or table) already in use.
    pub const UNAVAILABLE: u8 = 69;
    /// Internal error.
    pub const SOFTWARE: u8 = 70;
    /// An operating system call failed.
    pub const OSERR: u8 = 71;
    /// The kernel does not support multicast routing.
    pub const PROTOCOL: u8 = 76;
    /// Not enough permissions.
    pub const NOPERM: u8 = 77;
    /// Error in the configuration file.
    pub const CONFIG: u8 = 78;
}

/// The exit code for a Router error.
pub fn exit_code(e: &crate::Error) -> u8 {
    match e {
        crate::Error::TableInUse { .. } => exit::UNAVAILABLE,
        crate::Error::PermissionDenied { .. } => exit::NOPERM,
        crate::Error::NoKernelSupport { .. } | crate::Error::Unsupported(_) => exit::PROTOCOL,
        _ => exit::OSERR,
    }
}

/// The directory for PID files and control sockets.
pub const RUNSTATEDIR: &str = "/run";
/// The directory for configuration files.
pub const SYSCONFDIR: &str = "/etc";

/// The files a daemon identity (`-i NAME`) stands for: `/etc/NAME.conf`, `/run/NAME.pid`,
/// `/run/NAME.sock`, each overridable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The identity (syslog ident too).
    pub ident: String,
    /// Configuration file.
    pub config: PathBuf,
    /// PID file.
    pub pidfile: PathBuf,
    /// Control socket.
    pub socket: PathBuf,
}

impl Paths {
    /// The default paths of identity `ident`.
    pub fn for_ident(ident: &str) -> Paths {
        Paths {
            ident: ident.to_string(),
            config: Path::new(SYSCONFDIR).join(format!("{ident}.conf")),
            pidfile: Path::new(RUNSTATEDIR).join(format!("{ident}.pid")),
            socket: Path::new(RUNSTATEDIR).join(format!("{ident}.sock")),
        }
    }

    /// Applies smcrouted's `-P FILE`: a name without `/` becomes `/run/FILE.pid`.
    pub fn set_pidfile(&mut self, file: &str) {
        self.pidfile = if file.contains('/') {
            PathBuf::from(file)
        } else {
            Path::new(RUNSTATEDIR).join(format!("{file}.pid"))
        };
    }
}

/// A PID file, removed when dropped.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes the current process id to `path` (atomically: a temporary file renamed).
    pub fn create(path: &Path) -> io::Result<PidFile> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("pid.tmp");
        std::fs::write(&tmp, format!("{}\n", std::process::id()))?;
        std::fs::rename(&tmp, path)?;
        Ok(PidFile {
            path: path.to_path_buf(),
        })
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A `log` logger writing to stderr, to syslog, or both.
pub struct Logger {
    level: log::LevelFilter,
    stderr: bool,
    syslog: bool,
    ident: String,
}

impl Logger {
    /// Installs the logger: `stderr` in the foreground, `syslog` when detached or asked.
    /// Fails if a logger is already installed.
    pub fn init(
        ident: &str,
        level: log::LevelFilter,
        stderr: bool,
        syslog: bool,
    ) -> Result<(), log::SetLoggerError> {
        if syslog {
            crate::sys::unix::openlog(ident);
        }
        log::set_boxed_logger(Box::new(Logger {
            level,
            stderr,
            syslog,
            ident: ident.to_string(),
        }))?;
        log::set_max_level(level);
        Ok(())
    }

    /// Parses smcrouted's `-l` levels: none, err, notice, info, debug (and warning, error).
    pub fn parse_level(s: &str) -> Option<log::LevelFilter> {
        Some(match s {
            "none" => log::LevelFilter::Off,
            "err" | "error" | "crit" | "alert" | "emerg" => log::LevelFilter::Error,
            "warning" | "warn" | "notice" => log::LevelFilter::Warn,
            "info" => log::LevelFilter::Info,
            "debug" => log::LevelFilter::Debug,
            _ => return None,
        })
    }
}

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.level
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let mut msg = String::new();
        let _ = write!(msg, "{}", r.args());
        if self.stderr {
            eprintln!("{}: {msg}", self.ident);
        }
        if self.syslog {
            let prio = match r.level() {
                log::Level::Error => libc::LOG_ERR,
                log::Level::Warn => libc::LOG_NOTICE,
                log::Level::Info => libc::LOG_INFO,
                log::Level::Debug | log::Level::Trace => libc::LOG_DEBUG,
            };
            crate::sys::unix::syslog(libc::LOG_DAEMON | prio, &msg);
        }
    }

    fn flush(&self) {}
}

/// Drops root privileges to `user` (and `group`, else the user's primary group) keeping
/// only `CAP_NET_ADMIN`, as `smcrouted -p USER[:GROUP]` does. Linux only.
pub fn drop_privileges(user: &str, group: Option<&str>) -> io::Result<()> {
    let not_found = |what: &str| io::Error::new(io::ErrorKind::NotFound, what.to_string());
    let u = nix::unistd::User::from_name(user)
        .map_err(io::Error::from)?
        .ok_or_else(|| not_found(&format!("no such user {user}")))?;
    let gid = match group {
        Some(g) => {
            nix::unistd::Group::from_name(g)
                .map_err(io::Error::from)?
                .ok_or_else(|| not_found(&format!("no such group {g}")))?
                .gid
        }
        None => u.gid,
    };
    #[cfg(target_os = "linux")]
    {
        crate::sys::linux::drop_to_net_admin(u.uid.as_raw(), gid.as_raw())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = gid;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "keeping CAP_NET_ADMIN after dropping privileges needs Linux capabilities",
        ))
    }
}

/// Runs the `-e CMD` script hook without waiting for it, as smcrouted does: `CMD reload`
/// after the configuration is (re)loaded, `CMD install` with `source` and `group` in the
/// environment when a (*,G) rule installs a route. Finished children are reaped by
/// [`Scripts::reap`].
#[derive(Debug, Default)]
pub struct Scripts {
    cmd: Option<PathBuf>,
    children: Vec<Child>,
}

impl Scripts {
    /// A hook running `cmd` (or nothing).
    pub fn new(cmd: Option<PathBuf>) -> Scripts {
        Scripts {
            cmd,
            children: Vec::new(),
        }
    }

    /// Starts the script for `event`.
    pub fn run(&mut self, event: &ScriptEvent) {
        let Some(cmd) = &self.cmd else { return };
        let mut c = Command::new(cmd);
        match event {
            ScriptEvent::Reload => {
                c.arg("reload");
            }
            ScriptEvent::Install { source, group } => {
                c.arg("install")
                    .env("source", source.to_string())
                    .env("group", group.to_string());
            }
        }
        match c.spawn() {
            Ok(child) => self.children.push(child),
            Err(e) => log::warn!("cannot run script {}: {e}", cmd.display()),
        }
        self.reap();
    }

    /// Collects finished scripts.
    pub fn reap(&mut self) {
        self.children
            .retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
    }
}
