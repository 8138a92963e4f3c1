//! The daemon kit (feature `daemon`): what the mcroute daemons share beyond routing, so that
//! their frontends stay thin and another daemon built on mcroute can reuse it.
//!
//! - [`cli`] and [`getopt`]: one shape for command lines (help, version, usage errors, 64);
//! - [`Paths`], [`PidFile`], [`write_atomic`]: identity-derived files;
//! - [`logger`]: the one logger (stderr, syslog, the journal's priorities, debug targets);
//! - [`runtime`]: signals, the control socket, the link monitor, one `poll`;
//! - [`notify`]: systemd's `sd_notify` protocol (READY, RELOADING, STOPPING, STATUS,
//!   watchdog), without libsystemd;
//! - [`drop_privileges`], [`detach`], [`Scripts`] (the `-e` hook), [`exit`] (sysexits).
//!
//! The routing itself is in [`service`](crate::service).

pub mod cli;
pub mod getopt;
pub mod keeper;
pub mod logger;
pub mod notify;
pub mod runtime;

pub use logger::{LogOptions, Logger};
pub use notify::Notifier;
pub use runtime::{Events, Runtime, Signals};

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

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

    /// A file in the identity's runtime directory: `/run/NAME/NAME.EXT` (mrouted's dumps).
    pub fn runtime_file(&self, ext: &str) -> PathBuf {
        Path::new(RUNSTATEDIR)
            .join(&self.ident)
            .join(format!("{}.{ext}", self.ident))
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

/// Writes `text` to `path` atomically, creating the directory if needed: into a new file
/// with a random name in the same directory (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0644), then
/// renamed over `path`. Nothing planted beforehand is followed or overwritten: a symbolic
/// link at `path` is replaced, not written through, and the temporary name cannot be
/// guessed (a predictable `FILE.tmp` let anyone who can write to `/tmp` make a root daemon
/// overwrite any file).
pub fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    use std::hash::{BuildHasher, Hasher};
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?
        .to_string_lossy();
    for _ in 0..16 {
        // RandomState's keys are random: the name cannot be predicted.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        let tmp = dir.join(format!(".{name}.{:016x}", h.finish()));
        let mut f = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        let written = f
            .write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .and_then(|()| std::fs::rename(&tmp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        return written;
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary name",
    ))
}

/// Detaches from the terminal (fork, new session, stdio to /dev/null), as a daemon started
/// without `-n`/`-f` does. Log to syslog afterwards.
pub fn detach() -> io::Result<()> {
    #[allow(deprecated)]
    nix::unistd::daemon(false, false).map_err(io::Error::from)
}

/// Asks a running daemon for a dump file, as `mrouted -r` does: sends SIGUSR1 to the
/// process in `pidfile` and returns the text of `dump` once it has been rewritten (up to 5
/// seconds).
pub fn request_dump(pidfile: &Path, dump: &Path) -> Result<String, String> {
    let pid: i32 = std::fs::read_to_string(pidfile)
        .map_err(|e| format!("{}: {e} (is the router running?)", pidfile.display()))?
        .trim()
        .parse()
        .map_err(|_| format!("{}: not a process id", pidfile.display()))?;
    let before = std::fs::metadata(dump).and_then(|m| m.modified()).ok();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGUSR1,
    )
    .map_err(|e| format!("signalling process {pid}: {e}"))?;
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        let now = std::fs::metadata(dump).and_then(|m| m.modified()).ok();
        if now.is_some() && now != before {
            return std::fs::read_to_string(dump).map_err(|e| format!("{}: {e}", dump.display()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "{} was not updated by process {pid}",
        dump.display()
    ))
}

/// A PID file names a live process other than this one: the daemon is already running
/// (exit [`exit::UNAVAILABLE`], 69, as smcrouted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "already running as PID {pid} (PID file {}); stop it, or remove the file if that process is not this daemon",
    .path.display()
)]
pub struct AlreadyRunning {
    /// The live process the file names.
    pub pid: i32,
    /// The PID file.
    pub path: PathBuf,
}

/// The process id a PID file holds, read without following a symbolic link or blocking on
/// a FIFO (`None` if there is no such file, or it holds no process id).
pub fn read_pidfile(path: &Path) -> Option<i32> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    f.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok().filter(|p: &i32| *p > 0)
}

/// Whether process `pid` exists (it may belong to another user).
fn alive(pid: i32) -> bool {
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// Fails with [`AlreadyRunning`] when the PID file at `path` names a live process other than
/// this one. A daemon calls it before it takes its sockets, so that a second instance
/// leaves the first alone; a stale file (its process gone) is no obstacle.
pub fn check_pidfile(path: &Path) -> Result<(), AlreadyRunning> {
    match read_pidfile(path) {
        Some(pid) if pid != std::process::id() as i32 && alive(pid) => Err(AlreadyRunning {
            pid,
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// A PID file, removed when dropped (if it still names this process).
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes the current process id to `path` ([`write_atomic`]: a temporary file with a
    /// random name, created exclusively, renamed). Fails if the file names another live
    /// process ([`check_pidfile`]; the error's kind is `AlreadyExists`).
    pub fn create(path: &Path) -> io::Result<PidFile> {
        check_pidfile(path).map_err(|e| io::Error::new(io::ErrorKind::AlreadyExists, e))?;
        write_atomic(path, &format!("{}\n", std::process::id()))?;
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
        // Another instance may have taken the file since: leave its file alone.
        if read_pidfile(&self.path) == Some(std::process::id() as i32) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
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
        // The service manager's socket is the daemon's, not its scripts'.
        c.env_remove("NOTIFY_SOCKET");
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
